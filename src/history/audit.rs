//! `audit`: every commit of a range that changed an agent's effective config, with what it
//! changed and whether it widened, and tallies per author and per client.

use std::collections::BTreeMap;
use std::path::Path;

use crate::diff::{Report, Status, compare};
use crate::git::{CommitMeta, Git, State};
use crate::repo::layout::Selection;

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
    // Neighbouring commits share most files: each is parsed once for the whole walk.
    let _memo = crate::repo::layer::keep_parsed_files();
    let parent_of = |c: &CommitMeta| super::walked_parents(c, &boundary, true).first().copied();
    // The rows of each commit: from the cache, or computed below (`None` for a root commit whose
    // state cannot be read: it is left out).
    let mut found: Vec<Option<Option<Vec<AgentRow>>>> = commits
        .iter()
        .map(|c| cache.rows(c.id, parent_of(c)).map(Some))
        .collect();
    let todo: Vec<usize> = (0..commits.len()).filter(|i| found[*i].is_none()).collect();
    let total = todo.len();
    // Runs of neighbouring commits, computed on every core: most of a commit's work (listing and
    // assembling its state) is sequential, and a commit to a shared layer costs many times a
    // commit to one agent, so runs are short enough for the threads to share them evenly. Each
    // thread reads the repository through a handle of its own (each reads under its own lock).
    let handles = std::sync::Mutex::new(Vec::new());
    for (done, round) in todo.chunks(ROUND).enumerate() {
        progress(done * ROUND, total);
        use rayon::prelude::*;
        let computed: Vec<Vec<Result<Option<Vec<AgentRow>>, String>>> = round
            .par_chunks(RUN)
            .map(|run| {
                let own = handles.lock().expect("handles").pop();
                let own = own.or_else(|| git.reopen().ok());
                let g = own.as_ref().unwrap_or(git);
                let rows = run
                    .iter()
                    .map(|&i| commit_rows(root, g, &commits[i], parent_of(&commits[i])))
                    .collect();
                if let Some(h) = own {
                    handles.lock().expect("handles").push(h);
                }
                rows
            })
            .collect();
        for (&i, r) in round.iter().zip(computed.into_iter().flatten()) {
            let r = r?;
            if let Some(r) = &r {
                cache.insert(commits[i].id, parent_of(&commits[i]), r);
            }
            found[i] = Some(r);
        }
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

/// Commits computed together in a round of [`audit`], and in a run on one thread.
const ROUND: usize = 128;
const RUN: usize = 8;

/// What a commit changed from its first parent (from nothing: a root commit or a shallow
/// clone's cut); `None` for a root commit whose state cannot be read.
fn commit_rows(
    root: &Path,
    git: &Git,
    c: &CommitMeta,
    parent: Option<crate::git::Id>,
) -> Result<Option<Vec<AgentRow>>, String> {
    let to = State::Commit(c.id);
    let report = match parent {
        Some(p) => {
            crate::repo::load::diff_states(root, git, &State::Commit(p), &to, &[], false, false)?
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
    Ok(Some(agent_rows(report)))
}

/// One agent a commit changed, as the audit reports it: the changed key paths and why each
/// widening change widens (the values and rendered documents are not kept: a range can hold
/// thousands of agent changes per commit).
#[derive(Clone, Debug)]
pub struct AgentRow {
    pub agent: String,
    pub client: Option<String>,
    pub status: Status,
    /// The changed key paths.
    pub keys: Vec<String>,
    /// `(path, why)` for each change that widens what the agent may do.
    pub widening: Vec<(String, String)>,
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

/// The audit rows of one commit's diff.
fn agent_rows(report: Report) -> Vec<AgentRow> {
    report
        .agents
        .into_iter()
        .map(|a| AgentRow {
            widening: a
                .changes
                .iter()
                .filter_map(|c| c.widening.clone().map(|w| (c.path.clone(), w)))
                .collect(),
            keys: a.changes.iter().map(|c| c.path.clone()).collect(),
            agent: a.agent,
            client: a.client,
            status: a.status,
        })
        .collect()
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
            let client = a.client.clone().unwrap_or_else(|| "(no client)".into());
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
