//! The only module that touches git: snapshots of a commit or of the index, and the paths that
//! changed between two states. Everything is read through git2 (no network, no work-tree writes);
//! the config root may be a folder inside a larger repository, so every git path is the root's
//! prefix plus the config path.

use crate::repo::layout;
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use git2::{ObjectType, Oid, Repository, Tree};

use crate::repo::snapshot::{Entry, EntryKind, Snapshot, check_limit};

/// Which state of the repository to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    WorkTree,
    Index,
    /// A revision as git understands it (`HEAD~2`, a branch, a tag, a sha).
    Rev(String),
    /// One commit, already resolved.
    Commit(Id),
}

/// A git object id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(Oid);

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Id {
    /// An id from 40 hex digits.
    pub fn parse(hex: &str) -> Option<Id> {
        Oid::from_str(hex).ok().filter(|_| hex.len() == 40).map(Id)
    }

    /// An id from its 20 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Id> {
        (bytes.len() == 20)
            .then(|| Oid::from_bytes(bytes).ok())
            .flatten()
            .map(Id)
    }

    /// The id's 20 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl State {
    /// How the state is named in messages.
    pub fn label(&self) -> String {
        match self {
            State::WorkTree => "work tree".into(),
            State::Index => "index".into(),
            State::Rev(r) => r.clone(),
            State::Commit(id) => id.to_string()[..12].to_string(),
        }
    }
}

/// A failure to read git, with a message that says what to do.
#[derive(Debug)]
pub struct GitError(pub String);

impl From<git2::Error> for GitError {
    fn from(e: git2::Error) -> Self {
        GitError(e.message().to_string())
    }
}

/// A git repository holding a config root.
pub struct Git {
    repo: Mutex<Repository>,
    /// The trees read raw most recently: a walk reads each commit's `agents/` tree (10,000
    /// entries) for the diff with its parent and for both snapshots, and the parent's again as
    /// the next commit.
    raw_trees: Mutex<Vec<(Oid, Arc<RawTree>)>>,
    /// Trees read from the pack files directly (see [`crate::pack`]), opened when first needed.
    packs: Mutex<Option<crate::pack::Packs>>,
    /// More handles on the repository, opened when a thread finds `repo` in use, so that
    /// threads reading blobs (the files of 10,000 agents) do not wait for each other.
    spare: Mutex<Vec<Repository>>,
    /// The config root relative to the work tree, with a trailing `/` (empty at the top).
    prefix: String,
    workdir: Option<PathBuf>,
    shallow: bool,
}

impl Git {
    /// The repository that holds `root`, or `None` when it is not inside one.
    pub fn discover(root: &Path) -> Result<Option<Git>, GitError> {
        // Objects are read, never written: hashing every object read again (with SHA-1
        // collision detection) costs more than everything else a history walk does. Packs are
        // still checked by zlib and their own checksums.
        git2::opts::strict_hash_verification(false);
        let repo = match Repository::discover(root) {
            Ok(r) => r,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let workdir = repo.workdir().map(Path::to_path_buf);
        let prefix = match &workdir {
            Some(w) => {
                let w = w.canonicalize().map_err(|e| GitError(e.to_string()))?;
                let r = root.canonicalize().map_err(|e| GitError(e.to_string()))?;
                let rel = r.strip_prefix(&w).map_err(|_| {
                    GitError(format!(
                        "{} is not inside the git work tree {}",
                        r.display(),
                        w.display()
                    ))
                })?;
                let s = rel
                    .to_str()
                    .ok_or_else(|| GitError("the config root's path is not UTF-8".into()))?
                    .replace(std::path::MAIN_SEPARATOR, "/");
                if s.is_empty() { s } else { format!("{s}/") }
            }
            None => String::new(),
        };
        let shallow = repo.is_shallow();
        Ok(Some(Git {
            repo: Mutex::new(repo),
            raw_trees: Mutex::default(),
            packs: Mutex::default(),
            spare: Mutex::default(),
            prefix,
            workdir,
            shallow,
        }))
    }

    /// A second handle on the same repository and config root, for reading objects on another
    /// thread: each handle reads through its own lock and its own object caches.
    pub fn reopen(&self) -> Result<Git, GitError> {
        let path = self.repo.lock().expect("git lock").path().to_path_buf();
        Ok(Git {
            repo: Mutex::new(Repository::open(path)?),
            raw_trees: Mutex::default(),
            packs: Mutex::default(),
            spare: Mutex::default(),
            prefix: self.prefix.clone(),
            workdir: self.workdir.clone(),
            shallow: self.shallow,
        })
    }

    /// Runs `f` on a handle of the repository no other thread is using: the main one when it is
    /// free, else a spare one (opened the first time it is needed, then kept).
    fn with_reader<R>(&self, f: impl FnOnce(&Repository) -> R) -> Result<R, GitError> {
        if let Ok(repo) = self.repo.try_lock() {
            return Ok(f(&repo));
        }
        let spare = self.spare.lock().expect("git lock").pop();
        let repo = match spare {
            Some(r) => r,
            None => {
                let path = self.repo.lock().expect("git lock").path().to_path_buf();
                Repository::open(path)?
            }
        };
        let out = f(&repo);
        self.spare.lock().expect("git lock").push(repo);
        Ok(out)
    }

    /// The config root relative to the top of the repository (`""` or `"sub/dir/"`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The top of the work tree.
    pub fn workdir(&self) -> Option<&Path> {
        self.workdir.as_deref()
    }

    /// The hooks directory (honours `core.hooksPath`).
    pub fn hooks_dir(&self) -> Result<PathBuf, GitError> {
        let repo = self.repo.lock().expect("git lock");
        let cfg = repo.config()?;
        if let Ok(p) = cfg.get_path("core.hooksPath") {
            let base = self
                .workdir
                .clone()
                .unwrap_or_else(|| repo.path().to_path_buf());
            return Ok(if p.is_absolute() { p } else { base.join(p) });
        }
        Ok(repo.path().join("hooks"))
    }

    fn resolve(&self, repo: &Repository, spec: &str) -> Result<Oid, GitError> {
        match repo.revparse_single(spec).and_then(|o| o.peel_to_commit()) {
            Ok(c) => Ok(c.id()),
            Err(e) => {
                let mut msg = format!(
                    "revision `{}` is not in this repository: {}",
                    crate::model::source::safe(spec),
                    e.message()
                );
                if self.shallow {
                    msg.push_str(
                        "\nthis is a shallow clone: fetch the history you need (`git fetch --unshallow`, or \
                         `git fetch origin <base>`), or check out with `fetch-depth: 0` in CI",
                    );
                } else {
                    msg.push_str("\nfetch it first (`git fetch origin <branch>`), or check the name with `git log --oneline`");
                }
                Err(GitError(msg))
            }
        }
    }

    /// The commit a revision names, as an id.
    pub fn resolve_id(&self, spec: &str) -> Result<Id, GitError> {
        let repo = self.repo.lock().expect("git lock");
        Ok(Id(self.resolve(&repo, spec)?))
    }

    /// The commit id a revision names.
    pub fn commit_id(&self, spec: &str) -> Result<String, GitError> {
        let repo = self.repo.lock().expect("git lock");
        Ok(self.resolve(&repo, spec)?.to_string())
    }

    /// True when HEAD points at a commit (false on a fresh `git init`).
    pub fn has_head(&self) -> bool {
        let repo = self.repo.lock().expect("git lock");
        repo.head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .is_some()
    }

    /// A snapshot of a commit or of the index, rooted at the config root.
    pub fn snapshot(&self, state: &State) -> Result<GitSnapshot<'_>, GitError> {
        self.snapshot_focused(state, None)
    }

