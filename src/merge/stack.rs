//! The stack of every agent: `global -> clients/C -> agents/A`, with shared prefixes merged once.
//!
//! The global layer is merged once and each client onto it once, so a problem in a global or
//! client file is found once, not once per agent. Each agent then merges its own layer onto a
//! clone of its prefix and runs the checks across keys.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;

use crate::check::{Usage, check_agent};
use crate::diagnostic::{Code, Finding, normalize};
use crate::merge::Effective;
use crate::model::source::{LayerKind, Span, safe};
use crate::repo::layer::{Layer, Repo};

/// A merged prefix (global, or global + one client) and its findings.
#[derive(Debug)]
struct Prefix {
    eff: Effective,
    findings: Vec<Finding>,
}

/// The merged prefixes of a repository.
pub struct Stacks<'r> {
    pub repo: &'r Repo,
    global: Prefix,
    clients: HashMap<String, Prefix>,
}

/// One agent's effective config and every finding that applies to it.
#[derive(Debug)]
pub struct AgentResult {
    pub id: String,
    pub client: Option<String>,
    pub eff: Effective,
    /// Findings of the agent's own layer, its merge and its checks across keys.
    pub own: Vec<Finding>,
    /// Findings of the layers it inherits (global, its client) and of `opl.toml`.
    pub inherited: Vec<Finding>,
    pub usage: Vec<Usage>,
}

impl AgentResult {
    /// Every finding that applies to the agent.
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.inherited.iter().chain(&self.own)
    }
    /// True when any applicable finding is an error.
    pub fn has_errors(&self) -> bool {
        self.all_findings().any(|f| f.is_error())
    }
    /// True when the rendered document can be built (spec 8): no error of sections 1-5.
    pub fn buildable(&self) -> bool {
        !self.all_findings().any(Finding::blocks_document)
    }
}

fn merged(base: &Effective, layer: &Layer) -> Prefix {
    let mut eff = base.clone();
    let mut findings = layer.findings.clone();
    eff.apply(layer, &mut findings);
    Prefix { eff, findings }
}

impl<'r> Stacks<'r> {
    /// Merges the global layer and every client onto it.
    pub fn new(repo: &'r Repo) -> Self {
        let global = merged(&Effective::default(), &repo.global);
        let clients = repo
            .clients
            .par_iter()
            .map(|(id, layer)| (id.clone(), merged(&global.eff, layer)))
            .collect();
        Stacks {
            repo,
            global,
            clients,
        }
    }

    /// Findings of `opl.toml`, the global layer and every client layer, with repository-level
    /// findings (stray files, bad ids).
    pub fn base_findings(&self) -> Vec<Finding> {
        let mut out = self.repo.findings.clone();
        out.extend(self.global.findings.iter().cloned());
        for p in self.clients.values() {
            out.extend(p.findings.iter().cloned());
        }
        out
    }

    /// The merged prefix an agent layer inherits (its client's, or global's) and its client;
    /// the client's findings join `inherited`, an unknown client is a finding of the agent.
    fn prefix_of(
        &self,
        layer: &Layer,
        inherited: &mut Vec<Finding>,
        own: &mut Vec<Finding>,
    ) -> (&Effective, Option<String>) {
        if let Some(name) = self.repo.agent_client(layer) {
            let p = &self.clients[name];
            inherited.extend(p.findings.iter().cloned());
            return (&p.eff, Some(name.to_string()));
        }
        let Some(n) = crate::repo::layout::client_node(&layer.table) else {
            return (&self.global.eff, None);
        };
        let name = n.value.as_str().unwrap_or_default();
        let folder = crate::repo::layout::client_folder(name);
        if self.repo.sources.find(&folder).is_some() {
            // The client's folder exists but its id is unusable: that finding is the agent's
            // too, and the agent is not told the client is missing.
            inherited.extend(
                self.repo
                    .findings
                    .iter()
                    .filter(|f| self.repo.sources.get(f.span.file).path == folder)
                    .cloned(),
            );
        } else {
            let mut f = Finding::new(
                Code::UnknownClient,
                n.span,
                format!(
                    "client `{}` has no directory under {}/",
                    safe(name),
                    crate::repo::layout::CLIENTS
                ),
            )
            .label("unknown client");
            f = match crate::diagnostic::did_you_mean(
                name,
                self.repo.clients.keys().map(String::as_str),
            ) {
                Some(m) => f.help(format!("did you mean `{m}`?")),
                None => f.help(format!("create {}/ or fix the name", safe(&folder))),
            };
            own.push(f);
        }
        (&self.global.eff, None)
    }

