//! Each merge class in both directions (accepted and rejected), on real files in memory.

use opl::merge::leaves;
use opl::merge::stack::Stacks;
use opl::render::{digest, document};
use opl::repo::layer::load;
use opl::repo::snapshot::Memory;

const GLOBAL: &str = "[model]\nprovider = \"openai\"\nname = \"gpt-4.1\"\n\n[instructions]\nfragments = [{ id = \"org\", text = \"Be safe.\", required = true }]\n\n[escalation]\ndefault_target = \"oncall\"\ncontacts.oncall = { who = \"group:oncall\" }\n";
const AGENT: &str = "[agent]\nclient = \"c\"\npurpose = \"p\"\nowner = \"user:a\"\n";

struct Merged {
    codes: Vec<&'static str>,
    doc: serde_json::Value,
    provenance: Vec<(String, String, Vec<String>)>,
}

/// Merges `global/base.toml` + `global/x.toml`, `clients/c/x.toml`, and the agent `a` (with its
/// required keys, then `agent`).
fn merge(global: &str, client: &str, agent: &str) -> Merged {
    let files = vec![
        ("opl.toml", "version = 1\n".to_string()),
        ("global/base.toml", GLOBAL.to_string()),
        ("global/x.toml", global.to_string()),
        ("clients/c/x.toml", client.to_string()),
        ("agents/a.toml", format!("{agent}\n{AGENT}")),
    ];
    let repo = load(&Memory::new(
        files
            .into_iter()
            .map(|(p, t)| (p.to_string(), t.into_bytes())),
    ))
    .unwrap();
    let stacks = Stacks::new(&repo);
    let a = stacks.agent("a").unwrap();
    let provenance = leaves(&a.eff)
        .iter()
        .map(|l| {
            let file = |n: &opl::model::value::Node| repo.sources.get(n.key_span.file).path.clone();
            (
                l.path.to_string(),
                file(l.node),
                l.shadowed.iter().map(file).collect(),
            )
        })
        .collect();
    Merged {
        codes: a.all_findings().map(|f| f.code.as_str()).collect(),
        doc: document(&repo, "a", &a.eff),
        provenance,
    }
}

fn origin<'a>(m: &'a Merged, path: &str) -> &'a (String, String, Vec<String>) {
    m.provenance
        .iter()
        .find(|p| p.0 == path)
        .unwrap_or_else(|| panic!("no leaf {path}"))
}

#[test]
fn override_last_layer_wins_and_records_what_it_shadowed() {
    let m = merge(
        "",
        "[model]\nname = \"o3\"\n",
        "[model]\nname = \"gpt-4.1-mini\"\n",
    );
    assert!(m.codes.is_empty(), "{:?}", m.codes);
    assert_eq!(m.doc["model"]["name"], "gpt-4.1-mini");
    let (_, file, shadowed) = origin(&m, "model.name");
    assert_eq!(file, "agents/a.toml");
    assert_eq!(shadowed, &["global/base.toml", "clients/c/x.toml"]);
}

#[test]
fn override_rejects_a_type_change() {
    let m = merge(
        "[metadata]\nlevel = 3\n",
        "",
        "[metadata]\nlevel = \"high\"\n",
    );
    assert_eq!(m.codes, ["type-conflict"]);
    assert_eq!(m.doc["metadata"]["level"], 3);
    // integer and float are one type
    let m = merge("[metadata]\nlevel = 3\n", "", "[metadata]\nlevel = 3.5\n");
    assert!(m.codes.is_empty(), "{:?}", m.codes);
}

#[test]
fn tables_merge_key_by_key_and_reject_table_for_scalar() {
    let m = merge(
        "[metadata]\nlinks = { wiki = \"w\" }\n",
        "[metadata]\nlinks.runbook = \"r\"\n",
        "",
    );
    assert!(m.codes.is_empty(), "{:?}", m.codes);
    assert_eq!(
        m.doc["metadata"]["links"],
        serde_json::json!({"wiki": "w", "runbook": "r"})
    );
    let m = merge(
        "[metadata]\nlinks = { wiki = \"w\" }\n",
        "[metadata]\nlinks = \"none\"\n",
        "",
    );
    assert_eq!(m.codes, ["type-conflict"]);
}

