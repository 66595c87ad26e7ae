//! `opl diff`: what changes for every agent between two states.

use std::collections::BTreeSet;

use super::{Ctx, Failure, Outcome, emit, load_state, need_git};
use crate::cli::{DiffArgs, DiffFormat};
use crate::diff::{Report, Status, affected, compare, patch};
use crate::git::{Git, State};
use crate::layer::{Repo, Selection};
use crate::origin::short;
use crate::snapshot::{Memory, find_root};
use crate::source::safe;

/// The two states a diff compares.
pub fn states(args: &DiffArgs) -> (State, State) {
    let from = State::Rev(args.from.clone().unwrap_or_else(|| "HEAD".into()));
    let to = match (&args.to, args.staged) {
        (Some(t), _) => State::Rev(t.clone()),
        (None, true) => State::Index,
        (None, false) => State::WorkTree,
    };
    (from, to)
}

/// Computes the diff between two states, merging only the agents the change can affect.
pub fn diff_states(
    root: &std::path::Path,
    git: &Git,
    from: &State,
    to: &State,
    only: &[String],
) -> Result<Report, Failure> {
    let unborn = *from == State::Rev("HEAD".into()) && !git.has_head();
    let changed = if unborn {
        let snap = load_state(root, Some(git), to, &Selection::All).ok();
        snap.map(|r| r.sources.iter().map(|(_, f)| f.path.clone()).collect())
            .unwrap_or_default()
    } else {
        git.changed_paths(from, to).map_err(|e| Failure(e.0))?
    };
    let mut selection = affected(&changed);
    if !only.is_empty() {
        selection = Selection::Agents(match selection {
            Selection::All => only.iter().cloned().collect(),
            Selection::Agents(ids) => ids.into_iter().filter(|i| only.contains(i)).collect(),
        });
    }
    let old = if unborn {
        empty()?
    } else {
        load_state(root, Some(git), from, &selection)?
    };
    let new = load_state(root, Some(git), to, &selection)?;
    let ids: BTreeSet<String> = match &selection {
        Selection::All => old
            .agents
            .keys()
            .chain(new.agents.keys())
            .cloned()
            .collect(),
        Selection::Agents(ids) => ids.iter().cloned().collect(),
    };
    let from_label = if unborn {
        "(no commits)".to_string()
    } else {
        from.label()
    };
    Ok(compare(&old, &new, &ids, changed, from_label, to.label()))
}

fn empty() -> Result<Repo, Failure> {
    crate::layer::load(&Memory::new([("opl.toml", "version = 1\n")]))
        .map_err(|e| Failure(e.to_string()))
}

/// Runs `opl diff`.
pub fn run(ctx: &mut Ctx, args: &DiffArgs) -> Outcome {
    let root = find_root(ctx.repo.as_deref()).map_err(Failure)?;
    let git = need_git(&root)?;
    let (from, to) = states(args);
    let report = diff_states(&root, &git, &from, &to, &args.agents)?;
    let text = match args.format {
        DiffFormat::Human => human(&report, ctx.style.color),
        DiffFormat::Json => json(&report),
        DiffFormat::Markdown => markdown(&report),
        DiffFormat::Patch => patch(&report),
    };
    emit(ctx.out, &text)?;
    let changed = !report.agents.is_empty();
    if args.expect_noop && changed {
        emit(
            ctx.err,
            &format!(
                "expected no change to any effective config, but {} changed\n",
                crate::output::plural(report.agents.len(), "agent")
            ),
        )?;
        return Ok(crate::EXIT_FINDINGS);
    }
    Ok(if args.exit_code && changed {
        crate::EXIT_FINDINGS
    } else {
        crate::EXIT_CLEAN
    })
}

fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\u{1b}[{code}m{text}\u{1b}[0m")
    } else {
        text.to_string()
    }
}

