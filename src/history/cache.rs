//! The history cache: for each (parent, commit) pair a walk has compared, which entries of the
//! config root changed (its own entries, and the entries of `agents/` and `clients/`).
//!
//! It is derived and disposable, like git's commit-graph: kept in `<git dir>/opl/`, rebuilt
//! when missing, ignored when it is for another config root or cannot be read, written
//! atomically after a walk that added to it (a failure to write it is ignored). A commit never
//! changes, so an entry never goes stale; a new commit is a pair the cache does not have yet.
//! No answer depends on it: a pair it lacks is read from the trees, as without it.
//!
//! The history cache is binary (see [`super::bin`] for its frame), as it is read at the start
//! of every walk: the number of pairs, then for each the commit, the parent (20 bytes each),
//! whether anything may have changed (one byte), the changed entries of the config root, of
//! `agents/` and of `clients/` (each a count, then the names), then the parent's entry of each
//! changed name of the config root and of `clients/` (a kind, 0 for none, then its id). The other
//! caches are JSON.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::audit::AgentRow;
use super::bin;
use super::{LastChange, Trees};
use crate::diff::Status;
use crate::git::{CommitMeta, Git, GitError, Id};
use crate::keyed::HashKeyed;
use crate::repo::layout;
use crate::repo::snapshot::EntryKind;

const VERSION: u32 = 3;
const FILE: &str = "history-v3.bin";

/// What changed between a parent and a commit, at the config root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    /// The parent's entry of each name of `root`, in their order (`None` where the parent has
    /// none), as [`Git::entry_ids`] reads it: a walk passing a key on to the parent reads no
    /// tree for it.
    pub root_before: Vec<Before>,
    /// The parent's entry of each name of `clients`, the same way.
    pub clients_before: Vec<Before>,
}

/// A tree entry of the parent side of a pair: its id and kind, or `None` where it is absent.
pub type Before = Option<(Id, EntryKind)>;

impl Changes {
    /// The parent's entry of the config root's `name` when it changed; `None` when it did not.
    pub fn root_before(&self, name: &str) -> Option<Before> {
        before(&self.root, &self.root_before, name)
    }

    /// The parent's entry of `clients/<name>` when it changed; `None` when it did not.
    pub fn client_before(&self, name: &str) -> Option<Before> {
        before(&self.clients, &self.clients_before, name)
    }
}

fn before(names: &[String], entries: &[Before], name: &str) -> Option<Before> {
    let i = names.iter().position(|n| n == name)?;
    entries.get(i).copied()
}

/// The cache, loaded.
pub struct Cache {
    path: PathBuf,
    prefix: String,
    pairs: HashKeyed<(Id, Id), Changes>,
    added: usize,
}

