//! `opl explain AGENT KEY`: the winning value of a key, every definition it shadowed, its merge
//! class, and the locks and policies that constrain it.

use serde_json::json;

use super::{Ctx, Failure, Outcome, emit, open_agent, unknown_agent};
use crate::cli::{ExplainArgs, FindingsFormat};
use crate::merge::provenance::{Provenance, provenance, short};
use crate::merge::stack::Stacks;
use crate::model::key_path::KeyPath;
use crate::model::schema::Class;
use crate::model::source::safe;

/// The locks and the policies that apply to one leaf.
type Applied = (
    Vec<(KeyPath, crate::merge::provenance::Origin)>,
    Vec<(String, serde_json::Value, crate::merge::provenance::Origin)>,
);

/// Runs `opl explain`.
pub fn run(ctx: &mut Ctx, args: &ExplainArgs) -> Outcome {
    let key = KeyPath::parse(&args.key)
        .map_err(|e| Failure(format!("`{}` is not a key path: {e}", safe(&args.key))))?;
    crate::model::schema::check_key(&key)?;
    // What one key of one agent is depends on its layers and those it inherits only.
    let (_, repo) = open_agent(ctx, &args.source, &args.agent)?;
    let stacks = Stacks::new(&repo);
    let Some(agent) = stacks.agent(&args.agent) else {
        return Err(unknown_agent(&repo, &args.agent));
    };
    // Every merged leaf (excluded fragments and `instructions.exclude` too), and the values opl
    // derives for the rendered document.
    let doc = crate::render::document(&repo, &args.agent, &agent.eff);
    let list: Vec<Provenance> = provenance(&repo, &agent, None)
        .into_iter()
        .chain(
            provenance(&repo, &agent, Some(&doc))
                .into_iter()
                .filter(|p| p.class.is_none()),
        )
        .filter(|p| p.key_path.starts_with(&key))
        .collect();
    let past = history_of(ctx, &args.source, &args.agent, &key);
    let extra: Vec<Applied> = list
        .iter()
        .map(|p| {
            (
                crate::merge::provenance::locks_on(&repo, &agent, &p.key_path),
                crate::merge::provenance::policies_on(&repo, &agent, &p.key_path),
            )
        })
        .collect();
    let class = crate::model::schema::lookup_rendered(key.keys())
        .map(|f| crate::model::schema::effective_class(key.keys().next().unwrap_or_default(), f))
        .unwrap_or(Class::Override);
    let e = Explanation {
        agent: &args.agent,
        key: &key,
        class,
        list: &list,
        extra: &extra,
        past: past.as_ref(),
        has_errors: agent.has_errors(),
        color: ctx.style.color,
    };
    let text = match args.format {
        FindingsFormat::Json => json_view(&e),
        FindingsFormat::Human => human_view(&e),
    };
    emit(ctx.out, &text)?;
    Ok(crate::EXIT_CLEAN)
}

/// Everything `opl explain` says about one key.
struct Explanation<'a> {
    agent: &'a str,
    key: &'a KeyPath,
    class: Class,
    list: &'a [Provenance],
    extra: &'a [Applied],
    past: Option<&'a Past>,
    has_errors: bool,
    color: bool,
}

/// The JSON form.
fn json_view(e: &Explanation) -> String {
    let Explanation {
        agent,
        key,
        class,
        list,
        extra,
        past,
        ..
    } = e;
    let (agent, key, class, past) = (*agent, *key, *class, *past);

    let leaves: Vec<_> = list
            .iter()
            .zip(extra.iter())
            .map(|(p, (l, c))| {
                json!({
                    "path": p.path, "value": p.value, "class": crate::merge::provenance::class_text(p.class).0, "origin": p.origin, "shadowed": p.shadowed,
                    "locks": l.iter().map(|(k, o)| json!({"lock": k.to_string(), "origin": o})).collect::<Vec<_>>(),
                    "constraints": c.iter().map(|(k, v, o)| json!({"path": k, "value": v, "origin": o})).collect::<Vec<_>>(),
                    "blame": past.as_ref().and_then(|(b, _)| b.iter().find(|x| x.path == p.path)).map(|b| json!({
                        "commit": b.commit.as_ref().map(|c| c.id.to_string()),
                        "author": b.commit.as_ref().map(|c| c.author.clone()),
                        "date": b.commit.as_ref().map(|c| crate::history::format_time(c.time, c.offset)),
                        "summary": b.commit.as_ref().map(|c| c.summary.clone()),
                        "boundary": b.boundary,
                    })),
                })
            })
            .collect();
    let history: Vec<_> = past
            .as_ref()
            .map(|(_, h)| {
                h.iter()
                    .map(|e| json!({"commit": e.commit.id.to_string(), "author": e.commit.author, "date": crate::history::format_time(e.commit.time, e.commit.offset), "summary": e.commit.summary, "changes": e.changes}))
                    .collect()
            })
            .unwrap_or_default();
    let v = json!({"agent": agent, "key": key.to_string(), "class": class.name(), "set": !list.is_empty(), "leaves": leaves, "history": history});
    crate::output::json_text(&v)
}

