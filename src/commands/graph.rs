//! `opl graph`: where configuration lives, as a DOT or Mermaid graph.

use super::{Ctx, Outcome, emit, open_source};
use crate::cli::{GraphArgs, GraphFormat};
use crate::model::value::{Table, Value};

/// Number of leaves a layer sets (arrays count once).
pub fn count(t: &Table) -> usize {
    t.values()
        .map(|n| match &n.value {
            Value::Table(sub) => count(sub),
            _ => 1,
        })
        .sum()
}

fn id(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Runs `opl graph`.
pub fn run(ctx: &mut Ctx, args: &GraphArgs) -> Outcome {
    let (_, repo) = open_source(ctx, &args.source)?;
    let mut edges = Vec::new();
    let mut nodes = vec![(
        "global".to_string(),
        format!(
            "global ({})",
            crate::output::plural(count(&repo.global.table), "value")
        ),
    )];
    for (c, l) in &repo.clients {
        nodes.push((
            format!("c_{}", id(c)),
            format!(
                "client {c} ({})",
                crate::output::plural(count(&l.table), "value")
            ),
        ));
        edges.push(("global".to_string(), format!("c_{}", id(c))));
    }
    for (a, l) in &repo.agents {
        nodes.push((
            format!("a_{}", id(a)),
            format!(
                "agent {a} ({})",
                crate::output::plural(count(&l.table), "value")
            ),
        ));
        let client = crate::repo::layout::client_of(&l.table);
        let from = match client {
            Some(c) if repo.clients.contains_key(c) => format!("c_{}", id(c)),
            _ => "global".to_string(),
        };
        edges.push((from, format!("a_{}", id(a))));
    }
    let esc = |s: &str| crate::model::source::safe(s).replace('"', "'");
    let text = match args.format {
        GraphFormat::Dot => {
            let mut s = String::from("digraph opl {\n  rankdir=LR;\n  node [shape=box];\n");
            for (n, label) in &nodes {
                s.push_str(&format!("  {n} [label=\"{}\"];\n", esc(label)));
            }
            for (a, b) in &edges {
                s.push_str(&format!("  {a} -> {b};\n"));
            }
            s.push_str("}\n");
            s
        }
        GraphFormat::Mermaid => {
            let mut s = String::from("graph LR\n");
            for (n, label) in &nodes {
                s.push_str(&format!("  {n}[\"{}\"]\n", esc(label)));
            }
            for (a, b) in &edges {
                s.push_str(&format!("  {a} --> {b}\n"));
            }
            s
        }
    };
    emit(ctx.out, &text)?;
    Ok(crate::EXIT_CLEAN)
}
