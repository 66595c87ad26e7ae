//! History of one agent's effective config over commits (spec section 8): log, blame, whence.
//!
//! Never renders every commit. For each commit, the ids of the tree entries the agent depends on
//! (`opl.toml`, `global/`, its client's folder, its own file or folder, fragment files outside
//! those) form a key; the effective config is rendered once per distinct key and shared. A commit
//! whose key equals its parent's has the same value without any comparison of leaves.

pub mod audit;
pub mod bin;
pub mod cache;
pub mod commits;

use std::collections::{BTreeMap, BinaryHeap, HashSet};

use crate::keyed::{HashKeyed, HashSetKeyed};
use std::sync::Arc;

use serde_json::Value as Json;

use crate::diagnostic::Code;
use crate::diff::{Change, Leaves};
use crate::git::{CommitMeta, Git, GitError, Id, State};
use crate::merge::provenance::provenance;
use crate::merge::stack::Stacks;
use crate::model::key_path::KeyPath;
use crate::render::{digest, document};
use crate::repo::layer::load_selected;
use crate::repo::layout;
use crate::repo::layout::Selection;
use crate::repo::snapshot::EntryKind;

/// The rendered document's leaves with their origins.
#[derive(Debug)]
pub struct Doc {
    pub digest: String,
    pub client: Option<String>,
    pub leaves: Leaves,
}

/// `eff(A, C)`: absent, invalid, or the rendered document.
#[derive(Debug)]
pub enum AgentState {
    Absent,
    /// The document cannot be built; the codes of the errors that prevent it.
    Invalid(Vec<Code>),
    Present(Doc),
}

/// Which of the three a state is (spec section 8), without its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StateKind {
    Absent,
    Invalid,
    Present,
}

impl StateKind {
    /// `absent`, `invalid` or `present`.
    pub fn word(self) -> &'static str {
        match self {
            StateKind::Absent => "absent",
            StateKind::Invalid => "invalid",
            StateKind::Present => "present",
        }
    }
}

impl std::fmt::Display for StateKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

impl AgentState {
    /// Which of the three the state is.
    pub fn kind(&self) -> StateKind {
        match self {
            AgentState::Absent => StateKind::Absent,
            AgentState::Invalid(_) => StateKind::Invalid,
            AgentState::Present(_) => StateKind::Present,
        }
    }
    /// A short word for the state.
    pub fn word(&self) -> &'static str {
        self.kind().word()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct BaseKey {
    root: Option<(Id, EntryKind)>,
    global: Option<(Id, EntryKind)>,
    agent_file: Option<(Id, EntryKind)>,
    agent_dir: Option<(Id, EntryKind)>,
    client: Option<(String, Option<(Id, EntryKind)>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    base: BaseKey,
    externals: Vec<Option<(Id, EntryKind)>>,
}

/// The value of a key path (and everything under it) in a state; `None` when absent.
pub fn value_at<'a>(state: &'a AgentState, key: Option<&KeyPath>) -> Value<'a> {
    match state {
        AgentState::Absent => Value::Absent,
        AgentState::Invalid(_) => Value::Invalid,
        AgentState::Present(d) => {
            // Paths are ordered segment by segment: those under `key` follow it, together.
            let leaves: Vec<(&'a KeyPath, &'a Json)> = match key {
                None => d.leaves.iter().map(|(p, (v, _))| (p, v)).collect(),
                Some(k) => d
                    .leaves
                    .range::<KeyPath, _>((std::ops::Bound::Included(k), std::ops::Bound::Unbounded))
                    .take_while(|(p, _)| p.starts_with(k))
                    .map(|(p, (v, _))| (p, v))
                    .collect(),
            };
            if leaves.is_empty() {
                Value::Absent
            } else {
                Value::Leaves(leaves)
            }
        }
    }
}

/// A comparable value: absent, invalid, or leaves (path -> value).
#[derive(Debug, PartialEq)]
pub enum Value<'a> {
    Absent,
    Invalid,
    Leaves(Vec<(&'a KeyPath, &'a Json)>),
}

/// One agent's history engine with its caches.
pub struct Engine<'g> {
    git: &'g Git,
    agent: String,
    keys: HashKeyed<Id, Arc<Key>>,
    states: HashKeyed<Arc<Key>, Arc<AgentState>>,
    /// The state of each commit asked for so far (a lookup by id instead of by key: a walk asks
    /// for the same commits' states many times).
    by_commit: HashKeyed<Id, Arc<AgentState>>,
    /// The names of the agent's own entries in `agents/` (its file and its folder).
    own_entries: [String; 2],
    clients: HashKeyed<(Option<Id>, Option<Id>), Option<String>>,
    externals: HashKeyed<BaseKey, Vec<String>>,
    /// Number of documents rendered (for tests and benchmarks).
    pub renders: usize,
}

impl<'g> Engine<'g> {
    /// An engine for `agent`.
    pub fn new(git: &'g Git, agent: &str) -> Self {
        Engine {
            git,
            agent: agent.to_string(),
            keys: HashKeyed::default(),
            states: HashKeyed::default(),
            by_commit: HashKeyed::default(),
            own_entries: [layout::agent_file(agent), layout::agent_folder(agent)].map(|p| {
                p.strip_prefix(layout::AGENTS)
                    .and_then(|r| r.strip_prefix('/'))
                    .unwrap_or(&p)
                    .to_string()
            }),
            clients: HashKeyed::default(),
            externals: HashKeyed::default(),
            renders: 0,
        }
    }

