//! Policy you can ask (spec section 10): may agent `A` perform action `X` with arguments `ARGS`?
//!
//! A [`Decider`] holds one loaded state of the repository with its merged prefixes, so a runtime
//! can load once and decide many calls:
//!
//! ```
//! use opl::policy::{Decider, Level};
//! use opl::repo::snapshot::Memory;
//!
//! let repo = opl::repo::layer::load(&Memory::new([
//!     ("opl.toml", "version = 1\n"),
//!     (
//!         "global/policy.toml",
//!         "[model]\nprovider = \"openai\"\nname = \"o3\"\n\n\
//!          [instructions]\nfragments = [{ id = \"s\", text = \"Be safe.\" }]\n\n\
//!          [escalation]\ndefault_target = \"desk\"\ncontacts.desk = { who = \"group:desk\" }\n\n\
//!          [connections.shop]\nsystem = \"Shop\"\n\n\
//!          [policy.approvals]\nrules = [{ id = \"big\", action = \"shop.refund\", \
//!          when = { arg = \"amount\", gt = 500 }, require = \"approval\", approvers = [\"role:finance\"] }]\n",
//!     ),
//!     (
//!         "agents/bot.toml",
//!         "[agent]\npurpose = \"Help\"\nowner = \"user:ann\"\n\n[tools.shop]\nuse = [\"refund\"]\n",
//!     ),
//! ]))
//! .unwrap();
//! let decider = Decider::new(&repo);
//! let small = decider.decide("bot", "shop.refund", &serde_json::json!({"amount": 20})).unwrap();
//! assert_eq!(small.decision, Level::Allow);
//! let large = decider.decide("bot", "shop.refund", &serde_json::json!({"amount": 900})).unwrap();
//! assert_eq!(large.decision, Level::Approval);
//! assert_eq!(large.approvers, ["role:finance"]);
//! ```

pub mod access;
pub mod suite;

use serde::Serialize;
use serde_json::Value as Json;

use crate::merge::provenance::Origin;
use crate::merge::stack::{AgentResult, Stacks};
use crate::model::glob;
use crate::model::schema::keys;
use crate::model::value::{Node, to_json};
use crate::repo::layer::{Repo, elem_id};

/// The approval ladder: `allow < notify < approval < deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Allow,
    Notify,
    Approval,
    Deny,
}

impl Level {
    /// The level a `require` value names.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "allow" => Some(Level::Allow),
            "notify" => Some(Level::Notify),
            "approval" => Some(Level::Approval),
            "deny" => Some(Level::Deny),
            _ => None,
        }
    }
    /// `allow`, `notify`, `approval` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Allow => "allow",
            Level::Notify => "notify",
            Level::Approval => "approval",
            Level::Deny => "deny",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of source decided (or raised) a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// An element of `policy.approvals.rules`.
    Rule,
    /// A `policy.tools.require_approval` glob.
    RequireApproval,
    /// A `policy.tools.deny` glob.
    Deny,
    /// `policy.tools.allow`, which does not cover the action.
    NotAllowed,
    /// No `tools.<c>.use` names the action.
    NotInUse,
    /// The agent has error findings: a broken config never allows anything.
    Invalid,
}

impl SourceKind {
    /// The kebab-case name (`require-approval`, `not-in-use`).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Rule => "rule",
            SourceKind::RequireApproval => "require-approval",
            SourceKind::Deny => "deny",
            SourceKind::NotAllowed => "not-allowed",
            SourceKind::NotInUse => "not-in-use",
            SourceKind::Invalid => "invalid",
        }
    }
}

/// One source of a decision, with where it is defined.
#[derive(Clone, Debug, Serialize)]
pub struct Source {
    pub kind: SourceKind,
    /// A rule's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A glob (`require_approval`, `deny`, a rule's `action`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub glob: Option<String>,
    /// The level this source applies at.
    pub require: Level,
    /// The rule's condition and why it applied (`amount 900 > 500`, `amount missing`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Where it is defined (file, line, column, layer); `None` for `not-in-use` and `invalid`.
    #[serde(flatten)]
    pub origin: Option<Origin>,
}

/// The answer to "may agent A perform action X with ARGS?".
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    pub agent: String,
    pub action: String,
    pub args: Json,
    pub decision: Level,
    /// `invalid`, `not-in-use`, `denied` or `not-allowed` for the early denials; `None` when the
    /// level came from the ladder.
    pub reason: Option<&'static str>,
    /// Every source that applies at the winning level.
    pub sources: Vec<Source>,
    /// Sources that applied at lower levels.
    pub also_applied: Vec<Source>,
    /// Who approves, when the decision is `approval`.
    pub approvers: Vec<String>,
    /// Arguments a rule needed and did not get (or got in a type it cannot compare): the rule
    /// applied, failing closed.
    pub missing_args: Vec<String>,
    /// The digest of the agent's rendered document; `None` when it has errors.
    pub digest: Option<String>,
    /// The error findings of an invalid agent, as `code: message`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

