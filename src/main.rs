//! The `opl` binary: parse arguments, run, map the outcome to an exit status.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = opl::cli::Cli::parse();
    let code = opl::run(
        cli,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::ExitCode::from(code)
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