    /// A snapshot that lists only `opl.toml`, `global/`, `clients/` and the named agents (every
    /// path when `agents` is `None`); other paths are still read on demand (fragments).
    pub fn snapshot_focused(
        &self,
        state: &State,
        agents: Option<&[String]>,
    ) -> Result<GitSnapshot<'_>, GitError> {
        self.snapshot_in(state, agents, None)
    }

    /// As [`Git::snapshot_focused`], listing only the named clients' folders when `clients` is
    /// given (the other clients appear as empty folders).
    pub fn snapshot_in(
        &self,
        state: &State,
        agents: Option<&[String]>,
        clients: Option<&[String]>,
    ) -> Result<GitSnapshot<'_>, GitError> {
        self.snapshot_listed(state, agents, clients, None)
    }

    /// As [`Git::snapshot_in`] for one agent of a commit whose entries under `agents/` (its file
    /// and its folder, as [`Git::entry_ids`] gives them) are already known: the `agents/` tree
    /// is not read again.
    pub fn snapshot_of_agent(
        &self,
        commit: Id,
        agent: &str,
        entries: [Option<(Id, EntryKind)>; 2],
        clients: &[String],
    ) -> Result<GitSnapshot<'_>, GitError> {
        let names = [layout::agent_file(agent), layout::agent_folder(agent)];
        let known: Vec<(String, (Oid, EntryKind))> = names
            .into_iter()
            .zip(entries)
            .filter_map(|(n, e)| e.map(|(id, kind)| (n, (id.0, kind))))
            .collect();
        let agents = [agent.to_string()];
        self.snapshot_listed(
            &State::Commit(commit),
            Some(&agents),
            Some(clients),
            Some(known),
        )
    }

    /// The listing of [`Git::snapshot_in`]; `known`: the named agents' entries (paths from the
    /// config root), when the caller has them.
    fn snapshot_listed(
        &self,
        state: &State,
        agents: Option<&[String]>,
        clients: Option<&[String]>,
        known: Option<Vec<(String, (Oid, EntryKind))>>,
    ) -> Result<GitSnapshot<'_>, GitError> {
        let repo = self.repo.lock().expect("git lock");
        let mut files: HashMap<String, (Oid, EntryKind)> = HashMap::new();
        let label = state.label();
        let mut tree_id = None;
        match state {
            State::WorkTree => {
                return Err(GitError(
                    "the work tree is read from disk, not from git".into(),
                ));
            }
            State::Rev(_) | State::Commit(_) => {
                let oid = match state {
                    State::Commit(id) => id.0,
                    State::Rev(spec) => self.resolve(&repo, spec)?,
                    _ => unreachable!(),
                };
                let tree = repo.find_commit(oid)?.tree()?;
                if let Some(sub) = self.subtree(&repo, &tree)? {
                    tree_id = Some(sub.id());
                    match agents {
                        None => self.walk_raw(&repo, sub.id(), "", &mut files)?,
                        Some(agents) => {
                            let agents: std::collections::HashSet<&str> =
                                agents.iter().map(String::as_str).collect();
                            for e in sub.iter() {
                                let Ok(name) = e.name() else { continue };
                                files.insert(name.to_string(), (e.id(), kind_of(&e)));
                                if e.kind() != Some(ObjectType::Tree) {
                                    continue;
                                }
                                if name == layout::AGENTS {
                                    // Looked up by name in the raw tree: a folder of 10,000
                                    // agents is not parsed for the few wanted.
                                    let found = match &known {
                                        Some(k) => k.clone(),
                                        None => {
                                            let raw = self.raw_tree_in(&repo, e.id())?;
                                            let mut found = Vec::new();
                                            for id in &agents {
                                                for name in [format!("{id}.toml"), id.to_string()] {
                                                    for dir in [false, true] {
                                                        if let Some((oid, kind)) =
                                                            raw.find(&name, dir)
                                                        {
                                                            let path = format!(
                                                                "{}/{name}",
                                                                layout::AGENTS
                                                            );
                                                            found.push((path, (oid.0, kind)));
                                                        }
                                                    }
                                                }
                                            }
                                            found
                                        }
                                    };
                                    for (path, (oid, kind)) in found {
                                        files.insert(path.clone(), (oid, kind));
                                        if kind == EntryKind::Dir {
                                            self.walk_raw(
                                                &repo,
                                                oid,
                                                &format!("{path}/"),
                                                &mut files,
                                            )?;
                                        }
                                    }
                                    continue;
                                }
                                match name {
                                    layout::CLIENTS if clients.is_some() => {
                                        let wanted = clients.unwrap_or_default();
                                        for c in repo.find_tree(e.id())?.iter() {
                                            let Ok(cn) = c.name() else { continue };
                                            let path = layout::client_folder(cn);
                                            files.insert(path.clone(), (c.id(), kind_of(&c)));
                                            if c.kind() == Some(ObjectType::Tree)
                                                && wanted.iter().any(|w| w == cn)
                                            {
                                                self.walk_raw(
                                                    &repo,
                                                    c.id(),
                                                    &format!("{path}/"),
                                                    &mut files,
                                                )?;
                                            }
                                        }
                                    }
                                    layout::GLOBAL | layout::CLIENTS => self.walk_raw(
                                        &repo,
                                        e.id(),
                                        &format!("{name}/"),
                                        &mut files,
                                    )?,
                                    _ => {}
                                }
                            }
                        }
                    }
                }
            }
            State::Index => {
                let index = repo.index()?;
                for e in index.iter() {
                    let stage = (e.flags >> 12) & 0x3;
                    let Ok(path) = std::str::from_utf8(&e.path) else {
                        continue;
                    };
                    let Some(rel) = path.strip_prefix(self.prefix.as_str()) else {
                        continue;
                    };
                    let kind = match e.mode {
                        0o120000 => EntryKind::Symlink,
                        0o160000 => EntryKind::Other,
                        _ if stage != 0 => EntryKind::Other,
                        _ => EntryKind::File,
                    };
                    files.insert(rel.to_string(), (e.id, kind));
                }
            }
        }
        Ok(GitSnapshot {
            git: self,
            files,
            label,
            tree: tree_id,
        })
    }

    fn subtree<'r>(
        &self,
        repo: &'r Repository,
        tree: &Tree<'r>,
    ) -> Result<Option<Tree<'r>>, GitError> {
        if self.prefix.is_empty() {
            return Ok(Some(tree.clone()));
        }
        match tree.get_path(Path::new(self.prefix.trim_end_matches('/'))) {
            Ok(e) if e.kind() == Some(ObjectType::Tree) => Ok(Some(repo.find_tree(e.id())?)),
            Ok(_) => Ok(None),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Config-root-relative paths that differ between two states.
    pub fn changed_paths(&self, from: &State, to: &State) -> Result<Vec<String>, GitError> {
        // Two commits: their trees are compared raw, descending only into folders whose ids
        // differ (a 10,000-entry `agents/` tree is never parsed into objects).
        let commit_id = |s: &State| match s {
            State::Commit(id) => Ok(Some(*id)),
            State::Rev(spec) => self.resolve_id(spec).map(Some),
            _ => Ok(None),
        };
        if let (Some(a), Some(b)) = (commit_id(from)?, commit_id(to)?) {
            let mut out = BTreeSet::new();
            self.raw_diff(self.root_tree(a)?, self.root_tree(b)?, "", &mut out)?;
            return Ok(out.into_iter().collect());
        }
        let repo = self.repo.lock().expect("git lock");
        let mut opts = git2::DiffOptions::new();
        if !self.prefix.is_empty() {
            opts.pathspec(self.prefix.trim_end_matches('/'));
        }
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_typechange(true);
        let tree_of = |s: &State| -> Result<Option<Tree<'_>>, GitError> {
            match s {
                State::Rev(spec) => Ok(Some(repo.find_commit(self.resolve(&repo, spec)?)?.tree()?)),
                State::Commit(id) => Ok(Some(repo.find_commit(id.0)?.tree()?)),
                _ => Ok(None),
            }
        };
        let commit = |s: &State| matches!(s, State::Rev(_) | State::Commit(_));
        let diff = match (from, to) {
            (f, t) if commit(f) && commit(t) => repo.diff_tree_to_tree(
                tree_of(from)?.as_ref(),
                tree_of(to)?.as_ref(),
                Some(&mut opts),
            )?,
            (f, State::Index) if commit(f) => {
                repo.diff_tree_to_index(tree_of(from)?.as_ref(), None, Some(&mut opts))?
            }
            (f, State::WorkTree) if commit(f) => {
                repo.diff_tree_to_workdir_with_index(tree_of(from)?.as_ref(), Some(&mut opts))?
            }
            (State::Index, State::WorkTree) => repo.diff_index_to_workdir(None, Some(&mut opts))?,
            _ => {
                return Err(GitError(format!(
                    "cannot compare {} with {}",
                    from.label(),
                    to.label()
                )));
            }
        };
        let mut out = BTreeSet::new();
        for d in diff.deltas() {
            for f in [d.old_file(), d.new_file()] {
                if let Some(p) = f.path().and_then(|p| p.to_str())
                    && let Some(rel) = p
                        .replace(std::path::MAIN_SEPARATOR, "/")
                        .strip_prefix(self.prefix.as_str())
                {
                    out.insert(rel.to_string());
                }
            }
        }
        Ok(out.into_iter().collect())
    }
}