impl Cache {
    /// The cache of `git`'s repository for its config root; empty when missing or unusable.
    pub fn open(git: &Git) -> Cache {
        let path = git.cache_dir().join(FILE);
        let prefix = git.prefix().to_string();
        let pairs = std::fs::read(&path)
            .ok()
            .and_then(|f| decode_pairs(bin::unframe(&f, &Header::new(VERSION, &prefix, false))?))
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

    /// True when the cache has what changed from each of `parents` to `commit`.
    fn has_all(&self, commit: Id, parents: &[Id]) -> bool {
        parents
            .iter()
            .all(|p| self.pairs.contains_key(&(commit, *p)))
    }

    /// Writes the cache back when a walk added to it, in the background (see
    /// [`crate::write::in_background`]); a failure is ignored (the cache is only ever a
    /// shortcut).
    pub fn save(self) {
        if self.added == 0 {
            return;
        }
        crate::write::in_background(move || {
            let header = Header::new(VERSION, &self.prefix, false);
            bin::store(&self.path, &header, &encode_pairs(&self.pairs));
        });
    }
}

/// The body of the history cache: its pairs in the order of their ids.
fn encode_pairs(pairs: &HashKeyed<(Id, Id), Changes>) -> Vec<u8> {
    let mut sorted: Vec<(&(Id, Id), &Changes)> = pairs.iter().collect();
    sorted.sort_unstable_by_key(|(k, _)| **k);
    let mut out = bin::Out::default();
    out.u32(bin::len32(sorted.len()));
    for ((commit, parent), ch) in sorted {
        out.id(*commit);
        out.id(*parent);
        out.u8(u8::from(ch.all));
        out.strs(&ch.root);
        out.strs(&ch.agents);
        out.strs(&ch.clients);
        for e in ch.root_before.iter().chain(&ch.clients_before) {
            put_entry(&mut out, *e);
        }
    }
    out.0
}

/// An entry: its kind (0 for none), then its id.
fn put_entry(out: &mut bin::Out, e: Before) {
    match e {
        None => out.u8(0),
        Some((id, kind)) => {
            out.u8(match kind {
                EntryKind::File => 1,
                EntryKind::Dir => 2,
                EntryKind::Symlink => 3,
                EntryKind::Other => 4,
            });
            out.id(id);
        }
    }
}

fn get_entry(r: &mut bin::In) -> Option<Before> {
    let kind = match r.u8()? {
        0 => return Some(None),
        1 => EntryKind::File,
        2 => EntryKind::Dir,
        3 => EntryKind::Symlink,
        4 => EntryKind::Other,
        _ => return None,
    };
    Some(Some((r.id()?, kind)))
}

/// The pairs of a history cache's body; `None` when it is not whole.
fn decode_pairs(body: &[u8]) -> Option<HashKeyed<(Id, Id), Changes>> {
    let mut r = bin::In::new(body);
    let n = r.u32()? as usize;
    // Each pair takes at least 53 bytes: a count the body cannot hold is refused before
    // anything is reserved for it.
    if n > r.rest().len() / 53 {
        return None;
    }
    let mut pairs = HashKeyed::default();
    pairs.reserve(n);
    for _ in 0..n {
        let key = (r.id()?, r.id()?);
        let all = match r.u8()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let (root, agents, clients) = (r.strs()?, r.strs()?, r.strs()?);
        let mut entries = |n: usize| {
            (0..n)
                .map(|_| get_entry(&mut r))
                .collect::<Option<Vec<_>>>()
        };
        let root_before = entries(root.len())?;
        let clients_before = entries(clients.len())?;
        let ch = Changes {
            all,
            root,
            agents,
            clients,
            root_before,
            clients_before,
        };
        pairs.insert(key, ch);
    }
    r.rest().is_empty().then_some(pairs)
}

/// Reads what changed between commits and their parents ahead of a walk, on every core: each
/// thread has its own handle on the repository and reads a run of neighbouring commits (a
/// commit's parent is mostly the next commit of the run, and the trees they share are read
/// once). Reading the changed entries of each commit's 10,000-entry `agents/` tree is most of
/// the first walk of a long history.
///
/// Only ever a shortcut: a pair it could not read is left to the walk, which reads it (and
/// reports what is wrong) as without it.
pub(crate) struct ReadAhead<'g> {
    git: &'g Git,
    /// One handle per thread, opened when first needed (a walk the cache answers opens none);
    /// none on one core or when a handle could not be opened.
    readers: Option<Vec<(Git, Trees)>>,
    /// Commits read in the next round: rounds grow, so a walk that stops early (`log -n 1`)
    /// reads little ahead of where it stops; the largest takes well under a second here, so
    /// the walk's progress moves on in steps a reader can follow.
    round: usize,
}

/// Commits read in a walk's first round, and at most in one round.
const ROUNDS: (usize, usize) = (256, 2048);

