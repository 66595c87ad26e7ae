//! Lints across layers: `hoist`, a value that every agent of a client (or every client) sets
//! identically, and that belongs one layer up.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::diagnostic::{Code, Finding};
use crate::model::source::safe;
use crate::model::value::{Node, Table, Value};
use crate::repo::layer::Repo;

/// A leaf (a value that is not a table) and the keys that lead to it.
type Leaf<'a> = (Vec<&'a str>, &'a Node);

fn leaves<'a>(t: &'a Table, prefix: &mut Vec<&'a str>, out: &mut Vec<Leaf<'a>>) {
    for (k, n) in t {
        prefix.push(k);
        match &n.value {
            Value::Table(sub) => leaves(sub, prefix, out),
            _ => out.push((prefix.clone(), n)),
        }
        prefix.pop();
    }
}

/// The leaf at `path` in `t`.
fn leaf<'a>(t: &'a Table, path: &[&str]) -> Option<&'a Node> {
    let (last, up) = path.split_last()?;
    let mut t = t;
    for k in up {
        t = t.get(k)?.value.as_table()?;
    }
    t.get(last).filter(|n| n.value.as_table().is_none())
}

/// A leaf every table of a group sets alike: its dotted path and the first table's node.
type Common<'a> = (String, &'a Node);

/// The leaves every table sets to the same value (outside `[agent]`), by dotted path. The first
/// table's leaves are the candidates; each further table can only remove some, so a group whose
/// members differ early costs little.
fn common<'a>(tables: &[&'a Table]) -> Vec<Common<'a>> {
    let Some((first, rest)) = tables.split_first() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    leaves(first, &mut Vec::new(), &mut found);
    found.retain(|(p, _)| p.len() < 2 || p[0] != "agent");
    for t in rest {
        if found.is_empty() {
            break;
        }
        found.retain(|(p, n)| leaf(t, p).is_some_and(|m| m.value.same(&n.value)));
    }
    found.into_iter().map(|(p, n)| (p.join("."), n)).collect()
}

/// `hoist` warnings for the whole repository.
pub fn hoist(repo: &Repo) -> Vec<Finding> {
    let mut out = Vec::new();
    // Agents of each client.
    let mut by_client: BTreeMap<&str, Vec<&Table>> = BTreeMap::new();
    for layer in repo.agents.values() {
        let client = crate::repo::layout::client_of(&layer.table);
        if let Some(c) = client.filter(|c| repo.clients.contains_key(*c)) {
            by_client.entry(c).or_default().push(&layer.table);
        }
    }
    // Each client's agents are compared on their own, in parallel.
    let per_client: Vec<(&str, usize, Vec<Common>)> = by_client
        .par_iter()
        .filter(|(_, agents)| agents.len() >= 2)
        .map(|(client, agents)| (*client, agents.len(), common(agents)))
        .collect();
    for (client, n, found) in per_client {
        for (path, node) in found {
            out.push(
                Finding::new(
                    Code::Hoist,
                    node.key_span,
                    format!(
                        "all {n} agents of client `{}` set `{path}` = {}",
                        safe(client),
                        node.value.short()
                    ),
                )
                .label("set by every agent of the client")
                .help(format!(
                    "set it once in clients/{}/ and remove it from the agents",
                    safe(client)
                )),
            );
        }
    }
    // Every client.
    let clients: Vec<&Table> = repo.clients.values().map(|l| &*l.table).collect();
    if clients.len() >= 2 {
        for (path, node) in common(&clients) {
            out.push(
                Finding::new(
                    Code::Hoist,
                    node.key_span,
                    format!(
                        "all {} clients set `{path}` = {}",
                        clients.len(),
                        node.value.short()
                    ),
                )
                .label("set by every client")
                .help("set it once in global/ and remove it from the clients"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::source::FileId;

    fn table(text: &str) -> Table {
        crate::model::value::parse_file(FileId(0), text, &mut Vec::new()).expect("parses")
    }

    #[test]
    fn common_keeps_the_leaves_every_table_sets_alike_outside_agent() {
        let a = table(
            "[agent]\nclient = \"c\"\n[model]\nname = \"o3\"\nparameters = { t = 1 }\n[memory]\nscopes = [\"a\"]\nx = 1\n",
        );
        let b = table(
            "[agent]\nclient = \"c\"\n[model]\nname = \"o3\"\nparameters = { t = 1.0 }\n[memory]\nscopes = [\"a\"]\nx = 2\n",
        );
        // `model.parameters` is a leaf here and a table above: not common.
        let c = table(
            "[agent]\nclient = \"c\"\n[model]\nname = \"o3\"\nparameters = { t = 1 }\n[memory]\nscopes = [\"a\"]\n",
        );
        let d = table("[agent]\nclient = \"c\"\n[model]\nname = \"o3\"\nparameters = 1\n");
        let paths = |ts: &[&Table]| common(ts).into_iter().map(|(p, _)| p).collect::<Vec<_>>();
        assert_eq!(
            paths(&[&a, &b, &c]),
            ["memory.scopes", "model.name", "model.parameters.t"]
        );
        assert_eq!(paths(&[&a, &d]), ["model.name"]);
        assert_eq!(paths(&[&d, &a]), ["model.name"]);
        assert!(paths(&[]).is_empty());
    }
}
