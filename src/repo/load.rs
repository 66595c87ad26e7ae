//! Loading one state of the config repository: the work tree, the git index or a commit, and the
//! diff of two states (only the agents the change can affect are merged).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::diff::by_key;
use crate::diff::facts::Store;
use crate::diff::{Report, compare};
use crate::git::{Git, State};
use crate::repo::layer::Repo;
use crate::repo::layout::Selection;
use crate::repo::layout::affected;
use crate::repo::snapshot::{Memory, WorkTree, find_root};

/// The config root and, for a revision or the index, its git repository. A bare repository
/// (no work tree) can be read at a revision, with the config root at the top of its trees.
pub fn locate(dir: Option<&Path>, state: &State) -> Result<(PathBuf, Option<Git>), String> {
    match find_root(dir) {
        Ok(root) => {
            let git = if *state == State::WorkTree {
                None
            } else {
                Some(need_git(&root)?)
            };
            Ok((root, git))
        }
        Err(e) => {
            if matches!(state, State::Rev(_)) {
                let dir = dir
                    .map(Path::to_path_buf)
                    .or_else(|| std::env::current_dir().ok())
                    .unwrap_or_default();
                if let Ok(Some(g)) = Git::discover(&dir)
                    && g.workdir().is_none()
                {
                    return Ok((dir, Some(g)));
                }
            }
            Err(e)
        }
    }
}

/// The git repository holding the root, or a failure that says why one is needed.
pub fn need_git(root: &Path) -> Result<Git, String> {
    match Git::discover(root) {
        Ok(Some(g)) => Ok(g),
        Ok(None) => Err(format!(
            "{} is not inside a git repository; --rev, --staged, diff and hooks need one",
            root.display()
        )),
        Err(e) => Err(e.0),
    }
}

/// Loads one state of the config repository.
pub fn load_state(
    root: &Path,
    git: Option<&Git>,
    state: &State,
    selection: &Selection,
) -> Result<Repo, String> {
    let loaded = match state {
        State::WorkTree => crate::repo::layer::load_selected(&WorkTree::new(root), selection),
        _ => {
            let git = git.ok_or("reading a revision needs a git repository")?;
            let snap = match selection {
                Selection::All | Selection::AllBut(_) => git.snapshot(state),
                Selection::Agents(ids) => {
                    // Only the client folders the agents name are listed, not all of them.
                    let ids: Vec<String> = ids.iter().cloned().collect();
                    git.snapshot_in(state, Some(&ids), Some(&[]))
                        .and_then(|mut snap| {
                            let clients = snap.clients_named(&ids);
                            snap.list_clients(&clients)?;
                            Ok(snap)
                        })
                }
                Selection::Shared => git.snapshot_focused(state, Some(&[])),
            }
            .map_err(|e| e.0)?;
            if !snap.has_root() {
                let at = if git.prefix().is_empty() {
                    "the top of the repository".to_string()
                } else {
                    git.prefix().to_string()
                };
                return Err(format!("{} has no opl.toml at {at}", state.label()));
            }
            crate::repo::layer::load_selected(&snap, selection)
        }
    };
    loaded.map_err(|e| format!("cannot read {} of {}: {e}", state.label(), root.display()))
}

/// Where the key-level diff of a change to shared layers finds the facts of agents it does not
/// read, and keeps what it learns of those it reads ([`Store`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remember {
    /// Nowhere: every agent is read (a walk over many commits, whose steps share the files
    /// they parse instead).
    Nothing,
    /// The store earlier runs kept on disk, written back with what this diff learned (one
    /// diff).
    OnDisk,
}

/// Computes the diff between two states, merging only the agents the change can affect. A
/// change confined to shared layers is propagated by key ([`crate::diff::by_key`]) unless
/// `documents` asks for the rendered documents and digests of both sides; that propagation
/// uses and adds to the agents' facts `remember` names.
pub fn diff_states(
    root: &Path,
    git: &Git,
    from: &State,
    to: &State,
    only: &[String],
    documents: bool,
    remember: Remember,
) -> Result<Report, String> {
    let changed = if unborn(git, from) {
        let snap = load_state(root, Some(git), to, &Selection::All).ok();
        snap.map(|r| r.sources.iter().map(|(_, f)| f.path.clone()).collect())
            .unwrap_or_default()
    } else {
        git.changed_paths(from, to).map_err(|e| e.0)?
    };
    diff_paths(root, git, from, to, changed, only, documents, remember)
}