/// Commits an earlier walk read (a commit never changes): what [`Git::log_known`] would
/// otherwise read from the object database, and where it records what it read.
pub trait KnownCommits {
    /// A commit's metadata and committer time, when known.
    fn get(&self, id: Id) -> Option<(CommitMeta, i64)>;
    /// Records a commit read from the object database, with its committer time.
    fn learn(&mut self, meta: &CommitMeta, time: i64);
    /// How many commits are known (a walk's list is sized for them at once).
    fn count(&self) -> usize;
}

/// No commit known.
impl KnownCommits for () {
    fn get(&self, _: Id) -> Option<(CommitMeta, i64)> {
        None
    }
    fn learn(&mut self, _: &CommitMeta, _: i64) {}
    fn count(&self) -> usize {
        0
    }
}

/// A commit with what history output shows of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitMeta {
    pub id: Id,
    pub parents: Vec<Id>,
    pub author: String,
    pub email: String,
    /// Author time, seconds since the epoch, and its offset in minutes.
    pub time: i64,
    pub offset: i32,
    pub committer: String,
    pub committer_email: String,
    pub summary: String,
}

impl Git {
    /// The commits reachable from `spec` in git's default log order (newest commit time first),
    /// or along first parents only. Stops at commits older than `since` (seconds).
    pub fn log(
        &self,
        spec: &str,
        first_parent: bool,
        since: Option<i64>,
    ) -> Result<Vec<CommitMeta>, GitError> {
        self.log_known(spec, first_parent, since, &mut ())
    }

    /// [`Git::log`], taking what it needs of a commit from `known` when it has it, and telling
    /// `known` what it read of the others. `known` serves only the walk read here, never
    /// libgit2's (a shallow clone's or grafted history, whose parents are not the commits').
    pub fn log_known(
        &self,
        spec: &str,
        first_parent: bool,
        since: Option<i64>,
        known: &mut dyn KnownCommits,
    ) -> Result<Vec<CommitMeta>, GitError> {
        let repo = self.repo.lock().expect("git lock");
        let start = self.resolve(&repo, spec)?;
        let keep = |time: i64| since.is_none_or(|s| time >= s);
        match self.log_read(&repo, start, first_parent, known) {
            // libgit2 reads what the plain parser left; `known` learns every commit it lacked.
            Some(commits) => commits
                .into_iter()
                .filter_map(|(c, time, was_known)| {
                    let m = match c.map_or_else(|id| repo.find_commit(id).map(|c| meta(&c)), Ok) {
                        Ok(m) => m,
                        Err(e) => return Some(Err(e.into())),
                    };
                    if !was_known {
                        known.learn(&m, time);
                    }
                    keep(time).then_some(Ok(m))
                })
                .collect(),
            None => Ok(log_libgit2(&repo, start, first_parent)?
                .into_iter()
                .filter(|(_, time)| keep(*time))
                .map(|(m, _)| m)
                .collect()),
        }
    }

    /// [`Git::log`] without `since`, from commits read and parsed here (or found in `known`)
    /// rather than by libgit2's revision walk (which reads each commit through its own cache and
    /// inflater, and was most of a walk the history cache answers). The order is libgit2's
    /// unsorted walk, which [`Git::log`] documents: take the newest queued commit (by committer
    /// time, the first queued among equal times), queue its parents not seen yet. Each commit
    /// comes with its committer time and whether `known` had it; its metadata, or its id when
    /// its author line or summary is not in the plain form parsed here (libgit2 then reads it).
    /// `None` when any commit cannot be parsed here, in a shallow clone, or with grafts:
    /// libgit2 walks instead.
    #[allow(clippy::type_complexity)]
    fn log_read(
        &self,
        repo: &Repository,
        start: Oid,
        first_parent: bool,
        known: &dyn KnownCommits,
    ) -> Option<Vec<(Result<CommitMeta, Oid>, i64, bool)>> {
        if self.shallow || repo.path().join("info").join("grafts").exists() {
            return None;
        }
        let read = |id: Oid| -> Option<Parsed> {
            if let Some((meta, time)) = known.get(Id(id)) {
                return Some(Parsed {
                    parents: meta.parents.iter().map(|p| p.0).collect(),
                    time,
                    meta: Some(meta),
                    known: true,
                });
            }
            let data = self.object_bytes(repo, id, crate::pack::Kind::Commit)?;
            parse_commit(id, &data)
        };
        let mut seen: crate::keyed::HashSetKeyed<Oid> = Default::default();
        // Newest first; equal times keep the order they were queued in.
        let mut queue: std::collections::VecDeque<(Oid, Parsed)> = Default::default();
        seen.insert(start);
        queue.push_back((start, read(start)?));
        let mut out = Vec::with_capacity(known.count());
        while let Some((id, c)) = queue.pop_front() {
            let take = if first_parent { 1 } else { c.parents.len() };
            for p in c.parents.iter().take(take) {
                if seen.insert(*p) {
                    let parsed = read(*p)?;
                    let at = queue
                        .iter()
                        .position(|(_, q)| q.time < parsed.time)
                        .unwrap_or(queue.len());
                    queue.insert(at, (*p, parsed));
                }
            }
            out.push((c.meta.ok_or(id), c.time, c.known));
        }
        Some(out)
    }

    /// An object and its kind from the pack files (see [`crate::pack`]), opened when first
    /// asked; `None` when they do not hold it surely.
    fn packed(&self, repo: &Repository, id: Oid) -> Option<(crate::pack::Kind, Arc<Vec<u8>>)> {
        let mut packs = self.packs.lock().unwrap_or_else(|e| e.into_inner());
        packs
            .get_or_insert_with(|| crate::pack::Packs::open(&repo.commondir().join("objects")))
            .read(id.as_bytes())
    }

    /// An object's bytes when it is of `kind`: from the packs, else through libgit2.
    fn object_bytes(
        &self,
        repo: &Repository,
        id: Oid,
        kind: crate::pack::Kind,
    ) -> Option<Arc<Vec<u8>>> {
        match self.packed(repo, id) {
            Some((k, data)) if k == kind => Some(data),
            Some(_) => None,
            None => {
                let odb = repo.odb().ok()?;
                let o = odb.read(id).ok()?;
                let want = match kind {
                    crate::pack::Kind::Commit => ObjectType::Commit,
                    crate::pack::Kind::Tree => ObjectType::Tree,
                    crate::pack::Kind::Blob => ObjectType::Blob,
                    crate::pack::Kind::Tag => ObjectType::Tag,
                };
                (o.kind() == want).then(|| Arc::new(o.data().to_vec()))
            }
        }
    }

    /// The metadata of one commit.
    pub fn commit_meta(&self, id: Id) -> Result<CommitMeta, GitError> {
        let repo = self.repo.lock().expect("git lock");
        Ok(meta(&repo.find_commit(id.0)?))
    }

    /// The commits of `a..b` (reachable from `b`, not from `a`), newest first.
    pub fn range(&self, a: &str, b: &str, since: Option<i64>) -> Result<Vec<CommitMeta>, GitError> {
        let repo = self.repo.lock().expect("git lock");
        let (ia, ib) = (self.resolve(&repo, a)?, self.resolve(&repo, b)?);
        let mut walk = repo.revwalk()?;
        walk.set_sorting(git2::Sort::NONE)?; // git's default order: newest first, never a parent before its child
        walk.push(ib)?;
        walk.hide(ia)?;
        let mut out = Vec::new();
        for oid in walk {
            let c = repo.find_commit(oid?)?;
            if since.is_some_and(|s| c.time().seconds() < s) {
                continue;
            }
            out.push(meta(&c));
        }
        Ok(out)
    }

