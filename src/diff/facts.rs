//! What the key-level diff ([`super::by_key`]) needs of an agent's own layer, and the store
//! that keeps it across runs.
//!
//! Of an agent that a change to shared layers leaves alone, the diff needs three things: the
//! client it names, the paths its layer defines (to tell whether it defines one the change made)
//! and its own errors (the same on both sides of such a change). The first two depend on the
//! agent's file only, the third on the file and on the prefix it is merged over. The store keeps
//! them under content keys (the hash of the file's path and blob id; the hash of the prefix's
//! files), so an agent file a run read once need not be read and parsed again while it does not
//! change: a diff of one global value reads the shared layers and the agents' blob ids only.
//!
//! The store is derived and disposable, like the history cache: `<git dir>/opl/agents-v1.json`,
//! ignored when another opl wrote it or it cannot be read, written atomically after a diff (or a
//! `validate --staged` of a change to shared layers) that learned something (a failure to write
//! it is ignored). An entry never goes stale: its key is the content it was computed from. No
//! answer depends on it: an agent it lacks is read.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Code, Finding, codes_of};
use crate::git::Git;
use crate::history::cache::Header;
use crate::keyed::{HashKeyed, HashSetKeyed};
use crate::model::key_path::{KeyPath, Segment};
use crate::model::value::{Table, Value};
use crate::repo::layer::Repo;

/// A content hash (SHA-256).
pub type Hash = [u8; 32];

/// Joins the segments of a path in the form [`Defined::overlaps`] compares.
const SEP: char = '\0';

/// An agent's own layer as the key-level diff sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    /// The client it names (`agent.client`, when a string).
    pub client: Option<String>,
    /// True when it has an `agent.client` entry at all.
    pub names: bool,
    /// The paths it defines (see [`defined`]).
    pub paths: Arc<Vec<String>>,
}

impl Facts {
    /// The facts of a layer's table; `None` when a key holds a NUL character (the paths could
    /// not be told apart: such an agent is rendered).
    pub fn of(table: &Table) -> Option<Facts> {
        let node = crate::repo::layout::client_node(table);
        Some(Facts {
            client: node.and_then(|n| n.value.as_str()).map(String::from),
            names: node.is_some(),
            paths: defined_shared(table)?,
        })
    }
}

/// Every path a table defines down to a value that is not a non-empty table, its segments joined
/// by NUL; `None` when a key holds one.
pub fn defined(table: &Table) -> Option<Vec<String>> {
    let mut out = Vec::new();
    each_defined(table, &mut |p| out.push(p.to_string()))?;
    Some(out)
}

/// Calls `f` with every path [`defined`] lists, in its order; `None` when a key holds a NUL.
fn each_defined(table: &Table, f: &mut impl FnMut(&str)) -> Option<()> {
    fn walk(t: &Table, at: &mut String, f: &mut impl FnMut(&str)) -> Option<()> {
        for (k, n) in t.iter() {
            if k.contains(SEP) {
                return None;
            }
            with_key(at, k, |at| match &n.value {
                Value::Table(t) if !t.is_empty() => walk(t, at, f),
                _ => {
                    f(at);
                    Some(())
                }
            })?;
        }
        Some(())
    }
    walk(table, &mut String::new(), f)
}

/// Distinct sets of defined paths this process made, by their encoding (each path's length and
/// bytes): agents made from one template share one set (and the store writes it once).
static PATH_SETS: std::sync::Mutex<Option<PathSets>> = std::sync::Mutex::new(None);

/// Sets of defined paths by their encoding, and the bytes of those encodings.
type PathSets = (HashMap<Box<[u8]>, Arc<Vec<String>>>, usize);

/// Most bytes of encodings kept in [`PATH_SETS`] (each set is held about twice that: its paths
/// too); it is emptied when full: sharing is a saving, not a rule, and a repository whose agents
/// all define different paths has nothing to share.
const MAX_PATH_SET_BYTES: usize = 4 << 20;

