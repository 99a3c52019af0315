//! The `hufu` binary: parse the command line, load settings, run. Every start-up failure is
//! one line on stderr and a non-zero exit, never a panic or a backtrace.

use clap::Parser;
use hufu::cli::{self, Cli};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match cli::load_settings(cli.config.as_ref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("hufu: {error:#}");
            return ExitCode::from(2);
        }
    };
    hufu::telemetry::init(settings.log_format);
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
