//! The real binary on real files: stdout, stderr and exit codes.

mod common;

use common::{BASE, base_repo, codes, fixtures, opl, validate_json, write_tree};
use predicates::prelude::*;

#[test]
fn the_example_validates_clean() {
    let acme = fixtures().join("acme");
    opl()
        .arg("-C")
        .arg(&acme)
        .arg("validate")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ok: 9 agents"));
    let (code, v) = validate_json(&acme);
    assert_eq!(code, 0);
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
    assert_eq!(v["summary"]["agents"], 9);
}

#[test]
fn json_findings_have_the_documented_fields() {
    let d = base_repo(&[
        (
            "global/policy.toml",
            "[policy.model]\nmax_temperature = 0.5\n",
        ),
        (
            "agents/bot.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[policy.model]\nmax_temperature = 0.9\n",
        ),
    ]);
    let (code, v) = validate_json(d.path());
    assert_eq!(code, 1);
    let f = &v["findings"][0];
    assert_eq!(f["code"], "widening");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["file"], "agents/bot.toml");
    assert_eq!(f["line"], 7);
    assert_eq!(f["column"], 19);
    assert_eq!(f["related"][0]["file"], "global/policy.toml");
    assert_eq!(f["related"][0]["line"], 2);
    assert!(f["message"].as_str().unwrap().contains("0.9"));
}

#[test]
fn human_output_shows_both_places_without_colour_when_piped() {
    let d = base_repo(&[
        (
            "global/policy.toml",
            "[policy.model]\nmax_temperature = 0.5\n",
        ),
        (
            "agents/bot.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[policy.model]\nmax_temperature = 0.9\n",
        ),
    ]);
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .arg("validate")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("widening"), "{s}");
    assert!(s.contains("agents/bot.toml:7:19"), "{s}");
    assert!(s.contains("global/policy.toml:2:19"), "{s}");
    assert!(s.contains("1 error, 0 warnings"), "{s}");
    assert!(!s.contains('\u{1b}'), "colour escape in piped output");
}

#[test]
fn every_finding_in_one_run() {
    let d = base_repo(&[
        (
            "agents/bot.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"p\"\n\n[model]\nprovdier = \"x\"\nname = 3\n",
        ),
        (
            "agents/two.toml",
            "[agent]\nclient = \"nope\"\npurpose = \"p\"\nowner = \"user:b\"\n",
        ),
    ]);
    let (code, v) = validate_json(d.path());
    assert_eq!(code, 1);
    let c = codes(&v);
    for want in ["unknown-key", "type", "missing", "unknown-client"] {
        assert!(c.contains(&want.to_string()), "{want} not in {c:?}");
    }
}

