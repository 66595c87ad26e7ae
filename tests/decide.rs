//! `opl decide` and the library's `Decider`: every rule of spec section 10, both ways.

mod common;

use common::{TestRepo, base_repo, opl, write_tree};
use opl::policy::{Decider, Level};
use opl::repo::snapshot::Memory;
use proptest::prelude::*;
use serde_json::{Value, json};

const POLICY: &str = r#"[connections.shop]
system = "Shop"

[connections.crm]
system = "CRM"

[policy.tools]
allow = ["shop.*", "crm.*"]
deny = ["*.delete_*"]
require_approval = ["*.send_bulk_*"]

[policy.approvals]
rules = [
  { id = "big", action = "shop.refund", when = { arg = "amount", gt = 500 }, require = "approval", approvers = ["role:finance"] },
  { id = "huge", action = "shop.refund", when = { arg = "amount", gte = 10000 }, require = "deny" },
  { id = "eur", action = "shop.refund", when = { arg = "refund.currency", eq = "eur" }, require = "approval", approvers = ["role:eu-desk"] },
  { id = "notes", action = "crm.note", require = "notify" },
]
"#;

const BOT: &str = r#"[agent]
client = "acme"
purpose = "Help"
owner = "user:ann"

[tools.shop]
use = ["refund", "send_bulk_mail", "get"]

[tools.crm]
use = ["note", "export"]
"#;

fn repo() -> tempfile::TempDir {
    base_repo(&[("global/policy.toml", POLICY), ("agents/bot.toml", BOT)])
}

fn decide(dir: &std::path::Path, action: &str, args: &[&str]) -> Value {
    let mut cmd = opl();
    cmd.arg("-C")
        .arg(dir)
        .args(["decide", "bot", action, "--format", "json"]);
    for a in args {
        cmd.args(["--arg", a]);
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ids(v: &Value, list: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["id"]
                .as_str()
                .or(s["glob"].as_str())
                .unwrap_or(s["kind"].as_str().unwrap())
                .to_string()
        })
        .collect()
}

#[test]
fn the_ladder_thresholds_and_fail_closed_arguments() {
    let d = repo();
    let usd = "refund.currency=usd";
    let v = decide(d.path(), "shop.refund", &["amount=100", usd]);
    assert_eq!(v["decision"], "allow");
    assert_eq!(v["sources"], json!([]));
    assert_eq!(v["approvers"], json!([]));
    // At the threshold, the rule does not apply (gt); above it, it does.
    assert_eq!(
        decide(d.path(), "shop.refund", &["amount=500", usd])["decision"],
        "allow"
    );
    let v = decide(d.path(), "shop.refund", &["amount=501", usd]);
    assert_eq!(v["decision"], "approval");
    assert_eq!(ids(&v, "sources"), ["big"]);
    assert_eq!(v["approvers"], json!(["role:finance"]));
    assert_eq!(v["sources"][0]["file"], "global/policy.toml");
    assert_eq!(v["sources"][0]["line"], 14);
    assert_eq!(v["sources"][0]["layer"], "global");
    // The highest level wins; lower ones are listed apart; a float compares with an integer.
    let v = decide(d.path(), "shop.refund", &["amount=10000.0", usd]);
    assert_eq!(v["decision"], "deny");
    assert_eq!(ids(&v, "sources"), ["huge"]);
    assert_eq!(ids(&v, "also_applied"), ["big"]);
    assert_eq!(v["approvers"], json!([]));
    // A missing or mistyped argument applies every rule that needs it, each name once.
    let v = decide(d.path(), "shop.refund", &[]);
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["missing_args"], json!(["amount", "refund.currency"]));
    let v = decide(
        d.path(),
        "shop.refund",
        &["amount=\"900\"", "refund.currency=usd"],
    );
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["missing_args"], json!(["amount"]));
    // Nested arguments; approvers are the union over the rules at `approval`.
    let v = decide(
        d.path(),
        "shop.refund",
        &["amount=900", "refund.currency=eur"],
    );
    assert_eq!(v["decision"], "approval");
    assert_eq!(ids(&v, "sources"), ["big", "eur"]);
    assert_eq!(v["approvers"], json!(["role:finance", "role:eu-desk"]));
    assert_eq!(
        v["args"],
        json!({"amount": 900, "refund": {"currency": "eur"}})
    );
}

