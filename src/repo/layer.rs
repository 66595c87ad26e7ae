//! Discovery and loading of the layers of a config repository (spec sections 1 and 2).
//!
//! The snapshot's entries are classified into `opl.toml`, the global layer, one layer per client
//! and one per agent; every layer file is read (size-limited, UTF-8 only), parsed and checked
//! against the schema in parallel; the files of one layer are combined into one table
//! (`duplicate-key` across files); fragment files named by any layer are read once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rayon::prelude::*;

use crate::check::shape::{CheckedFile, check_file};
use crate::diagnostic::{Code, Finding, did_you_mean};
use crate::model::key_path::KeyPath;
use crate::model::schema::{self, Shape};
use crate::model::source::{FileId, LayerKind, SourceFile, Sources, Span, safe};
use crate::model::value::{Node, Table, Value, parse_file};
use crate::repo::layout::{self, Place, Selection};
use crate::repo::snapshot::{Entry, EntryKind, Snapshot};

use crate::repo::snapshot::{MAX_FILE_BYTES, MAX_FILES};

/// One layer: its files, combined.
#[derive(Clone, Debug)]
pub struct Layer {
    pub kind: LayerKind,
    pub files: Vec<CheckedFile>,
    /// The files' tables combined (section 2); a one-file layer shares its file's table.
    pub table: Arc<Table>,
    /// Key paths locked by this layer's `meta.lock`.
    pub locks: Vec<(KeyPath, Span)>,
    /// Findings about this layer's own files (parse, schema, duplicate keys, fragment refs).
    pub findings: Vec<Finding>,
}

impl Layer {
    fn new(kind: LayerKind) -> Self {
        Layer {
            kind,
            files: Vec::new(),
            table: Arc::default(),
            locks: Vec::new(),
            findings: Vec::new(),
        }
    }
    /// True when any finding of this layer is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.is_error())
    }
    /// The first file of the layer, for findings about the layer as a whole.
    pub fn anchor(&self) -> Option<FileId> {
        self.files.first().map(|f| f.file)
    }
}

/// A loaded config repository: sources, layers and the findings of loading.
#[derive(Debug)]
pub struct Repo {
    pub sources: Sources,
    /// The `name` of `opl.toml`.
    pub name: Option<String>,
    pub root_file: Option<FileId>,
    pub global: Layer,
    pub clients: BTreeMap<String, Layer>,
    pub agents: BTreeMap<String, Layer>,
    /// Fragment files by root-relative path.
    pub fragments: HashMap<String, FileId>,
    /// Findings that belong to no layer: `opl.toml`, stray files, bad ids.
    pub findings: Vec<Finding>,
    /// Lint codes allowed by `[lints]` in `opl.toml`.
    pub allowed_lints: Vec<Code>,
    /// Every valid agent id in the snapshot, loaded or not.
    pub agent_ids: Vec<String>,
    /// The snapshot has a `tests/` folder (policy tests, read only by the commands that run them).
    pub has_tests: bool,
}

impl Repo {
    /// The client whose prefix an agent layer naming `named` (its `agent.client`, when a string)
    /// merges onto: that client when the repository has it; `None` (global's prefix) for an
    /// agent naming none or one that is not there.
    pub fn prefix_client<'a>(&self, named: Option<&'a str>) -> Option<&'a str> {
        named.filter(|c| self.clients.contains_key(*c))
    }

    /// [`Repo::prefix_client`] of the client an agent layer names.
    pub fn agent_client<'a>(&self, layer: &'a Layer) -> Option<&'a str> {
        self.prefix_client(crate::repo::layout::client_of(&layer.table))
    }
}

/// True for a valid client or agent id: `^[a-z0-9][a-z0-9_-]{0,62}$`.
pub fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

enum Role {
    Root,
    Layer(LayerKind),
    Stray,
}

struct Pending {
    path: String,
    role: Role,
}

/// Loads every layer of the snapshot.
pub fn load(snap: &dyn Snapshot) -> std::io::Result<Repo> {
    load_selected(snap, &Selection::All)
}

