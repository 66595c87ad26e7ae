//! Inventory, ownership, lints, graph, completions, manual and editor support.

mod common;

use common::{base_repo, codes, fixtures, opl, validate_json};
use predicates::prelude::*;

#[test]
fn inventory_has_every_field_in_json_and_csv() {
    // The example, committed in a repository of its own: its last change is that commit.
    let mut t = common::TestRepo::new();
    for p in [
        "agents/bot.toml",
        "global/base.toml",
        "clients/acme/client.toml",
    ] {
        t.remove(p);
    }
    let acme = fixtures().join("acme");
    common::copy_tree(&acme, &t.root());
    let commit = t.commit("the example").to_string();
    let (code, v) = t.json(&["inventory", "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(v.as_array().unwrap().len(), 9);
    let r = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "returns-bot")
        .unwrap();
    assert_eq!(r["client"], "acme-retail");
    assert_eq!(r["owner"], "user:jane.doe");
    assert_eq!(r["risk_tier"], "high");
    // Structured: a script reads fields, never prose.
    assert_eq!(
        r["model"],
        serde_json::json!({"provider": "azure-openai", "name": "gpt-4.1-mini"})
    );
    assert_eq!(
        r["fallbacks"],
        serde_json::json!([{"provider": "openai", "name": "gpt-4.1-mini"}])
    );
    let zendesk = r["systems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["connection"] == "zendesk")
        .unwrap();
    assert_eq!(zendesk["system"], "Zendesk (Acme Retail tenant)");
    assert_eq!(zendesk["data_classification"], "confidential");
    assert_eq!(zendesk["auth_mode"], "agent_identity");
    assert_eq!(zendesk["credentials"], "the agent's own credentials");
    let refund = r["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "org.refund-large")
        .unwrap();
    assert_eq!(refund["kind"], "rule");
    assert_eq!(refund["action"], "*.create_refund");
    assert_eq!(refund["require"], "approval");
    assert_eq!(refund["approvers"], serde_json::json!(["role:finance"]));
    assert_eq!(refund["when"]["arg"], "amount");
    assert_eq!(r["memory_scopes"], serde_json::json!(["session"]));
    assert_eq!(
        r["retention_days"],
        serde_json::json!([{"scope": "session", "days": 14}])
    );
    assert_eq!(r["escalation_target"], "acme-tier2");
    let tier2 = r["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact"] == "acme-tier2")
        .unwrap();
    assert_eq!(tier2["who"], "group:acme-tier2");
    assert!(
        r["instructions"].as_array().unwrap().contains(
            &serde_json::json!({"id": "acme.tone", "file": "clients/acme-retail/tone.md"})
        )
    );
    assert!(r["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(r["last_change"]["status"], "committed");
    assert_eq!(r["last_change"]["commit"], commit.as_str());

    let out = opl()
        .arg("-C")
        .arg(&acme)
        .args(["inventory", "--format", "csv", "--client", "initech"])
        .output()
        .unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    let head = lines.next().unwrap();
    assert_eq!(head.split(',').count(), 21);
    assert!(head.contains("systems") && head.contains("last_change"));
    assert_eq!(lines.count(), 2);
    opl()
        .arg("-C")
        .arg(&acme)
        .args(["inventory", "--client", "nope"])
        .assert()
        .code(2);
}

#[test]
fn inventory_table_fits_the_terminal() {
    let acme = fixtures().join("acme");
    for width in ["60", "100", "160"] {
        let out = opl()
            .arg("-C")
            .arg(&acme)
            .arg("inventory")
            .env("COLUMNS", width)
            .output()
            .unwrap();
        let s = String::from_utf8(out.stdout).unwrap();
        let w: usize = width.parse().unwrap();
        for l in s.lines() {
            assert!(l.chars().count() <= w, "line longer than {w}: {l}");
        }
        assert!(s.starts_with("AGENT"), "{s}");
        // Agent ids are never cut; columns that do not fit are named under the table.
        assert!(s.contains("internal-helpdesk  "), "{s}");
        let hidden = s.contains("Not shown at this width:");
        assert_eq!(hidden, w < 160, "{s}");
        if hidden {
            assert!(s.contains("DIGEST") && s.contains("--format csv"), "{s}");
        }
    }
    let wide = String::from_utf8(
        opl()
            .arg("-C")
            .arg(&acme)
            .arg("inventory")
            .env("COLUMNS", "200")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(wide.contains("internal-helpdesk"));
}

#[test]
fn codeowners_from_meta_owner_and_check_reports_drift() {
    let d = base_repo(&[(
        "global/base.toml",
        &format!(
            "[meta]\nowner = \"group:ai-governance\"\n\n{}",
            common::BASE[1].1
        ),
    )]);
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .arg("codeowners")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("/global/ @ai-governance\n"), "{text}");
    assert!(text.contains("/clients/acme/ @ann\n"), "{text}");
    assert!(text.contains("/agents/bot.toml @ann\n"), "{text}");
    // no CODEOWNERS committed: nothing to compare
    opl()
        .arg("-C")
        .arg(d.path())
        .args(["check", "--format", "json"])
        .assert()
        .code(0);
    std::fs::write(d.path().join("CODEOWNERS"), &text).unwrap();
    opl()
        .arg("-C")
        .arg(d.path())
        .args(["check"])
        .assert()
        .code(0);
    std::fs::write(
        d.path().join("CODEOWNERS"),
        text.replace("/clients/acme/ @ann", "/clients/acme/ @mallory"),
    )
    .unwrap();
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["code"], "codeowners-drift");
    assert_eq!(f["file"], "CODEOWNERS");
    assert_eq!(f["line"], 3);
    // The human report shows what it counts, and agrees with the JSON and the exit status.
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["check", "--deny-warnings"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let human = String::from_utf8(out.stdout).unwrap();
    assert!(human.contains("codeowners-drift"), "{human}");
    assert!(
        human.contains("CODEOWNERS should have `/clients/acme/ @ann`"),
        "{human}"
    );
    assert!(human.contains("CODEOWNERS:3:1"), "{human}");
    assert!(human.contains("0 errors, 1 warning in 1 agent"), "{human}");
    assert_eq!(v["summary"]["warnings"], 1);
    assert_eq!(v["summary"]["errors"], 0);
    // Every CI format carries it, at the same place.
    let run = |format: &str| {
        let out = opl()
            .arg("-C")
            .arg(d.path())
            .args(["check", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}");
        String::from_utf8(out.stdout).unwrap()
    };
    let gh = run("github");
    assert!(
        gh.starts_with("::warning file=CODEOWNERS,line=3,col=1,")
            && gh.contains("title=codeowners-drift::"),
        "{gh}"
    );
    let sarif: serde_json::Value = serde_json::from_str(&run("sarif")).unwrap();
    let r = &sarif["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "codeowners-drift");
    assert_eq!(r["level"], "warning");
    let loc = &r["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "CODEOWNERS");
    assert_eq!(loc["region"]["startLine"], 3);
    let rule = &sarif["runs"][0]["tool"]["driver"]["rules"][0];
    assert_eq!(
        rule["shortDescription"]["text"],
        opl::diagnostic::Code::CodeownersDrift.description()
    );
    let junit = run("junit");
    assert!(
        junit.contains("<testcase classname=\"opl.codeowners-drift\" name=\"codeowners-drift CODEOWNERS:3:1\" file=\"CODEOWNERS\" line=\"3\">"),
        "{junit}"
    );
    // `[lints]` allows it like any other warning.
    std::fs::write(
        d.path().join("opl.toml"),
        "version = 1\n\n[lints]\ncodeowners-drift = \"allow\"\n",
    )
    .unwrap();
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["check", "--deny-warnings", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"], serde_json::json!([]));
    assert_eq!(v["summary"]["warnings"], 0);
}

/// A connection, a `require_approval` pattern and an approval rule that no agent below them uses
/// are each reported once, with their names and where they are defined; those some agent uses
/// are not reported, however many agents leave them unused.
#[test]
fn unused_definitions_are_reported_once_by_name_where_they_are_defined() {
    let uses_crm = common::agent("acme", "\n[tools.crm]\nuse = [\"get_ticket\"]\n");
    let d = base_repo(&[
        ("agents/bot.toml", &uses_crm),
        ("agents/two.toml", &common::agent("acme", "")),
        ("agents/three.toml", &common::agent("acme", "")),
        (
            "clients/acme/client.toml",
            "[meta]\nowner = \"user:ann\"\n\n[connections.crm]\nsystem = \"CRM\"\n\n[connections.ledger]\nsystem = \"Ledger\"\n",
        ),
        (
            "global/policy.toml",
            "[policy.tools]\nrequire_approval = [\"crm.get_*\", \"crm.delete_*\"]\n\n[policy.approvals]\nrules = [{ id = \"wire\", action = \"*.wire\", require = \"deny\" }, { id = \"read\", action = \"crm.*\", require = \"deny\" }]\n",
        ),
    ]);
    let (_, v) = validate_json(d.path());
    let unused: Vec<(String, String, String, u64)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "unused-connection" || f["code"] == "dead-rule")
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = |code: &str, message: &str, file: &str, line: u64| {
        (
            code.to_string(),
            message.to_string(),
            file.to_string(),
            line,
        )
    };
    let mut unused = unused;
    unused.sort();
    assert_eq!(
        unused,
        [
            want(
                "dead-rule",
                "approval rule `wire` (action `*.wire`) matches no action of any agent that inherits it",
                "global/policy.toml",
                5
            ),
            want(
                "dead-rule",
                "require_approval pattern `crm.delete_*` matches no action of any agent that inherits it",
                "global/policy.toml",
                2
            ),
            want(
                "unused-connection",
                "connection `ledger` is used by no agent that inherits it",
                "clients/acme/client.toml",
                7
            ),
        ]
    );
}

#[test]
fn hoist_noop_dead_rule_and_unused_connection_are_warnings_that_can_be_allowed() {
    let two = "[agent]\nclient = \"acme\"\npurpose = \"Other\"\nowner = \"user:ann\"\n\n[model]\nname = \"o3\"\n";
    let d = base_repo(&[
        (
            "agents/bot.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"Help\"\nowner = \"user:ann\"\n\n[model]\nname = \"o3\"\nprovider = \"openai\"\n",
        ),
        ("agents/two.toml", two),
        (
            "clients/acme/client.toml",
            "[meta]\nowner = \"user:ann\"\n\n[connections.crm]\nsystem = \"CRM\"\n",
        ),
        (
            "global/policy.toml",
            "[policy.approvals]\nrules = [{ id = \"wire\", action = \"*.wire\", require = \"deny\" }]\n",
        ),
    ]);
    let (code, v) = validate_json(d.path());
    assert_eq!(code, 0);
    let mut c = codes(&v);
    c.sort();
    assert_eq!(
        c,
        ["dead-rule", "hoist", "noop-override", "unused-connection"]
    );
    let hoist = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "hoist")
        .unwrap();
    assert_eq!(hoist["file"], "agents/bot.toml");
    assert!(hoist["help"].as_str().unwrap().contains("clients/acme/"));
    std::fs::write(
        d.path().join("opl.toml"),
        "version = 1\n\n[lints]\nhoist = \"allow\"\ndead-rule = \"allow\"\n",
    )
    .unwrap();
    let (_, v) = validate_json(d.path());
    let mut c = codes(&v);
    c.sort();
    assert_eq!(c, ["noop-override", "unused-connection"]);
    std::fs::write(
        d.path().join("opl.toml"),
        "version = 1\n\n[lints]\nhoisst = \"allow\"\n",
    )
    .unwrap();
    let (code, v) = validate_json(d.path());
    assert_eq!(code, 1);
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "unknown-key" && f["help"] == "did you mean `hoist`?")
    );
}

#[test]
fn graph_in_dot_and_mermaid() {
    let acme = fixtures().join("acme");
    let dot = String::from_utf8(
        opl()
            .arg("-C")
            .arg(&acme)
            .args(["graph", "--format", "dot"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(dot.starts_with("digraph opl {"));
    assert!(dot.contains("global -> c_acme_retail;"));
    assert!(dot.contains("c_acme_retail -> a_support_bot;"));
    assert!(dot.contains("global -> a_internal_helpdesk;"));
    assert!(dot.contains("label=\"global (28 values)\""), "{dot}");
    let mm = String::from_utf8(
        opl()
            .arg("-C")
            .arg(&acme)
            .arg("graph")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(mm.starts_with("graph LR\n"));
    assert!(mm.contains("c_initech --> a_lead_qualifier"));
}

#[test]
fn completions_man_and_help_with_examples() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = opl().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let s = String::from_utf8(out.stdout).unwrap();
        assert!(s.contains("validate") && s.contains("blame"), "{shell}");
    }
    let man = String::from_utf8(opl().arg("man").output().unwrap().stdout).unwrap();
    assert!(man.contains(".TH opl 1"));
    for cmd in [
        "VALIDATE",
        "RENDER",
        "DIFF",
        "CHECK",
        "LOG",
        "BLAME",
        "AUDIT",
        "INVENTORY",
    ] {
        assert!(
            man.contains(&format!(".SH \"OPL {cmd}\"")),
            "man page lacks {cmd}"
        );
    }
    let help = String::from_utf8(opl().arg("--help").output().unwrap().stdout).unwrap();
    let commands: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 17, "{commands:?}");
    for c in commands {
        let out = opl().args([c.as_str(), "--help"]).output().unwrap();
        let s = String::from_utf8(out.stdout).unwrap();
        assert!(
            s.contains("Example: opl "),
            "`opl {c} --help` has no example"
        );
    }
}

#[test]
fn init_writes_taplo_config_and_schema() {
    let d = tempfile::tempdir().unwrap();
    opl().arg("init").arg(d.path()).assert().code(0);
    let taplo = std::fs::read_to_string(d.path().join(".taplo.toml")).unwrap();
    assert!(taplo.contains("path = \"schemas/layer.schema.json\""));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.path().join("schemas/layer.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(schema["title"], "opl layer file (v1)");
    // neither is a stray file
    opl()
        .arg("-C")
        .arg(d.path())
        .args(["validate", "--deny-warnings"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no findings"));
}
