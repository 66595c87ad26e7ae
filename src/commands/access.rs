//! `opl access`: every agent and action it uses, with its base and max levels and the conditions
//! between them.

use super::{Ctx, Failure, Outcome, emit, open_agents, open_source, unknown_agent};
use crate::cli::{AccessArgs, AccessFormat};
use crate::model::source::safe;
use crate::output::{csv_field, paint};
use crate::policy::access::{AccessRow, access};

/// The columns of the CSV, Markdown and table forms.
const COLUMNS: &[&str] = &[
    "agent",
    "client",
    "owner",
    "risk_tier",
    "action",
    "system",
    "data_classification",
    "auth_mode",
    "base",
    "max",
    "conditions",
    "approvers",
    "granted_at",
];

fn cell(r: &AccessRow, c: &str) -> String {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    match c {
        "agent" => r.agent.clone(),
        "client" => opt(&r.client),
        "owner" => r.owner.clone(),
        "risk_tier" => r.risk_tier.clone(),
        "action" => r.action.clone(),
        "system" => opt(&r.system),
        "data_classification" => opt(&r.data_classification),
        "auth_mode" => opt(&r.auth_mode),
        "base" => match r.reason {
            Some(why) => format!("deny ({why})"),
            None => r.base.to_string(),
        },
        "max" => r.max.to_string(),
        "conditions" => r.conditions_text(),
        "approvers" => r.approvers.join(" "),
        "granted_at" => r
            .granted_at
            .as_ref()
            .map(|o| format!("{}:{}", o.file, o.line))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Runs `opl access`.
pub fn run(ctx: &mut Ctx, args: &AccessArgs) -> Outcome {
    // The rows of named agents depend on their layers and those they inherit only; a client
    // filter needs every client listed (a client none of them names is still a known one).
    let (_, repo) = if args.agents.is_empty() || args.client.is_some() {
        open_source(ctx, &args.source)?
    } else {
        open_agents(ctx, &args.source, &args.agents)?
    };
    for a in &args.agents {
        if !repo.agents.contains_key(a) {
            return Err(unknown_agent(&repo, a));
        }
    }
    super::known_client(&repo, args.client.as_ref())?;
    let wanted = |id: &str, client: Option<&str>| {
        (args.agents.is_empty() || args.agents.iter().any(|a| a == id))
            && args.client.as_deref().is_none_or(|c| client == Some(c))
    };
    let rows = access(&repo, &wanted);
    if let Some(path) = &args.check {
        return check(ctx, path, &csv(&rows));
    }
    let text = match args.format {
        AccessFormat::Json => crate::output::json_text(&rows),
        AccessFormat::Csv => csv(&rows),
        AccessFormat::Markdown => {
            let mut out = format!(
                "| {} |\n|{}\n",
                COLUMNS.join(" | "),
                "---|".repeat(COLUMNS.len())
            );
            for r in &rows {
                let cells: Vec<String> = COLUMNS
                    .iter()
                    .map(|c| safe(&cell(r, c)).replace('|', "\\|"))
                    .collect();
                out.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
            out
        }
        AccessFormat::Table => table(&rows, ctx.style.color),
        AccessFormat::Matrix => matrix(&rows, ctx.style.width),
    };
    emit(ctx.out, &text)?;
    Ok(crate::EXIT_CLEAN)
}

/// Every row, every column.
fn csv(rows: &[AccessRow]) -> String {
    let mut out = COLUMNS.join(",") + "\n";
    for r in rows {
        let line: Vec<String> = COLUMNS.iter().map(|c| csv_field(&cell(r, c))).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Compares the access report with a committed CSV snapshot: 0 when equal, 1 with a unified diff
/// (`-` the snapshot, `+` now) when who can do what changed.
fn check(ctx: &mut Ctx, path: &std::path::Path, now: &str) -> Outcome {
    let committed = std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    if committed == now {
        emit(
            ctx.out,
            &format!("access matches {}\n", safe(&path.display().to_string())),
        )?;
        return Ok(crate::EXIT_CLEAN);
    }
    let shown = safe(&path.display().to_string());
    let diff: String = similar::TextDiff::from_lines(committed.as_str(), now)
        .unified_diff()
        .context_radius(0)
        .header(&shown, "now")
        .to_string()
        .lines()
        .map(|l| safe(l) + "\n")
        .collect();
    emit(
        ctx.out,
        &format!(
            "{diff}access differs from {shown}: regenerate it with `opl access --format csv > {shown}` once reviewed\n"
        ),
    )?;
    Ok(crate::EXIT_FINDINGS)
}

/// Agents x actions: one letter per level (`A` allow, `N` notify, `P` approval, `D` deny, `.` not
/// used), `+` when a condition raises it; numbered columns with a key, as many as fit `width`
/// (the others are named under it).
fn matrix(rows: &[AccessRow], width: usize) -> String {
    let mut actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    actions.sort();
    actions.dedup();
    let mut agents: Vec<&str> = rows.iter().map(|r| r.agent.as_str()).collect();
    agents.dedup();
    let aw = agents
        .iter()
        .map(|a| a.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let fit = (width.saturating_sub(aw + 2) / 4).max(1);
    let shown = &actions[..actions.len().min(fit)];
    let letter = |l: crate::policy::Level| match l {
        crate::policy::Level::Allow => 'A',
        crate::policy::Level::Notify => 'N',
        crate::policy::Level::Approval => 'P',
        crate::policy::Level::Deny => 'D',
    };
    let mut out = format!("{:<aw$}", "AGENT");
    for i in 1..=shown.len() {
        out.push_str(&format!(" {i:>3}"));
    }
    out.push('\n');
    for agent in &agents {
        out.push_str(&format!("{:<aw$}", safe(agent)));
        for action in shown {
            let cell = match rows
                .iter()
                .find(|r| r.agent == *agent && r.action == *action)
            {
                None => "  .".to_string(),
                Some(r) if r.reason.is_some() => "  D".to_string(),
                Some(r) => format!(
                    "{:>3}",
                    format!(
                        "{}{}",
                        letter(r.base),
                        if r.max > r.base { "+" } else { "" }
                    )
                ),
            };
            out.push(' ');
            out.push_str(&cell);
        }
        out.push('\n');
    }
    out.push_str("\nA allow  N notify  P approval  D deny  . not used  + a condition raises it\n");
    for (i, a) in shown.iter().enumerate() {
        out.push_str(&format!("{:>3}  {}\n", i + 1, safe(a)));
    }
    if shown.len() < actions.len() {
        out.push_str(&format!(
            "left out to fit {width} columns: {}\n",
            actions[shown.len()..]
                .iter()
                .map(|a| safe(a))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

/// Agent, action, base, max, conditions and approvers, aligned.
fn table(rows: &[AccessRow], color: bool) -> String {
    let cols = ["agent", "action", "base", "max", "conditions", "approvers"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| safe(&cell(r, c))).collect())
        .collect();
    let heads = ["AGENT", "ACTION", "BASE", "MAX", "CONDITIONS", "APPROVERS"];
    let mut w: Vec<usize> = heads.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |vals: &[String]| {
        vals.iter()
            .enumerate()
            .map(|(i, v)| format!("{v:<width$}", width = w[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = paint(&line(&heads.map(String::from)), "1", color) + "\n";
    for row in &cells {
        out.push_str(&line(row));
        out.push('\n');
    }
    out.push_str(&format!(
        "{} of {}\n",
        crate::output::plural(rows.len(), "action"),
        crate::output::plural(
            {
                let mut a: Vec<&str> = rows.iter().map(|r| r.agent.as_str()).collect();
                a.dedup();
                a.len()
            },
            "agent"
        )
    ));
    out
}