/// Loads the global layer, the selected agents and the clients they name. Every client and agent
/// id is still listed (for `unknown-client` and did-you-mean), but unselected layers stay empty.
///
/// The stages: list the snapshot and say what each path is (`discover`), check the ids
/// (`check_ids`), read, parse and check against the schema the wanted files (`read_selected`),
/// read the fragments the layers name (`read_fragments`), combine
/// each layer's files (`Layers::combine`), read `opl.toml` (`check_root`).
pub fn load_selected(snap: &dyn Snapshot, selection: &Selection) -> std::io::Result<Repo> {
    let entries = snap.entries()?;
    if entries.len() > MAX_FILES {
        return Ok(too_many_files(snap));
    }
    let mut out = Output::default();
    let has_tests = entries.iter().any(|e| {
        e.path == crate::repo::layout::TESTS
            || e.path
                .strip_prefix(crate::repo::layout::TESTS)
                .is_some_and(|r| r.starts_with('/'))
    });
    let found = discover(&entries, selection, &mut out);
    let (bad_clients, bad_agents) = check_ids(&found, &mut out);
    let mut pending = found.pending;
    pending.retain(|p| match &p.role {
        Role::Layer(LayerKind::Client(c)) => !bad_clients.contains(c),
        Role::Layer(LayerKind::Agent(a)) => !bad_agents.contains(a),
        _ => true,
    });
    pending.sort_by(|a, b| a.path.cmp(&b.path));
    let read = read_selected(snap, pending, selection, out.sources.iter().count() as u32);

    let mut layers = Layers {
        global: Layer::new(LayerKind::Global),
        clients: found
            .clients
            .iter()
            .filter(|(c, _)| !bad_clients.contains(c))
            .map(|(c, _)| (c.clone(), Layer::new(LayerKind::Client(c.clone()))))
            .collect(),
        agents: BTreeMap::new(),
    };
    let mut root = None;
    for (sf, r) in read {
        let layer = sf.layer.clone();
        let fid = out.sources.add(sf);
        if layer == LayerKind::Root {
            root = Some((fid, r.root));
        }
        match layers.get_or_insert(&layer) {
            Some(l) => {
                l.findings.extend(r.findings);
                if let Some(c) = r.checked {
                    // Most layers are one file: room for one, not the four a first push makes.
                    l.files.reserve_exact(1);
                    l.files.push(c);
                }
            }
            None => out.findings.extend(r.findings),
        }
    }
    let fragments = read_fragments(snap, &entries, &layers, &mut out);
    layers.combine(&fragments);
    let fragments = fragments.files;

    let mut name = None;
    let mut allowed_lints = Vec::new();
    if let Some((fid, Some(t))) = &root {
        check_root(*fid, t, &mut name, &mut allowed_lints, &mut out.findings);
    }
    Ok(Repo {
        sources: out.sources,
        name,
        root_file: root.map(|(fid, _)| fid),
        global: layers.global,
        clients: layers.clients,
        agents: layers.agents,
        fragments,
        findings: out.findings,
        allowed_lints,
        agent_ids: found
            .agents
            .into_keys()
            .filter(|a| !bad_agents.contains(a))
            .collect(),
        has_tests,
    })
}

/// The files read so far and the findings that belong to no layer.
#[derive(Default)]
struct Output {
    sources: Sources,
    findings: Vec<Finding>,
}

impl Output {
    /// A file known by its path only (a folder, a link, a file not read).
    fn placeholder(&mut self, path: &str, layer: LayerKind) -> FileId {
        self.sources
            .add(SourceFile::new(path.to_string(), String::new(), layer))
    }
}

/// What listing the snapshot found.
struct Discovery {
    /// Files to read, with their role.
    pending: Vec<Pending>,
    /// Client ids with the path of their folder.
    clients: Vec<(String, String)>,
    /// Agent ids with the paths of every form seen (`agents/a.toml`, `agents/a`).
    agents: BTreeMap<String, Vec<String>>,
}

