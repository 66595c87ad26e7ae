//! `opl log`, `opl blame`, `opl whence` and `opl audit`: the history of effective configs.

use serde_json::{Value as Json, json};

use super::{Ctx, Failure, Outcome, Progress, emit, need_git};
use crate::cli::{AuditArgs, AuditFormat, BlameArgs, FindingsFormat, LogArgs, WhenceArgs};
use crate::diff::Status;
use crate::git::{CommitMeta, Git, State};
use crate::history::{Engine, LogOptions, format_time, parse_date};
use crate::merge::provenance::short;
use crate::model::key_path::KeyPath;
use crate::model::source::safe;
use crate::repo::snapshot::find_root;

fn open_git(ctx: &Ctx) -> Result<(std::path::PathBuf, Git), Failure> {
    let root = find_root(ctx.repo.as_deref()).map_err(Failure)?;
    let git = need_git(&root)?;
    if !git.has_head() {
        return Err(Failure(
            "this repository has no commits yet: there is no history to read".into(),
        ));
    }
    Ok((root, git))
}

fn key_arg(key: &Option<String>) -> Result<Option<KeyPath>, Failure> {
    key.as_deref()
        .map(|k| {
            let kp = KeyPath::parse(k)
                .map_err(|e| Failure(format!("`{}` is not a key path: {e}", safe(k))))?;
            crate::model::schema::check_key(&kp)?;
            Ok(kp)
        })
        .transpose()
}

/// Checks that the agent exists at `rev`, when a walk found nothing for it.
fn known_at(root: &std::path::Path, git: &Git, rev: &str, agent: &str) -> Result<(), Failure> {
    Ok(crate::repo::load::agent_exists(
        root,
        git,
        &State::Rev(rev.to_string()),
        agent,
    )?)
}

fn git_err(e: crate::git::GitError) -> Failure {
    Failure(e.0)
}

fn commit_json(c: &CommitMeta) -> Json {
    json!({
        "commit": c.id.to_string(),
        "author": c.author,
        "email": c.email,
        "date": format_time(c.time, c.offset),
        "summary": c.summary,
    })
}

/// The commit's short id, yellow when `color` (as git shows it).
fn short_id(c: &CommitMeta, color: bool) -> String {
    crate::output::paint(&c.id.to_string()[..12], "33", color)
}

/// Runs `opl log`.
pub fn log(ctx: &mut Ctx, args: &LogArgs) -> Outcome {
    let (root, git) = open_git(ctx)?;
    let key = key_arg(&args.key)?;
    let since = args
        .since
        .as_deref()
        .map(parse_date)
        .transpose()
        .map_err(Failure)?;
    let mut engine = Engine::new(&git, &args.agent);
    let mut progress = Progress::new(ctx.progress, "opl log", args.quiet);
    let opts = LogOptions {
        rev: &args.rev,
        key: key.as_ref(),
        max: args.max,
        since,
        first_parent: args.first_parent,
    };
    let entries = crate::history::log(&mut engine, &opts, &mut |d, t| progress.tick(ctx.err, d, t))
        .map_err(git_err)?;
    progress.finish(ctx.err);
    if entries.is_empty() {
        known_at(&root, &git, &args.rev, &args.agent)?;
    }
    match args.format {
        FindingsFormat::Json => {
            let v: Vec<Json> = entries
                .iter()
                .map(|e| {
                    let mut j = commit_json(&e.commit);
                    j["state"] = json!(e.state);
                    j["before"] = json!(e.before);
                    j["boundary"] = json!(e.boundary);
                    j["changes"] = json!(e.changes);
                    j
                })
                .collect();
            emit(ctx.out, &crate::output::json_text(&v))?;
        }
        FindingsFormat::Human => {
            let own = |f: &str| {
                f == format!("agents/{}.toml", args.agent)
                    || f.starts_with(&format!("agents/{}/", args.agent))
            };
            let mut out = String::new();
            if entries.is_empty() {
                out.push_str(&format!(
                    "no commit reachable from {} changed agent `{}`{}\n",
                    safe(&args.rev),
                    safe(&args.agent),
                    key.as_ref()
                        .map(|k| format!(" at `{k}`"))
                        .unwrap_or_default()
                ));
            }
            for e in &entries {
                let c = &e.commit;
                let mark = if e.boundary { "^" } else { "" };
                out.push_str(&format!(
                    "{mark}{}  {} <{}>  {}\n    {}\n",
                    short_id(c, ctx.style.color),
                    safe(&c.author),
                    safe(&c.email),
                    format_time(c.time, c.offset),
                    safe(&c.summary)
                ));
                if e.boundary {
                    out.push_str(
                        "    (shallow-clone boundary: earlier history is not in this clone)\n",
                    );
                }
                if e.state != crate::history::StateKind::Present {
                    out.push_str(&format!("    agent is {} here\n", e.state));
                }
                if e.before == crate::history::StateKind::Absent
                    && e.state == crate::history::StateKind::Present
                    && key.is_none()
                {
                    out.push_str(&format!(
                        "    agent appears with {} (--format json lists them)\n",
                        crate::output::plural(e.changes.len(), "value")
                    ));
                    out.push('\n');
                    continue;
                }
                for ch in &e.changes {
                    let what = crate::diff::change_text(ch.old.as_ref(), ch.new.as_ref());
                    let at = match (&ch.file, ch.line) {
                        (Some(f), Some(l)) if !own(f) => format!("  ({}:{l})", safe(f)),
                        _ => String::new(),
                    };
                    out.push_str(&format!("    {}: {what}{at}\n", safe(&ch.path)));
                }
                out.push('\n');
            }
            emit(ctx.out, &out)?;
        }
    }
    Ok(crate::EXIT_CLEAN)
}

