//! No secret reaches any output: a repository seeded with a credential of every known form (in
//! values, in a key name, in a fragment file, in an inline fragment, in a multi-line string) is
//! run through every command and output format; none prints a secret whole.

mod common;

use common::TestRepo;

const OPENAI: &str = "sk-abcdefghijklmnopqrstuvwxyz0123";
const GITHUB: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
const SLACK: &str = "xoxb-123456789012-abcdefghij";
const AWS: &str = "AKIAIOSFODNN7EXAMPLE";
const GITLAB: &str = "glpat-abcdefghijklmnopqrst";
const RANDOM: &str = "q8Zr2LmX9vPw4TnB7yKc";
const PEM_BODY: &str = "MIIEowIBAAKCAQEAxyz123456789";

fn seeded() -> TestRepo {
    let mut t = TestRepo::new();
    t.commit("clean");
    t.write(
        "agents/bot.toml",
        &format!(
            "[agent]\nclient = \"acme\"\npurpose = \"Help Acme customers\"\nowner = \"user:ann\"\n\n\
             [instructions]\nfragments = [{{ id = \"notes\", file = \"notes.md\" }}, {{ id = \"inline\", text = \"AWS key {AWS} here\" }}]\n\n\
             [metadata]\nnote = \"{OPENAI}\"\napi_token = \"{RANDOM}\"\n\"{GITHUB}\" = \"named\"\n\
             pem = \"-----BEGIN RSA PRIVATE KEY-----\\n{PEM_BODY}\\n-----END RSA PRIVATE KEY-----\"\n"
        ),
    );
    t.write("agents/notes.md", &format!("Post to Slack with {SLACK}.\n"));
    t.write(
        "clients/acme/client.toml",
        &format!("[meta]\nowner = \"user:ann\"\n\n[metadata]\ndeploy = \"{GITLAB}\"\n"),
    );
    t.commit("leak");
    t
}

#[test]
fn every_secret_is_found() {
    let t = seeded();
    let (code, v) = t.json(&["validate", "--format", "json"]);
    assert_eq!(code, 1);
    let found: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "plaintext-secret")
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let files: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    // note, api_token, the key name, pem, the inline text: in the agent file; the fragment file;
    // the client.
    assert_eq!(
        files.iter().filter(|f| **f == "agents/bot.toml").count(),
        5,
        "{found:?}"
    );
    assert!(files.contains(&"agents/notes.md"), "{found:?}");
    assert!(files.contains(&"clients/acme/client.toml"), "{found:?}");
    assert!(
        found.iter().any(|(_, m)| m.contains("key name")),
        "{found:?}"
    );
}

#[test]
fn no_command_or_format_prints_a_secret_whole() {
    let t = seeded();
    let runs: &[&[&str]] = &[
        &["validate"],
        &["validate", "--format", "json"],
        &["validate", "--format", "github"],
        &["validate", "--format", "sarif"],
        &["validate", "--format", "junit"],
        &["check", "--base", "HEAD~1"],
        &["check", "--base", "HEAD~1", "--format", "json"],
        &["check", "--base", "HEAD~1", "--format", "github"],
        &["check", "--base", "HEAD~1", "--format", "sarif"],
        &["check", "--base", "HEAD~1", "--format", "junit"],
        &["diff", "HEAD~1", "HEAD"],
        &["diff", "HEAD~1", "HEAD", "--format", "json"],
        &["diff", "HEAD~1", "HEAD", "--format", "markdown"],
        &["diff", "HEAD~1", "HEAD", "--format", "patch"],
        &["log", "bot"],
        &["log", "bot", "--format", "json"],
        &["blame", "bot"],
        &["blame", "bot", "--format", "json"],
        &["explain", "bot", "metadata"],
        &["explain", "bot", "metadata", "--format", "json"],
        &["explain", "bot", "instructions"],
        &["explain", "bot", "instructions", "--format", "json"],
        &["render", "bot"],
        &["render", "bot", "--explain"],
        &["render", "bot", "--format", "json"],
        &["audit"],
        &["audit", "--format", "json"],
        &["audit", "--format", "csv"],
        &["audit", "--format", "markdown"],
        &["inventory"],
        &["inventory", "--format", "json"],
        &["inventory", "--format", "csv"],
        &["inventory", "--format", "markdown"],
        &["graph"],
        &["codeowners"],
    ];
    for args in runs {
        let out = t.opl().args(*args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.is_empty(), "{args:?} printed nothing");
        for secret in [OPENAI, GITHUB, SLACK, AWS, GITLAB, RANDOM, PEM_BODY] {
            assert!(!text.contains(secret), "{args:?} printed {secret}:\n{text}");
        }
    }
}