#[test]
fn append_keeps_layer_order_and_each_elements_origin() {
    let m = merge(
        "",
        "[instructions]\nfragments = [{ id = \"c\", text = \"Client.\" }]\n",
        "[instructions]\nfragments = [{ id = \"a\", text = \"Agent.\" }]\n",
    );
    assert!(m.codes.is_empty(), "{:?}", m.codes);
    let ids: Vec<&str> = m.doc["instructions"]["fragments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["org", "c", "a"]);
    assert_eq!(
        m.doc["instructions"]["prompt"],
        "Be safe.\n\nClient.\n\nAgent."
    );
    assert_eq!(
        origin(&m, "instructions.fragments[id=c].text").1,
        "clients/c/x.toml"
    );
    assert_eq!(
        origin(&m, "instructions.fragments[id=org].text").1,
        "global/base.toml"
    );
}

#[test]
fn append_rejects_a_repeated_id() {
    let m = merge(
        "",
        "",
        "[instructions]\nfragments = [{ id = \"org\", text = \"Mine.\" }]\n",
    );
    assert_eq!(m.codes, ["duplicate-id"]);
    assert_eq!(m.doc["instructions"]["prompt"], "Be safe.");
}

#[test]
fn union_adds_new_elements_first_occurrence_kept() {
    let m = merge(
        "[policy.tools]\ndeny = [\"*.delete_*\", \"*.drop_*\"]\n",
        "[policy.tools]\ndeny = [\"*.drop_*\", \"*.purge_*\"]\n",
        "",
    );
    assert!(m.codes.is_empty(), "{:?}", m.codes);
    assert_eq!(
        m.doc["policy"]["tools"]["deny"],
        serde_json::json!(["*.delete_*", "*.drop_*", "*.purge_*"])
    );
}

#[test]
fn union_by_id_adds_rules_and_rejects_redefinition() {
    let rule = |id: &str, req: &str| {
        format!(
            "[policy.approvals]\nrules = [{{ id = \"{id}\", action = \"*\", require = \"{req}\" }}]\n"
        )
    };
    let m = merge(&rule("g", "notify"), &rule("c", "deny"), "");
    assert!(
        m.codes
            .iter()
            .all(|c| *c == "dead-rule" || *c == "noop-override"),
        "{:?}",
        m.codes
    );
    assert_eq!(
        m.doc["policy"]["approvals"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let m = merge(&rule("g", "deny"), &rule("g", "allow"), "");
    assert_eq!(m.codes, ["duplicate-id"]);
    assert_eq!(m.doc["policy"]["approvals"]["rules"][0]["require"], "deny");
}

#[test]
fn subset_narrows_with_globs_and_rejects_widening() {
    let m = merge(
        "[policy.tools]\nallow = [\"*\"]\n",
        "[policy.tools]\nallow = [\"crm.*\", \"kb.search\"]\n",
        "[policy.tools]\nallow = [\"crm.get\"]\n",
    );
    assert!(m.codes.is_empty(), "{:?}", m.codes);
    assert_eq!(
        m.doc["policy"]["tools"]["allow"],
        serde_json::json!(["crm.get"])
    );
    let m = merge(
        "[policy.tools]\nallow = [\"crm.*\"]\n",
        "",
        "[policy.tools]\nallow = [\"*\"]\n",
    );
    assert_eq!(m.codes, ["widening"]);
    assert_eq!(
        m.doc["policy"]["tools"]["allow"],
        serde_json::json!(["crm.*"])
    );
    // the empty list is a value: it narrows to nothing
    let m = merge(
        "[policy.tools]\nallow = [\"crm.*\"]\n",
        "[policy.tools]\nallow = []\n",
        "",
    );
    assert!(m.codes.is_empty());
    assert_eq!(m.doc["policy"]["tools"]["allow"], serde_json::json!([]));
}

#[test]
fn min_accepts_lower_and_rejects_higher() {
    let m = merge(
        "[policy.model]\nmax_output_tokens = 4096\n",
        "[policy.model]\nmax_output_tokens = 2048\n",
        "",
    );
    assert!(m.codes.is_empty(), "{:?}", m.codes);
    assert_eq!(m.doc["policy"]["model"]["max_output_tokens"], 2048);
    let m = merge(
        "[policy.model]\nmax_output_tokens = 4096\n",
        "",
        "[policy.model]\nmax_output_tokens = 8192\n",
    );
    assert_eq!(m.codes, ["widening"]);
    assert_eq!(m.doc["policy"]["model"]["max_output_tokens"], 4096);
    let m = merge(
        "[policy.memory]\nmax_retention_days = { user = 30 }\n",
        "[policy.memory]\nmax_retention_days = { user = 31 }\n",
        "",
    );
    assert_eq!(m.codes, ["widening"]);
}

#[test]
fn or_is_true_once_any_layer_says_true() {
    let m = merge(
        "[policy.memory]\nredact_pii = false\n",
        "[policy.memory]\nredact_pii = true\n",
        "",
    );
    assert!(m.codes.is_empty(), "{:?}", m.codes);
    assert_eq!(m.doc["policy"]["memory"]["redact_pii"], true);
    let m = merge(
        "[policy.memory]\nredact_pii = true\n",
        "",
        "[policy.memory]\nredact_pii = false\n",
    );
    assert_eq!(m.codes, ["widening"]);
    assert_eq!(m.doc["policy"]["memory"]["redact_pii"], true);
}

#[test]
fn agent_only_keys_are_misplaced_elsewhere() {
    let m = merge("", "[agent]\nrisk_tier = \"low\"\n", "");
    assert_eq!(m.codes, ["misplaced-key"]);
    assert!(m.doc["agent"].get("risk_tier").is_none());
}

#[test]
fn locks_cover_the_path_and_everything_under_it() {
    let lock = "[meta]\nlock = [\"policy.model\"]\n\n[policy.model]\nmax_temperature = 0.5\n";
    let m = merge(lock, "[policy.model]\nmax_temperature = 0.4\n", "");
    assert_eq!(m.codes, ["locked"]);
    assert_eq!(m.doc["policy"]["model"]["max_temperature"], 0.5);
    // a sibling of the locked path is free
    let m = merge(lock, "[policy.tools]\ndeny = [\"*.x\"]\n", "");
    assert!(m.codes.is_empty(), "{:?}", m.codes);
    // the layer that locks may itself set the key, in any of its files
    let m = merge(lock, "", "");
    assert!(m.codes.is_empty(), "{:?}", m.codes);
}

#[test]
fn duplicate_leaf_across_files_of_one_layer() {
    // global/base.toml sets model.name too: one layer may set a leaf once
    let m = merge("[model]\nname = \"o3\"\n", "", "");
    assert_eq!(m.codes, ["duplicate-key"]);
    assert_eq!(m.doc["model"]["name"], "gpt-4.1");
    // tables may be spread over the files of a layer as long as no leaf collides
    let m = merge("[model]\nparameters = { temperature = 0.1 }\n", "", "");
    assert!(m.codes.is_empty(), "{:?}", m.codes);
}

#[test]
fn moving_a_value_between_layers_keeps_the_digest() {
    let t = "[model.parameters]\ntemperature = 0.4\n";
    let a = merge(t, "", "");
    let b = merge("", t, "");
    let c = merge("", "", t);
    assert_eq!(digest(&a.doc), digest(&b.doc));
    assert_eq!(digest(&b.doc), digest(&c.doc));
}