/// Runs `opl blame`.
pub fn blame(ctx: &mut Ctx, args: &BlameArgs) -> Outcome {
    let (root, git) = open_git(ctx)?;
    let key = key_arg(&args.key)?;
    let mut progress = Progress::new(ctx.progress, "opl blame", args.quiet);
    let list = crate::history::blame_at(
        &git,
        &root,
        &args.agent,
        args.rev.as_deref(),
        args.staged,
        key.as_ref(),
        &mut |d, t| progress.tick(ctx.err, d, t),
    )?;
    progress.finish(ctx.err);
    if list.is_empty() {
        known_at(
            &root,
            &git,
            args.rev.as_deref().unwrap_or("HEAD"),
            &args.agent,
        )?;
        return Err(Failure(format!(
            "agent `{}` has no effective values at {}",
            safe(&args.agent),
            args.rev.as_deref().unwrap_or("HEAD")
        )));
    }
    match args.format {
        FindingsFormat::Json => {
            let v: Vec<Json> = list
                .iter()
                .map(|b| {
                    json!({
                        "path": b.path, "value": b.value,
                        "commit": b.commit.as_ref().map(|c| c.id.to_string()),
                        "author": b.commit.as_ref().map(|c| c.author.clone()),
                        "email": b.commit.as_ref().map(|c| c.email.clone()),
                        "date": b.commit.as_ref().map(|c| format_time(c.time, c.offset)),
                        "summary": b.commit.as_ref().map(|c| c.summary.clone()),
                        "file": b.file, "line": b.line, "boundary": b.boundary,
                    })
                })
                .collect();
            emit(ctx.out, &crate::output::json_text(&v))?;
        }
        FindingsFormat::Human => {
            let pw = list
                .iter()
                .map(|b| b.path.chars().count())
                .max()
                .unwrap_or(0)
                .min(56);
            let mut out = String::new();
            for b in &list {
                let who = match &b.commit {
                    Some(c) => format!(
                        "{}{}  {:<16}  {}",
                        if b.boundary { "^" } else { "" },
                        crate::output::paint(&c.id.to_string()[..10], "33", ctx.style.color),
                        safe(&c.author.chars().take(16).collect::<String>()),
                        &format_time(c.time, c.offset)[..10]
                    ),
                    None => "(not committed yet)".to_string(),
                };
                let at = match (&b.file, b.line) {
                    (Some(f), Some(l)) => format!("{}:{l}", safe(f)),
                    _ => String::new(),
                };
                let summary = b
                    .commit
                    .as_ref()
                    .map(|c| safe(&c.summary))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "{:<pw$}  {:<24}  {who}  {at}  {summary}\n",
                    safe(&b.path),
                    short(&b.value, 24)
                ));
            }
            if list.iter().any(|b| b.boundary) {
                out.push_str("^ shallow-clone boundary: the value is at least this old; fetch more history to see who set it\n");
            }
            emit(ctx.out, &out)?;
        }
    }
    Ok(crate::EXIT_CLEAN)
}

