//! Password hashing with argon2id on a bounded pool of blocking threads.
//!
//! Hashing is slow on purpose (about 15 ms and 19 MiB at OWASP settings), so it must never
//! run on the async workers: a burst of logins would stall every other request. A semaphore
//! bounds how many hashes run at once (about one per core), and a cap on waiting requests
//! makes an overloaded node answer 503 at once instead of queueing without limit.
//! Unknown users are checked against a dummy hash made at start, so a login costs the same
//! whether or not the account exists.

use crate::config::Argon2Params;
use crate::secret::SecretString;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// Why a hash could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many hashes waiting; retry shortly.
    #[error("password hashing queue is full")]
    Busy,
    /// argon2 refused the parameters or the worker died.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The bounded hashing pool.
#[derive(Debug)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: Argon2Params,
    permits: Arc<Semaphore>,
    /// Hashes running or waiting; refused beyond `capacity`.
    in_flight: AtomicUsize,
    /// Hashes and verifications finished since start (a metric, and how tests see that an
    /// unknown user's login did the same work as a known one's).
    completed: AtomicU64,
    capacity: usize,
    /// A real hash of a random password, verified against when the user is unknown.
    dummy_hash: String,
}

/// Decrements the in-flight count however the request ends (answered, or dropped while
/// waiting because the client went away).
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasher {
    /// Builds the pool and computes the dummy hash (one hash at start-up).
    pub fn new(params: Argon2Params, concurrency: usize, queue: usize) -> Result<Self, HashError> {
        let argon2_params = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| HashError::Failed(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params);
        let random_password: [u8; 32] = rand::random();
        let dummy_hash = argon2
            .hash_password(&random_password)
            .map_err(|e| HashError::Failed(e.to_string()))?
            .to_string();
        let concurrency = concurrency.max(1);
        Ok(Self {
            argon2,
            params,
            permits: Arc::new(Semaphore::new(concurrency)),
            in_flight: AtomicUsize::new(0),
            completed: AtomicU64::new(0),
            capacity: concurrency + queue,
            dummy_hash,
        })
    }

    /// Hashes running or waiting right now (the queue-depth metric).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Hashes and verifications finished since start.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// The configured cost.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        let argon2 = self.argon2.clone();
        self.run(move || {
            argon2
                .hash_password(password.expose().as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| HashError::Failed(e.to_string()))
        })
        .await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no stored
    /// hash (unknown user, or an account without a password), which then always fails.
    pub async fn verify(&self, password: SecretString, stored: Option<String>) -> Result<bool, HashError> {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.clone());
        let argon2 = self.argon2.clone();
        let matches = self
            .run(move || {
                // The stored hash carries its own parameters; `argon2` only supplies the
                // algorithm family. An unparseable hash simply does not match.
                argon2
                    .verify_password(password.expose().as_bytes(), hash.as_str())
                    .is_ok()
            })
            .await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Busy);
        }
        let _in_flight = InFlight(&self.in_flight);
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| HashError::Failed(e.to_string()))?;
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()));
        self.completed.fetch_add(1, Ordering::Relaxed);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(concurrency: usize, queue: usize) -> PasswordHasher {
        PasswordHasher::new(Argon2Params::INSECURE_FAST_FOR_TESTS_ONLY, concurrency, queue).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_only_with_its_password() {
        let pool = hasher(2, 4);
        let hash = pool.hash(SecretString::new("correct horse")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"));
        assert!(
            pool.verify(SecretString::new("correct horse"), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !pool
                .verify(SecretString::new("correct horsE"), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn passwords_longer_than_72_bytes_are_not_truncated() {
        let pool = hasher(1, 1);
        let base = "p".repeat(80);
        let hash = pool.hash(SecretString::new(format!("{base}A"))).await.unwrap();
        assert!(
            !pool
                .verify(SecretString::new(format!("{base}B")), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies_even_with_the_dummy_password() {
        let pool = hasher(1, 1);
        assert!(!pool.verify(SecretString::new("anything"), None).await.unwrap());
        assert!(
            !pool
                .verify(SecretString::new("x"), Some("not a phc string".into()))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let pool = Arc::new(PasswordHasher::new(Argon2Params::OWASP, 1, 0).unwrap());
        let first = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.hash(SecretString::new("one two three")).await })
        };
        // Wait until the first hash holds the only slot, then a second must be refused.
        while pool.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            pool.hash(SecretString::new("four five six")).await,
            Err(HashError::Busy)
        ));
        assert!(first.await.unwrap().is_ok());
        assert_eq!(pool.in_flight(), 0);
    }
}
