//! Effective config x effective config -> changes, per agent, with the changes that widen what an
//! agent may do and the blast radius of the whole change.
//!
//! Only the agents a change can affect are merged: a change under `agents/<id>` affects that
//! agent; a change to `opl.toml`, `global/`, `clients/` or a file outside the layers (a fragment
//! may be referenced from anywhere) affects every agent.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value as Json;

use crate::diagnostic::{Code, Finding, Severity};
use crate::merge::provenance::{Origin, provenance};
use crate::merge::stack::Stacks;
use crate::model::class::{Operand, Widening};
use crate::model::key_path::{KeyPath, Segment};
use crate::model::schema::{self, Loosens, REQUIRE_LADDER};
use crate::model::source::{LayerKind, SourceFile, Sources, Span, safe};
use crate::render::{digest, document, to_toml};
use crate::repo::layer::Repo;

pub mod by_key;
pub mod facts;
pub mod reach;

/// One changed leaf.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub path: String,
    #[serde(skip)]
    pub key: KeyPath,
    pub old: Option<Json>,
    pub new: Option<Json>,
    /// Why the change widens what the agent may do, when it does.
    pub widening: Option<String>,
    /// The definition that now wins, or the one that was removed.
    pub file: Option<String>,
    pub line: Option<u32>,
    #[serde(skip)]
    pub origin: Option<Origin>,
}

/// How an agent changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Added,
    Removed,
    Changed,
}

/// The changes of one agent.
#[derive(Clone, Debug, Serialize)]
pub struct AgentDiff {
    pub agent: String,
    pub client: Option<String>,
    pub status: Status,
    pub digest_before: Option<String>,
    pub digest_after: Option<String>,
    /// False when that side has errors that keep its document from being built: it then has no
    /// digest and no leaves, and the codes of those errors are listed.
    pub valid_before: bool,
    pub valid_after: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors_before: Vec<Code>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors_after: Vec<Code>,
    /// Shared by the agents that take one prefix's changes (a change to `global/` gives the same
    /// list to thousands).
    pub changes: Arc<[Change]>,
    /// The rendered documents, for `--format patch`.
    #[serde(skip)]
    pub doc_before: Option<Json>,
    #[serde(skip)]
    pub doc_after: Option<Json>,
}

impl AgentDiff {
    /// True when any change widens what the agent may do.
    pub fn widens(&self) -> bool {
        self.changes.iter().any(|c| c.widening.is_some())
    }
    /// The changed key paths.
    pub fn keys(&self) -> Vec<&str> {
        self.changes.iter().map(|c| c.path.as_str()).collect()
    }
    /// `path: why` for every change that widens.
    pub fn widenings(&self) -> Vec<String> {
        self.changes
            .iter()
            .filter_map(|c| c.widening.as_ref().map(|w| format!("{}: {w}", c.path)))
            .collect()
    }
}

/// A lock that appeared or disappeared.
#[derive(Clone, Debug, Serialize)]
pub struct LockChange {
    pub lock: String,
    pub file: String,
    pub line: u32,
}

/// The whole diff.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub agents: Vec<AgentDiff>,
    /// Paths (relative to the config root) that changed.
    pub files_changed: Vec<String>,
    /// Changed files that change no agent's effective config.
    pub noop_files: Vec<String>,
    pub root_config_changed: bool,
    pub locks_added: Vec<LockChange>,
    pub locks_removed: Vec<LockChange>,
}

impl Report {
    /// Agents changed, per client (`(no client)` for agents without one).
    pub fn by_client(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for a in &self.agents {
            *m.entry(a.client.clone().unwrap_or_else(|| "(no client)".into()))
                .or_insert(0) += 1;
        }
        m
    }
    /// Number of agents with a widening change.
    pub fn widened(&self) -> usize {
        self.agents.iter().filter(|a| a.widens()).count()
    }
}

/// One side of an agent's diff: its rendered document, or, when it cannot be built (spec
/// section 8), no document at all and the errors that prevent it.
struct Side {
    client: Option<String>,
    /// Empty for an invalid side.
    digest: String,
    /// The rendered document; `None` for an invalid side.
    doc: Option<Json>,
    leaves: Leaves,
    /// The codes of the errors that keep the document from being built; empty when valid.
    errors: Vec<Code>,
    /// The files those errors point at.
    error_files: Vec<String>,
}