/// True when `from` is `HEAD` of a repository with no commit yet: the diff is from nothing.
fn unborn(git: &Git, from: &State) -> bool {
    *from == State::Rev("HEAD".into()) && !git.has_head()
}

/// [`diff_states`] of a change whose changed files (`changed`, as [`Git::changed_paths`] lists
/// them) are known already.
#[allow(clippy::too_many_arguments)]
pub fn diff_paths(
    root: &Path,
    git: &Git,
    from: &State,
    to: &State,
    changed: Vec<String>,
    only: &[String],
    documents: bool,
    remember: Remember,
) -> Result<Report, String> {
    let unborn = unborn(git, from);
    if !unborn
        && !documents
        && only.is_empty()
        && let Some(r) = shared_change(root, git, from, to, &changed, remember)?
    {
        return Ok(r);
    }
    let mut selection = affected(&changed);
    if !unborn
        && only.is_empty()
        && let Selection::Agents(ids) = &selection
    {
        return diff_agents(root, git, from, to, ids.iter().cloned().collect(), changed);
    }
    if !only.is_empty() {
        selection = Selection::Agents(match selection {
            Selection::All => only.iter().cloned().collect(),
            Selection::Agents(ids) => ids.into_iter().filter(|i| only.contains(i)).collect(),
            Selection::Shared | Selection::AllBut(_) => Default::default(),
        });
    }
    let old = if unborn {
        empty()?
    } else {
        load_state(root, Some(git), from, &selection)?
    };
    let new = load_state(root, Some(git), to, &selection)?;
    for a in only {
        if !old.agent_ids.contains(a) && !new.agent_ids.contains(a) {
            return Err(unknown_agent(&all_agent_ids(root, git, to)?, a));
        }
    }
    let ids: BTreeSet<String> = match &selection {
        Selection::All | Selection::AllBut(_) => old
            .agents
            .keys()
            .chain(new.agents.keys())
            .cloned()
            .collect(),
        Selection::Agents(ids) => ids.iter().cloned().collect(),
        Selection::Shared => BTreeSet::new(),
    };
    let from_label = if unborn {
        "(no commits)".to_string()
    } else {
        from.label()
    };
    Ok(compare(&old, &new, &ids, changed, from_label, to.label()))
}

/// The diff of the agents `ids` alone, each side loaded with them and no other agent: the diff
/// of a change that reaches no other agent (`changed`: the files it changed).
pub fn diff_agents(
    root: &Path,
    git: &Git,
    from: &State,
    to: &State,
    ids: BTreeSet<String>,
    changed: Vec<String>,
) -> Result<Report, String> {
    let selection = Selection::Agents(ids.iter().cloned().collect());
    let old = load_state(root, Some(git), from, &selection)?;
    let new = load_state(root, Some(git), to, &selection)?;
    Ok(compare(&old, &new, &ids, changed, from.label(), to.label()))
}

/// The diff of a change confined to shared layers, by key; `None` when it is not one. The
/// agents' facts `remember` names ([`Store`]) stand in for the agent files they were learned
/// from (those files are not read), and what this run learns is kept there.
fn shared_change(
    root: &Path,
    git: &Git,
    from: &State,
    to: &State,
    changed: &[String],
    remember: Remember,
) -> Result<Option<Report>, String> {
    use crate::repo::layout::{Place, classify};
    if !changed.iter().all(|p| {
        matches!(
            classify(p),
            Place::Global | Place::Client(_) | Place::Agent { .. }
        )
    }) || !changed
        .iter()
        .any(|p| matches!(classify(p), Place::Global | Place::Client(_)))
    {
        return Ok(None);
    }
    // The work tree has no blob ids to key facts by.
    let mut store = if remember == Remember::OnDisk && *to != State::WorkTree {
        Store::open(git)
    } else {
        Store::none()
    };
    let known = if store.is_empty() {
        HashMap::new()
    } else {
        by_key::known_agents(&git.snapshot(to).map_err(|e| e.0)?, &store)
    };
    // The old side's shared layers and the new side (without the agents the store knows, but
    // those whose files changed) are read side by side; the new side is the first propagate
    // asks for, and is loaded again only if it asks for another.
    let changed_agents = by_key::changed_agents(changed);
    let skip: HashSet<String> = known
        .keys()
        .filter(|id| !changed_agents.contains(*id))
        .cloned()
        .collect();
    let (old, new) = rayon::join(
        || load_state(root, Some(git), from, &Selection::Shared),
        || load_state(root, Some(git), to, &Selection::AllBut(skip.clone())),
    );
    let (old, first) = (old?, Mutex::new(Some(new?)));
    let report = by_key::propagate(
        &old,
        |s| match first.lock().unwrap_or_else(|e| e.into_inner()).take() {
            // Every agent loaded there but those of `skip`: enough when `s` skips those too.
            Some(new) if skip.is_subset(&s) => Ok(new),
            _ => load_state(root, Some(git), to, &Selection::AllBut(s)),
        },
        |side, ids| {
            let state = match side {
                by_key::Side::Old => from,
                by_key::Side::New => to,
            };
            load_state(
                root,
                Some(git),
                state,
                &Selection::Agents(ids.iter().cloned().collect()),
            )
        },
        known,
        &mut store,
        changed,
        from.label(),
        to.label(),
    )?;
    drop_aside(old);
    store.save();
    Ok(report)
}

