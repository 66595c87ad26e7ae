//! `opl render`: the effective configuration of one agent, or of every agent into a folder.

use rayon::prelude::*;

use super::{Ctx, Failure, Outcome, emit, open_agent, open_source, unknown_agent};
use crate::cli::{DocFormat, RenderArgs};
use crate::diagnostic::{Finding, normalize};
use crate::merge::stack::{AgentResult, Stacks};
use crate::output;
use crate::render::{digest, document, to_toml};
use crate::repo::layer::Repo;
use crate::write::{Overwrite, ensure_dir, write_atomic};

/// Runs `opl render`.
pub fn run(ctx: &mut Ctx, args: &RenderArgs) -> Outcome {
    if args.all {
        let (_, repo) = open_source(ctx, &args.source)?;
        return render_all(ctx, args, &repo, &Stacks::new(&repo));
    }
    let id = args
        .agent
        .as_deref()
        .expect("clap requires AGENT without --all");
    // One agent's document depends on its layers and those it inherits only.
    let (_, repo) = open_agent(ctx, &args.source, id)?;
    let stacks = Stacks::new(&repo);
    let Some(agent) = stacks.agent(id) else {
        return Err(unknown_agent(&repo, id));
    };
    if agent.has_errors() {
        return refuse(ctx, &repo, &agent);
    }
    let doc = document(&repo, id, &agent.eff);
    let dg = digest(&doc);
    let text = match (args.format, args.explain) {
        (DocFormat::Json, false) => crate::output::json_text(&doc),
        (DocFormat::Toml, false) => to_toml(&doc, &dg),
        (DocFormat::Json, true) => {
            let prov = crate::merge::provenance::provenance(&repo, &agent, Some(&doc));
            let v = serde_json::json!({"agent": id, "client": agent.client, "digest": dg, "document": doc, "provenance": prov});
            crate::output::json_text(&v)
        }
        (DocFormat::Toml, true) => {
            let prov = crate::merge::provenance::provenance(&repo, &agent, Some(&doc));
            let client = agent
                .client
                .as_deref()
                .map(|c| format!(" (client {c})"))
                .unwrap_or_default();
            format!(
                "# agent {id}{client}\n# digest: {dg}\n\n{}",
                crate::merge::provenance::human(&prov, ctx.style)
            )
        }
    };
    emit(ctx.out, &text)?;
    Ok(crate::EXIT_CLEAN)
}

fn refuse(ctx: &mut Ctx, repo: &Repo, agent: &AgentResult) -> Outcome {
    let mut errors: Vec<Finding> = agent
        .all_findings()
        .filter(|f| f.is_error())
        .cloned()
        .collect();
    normalize(&mut errors, &repo.sources);
    let mut text = output::human(&errors, &repo.sources, ctx.style);
    text.push_str(&format!(
        "refusing to render agent `{}`: {}\n",
        agent.id,
        output::summary_line(&errors)
    ));
    emit(ctx.err, &text)?;
    Ok(crate::EXIT_FINDINGS)
}

fn render_all(ctx: &mut Ctx, args: &RenderArgs, repo: &Repo, stacks: &Stacks) -> Outcome {
    let dir = args.out.as_deref().expect("clap requires --out with --all");
    ensure_dir(dir).map_err(Failure)?;
    let overwrite = if args.force {
        Overwrite::Allowed
    } else {
        Overwrite::Never
    };
    let ext = match args.format {
        DocFormat::Json => "json",
        DocFormat::Toml => "toml",
    };
    let ids: Vec<&String> = repo.agents.keys().collect();
    let results: Vec<Rendered> = ids
        .par_iter()
        .map(|id| {
            let agent = stacks.agent(id).expect("listed agent");
            if agent.has_errors() {
                return Rendered::Refused(agent.all_findings().filter(|f| f.is_error()).cloned().collect());
            }
            let doc = document(repo, id, &agent.eff);
            let dg = digest(&doc);
            let text = match args.format {
                DocFormat::Json => crate::output::json_text(&doc),
                DocFormat::Toml => to_toml(&doc, &dg),
            };
            let file = format!("{id}.{ext}");
            match write_atomic(&dir.join(&file), text.as_bytes(), overwrite) {
                Ok(()) => Rendered::Written(serde_json::json!({"id": id, "client": agent.client, "digest": dg, "file": file})),
                Err(e) => Rendered::Failed(e),
            }
        })
        .collect();
    let mut index = Vec::new();
    let mut refused = Vec::new();
    let mut findings = Vec::new();
    for (id, r) in ids.iter().zip(results) {
        match r {
            Rendered::Written(entry) => index.push(entry),
            Rendered::Refused(f) => {
                refused.push(serde_json::json!({"id": id}));
                findings.extend(f);
            }
            Rendered::Failed(e) => return Err(Failure(e)),
        }
    }
    let idx = serde_json::json!({"agents": index, "refused": refused});
    write_atomic(
        &dir.join("index.json"),
        crate::output::json_text(&idx).as_bytes(),
        overwrite,
    )
    .map_err(Failure)?;
    normalize(&mut findings, &repo.sources);
    if !findings.is_empty() {
        let mut text = output::human(&findings, &repo.sources, ctx.style);
        text.push_str(&format!(
            "refused {}: {}\n",
            output::plural(refused.len(), "agent"),
            output::summary_line(&findings)
        ));
        emit(ctx.err, &text)?;
    }
    emit(
        ctx.out,
        &format!(
            "rendered {} to {} (index.json)\n",
            output::plural(index.len(), "agent"),
            dir.display()
        ),
    )?;
    Ok(if refused.is_empty() {
        crate::EXIT_CLEAN
    } else {
        crate::EXIT_FINDINGS
    })
}

enum Rendered {
    Written(serde_json::Value),
    Refused(Vec<Finding>),
    Failed(String),
}