impl<'g> ReadAhead<'g> {
    pub fn new(git: &'g Git) -> ReadAhead<'g> {
        ReadAhead {
            git,
            readers: None,
            round: ROUNDS.0,
        }
    }

    fn readers(&mut self) -> &mut Vec<(Git, Trees)> {
        let git = self.git;
        self.readers.get_or_insert_with(|| {
            let n = rayon::current_num_threads().min(8);
            if n < 2 {
                return Vec::new();
            }
            (0..n)
                .map(|_| git.reopen().map(|g| (g, Trees::default())))
                .collect::<Result<Vec<_>, _>>()
                .unwrap_or_default()
        })
    }

    /// Before a walk over `commits` examines `commits[at]`: when the cache lacks what changed
    /// from that commit's parents (`parents` gives them as the walk takes them), reads it and
    /// what the cache lacks of the commits that follow in this round.
    pub fn before(
        &mut self,
        cache: &mut Cache,
        commits: &[CommitMeta],
        at: usize,
        parents: impl Fn(&CommitMeta) -> Vec<Id>,
    ) {
        let Some(c) = commits.get(at) else { return };
        if cache.has_all(c.id, &parents(c)) || self.readers().is_empty() {
            return;
        }
        let end = (at + self.round).min(commits.len());
        self.round = (self.round * 2).min(ROUNDS.1);
        let missing: Vec<(Id, Id)> = commits[at..end]
            .iter()
            .flat_map(|c| parents(c).into_iter().map(move |p| (p, c.id)))
            .filter(|(p, c)| !cache.pairs.contains_key(&(*c, *p)))
            .collect();
        if missing.is_empty() {
            return;
        }
        use rayon::prelude::*;
        let readers = self.readers();
        let part = missing.len().div_ceil(readers.len());
        let read: Vec<Vec<((Id, Id), Changes)>> = readers
            .par_iter_mut()
            .zip(missing.par_chunks(part))
            .map(|((git, trees), pairs)| {
                pairs
                    .iter()
                    .map_while(|&(p, c)| read(git, trees, p, c).ok().map(|ch| ((c, p), ch)))
                    .collect()
            })
            .collect();
        for (pair, ch) in read.into_iter().flatten() {
            cache.added += 1;
            cache.pairs.insert(pair, ch);
        }
    }
}

/// What every cache file says of itself: its format, the config root it is for and, for the
/// caches whose entries are opl's reading of the spec (which another version may refine), the
/// opl that wrote it.
#[derive(PartialEq, Serialize, Deserialize)]
pub(crate) struct Header {
    version: u32,
    prefix: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    opl: String,
}

impl Header {
    pub(crate) fn new(version: u32, prefix: &str, opl_bound: bool) -> Header {
        Header {
            version,
            prefix: prefix.to_string(),
            opl: if opl_bound {
                env!("CARGO_PKG_VERSION").to_string()
            } else {
                String::new()
            },
        }
    }
}

/// A cache file: its header, then its entries. Neither is flattened into the file's object:
/// serde reads a flattened field through a copy of the whole file, and these files are read at
/// the start of every walk.
#[derive(Serialize, Deserialize)]
struct CacheFile<T> {
    header: Header,
    body: T,
}

/// The entries of a cache file whose header is `want`; `None` when it is missing, unreadable or
/// made for something else.
fn load<T: serde::de::DeserializeOwned>(path: &Path, want: &Header) -> Option<T> {
    let f: CacheFile<T> = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (f.header == *want).then_some(f.body)
}

/// Writes a JSON cache file atomically, creating its folder; a failure is ignored.
fn store<T: Serialize>(path: &Path, header: Header, body: T) {
    if let Ok(bytes) = serde_json::to_vec(&CacheFile { header, body }) {
        store_bytes(path, &bytes);
    }
}

/// Writes a cache file atomically, creating its folder, and removes the outdated caches beside
/// it; a failure is ignored.
pub(crate) fn store_bytes(path: &Path, bytes: &[u8]) {
    write(path, bytes);
    if let Some(dir) = path.parent() {
        for old in OUTDATED {
            let _ = std::fs::remove_file(dir.join(old));
        }
    }
}

/// Cache files of earlier versions of opl that this one does not read: removed when a cache is
/// written beside them (they would otherwise stay in the repository, unused).
const OUTDATED: &[&str] = &[
    "history-v1.json",
    "audit-v1.json",
    "last-change-v1.json",
    "history-v2.json",
];

/// Writes the bytes of a cache file atomically, creating its folder; a failure is ignored.
pub(crate) fn write(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent()
        && std::fs::create_dir_all(dir).is_ok()
    {
        let _ = crate::write::write_atomic(path, bytes, crate::write::Overwrite::Allowed);
    }
}

const AUDIT_VERSION: u32 = 2;
const AUDIT_FILE: &str = "audit-v2.json";

/// Agents of one audited commit that changed alike (a change to a shared layer changes hundreds
/// of agents the same way): one entry for all of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Group {
    client: Option<String>,
    status: Status,
    keys: Vec<String>,
    widening: Vec<(String, String)>,
    agents: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct AuditFile {
    /// (commit, first parent or "" for none, the agents it changed).
    commits: Vec<(String, String, Vec<Group>)>,
}

/// The audit cache: the agents each (commit, first parent) pair changed, as `opl audit` reports
/// them. Kept, read and written as the history cache is (see the module's text); also ignored
/// when another version of opl wrote it.
pub struct AuditCache {
    path: PathBuf,
    prefix: String,
    commits: HashMap<Pair, Vec<Group>>,
    added: usize,
    /// The pairs this audit read or added.
    used: std::collections::HashSet<Pair>,
}

/// An audited commit and its first parent (none for a root commit or a shallow clone's cut).
type Pair = (Id, Option<Id>);

/// Most agent changes the audit cache keeps across audits (a commit to `global/` of a large
/// repository changes thousands): beyond this, an audit writes back only the commits it used.
const AUDIT_AGENT_CHANGES: usize = 2_000_000;

impl AuditCache {
    /// The audit cache of `git`'s repository for its config root; empty when missing or unusable.
    pub fn open(git: &Git) -> AuditCache {
        let path = git.cache_dir().join(AUDIT_FILE);
        let prefix = git.prefix().to_string();
        let commits = load::<AuditFile>(&path, &Header::new(AUDIT_VERSION, &prefix, true))
            .map(|f| {
                f.commits
                    .into_iter()
                    .filter_map(|(c, p, g)| {
                        let parent = if p.is_empty() {
                            None
                        } else {
                            Some(Id::parse(&p)?)
                        };
                        Some(((Id::parse(&c)?, parent), g))
                    })
                    .collect()
            })
            .unwrap_or_default();
        AuditCache {
            path,
            prefix,
            commits,
            added: 0,
            used: Default::default(),
        }
    }

