//! opl log, blame, whence and audit on scripted histories (git2, fixed authors and times).

mod common;

use std::path::Path;

use common::{BASE, TestRepo, agent, opl};
use predicates::prelude::*;
use serde_json::Value;

fn temp(t: &str) -> String {
    agent(
        "acme",
        &format!("\n[model.parameters]\ntemperature = {t}\n"),
    )
}

/// Runs opl in the repository, expecting exit 0, and parses its JSON output.
fn json(h: &TestRepo, args: &[&str]) -> Value {
    let out = h.stdout_ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn commits(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap().to_string())
        .collect()
}

fn blame_of<'a>(v: &'a Value, path: &str) -> &'a Value {
    v.as_array()
        .unwrap()
        .iter()
        .find(|b| b["path"] == path)
        .unwrap_or_else(|| panic!("no blame for {path}"))
}

#[test]
fn linear_changes_newest_first_with_old_and_new() {
    let mut h = TestRepo::new();
    h.write("agents/bot.toml", &temp("0.1"));
    h.commit("one");
    h.write("agents/bot.toml", &temp("0.2"));
    h.commit("two");
    h.write("README.md", "unrelated\n");
    h.commit("docs");
    h.write("agents/bot.toml", &temp("0.3"));
    h.commit("three");
    let v = json(
        &h,
        &[
            "log",
            "bot",
            "model.parameters.temperature",
            "--format",
            "json",
        ],
    );
    assert_eq!(commits(&v), ["three", "two", "one"]);
    let c = &v[0]["changes"][0];
    assert_eq!(
        (c["path"].as_str(), c["old"].as_f64(), c["new"].as_f64()),
        (Some("model.parameters.temperature"), Some(0.2), Some(0.3))
    );
    assert_eq!(v[0]["author"], "Ann");
    assert_eq!(v[0]["email"], "ann@example.com");
    assert!(v[0]["date"].as_str().unwrap().starts_with("2023-11-"));
    assert_eq!(v[0]["commit"].as_str().unwrap().len(), 40);
    let v = json(&h, &["log", "bot", "-n", "1", "--format", "json"]);
    assert_eq!(commits(&v), ["three"]);
}

#[test]
fn a_revert_is_blamed_to_the_revert() {
    let mut h = TestRepo::new();
    h.write("agents/bot.toml", &temp("0.1"));
    h.commit("set");
    h.write("agents/bot.toml", &temp("0.5"));
    h.commit("raise");
    h.write("agents/bot.toml", &temp("0.1"));
    h.commit("Revert \"raise\"");
    let v = json(
        &h,
        &[
            "blame",
            "bot",
            "model.parameters.temperature",
            "--rev",
            "HEAD",
            "--format",
            "json",
        ],
    );
    let b = blame_of(&v, "model.parameters.temperature");
    assert_eq!(b["summary"], "Revert \"raise\"");
    assert_eq!(b["file"], "agents/bot.toml");
    assert_eq!(b["line"], 7);
    assert_eq!(b["boundary"], false);
}

