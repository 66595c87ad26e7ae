//! `opl validate`: every finding of the repository in one run.

use super::{Ctx, Failure, Outcome, emit, load_state, state_of, unknown_agent};
use crate::cli::ValidateArgs;
use crate::git::State;
use crate::output;
use crate::repo::layout::{Place, Selection, classify};

/// Runs `opl validate`.
pub fn run(ctx: &mut Ctx, args: &ValidateArgs) -> Outcome {
    let state = state_of(&args.source);
    let (root, git) = super::locate(ctx.repo.as_deref(), &state)?;
    // With --staged, check what the commit would change: the agents the staged changes affect.
    // `changed` holds the staged paths when they may affect every agent: a change to shared
    // layers may reach only some (see `staged_scope`).
    let mut changed: Option<Vec<String>> = None;
    let selection = if !args.agents.is_empty() {
        Selection::Agents(args.agents.iter().cloned().collect())
    } else if state == State::Index && !args.all && git.as_ref().is_some_and(|g| g.has_head()) {
        let g = git.as_ref().expect("checked");
        let paths = g
            .changed_paths(&State::Rev("HEAD".into()), &State::Index)
            .map_err(|e| Failure(e.0))?;
        // A changed test can be about any agent: the tests then run on every agent.
        let tests_changed = paths.iter().any(|p| classify(p) == Place::Test);
        if tests_changed {
            Selection::All
        } else {
            let sel = crate::repo::layout::affected(&paths);
            if matches!(sel, Selection::All) {
                changed = Some(paths);
            }
            sel
        }
    } else {
        Selection::All
    };
    // A staged change to shared layers reaches the agents below the prefixes it changes.
    let scoped = match (&changed, &git) {
        (Some(paths), Some(g)) => staged_scope(&root, g, paths)?,
        _ => None,
    };
    let mut shared_files: Vec<String> = Vec::new();
    let (mut repo, only) = match scoped {
        Some((repo, agents)) => {
            shared_files = changed
                .iter()
                .flatten()
                .filter(|p| matches!(classify(p), Place::Global | Place::Client(_)))
                .cloned()
                .collect();
            (repo, agents)
        }
        None => {
            let repo = load_state(&root, git.as_ref(), &state, &selection)?;
            let only: Option<Vec<String>> = match &selection {
                Selection::All => None,
                Selection::Shared => Some(Vec::new()),
                Selection::AllBut(_) => Some(repo.agents.keys().cloned().collect()),
                Selection::Agents(ids) => Some(
                    ids.iter()
                        .filter(|a| repo.agents.contains_key(*a))
                        .cloned()
                        .collect(),
                ),
            };
            (repo, only)
        }
    };
    for a in &args.agents {
        if !repo.agents.contains_key(a) {
            return Err(unknown_agent(&repo, a));
        }
    }
    let scope_note = if state == State::Index && args.agents.is_empty() && only.is_some() {
        format!(
            " affected by the staged changes (of {} in the index; --all for every agent)",
            repo.agent_ids.len()
        )
    } else {
        String::new()
    };
    // The staged shared files' own findings are reported even where no agent below them was
    // reached.
    let mut v = crate::merge::stack::validate(&repo, only.as_deref(), &shared_files);
    // The pre-commit hook (`--staged`) also runs the policy tests the staged change can affect:
    // those about the agents validated (all of them when a test changed).
    if state == State::Index {
        let suite = crate::repo::load::load_tests(&root, git.as_ref(), &state, &mut repo, &[])?;
        if suite.files > 0 {
            v.findings.extend(suite.findings.iter().cloned());
            if suite.findings.is_empty() {
                let outcomes = crate::policy::suite::run(
                    &repo,
                    &suite,
                    &crate::repo::load::rev_loader(&root, git.as_ref()),
                );
                v.findings.extend(crate::policy::suite::failures(&outcomes));
            }
            crate::diagnostic::normalize(&mut v.findings, &repo.sources);
        }
    }
    let prefix = match &git {
        Some(g) => g.prefix().to_string(),
        None => crate::git::Git::discover(&root)
            .ok()
            .flatten()
            .map(|g| g.prefix().to_string())
            .unwrap_or_default(),
    };
    let written = output::FindingsReport {
        findings: &v.findings,
        sources: &repo.sources,
        prefix: &prefix,
        agents: v.agents,
        files: v.files,
        scope: scope_note,
        notes: if v.partial {
            vec![crate::merge::stack::PARTIAL_NOTE.to_string()]
        } else {
            Vec::new()
        },
    };
    emit(
        ctx.out,
        &written.text(
            super::report_format(args.format),
            ctx.style,
            Default::default(),
        ),
    )?;
    let status = written.status(args.deny_warnings);
    super::leak(repo);
    super::leak(git);
    Ok(status)
}

/// A repository loaded, and the agents of it to validate (`None`: every agent, a whole run).
type Scoped = (crate::repo::layer::Repo, Option<Vec<String>>);

/// The index loaded with the agents a staged change to shared layers reaches (see
/// [`crate::diff::reach`]), and those agents (`None`: every agent of the repository, a whole
/// run). `None` when the change is not one that reading takes, or reaches every agent: the
/// caller loads every agent then. Agents whose facts the agents store holds (by blob id) are
/// read only when reached; what this run reads is kept there for the next.
fn staged_scope(
    root: &std::path::Path,
    git: &crate::git::Git,
    changed: &[String],
) -> Result<Option<Scoped>, Failure> {
    use crate::diff::{by_key, facts, reach::Reach};
    let head = State::Rev("HEAD".into());
    // Both sides' shared layers, read side by side.
    let (old, shared) = rayon::join(
        || load_state(root, Some(git), &head, &Selection::Shared),
        || load_state(root, Some(git), &State::Index, &Selection::Shared),
    );
    let Ok(old) = old else {
        return Ok(None);
    };
    let shared = shared?;
    let Some(reach) = Reach::of(&old, &shared, changed).filter(|r| !r.every()) else {
        return Ok(None);
    };
    let mut store = facts::Store::open(git);
    let known = if store.is_empty() {
        Default::default()
    } else {
        by_key::known_agents(
            &git.snapshot(&State::Index).map_err(|e| Failure(e.0))?,
            &store,
        )
    };
    let skip: std::collections::HashSet<String> = known
        .iter()
        .filter(|(id, part)| {
            store
                .facts(part)
                .is_some_and(|f| !reach.reaches(id, shared.prefix_client(f.client.as_deref())))
        })
        .map(|(id, _)| id.clone())
        .collect();
    // The agents known by the store and not read: the store's entries this run used.
    let used: Vec<facts::Hash> = known
        .iter()
        .filter(|(id, _)| skip.contains(*id))
        .map(|(_, p)| *p)
        .collect();
    let whole_index = skip.is_empty();
    let repo = load_state(root, Some(git), &State::Index, &Selection::AllBut(skip))?;
    let agents: Vec<String> = reach.agents(&repo).into_iter().collect();
    store.learn(
        facts::Learned {
            facts: by_key::facts_of_loaded(&repo),
            own: Vec::new(),
        },
        used.into_iter(),
    );
    store.save();
    let whole = whole_index && agents.len() == repo.agents.len();
    Ok(Some((repo, (!whole).then_some(agents))))
}