/// Runs `opl whence`.
pub fn whence(ctx: &mut Ctx, args: &WhenceArgs) -> Outcome {
    let digest = args.digest.trim();
    let well_formed = digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if !well_formed {
        return Err(Failure(format!(
            "`{}` is not a digest: expected sha256: and 64 lowercase hex digits, as `opl render` prints it",
            safe(digest)
        )));
    }
    let (root, git) = open_git(ctx)?;
    let mut engine = Engine::new(&git, &args.agent);
    let mut progress = Progress::new(ctx.progress, "opl whence", args.quiet);
    let found = crate::history::whence(&mut engine, &args.rev, digest, &mut |d, t| {
        progress.tick(ctx.err, d, t)
    })
    .map_err(git_err)?;
    progress.finish(ctx.err);
    if found.is_empty() {
        known_at(&root, &git, &args.rev, &args.agent)?;
    }
    match args.format {
        FindingsFormat::Json => {
            let v: Vec<Json> = found.iter().map(commit_json).collect();
            emit(ctx.out, &crate::output::json_text(&v))?;
        }
        FindingsFormat::Human => {
            let mut out = String::new();
            for c in &found {
                out.push_str(&format!(
                    "{}  {}  {}  {}\n",
                    short_id(c, ctx.style.color),
                    format_time(c.time, c.offset),
                    safe(&c.author),
                    safe(&c.summary)
                ));
            }
            if found.is_empty() {
                out.push_str(&format!(
                    "no commit reachable from {} rendered agent `{}` with that digest\n",
                    safe(&args.rev),
                    safe(&args.agent)
                ));
            }
            emit(ctx.out, &out)?;
        }
    }
    Ok(if found.is_empty() {
        crate::EXIT_FINDINGS
    } else {
        crate::EXIT_CLEAN
    })
}

/// Runs `opl audit`.
pub fn audit(ctx: &mut Ctx, args: &AuditArgs) -> Outcome {
    let (root, git) = open_git(ctx)?;
    let since = args
        .since
        .as_deref()
        .map(parse_date)
        .transpose()
        .map_err(Failure)?;
    let mut progress = Progress::new(ctx.progress, "opl audit", args.quiet);
    let rows =
        crate::history::audit::audit(&root, &git, args.range.as_deref(), since, &mut |d, t| {
            progress.tick(ctx.err, d, t)
        })?;
    progress.finish(ctx.err);
    let text = match args.format {
        AuditFormat::Json => {
            return audit_json(ctx.out, &rows)
                .map(|()| crate::EXIT_CLEAN)
                .map_err(super::write_failure);
        }
        AuditFormat::Csv => audit_csv(&rows),
        AuditFormat::Markdown => audit_markdown(&rows),
        AuditFormat::Human => audit_human(&rows, ctx.style.color),
    };
    emit(ctx.out, &text)?;
    Ok(crate::EXIT_CLEAN)
}

use crate::history::audit::{Row, tallies};

/// `opl audit --format json`, serialized from the rows as they are (a range can hold a million
/// agent changes: no JSON tree is built for them). Fields are in key order, as in every JSON
/// object opl prints.
fn audit_json(out: &mut dyn std::io::Write, rows: &[Row]) -> std::io::Result<()> {
    #[derive(serde::Serialize)]
    struct Commit<'a> {
        agents: Vec<Agent<'a>>,
        author: &'a str,
        commit: String,
        committer: &'a str,
        committer_email: &'a str,
        date: String,
        email: &'a str,
        summary: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Agent<'a> {
        agent: &'a str,
        client: Option<&'a str>,
        keys: &'a [String],
        status: crate::diff::Status,
        widening: Vec<Widening<'a>>,
    }
    #[derive(serde::Serialize)]
    struct Widening<'a> {
        path: &'a str,
        why: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Audit<'a> {
        by_author: Json,
        by_client: Json,
        commits: Vec<Commit<'a>>,
    }
    let commits = rows
        .iter()
        .map(|(c, r)| Commit {
            agents: r
                .iter()
                .map(|a| Agent {
                    agent: &a.agent,
                    client: a.client.as_deref(),
                    keys: &a.keys,
                    status: a.status,
                    widening: a
                        .widening
                        .iter()
                        .map(|(path, why)| Widening { path, why })
                        .collect(),
                })
                .collect(),
            author: &c.author,
            commit: c.id.to_string(),
            committer: &c.committer,
            committer_email: &c.committer_email,
            date: format_time(c.time, c.offset),
            email: &c.email,
            summary: &c.summary,
        })
        .collect();
    let (by_author, by_client) = tallies(rows);
    crate::output::write_json(
        out,
        &Audit {
            by_author: json!(by_author),
            by_client: json!(by_client),
            commits,
        },
    )
}