#[test]
fn denials_notices_and_the_default_target_as_approver() {
    let d = repo();
    let v = decide(d.path(), "shop.nothing", &[]);
    assert_eq!(v["reason"], "not-in-use");
    let v = decide(d.path(), "crm.note", &[]);
    assert_eq!(v["decision"], "notify");
    assert_eq!(ids(&v, "sources"), ["notes"]);
    let v = decide(d.path(), "shop.send_bulk_mail", &[]);
    assert_eq!(v["decision"], "approval");
    assert_eq!(v["sources"][0]["kind"], "require-approval");
    // BASE's escalation default target is `oncall`, who is group:oncall.
    assert_eq!(v["approvers"], json!(["group:oncall"]));
    assert_eq!(decide(d.path(), "shop.get", &[])["decision"], "allow");
    assert_eq!(decide(d.path(), "crm.export", &[])["decision"], "allow");
}

/// A denied or not-allowed action in use is an error of the config (spec 6), so the agent is
/// invalid and nothing is allowed; the deny and allow steps themselves hold for a config checked
/// without its findings.
#[test]
fn denied_and_not_allowed_actions() {
    let files: Vec<(&str, String)> = common::BASE
        .iter()
        .map(|(p, t)| (*p, t.to_string()))
        .chain([
            (
                "global/policy.toml",
                POLICY.replace("allow = [\"shop.*\", \"crm.*\"]", "allow = [\"shop.*\"]"),
            ),
            (
                "agents/bot.toml",
                BOT.replace("\"refund\",", "\"refund\", \"delete_order\","),
            ),
        ])
        .collect();
    let repo = opl::repo::layer::load(&Memory::new(files)).unwrap();
    let decider = Decider::new(&repo);
    let d = decider
        .decide("bot", "shop.delete_order", &json!({}))
        .unwrap();
    assert_eq!((d.decision, d.reason), (Level::Deny, Some("invalid")));
    assert!(
        d.findings.iter().any(|f| f.starts_with("denied-action")),
        "{:?}",
        d.findings
    );
    assert!(
        d.findings
            .iter()
            .any(|f| f.starts_with("not-allowed-action")),
        "{:?}",
        d.findings
    );
    let stacks = opl::merge::stack::Stacks::new(&repo);
    let mut a = stacks.agent("bot").unwrap();
    a.own.clear();
    a.inherited.clear();
    let d = opl::policy::decide_for(&repo, &a, "shop.delete_order", &json!({}));
    assert_eq!((d.decision, d.reason), (Level::Deny, Some("denied")));
    assert_eq!(d.sources[0].glob.as_deref(), Some("*.delete_*"));
    let d = opl::policy::decide_for(&repo, &a, "crm.note", &json!({}));
    assert_eq!((d.decision, d.reason), (Level::Deny, Some("not-allowed")));
    assert_eq!(
        d.sources[0].origin.as_ref().unwrap().file,
        "global/policy.toml"
    );
}

