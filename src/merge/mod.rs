//! Layers -> effective config with provenance (spec section 3).
//!
//! [`Effective`] is the merged tree of one stack of layers. Every leaf keeps the node that won
//! (its file, key and value spans) and the nodes it shadowed, in layer order; elements of
//! id-keyed arrays and of `union` arrays keep their own spans. Merging a layer checks it against
//! what it inherits: `type-conflict`, `widening`, `locked`, `duplicate-id`, `required-fragment`,
//! `unknown-id` (errors) and `noop-override` (a warning). A rejected definition is not merged, so
//! the effective value stays the inherited one.

pub mod provenance;
pub mod stack;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::diagnostic::{Code, Finding};
use crate::model::class::{Operand, Widening};
use crate::model::key_path::{At, KeyPath};
use crate::model::schema::{self, Class, Field, Shape, keys};
use crate::model::source::{Span, safe};
use crate::model::value::{Node, Table, Value};
use crate::repo::layer::{Layer, elem_id, elem_id_span};

/// One merged leaf.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// The winning definition.
    pub node: Node,
    pub class: Class,
    /// Earlier definitions it replaced, in layer order.
    pub shadowed: Vec<Node>,
}

/// An id-keyed array: each element is a table node with its own spans.
#[derive(Clone, Debug)]
pub struct List {
    pub class: Class,
    pub elems: Vec<Node>,
}

/// A node of the effective tree.
#[derive(Clone, Debug)]
pub enum ENode {
    Table(ETable),
    Leaf(Leaf),
    List(List),
}

/// A merged table.
#[derive(Clone, Debug, Default)]
pub struct ETable {
    /// Where the table was first defined.
    pub span: Option<Span>,
    /// Children, shared between effective configs until one of them changes (copy on write).
    pub entries: BTreeMap<String, Arc<ENode>>,
}

/// The effective config of one stack of layers.
#[derive(Clone, Debug, Default)]
pub struct Effective {
    pub root: ETable,
    /// Locks set by the layers merged so far.
    pub locks: Vec<(KeyPath, Span)>,
}

impl ETable {
    /// The child named `k`.
    pub fn get(&self, k: &str) -> Option<&ENode> {
        self.entries.get(k).map(|n| &**n)
    }
    /// The children in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &ENode)> {
        self.entries.iter().map(|(k, n)| (k, &**n))
    }
}

#[derive(Clone, Copy)]
enum Ctx {
    Fields(&'static [Field]),
    MapOf(&'static Field),
    Free,
}

impl Effective {
    /// Merges one more layer on top, adding findings for what it may not do.
    pub fn apply(&mut self, layer: &Layer, findings: &mut Vec<Finding>) {
        let locks = std::mem::take(&mut self.locks);
        merge_table(
            &mut self.root,
            &layer.table,
            &At::Root,
            Ctx::Fields(schema::top()),
            &locks,
            false,
            findings,
        );
        self.locks = locks;
        self.check_excludes(layer, findings);
        self.locks.extend(layer.locks.iter().cloned());
    }

    /// The table at a path of plain keys.
    pub fn table(&self, keys: &[&str]) -> Option<&ETable> {
        let mut t = &self.root;
        for k in keys {
            match &**t.entries.get(*k)? {
                ENode::Table(n) => t = n,
                _ => return None,
            }
        }
        Some(t)
    }

    /// The leaf at a path of plain keys.
    pub fn leaf(&self, keys: &[&str]) -> Option<&Leaf> {
        let (last, parent) = keys.split_last()?;
        match &**self.table(parent)?.entries.get(*last)? {
            ENode::Leaf(l) => Some(l),
            _ => None,
        }
    }

    /// The elements of an id-keyed list at a path of plain keys.
    pub fn list(&self, keys: &[&str]) -> &[Node] {
        let Some((last, parent)) = keys.split_last() else {
            return &[];
        };
        match self
            .table(parent)
            .and_then(|t| t.entries.get(*last))
            .map(|n| &**n)
        {
            Some(ENode::List(l)) => &l.elems,
            _ => &[],
        }
    }

    fn check_excludes(&self, layer: &Layer, findings: &mut Vec<Finding>) {
        let Some(excl) = layer
            .table
            .get("instructions")
            .and_then(|n| n.value.as_table())
            .and_then(|t| t.get("exclude"))
        else {
            return;
        };
        let frags = self.list(keys::INSTRUCTIONS_FRAGMENTS);
        for e in excl.value.as_array().unwrap_or_default() {
            let Some(id) = e.value.as_str() else { continue };
            match frags.iter().find(|f| elem_id(f) == Some(id)) {
                None => {
                    let mut f = Finding::new(
                        Code::UnknownId,
                        e.span,
                        format!("`{}` names no inherited fragment", safe(id)),
                    )
                    .label("no such fragment");
                    let ids: Vec<&str> = frags.iter().filter_map(elem_id).collect();
                    if let Some(m) = crate::diagnostic::did_you_mean(id, ids.iter().copied()) {
                        f = f.help(format!("did you mean `{m}`?"));
                    } else if !ids.is_empty() {
                        f = f.help(format!("inherited fragments: {}", ids.join(", ")));
                    }
                    findings.push(f);
                }
                Some(frag) => {
                    let req = frag.value.as_table().and_then(|t| t.get("required"));
                    if let Some(r) = req.filter(|r| matches!(r.value, Value::Boolean(true))) {
                        findings.push(
                            Finding::new(
                                Code::RequiredFragment,
                                e.span,
                                format!(
                                    "fragment `{}` is required and cannot be excluded",
                                    safe(id)
                                ),
                            )
                            .label("excludes a required fragment")
                            .related(r.span, "marked required here"),
                        );
                    }
                }
            }
        }
    }
}

fn locked_by<'a>(locks: &'a [(KeyPath, Span)], path: &At) -> Option<&'a (KeyPath, Span)> {
    locks.iter().find(|(p, _)| path.starts_with(p))
}

