//! Key-level change propagation (`diff::by_key`) gives exactly what rendering every agent on both
//! sides gives, on random changes to shared layers: ceilings that widen or not, locks, id-keyed
//! approval rules, instruction fragments and excludes, a type error, a file that stops parsing,
//! and agents that define the changed paths, depend on them, or are invalid on their own.

mod common;

use std::collections::BTreeSet;

use opl::diff::by_key::Side;
use opl::diff::facts::Store;
use opl::diff::reach::Reach;
use opl::diff::{Report, by_key, compare};
use opl::repo::layer::{Repo, load_selected};
use opl::repo::layout::Selection;
use opl::repo::snapshot::Memory;
use proptest::prelude::*;
use serde_json::Value;

/// The shared files, each always present (a comment when its piece is off), so that a change
/// between two choices modifies files and never adds or removes one.
fn shared(c: &[u8]) -> Vec<(String, String)> {
    // Choices past the twelfth are optional (off when missing).
    let pick = |i: usize, opts: &[&str]| {
        opts[c.get(i).copied().unwrap_or(0) as usize % opts.len()].to_string()
    };
    vec![
        ("opl.toml".into(), "version = 1\n".into()),
        (
            "global/base.toml".into(),
            "[model]\nprovider = \"openai\"\nname = \"gpt-4.1\"\n\n[escalation]\ndefault_target = \"oncall\"\ncontacts.oncall = { who = \"group:oncall\" }\n".into(),
        ),
        (
            "global/tuning.toml".into(),
            // A value that grows moves the bytes of what follows it, not their lines.
            pick(15, &[
                "# off\n",
                "[model.parameters]\nmax_output_tokens = 1000\n\n[metadata]\ntier = \"gold\"\n",
                "[model.parameters]\nmax_output_tokens = 20000\n\n[metadata]\ntier = \"gold\"\n",
            ]),
        ),
        (
            "global/policy.toml".into(),
            // A comment above moves every ceiling of the file a line down.
            pick(14, &["", "# ceilings\n"])
                + &pick(0, &[
                    "# off\n",
                    "[policy.model]\nmax_output_tokens = 8192\nmax_temperature = 0.7\n",
                    "[policy.model]\nmax_output_tokens = 4096\nmax_temperature = 0.9\n",
                ]),
        ),
        ("global/lock.toml".into(), pick(1, &["# off\n", "[meta]\nlock = [\"policy.memory\"]\n"])),
        (
            "global/rules.toml".into(),
            pick(2, &[
                "# off\n",
                "[policy.approvals]\nrules = [{ id = \"g.refund\", action = \"*.refund\", when = { arg = \"amount\", gt = 500 }, require = \"approval\", approvers = [\"role:fin\"] }]\n",
                "[policy.approvals]\nrules = [{ id = \"g.refund\", action = \"*.refund\", when = { arg = \"amount\", gt = 900 }, require = \"approval\", approvers = [\"role:fin\"] }]\n",
            ]),
        ),
        (
            "global/instructions.toml".into(),
            pick(3, &[
                "[instructions]\nfragments = [{ id = \"g.safety\", text = \"Be safe.\", required = true }]\n",
                "[instructions]\nfragments = [{ id = \"g.safety\", text = \"Be careful.\", required = true }]\n",
            ]),
        ),
        ("global/model.toml".into(), pick(4, &["# off\n", "[model.parameters]\ntemperature = 0.2\n"])),
        (
            "global/memory.toml".into(),
            pick(5, &[
                "# off\n",
                "[policy.memory]\nmax_retention_days = { session = 30 }\n",
                "[policy.memory]\nmax_retention_days = { session = \"thirty\" }\n",
            ]),
        ),
        ("global/extra.toml".into(), pick(6, &["[metadata]\nteam = \"core\"\n", "[metadata\nteam = \"core\"\n"])),
        (
            "global/connections.toml".into(),
            pick(7, &[
                "# off\n",
                "[connections.desk]\nkind = \"mcp\"\nsystem = \"Desk\"\n",
                "[connections.desk]\nkind = \"mcp\"\nsystem = \"Desk v2\"\n",
            ]),
        ),
        (
            "global/contacts.toml".into(),
            pick(8, &["# off\n", "[escalation]\ncontacts.oncall = { who = \"group:night\" }\n"]),
        ),
        (
            "clients/acme/client.toml".into(),
            pick(9, &[
                "# off\n",
                "[policy.model]\nmax_temperature = 0.5\n",
                "[policy.model]\nmax_temperature = 0.8\n",
                "[model]\nname = \"gpt-4.1-mini\"\n",
                "[model.parameters]\nmax_output_tokens = 500\n",
            ]),
        ),
        (
            "clients/acme/instructions.toml".into(),
            pick(10, &["# off\n", "[instructions]\nfragments = [{ id = \"acme.tone\", text = \"Be brief.\" }]\n"]),
        ),
        (
            "clients/beta/client.toml".into(),
            pick(11, &[
                "# off\n",
                "[policy.tools]\nallow = [\"desk.*\"]\n",
                "[policy.tools]\nallow = [\"desk.get\"]\n",
                "[policy.model]\nmax_output_tokens = 2048\n",
            ]),
        ),
    ]
}

