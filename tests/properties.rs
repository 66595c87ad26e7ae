//! Properties of merging and of the digest, over generated config repositories (in memory).

use opl::merge::stack::Stacks;
use opl::render::{digest, document};
use opl::repo::layer::load;
use opl::repo::snapshot::Memory;
use proptest::prelude::*;

const BASE_GLOBAL: &str = "[model]\nprovider = \"openai\"\nname = \"gpt-4.1\"\n\n[instructions]\nfragments = [{ id = \"org\", text = \"Be safe.\" }]\n\n[escalation]\ndefault_target = \"oncall\"\ncontacts.oncall = { who = \"group:oncall\" }\n";
const AGENT_HEAD: &str = "[agent]\nclient = \"c\"\npurpose = \"p\"\nowner = \"user:a\"\n";

/// Loads files, merges agent `a`, returns (finding codes, rendered document).
fn run(files: Vec<(String, String)>) -> (Vec<&'static str>, serde_json::Value) {
    let repo = load(&Memory::new(
        files.into_iter().map(|(p, t)| (p, t.into_bytes())),
    ))
    .unwrap();
    let stacks = Stacks::new(&repo);
    let a = stacks.agent("a").expect("agent a");
    let codes = a.all_findings().map(|f| f.code.as_str()).collect();
    (codes, document(&repo, "a", &a.eff))
}

#[derive(Clone, Debug)]
struct PolicyLayer {
    max_temp: Option<u8>,
    require_fallback: Option<bool>,
    allow: Option<Vec<&'static str>>,
    deny: Option<Vec<&'static str>>,
    retention: Option<u16>,
}

fn policy_layer() -> impl Strategy<Value = PolicyLayer> {
    let globs = prop::sample::subsequence(vec!["*", "a.*", "a.x", "a.y", "b.*", "b.z"], 0..4);
    (
        prop::option::of(1u8..10),
        prop::option::of(any::<bool>()),
        prop::option::of(globs.clone()),
        prop::option::of(globs),
        prop::option::of(1u16..400),
    )
        .prop_map(
            |(max_temp, require_fallback, allow, deny, retention)| PolicyLayer {
                max_temp,
                require_fallback,
                allow,
                deny,
                retention,
            },
        )
}

/// The spec's coverage, written independently of opl: `*` in the inherited pattern matches any
/// run of characters; every other character, and every character of the element (its own `*`
/// included), is taken literally.
fn oracle_covers(pattern: &str, element: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(pattern.as_bytes(), element.as_bytes())
}

#[test]
fn the_coverage_oracle_follows_the_spec_examples() {
    assert!(oracle_covers("*", "acme.*"));
    assert!(!oracle_covers("acme.*", "*"));
    assert!(oracle_covers("acme.*", "acme.get"));
    assert!(!oracle_covers("a.x", "a.y"));
}