/// The one-paragraph summary: blast radius, widening, no-op files, root config and locks.
pub fn summary(r: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    let by: Vec<String> = r
        .by_client()
        .iter()
        .map(|(c, n)| format!("{} {n}", safe(c)))
        .collect();
    lines.push(format!(
        "{} changed{}; {} with changes that widen what it may do",
        crate::output::plural(r.agents.len(), "agent"),
        if by.is_empty() {
            String::new()
        } else {
            format!(" (by client: {})", by.join(", "))
        },
        r.widened()
    ));
    lines.push(format!(
        "{} changed",
        crate::output::plural(r.files_changed.len(), "file")
    ));
    if !r.noop_files.is_empty() {
        lines.push(format!(
            "changing no agent: {}",
            r.noop_files
                .iter()
                .map(|f| safe(f))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if r.root_config_changed {
        lines.push("opl.toml changed".into());
    }
    for l in &r.locks_added {
        lines.push(format!(
            "lock added: {} ({}:{})",
            l.lock,
            safe(&l.file),
            l.line
        ));
    }
    for l in &r.locks_removed {
        lines.push(format!(
            "lock removed: {} ({}:{})",
            l.lock,
            safe(&l.file),
            l.line
        ));
    }
    lines
}

fn human(r: &Report, color: bool) -> String {
    let mut out = format!("opl diff {} -> {}\n", safe(&r.from), safe(&r.to));
    for l in summary(r) {
        out.push_str(&format!("  {l}\n"));
    }
    for a in &r.agents {
        let (mark, code) = match a.status {
            Status::Added => ("+", "32"),
            Status::Removed => ("-", "31"),
            Status::Changed => ("~", "33"),
        };
        let client = a
            .client
            .as_deref()
            .map(|c| format!(" (client {})", safe(c)))
            .unwrap_or_default();
        let validity = match (a.valid_before, a.valid_after) {
            (true, false) => " [now invalid]",
            (false, true) => " [now valid]",
            _ => "",
        };
        out.push_str(&format!(
            "\n{} {}{client}{validity}\n",
            paint(mark, code, color),
            paint(&safe(&a.agent), "1", color)
        ));
        for c in &a.changes {
            if a.status != Status::Changed && c.widening.is_none() {
                continue;
            }
            let what = change_text(c.old.as_ref(), c.new.as_ref());
            let at = match (&c.file, c.line) {
                (Some(f), Some(l)) => format!("  {}:{l}", safe(f)),
                _ => String::new(),
            };
            let flag = if c.widening.is_some() {
                paint("!", "31;1", color)
            } else {
                " ".into()
            };
            out.push_str(&format!("  {flag} {}: {what}{at}\n", safe(&c.path)));
            if let Some(w) = &c.widening {
                out.push_str(&format!(
                    "      {}\n",
                    paint(&format!("widens: {}", safe(w)), "31", color)
                ));
            }
        }
        if a.status != Status::Changed {
            out.push_str(&format!("    {} leaves\n", a.changes.len()));
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
            .map(|x| short(x, 40))
            .collect();
        let added: Vec<String> = n
            .iter()
            .filter(|x| !o.contains(x))
            .map(|x| short(x, 40))
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
    let show =
        |v: Option<&serde_json::Value>| v.map(|v| short(v, 50)).unwrap_or_else(|| "(unset)".into());
    format!("{} -> {}", show(old), show(new))
}

fn json(r: &Report) -> String {
    let v = serde_json::json!({
        "from": r.from,
        "to": r.to,
        "agents": r.agents,
        "summary": {
            "agents_changed": r.agents.len(),
            "agents_widened": r.widened(),
            "by_client": r.by_client(),
            "files_changed": r.files_changed,
            "noop_files": r.noop_files,
            "root_config_changed": r.root_config_changed,
            "locks_added": r.locks_added,
            "locks_removed": r.locks_removed,
        }
    });
    crate::output::json_text(&v)
}

fn md_cell(s: &str) -> String {
    safe(s).replace('|', "\\|").replace('`', "'")
}

fn markdown(r: &Report) -> String {
    let mut out = format!(
        "### opl diff `{}` → `{}`\n\n",
        md_cell(&r.from),
        md_cell(&r.to)
    );
    for l in summary(r) {
        out.push_str(&format!("- {}\n", md_cell(&l)));
    }
    if r.agents.is_empty() {
        out.push_str("\nNo agent's effective configuration changes.\n");
        return out;
    }
    out.push_str("\n| agent | client | status | changes | widening |\n|---|---|---|---|---|\n");
    for a in &r.agents {
        let w = a.changes.iter().filter(|c| c.widening.is_some()).count();
        out.push_str(&format!(
            "| `{}` | {} | {:?} | {} | {} |\n",
            md_cell(&a.agent),
            a.client
                .as_deref()
                .map(md_cell)
                .unwrap_or_else(|| "-".into()),
            a.status,
            a.changes.len(),
            if w > 0 {
                format!("⚠️ {w}")
            } else {
                "-".into()
            }
        ));
    }
    for a in &r.agents {
        out.push_str(&format!("\n<details><summary><code>{}</code></summary>\n\n| key | before | after | defined at | widens |\n|---|---|---|---|---|\n", md_cell(&a.agent)));
        for c in &a.changes {
            let v = |x: &Option<serde_json::Value>| {
                x.as_ref()
                    .map(|v| format!("`{}`", md_cell(&short(v, 60))))
                    .unwrap_or_else(|| "-".into())
            };
            let at = match (&c.file, c.line) {
                (Some(f), Some(l)) => format!("`{}:{l}`", md_cell(f)),
                _ => "-".into(),
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {at} | {} |\n",
                md_cell(&c.path),
                v(&c.old),
                v(&c.new),
                c.widening.as_deref().map(md_cell).unwrap_or_default()
            ));
        }
        out.push_str("\n</details>\n");
    }
    out
}