/// Agents that define changed paths, depend on them, or are invalid on their own.
const AGENTS: &[(&str, &str)] = &[
    (
        "agents/a1.toml",
        "[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[model.parameters]\ntemperature = 0.4\n\n[tools.desk]\nuse = [\"get\", \"refund\"]\n",
    ),
    (
        "agents/a2.toml",
        "[agent]\nclient = \"beta\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[policy.model]\nmax_output_tokens = 4096\n",
    ),
    (
        "agents/a3.toml",
        "[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[instructions]\nexclude = [\"acme.tone\"]\n",
    ),
    (
        "agents/a4.toml",
        "[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[policy.approvals]\nrules = [{ id = \"a4.big\", action = \"*.refund\", require = \"deny\" }]\n",
    ),
    (
        "agents/a5.toml",
        "[agent]\nclient = \"beta\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[bogus]\nx = 1\n",
    ),
    (
        "agents/a6.toml",
        "[agent]\nclient = \"nosuch\"\npurpose = \"p\"\nowner = \"user:a\"\n",
    ),
    (
        "agents/a7.toml",
        "[agent]\nclient = \"beta\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[metadata]\ncost_center = \"CC-1\"\n",
    ),
    (
        "agents/a8.toml",
        "[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[policy.memory]\nmax_retention_days = { session = 10 }\n",
    ),
    (
        "agents/a9.toml",
        "[agent]\npurpose = \"p\"\nowner = \"user:a\"\n\n[model.parameters]\ntemperature = 0.8\n",
    ),
];

/// The shared files, the agents, an agent whose file changes (`choices[12]`) and one that
/// exists or not (`choices[13]`).
fn files(choices: &[u8]) -> Vec<(String, String)> {
    let mut f = shared(choices);
    f.extend(AGENTS.iter().map(|(p, t)| (p.to_string(), t.to_string())));
    let pick = |i: usize, n: u8| choices.get(i).copied().unwrap_or(0) % n;
    f.push((
        "agents/b1.toml".into(),
        [
            "[agent]\nclient = \"beta\"\npurpose = \"p\"\nowner = \"user:a\"\n",
            "[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[policy.model]\nmax_output_tokens = 1024\n",
            "[agent]\nclient = \"beta\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[model.parameters]\ntemperature = 0.3\n",
        ][pick(12, 3) as usize]
            .into(),
    ));
    if pick(13, 2) == 1 {
        f.push((
            "agents/b2.toml".into(),
            "[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n".into(),
        ));
    }
    f
}

/// The files as a git state holds them: each with a content id.
fn snap(files: &[(String, String)]) -> Memory {
    Memory::new(files.iter().cloned()).identified()
}

fn load(files: &[(String, String)], sel: &Selection) -> Repo {
    load_selected(&snap(files), sel).expect("loads")
}

/// The paths that differ between two sets of files.
fn changed_paths(fo: &[(String, String)], fnew: &[(String, String)]) -> Vec<String> {
    let (mo, mn): (
        std::collections::BTreeMap<_, _>,
        std::collections::BTreeMap<_, _>,
    ) = (fo.iter().cloned().collect(), fnew.iter().cloned().collect());
    mo.keys()
        .chain(mn.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|p| mo.get(*p) != mn.get(*p))
        .cloned()
        .collect()
}

