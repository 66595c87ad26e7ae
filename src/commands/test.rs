//! `opl test`: the policy tests of `tests/**/*.toml` against one state's decisions.

use super::{Ctx, Outcome, emit, locate, state_of};
use crate::cli::{TestArgs, TestFormat};
use crate::model::source::safe;
use crate::output::{self, paint};
use crate::policy::suite;
use crate::repo::layout::Selection;

/// Runs `opl test`.
pub fn run(ctx: &mut Ctx, args: &TestArgs) -> Outcome {
    let state = state_of(&args.source);
    let (root, git) = locate(ctx.repo.as_deref(), &state)?;
    let mut repo = crate::repo::load::load_state(&root, git.as_ref(), &state, &Selection::All)?;
    let loaded =
        crate::repo::load::load_tests(&root, git.as_ref(), &state, &mut repo, &args.paths)?;
    if !loaded.findings.is_empty() {
        // A wrong test file is not a failing test: say what is wrong, where, and stop.
        let mut findings = loaded.findings.clone();
        crate::diagnostic::normalize(&mut findings, &repo.sources);
        let report = output::FindingsReport {
            findings: &findings,
            sources: &repo.sources,
            prefix: "",
            agents: 0,
            files: loaded.files,
            scope: String::new(),
            notes: vec!["the test files have errors: no test was run".into()],
        };
        let format = match args.format {
            TestFormat::Json => output::ReportFormat::Json,
            TestFormat::Junit => output::ReportFormat::Junit,
            TestFormat::Human => output::ReportFormat::Human,
        };
        emit(ctx.out, &report.text(format, ctx.style, Default::default()))?;
        return Ok(crate::EXIT_FAILURE);
    }
    let outcomes = suite::run(
        &repo,
        &loaded,
        &crate::repo::load::rev_loader(&root, git.as_ref()),
    );
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let passed = outcomes.len() - failed;
    let text = match args.format {
        TestFormat::Json => output::json_text(&serde_json::json!({
            "tests": outcomes,
            "summary": {"passed": passed, "failed": failed},
        })),
        TestFormat::Junit => junit(&outcomes, failed),
        TestFormat::Human => {
            let mut out = String::new();
            for o in &outcomes {
                let what = if o.agent.is_empty() {
                    safe(&o.name)
                } else {
                    format!("{} ({} {})", safe(&o.name), safe(&o.agent), safe(&o.action))
                };
                if o.passed {
                    out.push_str(&format!(
                        "{} {what}: {}\n",
                        paint("ok  ", "32", ctx.style.color),
                        safe(&o.detail)
                    ));
                } else {
                    let by = if o.decided_by.is_empty() {
                        "none".to_string()
                    } else {
                        o.decided_by
                            .iter()
                            .map(|s| safe(s))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    let missing = if o.missing_args.is_empty() {
                        String::new()
                    } else {
                        format!("; missing args: {}", o.missing_args.join(", "))
                    };
                    out.push_str(&format!(
                        "{} {what}: {} (decided by: {by}{missing})  {}:{}\n",
                        paint("FAIL", "31;1", ctx.style.color),
                        safe(&o.detail),
                        safe(&o.file),
                        o.line
                    ));
                }
            }
            out.push_str(&format!("{} passed, {} failed\n", passed, failed));
            out
        }
    };
    emit(ctx.out, &text)?;
    super::leak(repo);
    Ok(if failed > 0 {
        crate::EXIT_FINDINGS
    } else {
        crate::EXIT_CLEAN
    })
}

/// One JUnit test case per outcome; failures carry the reason.
fn junit(outcomes: &[suite::Outcome], failed: usize) -> String {
    let x = crate::output::ci::xml;
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"opl test\" tests=\"{}\" failures=\"{failed}\">\n  <testsuite name=\"opl test\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\">\n",
        outcomes.len(),
        outcomes.len()
    );
    for o in outcomes {
        let name = if o.agent.is_empty() {
            o.name.clone()
        } else {
            format!("{} ({} {})", o.name, o.agent, o.action)
        };
        out.push_str(&format!(
            "    <testcase classname=\"opl.{}\" name=\"{}\" file=\"{}\" line=\"{}\"",
            o.kind,
            x(&name),
            x(&o.file),
            o.line
        ));
        if o.passed {
            out.push_str("/>\n");
        } else {
            out.push_str(&format!(
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                x(&o.detail),
                x(&format!(
                    "{}; decided by: {}",
                    o.detail,
                    o.decided_by.join(", ")
                ))
            ));
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
