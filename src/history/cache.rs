//! The history cache: for each (parent, commit) pair a walk has compared, which entries of the
//! config root changed (its own entries, and the entries of `agents/` and `clients/`).
//!
//! It is derived and disposable, like git's commit-graph: kept in `<git dir>/opl/`, rebuilt
//! when missing, ignored when it is for another config root or cannot be read, written
//! atomically after a walk that added to it (a failure to write it is ignored). A commit never
//! changes, so an entry never goes stale; a new commit is a pair the cache does not have yet.
//! No answer depends on it: a pair it lacks is read from the trees, as without it.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Trees;
use crate::git::{Git, GitError, Id};
use crate::repo::layout;

const VERSION: u32 = 1;
const FILE: &str = "history-v1.json";

/// What changed between a parent and a commit, at the config root.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// True when anything may have changed (a side has no config root, or no `agents/` or
    /// `clients/` folder where the other has one).
    pub all: bool,
    /// Changed entries of the config root (`opl.toml`, `global`, `agents`, `clients`, ...).
    pub root: Vec<String>,
    /// Changed entries of `agents/` (`<id>.toml` files and `<id>` folders).
    pub agents: Vec<String>,
    /// Changed entries of `clients/`.
    pub clients: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    prefix: String,
    /// (commit, parent, changes).
    pairs: Vec<(String, String, Changes)>,
}

/// The cache, loaded.
pub struct Cache {
    path: PathBuf,
    prefix: String,
    pairs: HashMap<(Id, Id), Changes>,
    added: usize,
}

impl Cache {
    /// The cache of `git`'s repository for its config root; empty when missing or unusable.
    pub fn open(git: &Git) -> Cache {
        let path = git.cache_dir().join(FILE);
        let prefix = git.prefix().to_string();
        let pairs = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<File>(&b).ok())
            .filter(|f| f.version == VERSION && f.prefix == prefix)
            .map(|f| {
                f.pairs
                    .into_iter()
                    .filter_map(|(c, p, ch)| Some(((Id::parse(&c)?, Id::parse(&p)?), ch)))
                    .collect()
            })
            .unwrap_or_default();
        Cache {
            path,
            prefix,
            pairs,
            added: 0,
        }
    }

    /// What changed from `parent` to `commit`, read from the trees when the cache lacks it.
    pub(crate) fn changes(
        &mut self,
        git: &Git,
        trees: &mut Trees,
        parent: Id,
        commit: Id,
    ) -> Result<&Changes, GitError> {
        match self.pairs.entry((commit, parent)) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => {
                self.added += 1;
                Ok(e.insert(read(git, trees, parent, commit)?))
            }
        }
    }

    /// Writes the cache back when a walk added to it; a failure is ignored (the cache is only
    /// ever a shortcut).
    pub fn save(&self) {
        if self.added == 0 {
            return;
        }
        let mut pairs: Vec<(String, String, Changes)> = self
            .pairs
            .iter()
            .map(|((c, p), ch)| (c.to_string(), p.to_string(), ch.clone()))
            .collect();
        pairs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let file = File {
            version: VERSION,
            prefix: self.prefix.clone(),
            pairs,
        };
        let Ok(bytes) = serde_json::to_vec(&file) else {
            return;
        };
        if let Some(dir) = self.path.parent()
            && std::fs::create_dir_all(dir).is_ok()
        {
            let _ =
                crate::write::write_atomic(&self.path, &bytes, crate::write::Overwrite::Allowed);
        }
    }
}

/// What changed from `parent` to `commit`, from their trees.
fn read(git: &Git, trees: &mut Trees, parent: Id, commit: Id) -> Result<Changes, GitError> {
    let (rp, rc) = (trees.root(git, parent)?, trees.root(git, commit)?);
    if rp == rc {
        return Ok(Changes::default());
    }
    let (Some(rp), Some(rc)) = (rp, rc) else {
        return Ok(Changes {
            all: true,
            ..Changes::default()
        });
    };
    let (tp, tc) = (trees.raw(git, rp)?, trees.raw(git, rc)?);
    let names = |v: Vec<&[u8]>| -> Vec<String> {
        v.into_iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect()
    };
    let root = names(tp.changed_names(&tc));
    let mut out = Changes {
        root,
        ..Changes::default()
    };
    for (folder, into) in [
        (layout::AGENTS, &mut out.agents),
        (layout::CLIENTS, &mut out.clients),
    ] {
        if !out.root.iter().any(|n| n == folder) {
            continue;
        }
        match (tp.find(folder, true), tc.find(folder, true)) {
            (Some((a, _)), Some((b, _))) => *into = trees.changed(git, a, b)?,
            _ => out.all = true,
        }
    }
    Ok(out)
}
