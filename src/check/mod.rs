//! Checks across keys of one agent's effective config (spec sections 5 and 6).
//!
//! Each error carries the spans of both sides: the setting and the policy it breaks. The
//! warnings `dead-rule` and `unused-connection` are about definitions that may be inherited by
//! many agents, so they are returned as [`Usage`] and reported only when no agent uses them.

pub mod lint;
pub mod owners;
pub mod secret;
pub mod shape;

use crate::diagnostic::{Code, Finding, did_you_mean};
use crate::merge::{ENode, Effective, Leaf};
use crate::model::glob;
use crate::model::schema::keys;
use crate::model::source::{Span, safe};
use crate::model::value::Node;
use crate::render::action_nodes;

/// A definition that is a warning unless some agent uses it.
#[derive(Clone, Debug)]
pub struct Usage {
    pub span: Span,
    pub used: bool,
    /// What the warning says when no agent uses it (kept only when this agent does not; the
    /// warning is built once, for the definitions no agent uses).
    pub unused: Option<Unused>,
}

/// A definition an agent does not use, by kind and name.
#[derive(Clone, Debug)]
pub enum Unused {
    /// `connections.<name>`.
    Connection(String),
    /// A `policy.tools.require_approval` pattern.
    ApprovalPattern(String),
    /// A `policy.approvals.rules` element: its id and action pattern.
    ApprovalRule { id: String, action: String },
}

impl Unused {
    /// The warning for this definition, at `span`, when no agent that inherits it uses it.
    pub fn finding(&self, span: Span) -> Finding {
        match self {
            Unused::Connection(name) => Finding::new(
                Code::UnusedConnection,
                span,
                format!(
                    "connection `{}` is used by no agent that inherits it",
                    safe(name)
                ),
            )
            .label("unused")
            .help("remove it, or add its tools under [tools.<name>] use = [...]"),
            Unused::ApprovalPattern(pat) => Finding::new(
                Code::DeadRule,
                span,
                format!(
                    "require_approval pattern `{}` matches no action of any agent that inherits it",
                    safe(pat)
                ),
            )
            .label("matches nothing"),
            Unused::ApprovalRule { id, action } => Finding::new(
                Code::DeadRule,
                span,
                format!(
                    "approval rule `{}` (action `{}`) matches no action of any agent that inherits it",
                    safe(id),
                    safe(action)
                ),
            )
            .label("matches nothing"),
        }
    }
}

fn strings(l: Option<&Leaf>) -> Vec<(&str, &Node)> {
    l.and_then(|l| l.node.value.as_array())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.value.as_str().map(|s| (s, e)))
        .collect()
}

/// Runs every check across keys; `anchor` is where findings about absent values point.
pub fn check_agent(eff: &Effective, anchor: Span, findings: &mut Vec<Finding>) -> Vec<Usage> {
    let mut usage = Vec::new();
    check_missing(eff, anchor, findings);
    check_model(eff, findings);
    check_tools(eff, findings, &mut usage);
    check_memory(eff, findings);
    check_escalation(eff, findings);
    usage
}

fn missing(anchor: Span, what: &str, help: &str) -> Finding {
    Finding::new(
        Code::Missing,
        anchor,
        format!("the effective config has no `{what}`"),
    )
    .label("required")
    .help(help.to_string())
}

fn check_missing(eff: &Effective, anchor: Span, f: &mut Vec<Finding>) {
    for (keys, help) in [
        (
            keys::AGENT_PURPOSE,
            "say what the agent is for: [agent] purpose = \"...\"",
        ),
        (
            keys::AGENT_OWNER,
            "name the accountable human: [agent] owner = \"user:...\"",
        ),
        (
            keys::MODEL_PROVIDER,
            "set [model] provider in this agent or a layer it inherits",
        ),
        (
            keys::MODEL_NAME,
            "set [model] name in this agent or a layer it inherits",
        ),
        (
            keys::ESCALATION_DEFAULT_TARGET,
            "set [escalation] default_target to a contact",
        ),
    ] {
        if eff.leaf(keys).is_none() {
            f.push(missing(anchor, &keys.join("."), help));
        }
    }
    if eff.list(keys::INSTRUCTIONS_FRAGMENTS).is_empty() {
        f.push(missing(
            anchor,
            "instructions.fragments",
            "give at least one fragment: fragments = [{ id = \"...\", text = \"...\" }]",
        ));
    }
    if let Some(conns) = eff.table(keys::CONNECTIONS) {
        for (name, n) in conns.iter() {
            if let ENode::Table(t) = n
                && !t.entries.contains_key("system")
            {
                f.push(
                    Finding::new(
                        Code::Missing,
                        t.span.unwrap_or(anchor),
                        format!("connection `{}` has no `system`", safe(name)),
                    )
                    .label("connection")
                    .help("name the connected system for the inventory: system = \"...\""),
                );
            }
        }
    }
}

