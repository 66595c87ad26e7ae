//! The `opl` binary: parse arguments, run, map the outcome to an exit status.

use std::io::{self, Write};

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = opl::cli::Cli::parse();
    // A defect in opl is reported in one line, without a backtrace, and exits 2 like any failure.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        let _ = writeln!(
            io::stderr(),
            "error: internal error in opl: {msg}{at}; please report it with the command line"
        );
    }));
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        opl::run(
            cli,
            &mut Stdout(io::stdout().lock()),
            &mut io::stderr(), // not held locked: the panic hook may write from another thread
        )
    }))
    .unwrap_or(opl::EXIT_FAILURE);
    // A cache write started before a failure ends whole (run waits for it when it returns).
    opl::write::finish_background();
    std::process::ExitCode::from(code)
}

/// Standard output that ends the process quietly when the reader has gone away (`opl ... | head`),
/// as a Unix filter does, instead of reporting a write error or a panic from a generator.
struct Stdout<W: Write>(W);

impl<W: Write> Stdout<W> {
    fn check<T>(r: io::Result<T>) -> io::Result<T> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                // A cache being written ends whole, not as a temporary file left behind.
                opl::write::finish_background();
                std::process::exit(0)
            }
            r => r,
        }
    }
}

impl<W: Write> Write for Stdout<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Self::check(self.0.write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        Self::check(self.0.flush())
    }
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