    /// True when a state rendered so far read a fragment outside the global layer, the agent's
    /// client folder and its own files.
    fn reads_outside(&self) -> bool {
        self.externals.values().any(|v| !v.is_empty())
    }

    fn client_of(
        &mut self,
        file: Option<(Id, EntryKind)>,
        dir: Option<(Id, EntryKind)>,
    ) -> Result<Option<String>, GitError> {
        let k = (file.map(|f| f.0), dir.map(|d| d.0));
        if let Some(c) = self.clients.get(&k) {
            return Ok(c.clone());
        }
        let mut blobs = Vec::new();
        if let Some((id, EntryKind::File)) = file {
            blobs.push(id);
        }
        if let Some((id, EntryKind::Dir)) = dir {
            blobs.extend(self.git.toml_blobs(id)?.into_iter().map(|(_, b)| b));
        }
        let mut client = None;
        for b in blobs {
            let bytes = self.git.blob(b)?;
            if let Some(c) = std::str::from_utf8(&bytes)
                .ok()
                .and_then(layout::client_in_text)
            {
                client = Some(c);
            }
        }
        self.clients.insert(k, client.clone());
        Ok(client)
    }

    /// The ids of `opl.toml`, `global/`, the agent's own entries and its client's folder.
    fn base(&mut self, commit: Id) -> Result<BaseKey, GitError> {
        let a = &self.agent;
        let paths = layout::agent_reads(a, None);
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let ids = self.git.entry_ids(commit, &paths)?;
        let (root, global, agent_file, agent_dir) = (ids[0], ids[1], ids[2], ids[3]);
        let client = match self.client_of(agent_file, agent_dir)? {
            Some(c) => {
                let id = self.git.entry_ids(commit, &[&layout::client_folder(&c)])?[0];
                Some((c, id))
            }
            None => None,
        };
        Ok(BaseKey {
            root,
            global,
            agent_file,
            agent_dir,
            client,
        })
    }

    /// True when `state(commit)` would render (nothing cached serves it).
    fn needs_render(&mut self, commit: Id) -> Result<bool, GitError> {
        if let Some(k) = self.keys.get(&commit) {
            return Ok(!self.states.contains_key(k));
        }
        let base = self.base(commit)?;
        if !self.externals.contains_key(&base) {
            return Ok(true);
        }
        let key = self.key_of(commit, base)?;
        Ok(!self.states.contains_key(&key))
    }

    /// Gives the engine the state at `commit` rendered elsewhere (several agents at once).
    fn prime(
        &mut self,
        commit: Id,
        state: AgentState,
        externals: Vec<String>,
    ) -> Result<(), GitError> {
        let base = self.base(commit)?;
        self.externals.entry(base.clone()).or_insert(externals);
        let key = self.key_of(commit, base)?;
        self.states.entry(key).or_insert_with(|| Arc::new(state));
        Ok(())
    }

    fn key(&mut self, commit: Id) -> Result<Arc<Key>, GitError> {
        if let Some(k) = self.keys.get(&commit) {
            return Ok(k.clone());
        }
        let base = self.base(commit)?;
        self.key_of(commit, base)
    }

    /// The key of `commit`, whose base is `base`; remembered for the commit.
    fn key_of(&mut self, commit: Id, base: BaseKey) -> Result<Arc<Key>, GitError> {
        // Which fragment files outside its folders the agent reads is a function of the base
        // (the layer files name them) and is known from a render: render once per new base.
        let rendered = match self.externals.get(&base) {
            Some(_) => None,
            None => {
                let probe = Key {
                    base: base.clone(),
                    externals: Vec::new(),
                };
                let (state, paths) = self.render(commit, &probe)?;
                self.renders += 1;
                self.externals.insert(base.clone(), paths);
                Some(state)
            }
        };
        let externals = match self.externals.get(&base) {
            Some(paths) if !paths.is_empty() => {
                let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
                self.git.entry_ids(commit, &refs)?
            }
            _ => Vec::new(),
        };
        let key = Arc::new(Key { base, externals });
        if let Some(state) = rendered {
            self.states
                .entry(key.clone())
                .or_insert_with(|| Arc::new(state));
        }
        self.keys.insert(commit, key.clone());
        Ok(key)
    }

    /// `eff(A, C)`.
    pub fn state(&mut self, commit: Id) -> Result<Arc<AgentState>, GitError> {
        if let Some(s) = self.by_commit.get(&commit) {
            return Ok(s.clone());
        }
        let key = self.key(commit)?;
        let state = match self.states.get(&key) {
            Some(s) => s.clone(),
            None => {
                let (state, externals) = self.render(commit, &key)?;
                self.renders += 1;
                self.externals.entry(key.base.clone()).or_insert(externals);
                let state = Arc::new(state);
                self.states.insert(key, state.clone());
                state
            }
        };
        self.by_commit.insert(commit, state.clone());
        Ok(state)
    }

    fn render(&self, commit: Id, key: &Key) -> Result<(AgentState, Vec<String>), GitError> {
        if key.base.root.is_none()
            || (key.base.agent_file.is_none() && key.base.agent_dir.is_none())
        {
            return Ok((AgentState::Absent, Vec::new()));
        }
        let clients: Vec<String> = key.base.client.iter().map(|(c, _)| c.clone()).collect();
        // The key holds the agent's entries: the 10,000-entry `agents/` tree is not read again.
        let snap = self.git.snapshot_of_agent(
            commit,
            &self.agent,
            [key.base.agent_file, key.base.agent_dir],
            &clients,
        )?;
        if !snap.has_root() {
            return Ok((AgentState::Absent, Vec::new()));
        }
        render_snapshot(&snap, &self.agent).map_err(|e| GitError(e.to_string()))
    }