/// The full diff of `fo -> fnew`: every agent rendered on both sides.
fn full_diff(fo: &[(String, String)], fnew: &[(String, String)]) -> Report {
    let new_full = load(fnew, &Selection::All);
    let old_full = load(fo, &Selection::All);
    let ids: BTreeSet<String> = new_full
        .agents
        .keys()
        .chain(old_full.agents.keys())
        .cloned()
        .collect();
    compare(
        &old_full,
        &new_full,
        &ids,
        changed_paths(fo, fnew),
        "a".into(),
        "b".into(),
    )
}

/// The key-level diff of `fo -> fnew` with `store` (the agents it has facts of are not read
/// unless needed), the sets of agents each load of the new side skipped, and the sets of agents
/// the new side was loaded with alone (to be rendered).
fn by_store(
    fo: &[(String, String)],
    fnew: &[(String, String)],
    store: &mut Store,
) -> (Option<Report>, Vec<BTreeSet<String>>, Vec<BTreeSet<String>>) {
    let skipped = std::cell::RefCell::new(Vec::new());
    let alone = std::cell::RefCell::new(Vec::new());
    let known = by_key::known_agents(&snap(fnew), store);
    let r = by_key::propagate(
        &load(fo, &Selection::Shared),
        |skip| {
            skipped.borrow_mut().push(skip.iter().cloned().collect());
            Ok(load(fnew, &Selection::AllBut(skip)))
        },
        |side, ids| {
            let files = match side {
                Side::Old => fo,
                Side::New => {
                    alone.borrow_mut().push(ids.clone());
                    fnew
                }
            };
            Ok(load(
                files,
                &Selection::Agents(ids.iter().cloned().collect()),
            ))
        },
        known,
        store,
        &changed_paths(fo, fnew),
        "a".into(),
        "b".into(),
    )
    .expect("no load failure");
    (r, skipped.into_inner(), alone.into_inner())
}

/// The report as JSON, without what only the full diff computes (digests).
fn comparable(r: &Report) -> Value {
    let mut v = serde_json::to_value(r).unwrap();
    for a in v["agents"].as_array_mut().unwrap() {
        a["digest_before"] = Value::Null;
        a["digest_after"] = Value::Null;
    }
    v
}

/// The key-level diff of `old -> new`, and the full one; `None` for the first when it declines.
fn both(old: &[u8], new: &[u8]) -> (Option<Report>, Report) {
    let (fo, fnew) = (files(old), files(new));
    let changed = changed_paths(&fo, &fnew);
    let full = full_diff(&fo, &fnew);
    let old_shared = load(&fo, &Selection::Shared);
    let new_full = load(&fnew, &Selection::All);
    if !by_key::applies(&changed, &old_shared, &new_full) {
        // Only agent files changed: the full diff alone answers.
        assert!(
            changed.iter().all(|p| p.starts_with("agents/")),
            "{changed:?}"
        );
        return (None, full);
    }
    let fast = by_store(&fo, &fnew, &mut Store::none()).0;
    (fast, full)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_key_level_diff_is_the_full_diff(
        old in prop::collection::vec(0u8..12, 16),
        new in prop::collection::vec(0u8..12, 16),
    ) {
        prop_assume!(old.iter().zip(&new).any(|(a, b)| a != b));
        let (fast, full) = both(&old, &new);
        if let Some(fast) = fast {
            prop_assert_eq!(comparable(&fast), comparable(&full));
        } else {
            // Declined only when a lock moved, or when only agent files changed.
            let lock = |c: &[u8]| c[1] % 2;
            let shared_same = shared(&old) == shared(&new);
            prop_assert!(lock(&old) != lock(&new) || shared_same);
        }
    }

    /// Agents known by the facts an earlier diff learned (of another pair of states) are
    /// diffed as when their files are read: the answer is the full diff's, whether the agents
    /// that need their layers are few (read alone) or many (read with every other).
    #[test]
    fn agents_known_by_their_facts_are_diffed_as_when_read(
        a in prop::collection::vec(0u8..12, 16),
        b in prop::collection::vec(0u8..12, 16),
        c in prop::collection::vec(0u8..12, 16),
    ) {
        let (fa, fb, fc) = (files(&a), files(&b), files(&c));
        let mut store = Store::in_memory();
        by_store(&fa, &fb, &mut store);
        for (x, y) in [(&fb, &fc), (&fa, &fc), (&fa, &fb)] {
            if let (Some(fast), ..) = by_store(x, y, &mut store) {
                prop_assert_eq!(comparable(&fast), comparable(&full_diff(x, y)));
            }
        }
    }
}

