//! `opl hook install|uninstall`: the git pre-commit hook that runs `opl validate --staged`.

use std::path::Path;

use super::{Ctx, Failure, Outcome, emit, need_git};
use crate::cli::{HookAction, HookArgs};
use crate::repo::snapshot::find_root;
use crate::write::{Overwrite, write_atomic};

/// The line that marks a hook as written by opl.
pub const MARKER: &str = "# opl pre-commit hook";
const CHAINED: &str = "pre-commit.opl-chained";

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The hook script for a config root at `prefix` inside the repository.
pub fn script(prefix: &str, opl: &Path, chain: bool) -> String {
    let root = if prefix.is_empty() {
        ".".to_string()
    } else {
        prefix.trim_end_matches('/').to_string()
    };
    let mut s = format!(
        "#!/bin/sh\n{MARKER}: written by `opl hook install`; `opl hook uninstall` removes it.\n\
         # Checks what the commit would change: the agents the staged files affect.\n\
         opl={}\n[ -x \"$opl\" ] || opl=opl\n",
        shell_quote(&opl.to_string_lossy())
    );
    if chain {
        s.push_str(&format!(
            "\"$(dirname \"$0\")/{CHAINED}\" \"$@\" || exit $?\n"
        ));
    }
    s.push_str(&format!(
        "exec \"$opl\" -C {} validate --staged --color never\n",
        shell_quote(&root)
    ));
    s
}

fn make_executable(path: &Path) -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Failure(format!("cannot make {} executable: {e}", path.display())))?;
    }
    Ok(())
}

/// Runs `opl hook`.
pub fn run(ctx: &mut Ctx, args: &HookArgs) -> Outcome {
    let root = find_root(ctx.repo.as_deref()).map_err(Failure)?;
    let git = need_git(&root)?;
    let dir = git.hooks_dir().map_err(|e| Failure(e.0))?;
    let hook = dir.join("pre-commit");
    let chained = dir.join(CHAINED);
    let ours = |p: &Path| std::fs::read_to_string(p).is_ok_and(|t| t.contains(MARKER));
    match args.action {
        HookAction::Install { chain } => {
            crate::write::ensure_dir(&dir).map_err(Failure)?;
            let exists = std::fs::symlink_metadata(&hook).is_ok();
            if exists && ours(&hook) {
                return Err(Failure(format!("{} is already opl's hook", hook.display())));
            }
            if exists && !chain {
                return Err(Failure(format!(
                    "{} already exists and was not written by opl; run `opl hook install --chain` to keep it and run it before opl",
                    hook.display()
                )));
            }
            if exists {
                if std::fs::symlink_metadata(&chained).is_ok() {
                    return Err(Failure(format!(
                        "{} already exists; remove it first",
                        chained.display()
                    )));
                }
                std::fs::rename(&hook, &chained)
                    .map_err(|e| Failure(format!("cannot move the existing hook aside: {e}")))?;
            }
            let exe = std::env::current_exe().unwrap_or_else(|_| "opl".into());
            let text = script(git.prefix(), &exe, exists);
            if let Err(e) = write_atomic(&hook, text.as_bytes(), Overwrite::Never) {
                if exists {
                    let _ = std::fs::rename(&chained, &hook);
                }
                return Err(Failure(e));
            }
            make_executable(&hook)?;
            let note = if exists {
                format!(" (your hook runs first, kept as {CHAINED})")
            } else {
                String::new()
            };
            emit(ctx.out, &format!("installed {}{note}\n", hook.display()))?;
        }
        HookAction::Uninstall => {
            if std::fs::symlink_metadata(&hook).is_err() {
                return Err(Failure(format!("there is no {}", hook.display())));
            }
            if !ours(&hook) {
                return Err(Failure(format!(
                    "{} was not written by opl; left as it is",
                    hook.display()
                )));
            }
            std::fs::remove_file(&hook)
                .map_err(|e| Failure(format!("cannot remove {}: {e}", hook.display())))?;
            if std::fs::symlink_metadata(&chained).is_ok() {
                std::fs::rename(&chained, &hook)
                    .map_err(|e| Failure(format!("cannot restore {}: {e}", chained.display())))?;
                emit(
                    ctx.out,
                    &format!("removed opl's hook and restored your {}\n", hook.display()),
                )?;
            } else {
                emit(ctx.out, &format!("removed {}\n", hook.display()))?;
            }
        }
    }
    Ok(crate::EXIT_CLEAN)
}