/// Says what each path of the snapshot is; a symbolic link in a layer folder is a finding. Every
/// agent id is listed; only the files of the agents `selection` reads are pending.
fn discover(entries: &[Entry], selection: &Selection, out: &mut Output) -> Discovery {
    let mut found = Discovery {
        pending: Vec::new(),
        clients: Vec::new(),
        agents: BTreeMap::new(),
    };
    // Folders under agents/ that hold a *.toml file somewhere below (the directory form).
    let agent_dirs: HashSet<String> = entries
        .iter()
        .filter(|e| {
            e.kind == EntryKind::File
                && e.path
                    .strip_prefix(layout::AGENTS)
                    .and_then(|r| r.strip_prefix('/'))
                    .is_some_and(|r| r.contains('/'))
        })
        .filter_map(|e| match layout::classify(&e.path) {
            Place::Agent { id, folder: true } => Some(layout::agent_folder(&id)),
            _ => None,
        })
        .collect();
    for e in entries {
        let hidden = layout::hidden(&e.path);
        if e.kind == EntryKind::Symlink && layout::in_layers(&e.path) && !hidden {
            let id = out.placeholder(&e.path, LayerKind::Stray);
            out.findings.push(
                Finding::new(
                    Code::Symlink,
                    Span::file_start(id),
                    format!(
                        "`{}` is a symbolic link; opl never follows links in layer folders",
                        safe(&e.path)
                    ),
                )
                .label("symbolic link")
                .help("replace the link with the file or folder itself"),
            );
            continue;
        }
        if e.kind == EntryKind::Dir {
            let parts: Vec<&str> = e.path.split('/').collect();
            match parts.as_slice() {
                [layout::CLIENTS, c] if !hidden => {
                    found.clients.push((c.to_string(), e.path.clone()))
                }
                [layout::AGENTS, a] if !hidden && agent_dirs.contains(e.path.as_str()) => found
                    .agents
                    .entry(a.to_string())
                    .or_default()
                    .push(e.path.clone()),
                _ => {}
            }
            continue;
        }
        if e.kind != EntryKind::File {
            continue;
        }
        let role = match layout::classify(&e.path) {
            Place::RootConfig => Role::Root,
            Place::Global => Role::Layer(LayerKind::Global),
            Place::Client(c) => Role::Layer(LayerKind::Client(c)),
            Place::Agent { id, folder } => {
                if !folder {
                    found
                        .agents
                        .entry(id.clone())
                        .or_default()
                        .push(e.path.clone());
                }
                if !selection.reads_agent(&id) {
                    continue;
                }
                Role::Layer(LayerKind::Agent(id))
            }
            Place::Stray => Role::Stray,
            // Policy tests are read by the commands that run them; other files only when a
            // layer names them.
            Place::Test | Place::Other => continue,
        };
        found.pending.push(Pending {
            path: e.path.clone(),
            role,
        });
    }
    found
}

/// Checks client and agent ids (pattern, case collisions, an agent in both forms); returns the
/// bad client and agent ids, whose layers are not read.
fn check_ids(found: &Discovery, out: &mut Output) -> (HashSet<String>, HashSet<String>) {
    let mut bad_clients = HashSet::new();
    let mut bad_agents = HashSet::new();
    let client_list: Vec<(&str, &str)> = found
        .clients
        .iter()
        .map(|(id, path)| (id.as_str(), path.as_str()))
        .collect();
    let agent_list: Vec<(&str, &str)> = found
        .agents
        .iter()
        .map(|(id, forms)| (id.as_str(), forms[0].as_str()))
        .collect();
    for (list, bad, what) in [
        (&client_list, &mut bad_clients, "client"),
        (&agent_list, &mut bad_agents, "agent"),
    ] {
        // Distinct valid ids are distinct in lowercase: only an invalid one can collide.
        if list.iter().all(|(id, _)| valid_id(id)) {
            continue;
        }
        let mut by_lower: HashMap<std::borrow::Cow<str>, (&str, &str)> = HashMap::new();
        for &(id, path) in list {
            // A valid id is lowercase already.
            let lower = if valid_id(id) {
                std::borrow::Cow::Borrowed(id)
            } else {
                std::borrow::Cow::Owned(id.to_ascii_lowercase())
            };
            let other = by_lower.get(&lower).copied();
            if valid_id(id) && other.is_none() {
                by_lower.insert(lower, (id, path));
                continue;
            }
            let fid = out.placeholder(path, LayerKind::Stray);
            if !valid_id(id) {
                bad.insert(id.to_string());
                out.findings.push(
                    Finding::new(Code::InvalidId, Span::file_start(fid), format!("`{}` is not a valid {what} id", safe(id)))
                        .label("bad id")
                        .help("ids are 1-63 characters of a-z, 0-9, `_` and `-`, starting with a letter or digit"),
                );
            }
            if let Some((other, opath)) = other {
                let ofid = out.placeholder(opath, LayerKind::Stray);
                bad.insert(id.to_string());
                bad.insert(other.to_string());
                out.findings.push(
                    Finding::new(
                        Code::CaseCollision,
                        Span::file_start(fid),
                        format!(
                            "{what} ids `{}` and `{}` differ only in case",
                            safe(id),
                            safe(other)
                        ),
                    )
                    .label("this one")
                    .related(Span::file_start(ofid), "collides with this one")
                    .help("they are one folder on case-insensitive file systems: rename one"),
                );
            } else {
                by_lower.insert(lower, (id, path));
            }
        }
    }
    for (id, forms) in &found.agents {
        let file_form = forms
            .iter()
            .any(|f| f.ends_with(".toml") && f.matches('/').count() == 1);
        let dir_form = forms
            .iter()
            .any(|f| !f.ends_with(".toml") || f.matches('/').count() > 1);
        if file_form && dir_form {
            bad_agents.insert(id.clone());
            let a = out.placeholder(&layout::agent_file(id), LayerKind::Agent(id.clone()));
            let b = out.placeholder(&layout::agent_folder(id), LayerKind::Agent(id.clone()));
            out.findings.push(
                Finding::new(
                    Code::AmbiguousAgent,
                    Span::file_start(a),
                    format!(
                        "agent `{}` has both agents/{0}.toml and the folder agents/{0}/",
                        safe(id)
                    ),
                )
                .label("file form")
                .related(Span::file_start(b), "folder form")
                .help(
                    "keep one: move the file into the folder, or the folder's files into one file",
                ),
            );
        }
    }
    (bad_clients, bad_agents)
}

