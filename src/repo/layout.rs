//! The layout of a config repository (spec section 1), defined once: what a path is, which
//! agents a changed path can affect, which paths an agent reads, and an agent's client.
//!
//! Paths are relative to the config root, with `/` separators. Loading, git snapshots, diffs,
//! `validate --staged`, history keys, CODEOWNERS and the graph all ask this module.

use std::collections::HashSet;

use crate::model::value::{Node, Table};

/// The root config file.
pub const ROOT_CONFIG: &str = "opl.toml";
/// The global layer's folder.
pub const GLOBAL: &str = "global";
/// The folder of the client layers (`clients/<client>/`).
pub const CLIENTS: &str = "clients";
/// The folder of the agent layers (`agents/<agent>.toml` or `agents/<agent>/`).
pub const AGENTS: &str = "agents";
/// The folder of the policy tests (spec section 10): not a layer, never stray.
pub const TESTS: &str = "tests";

/// What one file of the repository is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// `opl.toml`.
    RootConfig,
    /// `global/**/*.toml`.
    Global,
    /// `clients/<client>/**/*.toml`.
    Client(String),
    /// `agents/<agent>.toml` (`folder: false`) or `agents/<agent>/**/*.toml` (`folder: true`).
    Agent { id: String, folder: bool },
    /// `tests/**/*.toml`.
    Test,
    /// Any other `*.toml`: a `stray-file`.
    Stray,
    /// A file that is not TOML (a fragment, a README), or a path under a hidden folder: it
    /// matters only when a layer names it.
    Other,
}

/// What the file at `path` is.
pub fn classify(path: &str) -> Place {
    if hidden(path) || !path.ends_with(".toml") {
        return Place::Other;
    }
    // The first two components, and whether more follow (no list is built: this runs for every
    // path of a 10,000-agent listing).
    let mut parts = path.splitn(3, '/');
    let (first, second, more) = (parts.next(), parts.next(), parts.next().is_some());
    match (first, second, more) {
        (Some(ROOT_CONFIG), None, _) => Place::RootConfig,
        (Some(GLOBAL), Some(_), _) => Place::Global,
        (Some(CLIENTS), Some(c), true) => Place::Client(c.to_string()),
        (Some(AGENTS), Some(file), false) => Place::Agent {
            id: file.trim_end_matches(".toml").to_string(),
            folder: false,
        },
        (Some(AGENTS), Some(a), true) => Place::Agent {
            id: a.to_string(),
            folder: true,
        },
        (Some(TESTS), Some(_), _) => Place::Test,
        _ => Place::Stray,
    }
}

/// True when a component of `path` starts with a dot (`.github/`, `.git/`): never config.
pub fn hidden(path: &str) -> bool {
    path.split('/').any(|c| c.starts_with('.'))
}

/// True for a path inside one of the layer folders (`global/`, `clients/`, `agents/`).
pub fn in_layers(path: &str) -> bool {
    matches!(
        path.split('/').next(),
        Some(GLOBAL) | Some(CLIENTS) | Some(AGENTS)
    )
}

/// `agents/<agent>.toml`.
pub fn agent_file(agent: &str) -> String {
    format!("{AGENTS}/{agent}.toml")
}

/// `agents/<agent>`, the folder form.
pub fn agent_folder(agent: &str) -> String {
    format!("{AGENTS}/{agent}")
}

/// `clients/<client>`.
pub fn client_folder(client: &str) -> String {
    format!("{CLIENTS}/{client}")
}

/// True when `path` is the agent's own file or lies in its folder.
pub fn is_agents_own(path: &str, agent: &str) -> bool {
    path == agent_file(agent)
        || path
            .strip_prefix(&agent_folder(agent))
            .is_some_and(|r| r.starts_with('/'))
}