#[test]
fn a_change_inherited_from_global_is_in_the_agents_log() {
    let mut h = TestRepo::new();
    h.write("agents/bot.toml", &agent("acme", ""));
    h.commit("base");
    h.write("global/base.toml", &BASE[1].1.replace("gpt-4.1", "gpt-5"));
    h.commit_as("Bob", "global model", None, true);
    let v = json(&h, &["log", "bot", "--format", "json"]);
    assert_eq!(commits(&v)[0], "global model");
    let c = &v[0]["changes"][0];
    assert_eq!(c["path"], "model.name");
    assert_eq!(c["file"], "global/base.toml");
    assert_eq!(c["line"], 3);
    assert_eq!(v[0]["author"], "Bob");
    let out = opl()
        .current_dir(h.root())
        .args(["log", "bot", "-n", "1"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("model.name: \"gpt-4.1\" -> \"gpt-5\"  (global/base.toml:3)")
    );
    let b = json(&h, &["blame", "bot", "model.name", "--format", "json"]);
    assert_eq!(blame_of(&b, "model.name")["author"], "Bob");
}

#[test]
fn moving_a_value_between_layers_is_not_a_change() {
    let mut h = TestRepo::new();
    h.write("agents/bot.toml", &temp("0.4"));
    h.commit("agent sets it");
    h.write("agents/bot.toml", &agent("acme", ""));
    h.write(
        "clients/acme/model.toml",
        "[model.parameters]\ntemperature = 0.4\n",
    );
    h.commit("move to client");
    let v = json(&h, &["log", "bot", "--format", "json"]);
    assert_eq!(commits(&v), ["agent sets it"]);
}

#[test]
fn merges_follow_spec_8() {
    let mut h = TestRepo::new();
    h.write("agents/bot.toml", &agent("acme", ""));
    let base = h.commit("base");
    // side branch changes the temperature
    h.write("agents/bot.toml", &temp("0.6"));
    let side = h.commit_as("Sid", "side: temperature", Some(vec![base]), false);
    // main changes the model name in global
    h.write("agents/bot.toml", &agent("acme", ""));
    h.write("global/base.toml", &BASE[1].1.replace("gpt-4.1", "o3"));
    let main = h.commit_as("Mia", "main: model", Some(vec![base]), true);
    // a merge taking both sides differs from every parent: listed
    h.write("agents/bot.toml", &temp("0.6"));
    let both = h.commit_as("Mia", "merge both", Some(vec![main, side]), true);
    let v = json(&h, &["log", "bot", "--format", "json"]);
    let c = commits(&v);
    assert_eq!(c[0], "merge both");
    assert!(
        c.contains(&"side: temperature".to_string()) && c.contains(&"main: model".to_string()),
        "{c:?}"
    );
    // blame goes through the parent whose value equals
    let b = json(&h, &["blame", "bot", "--rev", "HEAD", "--format", "json"]);
    assert_eq!(
        blame_of(&b, "model.parameters.temperature")["summary"],
        "side: temperature"
    );
    assert_eq!(blame_of(&b, "model.name")["summary"], "main: model");
    // --first-parent follows main only
    let v = json(&h, &["log", "bot", "--first-parent", "--format", "json"]);
    assert_eq!(commits(&v), ["merge both", "main: model", "base"]);

    // a merge that takes one side is not listed
    h.write("agents/bot.toml", &temp("0.7"));
    let side2 = h.commit_as("Sid", "side: 0.7", Some(vec![both]), false);
    h.write("agents/bot.toml", &temp("0.6"));
    h.write("metadata.txt", "x\n");
    let _ours = h.commit_as("Mia", "merge ours", Some(vec![both, side2]), true);
    let v = json(&h, &["log", "bot", "--format", "json"]);
    assert!(!commits(&v).contains(&"merge ours".to_string()));
    // an evil merge (a change in neither parent) is listed, and blamed to the merge
    let head = h.repo.head().unwrap().target().unwrap();
    h.write("agents/bot.toml", &temp("0.8"));
    let side3 = h.commit_as("Sid", "side: 0.8", Some(vec![head]), false);
    h.write(
        "agents/bot.toml",
        &agent(
            "acme",
            "\n[model.parameters]\ntemperature = 0.8\n\n[metadata]\nevil = true\n",
        ),
    );
    h.commit_as("Eve", "evil merge", Some(vec![head, side3]), true);
    let v = json(&h, &["log", "bot", "-n", "1", "--format", "json"]);
    assert_eq!(commits(&v), ["evil merge"]);
    let b = json(&h, &["blame", "bot", "--rev", "HEAD", "--format", "json"]);
    assert_eq!(blame_of(&b, "metadata.evil")["summary"], "evil merge");
    assert_eq!(
        blame_of(&b, "model.parameters.temperature")["summary"],
        "side: 0.8"
    );
}

#[test]
fn moving_to_another_client_and_renaming() {
    let mut h = TestRepo::new();
    h.write(
        "clients/beta/client.toml",
        "[meta]\nowner = \"user:b\"\n\n[model]\nname = \"beta-model\"\n",
    );
    h.write("agents/bot.toml", &agent("acme", ""));
    h.commit("base");
    h.write("agents/bot.toml", &agent("beta", ""));
    h.commit("move to beta");
    let v = json(&h, &["log", "bot", "-n", "1", "--format", "json"]);
    let paths: Vec<&str> = v[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"agent.client") && paths.contains(&"model.name"),
        "{paths:?}"
    );
    // a renamed agent file starts a new history
    h.remove("agents/bot.toml");
    h.write("agents/helper.toml", &agent("beta", ""));
    h.commit("rename");
    let v = json(&h, &["log", "helper", "--format", "json"]);
    assert_eq!(commits(&v), ["rename"]);
    let v = json(&h, &["log", "bot", "-n", "1", "--format", "json"]);
    assert_eq!(commits(&v), ["rename"]);
    assert_eq!(v[0]["state"], "absent");
}

