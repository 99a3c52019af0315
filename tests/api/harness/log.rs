//! The suite's server log: everything the test binary's servers logged, kept for the whole
//! run so a test can grep every line of it (issue 20: no code or secret in any log line).
//!
//! [`init`] installs one global tracing subscriber for the test binary (the in-process
//! servers of every test share the process, so one subscriber sees them all). It always
//! appends every `hufu=debug` event as a JSON line (the production format) to
//! `<target>/test-logs/api-<pid>/in-process.log`, and also prints events to stderr when
//! `HUFU_TEST_LOG` is set: `1` means `hufu=debug`, anything else is a filter
//! (`HUFU_TEST_LOG=hufu=info`, `HUFU_TEST_LOG=hufu::http=debug`). The real `hufu` processes
//! of `process.rs` write their stderr to `hufu-<child pid>.log` beside it (and to stderr
//! too when `HUFU_TEST_LOG` is set). [`server_log`] reads all of it.
//!
//! Nothing here changes what a server answers; it only listens. Directories of earlier runs
//! whose process has ended are removed when the next run starts.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;

/// The filter of the file, and of stderr under `HUFU_TEST_LOG=1`.
const FILE_FILTER: &str = "hufu=debug";

/// The file the in-process servers log to.
const IN_PROCESS: &str = "in-process.log";

/// This run's log directory, made (and the subscriber installed) on first use.
static RUN_DIR: OnceLock<PathBuf> = OnceLock::new();

/// `<target>/test-logs`: the test binary knows its target directory's `tmp` at build time.
fn logs_root() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("test-logs")
}

/// Installs the subscriber and makes this run's log directory, once; returns the directory.
pub fn init() -> &'static Path {
    RUN_DIR.get_or_init(|| {
        let root = logs_root();
        remove_stale(&root);
        let dir = root.join(format!("api-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the test log directory");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(IN_PROCESS))
            .expect("open the test log");
        let to_file = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(Mutex::new(file))
            .with_filter(EnvFilter::new(FILE_FILTER));
        // Straight to stderr, not libtest's captured output: server tasks run on runtime
        // threads, and whoever sets the switch wants to see the lines as they happen.
        let to_stderr = echo_filter().map(|filter| {
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .with_filter(filter)
        });
        let subscriber = tracing_subscriber::registry().with(to_file).with(to_stderr);
        // Another subscriber can only be there if someone installed one by hand: keep it.
        let _ = tracing::subscriber::set_global_default(subscriber);
        dir
    })
}

/// The stderr filter `HUFU_TEST_LOG` asks for, if any.
fn echo_filter() -> Option<EnvFilter> {
    let value = std::env::var("HUFU_TEST_LOG")
        .ok()
        .filter(|v| !v.is_empty() && v != "0")?;
    let directives = if value == "1" { FILE_FILTER } else { value.as_str() };
    Some(EnvFilter::try_new(directives).unwrap_or_else(|e| panic!("HUFU_TEST_LOG={value:?} is not a filter: {e}")))
}

/// Whether `HUFU_TEST_LOG` asks for the log on stderr.
pub fn echo() -> bool {
    static ECHO: OnceLock<bool> = OnceLock::new();
    *ECHO.get_or_init(|| echo_filter().is_some())
}

/// Removes the log directories of test runs whose process has ended.
fn remove_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix("api-"))
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && !super::stores::alive(pid)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A file for the stderr of the `hufu` process `pid`, in this run's log directory.
pub fn process_log(pid: u32) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(init().join(format!("hufu-{pid}.log")))
        .expect("open a process log")
}

/// Appends one stderr line of the `hufu` process `pid` to `file` (and to stderr if asked).
pub fn process_line(file: &mut File, pid: u32, line: &str) {
    let _ = writeln!(file, "{line}");
    if echo() {
        let _ = writeln!(std::io::stderr(), "[hufu {pid}] {line}");
    }
}

/// Every line the suite's servers have logged so far: the in-process servers' JSON lines,
/// then each `hufu` process's stderr.
pub fn server_log() -> String {
    let dir = init();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    // in-process.log sorts after hufu-*.log by name; put it first.
    files.sort_by_key(|path| (path.file_name().is_none_or(|n| n != IN_PROCESS), path.clone()));
    files
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .collect::<Vec<_>>()
        .join("")
}
