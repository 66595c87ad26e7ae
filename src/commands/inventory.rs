//! `opl inventory`: one row per agent, for the operator and the auditor.

use serde::Serialize;
use serde_json::Value as Json;

use super::{Ctx, Failure, Outcome, emit, open_source};
use crate::cli::{InventoryArgs, InventoryFormat};
use crate::glob;
use crate::layer::{Repo, elem_id};
use crate::merge::{ENode, Effective};
use crate::render::{actions, digest, document, remaining_fragments};
use crate::source::safe;
use crate::stack::Stacks;

/// One agent's row.
#[derive(Debug, Serialize)]
pub struct Row {
    pub id: String,
    pub client: Option<String>,
    pub purpose: String,
    pub owner: String,
    pub maintainers: Vec<String>,
    pub risk_tier: String,
    pub lifecycle: String,
    pub model: String,
    pub fallbacks: Vec<String>,
    /// `connection: system (classification; credentials)` for every connection it uses.
    pub systems: Vec<String>,
    pub actions: Vec<String>,
    /// `rule: action [when] -> require (approvers)` for every rule that applies to an action.
    pub approvals: Vec<String>,
    pub memory_scopes: Vec<String>,
    pub retention_days: Vec<String>,
    pub inspectors: Vec<String>,
    pub escalation_target: String,
    pub contacts: Vec<String>,
    /// `id (file)` of every instruction fragment.
    pub instructions: Vec<String>,
    pub digest: String,
    pub valid: bool,
    pub last_change: LastChange,
}

/// The last change of an agent's effective config.
#[derive(Debug, Serialize, Clone)]
pub struct LastChange {
    pub commit: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    /// `committed`, `boundary` (at a shallow clone's cut), `uncommitted` (the work tree or index
    /// differs from HEAD, or no git) or `unknown`.
    pub status: &'static str,
}

impl LastChange {
    /// A last change with no commit to name.
    fn without_commit(status: &'static str) -> Self {
        LastChange {
            commit: None,
            author: None,
            date: None,
            status,
        }
    }
}

fn s(eff: &Effective, keys: &[&str]) -> String {
    eff.leaf(keys)
        .and_then(|l| l.node.value.as_str().map(String::from))
        .unwrap_or_default()
}

