//! `audit`: every commit of a range that changed an agent's effective config, with what it
//! changed and whether it widened, and tallies per author and per client.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::diff::{Report, Status, compare};
use crate::git::{CommitMeta, Git, Id, State};
use crate::repo::layout::{Named, Selection};
use crate::repo::load::Remember;

/// The commits of `range` (`A..B`, `..B`, `A..`, one revision, or `HEAD` when `None`) since
/// `since`, newest first, that change at least one agent, each with its diff from its first
/// parent (a root commit or a shallow clone's cut: from nothing).
pub fn audit(
    root: &Path,
    git: &Git,
    range: Option<&str>,
    since: Option<i64>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Row>, String> {
    let commits = match range {
        Some(r) if r.contains("..") => {
            let (a, b) = r.split_once("..").expect("checked");
            // As git reads it: an omitted side is HEAD.
            let side = |s: &'_ str| {
                if s.is_empty() {
                    "HEAD".to_string()
                } else {
                    s.to_string()
                }
            };
            git.range(&side(a), &side(b), since)
        }
        Some(r) => super::commits::log(git, r, false, since),
        None => super::commits::log(git, "HEAD", false, since),
    }
    .map_err(|e| e.0)?;
    let boundary = git.shallow_boundary();
    let mut cache = super::cache::AuditCache::open(git);
    let names = Names::default();
    // Neighbouring commits share most files: each is parsed once for the whole walk.
    let _memo = crate::repo::layer::keep_parsed_files();
    let parent_of = |c: &CommitMeta| super::walked_parents(c, &boundary, true).first().copied();
    // The rows of each commit: from the cache, or computed below (`None` for a root commit whose
    // state cannot be read: it is left out).
    let mut found: Vec<Option<Option<Vec<AgentRow>>>> = commits
        .iter()
        .map(|c| cache.rows(c.id, parent_of(c), &names).map(Some))
        .collect();
    let todo: Vec<usize> = (0..commits.len()).filter(|i| found[*i].is_none()).collect();
    let total = todo.len();
    // Runs of neighbouring commits, computed on every core: most of a commit's work (listing and
    // assembling its state) is sequential, and a commit to a shared layer costs many times a
    // commit to one agent, so runs are short enough for the threads to share them evenly. A
    // thread takes the next run as soon as it is free (no group of runs waits for its slowest),
    // and each run's rows come back here as it ends, for the cache and the progress shown. Each
    // thread reads the repository through a handle of its own (each reads under its own lock),
    // and keeps the client each agent file it read names ([`Clients`]).
    type Computed = Vec<(usize, Result<Option<Vec<AgentRow>>, String>)>;
    let handles: Mutex<Vec<(Option<Git>, Clients)>> = Mutex::new(Vec::new());
    let (tx, rx) = std::sync::mpsc::channel::<Computed>();
    // The error of the earliest commit that failed, whatever order the runs end in.
    let mut failed: Option<(usize, String)> = None;
    std::thread::scope(|s| {
        s.spawn(|| {
            use rayon::prelude::*;
            todo.par_chunks(RUN).for_each_with(tx, |tx, run| {
                let own = handles.lock().expect("handles").pop();
                let (own, mut clients) =
                    own.unwrap_or_else(|| (git.reopen().ok(), Clients::default()));
                let g = own.as_ref().unwrap_or(git);
                let rows: Computed = run
                    .iter()
                    .map(|&i| {
                        let c = &commits[i];
                        let rows = commit_rows(root, g, c, parent_of(c), &names, &mut clients);
                        (i, rows)
                    })
                    .collect();
                handles.lock().expect("handles").push((own, clients));
                let _ = tx.send(rows);
            });
        });
        let mut done = 0;
        progress(0, total);
        for rows in rx {
            done += rows.len();
            for (i, r) in rows {
                match r {
                    Ok(r) => {
                        if let Some(r) = &r {
                            cache.insert(commits[i].id, parent_of(&commits[i]), r);
                        }
                        found[i] = Some(r);
                    }
                    Err(e) if failed.as_ref().is_none_or(|(j, _)| i < *j) => failed = Some((i, e)),
                    Err(_) => {}
                }
            }
            progress(done, total);
        }
    });
    if let Some((_, e)) = failed {
        return Err(e);
    }
    let rows = commits
        .iter()
        .zip(found)
        .filter_map(|(c, r)| match r.flatten() {
            Some(r) if !r.is_empty() => Some((c.clone(), r)),
            _ => None,
        })
        .collect();
    cache.save();
    Ok(rows)
}