/// One agent's findings in a validation of it alone (with what it inherits), as `--format
/// json` writes them: code, severity, message, file, line, column, end, related locations.
fn findings_of(repo: &Repo, id: &str) -> Vec<Value> {
    let v = opl::merge::stack::validate(repo, Some(&[id.to_string()]), &[]);
    v.findings
        .iter()
        .map(|f| serde_json::to_value(opl::output::json_finding(f, &repo.sources)).unwrap())
        .collect()
}

/// The agents [`Reach`] says a change from `old` to `new` reaches (every agent whose own file
/// changed among them); `None` when it declines.
fn reached(fo: &[(String, String)], fnew: &[(String, String)]) -> Option<BTreeSet<String>> {
    let changed = changed_paths(fo, fnew);
    let (old, new) = (load(fo, &Selection::Shared), load(fnew, &Selection::All));
    let reach = Reach::of(&old, &new, &changed)?;
    // What the change moved is read from the shared layers alone, as `validate --staged` reads
    // it before it knows which agents to load.
    assert_eq!(
        Some(&reach),
        Reach::of(&old, &load(fnew, &Selection::Shared), &changed).as_ref()
    );
    let r = reach.agents(&new);
    for p in &changed {
        if let Some(id) = p
            .strip_prefix("agents/")
            .and_then(|f| f.strip_suffix(".toml"))
        {
            assert!(
                r.contains(id) || !fnew.iter().any(|(q, _)| q == p),
                "{id}: {r:?}"
            );
        }
    }
    Some(r)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// `validate --staged` checks the agents a staged change reaches; every agent it leaves out
    /// has exactly the findings it had before the change (each location to the column), so
    /// nothing the change brings is missed. The changes include definitions that only move (a
    /// comment above them), a client that overrides what global changed, ceilings, locks,
    /// approval rules, fragments, a file that stops parsing, and agents' own edits.
    #[test]
    fn an_agent_a_change_does_not_reach_keeps_every_finding_it_had(
        old in prop::collection::vec(0u8..12, 16),
        edits in prop::collection::vec((0usize..16, 0u8..12), 1..3),
    ) {
        // One or two pieces changed: small changes are the ones that leave agents out.
        let mut new = old.clone();
        for (i, v) in edits {
            new[i] = v;
        }
        let (fo, fnew) = (files(&old), files(&new));
        let reached = reached(&fo, &fnew).expect("every change here is to layer files");
        let (old_full, new_full) = (load(&fo, &Selection::All), load(&fnew, &Selection::All));
        for id in new_full.agents.keys().filter(|id| !reached.contains(*id)) {
            prop_assert_eq!(findings_of(&new_full, id), findings_of(&old_full, id), "{}", id);
        }
    }
}

/// A change to one client reaches that client's agents only; a change to global that a client
/// overrides (and that moves none of the definitions it inherits) does not reach its agents;
/// a comment above global's definitions moves them, and reaches every agent; an edit that moves
/// nothing reaches none.
#[test]
fn a_change_reaches_the_agents_below_what_it_changed() {
    let base = vec![0u8; 16];
    let with = |i: usize, v: u8, from: &[u8]| {
        let mut c = from.to_vec();
        c[i] = v;
        c
    };
    let acme = ["a1", "a3", "a4", "a8"];
    let beta = ["a2", "a5", "a7", "b1"];
    let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    // beta's client file: beta's agents.
    assert_eq!(
        reached(&files(&base), &files(&with(11, 2, &base))),
        Some(set(&beta))
    );
    // global's max_output_tokens, which acme overrides: every agent but acme's.
    let acme_overrides = with(9, 4, &base);
    let r = reached(
        &files(&with(15, 1, &acme_overrides)),
        &files(&with(15, 2, &acme_overrides)),
    )
    .unwrap();
    assert!(acme.iter().all(|a| !r.contains(*a)), "{r:?}");
    assert!(
        beta.iter().all(|a| r.contains(*a)) && r.contains("a9"),
        "{r:?}"
    );
    // Without acme's override, the same change reaches acme's agents too.
    let r = reached(&files(&with(15, 1, &base)), &files(&with(15, 2, &base))).unwrap();
    assert!(acme.iter().chain(&beta).all(|a| r.contains(*a)), "{r:?}");
    // A comment above global's ceilings: every agent.
    let ceilings = with(0, 1, &base);
    let all: BTreeSet<String> = load(&files(&base), &Selection::All)
        .agents
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        reached(&files(&ceilings), &files(&with(14, 1, &ceilings))),
        Some(all)
    );
    // A comment-only file that stays one: nothing.
    let mut comment = files(&base);
    comment
        .iter_mut()
        .find(|(p, _)| p == "global/lock.toml")
        .unwrap()
        .1 = "# still off\n".into();
    assert_eq!(reached(&files(&base), &comment), Some(BTreeSet::new()));
}

