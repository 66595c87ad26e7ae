//! `opl export`: the files of every target parse back, say what the policy says (every used tool
//! allowed or asked as its level requires, nothing unused enabled, denials never enabled), carry
//! their provenance, report every lowering, fail closed, and never overwrite without --force.

mod common;

use std::path::Path;

use common::{base_repo, copy_tree, fixtures, opl, write_tree};
use serde_json::Value;

const TARGETS: [&str; 3] = ["claude", "codex", "openai"];

const POLICY: &str = r#"[connections.desk]
kind = "mcp"
system = "Desk"
url = "https://mcp.example/desk"
auth = { mode = "agent_identity", secret_ref = "env:DESK_TOKEN" }

[connections.files]
kind = "mcp"
system = "Files"
command = ["files-mcp", "--root", "/srv"]
auth = { mode = "agent_identity", secret_ref = "env:FILES_KEY" }

[connections.vaulted]
kind = "mcp"
system = "Vaulted"
url = "https://mcp.example/vaulted"
auth = { mode = "agent_identity", secret_ref = "vault://kv/vaulted" }

[connections.api]
kind = "http"
system = "Plain API"
url = "https://api.example"

[policy.approvals]
rules = [
  { id = "big", action = "desk.refund", when = { arg = "amount", gt = 500 }, require = "approval", approvers = ["role:finance"] },
  { id = "notes", action = "desk.note", require = "notify" },
  { id = "purge", action = "files.purge", require = "deny" },
]
"#;

const BOT: &str = r#"[agent]
client = "acme"
purpose = "Help Acme customers"
owner = "user:ann"

[instructions]
fragments = [{ id = "bot.hostile", text = "Quote \"exactly\"; a backslash \\ and ''' and \"\"\" stay; <!-- not a comment --> é ✓" }]

[tools.desk]
use = ["get", "refund", "note"]

[tools.files]
use = ["read", "purge"]

[tools.vaulted]
use = ["look"]

[tools.api]
use = ["call"]
"#;

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = opl()
        .current_dir(dir)
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn toml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: toml_edit::DocumentMut = text
        .parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()));
    to_json(doc.as_item())
}