/// Reads and parses the files pending (the unselected agents' are not, see [`discover`]), in
/// path order, in parallel; for a selection of agents, only the clients they name.
fn read_selected(
    snap: &dyn Snapshot,
    pending: Vec<Pending>,
    selection: &Selection,
    base: u32,
) -> Vec<(SourceFile, ReadFile)> {
    if !matches!(selection, Selection::Agents(_)) {
        return read_batch(snap, &pending, base);
    }
    let (first, mut clients): (Vec<Pending>, Vec<Pending>) = pending
        .into_iter()
        .partition(|p| !matches!(&p.role, Role::Layer(LayerKind::Client(_))));
    let mut read = read_batch(snap, &first, base);
    let needed: HashSet<String> = read.iter().filter_map(|(_, r)| r.client.clone()).collect();
    clients.retain(|p| matches!(&p.role, Role::Layer(LayerKind::Client(c)) if needed.contains(c)));
    let next = base + read.len() as u32;
    read.extend(read_batch(snap, &clients, next));
    read
}

/// The layers being loaded.
struct Layers {
    global: Layer,
    clients: BTreeMap<String, Layer>,
    agents: BTreeMap<String, Layer>,
}

impl Layers {
    /// The layer of a file of this kind (created for an agent or client first seen), or `None`
    /// for files of no layer.
    fn get_or_insert(&mut self, kind: &LayerKind) -> Option<&mut Layer> {
        match kind {
            LayerKind::Global => Some(&mut self.global),
            LayerKind::Client(c) => Some(
                self.clients
                    .entry(c.clone())
                    .or_insert_with(|| Layer::new(kind.clone())),
            ),
            LayerKind::Agent(a) => Some(
                self.agents
                    .entry(a.clone())
                    .or_insert_with(|| Layer::new(kind.clone())),
            ),
            LayerKind::Root
            | LayerKind::Fragment
            | LayerKind::Stray
            | LayerKind::External
            | LayerKind::Test => None,
        }
    }

    /// Every layer: global, the clients, the agents.
    fn iter(&self) -> impl Iterator<Item = &Layer> {
        std::iter::once(&self.global)
            .chain(self.clients.values())
            .chain(self.agents.values())
    }

    /// Combines each layer's files into one table (`duplicate-key` across them), collects its
    /// locks, and turns the fragment files that could not be read into `file-ref` findings and
    /// the credentials in fragment files into `plaintext-secret` findings of the layers that
    /// name them.
    fn combine(&mut self, fragments: &Fragments) {
        combine_layer(&mut self.global, fragments);
        self.clients
            .par_iter_mut()
            .for_each(|(_, l)| combine_layer(l, fragments));
        self.agents
            .par_iter_mut()
            .for_each(|(_, l)| combine_layer(l, fragments));
    }
}

