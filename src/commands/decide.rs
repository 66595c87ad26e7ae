//! `opl decide AGENT ACTION [--arg NAME=VALUE]...`: the decision of spec section 10.

use serde_json::{Value as Json, json};

use super::{Ctx, Failure, Outcome, emit, locate, state_of, unknown_agent};
use crate::cli::{DecideArgs, FindingsFormat};
use crate::git::State;
use crate::model::source::safe;
use crate::output::paint;
use crate::policy::{Decider, Decision, Level, SourceKind, args_from_pairs};
use crate::repo::layout::Selection;

/// Runs `opl decide`.
pub fn run(ctx: &mut Ctx, args: &DecideArgs) -> Outcome {
    let mut call = match &args.args_json {
        Some(text) => serde_json::from_str::<Json>(text)
            .map_err(|e| Failure(format!("--args-json is not JSON: {e}")))?,
        None => json!({}),
    };
    if !call.is_object() {
        return Err(Failure("--args-json must be a JSON object".into()));
    }
    let pairs = args_from_pairs(&args.args).map_err(Failure)?;
    merge(&mut call, pairs);
    let state = state_of(&args.source);
    let (root, git) = locate(ctx.repo.as_deref(), &state)?;
    // Only the agent's layers are read.
    let only = Selection::Agents([args.agent.clone()].into_iter().collect());
    let repo = crate::repo::load::load_state(&root, git.as_ref(), &state, &only)?;
    let decider = Decider::new(&repo);
    let Some(d) = decider.decide(&args.agent, &args.action, &call) else {
        return Err(match git.as_ref() {
            Some(g) => Failure(
                crate::repo::load::agent_exists(&root, g, &state, &args.agent)
                    .err()
                    .unwrap_or_else(|| format!("no agent `{}`", safe(&args.agent))),
            ),
            None => {
                let all = crate::repo::load::load_state(
                    &root,
                    None,
                    &State::WorkTree,
                    &Selection::Agents(Default::default()),
                )?;
                unknown_agent(&all, &args.agent)
            }
        });
    };
    let revision = match (&state, &git) {
        (State::Rev(r), Some(g)) => Some(g.commit_id(r).map_err(|e| Failure(e.0))?),
        _ => None,
    };
    let text = match args.format {
        FindingsFormat::Json => {
            let mut v = serde_json::to_value(&d).expect("decisions serialize");
            v["revision"] = json!(revision);
            v["state"] = json!(match state {
                State::WorkTree => "work tree",
                State::Index => "index",
                _ => "revision",
            });
            crate::output::json_text(&v)
        }
        FindingsFormat::Human => human(&d, ctx.style.color),
    };
    emit(ctx.out, &text)?;
    super::leak(repo);
    Ok(crate::EXIT_CLEAN)
}

/// Adds `from`'s members to `into`, objects merged key by key.
fn merge(into: &mut Json, from: Json) {
    match (into, from) {
        (Json::Object(a), Json::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// One sentence, then the sources with their locations.
fn human(d: &Decision, color: bool) -> String {
    let level = paint(
        d.decision.as_str(),
        match d.decision {
            Level::Allow => "32;1",
            Level::Notify => "36;1",
            Level::Approval => "33;1",
            Level::Deny => "31;1",
        },
        color,
    );
    let (agent, action) = (safe(&d.agent), safe(&d.action));
    let mut out = match (d.decision, d.reason) {
        (_, Some("invalid")) => format!(
            "{level}: agent `{agent}` has errors, and a broken config allows nothing (`opl validate {agent}`)\n"
        ),
        (_, Some("not-in-use")) => {
            format!("{level}: agent `{agent}` does not use `{action}` (no tools.*.use names it)\n")
        }
        (_, Some("denied")) => format!("{level}: `{action}` is denied to agent `{agent}`\n"),
        (_, Some("not-allowed")) => format!(
            "{level}: `{action}` is not covered by the policy.tools.allow of agent `{agent}`\n"
        ),
        (Level::Approval, _) => format!(
            "{level}: agent `{agent}` may call `{action}` once approved by {}\n",
            if d.approvers.is_empty() {
                "(no approver named)".to_string()
            } else {
                d.approvers
                    .iter()
                    .map(|a| safe(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        (Level::Notify, _) => {
            format!("{level}: agent `{agent}` may call `{action}`, and someone is notified\n")
        }
        (Level::Allow, _) => format!("{level}: agent `{agent}` may call `{action}`\n"),
        (Level::Deny, _) => format!("{level}: a rule denies `{action}` to agent `{agent}`\n"),
    };
    let line = |s: &crate::policy::Source| {
        let what = match s.kind {
            SourceKind::Rule => format!(
                "rule {} ({} -> {})",
                safe(s.id.as_deref().unwrap_or("?")),
                safe(s.glob.as_deref().unwrap_or("")),
                s.require
            ),
            SourceKind::RequireApproval => {
                format!("require_approval {}", safe(s.glob.as_deref().unwrap_or("")))
            }
            SourceKind::Deny => format!(
                "policy.tools.deny {}",
                safe(s.glob.as_deref().unwrap_or(""))
            ),
            SourceKind::NotAllowed => "policy.tools.allow".to_string(),
            SourceKind::NotInUse => "not in tools.*.use".to_string(),
            SourceKind::Invalid => "error findings".to_string(),
        };
        let when = s
            .condition
            .as_ref()
            .map(|c| format!(" when {}", safe(c)))
            .unwrap_or_default();
        let at = s
            .origin
            .as_ref()
            .map(|o| format!("  at {o}"))
            .unwrap_or_default();
        format!("{what}{when}{at}")
    };
    for s in &d.sources {
        out.push_str(&format!("  decided by  {}\n", line(s)));
    }
    for s in &d.also_applied {
        out.push_str(&format!("  also        {}\n", line(s)));
    }
    if !d.missing_args.is_empty() {
        out.push_str(&format!(
            "  missing     {} (the rules that need them applied: fail closed)\n",
            d.missing_args
                .iter()
                .map(|a| safe(a))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for f in &d.findings {
        out.push_str(&format!("  finding     {}\n", safe(f)));
    }
    if let Some(dg) = &d.digest {
        out.push_str(&format!("  digest      {dg}\n"));
    }
    out
}