    /// The ids of the entries at these config-root-relative paths in a commit (`None` where a
    /// path is absent), with the kind of each.
    pub fn entry_ids(
        &self,
        commit: Id,
        paths: &[&str],
    ) -> Result<Vec<Option<(Id, EntryKind)>>, GitError> {
        let repo = self.repo.lock().expect("git lock");
        // Trees are read raw and scanned, never parsed into objects: a folder of 10,000 agents
        // is one large tree that changes in almost every commit.
        let mut cache: Vec<(Oid, Arc<Vec<u8>>)> = Vec::new();
        let mut entry = |tree: Oid, name: &str| -> Result<Option<(Oid, EntryKind)>, GitError> {
            let pos = match cache.iter().position(|(t, _)| *t == tree) {
                Some(p) => p,
                None => {
                    cache.push((tree, self.tree_bytes(&repo, tree)?));
                    cache.len() - 1
                }
            };
            Ok(scan_tree(&cache[pos].1, name.as_bytes()))
        };
        let base = self.root_tree_in(&repo, commit)?;
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            let mut cur = base.map(|b| (b, EntryKind::Dir));
            for comp in p.split('/') {
                cur = match cur {
                    Some((t, EntryKind::Dir)) => entry(t, comp)?,
                    _ => None,
                };
            }
            out.push(cur.map(|(o, k)| (Id(o), k)));
        }
        Ok(out)
    }

    /// The tree at the config root of a commit; `None` when the root's folder is absent there.
    pub fn root_tree(&self, commit: Id) -> Result<Option<Id>, GitError> {
        let repo = self.repo.lock().expect("git lock");
        Ok(self.root_tree_in(&repo, commit)?.map(Id))
    }

    fn root_tree_in(&self, repo: &Repository, commit: Id) -> Result<Option<Oid>, GitError> {
        let tree = match self.object_bytes(repo, commit.0, crate::pack::Kind::Commit) {
            Some(data) => commit_tree(&data),
            None => None,
        };
        let mut cur = Some(match tree {
            Some(t) => t,
            None => repo.find_commit(commit.0)?.tree_id(),
        });
        for comp in self.prefix.split('/').filter(|c| !c.is_empty()) {
            cur = match cur {
                Some(t) => scan_tree(&self.tree_bytes(repo, t)?, comp.as_bytes())
                    .filter(|(_, k)| *k == EntryKind::Dir)
                    .map(|(o, _)| o),
                None => None,
            };
        }
        Ok(cur)
    }

    /// Adds to `out` the paths (under `dir`) of the files that differ between two trees.
    fn raw_diff(
        &self,
        a: Option<Id>,
        b: Option<Id>,
        dir: &str,
        out: &mut BTreeSet<String>,
    ) -> Result<(), GitError> {
        if a == b {
            return Ok(());
        }
        let read = |t: Option<Id>| match t {
            Some(t) => self.raw_tree(t),
            None => Ok(Arc::new(RawTree::empty())),
        };
        let (ta, tb) = (read(a)?, read(b)?);
        let names: BTreeSet<&[u8]> = ta.changed_names(&tb).into_iter().collect();
        for name in names {
            // Names that are not UTF-8 cannot be layer files; they are not listed.
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            let path = format!("{dir}{name}");
            let (da, db) = (ta.find(name, true), tb.find(name, true));
            if da.is_some() || db.is_some() {
                self.raw_diff(da.map(|d| d.0), db.map(|d| d.0), &format!("{path}/"), out)?;
            }
            if ta.find(name, false) != tb.find(name, false) {
                out.insert(path);
            }
        }
        Ok(())
    }

    /// One tree, read raw (its entries are not parsed into objects).
    pub fn raw_tree(&self, tree: Id) -> Result<Arc<RawTree>, GitError> {
        self.raw_tree_in(&self.repo.lock().expect("git lock"), tree.0)
    }

    /// [`Git::raw_tree`] with the repository locked; the last few trees read are kept.
    fn raw_tree_in(&self, repo: &Repository, tree: Oid) -> Result<Arc<RawTree>, GitError> {
        const KEPT: usize = 8;
        let mut kept = self.raw_trees.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, t)) = kept.iter().find(|(id, _)| *id == tree) {
            return Ok(t.clone());
        }
        let data = self.tree_bytes(repo, tree)?;
        let t = Arc::new(
            RawTree::parse(data).ok_or_else(|| GitError(format!("tree {tree} is malformed")))?,
        );
        if kept.len() == KEPT {
            kept.remove(0);
        }
        kept.push((tree, t.clone()));
        Ok(t)
    }

    /// The raw bytes of a tree: from the pack files when they hold it (see [`crate::pack`]),
    /// else through libgit2.
    fn tree_bytes(&self, repo: &Repository, tree: Oid) -> Result<Arc<Vec<u8>>, GitError> {
        match self.packed(repo, tree) {
            Some((crate::pack::Kind::Tree, data)) => Ok(data),
            _ => Ok(Arc::new(repo.odb()?.read(tree)?.data().to_vec())),
        }
    }

    /// Adds every entry under a tree to `files` (paths prefixed with `base`; names that are not
    /// UTF-8 are left out), from trees read raw (see [`Git::tree_bytes`]): a full listing reads
    /// the 10,000-entry `agents/` tree of each state an audit compares.
    fn walk_raw(
        &self,
        repo: &Repository,
        tree: Oid,
        base: &str,
        files: &mut HashMap<String, (Oid, EntryKind)>,
    ) -> Result<(), GitError> {
        let raw = RawTree::parse(self.tree_bytes(repo, tree)?)
            .ok_or_else(|| GitError(format!("tree {tree} is malformed")))?;
        // Grown once for a tree of 10,000 agents, not through every size on the way.
        files.reserve(raw.entries.len());
        for i in 0..raw.entries.len() {
            let Ok(name) = std::str::from_utf8(raw.name(i)) else {
                continue;
            };
            let id = Oid::from_bytes(raw.id_bytes(i))?;
            let kind = raw.entries[i].2;
            let path = format!("{base}{name}");
            if kind == EntryKind::Dir {
                self.walk_raw(repo, id, &format!("{path}/"), files)?;
            }
            files.insert(path, (id, kind));
        }
        Ok(())
    }

    /// The bytes of a blob.
    pub fn blob(&self, id: Id) -> Result<Vec<u8>, GitError> {
        let repo = self.repo.lock().expect("git lock");
        Ok(repo.find_blob(id.0)?.content().to_vec())
    }

    /// The `*.toml` blobs under a tree, with their paths relative to it.
    pub fn toml_blobs(&self, tree: Id) -> Result<Vec<(String, Id)>, GitError> {
        let repo = self.repo.lock().expect("git lock");
        let mut files = HashMap::new();
        self.walk_raw(&repo, tree.0, "", &mut files)?;
        let mut v: Vec<(String, Id)> = files
            .into_iter()
            .filter(|(p, (_, k))| *k == EntryKind::File && p.ends_with(".toml"))
            .map(|(p, (o, _))| (p, Id(o)))
            .collect();
        v.sort();
        Ok(v)
    }

    /// Where opl keeps derived, disposable indexes of this repository (under the common git
    /// directory, shared by worktrees).
    pub fn cache_dir(&self) -> PathBuf {
        let repo = self.repo.lock().expect("git lock");
        repo.commondir().join("opl")
    }

    /// The commits at which a shallow clone's history is cut (empty for a full clone).
    pub fn shallow_boundary(&self) -> std::collections::HashSet<Id> {
        if !self.shallow {
            return Default::default();
        }
        let repo = self.repo.lock().expect("git lock");
        std::fs::read_to_string(repo.path().join("shallow"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| Oid::from_str(l.trim()).ok().map(Id))
            .collect()
    }

    /// True for a shallow clone.
    pub fn is_shallow(&self) -> bool {
        self.shallow
    }
}