#[test]
fn an_unparseable_commit_is_a_state_of_its_own() {
    let mut h = TestRepo::new();
    h.write("agents/bot.toml", &temp("0.1"));
    h.commit("good");
    h.write("agents/bot.toml", "[agent\nbroken");
    h.commit("broken");
    h.write("agents/bot.toml", "[agent\nstill broken");
    h.commit("still broken");
    h.write("agents/bot.toml", &temp("0.1"));
    h.commit("fixed");
    let v = json(&h, &["log", "bot", "--format", "json"]);
    assert_eq!(commits(&v), ["fixed", "broken", "good"]);
    assert_eq!(v[1]["state"], "invalid");
    assert_eq!(v[0]["state"], "present");
    // blame passes through the invalid commits to the first value
    let b = json(&h, &["blame", "bot", "--rev", "HEAD", "--format", "json"]);
    assert_eq!(
        blame_of(&b, "model.parameters.temperature")["summary"],
        "fixed"
    );
}

#[test]
fn uncommitted_values_are_not_committed_yet() {
    let mut h = TestRepo::new();
    h.write("agents/bot.toml", &temp("0.1"));
    h.commit("set");
    h.write("agents/bot.toml", &temp("0.9"));
    let b = json(&h, &["blame", "bot", "--format", "json"]);
    let t = blame_of(&b, "model.parameters.temperature");
    assert_eq!(t["commit"], Value::Null);
    assert_eq!(t["value"], 0.9);
    assert_eq!(blame_of(&b, "model.name")["summary"], "set");
    opl()
        .current_dir(h.root())
        .args(["blame", "bot", "model.parameters"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("(not committed yet)"));
}

#[test]
fn whence_finds_the_commits_with_a_digest() {
    let mut h = TestRepo::new();
    h.write("agents/bot.toml", &temp("0.1"));
    h.commit("a");
    h.write("agents/bot.toml", &temp("0.2"));
    h.commit("b");
    h.write("agents/bot.toml", &temp("0.1"));
    h.commit("c");
    let out = opl()
        .current_dir(h.root())
        .args(["render", "bot", "--rev", "HEAD~1"])
        .output()
        .unwrap();
    let digest = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# digest: ")
        .to_string();
    let v = json(&h, &["whence", "bot", &digest, "--format", "json"]);
    assert_eq!(commits(&v), ["b"]);
    let out = opl()
        .current_dir(h.root())
        .args(["render", "bot", "--rev", "HEAD"])
        .output()
        .unwrap();
    let digest = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# digest: ")
        .to_string();
    let v = json(&h, &["whence", "bot", &digest, "--format", "json"]);
    assert_eq!(commits(&v), ["c", "a"]);
    // A digest no commit had: found nowhere (exit 1), said so.
    let none = format!("sha256:{}", "0".repeat(64));
    opl()
        .current_dir(h.root())
        .args(["whence", "bot", &none])
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "no commit reachable from HEAD rendered agent `bot` with that digest",
        ));
    // Not a digest at all: a usage error.
    opl()
        .current_dir(h.root())
        .args(["whence", "bot", "sha256:0000"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is not a digest"));
}

#[test]
fn audit_lists_agents_keys_widening_and_summaries() {
    let mut h = TestRepo::new();
    h.write(
        "global/policy.toml",
        "[policy.model]\nmax_temperature = 0.5\n",
    );
    h.write("agents/bot.toml", &agent("acme", ""));
    h.commit("base");
    h.write(
        "global/policy.toml",
        "[policy.model]\nmax_temperature = 0.7\n",
    );
    h.commit_as("Bob", "loosen", None, true);
    h.write("README.md", "docs\n");
    h.commit("docs only");
    let v = json(&h, &["audit", "HEAD~2..HEAD", "--format", "json"]);
    let c = v["commits"].as_array().unwrap();
    assert_eq!(c.len(), 1, "{v}");
    assert_eq!(c[0]["summary"], "loosen");
    assert_eq!(c[0]["committer"], "Bob");
    assert_eq!(c[0]["agents"][0]["agent"], "bot");
    assert_eq!(
        c[0]["agents"][0]["keys"],
        serde_json::json!(["policy.model.max_temperature"])
    );
    assert!(
        c[0]["agents"][0]["widening"][0]["why"]
            .as_str()
            .unwrap()
            .contains("higher ceiling")
    );
    assert_eq!(v["by_author"]["Bob <bob@example.com>"]["widening"], 1);
    assert_eq!(v["by_client"]["acme"]["agent_changes"], 1);
    let out = opl()
        .current_dir(h.root())
        .args(["audit", "--format", "csv"])
        .output()
        .unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.starts_with(
        "commit,date,author,email,committer,summary,agent,client,status,keys,widening\n"
    ));
    assert_eq!(csv.lines().count(), 3, "{csv}");
    opl()
        .current_dir(h.root())
        .args(["audit", "--format", "markdown"])
        .assert()
        .stdout(predicate::str::contains("| author | commits |"));
    opl()
        .current_dir(h.root())
        .args(["audit", "--since", "2100-01-01", "--format", "json"])
        .assert()
        .stdout(predicate::str::contains("\"commits\": []"));
}