    /// The merged prefix of `client` (global's for `None`): what an agent of it inherits
    /// before its own layer. `None` for a client the repository does not have.
    pub fn prefix(&self, client: Option<&str>) -> Option<&Effective> {
        match client {
            None => Some(&self.global.eff),
            Some(c) => self.clients.get(c).map(|p| &p.eff),
        }
    }

    /// The findings an agent layer inherits (`opl.toml`, global, its client) and the client
    /// whose prefix it merges onto; an unknown client is pushed to `own`.
    pub fn inherited(
        &self,
        layer: &Layer,
        own: &mut Vec<Finding>,
    ) -> (Vec<Finding>, &Effective, Option<String>) {
        let mut inherited = self.inherited_by(None).expect("global is always there");
        let (prefix, client) = self.prefix_of(layer, &mut inherited, own);
        (inherited, prefix, client)
    }

    /// The findings every agent of `client` inherits (`opl.toml`, global, the client); `None`
    /// for a client the repository does not have. The same as [`Stacks::inherited`] for an
    /// agent layer that names the client (or none).
    pub fn inherited_by(&self, client: Option<&str>) -> Option<Vec<Finding>> {
        let prefix = match client {
            Some(c) => Some(self.clients.get(c)?),
            None => None,
        };
        let mut inherited: Vec<Finding> = self
            .repo
            .findings
            .iter()
            .filter(|f| {
                f.code == Code::RootConfig
                    || self.repo.sources.get(f.span.file).layer == LayerKind::Root
            })
            .cloned()
            .collect();
        inherited.extend(self.global.findings.iter().cloned());
        inherited.extend(prefix.into_iter().flat_map(|p| p.findings.iter().cloned()));
        Some(inherited)
    }

    /// Merges and checks one agent.
    pub fn agent(&self, id: &str) -> Option<AgentResult> {
        self.evaluate(id, true)
    }

    /// Merges one agent without the checks across keys, none of which keeps a document from
    /// being built: its `own` findings hold every one that does, and its `usage` is empty. For
    /// callers that only ask whether the agent is valid (the key-level diff).
    pub fn agent_merged(&self, id: &str) -> Option<AgentResult> {
        self.evaluate(id, false)
    }

    fn evaluate(&self, id: &str, checks: bool) -> Option<AgentResult> {
        let layer = self.repo.agents.get(id)?;
        let mut own = Vec::new();
        // Where findings about the agent as a whole point: its first file, or, when none could be
        // read, the file or folder that names it.
        let anchor = layer
            .anchor()
            .or_else(|| {
                let kind = LayerKind::Agent(id.to_string());
                self.repo
                    .sources
                    .iter()
                    .find(|(_, f)| f.layer == kind)
                    .map(|(fid, _)| fid)
            })
            .map(Span::file_start);
        let (inherited, prefix, client) = self.inherited(layer, &mut own);
        let Prefix { eff, findings } = merged(prefix, layer);
        own.extend(findings);
        // A file of the stack that could not be read is its own finding: checking what the rest
        // adds up to would report the consequences of its absence (`missing` values that are in
        // it), so the checks across keys wait until it reads.
        let unreadable = inherited.iter().chain(&own).any(|f| {
            matches!(
                f.code,
                Code::Parse
                    | Code::FileTooLarge
                    | Code::Symlink
                    | Code::CaseCollision
                    | Code::InvalidId
            )
        });
        let merged_only = own.len();
        let usage = match anchor {
            Some(anchor) if checks && !unreadable => check_agent(&eff, anchor, &mut own),
            _ => Vec::new(),
        };
        // What `agent_merged` leaves out never keeps a document from being built.
        debug_assert!(own[merged_only..].iter().all(|f| !f.blocks_document()));
        Some(AgentResult {
            id: id.to_string(),
            client,
            eff,
            own,
            inherited,
            usage,
        })
    }
}

/// The result of validating a repository (or some of its agents).
#[derive(Debug, Default)]
pub struct Validation {
    pub findings: Vec<Finding>,
    pub agents: usize,
    pub files: usize,
    /// Only some agents were validated: the lints that are judged on the whole repository
    /// (`hoist`, `dead-rule` and `unused-connection` of global and client definitions) were left
    /// out rather than judged on the part.
    pub partial: bool,
}

/// What a partial run leaves out, said after its summary.
pub const PARTIAL_NOTE: &str = "hoist, and dead-rule and unused-connection of global and client \
     definitions, are judged on the whole repository: run `opl validate` to see them";