impl Git {
    /// A tree read raw and parsed like `like` (see [`RawTree::parse_like`]), with the names
    /// whose entry differs from `like`'s.
    pub fn raw_tree_like(
        &self,
        tree: Id,
        like: &RawTree,
    ) -> Result<(RawTree, Vec<Vec<u8>>), GitError> {
        let repo = self.repo.lock().expect("git lock");
        let data = self.tree_bytes(&repo, tree.0)?;
        RawTree::parse_like(data, like).ok_or_else(|| GitError(format!("tree {tree} is malformed")))
    }
}

/// A git tree's raw bytes and the place of each entry in them, in git's order.
pub struct RawTree {
    data: Arc<Vec<u8>>,
    /// (name start, name end, kind); the id follows the name's NUL.
    entries: Vec<(u32, u32, EntryKind)>,
}

impl RawTree {
    fn empty() -> RawTree {
        RawTree {
            data: Arc::default(),
            entries: Vec::new(),
        }
    }

    fn parse(data: Arc<Vec<u8>>) -> Option<RawTree> {
        let mut entries = Vec::with_capacity(data.len() / 32);
        let mut at = 0usize;
        while at < data.len() {
            let sp = at + memchr::memchr(b' ', &data[at..])?;
            let nul = sp + memchr::memchr(0, &data[sp..])?;
            if nul + 21 > data.len() {
                return None;
            }
            entries.push((sp as u32 + 1, nul as u32, entry_kind(&data[at..sp])));
            at = nul + 21;
        }
        Some(RawTree { data, entries })
    }

    fn name(&self, i: usize) -> &[u8] {
        let (a, b, _) = self.entries[i];
        &self.data[a as usize..b as usize]
    }

    fn id_bytes(&self, i: usize) -> &[u8] {
        let b = self.entries[i].1 as usize + 1;
        &self.data[b..b + 20]
    }