#[test]
fn render_json_reproduces_the_digest() {
    let acme = fixtures().join("acme");
    let toml = opl()
        .arg("-C")
        .arg(&acme)
        .args(["render", "support-bot"])
        .output()
        .unwrap();
    assert_eq!(toml.status.code(), Some(0));
    let toml = String::from_utf8(toml.stdout).unwrap();
    let digest = toml
        .lines()
        .next()
        .unwrap()
        .strip_prefix("# digest: ")
        .unwrap()
        .to_string();
    let json = opl()
        .arg("-C")
        .arg(&acme)
        .args(["render", "support-bot", "--format", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(opl::render::digest(&doc), digest);
    assert_eq!(doc["agent"]["id"], "support-bot");
    assert_eq!(doc["instructions"].get("exclude"), None);
    assert_eq!(
        doc["instructions"]["fragments"][2]["file"],
        "clients/acme-retail/tone.md"
    );
    assert!(
        doc["instructions"]["prompt"]
            .as_str()
            .unwrap()
            .starts_with("You are an assistant operated by Acme Holdings.")
    );
    assert!(
        doc["actions"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("zendesk.get_ticket"))
    );
    assert!(doc.get("meta").is_none());
    // the excluded global fragment is gone
    assert!(
        !doc["instructions"]["fragments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "org.tone")
    );
}

#[test]
fn render_explain_names_origin_and_shadowed_values() {
    let acme = fixtures().join("acme");
    let out = opl()
        .arg("-C")
        .arg(&acme)
        .args(["render", "support-bot", "--explain"])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    let line = s
        .lines()
        .find(|l| l.starts_with("model.parameters.temperature"))
        .unwrap();
    assert!(
        line.contains("agents/support-bot.toml:12:1 (agent:support-bot)"),
        "{line}"
    );
    assert!(s.contains("shadows 0.2"), "{s}");
    let json = opl()
        .arg("-C")
        .arg(&acme)
        .args(["render", "support-bot", "--explain", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let t = v["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "model.parameters.temperature")
        .unwrap();
    assert_eq!(t["origin"]["file"], "agents/support-bot.toml");
    assert_eq!(t["shadowed"][0]["file"], "global/models.toml");
    assert_eq!(t["shadowed"][0]["value"], 0.2);
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn render_refuses_an_agent_with_errors() {
    let d = base_repo(&[(
        "agents/bot.toml",
        "[agent]\nclient = \"acme\"\npurpose = \"p\"\n",
    )]);
    opl()
        .arg("-C")
        .arg(d.path())
        .args(["render", "bot"])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(
            predicate::str::contains("missing")
                .and(predicate::str::contains("refusing to render agent `bot`")),
        );
}

#[test]
fn render_all_writes_one_file_per_agent_and_an_index_and_never_overwrites() {
    let acme = fixtures().join("acme");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("rendered");
    opl()
        .arg("-C")
        .arg(&acme)
        .args(["render", "--all", "--out"])
        .arg(&dir)
        .assert()
        .code(0);
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["agents"].as_array().unwrap().len(), 9);
    let sb = index["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "support-bot")
        .unwrap();
    let text = std::fs::read_to_string(dir.join("support-bot.toml")).unwrap();
    assert!(text.starts_with(&format!("# digest: {}", sb["digest"].as_str().unwrap())));
    std::fs::write(dir.join("support-bot.toml"), "mine").unwrap();
    opl()
        .arg("-C")
        .arg(&acme)
        .args(["render", "--all", "--out"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(dir.join("support-bot.toml")).unwrap(),
        "mine"
    );
    opl()
        .arg("-C")
        .arg(&acme)
        .args(["render", "--all", "--force", "--out"])
        .arg(&dir)
        .assert()
        .code(0);
    assert!(
        std::fs::read_to_string(dir.join("support-bot.toml"))
            .unwrap()
            .starts_with("# digest:")
    );
}

#[test]
fn explain_shows_class_shadowed_and_policy() {
    let acme = fixtures().join("acme");
    let out = opl()
        .arg("-C")
        .arg(&acme)
        .args(["explain", "support-bot", "model.parameters.temperature"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("model.parameters.temperature = 0.3"), "{s}");
    assert!(s.contains("class    override"), "{s}");
    assert!(
        s.contains("shadows  0.2  at global/models.toml:7:16 (global)"),
        "{s}"
    );
    assert!(
        s.contains("policy   policy.model.max_temperature = 0.8"),
        "{s}"
    );
    let out = opl()
        .arg("-C")
        .arg(&acme)
        .args([
            "explain",
            "invoice-assistant",
            "model.provider",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["leaves"][0]["locks"][0]["lock"], "model.provider");
    assert_eq!(
        v["leaves"][0]["locks"][0]["origin"]["file"],
        "clients/globex-bank/client.toml"
    );
}

#[test]
fn explain_rejects_unknown_keys_and_agents() {
    let acme = fixtures().join("acme");
    opl()
        .arg("-C")
        .arg(&acme)
        .args(["explain", "support-bot", "modle.name"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean `model.name`"));
    opl()
        .arg("-C")
        .arg(&acme)
        .args(["explain", "suport-bot", "model.name"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean `support-bot`"));
}

#[test]
fn init_writes_a_clean_repository_and_never_overwrites() {
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("new");
    opl().arg("init").arg(&target).assert().code(0);
    opl()
        .arg("-C")
        .arg(&target)
        .arg("validate")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no findings"));
    opl()
        .arg("-C")
        .arg(&target)
        .args(["render", "assistant"])
        .assert()
        .code(0);
    std::fs::write(target.join("opl.toml"), "version = 1\n# mine\n").unwrap();
    opl()
        .arg("init")
        .arg(&target)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never overwrites"));
    assert_eq!(
        std::fs::read_to_string(target.join("opl.toml")).unwrap(),
        "version = 1\n# mine\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    let d = tempfile::tempdir().unwrap();
    opl()
        .arg("-C")
        .arg(d.path())
        .arg("validate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no opl.toml"));
    opl()
        .current_dir(d.path())
        .arg("validate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("opl init"));
    opl()
        .arg("-C")
        .arg(fixtures().join("acme"))
        .args(["render", "nobody"])
        .assert()
        .code(2);
    opl()
        .args(["validate", "--format", "yaml"])
        .assert()
        .code(2);
}

#[test]
fn root_is_found_by_walking_up() {
    let acme = fixtures().join("acme");
    opl()
        .current_dir(acme.join("agents/fraud-triage"))
        .arg("validate")
        .assert()
        .code(0);
}

#[test]
fn hostile_input_gets_findings_not_crashes() {
    let deep = format!("x = {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let deep_tables = format!(
        "{}\n",
        (0..10_000)
            .map(|i| format!("a{i}"))
            .collect::<Vec<_>>()
            .join(".")
    );
    let d = base_repo(&[
        ("global/deep.toml", &deep),
        (
            "global/deep2.toml",
            &format!("[metadata]\n{deep_tables} = 1\n"),
        ),
        ("global/empty.toml", ""),
        (
            "clients/acme/escape.toml",
            "[metadata]\n\"evil\\u001b[31m\" = \"red\\u001b[0m\\nnext\"\nnote = \"\u{1b}]0;title\u{7}\"\n",
        ),
        (
            "agents/bot.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[instructions]\nfragments = [{ id = \"a\", file = \"../../../../etc/passwd\" }, { id = \"b\", file = \"/etc/passwd\" }]\n",
        ),
    ]);
    std::fs::write(
        d.path().join("global/latin1.toml"),
        b"[metadata]\nname = \"caf\xe9\"\n",
    )
    .unwrap();
    let big = "# padding\n".repeat(450_000);
    std::fs::write(d.path().join("global/big.toml"), big).unwrap();
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let s = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        !s.contains('\u{1b}'),
        "raw escape reached the terminal: {s}"
    );
    assert!(!s.contains('\u{7}'));
    let (_, v) = validate_json(d.path());
    let c = codes(&v);
    assert!(c.iter().filter(|c| *c == "parse").count() >= 3, "{c:?}");
    assert!(c.contains(&"file-too-large".to_string()), "{c:?}");
    assert_eq!(c.iter().filter(|c| *c == "file-ref").count(), 2, "{c:?}");
    let json = String::from_utf8(
        opl()
            .arg("-C")
            .arg(d.path())
            .args(["validate", "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(!json.contains('\u{1b}'));
}

#[test]
fn secrets_are_never_printed_whole() {
    let secret = "sk-live0123456789abcdefghijklmnop";
    let d = base_repo(&[(
        "agents/bot.toml",
        &format!(
            "[agent]\nclient = \"acme\"\npurpose = \"p\"\nowner = \"user:a\"\n\n[metadata]\napi_key = \"{secret}\"\n"
        ),
    )]);
    for format in ["human", "json"] {
        let out = opl()
            .arg("-C")
            .arg(d.path())
            .args(["validate", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let s = String::from_utf8(out.stdout).unwrap();
        assert!(s.contains("plaintext-secret"), "{s}");
        assert!(!s.contains(secret), "secret printed in {format}: {s}");
        assert!(
            !s.contains("0123456789abcdef"),
            "secret printed in {format}: {s}"
        );
    }
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["explain", "bot", "metadata"])
        .output()
        .unwrap();
    assert!(!String::from_utf8(out.stdout).unwrap().contains(secret));
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["render", "bot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8(out.stderr).unwrap().contains(secret));
}

#[test]
fn a_broken_global_file_is_reported_once_for_ten_thousand_agents() {
    let d = tempfile::tempdir().unwrap();
    write_tree(d.path(), BASE);
    write_tree(d.path(), &[("global/broken.toml", "[model\n")]);
    for i in 0..10_000 {
        std::fs::write(
            d.path().join(format!("agents/a{i}.toml")),
            "[agent]\npurpose = \"p\"\nowner = \"user:a\"\n",
        )
        .unwrap();
    }
    let (code, v) = validate_json(d.path());
    assert_eq!(code, 1);
    assert_eq!(v["summary"]["agents"], 10_001);
    assert_eq!(
        v["findings"].as_array().unwrap().len(),
        1,
        "{:?}",
        codes(&v)
    );
    assert_eq!(v["findings"][0]["code"], "parse");
    assert_eq!(v["findings"][0]["file"], "global/broken.toml");
}

#[test]
fn validate_some_agents_only() {
    let d = base_repo(&[("agents/other.toml", "[agent]\npurpose = \"p\"\n")]);
    opl()
        .arg("-C")
        .arg(d.path())
        .args(["validate", "bot"])
        .assert()
        .code(0);
    opl()
        .arg("-C")
        .arg(d.path())
        .args(["validate", "other"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("agent.owner"));
}

#[test]
fn schema_command_prints_the_committed_schemas() {
    let out = opl().args(["schema", "layer"]).output().unwrap();
    let committed =
        std::fs::read_to_string(fixtures().join("../schemas/layer.schema.json")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

/// A reader that goes away (`opl ... | head`) ends opl quietly with status 0: no write error, no
/// panic from a generator. The inventory is larger than a pipe's buffer, so opl is still writing
/// when the reader closes.
#[test]
fn a_closed_pipe_ends_quietly() {
    let d = base_repo(&[]);
    for i in 0..400 {
        let p = d.path().join(format!("agents/bot{i:03}.toml"));
        std::fs::write(
            p,
            "[agent]\nclient = \"acme\"\npurpose = \"Help Acme customers with a long purpose\"\nowner = \"user:ann\"\n",
        )
        .unwrap();
    }
    let bin = assert_cmd::cargo::cargo_bin("opl");
    let dir = d.path().to_str().unwrap();
    let cases: [&[&str]; 3] = [
        &["completions", "bash"],
        &["man"],
        &["-C", dir, "inventory", "--format", "json"],
    ];
    for args in cases {
        let mut child = std::process::Command::new(&bin)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("CI")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

#[test]
fn policy_tests_are_not_stray_files_but_other_toml_is() {
    let d = base_repo(&[
        ("tests/refunds.toml", "[[case]]\nname = \"x\"\n"),
        ("misc/notes.toml", "a = 1\n"),
    ]);
    let (code, v) = validate_json(d.path());
    assert_eq!(code, 0);
    let stray: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "stray-file")
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(stray, ["misc/notes.toml"]);
}
