//! The hash bound, the reference of the login and registration scenarios: how long this
//! machine takes to verify one argon2id hash alone (hufu's default, OWASP, parameters), and
//! the scenario run in slices with that time measured between them.
//!
//! Why slices: on a shared machine the speed of argon2, whose 19 MiB work area lives in a
//! last-level cache that other tenants share too, drifts by ±15 % from one half-second to the
//! next (seen on a quiet AMD EPYC host with no steal). One sample taken before a 10 s scenario
//! can land on a fast or a slow moment and move the ratio by as much; samples taken between
//! the scenario's slices follow the machine through the scenario. The bound is still one
//! verification measured alone, as the performance issue defines it: the slices only choose
//! when it is measured.

use crate::load::{self, MakeCall, Outcome};
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Verification times measured alone, and what they came to.
#[derive(Debug, Clone)]
pub struct HashBound {
    /// Every sample, in the order taken.
    samples: Vec<Duration>,
    /// The median of each measuring slice, in the order taken.
    slice_medians: Vec<Duration>,
}

impl HashBound {
    /// Median time of one verification alone, over every slice.
    pub fn verify_ms(&self) -> f64 {
        median(&self.samples).as_secs_f64() * 1_000.0
    }

    /// The fastest and the slowest slice's median, in milliseconds: how far the machine moved.
    pub fn spread_ms(&self) -> (f64, f64) {
        let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1_000.0);
        (ms(self.slice_medians.iter().min()), ms(self.slice_medians.iter().max()))
    }

    /// Verifications per second that `cores` cores could do if each ran at the time measured
    /// alone: the reference of the login and registration ratios.
    pub fn per_second(&self, cores: usize) -> f64 {
        cores as f64 * 1_000.0 / self.verify_ms()
    }
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// A stored hash of `password` and the hasher that verifies it.
pub struct Verifier {
    argon2: argon2::Argon2<'static>,
    hash: String,
    password: Vec<u8>,
}

impl Verifier {
    /// Hashes `password` once with argon2id at hufu's default parameters.
    pub fn new(password: &str) -> anyhow::Result<Verifier> {
        let argon2 = argon2::Argon2::default();
        let hash = argon2
            .hash_password(password.as_bytes())
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_string();
        Ok(Verifier {
            argon2,
            hash,
            password: password.as_bytes().to_vec(),
        })
    }

    /// The stored hash (PHC string).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    fn verify_once(&self) -> Duration {
        let started = Instant::now();
        if let Ok(parsed) = argon2::PasswordHash::new(&self.hash) {
            let _ = self.argon2.verify_password(&self.password, &parsed);
        }
        started.elapsed()
    }

    /// Verifies for at least `window` and at least three times, on this thread alone.
    fn alone(&self, window: Duration) -> Vec<Duration> {
        let started = Instant::now();
        let mut samples = Vec::new();
        while samples.len() < 3 || started.elapsed() < window {
            samples.push(self.verify_once());
        }
        samples
    }

    /// Median time of one verification while `threads` threads verify at once for `window`.
    /// Not the bound: it shows how much slower hashes get when every core hashes (a shared
    /// cache and memory bandwidth), which no server can win back.
    pub fn together_ms(&self, threads: usize, window: Duration) -> f64 {
        let samples: Vec<Duration> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.max(1))
                .map(|_| scope.spawn(|| self.alone(window)))
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().unwrap_or_default())
                .collect()
        });
        median(&samples).as_secs_f64() * 1_000.0
    }
}

/// How a scenario bounded by hashing is run: its total time, cut into `slices`, with the
/// bound measured for `window` before the first slice and after each.
#[derive(Debug, Clone, Copy)]
pub struct Slicing {
    /// Load time in all.
    pub total: Duration,
    /// Slices of load.
    pub slices: u32,
    /// Measuring time before the first slice and after each.
    pub window: Duration,
}

impl Slicing {
    /// Five slices with 0.4 s of measuring around each for runs of 5 s or more; one slice and
    /// three samples on each side for shorter ones.
    pub fn for_scenario(total: Duration) -> Slicing {
        if total >= Duration::from_secs(5) {
            Slicing {
                total,
                slices: 5,
                window: Duration::from_millis(400),
            }
        } else {
            Slicing {
                total,
                slices: 1,
                window: Duration::ZERO,
            }
        }
    }
}

/// Runs `connections` closed loops against `addr` in slices, measuring the hash bound alone
/// (the server idle, no load running) before the first slice and after each.
pub async fn run_sliced(
    addr: SocketAddr,
    connections: usize,
    slicing: Slicing,
    make: MakeCall,
    verifier: &std::sync::Arc<Verifier>,
) -> anyhow::Result<(Outcome, HashBound)> {
    let measure =
        |verifier: std::sync::Arc<Verifier>| tokio::task::spawn_blocking(move || verifier.alone(slicing.window));
    let mut bound = HashBound {
        samples: Vec::new(),
        slice_medians: Vec::new(),
    };
    let mut add = |samples: Vec<Duration>| {
        bound.slice_medians.push(median(&samples));
        bound.samples.extend(samples);
    };
    add(measure(verifier.clone()).await?);
    let slice = slicing.total / slicing.slices.max(1);
    let mut total: Option<Outcome> = None;
    for number in 0..slicing.slices.max(1) as usize {
        let first = number * connections;
        let part = load::run_numbered(addr, first..first + connections, slice, make.clone()).await?;
        match &mut total {
            Some(total) => total.absorb(part)?,
            None => total = Some(part),
        }
        add(measure(verifier.clone()).await?);
    }
    let total = total.ok_or_else(|| anyhow::anyhow!("a sliced run ran no slice"))?;
    Ok((total, bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_bound_is_the_median_over_every_slice_and_the_spread_their_extremes() {
        let bound = HashBound {
            samples: vec![ms(10), ms(30), ms(20), ms(18), ms(22)],
            slice_medians: vec![ms(20), ms(18), ms(22)],
        };
        assert_eq!(bound.verify_ms(), 20.0);
        assert_eq!(bound.spread_ms(), (18.0, 22.0));
        assert_eq!(bound.per_second(2), 100.0);
    }

    #[test]
    fn long_scenarios_are_cut_in_five_short_ones_are_not() {
        let long = Slicing::for_scenario(Duration::from_secs(10));
        assert_eq!((long.slices, long.window), (5, ms(400)));
        let short = Slicing::for_scenario(Duration::from_secs(1));
        assert_eq!((short.slices, short.window), (1, Duration::ZERO));
    }

    #[test]
    fn a_verifier_checks_a_real_hash_and_takes_at_least_three_samples() {
        let verifier = Verifier::new("a password").unwrap();
        assert!(verifier.hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let parsed = argon2::PasswordHash::new(&verifier.hash).unwrap();
        assert!(verifier.argon2.verify_password(b"a password", &parsed).is_ok());
        assert!(verifier.argon2.verify_password(b"another", &parsed).is_err());
        let samples = verifier.alone(Duration::ZERO);
        assert_eq!(samples.len(), 3);
        assert!(
            samples.iter().all(|d| *d > ms(1)),
            "{samples:?}: too fast for argon2id at 19 MiB"
        );
    }
}