/// True when `path` lies in a folder the agent's layers are read from: `global/`, its own folder,
/// its client's folder. A fragment elsewhere is read from outside its layers.
pub fn in_agents_layers(path: &str, agent: &str, client: Option<&str>) -> bool {
    let under = |folder: &str| {
        path.strip_prefix(folder)
            .is_some_and(|r| r.starts_with('/'))
    };
    under(GLOBAL) || under(&agent_folder(agent)) || client.is_some_and(|c| under(&client_folder(c)))
}

/// The paths whose content makes an agent's effective config, besides fragments outside its
/// folders: `opl.toml`, `global`, the agent's file and folder, and its client's folder.
pub fn agent_reads(agent: &str, client: Option<&str>) -> Vec<String> {
    let mut v = vec![
        ROOT_CONFIG.to_string(),
        GLOBAL.to_string(),
        agent_file(agent),
        agent_folder(agent),
    ];
    v.extend(client.map(client_folder));
    v
}

/// Which agents the changed paths can affect.
#[derive(Clone, Debug)]
pub enum Selection {
    /// Every agent.
    All,
    /// Only these agents (and the layers they inherit).
    Agents(HashSet<String>),
    /// The shared layers (`opl.toml`, `global/`, every client) and no agent.
    Shared,
    /// The shared layers and every agent but these (known otherwise, see
    /// [`crate::diff::facts`]).
    AllBut(HashSet<String>),
}

impl Selection {
    /// True when the files of agent `id` are read.
    pub fn reads_agent(&self, id: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Agents(ids) => ids.contains(id),
            Selection::Shared => false,
            Selection::AllBut(ids) => !ids.contains(id),
        }
    }
}

/// The agents a set of changed paths can affect: a change inside `agents/<id>` affects that
/// agent; a stray or test TOML file or a hidden path affects none; anything else (`opl.toml`,
/// `global/`, `clients/`, a file outside the layers that a fragment may name) affects every agent.
pub fn affected(changed: &[String]) -> Selection {
    let mut ids = HashSet::new();
    for p in changed {
        match classify(p) {
            Place::Agent { id, .. } => {
                ids.insert(id);
            }
            Place::Stray | Place::Test => {}
            Place::Other if hidden(p) => {}
            Place::RootConfig | Place::Global | Place::Client(_) | Place::Other => {
                return Selection::All;
            }
        }
    }
    Selection::Agents(ids)
}

/// The `agent.client` value of an agent layer's table.
pub fn client_node(table: &Table) -> Option<&Node> {
    table
        .get("agent")
        .and_then(|n| n.value.as_table())
        .and_then(|t| t.get("client"))
}

/// The client an agent layer's table names.
pub fn client_of(table: &Table) -> Option<&str> {
    client_node(table).and_then(|n| n.value.as_str())
}

/// The client one agent file's TOML text names, read without loading the repository (history
/// keys read it from raw blobs). `None` when the text does not parse or names none.
pub fn client_in_text(text: &str) -> Option<String> {
    match client_named(text) {
        Named::Client(c) => Some(c),
        Named::NoClient | Named::Unknown => None,
    }
}

/// What one agent file's text says of the client the agent names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Named {
    Client(String),
    /// It names none.
    NoClient,
    /// The text alone cannot tell: it does not parse, or `agent.client` is not a string.
    Unknown,
}