/// Neighbouring commits computed together on one thread by [`audit`].
const RUN: usize = 8;

/// What a commit changed from its first parent (from nothing: a root commit or a shallow
/// clone's cut); `None` for a root commit whose state cannot be read.
fn commit_rows(
    root: &Path,
    git: &Git,
    c: &CommitMeta,
    parent: Option<crate::git::Id>,
    names: &Names,
    clients: &mut Clients,
) -> Result<Option<Vec<AgentRow>>, String> {
    let to = State::Commit(c.id);
    let report = match parent {
        Some(p) => {
            let from = State::Commit(p);
            let changed = git.changed_paths(&from, &to).map_err(|e| e.0)?;
            match clients.reached(git, p, c.id, &changed)? {
                Some(ids) if ids.is_empty() => return Ok(Some(Vec::new())),
                Some(ids) => crate::repo::load::diff_agents(root, git, &from, &to, ids, changed)?,
                None => crate::repo::load::diff_paths(
                    root,
                    git,
                    &from,
                    &to,
                    changed,
                    &[],
                    false,
                    Remember::Nothing,
                )?,
            }
        }
        None => {
            let Ok(new) = crate::repo::load::load_state(root, Some(git), &to, &Selection::All)
            else {
                return Ok(None);
            };
            let old = crate::repo::load::empty()?;
            let ids = new.agents.keys().cloned().collect();
            compare(
                &old,
                &new,
                &ids,
                Vec::new(),
                "(none)".into(),
                c.id.to_string(),
            )
        }
    };
    Ok(Some(agent_rows(report, names)))
}

/// The client each agent file names, by the file's blob id, as far as a walk has read them: what
/// tells the agents a change to client folders reaches without reading every agent's layer.
#[derive(Default)]
struct Clients(HashMap<Id, Named>);

impl Clients {
    /// The agents a commit that changes only client folders' layer files (and perhaps agent
    /// files) can change: those whose files changed, and those that name a changed client or
    /// whose client their file alone cannot tell (an agent in folder form, a file that does not
    /// parse). `None` for any other commit (the full diff answers), and for one where an id
    /// could collide with another in case: an invalid client id in either state, or a changed
    /// agent file with an invalid id (a collision takes the layers of both ids away).
    fn reached(
        &mut self,
        git: &Git,
        parent: Id,
        commit: Id,
        changed: &[String],
    ) -> Result<Option<BTreeSet<String>>, String> {
        use crate::repo::layer::valid_id;
        use crate::repo::layout::{Place, classify};
        let mut edited = BTreeSet::new();
        let mut agents = BTreeSet::new();
        for p in changed {
            match classify(p) {
                Place::Client(c) => edited.insert(c),
                Place::Agent { id, .. } if valid_id(&id) => agents.insert(id),
                _ => return Ok(None),
            };
        }
        if edited.is_empty() {
            return Ok(None);
        }
        let e = |e: crate::git::GitError| e.0;
        let tree = |commit: Id| -> Result<Option<Arc<crate::git::RawTree>>, String> {
            match git.root_tree(commit).map_err(e)? {
                Some(t) => git.raw_tree(t).map(Some).map_err(e),
                None => Ok(None),
            }
        };
        let (Some(old), Some(new)) = (tree(parent)?, tree(commit)?) else {
            return Ok(None);
        };
        let folder = |t: &crate::git::RawTree, name: &str| -> Result<_, String> {
            match t.find(name, true) {
                Some((id, _)) => git.raw_tree(id).map(Some).map_err(e),
                None => Ok(None),
            }
        };
        for t in [&old, &new] {
            if t.find(crate::repo::layout::ROOT_CONFIG, false).is_none() {
                return Ok(None);
            }
            if let Some(c) = folder(t, crate::repo::layout::CLIENTS)?
                && c.iter()
                    .any(|(n, _, _)| std::str::from_utf8(n).map_or(true, |n| !valid_id(n)))
            {
                return Ok(None);
            }
        }
        let Some(listed) = folder(&new, crate::repo::layout::AGENTS)? else {
            return Ok(Some(agents));
        };
        for (name, id, kind) in listed.iter() {
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            let agent = match (kind, name.strip_suffix(".toml")) {
                (crate::repo::snapshot::EntryKind::File, Some(agent)) => agent,
                (crate::repo::snapshot::EntryKind::Dir, _) => {
                    agents.insert(name.to_string());
                    continue;
                }
                (_, Some(agent)) => {
                    agents.insert(agent.to_string());
                    continue;
                }
                (_, None) => continue,
            };
            if agent.starts_with('.') || agents.contains(agent) {
                continue;
            }
            let named = match self.0.entry(id) {
                std::collections::hash_map::Entry::Occupied(n) => n.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let text = git.blob(id).map_err(e)?;
                    v.insert(
                        std::str::from_utf8(&text)
                            .map_or(Named::Unknown, crate::repo::layout::client_named),
                    )
                }
            };
            let reached = match named {
                Named::Client(c) => edited.contains(c),
                Named::NoClient => false,
                Named::Unknown => true,
            };
            if reached {
                agents.insert(agent.to_string());
            }
        }
        Ok(Some(agents))
    }
}