fn merge_table(
    et: &mut ETable,
    t: &Table,
    path: &At,
    ctx: Ctx,
    locks: &[(KeyPath, Span)],
    agent_only: bool,
    f: &mut Vec<Finding>,
) {
    for (k, n) in t {
        let here = At::Key(path, k);
        if let Some((lp, lspan)) = locked_by(locks, &here) {
            f.push(
                Finding::new(
                    Code::Locked,
                    n.key_span,
                    format!("`{here}` is locked by an earlier layer (lock on `{lp}`)"),
                )
                .label("defined here")
                .related(*lspan, "locked here"),
            );
            continue;
        }
        let field = match ctx {
            Ctx::Fields(fs) => schema::find(fs, k),
            Ctx::MapOf(fl) => Some(fl),
            Ctx::Free => None,
        };
        let Some(field) = field else {
            merge_free(et, k, n, &here, f);
            continue;
        };
        let agent_only = agent_only || field.class == Class::AgentOnly;
        let class = if agent_only {
            Class::AgentOnly
        } else {
            field.class
        };
        // A table merges key by key under the context its shape gives its children.
        let sub_ctx = match &field.shape {
            Shape::Struct(fs) => Some(Ctx::Fields(fs)),
            Shape::Map(fl) => Some(Ctx::MapOf(fl)),
            Shape::Free if n.value.as_table().is_some() => Some(Ctx::Free),
            Shape::Free | Shape::Leaf(_) | Shape::TableArray(_) | Shape::IdArray(_) => None,
        };
        if let Some(ctx) = sub_ctx {
            if let Some(sub) = table_slot(et, k, n, &here, f) {
                let t = n.value.as_table().expect("schema-checked");
                merge_table(sub, t, &here, ctx, locks, agent_only, f);
            }
            continue;
        }
        match &field.shape {
            Shape::Struct(_) | Shape::Map(_) => unreachable!("merged as tables above"),
            Shape::Free => merge_leaf(et, k, n, &here, Class::Override, f),
            Shape::Leaf(_) | Shape::TableArray(_) => merge_leaf(et, k, n, &here, class, f),
            Shape::IdArray(_) => merge_list(et, k, n, &here, class, f),
        }
    }
}

/// The effective sub-table for key `k`, created when absent; `None` (with a finding) when a
/// non-table is inherited there.
fn table_slot<'a>(
    et: &'a mut ETable,
    k: &str,
    n: &Node,
    here: &At,
    f: &mut Vec<Finding>,
) -> Option<&'a mut ETable> {
    let slot = et.entries.entry(k.to_string()).or_insert_with(|| {
        Arc::new(ENode::Table(ETable {
            span: Some(n.key_span),
            entries: BTreeMap::new(),
        }))
    });
    match Arc::make_mut(slot) {
        ENode::Table(t) => Some(t),
        ENode::Leaf(l) => {
            f.push(type_conflict(
                here,
                n,
                &l.node,
                "a table",
                l.node.value.kind().article_name(),
            ));
            None
        }
        ENode::List(l) => {
            let span = l.elems.first().map(|e| e.span).unwrap_or(n.span);
            f.push(
                Finding::new(
                    Code::TypeConflict,
                    n.key_span,
                    format!("`{here}` is a table here but an array is inherited"),
                )
                .label("table")
                .related(span, "array inherited"),
            );
            None
        }
    }
}

fn type_conflict(here: &At, n: &Node, inherited: &Node, new_kind: &str, old_kind: &str) -> Finding {
    Finding::new(
        Code::TypeConflict,
        n.span,
        format!("`{here}` is {new_kind} here but {old_kind} is inherited"),
    )
    .label(new_kind.to_string())
    .related(inherited.span, format!("{old_kind} inherited"))
    .help("a later layer may change the value, not its type")
}

