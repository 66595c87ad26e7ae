//! `opl check`: the CI gate. Validates the head; with `--base`, also reports the blast radius of
//! the change and the changes that widen what an agent may do.

use super::{Ctx, Failure, Outcome, emit, load_state, need_git};
use crate::cli::{CheckArgs, CheckFormat};
use crate::diagnostic::Severity;
use crate::git::{Git, State};
use crate::layer::Selection;
use crate::output::{self, JsonFinding, JsonRelated, json_finding};
use crate::snapshot::find_root;
use crate::source::safe;

/// Runs `opl check`.
pub fn run(ctx: &mut Ctx, args: &CheckArgs) -> Outcome {
    let root = find_root(ctx.repo.as_deref()).map_err(Failure)?;
    let head = args.rev.clone().map(State::Rev).unwrap_or(State::WorkTree);
    let git: Option<Git> = if args.base.is_some() || args.rev.is_some() {
        Some(need_git(&root)?)
    } else {
        Git::discover(&root).ok().flatten()
    };
    let prefix = git
        .as_ref()
        .map(|g| g.prefix().to_string())
        .unwrap_or_default();
    let repo = load_state(&root, git.as_ref(), &head, &Selection::All)?;
    let v = crate::stack::validate(&repo, None);
    let mut items: Vec<JsonFinding> = v
        .findings
        .iter()
        .map(|f| {
            let mut j = json_finding(f, &repo.sources);
            j.file = format!("{prefix}{}", j.file);
            for r in &mut j.related {
                r.file = format!("{prefix}{}", r.file);
            }
            j
        })
        .collect();
    // A committed CODEOWNERS that disagrees with the layers' owners.
    if head == State::WorkTree {
        let top = git
            .as_ref()
            .and_then(|g| g.workdir().map(|w| w.to_path_buf()))
            .unwrap_or_else(|| root.clone());
        for name in [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"] {
            let Ok(committed) = std::fs::read_to_string(top.join(name)) else {
                continue;
            };
            let rules = super::owners::rules(&repo, &prefix);
            for (pattern, owners, line) in super::owners::drift(&committed, &rules) {
                let line = line.unwrap_or(1);
                items.push(JsonFinding {
                    code: "codeowners-drift",
                    severity: Severity::Warning,
                    message: format!(
                        "{name} should have `{pattern} {}` (from meta.owner)",
                        owners.join(" ")
                    ),
                    file: name.to_string(),
                    line,
                    column: 1,
                    end_line: line,
                    end_column: 1,
                    label: None,
                    related: Vec::new(),
                    help: Some("regenerate it: opl codeowners > CODEOWNERS".into()),
                });
            }
            break;
        }
    }
    let report = match &args.base {
        Some(base) => {
            let git = git.as_ref().expect("--base needs git");
            Some(super::diff::diff_states(
                &root,
                git,
                &State::Rev(base.clone()),
                &head,
                &[],
            )?)
        }
        None => None,
    };
    if let Some(r) = &report {
        for a in &r.agents {
            for c in a.changes.iter().filter(|c| c.widening.is_some()) {
                let old = c
                    .old
                    .as_ref()
                    .map(|v| crate::origin::short(v, 40))
                    .unwrap_or_else(|| "(unset)".into());
                let new = c
                    .new
                    .as_ref()
                    .map(|v| crate::origin::short(v, 40))
                    .unwrap_or_else(|| "(unset)".into());
                let line = c.line.unwrap_or(1);
                items.push(JsonFinding {
                    code: "widening-change",
                    severity: if args.deny_widening {
                        Severity::Error
                    } else {
                        Severity::Warning
                    },
                    message: format!(
                        "agent `{}`: {} {old} -> {new} widens what it may do ({})",
                        safe(&a.agent),
                        safe(&c.path),
                        safe(c.widening.as_deref().unwrap_or_default())
                    ),
                    file: format!(
                        "{prefix}{}",
                        c.file
                            .clone()
                            .unwrap_or_else(|| format!("agents/{}.toml", a.agent))
                    ),
                    line,
                    column: 1,
                    end_line: line,
                    end_column: 1,
                    label: None,
                    related: Vec::<JsonRelated>::new(),
                    help: Some(format!(
                        "review the change from {} and the agents it reaches",
                        safe(&r.from)
                    )),
                });
            }
        }
    }
    let text = match args.format {
        CheckFormat::Github => crate::ci::github(&items),
        CheckFormat::Sarif => crate::ci::sarif(&items),
        CheckFormat::Junit => crate::ci::junit(&items),
        CheckFormat::Json => {
            let (errors, warnings) = (
                items
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .count(),
                items
                    .iter()
                    .filter(|f| f.severity == Severity::Warning)
                    .count(),
            );
            let mut j = serde_json::json!({
                "findings": items,
                "summary": {"errors": errors, "warnings": warnings, "agents": v.agents, "files": v.files},
            });
            if let Some(r) = &report {
                j["diff"] = serde_json::json!({
                    "from": r.from, "to": r.to,
                    "agents_changed": r.agents.len(), "agents_widened": r.widened(), "by_client": r.by_client(),
                    "noop_files": r.noop_files, "root_config_changed": r.root_config_changed,
                    "locks_added": r.locks_added, "locks_removed": r.locks_removed,
                    "agents": r.agents,
                });
            }
            crate::output::json_text(&j)
        }
        CheckFormat::Human => {
            let mut out = output::human(&v.findings, &repo.sources, ctx.style);
            out.push_str(&format!(
                "{} in {}, {}\n",
                output::summary_line(&v.findings),
                output::plural(v.agents, "agent"),
                output::plural(v.files, "file")
            ));
            if let Some(r) = &report {
                out.push_str(&format!("\nchange {} -> {}:\n", safe(&r.from), safe(&r.to)));
                for l in super::diff::summary(r) {
                    out.push_str(&format!("  {l}\n"));
                }
                for f in items.iter().filter(|f| f.code == "widening-change") {
                    out.push_str(&format!(
                        "  ! {} ({}:{})\n",
                        f.message,
                        safe(&f.file),
                        f.line
                    ));
                }
            }
            out
        }
    };
    emit(ctx.out, &text)?;
    let errors = items.iter().any(|f| f.severity == Severity::Error);
    let warnings = items.iter().any(|f| f.severity == Severity::Warning);
    Ok(if errors || (args.deny_warnings && warnings) {
        crate::EXIT_FINDINGS
    } else {
        crate::EXIT_CLEAN
    })
}
