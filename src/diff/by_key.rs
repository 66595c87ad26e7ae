//! Key-level change propagation: the diff of a change to shared layers (`global/`, `clients/`),
//! perhaps with some agent files, without rendering every agent below them.
//!
//! For each client (and for agents without one), the merged prefix is rendered on both sides:
//! the leaves that differ are the paths the change made (`D`). An agent whose own layer defines
//! no path related to `D` (equal, above or below it; under `instructions` or `tools`, whose
//! rendered values are derived, anything at all) has exactly its prefix's values there, so it
//! shares its client's changes, and its own errors are the same on both sides: only its merge is
//! needed, to know whether it is valid. The other agents are rendered on both sides, as a full
//! diff does. The answer is the full diff's, except that documents and digests are not computed
//! (callers that print them use [`super::compare`]).
//!
//! Within a walk over a history (`opl audit`), an agent's own errors are remembered from one
//! such diff to the next under a content key of everything they depend on ([`CARRIED`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use rayon::prelude::*;

use super::facts::{self, Defined, Facts, Hash, Learned, Own, Store};
use super::{AgentDiff, Change, Leaves, Report, agent_diffs, assemble, changes, status};
use crate::diagnostic::{Finding, codes_of};
use crate::keyed::HashKeyed;
use crate::merge::provenance::provenance;
use crate::merge::stack::{AgentResult, Stacks};
use crate::model::key_path::{KeyPath, Segment};
use crate::render::document;
use crate::repo::layer::{Layer, Repo};
use crate::repo::layout::{Place, classify};
use crate::repo::snapshot::Snapshot;

/// Rendered roots whose values are derived from the agent's whole stack: a change under one is
/// related to anything an agent defines under it (`actions` comes from `tools`).
const DERIVED: &[(&str, &str)] = &[
    ("instructions", "instructions"),
    ("tools", "tools"),
    ("actions", "tools"),
    ("agent", "agent"),
];

/// True when every changed path is a layer file of `global/` or of a client present on both
/// sides, or an agent's TOML file (that agent is rendered on both sides), and one at least is
/// shared: a change the key-level diff can take.
pub fn applies(changed: &[String], old: &Repo, new: &Repo) -> bool {
    let shared = |p: &String| matches!(classify(p), Place::Global | Place::Client(_));
    changed.iter().any(shared)
        && changed.iter().all(|p| {
            (shared(p) && old.sources.find(p).is_some() && new.sources.find(p).is_some())
                || matches!(classify(p), Place::Agent { .. })
        })
}

/// An agent's diff and the files its errors point at.
type Diffed = (AgentDiff, Vec<String>);

/// What the change did below one prefix.
struct Below {
    /// The changes of the prefix's rendered leaves.
    changes: Arc<[Change]>,
    /// Their paths, cut at the first id selector and at a derived root, joined as
    /// [`Defined::overlaps`] compares them; `None` when one cannot be (related to anything).
    paths: Option<Vec<String>>,
}

impl Below {
    fn overlaps(&self, defined: Defined) -> bool {
        defined.overlaps(self.paths.as_deref())
    }
}

/// Most agents known by their facts only that a diff renders alone when they need their
/// layers, however few agents the repository has (see [`compare_shared`]).
const ALONE: usize = 2;

/// A side of a diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Old,
    New,
}

/// What the key-level diff answers.
enum Shared {
    /// The diff, and what it learned of the agents it read (for the [`Store`]).
    Report(Report, Learned),
    /// These agents, known by their facts only, must be read: their layers are needed.
    Load(BTreeSet<String>),
}

/// One agent's part in the diff.
enum Step {
    /// The change leaves it as it was.
    Same,
    /// Its diff (when it shares its prefix's) and its own errors under the keys of both sides.
    Shares(Option<Box<Diffed>>, Option<([Key; 2], Own)>),
    /// It defines a path the change made: rendered on both sides (an agent known by its facts
    /// only is read for it then, alone).
    Render,
    /// Known by its facts only, it needs its layer merged with the others of the new side (its
    /// own errors are not known, or it names a client the repository does not have).
    Load,
}