/// Decides calls for the agents of one loaded state.
pub struct Decider<'r> {
    repo: &'r Repo,
    stacks: Stacks<'r>,
}

impl<'r> Decider<'r> {
    /// Merges the shared layers once.
    pub fn new(repo: &'r Repo) -> Self {
        Decider {
            repo,
            stacks: Stacks::new(repo),
        }
    }

    /// The decision for `agent` calling `action` with `args` (a JSON object); `None` when the
    /// repository has no such agent.
    pub fn decide(&self, agent: &str, action: &str, args: &Json) -> Option<Decision> {
        let a = self.stacks.agent(agent)?;
        Some(decide_for(self.repo, &a, action, args))
    }
}

/// Spec section 10 for one merged agent.
pub fn decide_for(repo: &Repo, a: &AgentResult, action: &str, args: &Json) -> Decision {
    let mut d = Decision {
        agent: a.id.clone(),
        action: action.to_string(),
        args: args.clone(),
        decision: Level::Deny,
        reason: None,
        sources: Vec::new(),
        also_applied: Vec::new(),
        approvers: Vec::new(),
        missing_args: Vec::new(),
        digest: None,
        findings: Vec::new(),
    };
    // 1-3. A broken config, an action not in use, denied or not allowed: deny, whatever the
    // arguments.
    if let Some((reason, source)) = denied_before_the_ladder(repo, a, action) {
        d.reason = Some(reason);
        d.sources.push(source);
        if reason == "invalid" {
            d.findings = a
                .all_findings()
                .filter(|f| f.is_error())
                .map(|f| format!("{}: {}", f.code, f.message))
                .collect();
        } else {
            d.digest = Some(crate::render::digest(&crate::render::document(
                repo, &a.id, &a.eff,
            )));
        }
        return d;
    }
    let eff = &a.eff;
    d.digest = Some(crate::render::digest(&crate::render::document(
        repo, &a.id, eff,
    )));
    // 4. The ladder: every applying source raises the level; the highest wins.
    let mut applied: Vec<(Source, Vec<String>)> = Vec::new();
    for l in ladder(repo, eff, action) {
        let condition = match &l.when {
            None => None,
            Some(w) => match holds(w, args) {
                When::Holds(why) => Some(why),
                When::Not => continue,
                When::Missing(arg, why) => {
                    if !d.missing_args.contains(&arg) {
                        d.missing_args.push(arg);
                    }
                    Some(why)
                }
            },
        };
        applied.push((
            Source {
                condition,
                ..l.source
            },
            l.approvers,
        ));
    }
    d.decision = applied
        .iter()
        .map(|(s, _)| s.require)
        .max()
        .unwrap_or(Level::Allow);
    // 6. Approvers: the union over the sources applying at `approval`.
    if d.decision == Level::Approval {
        for (s, who) in &applied {
            if s.require == Level::Approval {
                for w in who {
                    if !d.approvers.contains(w) {
                        d.approvers.push(w.clone());
                    }
                }
            }
        }
    }
    // 7. What decided it, and what applied below it.
    for (s, _) in applied {
        if s.require == d.decision {
            d.sources.push(s);
        } else {
            d.also_applied.push(s);
        }
    }
    d
}

/// Steps 1-3 of spec section 10, which do not depend on the arguments: the reason and source of
/// a denial before the ladder, or `None`.
pub fn denied_before_the_ladder(
    repo: &Repo,
    a: &AgentResult,
    action: &str,
) -> Option<(&'static str, Source)> {
    let early = |kind, glob: Option<String>, origin| Source {
        kind,
        id: None,
        glob,
        require: Level::Deny,
        condition: None,
        origin,
    };
    // 1. A broken config never allows anything.
    if a.has_errors() {
        return Some(("invalid", early(SourceKind::Invalid, None, None)));
    }
    let eff = &a.eff;
    let origin = |n: &Node| Some(Origin::of(repo, n.span));
    // 2. Not in use.
    if !crate::render::action_nodes(eff)
        .into_iter()
        .any(|(x, _)| x == action)
    {
        return Some(("not-in-use", early(SourceKind::NotInUse, None, None)));
    }
    // 3. Denied, or not allowed.
    let globs = |path: keys::Path| -> Vec<&Node> {
        eff.leaf(path)
            .and_then(|l| l.node.value.as_array())
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    };
    if let Some(g) = globs(keys::POLICY_TOOLS_DENY)
        .into_iter()
        .find(|g| g.value.as_str().is_some_and(|p| glob::matches(p, action)))
    {
        let pattern = g.value.as_str().map(String::from);
        return Some(("denied", early(SourceKind::Deny, pattern, origin(g))));
    }
    if let Some(allow) = eff.leaf(keys::POLICY_TOOLS_ALLOW) {
        let covered = globs(keys::POLICY_TOOLS_ALLOW)
            .iter()
            .any(|g| g.value.as_str().is_some_and(|p| glob::matches(p, action)));
        if !covered {
            return Some((
                "not-allowed",
                early(SourceKind::NotAllowed, None, origin(&allow.node)),
            ));
        }
    }
    None
}

