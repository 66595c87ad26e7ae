//! Access (spec section 10): for every agent and every action it uses, the level with no
//! conditional rule applying (`base`), the level when every conditional rule applies (`max`), and
//! the conditions between them. What an access review signs.

use serde::Serialize;

use super::{Level, Source, condition_text, denied_before_the_ladder, ladder};
use crate::merge::provenance::Origin;
use crate::merge::stack::{AgentResult, Stacks};
use crate::model::schema::keys;
use crate::repo::layer::Repo;

/// A condition that raises an action above its base level.
#[derive(Clone, Debug, Serialize)]
pub struct Condition {
    /// The level it raises the action to.
    pub level: Level,
    /// `amount > 500`.
    pub when: String,
    /// The rule's id.
    pub rule: String,
}

/// One (agent, action) of the access report.
#[derive(Clone, Debug, Serialize)]
pub struct AccessRow {
    pub agent: String,
    pub client: Option<String>,
    pub owner: String,
    pub risk_tier: String,
    pub action: String,
    pub connection: String,
    pub system: Option<String>,
    pub data_classification: Option<String>,
    pub auth_mode: Option<String>,
    /// The level when no conditional rule applies.
    pub base: Level,
    /// The level when every conditional rule applies.
    pub max: Level,
    /// The conditions that raise it above `base`, each with the level it raises it to.
    pub conditions: Vec<Condition>,
    /// Who approves where the level is `approval`.
    pub approvers: Vec<String>,
    /// `invalid`, `denied` or `not-allowed` when the action is denied before the ladder.
    pub reason: Option<&'static str>,
    /// Where the action is granted (its `tools.*.use` entry).
    pub granted_at: Option<Origin>,
    /// The sources of the ladder that match the action.
    pub sources: Vec<Source>,
}

impl AccessRow {
    /// `approval if amount > 500 (org.refund-large)`, joined with `; `.
    pub fn conditions_text(&self) -> String {
        self.conditions
            .iter()
            .map(|c| format!("{} if {} ({})", c.level, c.when, c.rule))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The access rows of the agents `wanted` accepts, by agent then action.
pub fn access(repo: &Repo, wanted: &(dyn Fn(&str, Option<&str>) -> bool + Sync)) -> Vec<AccessRow> {
    use rayon::prelude::*;
    let stacks = Stacks::new(repo);
    let ids: Vec<&String> = repo.agents.keys().collect();
    ids.par_iter()
        .flat_map_iter(|id| match stacks.agent(id) {
            Some(a) if wanted(id, a.client.as_deref()) => agent_rows(repo, &a),
            _ => Vec::new(),
        })
        .collect()
}

/// The access rows of one merged agent, by action.
pub fn agent_rows(repo: &Repo, a: &AgentResult) -> Vec<AccessRow> {
    let id = a.id.as_str();
    let mut rows = Vec::new();
    {
        let eff = &a.eff;
        let text = |k: keys::Path| {
            eff.leaf(k)
                .and_then(|l| l.node.value.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let mut actions = crate::render::action_nodes(eff);
        actions.sort_by(|x, y| x.0.cmp(&y.0));
        actions.dedup_by(|x, y| x.0 == y.0);
        for (action, node) in actions {
            let connection = action.split('.').next().unwrap_or_default().to_string();
            let conn = |k: &str| match eff
                .table(keys::CONNECTIONS)
                .and_then(|t| t.get(&connection))
            {
                Some(crate::merge::ENode::Table(t)) => match t.get(k) {
                    Some(crate::merge::ENode::Leaf(l)) => l.node.value.as_str().map(String::from),
                    Some(crate::merge::ENode::Table(auth)) if k == "auth" => {
                        match auth.get("mode") {
                            Some(crate::merge::ENode::Leaf(l)) => {
                                l.node.value.as_str().map(String::from)
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                },
                _ => None,
            };
            let mut row = AccessRow {
                agent: id.to_string(),
                client: a.client.clone(),
                owner: text(keys::AGENT_OWNER),
                risk_tier: text(keys::AGENT_RISK_TIER),
                connection: connection.clone(),
                system: conn("system"),
                data_classification: conn("data_classification"),
                auth_mode: conn("auth"),
                base: Level::Deny,
                max: Level::Deny,
                conditions: Vec::new(),
                approvers: Vec::new(),
                reason: None,
                granted_at: Some(Origin::of(repo, node.span)),
                sources: Vec::new(),
                action: action.clone(),
            };
            // The early denials do not depend on arguments.
            if let Some((reason, source)) = denied_before_the_ladder(repo, a, &action) {
                row.reason = Some(reason);
                row.sources = vec![source];
                rows.push(row);
                continue;
            }
            let steps = ladder(repo, eff, &action);
            row.base = steps
                .iter()
                .filter(|s| s.when.is_none())
                .map(|s| s.source.require)
                .max()
                .unwrap_or(Level::Allow);
            row.max = steps
                .iter()
                .map(|s| s.source.require)
                .max()
                .unwrap_or(Level::Allow)
                .max(row.base);
            for s in &steps {
                if let Some(w) = &s.when
                    && s.source.require > row.base
                {
                    row.conditions.push(Condition {
                        level: s.source.require,
                        when: condition_text(w),
                        rule: s.source.id.clone().unwrap_or_default(),
                    });
                }
                if s.source.require == Level::Approval {
                    for who in &s.approvers {
                        if !row.approvers.contains(who) {
                            row.approvers.push(who.clone());
                        }
                    }
                }
            }
            row.sources = steps.into_iter().map(|s| s.source).collect();
            rows.push(row);
        }
    }
    rows
}
