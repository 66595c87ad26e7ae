//! One module per subcommand: read inputs, call the core, hand results to an output writer.

pub mod access;
pub mod check;
pub mod codeowners;
pub mod decide;
pub mod diff;
pub mod explain;
pub mod export;
pub mod graph;
pub mod history;
pub mod hook;
pub mod init;
pub mod inventory;
pub mod manual;
pub mod render;
pub mod schema;
pub mod test;
pub mod validate;

use std::io::Write;
use std::path::PathBuf;

use crate::cli::SourceArgs;
use crate::git::State;
use crate::output::Style;
use crate::repo::layer::Repo;
use crate::repo::layout::Selection;
pub use crate::repo::load::{load_state, locate, need_git};

/// What every command gets: the output streams and shared options.
pub struct Ctx<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub style: Style,
    pub repo: Option<PathBuf>,
    /// `err` is a terminal outside CI: long walks may show their progress there.
    pub progress: bool,
}

/// A usage or I/O failure (exit status 2) with its message.
#[derive(Debug)]
pub struct Failure(pub String);

impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure(e.to_string())
    }
}

/// The result of a command: an exit status, or a failure.
pub type Outcome = Result<u8, Failure>;

/// Finds the root and loads the state `source` names (work tree, index or a revision).
pub fn open_source(ctx: &Ctx, source: &SourceArgs) -> Result<(PathBuf, Repo), Failure> {
    open_selected(ctx, source, &Selection::All)
}

/// [`open_source`] with only the layers one agent inherits and its own read (every agent and
/// client id is still listed, for suggestions).
pub fn open_agent(ctx: &Ctx, source: &SourceArgs, agent: &str) -> Result<(PathBuf, Repo), Failure> {
    open_agents(ctx, source, &[agent.to_string()])
}

/// [`open_agent`] for several agents.
pub fn open_agents(
    ctx: &Ctx,
    source: &SourceArgs,
    agents: &[String],
) -> Result<(PathBuf, Repo), Failure> {
    open_selected(
        ctx,
        source,
        &Selection::Agents(agents.iter().cloned().collect()),
    )
}

fn open_selected(
    ctx: &Ctx,
    source: &SourceArgs,
    selection: &Selection,
) -> Result<(PathBuf, Repo), Failure> {
    let state = state_of(source);
    let (root, git) = locate(ctx.repo.as_deref(), &state)?;
    let repo = load_state(&root, git.as_ref(), &state, selection)?;
    Ok((root, repo))
}

/// The writer's format for `--format`.
pub fn report_format(f: crate::cli::ReportFormat) -> crate::output::ReportFormat {
    use crate::cli::ReportFormat as C;
    use crate::output::ReportFormat as R;
    match f {
        C::Human => R::Human,
        C::Json => R::Json,
        C::Github => R::Github,
        C::Sarif => R::Sarif,
        C::Junit => R::Junit,
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

/// Writes to a stream, turning a broken pipe into a quiet failure.
pub fn emit(w: &mut dyn Write, text: &str) -> Result<(), Failure> {
    w.write_all(text.as_bytes()).map_err(write_failure)
}

/// The failure of a command whose output could not be written.
pub fn write_failure(e: std::io::Error) -> Failure {
    Failure(format!("cannot write output: {e}"))
}

/// The error for an agent id that names no agent.
pub fn unknown_agent(repo: &Repo, id: &str) -> Failure {
    Failure(crate::repo::load::unknown_agent(&repo.agent_ids, id))
}

/// Checks that `client` (when given) names a client of the repository; the error names the closest.
pub fn known_client(repo: &Repo, client: Option<&String>) -> Result<(), Failure> {
    let Some(c) = client.filter(|c| !repo.clients.contains_key(*c)) else {
        return Ok(());
    };
    let hint = crate::diagnostic::did_you_mean(c, repo.clients.keys().map(String::as_str))
        .map(|m| format!(" (did you mean `{m}`?)"))
        .unwrap_or_default();
    Err(Failure(format!(
        "no client `{}` in this repository{hint}",
        crate::model::source::safe(c)
    )))
}

/// Ends the life of what a command loaded (a repository's layers, a git handle and the objects
/// it holds) without freeing it piece by piece: the process exits right after, and for a large
/// repository freeing costs more than everything after loading.
pub fn leak<T>(value: T) {
    std::mem::forget(value);
}

/// Progress of a long walk, written to the error stream the command was given: only when that
/// stream is a terminal outside CI ([`Ctx::progress`]), never with `--quiet`, and only once the
/// walk has taken more than a second.
pub struct Progress {
    start: std::time::Instant,
    enabled: bool,
    shown: bool,
    label: &'static str,
}

impl Progress {
    /// A progress line for `label`.
    pub fn new(allowed: bool, label: &'static str, quiet: bool) -> Self {
        Progress {
            start: std::time::Instant::now(),
            enabled: allowed && !quiet,
            shown: false,
            label,
        }
    }
    /// Reports `done` of `total` commits.
    pub fn tick(&mut self, err: &mut dyn Write, done: usize, total: usize) {
        if self.enabled && done % 512 == 0 && self.start.elapsed().as_secs_f32() > 1.0 {
            self.shown = true;
            let _ = err.write_all(format!("\r{}: {done}/{total} commits", self.label).as_bytes());
        }
    }
    /// Clears the line.
    pub fn finish(&mut self, err: &mut dyn Write) {
        if self.shown {
            let _ = err.write_all(b"\r\x1b[K");
            self.shown = false;
        }
    }
}