/// The human form.
fn human_view(e: &Explanation) -> String {
    let Explanation {
        agent,
        key,
        class,
        list,
        extra,
        past,
        has_errors,
        ..
    } = e;
    let (agent, key, class, past) = (*agent, *key, *class, *past);

    let mut out = String::new();
    if list.is_empty() {
        out.push_str(&format!(
            "`{key}` is not set for agent `{}` (merge class {}: {})\n",
            safe(agent),
            class.name(),
            class.explanation()
        ));
    }
    for (p, (l, c)) in list.iter().zip(extra.iter()) {
        out.push_str(&format!(
            "{} = {}\n",
            crate::output::paint(&safe(&p.path), "1", e.color),
            short(&p.value, 200)
        ));
        let (name, rule) = crate::merge::provenance::class_text(p.class);
        out.push_str(&format!("  class    {name} ({rule})\n"));
        if let Some(o) = &p.origin {
            out.push_str(&format!("  set at   {o}\n"));
        }
        for s in &p.shadowed {
            out.push_str(&format!(
                "  shadows  {}  at {}\n",
                short(&s.value, 60),
                s.origin
            ));
        }
        for (k, o) in l {
            out.push_str(&format!("  locked   by `{k}` at {o}\n"));
        }
        for (k, v, o) in c {
            out.push_str(&format!("  policy   {k} = {}  at {o}\n", short(v, 60)));
        }
        if let Some(b) = past
            .as_ref()
            .and_then(|(b, _)| b.iter().find(|x| x.path == p.path))
        {
            match &b.commit {
                Some(c) => out.push_str(&format!(
                    "  blame    {}{} {} {} {}\n",
                    if b.boundary { "^" } else { "" },
                    &c.id.to_string()[..10],
                    safe(&c.author),
                    &crate::history::format_time(c.time, c.offset)[..10],
                    safe(&c.summary)
                )),
                None => out.push_str("  blame    (not committed yet)\n"),
            }
        }
    }
    if let Some((_, h)) = &past
        && !h.is_empty()
    {
        out.push_str(&format!("history of `{key}` (newest first):\n"));
        for e in h {
            let what: Vec<String> = e
                .changes
                .iter()
                .map(|c| {
                    format!(
                        "{}: {}",
                        safe(&c.path),
                        crate::diff::change_text(c.old.as_ref(), c.new.as_ref())
                    )
                })
                .collect();
            out.push_str(&format!(
                "  {} {} {}  {}\n",
                &e.commit.id.to_string()[..10],
                &crate::history::format_time(e.commit.time, e.commit.offset)[..10],
                safe(&e.commit.author),
                if what.is_empty() {
                    format!("agent {}", e.state)
                } else {
                    what.join("; ")
                }
            ));
        }
    }
    if *has_errors {
        out.push_str(&format!(
            "note: agent `{}` has errors; run `opl validate {0}`\n",
            safe(agent)
        ));
    }
    out
}

type Past = (Vec<crate::history::Blame>, Vec<crate::history::LogEntry>);

/// The blame of the key's leaves and its last changes, when the root is in a git repository with
/// commits (nothing otherwise).
fn history_of(
    ctx: &Ctx,
    source: &crate::cli::SourceArgs,
    agent: &str,
    key: &KeyPath,
) -> Option<Past> {
    let root = crate::repo::snapshot::find_root(ctx.repo.as_deref()).ok()?;
    let git = crate::git::Git::discover(&root).ok()??;
    if !git.has_head() {
        return None;
    }
    let blames = crate::history::blame_at(
        &git,
        &root,
        agent,
        source.rev.as_deref(),
        source.staged,
        Some(key),
        &mut |_, _| {},
    )
    .ok()?;
    let mut engine = crate::history::Engine::new(&git, agent);
    let opts = crate::history::LogOptions {
        rev: source.rev.as_deref().unwrap_or("HEAD"),
        key: Some(key),
        max: Some(5),
        since: None,
        first_parent: false,
    };
    let log = crate::history::log(&mut engine, &opts, &mut |_, _| {}).ok()?;
    Some((blames, log))
}
