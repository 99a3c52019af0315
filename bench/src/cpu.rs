//! Where the CPU of a login goes: the server's hashing threads, its other threads, and the
//! database and Redis servers on the same machine, read from `/proc` (Linux) around a
//! scenario. Ratios drift with the machine's load; CPU milliseconds per login drift less, so
//! alternating runs of two builds show what a change to the login path saved.

use serde::Serialize;

/// CPU time (ms) per login, by who spent it.
#[derive(Debug, Clone, Serialize)]
pub struct LoginCpu {
    /// hufu's `hufu-hash-*` threads (argon2).
    pub hashing_ms: f64,
    /// hufu's other threads (HTTP, JSON, tokens, database and Redis clients).
    pub server_other_ms: f64,
    /// `postgres`, `mysqld`/`mariadbd` processes.
    pub database_ms: f64,
    /// `redis-server` processes.
    pub redis_ms: f64,
}

impl LoginCpu {
    /// Everything but hashing: what a login costs the cores the hashing pool could have used.
    pub fn outside_hashing_ms(&self) -> f64 {
        self.server_other_ms + self.database_ms + self.redis_ms
    }
}

/// `/proc` counts CPU time in USER_HZ ticks, which Linux fixes at 100 per second for user
/// space whatever the kernel's own tick rate.
const MS_PER_TICK: f64 = 10.0;

/// Cumulative CPU ticks at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    hashing: u64,
    server_other: u64,
    database: u64,
    redis: u64,
}

/// `(comm, utime + stime)` from the text of a `/proc/…/stat` file.
fn comm_and_ticks(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((stat.get(open + 1..close)?, utime + stime))
}

fn stats(dir: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
                .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the ticks of the server `pid`'s threads and of the database and Redis processes.
pub fn snapshot(pid: u32) -> Snapshot {
    let mut s = Snapshot::default();
    for stat in stats(&format!("/proc/{pid}/task")) {
        if let Some((comm, ticks)) = comm_and_ticks(&stat) {
            if comm.starts_with("hufu-hash") {
                s.hashing += ticks;
            } else {
                s.server_other += ticks;
            }
        }
    }
    for stat in stats("/proc") {
        if let Some((comm, ticks)) = comm_and_ticks(&stat) {
            if comm.starts_with("postgres") || comm.starts_with("mysqld") || comm.starts_with("mariadbd") {
                s.database += ticks;
            } else if comm.starts_with("redis-server") {
                s.redis += ticks;
            }
        }
    }
    s
}

/// CPU per login between two snapshots, or `None` without logins or without `/proc`.
pub fn per_login(before: Snapshot, after: Snapshot, logins: u64) -> Option<LoginCpu> {
    if logins == 0 || after.hashing == 0 {
        return None;
    }
    let per = |a: u64, b: u64| b.saturating_sub(a) as f64 * MS_PER_TICK / logins as f64;
    Some(LoginCpu {
        hashing_ms: per(before.hashing, after.hashing),
        server_other_ms: per(before.server_other, after.server_other),
        database_ms: per(before.database, after.database),
        redis_ms: per(before.redis, after.redis),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_command_and_the_cpu_ticks_of_a_stat_line() {
        // A command with spaces and parentheses, as the kernel prints it.
        let stat = "42 (tokio rt (x)) S 1 42 42 0 -1 4194560 10 0 0 0 7 5 0 0 20 0 3 0 100 0 0";
        assert_eq!(comm_and_ticks(stat), Some(("tokio rt (x)", 12)));
        assert_eq!(comm_and_ticks("garbage"), None);
    }

    #[test]
    fn spreads_the_ticks_over_the_logins() {
        let before = Snapshot {
            hashing: 100,
            server_other: 10,
            database: 5,
            redis: 1,
        };
        let after = Snapshot {
            hashing: 300,
            server_other: 20,
            database: 15,
            redis: 3,
        };
        let cpu = per_login(before, after, 100).unwrap();
        assert!((cpu.hashing_ms - 20.0).abs() < 1e-9);
        assert!((cpu.outside_hashing_ms() - 2.2).abs() < 1e-9);
        assert!(per_login(before, after, 0).is_none());
    }
}