#[test]
fn a_shallow_boundary_is_said_out_loud() {
    let mut h = TestRepo::new();
    h.write("agents/bot.toml", &temp("0.1"));
    h.commit("old");
    for i in 2..6 {
        h.write("README.md", &format!("{i}\n"));
        h.commit(&format!("docs {i}"));
    }
    let clone = tempfile::tempdir().unwrap();
    let url = format!("file://{}", h.root().display());
    let st = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "3", &url])
        .arg(clone.path().join("c"))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(st.success());
    let dir = clone.path().join("c");
    let out = opl()
        .current_dir(&dir)
        .args([
            "blame",
            "bot",
            "model.parameters.temperature",
            "--rev",
            "HEAD",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let b: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(b[0]["boundary"], true);
    assert_ne!(b[0]["summary"], "old");
    // the inventory says the last change is at or before the cut, never that it is the cut
    let out = opl()
        .current_dir(&dir)
        .args(["inventory", "--format", "json"])
        .output()
        .unwrap();
    let inv: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inv[0]["last_change"]["status"], "boundary");
    let out = opl()
        .current_dir(&dir)
        .args(["inventory", "--format", "csv"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(" ^"));
    let out = opl()
        .current_dir(&dir)
        .args([
            "blame",
            "bot",
            "model.parameters.temperature",
            "--rev",
            "HEAD",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("shallow-clone boundary"));
    let v: Value = serde_json::from_slice(
        &opl()
            .current_dir(&dir)
            .args(["log", "bot", "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(v.as_array().unwrap().last().unwrap()["boundary"], true);
    // A shallow clone's history is listed by libgit2, and no commit table is kept for it (the
    // walks above wrote the history cache, so the cache folder exists).
    assert!(dir.join(".git/opl/history-v3.bin").is_file());
    assert!(!dir.join(".git/opl/commits-v1.bin").exists());
}

#[test]
fn explain_shows_blame_and_history_of_the_key() {
    let mut h = TestRepo::new();
    h.write("agents/bot.toml", &temp("0.1"));
    h.commit("first");
    h.write("agents/bot.toml", &temp("0.3"));
    h.commit_as("Bob", "warmer", None, true);
    let out = opl()
        .current_dir(h.root())
        .args(["explain", "bot", "model.parameters.temperature"])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("  blame    ") && s.contains(" Bob ") && s.contains("warmer"),
        "{s}"
    );
    assert!(
        s.contains("model.parameters.temperature: 0.1 -> 0.3"),
        "{s}"
    );
    let v = json(
        &h,
        &[
            "explain",
            "bot",
            "model.parameters.temperature",
            "--format",
            "json",
        ],
    );
    assert_eq!(v["leaves"][0]["blame"]["author"], "Bob");
    assert_eq!(v["history"].as_array().unwrap().len(), 2);
}

#[test]
fn inventory_names_the_last_change_or_uncommitted() {
    let mut h = TestRepo::new();
    h.write("agents/bot.toml", &temp("0.1"));
    h.commit_as("Bob", "bot temperature", None, true);
    h.write("README.md", "docs\n");
    h.commit("docs");
    let v = json(&h, &["inventory", "--format", "json"]);
    assert_eq!(v[0]["last_change"]["status"], "committed");
    assert_eq!(v[0]["last_change"]["author"], "Bob");
    h.write("agents/bot.toml", &temp("0.2"));
    let v = json(&h, &["inventory", "--format", "json"]);
    assert_eq!(v[0]["last_change"]["status"], "uncommitted");
    // the index: committed until the change is staged
    let v = json(&h, &["inventory", "--staged", "--format", "json"]);
    assert_eq!(v[0]["last_change"]["status"], "committed");
    let mut index = h.repo.index().unwrap();
    index.add_path(Path::new("agents/bot.toml")).unwrap();
    index.write().unwrap();
    let v = json(&h, &["inventory", "--staged", "--format", "json"]);
    assert_eq!(v[0]["last_change"]["status"], "uncommitted");
    // at a revision, always the commit
    let v = json(&h, &["inventory", "--rev", "HEAD", "--format", "json"]);
    assert_eq!(v[0]["last_change"]["author"], "Bob");
    // outside git there is no history at all
    let d = common::base_repo(&[]);
    let out = opl()
        .arg("-C")
        .arg(d.path())
        .args(["inventory", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["last_change"]["status"], "uncommitted");
}

/// `opl inventory` finds every agent's last change in one walk of the history; for each agent it
/// is the commit `opl log AGENT -n 1` names, whatever the change went through: a client folder, a
/// fragment in another agent's folder or outside the layers, a merge, a move between clients, or a
/// file that changes nothing.
#[test]
fn inventory_last_change_agrees_with_log_for_every_agent() {
    let mut h = TestRepo::new();
    h.write("clients/beta/client.toml", "[meta]\nowner = \"user:bea\"\n");
    h.write("agents/bot.toml", &agent("acme", ""));
    h.write("agents/two.toml", &agent("acme", ""));
    h.write("agents/three.toml", &agent("beta", ""));
    h.write("agents/four.toml", &agent("acme", ""));
    let frag = |file: &str| {
        format!("\n[instructions]\nfragments = [{{ id = \"own.extra\", file = \"{file}\" }}]\n")
    };
    h.write(
        "agents/reader/agent.toml",
        &agent("beta", &frag("prompt.md")),
    );
    h.write("agents/reader/prompt.md", "Read carefully.\n");
    h.write(
        "agents/peer.toml",
        &agent("acme", &frag("reader/prompt.md")),
    );
    h.write(
        "agents/outside.toml",
        &agent("beta", &frag("../docs/extra.md")),
    );
    h.write("docs/extra.md", "Extra.\n");
    let base = h.commit("base");
    h.write(
        "clients/acme/client.toml",
        "[meta]\nowner = \"user:ann\"\n\n[metadata]\ntier = \"gold\"\n",
    );
    h.commit("acme client");
    h.write(
        "clients/beta/client.toml",
        "[meta]\nowner = \"user:bea\"\n\n[metadata]\ntier = \"silver\"\n",
    );
    h.commit("beta client");
    h.write("README.md", "About this repository.\n");
    h.commit("readme");
    h.write("docs/extra.md", "Extra, revised.\n");
    h.commit("docs fragment");
    h.write("agents/reader/prompt.md", "Read very carefully.\n");
    h.commit("reader prompt");
    h.write(
        "agents/bot.toml",
        &format!("# a comment\n{}", agent("acme", "")),
    );
    h.commit("reformat bot");
    let head = h.repo.head().unwrap().target().unwrap();
    h.write("agents/two.toml", &temp("0.4"));
    let side = h.commit_as("Sid", "side: two", Some(vec![head]), false);
    h.write("agents/two.toml", &agent("acme", ""));
    h.write("agents/three.toml", &agent("beta", "\n[metadata]\nx = 1\n"));
    let main = h.commit_as("Mia", "main: three", Some(vec![head]), true);
    h.write("agents/two.toml", &temp("0.4"));
    h.commit_as("Mia", "merge", Some(vec![main, side]), true);
    h.write("agents/four.toml", &agent("beta", ""));
    h.commit("move four");
    let _ = base;

    let inv = json(&h, &["inventory", "--format", "json"]);
    let mut seen = std::collections::BTreeMap::new();
    for row in inv.as_array().unwrap() {
        let id = row["id"].as_str().unwrap();
        let log = json(&h, &["log", id, "-n", "1", "--format", "json"]);
        assert_eq!(
            row["last_change"]["commit"], log[0]["commit"],
            "{id}: inventory {} vs log {}",
            row["last_change"], log[0]
        );
        seen.insert(
            id.to_string(),
            log[0]["summary"].as_str().unwrap().to_string(),
        );
    }
    let want = [
        ("bot", "acme client"),
        ("two", "side: two"),
        ("three", "main: three"),
        ("four", "move four"),
        ("reader", "reader prompt"),
        ("peer", "reader prompt"),
        ("outside", "docs fragment"),
    ];
    for (id, summary) in want {
        assert_eq!(seen[id], summary, "{id}: {seen:?}");
    }
}

/// Commits are walked in git's default order, so a parent whose clock ran ahead (a committer date
/// later than its child's) still comes after the child.
#[test]
fn a_parent_dated_after_its_child_comes_after_it() {
    let mut h = TestRepo::new();
    h.write("agents/bot.toml", &temp("0.1"));
    let base = h.commit("base");
    h.write("agents/bot.toml", &temp("0.2"));
    let child = h.commit("child");
    // Rewrite both with the base dated a day after the child.
    let sig =
        |t: i64| git2::Signature::new("Ann", "ann@example.com", &git2::Time::new(t, 0)).unwrap();
    let tree = |id| h.repo.find_commit(id).unwrap().tree().unwrap();
    let b = h
        .repo
        .commit(
            None,
            &sig(1_800_000_000),
            &sig(1_800_000_000),
            "base",
            &tree(base),
            &[],
        )
        .unwrap();
    let bc = h.repo.find_commit(b).unwrap();
    let c = h
        .repo
        .commit(
            None,
            &sig(1_700_000_000),
            &sig(1_700_000_000),
            "child",
            &tree(child),
            &[&bc],
        )
        .unwrap();
    let head = h.repo.head().unwrap().name().unwrap().to_string();
    h.repo.reference(&head, c, true, "test").unwrap();
    let v = json(&h, &["log", "bot", "--format", "json"]);
    assert_eq!(commits(&v), ["child", "base"]);
    let inv = json(&h, &["inventory", "--format", "json"]);
    assert_eq!(inv[0]["last_change"]["commit"], c.to_string());
}