/// Combines one layer's files (see [`Layers::combine`]).
fn combine_layer(layer: &mut Layer, fragments: &Fragments) {
    let mut table = Table::new();
    let mut f = Vec::new();
    // One file into an empty table is that file's table: it is shared, not rebuilt.
    let shared = match layer.files.as_slice() {
        [only] => Some(Arc::clone(&only.table)),
        _ => None,
    };
    for file in &mut layer.files {
        if shared.is_none() {
            let t = Arc::unwrap_or_clone(std::mem::take(&mut file.table));
            combine(&mut table, t, &KeyPath::root(), &mut f);
        }
        layer.locks.extend(file.meta.locks.iter().cloned());
        for r in &file.fragments {
            if let (Some(fid), Some((range, why))) =
                (fragments.files.get(&r.path), fragments.secrets.get(&r.path))
            {
                f.push(
                    Finding::new(
                        Code::PlaintextSecret,
                        Span::new(*fid, range.clone()),
                        format!(
                            "fragment file `{}` holds what looks like {why}: it becomes part of the prompt",
                            safe(&r.path)
                        ),
                    )
                    .label("plaintext secret")
                    .related(r.span, "named here")
                    .help("remove it from the text; give the agent a reference, never the secret"),
                );
            }
            if let Some(why) = fragments.errors.get(&r.path) {
                f.push(
                    Finding::new(
                        Code::FileRef,
                        r.span,
                        format!("fragment file `{}` {why}", safe(&r.path)),
                    )
                    .label("unusable fragment file"),
                );
            }
        }
    }
    layer.table = shared.unwrap_or_else(|| Arc::new(table));
    layer.findings.extend(f);
}

/// The fragment files the layers name.
struct Fragments {
    /// The readable ones, by path.
    files: HashMap<String, FileId>,
    /// Why each other one cannot be used.
    errors: HashMap<String, String>,
    /// Where a readable one holds a credential, and what it looks like.
    secrets: HashMap<String, (std::ops::Range<usize>, &'static str)>,
}

/// Reads every fragment file the layers name, once each, in parallel.
fn read_fragments(
    snap: &dyn Snapshot,
    entries: &[Entry],
    layers: &Layers,
    out: &mut Output,
) -> Fragments {
    let mut paths: Vec<String> = layers
        .iter()
        .flat_map(|l| {
            l.files
                .iter()
                .flat_map(|f| f.fragments.iter().map(|r| r.path.clone()))
        })
        .collect();
    paths.sort();
    paths.dedup();
    // What the listing says each of them is (one pass over it, each entry looked up among the
    // few paths named, sorted above).
    let kinds: HashMap<&str, EntryKind> = if paths.is_empty() {
        HashMap::new()
    } else {
        entries
            .iter()
            .filter(|e| paths.binary_search(&e.path).is_ok())
            .map(|e| (e.path.as_str(), e.kind))
            .collect()
    };
    let read: Vec<(SourceFile, Result<(), String>)> = paths
        .par_iter()
        .map(|path| {
            let kind = kinds
                .get(path.as_str())
                .copied()
                .or_else(|| snap.stat(path));
            let res = match kind {
                None => Err("does not exist".to_string()),
                Some(EntryKind::Symlink) => {
                    Err("is a symbolic link, which opl never follows".to_string())
                }
                Some(EntryKind::Dir) => Err("is a directory".to_string()),
                Some(EntryKind::Other) => Err("is not a regular file".to_string()),
                Some(EntryKind::File) => match snap.read(path, MAX_FILE_BYTES) {
                    Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                        Err(format!("is {e}"))
                    }
                    Err(e) => Err(format!("cannot be read: {e}")),
                    Ok(bytes) => match String::from_utf8(bytes) {
                        Ok(text) => {
                            return (
                                SourceFile::new(path.clone(), text, LayerKind::Fragment),
                                Ok(()),
                            );
                        }
                        Err(e) => Err(format!(
                            "is not valid UTF-8 (byte {})",
                            e.utf8_error().valid_up_to()
                        )),
                    },
                },
            };
            (
                SourceFile::new(path.clone(), String::new(), LayerKind::Fragment),
                res,
            )
        })
        .collect();
    let mut found = Fragments {
        files: HashMap::new(),
        errors: HashMap::new(),
        secrets: HashMap::new(),
    };
    for (sf, res) in read {
        let path = sf.path.clone();
        let secret = crate::check::secret::locate(&sf.text);
        let fid = out.sources.add(sf);
        match res {
            Ok(()) => {
                if let Some(s) = secret {
                    found.secrets.insert(path.clone(), s);
                }
                found.files.insert(path, fid);
            }
            Err(why) => {
                found.errors.insert(path, why);
            }
        }
    }
    found
}

/// The repository of a snapshot beyond the path limit: nothing is read; one `too-many-files`
/// finding on `opl.toml` says why.
fn too_many_files(snap: &dyn Snapshot) -> Repo {
    let mut sources = Sources::default();
    let id = sources.add(SourceFile::new(
        "opl.toml".to_string(),
        String::new(),
        LayerKind::Root,
    ));
    let finding = Finding::new(
        Code::TooManyFiles,
        Span::file_start(id),
        format!(
            "{} holds more than {MAX_FILES} paths, the limit; nothing was read",
            safe(&snap.describe())
        ),
    )
    .label("repository root")
    .help("keep generated or unrelated files out of the config root, or split the repository");
    Repo {
        sources,
        name: None,
        root_file: None,
        global: Layer::new(LayerKind::Global),
        clients: BTreeMap::new(),
        agents: BTreeMap::new(),
        fragments: HashMap::new(),
        findings: vec![finding],
        allowed_lints: Vec::new(),
        agent_ids: Vec::new(),
        has_tests: false,
    }
}