fn list(eff: &Effective, keys: &[&str]) -> Vec<String> {
    eff.leaf(keys)
        .and_then(|l| l.node.value.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| e.value.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn row(repo: &Repo, stacks: &Stacks, id: &str) -> Option<Row> {
    let a = stacks.agent(id)?;
    let eff = &a.eff;
    let doc = document(repo, id, eff);
    let acts = actions(eff);
    let mut systems = Vec::new();
    if let Some(conns) = eff.table(&["connections"]) {
        for (name, n) in conns.iter() {
            if !acts.iter().any(|x| {
                x.strip_prefix(name.as_str())
                    .is_some_and(|r| r.starts_with('.'))
            }) {
                continue;
            }
            let ENode::Table(t) = n else { continue };
            let get = |k: &str| match t.get(k) {
                Some(ENode::Leaf(l)) => l.node.value.as_str().map(String::from),
                _ => None,
            };
            let mode = match t.get("auth") {
                Some(ENode::Table(auth)) => match auth.get("mode") {
                    Some(ENode::Leaf(l)) => l.node.value.as_str().map(String::from),
                    _ => None,
                },
                _ => None,
            };
            let creds = match mode.as_deref() {
                Some("agent_identity") => "the agent's own credentials",
                Some("end_user_delegated") => "the end user's credentials",
                Some("none") => "no credentials",
                _ => "credentials not stated",
            };
            systems.push(format!(
                "{name}: {} ({}; {creds})",
                get("system").unwrap_or_default(),
                get("data_classification").unwrap_or_else(|| "unclassified".into())
            ));
        }
    }
    let mut approvals = Vec::new();
    for r in eff.list(&["policy", "approvals", "rules"]) {
        let Some(t) = r.value.as_table() else {
            continue;
        };
        let action = t
            .get("action")
            .and_then(|n| n.value.as_str())
            .unwrap_or_default();
        if !acts.iter().any(|x| glob::matches(action, x)) {
            continue;
        }
        let when = t
            .get("when")
            .map(|w| {
                format!(
                    " when {}",
                    crate::origin::short(&crate::render::to_json(&w.value), 60)
                )
            })
            .unwrap_or_default();
        let req = t
            .get("require")
            .and_then(|n| n.value.as_str())
            .unwrap_or_default();
        let approvers: Vec<String> = t
            .get("approvers")
            .and_then(|n| n.value.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.value.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let by = if approvers.is_empty() {
            String::new()
        } else {
            format!(" by {}", approvers.join(", "))
        };
        approvals.push(format!(
            "{}: {action}{when} -> {req}{by}",
            elem_id(r).unwrap_or_default()
        ));
    }
    for pat in list(eff, &["policy", "tools", "require_approval"]) {
        if acts.iter().any(|x| glob::matches(&pat, x)) {
            approvals.push(format!("require_approval: {pat}"));
        }
    }
    let retention = eff
        .table(&["memory", "retention_days"])
        .map(|t| {
            t.iter()
                .filter_map(|(k, n)| match n {
                    ENode::Leaf(l) => Some(format!("{k}={}", l.node.value.short())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let contacts = eff
        .table(&["escalation", "contacts"])
        .map(|t| {
            t.iter()
                .map(|(k, n)| {
                    let who = match n {
                        ENode::Table(c) => match c.get("who") {
                            Some(ENode::Leaf(l)) => {
                                l.node.value.as_str().unwrap_or_default().to_string()
                            }
                            _ => String::new(),
                        },
                        _ => String::new(),
                    };
                    format!("{k}: {who}")
                })
                .collect()
        })
        .unwrap_or_default();
    let instructions = remaining_fragments(eff)
        .iter()
        .map(|f| {
            let file = f
                .value
                .as_table()
                .and_then(|t| t.get("file"))
                .and_then(|n| n.value.as_str());
            match file {
                Some(p) => format!("{} ({p})", elem_id(f).unwrap_or_default()),
                None => format!("{} (inline)", elem_id(f).unwrap_or_default()),
            }
        })
        .collect();
    let fallbacks = eff
        .leaf(&["model", "fallbacks"])
        .and_then(|l| l.node.value.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| e.value.as_table())
                .map(|t| {
                    format!(
                        "{}/{}",
                        t.get("provider")
                            .and_then(|n| n.value.as_str())
                            .unwrap_or("?"),
                        t.get("name").and_then(|n| n.value.as_str()).unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Row {
        id: id.to_string(),
        client: a.client.clone(),
        purpose: s(eff, &["agent", "purpose"]),
        owner: s(eff, &["agent", "owner"]),
        maintainers: list(eff, &["agent", "maintainers"]),
        risk_tier: s(eff, &["agent", "risk_tier"]),
        lifecycle: s(eff, &["agent", "lifecycle"]),
        model: format!(
            "{}/{}",
            s(eff, &["model", "provider"]),
            s(eff, &["model", "name"])
        ),
        fallbacks,
        systems,
        actions: acts,
        approvals,
        memory_scopes: list(eff, &["memory", "scopes"]),
        retention_days: retention,
        inspectors: list(eff, &["memory", "inspectors"]),
        escalation_target: s(eff, &["escalation", "default_target"]),
        contacts,
        instructions,
        digest: digest(&doc),
        valid: !a.has_errors(),
        last_change: LastChange::without_commit("uncommitted"),
    })
}

/// Fills in the last change of every row in one walk of the history of `rev`. Read from the work
/// tree or the index, an agent whose document differs from the one at `rev` is "uncommitted".
fn last_changes(
    git: &crate::git::Git,
    rev: &str,
    rows: &mut [Row],
    uncommitted_possible: bool,
) -> Result<(), Failure> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut progress = super::Progress::new("opl inventory", false);
    let found = crate::history::last_changes(git, rev, &ids, &mut |d, t| progress.tick(d, t))
        .map_err(|e| Failure(e.0))?;
    progress.finish();
    for r in rows {
        let Some(lc) = found.get(&r.id) else { continue };
        let at_rev = match &*lc.head {
            crate::history::AgentState::Present(d) => Some(&d.digest),
            _ => None,
        };
        r.last_change = if uncommitted_possible && at_rev != Some(&r.digest) {
            LastChange::without_commit("uncommitted")
        } else if let Some(c) = &lc.commit {
            LastChange {
                commit: Some(c.id.to_string()),
                author: Some(c.author.clone()),
                date: Some(crate::history::format_time(c.time, c.offset)),
                // At a shallow clone's cut the value is at least that old; its change is earlier.
                status: if lc.boundary { "boundary" } else { "committed" },
            }
        } else {
            LastChange::without_commit("unknown")
        };
    }
    Ok(())
}

fn csv(v: &str) -> String {
    let v = safe(v);
    let v = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v
    };
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

const FIELDS: &[&str] = &[
    "id",
    "client",
    "purpose",
    "owner",
    "maintainers",
    "risk_tier",
    "lifecycle",
    "model",
    "fallbacks",
    "systems",
    "actions",
    "approvals",
    "memory_scopes",
    "retention_days",
    "inspectors",
    "escalation_target",
    "contacts",
    "instructions",
    "digest",
    "valid",
    "last_change",
];

fn field(r: &Json, f: &str) -> String {
    match &r[f] {
        Json::String(s) => s.clone(),
        Json::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join("; "),
        Json::Null => String::new(),
        Json::Object(o) if f == "last_change" => {
            match (&o.get("commit"), &o.get("author"), &o.get("date")) {
                (Some(Json::String(c)), Some(Json::String(a)), Some(Json::String(d))) => {
                    // `^` as git blame marks a shallow clone's cut: the change is at or before it.
                    let cut = if o.get("status") == Some(&Json::from("boundary")) {
                        "^"
                    } else {
                        ""
                    };
                    // The date first: it is what a narrow table keeps.
                    format!(
                        "{} {cut}{} {a}",
                        &d[..10.min(d.len())],
                        &c[..12.min(c.len())]
                    )
                }
                _ => o
                    .get("status")
                    .and_then(|s| s.as_str())
                    .unwrap_or_default()
                    .to_string(),
            }
        }
        other => other.to_string(),
    }
}

/// Runs `opl inventory`.
pub fn run(ctx: &mut Ctx, args: &InventoryArgs) -> Outcome {
    let (root, repo) = open_source(ctx, &args.source)?;
    let stacks = Stacks::new(&repo);
    if let Some(c) = &args.client
        && !repo.clients.contains_key(c)
    {
        return Err(Failure(format!(
            "no client `{}` in this repository",
            safe(c)
        )));
    }
    let git = crate::git::Git::discover(&root)
        .ok()
        .flatten()
        .filter(|g| g.has_head());
    let mut rows: Vec<Row> = repo
        .agents
        .keys()
        .filter_map(|id| row(&repo, &stacks, id))
        .filter(|r| args.client.is_none() || r.client == args.client)
        .collect();
    if let Some(g) = &git {
        let rev = args.source.rev.clone().unwrap_or_else(|| "HEAD".into());
        // Read from the work tree or the index, a document that differs from HEAD's is not
        // committed yet.
        let uncommitted_possible = args.source.rev.is_none();
        last_changes(g, &rev, &mut rows, uncommitted_possible)?;
    }
    let json: Vec<Json> = rows
        .iter()
        .map(|r| serde_json::to_value(r).expect("row"))
        .collect();
    let text = match args.format {
        InventoryFormat::Json => crate::output::json_text(&json),
        InventoryFormat::Csv => {
            let mut out = FIELDS.join(",") + "\n";
            for r in &json {
                out.push_str(
                    &FIELDS
                        .iter()
                        .map(|f| csv(&field(r, f)))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                out.push('\n');
            }
            out
        }
        InventoryFormat::Markdown => {
            let cell = |s: String| safe(&s).replace('|', "\\|");
            let mut out = format!(
                "| {} |\n|{}\n",
                FIELDS.join(" | "),
                "---|".repeat(FIELDS.len())
            );
            for r in &json {
                out.push_str(&format!(
                    "| {} |\n",
                    FIELDS
                        .iter()
                        .map(|f| cell(field(r, f)))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
            out
        }
        InventoryFormat::Table => table(&json, ctx.style.width),
    };
    emit(ctx.out, &text)?;
    Ok(crate::EXIT_CLEAN)
}

/// An aligned table that fits `width`: the widest column is shortened first.
fn table(rows: &[Json], width: usize) -> String {
    let cols = [
        "id",
        "client",
        "owner",
        "risk_tier",
        "lifecycle",
        "model",
        "actions",
        "approvals",
        "memory_scopes",
        "digest",
        "last_change",
    ];
    let heads = [
        "AGENT",
        "CLIENT",
        "OWNER",
        "RISK",
        "LIFECYCLE",
        "MODEL",
        "ACTIONS",
        "APPROVALS",
        "MEMORY",
        "DIGEST",
        "LAST CHANGE",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| match *c {
                    "actions" | "approvals" => r[*c]
                        .as_array()
                        .map(|a| a.len().to_string())
                        .unwrap_or_default(),
                    "digest" => field(r, c).chars().skip(7).take(12).collect(),
                    _ => safe(&field(r, c)),
                })
                .collect()
        })
        .collect();
    let mut w: Vec<usize> = heads.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    // Each column's readable minimum; id, client, owner, risk and lifecycle stay whole longer.
    let mut min: Vec<usize> = heads
        .iter()
        .zip(&w)
        .map(|(h, n)| (*n).min(h.chars().count().max(10)))
        .collect();
    min[0] = w[0].min(40);
    for i in [1, 2, 3, 4] {
        min[i] = w[i].min(20);
    }
    // Leave out columns, least needed first, until the shown ones fit at their minimum; then
    // widen them toward their full width, most needed first.
    let drop_order = [9, 8, 7, 6, 4, 10, 5, 3, 2, 1];
    let grow_order = [0, 1, 2, 3, 4, 10, 5, 6, 7, 8, 9];
    let mut shown: Vec<usize> = (0..cols.len()).collect();
    let total = |shown: &[usize], w: &[usize]| {
        shown.iter().map(|i| w[*i]).sum::<usize>() + 2 * (shown.len() - 1)
    };
    while total(&shown, &min) > width {
        match drop_order.iter().find(|d| shown.contains(d)) {
            Some(d) => shown.retain(|i| i != d),
            None => break,
        }
    }
    let natural = w;
    let mut w = min;
    let mut spare = width.saturating_sub(total(&shown, &w));
    for i in grow_order.iter().filter(|i| shown.contains(i)) {
        let more = (natural[*i] - w[*i]).min(spare);
        w[*i] += more;
        spare -= more;
    }
    if total(&shown, &w) > width {
        w[0] = width.max(2); // only the agent id is left, and even it is too wide
    }
    let fit = |s: &str, n: usize| {
        if s.chars().count() > n {
            format!(
                "{}…",
                s.chars().take(n.saturating_sub(1)).collect::<String>()
            )
        } else {
            format!("{s:<n$}")
        }
    };
    let mut out = String::new();
    let line = |vals: &[String]| {
        shown
            .iter()
            .map(|i| fit(&vals[*i], w[*i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
            + "\n"
    };
    out.push_str(&line(&heads.map(String::from)));
    for row in &cells {
        out.push_str(&line(row));
    }
    let hidden: Vec<&str> = (0..cols.len())
        .filter(|i| !shown.contains(i))
        .map(|i| heads[i])
        .collect();
    if !hidden.is_empty() {
        let note = format!(
            "Not shown at this width: {}. `--format csv` or `--format json` has every field.",
            hidden.join(", ")
        );
        out.push_str(&wrap(&note, width));
    }
    out
}

/// Breaks text into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}