#[test]
fn invalid_and_unknown_agents() {
    let d = base_repo(&[
        ("global/policy.toml", POLICY),
        ("agents/bot.toml", BOT),
        (
            "agents/broken.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"x\"\nowner = \"user:a\"\nrisk_tier = 3\n\n[tools.shop]\nuse = [\"get\"]\n",
        ),
    ]);
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["decide", "broken", "shop.get", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["decision"], &v["reason"]),
        (&json!("deny"), &json!("invalid"))
    );
    assert_eq!(v["digest"], Value::Null);
    assert!(
        v["findings"][0].as_str().unwrap().starts_with("type: "),
        "{v}"
    );
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["decide", "bto", "shop.get"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("did you mean `bot`?"), "{err}");
    // Human: one sentence, then the sources with their places.
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["decide", "bot", "shop.refund", "--arg", "amount=900"])
        .args(["--arg", "refund.currency=usd"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(
            "approval: agent `bot` may call `shop.refund` once approved by role:finance\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("decided by  rule big (shop.refund -> approval) when amount 900 > 500  at global/policy.toml:14:3 (global)"),
        "{text}"
    );
}

#[test]
fn a_decision_at_a_revision_names_it() {
    let mut t = TestRepo::new();
    t.write("global/policy.toml", POLICY);
    t.write("agents/bot.toml", BOT);
    let id = t.commit("policy").to_string();
    t.write("agents/bot.toml", &BOT.replace("\"note\", ", ""));
    let (code, v) = t.json(&[
        "decide", "bot", "crm.note", "--rev", "HEAD", "--format", "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["decision"], "notify");
    assert_eq!(v["revision"], id.as_str());
    let (_, v) = t.json(&["decide", "bot", "crm.note", "--format", "json"]);
    assert_eq!(v["reason"], "not-in-use");
    assert_eq!(v["revision"], Value::Null);
}

fn decide_in(extra_rule: Option<&str>, deny: bool, args: &Value) -> Level {
    let mut policy = POLICY.to_string();
    if let Some(rule) = extra_rule {
        policy = policy.replace(
            "  { id = \"notes\"",
            &format!("  {rule},\n  {{ id = \"notes\""),
        );
    }
    if deny {
        policy = policy.replace(
            "deny = [\"*.delete_*\"]",
            "deny = [\"*.delete_*\", \"shop.ref*\"]",
        );
    }
    let files: Vec<(&str, String)> = common::BASE
        .iter()
        .map(|(p, t)| (*p, t.to_string()))
        .chain([
            ("global/policy.toml", policy),
            ("agents/bot.toml", BOT.to_string()),
        ])
        .collect();
    let repo = opl::repo::layer::load(&Memory::new(files)).unwrap();
    Decider::new(&repo)
        .decide("bot", "shop.refund", args)
        .unwrap()
        .decision
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Adding a rule or a deny never makes a decision less strict.
    #[test]
    fn a_new_rule_or_deny_never_loosens(
        amount in prop::option::of(0u32..20000),
        level in prop::sample::select(vec!["allow", "notify", "approval", "deny"]),
        op in prop::sample::select(vec!["gt", "gte", "lt", "lte", "eq"]),
        value in 0u32..20000,
        conditional in any::<bool>(),
        deny in any::<bool>(),
    ) {
        let args = match amount {
            Some(a) => json!({"amount": a}),
            None => json!({}),
        };
        let when = if conditional { format!(", when = {{ arg = \"amount\", {op} = {value} }}") } else { String::new() };
        let approvers = if level == "approval" { ", approvers = [\"role:x\"]" } else { "" };
        let rule = format!("{{ id = \"new\", action = \"shop.*\", require = \"{level}\"{when}{approvers} }}");
        let before = decide_in(None, false, &args);
        let after = decide_in(Some(&rule), deny, &args);
        prop_assert!(after >= before, "{:?} -> {:?}", before, after);
    }
}

#[test]
fn access_lists_base_max_and_the_conditions_between() {
    let d = repo();
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["access", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |action: &str| -> Value {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["agent"] == "bot" && r["action"] == action)
            .unwrap_or_else(|| panic!("no {action}: {rows}"))
            .clone()
    };
    let refund = row("shop.refund");
    assert_eq!(
        (&refund["base"], &refund["max"]),
        (&json!("allow"), &json!("deny"))
    );
    let conditions: Vec<(String, String, String)> = refund["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["level"].as_str().unwrap().into(),
                c["when"].as_str().unwrap().into(),
                c["rule"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        conditions,
        [
            ("approval".into(), "amount > 500".into(), "big".into()),
            ("deny".into(), "amount >= 10000".into(), "huge".into()),
            (
                "approval".into(),
                "refund.currency = \"eur\"".into(),
                "eur".into()
            ),
        ]
    );
    assert_eq!(refund["approvers"], json!(["role:finance", "role:eu-desk"]));
    assert_eq!(refund["system"], "Shop");
    assert_eq!(refund["granted_at"]["file"], "agents/bot.toml");
    let bulk = row("shop.send_bulk_mail");
    assert_eq!(
        (&bulk["base"], &bulk["max"]),
        (&json!("approval"), &json!("approval"))
    );
    assert_eq!(bulk["conditions"], json!([]));
    let note = row("crm.note");
    assert_eq!(
        (&note["base"], &note["max"]),
        (&json!("notify"), &json!("notify"))
    );
    let get = row("shop.get");
    assert_eq!(
        (&get["base"], &get["max"]),
        (&json!("allow"), &json!("allow"))
    );
    // CSV: one row per (agent, action), every column.
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["access", "--format", "csv", "--agent", "bot"])
        .output()
        .unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("agent,client,owner,risk_tier,action,")
    );
    assert_eq!(lines.count(), 5);
    assert!(
        csv.contains("approval if amount > 500 (big); deny if amount >= 10000 (huge);"),
        "{csv}"
    );
    // Typed names are checked.
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["access", "--agent", "bto"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("did you mean `bot`?")
    );
}

#[test]
fn opl_test_passes_fails_and_refuses_a_wrong_test_file() {
    let d = base_repo(&[
        ("global/policy.toml", POLICY),
        ("agents/bot.toml", BOT),
        (
            "tests/refunds.toml",
            "[[case]]\nname = \"big refunds\"\nagent = \"bot\"\naction = \"shop.refund\"\nargs = { amount = 900, refund = { currency = \"usd\" } }\nexpect = \"approval\"\napprovers = [\"role:finance\"]\nrules = [\"big\"]\n\n[[case]]\nname = \"wrong on purpose\"\nagent = \"bot\"\naction = \"shop.refund\"\nargs = { amount = 900 }\nexpect = \"allow\"\n\n[[invariant]]\nname = \"bulk mail needs a human\"\nactions = \"*.send_bulk_*\"\nat_least = \"approval\"\n\n[[invariant]]\nname = \"notes are at most notified\"\nactions = \"crm.*\"\nat_most = \"allow\"\n",
        ),
    ]);
    let run = |args: &[&str]| {
        let out = opl().arg("-C").arg(d.path()).args(args).output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
        )
    };
    let (code, text) = run(&["test"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("ok   big refunds (bot shop.refund): approval"),
        "{text}"
    );
    assert!(
        text.contains("FAIL wrong on purpose (bot shop.refund): expected allow, got approval (decided by: big, eur; missing args: refund.currency)  tests/refunds.toml:10"),
        "{text}"
    );
    assert!(
        text.contains("ok   bulk mail needs a human: holds for 1 (agent, action) pairs"),
        "{text}"
    );
    assert!(
        text.contains(
            "FAIL notes are at most notified (bot crm.note): expected at most allow, got notify"
        ),
        "{text}"
    );
    assert!(text.ends_with("2 passed, 2 failed\n"), "{text}");
    let (_, json) = run(&["test", "--format", "json"]);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["summary"], json!({"passed": 2, "failed": 2}));
    assert_eq!(v["tests"][1]["line"], 10);
    let (_, xml) = run(&["test", "--format", "junit"]);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let failures: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .map(|n| n.attribute("message").unwrap())
        .collect();
    assert_eq!(
        failures,
        [
            "expected allow, got approval",
            "expected at most allow, got notify"
        ]
    );
    // A wrong test file is an error of its own (exit 2), with where and a did-you-mean.
    write_tree(
        d.path(),
        &[(
            "tests/refunds.toml",
            "[[case]]\nname = \"x\"\nagent = \"bto\"\naction = \"shop.refund\"\nexpect = \"aproval\"\nargz = {}\n",
        )],
    );
    let (code, json) = run(&["test", "--format", "json"]);
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&json).unwrap();
    let found: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().into(),
                f["help"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert!(
        found.contains(&("unknown-agent".into(), "did you mean `bot`?".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&("type".into(), "did you mean `approval`?".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&("unknown-key".into(), "did you mean `args`?".into())),
        "{found:?}"
    );
    assert_eq!(v["findings"][0]["file"], "tests/refunds.toml");
}

#[test]
fn check_reports_failing_tests_as_findings_in_every_format() {
    let d = base_repo(&[
        ("global/policy.toml", POLICY),
        ("agents/bot.toml", BOT),
        (
            "tests/notes.toml",
            "[[case]]\nname = \"notes are free\"\nagent = \"bot\"\naction = \"crm.note\"\nexpect = \"allow\"\n",
        ),
    ]);
    let run = |format: &str| {
        let out = opl()
            .arg("-C")
            .arg(d.path())
            .args(["check", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}");
        String::from_utf8(out.stdout).unwrap()
    };
    let v: Value = serde_json::from_str(&run("json")).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["code"], "test-failed");
    assert_eq!(f["file"], "tests/notes.toml");
    assert_eq!(f["line"], 1);
    assert_eq!(
        f["message"],
        "policy test notes are free (bot crm.note): expected allow, got notify (decided by: notes)"
    );
    assert_eq!(v["summary"]["errors"], 1);
    assert!(run("github").starts_with("::error file=tests/notes.toml,line=1,"));
    let sarif: Value = serde_json::from_str(&run("sarif")).unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "test-failed");
    let junit = run("junit");
    roxmltree::Document::parse(&junit).unwrap();
    assert!(junit.contains("<failure type=\"test-failed\""), "{junit}");
    assert!(run("human").contains("1 error, 0 warnings"));
}

#[test]
fn access_check_compares_with_a_committed_snapshot() {
    let d = repo();
    let run = |args: &[&str]| {
        let out = opl().arg("-C").arg(d.path()).args(args).output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
        )
    };
    let (_, csv) = run(&["access", "--format", "csv"]);
    let snap = d.path().join("access.csv");
    std::fs::write(&snap, &csv).unwrap();
    let (code, text) = run(&["access", "--check", snap.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("access matches "), "{text}");
    // A policy change that alters who can do what shows up, line by line.
    write_tree(
        d.path(),
        &[(
            "global/policy.toml",
            &POLICY.replace(
                "{ id = \"notes\", action = \"crm.note\", require = \"notify\" },",
                "",
            ),
        )],
    );
    let (code, text) = run(&["access", "--check", snap.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    let minus: Vec<&str> = text.lines().filter(|l| l.starts_with("-bot,")).collect();
    let plus: Vec<&str> = text.lines().filter(|l| l.starts_with("+bot,")).collect();
    assert_eq!(minus.len(), 1, "{text}");
    assert!(
        minus[0].contains(",crm.note,") && minus[0].contains(",notify,notify,"),
        "{text}"
    );
    assert!(
        plus[0].contains(",crm.note,") && plus[0].contains(",allow,allow,"),
        "{text}"
    );
    assert!(text.contains("access differs from"), "{text}");
}

#[test]
fn access_matrix_has_a_letter_per_level_and_a_key() {
    let d = repo();
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["access", "--format", "matrix"])
        .env("COLUMNS", "23")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Five actions: crm.export, crm.note, shop.get, shop.refund, shop.send_bulk_mail; four fit.
    assert_eq!(lines[0], "AGENT   1   2   3   4", "{text}");
    assert_eq!(lines[1], "bot     A   N   A  A+", "{text}");
    assert!(text.contains("  4  shop.refund\n"), "{text}");
    assert!(
        text.contains("left out to fit 23 columns: shop.send_bulk_mail\n"),
        "{text}"
    );
    assert!(
        text.contains("A allow  N notify  P approval  D deny"),
        "{text}"
    );
}

#[test]
fn the_pre_commit_check_runs_the_tests_a_staged_change_can_affect() {
    let mut t = TestRepo::new();
    t.write("global/policy.toml", POLICY);
    t.write("agents/bot.toml", BOT);
    t.write(
        "tests/notes.toml",
        "[[case]]\nname = \"notes notify\"\nagent = \"bot\"\naction = \"crm.note\"\nexpect = \"notify\"\n",
    );
    t.commit("policy and tests");
    // A staged change to another agent: the bot's test is not affected, nothing fails.
    t.write(
        "agents/two.toml",
        "[agent]\nclient = \"acme\"\npurpose = \"Two\"\nowner = \"user:ann\"\n",
    );
    t.stage("agents/two.toml");
    let (code, v) = t.json(&["validate", "--staged", "--format", "json"]);
    assert_eq!(code, 0, "{v}");
    // A staged change to the bot that breaks its test: the commit is refused.
    t.write("agents/bot.toml", &BOT.replace("\"note\", ", ""));
    t.stage("agents/bot.toml");
    let (code, v) = t.json(&["validate", "--staged", "--format", "json"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["findings"][0]["code"], "test-failed");
    assert_eq!(v["findings"][0]["file"], "tests/notes.toml");
}

#[test]
fn a_case_can_decide_at_its_own_revision() {
    let mut t = TestRepo::new();
    t.write("global/policy.toml", POLICY);
    t.write("agents/bot.toml", BOT);
    t.commit("notes notify");
    t.write(
        "global/policy.toml",
        &POLICY.replace(
            "{ id = \"notes\", action = \"crm.note\", require = \"notify\" },",
            "",
        ),
    );
    t.write(
        "tests/notes.toml",
        "[[case]]\nname = \"notes notified then\"\nagent = \"bot\"\naction = \"crm.note\"\nexpect = \"notify\"\nrev = \"HEAD\"\n\n[[case]]\nname = \"notes free now\"\nagent = \"bot\"\naction = \"crm.note\"\nexpect = \"allow\"\n\n[[case]]\nname = \"at a revision that is not there\"\nagent = \"bot\"\naction = \"crm.note\"\nexpect = \"allow\"\nrev = \"nope\"\n",
    );
    let (code, v) = t.json(&["test", "--format", "json"]);
    assert_eq!(code, 1, "{v}");
    let passed: Vec<(String, bool)> = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        passed,
        [
            ("notes notified then".to_string(), true),
            ("notes free now".to_string(), true),
            ("at a revision that is not there".to_string(), false),
        ],
        "{v}"
    );
    assert!(
        v["tests"][2]["detail"]
            .as_str()
            .unwrap()
            .starts_with("cannot decide at nope: "),
        "{v}"
    );
}
