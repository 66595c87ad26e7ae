//! Provenance: where each effective leaf came from and what it shadowed.

use serde::Serialize;
use serde_json::Value as Json;

use crate::merge::leaves;
use crate::merge::stack::AgentResult;
use crate::model::key_path::{KeyPath, Segment};
use crate::model::schema::{Class, keys};
use crate::model::source::{Span, safe};
use crate::model::value::Node;
use crate::model::value::to_json;
use crate::render::remaining_fragments;
use crate::repo::layer::{Repo, elem_id};

/// One definition: file, line, column and layer.
#[derive(Clone, Debug, Serialize)]
pub struct Origin {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub layer: String,
}

impl Origin {
    /// The origin of a span.
    pub fn of(repo: &Repo, span: Span) -> Self {
        let loc = repo.sources.locate(span);
        let f = repo.sources.get(span.file);
        let layer = if f.layer == crate::model::source::LayerKind::Fragment {
            "fragment".to_string()
        } else {
            f.layer.label()
        };
        Origin {
            file: loc.file,
            line: loc.line,
            column: loc.column,
            layer,
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{} ({})",
            safe(&self.file),
            self.line,
            self.column,
            self.layer
        )
    }
}

/// A definition a leaf shadowed.
#[derive(Clone, Debug, Serialize)]
pub struct Shadowed {
    pub value: Json,
    #[serde(flatten)]
    pub origin: Origin,
}

/// The provenance of one effective leaf.
#[derive(Clone, Debug, Serialize)]
pub struct Provenance {
    pub path: String,
    #[serde(skip)]
    pub key_path: KeyPath,
    pub value: Json,
    /// The merge class; `None` (`derived` in JSON) for values opl computes.
    #[serde(serialize_with = "class_or_derived")]
    pub class: Option<Class>,
    /// The winning definition; `None` for derived values.
    pub origin: Option<Origin>,
    pub shadowed: Vec<Shadowed>,
    /// How a derived value was computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived: Option<String>,
}

/// A value as JSON with secrets redacted.
pub fn shown(path: &KeyPath, node: &Node) -> Json {
    let key = path.0.iter().rev().find_map(|s| match s {
        Segment::Key(k) => Some(k.as_str()),
        Segment::Id(_) => None,
    });
    crate::check::secret::redacted(key.unwrap_or_default(), to_json(&node.value))
}

/// Every leaf of the agent's effective config with its provenance. With `rendered_only`, leaves
/// that the rendered document drops (excluded fragments, `instructions.exclude`) are left out
/// and the derived leaves (`agent.id`, `instructions.prompt`, `actions`) are added.
pub fn provenance(repo: &Repo, agent: &AgentResult, doc: Option<&Json>) -> Vec<Provenance> {
    let eff = &agent.eff;
    let remaining: Vec<&str> = remaining_fragments(eff)
        .iter()
        .filter_map(|e| elem_id(e))
        .collect();
    let frag_path = KeyPath::root().key("instructions").key("fragments");
    let exclude_path = KeyPath::root().key("instructions").key("exclude");
    let mut out = Vec::new();
    for l in leaves(eff) {
        if doc.is_some() {
            if l.path == exclude_path {
                continue;
            }
            if l.path.starts_with(&frag_path)
                && let Some(Segment::Id(id)) = l.path.0.get(2)
                && !remaining.contains(&id.as_str())
            {
                continue;
            }
        }
        out.push(Provenance {
            path: crate::check::secret::redact_path(&l.path),
            key_path: l.path.clone(),
            value: shown(&l.path, l.node),
            class: Some(l.class),
            origin: Some(Origin::of(repo, l.node.key_span)),
            shadowed: l
                .shadowed
                .iter()
                .map(|s| Shadowed {
                    value: shown(&l.path, s),
                    origin: Origin::of(repo, s.key_span),
                })
                .collect(),
            derived: None,
        });
    }
    // Fragment contents are leaves too.
    for e in eff.list(keys::INSTRUCTIONS_FRAGMENTS) {
        let Some(id) = elem_id(e) else { continue };
        if doc.is_some() && !remaining.contains(&id) {
            continue;
        }
        let Some(file) = e
            .value
            .as_table()
            .and_then(|t| t.get("file"))
            .and_then(|n| n.value.as_str())
        else {
            continue;
        };
        if let Some(fid) = repo.fragments.get(file) {
            let p = frag_path.id(id).key("content");
            let text = &repo.sources.get(*fid).text;
            out.push(Provenance {
                path: crate::check::secret::redact_path(&p),
                key_path: p,
                value: crate::check::secret::redacted("", Json::String(text.to_string())),
                class: Some(Class::Append),
                origin: Some(Origin::of(repo, Span::file_start(*fid))),
                shadowed: Vec::new(),
                derived: None,
            });
        }
    }
    if let Some(doc) = doc {
        let anchor = repo
            .agents
            .get(&agent.id)
            .and_then(|l| l.anchor())
            .map(|f| Origin::of(repo, Span::file_start(f)));
        for (p, how, origin) in [
            (
                KeyPath::root().key("agent").key("id"),
                "the agent's file or folder name",
                anchor,
            ),
            (
                KeyPath::root().key("instructions").key("prompt"),
                "the remaining fragments' text, joined with a blank line",
                None,
            ),
            (
                KeyPath::root().key("actions"),
                "connection.tool for every name in tools.*.use, sorted",
                None,
            ),
        ] {
            let mut v = doc;
            for s in &p.0 {
                if let Segment::Key(k) = s {
                    v = &v[k.as_str()];
                }
            }
            out.push(Provenance {
                path: crate::check::secret::redact_path(&p),
                key_path: p,
                value: crate::check::secret::redacted("", v.clone()),
                class: None,
                origin,
                shadowed: Vec::new(),
                derived: Some(how.into()),
            });
        }
    }
    out.sort_by(|a, b| a.key_path.cmp(&b.key_path));
    out
}

