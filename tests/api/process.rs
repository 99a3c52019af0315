//! Running the real `hufu` binary: one-shot commands and server processes on random ports.
//! Every process's stderr goes to the run's log (see `harness::log`), so `server_log()`
//! covers these processes too.

#![allow(dead_code)]

use crate::harness::log;
use std::io::{BufRead, Write};
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// A `hufu` command with none of the developer's HUFU_/seed variables leaking in.
pub fn hufu() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hufu"));
    for (name, _) in std::env::vars() {
        if name.starts_with("HUFU_") || name.starts_with("DB_") || name.starts_with("REDIS_") || name == "JWT_SECRET" {
            command.env_remove(name);
        }
    }
    command.env("HUFU_LOG_FORMAT", "json");
    command
}

/// Runs `hufu` with `envs` and `args`, feeding `stdin`.
pub fn run(envs: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = hufu();
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in envs {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("spawn hufu");
    let pid = child.id();
    if let (Some(mut pipe), Some(text)) = (child.stdin.take(), stdin) {
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    let output = child.wait_with_output().expect("hufu finished");
    if !output.stderr.is_empty() {
        let mut file = log::process_log(pid);
        for line in String::from_utf8_lossy(&output.stderr).lines() {
            log::process_line(&mut file, pid, line);
        }
    }
    output
}

/// Reads the stderr of the `hufu` process `pid` on a thread of its own until it closes:
/// every line goes to the run's log and to the returned channel. The thread keeps draining
/// after the receiver is gone, so the child never blocks on a full pipe.
pub fn follow_stderr(pid: u32, stderr: ChildStderr) -> Receiver<String> {
    let mut file = log::process_log(pid);
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            log::process_line(&mut file, pid, &line);
            let _ = tx.send(line);
        }
    });
    lines
}

/// A `hufu serve` process, killed when dropped.
pub struct Server {
    child: Child,
    /// `127.0.0.1:port` it listens on.
    pub addr: String,
}

impl Server {
    /// Starts `hufu serve` with `envs` (plus a random port and cheap argon2), waiting until it
    /// logs that it serves.
    pub fn start(envs: &[(&str, &str)]) -> Server {
        Self::start_in(None, envs)
    }

    /// Like [`Server::start`], with the working directory set to `dir`.
    pub fn start_in(dir: Option<&std::path::Path>, envs: &[(&str, &str)]) -> Server {
        Self::start_in_with(dir, envs, |_| {})
    }

    /// Like [`Server::start_in`], with the command adjusted by `adjust` before it is spawned
    /// (e.g. the umask it starts with).
    pub fn start_in_with(
        dir: Option<&std::path::Path>,
        envs: &[(&str, &str)],
        adjust: impl FnOnce(&mut Command),
    ) -> Server {
        let mut command = hufu();
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        command
            .env("HUFU_LISTEN", "127.0.0.1:0")
            .env("HUFU_ARGON2_MEMORY_KIB", "7168")
            .env("HUFU_ARGON2_ITERATIONS", "1")
            // The run's log keeps what the in-process servers log too: hufu's debug lines.
            .env("RUST_LOG", "info,hufu=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in envs {
            command.env(name, value);
        }
        adjust(&mut command);
        let mut child = command.spawn().expect("spawn hufu serve");
        let stderr = child.stderr.take().expect("stderr");
        let lines = follow_stderr(child.id(), stderr);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = lines.recv_timeout(left) else { break };
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                && event["message"] == "hufu is serving"
            {
                let addr = event["listen"].as_str().expect("listen").to_owned();
                return Server { child, addr };
            }
            seen.push(line);
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("hufu did not start:\n{}", seen.join("\n"));
    }

    /// `http://addr` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Server {
    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill only sends a signal to our own child process.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill failed");
    }

    /// Waits up to `within` for the process to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