impl Side {
    fn valid(&self) -> bool {
        self.errors.is_empty()
    }
}

fn side(repo: &Repo, stacks: &Stacks, id: &str) -> Option<Side> {
    let a = stacks.agent(id)?;
    let blocking: Vec<&Finding> = a.all_findings().filter(|f| f.blocks_document()).collect();
    if !blocking.is_empty() {
        let errors = crate::diagnostic::codes_of(blocking.iter().copied());
        return Some(Side {
            client: a.client.clone(),
            digest: String::new(),
            doc: None,
            leaves: Leaves::new(),
            errors,
            error_files: blocking
                .iter()
                .map(|f| repo.sources.get(f.span.file).path.clone())
                .collect(),
        });
    }
    let doc = document(repo, id, &a.eff);
    let dg = digest(&doc);
    let leaves = provenance(repo, &a, Some(&doc))
        .into_iter()
        .map(|p| (p.key_path, (p.value, p.origin)))
        .collect();
    Some(Side {
        client: a.client.clone(),
        doc: Some(doc),
        digest: dg,
        leaves,
        errors: Vec::new(),
        error_files: Vec::new(),
    })
}

/// Compares two loaded states over the agents in `ids`.
pub fn compare(
    old: &Repo,
    new: &Repo,
    ids: &BTreeSet<String>,
    files_changed: Vec<String>,
    from: String,
    to: String,
) -> Report {
    let diffs = agent_diffs(old, new, ids);
    assemble(
        locks(old, true),
        locks(new, true),
        diffs,
        files_changed,
        from,
        to,
    )
}

/// The agents of `ids` that changed, each with the files the errors of an invalid side point
/// at (a file that makes a side invalid changes the agent, though no leaf shows it).
fn agent_diffs(old: &Repo, new: &Repo, ids: &BTreeSet<String>) -> Vec<(AgentDiff, Vec<String>)> {
    use rayon::prelude::*;
    let so = Stacks::new(old);
    let sn = Stacks::new(new);
    let ids: Vec<&String> = ids.iter().collect();
    ids.par_iter()
        .filter_map(|id| {
            let (a, b) = (side(old, &so, id), side(new, &sn, id));
            let error_files: Vec<String> = [&a, &b]
                .into_iter()
                .flatten()
                .flat_map(|s| s.error_files.iter().cloned())
                .collect();
            agent_diff(id, a, b).map(|d| (d, error_files))
        })
        .collect()
}

/// The report of the agent diffs `diffs` (in agent order): the files that changed no agent and
/// the locks that appeared or disappeared between the two sides' locks.
fn assemble(
    lo: BTreeMap<String, LockChange>,
    ln: BTreeMap<String, LockChange>,
    diffs: Vec<(AgentDiff, Vec<String>)>,
    files_changed: Vec<String>,
    from: String,
    to: String,
) -> Report {
    let mut origins: HashSet<String> = HashSet::new();
    // A change to a shared layer gives thousands of agents the same files: each is copied once.
    for (a, files) in &diffs {
        let files = files
            .iter()
            .chain(a.changes.iter().filter_map(|c| c.file.as_ref()));
        for f in files {
            if !origins.contains(f) {
                origins.insert(f.clone());
            }
        }
    }
    let agents: Vec<AgentDiff> = diffs.into_iter().map(|(d, _)| d).collect();
    let noop_files = files_changed
        .iter()
        .filter(|f| !origins.contains(f.as_str()) && !crate::repo::layout::hidden(f))
        .cloned()
        .collect();
    let locks_added = ln
        .iter()
        .filter(|(k, _)| !lo.contains_key(*k))
        .map(|(_, v)| v.clone())
        .collect();
    let locks_removed = lo
        .iter()
        .filter(|(k, _)| !ln.contains_key(*k))
        .map(|(_, v)| v.clone())
        .collect();
    let root_config_changed = files_changed.iter().any(|f| f == "opl.toml");
    Report {
        from,
        to,
        agents,
        files_changed,
        noop_files,
        root_config_changed,
        locks_added,
        locks_removed,
    }
}