    /// Git's sort key of entry `i`: its name, with a `/` after a folder's.
    fn order(&self, i: usize) -> impl Iterator<Item = u8> + '_ {
        let dir = self.entries[i].2 == EntryKind::Dir;
        self.name(i).iter().copied().chain(dir.then_some(b'/'))
    }

    /// The entry named `name` as [`Git::entry_ids`] finds it in this tree (the same scan of
    /// the same bytes): a walk that learns an entry here learns what `entry_ids` would say.
    pub fn entry(&self, name: &str) -> Option<(Id, EntryKind)> {
        scan_tree(&self.data, name.as_bytes()).map(|(o, k)| (Id(o), k))
    }

    /// Every entry: its name, id and kind.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Id, EntryKind)> + '_ {
        (0..self.entries.len()).filter_map(|i| {
            let id = Oid::from_bytes(self.id_bytes(i)).ok()?;
            Some((self.name(i), Id(id), self.entries[i].2))
        })
    }

    /// The id and kind of the entry named `name`, a folder or not.
    pub fn find(&self, name: &str, dir: bool) -> Option<(Id, EntryKind)> {
        let key = || name.bytes().chain(dir.then_some(b'/'));
        let (mut lo, mut hi) = (0, self.entries.len());
        let i = loop {
            if lo >= hi {
                return None;
            }
            let mid = (lo + hi) / 2;
            match self.order(mid).cmp(key()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => break mid,
            }
        };
        Some((
            Id(Oid::from_bytes(self.id_bytes(i)).ok()?),
            self.entries[i].2,
        ))
    }

    /// The names whose entry differs between two trees (added, removed or changed).
    pub fn changed_names<'a>(&'a self, other: &'a RawTree) -> Vec<&'a [u8]> {
        self.changed_in(other, 0..self.entries.len(), 0..other.entries.len())
    }

    /// Parses `data`, a tree that is mostly `like`: the entries in the bytes the two share at
    /// their start and at their end are `like`'s, only those between are parsed. Returns the
    /// tree and the names whose entry differs from `like`'s.
    pub fn parse_like(data: Arc<Vec<u8>>, like: &RawTree) -> Option<(RawTree, Vec<Vec<u8>>)> {
        let (a, b) = (&like.data[..], &data[..]);
        let n = a.len().min(b.len());
        let pre = common_prefix(a, b);
        let suf = common_prefix_rev(&a[pre..], &b[pre..]).min(n - pre);
        // Entries of `like` wholly inside the shared start are the same in `data`.
        let i = like.entries.partition_point(|e| e.1 as usize + 21 <= pre);
        let start = if i == 0 {
            0
        } else {
            like.entries[i - 1].1 as usize + 21
        };
        let shift = b.len() as isize - a.len() as isize;
        let mut mid = Vec::new();
        let mut at = start;
        let mut sync = None;
        while at < b.len() {
            // From a place both share to the end, and that starts an entry of `like`, the rest
            // is `like`'s rest.
            if at >= b.len() - suf {
                let x = (at as isize - shift) as usize;
                let k = like.entries.partition_point(|e| (e.1 as usize + 21) < x);
                if k < like.entries.len() && like.entries[k].1 as usize + 21 == x {
                    sync = Some(k + 1);
                    break;
                }
            }
            let sp = at + memchr::memchr(b' ', &b[at..])?;
            let nul = sp + memchr::memchr(0, &b[sp..])?;
            if nul + 21 > b.len() {
                return None;
            }
            mid.push((sp as u32 + 1, nul as u32, entry_kind(&b[at..sp])));
            at = nul + 21;
        }
        let j = sync.unwrap_or(like.entries.len());
        let mut entries = Vec::with_capacity(i + mid.len() + like.entries.len() - j);
        entries.extend_from_slice(&like.entries[..i]);
        let (m0, m1) = (i, i + mid.len());
        entries.extend(mid);
        entries.extend(
            like.entries[j..]
                .iter()
                .map(|&(s, e, k)| ((s as isize + shift) as u32, (e as isize + shift) as u32, k)),
        );
        let tree = RawTree { data, entries };
        let changed = like
            .changed_in(&tree, i..j, m0..m1)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        Some((tree, changed))
    }

    /// [`RawTree::changed_names`] over entries `r` of `self` and `q` of `other`.
    fn changed_in<'a>(
        &'a self,
        other: &'a RawTree,
        r: std::ops::Range<usize>,
        q: std::ops::Range<usize>,
    ) -> Vec<&'a [u8]> {
        use std::cmp::Ordering::*;
        let (mut i, mut j, mut out) = (r.start, q.start, Vec::new());
        let (n, m) = (r.end, q.end);
        while i < n || j < m {
            let ord = if i == n {
                Greater
            } else if j == m {
                Less
            } else if self.name(i) == other.name(j) && self.entries[i].2 == other.entries[j].2 {
                Equal
            } else {
                self.order(i).cmp(other.order(j))
            };
            match ord {
                Less => {
                    out.push(self.name(i));
                    i += 1;
                }
                Greater => {
                    out.push(other.name(j));
                    j += 1;
                }
                Equal => {
                    if self.id_bytes(i) != other.id_bytes(j) {
                        out.push(self.name(i));
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        out
    }
}

/// The kind of a raw tree entry from its octal mode.
fn entry_kind(mode: &[u8]) -> EntryKind {
    match mode {
        b"40000" | b"040000" => EntryKind::Dir,
        b"120000" => EntryKind::Symlink,
        b"160000" => EntryKind::Other,
        _ => EntryKind::File,
    }
}

/// How many bytes `a` and `b` share at their start (compared a block at a time).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let n = a.len().min(b.len());
    let mut at = 0;
    while at + BLOCK <= n && a[at..at + BLOCK] == b[at..at + BLOCK] {
        at += BLOCK;
    }
    at + a[at..n]
        .iter()
        .zip(&b[at..n])
        .take_while(|(x, y)| x == y)
        .count()
}

/// How many bytes `a` and `b` share at their end.
fn common_prefix_rev(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let n = a.len().min(b.len());
    let (la, lb) = (a.len(), b.len());
    let mut k = 0;
    while k + BLOCK <= n && a[la - k - BLOCK..la - k] == b[lb - k - BLOCK..lb - k] {
        k += BLOCK;
    }
    k + a[..la - k]
        .iter()
        .rev()
        .zip(b[..lb - k].iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// Finds `name` in a raw tree object (`<octal mode> <name>\0<20-byte id>` repeated).
///
/// A substring search for ` <name>\0` preceded by a valid mode, instead of parsing every entry:
/// a 20-byte object id would have to contain that whole pattern (mode digits, space, name, NUL)
/// to be mistaken for an entry.
fn scan_tree(data: &[u8], name: &[u8]) -> Option<(Oid, EntryKind)> {
    let mut pat = Vec::with_capacity(name.len() + 2);
    pat.push(b' ');
    pat.extend_from_slice(name);
    pat.push(0);
    for at in memchr::memmem::find_iter(data, &pat) {
        let end = at + pat.len() + 20;
        if end > data.len() {
            continue;
        }
        for mode in [&b"100644"[..], b"100755", b"120000", b"160000", b"40000"] {
            if at >= mode.len() && &data[at - mode.len()..at] == mode {
                return Oid::from_bytes(&data[at + pat.len()..end])
                    .ok()
                    .map(|o| (o, entry_kind(mode)));
            }
        }
    }
    None
}

fn meta(c: &git2::Commit) -> CommitMeta {
    let a = c.author();
    let k = c.committer();
    CommitMeta {
        id: Id(c.id()),
        parents: c.parent_ids().map(Id).collect(),
        author: a.name().unwrap_or("").to_string(),
        email: a.email().unwrap_or("").to_string(),
        time: a.when().seconds(),
        offset: a.when().offset_minutes(),
        committer: k.name().unwrap_or("").to_string(),
        committer_email: k.email().unwrap_or("").to_string(),
        summary: c
            .summary_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default(),
    }
}

/// [`Git::log`] without `since` through libgit2's revision walk: each commit with its committer
/// time.
fn log_libgit2(
    repo: &Repository,
    start: Oid,
    first_parent: bool,
) -> Result<Vec<(CommitMeta, i64)>, GitError> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(git2::Sort::NONE)?; // git's default order: newest first, never a parent before its child
    if first_parent {
        walk.simplify_first_parent()?;
    }
    walk.push(start)?;
    let mut out = Vec::new();
    for oid in walk {
        let c = repo.find_commit(oid?)?;
        out.push((meta(&c), c.time().seconds()));
    }
    Ok(out)
}

/// What [`Git::log_read`] reads of a commit.
struct Parsed {
    parents: Vec<Oid>,
    /// Committer time: the walk's order.
    time: i64,
    /// `None` when the author line or the summary is not in the plain form [`parse_commit`]
    /// reads exactly as libgit2 does.
    meta: Option<CommitMeta>,
    /// Found in the [`KnownCommits`] of the walk, not read.
    known: bool,
}

/// A commit object as git writes it: `tree`, `parent` lines, `author`, `committer`, other
/// headers, a blank line, the message. `None` when it is not in that form or its committer line
/// is not plain (`Name <email> seconds +hhmm`).
fn parse_commit(id: Oid, data: &[u8]) -> Option<Parsed> {
    let end = memchr::memmem::find(data, b"\n\n")?;
    let mut lines = data[..end].split(|&b| b == b'\n');
    hex_line(lines.next()?, b"tree ")?;
    let mut parents = Vec::new();
    let mut line = lines.next()?;
    while line.starts_with(b"parent ") {
        parents.push(hex_line(line, b"parent ")?);
        line = lines.next()?;
    }
    let author = plain_signature(line.strip_prefix(b"author ")?);
    let (committer, committer_email, time, _) =
        plain_signature(lines.next()?.strip_prefix(b"committer ")?)?;
    let meta = author.zip(plain_summary(&data[end + 2..])).map(
        |((author, email, atime, offset), summary)| CommitMeta {
            id: Id(id),
            parents: parents.iter().copied().map(Id).collect(),
            author,
            email,
            time: atime,
            offset,
            committer,
            committer_email,
            summary,
        },
    );
    Some(Parsed {
        parents,
        time,
        meta,
        known: false,
    })
}

/// The id on a `tree <hex>` or `parent <hex>` line of a commit (`key` with its space).
fn hex_line(line: &[u8], key: &[u8]) -> Option<Oid> {
    let h = line.strip_prefix(key)?;
    (h.len() == 40)
        .then(|| std::str::from_utf8(h).ok())
        .flatten()
        .and_then(|h| Oid::from_str(h).ok())
}

/// The tree of a commit object, from its first line.
fn commit_tree(data: &[u8]) -> Option<Oid> {
    hex_line(data.split(|&b| b == b'\n').next()?, b"tree ")
}

/// `Name <email> seconds +hhmm` with a name and an email that need no trimming and hold no
/// angle brackets, and a time zone libgit2 keeps: (name, email, seconds, offset in minutes).
fn plain_signature(s: &[u8]) -> Option<(String, String, i64, i32)> {
    let s = std::str::from_utf8(s).ok()?;
    let (name, rest) = s.split_once(" <")?;
    let (email, rest) = rest.split_once("> ")?;
    let (secs, tz) = rest.split_once(' ')?;
    let plain = |t: &str| {
        !t.is_empty()
            && t.trim() == t
            && !t.contains(['<', '>', '\n'])
            && !t.bytes().any(|b| b.is_ascii_whitespace() && b != b' ')
    };
    if !plain(name) || !plain(email) || secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (sign, hhmm) = tz.split_at_checked(1)?;
    if hhmm.len() != 4 || !hhmm.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = (hhmm[..2].parse().ok()?, hhmm[2..].parse().ok()?);
    if h > 14 || m > 59 {
        return None;
    }
    let offset = match sign {
        "+" => h * 60 + m,
        "-" => -(h * 60 + m),
        _ => return None,
    };
    Some((name.into(), email.into(), secs.parse().ok()?, offset))
}

/// The summary of a message whose first paragraph is one plain line (after the blank lines git
/// skips): that line, as libgit2 gives it. `None` for anything libgit2 would reshape.
fn plain_summary(message: &[u8]) -> Option<String> {
    let m = &message[message.iter().position(|&b| b != b'\n')?..];
    let (first, rest) = match memchr::memchr(b'\n', m) {
        Some(i) => (&m[..i], &m[i + 1..]),
        None => (m, &m[m.len()..]),
    };
    let plain = !first.is_empty()
        && first.first() != Some(&b' ')
        && first.last() != Some(&b' ')
        && !first.iter().any(|b| b.is_ascii_whitespace() && *b != b' ');
    (plain && (rest.is_empty() || rest[0] == b'\n'))
        .then(|| String::from_utf8_lossy(first).into_owned())
}

fn kind_of(e: &git2::TreeEntry) -> EntryKind {
    match (e.kind(), e.filemode()) {
        (Some(ObjectType::Tree), _) => EntryKind::Dir,
        (Some(ObjectType::Blob), 0o120000) => EntryKind::Symlink,
        (Some(ObjectType::Blob), _) => EntryKind::File,
        _ => EntryKind::Other,
    }
}

/// The files of one commit or of the index, read through git.
pub struct GitSnapshot<'g> {
    git: &'g Git,
    files: HashMap<String, (Oid, EntryKind)>,
    label: String,
    /// The config root's tree, for paths outside the listed ones.
    tree: Option<Oid>,
}

impl GitSnapshot<'_> {
    /// Lists the files of the named clients' folders, for a snapshot made with a client list
    /// ([`Git::snapshot_in`]) that left them out.
    pub fn list_clients(&mut self, clients: &[String]) -> Result<(), GitError> {
        let repo = self.git.repo.lock().expect("git lock");
        for c in clients {
            let path = layout::client_folder(c);
            if let Some((oid, EntryKind::Dir)) = self.files.get(&path).copied() {
                self.git
                    .walk_raw(&repo, oid, &format!("{path}/"), &mut self.files)?;
            }
        }
        Ok(())
    }

    /// The clients the TOML files of the agents `ids` name (read from their text, as
    /// [`layout::client_in_text`] reads it).
    pub fn clients_named(&self, ids: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self
            .files
            .iter()
            .filter(|(p, (_, k))| {
                *k == EntryKind::File
                    && matches!(layout::classify(p), layout::Place::Agent { id, .. } if ids.contains(&id))
            })
            .filter_map(|(p, _)| {
                let bytes = self.read(p, crate::repo::snapshot::MAX_FILE_BYTES).ok()?;
                layout::client_in_text(std::str::from_utf8(&bytes).ok()?)
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The id and kind of a path, listed or looked up in the tree.
    fn lookup(&self, path: &str) -> Option<(Oid, EntryKind)> {
        if let Some(x) = self.files.get(path) {
            return Some(*x);
        }
        let repo = self.git.repo.lock().expect("git lock");
        let tree = repo.find_tree(self.tree?).ok()?;
        let e = tree.get_path(Path::new(path)).ok()?;
        Some((e.id(), kind_of(&e)))
    }
}

impl GitSnapshot<'_> {
    /// True when the state holds `opl.toml` at the config root.
    pub fn has_root(&self) -> bool {
        matches!(
            self.files.get(layout::ROOT_CONFIG),
            Some((_, EntryKind::File))
        )
    }
}

impl Snapshot for GitSnapshot<'_> {
    fn entries(&self) -> io::Result<Vec<Entry>> {
        let mut dirs = BTreeSet::new();
        let mut out = Vec::with_capacity(self.files.len());
        for (p, (_, kind)) in &self.files {
            let mut cur = p.as_str();
            while let Some((d, _)) = cur.rsplit_once('/') {
                // Most paths are in a folder already seen: no copy of its name is made.
                if dirs.contains(d) || !dirs.insert(d.to_string()) {
                    break;
                }
                cur = d;
            }
            if *kind != EntryKind::Dir {
                out.push(Entry {
                    path: p.clone(),
                    kind: *kind,
                    size: 0,
                });
            }
        }
        out.extend(dirs.into_iter().map(|path| Entry {
            path,
            kind: EntryKind::Dir,
            size: 0,
        }));
        // Paths are unique: no order among equals to keep.
        out.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn stat(&self, path: &str) -> Option<EntryKind> {
        self.lookup(path).map(|(_, k)| k)
    }

    fn read(&self, path: &str, limit: u64) -> io::Result<Vec<u8>> {
        let Some((oid, EntryKind::File)) = self.lookup(path) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{path} is not a file in {}", self.label),
            ));
        };
        self.git
            .with_reader(|repo| {
                // The size is checked once the blob is read: reading the header of a blob
                // stored as a delta first (to learn its size) costs about as much again, for
                // every one of 10,000 small agent files. git keeps whole objects in memory too.
                let blob = repo
                    .find_blob(oid)
                    .map_err(|e| io::Error::other(format!("object {oid}: {}", e.message())))?;
                check_limit(blob.size() as u64, limit)?;
                Ok(blob.content().to_vec())
            })
            .map_err(|e| io::Error::other(e.0))?
    }

    fn describe(&self) -> String {
        self.label.clone()
    }

    fn content_id(&self, path: &str) -> Option<[u8; 20]> {
        let (oid, _) = self.files.get(path)?;
        oid.as_bytes().try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits the files (path, Some(text) to write, None to delete) and returns the commit.
    pub(super) fn commit(repo: &Repository, root: &Path, files: &[(&str, Option<&str>)]) -> Id {
        for (p, t) in files {
            let f = root.join(p);
            match t {
                Some(t) => {
                    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
                    std::fs::write(f, t).unwrap();
                }
                None if f.is_dir() => std::fs::remove_dir_all(f).unwrap(),
                None => std::fs::remove_file(f).unwrap(),
            }
        }
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let parents: Vec<git2::Commit> = repo
            .head()
            .ok()
            .and_then(|h| h.target())
            .map(|id| repo.find_commit(id).unwrap())
            .into_iter()
            .collect();
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        Id(repo
            .commit(Some("HEAD"), &sig, &sig, "c", &tree, &refs)
            .unwrap())
    }

    /// A commit object written as given (`extra`: more header lines).
    fn raw_commit(
        repo: &Repository,
        parents: &[Oid],
        author: &str,
        committer: &str,
        extra: &str,
        message: &str,
    ) -> Oid {
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let mut t = format!("tree {tree}\n");
        for p in parents {
            t.push_str(&format!("parent {p}\n"));
        }
        t.push_str(&format!(
            "author {author}\ncommitter {committer}\n{extra}\n{message}"
        ));
        repo.odb()
            .unwrap()
            .write(ObjectType::Commit, t.as_bytes())
            .unwrap()
    }

    /// The walk read here visits the commits in libgit2's order and gives each the metadata
    /// libgit2 gives it: committer clocks that run backwards, equal times, merges, first
    /// parents only, and commits it leaves to libgit2 (names that need trimming, a time zone
    /// libgit2 drops, summaries libgit2 reshapes, signed and re-encoded commits).
    #[test]
    fn the_walk_read_here_is_libgit2s() {
        let d = tempfile::tempdir().unwrap();
        let repo = Repository::init(d.path()).unwrap();
        let sig = |who: &str, t: i64, tz: &str| format!("{who} <{}@x.org> {t} {tz}", who.trim());
        let c = |parents: &[Oid], a: String, t: i64, extra: &str, msg: &str| {
            raw_commit(&repo, parents, &a, &sig("Cy", t, "+0000"), extra, msg)
        };
        let c1 = c(&[], sig("Ann", 100, "+0000"), 100, "", "root\n");
        let c2 = c(&[c1], sig("Bo", 200, "+0100"), 200, "", "two\n\nbody\n");
        let c3 = c(&[c2], sig("Bo", 90, "-0000"), 150, "", "clock behind\n");
        let s1 = c(&[c1], sig("Sid", 300, "+0530"), 300, "", "first\nsecond\n");
        let s2 = c(&[s1], sig("Sid", 150, "+0000"), 150, "", "same time\n");
        let m = c(
            &[c3, s2],
            sig("Mia", 400, "+0000"),
            400,
            "gpgsig -----BEGIN PGP SIGNATURE-----\n abc\n -----END PGP SIGNATURE-----\n",
            "Merge side\n",
        );
        let c5 = c(
            &[m],
            sig("  Ann  ", 500, "+1500"),
            500,
            "",
            "\n\nleading blank lines\n",
        );
        let c6 = c(&[c5], sig("Dee", 600, "-0230"), 600, "", "tab\there\n");
        let c7 = c(
            &[c6],
            sig("Eve", 700, "+0000"),
            700,
            "encoding ISO-8859-1\n",
            "plain\n",
        );
        let x = c(&[c1], sig("Xi", 700, "+0000"), 700, "", " leading space\n");
        let y = c(&[x], sig("Yu", 700, "+0000"), 700, "", "trailing space \n");
        let tip = c(&[c7, y], sig("Zo", 800, "+0000"), 800, "", "Merge y\n");
        let git = Git {
            repo: Mutex::new(Repository::open(d.path()).unwrap()),
            raw_trees: Mutex::default(),
            packs: Mutex::default(),
            spare: Mutex::default(),
            prefix: String::new(),
            workdir: None,
            shallow: false,
        };
        let repo = git.repo.lock().unwrap();
        for first_parent in [false, true] {
            let read = git.log_read(&repo, tip, first_parent, &()).unwrap();
            let parsed_here = read.iter().filter(|(m, _, _)| m.is_ok()).count();
            let left = read.len() - parsed_here;
            assert!(parsed_here >= 4 && left >= 2, "{parsed_here} / {left}");
            assert!(read.iter().all(|(_, _, known)| !known));
            let read: Vec<(CommitMeta, i64)> = read
                .into_iter()
                .map(|(m, t, _)| match m {
                    Ok(m) => (m, t),
                    Err(id) => (meta(&repo.find_commit(id).unwrap()), t),
                })
                .collect();
            let want = log_libgit2(&repo, tip, first_parent).unwrap();
            assert_eq!(read, want, "first parent: {first_parent}");
            assert_eq!(read.len(), if first_parent { 8 } else { 12 });
        }
        drop(repo);
        // A walk that finds every commit in what an earlier walk learned lists the same commits,
        // and reads none of them.
        #[derive(Default)]
        struct Learned(HashMap<Id, (CommitMeta, i64)>);
        impl KnownCommits for Learned {
            fn get(&self, id: Id) -> Option<(CommitMeta, i64)> {
                self.0.get(&id).cloned()
            }
            fn learn(&mut self, meta: &CommitMeta, time: i64) {
                self.0.insert(meta.id, (meta.clone(), time));
            }
            fn count(&self) -> usize {
                self.0.len()
            }
        }
        let tip = Id(tip).to_string();
        let mut learned = Learned::default();
        let first = git.log_known(&tip, false, None, &mut learned).unwrap();
        assert_eq!(learned.count(), 12);
        let repo = git.repo.lock().unwrap();
        let again = git.log_read(&repo, Oid::from_str(&tip).unwrap(), false, &learned);
        assert!(
            again
                .unwrap()
                .iter()
                .all(|(m, _, known)| m.is_ok() && *known)
        );
        let since: Vec<CommitMeta> = log_libgit2(&repo, Oid::from_str(&tip).unwrap(), false)
            .unwrap()
            .into_iter()
            .filter(|(_, t)| *t >= 700)
            .map(|(m, _)| m)
            .collect();
        drop(repo);
        assert_eq!(
            git.log_known(&tip, false, None, &mut learned).unwrap(),
            first
        );
        assert!(!since.is_empty() && since.len() < first.len());
        assert_eq!(
            git.log_known(&tip, false, Some(700), &mut learned).unwrap(),
            since
        );
        assert_eq!(git.log(&tip, false, Some(700)).unwrap(), since);
    }

    /// The raw comparison of two commits lists exactly the paths libgit2's tree diff lists:
    /// additions, deletions, changes, a file that becomes a folder, nested folders, a subfolder
    /// config root.
    #[test]
    fn raw_diff_agrees_with_libgit2() {
        let d = tempfile::tempdir().unwrap();
        let repo = Repository::init(d.path()).unwrap();
        let steps: Vec<Vec<(&str, Option<&str>)>> = vec![
            vec![
                ("cfg/opl.toml", Some("version = 1\n")),
                ("cfg/agents/a.toml", Some("a\n")),
                ("cfg/agents/b/agent.toml", Some("b\n")),
                ("cfg/agents/b/p.md", Some("p\n")),
                ("cfg/clients/c/x.toml", Some("x\n")),
                ("other/file", Some("o\n")),
            ],
            vec![
                ("cfg/agents/a.toml", Some("a2\n")),
                ("cfg/agents/b/p.md", None),
                ("cfg/agents/c.toml", Some("c\n")),
                ("other/file", Some("o2\n")),
            ],
            vec![
                ("cfg/agents/a.toml", None),
                ("cfg/agents/a.toml/x.toml", Some("dir now\n")),
                ("cfg/clients/c", None),
                ("cfg/clients/d/deep/er/y.toml", Some("y\n")),
            ],
            vec![("README", Some("r\n"))],
        ];
        let ids: Vec<Id> = steps.iter().map(|s| commit(&repo, d.path(), s)).collect();
        for prefix in ["", "cfg/"] {
            let git = Git {
                repo: Mutex::new(Repository::open(d.path()).unwrap()),
                raw_trees: Mutex::default(),
                packs: Mutex::default(),
                spare: Mutex::default(),
                prefix: prefix.to_string(),
                workdir: None,
                shallow: false,
            };
            for (i, a) in ids.iter().enumerate() {
                for b in &ids[i..] {
                    let raw = git
                        .changed_paths(&State::Commit(*a), &State::Commit(*b))
                        .unwrap();
                    let mut want = BTreeSet::new();
                    let (ta, tb) = (
                        repo.find_commit(a.0).unwrap().tree().unwrap(),
                        repo.find_commit(b.0).unwrap().tree().unwrap(),
                    );
                    let diff = repo.diff_tree_to_tree(Some(&ta), Some(&tb), None).unwrap();
                    for dl in diff.deltas() {
                        for f in [dl.old_file(), dl.new_file()] {
                            let p = f.path().unwrap().to_str().unwrap();
                            if let Some(rel) = p.strip_prefix(prefix) {
                                want.insert(rel.to_string());
                            }
                        }
                    }
                    let want: Vec<String> = want.into_iter().collect();
                    assert_eq!(raw, want, "{prefix:?} {a} -> {b}");
                }
            }
        }
    }
}

