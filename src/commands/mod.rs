//! One module per subcommand: read inputs, call the core, hand results to an output writer.

pub mod explain;
pub mod init;
pub mod render;
pub mod schema;
pub mod validate;

use std::io::Write;
use std::path::PathBuf;

use crate::layer::Repo;
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
    let root = find_root(ctx.repo.as_deref()).map_err(Failure)?;
    let repo = crate::layer::load(&WorkTree::new(&root))
        .map_err(|e| Failure(format!("cannot read {}: {e}", root.display())))?;
    Ok((root, repo))
}

/// Writes to a stream, turning a broken pipe into a quiet failure.
pub fn emit(w: &mut dyn Write, text: &str) -> Result<(), Failure> {
    w.write_all(text.as_bytes())
        .map_err(|e| Failure(format!("cannot write output: {e}")))
}

/// The error for an agent id that names no agent.
pub fn unknown_agent(repo: &Repo, id: &str) -> Failure {
    let hint = crate::diagnostic::did_you_mean(id, repo.agents.keys().map(String::as_str))
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