/// Every lock of a state's shared layers and, with `agents`, of its loaded agent layers, by
/// `path @ file`.
fn locks(r: &Repo, agents: bool) -> BTreeMap<String, LockChange> {
    std::iter::once(&r.global)
        .chain(r.clients.values())
        .chain(r.agents.values().filter(|_| agents))
        .flat_map(|l| l.locks.iter())
        .map(|(p, s)| {
            let loc = r.sources.locate(*s);
            (
                format!("{p} @ {}", loc.file),
                LockChange {
                    lock: p.to_string(),
                    file: loc.file,
                    line: loc.line,
                },
            )
        })
        .collect()
}

/// How an agent changed between two sides, each absent (`None`) or present and valid or not;
/// `same` tells whether two valid sides render the same document. `None`: it did not change.
pub(crate) fn status(
    before: Option<bool>,
    after: Option<bool>,
    same: impl FnOnce() -> bool,
) -> Option<Status> {
    match (before, after) {
        (None, None) => None,
        (None, Some(_)) => Some(Status::Added),
        (Some(_), None) => Some(Status::Removed),
        // Two invalid sides are one state, as in history (spec section 8).
        (Some(false), Some(false)) => None,
        (Some(true), Some(true)) if same() => None,
        _ => Some(Status::Changed),
    }
}

fn agent_diff(id: &str, a: Option<Side>, b: Option<Side>) -> Option<AgentDiff> {
    let status = status(
        a.as_ref().map(Side::valid),
        b.as_ref().map(Side::valid),
        || a.as_ref().map(|s| &s.digest) == b.as_ref().map(|s| &s.digest),
    )?;
    // An invalid side has no document: nothing to compare leaf by leaf.
    let empty = Leaves::new();
    let changes = if a.as_ref().is_none_or(Side::valid) && b.as_ref().is_none_or(Side::valid) {
        changes(
            a.as_ref().map(|s| &s.leaves).unwrap_or(&empty),
            b.as_ref().map(|s| &s.leaves).unwrap_or(&empty),
            None,
        )
    } else {
        Vec::new()
    };
    Some(AgentDiff {
        agent: id.to_string(),
        client: b
            .as_ref()
            .and_then(|s| s.client.clone())
            .or_else(|| a.as_ref().and_then(|s| s.client.clone())),
        status,
        digest_before: a.as_ref().filter(|s| s.valid()).map(|s| s.digest.clone()),
        digest_after: b.as_ref().filter(|s| s.valid()).map(|s| s.digest.clone()),
        valid_before: a.as_ref().is_none_or(Side::valid),
        valid_after: b.as_ref().is_none_or(Side::valid),
        errors_before: a.as_ref().map(|s| s.errors.clone()).unwrap_or_default(),
        errors_after: b.as_ref().map(|s| s.errors.clone()).unwrap_or_default(),
        doc_before: a.and_then(|s| s.doc),
        doc_after: b.and_then(|s| s.doc),
        changes: changes.into(),
    })
}

/// An agent's effective leaves by reference path: the value and the definition that won
/// (`None` for derived values).
pub type Leaves = BTreeMap<KeyPath, (Json, Option<Origin>)>;

/// The leaf changes from `la` to `lb` (those under `key`), in path order, each with why it widens
/// what the agent may do. The one comparison of two states: diff, log, audit and check use it.
pub fn changes(la: &Leaves, lb: &Leaves, key: Option<&KeyPath>) -> Vec<Change> {
    let paths: BTreeSet<&KeyPath> = la
        .keys()
        .chain(lb.keys())
        .filter(|p| key.is_none_or(|k| p.starts_with(k)))
        .collect();
    let mut changes = Vec::new();
    for p in paths {
        let (o, n) = (la.get(p), lb.get(p));
        if o.map(|x| &x.0) == n.map(|x| &x.0) {
            continue;
        }
        let origin = n
            .and_then(|x| x.1.clone())
            .or_else(|| o.and_then(|x| x.1.clone()));
        let old = o.map(|x| x.0.clone());
        let new = n.map(|x| x.0.clone());
        let widening = widening(p, old.as_ref(), new.as_ref());
        changes.push(Change {
            path: crate::check::secret::redact_path(p),
            key: p.clone(),
            file: origin.as_ref().map(|o| o.file.clone()),
            line: origin.as_ref().map(|o| o.line),
            origin,
            old,
            new,
            widening,
        });
    }
    // `actions` is derived: point it at the `tools.*.use` change that made it.
    if let Some(use_change) = changes
        .iter()
        .find(|c| {
            matches!(
                c.key.keys().collect::<Vec<_>>().as_slice(),
                ["tools", _, "use"]
            ) && c.origin.is_some()
        })
        .map(|c| c.origin.clone())
    {
        let actions = KeyPath::root().key(crate::model::schema::ACTIONS.name);
        for c in changes
            .iter_mut()
            .filter(|c| c.key == actions && c.origin.is_none())
        {
            c.file = use_change.as_ref().map(|o| o.file.clone());
            c.line = use_change.as_ref().map(|o| o.line);
            c.origin = use_change.clone();
        }
    }
    changes
}

