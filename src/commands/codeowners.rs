//! `opl codeowners`: a CODEOWNERS file from each layer's `meta.owner`.

use super::{Ctx, Outcome, emit, open_source};
use crate::check::owners::{rules, text};
use crate::cli::CodeownersArgs;

/// Runs `opl codeowners`.
pub fn run(ctx: &mut Ctx, args: &CodeownersArgs) -> Outcome {
    let (root, repo) = open_source(ctx, &args.source)?;
    let prefix = crate::git::Git::discover(&root)
        .ok()
        .flatten()
        .map(|g| g.prefix().to_string())
        .unwrap_or_default();
    emit(ctx.out, &text(&rules(&repo, &prefix)))?;
    Ok(crate::EXIT_CLEAN)
}
