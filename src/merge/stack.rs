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

    /// Merges and checks one agent.
    pub fn agent(&self, id: &str) -> Option<AgentResult> {
        let layer = self.repo.agents.get(id)?;
        let mut own = Vec::new();
        let anchor = layer
            .anchor()
            .map(Span::file_start)
            .unwrap_or_else(|| Span::file_start(crate::model::source::FileId(0)));
        let client_node = crate::repo::layout::client_node(&layer.table);
        let mut client = None;
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
        let prefix = match client_node {
            Some(n) => {
                let name = n.value.as_str().unwrap_or_default();
                match self.clients.get(name) {
                    Some(p) => {
                        client = Some(name.to_string());
                        inherited.extend(p.findings.iter().cloned());
                        &p.eff
                    }
                    None => {
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
                        if let Some(m) = crate::diagnostic::did_you_mean(
                            name,
                            self.repo.clients.keys().map(String::as_str),
                        ) {
                            f = f.help(format!("did you mean `{m}`?"));
                        } else {
                            f = f.help(format!(
                                "create {}/ or fix the name",
                                crate::repo::layout::client_folder(&safe(name))
                            ));
                        }
                        own.push(f);
                        &self.global.eff
                    }
                }
            }
            None => &self.global.eff,
        };
        let Prefix { eff, findings } = merged(prefix, layer);
        own.extend(findings);
        let usage = check_agent(&eff, anchor, &mut own);
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
}

/// Validates the whole repository, or only `only` (and the layers they inherit).
pub fn validate(repo: &Repo, only: Option<&[String]>) -> Validation {
    let stacks = Stacks::new(repo);
    let ids: Vec<&String> = match only {
        Some(list) => repo.agents.keys().filter(|k| list.contains(k)).collect(),
        None => repo.agents.keys().collect(),
    };
    let results: Vec<(Vec<Finding>, Vec<Usage>)> = ids
        .par_iter()
        .map(|id| {
            let r = stacks.agent(id).expect("agent listed");
            let mut own = r.own;
            if only.is_some() {
                own.extend(r.inherited);
            }
            (own, r.usage)
        })
        .collect();
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
            .collect(),
        None => stacks.base_findings(),
    };
    let mut usage: BTreeMap<Span, (bool, Option<Finding>)> = BTreeMap::new();
    let mut seen = HashSet::new();
    for (f, u) in results {
        findings.extend(f.into_iter().filter(|x| seen.insert(x.clone())));
        for x in u {
            let e = usage.entry(x.span).or_insert((false, None));
            e.0 |= x.used;
            if e.1.is_none() {
                e.1 = x.unused;
            }
        }
    }
    findings.extend(
        usage
            .into_values()
            .filter(|(used, _)| !used)
            .filter_map(|(_, f)| f),
    );
    if only.is_none() {
        findings.extend(crate::check::lint::hoist(repo));
    }
    crate::diagnostic::apply_lints(&mut findings, &repo.allowed_lints);
    normalize(&mut findings, &repo.sources);
    let files = repo
        .sources
        .iter()
        .filter(|(_, f)| !matches!(f.layer, LayerKind::Stray | LayerKind::External))
        .count();
    Validation {
        findings,
        agents: ids.len(),
        files,
    }
}