/// Listing some agents at a commit, and the clients their files name: for a commit and for the
/// index (which lists every path), only those agents' files are read for their client.
#[cfg(test)]
#[test]
fn clients_named_reads_only_the_agents_asked_for() {
    let d = tempfile::tempdir().unwrap();
    let repo = Repository::init(d.path()).unwrap();
    let agent = |c: &str| format!("[agent]\nclient = \"{c}\"\n");
    let id = tests::commit(
        &repo,
        d.path(),
        &[
            ("opl.toml", Some("version = 1\n")),
            ("clients/acme/c.toml", Some("[meta]\n")),
            ("clients/beta/c.toml", Some("[meta]\n")),
            ("clients/gamma/c.toml", Some("[meta]\n")),
            ("agents/a.toml", Some(&agent("acme"))),
            ("agents/b/x.toml", Some(&agent("beta"))),
            ("agents/c.toml", Some(&agent("gamma"))),
        ],
    );
    let git = Git::discover(d.path()).unwrap().unwrap();
    let ids = ["a".to_string(), "b".to_string()];
    for state in [State::Commit(id), State::Index] {
        let mut snap = git.snapshot_in(&state, Some(&ids), Some(&[])).unwrap();
        assert_eq!(snap.clients_named(&ids), ["acme", "beta"], "{state:?}");
        snap.list_clients(&["beta".to_string()]).unwrap();
        assert!(snap.lookup("clients/beta/c.toml").is_some());
    }
}

