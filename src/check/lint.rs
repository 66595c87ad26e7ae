//! Lints across layers: `hoist`, a value that every agent of a client (or every client) sets
//! identically, and that belongs one layer up.

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Finding};
use crate::model::source::safe;
use crate::model::value::{Node, Table, Value};
use crate::repo::layer::Repo;

fn leaves<'a>(t: &'a Table, prefix: &str, out: &mut BTreeMap<String, &'a Node>) {
    for (k, n) in t {
        let p = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match &n.value {
            Value::Table(sub) => leaves(sub, &p, out),
            _ => {
                out.insert(p, n);
            }
        }
    }
}

/// A layer's name and its leaves by dotted path.
type Leaves<'a> = (String, BTreeMap<String, &'a Node>);

fn common<'a>(layers: &[Leaves<'a>]) -> Vec<(String, &'a Node)> {
    let Some((_, first)) = layers.first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|(p, n)| {
            !p.starts_with("agent.")
                && layers
                    .iter()
                    .all(|(_, l)| l.get(*p).is_some_and(|m| m.value.same(&n.value)))
        })
        .map(|(p, n)| (p.clone(), *n))
        .collect()
}

/// `hoist` warnings for the whole repository.
pub fn hoist(repo: &Repo) -> Vec<Finding> {
    let mut out = Vec::new();
    // Agents of each client.
    let mut by_client: BTreeMap<&str, Vec<Leaves>> = BTreeMap::new();
    for (id, layer) in &repo.agents {
        let client = crate::repo::layout::client_of(&layer.table);
        if let Some(c) = client.filter(|c| repo.clients.contains_key(*c)) {
            let mut l = BTreeMap::new();
            leaves(&layer.table, "", &mut l);
            by_client.entry(c).or_default().push((id.clone(), l));
        }
    }
    for (client, agents) in &by_client {
        if agents.len() < 2 {
            continue;
        }
        for (path, node) in common(agents) {
            out.push(
                Finding::new(
                    Code::Hoist,
                    node.key_span,
                    format!(
                        "all {} agents of client `{}` set `{path}` = {}",
                        agents.len(),
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
    let clients: Vec<Leaves> = repo
        .clients
        .iter()
        .map(|(c, l)| {
            let mut m = BTreeMap::new();
            leaves(&l.table, "", &mut m);
            (c.clone(), m)
        })
        .collect();
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