/// A source of the ladder that matches an action, before its condition is judged.
pub struct Step {
    pub source: Source,
    /// The rule's `when`, as JSON; `None` when it always applies.
    pub when: Option<Json>,
    /// The approvers it contributes at `approval`.
    pub approvers: Vec<String>,
}

/// Every `require_approval` glob and approval rule that matches `action` (spec 10, rule 4).
pub fn ladder(repo: &Repo, eff: &crate::merge::Effective, action: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let origin = |n: &Node| Some(Origin::of(repo, n.span));
    let globs = eff
        .leaf(keys::POLICY_TOOLS_REQUIRE_APPROVAL)
        .and_then(|l| l.node.value.as_array())
        .unwrap_or_default();
    for g in globs {
        let Some(p) = g.value.as_str() else { continue };
        if glob::matches(p, action) {
            out.push(Step {
                source: Source {
                    kind: SourceKind::RequireApproval,
                    id: None,
                    glob: Some(p.to_string()),
                    require: Level::Approval,
                    condition: None,
                    origin: origin(g),
                },
                when: None,
                approvers: default_target_who(eff).into_iter().collect(),
            });
        }
    }
    for rule in eff.list(keys::POLICY_APPROVALS_RULES) {
        let Some(t) = rule.value.as_table() else {
            continue;
        };
        let text = |k: &str| t.get(k).and_then(|n| n.value.as_str());
        let (Some(pattern), Some(require)) =
            (text("action"), text("require").and_then(Level::parse))
        else {
            continue;
        };
        if !glob::matches(pattern, action) {
            continue;
        }
        out.push(Step {
            source: Source {
                kind: SourceKind::Rule,
                id: elem_id(rule).map(String::from),
                glob: Some(pattern.to_string()),
                require,
                condition: None,
                origin: origin(rule),
            },
            when: t.get("when").map(|w| to_json(&w.value)),
            approvers: t
                .get("approvers")
                .map(|n| n.value.strings())
                .unwrap_or_default(),
        });
    }
    out
}

/// `amount > 500`: a rule's condition in words.
pub fn condition_text(when: &Json) -> String {
    let arg = when.get("arg").and_then(Json::as_str).unwrap_or("?");
    for (op, sym) in [
        ("gt", ">"),
        ("gte", ">="),
        ("lt", "<"),
        ("lte", "<="),
        ("eq", "="),
    ] {
        if let Some(v) = when.get(op) {
            return format!("{arg} {sym} {}", crate::merge::provenance::short(v, 40));
        }
    }
    arg.to_string()
}

