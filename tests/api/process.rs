//! Running the real `hufu` binary: one-shot commands and server processes on random ports.

#![allow(dead_code)]

use std::io::{BufRead, Write};
use std::process::{Child, Command, Output, Stdio};
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
    if let (Some(mut pipe), Some(text)) = (child.stdin.take(), stdin) {
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("hufu finished")
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
        let mut command = hufu();
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        command
            .env("HUFU_LISTEN", "127.0.0.1:0")
            .env("HUFU_ARGON2_MEMORY_KIB", "7168")
            .env("HUFU_ARGON2_ITERATIONS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in envs {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("spawn hufu serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = std::io::BufReader::new(stderr).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                && event["message"] == "hufu is serving"
            {
                let addr = event["listen"].as_str().expect("listen").to_owned();
                // Keep draining the log so the child never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
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
