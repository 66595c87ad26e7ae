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

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use super::{AgentDiff, Change, Leaves, Report, agent_diffs, assemble, changes, status};
use crate::diagnostic::{Finding, codes_of};
use crate::merge::provenance::provenance;
use crate::merge::stack::{AgentResult, Stacks};
use crate::model::key_path::{KeyPath, Segment};
use crate::model::value::{Table, Value};
use crate::render::document;
use crate::repo::layer::{Layer, Repo};
use crate::repo::layout::{Place, classify};

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
    changes: Vec<Change>,
    /// Their paths, cut at the first id selector and at a derived root.
    paths: Vec<KeyPath>,
}

/// The diff of a change to shared layers (and perhaps agent files). `old` holds the old state's
/// shared layers (no agent layer); `new` the whole new state; `load_old` loads the old state with
/// the agents given. `None` when the change moves a lock or the set of clients differs: the full diff
/// answers then.
pub fn compare_shared(
    old: &Repo,
    new: &Repo,
    files_changed: Vec<String>,
    from: String,
    to: String,
    load_old: impl FnOnce(&BTreeSet<String>) -> Result<Repo, String>,
) -> Result<Option<Report>, String> {
    // The agents whose files did not change (see [`applies`]) are on both sides.
    if shared_locks(old) != shared_locks(new) || !old.clients.keys().eq(new.clients.keys()) {
        return Ok(None);
    }
    let (so, sn) = (Stacks::new(old), Stacks::new(new));
    let below = below_prefixes(old, new, &so, &sn);
    // Agents whose own files changed are rendered on both sides.
    let changed_agents = changed_agents(&files_changed);
    let ids: Vec<&String> = new
        .agents
        .keys()
        .filter(|id| !changed_agents.contains(*id))
        .collect();
    // Each agent: its diff (when it shares its prefix's), or `Err(id)` when it is rendered.
    let shared: Vec<Result<Option<Diffed>, String>> = ids
        .par_iter()
        .map(|id| {
            let layer = &new.agents[*id];
            let (inh_new, _, client) = sn.inherited(layer, &mut Vec::new());
            let b = &below[&client];
            if overlaps(layer, &b.paths) {
                return Err((*id).clone());
            }
            let (inh_old, _, _) = so.inherited(layer, &mut Vec::new());
            let (bo, bn) = (blocking(&inh_old), blocking(&inh_new));
            if b.changes.is_empty() && codes_of(bo.iter().copied()) == codes_of(bn.iter().copied())
            {
                return Ok(None);
            }
            let a: AgentResult = sn.agent_merged(id).expect("listed agent");
            let own = blocking(&a.own);
            let before: Vec<&Finding> = bo.iter().chain(&own).copied().collect();
            let after: Vec<&Finding> = bn.iter().chain(&own).copied().collect();
            let (vb, va) = (before.is_empty(), after.is_empty());
            let Some(st) = status(Some(vb), Some(va), || b.changes.is_empty()) else {
                return Ok(None);
            };
            let files = |fs: &[&Finding], r: &Repo| -> Vec<String> {
                fs.iter()
                    .map(|f| r.sources.get(f.span.file).path.clone())
                    .collect()
            };
            let mut error_files = if vb { Vec::new() } else { files(&bo, old) };
            if !vb || !va {
                error_files.extend(files(&own, new));
            }
            if !va {
                error_files.extend(files(&bn, new));
            }
            Ok(Some((
                AgentDiff {
                    agent: (*id).clone(),
                    client: a.client.clone(),
                    status: st,
                    digest_before: None,
                    digest_after: None,
                    valid_before: vb,
                    valid_after: va,
                    errors_before: codes_of(before.iter().copied()),
                    errors_after: codes_of(after.iter().copied()),
                    changes: if vb && va {
                        b.changes.clone()
                    } else {
                        Vec::new()
                    },
                    doc_before: None,
                    doc_after: None,
                },
                error_files,
            )))
        })
        .collect();
    let mut diffs = Vec::new();
    let mut rendered = changed_agents;
    for r in shared {
        match r {
            Ok(Some(d)) => diffs.push(d),
            Ok(None) => {}
            Err(id) => {
                rendered.insert(id);
            }
        }
    }
    if !rendered.is_empty() {
        let old_full = load_old(&rendered)?;
        diffs.extend(agent_diffs(&old_full, new, &rendered));
    }
    diffs.sort_by(|a, b| a.0.agent.cmp(&b.0.agent));
    Ok(Some(assemble(
        super::locks(old, false),
        super::locks(new, false),
        diffs,
        files_changed,
        from,
        to,
    )))
}

/// What the change did below each prefix (global alone, and global with each client).
fn below_prefixes(
    old: &Repo,
    new: &Repo,
    so: &Stacks,
    sn: &Stacks,
) -> BTreeMap<Option<String>, Below> {
    let prefixes: Vec<Option<String>> = std::iter::once(None)
        .chain(new.clients.keys().cloned().map(Some))
        .collect();
    prefixes
        .into_par_iter()
        .map(|c| {
            let changes = changes(
                &representative(old, so, c.as_deref()),
                &representative(new, sn, c.as_deref()),
                None,
            );
            let mut paths: Vec<KeyPath> = changes.iter().map(|ch| related(&ch.key)).collect();
            paths.sort();
            paths.dedup();
            (c, Below { changes, paths })
        })
        .collect()
}

/// The locks of the shared layers.
fn shared_locks(r: &Repo) -> BTreeSet<String> {
    std::iter::once(&r.global)
        .chain(r.clients.values())
        .flat_map(|l| l.locks.iter().map(|(p, _)| p.to_string()))
        .collect()
}

/// The agents whose own files are among the changed paths.
fn changed_agents(files_changed: &[String]) -> BTreeSet<String> {
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

/// True when the layer defines a path equal to, above or below one of `paths`.
fn overlaps(layer: &Layer, paths: &[KeyPath]) -> bool {
    fn walk(t: &Table, at: &KeyPath, paths: &[KeyPath]) -> bool {
        t.iter().any(|(k, n)| {
            let p = at.key(k);
            match &n.value {
                Value::Table(t) if !t.is_empty() => walk(t, &p, paths),
                _ => paths.iter().any(|d| d.starts_with(&p) || p.starts_with(d)),
            }
        })
    }
    !paths.is_empty() && walk(&layer.table, &KeyPath::root(), paths)
}

/// The findings of `fs` that keep a document from being built.
fn blocking(fs: &[Finding]) -> Vec<&Finding> {
    fs.iter().filter(|f| f.blocks_document()).collect()
}