/// [`defined`], shared with every table of this process that defines the same paths.
fn defined_shared(table: &Table) -> Option<Arc<Vec<String>>> {
    thread_local! {
        static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    ENCODED.with_borrow_mut(|buf| {
        buf.clear();
        each_defined(table, &mut |p| {
            buf.extend_from_slice(&(p.len() as u64).to_le_bytes());
            buf.extend_from_slice(p.as_bytes());
        })?;
        let mut sets = PATH_SETS.lock().unwrap_or_else(|e| e.into_inner());
        let (sets, bytes) = sets.get_or_insert_with(Default::default);
        if let Some(set) = sets.get(buf.as_slice()) {
            return Some(Arc::clone(set));
        }
        let set = Arc::new(defined(table)?);
        if *bytes + buf.len() > MAX_PATH_SET_BYTES {
            sets.clear();
            *bytes = 0;
        }
        *bytes += buf.len();
        sets.insert(buf.as_slice().into(), Arc::clone(&set));
        Some(set)
    })
}

/// Runs `f` with the path `at` followed by the key `k` (joined as [`joined`] joins them).
fn with_key<R>(at: &mut String, k: &str, f: impl FnOnce(&mut String) -> R) -> R {
    let len = at.len();
    if len > 0 {
        at.push(SEP);
    }
    at.push_str(k);
    let r = f(at);
    at.truncate(len);
    r
}

/// A changed path (keys only) in the form [`Defined::overlaps`] compares; `None` when a key holds a NUL.
pub fn joined(path: &KeyPath) -> Option<String> {
    let mut out = String::new();
    for (i, s) in path.0.iter().enumerate() {
        let Segment::Key(k) = s else { return None };
        if k.contains(SEP) {
            return None;
        }
        if i > 0 {
            out.push(SEP);
        }
        out.push_str(k);
    }
    Some(out)
}

/// What an agent defines: its layer's table, or the paths its facts hold.
pub enum Defined<'a> {
    Table(&'a Table),
    Paths(&'a [String]),
}

impl Defined<'_> {
    /// True when a defined path is equal to, above or below one of `changed` (the empty path,
    /// the root, is above every path). `None` for `changed` (a path that could not be joined) is
    /// related to anything, and so is a table with a key that holds a NUL.
    pub fn overlaps(&self, changed: Option<&[String]>) -> bool {
        match (self, changed) {
            (Defined::Table(t), Some(c)) => table_overlaps(t, &mut String::new(), c),
            (Defined::Table(t), None) => !t.is_empty(),
            (Defined::Paths(p), None) => !p.is_empty(),
            (Defined::Paths(p), Some(c)) => p
                .iter()
                .any(|d| c.iter().any(|c| below(d, c) || below(c, d))),
        }
    }
}

/// [`Defined::overlaps`] on a table, walking only the keys a changed path continues with (`at`:
/// the table's own path).
fn table_overlaps(t: &Table, at: &mut String, changed: &[String]) -> bool {
    t.iter().any(|(k, n)| {
        k.contains(SEP)
            || with_key(at, k, |at| {
                // At or below a changed path: whatever is defined here is related to it. Above
                // one: a value here (a leaf, an empty table) is, and a table's keys are walked.
                changed.iter().any(|c| below(at, c))
                    || (changed.iter().any(|c| below(c, at))
                        && match &n.value {
                            Value::Table(t) if !t.is_empty() => table_overlaps(t, at, changed),
                            _ => true,
                        })
            })
    })
}

/// True when `long` is `short` or a path below it.
fn below(long: &str, short: &str) -> bool {
    short.is_empty()
        || long
            .strip_prefix(short)
            .is_some_and(|r| r.is_empty() || r.starts_with(SEP))
}

/// An agent's own findings that keep its document from being built: their codes and the files
/// they point at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Own {
    pub codes: Vec<Code>,
    pub files: Vec<String>,
}

impl Own {
    pub fn of(fs: &[&Finding], repo: &Repo) -> Self {
        Own {
            codes: codes_of(fs.iter().copied()),
            files: fs
                .iter()
                .map(|f| repo.sources.get(f.span.file).path.clone())
                .collect(),
        }
    }
}

const VERSION: u32 = 1;
const FILE: &str = "agents-v1.json";

/// Most agents and own-error entries kept: beyond this, a run writes back only what it used.
const MAX_ENTRIES: usize = 200_000;