fn merge_free(et: &mut ETable, k: &str, n: &Node, here: &At, f: &mut Vec<Finding>) {
    match (&n.value, et.entries.get(k).map(|e| &**e)) {
        (Value::Table(t), _) => {
            if let Some(sub) = table_slot(et, k, n, here, f) {
                for (ck, cn) in t {
                    merge_free(sub, ck, cn, &At::Key(here, ck), f);
                }
            }
        }
        (_, Some(ENode::Table(t))) => {
            let span = t.span.unwrap_or(n.span);
            f.push(
                Finding::new(
                    Code::TypeConflict,
                    n.span,
                    format!(
                        "`{here}` is {} here but a table is inherited",
                        n.value.kind().article_name()
                    ),
                )
                .label(n.value.kind().article_name())
                .related(span, "a table inherited"),
            );
        }
        _ => merge_leaf(et, k, n, here, Class::Override, f),
    }
}

fn merge_leaf(et: &mut ETable, k: &str, n: &Node, here: &At, class: Class, f: &mut Vec<Finding>) {
    let leaf = match et.entries.get_mut(k).map(Arc::make_mut) {
        None => {
            et.entries.insert(
                k.to_string(),
                Arc::new(ENode::Leaf(Leaf {
                    node: n.clone(),
                    class,
                    shadowed: Vec::new(),
                })),
            );
            return;
        }
        Some(ENode::Leaf(l)) => l,
        Some(_) => {
            f.push(
                Finding::new(
                    Code::TypeConflict,
                    n.span,
                    format!(
                        "`{here}` is {} here but a table is inherited",
                        n.value.kind().article_name()
                    ),
                )
                .label("here"),
            );
            return;
        }
    };
    let old = &leaf.node;
    if old.value.kind() != n.value.kind() {
        f.push(type_conflict(
            here,
            n,
            old,
            n.value.kind().article_name(),
            old.value.kind().article_name(),
        ));
        return;
    }
    let noop = || {
        Finding::new(
            Code::NoopOverride,
            n.span,
            format!(
                "`{here}` = {} restates the inherited value {}",
                n.value.short(),
                old.value.short()
            ),
        )
        .label("same as inherited")
        .related(old.span, "inherited from here")
        .help("remove it: the value is inherited anyway")
    };
    // The merge rule: the effective value this layer makes.
    let mut new_node = n.clone();
    match class {
        Class::Override
        | Class::AgentOnly
        | Class::Table
        | Class::Min
        | Class::Max
        | Class::Or
        | Class::Subset
        | Class::Append => {}
        Class::Union => {
            let mut elems: Vec<Node> = old.value.as_array().unwrap_or_default().to_vec();
            for e in n.value.as_array().unwrap_or_default() {
                if !elems.iter().any(|x| x.value.same(&e.value)) {
                    elems.push(e.clone());
                }
            }
            new_node.value = Value::Array(elems);
        }
    }
    // The widening test, on the effective values before and after.
    let (before, after) = (
        Operand::of_value(&old.value),
        Operand::of_value(&new_node.value),
    );
    if let Some(w) = class.widening(Some(&before), Some(&after)) {
        f.extend(widening_findings(here, n, old, w));
        return;
    }
    if class != Class::Union && class != Class::Append && n.value.same(&old.value) {
        f.push(noop());
    }
    let old = std::mem::replace(&mut leaf.node, new_node);
    leaf.shadowed.push(old);
    leaf.class = class;
}

/// The `widening` findings of a layer's value `n` that loosens the inherited `old`: one per
/// element a `subset` list adds beyond what it inherits, else one.
fn widening_findings(here: &At, n: &Node, old: &Node, w: Widening) -> Vec<Finding> {
    let finding = |span: Span, msg: String, rel: &str| {
        Finding::new(Code::Widening, span, msg)
            .label("widens the inherited policy")
            .related(old.span, rel.to_string())
    };
    let (new, was) = (n.value.short(), old.value.short());
    match w {
        Widening::HigherCeiling(..) | Widening::CeilingRemoved(_) => vec![finding(
            n.span,
            format!("`{here}` = {new} raises the ceiling {was} set by an earlier layer"),
            "inherited ceiling",
        )],
        Widening::LowerFloor(..) | Widening::FloorRemoved(_) => vec![finding(
            n.span,
            format!("`{here}` = {new} lowers the floor {was} set by an earlier layer"),
            "inherited floor",
        )],
        Widening::TurnedOff => vec![finding(
            n.span,
            format!("`{here}` = false turns off a requirement an earlier layer set to true"),
            "set to true here",
        )],
        Widening::NotCovered(added) => {
            let inherited: Vec<String> = old
                .value
                .as_array()
                .unwrap_or_default()
                .iter()
                .filter_map(|e| e.value.as_str().map(safe))
                .collect();
            n.value
                .as_array()
                .unwrap_or_default()
                .iter()
                .filter(|e| {
                    e.value
                        .as_str()
                        .is_some_and(|s| added.iter().any(|a| a == s))
                })
                .map(|e| {
                    finding(
                        e.span,
                        format!(
                            "`{}` in `{here}` is not covered by the inherited list [{}]",
                            safe(e.value.as_str().unwrap_or_default()),
                            inherited.join(", ")
                        ),
                        "inherited list",
                    )
                })
                .collect()
        }
        // A layer cannot unset or shrink what it inherits: merging never meets these.
        Widening::ListRemoved | Widening::Dropped(_) => Vec::new(),
    }
}

