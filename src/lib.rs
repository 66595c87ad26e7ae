//! opl: the operating layer for AI agents.
//!
//! A library over a repository of layered TOML files (global, client, agent) that configures AI
//! agents: it loads the layers ([`layer`]), checks each file against the schema ([`shape`]),
//! merges every agent's stack with provenance ([`merge`], [`stack`]), checks across keys
//! ([`check`]), and renders the effective config with a digest ([`render`]). The library never
//! prints; commands write to the streams they are given.

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod check;
pub mod ci;
pub mod class;
pub mod cli;
pub mod commands;
pub mod diagnostic;
pub mod diff;
pub mod git;
pub mod glob;
pub mod history;
pub mod inventory;
pub mod key_path;
pub mod layer;
pub mod layout;
pub mod lint;
pub mod load;
pub mod merge;
pub mod origin;
pub mod output;
pub mod owners;
pub mod render;
pub mod schema;
pub mod secret;
pub mod shape;
pub mod snapshot;
pub mod source;
pub mod stack;
pub mod value;
pub mod write;

use std::io::{IsTerminal, Write};

/// Exit status: no findings.
pub const EXIT_CLEAN: u8 = 0;
/// Exit status: findings (or a refused render).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: usage error or I/O failure.
pub const EXIT_FAILURE: u8 = 2;

/// Runs one command line, writing to `out` and `err`; returns the exit status.
pub fn run(cli: cli::Cli, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let color = match cli.color {
        cli::ColorChoice::Always => true,
        cli::ColorChoice::Never => false,
        cli::ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100);
    let mut ctx = commands::Ctx {
        out,
        err,
        style: output::Style { color, width },
        repo: cli.repo,
        progress: std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
    };
    let result = match &cli.command {
        cli::Command::Validate(a) => commands::validate::run(&mut ctx, a),
        cli::Command::Render(a) => commands::render::run(&mut ctx, a),
        cli::Command::Explain(a) => commands::explain::run(&mut ctx, a),
        cli::Command::Init(a) => commands::init::run(&mut ctx, a),
        cli::Command::Schema(a) => commands::schema::run(&mut ctx, a),
        cli::Command::Diff(a) => commands::diff::run(&mut ctx, a),
        cli::Command::Check(a) => commands::check::run(&mut ctx, a),
        cli::Command::Hook(a) => commands::hook::run(&mut ctx, a),
        cli::Command::Log(a) => commands::history::log(&mut ctx, a),
        cli::Command::Blame(a) => commands::history::blame(&mut ctx, a),
        cli::Command::Whence(a) => commands::history::whence(&mut ctx, a),
        cli::Command::Audit(a) => commands::history::audit(&mut ctx, a),
        cli::Command::Inventory(a) => commands::inventory::run(&mut ctx, a),
        cli::Command::Codeowners => commands::codeowners::run(&mut ctx),
        cli::Command::Graph(a) => commands::graph::run(&mut ctx, a),
        cli::Command::Completions(a) => commands::manual::completions(&mut ctx, a),
        cli::Command::Man => commands::manual::man(&mut ctx),
    };
    match result {
        Ok(code) => code,
        Err(commands::Failure(msg)) => {
            let _ = writeln!(ctx.err, "error: {msg}");
            EXIT_FAILURE
        }
    }
}