fn list(v: &[&str]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn policy_toml(l: &PolicyLayer) -> String {
    let mut s = String::from("\n");
    if let Some(t) = l.max_temp {
        s += &format!("policy.model.max_temperature = 0.{t}\n");
    }
    if let Some(b) = l.require_fallback {
        s += &format!("policy.model.require_fallback = {b}\n");
    }
    if let Some(a) = &l.allow {
        s += &format!("policy.tools.allow = {}\n", list(a));
    }
    if let Some(d) = &l.deny {
        s += &format!("policy.tools.deny = {}\n", list(d));
    }
    if let Some(r) = l.retention {
        s += &format!("policy.memory.max_retention_days.user = {r}\n");
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A stack is rejected with `widening` exactly when a layer loosens what it inherits, and an
    /// accepted stack's effective policy is at least as strict as every layer that set it.
    #[test]
    fn policy_never_widens(layers in prop::collection::vec(policy_layer(), 3)) {
        let files = vec![
            ("opl.toml".to_string(), "version = 1\n".to_string()),
            ("global/base.toml".to_string(), BASE_GLOBAL.to_string()),
            ("global/policy.toml".to_string(), policy_toml(&layers[0])),
            ("clients/c/policy.toml".to_string(), policy_toml(&layers[1])),
            ("agents/a.toml".to_string(), format!("{}\n{AGENT_HEAD}", policy_toml(&layers[2]))),
        ];
        let (codes, doc) = run(files);
        let widenings = codes.iter().filter(|c| **c == "widening").count();

        // Oracle: the merge classes, layer by layer; a rejected value is not merged.
        let mut expected = 0;
        let (mut temp, mut fallback, mut allow, mut retention): (Option<u8>, bool, Option<Vec<&str>>, Option<u16>) = (None, false, None, None);
        let mut deny: Vec<&str> = Vec::new();
        for l in &layers {
            if let Some(t) = l.max_temp {
                if temp.is_some_and(|c| t > c) { expected += 1 } else { temp = Some(t) }
            }
            if let Some(b) = l.require_fallback {
                if fallback && !b { expected += 1 } else { fallback |= b }
            }
            if let Some(a) = &l.allow {
                let bad = match &allow {
                    Some(inh) => a.iter().filter(|e| !inh.iter().any(|p| oracle_covers(p, e))).count(),
                    None => 0,
                };
                if bad > 0 { expected += bad } else { allow = Some(a.clone()) }
            }
            if let Some(d) = &l.deny {
                for e in d { if !deny.contains(e) { deny.push(e) } }
            }
            if let Some(r) = l.retention {
                if retention.is_some_and(|c| r > c) { expected += 1 } else { retention = Some(r) }
            }
        }
        prop_assert_eq!(widenings, expected, "codes {:?}", codes);
        let pm = &doc["policy"];
        if let Some(t) = temp {
            let eff = pm["model"]["max_temperature"].as_f64().unwrap();
            prop_assert!((eff - f64::from(t) / 10.0).abs() < 1e-9);
            for l in &layers { if let Some(lt) = l.max_temp { if widenings == 0 { prop_assert!(eff <= f64::from(lt) / 10.0 + 1e-9) } } }
        }
        prop_assert_eq!(pm["model"]["require_fallback"].as_bool().unwrap_or(false), fallback);
        if let Some(a) = &allow {
            let eff: Vec<&str> = pm["tools"]["allow"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            prop_assert_eq!(&eff, a);
            if widenings == 0 {
                for l in &layers { if let Some(la) = &l.allow { for e in &eff { prop_assert!(la.iter().any(|p| oracle_covers(p, e))) } } }
            }
        }
        let eff_deny: Vec<&str> = pm["tools"]["deny"].as_array().map(|a| a.iter().map(|v| v.as_str().unwrap()).collect()).unwrap_or_default();
        prop_assert_eq!(eff_deny, deny);
        if let Some(r) = retention {
            prop_assert_eq!(pm["memory"]["max_retention_days"]["user"].as_u64().unwrap(), u64::from(r));
        }
    }
}

/// One setting: table path, key, TOML value.
type Entry = (&'static str, &'static str, String);

fn entries() -> impl Strategy<Value = Vec<Entry>> {
    (
        prop::sample::select(vec!["gpt-4.1", "gpt-4.1-mini", "o3"]),
        0u8..7,
        prop::sample::subsequence(vec!["get", "put", "list", "find"], 1..4),
        1u16..30,
        prop::collection::vec("[a-z]{1,6}", 0..3),
        any::<i32>(),
    )
        .prop_map(|(name, temp, tools, days, tags, cost)| {
            vec![
                ("model", "name", format!("\"{name}\"")),
                ("model.parameters", "temperature", format!("0.{temp}")),
                ("connections.crm", "system", "\"CRM\"".to_string()),
                ("connections.crm", "kind", "\"mcp\"".to_string()),
                ("tools.crm", "use", list(&tools)),
                ("memory", "scopes", "[\"session\"]".to_string()),
                ("memory.retention_days", "session", days.to_string()),
                (
                    "metadata",
                    "tags",
                    format!(
                        "[{}]",
                        tags.iter()
                            .map(|t| format!("\"{t}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                ("metadata", "cost", cost.to_string()),
                ("policy.model", "max_temperature", "0.9".to_string()),
                ("policy.tools", "deny", "[\"*.delete_*\"]".to_string()),
                (
                    "escalation.contacts.desk",
                    "who",
                    "\"group:desk\"".to_string(),
                ),
                // Dates and times: one canonical string whatever the layer.
                (
                    "metadata",
                    "review_due",
                    format!("2027-0{}-1{}", 1 + days % 9, days % 10),
                ),
                (
                    "metadata",
                    "seen_at",
                    "1979-05-27T07:32:00.500Z".to_string(),
                ),
                // A quoted key with a dot and a space.
                ("metadata", "\"odd key.with dot\"", "true".to_string()),
                // Shadowed by every layer above the one that wins (see `repo_files`).
                ("metadata", "shadowed", "\"final\"".to_string()),
            ]
        })
}

/// Writes entries as TOML in one of three styles, in the given order, with comments.
fn write_file(entries: &[&Entry], style: u8, comments: bool) -> String {
    let mut out = String::new();
    if comments {
        out.push_str("# generated\n\n");
    }
    match style {
        0 => {
            let mut tables: Vec<&str> = entries.iter().map(|e| e.0).collect();
            tables.dedup();
            let mut seen = Vec::new();
            for t in tables {
                if seen.contains(&t) {
                    continue;
                }
                seen.push(t);
                out.push_str(&format!("\n[{t}]\n"));
                for e in entries.iter().filter(|e| e.0 == t) {
                    out.push_str(&format!(
                        "{} = {}{}\n",
                        e.1,
                        e.2,
                        if comments { "  # why" } else { "" }
                    ));
                }
            }
        }
        1 => {
            for e in entries {
                out.push_str(&format!("{}.{}   =   {}\n", e.0, e.1, e.2));
                if comments {
                    out.push_str("# note\n");
                }
            }
        }
        _ => {
            let mut tops: Vec<&str> = entries
                .iter()
                .map(|e| e.0.split('.').next().unwrap())
                .collect();
            tops.sort();
            tops.dedup();
            for top in tops {
                out.push_str(&format!("[{top}]\n"));
                for e in entries
                    .iter()
                    .filter(|e| e.0.split('.').next() == Some(top))
                {
                    let rest = e.0.strip_prefix(top).unwrap().trim_start_matches('.');
                    let key = if rest.is_empty() {
                        e.1.to_string()
                    } else {
                        format!("{rest}.{}", e.1)
                    };
                    out.push_str(&format!("{key} = {}\n", e.2));
                }
                out.push('\n');
            }
        }
    }
    out
}

fn repo_files(
    entries: &[Entry],
    layer_of: &[u8],
    styles: &[u8],
    reverse: bool,
    comments: bool,
) -> Vec<(String, String)> {
    // layer_of: 0..=2 global files g0..g2, 3 client, 4 agent
    let mut files = vec![
        ("opl.toml".to_string(), "version = 1\n".to_string()),
        (
            "global/base.toml".to_string(),
            BASE_GLOBAL.replace("name = \"gpt-4.1\"\n", ""),
        ),
    ];
    let mut agent_text = String::new();
    for target in 0u8..5 {
        let mut mine: Vec<&Entry> = entries
            .iter()
            .zip(layer_of)
            .filter(|(_, l)| **l == target)
            .map(|(e, _)| e)
            .collect();
        if reverse {
            mine.reverse();
        }
        if mine.is_empty() {
            continue;
        }
        let text = write_file(&mine, styles[target as usize], comments);
        match target {
            0..=2 => files.push((format!("global/g{target}.toml"), text)),
            3 => files.push(("clients/c/client.toml".to_string(), text)),
            _ => agent_text.push_str(&text),
        }
    }
    files.push((
        "clients/c/meta.toml".to_string(),
        "[meta]\nowner = \"user:a\"\n".to_string(),
    ));
    // A shadowing chain: every layer before the one that sets `metadata.shadowed` sets it too,
    // with another value.
    if let Some(t) = entries
        .iter()
        .zip(layer_of)
        .find(|(e, _)| e.1 == "shadowed")
        .map(|(_, l)| *l)
    {
        if t >= 3 {
            files.push((
                "global/shadow.toml".to_string(),
                "[metadata]\nshadowed = \"global\"\n".to_string(),
            ));
        }
        if t == 4 {
            files.push((
                "clients/c/shadow.toml".to_string(),
                "[metadata]\nshadowed = \"client\"\n".to_string(),
            ));
        }
    }
    // Dotted keys at the top of a file belong to the root table, so the [agent] header goes last.
    files.push((
        "agents/a.toml".to_string(),
        format!("{agent_text}\n{AGENT_HEAD}"),
    ));
    files
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// The digest does not change with formatting, comments, key order, the split of a layer into
    /// files, or which layer a value is written in (when the effective result is the same).
    #[test]
    fn digest_is_invariant(
        entries in entries(),
        layers_a in prop::collection::vec(0u8..5, 16),
        layers_b in prop::collection::vec(0u8..5, 16),
        styles_a in prop::collection::vec(0u8..3, 5),
        styles_b in prop::collection::vec(0u8..3, 5),
        reverse in any::<bool>(),
        comments in any::<bool>(),
    ) {
        let (codes_a, doc_a) = run(repo_files(&entries, &layers_a, &styles_a, false, false));
        let (codes_b, doc_b) = run(repo_files(&entries, &layers_b, &styles_b, reverse, comments));
        let errors = |c: &[&str]| c.iter().filter(|c| !matches!(**c, "noop-override" | "dead-rule" | "unused-connection" | "stray-file")).map(|c| c.to_string()).collect::<Vec<_>>();
        prop_assert!(errors(&codes_a).is_empty(), "{:?}", codes_a);
        prop_assert!(errors(&codes_b).is_empty(), "{:?}", codes_b);
        prop_assert_eq!(digest(&doc_a), digest(&doc_b), "{}\n{}", doc_a, doc_b);
    }

    /// Elements of an id-keyed array may be split over a layer's files: in path order, the
    /// document is the one of a single file.
    #[test]
    fn an_id_keyed_array_split_over_files_keeps_the_digest(n in 1usize..6, split in 0usize..6) {
        let frag = |i: usize| format!("{{ id = \"f{i}\", text = \"Rule {i}.\" }}");
        let all: Vec<String> = (0..n).map(frag).collect();
        let k = split.min(n);
        let file = |v: &[String]| format!("[instructions]\nfragments = [{}]\n", v.join(", "));
        let base = |extra: Vec<(String, String)>| {
            let mut files = vec![
                ("opl.toml".to_string(), "version = 1\n".to_string()),
                ("global/base.toml".to_string(), BASE_GLOBAL.to_string()),
                ("clients/c/meta.toml".to_string(), "[meta]\nowner = \"user:a\"\n".to_string()),
                ("agents/a.toml".to_string(), AGENT_HEAD.to_string()),
            ];
            files.extend(extra);
            files
        };
        let one = base(vec![("global/x1.toml".into(), file(&all))]);
        let mut parts = Vec::new();
        if k > 0 {
            parts.push(("global/x1.toml".to_string(), file(&all[..k])));
        }
        if k < n {
            parts.push(("global/x2.toml".to_string(), file(&all[k..])));
        }
        let (codes_a, a) = run(one);
        let (codes_b, b) = run(base(parts));
        prop_assert!(codes_a.is_empty() && codes_b.is_empty(), "{:?} {:?}", codes_a, codes_b);
        prop_assert_eq!(digest(&a), digest(&b));
        prop_assert_eq!(a["instructions"]["fragments"].as_array().unwrap().len(), n + 1);
    }

    /// Comments and whitespace never change the document.
    #[test]
    fn reformatting_one_file_keeps_the_digest(entries in entries(), style in 0u8..3) {
        let all = vec![4u8; 16];
        let (_, a) = run(repo_files(&entries, &all, &[0, 0, 0, 0, 0], false, false));
        let (_, b) = run(repo_files(&entries, &all, &[style; 5], true, true));
        prop_assert_eq!(digest(&a), digest(&b));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    /// Every finite double written in the canonical form reads back as the same double, both with
    /// the standard library and through the JCS text of a document (the `render_digest` fuzz target
    /// found a double that a non-exact JSON reader moved).
    #[test]
    fn canonical_numbers_read_back_exactly(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        prop_assume!(x.is_finite());
        let s = opl::render::es_number(x);
        prop_assert_eq!(s.parse::<f64>().unwrap(), if x == 0.0 { 0.0 } else { x }, "{}", s);
        let doc = serde_json::json!({ "x": x });
        let back: serde_json::Value = serde_json::from_str(&opl::render::jcs(&doc)).unwrap();
        prop_assert_eq!(digest(&back), digest(&doc));
    }
}
