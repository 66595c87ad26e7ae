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
    pub model: Model,
    pub fallbacks: Vec<Model>,
    /// Every connection the agent uses a tool of.
    pub systems: Vec<System>,
    pub actions: Vec<String>,
    /// Every approval rule and `require_approval` glob that applies to an action it uses.
    pub approvals: Vec<Approval>,
    pub memory_scopes: Vec<String>,
    pub retention_days: Vec<Retention>,
    pub inspectors: Vec<String>,
    pub escalation_target: String,
    pub contacts: Vec<Contact>,
    /// Every remaining instruction fragment.
    pub instructions: Vec<Instruction>,
    pub digest: String,
    pub valid: bool,
    pub last_change: LastChange,
}

/// A model: `provider/name` in tables.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct Model {
    pub provider: String,
    pub name: String,
}

/// A connected system: `connection: system (classification; credentials)` in tables.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct System {
    pub connection: String,
    pub system: String,
    /// `None` when the connection states none.
    pub data_classification: Option<String>,
    /// `auth.mode`: `none`, `agent_identity`, `end_user_delegated`, or `None` when not stated.
    pub auth_mode: Option<String>,
    /// Whose credentials the agent acts with, in words.
    pub credentials: String,
}

/// What approves an action: an approval rule (`rule: action when {..} -> require by approvers`
/// in tables) or a `require_approval` glob.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct Approval {
    /// `rule` or `require_approval`.
    pub kind: &'static str,
    /// The rule's id; `None` for a glob.
    pub id: Option<String>,
    /// The action glob.
    pub action: String,
    /// The rule's condition (`{"arg": "amount", "gt": 500}`); `None` when it always applies.
    pub when: Option<serde_json::Value>,
    /// The level it requires: `allow`, `notify`, `approval` or `deny`.
    pub require: String,
    pub approvers: Vec<String>,
}

/// A memory scope's retention: `scope=days` in tables.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct Retention {
    pub scope: String,
    pub days: serde_json::Value,
}

/// An escalation contact: `contact: who` in tables.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct Contact {
    pub contact: String,
    pub who: String,
    pub channels: Vec<String>,
}

/// An instruction fragment: `id (file)` or `id (inline)` in tables.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct Instruction {
    pub id: String,
    /// Its file relative to the root; `None` for inline `text`.
    pub file: Option<String>,
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.provider, self.name)
    }
}

impl std::fmt::Display for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} ({}; {})",
            self.connection,
            self.system,
            self.data_classification
                .as_deref()
                .unwrap_or("unclassified"),
            self.credentials
        )
    }
}

impl std::fmt::Display for Approval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(id) = &self.id else {
            return write!(f, "require_approval: {}", self.action);
        };
        write!(f, "{id}: {}", self.action)?;
        if let Some(w) = &self.when {
            write!(f, " when {}", crate::merge::provenance::short(w, 60))?;
        }
        write!(f, " -> {}", self.require)?;
        if !self.approvers.is_empty() {
            write!(f, " by {}", self.approvers.join(", "))?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.scope, self.days)
    }
}

impl std::fmt::Display for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.contact, self.who)
    }
}

impl std::fmt::Display for Instruction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(p) => write!(f, "{} ({p})", self.id),
            None => write!(f, "{} (inline)", self.id),
        }
    }
}

/// The fields of a row, in column order.
pub const FIELDS: &[&str] = &[
    "id",
    "client",
    "purpose",
    "owner",
    "maintainers",
    "risk_tier",
    "lifecycle",
    "model",
    "fallbacks",
    "systems",
    "actions",
    "approvals",
    "memory_scopes",
    "retention_days",
    "inspectors",
    "escalation_target",
    "contacts",
    "instructions",
    "digest",
    "valid",
    "last_change",
];