/// Validates the whole repository, or only `only` (and the layers they inherit). A partial run
/// also reports the findings of the shared layer files `layer_files`, whether or not an agent
/// it validates inherits them (what `validate --staged` changed).
pub fn validate(repo: &Repo, only: Option<&[String]>, layer_files: &[String]) -> Validation {
    let stacks = Stacks::new(repo);
    // The agents validated, looked up by id: a partial run may select thousands.
    let selected: Option<HashSet<&str>> = only.map(|l| l.iter().map(String::as_str).collect());
    let ids: Vec<&String> = match &selected {
        Some(set) => repo
            .agents
            .keys()
            .filter(|k| set.contains(k.as_str()))
            .collect(),
        None => repo.agents.keys().collect(),
    };
    // Each agent's own findings and, in a partial run, those of the layers it inherits (a whole
    // run reports those once, from the layers).
    type AgentFindings = (Vec<Finding>, Vec<Finding>, Vec<Usage>);
    // `hoist` compares layers only: a whole run judges it beside the agents.
    let (results, hoisted): (Vec<AgentFindings>, Vec<Finding>) = rayon::join(
        || {
            ids.par_iter()
                .map(|id| {
                    let r = stacks.agent(id).expect("agent listed");
                    let inherited = if only.is_some() {
                        r.inherited
                    } else {
                        Vec::new()
                    };
                    (r.own, inherited, r.usage)
                })
                .collect()
        },
        || match only {
            None => crate::check::lint::hoist(repo),
            Some(_) => Vec::new(),
        },
    );
    let mut findings = match only {
        Some(list) => repo
            .findings
            .iter()
            .filter(|f| {
                let p = &repo.sources.get(f.span.file).path;
                repo.sources.get(f.span.file).layer == LayerKind::Root
                    || list
                        .iter()
                        .any(|a| crate::repo::layout::is_agents_own(p, a))
            })
            .cloned()
            .chain(
                stacks
                    .base_findings()
                    .into_iter()
                    .filter(|f| layer_files.contains(&repo.sources.get(f.span.file).path)),
            )
            .collect(),
        None => stacks.base_findings(),
    };
    let mut usage: BTreeMap<Span, (bool, Option<crate::check::Unused>)> = BTreeMap::new();
    // One finding per problem, with every agent it holds for.
    let mut seen: HashMap<Finding, usize> = HashMap::new();
    let mut about: Vec<(Finding, Vec<String>)> = Vec::new();
    let mut layer_findings = HashSet::new();
    for (id, (f, inherited, u)) in ids.iter().zip(results) {
        findings.extend(
            inherited
                .into_iter()
                .filter(|x| layer_findings.insert(x.clone())),
        );
        for x in f {
            let i = *seen.entry(x.clone()).or_insert_with(|| {
                about.push((x, Vec::new()));
                about.len() - 1
            });
            about[i].1.push(id.to_string());
        }
        for x in u {
            let e = usage.entry(x.span).or_insert((false, None));
            e.0 |= x.used;
            if e.1.is_none() {
                e.1 = x.unused;
            }
        }
    }
    findings.extend(about.into_iter().map(|(mut f, agents)| {
        f.agents = agents;
        f
    }));
    // A definition is unused when no agent that inherits it uses it. In a partial run only the
    // selected agents' own definitions can be judged: others may be used by agents not run.
    let judged = |span: &Span| {
        selected.as_ref().is_none_or(|set| {
            matches!(&repo.sources.get(span.file).layer, LayerKind::Agent(a) if set.contains(a.as_str()))
        })
    };
    findings.extend(
        usage
            .into_iter()
            .filter(|(span, (used, _))| !used && judged(span))
            .filter_map(|(span, (_, u))| u.map(|u| u.finding(span))),
    );
    findings.extend(hoisted);
    crate::diagnostic::apply_lints(&mut findings, &repo.allowed_lints);
    normalize(&mut findings, &repo.sources);
    // The files read for the agents validated: those of the layers they inherit and their own
    // (a partial run may have others loaded).
    let files = repo
        .sources
        .iter()
        .filter(|(_, f)| match &f.layer {
            LayerKind::Stray | LayerKind::External => false,
            LayerKind::Agent(a) => selected.as_ref().is_none_or(|v| v.contains(a.as_str())),
            _ => true,
        })
        .count();
    Validation {
        findings,
        agents: ids.len(),
        files,
        partial: only.is_some(),
    }
}