#[test]
fn a_global_ceiling_reaches_every_agent_that_does_not_set_it_and_only_those_are_merged() {
    let mut old = vec![0u8; 14];
    old[0] = 1;
    let mut new = old.clone();
    new[0] = 2;
    let (fast, full) = both(&old, &new);
    let fast = fast.expect("a ceiling change is propagated by key");
    assert_eq!(comparable(&fast), comparable(&full));
    let changed: Vec<&str> = fast.agents.iter().map(|a| a.agent.as_str()).collect();
    // a3 (it excludes a fragment acme does not have), a5 (an unknown key) and a6 (an unknown
    // client) are invalid on both sides; a2 sets its own max_output_tokens, so it is rendered on
    // both sides, and still inherits the new temperature ceiling.
    assert_eq!(changed, ["a1", "a2", "a4", "a7", "a8", "a9", "b1"]);
    for a in &fast.agents {
        assert!(
            a.changes
                .iter()
                .any(|c| c.path == "policy.model.max_temperature")
        );
    }
}

/// After a diff has learned the agents' facts, a diff of another pair of states reads only the
/// agents it needs, each side with them alone: a2, which sets the ceiling the change moves, and
/// a6, which names a client the repository does not have (what it inherits is worked out from
/// its layer); both are rendered on both sides. The others are known by their facts, and the
/// answer is still the full diff's.
#[test]
fn a_later_diff_reads_only_the_agents_that_define_what_changed() {
    let (mut a, mut b, mut c) = (vec![0u8; 14], vec![0u8; 14], vec![0u8; 14]);
    a[0] = 0;
    b[0] = 1;
    c[0] = 2;
    let (fa, fb, fc) = (files(&a), files(&b), files(&c));
    let mut store = Store::in_memory();
    let (first, skipped, _) = by_store(&fa, &fb, &mut store);
    assert!(first.is_some());
    assert_eq!(
        skipped,
        [BTreeSet::new()],
        "nothing known yet: every agent read"
    );
    let (fast, skipped, alone) = by_store(&fb, &fc, &mut store);
    let fast = fast.expect("a ceiling change is propagated by key");
    assert_eq!(comparable(&fast), comparable(&full_diff(&fb, &fc)));
    let every: BTreeSet<String> = load(&fc, &Selection::All).agents.keys().cloned().collect();
    assert_eq!(skipped, [every], "the new side is read once, with no agent");
    let read = BTreeSet::from(["a2".to_string(), "a6".to_string()]);
    assert_eq!(alone, [read]);
    assert!(fast.agents.iter().any(|x| x.agent == "a2"));
}

/// When most agents known by their facts need their layers (their own errors were learned over
/// other versions of the shared layers than both sides of this diff), the new side is read again
/// with them all, not agent by agent; the answer is still the full diff's.
#[test]
fn a_diff_whose_agents_mostly_need_their_layers_reads_them_all_again() {
    // Four versions of global/: its ceilings (choice 0) and its tuning (choice 15).
    let states: Vec<Vec<(String, String)>> = [(0, 0), (1, 0), (2, 1), (1, 2)]
        .into_iter()
        .map(|(ceilings, tuning)| {
            let mut s = vec![0u8; 16];
            s[0] = ceilings;
            s[15] = tuning;
            files(&s)
        })
        .collect();
    let mut store = Store::in_memory();
    by_store(&states[0], &states[1], &mut store);
    let (fast, skipped, alone) = by_store(&states[2], &states[3], &mut store);
    let fast = fast.expect("a ceiling change is propagated by key");
    assert_eq!(
        comparable(&fast),
        comparable(&full_diff(&states[2], &states[3]))
    );
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped[1].len() < skipped[0].len() / 2, "{skipped:?}");
    // a2 sets the ceiling the change moves: rendered, its new side read with it alone.
    assert_eq!(alone, [BTreeSet::from(["a2".to_string()])]);
}

