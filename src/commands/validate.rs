//! `opl validate`: every finding of the repository in one run.

use super::{Ctx, Failure, Outcome, emit, load_state, state_of, unknown_agent};
use crate::cli::ValidateArgs;
use crate::git::State;
use crate::output;
use crate::repo::layout::Selection;

/// Runs `opl validate`.
pub fn run(ctx: &mut Ctx, args: &ValidateArgs) -> Outcome {
    let state = state_of(&args.source);
    let (root, git) = super::locate(ctx.repo.as_deref(), &state)?;
    // With --staged, check what the commit would change: the agents the staged changes affect.
    let mut scope_note = String::new();
    let selection = if !args.agents.is_empty() {
        Selection::Agents(args.agents.iter().cloned().collect())
    } else if state == State::Index && !args.all && git.as_ref().is_some_and(|g| g.has_head()) {
        let g = git.as_ref().expect("checked");
        let changed = g
            .changed_paths(&State::Rev("HEAD".into()), &State::Index)
            .map_err(|e| Failure(e.0))?;
        // A changed test can be about any agent: the tests then run on every agent.
        let tests_changed = changed
            .iter()
            .any(|p| crate::repo::layout::classify(p) == crate::repo::layout::Place::Test);
        let sel = if tests_changed {
            Selection::All
        } else {
            crate::repo::layout::affected(&changed)
        };
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
    let mut repo = load_state(&root, git.as_ref(), &state, &selection)?;
    for a in &args.agents {
        if !repo.agents.contains_key(a) {
            return Err(unknown_agent(&repo, a));
        }
    }
    let only: Option<Vec<String>> = match &selection {
        Selection::All => None,
        Selection::Shared => Some(Vec::new()),
        Selection::AllBut(_) => Some(repo.agents.keys().cloned().collect()),
        Selection::Agents(ids) => Some(
            ids.iter()
                .filter(|a| repo.agents.contains_key(*a))
                .cloned()
                .collect(),
        ),
    };
    let v = crate::merge::stack::validate(&repo, only.as_deref());
    let mut v = v;
    // The pre-commit hook (`--staged`) also runs the policy tests the staged change can affect:
    // those about the agents validated (all of them when a test changed).
    if state == State::Index {
        let suite = crate::repo::load::load_tests(&root, git.as_ref(), &state, &mut repo, &[])?;
        if suite.files > 0 {
            v.findings.extend(suite.findings.iter().cloned());
            if suite.findings.is_empty() {
                let outcomes = crate::policy::suite::run(
                    &repo,
                    &suite,
                    &crate::repo::load::rev_loader(&root, git.as_ref()),
                );
                v.findings.extend(crate::policy::suite::failures(&outcomes));
            }
            crate::diagnostic::normalize(&mut v.findings, &repo.sources);
        }
    }
    let prefix = match &git {
        Some(g) => g.prefix().to_string(),
        None => crate::git::Git::discover(&root)
            .ok()
            .flatten()
            .map(|g| g.prefix().to_string())
            .unwrap_or_default(),
    };
    let written = output::FindingsReport {
        findings: &v.findings,
        sources: &repo.sources,
        prefix: &prefix,
        agents: v.agents,
        files: v.files,
        scope: scope_note,
        notes: if v.partial {
            vec![crate::merge::stack::PARTIAL_NOTE.to_string()]
        } else {
            Vec::new()
        },
    };
    emit(
        ctx.out,
        &written.text(
            super::report_format(args.format),
            ctx.style,
            Default::default(),
        ),
    )?;
    let status = written.status(args.deny_warnings);
    super::leak(repo);
    Ok(status)
}
