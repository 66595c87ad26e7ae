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

/// Copies every file under `from` to `to`, keeping relative paths.
pub fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
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

/// An agent file naming `client`, with an owner and a purpose, then `extra`.
pub fn agent(client: &str, extra: &str) -> String {
    format!("[agent]\nclient = \"{client}\"\npurpose = \"Help\"\nowner = \"user:ann\"\n{extra}")
}

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

/// A scratch git repository built with git2: BASE written in the work tree, commits with fixed
/// authors and times (an hour apart), so histories are reproducible.
pub struct TestRepo {
    dir: tempfile::TempDir,
    pub repo: git2::Repository,
    /// The config root inside the work tree (`""` or `config/`).
    prefix: String,
    n: i64,
}

impl TestRepo {
    /// A repository with BASE at its top.
    pub fn new() -> Self {
        Self::with_prefix("")
    }
    /// A repository with BASE under `prefix` (`config/`): a monorepo.
    pub fn with_prefix(prefix: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let t = TestRepo {
            dir,
            repo,
            prefix: prefix.to_string(),
            n: 0,
        };
        for (p, text) in BASE {
            t.write(p, text);
        }
        t
    }
    /// The top of the work tree.
    pub fn top(&self) -> &Path {
        self.dir.path()
    }
    /// The config root.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join(self.prefix.trim_end_matches('/'))
    }
    /// Writes a file under the config root.
    pub fn write(&self, path: &str, text: &str) {
        let p = self.root().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    /// Removes a file under the config root.
    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.root().join(path)).unwrap();
    }
    /// Stages one file of the config root.
    pub fn stage(&self, path: &str) {
        let mut index = self.repo.index().unwrap();
        index
            .add_path(Path::new(&format!("{}{path}", self.prefix)))
            .unwrap();
        index.write().unwrap();
    }
    /// Commits the whole work tree on HEAD as Ann.
    pub fn commit(&mut self, msg: &str) -> git2::Oid {
        self.commit_as("Ann", msg, None, true)
    }
    /// Commits the whole work tree as `who` with these parents (HEAD when `None`); moves the
    /// branch HEAD names to it when `move_head`.
    pub fn commit_as(
        &mut self,
        who: &str,
        msg: &str,
        parents: Option<Vec<git2::Oid>>,
        move_head: bool,
    ) -> git2::Oid {
        let mut index = self.repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        self.n += 1;
        let sig = git2::Signature::new(
            who,
            &format!("{}@example.com", who.to_lowercase()),
            &git2::Time::new(1_700_000_000 + self.n * 3600, 0),
        )
        .unwrap();
        let parents = parents.unwrap_or_else(|| {
            self.repo
                .head()
                .ok()
                .and_then(|h| h.target())
                .into_iter()
                .collect()
        });
        let pc: Vec<git2::Commit> = parents
            .iter()
            .map(|p| self.repo.find_commit(*p).unwrap())
            .collect();
        let refs: Vec<&git2::Commit> = pc.iter().collect();
        let id = self
            .repo
            .commit(None, &sig, &sig, msg, &tree, &refs)
            .unwrap();
        if move_head {
            // HEAD's branch may be unborn, or move to a commit whose first parent is not HEAD.
            let target = self
                .repo
                .find_reference("HEAD")
                .unwrap()
                .symbolic_target()
                .unwrap()
                .unwrap()
                .to_string();
            self.repo.reference(&target, id, true, "test").unwrap();
        }
        id
    }
    /// `opl` run in the config root.
    pub fn opl(&self) -> Command {
        let mut c = opl();
        c.current_dir(self.root());
        c
    }
    /// Runs opl with `args` in the config root, expecting exit 0 (else fails with its stderr):
    /// its standard output.
    pub fn stdout_ok(&self, args: &[&str]) -> String {
        let o = self.opl().args(args).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
    /// Runs opl with `args` in the config root: exit status and the parsed JSON output.
    pub fn json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let out = self.opl().args(args).output().unwrap();
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), v)
    }
}