fn audit_csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "commit,date,author,email,committer,summary,agent,client,status,keys,widening\n",
    );
    for (c, r) in rows {
        for a in r {
            let (keys, widening) = (&a.keys, a.widenings());
            let status = match a.status {
                Status::Added => "added",
                Status::Removed => "removed",
                Status::Changed => "changed",
            };
            let fields = [
                c.id.to_string(),
                format_time(c.time, c.offset),
                c.author.clone(),
                c.email.clone(),
                c.committer.clone(),
                c.summary.clone(),
                a.agent.to_string(),
                a.client.as_deref().unwrap_or_default().to_string(),
                status.to_string(),
                keys.join(" "),
                widening.join("; "),
            ];
            out.push_str(
                &fields
                    .iter()
                    .map(|f| crate::output::csv_field(f))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
    }
    out
}

fn audit_human(rows: &[Row], color: bool) -> String {
    let mut out = String::new();
    for (c, r) in rows {
        out.push_str(&format!(
            "{}  {}  {} <{}>{}\n    {}\n",
            short_id(c, color),
            format_time(c.time, c.offset),
            safe(&c.author),
            safe(&c.email),
            if c.committer != c.author {
                format!(" (committed by {})", safe(&c.committer))
            } else {
                String::new()
            },
            safe(&c.summary)
        ));
        for a in r {
            let keys: Vec<&str> = a.keys.iter().map(String::as_str).take(6).collect();
            let more = if a.keys.len() > 6 {
                format!(" (+{} more)", a.keys.len() - 6)
            } else {
                String::new()
            };
            out.push_str(
                &format!(
                    "    {:?} {}: {}{more}\n",
                    a.status,
                    safe(&a.agent),
                    keys.iter().map(|k| safe(k)).collect::<Vec<_>>().join(", ")
                )
                .to_lowercase(),
            );
            for (path, why) in a.widening.iter() {
                out.push_str(&format!("      ! {}: {}\n", safe(path), safe(why)));
            }
        }
        out.push('\n');
    }
    let (by_author, by_client) = tallies(rows);
    for (what, tally) in [("author", &by_author), ("client", &by_client)] {
        out.push_str(&format!("by {what}:\n"));
        for (a, t) in tally {
            out.push_str(&format!(
                "  {}  {}, {}, {} widening\n",
                safe(a),
                crate::output::plural(t.commits, "commit"),
                crate::output::plural(t.agent_changes, "agent change"),
                t.widening
            ));
        }
    }
    out
}

fn audit_markdown(rows: &[Row]) -> String {
    let cell = |s: &str| safe(s).replace('|', "\\|");
    let mut out = String::from(
        "| commit | date | author | agent | client | keys | widening |\n|---|---|---|---|---|---|---|\n",
    );
    for (c, r) in rows {
        for a in r {
            let (keys, w) = (&a.keys, a.widenings());
            out.push_str(&format!(
                "| `{}` | {} | {} | `{}` | {} | {} | {} |\n",
                short_id(c, false),
                &format_time(c.time, c.offset)[..10],
                cell(&c.author),
                cell(&a.agent),
                cell(a.client.as_deref().unwrap_or("-")),
                cell(&keys.join(", ")),
                cell(&w.join("; "))
            ));
        }
    }
    let (by_author, by_client) = tallies(rows);
    for (what, tally) in [("author", &by_author), ("client", &by_client)] {
        out.push_str(&format!(
            "\n| {what} | commits | agent changes | widening |\n|---|---|---|---|\n"
        ));
        for (a, t) in tally {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(a),
                t.commits,
                t.agent_changes,
                t.widening
            ));
        }
    }
    out
}
