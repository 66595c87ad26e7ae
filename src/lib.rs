//! opl: the operating layer for AI agents.
//!
//! A library over a repository of layered TOML files (global, client, agent) that configures AI
//! agents. Data flows one way: a snapshot of the repository ([`repo`]) -> its layers, each file
//! checked against the schema ([`model`], [`check::shape`]) -> every agent's stack merged with
//! provenance ([`merge`]) -> checks across keys and lints ([`check`]) -> the rendered document and
//! its digest ([`render`]), the changes between two states ([`diff`]) or over commits
//! ([`history`]) -> findings and reports written in the format asked for ([`diagnostic`],
//! [`output`]). `docs/architecture.md` maps each concept to its module. The library never prints;
//! commands ([`commands`]) write to the streams they are given.

#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod check;
pub mod cli;
pub mod commands;
pub mod diagnostic;
pub mod diff;
pub mod export;
pub mod git;
pub mod history;
pub mod inventory;
pub mod keyed;
pub mod merge;
pub mod model;
pub mod output;
pub mod pack;
pub mod policy;
pub mod render;
pub mod repo;
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
        cli::Command::Decide(a) => commands::decide::run(&mut ctx, a),
        cli::Command::Access(a) => commands::access::run(&mut ctx, a),
        cli::Command::Export(a) => commands::export::run(&mut ctx, a),
        cli::Command::Test(a) => commands::test::run(&mut ctx, a),
        cli::Command::Hook(a) => commands::hook::run(&mut ctx, a),
        cli::Command::Log(a) => commands::history::log(&mut ctx, a),
        cli::Command::Blame(a) => commands::history::blame(&mut ctx, a),
        cli::Command::Whence(a) => commands::history::whence(&mut ctx, a),
        cli::Command::Audit(a) => commands::history::audit(&mut ctx, a),
        cli::Command::Inventory(a) => commands::inventory::run(&mut ctx, a),
        cli::Command::Codeowners(a) => commands::codeowners::run(&mut ctx, a),
        cli::Command::Graph(a) => commands::graph::run(&mut ctx, a),
        cli::Command::Completions(a) => commands::manual::completions(&mut ctx, a),
        cli::Command::Man => commands::manual::man(&mut ctx),
    };
    // A cache written while the answer was printed is complete before the command returns.
    write::finish_background();
    match result {
        Ok(code) => code,
        Err(commands::Failure(msg)) => {
            let _ = writeln!(ctx.err, "error: {msg}");
            EXIT_FAILURE
        }
    }
}