/// What a run learned of agents it read: facts by part key, own errors by (prefix, part) key.
#[derive(Default)]
pub struct Learned {
    pub facts: Vec<(Hash, Facts)>,
    pub own: Vec<((Hash, Hash), Own)>,
}

/// The store, loaded.
pub struct Store {
    /// Where it is read from and written to; `None` for a store held in memory only.
    path: Option<PathBuf>,
    /// False for a store that holds nothing and learns nothing.
    keep: bool,
    prefix: String,
    facts: HashKeyed<Hash, Facts>,
    own: HashKeyed<(Hash, Hash), Own>,
    added: bool,
    /// What a store kept on disk learned, added when it is saved.
    deferred: Vec<(Learned, Vec<Hash>)>,
    /// The keys this run used or added (looked up only when the store is over its size).
    used: (Vec<Hash>, Vec<(Hash, Hash)>),
}

/// The store's file. Its header is a field of its own, not flattened into it: serde reads a
/// flattened file through a copy of the whole, and this one is read by every diff. Written as
/// [`FileOut`].
#[derive(Deserialize)]
struct File {
    header: Header,
    /// Prefix keys, in hex.
    prefixes: Vec<String>,
    /// Distinct sets of defined paths (agents made from one template share theirs).
    paths: Vec<Vec<String>>,
    /// (part key in hex, client, names a client, index into `paths`, own errors over each
    /// prefix known: (index into `prefixes`, codes, files)).
    agents: Vec<AgentEntry>,
}

type AgentEntry = (
    String,
    Option<String>,
    bool,
    usize,
    Vec<(usize, Vec<String>, Vec<String>)>,
);

/// [`File`] as it is written: the same JSON, from the store's own data (10,000 agents' entries
/// are not copied into strings first).
#[derive(Serialize)]
struct FileOut<'a> {
    header: Header,
    prefixes: Vec<HexOut<'a>>,
    paths: Vec<&'a [String]>,
    agents: Vec<AgentOut<'a>>,
}

type AgentOut<'a> = (
    HexOut<'a>,
    &'a Option<String>,
    bool,
    usize,
    Vec<(usize, Vec<&'static str>, &'a [String])>,
);

/// A key written in hex.
struct HexOut<'a>(&'a Hash);

impl Serialize for HexOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = [0u8; 64];
        crate::render::write_hex(self.0, &mut out);
        s.serialize_str(std::str::from_utf8(&out).expect("hex digits"))
    }
}

impl Store {
    /// A store that holds nothing and writes nothing.
    pub fn none() -> Store {
        Store {
            path: None,
            keep: false,
            prefix: String::new(),
            facts: HashKeyed::default(),
            own: HashKeyed::default(),
            added: false,
            deferred: Vec::new(),
            used: Default::default(),
        }
    }

    /// A store held in memory only: it learns, and is never written.
    pub fn in_memory() -> Store {
        Store {
            keep: true,
            ..Store::none()
        }
    }

