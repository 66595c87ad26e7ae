//! `opl inventory`: one row per agent, for the operator and the auditor.

use super::{Ctx, Outcome, emit, open_source};
use crate::cli::{InventoryArgs, InventoryFormat};
use crate::inventory::FIELDS;
use crate::merge::stack::Stacks;
use crate::model::source::safe;

/// Runs `opl inventory`.
pub fn run(ctx: &mut Ctx, args: &InventoryArgs) -> Outcome {
    let (root, repo) = open_source(ctx, &args.source)?;
    let stacks = Stacks::new(&repo);
    super::known_client(&repo, args.client.as_ref())?;
    let git = crate::git::Git::discover(&root)
        .ok()
        .flatten()
        .filter(|g| g.has_head());
    let mut rows: Vec<crate::inventory::Row> = repo
        .agents
        .keys()
        .filter_map(|id| crate::inventory::row(&repo, &stacks, id))
        .filter(|r| args.client.is_none() || r.client == args.client)
        .collect();
    if let Some(g) = &git {
        let rev = args.source.rev.clone().unwrap_or_else(|| "HEAD".into());
        // Read from the work tree or the index, a document that differs from HEAD's is not
        // committed yet.
        let uncommitted_possible = args.source.rev.is_none();
        let mut progress = super::Progress::new(ctx.progress, "opl inventory", false);
        crate::inventory::last_changes(g, &rev, &mut rows, uncommitted_possible, &mut |d, t| {
            progress.tick(ctx.err, d, t)
        })?;
        progress.finish(ctx.err);
    }
    let text = match args.format {
        InventoryFormat::Json => crate::output::json_text(&rows),
        InventoryFormat::Csv => {
            let mut out = FIELDS.join(",") + "\n";
            for r in &rows {
                out.push_str(
                    &FIELDS
                        .iter()
                        .map(|f| crate::output::csv_field(&r.cell(f)))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                out.push('\n');
            }
            out
        }
        InventoryFormat::Markdown => {
            let cell = |s: String| safe(&s).replace('|', "\\|");
            let mut out = format!(
                "| {} |\n|{}\n",
                FIELDS.join(" | "),
                "---|".repeat(FIELDS.len())
            );
            for r in &rows {
                out.push_str(&format!(
                    "| {} |\n",
                    FIELDS
                        .iter()
                        .map(|f| cell(r.cell(f)))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
            out
        }
        InventoryFormat::Table => table(&rows, ctx.style),
    };
    emit(ctx.out, &text)?;
    Ok(crate::EXIT_CLEAN)
}

/// An aligned table that fits `width`: the widest column is shortened first.
fn table(rows: &[crate::inventory::Row], style: crate::output::Style) -> String {
    let width = style.width;
    let cols = [
        "id",
        "client",
        "owner",
        "risk_tier",
        "lifecycle",
        "model",
        "actions",
        "approvals",
        "memory_scopes",
        "digest",
        "last_change",
    ];
    let heads = [
        "AGENT",
        "CLIENT",
        "OWNER",
        "RISK",
        "LIFECYCLE",
        "MODEL",
        "ACTIONS",
        "APPROVALS",
        "MEMORY",
        "DIGEST",
        "LAST CHANGE",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| match *c {
                    "actions" => r.actions.len().to_string(),
                    "approvals" => r.approvals.len().to_string(),
                    "digest" => r.digest.chars().skip(7).take(12).collect(),
                    _ => safe(&r.cell(c)),
                })
                .collect()
        })
        .collect();
    let mut w: Vec<usize> = heads.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    // Each column's readable minimum; id, client, owner, risk and lifecycle stay whole longer.
    let mut min: Vec<usize> = heads
        .iter()
        .zip(&w)
        .map(|(h, n)| (*n).min(h.chars().count().max(10)))
        .collect();
    min[0] = w[0].min(40);
    for i in [1, 2, 3, 4] {
        min[i] = w[i].min(20);
    }
    // Leave out columns, least needed first, until the shown ones fit at their minimum; then
    // widen them toward their full width, most needed first.
    let drop_order = [9, 8, 7, 6, 4, 10, 5, 3, 2, 1];
    let grow_order = [0, 1, 2, 3, 4, 10, 5, 6, 7, 8, 9];
    let mut shown: Vec<usize> = (0..cols.len()).collect();
    let total = |shown: &[usize], w: &[usize]| {
        shown.iter().map(|i| w[*i]).sum::<usize>() + 2 * (shown.len() - 1)
    };
    while total(&shown, &min) > width {
        match drop_order.iter().find(|d| shown.contains(d)) {
            Some(d) => shown.retain(|i| i != d),
            None => break,
        }
    }
    let natural = w;
    let mut w = min;
    let mut spare = width.saturating_sub(total(&shown, &w));
    for i in grow_order.iter().filter(|i| shown.contains(i)) {
        let more = (natural[*i] - w[*i]).min(spare);
        w[*i] += more;
        spare -= more;
    }
    if total(&shown, &w) > width {
        w[0] = width.max(2); // only the agent id is left, and even it is too wide
    }
    let fit = |s: &str, n: usize| {
        if s.chars().count() > n {
            format!(
                "{}…",
                s.chars().take(n.saturating_sub(1)).collect::<String>()
            )
        } else {
            format!("{s:<n$}")
        }
    };
    let mut out = String::new();
    let line = |vals: &[String]| {
        shown
            .iter()
            .map(|i| fit(&vals[*i], w[*i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
            + "\n"
    };
    let head = line(&heads.map(String::from));
    out.push_str(&crate::output::paint(
        head.trim_end_matches('\n'),
        "1",
        style.color,
    ));
    out.push('\n');
    for row in &cells {
        out.push_str(&line(row));
    }
    let hidden: Vec<&str> = (0..cols.len())
        .filter(|i| !shown.contains(i))
        .map(|i| heads[i])
        .collect();
    if !hidden.is_empty() {
        let note = format!(
            "Not shown at this width: {}. `--format csv` or `--format json` has every field.",
            hidden.join(", ")
        );
        out.push_str(&wrap(&note, width));
    }
    out
}

/// Breaks text into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}
