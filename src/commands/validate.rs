//! `opl validate`: every finding of the repository in one run.

use super::{Ctx, Failure, Outcome, emit, load_state, state_of, unknown_agent};
use crate::cli::{FindingsFormat, ValidateArgs};
use crate::git::State;
use crate::layer::Selection;
use crate::output;

/// Runs `opl validate`.
pub fn run(ctx: &mut Ctx, args: &ValidateArgs) -> Outcome {
    let state = state_of(&args.source);
    let (root, git) = super::locate(ctx, &state)?;
    // With --staged, check what the commit would change: the agents the staged changes affect.
    let mut scope_note = String::new();
    let selection = if !args.agents.is_empty() {
        Selection::Agents(args.agents.iter().cloned().collect())
    } else if state == State::Index && !args.all && git.as_ref().is_some_and(|g| g.has_head()) {
        let g = git.as_ref().expect("checked");
        let changed = g
            .changed_paths(&State::Rev("HEAD".into()), &State::Index)
            .map_err(|e| Failure(e.0))?;
        let sel = crate::diff::affected(&changed);
        if let Selection::Agents(ids) = &sel {
            scope_note = format!(
                " affected by the staged changes ({} of the index; --all for every agent)",
                ids.len()
            );
        }
        sel
    } else {
        Selection::All
    };
    let repo = load_state(&root, git.as_ref(), &state, &selection)?;
    for a in &args.agents {
        if !repo.agents.contains_key(a) {
            return Err(unknown_agent(&repo, a));
        }
    }
    let only: Option<Vec<String>> = match &selection {
        Selection::All => None,
        Selection::Agents(ids) => Some(
            ids.iter()
                .filter(|a| repo.agents.contains_key(*a))
                .cloned()
                .collect(),
        ),
    };
    let v = crate::stack::validate(&repo, only.as_deref());
    match args.format {
        FindingsFormat::Json => emit(
            ctx.out,
            &output::json_report(&v.findings, &repo.sources, v.agents, v.files),
        )?,
        FindingsFormat::Human => {
            let mut text = output::human(&v.findings, &repo.sources, ctx.style);
            if v.findings.is_empty() {
                text.push_str(&format!(
                    "ok: {}{scope_note}, {}, no findings\n",
                    output::plural(v.agents, "agent"),
                    output::plural(v.files, "file")
                ));
            } else {
                text.push_str(&format!(
                    "{} in {}{scope_note}, {}\n",
                    output::summary_line(&v.findings),
                    output::plural(v.agents, "agent"),
                    output::plural(v.files, "file")
                ));
            }
            emit(ctx.out, &text)?;
        }
    }
    let (errors, warnings) = output::counts(&v.findings);
    super::leak(repo);
    Ok(if errors > 0 || (args.deny_warnings && warnings > 0) {
        crate::EXIT_FINDINGS
    } else {
        crate::EXIT_CLEAN
    })
}