impl Row {
    /// One field as text for a table, CSV or Markdown cell: lists joined with `; `, the last
    /// change as `DATE [^]COMMIT AUTHOR` (`^` at a shallow clone's cut) or its status.
    pub fn cell(&self, field: &str) -> String {
        fn join<T: std::fmt::Display>(v: &[T]) -> String {
            v.iter().map(T::to_string).collect::<Vec<_>>().join("; ")
        }
        match field {
            "id" => self.id.clone(),
            "client" => self.client.clone().unwrap_or_default(),
            "purpose" => self.purpose.clone(),
            "owner" => self.owner.clone(),
            "maintainers" => join(&self.maintainers),
            "risk_tier" => self.risk_tier.clone(),
            "lifecycle" => self.lifecycle.clone(),
            "model" => self.model.to_string(),
            "fallbacks" => join(&self.fallbacks),
            "systems" => join(&self.systems),
            "actions" => join(&self.actions),
            "approvals" => join(&self.approvals),
            "memory_scopes" => join(&self.memory_scopes),
            "retention_days" => join(&self.retention_days),
            "inspectors" => join(&self.inspectors),
            "escalation_target" => self.escalation_target.clone(),
            "contacts" => join(&self.contacts),
            "instructions" => join(&self.instructions),
            "digest" => self.digest.clone(),
            "valid" => self.valid.to_string(),
            "last_change" => self.last_change.cell(),
            _ => String::new(),
        }
    }
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
    /// `DATE [^]COMMIT AUTHOR`: the date first, as a narrow table keeps it; `^` as git blame
    /// marks a shallow clone's cut. Without a commit, the status.
    fn cell(&self) -> String {
        match (&self.commit, &self.author, &self.date) {
            (Some(c), Some(a), Some(d)) => {
                let cut = if self.status == ChangeStatus::Boundary {
                    "^"
                } else {
                    ""
                };
                format!(
                    "{} {cut}{} {a}",
                    &d[..10.min(d.len())],
                    &c[..12.min(c.len())]
                )
            }
            _ => serde_json::to_value(self.status)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
        }
    }
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
        .map(|l| l.node.value.strings())
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
        model: Model {
            provider: s(eff, keys::MODEL_PROVIDER),
            name: s(eff, keys::MODEL_NAME),
        },
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

/// Every connection the agent uses a tool of.
fn systems(eff: &Effective, acts: &[String]) -> Vec<System> {
    let mut systems = Vec::new();
    let Some(conns) = eff.table(keys::CONNECTIONS) else {
        return systems;
    };
    for (name, n) in conns.iter() {
        let used = acts.iter().any(|x| {
            x.strip_prefix(name.as_str())
                .is_some_and(|r| r.starts_with('.'))
        });
        let ENode::Table(t) = n else { continue };
        if !used {
            continue;
        }
        let get = |k: &str| match t.get(k) {
            Some(ENode::Leaf(l)) => l.node.value.as_str().map(String::from),
            _ => None,
        };
        let auth_mode = match t.get("auth") {
            Some(ENode::Table(auth)) => match auth.get("mode") {
                Some(ENode::Leaf(l)) => l.node.value.as_str().map(String::from),
                _ => None,
            },
            _ => None,
        };
        let credentials = match auth_mode.as_deref() {
            Some("agent_identity") => "the agent's own credentials",
            Some("end_user_delegated") => "the end user's credentials",
            Some("none") => "no credentials",
            _ => "credentials not stated",
        };
        systems.push(System {
            connection: name.clone(),
            system: get("system").unwrap_or_default(),
            data_classification: get("data_classification"),
            auth_mode,
            credentials: credentials.to_string(),
        });
    }
    systems
}

/// Every approval rule and `require_approval` glob that applies to an action the agent uses.
fn approvals(eff: &Effective, acts: &[String]) -> Vec<Approval> {
    let mut approvals = Vec::new();
    for r in eff.list(keys::POLICY_APPROVALS_RULES) {
        let Some(t) = r.value.as_table() else {
            continue;
        };
        let text = |k: &str| {
            t.get(k)
                .and_then(|n| n.value.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let action = text("action");
        if !acts.iter().any(|x| glob::matches(&action, x)) {
            continue;
        }
        approvals.push(Approval {
            kind: "rule",
            id: elem_id(r).map(String::from),
            when: t
                .get("when")
                .map(|w| crate::model::value::to_json(&w.value)),
            require: text("require"),
            approvers: t
                .get("approvers")
                .map(|n| n.value.strings())
                .unwrap_or_default(),
            action,
        });
    }
    for pat in list(eff, keys::POLICY_TOOLS_REQUIRE_APPROVAL) {
        if acts.iter().any(|x| glob::matches(&pat, x)) {
            approvals.push(Approval {
                kind: "require_approval",
                id: None,
                action: pat,
                when: None,
                require: "approval".into(),
                approvers: Vec::new(),
            });
        }
    }
    approvals
}

/// Every memory scope with a retention.
fn retention(eff: &Effective) -> Vec<Retention> {
    eff.table(keys::MEMORY_RETENTION_DAYS)
        .map(|t| {
            t.iter()
                .filter_map(|(k, n)| match n {
                    ENode::Leaf(l) => Some(Retention {
                        scope: k.clone(),
                        days: crate::model::value::to_json(&l.node.value),
                    }),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every escalation contact.
fn contacts(eff: &Effective) -> Vec<Contact> {
    let Some(t) = eff.table(keys::ESCALATION_CONTACTS) else {
        return Vec::new();
    };
    t.iter()
        .map(|(k, n)| {
            let leaf = |name: &str| match n {
                ENode::Table(c) => match c.get(name) {
                    Some(ENode::Leaf(l)) => Some(&l.node.value),
                    _ => None,
                },
                _ => None,
            };
            Contact {
                contact: k.clone(),
                who: leaf("who")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string(),
                channels: leaf("channels")
                    .map(crate::model::value::Value::strings)
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// Every remaining instruction fragment.
fn instructions(eff: &Effective) -> Vec<Instruction> {
    remaining_fragments(eff)
        .iter()
        .map(|f| Instruction {
            id: elem_id(f).unwrap_or_default().to_string(),
            file: f
                .value
                .as_table()
                .and_then(|t| t.get("file"))
                .and_then(|n| n.value.as_str())
                .map(String::from),
        })
        .collect()
}

/// Every fallback model.
fn fallbacks(eff: &Effective) -> Vec<Model> {
    eff.leaf(keys::MODEL_FALLBACKS)
        .and_then(|l| l.node.value.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| e.value.as_table())
                .map(|t| {
                    let get = |k: &str| {
                        t.get(k)
                            .and_then(|n| n.value.as_str())
                            .unwrap_or("?")
                            .to_string()
                    };
                    Model {
                        provider: get("provider"),
                        name: get("name"),
                    }
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
        r.last_change = if uncommitted_possible && lc.digest.as_ref() != Some(&r.digest) {
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
        assert_eq!(r.cell("model"), "openai/gpt-4.1");
        assert_eq!(r.cell("fallbacks"), "openai/o3");
        assert_eq!(r.actions, ["crm.get", "crm.refund"]);
        assert_eq!(
            r.cell("systems"),
            "crm: CRM (restricted; the agent's own credentials)"
        );
        assert_eq!(r.systems[0].auth_mode.as_deref(), Some("agent_identity"));
        assert_eq!(
            r.cell("approvals"),
            "big: crm.refund when {\"arg\":\"amount\",\"gt\":100} -> approval by role:fin"
        );
        assert_eq!(
            r.approvals[0].when,
            Some(serde_json::json!({"arg": "amount", "gt": 100}))
        );
        assert_eq!(r.cell("retention_days"), "session=7");
        assert_eq!(r.retention_days[0].days, serde_json::json!(7));
        assert_eq!(r.cell("contacts"), "ops: group:ops");
        assert_eq!(r.cell("instructions"), "s (inline)");
        assert_eq!(r.instructions[0].file, None);
        assert_eq!(r.last_change.status, ChangeStatus::Uncommitted);
        assert!(r.digest.starts_with("sha256:"));
    }
}
