//! `opl export`: an agent's files for a runtime, written atomically, or compared with a folder.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{Ctx, Failure, Outcome, emit, locate, state_of};
use crate::cli::{ExportArgs, FindingsFormat};
use crate::diagnostic::{Finding, normalize};
use crate::export::{File, Report, Target, recorded_rev, with_rev};
use crate::git::State;
use crate::merge::stack::Stacks;
use crate::model::source::safe;
use crate::output::{self, paint, plural};
use crate::repo::layout::Selection;
use crate::write::{Overwrite, ensure_dir, write_atomic};

/// One agent's export: its files and report, or the errors that refuse it.
enum Outcome1 {
    Exported(Vec<File>, Report),
    Refused(Vec<Finding>),
}

/// Runs `opl export`.
pub fn run(ctx: &mut Ctx, args: &ExportArgs) -> Outcome {
    let target = crate::export::target(&args.target).expect("clap checks --target");
    let state = state_of(&args.source);
    let (root, git) = locate(ctx.repo.as_deref(), &state)?;
    let repo = super::load_state(&root, git.as_ref(), &state, &Selection::All)?;
    let rev = match &state {
        State::Rev(r) => git
            .as_ref()
            .ok_or_else(|| Failure("reading a revision needs a git repository".into()))?
            .commit_id(r)
            .map_err(|e| Failure(e.0))?,
        State::Commit(id) => id.to_string(),
        State::Index => "index".to_string(),
        State::WorkTree => "worktree".to_string(),
    };
    let ids: Vec<String> = match &args.agent {
        Some(id) if !repo.agents.contains_key(id) => return Err(super::unknown_agent(&repo, id)),
        Some(id) => vec![id.clone()],
        None => repo.agents.keys().cloned().collect(),
    };
    let stacks = Stacks::new(&repo);
    let results: Vec<(String, Outcome1)> = ids
        .par_iter()
        .map(|id| {
            let a = stacks.agent(id).expect("listed agent");
            if a.has_errors() {
                let errors = a.all_findings().filter(|f| f.is_error()).cloned().collect();
                return (id.clone(), Outcome1::Refused(errors));
            }
            let doc = crate::render::document(&repo, id, &a.eff);
            let digest = crate::render::digest(&doc);
            let rows = crate::policy::access::agent_rows(&repo, &a);
            let (files, report) = crate::export::export(target, &doc, &digest, &rev, &rows);
            (id.clone(), Outcome1::Exported(files, report))
        })
        .collect();
    // One agent goes to --out itself; --all puts each in a folder of its own.
    let folder = |base: &Path, id: &str| -> PathBuf {
        if args.all {
            base.join(id)
        } else {
            base.to_path_buf()
        }
    };
    let mut refused: Vec<Finding> = Vec::new();
    let mut refused_ids = Vec::new();
    let mut reports = Vec::new();
    let mut drift = Vec::new();
    for (id, r) in results {
        match r {
            Outcome1::Refused(f) => {
                refused.extend(f);
                refused_ids.push(id);
            }
            Outcome1::Exported(files, report) => {
                if report.errors.is_empty() {
                    if let Some(dir) = &args.check {
                        drift.extend(compare(&folder(dir, &id), &files));
                    } else {
                        let base = match (&args.out, args.all) {
                            (Some(o), _) => o.clone(),
                            (None, false) => PathBuf::from("."),
                            (None, true) => {
                                return Err(Failure("--all needs --out DIR or --check DIR".into()));
                            }
                        };
                        write(&folder(&base, &id), &files, args.force)?;
                    }
                }
                reports.push(report);
            }
        }
    }
    normalize(&mut refused, &repo.sources);
    if !refused.is_empty() {
        let mut text = output::human(&refused, &repo.sources, ctx.style);
        text.push_str(&format!(
            "refusing to export {}: {}\n",
            refused_ids
                .iter()
                .map(|i| format!("`{}`", safe(i)))
                .collect::<Vec<_>>()
                .join(", "),
            output::summary_line(&refused)
        ));
        emit(ctx.err, &text)?;
    }
    let failed = reports.iter().filter(|r| !r.errors.is_empty()).count();
    match args.format {
        FindingsFormat::Json => {
            let v = serde_json::json!({
                "target": target.name(),
                "mode": if args.check.is_some() { "check" } else { "write" },
                "agents": reports,
                "refused": refused_ids,
                "drifted": drift.iter().map(|d| serde_json::json!({"file": d.file, "diff": d.diff})).collect::<Vec<_>>(),
            });
            emit(ctx.out, &output::json_text(&v))?;
        }
        FindingsFormat::Human => {
            let text = human(ctx, target, args, &reports, &drift);
            emit(ctx.out, &text)?;
        }
    }
    Ok(
        if refused_ids.is_empty() && failed == 0 && drift.is_empty() {
            crate::EXIT_CLEAN
        } else {
            crate::EXIT_FINDINGS
        },
    )
}