fn merge_list(et: &mut ETable, k: &str, n: &Node, here: &At, class: Class, f: &mut Vec<Finding>) {
    let slot = et.entries.entry(k.to_string()).or_insert_with(|| {
        Arc::new(ENode::List(List {
            class,
            elems: Vec::new(),
        }))
    });
    let ENode::List(list) = Arc::make_mut(slot) else {
        f.push(
            Finding::new(
                Code::TypeConflict,
                n.span,
                format!("`{here}` is an array here but something else is inherited"),
            )
            .label("array"),
        );
        return;
    };
    for e in n.value.as_array().unwrap_or_default() {
        let id = elem_id(e).unwrap_or_default();
        if let Some(first) = list.elems.iter().find(|x| elem_id(x) == Some(id)) {
            f.push(
                Finding::new(
                    Code::DuplicateId,
                    elem_id_span(e),
                    format!(
                        "id `{}` of `{here}` is already defined by an earlier layer",
                        safe(id)
                    ),
                )
                .label("repeated id")
                .related(elem_id_span(first), "first defined here")
                .help(format!(
                    "a later layer adds elements to `{here}`, never redefines one: choose a new id"
                )),
            );
            continue;
        }
        list.elems.push(e.clone());
    }
}

/// A leaf of the effective config, with its path and class.
pub struct LeafRef<'a> {
    pub path: KeyPath,
    pub node: &'a Node,
    pub class: Class,
    pub shadowed: &'a [Node],
}

/// Every leaf of the effective config, in path order: scalars, arrays without ids (whole), and
/// each field of an id-keyed element.
pub fn leaves(eff: &Effective) -> Vec<LeafRef<'_>> {
    let mut out = Vec::new();
    walk(&eff.root, &KeyPath::root(), &mut out);
    out
}

fn walk<'a>(t: &'a ETable, path: &KeyPath, out: &mut Vec<LeafRef<'a>>) {
    for (k, n) in &t.entries {
        let here = path.key(k);
        match &**n {
            ENode::Table(sub) => walk(sub, &here, out),
            ENode::Leaf(l) => out.push(LeafRef {
                path: here,
                node: &l.node,
                class: l.class,
                shadowed: &l.shadowed,
            }),
            ENode::List(l) => {
                for e in &l.elems {
                    let ep = here.id(elem_id(e).unwrap_or_default());
                    elem_leaves(e, &ep, l.class, out);
                }
            }
        }
    }
}

fn elem_leaves<'a>(n: &'a Node, path: &KeyPath, class: Class, out: &mut Vec<LeafRef<'a>>) {
    match &n.value {
        Value::Table(t) => {
            for (k, c) in t {
                elem_leaves(c, &path.key(k), class, out);
            }
        }
        _ => out.push(LeafRef {
            path: path.clone(),
            node: n,
            class,
            shadowed: &[],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::source::FileId;

    fn int(i: i64, file: u32) -> Node {
        Node::new(
            Value::Integer(i),
            Span {
                file: FileId(file),
                start: 0,
                end: 1,
            },
        )
    }

    /// No v1 key is a floor, so `max` is tested directly.
    #[test]
    fn max_accepts_higher_and_rejects_lower() {
        let mut t = ETable::default();
        let path = At::Key(&At::Root, "floor");
        let mut f = Vec::new();
        merge_leaf(&mut t, "floor", &int(5, 0), &path, Class::Max, &mut f);
        merge_leaf(&mut t, "floor", &int(7, 1), &path, Class::Max, &mut f);
        assert!(f.is_empty());
        merge_leaf(&mut t, "floor", &int(6, 2), &path, Class::Max, &mut f);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code.as_str(), "widening");
        assert_eq!(f[0].related[0].span.file, FileId(1));
        match t.get("floor") {
            Some(ENode::Leaf(l)) => {
                assert!(matches!(l.node.value, Value::Integer(7)));
                assert_eq!(l.shadowed.len(), 1);
            }
            _ => panic!("leaf expected"),
        }
    }
}