/// The client one agent file's TOML text names.
pub fn client_named(text: &str) -> Named {
    let Ok(doc) = toml_edit::Document::parse(text) else {
        return Named::Unknown;
    };
    match doc.get("agent").and_then(|a| a.get("client")) {
        None => Named::NoClient,
        Some(c) => c
            .as_str()
            .map_or(Named::Unknown, |c| Named::Client(c.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_path() {
        assert_eq!(classify("opl.toml"), Place::RootConfig);
        assert_eq!(classify("global/models.toml"), Place::Global);
        assert_eq!(classify("global/x/y.toml"), Place::Global);
        assert_eq!(
            classify("clients/acme/client.toml"),
            Place::Client("acme".into())
        );
        assert_eq!(classify("clients/acme.toml"), Place::Stray);
        assert_eq!(
            classify("agents/bot.toml"),
            Place::Agent {
                id: "bot".into(),
                folder: false
            }
        );
        assert_eq!(
            classify("agents/bot/deep/x.toml"),
            Place::Agent {
                id: "bot".into(),
                folder: true
            }
        );
        assert_eq!(classify("tests/refunds.toml"), Place::Test);
        assert_eq!(classify("misc/x.toml"), Place::Stray);
        assert_eq!(classify("global.toml"), Place::Stray);
        assert_eq!(classify("agents/bot/playbook.md"), Place::Other);
        assert_eq!(classify(".github/x.toml"), Place::Other);
        assert_eq!(classify("global/.hidden/x.toml"), Place::Other);
        assert_eq!(classify("opl.toml/x.toml"), Place::Stray);
        assert_eq!(classify("agents/.toml"), Place::Other);
        assert_eq!(classify("clients//x.toml"), Place::Client(String::new()));
    }

    proptest::proptest! {
        /// Classifying by the first components agrees with matching the whole list of them.
        #[test]
        fn classify_reads_the_components(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "opl.toml", "global", "clients", "agents", "tests", "a", "a.toml", "", ".h",
                ]),
                1..5,
            )
        ) {
            let path = parts.join("/");
            let whole: Vec<&str> = path.split('/').collect();
            let want = if hidden(&path) || !path.ends_with(".toml") {
                Place::Other
            } else {
                match whole.as_slice() {
                    [ROOT_CONFIG] => Place::RootConfig,
                    [GLOBAL, _, ..] => Place::Global,
                    [CLIENTS, c, _, ..] => Place::Client(c.to_string()),
                    [AGENTS, f] => Place::Agent { id: f.trim_end_matches(".toml").into(), folder: false },
                    [AGENTS, a, _, ..] => Place::Agent { id: a.to_string(), folder: true },
                    [TESTS, _, ..] => Place::Test,
                    _ => Place::Stray,
                }
            };
            proptest::prop_assert_eq!(classify(&path), want);
        }
    }

    #[test]
    fn affected_agents_from_changed_paths() {
        let sel = |p: &[&str]| affected(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        match sel(&[
            "agents/a.toml",
            "agents/b/x.toml",
            ".github/ci.yml",
            "misc/x.toml",
            "tests/t.toml",
        ]) {
            Selection::Agents(ids) => {
                let mut v: Vec<_> = ids.into_iter().collect();
                v.sort();
                assert_eq!(v, ["a", "b"]);
            }
            _ => panic!("expected agents"),
        }
        assert!(matches!(sel(&["global/models.toml"]), Selection::All));
        assert!(matches!(sel(&["clients/acme/client.toml"]), Selection::All));
        assert!(matches!(sel(&["opl.toml"]), Selection::All));
        assert!(matches!(sel(&["agents/a/playbook.md"]), Selection::All));
        assert!(matches!(sel(&["README.md"]), Selection::All));
    }

    #[test]
    fn an_agents_own_paths_and_layers() {
        assert!(is_agents_own("agents/bot.toml", "bot"));
        assert!(is_agents_own("agents/bot/a.md", "bot"));
        assert!(!is_agents_own("agents/bot2.toml", "bot"));
        assert!(!is_agents_own("agents/bot2/a.toml", "bot"));
        assert!(in_agents_layers("clients/acme/x.md", "bot", Some("acme")));
        assert!(!in_agents_layers("clients/acme2/x.md", "bot", Some("acme")));
        assert!(!in_agents_layers("shared/x.md", "bot", Some("acme")));
        assert_eq!(
            client_in_text("[agent]\nclient = \"acme\"\n").as_deref(),
            Some("acme")
        );
        assert_eq!(client_in_text("[agent]\nclient = 3\n"), None);
    }
}
