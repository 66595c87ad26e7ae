//! `opl check`: the CI gate. Validates the head; with `--base`, also reports the blast radius of
//! the change and the changes that widen what an agent may do. Every item it reports is a
//! finding, written by the same writers as `opl validate` and counted in one summary.

use super::{Ctx, Failure, Outcome, emit, load_state, need_git};
use crate::cli::CheckArgs;
use crate::diagnostic::{apply_lints, normalize};
use crate::git::{Git, State};
use crate::model::source::safe;
use crate::output;
use crate::repo::layout::Selection;
use crate::repo::snapshot::find_root;

/// Runs `opl check`.
pub fn run(ctx: &mut Ctx, args: &CheckArgs) -> Outcome {
    let root = find_root(ctx.repo.as_deref()).map_err(Failure)?;
    let head = super::state_of(&args.source);
    let git: Option<Git> = if args.base.is_some() || head != State::WorkTree {
        Some(need_git(&root)?)
    } else {
        Git::discover(&root).ok().flatten()
    };
    let prefix = git
        .as_ref()
        .map(|g| g.prefix().to_string())
        .unwrap_or_default();
    let mut repo = load_state(&root, git.as_ref(), &head, &Selection::All)?;
    let v = crate::merge::stack::validate(&repo, None, &[]);
    let mut findings = v.findings;
    // A committed CODEOWNERS (read from the work tree) that disagrees with the layers' owners.
    if head == State::WorkTree {
        let top = git
            .as_ref()
            .and_then(|g| g.workdir().map(|w| w.to_path_buf()))
            .unwrap_or_else(|| root.clone());
        findings.extend(crate::check::owners::drift_findings(
            &mut repo, &top, &prefix,
        ));
    }
    let report = match (&args.base, &git) {
        (Some(base), Some(git)) => Some(crate::repo::load::diff_states(
            &root,
            git,
            &State::Rev(base.clone()),
            &head,
            &[],
            false,
            crate::repo::load::Remember::OnDisk,
        )?),
        _ => None,
    };
    if let Some(r) = &report {
        findings.extend(crate::diff::widening_findings(
            r,
            &mut repo.sources,
            args.deny_widening,
        ));
    }
    // The policy tests: a wrong test file and every failing test are findings.
    let suite = crate::repo::load::load_tests(&root, git.as_ref(), &head, &mut repo, &[])?;
    if suite.files > 0 {
        findings.extend(suite.findings.iter().cloned());
        if suite.findings.is_empty() {
            let outcomes = crate::policy::suite::run(
                &repo,
                &suite,
                &crate::repo::load::rev_loader(&root, git.as_ref()),
            );
            findings.extend(crate::policy::suite::failures(&outcomes));
        }
    }
    apply_lints(&mut findings, &repo.allowed_lints);
    normalize(&mut findings, &repo.sources);
    let mut extra = serde_json::Map::new();
    if let Some(r) = &report {
        extra.insert(
            "diff".into(),
            serde_json::json!({
                "from": r.from, "to": r.to,
                "agents_changed": r.agents.len(), "agents_widened": r.widened(), "by_client": r.by_client(),
                "noop_files": r.noop_files, "root_config_changed": r.root_config_changed,
                "locks_added": r.locks_added, "locks_removed": r.locks_removed,
                "agents": r.agents,
            }),
        );
    }
    let written = output::FindingsReport {
        findings: &findings,
        sources: &repo.sources,
        prefix: &prefix,
        agents: v.agents,
        files: v.files,
        scope: String::new(),
        notes: Vec::new(),
    };
    let format = super::report_format(args.format);
    let mut text = written.text(format, ctx.style, extra);
    if let (Some(r), output::ReportFormat::Human) = (&report, format) {
        text.push_str(&format!("\nchange {} -> {}:\n", safe(&r.from), safe(&r.to)));
        for l in output::diff_summary(r) {
            text.push_str(&format!("  {l}\n"));
        }
    }
    emit(ctx.out, &text)?;
    Ok(written.status(args.deny_warnings))
}