/// The diff of a change to shared layers (and perhaps agent files). `old` holds the old state's
/// shared layers (no agent layer); `new` the new state, with every agent but those of `known`
/// (agent id -> part key, each with its facts in `store`; none whose file changed, see
/// [`propagate`]); `load_agents` loads either state with the agents given. `None` when the change
/// moves a lock or the set of clients differs: the full diff answers then.
#[allow(clippy::too_many_arguments)]
fn compare_shared(
    old: &Repo,
    new: &Repo,
    known: &HashMap<String, Hash>,
    store: &Store,
    files_changed: Vec<String>,
    from: String,
    to: String,
    load_agents: impl Fn(Side, &BTreeSet<String>) -> Result<Repo, String>,
) -> Result<Option<Shared>, String> {
    // The agents whose files did not change (see [`applies`]) are on both sides.
    if shared_locks(old) != shared_locks(new) || !old.clients.keys().eq(new.clients.keys()) {
        return Ok(None);
    }
    // Agents whose own files changed are rendered on both sides.
    let changed_agents = changed_agents(&files_changed);
    let (so, sn) = (Stacks::new(old), Stacks::new(new));
    let below = below_prefixes(old, new, &so, &sn, &files_changed);
    let (ko, kn) = (StateKeys::new(old), StateKeys::new(new));
    let agent_files = kn.as_ref().map(|_| agent_files(new));
    let learning = store.active();
    // A copy of the list, not a lock held while agents are merged: another walk step may run
    // on this thread meanwhile (rayon), and add to it.
    let carried: Vec<Arc<HashKeyed<Key, Own>>> =
        CARRIED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let own_of = |[kn, ko]: &[Key; 2]| {
        carried
            .iter()
            .find_map(|m| m.get(kn))
            .or_else(|| store.own(kn))
            .or_else(|| store.own(ko))
    };
    // The findings each agent inherits on both sides, by the client it names.
    let inherited: HashMap<Option<&str>, (Vec<Finding>, Vec<Finding>)> = std::iter::once(None)
        .chain(new.clients.keys().map(|c| Some(c.as_str())))
        .filter_map(|c| Some((c, (so.inherited_by(c)?, sn.inherited_by(c)?))))
        .collect();
    // Each agent with its layer when it was read.
    let ids: Vec<(&String, Option<&Layer>)> = new
        .agents
        .iter()
        .map(|(id, l)| (id, Some(l)))
        .chain(
            known
                .keys()
                .filter(|id| !new.agents.contains_key(*id))
                .map(|id| (id, None)),
        )
        .filter(|(id, _)| !changed_agents.contains(*id))
        .collect();
    let steps: Vec<(Step, Option<(Hash, Facts)>)> = ids
        .par_iter()
        .map(|&(id, layer)| {
            // What the agent names and defines, and its part key: from its layer when read (its
            // facts are then learned when the store could use them), else from its facts.
            let (named, names, defined, part, learned) = match layer {
                Some(layer) => {
                    let node = crate::repo::layout::client_node(&layer.table);
                    let part = match (&agent_files, &kn) {
                        (Some(files), Some(_)) => {
                            files.get(id.as_str()).map(|f| agent_part(new, layer, f))
                        }
                        _ => None,
                    };
                    let learned = part
                        .filter(|_| learning && single_file(id, layer, agent_files.as_ref()))
                        .and_then(|p| Some((p, Facts::of(&layer.table)?)));
                    (
                        node.and_then(|n| n.value.as_str()),
                        node.is_some(),
                        Defined::Table(&layer.table),
                        part,
                        learned,
                    )
                }
                None => match known.get(id).and_then(|p| Some((p, store.facts(p)?))) {
                    Some((p, f)) => (
                        f.client.as_deref(),
                        f.names,
                        Defined::Paths(&f.paths),
                        Some(*p),
                        None,
                    ),
                    None => return (Step::Load, None),
                },
            };
            let unknown;
            let (inh_old, inh_new, client) = match (inherited.get(&named), layer) {
                (Some((o, n)), _) => (o, n, named.map(String::from)),
                // A client the repository does not have.
                (None, Some(layer)) => {
                    let (n, _, client) = sn.inherited(layer, &mut Vec::new());
                    let (o, _, _) = so.inherited(layer, &mut Vec::new());
                    unknown = (o, n);
                    (&unknown.0, &unknown.1, client)
                }
                (None, None) => return (Step::Load, learned),
            };
            // Rendered on both sides; an agent known by its facts is read then, with no other.
            let b = &below[&client];
            if b.overlaps(defined) {
                return (Step::Render, learned);
            }
            let (bo, bn) = (blocking(inh_old), blocking(inh_new));
            if b.changes.is_empty() && codes_of(bo.iter().copied()) == codes_of(bn.iter().copied())
            {
                return (Step::Same, learned);
            }
            // The agent's own errors: the same on both sides. Looked up under either side's key;
            // remembered under both (the old side's is the new side of the next shared change of
            // a walk from newer to older commits). Not for an agent naming a client that is not
            // there.
            let keys = part
                .filter(|_| client.is_some() || !names)
                .and_then(|part| {
                    Some([
                        (*kn.as_ref()?.prefix(&client)?, part),
                        (*ko.as_ref()?.prefix(&client)?, part),
                    ])
                });
            let own = match (keys.as_ref().and_then(own_of), layer) {
                (Some(own), _) => own.clone(),
                (None, Some(_)) => {
                    let a: AgentResult = sn.agent_merged(id).expect("listed agent");
                    Own::of(&blocking(&a.own), new)
                }
                (None, None) => return (Step::Load, learned),
            };
            let (vb, va) = (
                bo.is_empty() && own.codes.is_empty(),
                bn.is_empty() && own.codes.is_empty(),
            );
            let kept = keys.map(|k| (k, own.clone()));
            let Some(st) = status(Some(vb), Some(va), || b.changes.is_empty()) else {
                return (Step::Shares(None, kept), learned);
            };
            let files = |fs: &[&Finding], r: &Repo| -> Vec<String> {
                fs.iter()
                    .map(|f| r.sources.get(f.span.file).path.clone())
                    .collect()
            };
            let mut error_files = if vb { Vec::new() } else { files(&bo, old) };
            if !vb || !va {
                error_files.extend(own.files.iter().cloned());
            }
            if !va {
                error_files.extend(files(&bn, new));
            }
            let codes = |inh: &[&Finding]| {
                let mut c = codes_of(inh.iter().copied());
                c.extend(&own.codes);
                c.sort();
                c.dedup();
                c
            };
            let diff = (
                AgentDiff {
                    agent: id.clone(),
                    client: client.clone(),
                    status: st,
                    digest_before: None,
                    digest_after: None,
                    valid_before: vb,
                    valid_after: va,
                    errors_before: codes(&bo),
                    errors_after: codes(&bn),
                    changes: if vb && va {
                        b.changes.clone()
                    } else {
                        Arc::from([])
                    },
                    doc_before: None,
                    doc_after: None,
                },
                error_files,
            );
            (Step::Shares(Some(Box::new(diff)), kept), learned)
        })
        .collect();
    let mut diffs = Vec::with_capacity(steps.len());
    let mut rendered = changed_agents;
    let mut carry = HashKeyed::default();
    let mut load = BTreeSet::new();
    let mut learned = Learned::default();
    for ((step, facts), (id, _)) in steps.into_iter().zip(&ids) {
        learned.facts.extend(facts);
        match step {
            Step::Same => {}
            Step::Shares(d, kept) => {
                diffs.extend(d.map(|d| *d));
                match kept {
                    Some(([kn, ko], own)) if learning => {
                        learned.own.push((kn, own.clone()));
                        learned.own.push((ko, own));
                    }
                    Some(([_, ko], own)) => {
                        carry.insert(ko, own);
                    }
                    None => {}
                }
            }
            Step::Render => {
                rendered.insert((*id).clone());
            }
            Step::Load => {
                load.insert((*id).clone());
            }
        }
    }
    // A few agents that need their layers are rendered alone (each side read with them and no
    // other agent: a small part of reading a side whole); many are read with every other agent
    // of the new side, and the diff made again.
    if load.len() > ALONE.max(ids.len() / 16) {
        return Ok(Some(Shared::Load(load)));
    }
    rendered.extend(load);
    if !carry.is_empty() {
        // What earlier diffs remembered stays while it fits: a change to one client leaves
        // every other agent's key as the last global change left it. A diff that keeps a store
        // (one diff, not a walk: nothing after it would look) keeps its agents' errors there.
        let mut kept = CARRIED.lock().unwrap_or_else(|e| e.into_inner());
        kept.insert(0, Arc::new(carry));
        while kept.len() > 1 && kept.iter().map(|m| m.len()).sum::<usize>() > CARRIED_MAX {
            kept.pop();
        }
    }
    if !rendered.is_empty() {
        let old_full = load_agents(Side::Old, &rendered)?;
        let read;
        let new_side = if rendered
            .iter()
            .any(|id| known.contains_key(id) && !new.agents.contains_key(id))
        {
            read = load_agents(Side::New, &rendered)?;
            &read
        } else {
            new
        };
        diffs.extend(agent_diffs(&old_full, new_side, &rendered));
    }
    // In agent order already, but for agents known by their facts or rendered: sorting 10,000
    // diffs that are in order moves every one of them through a scratch copy.
    if !diffs.is_sorted_by(|a, b| a.0.agent <= b.0.agent) {
        diffs.sort_by(|a, b| a.0.agent.cmp(&b.0.agent));
    }
    let report = assemble(
        super::locks(old, false),
        super::locks(new, false),
        diffs,
        files_changed,
        from,
        to,
    );
    Ok(Some(Shared::Report(report, learned)))
}