/// A file as read, parsed and (a layer file) checked against the schema.
#[derive(Clone)]
struct ReadFile {
    /// Its text (shared with the sources when the file is loaded).
    text: Arc<str>,
    /// `opl.toml`'s table (checked later, with the whole root).
    root: Option<Table>,
    /// A layer file, checked.
    checked: Option<CheckedFile>,
    /// The client an agent file names (read before the check, as the file says it).
    client: Option<String>,
    /// The findings of reading, parsing and checking it.
    findings: Vec<Finding>,
}

/// Files read by earlier loads of this process, by file id and content id, for walks that load
/// many neighbouring states of a history (`opl audit`): a file whose content and file id are
/// those of a file read before is taken from here instead of being read, parsed and checked
/// again. The result is the same: it depends on the file id, the path and the text only (an
/// entry is found by the first and the text's id, and used when its path is the file's). Off
/// unless a walk turns it on ([`keep_parsed_files`]).
struct ParseMemo {
    files: crate::keyed::HashKeyed<MemoKey, (AtomicU64, String, ReadFile)>,
    /// The load being made; entries remember the last load that used them.
    load: u64,
}

/// A file's id and content id: with its path, what its reading, parsing and checking depend on.
type MemoKey = (u32, [u8; 20]);

/// Read-mostly: the loads of a walk look files up from every thread at once.
static PARSE_MEMO: RwLock<Option<ParseMemo>> = RwLock::new(None);

/// Most files the memo holds: beyond this, those the last load did not use are dropped.
const MEMO_FILES: usize = 40_000;

/// The parse memo turned on for as long as this lives ([`keep_parsed_files`]).
pub struct KeptParsedFiles(());

impl Drop for KeptParsedFiles {
    fn drop(&mut self) {
        set_parse_memo(false);
    }
}

/// Turns the parse memo on for a walk over many states of one history, until the returned guard
/// is dropped (the memo with it).
pub fn keep_parsed_files() -> KeptParsedFiles {
    set_parse_memo(true);
    KeptParsedFiles(())
}

fn set_parse_memo(on: bool) {
    let mut memo = PARSE_MEMO.write().unwrap_or_else(|e| e.into_inner());
    *memo = on.then(|| ParseMemo {
        files: Default::default(),
        load: 0,
    });
}

/// Starts a load: a new generation of the memo, trimmed to the files the last load used when it
/// grew too large. False when the memo is off.
fn memo_next_load() -> bool {
    let mut guard = PARSE_MEMO.write().unwrap_or_else(|e| e.into_inner());
    let Some(memo) = guard.as_mut() else {
        return false;
    };
    if memo.files.len() > MEMO_FILES {
        let last = memo.load;
        memo.files.retain(|_, (used, _, _)| *used.get_mut() == last);
    }
    memo.load += 1;
    true
}

/// The file of `key` at `path` from the memo.
fn memo_get(key: &MemoKey, path: &str) -> Option<ReadFile> {
    let guard = PARSE_MEMO.read().unwrap_or_else(|e| e.into_inner());
    let memo = guard.as_ref()?;
    let (used, _, file) = memo.files.get(key).filter(|(_, at, _)| at == path)?;
    used.store(memo.load, Ordering::Relaxed);
    Some(file.clone())
}

/// Keeps the file of `key` at `path` (in place of one with the same key at another path).
fn memo_put(key: MemoKey, path: &str, file: &ReadFile) {
    let mut guard = PARSE_MEMO.write().unwrap_or_else(|e| e.into_inner());
    if let Some(memo) = guard.as_mut() {
        let load = AtomicU64::new(memo.load);
        memo.files
            .insert(key, (load, path.to_string(), file.clone()));
    }
}

