//! The `hufu` binary: parse the command line, load settings, run. Every start-up failure is
//! one line on stderr and a non-zero exit, never a panic or a backtrace.

use clap::Parser;
use hufu::cli::{self, Cli};
use std::process::ExitCode;

/// Keeps argon2's 19 MiB work areas out of glibc's heap arenas.
///
/// glibc raises its mmap threshold each time a large mmapped block is freed, so after the
/// first few password hashes the 19 MiB blocks come from per-thread arenas, which keep the
/// memory after `free`: measured, the server grew to over 500 MiB after a login burst. A fixed
/// threshold makes every such block an mmap that is returned at once (38 MiB after the same
/// burst).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_allocations_out_of_the_heap() {
    // SAFETY: mallopt only changes allocator parameters, and runs before any other thread
    // exists (the first thing main does).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_allocations_out_of_the_heap() {}

fn main() -> ExitCode {
    keep_large_allocations_out_of_the_heap();
    let cli = Cli::parse();
    let settings = match cli::load_settings(cli.config.as_ref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("hufu: {error:#}");
            return ExitCode::from(2);
        }
    };
    // Held until main returns, so the last lines are written out.
    let _log_writer = hufu::telemetry::init(settings.server.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hufu: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hufu: {error:#}");
            ExitCode::FAILURE
        }
    }
}