    /// Gives `parent` its key from the key of `commit` and what changed between them: the
    /// entries that changed (`opl.toml`, `global/`, the client's folder) are the parent's, which
    /// the history cache holds, and no tree is read. Nothing happens when the key of `commit` is
    /// not known yet, when the agent's own entries changed, or when the agent reads fragments
    /// outside its folders: the key is then computed from the trees.
    pub fn link(
        &mut self,
        parent: Id,
        commit: Id,
        changes: &cache::Changes,
    ) -> Result<(), GitError> {
        if changes.all || self.keys.contains_key(&parent) || self.reads_outside() {
            return Ok(());
        }
        let Some(k) = self.keys.get(&commit).cloned() else {
            return Ok(());
        };
        if !k.externals.is_empty() || changes.agents.iter().any(|n| self.own_entries.contains(n)) {
            return Ok(());
        }
        // What changed is the parent's entry, from the history cache; what did not is the
        // commit's.
        let mut base = k.base.clone();
        if let Some(e) = changes.root_before(layout::ROOT_CONFIG) {
            base.root = e;
        }
        if let Some(e) = changes.root_before(layout::GLOBAL) {
            base.global = e;
        }
        if let Some((c, id)) = &mut base.client
            && let Some(e) = changes.client_before(c)
        {
            *id = e;
        }
        let key = if base == k.base {
            k
        } else {
            Arc::new(Key {
                base,
                externals: Vec::new(),
            })
        };
        self.keys.insert(parent, key);
        Ok(())
    }

    /// Learns the key of `commit` and passes it on to each of `parents` the history cache says
    /// it can go to ([`Engine::link`]): one step of a walk from newer commits to older ones.
    pub(crate) fn step(
        &mut self,
        cache: &mut cache::Cache,
        trees: &mut Trees,
        commit: Id,
        parents: &[Id],
    ) -> Result<(), GitError> {
        self.key(commit)?;
        for p in parents {
            let ch = cache.changes(self.git, trees, *p, commit)?;
            self.link(*p, commit, ch)?;
        }
        Ok(())
    }

    /// True when the two commits have the same value at `key`.
    pub fn same(&mut self, a: Id, b: Id, key: Option<&KeyPath>) -> Result<bool, GitError> {
        let (ka, kb) = (self.key(a)?, self.key(b)?);
        if ka == kb {
            return Ok(true);
        }
        let (sa, sb) = (self.state(a)?, self.state(b)?);
        if Arc::ptr_eq(&sa, &sb) {
            return Ok(true);
        }
        Ok(value_at(&sa, key) == value_at(&sb, key))
    }
}

/// `eff(A, S)` of one snapshot, and the fragment files it uses outside the global layer, its
/// client's folder and its own folder.
pub fn render_snapshot(
    snap: &dyn crate::repo::snapshot::Snapshot,
    agent: &str,
) -> std::io::Result<(AgentState, Vec<String>)> {
    let agents = [agent.to_string()];
    let mut all = render_many(snap, &agents)?;
    Ok(all.pop().expect("one state per agent"))
}

/// [`render_snapshot`] for several agents of one snapshot, loaded once; in the agents' order.
pub fn render_many(
    snap: &dyn crate::repo::snapshot::Snapshot,
    agents: &[String],
) -> std::io::Result<Vec<(AgentState, Vec<String>)>> {
    use rayon::prelude::*;
    let repo = load_selected(snap, &Selection::Agents(agents.iter().cloned().collect()))?;
    if repo.root_file.is_none() {
        return Ok(agents
            .iter()
            .map(|_| (AgentState::Absent, Vec::new()))
            .collect());
    }
    let stacks = Stacks::new(&repo);
    Ok(agents
        .par_iter()
        .map(|a| agent_state(&repo, &stacks, a))
        .collect())
}

fn agent_state(
    repo: &crate::repo::layer::Repo,
    stacks: &Stacks,
    agent: &str,
) -> (AgentState, Vec<String>) {
    let Some(r) = stacks.agent(agent) else {
        return (AgentState::Absent, Vec::new());
    };
    let client = r.client.clone();
    let layers = [
        Some(&repo.global),
        client.as_deref().and_then(|c| repo.clients.get(c)),
        repo.agents.get(agent),
    ];
    let mut externals: Vec<String> = layers
        .into_iter()
        .flatten()
        .flat_map(|l| l.files.iter().flat_map(|f| f.fragments.iter()))
        .map(|f| f.path.clone())
        .filter(|p| !layout::in_agents_layers(p, agent, client.as_deref()))
        .collect();
    externals.sort();
    externals.dedup();
    if !r.buildable() {
        let codes = crate::diagnostic::codes_of(r.all_findings().filter(|f| f.blocks_document()));
        return (AgentState::Invalid(codes), externals);
    }
    let doc = document(repo, agent, &r.eff);
    let leaves = provenance(repo, &r, Some(&doc))
        .into_iter()
        .map(|p| (p.key_path, (p.value, p.origin)))
        .collect();
    (
        AgentState::Present(Doc {
            digest: digest(&doc),
            client,
            leaves,
        }),
        externals,
    )
}