#[cfg(test)]
mod raw_tree_tests {
    use super::*;

    /// A raw tree of `(mode, name, id byte)` entries, in the order given.
    fn raw(entries: &[(&str, &str, u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (mode, name, id) in entries {
            out.extend_from_slice(format!("{mode} {name}\0").as_bytes());
            out.extend_from_slice(&[*id; 20]);
        }
        out
    }

    #[test]
    fn a_tree_parsed_like_another_is_the_tree_parsed_whole() {
        let base: Vec<(String, u8)> = (0..300)
            .map(|i| (format!("a{i:05}.toml"), (i % 250) as u8))
            .collect();
        let as_entries = |v: &[(String, u8)]| -> Arc<Vec<u8>> {
            let e: Vec<(&str, &str, u8)> = v
                .iter()
                .map(|(n, id)| ("100644", n.as_str(), *id))
                .collect();
            Arc::new(raw(&e))
        };
        let like = RawTree::parse(as_entries(&base)).unwrap();
        let mut edits: Vec<Vec<(String, u8)>> = Vec::new();
        for at in [0usize, 1, 150, 298, 299] {
            let mut changed = base.clone();
            changed[at].1 = changed[at].1.wrapping_add(1);
            edits.push(changed);
            let mut removed = base.clone();
            removed.remove(at);
            edits.push(removed);
            let mut added = base.clone();
            added.insert(at, (format!("a{at:05}.tom"), 7));
            edits.push(added);
        }
        edits.push(base.clone());
        edits.push(Vec::new());
        let mut two = base.clone();
        two[3].1 ^= 1;
        two[290].1 ^= 1;
        edits.push(two);
        for e in edits {
            let data = as_entries(&e);
            let whole = RawTree::parse(data.clone()).unwrap();
            let (fast, changed) = RawTree::parse_like(data, &like).unwrap();
            assert_eq!(fast.entries, whole.entries);
            let mut want: Vec<Vec<u8>> = like
                .changed_names(&whole)
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect();
            let mut got = changed;
            want.sort();
            got.sort();
            assert_eq!(got, want);
        }
    }
}
