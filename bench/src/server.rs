//! Starting the real `hufu` binary for a run, and reading its memory use.

use hufu::config::names;
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `hufu serve`, stopped when dropped.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `binary` with `envs` on a random port and waits until it serves.
    pub fn start(binary: &std::path::Path, envs: &[(String, String)]) -> anyhow::Result<Server> {
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env(names::HUFU_LISTEN, "127.0.0.1:0")
            .env(names::HUFU_LOG_FORMAT, "json")
            // BENCH_HUFU_LOG=info measures the cost of the request log (one line per request).
            .env(
                "RUST_LOG",
                std::env::var("BENCH_HUFU_LOG").unwrap_or_else(|_| "warn,hufu::cli=info".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in envs {
            command.env(name, value);
        }
        let mut child = command.spawn()?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow::anyhow!("no stderr"))?;
        let mut lines = std::io::BufReader::new(stderr).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                && event["message"] == "hufu is serving"
            {
                let addr = event["listen"].as_str().unwrap_or_default().parse()?;
                std::thread::spawn(move || for _ in lines {});
                return Ok(Server { child, addr });
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        anyhow::bail!("hufu did not start")
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server process in MiB, from `/proc` (Linux).
    pub fn rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let kib: f64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