/// The leaf changes from `old` to `new` under `key` (an absent or invalid state has no leaves).
pub fn changes(old: &AgentState, new: &AgentState, key: Option<&KeyPath>) -> Vec<Change> {
    let empty = Leaves::new();
    let (lo, ln) = (
        match old {
            AgentState::Present(d) => &d.leaves,
            _ => &empty,
        },
        match new {
            AgentState::Present(d) => &d.leaves,
            _ => &empty,
        },
    );
    crate::diff::changes(lo, ln, key)
}

/// A commit of the log with the changes it made.
#[derive(Debug)]
pub struct LogEntry {
    pub commit: CommitMeta,
    pub state: StateKind,
    /// The state at the first parent (`absent` for a root commit).
    pub before: StateKind,
    pub changes: Vec<Change>,
    /// The commit is where a shallow clone's history is cut: what came before is unknown.
    pub boundary: bool,
}

/// Options of a log walk.
pub struct LogOptions<'a> {
    pub rev: &'a str,
    pub key: Option<&'a KeyPath>,
    pub max: Option<usize>,
    pub since: Option<i64>,
    pub first_parent: bool,
}

/// The parents a walk compares `c` with: none where a shallow clone's history is cut (`cut`:
/// their commits are not in the clone), the first only when `first_parent`, else all.
pub(crate) fn walked_parents(c: &CommitMeta, cut: &HashSet<Id>, first_parent: bool) -> Vec<Id> {
    if cut.contains(&c.id) {
        Vec::new()
    } else if first_parent {
        c.parents.iter().take(1).copied().collect()
    } else {
        c.parents.clone()
    }
}

/// The commits a walk from `rev` takes ([`Git::log`]) and the history cache, read side by side:
/// the cache file (tens of megabytes on a long history) is parsed while git lists the commits.
fn commits_and_cache(
    git: &Git,
    rev: &str,
    first_parent: bool,
    since: Option<i64>,
) -> Result<(Vec<CommitMeta>, cache::Cache), GitError> {
    std::thread::scope(|s| {
        let cache = s.spawn(|| cache::Cache::open(git));
        let commits = commits::log(git, rev, first_parent, since);
        let cache = cache
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        Ok((commits?, cache))
    })
}

