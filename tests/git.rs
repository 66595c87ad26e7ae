//! opl over real git repositories built in the tests (git2, fixed authors and times).

mod common;

use common::{BASE, TestRepo, agent, git, opl};
use predicates::prelude::*;

#[test]
fn diff_between_commits_reports_changes_widening_and_origins() {
    let mut t = TestRepo::new();
    t.write(
        "global/policy.toml",
        "[policy.model]\nmax_temperature = 0.5\n",
    );
    t.commit("base");
    t.write(
        "global/policy.toml",
        "[policy.model]\nmax_temperature = 0.8\n",
    );
    t.write(
        "agents/bot.toml",
        &agent("acme", "\n[model]\nname = \"gpt-4.1-mini\"\n"),
    );
    t.commit("loosen");
    let (code, v) = t.json(&["diff", "HEAD~1", "HEAD", "--format", "json"]);
    assert_eq!(code, 0);
    let a = &v["agents"][0];
    assert_eq!(a["agent"], "bot");
    assert_eq!(a["client"], "acme");
    assert_eq!(a["status"], "changed");
    assert_ne!(a["digest_before"], a["digest_after"]);
    let changes = a["changes"].as_array().unwrap();
    let temp = changes
        .iter()
        .find(|c| c["path"] == "policy.model.max_temperature")
        .unwrap();
    assert_eq!(temp["old"], 0.5);
    assert_eq!(temp["new"], 0.8);
    assert!(
        temp["widening"]
            .as_str()
            .unwrap()
            .contains("higher ceiling")
    );
    assert_eq!(temp["file"], "global/policy.toml");
    assert_eq!(temp["line"], 2);
    let name = changes.iter().find(|c| c["path"] == "model.name").unwrap();
    assert_eq!(name["widening"], serde_json::Value::Null);
    assert_eq!(name["file"], "agents/bot.toml");
    assert_eq!(v["summary"]["agents_widened"], 1);
    t.opl()
        .args(["diff", "HEAD~1", "HEAD", "--exit-code"])
        .assert()
        .code(1);
    t.opl()
        .args(["diff", "HEAD", "HEAD", "--exit-code"])
        .assert()
        .code(0);
}