/// A TOML item as JSON, for comparisons.
fn to_json(item: &toml_edit::Item) -> Value {
    use toml_edit::{Item, Value as V};
    fn value(v: &V) -> Value {
        match v {
            V::String(s) => Value::String(s.value().clone()),
            V::Integer(i) => Value::from(*i.value()),
            V::Float(f) => Value::from(*f.value()),
            V::Boolean(b) => Value::Bool(*b.value()),
            V::Array(a) => Value::Array(a.iter().map(value).collect()),
            V::InlineTable(t) => t.iter().map(|(k, v)| (k.to_string(), value(v))).collect(),
            V::Datetime(d) => Value::String(d.value().to_string()),
        }
    }
    match item {
        Item::Value(v) => value(v),
        Item::Table(t) => t.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect(),
        Item::ArrayOfTables(a) => {
            Value::Array(a.iter().map(|t| to_json(&Item::Table(t.clone()))).collect())
        }
        Item::None => Value::Null,
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// What the exported files of `target` in `dir` let the runtime do with each tool:
/// (`server.tool`, "allow" | "ask"); a tool not listed is not enabled.
fn grants(target: &str, dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match target {
        "claude" => {
            let s = json(&dir.join(".claude/settings.json"));
            assert_eq!(
                s["permissions"]["defaultMode"], "dontAsk",
                "a tool no rule names is denied"
            );
            for (kind, grant) in [("allow", "allow"), ("ask", "ask")] {
                for rule in strings(&s["permissions"][kind]) {
                    let rest = rule.strip_prefix("mcp__").expect("an MCP rule");
                    let (server, tool) = rest.split_once("__").expect("mcp__server__tool");
                    out.push((format!("{server}.{tool}"), grant.to_string()));
                }
            }
            let servers = json(&dir.join(".mcp.json"))["mcpServers"].clone();
            for (a, _) in &out {
                let server = a.split('.').next().unwrap();
                assert!(
                    servers.get(server).is_some(),
                    "{a}: server listed in .mcp.json"
                );
            }
        }
        "codex" => {
            let c = toml(&dir.join(".codex/config.toml"));
            for (server, s) in c["mcp_servers"].as_object().into_iter().flatten() {
                assert_eq!(s["default_tools_approval_mode"], "prompt");
                let disabled = strings(&s["disabled_tools"]);
                for tool in strings(&s["enabled_tools"]) {
                    assert!(!disabled.contains(&tool));
                    let mode = s["tools"][&tool]["approval_mode"]
                        .as_str()
                        .unwrap_or("prompt");
                    let grant = match mode {
                        "approve" => "allow",
                        "prompt" => "ask",
                        other => panic!("{server}.{tool}: unexpected approval mode {other}"),
                    };
                    out.push((format!("{server}.{tool}"), grant.to_string()));
                }
            }
        }
        "openai" => {
            let r = json(&dir.join("openai-responses.json"));
            for t in r["tools"].as_array().unwrap() {
                assert_eq!(t["type"], "mcp");
                let server = t["server_label"].as_str().unwrap();
                let always = strings(&t["require_approval"]["always"]["tool_names"]);
                let never = strings(&t["require_approval"]["never"]["tool_names"]);
                for tool in strings(&t["allowed_tools"]) {
                    let grant = if never.contains(&tool) && !always.contains(&tool) {
                        "allow"
                    } else {
                        "ask"
                    };
                    out.push((format!("{server}.{tool}"), grant.to_string()));
                }
            }
        }
        _ => unreachable!(),
    }
    out.sort();
    out
}

fn access(dir: &Path) -> Vec<Value> {
    let (code, out, err) = run(dir, &["access", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let rows: Value = serde_json::from_str(&out).unwrap();
    rows.as_array()
        .expect("access --format json is an array of rows")
        .clone()
}

/// `opl export WHAT --target T --out DEST --format json`.
fn export_json(repo: &Path, what: &str, target: &str, dest: &Path) -> (i32, String, String) {
    let dest = dest.to_str().unwrap();
    run(
        repo,
        &[
            "export", what, "--target", target, "--out", dest, "--format", "json",
        ],
    )
}

#[test]
fn every_example_agent_gets_exactly_its_used_tools_at_its_strictest_level() {
    let repo = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join("acme"), repo.path());
    let rows = access(repo.path());
    let out = tempfile::tempdir().unwrap();
    for target in TARGETS {
        let dest = out.path().join(target);
        let (code, stdout, err) = export_json(repo.path(), "--all", target, &dest);
        assert_eq!(code, 0, "{target}: {err}");
        let v: Value = serde_json::from_str(&stdout).unwrap();
        let reports = v["agents"].as_array().unwrap();
        assert_eq!(reports.len(), 9, "every example agent is exported");
        for report in reports {
            let agent = report["agent"].as_str().unwrap();
            let dir = dest.join(agent);
            // What the runtime may do is what access says, for the servers the target can run.
            let exported: Vec<String> = grants(target, &dir)
                .iter()
                .map(|(a, _)| a.clone())
                .collect();
            let not_exported: Vec<&str> = report["lowered"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["kind"] == "not-exported")
                .map(|l| l["subject"].as_str().unwrap())
                .collect();
            let mut expected = Vec::new();
            for r in rows.iter().filter(|r| r["agent"] == agent) {
                let action = r["action"].as_str().unwrap();
                let conn = r["connection"].as_str().unwrap();
                if not_exported.contains(&conn) {
                    assert!(
                        !exported.contains(&action.to_string()),
                        "{target} {agent}: {action} of an unexported server"
                    );
                    continue;
                }
                let grant = match r["max"].as_str().unwrap() {
                    "allow" => "allow",
                    "notify" | "approval" => "ask",
                    other => panic!("{agent} {action}: {other}"),
                };
                expected.push((action.to_string(), grant.to_string()));
                // Every threshold is in the report.
                for c in r["conditions"].as_array().unwrap() {
                    let from = format!(
                        "{} if {} ({})",
                        c["level"].as_str().unwrap(),
                        c["when"].as_str().unwrap(),
                        c["rule"].as_str().unwrap()
                    );
                    assert!(
                        report["lowered"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|l| l["kind"] == "threshold"
                                && l["subject"] == action
                                && l["from"] == from.as_str()),
                        "{target} {agent}: threshold {from} reported"
                    );
                }
                if r["max"] == "notify" {
                    assert!(
                        report["lowered"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|l| l["kind"] == "notify" && l["subject"] == action)
                    );
                }
            }
            expected.sort();
            assert_eq!(grants(target, &dir), expected, "{target} {agent}");
            // Provenance in every file: the agent, the digest of its rendered document, the revision.
            let digest = report["digest"].as_str().unwrap();
            let (_, rendered, _) = run(repo.path(), &["render", agent]);
            assert!(
                rendered.contains(&format!("# digest: {digest}")),
                "{agent}: the digest is render's"
            );
            for f in strings(&report["files"]) {
                let text = std::fs::read_to_string(dir.join(&f)).unwrap();
                assert!(
                    text.contains(&format!(
                        "opl export: agent={agent} digest={digest} rev=worktree"
                    )),
                    "{target} {agent} {f}: provenance"
                );
            }
            // The report written beside the files is the one printed.
            assert_eq!(&json(&dir.join("opl-export.json")), report);
        }
    }
}

#[test]
fn levels_secrets_and_transports_map_as_documented_and_hostile_text_survives() {
    let repo = base_repo(&[("global/policy.toml", POLICY), ("agents/bot.toml", BOT)]);
    let out = tempfile::tempdir().unwrap();
    let mut instructions = Vec::new();
    for target in TARGETS {
        let dest = out.path().join(target);
        let (code, stdout, err) = export_json(repo.path(), "bot", target, &dest);
        assert_eq!(code, 0, "{target}: {stdout}{err}");
        let report = &serde_json::from_str::<Value>(&stdout).unwrap()["agents"][0];
        let lowered = report["lowered"].as_array().unwrap();
        let has = |kind: &str, subject: &str| {
            lowered
                .iter()
                .any(|l| l["kind"] == kind && l["subject"] == subject)
        };
        assert!(has("threshold", "desk.refund"), "{target}");
        assert!(has("approvers", "desk.refund"), "{target}");
        assert!(has("notify", "desk.note"), "{target}");
        assert!(
            has("secret", "vaulted"),
            "{target}: a vault reference is reported"
        );
        assert!(
            has("not-exported", "api"),
            "{target}: an http connection is not an MCP server"
        );
        let g = grants(target, &dest);
        let find = |a: &str| g.iter().find(|(x, _)| x == a).map(|(_, l)| l.as_str());
        assert_eq!(find("desk.get"), Some("allow"), "{target}");
        assert_eq!(
            find("desk.refund"),
            Some("ask"),
            "{target}: a threshold asks on every call"
        );
        assert_eq!(find("desk.note"), Some("ask"), "{target}: notify asks");
        assert_eq!(
            find("files.purge"),
            None,
            "{target}: a denied tool is never enabled"
        );
        assert_eq!(find("api.call"), None, "{target}");
        match target {
            "claude" => {
                let s = json(&dest.join(".claude/settings.json"));
                assert_eq!(strings(&s["permissions"]["deny"]), ["mcp__files__purge"]);
                let m = json(&dest.join(".mcp.json"));
                assert_eq!(
                    m["mcpServers"]["desk"]["headers"]["Authorization"],
                    "Bearer ${DESK_TOKEN}"
                );
                assert_eq!(m["mcpServers"]["files"]["command"], "files-mcp");
                assert_eq!(
                    strings(&m["mcpServers"]["files"]["args"]),
                    ["--root", "/srv"]
                );
                assert_eq!(m["mcpServers"]["files"]["env"]["FILES_KEY"], "${FILES_KEY}");
                assert!(m["mcpServers"]["vaulted"].get("headers").is_none());
                let md = std::fs::read_to_string(dest.join("CLAUDE.md")).unwrap();
                instructions.push(md.split_once("-->\n\n").unwrap().1.trim_end().to_string());
            }
            "codex" => {
                let c = toml(&dest.join(".codex/config.toml"));
                assert_eq!(
                    c["mcp_servers"]["desk"]["bearer_token_env_var"],
                    "DESK_TOKEN"
                );
                assert_eq!(
                    strings(&c["mcp_servers"]["files"]["env_vars"]),
                    ["FILES_KEY"]
                );
                assert_eq!(
                    strings(&c["mcp_servers"]["files"]["disabled_tools"]),
                    ["purge"]
                );
                assert!(
                    c["mcp_servers"]["vaulted"]
                        .get("bearer_token_env_var")
                        .is_none()
                );
                assert_eq!(c["model"], "gpt-4.1");
                instructions.push(c["developer_instructions"].as_str().unwrap().to_string());
            }
            "openai" => {
                assert!(has("secret", "desk"), "openai cannot name an env var");
                assert!(
                    has("not-exported", "files"),
                    "openai cannot start a command"
                );
                let r = json(&dest.join("openai-responses.json"));
                assert!(
                    r["tools"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|t| t.get("headers").is_none())
                );
                assert!(
                    r["metadata"]["opl"]
                        .as_str()
                        .unwrap()
                        .starts_with("opl export: agent=bot ")
                );
                instructions.push(r["instructions"].as_str().unwrap().to_string());
            }
            _ => unreachable!(),
        }
    }
    let (_, doc, _) = run(repo.path(), &["render", "bot", "--format", "json"]);
    let prompt = serde_json::from_str::<Value>(&doc).unwrap()["instructions"]["prompt"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(prompt.contains("\"\"\" stay; <!-- not a comment --> é ✓"));
    for i in instructions {
        assert_eq!(i, prompt.trim_end());
    }
}

#[test]
fn a_deny_that_depends_on_arguments_fails_the_export_and_writes_nothing() {
    let policy = POLICY.replace(
        "  { id = \"purge\"",
        "  { id = \"huge\", action = \"desk.refund\", when = { arg = \"amount\", gte = 10000 }, require = \"deny\" },\n  { id = \"purge\"",
    );
    let repo = base_repo(&[("global/policy.toml", &policy), ("agents/bot.toml", BOT)]);
    for target in TARGETS {
        let dest = repo.path().join("out");
        let (code, stdout, _) = run(
            repo.path(),
            &[
                "export", "bot", "--target", target, "--out", "out", "--format", "json",
            ],
        );
        assert_eq!(code, 1, "{target}");
        let v: Value = serde_json::from_str(&stdout).unwrap();
        let errors = strings(&v["agents"][0]["errors"]);
        assert!(
            errors[0].contains("desk.refund") && errors[0].contains("amount >= 10000"),
            "{errors:?}"
        );
        assert!(!dest.exists(), "{target}: nothing written");
        let (code, human, _) = run(
            repo.path(),
            &["export", "bot", "--target", target, "--out", "out"],
        );
        assert_eq!(code, 1);
        assert!(
            human.contains("failed bot") && human.contains("nothing written"),
            "{human}"
        );
    }
}

#[test]
fn an_agent_with_errors_is_refused_like_render_refuses_it() {
    let repo = base_repo(&[(
        "agents/bot.toml",
        &BOT.replace(
            "[tools.desk]",
            "[tools.nowhere]\nuse = [\"x\"]\n\n[tools.desk]",
        ),
    )]);
    let (code, _, err) = run(
        repo.path(),
        &["export", "bot", "--target", "claude", "--out", "out"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("refusing to export `bot`"), "{err}");
    assert!(!repo.path().join("out").exists());
}

#[test]
fn files_are_never_overwritten_without_force() {
    let repo = base_repo(&[("global/policy.toml", POLICY), ("agents/bot.toml", BOT)]);
    write_tree(repo.path(), &[("out/.mcp.json", "mine\n")]);
    let (code, _, err) = run(
        repo.path(),
        &["export", "bot", "--target", "claude", "--out", "out"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("already exist") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(repo.path().join("out/.mcp.json")).unwrap(),
        "mine\n"
    );
    assert!(!repo.path().join("out/.claude").exists(), "all or nothing");
    let (code, _, err) = run(
        repo.path(),
        &[
            "export", "bot", "--target", "claude", "--out", "out", "--force",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(json(&repo.path().join("out/.mcp.json"))["mcpServers"]["desk"].is_object());
}

#[test]
fn check_finds_hand_edits_and_config_changes_but_not_a_new_revision() {
    let mut repo = common::TestRepo::new();
    repo.write("global/policy.toml", POLICY);
    repo.write("agents/bot.toml", BOT);
    repo.commit("base");
    let root = repo.root();
    let out = tempfile::tempdir().unwrap();
    for target in TARGETS {
        let dir = out.path().join(target);
        let d = dir.to_str().unwrap();
        let (code, _, err) = run(
            &root,
            &[
                "export", "--all", "--target", target, "--rev", "HEAD", "--out", d,
            ],
        );
        assert_eq!(code, 0, "{err}");
        // The work tree holds what HEAD holds: the recorded revision alone is no drift.
        let (code, text, _) = run(
            &root,
            &["export", "--all", "--target", target, "--check", d],
        );
        assert_eq!(code, 0, "{target}: {text}");
        assert!(text.contains("no drift"), "{text}");
    }
    // A hand edit drifts.
    let settings = out.path().join("claude/bot/.claude/settings.json");
    let edited = std::fs::read_to_string(&settings).unwrap().replace(
        "\"ask\": [",
        "\"allow\": [\"mcp__desk__wipe\"],\n    \"x\": [",
    );
    std::fs::write(&settings, edited).unwrap();
    let (code, text, _) = run(
        &root,
        &[
            "export",
            "--all",
            "--target",
            "claude",
            "--check",
            out.path().join("claude").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["drifted"].as_array().unwrap().len(), 1);
    assert!(
        v["drifted"][0]["file"]
            .as_str()
            .unwrap()
            .ends_with("settings.json")
    );
    // A config change drifts every file that carries the digest.
    repo.write("agents/bot.toml", &BOT.replace("\"get\", ", ""));
    let (code, text, _) = run(
        &root,
        &[
            "export",
            "--all",
            "--target",
            "codex",
            "--check",
            out.path().join("codex").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1);
    assert!(
        text.contains("-enabled_tools = [\"get\", \"note\", \"refund\"]")
            && text.contains("+enabled_tools = [\"note\", \"refund\"]"),
        "{text}"
    );
    assert!(text.contains("2 files drifted"), "{text}");
    // A missing file drifts.
    std::fs::remove_file(out.path().join("openai/bot/openai-responses.json")).unwrap();
    let (code, text, _) = run(
        &root,
        &[
            "export",
            "bot",
            "--target",
            "openai",
            "--check",
            out.path().join("openai/bot").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1);
    assert!(text.contains("openai-responses.json is missing"), "{text}");
}