/// True when an agent is one file, `agents/<id>.toml`, that names no fragment: its part key is
/// then the one [`single_file_part`] computes from the file's blob id alone.
fn single_file(id: &str, layer: &Layer, files: Option<&HashMap<&str, Files>>) -> bool {
    let Some([(path, _)]) = files.and_then(|f| f.get(id)).map(Vec::as_slice) else {
        return false;
    };
    *path == crate::repo::layout::agent_file(id)
        && layer.files.iter().all(|f| f.fragments.is_empty())
}

/// The facts of the agents `repo` loaded that the store keys (each one file naming no fragment,
/// see [`single_file`], from a state with content ids), by part key.
pub fn facts_of_loaded(repo: &Repo) -> Vec<(Hash, Facts)> {
    let files = agent_files(repo);
    repo.agents
        .par_iter()
        .filter(|(id, layer)| single_file(id, layer, Some(&files)))
        .filter_map(|(id, layer)| {
            Some((
                agent_part(repo, layer, &files[id.as_str()]),
                Facts::of(&layer.table)?,
            ))
        })
        .collect()
}

/// The part key of an agent that is one file named by no fragment (see [`single_file`]).
pub fn single_file_part(path: &str, content: &[u8; 20]) -> Hash {
    files_hash(&[(path, *content)]).finalize().into()
}

