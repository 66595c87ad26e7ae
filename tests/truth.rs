//! Every output tells the truth at the edges: partial runs judge only what they ran, findings in
//! shared layers name their agents, a broken file has no cascade, messages say exactly what
//! happened, and `--color always` colours every command's human output.

mod common;

use common::{TestRepo, base_repo, fixtures, opl, validate_json, write_tree};
use serde_json::Value;

fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = opl().arg("-C").arg(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn codes(v: &Value) -> Vec<&str> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

/// A global approval rule and connection that only `bot` uses; `two` uses neither.
fn shared_rule() -> tempfile::TempDir {
    base_repo(&[
        (
            "global/tools.toml",
            "[connections.crm]\nsystem = \"CRM\"\n\n[policy.approvals]\nrules = [{ id = \"refunds\", action = \"crm.refund\", require = \"approval\", approvers = [\"role:fin\"] }]\n",
        ),
        (
            "agents/bot.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"Help\"\nowner = \"user:ann\"\n\n[tools.crm]\nuse = [\"refund\"]\n",
        ),
        (
            "agents/two.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"Other\"\nowner = \"user:ann\"\n",
        ),
    ])
}

#[test]
fn a_partial_run_does_not_judge_what_other_agents_use() {
    let d = shared_rule();
    let (code, v) = validate_json(d.path());
    assert_eq!(code, 0);
    assert!(codes(&v).is_empty(), "{v}");
    // `two` alone uses neither the rule nor the connection; bot does.
    let (code, out, _) = run(d.path(), &["validate", "two", "--deny-warnings"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: 1 agent"), "{out}");
    assert!(
        out.contains("note: hoist, and dead-rule and unused-connection of global and client definitions, are judged on the whole repository"),
        "{out}"
    );
    let (_, json, _) = run(d.path(), &["validate", "two", "--format", "json"]);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert!(codes(&v).is_empty(), "{v}");
    assert_eq!(v["summary"]["notes"].as_array().unwrap().len(), 1);
    // An agent's own unused definition is still judged: only that agent inherits it.
    write_tree(
        d.path(),
        &[(
            "agents/two.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"Other\"\nowner = \"user:ann\"\n\n[connections.own]\nsystem = \"Own\"\n",
        )],
    );
    let (_, json, _) = run(d.path(), &["validate", "two", "--format", "json"]);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(codes(&v), ["unused-connection"], "{v}");
    assert_eq!(v["findings"][0]["file"], "agents/two.toml");
}

#[test]
fn a_finding_in_a_shared_layer_names_its_agents() {
    let d = base_repo(&[
        (
            "global/policy.toml",
            "[policy.model]\nallow_providers = [\"azure-openai\"]\n",
        ),
        (
            "agents/two.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"Other\"\nowner = \"user:ann\"\n",
        ),
        (
            "agents/three.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"Third\"\nowner = \"user:ann\"\n\n[model]\nprovider = \"azure-openai\"\n",
        ),
    ]);
    let (code, v) = validate_json(d.path());
    assert_eq!(code, 1);
    let f: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "policy-violation")
        .collect();
    assert_eq!(f.len(), 1, "{v}");
    assert_eq!(f[0]["file"], "global/base.toml");
    assert_eq!(f[0]["agents"], serde_json::json!(["bot", "two"]));
    let (_, out, _) = run(d.path(), &["validate"]);
    assert!(out.contains("(for 2 agents: bot, two)"), "{out}");
}

#[test]
fn a_broken_agent_file_has_no_cascade_and_is_not_diffed_as_a_document() {
    let mut t = TestRepo::new();
    common::copy_tree(&fixtures().join("acme"), &t.root());
    t.remove("agents/bot.toml");
    t.remove("global/base.toml");
    std::fs::remove_dir_all(t.root().join("clients/acme")).unwrap();
    t.commit("acme");
    let (code, _) = t.json(&["validate", "--format", "json"]);
    assert_eq!(code, 0);
    let path = t.root().join("agents/support-bot.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[metadata]\nsecond = true\n");
    std::fs::write(&path, text).unwrap();
    let (code, v) = t.json(&["validate", "--format", "json"]);
    assert_eq!(code, 1);
    let found: Vec<(&str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["file"].as_str().unwrap()))
        .collect();
    assert_eq!(found, [("parse", "agents/support-bot.toml")], "{v}");
    // The diff says the agent is now invalid, with why, and invents no change.
    let (code, v) = t.json(&["diff", "--format", "json"]);
    assert_eq!(code, 0);
    let agents = v["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1, "{v}");
    assert_eq!(agents[0]["agent"], "support-bot");
    assert_eq!(agents[0]["valid_after"], false);
    assert_eq!(agents[0]["errors_after"], serde_json::json!(["parse"]));
    assert_eq!(agents[0]["changes"], serde_json::json!([]));
    assert_eq!(agents[0]["digest_after"], Value::Null);
    assert_eq!(v["summary"]["agents_widened"], 0);
    assert_eq!(v["summary"]["noop_files"], serde_json::json!([]));
    let out = t.opl().args(["diff"]).output().unwrap();
    let human = String::from_utf8(out.stdout).unwrap();
    assert!(
        human.contains("support-bot (client acme-retail) [now invalid: parse;"),
        "{human}"
    );
    let out = t
        .opl()
        .args(["diff", "--format", "patch"])
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn messages_say_exactly_what_is_true() {
    // noop-override shows both values; `type` names the key and the type; unbounded-memory
    // points at both sides.
    let d = base_repo(&[
        (
            "global/params.toml",
            "[model.parameters]\nmax_output_tokens = 3\n\n[memory]\nscopes = [\"session\"]\nretention_days = { user = 5 }\n",
        ),
        (
            "agents/bot.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"Help\"\nowner = \"user:ann\"\nrisk_tier = 3\n\n[model.parameters]\nmax_output_tokens = 3\n",
        ),
    ]);
    let (_, v) = validate_json(d.path());
    let by = |code: &str| -> Value {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == code)
            .unwrap_or_else(|| panic!("no {code}: {v}"))
            .clone()
    };
    assert_eq!(
        by("noop-override")["message"],
        "`model.parameters.max_output_tokens` = 3 restates the inherited value 3"
    );
    assert_eq!(
        by("type")["message"],
        "`agent.risk_tier` must be a string, found a number"
    );
    let u = by("unbounded-memory");
    assert_eq!(u["file"], "global/params.toml");
    assert_eq!(
        u["related"][0]["message"],
        "retention_days has no entry for it"
    );
    assert_eq!(u["related"][0]["line"], 6);
}

#[test]
fn log_messages_judge_by_the_parents_state_and_count_right() {
    let mut t = TestRepo::new();
    t.commit("base");
    t.write(
        "agents/bot.toml",
        "[agent]\nclient = \"acme\"\npurpose = \"Help Acme customers\"\nowner = \"user:ann\"\nrisk_tier = \"low\"\n",
    );
    t.commit("add a risk tier");
    let out = t.opl().args(["log", "bot"]).output().unwrap();
    let log = String::from_utf8(out.stdout).unwrap();
    // The second commit only adds a key: the agent did not appear then.
    assert!(log.contains("agent.risk_tier: (unset) -> \"low\""), "{log}");
    assert_eq!(log.matches("agent appears with").count(), 1, "{log}");
    let (_, v) = t.json(&["log", "bot", "--format", "json"]);
    assert_eq!(v[0]["before"], "present");
    assert_eq!(v[1]["before"], "absent");
    let (_, v) = t.json(&["log", "bot", "-n", "0", "--format", "json"]);
    assert_eq!(v, serde_json::json!([]));
    let (_, v) = t.json(&["log", "bot", "-n", "1", "--format", "json"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    let out = t.opl().args(["audit"]).output().unwrap();
    let audit = String::from_utf8(out.stdout).unwrap();
    assert!(
        audit.contains("2 commits, 2 agent changes, 0 widening"),
        "{audit}"
    );
    let out = t.opl().args(["audit", "HEAD~1..HEAD"]).output().unwrap();
    let audit = String::from_utf8(out.stdout).unwrap();
    assert!(
        audit.contains("1 commit, 1 agent change, 0 widening"),
        "{audit}"
    );
}

#[test]
fn color_always_colours_every_human_output_and_never_none() {
    let mut t = TestRepo::new();
    t.commit("base");
    t.write(
        "agents/bot.toml",
        "[agent]\nclient = \"acme\"\npurpose = \"Help Acme customers\"\nowner = \"user:ann\"\nrisk_tier = \"low\"\n",
    );
    t.commit("tier");
    t.write(
        "agents/bot.toml",
        "[agent]\nclient = \"acme\"\nrisk_tier = 3\n",
    );
    let digest = {
        let out = t
            .opl()
            .args(["render", "bot", "--rev", "HEAD", "--format", "json"])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        v["digest"].as_str().map(String::from)
    };
    let mut runs: Vec<Vec<String>> = [
        &["validate"][..],
        &["check"],
        &["diff"],
        &["log", "bot"],
        &["blame", "bot", "--rev", "HEAD"],
        &["audit"],
        &["explain", "bot", "agent.risk_tier", "--rev", "HEAD"],
        &["inventory", "--rev", "HEAD"],
        &["render", "bot", "--rev", "HEAD", "--explain"],
    ]
    .iter()
    .map(|a| a.iter().map(|s| s.to_string()).collect())
    .collect();
    if let Some(d) = digest {
        runs.push(vec!["whence".into(), "bot".into(), d]);
    }
    for args in &runs {
        let coloured = t
            .opl()
            .args(["--color", "always"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8(coloured.stdout).unwrap();
        assert!(text.contains("\u{1b}["), "{args:?} has no colour:\n{text}");
        let plain = t
            .opl()
            .args(["--color", "never"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8(plain.stdout).unwrap();
        assert!(!text.contains('\u{1b}'), "{args:?} is coloured:\n{text}");
    }
}