/// Reads, parses and checks a batch of files in parallel; file ids start at `base`.
fn read_batch(snap: &dyn Snapshot, batch: &[Pending], base: u32) -> Vec<(SourceFile, ReadFile)> {
    let memo = memo_next_load();
    batch
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let fid = FileId(base + i as u32);
            let layer = match &p.role {
                Role::Root => LayerKind::Root,
                Role::Layer(k) => k.clone(),
                Role::Stray => LayerKind::Stray,
            };
            if matches!(p.role, Role::Stray) {
                let f = Finding::new(
                    Code::StrayFile,
                    Span::file_start(fid),
                    format!("`{}` is outside every layer and is ignored", safe(&p.path)),
                )
                .label("stray file")
                .help("layer files live under global/, clients/<client>/ or agents/");
                let read = ReadFile {
                    text: Arc::from(""),
                    root: None,
                    checked: None,
                    client: None,
                    findings: vec![f],
                };
                return (SourceFile::new(p.path.clone(), String::new(), layer), read);
            }
            let content = snap.content_id(&p.path);
            let key = content.filter(|_| memo).map(|id| (fid.0, id));
            let read = match key.as_ref().and_then(|k| memo_get(k, &p.path)) {
                Some(hit) => hit,
                None => {
                    let read = read_file(snap, p, fid, &layer);
                    if let Some(key) = key {
                        memo_put(key, &p.path, &read);
                    }
                    read
                }
            };
            // The text is shared by the sources and the memo.
            let mut source = SourceFile::new(p.path.clone(), read.text.clone(), layer);
            source.content = content;
            (source, read)
        })
        .collect()
}

/// Reads, parses and checks one file.
fn read_file(snap: &dyn Snapshot, p: &Pending, fid: FileId, layer: &LayerKind) -> ReadFile {
    let mut findings = Vec::new();
    let text = read_text(snap, &p.path, fid, &mut findings);
    let table = text
        .as_ref()
        .and_then(|t| parse_file(fid, t, &mut findings));
    let mut read = ReadFile {
        text: text.map(Arc::from).unwrap_or_else(|| Arc::from("")),
        root: None,
        checked: None,
        client: None,
        findings,
    };
    match (layer, table) {
        (_, None) => {}
        (LayerKind::Root, t) => read.root = t,
        (kind, Some(t)) => {
            if matches!(kind, LayerKind::Agent(_)) {
                read.client = layout::client_of(&t).map(String::from);
            }
            read.checked = Some(check_file(fid, &p.path, kind, t, &mut read.findings));
        }
    }
    read
}

/// Reads one layer file as UTF-8, enforcing the size limit.
fn read_text(snap: &dyn Snapshot, path: &str, fid: FileId, f: &mut Vec<Finding>) -> Option<String> {
    let bytes = match snap.read(path, MAX_FILE_BYTES) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            f.push(
                Finding::new(
                    Code::FileTooLarge,
                    Span::file_start(fid),
                    format!("`{}` is {e}", safe(path)),
                )
                .label("too large")
                .help("split the layer into several files"),
            );
            return None;
        }
        Err(e) => {
            f.push(
                Finding::new(
                    Code::Parse,
                    Span::file_start(fid),
                    format!("`{}` cannot be read: {e}", safe(path)),
                )
                .label("unreadable"),
            );
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(t) => Some(t),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let (line, _) =
                SourceFile::new(String::new(), text, LayerKind::Stray).line_col(at as u32);
            f.push(
                Finding::new(
                    Code::Parse,
                    Span::file_start(fid),
                    format!(
                        "`{}` is not valid UTF-8 (first bad byte at offset {at}, line {line})",
                        safe(path)
                    ),
                )
                .label("not UTF-8")
                .help("save the file as UTF-8"),
            );
            None
        }
    }
}

/// Combines one file's table into the layer's table (spec section 2).
fn combine(acc: &mut Table, new: Table, path: &KeyPath, f: &mut Vec<Finding>) {
    for (k, n) in new {
        let Some(existing) = acc.get_mut(&k) else {
            acc.insert(k, n);
            continue;
        };
        let here = path.key(&k);
        let key_span = n.key_span;
        match (&mut existing.value, n.value) {
            (Value::Table(a), Value::Table(b)) => combine(a, b, &here, f),
            (Value::Array(a), Value::Array(b)) if is_id_array(&here) => {
                for elem in b {
                    let id = elem_id(&elem).unwrap_or_default().to_string();
                    if let Some(first) = a.iter().find(|e| elem_id(e) == Some(id.as_str())) {
                        f.push(
                            Finding::new(
                                Code::DuplicateId,
                                elem_id_span(&elem),
                                format!(
                                    "id `{}` of `{here}` is defined by two files of one layer",
                                    safe(&id)
                                ),
                            )
                            .label("repeated id")
                            .related(elem_id_span(first), "first defined here"),
                        );
                    } else {
                        a.push(elem);
                    }
                }
            }
            _ => f.push(
                Finding::new(
                    Code::DuplicateKey,
                    key_span,
                    format!("`{here}` is defined by two files of the same layer"),
                )
                .label("second definition")
                .related(existing.key_span, "first definition")
                .help("a leaf may be set once per layer: remove one of them"),
            ),
        }
    }
}