/// The diff of a change to shared layers with the agents' facts of `store` standing in for the
/// agents of `known` (agent id -> part key, see [`known_agents`]): their files are not read
/// unless the answer needs their layers. `old` holds the old state's shared layers;
/// `load_new(skip)` loads the new state without the agents of `skip`; `load_agents(side, ids)`
/// that side's state with the agents given. What the diff learns is added to `store`. `None`
/// when the change is not one the key-level diff takes (see [`applies`], [`compare_shared`]).
#[allow(clippy::too_many_arguments)]
pub fn propagate(
    old: &Repo,
    load_new: impl Fn(HashSet<String>) -> Result<Repo, String>,
    load_agents: impl Fn(Side, &BTreeSet<String>) -> Result<Repo, String>,
    mut known: HashMap<String, Hash>,
    store: &mut Store,
    changed: &[String],
    from: String,
    to: String,
) -> Result<Option<Report>, String> {
    // Agents whose files changed are rendered on both sides: read.
    let edited = changed_agents(changed);
    known.retain(|id, _| !edited.contains(id));
    // Twice at most: the agents the first answer needs read are read for the second (a third
    // try, in case, reads every agent).
    for _ in 0..3 {
        let new = load_new(known.keys().cloned().collect())?;
        if !applies(changed, old, &new) {
            return Ok(None);
        }
        let shared = compare_shared(
            old,
            &new,
            &known,
            store,
            changed.to_vec(),
            from.clone(),
            to.clone(),
            &load_agents,
        );
        crate::repo::load::drop_aside(new);
        match shared? {
            None => return Ok(None),
            Some(Shared::Report(report, learned)) => {
                store.learn(learned, known.values().copied());
                return Ok(Some(report));
            }
            Some(Shared::Load(ids)) if ids.len() < known.len() => {
                known.retain(|id, _| !ids.contains(id))
            }
            Some(Shared::Load(_)) => known.clear(),
        }
    }
    Ok(None)
}