    /// The store of `git`'s repository for its config root; empty when missing or unusable.
    pub fn open(git: &Git) -> Store {
        let path = git.cache_dir().join(FILE);
        let prefix = git.prefix().to_string();
        let mut store = Store {
            path: Some(path.clone()),
            keep: true,
            prefix: prefix.clone(),
            ..Store::none()
        };
        let want = Header::new(VERSION, &prefix, true);
        if let Some(f) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<File>(&b).ok())
            .filter(|f| f.header == want)
        {
            store.fill(f);
        }
        store
    }

    fn fill(&mut self, f: File) {
        let prefixes: Vec<Option<Hash>> = f.prefixes.iter().map(|p| unhex(p)).collect();
        let paths: Vec<Arc<Vec<String>>> = f.paths.into_iter().map(Arc::new).collect();
        for (part, client, names, set, own) in f.agents {
            let (Some(part), Some(set)) = (unhex(&part), paths.get(set)) else {
                continue;
            };
            for (p, codes, files) in own {
                let Some(Some(p)) = prefixes.get(p) else {
                    continue;
                };
                let Some(codes) = codes.iter().map(|c| Code::parse(c)).collect() else {
                    continue;
                };
                self.own.insert((*p, part), Own { codes, files });
            }
            let facts = Facts {
                client,
                names,
                paths: set.clone(),
            };
            self.facts.insert(part, facts);
        }
    }

    /// True when the store holds no agent.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// True when the store keeps what a run learns (it is worth collecting).
    pub fn active(&self) -> bool {
        self.keep
    }

    /// The facts of the agent whose part key is `part`.
    pub fn facts(&self, part: &Hash) -> Option<&Facts> {
        self.facts.get(part)
    }

    /// The own errors of the agent `part` over the prefix `prefix`.
    pub fn own(&self, key: &(Hash, Hash)) -> Option<&Own> {
        self.own.get(key)
    }

    /// Adds what a run learned; `known` are the part keys of the agents it took from the store.
    /// A store kept on disk adds it when it is saved, in the background (see [`Store::save`]):
    /// the run that learned it does not look it up again.
    pub fn learn(&mut self, learned: Learned, known: impl Iterator<Item = Hash>) {
        if !self.keep {
            return;
        }
        if self.path.is_some() {
            self.deferred.push((learned, known.collect()));
            return;
        }
        self.add(learned, known);
    }

    /// Adds what [`Store::learn`] deferred.
    fn add_deferred(&mut self) {
        for (learned, known) in std::mem::take(&mut self.deferred) {
            self.add(learned, known.into_iter());
        }
    }

    fn add(&mut self, learned: Learned, known: impl Iterator<Item = Hash>) {
        let used = &mut self.used;
        used.0.extend(known);
        used.0.extend(learned.facts.iter().map(|(part, _)| *part));
        used.1.extend(learned.own.iter().map(|(key, _)| *key));
        self.facts.reserve(learned.facts.len());
        self.own.reserve(learned.own.len());
        for (part, facts) in learned.facts {
            self.added |= put(&mut self.facts, part, facts);
        }
        for (key, own) in learned.own {
            self.added |= put(&mut self.own, key, own);
        }
    }

    /// Writes the store back when the run added to it, while the command goes on (see
    /// [`crate::write::in_background`]); a failure is ignored.
    pub fn save(mut self) {
        let Some(path) = self.path.take() else { return };
        if !self.added && self.deferred.is_empty() {
            return;
        }
        crate::write::in_background(move || {
            self.add_deferred();
            if self.added {
                self.write(&path);
            }
            // Freeing 10,000 agents' facts is not what the command's end waits for.
            crate::repo::load::drop_aside(self);
        });
    }

    fn write(&mut self, path: &std::path::Path) {
        let (used_facts, used_own) = std::mem::take(&mut self.used);
        if self.facts.len() > MAX_ENTRIES {
            let used: HashSetKeyed<Hash> = used_facts.into_iter().collect();
            self.facts.retain(|k, _| used.contains(k));
        }
        if self.own.len() > MAX_ENTRIES {
            let used: HashSetKeyed<(Hash, Hash)> = used_own.into_iter().collect();
            self.own.retain(|k, _| used.contains(k));
        }
        // Own errors in part order, as the agents are written: (part, prefix, own).
        let mut own_of: Vec<(&Hash, &Hash, &Own)> =
            self.own.iter().map(|((p, part), o)| (part, p, o)).collect();
        own_of.sort_unstable_by(|a, b| a.0.cmp(b.0).then_with(|| a.1.cmp(b.1)));
        let mut own_of = own_of.into_iter().peekable();
        let mut prefixes: Vec<Hash> = Vec::new();
        let mut prefix_ix: HashKeyed<Hash, usize> = HashKeyed::default();
        let mut sets: Vec<&[String]> = Vec::new();
        // Sets of paths by where they are held (agents made from one template share one, see
        // [`defined_shared`]), else by their length, first and last path (hashing every path of
        // 10,000 agents took longer than the rest of the store), the set compared on a hit.
        let mut set_at: HashMap<*const Vec<String>, usize> = HashMap::new();
        type SetKey<'a> = (usize, Option<&'a str>, Option<&'a str>);
        let mut set_ix: HashMap<SetKey, Vec<usize>> = HashMap::new();
        let mut parts: Vec<(&Hash, &Facts)> = self.facts.iter().collect();
        parts.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut agents = Vec::with_capacity(parts.len());
        for (part, f) in parts {
            let paths = *set_at.entry(Arc::as_ptr(&f.paths)).or_insert_with(|| {
                let key = (
                    f.paths.len(),
                    f.paths.first().map(String::as_str),
                    f.paths.last().map(String::as_str),
                );
                let alike = set_ix.entry(key).or_default();
                match alike.iter().find(|i| *sets[**i] == **f.paths) {
                    Some(i) => *i,
                    None => {
                        sets.push(&f.paths);
                        alike.push(sets.len() - 1);
                        sets.len() - 1
                    }
                }
            });
            // Entries of parts with no facts (none are written) are passed by.
            while own_of.next_if(|o| o.0 < part).is_some() {}
            let mut own: Vec<(usize, Vec<&'static str>, &[String])> = Vec::new();
            while let Some((_, p, o)) = own_of.next_if(|o| o.0 == part) {
                let i = *prefix_ix.entry(*p).or_insert_with(|| {
                    prefixes.push(*p);
                    prefixes.len() - 1
                });
                let codes = o.codes.iter().map(|c| c.as_str()).collect();
                own.push((i, codes, o.files.as_slice()));
            }
            own.sort_by_key(|o| o.0);
            agents.push((HexOut(part), &f.client, f.names, paths, own));
        }
        let file = FileOut {
            header: Header::new(VERSION, &self.prefix, true),
            prefixes: prefixes.iter().map(HexOut).collect(),
            paths: sets,
            agents,
        };
        if let Ok(bytes) = serde_json::to_vec(&file) {
            crate::history::cache::write(path, &bytes);
        }
    }
}

