//! The inventory: one row per agent with what an operator or an auditor asks of it (owner,
//! model, systems and their data, actions, approvals, memory, escalation, instructions, digest,
//! last change).

use serde::Serialize;

use crate::merge::stack::Stacks;
use crate::merge::{ENode, Effective};
use crate::model::glob;
use crate::model::schema::keys;
use crate::render::{actions, digest, document, remaining_fragments};
use crate::repo::layer::{Repo, elem_id};

/// One agent's row.
#[derive(Debug, Serialize)]
pub struct Row {
    pub id: String,
    pub client: Option<String>,
    pub purpose: String,
    pub owner: String,
    pub maintainers: Vec<String>,
    pub risk_tier: String,
    pub lifecycle: String,
    pub model: String,
    pub fallbacks: Vec<String>,
    /// `connection: system (classification; credentials)` for every connection it uses.
    pub systems: Vec<String>,
    pub actions: Vec<String>,
    /// `rule: action [when] -> require (approvers)` for every rule that applies to an action.
    pub approvals: Vec<String>,
    pub memory_scopes: Vec<String>,
    pub retention_days: Vec<String>,
    pub inspectors: Vec<String>,
    pub escalation_target: String,
    pub contacts: Vec<String>,
    /// `id (file)` of every instruction fragment.
    pub instructions: Vec<String>,
    pub digest: String,
    pub valid: bool,
    pub last_change: LastChange,
}

/// The last change of an agent's effective config.
#[derive(Debug, Serialize, Clone)]
pub struct LastChange {
    pub commit: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub status: ChangeStatus,
}

/// How sure a [`LastChange`] is.
#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChangeStatus {
    /// The commit that made the agent's current document.
    Committed,
    /// A shallow clone's cut: the change is at or before it.
    Boundary,
    /// The work tree or index differs from the revision (or there is no git).
    Uncommitted,
    /// No commit of the history made it.
    Unknown,
}

impl LastChange {
    /// A last change with no commit to name.
    fn without_commit(status: ChangeStatus) -> Self {
        LastChange {
            commit: None,
            author: None,
            date: None,
            status,
        }
    }
}

fn s(eff: &Effective, keys: &[&str]) -> String {
    eff.leaf(keys)
        .and_then(|l| l.node.value.as_str().map(String::from))
        .unwrap_or_default()
}