/// The `who` of the agent's `escalation.default_target` contact.
fn default_target_who(eff: &crate::merge::Effective) -> Option<String> {
    let target = eff
        .leaf(keys::ESCALATION_DEFAULT_TARGET)?
        .node
        .value
        .as_str()?
        .to_string();
    match eff.table(keys::ESCALATION_CONTACTS)?.get(&target)? {
        crate::merge::ENode::Table(c) => match c.get("who")? {
            crate::merge::ENode::Leaf(l) => l.node.value.as_str().map(String::from),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a rule's `when` holds for the arguments.
enum When {
    /// It holds; why, in words.
    Holds(String),
    /// It does not hold.
    Not,
    /// The argument is absent or not comparable: the rule applies (fail closed).
    Missing(String, String),
}

/// `when = { arg = "N", <op> = V }` against `args` (spec section 10, rule 5).
fn holds(when: &Json, args: &Json) -> When {
    let Some(arg) = when.get("arg").and_then(Json::as_str) else {
        return When::Not;
    };
    let Some((op, want)) = ["gt", "gte", "lt", "lte", "eq"]
        .iter()
        .find_map(|op| when.get(*op).map(|v| (*op, v)))
    else {
        return When::Not;
    };
    let got = arg
        .split('.')
        .try_fold(args, |v, k| v.as_object().and_then(|o| o.get(k)));
    let missing = |why: &str| When::Missing(arg.to_string(), format!("{arg} {why}"));
    let Some(got) = got else {
        return missing("missing");
    };
    let show = |v: &Json| crate::merge::provenance::short(v, 40);
    if op == "eq" {
        let same_type = match (got, want) {
            (Json::Number(_), Json::Number(_)) => true,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        };
        if !same_type {
            return missing(&format!(
                "is {}, not comparable with {}",
                show(got),
                show(want)
            ));
        }
        let equal = match (got.as_f64(), want.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => got == want,
        };
        return if equal {
            When::Holds(format!("{arg} = {}", show(want)))
        } else {
            When::Not
        };
    }
    let (Some(a), Some(b)) = (got.as_f64(), want.as_f64()) else {
        return missing(&format!("is {}, not a number", show(got)));
    };
    let (ok, sym) = match op {
        "gt" => (a > b, ">"),
        "gte" => (a >= b, ">="),
        "lt" => (a < b, "<"),
        _ => (a <= b, "<="),
    };
    if ok {
        When::Holds(format!("{arg} {} {sym} {}", show(got), show(want)))
    } else {
        When::Not
    }
}

/// Arguments from `K=V` pairs: `V` is JSON when it parses as JSON (`900`, `true`, `"x"`,
/// `{"a": 1}`), else a string; a dotted `K` builds nested objects (`refund.amount=900`).
pub fn args_from_pairs(pairs: &[String]) -> Result<Json, String> {
    let mut root = serde_json::Map::new();
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}` is not NAME=VALUE"))?;
        if k.is_empty() || k.split('.').any(str::is_empty) {
            return Err(format!("`{k}` is not an argument name"));
        }
        let value = serde_json::from_str(v).unwrap_or_else(|_| Json::String(v.to_string()));
        let mut keys: Vec<&str> = k.split('.').collect();
        let last = keys.pop().expect("split yields one");
        let mut at = &mut root;
        for key in keys {
            let next = at
                .entry(key.to_string())
                .or_insert_with(|| Json::Object(serde_json::Map::new()));
            if !next.is_object() {
                return Err(format!("`{k}`: `{key}` is already a value"));
            }
            at = next.as_object_mut().expect("checked");
        }
        at.insert(last.to_string(), value);
    }
    Ok(Json::Object(root))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn when(op: &str, v: Json) -> Json {
        let mut w = json!({"arg": "amount"});
        w[op] = v;
        w
    }

    #[test]
    fn each_comparator_at_below_and_above_its_value() {
        let at = |op: &str, got: f64| match holds(&when(op, json!(500)), &json!({"amount": got})) {
            When::Holds(_) => true,
            When::Not => false,
            When::Missing(..) => panic!("comparable"),
        };
        assert_eq!(
            [at("gt", 499.0), at("gt", 500.0), at("gt", 501.0)],
            [false, false, true]
        );
        assert_eq!(
            [at("gte", 499.0), at("gte", 500.0), at("gte", 501.0)],
            [false, true, true]
        );
        assert_eq!(
            [at("lt", 499.0), at("lt", 500.0), at("lt", 501.0)],
            [true, false, false]
        );
        assert_eq!(
            [at("lte", 499.0), at("lte", 500.0), at("lte", 501.0)],
            [true, true, false]
        );
        assert_eq!(
            [at("eq", 499.0), at("eq", 500.0), at("eq", 501.0)],
            [false, true, false]
        );
    }

    #[test]
    fn integers_equal_floats_and_other_types_fail_closed() {
        assert!(matches!(
            holds(&when("eq", json!(3)), &json!({"amount": 3.0})),
            When::Holds(_)
        ));
        assert!(matches!(
            holds(&when("gt", json!(3)), &json!({"amount": "900"})),
            When::Missing(..)
        ));
        assert!(matches!(
            holds(&when("eq", json!("eur")), &json!({"amount": 3})),
            When::Missing(..)
        ));
        assert!(matches!(
            holds(&when("gt", json!(3)), &json!({})),
            When::Missing(..)
        ));
        assert!(matches!(
            holds(
                &json!({"arg": "refund.amount", "gt": 5}),
                &json!({"refund": {"amount": 9}})
            ),
            When::Holds(_)
        ));
        assert!(matches!(
            holds(
                &json!({"arg": "refund.amount", "gt": 5}),
                &json!({"refund": 9})
            ),
            When::Missing(..)
        ));
    }

    #[test]
    fn argument_pairs_parse_as_json_when_they_can() {
        let a = args_from_pairs(&[
            "amount=900".into(),
            "note=hi".into(),
            "refund.currency=\"eur\"".into(),
            "refund.items=[1,2]".into(),
        ])
        .unwrap();
        assert_eq!(
            a,
            json!({"amount": 900, "note": "hi", "refund": {"currency": "eur", "items": [1, 2]}})
        );
        assert!(args_from_pairs(&["novalue".into()]).is_err());
        assert!(args_from_pairs(&["a=1".into(), "a.b=2".into()]).is_err());
    }
}