fn strings(v: Option<&Json>) -> Vec<&str> {
    v.and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default()
}

/// Why a change of `path` from `old` to `new` widens what the agent may do, or `None`: the rule of
/// the key's schema entry ([`schema::Loosens`]), or else of its merge class.
pub fn widening(kp: &KeyPath, old: Option<&Json>, new: Option<&Json>) -> Option<String> {
    let field = schema::lookup_rendered(kp.keys())?;
    let rule = || {
        kp.0.iter()
            .find_map(|s| match s {
                Segment::Id(i) => Some(i.as_str()),
                Segment::Key(_) => None,
            })
            .unwrap_or_default()
    };
    let num = |v: Option<&Json>| v.and_then(Json::as_f64);
    let bound = |raised: bool| match (num(old), num(new)) {
        (Some(a), Some(b)) if (raised && b > a) || (!raised && b < a) => Some(format!(
            "approval rule `{}` applies less often: {} {a} -> {b}",
            rule(),
            kp.keys().last().unwrap_or_default()
        )),
        _ => None,
    };
    match field.loosens {
        Loosens::ByClass => {
            let (o, n) = (old.map(Operand::of_json), new.map(Operand::of_json));
            let w = field.class.widening(o.as_ref(), n.as_ref())?;
            Some(match w {
                Widening::HigherCeiling(a, b) => format!("higher ceiling: {a} -> {b}"),
                Widening::CeilingRemoved(a) => format!("ceiling {a} removed"),
                Widening::LowerFloor(a, b) => format!("lower floor: {a} -> {b}"),
                Widening::FloorRemoved(a) => format!("floor {a} removed"),
                Widening::TurnedOff => "requirement turned off".into(),
                Widening::NotCovered(added) => format!("newly allowed: {}", added.join(", ")),
                Widening::ListRemoved => "allow list removed: nothing is restricted".into(),
                Widening::Dropped(gone) => format!(
                    "no longer {}: {}",
                    kp.keys().last().unwrap_or_default().replace('_', " "),
                    gone.join(", ")
                ),
            })
        }
        Loosens::WhenAdded(what) => {
            let (o, n) = (strings(old), strings(new));
            let added: Vec<&str> = n.into_iter().filter(|x| !o.contains(x)).collect();
            (!added.is_empty()).then(|| format!("{what}: {}", added.join(", ")))
        }
        Loosens::WhenRaised(what) => match (num(old), num(new)) {
            (Some(a), Some(b)) if b > a => Some(format!("{what}: {a} -> {b} days")),
            _ => None,
        },
        Loosens::WhenLowered => {
            let rank = |v: Option<&Json>| {
                v.and_then(Json::as_str)
                    .and_then(|s| REQUIRE_LADDER.iter().position(|r| *r == s))
            };
            match (rank(old), rank(new)) {
                (Some(a), Some(b)) if b < a => Some(format!(
                    "approval rule `{}` looser: {} -> {}",
                    rule(),
                    old?,
                    new?
                )),
                _ => None,
            }
        }
        Loosens::BoundRaised => bound(true),
        Loosens::BoundLowered => bound(false),
        Loosens::WhenRemoved => {
            (old.is_some() && new.is_none()).then(|| format!("approval rule `{}` removed", rule()))
        }
    }
}