fn list(eff: &Effective, keys: &[&str]) -> Vec<String> {
    eff.leaf(keys)
        .and_then(|l| l.node.value.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| e.value.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The row of agent `id`, its last change not yet known (`uncommitted`).
pub fn row(repo: &Repo, stacks: &Stacks, id: &str) -> Option<Row> {
    let a = stacks.agent(id)?;
    let eff = &a.eff;
    let doc = document(repo, id, eff);
    let acts = actions(eff);
    Some(Row {
        id: id.to_string(),
        client: a.client.clone(),
        purpose: s(eff, keys::AGENT_PURPOSE),
        owner: s(eff, keys::AGENT_OWNER),
        maintainers: list(eff, keys::AGENT_MAINTAINERS),
        risk_tier: s(eff, keys::AGENT_RISK_TIER),
        lifecycle: s(eff, keys::AGENT_LIFECYCLE),
        model: format!(
            "{}/{}",
            s(eff, keys::MODEL_PROVIDER),
            s(eff, keys::MODEL_NAME)
        ),
        fallbacks: fallbacks(eff),
        systems: systems(eff, &acts),
        approvals: approvals(eff, &acts),
        actions: acts,
        memory_scopes: list(eff, keys::MEMORY_SCOPES),
        retention_days: retention(eff),
        inspectors: list(eff, keys::MEMORY_INSPECTORS),
        escalation_target: s(eff, keys::ESCALATION_DEFAULT_TARGET),
        contacts: contacts(eff),
        instructions: instructions(eff),
        digest: digest(&doc),
        valid: !a.has_errors(),
        last_change: LastChange::without_commit(ChangeStatus::Uncommitted),
    })
}

/// `connection: system (classification; credentials)` for every connection the agent uses.
fn systems(eff: &Effective, acts: &[String]) -> Vec<String> {
    let mut systems = Vec::new();
    if let Some(conns) = eff.table(keys::CONNECTIONS) {
        for (name, n) in conns.iter() {
            if !acts.iter().any(|x| {
                x.strip_prefix(name.as_str())
                    .is_some_and(|r| r.starts_with('.'))
            }) {
                continue;
            }
            let ENode::Table(t) = n else { continue };
            let get = |k: &str| match t.get(k) {
                Some(ENode::Leaf(l)) => l.node.value.as_str().map(String::from),
                _ => None,
            };
            let mode = match t.get("auth") {
                Some(ENode::Table(auth)) => match auth.get("mode") {
                    Some(ENode::Leaf(l)) => l.node.value.as_str().map(String::from),
                    _ => None,
                },
                _ => None,
            };
            let creds = match mode.as_deref() {
                Some("agent_identity") => "the agent's own credentials",
                Some("end_user_delegated") => "the end user's credentials",
                Some("none") => "no credentials",
                _ => "credentials not stated",
            };
            systems.push(format!(
                "{name}: {} ({}; {creds})",
                get("system").unwrap_or_default(),
                get("data_classification").unwrap_or_else(|| "unclassified".into())
            ));
        }
    }
    systems
}

/// `rule: action [when] -> require (approvers)` for every rule that applies to an action the
/// agent uses, and every `require_approval` glob that matches one.
fn approvals(eff: &Effective, acts: &[String]) -> Vec<String> {
    let mut approvals = Vec::new();
    for r in eff.list(keys::POLICY_APPROVALS_RULES) {
        let Some(t) = r.value.as_table() else {
            continue;
        };
        let action = t
            .get("action")
            .and_then(|n| n.value.as_str())
            .unwrap_or_default();
        if !acts.iter().any(|x| glob::matches(action, x)) {
            continue;
        }
        let when = t
            .get("when")
            .map(|w| {
                format!(
                    " when {}",
                    crate::merge::provenance::short(&crate::model::value::to_json(&w.value), 60)
                )
            })
            .unwrap_or_default();
        let req = t
            .get("require")
            .and_then(|n| n.value.as_str())
            .unwrap_or_default();
        let approvers: Vec<String> = t
            .get("approvers")
            .and_then(|n| n.value.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.value.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let by = if approvers.is_empty() {
            String::new()
        } else {
            format!(" by {}", approvers.join(", "))
        };
        approvals.push(format!(
            "{}: {action}{when} -> {req}{by}",
            elem_id(r).unwrap_or_default()
        ));
    }
    for pat in list(eff, keys::POLICY_TOOLS_REQUIRE_APPROVAL) {
        if acts.iter().any(|x| glob::matches(&pat, x)) {
            approvals.push(format!("require_approval: {pat}"));
        }
    }
    approvals
}

/// `scope=days` for every memory scope with a retention.
fn retention(eff: &Effective) -> Vec<String> {
    eff.table(keys::MEMORY_RETENTION_DAYS)
        .map(|t| {
            t.iter()
                .filter_map(|(k, n)| match n {
                    ENode::Leaf(l) => Some(format!("{k}={}", l.node.value.short())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `contact: who` for every escalation contact.
fn contacts(eff: &Effective) -> Vec<String> {
    eff.table(keys::ESCALATION_CONTACTS)
        .map(|t| {
            t.iter()
                .map(|(k, n)| {
                    let who = match n {
                        ENode::Table(c) => match c.get("who") {
                            Some(ENode::Leaf(l)) => {
                                l.node.value.as_str().unwrap_or_default().to_string()
                            }
                            _ => String::new(),
                        },
                        _ => String::new(),
                    };
                    format!("{k}: {who}")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `id (file)` or `id (inline)` of every remaining instruction fragment.
fn instructions(eff: &Effective) -> Vec<String> {
    remaining_fragments(eff)
        .iter()
        .map(|f| {
            let file = f
                .value
                .as_table()
                .and_then(|t| t.get("file"))
                .and_then(|n| n.value.as_str());
            match file {
                Some(p) => format!("{} ({p})", elem_id(f).unwrap_or_default()),
                None => format!("{} (inline)", elem_id(f).unwrap_or_default()),
            }
        })
        .collect()
}

/// `provider/name` of every fallback model.
fn fallbacks(eff: &Effective) -> Vec<String> {
    eff.leaf(keys::MODEL_FALLBACKS)
        .and_then(|l| l.node.value.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| e.value.as_table())
                .map(|t| {
                    format!(
                        "{}/{}",
                        t.get("provider")
                            .and_then(|n| n.value.as_str())
                            .unwrap_or("?"),
                        t.get("name").and_then(|n| n.value.as_str()).unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Fills in the last change of every row in one walk of the history of `rev`. Read from the work
/// tree or the index, an agent whose document differs from the one at `rev` is "uncommitted".
pub fn last_changes(
    git: &crate::git::Git,
    rev: &str,
    rows: &mut [Row],
    uncommitted_possible: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(), String> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let found = crate::history::last_changes(git, rev, &ids, progress).map_err(|e| e.0)?;
    for r in rows {
        let Some(lc) = found.get(&r.id) else { continue };
        let at_rev = match &*lc.head {
            crate::history::AgentState::Present(d) => Some(&d.digest),
            _ => None,
        };
        r.last_change = if uncommitted_possible && at_rev != Some(&r.digest) {
            LastChange::without_commit(ChangeStatus::Uncommitted)
        } else if let Some(c) = &lc.commit {
            LastChange {
                commit: Some(c.id.to_string()),
                author: Some(c.author.clone()),
                date: Some(crate::history::format_time(c.time, c.offset)),
                // At a shallow clone's cut the value is at least that old; its change is earlier.
                status: if lc.boundary {
                    ChangeStatus::Boundary
                } else {
                    ChangeStatus::Committed
                },
            }
        } else {
            LastChange::without_commit(ChangeStatus::Unknown)
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::snapshot::Memory;

    #[test]
    fn a_row_says_what_the_agent_reaches_and_who_approves() {
        let repo = crate::repo::layer::load(&Memory::new([
            ("opl.toml", "version = 1\n"),
            (
                "global/a.toml",
                "[model]\nprovider = \"openai\"\nname = \"gpt-4.1\"\nfallbacks = [{ provider = \"openai\", name = \"o3\" }]\n\n[connections.crm]\nsystem = \"CRM\"\ndata_classification = \"restricted\"\nauth = { mode = \"agent_identity\" }\n\n[connections.unused]\nsystem = \"Other\"\n\n[policy.approvals]\nrules = [{ id = \"big\", action = \"crm.refund\", when = { arg = \"amount\", gt = 100 }, require = \"approval\", approvers = [\"role:fin\"] }, { id = \"never\", action = \"x.*\", require = \"deny\" }]\n\n[memory]\nscopes = [\"session\"]\nretention_days = { session = 7 }\n\n[escalation]\ndefault_target = \"ops\"\ncontacts.ops = { who = \"group:ops\" }\n\n[instructions]\nfragments = [{ id = \"s\", text = \"Be safe.\" }]\n",
            ),
            (
                "agents/bot.toml",
                "[agent]\npurpose = \"Help\"\nowner = \"user:ann\"\n\n[tools.crm]\nuse = [\"refund\", \"get\"]\n",
            ),
        ]))
        .unwrap();
        let stacks = Stacks::new(&repo);
        let r = row(&repo, &stacks, "bot").unwrap();
        assert_eq!(r.model, "openai/gpt-4.1");
        assert_eq!(r.fallbacks, ["openai/o3"]);
        assert_eq!(r.actions, ["crm.get", "crm.refund"]);
        assert_eq!(
            r.systems,
            ["crm: CRM (restricted; the agent's own credentials)"]
        );
        assert_eq!(
            r.approvals,
            ["big: crm.refund when {\"arg\":\"amount\",\"gt\":100} -> approval by role:fin"]
        );
        assert_eq!(r.retention_days, ["session=7"]);
        assert_eq!(r.contacts, ["ops: group:ops"]);
        assert_eq!(r.instructions, ["s (inline)"]);
        assert_eq!(r.last_change.status, ChangeStatus::Uncommitted);
        assert!(r.digest.starts_with("sha256:"));
    }
}