/// One agent a commit changed, as the audit reports it: the changed key paths and why each
/// widening change widens (the values and rendered documents are not kept: a range can hold
/// thousands of agent changes per commit).
#[derive(Clone, Debug)]
pub struct AgentRow {
    /// The agent's id and client, shared by its rows of every commit ([`Names`]).
    pub agent: Arc<str>,
    pub client: Option<Arc<str>>,
    pub status: Status,
    /// The changed key paths (shared by the agents a change to a shared layer changed alike).
    pub keys: Arc<[String]>,
    /// `(path, why)` for each change that widens what the agent may do (shared as `keys` is).
    pub widening: Arc<[(String, String)]>,
}

impl AgentRow {
    /// `path: why` for each change that widens.
    pub fn widenings(&self) -> Vec<String> {
        self.widening
            .iter()
            .map(|(p, w)| format!("{p}: {w}"))
            .collect()
    }
}

/// The audit rows of one commit's diff. Agents that share their changes (the key-level diff
/// gives every agent below a shared change the same list) share their keys and widenings: a
/// range with a hundred changes to `global/` holds a million rows.
fn agent_rows(report: Report, names: &Names) -> Vec<AgentRow> {
    type Shared = (Arc<[String]>, Arc<[(String, String)]>);
    let mut seen: HashMap<(usize, usize), Shared> = HashMap::new();
    // Held for the whole commit: another thread's commit waits once, not once per agent.
    let mut names = names.0.lock().unwrap_or_else(|e| e.into_inner());
    report
        .agents
        .into_iter()
        .map(|a| {
            // A list is known by its address: every list was allocated before the first row
            // was made, so no two lists had one address (and none is made meanwhile).
            let at = (a.changes.as_ptr() as usize, a.changes.len());
            let (keys, widening) = seen
                .entry(at)
                .or_insert_with(|| {
                    (
                        a.changes.iter().map(|c| c.path.clone()).collect(),
                        a.changes
                            .iter()
                            .filter_map(|c| c.widening.clone().map(|w| (c.path.clone(), w)))
                            .collect(),
                    )
                })
                .clone();
            AgentRow {
                agent: Names::shared(&mut names, &a.agent),
                client: a.client.as_deref().map(|c| Names::shared(&mut names, c)),
                status: a.status,
                keys,
                widening,
            }
        })
        .collect()
}

/// The agent ids and client names of an audit's rows, one copy of each.
#[derive(Default)]
pub struct Names(Mutex<HashSet<Arc<str>>>);

impl Names {
    /// The shared copy of `name`.
    pub fn get(&self, name: &str) -> Arc<str> {
        Names::shared(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()), name)
    }

    /// The shared copy of `name` in `set`, the names held.
    fn shared(set: &mut HashSet<Arc<str>>, name: &str) -> Arc<str> {
        match set.get(name) {
            Some(n) => n.clone(),
            None => {
                let n: Arc<str> = Arc::from(name);
                set.insert(n.clone());
                n
            }
        }
    }
}

