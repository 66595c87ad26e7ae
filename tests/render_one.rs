//! `opl render AGENT` reads only the layers that agent inherits and its own. On every fixture
//! repository, for every agent, what it prints (the document, its digest and where each value
//! came from, `--explain --format json`) is what merging the whole repository gives, and it
//! refuses exactly the agents the whole repository says have errors.
//! `opl explain` and `opl access --agent` read the same way: what they print does not depend on
//! the other agents.

mod common;

use std::path::{Path, PathBuf};

use opl::merge::stack::Stacks;
use opl::repo::snapshot::WorkTree;
use serde_json::{Value, json};

/// Every fixture repository: `fixtures/acme`, each `fixtures/invalid/*/repo`, and each folder of
/// `fixtures/adversarial` laid over the tests' small valid repository (as `tests/adversarial.rs`
/// lays them).
fn fixture_repos() -> (Vec<PathBuf>, Vec<tempfile::TempDir>) {
    let f = common::fixtures();
    let mut out = vec![f.join("acme")];
    let mut temps = Vec::new();
    for e in std::fs::read_dir(f.join("invalid")).unwrap() {
        let p = e.unwrap().path().join("repo");
        if p.join("opl.toml").is_file() {
            out.push(p);
        }
    }
    for e in std::fs::read_dir(f.join("adversarial")).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            let t = common::base_repo(&[]);
            common::copy_tree(&p, t.path());
            out.push(t.path().to_path_buf());
            temps.push(t);
        }
    }
    (out, temps)
}

/// (agents rendered, agents refused) of one repository.
fn check(dir: &Path) -> (usize, usize) {
    let repo = opl::repo::layer::load(&WorkTree::new(dir)).expect("loads");
    let stacks = Stacks::new(&repo);
    let (mut rendered, mut refused) = (0, 0);
    for id in &repo.agent_ids {
        let Some(agent) = stacks.agent(id) else {
            continue;
        };
        let out = common::opl()
            .args([
                "-C",
                dir.to_str().unwrap(),
                "render",
                id,
                "--format",
                "json",
            ])
            .arg("--explain")
            .output()
            .unwrap();
        let at = format!("{} {id}", dir.display());
        if agent.has_errors() {
            assert_eq!(out.status.code(), Some(1), "{at}: refused");
            assert!(out.stdout.is_empty(), "{at}");
            refused += 1;
        } else {
            assert_eq!(out.status.code(), Some(0), "{at}: {out:?}");
            let doc = opl::render::document(&repo, id, &agent.eff);
            let want = json!({
                "agent": id,
                "client": agent.client,
                "digest": opl::render::digest(&doc),
                "document": doc,
                "provenance": opl::merge::provenance::provenance(&repo, &agent, Some(&doc)),
            });
            let got: Value = serde_json::from_slice(&out.stdout).expect("JSON");
            assert_eq!(got, want, "{at}");
            rendered += 1;
        }
    }
    (rendered, refused)
}

#[test]
fn one_agent_renders_as_the_whole_repository_merges_it() {
    let (repos, _temps) = fixture_repos();
    assert!(repos.len() > 35, "{repos:?}");
    let (rendered, refused) = repos
        .iter()
        .map(|d| check(d))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert!(
        rendered >= 15 && refused >= 20,
        "{rendered} rendered, {refused} refused"
    );
}

/// The agents of a repository folder: `agents/<id>.toml` files and `agents/<id>/` folders.
fn agent_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("agents"))
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".toml").unwrap_or(&name).to_string()
        })
        .collect();
    ids.sort();
    ids
}

/// `opl explain AGENT KEY` and `opl access --agent AGENT` read only that agent's layers and those
/// it inherits. On the example repository, for every agent, what they print (in each format,
/// parsed back) is what they print in a copy of the repository that holds no other agent, where
/// reading every agent reads only that one.
#[test]
fn explain_and_access_of_one_agent_say_what_they_say_with_no_other_agent() {
    let full = tempfile::tempdir().unwrap();
    common::copy_tree(&common::fixtures().join("acme"), full.path());
    let ids = agent_ids(full.path());
    assert!(ids.len() >= 8, "{ids:?}");
    let run = |dir: &Path, args: &[&str]| -> String {
        let o = common::opl()
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.code().is_some_and(|c| c < 2), "{args:?}: {o:?}");
        String::from_utf8(o.stdout).unwrap()
    };
    // One command's JSON in the whole repository and in the copy, each parsed back.
    let json_pair = |alone: &Path, args: &[&str]| -> (Value, Value) {
        let parse = |dir: &Path| serde_json::from_str::<Value>(&run(dir, args)).unwrap();
        (parse(full.path()), parse(alone))
    };
    let (mut explained, mut shadowing, mut rows) = (0, 0, 0);
    for id in &ids {
        let alone = tempfile::tempdir().unwrap();
        common::copy_tree(&common::fixtures().join("acme"), alone.path());
        for other in ids.iter().filter(|o| *o != id) {
            let file = alone.path().join(format!("agents/{other}.toml"));
            if file.is_file() {
                std::fs::remove_file(file).unwrap();
            } else {
                std::fs::remove_dir_all(alone.path().join(format!("agents/{other}"))).unwrap();
            }
        }
        assert_eq!(agent_ids(alone.path()), std::slice::from_ref(id));
        for key in ["model", "model.name", "policy", "tools", "agent.owner"] {
            let (a, b) = json_pair(alone.path(), &["explain", id, key, "--format", "json"]);
            assert_eq!(a, b, "{id} {key}");
            assert_eq!(a["agent"], json!(id));
            let leaves = a["leaves"].as_array().unwrap();
            explained += leaves.len();
            shadowing += leaves
                .iter()
                .filter(|l| !l["shadowed"].as_array().unwrap().is_empty())
                .count();
            let args = ["explain", id, key];
            assert_eq!(
                run(full.path(), &args),
                run(alone.path(), &args),
                "{id} {key}"
            );
        }
        let (a, b) = json_pair(alone.path(), &["access", "--agent", id, "--format", "json"]);
        assert_eq!(a, b, "{id}");
        rows += a.as_array().unwrap().len();
        for format in ["csv", "markdown"] {
            let args = ["access", "--agent", id, "--format", format];
            assert_eq!(run(full.path(), &args), run(alone.path(), &args), "{id}");
        }
    }
    assert!(explained >= 40 && shadowing >= 5, "{explained} {shadowing}");
    assert!(rows >= 10, "{rows}");
}
