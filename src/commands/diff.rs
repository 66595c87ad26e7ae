//! `opl diff`: what changes for every agent between two states.

use std::collections::HashMap;

use rayon::prelude::*;

use super::{Ctx, Failure, Outcome, emit, need_git};
use crate::cli::{DiffArgs, DiffFormat};
use crate::diff::{AgentDiff, Report, Status, patch};
use crate::git::State;
use crate::merge::provenance::short;
use crate::model::source::safe;
use crate::output::paint;
use crate::repo::snapshot::find_root;

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

/// Runs `opl diff`.
pub fn run(ctx: &mut Ctx, args: &DiffArgs) -> Outcome {
    let root = find_root(ctx.repo.as_deref()).map_err(Failure)?;
    let git = need_git(&root)?;
    let (from, to) = states(args);
    // JSON and patch print the documents' digests and texts: both sides are rendered whole.
    let documents = matches!(args.format, DiffFormat::Json | DiffFormat::Patch);
    let report = crate::repo::load::diff_states(
        &root,
        &git,
        &from,
        &to,
        &args.agents,
        documents,
        crate::repo::load::Remember::OnDisk,
    )?;
    super::leak(git);
    let text = match args.format {
        DiffFormat::Human => human(&report, ctx.style.color),
        DiffFormat::Json => json(&report),
        DiffFormat::Markdown => markdown(&report),
        DiffFormat::Patch => patch(&report),
    };
    emit(ctx.out, &text)?;
    let changed = report.agents.len();
    // Freeing 10,000 agents' changes is not what the answer waits for.
    crate::repo::load::drop_aside(report);
    if args.expect_noop && changed > 0 {
        emit(
            ctx.err,
            &format!(
                "expected no change to any effective config, but {} changed\n",
                crate::output::plural(changed, "agent")
            ),
        )?;
        return Ok(crate::EXIT_FINDINGS);
    }
    Ok(if args.exit_code && changed > 0 {
        crate::EXIT_FINDINGS
    } else {
        crate::EXIT_CLEAN
    })
}

fn human(r: &Report, color: bool) -> String {
    let mut out = format!("opl diff {} -> {}\n", safe(&r.from), safe(&r.to));
    for l in crate::output::diff_summary(r) {
        out.push_str(&format!("  {l}\n"));
    }
    // The lines of one list of changes are formatted once for all the agents that share it (a
    // change to global/ gives one list to thousands); each agent's heading on its own.
    let key = |a: &AgentDiff| (a.changes.as_ptr() as usize, a.changes.len(), a.status);
    let mut blocks: HashMap<(usize, usize, Status), String> = HashMap::new();
    for a in &r.agents {
        blocks
            .entry(key(a))
            .or_insert_with(|| changes_text(a, color));
    }
    let parts: Vec<String> = r
        .agents
        .par_chunks(256)
        .map(|agents| {
            let mut part = String::new();
            for a in agents {
                part.push_str(&agent_head(a, color));
                part.push_str(&blocks[&key(a)]);
            }
            part
        })
        .collect();
    out.extend(parts);
    out
}

/// The line that names an agent of the diff: how it changed, its client, its validity.
fn agent_head(a: &AgentDiff, color: bool) -> String {
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
    let codes =
        |c: &[crate::diagnostic::Code]| c.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
    let validity = match (a.valid_before, a.valid_after) {
        (true, false) => format!(
            " [now invalid: {}; `opl validate` shows why]",
            codes(&a.errors_after)
        ),
        (false, true) => format!(" [now valid; was invalid: {}]", codes(&a.errors_before)),
        (false, false) => format!(" [invalid: {}]", codes(&a.errors_after)),
        (true, true) => String::new(),
    };
    format!(
        "\n{} {}{client}{validity}\n",
        paint(mark, code, color),
        paint(&safe(&a.agent), "1", color)
    )
}

/// The lines of an agent's changes (those that widen, and how many leaves, for an agent added or
/// removed): the same for every agent that shares its list of changes and its status.
fn changes_text(a: &AgentDiff, color: bool) -> String {
    let mut out = String::new();
    for c in a.changes.iter() {
        if a.status != Status::Changed && c.widening.is_none() {
            continue;
        }
        let what = crate::diff::change_text(c.old.as_ref(), c.new.as_ref());
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
        out.push_str(&format!(
            "    {}\n",
            crate::output::plural(a.changes.len(), "leaf")
        ));
    }
    out
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
    for l in crate::output::diff_summary(r) {
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
        for c in a.changes.iter() {
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