/// The commits that changed the agent's value (spec 8), newest first.
pub fn log(
    engine: &mut Engine,
    opts: &LogOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<LogEntry>, GitError> {
    let (commits, mut cache) =
        commits_and_cache(engine.git, opts.rev, opts.first_parent, opts.since)?;
    let boundary = engine.git.shallow_boundary();
    let mut ahead = cache::ReadAhead::new(engine.git);
    let mut trees = Trees::default();
    let mut out = Vec::new();
    let total = commits.len();
    let parents_of = |c: &CommitMeta| walked_parents(c, &boundary, opts.first_parent);
    for (i, c) in commits.iter().enumerate() {
        if opts.max.is_some_and(|m| out.len() >= m) {
            break;
        }
        progress(i, total);
        ahead.before(&mut cache, &commits, i, parents_of);
        let cut = boundary.contains(&c.id);
        let parents = parents_of(c);
        let differs = if parents.is_empty() {
            let st = engine.state(c.id)?;
            !matches!(value_at(&st, opts.key), Value::Absent)
        } else {
            engine.step(&mut cache, &mut trees, c.id, &parents)?;
            let mut all = true;
            for p in &parents {
                if engine.same(*p, c.id, opts.key)? {
                    all = false;
                    break;
                }
            }
            all
        };
        if !differs {
            continue;
        }
        let new = engine.state(c.id)?;
        let old = match parents.first() {
            Some(p) => engine.state(*p)?,
            None => Arc::new(AgentState::Absent),
        };
        let is_boundary = cut;
        out.push(LogEntry {
            changes: changes(&old, &new, opts.key),
            before: old.kind(),
            state: new.kind(),
            commit: c.clone(),
            boundary: is_boundary,
        });
    }
    cache.save();
    Ok(out)
}

/// Where the walk of [`last_changes`] stands for one agent.
pub struct LastChange {
    /// The digest of the agent's document at the revision (`None`: absent or invalid there).
    pub digest: Option<String>,
    /// The newest commit that changed its value; `None` when no commit did (the agent is absent).
    pub commit: Option<CommitMeta>,
    /// The commit is where a shallow clone's history is cut: the value is at least that old.
    pub boundary: bool,
}

/// The newest commit that changed each agent's value, exactly as `opl log -n 1` finds it, for many
/// agents in one walk. A commit is examined for an agent only when the commit's tree differs from
/// its parents' where the agent reads: `opl.toml`, `global/` or any other file at the root (every
/// agent), the agent's own entry under `agents/`, its client's folder under `clients/` (the client
/// named by the agent's file on either side), or anything at all for an agent known to read a
/// fragment outside those folders.
///
/// The answer for a revision is kept in the last-change cache ([`cache::LastCache`]): asked again
/// at the same commit, nothing is walked or rendered.
pub fn last_changes(
    git: &Git,
    rev: &str,
    agents: &[String],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BTreeMap<String, LastChange>, GitError> {
    let head = git.resolve_id(rev)?;
    let cut = cache::cut_of(git);
    let mut cache = cache::LastCache::open(git);
    if let Some(found) = cache.get(git, head, &cut, agents)? {
        return Ok(found);
    }
    let found = walk_last_changes(git, rev, head, agents, progress)?;
    cache.insert(head, cut, &found);
    cache.save();
    Ok(found)
}

fn walk_last_changes(
    git: &Git,
    rev: &str,
    head: Id,
    agents: &[String],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<BTreeMap<String, LastChange>, GitError> {
    let commits = commits::log(git, rev, false, None)?;
    let boundary = git.shallow_boundary();
    let mut pending: BTreeMap<String, Engine> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for a in agents {
        pending.insert(a.clone(), Engine::new(git, a));
    }
    prime_many(git, head, &mut pending, agents)?;
    for (a, e) in pending.iter_mut() {
        let digest = match &*e.state(head)? {
            AgentState::Present(d) => Some(d.digest.clone()),
            _ => None,
        };
        out.insert(
            a.clone(),
            LastChange {
                digest,
                commit: None,
                boundary: false,
            },
        );
    }
    let mut trees = Trees::default();
    let total = commits.len();
    for (i, c) in commits.into_iter().enumerate() {
        if pending.is_empty() {
            break;
        }
        progress(i, total);
        let cut = boundary.contains(&c.id);
        let parents = walked_parents(&c, &boundary, false);
        // An agent changes in a commit only when it differs from every parent.
        let mut candidates: Option<HashSet<String>> = None;
        for p in &parents {
            if let Some(set) = trees.may_differ(git, *p, c.id, &mut pending)? {
                candidates = Some(match candidates {
                    None => set,
                    Some(prev) => prev.intersection(&set).cloned().collect(),
                });
            }
        }
        let ids: Vec<String> = match candidates {
            None => pending.keys().cloned().collect(),
            Some(set) => {
                let mut v: Vec<String> = set.into_iter().collect();
                v.sort();
                v
            }
        };
        if ids.len() >= BATCH {
            for x in std::iter::once(c.id).chain(parents.iter().copied()) {
                prime_many(git, x, &mut pending, &ids)?;
            }
        }
        for a in ids {
            let Some(e) = pending.get_mut(&a) else {
                continue;
            };
            let differs = if parents.is_empty() {
                !matches!(value_at(&*e.state(c.id)?, None), Value::Absent)
            } else {
                let mut all = true;
                for p in &parents {
                    if e.same(*p, c.id, None)? {
                        all = false;
                        break;
                    }
                }
                all
            };
            if differs {
                pending.remove(&a);
                if let Some(lc) = out.get_mut(&a) {
                    lc.commit = Some(c.clone());
                    lc.boundary = cut;
                }
            }
        }
    }
    Ok(out)
}

/// From this many agents on, states at one commit are rendered from one loaded snapshot.
const BATCH: usize = 16;

/// Renders, from one snapshot of `commit`, the states the engines of `ids` do not have yet.
fn prime_many(
    git: &Git,
    commit: Id,
    engines: &mut BTreeMap<String, Engine>,
    ids: &[String],
) -> Result<(), GitError> {
    let mut need = Vec::new();
    for a in ids {
        if let Some(e) = engines.get_mut(a)
            && e.needs_render(commit)?
        {
            need.push(a.clone());
        }
    }
    if need.len() < BATCH {
        return Ok(());
    }
    // Listed like an engine's own snapshot: these agents' entries only, so a state rendered here
    // equals the one the engine would render.
    let snap = git.snapshot_in(&State::Commit(commit), Some(&need), None)?;
    let states = if snap.has_root() {
        render_many(&snap, &need).map_err(|e| GitError(e.to_string()))?
    } else {
        need.iter()
            .map(|_| (AgentState::Absent, Vec::new()))
            .collect()
    };
    for (a, (state, externals)) in need.iter().zip(states) {
        if let Some(e) = engines.get_mut(a) {
            e.renders += 1;
            e.prime(commit, state, externals)?;
        }
    }
    Ok(())
}

/// Trees read during a [`last_changes`] walk: the config root of each commit, and the last raw
/// trees read (a commit's parent is usually the next commit examined).
#[derive(Default)]
pub(crate) struct Trees {
    roots: HashKeyed<Id, Option<Id>>,
    raw: HashKeyed<Id, Arc<crate::git::RawTree>>,
}

impl Trees {
    fn root(&mut self, git: &Git, commit: Id) -> Result<Option<Id>, GitError> {
        if let Some(r) = self.roots.get(&commit) {
            return Ok(*r);
        }
        let r = git.root_tree(commit)?;
        self.roots.insert(commit, r);
        Ok(r)
    }

    fn raw(&mut self, git: &Git, tree: Id) -> Result<Arc<crate::git::RawTree>, GitError> {
        if let Some(t) = self.raw.get(&tree) {
            return Ok(t.clone());
        }
        if self.raw.len() >= 64 {
            self.raw.clear();
        }
        let t = git.raw_tree(tree)?;
        self.raw.insert(tree, t.clone());
        Ok(t)
    }

    /// The names whose entry differs between two trees; a tree not read yet is parsed like the
    /// other (only where their bytes differ).
    fn changed(&mut self, git: &Git, a: Id, b: Id) -> Result<Vec<String>, GitError> {
        let names = |v: &mut dyn Iterator<Item = &[u8]>| -> Vec<String> {
            v.map(|n| String::from_utf8_lossy(n).into_owned()).collect()
        };
        if a == b {
            return Ok(Vec::new());
        }
        let (ta, tb) = (self.raw.get(&a).cloned(), self.raw.get(&b).cloned());
        let (like, other) = match (ta, tb) {
            (Some(ta), Some(tb)) => return Ok(names(&mut ta.changed_names(&tb).into_iter())),
            (Some(ta), None) => (ta, b),
            (None, Some(tb)) => (tb, a),
            (None, None) => (self.raw(git, a)?, b),
        };
        let (tree, changed) = git.raw_tree_like(other, &like)?;
        if self.raw.len() >= 64 {
            self.raw.clear();
        }
        self.raw.insert(other, Arc::new(tree));
        Ok(names(&mut changed.iter().map(Vec::as_slice)))
    }

    /// A folder of a root tree, when it is one.
    fn folder(
        &mut self,
        git: &Git,
        root: &crate::git::RawTree,
        name: &str,
    ) -> Result<Option<Arc<crate::git::RawTree>>, GitError> {
        match root.find(name, true) {
            Some((id, _)) => Ok(Some(self.raw(git, id)?)),
            None => Ok(None),
        }
    }

    /// The pending agents whose value may differ between a parent and a commit; `None` for all.
    fn may_differ(
        &mut self,
        git: &Git,
        parent: Id,
        commit: Id,
        pending: &mut BTreeMap<String, Engine>,
    ) -> Result<Option<HashSet<String>>, GitError> {
        let (rp, rc) = (self.root(git, parent)?, self.root(git, commit)?);
        if rp == rc {
            return Ok(Some(HashSet::new()));
        }
        let (Some(rp), Some(rc)) = (rp, rc) else {
            return Ok(None);
        };
        let (tp, tc) = (self.raw(git, rp)?, self.raw(git, rc)?);
        let changed = tp.changed_names(&tc);
        if changed
            .iter()
            .any(|n| *n != layout::AGENTS.as_bytes() && *n != layout::CLIENTS.as_bytes())
        {
            return Ok(None);
        }
        let mut set: HashSet<String> = pending
            .iter()
            .filter(|(_, e)| e.reads_outside())
            .map(|(a, _)| a.clone())
            .collect();
        let (ap, ac) = (
            self.folder(git, &tp, layout::AGENTS)?,
            self.folder(git, &tc, layout::AGENTS)?,
        );
        if changed.contains(&layout::AGENTS.as_bytes()) {
            let (Some(ap), Some(ac)) = (&ap, &ac) else {
                return Ok(None);
            };
            for n in ap.changed_names(ac) {
                let n = String::from_utf8_lossy(n);
                let id = n.strip_suffix(".toml").unwrap_or(&n);
                if pending.contains_key(id) {
                    set.insert(id.to_string());
                }
            }
        }
        if changed.contains(&layout::CLIENTS.as_bytes()) {
            let (cp, cc) = (
                self.folder(git, &tp, layout::CLIENTS)?,
                self.folder(git, &tc, layout::CLIENTS)?,
            );
            let (Some(cp), Some(cc)) = (cp, cc) else {
                return Ok(None);
            };
            let clients: HashSet<String> = cp
                .changed_names(&cc)
                .into_iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect();
            for (a, e) in pending.iter_mut() {
                for agents in [&ap, &ac].into_iter().flatten() {
                    let file = agents.find(&format!("{a}.toml"), false);
                    let dir = agents.find(a, true);
                    if let Some(c) = e.client_of(file, dir)?
                        && clients.contains(&c)
                    {
                        set.insert(a.clone());
                    }
                }
            }
        }
        Ok(Some(set))
    }
}

/// Who set one leaf's current value.
#[derive(Debug, Clone)]
pub struct Blame {
    pub path: String,
    pub value: Json,
    /// `None`: not committed yet.
    pub commit: Option<CommitMeta>,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The walk stopped at a shallow-clone boundary: the value is at least this old.
    pub boundary: bool,
}

#[derive(PartialEq, Eq)]
struct Pending {
    time: i64,
    seq: usize,
    commit: Id,
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.time.cmp(&o.time).then(o.seq.cmp(&self.seq))
    }
}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// The commits a blame walk has still to visit: the newest committer time first, the first
/// queued among equal times; each commit once while it waits.
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Pending>,
    queued: HashSetKeyed<Id>,
    seq: usize,
}

impl Queue {
    fn push(&mut self, commit: Id, time: i64) {
        if self.queued.insert(commit) {
            self.seq += 1;
            self.heap.push(Pending {
                time,
                seq: self.seq,
                commit,
            });
        }
    }

    fn pop(&mut self) -> Option<Id> {
        let Pending { commit, .. } = self.heap.pop()?;
        self.queued.remove(&commit);
        Some(commit)
    }
}

/// Blames at a revision, or at the work tree / index (values that differ from HEAD are not
/// committed yet).
pub fn blame_at(
    git: &Git,
    root: &std::path::Path,
    agent: &str,
    rev: Option<&str>,
    staged: bool,
    key: Option<&KeyPath>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Blame>, String> {
    let mut engine = Engine::new(git, agent);
    let start = rev.unwrap_or("HEAD");
    let mut blames = blame(&mut engine, start, key, progress).map_err(|e| e.0)?;
    if rev.is_some() {
        return Ok(blames);
    }
    // The work tree (or index): leaves whose value differs from HEAD are not committed yet.
    let state = if staged {
        let snap = git
            .snapshot_focused(&State::Index, Some(&[agent.to_string()]))
            .map_err(|e| e.0)?;
        render_snapshot(&snap, agent)
    } else {
        render_snapshot(&crate::repo::snapshot::WorkTree::new(root), agent)
    }
    .map_err(|e| e.to_string())?
    .0;
    let AgentState::Present(doc) = state else {
        if matches!(state, AgentState::Absent) {
            let at = if staged {
                State::Index
            } else {
                State::WorkTree
            };
            crate::repo::load::agent_exists(root, git, &at, agent)?;
        }
        return Err(format!(
            "agent `{}` is {} in the {}",
            crate::model::source::safe(agent),
            state.word(),
            if staged { "index" } else { "work tree" }
        ));
    };
    let committed: BTreeMap<String, Blame> =
        blames.drain(..).map(|b| (b.path.clone(), b)).collect();
    let mut out = Vec::new();
    for (path, (value, origin)) in &doc.leaves {
        if key.is_some_and(|k| !path.starts_with(k)) {
            continue;
        }
        let path = crate::check::secret::redact_path(path);
        match committed.get(&path) {
            Some(b) if &b.value == value => out.push(b.clone()),
            _ => out.push(Blame {
                path,
                value: value.clone(),
                commit: None,
                file: origin.as_ref().map(|o| o.file.clone()),
                line: origin.as_ref().map(|o| o.line),
                boundary: false,
            }),
        }
    }
    Ok(out)
}

/// Blames every leaf of the agent at `rev` (those under `key`): `b(C) = b(P)` for the first parent
/// `P` whose value equals, otherwise `C`.
pub fn blame(
    engine: &mut Engine,
    rev: &str,
    key: Option<&KeyPath>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Blame>, GitError> {
    let head = engine.git.resolve_id(rev)?;
    let (commits, mut cache) = commits_and_cache(engine.git, rev, false, None)?;
    let index: HashKeyed<Id, usize> = commits.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let meta = |id: &Id| index.get(id).map(|&i| &commits[i]);
    let boundary = engine.git.shallow_boundary();
    let start = engine.state(head)?;
    let AgentState::Present(doc) = &*start else {
        return Ok(Vec::new());
    };
    let leaves: Vec<(KeyPath, Json)> = doc
        .leaves
        .iter()
        .filter(|(p, _)| key.is_none_or(|k| p.starts_with(k)))
        .map(|(p, (v, _))| (p.clone(), v.clone()))
        .collect();
    // commit -> indexes of leaves whose blame walk is at that commit
    let mut at: HashKeyed<Id, Vec<usize>> = HashKeyed::default();
    let mut queue = Queue::default();
    at.insert(head, (0..leaves.len()).collect());
    queue.push(head, meta(&head).map_or(0, |m| m.time));
    let mut result: Vec<Option<(Id, bool)>> = vec![None; leaves.len()];
    let mut ahead = cache::ReadAhead::new(engine.git);
    let mut trees = Trees::default();
    let total = commits.len();
    let parents_of = |c: &CommitMeta| walked_parents(c, &boundary, false);
    let mut visited = 0;
    while let Some(commit) = queue.pop() {
        visited += 1;
        progress(visited, total);
        let Some(group) = at.remove(&commit) else {
            continue;
        };
        let parents: Vec<Id> = match index.get(&commit) {
            Some(&i) => {
                ahead.before(&mut cache, &commits, i, parents_of);
                parents_of(&commits[i])
            }
            None => Vec::new(),
        };
        let here = engine.state(commit)?;
        engine.step(&mut cache, &mut trees, commit, &parents)?;
        // Each parent's state is looked up once per commit, not once per leaf.
        let mut states: Vec<Option<Arc<AgentState>>> = vec![None; parents.len()];
        // Most commits leave the agent as their first parent had it: every leaf moves there.
        if let Some(&p) = parents.first()
            && let Some(m) = meta(&p)
        {
            let first = engine.state(p)?;
            if Arc::ptr_eq(&first, &here) {
                at.entry(p).or_default().extend(group);
                queue.push(p, m.time);
                continue;
            }
            states[0] = Some(first);
        }
        for li in group {
            let (path, _) = &leaves[li];
            let mut moved = None;
            for (p, known) in parents.iter().zip(states.iter_mut()) {
                let ps = match known {
                    Some(s) => s.clone(),
                    None => known.insert(engine.state(*p)?).clone(),
                };
                let equal = Arc::ptr_eq(&ps, &here)
                    || value_at(&ps, Some(path)) == value_at(&here, Some(path));
                if equal {
                    moved = Some(*p);
                    break;
                }
            }
            match moved.and_then(|p| Some((p, meta(&p)?))) {
                Some((p, m)) => {
                    at.entry(p).or_default().push(li);
                    queue.push(p, m.time);
                }
                _ => result[li] = Some((commit, boundary.contains(&commit))),
            }
        }
    }
    cache.save();
    let mut out = Vec::new();
    for (i, (path, value)) in leaves.into_iter().enumerate() {
        let Some((c, b)) = result[i] else { continue };
        let st = engine.state(c)?;
        let (file, line) = match &*st {
            AgentState::Present(d) => d
                .leaves
                .get(&path)
                .and_then(|(_, o)| o.as_ref())
                .map(|o| (Some(o.file.clone()), Some(o.line)))
                .unwrap_or((None, None)),
            _ => (None, None),
        };
        out.push(Blame {
            path: crate::check::secret::redact_path(&path),
            value,
            commit: meta(&c).cloned(),
            file,
            line,
            boundary: b,
        });
    }
    Ok(out)
}

/// The commits reachable from `rev` whose rendered document has `digest`, newest first.
pub fn whence(
    engine: &mut Engine,
    rev: &str,
    wanted: &str,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<CommitMeta>, GitError> {
    let (commits, mut cache) = commits_and_cache(engine.git, rev, false, None)?;
    let boundary = engine.git.shallow_boundary();
    let mut ahead = cache::ReadAhead::new(engine.git);
    let mut trees = Trees::default();
    let total = commits.len();
    let mut out = Vec::new();
    let parents_of = |c: &CommitMeta| walked_parents(c, &boundary, false);
    for (i, c) in commits.iter().enumerate() {
        progress(i, total);
        ahead.before(&mut cache, &commits, i, parents_of);
        engine.step(&mut cache, &mut trees, c.id, &parents_of(c))?;
        if let AgentState::Present(d) = &*engine.state(c.id)?
            && d.digest == wanted
        {
            out.push(c.clone());
        }
    }
    cache.save();
    Ok(out)
}

/// `2023-11-14T22:13:20+01:00` from seconds since the epoch and an offset in minutes.
pub fn format_time(secs: i64, offset_min: i32) -> String {
    let local = secs + i64::from(offset_min) * 60;
    let days = local.div_euclid(86_400);
    let rem = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let sign = if offset_min < 0 { '-' } else { '+' };
    let o = offset_min.unsigned_abs();
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        o / 60,
        o % 60
    )
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[Z|±HH:MM]` to seconds since the epoch (UTC when
/// no offset is given).
pub fn parse_date(s: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "`{}` is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ",
            crate::model::source::safe(s)
        )
    };
    let (date, rest) = s.split_at(s.len().min(10));
    let p: Vec<&str> = date.split('-').collect();
    if p.len() != 3 {
        return Err(bad());
    }
    let (y, m, d): (i64, u32, u32) = (
        p[0].parse().map_err(|_| bad())?,
        p[1].parse().map_err(|_| bad())?,
        p[2].parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' ')) {
        let (hms, off) = match t.find(['Z', 'z', '+', '-']) {
            Some(i) => t.split_at(i),
            None => (t, ""),
        };
        let h: Vec<&str> = hms.split(':').collect();
        let num = |i: usize| {
            h.get(i)
                .map(|x| x.parse::<i64>().map_err(|_| bad()))
                .unwrap_or(Ok(0))
        };
        secs += num(0)? * 3600 + num(1)? * 60 + num(2)?;
        if let Some(o) = off
            .strip_prefix('+')
            .map(|o| (1, o))
            .or_else(|| off.strip_prefix('-').map(|o| (-1, o)))
        {
            let (sign, o) = o;
            let (oh, om) = o.split_once(':').ok_or_else(bad)?;
            secs -= sign
                * (oh.parse::<i64>().map_err(|_| bad())? * 3600
                    + om.parse::<i64>().map_err(|_| bad())? * 60);
        }
    } else if !rest.is_empty() {
        return Err(bad());
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value under a key is every leaf whose path starts with it, found by range: keys that
    /// are prefixes of one another as text (`a`, `ab`, `a.b`), id selectors, the root.
    #[test]
    fn the_value_at_a_key_is_every_leaf_under_it() {
        let paths = [
            "a",
            "a.b",
            "a.b.c",
            "a.bc",
            "ab",
            "ab.c",
            "b[id=x].c",
            "b[id=x].d",
            "b[id=xy].c",
            "c",
        ];
        let leaves: Leaves = paths
            .iter()
            .enumerate()
            .map(|(i, p)| (KeyPath::parse(p).unwrap(), (Json::from(i), None)))
            .collect();
        let state = AgentState::Present(Doc {
            digest: String::new(),
            client: None,
            leaves,
        });
        let AgentState::Present(d) = &state else {
            unreachable!()
        };
        let keys = [
            "a",
            "a.b",
            "ab",
            "b[id=x]",
            "b[id=x].c",
            "b",
            "c",
            "d",
            "a.b.c.d",
        ];
        for k in keys
            .iter()
            .map(|k| Some(KeyPath::parse(k).unwrap()))
            .chain([None])
        {
            let want: Vec<(&KeyPath, &Json)> = d
                .leaves
                .iter()
                .filter(|(p, _)| k.as_ref().is_none_or(|k| p.starts_with(k)))
                .map(|(p, (v, _))| (p, v))
                .collect();
            let want = if want.is_empty() {
                Value::Absent
            } else {
                Value::Leaves(want)
            };
            assert_eq!(value_at(&state, k.as_ref()), want, "{k:?}");
        }
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(format_time(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(format_time(1_700_000_000, 60), "2023-11-14T23:13:20+01:00");
        assert_eq!(format_time(951_782_400, -300), "2000-02-28T19:00:00-05:00");
        assert_eq!(parse_date("2023-11-14").unwrap(), 1_699_920_000);
        assert_eq!(parse_date("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000);
        assert_eq!(
            parse_date("2023-11-14T23:13:20+01:00").unwrap(),
            1_700_000_000
        );
        assert!(parse_date("yesterday").is_err());
        assert!(parse_date("2023-13-01").is_err());
    }
}