/// One commit that changed at least one agent, with the agents it changed.
pub type Row = (CommitMeta, Vec<AgentRow>);

/// Counts per author or client.
#[derive(Default, serde::Serialize)]
pub struct Tally {
    pub commits: usize,
    pub agent_changes: usize,
    pub widening: usize,
}

/// Tallies by author (`name <email>`) and by client (`(no client)` for agents without one).
pub fn tallies(rows: &[Row]) -> (BTreeMap<String, Tally>, BTreeMap<String, Tally>) {
    let mut by_author: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_client: BTreeMap<String, Tally> = BTreeMap::new();
    for (c, r) in rows {
        let t = by_author
            .entry(format!("{} <{}>", c.author, c.email))
            .or_default();
        t.commits += 1;
        t.agent_changes += r.len();
        t.widening += r.iter().filter(|a| !a.widening.is_empty()).count();
        let mut seen = std::collections::HashSet::new();
        for a in r {
            let client = a.client.as_deref().unwrap_or("(no client)").to_string();
            let t = by_client.entry(client.clone()).or_default();
            if seen.insert(client) {
                t.commits += 1;
            }
            t.agent_changes += 1;
            t.widening += usize::from(!a.widening.is_empty());
        }
    }
    (by_author, by_client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{AgentDiff, Change};
    use crate::model::key_path::KeyPath;

    fn change(path: &str, widening: Option<&str>) -> Change {
        Change {
            path: path.into(),
            key: KeyPath::root(),
            old: None,
            new: None,
            widening: widening.map(String::from),
            file: None,
            line: None,
            origin: None,
        }
    }

    fn diff(agent: &str, client: &str, changes: &Arc<[Change]>) -> AgentDiff {
        AgentDiff {
            agent: agent.into(),
            client: Some(client.into()),
            status: Status::Changed,
            digest_before: None,
            digest_after: None,
            valid_before: true,
            valid_after: true,
            errors_before: Vec::new(),
            errors_after: Vec::new(),
            changes: changes.clone(),
            doc_before: None,
            doc_after: None,
        }
    }

    #[test]
    fn agents_with_one_list_of_changes_share_their_keys_and_names() {
        let global: Arc<[Change]> = Arc::from(vec![
            change("model.name", None),
            change("policy.max_cost", Some("higher ceiling: 1 -> 2")),
        ]);
        // Equal to `global`, but another list: the rows hold equal, separate copies.
        let own: Arc<[Change]> = Arc::from(vec![
            change("model.name", None),
            change("policy.max_cost", Some("higher ceiling: 1 -> 2")),
        ]);
        let report = |agents| Report {
            from: "A".into(),
            to: "B".into(),
            agents,
            files_changed: Vec::new(),
            noop_files: Vec::new(),
            root_config_changed: false,
            locks_added: Vec::new(),
            locks_removed: Vec::new(),
        };
        let names = Names::default();
        let rows = agent_rows(
            report(vec![
                diff("a1", "acme", &global),
                diff("a2", "acme", &global),
                diff("a3", "beta", &own),
            ]),
            &names,
        );
        let later = agent_rows(report(vec![diff("a1", "acme", &own)]), &names);
        assert_eq!(rows.len(), 3);
        for r in &rows {
            assert_eq!(&r.keys[..], ["model.name", "policy.max_cost"]);
            assert_eq!(
                &r.widening[..],
                [("policy.max_cost".into(), "higher ceiling: 1 -> 2".into())]
            );
        }
        assert!(Arc::ptr_eq(&rows[0].keys, &rows[1].keys));
        assert!(Arc::ptr_eq(&rows[0].widening, &rows[1].widening));
        assert!(!Arc::ptr_eq(&rows[0].keys, &rows[2].keys));
        // One copy of each name across commits.
        assert!(Arc::ptr_eq(&rows[0].agent, &later[0].agent));
        assert!(Arc::ptr_eq(
            rows[0].client.as_ref().unwrap(),
            rows[1].client.as_ref().unwrap()
        ));
        assert_eq!(&*rows[2].agent, "a3");
        assert_eq!(rows[2].client.as_deref(), Some("beta"));
    }
}