/// Sets `key` to `value`; true when that changed the map.
fn put<K: std::hash::Hash + Eq, V: PartialEq>(map: &mut HashKeyed<K, V>, key: K, value: V) -> bool {
    use std::collections::hash_map::Entry;
    match map.entry(key) {
        Entry::Occupied(e) if *e.get() == value => false,
        Entry::Occupied(mut e) => {
            e.insert(value);
            true
        }
        Entry::Vacant(e) => {
            e.insert(value);
            true
        }
    }
}

fn unhex(s: &str) -> Option<Hash> {
    let mut out = [0u8; 32];
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::source::FileId;

    proptest::proptest! {
        /// `overlaps` on the joined paths says what comparing every defined path with every
        /// changed one, segment by segment, says.
        #[test]
        fn overlaps_compares_every_defined_path(
            defined_ in proptest::collection::vec(proptest::collection::vec(0..3usize, 1..4), 0..6),
            changed in proptest::collection::vec(proptest::collection::vec(0..3usize, 0..4), 0..3),
        ) {
            // Names where one is a prefix of another, as text: "a" and "ab".
            let name = |p: &[usize]| p.iter().map(|i| ["a", "ab", "b"][*i]).collect::<Vec<_>>();
            // Dotted keys, none a prefix of another (that would not parse).
            let mut leaves: Vec<Vec<&str>> = Vec::new();
            for p in &defined_ {
                let p = name(p);
                if leaves.iter().all(|q| !q.starts_with(&p) && !p.starts_with(q)) {
                    leaves.push(p);
                }
            }
            let text: String = leaves.iter().map(|p| format!("{} = 1\n", p.join("."))).collect();
            let table = crate::model::value::parse_file(FileId(0), &text, &mut Vec::new())
                .expect("parses");
            let paths: Vec<KeyPath> = changed
                .iter()
                .map(|p| name(p).iter().fold(KeyPath::root(), |k, s| k.key(s)))
                .collect();
            let want = leaves.iter().any(|l| {
                let l = l.iter().fold(KeyPath::root(), |k, s| k.key(s));
                paths.iter().any(|d| d.starts_with(&l) || l.starts_with(d))
            });
            let joined: Vec<String> = paths.iter().map(|p| joined(p).expect("keys")).collect();
            let facts = Facts::of(&table).expect("no NUL");
            let by_paths = Defined::Paths(&facts.paths).overlaps(Some(&joined));
            proptest::prop_assert_eq!(by_paths, want, "{}", text);
            proptest::prop_assert_eq!(Defined::Table(&table).overlaps(Some(&joined)), want, "{}", text);
        }
    }

    #[test]
    fn a_key_with_a_nul_has_no_facts_and_a_changed_path_with_one_overlaps_anything() {
        let table =
            crate::model::value::parse_file(FileId(0), "\"a\\u0000b\" = 1\n", &mut Vec::new())
                .expect("parses");
        assert_eq!(Facts::of(&table), None);
        assert!(Defined::Table(&table).overlaps(Some(&[])));
        assert_eq!(joined(&KeyPath::root().key("a\0b")), None);
        assert!(Defined::Paths(&["x".to_string()]).overlaps(None));
        assert!(!Defined::Paths(&[]).overlaps(None));
    }

    /// What the store writes ([`FileOut`]) reads back ([`File`]) as the facts and own errors it
    /// held, path sets shared or not.
    #[test]
    fn the_store_reads_back_what_it_wrote() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("agents.json");
        let mut store = Store {
            path: Some(path.clone()),
            keep: true,
            prefix: "sub/".into(),
            ..Store::none()
        };
        let shared = Arc::new(vec!["agent\0client".to_string(), "model\0name".to_string()]);
        let facts = |client: Option<&str>, names, paths: &Arc<Vec<String>>| Facts {
            client: client.map(String::from),
            names,
            paths: paths.clone(),
        };
        let learned = Learned {
            facts: vec![
                ([1; 32], facts(Some("acme"), true, &shared)),
                (
                    [2; 32],
                    facts(None, false, &Arc::new(vec!["tools\0x".into()])),
                ),
                ([3; 32], facts(Some("b\"q"), true, &shared)),
            ],
            own: vec![
                (
                    ([9; 32], [1; 32]),
                    Own {
                        codes: vec![Code::Widening, Code::Locked],
                        files: vec!["agents/a.toml".into(), "global/x.toml".into()],
                    },
                ),
                (([8; 32], [1; 32]), Own::default()),
                (([8; 32], [3; 32]), Own::default()),
            ],
        };
        store.learn(learned, std::iter::empty());
        // A store kept on disk adds what it learned when it is saved.
        assert!(store.facts.is_empty());
        store.add_deferred();
        let (facts, own) = (store.facts.clone(), store.own.clone());
        store.write(&path);
        let file: File = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(file.header == Header::new(VERSION, "sub/", true));
        assert_eq!(file.paths.len(), 2);
        assert_eq!(file.prefixes.len(), 2);
        let mut back = Store::none();
        back.fill(file);
        assert_eq!(back.facts, facts);
        assert_eq!(back.own, own);
    }

    /// Tables that define the same paths share one set (what the store writes once); tables
    /// whose paths differ, even only where one path ends and the next begins, do not.
    #[test]
    fn facts_of_tables_defining_the_same_paths_share_one_set() {
        let table = |text: &str| {
            crate::model::value::parse_file(FileId(0), text, &mut Vec::new()).expect("parses")
        };
        let a = Facts::of(&table("[agent]\nclient = \"a\"\n[model]\nname = \"o3\"\n")).unwrap();
        let b = Facts::of(&table("[model]\nname = \"gpt\"\n[agent]\nclient = \"b\"\n")).unwrap();
        assert!(Arc::ptr_eq(&a.paths, &b.paths));
        assert_eq!(*a.paths, ["agent\0client", "model\0name"]);
        assert_eq!(a.client.as_deref(), Some("a"));
        assert_eq!(b.client.as_deref(), Some("b"));
        // "ab" + "c" and "a" + "bc" join to the same text: told apart.
        let c = Facts::of(&table("ab = 1\nc = 2\n")).unwrap();
        let d = Facts::of(&table("a = 1\nbc = 2\n")).unwrap();
        assert!(!Arc::ptr_eq(&c.paths, &d.paths));
        assert_eq!(*c.paths, ["ab", "c"]);
        assert_eq!(*d.paths, ["a", "bc"]);
        assert_eq!(*c.paths, defined(&table("ab = 1\nc = 2\n")).unwrap());
    }

    #[test]
    fn hex_round_trips() {
        let h: Hash = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(unhex(&crate::render::hex(&h)), Some(h));
        assert_eq!(unhex("zz"), None);
    }
}