    /// The rows of `commit` against `parent`, in agent order, when the cache has them.
    pub fn rows(
        &mut self,
        commit: Id,
        parent: Option<Id>,
        names: &super::audit::Names,
    ) -> Option<Vec<AgentRow>> {
        let groups = self.commits.get(&(commit, parent))?;
        self.used.insert((commit, parent));
        let mut rows: Vec<AgentRow> = groups
            .iter()
            .flat_map(|g| {
                // The agents of a group share its keys and widenings.
                let keys: Arc<[String]> = g.keys.as_slice().into();
                let widening: Arc<[(String, String)]> = g.widening.as_slice().into();
                let client = g.client.as_deref().map(|c| names.get(c));
                g.agents.iter().map(move |a| AgentRow {
                    agent: names.get(a),
                    client: client.clone(),
                    status: g.status,
                    keys: keys.clone(),
                    widening: widening.clone(),
                })
            })
            .collect();
        rows.sort_by(|a, b| a.agent.cmp(&b.agent));
        Some(rows)
    }

    /// Remembers the rows of `commit` against `parent`.
    pub fn insert(&mut self, commit: Id, parent: Option<Id>, rows: &[AgentRow]) {
        let mut groups: Vec<Group> = Vec::new();
        /// What agents of one group share.
        type Alike<'a> = (
            Option<&'a str>,
            Status,
            &'a [String],
            &'a [(String, String)],
        );
        let mut at: HashMap<Alike, usize> = HashMap::new();
        for r in rows {
            let k = (r.client.as_deref(), r.status, &r.keys[..], &r.widening[..]);
            let i = *at.entry(k).or_insert_with(|| {
                groups.push(Group {
                    client: r.client.as_deref().map(String::from),
                    status: r.status,
                    keys: r.keys.to_vec(),
                    widening: r.widening.to_vec(),
                    agents: Vec::new(),
                });
                groups.len() - 1
            });
            groups[i].agents.push(r.agent.to_string());
        }
        self.commits.insert((commit, parent), groups);
        self.used.insert((commit, parent));
        self.added += 1;
    }

    /// The pairs to write back: all of them, or only those this audit used when all of them
    /// hold more than `cap` agent changes.
    fn kept(&self, cap: usize) -> Vec<(&Pair, &Vec<Group>)> {
        let size: usize = self
            .commits
            .values()
            .flatten()
            .map(|g| g.agents.len())
            .sum();
        self.commits
            .iter()
            .filter(|(k, _)| size <= cap || self.used.contains(*k))
            .collect()
    }