/// True when the path names an id-keyed array in the schema.
pub fn is_id_array(path: &KeyPath) -> bool {
    schema::lookup(path.keys()).is_some_and(|f| matches!(f.shape, Shape::IdArray(_)))
}

/// The `id` of an id-keyed array element.
pub fn elem_id(n: &Node) -> Option<&str> {
    n.value.as_table()?.get("id")?.value.as_str()
}

/// The span of an element's `id` value (the element itself when absent).
pub fn elem_id_span(n: &Node) -> Span {
    n.value
        .as_table()
        .and_then(|t| t.get("id"))
        .map(|i| i.span)
        .unwrap_or(n.span)
}

fn check_root(
    fid: FileId,
    t: &Table,
    name: &mut Option<String>,
    allowed: &mut Vec<Code>,
    f: &mut Vec<Finding>,
) {
    match t.get("version").map(|n| (&n.value, n.span)) {
        Some((Value::Integer(1), _)) => {}
        Some((_, span)) => f.push(
            Finding::new(
                Code::RootConfig,
                span,
                "this opl supports `version = 1` only",
            )
            .label("unsupported version"),
        ),
        None => f.push(
            Finding::new(
                Code::RootConfig,
                Span::file_start(fid),
                "opl.toml needs `version = 1`",
            )
            .label("no version")
            .help("add `version = 1` at the top"),
        ),
    }
    for (k, n) in t {
        match (k.as_str(), &n.value) {
            ("version", _) => {}
            ("name", Value::String(s)) => *name = Some(s.clone()),
            ("name", _) => {
                f.push(Finding::new(Code::Type, n.span, "expected a string").label("name"))
            }
            ("lints", Value::Table(lt)) => {
                for (code, v) in lt {
                    let lint = Code::parse(code).filter(|c| c.is_lint());
                    let Some(lint) = lint else {
                        let known = Code::ALL.iter().filter(|c| c.is_lint()).map(|c| c.as_str());
                        let mut fi = Finding::new(
                            Code::UnknownKey,
                            v.key_span,
                            format!("`{}` is not a warning code that can be allowed", safe(code)),
                        )
                        .label("unknown lint");
                        if let Some(m) = did_you_mean(code, known) {
                            fi = fi.help(format!("did you mean `{m}`?"));
                        }
                        f.push(fi);
                        continue;
                    };
                    if v.value.as_str() == Some("allow") {
                        allowed.push(lint);
                    } else if v.value.as_str() != Some("warn") {
                        f.push(
                            Finding::new(Code::Type, v.span, "expected \"allow\" or \"warn\"")
                                .label("lint level"),
                        );
                    }
                }
            }
            ("lints", _) => {
                f.push(Finding::new(Code::Type, n.span, "expected a table").label("lints"))
            }
            _ => {
                let mut fi = Finding::new(
                    Code::UnknownKey,
                    n.key_span,
                    format!("unknown key `{}` in opl.toml", safe(k)),
                )
                .label("unknown key");
                if let Some(m) = did_you_mean(k, ["version", "name", "lints"]) {
                    fi = fi.help(format!("did you mean `{m}`?"));
                }
                f.push(fi);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Beyond the path limit, nothing is read and one finding on `opl.toml` says why.
    #[test]
    fn too_many_paths_is_one_finding() {
        let files = (0..MAX_FILES).map(|i| (format!("data/{i}.txt"), Vec::new()));
        let snap = crate::repo::snapshot::Memory::new(
            files.chain([("opl.toml".to_string(), b"version = 1\n".to_vec())]),
        );
        let repo = load(&snap).unwrap();
        let codes: Vec<&str> = repo.findings.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["too-many-files"]);
        assert!(repo.findings[0].message.contains("more than 1000000 paths"));
        assert!(repo.agents.is_empty() && repo.agent_ids.is_empty());
    }

    #[test]
    fn id_pattern() {
        assert!(valid_id("support-bot"));
        assert!(valid_id("a"));
        assert!(valid_id("0_x"));
        assert!(!valid_id("Support"));
        assert!(!valid_id("-x"));
        assert!(!valid_id(""));
        assert!(!valid_id(&"a".repeat(64)));
        assert!(!valid_id("a.b"));
    }
}