fn check_model(eff: &Effective, f: &mut Vec<Finding>) {
    check_provider(eff, f);
    check_model_names(eff, f);
    check_parameters(eff, f);
    check_fallback_required(eff, f);
}

/// `model.provider` outside `policy.model.allow_providers`.
fn check_provider(eff: &Effective, f: &mut Vec<Finding>) {
    let provider = eff.leaf(keys::MODEL_PROVIDER);
    if let (Some(p), Some(allow)) = (provider, eff.leaf(keys::POLICY_MODEL_ALLOW_PROVIDERS)) {
        let name = p.node.value.as_str().unwrap_or_default();
        let allowed = strings(Some(allow));
        if !allowed.iter().any(|(a, _)| glob::matches(a, name)) {
            f.push(
                Finding::new(
                    Code::PolicyViolation,
                    p.node.span,
                    format!(
                        "model provider `{}` is not in policy.model.allow_providers",
                        safe(name)
                    ),
                )
                .label("provider")
                .related(allow.node.span, "allowed providers"),
            );
        }
    }
}

/// `model.name` or a fallback's name matching `policy.model.deny_models`.
fn check_model_names(eff: &Effective, f: &mut Vec<Finding>) {
    let deny = strings(eff.leaf(keys::POLICY_MODEL_DENY_MODELS));
    let mut names: Vec<&Node> = eff
        .leaf(keys::MODEL_NAME)
        .map(|l| &l.node)
        .into_iter()
        .collect();
    if let Some(fb) = eff.leaf(keys::MODEL_FALLBACKS) {
        for e in fb.node.value.as_array().unwrap_or_default() {
            if let Some(n) = e.value.as_table().and_then(|t| t.get("name")) {
                names.push(n);
            }
        }
    }
    for n in names {
        let name = n.value.as_str().unwrap_or_default();
        if let Some((pat, pn)) = deny.iter().find(|(p, _)| glob::matches(p, name)) {
            f.push(
                Finding::new(
                    Code::PolicyViolation,
                    n.span,
                    format!(
                        "model `{}` matches denied pattern `{}`",
                        safe(name),
                        safe(pat)
                    ),
                )
                .label("denied model")
                .related(pn.span, "denied here"),
            );
        }
    }
}

/// Model parameters above their policy ceiling.
fn check_parameters(eff: &Effective, f: &mut Vec<Finding>) {
    for (param, ceiling) in [
        (
            keys::MODEL_PARAMETERS_TEMPERATURE,
            keys::POLICY_MODEL_MAX_TEMPERATURE,
        ),
        (
            keys::MODEL_PARAMETERS_MAX_OUTPUT_TOKENS,
            keys::POLICY_MODEL_MAX_OUTPUT_TOKENS,
        ),
    ] {
        let (name, limit) = (param[2], ceiling[2]);
        if let (Some(v), Some(c)) = (eff.leaf(param), eff.leaf(ceiling)) {
            let (a, b) = (
                v.node.value.as_f64().unwrap_or(0.0),
                c.node.value.as_f64().unwrap_or(0.0),
            );
            if a > b {
                f.push(
                    Finding::new(
                        Code::PolicyViolation,
                        v.node.span,
                        format!(
                            "model.parameters.{name} = {} is above the ceiling {}",
                            v.node.value.short(),
                            c.node.value.short()
                        ),
                    )
                    .label("above the ceiling")
                    .related(c.node.span, format!("policy.model.{limit}")),
                );
            }
        }
    }
}

/// No fallback model while `policy.model.require_fallback`.
fn check_fallback_required(eff: &Effective, f: &mut Vec<Finding>) {
    if let Some(req) = eff.leaf(keys::POLICY_MODEL_REQUIRE_FALLBACK)
        && matches!(req.node.value, crate::model::value::Value::Boolean(true))
    {
        let has = eff
            .leaf(keys::MODEL_FALLBACKS)
            .and_then(|l| l.node.value.as_array())
            .is_some_and(|a| !a.is_empty());
        if !has {
            let at = eff
                .leaf(keys::MODEL_NAME)
                .map(|l| l.node.span)
                .unwrap_or(req.node.span);
            f.push(
                Finding::new(
                    Code::PolicyViolation,
                    at,
                    "the policy requires a fallback model and this agent has none",
                )
                .label("no model.fallbacks")
                .related(req.node.span, "required here")
                .help("add fallbacks = [{ provider = \"...\", name = \"...\" }] under [model]"),
            );
        }
    }
}