#[test]
fn a_file_that_stops_parsing_makes_every_agent_invalid_exactly_as_the_full_diff_says() {
    let old = vec![0u8; 14];
    let mut new = old.clone();
    new[6] = 1;
    let (fast, full) = both(&old, &new);
    let fast = fast.expect("propagated by key");
    assert_eq!(comparable(&fast), comparable(&full));
    assert!(!fast.agents.is_empty());
    for a in &fast.agents {
        assert!(a.valid_before && !a.valid_after, "{}", a.agent);
        assert_eq!(a.errors_after, [opl::diagnostic::Code::Parse]);
    }
}

/// `opl diff` in human form takes the key-level path and `--format json` renders both sides:
/// on a committed global change, they name the same agents and the same changed paths, and
/// `opl check --base` flags the same widening changes.
#[test]
fn the_binary_says_the_same_by_key_and_in_full() {
    let mut h = common::TestRepo::new();
    let old = files(&[1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1]);
    let new = files(&[2, 0, 2, 1, 1, 1, 0, 2, 0, 2, 1, 2]);
    for (p, t) in &old {
        h.write(p, t);
    }
    h.commit("old");
    for (p, t) in &new {
        h.write(p, t);
    }
    h.commit("new");
    let run = |args: &[&str]| -> String {
        let o = h.opl().args(args).output().unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    let json: Value =
        serde_json::from_str(&run(&["diff", "HEAD~1", "HEAD", "--format", "json"])).unwrap();
    let mut full: Vec<String> = Vec::new();
    for a in json["agents"].as_array().unwrap() {
        full.push(format!("~ {}", a["agent"].as_str().unwrap()));
        for c in a["changes"].as_array().unwrap() {
            full.push(c["path"].as_str().unwrap().to_string());
        }
    }
    assert!(full.len() > 10, "{full:?} {json}");
    let human = run(&["diff", "HEAD~1", "HEAD"]);
    let mut by_key: Vec<String> = Vec::new();
    for l in human.lines() {
        if let Some(rest) = l.strip_prefix("~ ") {
            by_key.push(format!("~ {}", rest.split(' ').next().unwrap()));
        } else if let Some(rest) = l.strip_prefix("  ! ").or_else(|| l.strip_prefix("    ")) {
            // `      widens: why` explains the line above.
            if let Some((path, _)) = rest.split_once(": ").filter(|_| !rest.starts_with(' ')) {
                by_key.push(path.to_string());
            }
        }
    }
    assert_eq!(by_key, full, "{human}");
    let widening = json["agents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["changes"].as_array().unwrap())
        .filter(|c| !c["widening"].is_null())
        .count();
    let check: Value =
        serde_json::from_str(&run(&["check", "--base", "HEAD~1", "--format", "json"])).unwrap();
    let flagged: usize = check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "widening-change")
        .map(|f| f["agents"].as_array().map_or(1, Vec::len))
        .sum();
    assert_eq!(flagged, widening);
}

/// The findings of a `validate --format json` run: (severity, code, file, line, column).
fn finding_set(v: &Value) -> BTreeSet<(String, String, String, u64, u64)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap_or_default().to_string(),
                f["code"].as_str().unwrap().to_string(),
                f["file"].as_str().unwrap_or_default().to_string(),
                f["line"].as_u64().unwrap_or(0),
                f["column"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// `validate --staged` with a staged change to shared layers checks the agents it reaches:
/// checks across keys (an agent's own value against a ceiling the change lowered, a contact, a
/// connection) can change for an agent that defines none of the changed paths, and it is
/// checked; an agent below a prefix the change leaves as it was is not. Every error the change
/// brings is among its findings, each is one `--all` prints too, and its status says whether it
/// printed an error. A change to one client's file checks that client's agents only.
#[test]
fn validate_staged_reports_every_error_a_shared_change_brings() {
    let pairs: &[(&[u8], &[u8])] = &[
        // Only the global temperature ceiling drops below what a9 sets (a9 defines no policy).
        (
            &[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            &[1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1],
            &[2, 0, 2, 1, 1, 2, 0, 2, 1, 2, 0, 3],
        ),
        (&[0; 12], &[0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]),
        (&[0; 12], &[0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]),
        (
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 3],
            &[1, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 1, 2],
        ),
        // beta's client file alone: beta's agents a2, a5 (an unknown key: an error it had
        // before), a7 and b1.
        (
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3],
        ),
    ];
    let mut brought_in_agents = Vec::new();
    let mut checked = Vec::new();
    for (old, new) in pairs {
        let mut h = common::TestRepo::new();
        for (p, t) in files(old) {
            h.write(&p, &t);
        }
        h.commit("old");
        let new_files = files(new);
        for (p, t) in &new_files {
            h.write(p, t);
        }
        let had = |fs: &[(String, String)]| fs.iter().any(|(p, _)| p == "agents/b2.toml");
        if had(&files(old)) && !had(&new_files) {
            h.remove("agents/b2.toml");
        }
        assert!(common::git(h.top(), &["add", "-A"]).status.success());
        let run = |args: &[&str]| -> (i32, Value) {
            let o = h.opl().args(args).output().unwrap();
            let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
                panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&o.stderr))
            });
            (o.status.code().unwrap(), v)
        };
        let (code, staged) = run(&["validate", "--staged", "--format", "json"]);
        let (_, all) = run(&["validate", "--staged", "--all", "--format", "json"]);
        let (_, head) = run(&["validate", "--rev", "HEAD", "--format", "json"]);
        let errors = staged["summary"]["errors"].as_u64().unwrap();
        assert_eq!(code, i32::from(errors > 0), "{old:?} -> {new:?}: {staged}");
        checked.push(staged["summary"]["agents"].as_u64().unwrap());
        let (staged, all, head) = (finding_set(&staged), finding_set(&all), finding_set(&head));
        assert!(
            staged.is_subset(&all),
            "{old:?} -> {new:?}: {staged:?} {all:?}"
        );
        let brought: Vec<_> = all.difference(&head).filter(|f| f.0 == "error").collect();
        for b in &brought {
            assert!(staged.contains(*b), "{old:?} -> {new:?}: {b:?} missed");
        }
        brought_in_agents.extend(
            brought
                .iter()
                .filter(|f| f.2.starts_with("agents/"))
                .map(|f| (f.1.clone(), f.2.clone())),
        );
    }
    assert!(
        brought_in_agents.contains(&("policy-violation".to_string(), "agents/a9.toml".to_string())),
        "{brought_in_agents:?}"
    );
    // Every agent (the nine above, b1, and the base repository's) for the changes to global;
    // beta's four for the last.
    assert_eq!(checked, [11, 11, 11, 11, 11, 4]);
}

