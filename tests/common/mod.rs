//! Helpers shared by the integration tests: a hermetic `opl` command and scratch repositories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The real `opl` binary with a hermetic environment.
pub fn opl() -> Command {
    let mut c = Command::cargo_bin("opl").expect("binary built");
    c.env("NO_COLOR", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("COLUMNS", "100")
        .env_remove("CI");
    c
}

/// Writes files (path, text) under `dir`.
pub fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (p, t) in files {
        let fp = dir.join(p);
        std::fs::create_dir_all(fp.parent().unwrap()).unwrap();
        std::fs::write(fp, t).unwrap();
    }
}

/// A minimal valid repository: one global layer, one client, one agent.
pub const BASE: &[(&str, &str)] = &[
    ("opl.toml", "version = 1\n"),
    (
        "global/base.toml",
        "[model]\nprovider = \"openai\"\nname = \"gpt-4.1\"\n\n[instructions]\nfragments = [{ id = \"org.safety\", text = \"Be safe.\", required = true }]\n\n[escalation]\ndefault_target = \"oncall\"\ncontacts.oncall = { who = \"group:oncall\" }\n",
    ),
    ("clients/acme/client.toml", "[meta]\nowner = \"user:ann\"\n"),
    (
        "agents/bot.toml",
        "[agent]\nclient = \"acme\"\npurpose = \"Help Acme customers\"\nowner = \"user:ann\"\n",
    ),
];

/// A temporary copy of BASE with `extra` files written over it.
pub fn base_repo(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write_tree(d.path(), BASE);
    write_tree(d.path(), extra);
    d
}

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Runs `opl -C dir validate --format json` and returns (exit code, parsed JSON).
pub fn validate_json(dir: &Path) -> (i32, serde_json::Value) {
    let out = opl()
        .arg("-C")
        .arg(dir)
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (code, v)
}

/// The codes of the findings of a validate JSON report.
pub fn codes(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// Runs the git command line in `dir` with a hermetic configuration and a fixed identity.
pub fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Ann")
        .env("GIT_AUTHOR_EMAIL", "ann@example.com")
        .env("GIT_COMMITTER_NAME", "Ann")
        .env("GIT_COMMITTER_EMAIL", "ann@example.com")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}
