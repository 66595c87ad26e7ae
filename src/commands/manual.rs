//! `opl completions SHELL` and `opl man`: generated from the command-line definition.

use clap::CommandFactory;

use super::{Ctx, Failure, Outcome};
use crate::cli::{Cli, CompletionsArgs};

/// Runs `opl completions`.
pub fn completions(ctx: &mut Ctx, args: &CompletionsArgs) -> Outcome {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "opl", &mut ctx.out);
    Ok(crate::EXIT_CLEAN)
}

/// Runs `opl man`.
pub fn man(ctx: &mut Ctx) -> Outcome {
    let cmd = Cli::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .map_err(|e| Failure(e.to_string()))?;
    // One section per subcommand, so the page documents every command and its options.
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        buf.extend_from_slice(
            format!(".SH \"OPL {}\"\n", sub.get_name().to_uppercase()).as_bytes(),
        );
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            let text = about
                .to_string()
                .replace('\\', "\\\\")
                .replace('\n', "\n.br\n");
            buf.extend_from_slice(format!("{text}\n").as_bytes());
        }
        clap_mangen::Man::new(sub.clone())
            .render_options_section(&mut buf)
            .map_err(|e| Failure(e.to_string()))?;
    }
    ctx.out.write_all(&buf).map_err(super::write_failure)?;
    Ok(crate::EXIT_CLEAN)
}