/// Writes one agent's files into `dir`: all or, when one exists and `force` is not given, none.
fn write(dir: &Path, files: &[File], force: bool) -> Result<(), Failure> {
    if !force {
        let existing: Vec<String> = files
            .iter()
            .map(|f| dir.join(&f.path))
            .filter(|p| std::fs::symlink_metadata(p).is_ok())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(Failure(format!(
                "{} already exist{}; opl does not overwrite {} (use --force to replace {})",
                existing.join(", "),
                if existing.len() == 1 { "s" } else { "" },
                if existing.len() == 1 { "it" } else { "them" },
                if existing.len() == 1 { "it" } else { "them" },
            )));
        }
    }
    let overwrite = if force {
        Overwrite::Allowed
    } else {
        Overwrite::Never
    };
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            ensure_dir(parent).map_err(Failure)?;
        }
        write_atomic(&path, f.text.as_bytes(), overwrite).map_err(Failure)?;
    }
    Ok(())
}

/// A file that differs from its export.
struct Drift {
    file: String,
    diff: String,
}

/// Compares the files of one export with those in `dir`. The revision recorded in a file is
/// taken as it is: a file drifts when anything else differs (the digest changes with the config).
fn compare(dir: &Path, files: &[File]) -> Vec<Drift> {
    let mut out = Vec::new();
    for f in files {
        let path = dir.join(&f.path);
        let shown = path.display().to_string();
        let Ok(actual) = std::fs::read_to_string(&path) else {
            out.push(Drift {
                diff: format!("{shown} is missing\n"),
                file: shown,
            });
            continue;
        };
        let expected = match (recorded_rev(&actual), recorded_rev(&f.text)) {
            (Some(was), Some(now)) if was != now => with_rev(&f.text, now, was),
            _ => f.text.clone(),
        };
        if actual != expected {
            let diff = similar::TextDiff::from_lines(actual.as_str(), expected.as_str())
                .unified_diff()
                .context_radius(1)
                .header(&shown, "export")
                .to_string();
            out.push(Drift { file: shown, diff });
        }
    }
    out
}

fn human(
    ctx: &Ctx,
    target: &dyn Target,
    args: &ExportArgs,
    reports: &[Report],
    drift: &[Drift],
) -> String {
    let color = ctx.style.color;
    let mut text = String::new();
    for r in reports {
        if !r.errors.is_empty() {
            text.push_str(&format!(
                "{} {} for {}: nothing written\n",
                paint("failed", "31", color),
                safe(&r.agent),
                target.name()
            ));
            for e in &r.errors {
                text.push_str(&format!("  {}\n", safe(e)));
            }
            continue;
        }
        let verb = if args.check.is_some() {
            "checked"
        } else {
            "exported"
        };
        text.push_str(&format!(
            "{verb} {} for {} ({}): {}\n",
            safe(&r.agent),
            target.name(),
            r.digest,
            r.files.join(", ")
        ));
        // The lowerings are the export's; a check only says whether the files still match.
        for l in r.lowered.iter().filter(|_| args.check.is_none()) {
            let kind = serde_json::to_value(l.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            text.push_str(&format!(
                "  {:<12} {}: {} -> {}\n",
                paint(&kind, "33", color),
                safe(&l.subject),
                safe(&l.from),
                safe(&l.to)
            ));
        }
    }
    for d in drift {
        text.push_str(&d.diff.lines().map(|l| safe(l) + "\n").collect::<String>());
    }
    if let Some(dir) = &args.check {
        text.push_str(&if drift.is_empty() {
            format!("no drift in {}\n", safe(&dir.display().to_string()))
        } else {
            format!(
                "{} drifted from the export: run `opl export` with --force to write it again once reviewed\n",
                plural(drift.len(), "file")
            )
        });
    }
    text
}