/// `opl diff` keeps what it learns of agents in `<git dir>/opl/agents-v1.json` and a later diff
/// reads it instead of the agent files; the answers are the same with it, without it and with
/// a corrupt one, in human form and as the full diff (JSON) says.
#[test]
fn the_agents_store_changes_no_answer() {
    let mut h = common::TestRepo::new();
    for choices in [
        [1u8, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 0, 0],
        [2, 0, 2, 1, 1, 1, 0, 2, 0, 2, 1, 2, 0, 0],
        [3, 0, 0, 1, 2, 1, 0, 1, 0, 0, 1, 2, 0, 0],
    ] {
        for (p, t) in &files(&choices) {
            h.write(p, t);
        }
        h.commit("state");
    }
    let store = h.top().join(".git/opl/agents-v1.json");
    let diff = |range: [&str; 2]| h.stdout_ok(&["diff", range[0], range[1]]);
    let first = diff(["HEAD~2", "HEAD~1"]);
    let kept: Value = serde_json::from_slice(&std::fs::read(&store).expect("written")).unwrap();
    // Every agent of HEAD~1 is one file that names no fragment: each has an entry.
    let listed = common::git(h.top(), &["ls-tree", "--name-only", "HEAD~1", "agents/"]);
    let agents = String::from_utf8(listed.stdout).unwrap().lines().count();
    assert!(agents >= 10);
    assert_eq!(kept["agents"].as_array().unwrap().len(), agents, "{kept}");
    assert_eq!(diff(["HEAD~2", "HEAD~1"]), first);
    let with = diff(["HEAD~1", "HEAD"]);
    assert!(with.contains("~ a1"), "{with}");
    std::fs::remove_file(&store).unwrap();
    assert_eq!(diff(["HEAD~1", "HEAD"]), with);
    std::fs::write(&store, "{\"header\": 1").unwrap();
    assert_eq!(diff(["HEAD~1", "HEAD"]), with);
    // The agents and changed paths of the full diff.
    let (_, json) = h.json(&["diff", "HEAD~1", "HEAD", "--format", "json"]);
    for a in json["agents"].as_array().unwrap() {
        let id = a["agent"].as_str().unwrap();
        let head = format!("~ {id}");
        assert!(
            with.lines()
                .any(|l| l == head || l.starts_with(&format!("{head} "))),
            "{id}: {with}"
        );
        for c in a["changes"].as_array().unwrap() {
            let line = format!("{}: ", c["path"].as_str().unwrap());
            assert!(with.contains(&line), "{line}: {with}");
        }
    }
}