/// The agents of a snapshot whose facts `store` has, by their part keys: each one file,
/// `agents/<id>.toml`, with a content id (see [`single_file_part`]).
pub fn known_agents(snap: &dyn Snapshot, store: &Store) -> HashMap<String, Hash> {
    let Ok(entries) = snap.entries() else {
        return HashMap::new();
    };
    let mut files: HashMap<String, Vec<String>> = HashMap::new();
    for e in entries {
        if let Place::Agent { id, .. } = classify(&e.path) {
            files.entry(id).or_default().push(e.path);
        }
    }
    files
        .into_iter()
        .filter_map(|(id, paths)| {
            let [path] = paths.as_slice() else {
                return None;
            };
            if *path != crate::repo::layout::agent_file(&id) {
                return None;
            }
            let part = single_file_part(path, &snap.content_id(path)?);
            store.facts(&part)?;
            Some((id, part))
        })
        .collect()
}

/// What the change did below each prefix (global alone, and global with each client). A client
/// whose files did not change and that defines no path related to global's changes has global's
/// changes, as an agent has its prefix's: only the other clients are rendered.
fn below_prefixes(
    old: &Repo,
    new: &Repo,
    so: &Stacks,
    sn: &Stacks,
    files_changed: &[String],
) -> BTreeMap<Option<String>, Below> {
    let below = |c: Option<&str>| {
        let changes = changes(
            &representative(old, so, c),
            &representative(new, sn, c),
            None,
        );
        let mut paths: Vec<KeyPath> = changes.iter().map(|ch| related(&ch.key)).collect();
        paths.sort();
        paths.dedup();
        let paths = paths.iter().map(facts::joined).collect();
        Below {
            changes: changes.into(),
            paths,
        }
    };
    let global = below(None);
    let edited = changed_clients(files_changed);
    let clients: Vec<(Option<String>, Below)> = new
        .clients
        .par_iter()
        .map(|(c, layer)| {
            let b = if edited.contains(c) || global.overlaps(Defined::Table(&layer.table)) {
                below(Some(c))
            } else {
                Below {
                    changes: global.changes.clone(),
                    paths: global.paths.clone(),
                }
            };
            (Some(c.clone()), b)
        })
        .collect();
    let mut out: BTreeMap<Option<String>, Below> = clients.into_iter().collect();
    out.insert(None, global);
    out
}

/// The locks of the shared layers.
fn shared_locks(r: &Repo) -> BTreeSet<String> {
    std::iter::once(&r.global)
        .chain(r.clients.values())
        .flat_map(|l| l.locks.iter().map(|(p, _)| p.to_string()))
        .collect()
}

