//! Logging set-up: JSON lines when not on a terminal (or when asked), readable lines on a
//! terminal. `RUST_LOG` filters as usual; the default is `info`.
//!
//! Lines are written by a dedicated thread (`tracing-appender`'s non-blocking writer): a
//! request thread formats its line and hands it over through a lock-free channel, instead of
//! taking the process-wide stderr lock and making a `write` call itself, and a slow log reader
//! (a full pipe, a stalled log shipper) cannot stall requests. When more than
//! [`BUFFERED_LINES`] lines are waiting, further lines are dropped rather than block.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Lines that may wait for the writer thread before new ones are dropped.
pub const BUFFERED_LINES: usize = 128_000;

/// Installs the global subscriber (call once, from `main`). Keep the returned guard until the
/// process ends: dropping it writes out the lines still waiting.
pub fn init(format: Option<LogFormat>) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let format = format.unwrap_or(if std::io::stderr().is_terminal() {
        LogFormat::Pretty
    } else {
        LogFormat::Json
    });
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(BUFFERED_LINES)
        .lossy(true)
        .thread_name("hufu-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    guard
}
