//! Which agents a change to shared layers reaches: the scope of `opl validate --staged`.
//!
//! An agent's findings depend on its own files and on what it inherits: the merged prefix of its
//! client (or of global alone) and that prefix's findings. A change to `global/` or `clients/`
//! reaches the agents below a prefix it changes, and no other: when a prefix's merged tree is
//! the same on both sides (every value and table, every definition's file, line and column,
//! every lock; not the definitions a value shadowed, which only `explain` shows) and so are the
//! findings it passes down, an agent below it is merged onto the same input and checked on the
//! same result, so its findings are those it had. The merged trees are compared, not the values
//! they render to: a definition that moved to another line moves the findings that point at it,
//! and an agent below it is checked again.
//!
//! A client that overrides everything a change to global made (or an edit that changes no merged
//! value nor any position) leaves its agents out; a change to one client reaches its agents only.

use std::collections::{BTreeSet, HashSet};

use rayon::prelude::*;

use crate::diagnostic::Finding;
use crate::merge::stack::Stacks;
use crate::merge::{ENode, ETable, Effective};
use crate::model::source::Span;
use crate::model::value::{Node, Value};
use crate::repo::layer::Repo;
use crate::repo::layout::{Place, Selection, affected, classify};

/// What a change to shared layers changed: the prefixes whose merged tree or inherited findings
/// differ, and the agents whose own files changed.
#[derive(Debug, PartialEq)]
pub struct Reach {
    /// The prefixes the change changed: `None` for global's (of agents that name no client, or
    /// one the repository does not have), `Some(client)` for a client's.
    moved: HashSet<Option<String>>,
    /// The agents whose own files changed.
    edited: HashSet<String>,
    /// The change moved every prefix.
    every: bool,
}

impl Reach {
    /// What a change from `old` to `new` changed; each needs its shared layers only (agents
    /// loaded or not). `None` when the change is not one this reading takes (every agent is
    /// reached then): a changed path that is not a layer file of `global/`, of a client or of an
    /// agent (`opl.toml`, a fragment, a test), or a client added or removed.
    pub fn of(old: &Repo, new: &Repo, changed: &[String]) -> Option<Reach> {
        let (shared, rest): (Vec<String>, Vec<String>) = changed
            .iter()
            .cloned()
            .partition(|p| matches!(classify(p), Place::Global | Place::Client(_)));
        let Selection::Agents(edited) = affected(&rest) else {
            return None;
        };
        if !old.clients.keys().eq(new.clients.keys()) {
            return None;
        }
        let (so, sn) = (Stacks::new(old), Stacks::new(new));
        let sides = Sides { old, new };
        let same = |c: Option<&str>| match (so.prefix(c), sn.prefix(c)) {
            (Some(a), Some(b)) => {
                sides.effective(a, b)
                    && so
                        .inherited_by(c)
                        .zip(sn.inherited_by(c))
                        .is_some_and(|(x, y)| {
                            x.len() == y.len() && x.iter().zip(&y).all(|(x, y)| sides.finding(x, y))
                        })
            }
            _ => false,
        };
        let global_same = shared.iter().all(|p| classify(p) != Place::Global) || same(None);
        let edited_clients = super::by_key::changed_clients(&shared);
        // Global's prefix, and each client's (one whose files did not change has global's
        // answer when global's merged tree is the same).
        let moved: HashSet<Option<String>> = std::iter::once(None)
            .filter(|_| !global_same)
            .chain(
                new.clients
                    .par_iter()
                    .filter(|(c, _)| {
                        (!global_same || edited_clients.contains(*c)) && !same(Some(c.as_str()))
                    })
                    .map(|(c, _)| Some(c.clone()))
                    .collect::<Vec<_>>(),
            )
            .collect();
        Some(Reach {
            every: moved.len() == new.clients.len() + 1,
            moved,
            edited,
        })
    }

    /// True when the change reaches every agent, whatever client it names.
    pub fn every(&self) -> bool {
        self.every
    }

    /// True when the change reaches agent `id`, merged onto the prefix of `client` (see
    /// [`Repo::prefix_client`]).
    pub fn reaches(&self, id: &str, client: Option<&str>) -> bool {
        self.every || self.edited.contains(id) || self.moved.contains(&client.map(String::from))
    }

    /// The agents `new` loaded that the change reaches.
    pub fn agents(&self, new: &Repo) -> BTreeSet<String> {
        new.agents
            .iter()
            .filter(|(id, layer)| self.reaches(id, new.agent_client(layer)))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// The two states, to compare what each holds with the files of its spans named by path (the
/// same file has another id in each).
struct Sides<'r> {
    old: &'r Repo,
    new: &'r Repo,
}

impl Sides<'_> {
    /// The same place: the same file, from the same line and column to the same line and
    /// column (what a finding says of a place; a value that grew on an earlier line moves the
    /// bytes after it, not their lines and columns).
    fn span(&self, a: Span, b: Span) -> bool {
        let (fa, fb) = (self.old.sources.get(a.file), self.new.sources.get(b.file));
        fa.path == fb.path
            && fa.line_col(a.start) == fb.line_col(b.start)
            && fa.line_col(a.end) == fb.line_col(b.end)
    }

    fn effective(&self, a: &Effective, b: &Effective) -> bool {
        self.table(&a.root, &b.root)
            && a.locks.len() == b.locks.len()
            && a.locks
                .iter()
                .zip(&b.locks)
                .all(|((pa, sa), (pb, sb))| pa == pb && self.span(*sa, *sb))
    }

    fn table(&self, a: &ETable, b: &ETable) -> bool {
        let spans = match (a.span, b.span) {
            (Some(x), Some(y)) => self.span(x, y),
            (x, y) => x.is_none() && y.is_none(),
        };
        spans
            && a.entries.len() == b.entries.len()
            && a.entries
                .iter()
                .zip(&b.entries)
                .all(|((ka, na), (kb, nb))| ka == kb && self.enode(na, nb))
    }

    fn enode(&self, a: &ENode, b: &ENode) -> bool {
        match (a, b) {
            (ENode::Table(a), ENode::Table(b)) => self.table(a, b),
            // What a leaf shadowed is shown by `explain`; no check reads it.
            (ENode::Leaf(a), ENode::Leaf(b)) => a.class == b.class && self.node(&a.node, &b.node),
            (ENode::List(a), ENode::List(b)) => {
                a.class == b.class && self.nodes(&a.elems, &b.elems)
            }
            _ => false,
        }
    }

    fn nodes(&self, a: &[Node], b: &[Node]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(a, b)| self.node(a, b))
    }

    fn node(&self, a: &Node, b: &Node) -> bool {
        self.span(a.span, b.span)
            && self.span(a.key_span, b.key_span)
            && self.value(&a.value, &b.value)
    }

    fn value(&self, a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Boolean(a), Value::Boolean(b)) => a == b,
            (Value::Datetime(a), Value::Datetime(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => self.nodes(a, b),
            (Value::Table(a), Value::Table(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|((ka, na), (kb, nb))| ka == kb && self.node(na, nb))
            }
            _ => false,
        }
    }

    fn finding(&self, a: &Finding, b: &Finding) -> bool {
        a.code == b.code
            && a.severity == b.severity
            && a.message == b.message
            && self.span(a.span, b.span)
            && a.label == b.label
            && a.help == b.help
            && a.agents == b.agents
            && a.related.len() == b.related.len()
            && a.related
                .iter()
                .zip(&b.related)
                .all(|(x, y)| x.message == y.message && self.span(x.span, y.span))
    }
}