fn check_tools(eff: &Effective, f: &mut Vec<Finding>, usage: &mut Vec<Usage>) {
    let actions = action_nodes(eff);
    check_tool_connections(eff, f);
    check_actions(eff, &actions, f);
    usage_of_definitions(eff, &actions, usage);
}

/// `tools.<name>` naming no connection.
fn check_tool_connections(eff: &Effective, f: &mut Vec<Finding>) {
    let conn_names: Vec<&str> = eff
        .table(keys::CONNECTIONS)
        .map(|c| c.entries.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if let Some(tools) = eff.table(keys::TOOLS) {
        for (name, n) in tools.iter() {
            if !conn_names.contains(&name.as_str()) {
                let ENode::Table(t) = n else { continue };
                let mut fi = Finding::new(
                    Code::UnknownConnection,
                    t.span.expect("tables have spans"),
                    format!("`tools.{}` names no connection", safe(name)),
                )
                .label("unknown connection");
                if let Some(m) = did_you_mean(name, conn_names.iter().copied()) {
                    fi = fi.help(format!("did you mean `{m}`?"));
                } else {
                    fi = fi.help(
                        "define it under [connections.<name>] in this agent or a layer it inherits",
                    );
                }
                f.push(fi);
            }
        }
    }
}

/// Actions matching `policy.tools.deny`, or not covered by `policy.tools.allow`.
fn check_actions(eff: &Effective, actions: &[(String, &Node)], f: &mut Vec<Finding>) {
    let deny = strings(eff.leaf(keys::POLICY_TOOLS_DENY));
    let allow_leaf = eff.leaf(keys::POLICY_TOOLS_ALLOW);
    let allow = strings(allow_leaf);
    for (action, node) in actions {
        if let Some((pat, pn)) = deny.iter().find(|(p, _)| glob::matches(p, action)) {
            f.push(
                Finding::new(
                    Code::DeniedAction,
                    node.span,
                    format!(
                        "action `{}` matches denied pattern `{}`",
                        safe(action),
                        safe(pat)
                    ),
                )
                .label("denied action")
                .related(pn.span, "denied here")
                .help("deny beats allow at every layer: remove the tool from `use`"),
            );
        } else if let Some(al) = allow_leaf
            && !allow.iter().any(|(p, _)| glob::matches(p, action))
        {
            f.push(
                Finding::new(
                    Code::NotAllowedAction,
                    node.span,
                    format!(
                        "action `{}` is not covered by policy.tools.allow",
                        safe(action)
                    ),
                )
                .label("not allowed")
                .related(al.node.span, "allowed actions"),
            );
        }
    }
}

/// Whether this agent uses each connection, `require_approval` glob and approval rule it
/// inherits: the warnings depend on every agent (a definition is unused when no agent uses it).
fn usage_of_definitions(eff: &Effective, actions: &[(String, &Node)], usage: &mut Vec<Usage>) {
    if let Some(c) = eff.table(keys::CONNECTIONS) {
        for (name, n) in c.iter() {
            let ENode::Table(t) = n else { continue };
            let span = t.span.expect("tables have spans");
            let used = actions.iter().any(|(a, _)| {
                a.strip_prefix(name.as_str())
                    .is_some_and(|r| r.starts_with('.'))
            });
            usage.push(Usage {
                span,
                used,
                unused: (!used).then(|| Unused::Connection(name.clone())),
            });
        }
    }
    for (pat, pn) in strings(eff.leaf(keys::POLICY_TOOLS_REQUIRE_APPROVAL)) {
        let used = actions.iter().any(|(a, _)| glob::matches(pat, a));
        usage.push(Usage {
            span: pn.span,
            used,
            unused: (!used).then(|| Unused::ApprovalPattern(pat.to_string())),
        });
    }
    for rule in eff.list(keys::POLICY_APPROVALS_RULES) {
        let Some(t) = rule.value.as_table() else {
            continue;
        };
        let Some(an) = t.get("action") else { continue };
        let pat = an.value.as_str().unwrap_or_default();
        let used = actions.iter().any(|(a, _)| glob::matches(pat, a));
        let id = crate::repo::layer::elem_id(rule).unwrap_or_default();
        usage.push(Usage {
            span: an.span,
            used,
            unused: (!used).then(|| Unused::ApprovalRule {
                id: id.to_string(),
                action: pat.to_string(),
            }),
        });
    }
}

fn check_memory(eff: &Effective, f: &mut Vec<Finding>) {
    let scopes = strings(eff.leaf(keys::MEMORY_SCOPES));
    if let Some(allow) = eff.leaf(keys::POLICY_MEMORY_ALLOW_SCOPES) {
        let allowed = strings(Some(allow));
        for (s, n) in &scopes {
            if !allowed.iter().any(|(a, _)| glob::matches(a, s)) {
                f.push(
                    Finding::new(
                        Code::PolicyViolation,
                        n.span,
                        format!(
                            "memory scope `{}` is not in policy.memory.allow_scopes",
                            safe(s)
                        ),
                    )
                    .label("scope not allowed")
                    .related(allow.node.span, "allowed scopes"),
                );
            }
        }
    }
    let retention = eff.table(keys::MEMORY_RETENTION_DAYS);
    for (s, n) in &scopes {
        let r = retention.and_then(|t| t.get(s));
        match r {
            None => {
                let mut finding = Finding::new(
                    Code::UnboundedMemory,
                    n.span,
                    format!("memory scope `{}` has no retention", safe(s)),
                )
                .label("kept forever")
                .help(format!("set [memory] retention_days.{} = <days>", safe(s)));
                // The other side: the retentions it is missing from, or the table they belong in.
                let other = match retention.and_then(|t| t.span) {
                    Some(span) => Some((span, "retention_days has no entry for it")),
                    None => eff
                        .table(keys::MEMORY)
                        .and_then(|t| t.span)
                        .map(|span| (span, "no retention_days in [memory]")),
                };
                if let Some((span, label)) = other {
                    finding = finding.related(span, label);
                }
                f.push(finding);
            }
            Some(ENode::Leaf(l)) => {
                if let Some(ENode::Leaf(c)) = eff
                    .table(keys::POLICY_MEMORY_MAX_RETENTION_DAYS)
                    .and_then(|t| t.get(s))
                    && l.node.value.as_f64() > c.node.value.as_f64()
                {
                    f.push(
                        Finding::new(
                            Code::PolicyViolation,
                            l.node.span,
                            format!(
                                "retention of `{}` ({} days) is above the ceiling of {} days",
                                safe(s),
                                l.node.value.short(),
                                c.node.value.short()
                            ),
                        )
                        .label("above the ceiling")
                        .related(c.node.span, "policy.memory.max_retention_days"),
                    );
                }
            }
            Some(_) => {}
        }
    }
    if let Some(allow) = eff.leaf(keys::POLICY_MEMORY_INSPECTORS_ALLOW) {
        let allowed = strings(Some(allow));
        for (s, n) in strings(eff.leaf(keys::MEMORY_INSPECTORS)) {
            if !allowed.iter().any(|(a, _)| glob::matches(a, s)) {
                f.push(
                    Finding::new(
                        Code::PolicyViolation,
                        n.span,
                        format!(
                            "memory inspector `{}` is not in policy.memory.inspectors_allow",
                            safe(s)
                        ),
                    )
                    .label("inspector not allowed")
                    .related(allow.node.span, "allowed inspectors"),
                );
            }
        }
    }
}

fn check_escalation(eff: &Effective, f: &mut Vec<Finding>) {
    let contacts: Vec<&str> = eff
        .table(keys::ESCALATION_CONTACTS)
        .map(|t| t.entries.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let contacts_span = eff.table(keys::ESCALATION_CONTACTS).and_then(|t| t.span);
    let mut targets: Vec<&Node> = eff
        .leaf(keys::ESCALATION_DEFAULT_TARGET)
        .map(|l| &l.node)
        .into_iter()
        .collect();
    for t in eff.list(keys::ESCALATION_TRIGGERS) {
        if let Some(h) = t.value.as_table().and_then(|t| t.get("handoff_to")) {
            targets.push(h);
        }
    }
    for n in targets {
        let name = n.value.as_str().unwrap_or_default();
        if !contacts.contains(&name) {
            let mut fi = Finding::new(
                Code::UnknownContact,
                n.span,
                format!("`{}` names no contact in escalation.contacts", safe(name)),
            )
            .label("unknown contact");
            if let Some(s) = contacts_span {
                fi = fi.related(s, "contacts defined here");
            }
            if let Some(m) = did_you_mean(name, contacts.iter().copied()) {
                fi = fi.help(format!("did you mean `{m}`?"));
            } else {
                fi = fi.help("define it: [escalation.contacts.<name>] who = \"...\"");
            }
            f.push(fi);
        }
    }
}