#[test]
fn staged_and_unstaged_changes_are_told_apart() {
    let mut t = TestRepo::new();
    t.commit("base");
    t.write(
        "agents/bot.toml",
        &agent("acme", "\n[model]\nname = \"staged-model\"\n"),
    );
    t.stage("agents/bot.toml");
    t.write(
        "agents/bot.toml",
        &agent("acme", "\n[model]\nname = \"worktree-model\"\n"),
    );
    let (_, staged) = t.json(&["diff", "--staged", "--format", "json"]);
    let (_, work) = t.json(&["diff", "--format", "json"]);
    let new = |v: &serde_json::Value| {
        v["agents"][0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["path"] == "model.name")
            .unwrap()["new"]
            .clone()
    };
    assert_eq!(new(&staged), "staged-model");
    assert_eq!(new(&work), "worktree-model");
    // --staged and --rev read git, never the work tree
    t.opl()
        .args(["render", "bot", "--staged", "--format", "json"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("staged-model"));
    t.opl()
        .args(["render", "bot", "--rev", "HEAD", "--format", "json"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"gpt-4.1\""));
    t.opl()
        .args(["validate", "--staged"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "ok: 1 agent affected by the staged changes",
        ));
}

#[test]
fn a_config_root_in_a_subdirectory() {
    let mut t = TestRepo::with_prefix("config/");
    std::fs::write(t.top().join("README.md"), "monorepo\n").unwrap();
    t.commit("base");
    t.write(
        "agents/bot.toml",
        &agent("acme", "\n[memory]\nscopes = [\"session\"]\n"),
    );
    t.commit("memory");
    let (_, v) = t.json(&["diff", "HEAD~1", "HEAD", "--format", "json"]);
    assert_eq!(
        v["summary"]["files_changed"],
        serde_json::json!(["agents/bot.toml"])
    );
    let out = opl()
        .arg("-C")
        .arg(t.root())
        .args(["check", "--format", "github"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let line = String::from_utf8(out.stdout).unwrap();
    let (file, l, c) = parse_github(line.lines().next().unwrap());
    assert_eq!((file.as_str(), l, c), ("config/agents/bot.toml", 7, 11));
    // opl reads the subtree of a revision
    opl()
        .arg("-C")
        .arg(t.root())
        .args(["validate", "--rev", "HEAD~1"])
        .assert()
        .code(0);
}

#[test]
fn one_global_change_reaches_every_agent_of_every_client() {
    let mut t = TestRepo::new();
    t.write("clients/beta/client.toml", "[meta]\nowner = \"user:bob\"\n");
    for i in 0..12 {
        let client = if i % 3 == 0 { "beta" } else { "acme" };
        t.write(&format!("agents/a{i:02}.toml"), &agent(client, ""));
    }
    t.commit("base");
    t.write("global/base.toml", &BASE[1].1.replace("gpt-4.1", "gpt-5"));
    t.commit("model");
    let (_, v) = t.json(&["diff", "HEAD~1", "HEAD", "--format", "json"]);
    assert_eq!(v["summary"]["agents_changed"], 13);
    assert_eq!(
        v["summary"]["by_client"],
        serde_json::json!({"acme": 9, "beta": 4})
    );
    assert_eq!(v["summary"]["agents_widened"], 0);
    // one agent's file: only that agent is merged and reported
    t.write(
        "agents/a05.toml",
        &agent("acme", "\n[model]\nname = \"o3\"\n"),
    );
    t.commit("one");
    let (_, v) = t.json(&["diff", "HEAD~1", "HEAD", "--format", "json"]);
    assert_eq!(v["summary"]["agents_changed"], 1);
    assert_eq!(v["agents"][0]["agent"], "a05");
}

#[test]
fn a_refactor_is_a_noop_and_a_real_change_is_not() {
    let mut t = TestRepo::new();
    t.write(
        "global/a.toml",
        "[policy.tools]\ndeny = [\"*.delete_*\"]\n\n[policy.model]\nmax_temperature = 0.7\n",
    );
    t.commit("base");
    // move policy.model to its own file, reformat the rest
    t.write(
        "global/a.toml",
        "# tools policy\n[policy.tools]\ndeny = [ \"*.delete_*\" ]\n",
    );
    t.write(
        "global/b.toml",
        "policy.model.max_temperature = 0.7  # same value\n",
    );
    t.commit("split");
    t.opl()
        .args(["diff", "HEAD~1", "HEAD", "--expect-noop"])
        .assert()
        .code(0);
    let (_, v) = t.json(&["diff", "HEAD~1", "HEAD", "--format", "json"]);
    assert_eq!(
        v["summary"]["noop_files"],
        serde_json::json!(["global/a.toml", "global/b.toml"])
    );
    t.write("global/b.toml", "policy.model.max_temperature = 0.6\n");
    t.opl()
        .args(["diff", "HEAD", "--expect-noop"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("expected no change"))
        .stdout(predicate::str::contains(
            "policy.model.max_temperature: 0.7 -> 0.6",
        ));
}

#[test]
fn locks_and_removed_denies_are_called_out() {
    let mut t = TestRepo::new();
    t.write("global/policy.toml", "[meta]\nlock = [\"policy.tools\"]\n\n[policy.tools]\ndeny = [\"*.delete_*\", \"*.drop_*\"]\n");
    t.commit("base");
    t.write(
        "global/policy.toml",
        "[policy.tools]\ndeny = [\"*.delete_*\"]\n",
    );
    t.commit("loosen");
    let (_, v) = t.json(&["diff", "HEAD~1", "HEAD", "--format", "json"]);
    assert_eq!(v["summary"]["locks_removed"][0]["lock"], "policy.tools");
    let c = &v["agents"][0]["changes"][0];
    assert_eq!(c["path"], "policy.tools.deny");
    assert!(c["widening"].as_str().unwrap().contains("*.drop_*"));
    // With --deny-widening the widening change is an error in every output, counted alike.
    let deny = [
        "check",
        "--base",
        "HEAD~1",
        "--rev",
        "HEAD",
        "--deny-widening",
    ];
    let out = t.opl().args(deny).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let human = String::from_utf8(out.stdout).unwrap();
    assert!(human.contains("widening-change"), "{human}");
    assert!(
        human.contains("policy.tools.deny: removed \"*.drop_*\" widens what an agent may do")
            && human.contains("(for agent bot)"),
        "{human}"
    );
    assert!(human.contains("1 error, 0 warnings in 1 agent"), "{human}");
    assert!(human.contains("global/policy.toml:2:1"), "{human}");
    let (code, j) = t.json(&[deny.as_slice(), &["--format", "json"]].concat());
    assert_eq!(code, 1);
    assert_eq!(j["summary"]["errors"], 1);
    assert_eq!(j["findings"][0]["code"], "widening-change");
    assert_eq!(j["findings"][0]["severity"], "error");
    assert_eq!(j["findings"][0]["file"], "global/policy.toml");
    // Without it, a warning: shown, counted, and the exit status is clean.
    let out = t
        .opl()
        .args(["check", "--base", "HEAD~1", "--rev", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let human = String::from_utf8(out.stdout).unwrap();
    assert!(human.contains("0 errors, 1 warning in 1 agent"), "{human}");
    assert!(human.contains("1 agent changed"), "{human}");
    t.opl()
        .args([
            "check",
            "--base",
            "HEAD~1",
            "--rev",
            "HEAD",
            "--deny-warnings",
        ])
        .assert()
        .code(1);
}

fn parse_github(line: &str) -> (String, u32, u32) {
    let rest = line
        .strip_prefix("::error ")
        .or_else(|| line.strip_prefix("::warning "))
        .unwrap_or_else(|| panic!("{line}"));
    let (props, _) = rest.split_once("::").unwrap();
    let mut file = String::new();
    let (mut l, mut c) = (0, 0);
    for kv in props.split(',') {
        let (k, v) = kv.split_once('=').unwrap();
        match k {
            "file" => {
                file = v
                    .replace("%3A", ":")
                    .replace("%2C", ",")
                    .replace("%25", "%")
            }
            "line" => l = v.parse().unwrap(),
            "col" => c = v.parse().unwrap(),
            _ => {}
        }
    }
    (file, l, c)
}

#[test]
fn every_check_format_carries_file_line_and_column() {
    let mut t = TestRepo::new();
    t.write(
        "global/policy.toml",
        "[policy.model]\nmax_temperature = 0.5\n",
    );
    t.commit("base");
    t.write(
        "agents/bot.toml",
        &agent("acme", "\n[policy.model]\nmax_temperature = 0.9\n"),
    );
    t.write(
        "agents/two.toml",
        &agent("acme", "\n[memory]\nscopes = [\"user\"]\n"),
    );
    // github: every line parses back to the real place
    let out = t
        .opl()
        .args(["check", "--format", "github"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let places: Vec<_> = text.lines().map(parse_github).collect();
    assert!(
        places.contains(&("agents/bot.toml".into(), 7, 19)),
        "{text}"
    );
    assert!(
        places.contains(&("agents/two.toml".into(), 7, 11)),
        "{text}"
    );
    assert!(text.contains("title=widening::"));

    // sarif 2.1.0 structure
    let (code, s) = t.json(&["check", "--format", "sarif"]);
    assert_eq!(code, 1);
    assert_eq!(s["version"], "2.1.0");
    let run = &s["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "opl");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let id = r["ruleId"].as_str().unwrap();
        assert!(rules.contains(&id));
        assert_eq!(rules[r["ruleIndex"].as_u64().unwrap() as usize], id);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(r["message"]["text"].is_string());
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(
            loc["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .starts_with("agents/")
        );
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(loc["region"]["startColumn"].as_u64().unwrap() >= 1);
    }
    let w = results.iter().find(|r| r["ruleId"] == "widening").unwrap();
    let rel = &w["relatedLocations"][0];
    assert_eq!(
        rel["physicalLocation"]["artifactLocation"]["uri"],
        "global/policy.toml"
    );
    assert_eq!(rel["physicalLocation"]["region"]["startLine"], 2);
    assert!(rel["message"]["text"].is_string());

    // junit
    let out = t
        .opl()
        .args(["check", "--format", "junit"])
        .output()
        .unwrap();
    let x = String::from_utf8(out.stdout).unwrap();
    assert!(x.starts_with("<?xml"));
    assert!(x.contains("failures=\"2\""), "{x}");
    assert!(x.contains("<failure type=\"widening\""), "{x}");
    assert!(x.contains("file=\"agents/bot.toml\" line=\"7\""), "{x}");

    // json and human
    let (_, j) = t.json(&["check", "--format", "json", "--base", "HEAD"]);
    assert_eq!(j["summary"]["errors"], 2);
    assert_eq!(j["diff"]["agents_changed"], 2);
    t.opl()
        .args(["check", "--base", "HEAD"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("2 agents changed"));
    // markdown and patch of the diff
    t.opl()
        .args(["diff", "--format", "markdown"])
        .assert()
        .stdout(predicate::str::contains("| `bot` | acme |"));
    // bot's widening makes its document unbuildable: it is not diffed as a document, the diff
    // says it is now invalid and why; two is new
    t.opl().args(["diff", "--format", "patch"]).assert().stdout(
        predicate::str::contains("b/bot.toml")
            .not()
            .and(predicate::str::contains("--- /dev/null\n+++ b/two.toml")),
    );
    t.opl()
        .args(["diff"])
        .assert()
        .stdout(predicate::str::contains(
            "bot (client acme) [now invalid: widening; `opl validate` shows why]",
        ));
}

#[test]
fn missing_revisions_name_the_fix() {
    let mut t = TestRepo::new();
    t.commit("base");
    t.opl()
        .args(["diff", "no-such-branch"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("not in this repository")
                .and(predicate::str::contains("fetch")),
        );
    for i in 0..3 {
        t.write(
            "agents/bot.toml",
            &agent("acme", &format!("\n[metadata]\nv = {i}\n")),
        );
        t.commit("more");
    }
    let clone = tempfile::tempdir().unwrap();
    let url = format!("file://{}", t.top().display());
    let st = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "1", &url])
        .arg(clone.path().join("c"))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(st.success());
    opl()
        .arg("-C")
        .arg(clone.path().join("c"))
        .args(["check", "--base", "HEAD~2"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("shallow clone")
                .and(predicate::str::contains("fetch-depth: 0")),
        );
}

#[test]
fn symlinks_in_git_trees_are_refused() {
    let mut t = TestRepo::new();
    #[cfg(unix)]
    std::os::unix::fs::symlink("bot.toml", t.root().join("agents/alias.toml")).unwrap();
    t.commit("link");
    let out = t
        .opl()
        .args(["validate", "--rev", "HEAD", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"][0]["code"], "symlink");
    assert_eq!(v["findings"][0]["file"], "agents/alias.toml");
}

#[test]
fn an_unborn_branch_diffs_against_nothing() {
    let t = TestRepo::new();
    let (_, v) = t.json(&["diff", "--format", "json"]);
    assert_eq!(v["from"], "(no commits)");
    assert_eq!(v["agents"][0]["status"], "added");
}

#[test]
fn the_hook_blocks_a_bad_commit_and_lets_a_good_one_through() {
    let mut t = TestRepo::new();
    t.commit("base");
    t.opl().args(["hook", "install"]).assert().code(0);
    let hook = std::fs::read_to_string(t.top().join(".git/hooks/pre-commit")).unwrap();
    assert!(hook.contains("validate --staged"));
    // bad: an agent widens a policy
    t.write(
        "agents/bot.toml",
        &agent("acme", "\n[memory]\nscopes = [\"session\"]\n"),
    );
    assert!(git(t.top(), &["add", "-A"]).status.success());
    let out = git(t.top(), &["commit", "-qm", "bad"]);
    assert!(!out.status.success(), "the hook let a bad commit through");
    // git sends a hook's output to stderr
    assert!(String::from_utf8_lossy(&out.stderr).contains("unbounded-memory"));
    // good
    t.write(
        "agents/bot.toml",
        &agent(
            "acme",
            "\n[memory]\nscopes = [\"session\"]\nretention_days = { session = 7 }\n",
        ),
    );
    assert!(git(t.top(), &["add", "-A"]).status.success());
    let out = git(t.top(), &["commit", "-qm", "good"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // uninstall removes only what opl wrote
    t.opl().args(["hook", "uninstall"]).assert().code(0);
    assert!(!t.top().join(".git/hooks/pre-commit").exists());
}

#[test]
fn the_hook_never_clobbers_an_existing_one() {
    let t = TestRepo::new();
    let hooks = t.top().join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(hooks.join("pre-commit"), "#!/bin/sh\necho mine\n").unwrap();
    t.opl()
        .args(["hook", "install"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--chain"));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    t.opl()
        .args(["hook", "install", "--chain"])
        .assert()
        .code(0);
    assert!(
        std::fs::read_to_string(hooks.join("pre-commit"))
            .unwrap()
            .contains("pre-commit.opl-chained")
    );
    t.opl().args(["hook", "uninstall"]).assert().code(0);
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    t.opl()
        .args(["hook", "uninstall"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not written by opl"));
}

#[test]
fn removing_an_agent_and_renaming_one() {
    let mut t = TestRepo::new();
    t.write("agents/old.toml", &agent("acme", ""));
    t.commit("base");
    t.remove("agents/old.toml");
    t.write("agents/new.toml", &agent("acme", ""));
    t.commit("rename");
    let (_, v) = t.json(&["diff", "HEAD~1", "HEAD", "--format", "json"]);
    let st: Vec<(String, String)> = v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["agent"].as_str().unwrap().into(),
                a["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        st,
        [
            ("new".to_string(), "added".to_string()),
            ("old".to_string(), "removed".to_string())
        ]
    );
}

#[test]
fn every_command_that_reads_the_config_reads_a_revision_or_the_index() {
    let mut t = TestRepo::new();
    t.commit("base");
    // Staged: a new owner. Work tree only: a second agent.
    t.write(
        "agents/bot.toml",
        &agent("acme", "").replace("user:ann", "user:zoe"),
    );
    t.stage("agents/bot.toml");
    t.write("agents/two.toml", &agent("acme", ""));
    let out = |args: &[&str]| {
        let o = t.opl().args(args).output().unwrap();
        assert!(
            o.status.code().unwrap() < 2,
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    assert!(out(&["codeowners", "--rev", "HEAD"]).contains("/agents/bot.toml @ann\n"));
    assert!(out(&["codeowners", "--staged"]).contains("/agents/bot.toml @zoe\n"));
    assert!(!out(&["codeowners", "--staged"]).contains("two.toml"));
    assert!(out(&["codeowners"]).contains("/agents/two.toml @ann\n"));
    assert!(!out(&["graph", "--rev", "HEAD"]).contains("agent two"));
    assert!(out(&["graph"]).contains("agent two"));
    assert!(out(&["check", "--staged"]).contains("ok: 1 agent"));
    assert!(out(&["check"]).contains("ok: 2 agents"));
    let (code, v) = t.json(&["check", "--rev", "HEAD", "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(v["summary"]["agents"], 1);
}