/// Drops `value` on a thread of its own: freeing the state of 10,000 agents takes tens of
/// milliseconds that the answer does not wait for (a command that ends meanwhile ends the
/// thread with it). Dropped here when no thread can be started.
pub fn drop_aside<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("opl-drop".into())
        .spawn(move || drop(value));
}

/// Loads the whole repository at a revision: what a policy test case with its own `rev` decides on.
pub fn rev_loader<'a>(
    root: &'a Path,
    git: Option<&'a Git>,
) -> impl Fn(&str) -> Result<Repo, String> + 'a {
    move |rev: &str| {
        let state = State::Rev(rev.to_string());
        match git {
            Some(g) => load_state(root, Some(g), &state, &Selection::All),
            None => load_state(root, Some(&need_git(root)?), &state, &Selection::All),
        }
    }
}

/// The policy tests of a state (`tests/**/*.toml`, or only `paths`), read into `repo`'s sources.
pub fn load_tests(
    root: &Path,
    git: Option<&Git>,
    state: &State,
    repo: &mut Repo,
    paths: &[String],
) -> Result<crate::policy::suite::Suite, String> {
    if !repo.has_tests {
        return Ok(Default::default());
    }
    match (state, git) {
        (State::WorkTree, _) => crate::policy::suite::load(&WorkTree::new(root), repo, paths),
        (_, Some(g)) => {
            let snap = g.snapshot(state).map_err(|e| e.0)?;
            crate::policy::suite::load(&snap, repo, paths)
        }
        (_, None) => return Err("reading a revision needs a git repository".into()),
    }
    .map_err(|e| format!("cannot read the tests: {e}"))
}

/// The error for an agent id that names no agent of `ids`, with the closest one.
pub fn unknown_agent(ids: &[String], id: &str) -> String {
    let hint = crate::diagnostic::did_you_mean(id, ids.iter().map(String::as_str))
        .map(|m| format!(" (did you mean `{m}`?)"))
        .unwrap_or_default();
    format!(
        "no agent `{}` in this repository{hint}; `opl validate` lists problems with agent files",
        crate::model::source::safe(id)
    )
}

/// Checks that `agent` is an agent of `state`; the error names the closest agent id.
pub fn agent_exists(root: &Path, git: &Git, state: &State, agent: &str) -> Result<(), String> {
    let only = Selection::Agents([agent.to_string()].into_iter().collect());
    let repo = load_state(root, Some(git), state, &only)?;
    if repo.agent_ids.iter().any(|a| a == agent) {
        return Ok(());
    }
    Err(unknown_agent(&all_agent_ids(root, git, state)?, agent))
}

/// Every agent id of a state, from the whole listing, no agent layer read: for suggestions.
fn all_agent_ids(root: &Path, git: &Git, state: &State) -> Result<Vec<String>, String> {
    let none = Selection::Agents(Default::default());
    let repo = match state {
        State::WorkTree => crate::repo::layer::load_selected(&WorkTree::new(root), &none),
        _ => crate::repo::layer::load_selected(&git.snapshot(state).map_err(|e| e.0)?, &none),
    }
    .map_err(|e| e.to_string())?;
    Ok(repo.agent_ids)
}

/// The state before the first commit: a root config and nothing else.
pub fn empty() -> Result<Repo, String> {
    crate::repo::layer::load(&Memory::new([("opl.toml", "version = 1\n")]))
        .map_err(|e| e.to_string())
}