/// The locks on `path` or on a key above or below it, each with the place that set it.
pub fn locks_on(repo: &Repo, agent: &AgentResult, path: &KeyPath) -> Vec<(KeyPath, Origin)> {
    agent
        .eff
        .locks
        .iter()
        .filter(|(l, _)| path.starts_with(l) || l.starts_with(path))
        .map(|(l, s)| (l.clone(), Origin::of(repo, *s)))
        .collect()
}

/// The policy values that constrain the setting at `path` ([`crate::model::schema::constrained_by`]),
/// each with its path, value and the place that set it.
pub fn policies_on(
    repo: &Repo,
    agent: &AgentResult,
    path: &KeyPath,
) -> Vec<(String, Json, Origin)> {
    let keys: Vec<&str> = path.keys().collect();
    let mut out = Vec::new();
    for keys in crate::model::schema::constrained_by(&keys) {
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        if let Some(l) = agent.eff.leaf(&refs) {
            let kp = KeyPath(keys.iter().map(|k| Segment::Key(k.clone())).collect());
            out.push((
                kp.to_string(),
                to_json(&l.node.value),
                Origin::of(repo, l.node.key_span),
            ));
        }
    }
    out
}

fn class_or_derived<S: serde::Serializer>(c: &Option<Class>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.map_or("derived", Class::name))
}

/// What a class of [`Provenance`] means, in one line.
pub fn class_text(c: Option<Class>) -> (&'static str, &'static str) {
    match c {
        Some(c) => (c.name(), c.explanation()),
        None => ("derived", "computed by opl from other keys"),
    }
}

/// A one-line form of a value for tables (control characters escaped, long text shortened).
pub fn short(v: &Json, max: usize) -> String {
    let s = safe(&v.to_string());
    if s.chars().count() > max {
        format!(
            "{}…",
            s.chars().take(max.saturating_sub(1)).collect::<String>()
        )
    } else {
        s
    }
}

/// The aligned human form of a provenance list.
pub fn human(list: &[Provenance], style: crate::output::Style) -> String {
    let width = style.width;
    let pw = list
        .iter()
        .map(|p| p.path.chars().count())
        .max()
        .unwrap_or(0)
        .min(60);
    let vw = (width.saturating_sub(pw + 40)).clamp(24, 48);
    let mut out = String::new();
    for p in list {
        let v = short(&p.value, vw);
        let from = match (&p.origin, &p.derived) {
            (_, Some(how)) => format!("derived: {how}"),
            (Some(o), None) => o.to_string(),
            (None, None) => String::new(),
        };
        let path = format!("{:<pw$}", safe(&p.path));
        out.push_str(&format!(
            "{}  {:<vw$}  {}\n",
            crate::output::paint(&path, "1", style.color),
            v,
            from
        ));
        for s in &p.shadowed {
            out.push_str(&format!(
                "{:<pw$}    shadows {:<w$} {}\n",
                "",
                short(&s.value, vw),
                s.origin,
                w = vw.saturating_sub(6)
            ));
        }
    }
    out
}
