//! `opl validate`: every finding of the repository in one run.

use super::{Ctx, Outcome, emit, open, unknown_agent};
use crate::cli::{FindingsFormat, ValidateArgs};
use crate::output;

/// Runs `opl validate`.
pub fn run(ctx: &mut Ctx, args: &ValidateArgs) -> Outcome {
    let (_, repo) = open(ctx)?;
    for a in &args.agents {
        if !repo.agents.contains_key(a) {
            return Err(unknown_agent(&repo, a));
        }
    }
    let only = (!args.agents.is_empty()).then_some(args.agents.as_slice());
    let v = crate::stack::validate(&repo, only);
    match args.format {
        FindingsFormat::Json => emit(
            ctx.out,
            &output::json_report(&v.findings, &repo.sources, v.agents, v.files),
        )?,
        FindingsFormat::Human => {
            let mut text = output::human(&v.findings, &repo.sources, ctx.style);
            if v.findings.is_empty() {
                text.push_str(&format!(
                    "ok: {}, {}, no findings\n",
                    output::plural(v.agents, "agent"),
                    output::plural(v.files, "file")
                ));
            } else {
                text.push_str(&format!(
                    "{} in {}, {}\n",
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