    /// Writes the cache back when an audit added to it; a failure is ignored.
    pub fn save(&self) {
        if self.added == 0 {
            return;
        }
        let mut commits: Vec<(String, String, Vec<Group>)> = self
            .kept(AUDIT_AGENT_CHANGES)
            .into_iter()
            .map(|((c, p), g)| {
                let p = p.map(|p| p.to_string()).unwrap_or_default();
                (c.to_string(), p, g.clone())
            })
            .collect();
        commits.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        store(
            &self.path,
            Header::new(AUDIT_VERSION, &self.prefix, true),
            AuditFile { commits },
        );
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
        root_before: root.iter().map(|n| tp.entry(n)).collect(),
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
    if !out.clients.is_empty()
        && let Some((a, _)) = tp.find(layout::CLIENTS, true)
    {
        let clients = trees.raw(git, a)?;
        out.clients_before = out.clients.iter().map(|n| clients.entry(n)).collect();
    }
    Ok(out)
}

const LAST_VERSION: u32 = 2;
const LAST_FILE: &str = "last-change-v2.json";
/// How many revisions the last-change cache remembers (the newest asked).
const LAST_HEADS: usize = 4;

/// One agent's last change at a revision: its digest there, the commit, and whether that commit
/// is a shallow clone's cut.
type LastEntry = (String, Option<String>, Option<String>, bool);

#[derive(Serialize, Deserialize)]
struct LastFile {
    /// (revision's commit, where a shallow clone's history is cut, its agents), newest asked
    /// first.
    heads: Vec<(String, String, Vec<LastEntry>)>,
}

/// The last-change cache: for the last few commits `opl inventory` was asked about, each agent's
/// digest there and the newest commit that changed it. Kept, read and written as the history
/// cache is; ignored when another version of opl wrote it (digests are its rendering).
pub struct LastCache {
    path: PathBuf,
    prefix: String,
    heads: Vec<(Id, String, Known)>,
}

/// Each agent's digest at a revision, last change and whether that is a shallow clone's cut.
type Known = BTreeMap<String, (Option<String>, Option<Id>, bool)>;

/// Where `git`'s history is cut (a shallow clone's boundary commits), as one string: an answer
/// found with one cut is not the answer with another.
pub fn cut_of(git: &Git) -> String {
    let mut ids: Vec<String> = git.shallow_boundary().iter().map(Id::to_string).collect();
    ids.sort();
    ids.join(",")
}

impl LastCache {
    /// The last-change cache of `git`'s repository for its config root; empty when unusable.
    pub fn open(git: &Git) -> LastCache {
        let path = git.cache_dir().join(LAST_FILE);
        let prefix = git.prefix().to_string();
        let heads = load::<LastFile>(&path, &Header::new(LAST_VERSION, &prefix, true))
            .map(|f| {
                f.heads
                    .into_iter()
                    .filter_map(|(h, cut, entries)| {
                        let agents = entries
                            .into_iter()
                            .map(|(a, d, c, b)| {
                                let c = match c {
                                    Some(c) => Some(Id::parse(&c)?),
                                    None => None,
                                };
                                Some((a, (d, c, b)))
                            })
                            .collect::<Option<BTreeMap<_, _>>>()?;
                        Some((Id::parse(&h)?, cut, agents))
                    })
                    .collect()
            })
            .unwrap_or_default();
        LastCache {
            path,
            prefix,
            heads,
        }
    }

    /// The last changes of `agents` at `head`, when the cache has every one of them.
    pub fn get(
        &self,
        git: &Git,
        head: Id,
        cut: &str,
        agents: &[String],
    ) -> Result<Option<BTreeMap<String, LastChange>>, GitError> {
        let Some((_, _, known)) = self.heads.iter().find(|(h, c, _)| *h == head && c == cut) else {
            return Ok(None);
        };
        if !agents.iter().all(|a| known.contains_key(a)) {
            return Ok(None);
        }
        let mut metas: HashMap<Id, CommitMeta> = HashMap::new();
        let mut out = BTreeMap::new();
        for a in agents {
            let (digest, commit, boundary) = &known[a];
            let commit = match commit {
                Some(c) => Some(match metas.get(c) {
                    Some(m) => m.clone(),
                    None => {
                        let m = git.commit_meta(*c)?;
                        metas.insert(*c, m.clone());
                        m
                    }
                }),
                None => None,
            };
            out.insert(
                a.clone(),
                LastChange {
                    digest: digest.clone(),
                    commit,
                    boundary: *boundary,
                },
            );
        }
        Ok(Some(out))
    }