/// `validate --staged` of a change to one client keeps the agents it read in the agents store,
/// and a later run reads from their files only the agents the change reaches: its answer (JSON
/// parsed back, and the human form, and the status) is the same with the store, without it and
/// with a corrupt one; in a monorepo's config folder too.
#[test]
fn validate_staged_says_the_same_with_and_without_the_agents_store() {
    // At the top of the repository, and in a monorepo's config folder.
    for prefix in ["", "config/"] {
        let mut h = common::TestRepo::with_prefix(prefix);
        for (p, t) in files(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) {
            h.write(&p, &t);
        }
        h.commit("old");
        // beta's client file: its tools allow list becomes a ceiling on output tokens.
        for (p, t) in files(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]) {
            h.write(&p, &t);
        }
        assert!(common::git(h.top(), &["add", "-A"]).status.success());
        let store = h.top().join(".git/opl/agents-v1.json");
        assert!(!store.exists());
        let run = |args: &[&str]| {
            let o = h.opl().args(args).output().unwrap();
            (
                o.status.code().unwrap(),
                String::from_utf8(o.stdout).unwrap(),
            )
        };
        let json = ["validate", "--staged", "--format", "json"];
        let human = ["validate", "--staged"];
        let (first, first_human) = (run(&json), run(&human));
        let kept: Value = serde_json::from_slice(&std::fs::read(&store).expect("written")).unwrap();
        assert_eq!(kept["agents"].as_array().unwrap().len(), 11, "{kept}");
        let v: Value = serde_json::from_str(&first.1).unwrap();
        assert_eq!(v["summary"]["agents"], 4, "{v}");
        // a5's unknown key: an error beta's agent had before the change, and has after it.
        assert!(
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["file"] == "agents/a5.toml" && f["severity"] == "error"),
            "{v}"
        );
        assert_eq!(first.0, 1);
        assert!(
            first_human
                .1
                .contains("in 4 agents affected by the staged changes (of 11 in the index;"),
            "{}",
            first_human.1
        );
        assert_eq!(
            (run(&json), run(&human)),
            (first.clone(), first_human.clone())
        );
        std::fs::remove_file(&store).unwrap();
        assert_eq!(
            (run(&json), run(&human)),
            (first.clone(), first_human.clone())
        );
        std::fs::write(&store, "{\"header\": 1").unwrap();
        assert_eq!((run(&json), run(&human)), (first, first_human));
    }
}

/// A staged error in the file of a client no agent names reaches no agent, and `validate
/// --staged` still reports it (and exits 1): the staged shared files' own findings are always
/// checked.
#[test]
fn validate_staged_reports_a_staged_shared_file_no_agent_inherits() {
    let mut h = common::TestRepo::new();
    for (p, t) in files(&[0; 12]) {
        h.write(&p, &t);
    }
    h.write("clients/gamma/client.toml", "[metadata]\nteam = \"g\"\n");
    h.commit("old");
    h.write(
        "clients/gamma/client.toml",
        "[metadata]\nteam = \"g\"\n\n[bogus]\nx = 1\n",
    );
    assert!(common::git(h.top(), &["add", "-A"]).status.success());
    let (code, v) = h.json(&["validate", "--staged", "--format", "json"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["summary"]["agents"], 0, "{v}");
    let found: Vec<(&str, &str, u64)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap(),
                f["file"].as_str().unwrap(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [("unknown-key", "clients/gamma/client.toml", 4)],
        "{v}"
    );
    let human = h.opl().args(["validate", "--staged"]).output().unwrap();
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(text.contains("clients/gamma/client.toml:4:2"), "{text}");
    assert!(
        text.contains(
            "1 error, 0 warnings in 0 agents affected by the staged changes (of 11 in the index;"
        ),
        "{text}"
    );
}
