//! One module per subcommand: read inputs, call the core, hand results to an output writer.

pub mod check;
pub mod diff;
pub mod explain;
pub mod graph;
pub mod history;
pub mod hook;
pub mod init;
pub mod inventory;
pub mod manual;
pub mod owners;
pub mod render;
pub mod schema;
pub mod validate;

use std::io::Write;
use std::path::PathBuf;

use crate::cli::SourceArgs;
use crate::git::{Git, State};
use crate::layer::{Repo, Selection};
use crate::output::Style;
use crate::snapshot::{WorkTree, find_root};

/// What every command gets: the output streams and shared options.
pub struct Ctx<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub style: Style,
    pub repo: Option<PathBuf>,
}

/// A usage or I/O failure (exit status 2) with its message.
#[derive(Debug)]
pub struct Failure(pub String);

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure(e.to_string())
    }
}

/// The result of a command: an exit status, or a failure.
pub type Outcome = Result<u8, Failure>;

/// Finds the root and loads the work tree.
pub fn open(ctx: &Ctx) -> Result<(PathBuf, Repo), Failure> {
    open_source(ctx, &SourceArgs::default())
}

/// Finds the root and loads the state `source` names (work tree, index or a revision).
pub fn open_source(ctx: &Ctx, source: &SourceArgs) -> Result<(PathBuf, Repo), Failure> {
    let state = state_of(source);
    let (root, git) = locate(ctx, &state)?;
    let repo = load_state(&root, git.as_ref(), &state, &Selection::All)?;
    Ok((root, repo))
}

/// The config root and, for a revision or the index, its git repository. A bare repository
/// (no work tree) can be read at a revision, with the config root at the top of its trees.
pub fn locate(ctx: &Ctx, state: &State) -> Result<(PathBuf, Option<Git>), Failure> {
    match find_root(ctx.repo.as_deref()) {
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
                let dir = ctx
                    .repo
                    .clone()
                    .or_else(|| std::env::current_dir().ok())
                    .unwrap_or_default();
                if let Ok(Some(g)) = Git::discover(&dir)
                    && g.workdir().is_none()
                {
                    return Ok((dir, Some(g)));
                }
            }
            Err(Failure(e))
        }
    }
}

/// The state `--rev` / `--staged` name.
pub fn state_of(source: &SourceArgs) -> State {
    match (&source.rev, source.staged) {
        (Some(r), _) => State::Rev(r.clone()),
        (None, true) => State::Index,
        (None, false) => State::WorkTree,
    }
}

/// The git repository holding the root, or a failure that says why one is needed.
pub fn need_git(root: &std::path::Path) -> Result<Git, Failure> {
    match Git::discover(root) {
        Ok(Some(g)) => Ok(g),
        Ok(None) => Err(Failure(format!(
            "{} is not inside a git repository; --rev, --staged, diff and hooks need one",
            root.display()
        ))),
        Err(e) => Err(Failure(e.0)),
    }
}

/// Loads one state of the config repository.
pub fn load_state(
    root: &std::path::Path,
    git: Option<&Git>,
    state: &State,
    selection: &Selection,
) -> Result<Repo, Failure> {
    let loaded = match state {
        State::WorkTree => crate::layer::load_selected(&WorkTree::new(root), selection),
        _ => {
            let git =
                git.ok_or_else(|| Failure("reading a revision needs a git repository".into()))?;
            let snap = match selection {
                Selection::All => git.snapshot(state),
                Selection::Agents(ids) => {
                    git.snapshot_focused(state, Some(&ids.iter().cloned().collect::<Vec<_>>()))
                }
            }
            .map_err(|e| Failure(e.0))?;
            if !snap.has_root() {
                let at = if git.prefix().is_empty() {
                    "the top of the repository".to_string()
                } else {
                    git.prefix().to_string()
                };
                return Err(Failure(format!(
                    "{} has no opl.toml at {at}",
                    state.label()
                )));
            }
            crate::layer::load_selected(&snap, selection)
        }
    };
    loaded.map_err(|e| {
        Failure(format!(
            "cannot read {} of {}: {e}",
            state.label(),
            root.display()
        ))
    })
}

/// Writes to a stream, turning a broken pipe into a quiet failure.
pub fn emit(w: &mut dyn Write, text: &str) -> Result<(), Failure> {
    w.write_all(text.as_bytes())
        .map_err(|e| Failure(format!("cannot write output: {e}")))
}

/// The error for an agent id that names no agent.
pub fn unknown_agent(repo: &Repo, id: &str) -> Failure {
    let hint = crate::diagnostic::did_you_mean(id, repo.agent_ids.iter().map(String::as_str))
        .map(|m| format!(" (did you mean `{m}`?)"))
        .unwrap_or_default();
    Failure(format!(
        "no agent `{}` in this repository{hint}; `opl validate` lists problems with agent files",
        crate::source::safe(id)
    ))
}

/// Ends a loaded repository's life without freeing it node by node: the process exits right
/// after, and for a large repository freeing costs more than everything after loading.
pub fn leak(repo: Repo) {
    std::mem::forget(repo);
}

/// Progress on stderr for long walks: only on a terminal, never with `--quiet` or under `CI`,
/// and only once a walk has taken more than a second.
pub struct Progress {
    start: std::time::Instant,
    enabled: bool,
    shown: bool,
    label: &'static str,
}

impl Progress {
    /// A progress line for `label`.
    pub fn new(label: &'static str, quiet: bool) -> Self {
        use std::io::IsTerminal;
        let enabled = !quiet && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        Progress {
            start: std::time::Instant::now(),
            enabled,
            shown: false,
            label,
        }
    }
    /// Reports `done` of `total` commits.
    pub fn tick(&mut self, done: usize, total: usize) {
        if self.enabled && done % 512 == 0 && self.start.elapsed().as_secs_f32() > 1.0 {
            self.shown = true;
            let _ = std::io::stderr()
                .write_all(format!("\r{}: {done}/{total} commits", self.label).as_bytes());
        }
    }
    /// Clears the line.
    pub fn finish(&mut self) {
        if self.shown {
            let _ = std::io::stderr().write_all(b"\r\x1b[K");
            self.shown = false;
        }
    }
}
