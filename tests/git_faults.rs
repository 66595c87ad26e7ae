//! Git faults and odd layouts: each gets a clear message or the correct behaviour.

mod common;

use std::path::{Path, PathBuf};

use common::{BASE, opl, write_tree};
use predicates::prelude::*;

fn git(dir: &Path, args: &[&str]) {
    let out = common::git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository at `dir` with BASE committed twice (the second changes the model).
fn repo_at(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    write_tree(dir, BASE);
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "one"]);
    write_tree(
        dir,
        &[(
            "agents/bot.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"Help\"\nowner = \"user:ann\"\n\n[model]\nname = \"o3\"\n",
        )],
    );
    git(dir, &["commit", "-qam", "two"]);
}

fn object_path(dir: &Path, rev: &str) -> PathBuf {
    let out = std::process::Command::new("git")
        .args(["rev-parse", rev])
        .current_dir(dir)
        .output()
        .unwrap();
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    dir.join(".git/objects").join(&id[..2]).join(&id[2..])
}

#[test]
fn a_corrupt_object_gets_a_clear_message() {
    let d = tempfile::tempdir().unwrap();
    repo_at(d.path());
    let obj = object_path(d.path(), "HEAD:agents/bot.toml");
    let mut perm = std::fs::metadata(&obj).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&obj, perm).unwrap();
    std::fs::write(&obj, b"this is not a zlib stream").unwrap();
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["validate", "--rev", "HEAD"])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(matches!(out.status.code(), Some(1) | Some(2)), "{all}");
    assert!(
        all.contains("agents/bot.toml") && all.contains("cannot be read"),
        "{all}"
    );
    assert!(!all.contains("panicked"));
}