/// `widening-change` findings for every change of `report` that widens what an agent may do,
/// pointing into `sources`, the state the report compares to (a value that was removed points at
/// the start of the file it was removed from). Warnings, or errors when `deny`.
pub fn widening_findings(report: &Report, sources: &mut Sources, deny: bool) -> Vec<Finding> {
    // One finding per change, naming every agent it reaches (a global change reaches many).
    let mut out: Vec<Finding> = Vec::new();
    let mut index: std::collections::HashMap<Finding, usize> = std::collections::HashMap::new();
    for a in &report.agents {
        for c in a.changes.iter() {
            let Some(why) = &c.widening else { continue };
            let path = c
                .origin
                .as_ref()
                .map(|o| o.file.clone())
                .unwrap_or_else(|| crate::repo::layout::agent_file(&a.agent));
            let file = sources.find(&path).unwrap_or_else(|| {
                sources.add(SourceFile::new(path, String::new(), LayerKind::Stray))
            });
            let (span, was) = match (&c.new, &c.origin) {
                (Some(_), Some(o)) => (sources.span_at(file, o.line, o.column), String::new()),
                (None, Some(o)) => (
                    Span::file_start(file),
                    format!(" (it was set at line {} in {})", o.line, safe(&report.from)),
                ),
                _ => (Span::file_start(file), String::new()),
            };
            let mut f = Finding::new(
                Code::WideningChange,
                span,
                format!(
                    "{}: {} widens what an agent may do ({}){was}",
                    safe(&c.path),
                    change_text(c.old.as_ref(), c.new.as_ref()),
                    safe(why)
                ),
            )
            .label("widens")
            .help(format!(
                "review the change from {} and the agents it reaches",
                safe(&report.from)
            ));
            if deny {
                f.severity = Severity::Error;
            }
            let i = *index.entry(f.clone()).or_insert_with(|| {
                out.push(f);
                out.len() - 1
            });
            out[i].agents.push(a.agent.clone());
        }
    }
    out
}

/// `old -> new` for display; for two arrays that share elements, what was added and removed.
pub fn change_text(old: Option<&serde_json::Value>, new: Option<&serde_json::Value>) -> String {
    if let (Some(serde_json::Value::Array(o)), Some(serde_json::Value::Array(n))) = (old, new) {
        let removed: Vec<String> = o
            .iter()
            .filter(|x| !n.contains(x))
            .map(|x| crate::merge::provenance::short(x, 40))
            .collect();
        let added: Vec<String> = n
            .iter()
            .filter(|x| !o.contains(x))
            .map(|x| crate::merge::provenance::short(x, 40))
            .collect();
        if removed.len() + added.len() < o.len() + n.len() {
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("added {}", added.join(", ")));
            }
            if !removed.is_empty() {
                parts.push(format!("removed {}", removed.join(", ")));
            }
            if parts.is_empty() {
                parts.push("reordered".into());
            }
            return parts.join("; ");
        }
    }
    let show = |v: Option<&serde_json::Value>| {
        v.map(|v| crate::merge::provenance::short(v, 50))
            .unwrap_or_else(|| "(unset)".into())
    };
    format!("{} -> {}", show(old), show(new))
}

