//! `opl render AGENT` reads only the layers that agent inherits and its own. On every fixture
//! repository, for every agent, what it prints (the document, its digest and where each value
//! came from, `--explain --format json`) is what merging the whole repository gives, and it
//! refuses exactly the agents the whole repository says have errors.

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