#[test]
fn a_missing_blob_gets_a_clear_message() {
    let d = tempfile::tempdir().unwrap();
    repo_at(d.path());
    std::fs::remove_file(object_path(d.path(), "HEAD:agents/bot.toml")).unwrap();
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["render", "bot", "--rev", "HEAD"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("agents/bot.toml") && err.contains("cannot be read"),
        "{err}"
    );
    // the history walk reports it too, without a panic
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["log", "bot", "-q"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn a_detached_head() {
    let d = tempfile::tempdir().unwrap();
    repo_at(d.path());
    git(d.path(), &["checkout", "-q", "--detach", "HEAD~1"]);
    opl()
        .arg("-C")
        .arg(d.path())
        .args(["validate", "--rev", "HEAD"])
        .assert()
        .code(0);
    // the work tree matches the detached HEAD: no agent changes
    opl()
        .arg("-C")
        .arg(d.path())
        .args(["diff", "--exit-code"])
        .assert()
        .code(0);
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["log", "bot", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v.as_array().unwrap().len(),
        1,
        "one commit reachable from the detached HEAD"
    );
}

#[test]
fn a_bare_repository_read_at_a_revision() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    repo_at(&src);
    git(
        d.path(),
        &["clone", "-q", "--bare", src.to_str().unwrap(), "bare.git"],
    );
    let bare = d.path().join("bare.git");
    opl()
        .arg("-C")
        .arg(&bare)
        .args(["validate", "--rev", "HEAD"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ok: 1 agent"));
    opl()
        .arg("-C")
        .arg(&bare)
        .args(["render", "bot", "--rev", "HEAD~1", "--format", "json"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"gpt-4.1\""));
    opl()
        .arg("-C")
        .arg(&bare)
        .arg("validate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no opl.toml"));
}

#[test]
fn a_linked_worktree() {
    let d = tempfile::tempdir().unwrap();
    let main = d.path().join("main");
    repo_at(&main);
    git(&main, &["worktree", "add", "-q", "../wt", "HEAD~1"]);
    let wt = d.path().join("wt");
    write_tree(
        &wt,
        &[(
            "agents/bot.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"Help\"\nowner = \"user:ann\"\n\n[model]\nname = \"wt-model\"\n",
        )],
    );
    let out = opl()
        .arg("-C")
        .arg(&wt)
        .args(["diff", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name = v["agents"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "model.name")
        .unwrap();
    assert_eq!(name["new"], "wt-model");
    git(&wt, &["add", "-A"]);
    opl()
        .arg("-C")
        .arg(&wt)
        .args(["validate", "--staged"])
        .assert()
        .code(0);
}

#[test]
fn a_repository_path_with_spaces_and_non_ascii() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("my repo é/config ü");
    repo_at(&dir);
    opl()
        .arg("-C")
        .arg(&dir)
        .args(["diff", "HEAD~1", "HEAD", "--exit-code"])
        .assert()
        .code(1);
    let out = opl()
        .arg("-C")
        .arg(&dir)
        .args(["log", "bot", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["summary"], "two");
    opl()
        .arg("-C")
        .arg(&dir)
        .args(["hook", "install"])
        .assert()
        .code(0);
    write_tree(
        &dir,
        &[(
            "agents/bot.toml",
            "[agent]\nclient = \"acme\"\npurpose = \"Help\"\n",
        )],
    );
    git(&dir, &["add", "-A"]);
    let out = std::process::Command::new("git")
        .args(["commit", "-qm", "bad"])
        .current_dir(&dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "A")
        .env("GIT_AUTHOR_EMAIL", "a@e")
        .env("GIT_COMMITTER_NAME", "A")
        .env("GIT_COMMITTER_EMAIL", "a@e")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the hook let a bad commit through in a path with spaces"
    );
}

#[cfg(unix)]
#[test]
fn writes_never_follow_symlinks_or_overwrite() {
    let d = tempfile::tempdir().unwrap();
    let outside = d.path().join("outside.txt");
    std::fs::write(&outside, "keep").unwrap();
    // render --all into a folder holding a symlink where a file would go: refused even with --force
    let out_dir = d.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::os::unix::fs::symlink(&outside, out_dir.join("support-bot.toml")).unwrap();
    opl()
        .arg("-C")
        .arg(common::fixtures().join("acme"))
        .args(["render", "--all", "--force", "--out"])
        .arg(&out_dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("symbolic link"));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
    // --out itself a symlink: refused
    std::os::unix::fs::symlink(d.path(), d.path().join("link-out")).unwrap();
    opl()
        .arg("-C")
        .arg(common::fixtures().join("acme"))
        .args(["render", "--all", "--out"])
        .arg(d.path().join("link-out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("symbolic link"));
    // init where opl.toml is a symlink: refused, target untouched
    let target = d.path().join("new");
    std::fs::create_dir_all(&target).unwrap();
    std::os::unix::fs::symlink(&outside, target.join("opl.toml")).unwrap();
    opl()
        .arg("init")
        .arg(&target)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never overwrites"));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
    // a hook that is a symlink is not replaced
    let r = d.path().join("r");
    repo_at(&r);
    std::os::unix::fs::symlink(&outside, r.join(".git/hooks/pre-commit")).unwrap();
    opl()
        .arg("-C")
        .arg(&r)
        .args(["hook", "install"])
        .assert()
        .code(2);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
}

/// A file over the size limit in a commit or in the index (whole, and stored in a pack as a
/// delta of a small version of itself) is a `file-too-large` finding naming its size, as on disk.
#[test]
fn a_committed_file_over_the_limit_is_a_finding() {
    let d = tempfile::tempdir().unwrap();
    repo_at(d.path());
    let small = "[metadata]\nnote = \"x\"\n";
    write_tree(d.path(), &[("global/notes.toml", small)]);
    git(d.path(), &["add", "-A"]);
    git(d.path(), &["commit", "-qm", "notes"]);
    let huge = format!("{small}{}", "# padding\n".repeat(500_000));
    write_tree(d.path(), &[("global/notes.toml", &huge)]);
    git(d.path(), &["add", "-A"]);
    let size = huge.len();
    // The file-too-large findings of a JSON report, its exit status checked.
    let findings = |args: &[&str], code: i32| -> Vec<(String, String)> {
        let out = opl()
            .arg("-C")
            .arg(d.path())
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "file-too-large")
            .map(|f| {
                (
                    f["file"].as_str().unwrap().to_string(),
                    f["message"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let expected = |fs: Vec<(String, String)>| {
        assert_eq!(fs.len(), 1, "{fs:?}");
        assert_eq!(fs[0].0, "global/notes.toml");
        assert!(
            fs[0]
                .1
                .contains(&format!("{size} bytes, more than the limit of 4194304")),
            "{fs:?}"
        );
    };
    expected(findings(&["validate", "--staged", "--all"], 1));
    git(d.path(), &["commit", "-qm", "huge"]);
    expected(findings(&["validate", "--rev", "HEAD"], 1));
    // Packed: the large version is stored as a delta of the small one (or the other way).
    git(d.path(), &["gc", "-q", "--aggressive"]);
    expected(findings(&["validate", "--rev", "HEAD"], 1));
    assert!(findings(&["validate", "--rev", "HEAD~1"], 0).is_empty());
}