/// A unified diff of the rendered TOML of each changed agent. An agent whose document cannot be
/// built on one side has no document to compare: it is left out (`opl diff` says why).
pub fn patch(report: &Report) -> String {
    let mut out = String::new();
    for a in report
        .agents
        .iter()
        .filter(|a| a.valid_before && a.valid_after)
    {
        // The patch shows values as every other output does: secrets redacted.
        let toml = |doc: &Option<Json>, digest: &Option<String>| match (doc, digest) {
            (Some(d), Some(dg)) => to_toml(&crate::check::secret::redacted("", d.clone()), dg),
            _ => String::new(),
        };
        let (before, after) = (
            toml(&a.doc_before, &a.digest_before),
            toml(&a.doc_after, &a.digest_after),
        );
        let d = similar::TextDiff::from_lines(&before, &after);
        let old = if a.status == Status::Added {
            "/dev/null".to_string()
        } else {
            format!("a/{}.toml", a.agent)
        };
        let new = if a.status == Status::Removed {
            "/dev/null".to_string()
        } else {
            format!("b/{}.toml", a.agent)
        };
        out.push_str(
            &d.unified_diff()
                .context_radius(3)
                .header(&old, &new)
                .to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn origin(file: &str, line: u32) -> Option<Origin> {
        Some(Origin {
            file: file.into(),
            line,
            column: 1,
            layer: "global".into(),
        })
    }

    #[test]
    fn changes_are_leaves_that_differ_with_why_they_widen() {
        let kp = |p: &str| KeyPath::parse(p).unwrap();
        let before: Leaves = [
            (kp("model.name"), (json!("a"), origin("g.toml", 1))),
            (kp("actions"), (json!(["crm.get"]), None)),
            (kp("tools.crm.use"), (json!(["get"]), origin("a.toml", 3))),
            (
                kp("memory.scopes"),
                (json!(["session"]), origin("g.toml", 4)),
            ),
        ]
        .into_iter()
        .collect();
        let mut after = before.clone();
        after.insert(kp("actions"), (json!(["crm.get", "crm.put"]), None));
        after.insert(
            kp("tools.crm.use"),
            (json!(["get", "put"]), origin("a.toml", 7)),
        );
        after.remove(&kp("memory.scopes"));
        let c = changes(&before, &after, None);
        let paths: Vec<&str> = c.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["actions", "memory.scopes", "tools.crm.use"]);
        // The derived `actions` points at the `use` that made it, and widens.
        assert_eq!((c[0].file.as_deref(), c[0].line), (Some("a.toml"), Some(7)));
        assert_eq!(c[0].widening.as_deref(), Some("new action: crm.put"));
        // A removed value points where it was defined; fewer scopes do not widen.
        assert_eq!(
            (c[1].file.as_deref(), c[1].new.as_ref()),
            (Some("g.toml"), None)
        );
        assert_eq!(c[1].widening, None);
        // Only what is under the key.
        let under = changes(&before, &after, Some(&kp("tools")));
        assert_eq!(under.len(), 1);
        assert!(changes(&before, &before, None).is_empty());
    }

    #[test]
    fn classifies_widening_changes() {
        let w = |p: &str, o: Option<Json>, n: Option<Json>| {
            widening(&KeyPath::parse(p).unwrap(), o.as_ref(), n.as_ref())
        };
        assert!(
            w("actions", Some(json!(["a.x"])), Some(json!(["a.x", "a.y"])))
                .unwrap()
                .contains("a.y")
        );
        assert!(w("actions", Some(json!(["a.x", "a.y"])), Some(json!(["a.x"]))).is_none());
        assert!(
            w(
                "policy.model.max_temperature",
                Some(json!(0.5)),
                Some(json!(0.7))
            )
            .is_some()
        );
        assert!(
            w(
                "policy.model.max_temperature",
                Some(json!(0.5)),
                Some(json!(0.3))
            )
            .is_none()
        );
        assert!(w("policy.model.max_temperature", Some(json!(0.5)), None).is_some());
        assert!(
            w(
                "policy.tools.deny",
                Some(json!(["*.delete_*"])),
                Some(json!([]))
            )
            .is_some()
        );
        assert!(
            w(
                "policy.tools.allow",
                Some(json!(["crm.*"])),
                Some(json!(["crm.*", "kb.*"]))
            )
            .is_some()
        );
        assert!(
            w(
                "policy.tools.allow",
                Some(json!(["crm.*"])),
                Some(json!(["crm.get"]))
            )
            .is_none()
        );
        assert!(
            w(
                "policy.model.allow_providers",
                Some(json!(["openai"])),
                Some(json!(["openai", "x"]))
            )
            .is_some()
        );
        assert!(
            w(
                "policy.memory.redact_pii",
                Some(json!(true)),
                Some(json!(false))
            )
            .is_some()
        );
        assert!(
            w(
                "memory.retention_days.user",
                Some(json!(30)),
                Some(json!(60))
            )
            .is_some()
        );
        assert!(
            w(
                "memory.scopes",
                Some(json!(["session"])),
                Some(json!(["session", "user"]))
            )
            .is_some()
        );
        assert!(
            w(
                "policy.approvals.rules[id=r].require",
                Some(json!("approval")),
                Some(json!("notify"))
            )
            .is_some()
        );
        assert!(
            w(
                "policy.approvals.rules[id=r].require",
                Some(json!("notify")),
                Some(json!("deny"))
            )
            .is_none()
        );
        assert!(
            w(
                "policy.approvals.rules[id=r].action",
                Some(json!("*.x")),
                None
            )
            .is_some()
        );
        assert!(
            w(
                "policy.approvals.rules[id=r].when.gt",
                Some(json!(1000)),
                Some(json!(5000))
            )
            .is_some()
        );
        assert!(
            w(
                "tools.crm.limits.max_calls_per_run",
                Some(json!(3)),
                Some(json!(10))
            )
            .is_some()
        );
        assert!(w("model.name", Some(json!("a")), Some(json!("b"))).is_none());
    }
}