    /// Remembers the last changes found at `head`, as the newest revision asked.
    pub fn insert(&mut self, head: Id, cut: String, found: &BTreeMap<String, LastChange>) {
        let agents = found
            .iter()
            .map(|(a, lc)| {
                let c = lc.commit.as_ref().map(|c| c.id);
                (a.clone(), (lc.digest.clone(), c, lc.boundary))
            })
            .collect();
        self.heads.retain(|(h, c, _)| *h != head || *c != cut);
        self.heads.insert(0, (head, cut, agents));
        self.heads.truncate(LAST_HEADS);
    }

    /// Writes the cache; a failure is ignored.
    pub fn save(&self) {
        let heads = self
            .heads
            .iter()
            .map(|(h, cut, agents)| {
                let entries = agents
                    .iter()
                    .map(|(a, (d, c, b))| (a.clone(), d.clone(), c.map(|c| c.to_string()), *b))
                    .collect();
                (h.to_string(), cut.clone(), entries)
            })
            .collect();
        store(
            &self.path,
            Header::new(LAST_VERSION, &self.prefix, true),
            LastFile { heads },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_audit_cache_keeps_only_what_the_audit_used() {
        let id = |n: u8| Id::parse(&format!("{n:02x}").repeat(20)).unwrap();
        let group = |agents: usize| Group {
            client: None,
            status: Status::Changed,
            keys: vec!["model.name".into()],
            widening: Vec::new(),
            agents: (0..agents).map(|i| format!("a{i}")).collect(),
        };
        let mut c = AuditCache {
            path: PathBuf::new(),
            prefix: String::new(),
            commits: HashMap::new(),
            added: 0,
            used: Default::default(),
        };
        c.commits.insert((id(1), Some(id(2))), vec![group(3)]);
        c.commits
            .insert((id(2), Some(id(3))), vec![group(2), group(2)]);
        c.commits.insert((id(3), None), vec![group(1)]);
        assert!(c.rows(id(2), Some(id(3)), &Default::default()).is_some());
        c.insert(id(4), Some(id(1)), &[]);
        // 8 agent changes in all: under a cap of 8 everything stays.
        assert_eq!(c.kept(8).len(), 4);
        // Over it, the pair read and the pair added.
        let mut kept: Vec<_> = c.kept(7).into_iter().map(|(k, _)| *k).collect();
        kept.sort();
        assert_eq!(kept, [(id(2), Some(id(3))), (id(4), Some(id(1)))]);
    }

    #[test]
    fn pairs_read_back_as_written_and_a_body_that_is_not_whole_is_refused() {
        let id = |b: u8| Id::from_bytes(&[b; 20]).unwrap();
        let mut pairs: HashKeyed<(Id, Id), Changes> = HashKeyed::default();
        pairs.insert((id(1), id(2)), Changes::default());
        pairs.insert(
            (id(3), id(1)),
            Changes {
                all: false,
                root: vec!["global".into(), "clients".into(), "opl.toml".into()],
                agents: vec!["bot.toml".into()],
                clients: vec!["acme".into(), "beta".into()],
                root_before: vec![
                    Some((id(7), EntryKind::Dir)),
                    Some((id(8), EntryKind::Dir)),
                    None,
                ],
                clients_before: vec![None, Some((id(9), EntryKind::Symlink))],
            },
        );
        pairs.insert(
            (id(3), id(4)),
            Changes {
                all: true,
                ..Changes::default()
            },
        );
        let body = encode_pairs(&pairs);
        assert_eq!(decode_pairs(&body), Some(pairs.clone()));
        let ch = &pairs[&(id(3), id(1))];
        assert_eq!(ch.root_before("opl.toml"), Some(None));
        assert_eq!(
            ch.root_before("global"),
            Some(Some((id(7), EntryKind::Dir)))
        );
        assert_eq!(ch.root_before("agents"), None);
        assert_eq!(
            ch.client_before("beta"),
            Some(Some((id(9), EntryKind::Symlink)))
        );
        assert_eq!(ch.client_before("gamma"), None);
        // Cut anywhere, or with a byte more: refused.
        for cut in 0..body.len() {
            assert_eq!(decode_pairs(&body[..cut]), None, "cut at {cut}");
        }
        let mut longer = body.clone();
        longer.push(0);
        assert_eq!(decode_pairs(&longer), None);
    }
}