/// The clients whose files are among the changed paths.
pub fn changed_clients(files_changed: &[String]) -> BTreeSet<String> {
    files_changed
        .iter()
        .filter_map(|p| match classify(p) {
            Place::Client(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// The agents whose own files are among the changed paths.
pub fn changed_agents(files_changed: &[String]) -> BTreeSet<String> {
    files_changed
        .iter()
        .filter_map(|p| match classify(p) {
            Place::Agent { id, .. } => Some(id),
            _ => None,
        })
        .collect()
}

/// The rendered leaves of a prefix: what an agent that defines nothing has.
fn representative(repo: &Repo, stacks: &Stacks, client: Option<&str>) -> Leaves {
    let Some(eff) = stacks.prefix(client) else {
        return Leaves::new();
    };
    let a = AgentResult {
        id: String::new(),
        client: client.map(String::from),
        eff: eff.clone(),
        own: Vec::new(),
        inherited: Vec::new(),
        usage: Vec::new(),
    };
    let doc = document(repo, "", &a.eff);
    provenance(repo, &a, Some(&doc))
        .into_iter()
        .map(|p| (p.key_path, (p.value, p.origin)))
        .collect()
}

/// A changed path as the paths it is related to: cut at its first id selector, and a derived
/// root whole.
fn related(p: &KeyPath) -> KeyPath {
    let mut out = KeyPath::root();
    for s in &p.0 {
        let Segment::Key(k) = s else { break };
        if out.0.is_empty()
            && let Some((_, root)) = DERIVED.iter().find(|(r, _)| r == k)
        {
            return KeyPath::root().key(root);
        }
        out = out.key(k);
    }
    out
}

/// The findings of `fs` that keep a document from being built.
fn blocking(fs: &[Finding]) -> Vec<&Finding> {
    fs.iter().filter(|f| f.blocks_document()).collect()
}

/// What an agent's own errors depend on in one state: the hash of its prefix's files and the hash
/// of its own.
type Key = (Hash, Hash);

/// Most keys remembered: beyond this, the oldest diffs' are dropped.
const CARRIED_MAX: usize = 200_000;

/// Own errors of agents that a change to shared layers left alone, remembered from the
/// key-level diffs of this process under the keys of their old sides. A walk over a history
/// (`opl audit`, whose loads carry content ids) compares one shared change after another: an
/// agent that none of them touched has the key of the last one's old side, and its errors are
/// taken from there instead of merging it again.
/// One map per diff, newest first.
static CARRIED: Mutex<Vec<Arc<HashKeyed<Key, Own>>>> = Mutex::new(Vec::new());

/// The content keys of one state's prefixes: `opl.toml`, the global layer's files and the
/// fragment files they name, and for each client its files and fragments on top. `None` when a
/// layer file has no content id (a load outside a walk).
struct StateKeys {
    prefixes: HashMap<Option<String>, Hash>,
}

impl StateKeys {
    fn new(repo: &Repo) -> Option<Self> {
        use crate::model::source::LayerKind;
        let mut root = Sha256::new();
        let mut clients: BTreeMap<&str, Sha256> = BTreeMap::new();
        for (_, f) in repo.sources.iter() {
            let h = match &f.layer {
                LayerKind::Root | LayerKind::Global => &mut root,
                LayerKind::Client(c) => clients.entry(c).or_default(),
                _ => continue,
            };
            hash_file(h, &f.path, &f.content?);
        }
        hash_fragments(&mut root, repo, &repo.global);
        let global: Hash = root.finalize().into();
        let mut prefixes = HashMap::new();
        prefixes.insert(None, global);
        for (c, layer) in &repo.clients {
            let mut h = clients.remove(c.as_str()).unwrap_or_default();
            h.update(global);
            h.update((c.len() as u64).to_le_bytes());
            h.update(c.as_bytes());
            hash_fragments(&mut h, repo, layer);
            prefixes.insert(Some(c.clone()), h.finalize().into());
        }
        Some(StateKeys { prefixes })
    }

    fn prefix(&self, client: &Option<String>) -> Option<&Hash> {
        self.prefixes.get(client)
    }
}

fn hash_file(h: &mut Sha256, path: &str, content: &[u8; 20]) {
    h.update((path.len() as u64).to_le_bytes());
    h.update(path.as_bytes());
    h.update(content);
}

/// Hashes the fragment files a layer names: each one's path and text, or that it cannot be read.
fn hash_fragments(h: &mut Sha256, repo: &Repo, layer: &Layer) {
    for r in layer.files.iter().flat_map(|f| &f.fragments) {
        h.update((r.path.len() as u64).to_le_bytes());
        h.update(r.path.as_bytes());
        match repo.fragments.get(&r.path) {
            Some(fid) => {
                let text = &repo.sources.get(*fid).text;
                h.update([1]);
                h.update((text.len() as u64).to_le_bytes());
                h.update(text.as_bytes());
            }
            None => h.update([0]),
        }
    }
}

/// Files by path with their content ids.
type Files<'r> = Vec<(&'r str, [u8; 20])>;

/// Each agent's files (read or not) with their content ids; an agent with a file that has none
/// is left out.
fn agent_files(repo: &Repo) -> HashMap<&str, Files<'_>> {
    use crate::model::source::LayerKind;
    let mut out: HashMap<&str, Files> = HashMap::with_capacity(repo.agents.len());
    let mut without = Vec::new();
    for (_, f) in repo.sources.iter() {
        if let LayerKind::Agent(id) = &f.layer {
            match f.content {
                Some(c) => out.entry(id).or_default().push((f.path.as_str(), c)),
                None => without.push(id.as_str()),
            }
        }
    }
    for id in without {
        out.remove(id);
    }
    out
}

/// The hash of an agent's own part: its files and the fragment files they name.
fn agent_part(repo: &Repo, layer: &Layer, files: &[(&str, [u8; 20])]) -> Hash {
    let mut h = files_hash(files);
    hash_fragments(&mut h, repo, layer);
    h.finalize().into()
}

/// The hash of files by their paths and content ids, to go on with.
fn files_hash(files: &[(&str, [u8; 20])]) -> Sha256 {
    let mut h = Sha256::new();
    for (path, content) in files {
        hash_file(&mut h, path, content);
    }
    h
}
