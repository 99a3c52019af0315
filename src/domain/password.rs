//! Password hashing with argon2id on a bounded pool of dedicated threads.
//!
//! Hashing is slow on purpose (about 15 ms and 19 MiB at OWASP settings), so it must never
//! run on the async workers: a burst of logins would stall every other request. A fixed set of
//! threads (about one per core) runs the hashes, each reusing its own argon2 work area, and a
//! cap on waiting requests makes an overloaded node answer 503 at once instead of queueing
//! without limit.
//! Unknown users are checked against a dummy hash made at start, so a login costs the same
//! whether or not the account exists. While imported bcrypt hashes remain (counted from the
//! store at start and every few minutes, kept current as logins upgrade them), a failed check
//! also costs a bcrypt verification of the highest cost present: unknown identifiers and
//! native users then take as long as an imported user, so timing does not tell who was
//! imported (or who was not).
//!
//! Hashes imported from other systems (`hufu import`) are verified too: bcrypt (`$2a$`,
//! `$2b$`, `$2y$`) and argon2 PHC strings of any variant and cost. Such a hash is reported as
//! needing an upgrade, and the login re-hashes the password with the configured argon2id
//! parameters. bcrypt only ever looked at the first 72 bytes of a password, so an imported
//! bcrypt hash accepts any password with the same first 72 bytes until that upgrade; new
//! passwords are always argon2id over the whole password.

use crate::secret::SecretString;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Passes over memory (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
}

impl Argon2Params {
    /// OWASP's recommended argon2id setting (m=19 MiB, t=2, p=1).
    pub const OWASP: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// Deliberately weak parameters that make tests fast. Never use them in a deployment:
    /// the settings cannot select them (`HUFU_ARGON2_MEMORY_KIB` has a floor of 7 MiB).
    pub const INSECURE_FAST_FOR_TESTS_ONLY: Self = Self {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
}

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

/// A hashing thread idle this long frees its work area (19 MiB at OWASP settings).
const RELEASE_IDLE_MEMORY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Work for a hashing thread: runs with that thread's reusable argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The bounded hashing pool: a few dedicated threads, each keeping its argon2 work area.
///
/// Reusing the area matters: a fresh 19 MiB allocation per hash costs page faults worth
/// about 60 % of the hash itself (measured: 25 ms instead of 15.6 ms per verification), and
/// lets the allocator hoard memory.
#[derive(Debug)]
pub struct PasswordHasher {
    params: Argon2Params,
    jobs: Mutex<mpsc::Sender<Job>>,
    /// Hashes running or waiting; refused beyond `capacity`.
    in_flight: Arc<AtomicUsize>,
    /// Hashes and verifications finished since start (a metric, and how tests see that an
    /// unknown user's login did the same work as a known one's).
    completed: Arc<AtomicU64>,
    capacity: usize,
    /// A real hash of a random password, verified against when the user is unknown.
    dummy_hash: String,
    /// The costs a stored hash may ask for; a hash above them is never run.
    limits: HashLimits,
    /// Stored bcrypt hashes by cost, as far as this node knows.
    bcrypt_costs: Mutex<BTreeMap<u32, u64>>,
    /// A bcrypt hash of a random password (cost 4); its cost is rewritten to pad a failed check
    /// to the slowest bcrypt cost present (verifying costs the same whatever the password).
    bcrypt_dummy: String,
    /// Where each hash's duration is observed, on the hashing thread.
    duration: metrics::Histogram,
}

/// Decrements the in-flight count however the request ends (answered, or dropped while
/// waiting because the client went away).
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn argon2_params(params: Argon2Params, output_len: Option<usize>) -> Result<Params, HashError> {
    Params::new(params.memory_kib, params.iterations, params.parallelism, output_len)
        .map_err(|e| HashError::Failed(e.to_string()))
}

/// Computes the raw argon2 output into `out`, growing `memory` when the parameters need more.
fn raw_hash(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<(), HashError> {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::new());
    }
    argon2
        .hash_password_into_with_memory(password, salt, out, &mut memory[..needed])
        .map_err(|e| HashError::Failed(e.to_string()))
}

/// Hashes `password` with fresh salt into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
fn hash_with(params: Argon2Params, password: &[u8], memory: &mut Vec<Block>) -> Result<String, HashError> {
    let failed = |e: argon2::password_hash::phc::Error| HashError::Failed(e.to_string());
    let params = argon2_params(params, Some(Params::DEFAULT_OUTPUT_LEN))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    raw_hash(&argon2, &params, password, &salt, &mut out, memory)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| HashError::Failed(e.to_string()))?,
        salt: Some(Salt::new(&salt).map_err(failed)?),
        hash: Some(Output::new(&out).map_err(failed)?),
    };
    Ok(phc.to_string())
}

/// Highest bcrypt cost accepted from an import or run at a login (cost 16 is about 3.6 s per
/// verification).
pub const MAX_BCRYPT_COST: u32 = 16;
/// Most argon2 memory an imported or stored hash may ask for (256 MiB), unless the configured
/// cost asks for more: it covers OWASP's settings (at most 46 MiB), RFC 9106's second
/// recommendation (64 MiB) and libsodium's `MODERATE` (256 MiB), while keeping what one failed
/// login can make a hashing thread allocate to a bounded amount.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;
/// Most argon2 passes an imported or stored hash may ask for, unless configured higher (the
/// settings allow up to 100): common settings use 1 to 5.
pub const MAX_ARGON2_ITERATIONS: u32 = 16;
/// Most argon2 lanes an imported or stored hash may ask for: hufu's own maximum
/// (`HUFU_ARGON2_PARALLELISM`). Lanes run one after the other here, so they cost no memory.
pub const MAX_ARGON2_PARALLELISM: u32 = 64;

/// The costs a stored hash may ask for before it is refused rather than run: the fixed caps,
/// raised to the configured argon2id cost so hufu's own hashes always qualify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// Most argon2 memory (KiB).
    pub memory_kib: u32,
    /// Most argon2 passes.
    pub iterations: u32,
    /// Most argon2 lanes.
    pub parallelism: u32,
    /// Highest bcrypt cost.
    pub bcrypt_cost: u32,
}

impl HashLimits {
    /// The caps for a deployment whose own hashes use `configured`.
    pub fn for_params(configured: Argon2Params) -> Self {
        Self {
            memory_kib: MAX_ARGON2_MEMORY_KIB.max(configured.memory_kib),
            iterations: MAX_ARGON2_ITERATIONS.max(configured.iterations),
            parallelism: MAX_ARGON2_PARALLELISM.max(configured.parallelism),
            bcrypt_cost: MAX_BCRYPT_COST,
        }
    }

    /// Why `stored` cannot be verified under these caps (a text naming the format or the cost,
    /// never the hash), or `Ok` when it can.
    pub fn check(&self, stored: &str) -> Result<(), String> {
        if is_bcrypt(stored) {
            let parts = stored
                .parse::<bcrypt::HashParts>()
                .map_err(|_| "password_hash is a damaged bcrypt hash".to_owned())?;
            if parts.get_cost() > self.bcrypt_cost {
                return Err(format!(
                    "password_hash has bcrypt cost {}, above the most hufu runs ({})",
                    parts.get_cost(),
                    self.bcrypt_cost
                ));
            }
            return Ok(());
        }
        let not_supported = || "password_hash is not a bcrypt ($2a$/$2b$/$2y$) or argon2 PHC hash".to_owned();
        let phc = PasswordHash::new(stored).map_err(|_| not_supported())?;
        Algorithm::try_from(phc.algorithm.as_str()).map_err(|_| not_supported())?;
        if phc.salt.is_none() || phc.hash.is_none() {
            return Err(not_supported());
        }
        let params = Params::try_from(&phc).map_err(|_| "password_hash has unusable argon2 parameters".to_owned())?;
        let over = |what: &str, value: u32, most: u32| {
            Err(format!(
                "password_hash asks for argon2 {what} {value}, above the most hufu runs ({most})"
            ))
        };
        if params.m_cost() > self.memory_kib {
            return over("memory (KiB)", params.m_cost(), self.memory_kib);
        }
        if params.t_cost() > self.iterations {
            return over("iterations", params.t_cost(), self.iterations);
        }
        if params.p_cost() > self.parallelism {
            return over("parallelism", params.p_cost(), self.parallelism);
        }
        Ok(())
    }
}

/// Whether `stored` is a bcrypt hash (the variants other systems write).
pub fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|prefix| stored.starts_with(prefix))
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password is right.
    pub matches: bool,
    /// The stored hash is bcrypt, or argon2 weaker than (or of another variant than) the
    /// configured argon2id: re-hash the password once it is known to be right.
    pub needs_rehash: bool,
}

/// Whether a stored hash should be replaced by one with the configured parameters.
fn needs_rehash(stored: &str, configured: Argon2Params) -> bool {
    if is_bcrypt(stored) {
        return true;
    }
    let Ok(phc) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(phc.algorithm.as_str()), Params::try_from(&phc)) else {
        return false;
    };
    let version = phc.version.and_then(|v| Version::try_from(v).ok());
    algorithm != Algorithm::Argon2id
        || version != Some(Version::V0x13)
        || params.m_cost() < configured.memory_kib
        || params.t_cost() < configured.iterations
}

/// Checks `password` against a stored hash: bcrypt, or a PHC string with the stored hash's
/// own parameters.
fn verify_with(password: &[u8], stored: &str, memory: &mut Vec<Block>) -> bool {
    if is_bcrypt(stored) {
        // Truncates at 72 bytes like every bcrypt that made these hashes did.
        return bcrypt::verify(password, stored).unwrap_or(false);
    }
    let Ok(phc) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(phc.algorithm.as_str()),
        Params::try_from(&phc),
        phc.salt.as_ref(),
        phc.hash.as_ref(),
    ) else {
        return false;
    };
    let version = phc
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or(Version::V0x13);
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    if raw_hash(&argon2, &params, password, salt, &mut out, memory).is_err() {
        return false;
    }
    aws_lc_rs::constant_time::verify_slices_are_equal(&out, expected.as_bytes()).is_ok()
}

/// Lowers this thread's scheduling priority (nice 10), so that while logins keep the hashing
/// threads busy, the async workers answering every other request still get the CPU first.
/// Hashing then uses what is left, which is all of it when nothing else runs.
#[cfg(target_os = "linux")]
fn yield_to_requests() {
    // SAFETY: setpriority with PRIO_PROCESS and who = 0 changes only the calling thread's nice
    // value on Linux (threads are scheduled as tasks); it touches no memory of ours.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

#[cfg(not(target_os = "linux"))]
fn yield_to_requests() {}

impl PasswordHasher {
    /// Starts `concurrency` hashing threads and computes the dummy hash (one hash at start-up).
    pub fn new(params: Argon2Params, concurrency: usize, queue: usize) -> Result<Self, HashError> {
        argon2_params(params, None)?;
        let dummy_hash = hash_with(params, &rand::random::<[u8; 32]>(), &mut Vec::new())?;
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let concurrency = concurrency.max(1);
        for index in 0..concurrency {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("hufu-hash-{index}"))
                .spawn(move || {
                    yield_to_requests();
                    let mut memory: Vec<Block> = Vec::new();
                    loop {
                        // One thread waits on the queue at a time; the job runs unlocked.
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv_timeout(RELEASE_IDLE_MEMORY_AFTER),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut memory),
                            // Idle: give the work area back to the system until the next burst.
                            Err(mpsc::RecvTimeoutError::Timeout) => memory = Vec::new(),
                            Err(mpsc::RecvTimeoutError::Disconnected) => return, // the hasher was dropped
                        }
                    }
                })
                .map_err(|e| HashError::Failed(e.to_string()))?;
        }
        Ok(Self {
            params,
            jobs: Mutex::new(sender),
            in_flight: Arc::new(AtomicUsize::new(0)),
            completed: Arc::new(AtomicU64::new(0)),
            capacity: concurrency + queue,
            dummy_hash,
            limits: HashLimits::for_params(params),
            bcrypt_costs: Mutex::new(BTreeMap::new()),
            bcrypt_dummy: bcrypt::hash_with_result(rand::random::<[u8; 16]>(), 4)
                .map_err(|e| HashError::Failed(e.to_string()))?
                .format_for_version(bcrypt::Version::TwoB),
            duration: metrics::Histogram::noop(),
        })
    }

    /// Observes every hash's duration (seconds) in `histogram` from now on.
    pub fn set_duration_histogram(&mut self, histogram: metrics::Histogram) {
        self.duration = histogram;
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

    /// The costs a stored (or imported) hash may ask for.
    pub fn limits(&self) -> HashLimits {
        self.limits
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        let params = self.params;
        self.run(move |memory| hash_with(params, password.expose().as_bytes(), memory))
            .await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no stored
    /// hash (unknown user, or an account without a password), which then always fails.
    pub async fn verify(&self, password: SecretString, stored: Option<String>) -> Result<bool, HashError> {
        Ok(self.check(password, stored).await?.matches)
    }

    /// Like [`PasswordHasher::verify`], and also says whether a matching stored hash should be
    /// upgraded (bcrypt, or argon2 weaker than the configured parameters).
    ///
    /// A stored hash that asks for more than [`PasswordHasher::limits`] (written to the
    /// database by other means than `hufu import`, or before the caps) is never run: a failed
    /// login could otherwise make a hashing thread allocate gigabytes. It counts as a wrong
    /// password, after the dummy verification so it takes as long as one, and is logged.
    ///
    /// While bcrypt hashes are stored, every check that fails (or has no hash to check) also
    /// does the work of the other kind: a bcrypt verification of the highest cost present
    /// after an argon2 one, the argon2 dummy after a bcrypt one. A right password is answered
    /// without padding: whoever knows it learns nothing from the time.
    pub async fn check(&self, password: SecretString, stored: Option<String>) -> Result<Verification, HashError> {
        let stored = stored.filter(|hash| match self.limits.check(hash) {
            Ok(()) => true,
            Err(reason) => {
                tracing::warn!(reason = %reason, "stored password hash refused unrun: its cost is above the caps");
                false
            }
        });
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.clone());
        if is_bcrypt(&hash) {
            self.learn_bcrypt(&hash);
        }
        let upgrade = known && needs_rehash(&hash, self.params);
        let padding = if is_bcrypt(&hash) {
            Some(self.dummy_hash.clone())
        } else {
            self.bcrypt_padding()
        };
        let matches = self
            .run(move |memory| {
                let matches = verify_with(password.expose().as_bytes(), &hash, memory);
                if !(known && matches)
                    && let Some(padding) = padding
                {
                    verify_with(password.expose().as_bytes(), &padding, memory);
                }
                matches
            })
            .await?;
        Ok(Verification {
            matches: known && matches,
            needs_rehash: known && matches && upgrade,
        })
    }

    /// A bcrypt hash of the highest cost stored, when any is (what a failed argon2 check is
    /// padded with).
    fn bcrypt_padding(&self) -> Option<String> {
        let cost = *self.bcrypt_costs.lock().ok()?.keys().next_back()?;
        Some(format!("$2b${cost:02}{}", self.bcrypt_dummy.get(6..)?))
    }

    /// A bcrypt hash met at a login shows that its cost is present (imported while this node
    /// ran, or upgraded elsewhere than counted).
    fn learn_bcrypt(&self, stored: &str) {
        let Ok(parts) = stored.parse::<bcrypt::HashParts>() else {
            return;
        };
        if let Ok(mut costs) = self.bcrypt_costs.lock() {
            let count = costs.entry(parts.get_cost()).or_insert(0);
            *count = (*count).max(1);
        }
    }

    /// Sets how many stored hashes are bcrypt, by cost (from the store: at start and every few
    /// minutes, which also corrects what other nodes upgraded or imports added).
    pub fn set_bcrypt_costs(&self, counts: impl IntoIterator<Item = (u32, u64)>) {
        let counts: BTreeMap<u32, u64> = counts
            .into_iter()
            .filter(|&(cost, hashes)| hashes > 0 && cost <= self.limits.bcrypt_cost)
            .collect();
        if let Ok(mut costs) = self.bcrypt_costs.lock() {
            *costs = counts;
        }
    }

    /// The highest bcrypt cost this node believes is stored (what failed checks are padded to).
    pub fn slowest_bcrypt_cost(&self) -> Option<u32> {
        self.bcrypt_costs.lock().ok()?.keys().next_back().copied()
    }

    /// A stored hash was replaced (upgraded to argon2id): one fewer of its kind remains.
    pub fn hash_replaced(&self, old: &str) {
        let Ok(parts) = old.parse::<bcrypt::HashParts>() else {
            return;
        };
        if !is_bcrypt(old) {
            return;
        }
        if let Ok(mut costs) = self.bcrypt_costs.lock()
            && let Some(count) = costs.get_mut(&parts.get_cost())
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                costs.remove(&parts.get_cost());
            }
        }
    }

    /// Whether `stored` is a hash this pool can verify (bcrypt or an argon2 PHC string with
    /// usable parameters) within the fixed caps of a default deployment; see
    /// [`HashLimits::check`] for the reason of a refusal.
    pub fn is_supported(stored: &str) -> bool {
        HashLimits::for_params(Argon2Params::OWASP).check(stored).is_ok()
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Busy);
        }
        let in_flight = InFlight(self.in_flight.clone());
        let completed = self.completed.clone();
        let duration = self.duration.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let started = std::time::Instant::now();
            let result = work(memory);
            duration.record(started.elapsed().as_secs_f64());
            completed.fetch_add(1, Ordering::Relaxed);
            // Counted as done when the thread is free again, even if the caller left.
            drop(in_flight);
            let _ = tx.send(result);
        });
        self.jobs
            .lock()
            .map_err(|_| HashError::Failed("hashing queue poisoned".into()))?
            .send(job)
            .map_err(|_| HashError::Failed("hashing threads stopped".into()))?;
        rx.await.map_err(|_| HashError::Failed("hashing thread died".into()))
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
    async fn bcrypt_and_weaker_argon2_hashes_verify_and_ask_for_an_upgrade() {
        let pool = hasher(1, 2);
        for variant in [bcrypt::Version::TwoA, bcrypt::Version::TwoB, bcrypt::Version::TwoY] {
            let stored = bcrypt::hash_with_result("old password", 4)
                .unwrap()
                .format_for_version(variant);
            assert!(PasswordHasher::is_supported(&stored), "{stored}");
            let right = pool
                .check(SecretString::new("old password"), Some(stored.clone()))
                .await
                .unwrap();
            assert_eq!(
                right,
                Verification {
                    matches: true,
                    needs_rehash: true
                },
                "{stored}"
            );
            let wrong = pool
                .check(SecretString::new("old passworD"), Some(stored))
                .await
                .unwrap();
            assert_eq!(
                wrong,
                Verification {
                    matches: false,
                    needs_rehash: false
                }
            );
        }
        // Made with the configured parameters: no upgrade; with less memory or another variant: upgrade.
        let current = pool.hash(SecretString::new("pw")).await.unwrap();
        assert!(
            !pool
                .check(SecretString::new("pw"), Some(current))
                .await
                .unwrap()
                .needs_rehash
        );
        let weaker = Argon2Params {
            memory_kib: Argon2Params::INSECURE_FAST_FOR_TESTS_ONLY.memory_kib / 2,
            ..Argon2Params::INSECURE_FAST_FOR_TESTS_ONLY
        };
        let weak = hash_with(weaker, b"pw", &mut Vec::new()).unwrap();
        assert!(
            pool.check(SecretString::new("pw"), Some(weak))
                .await
                .unwrap()
                .needs_rehash
        );
        let argon2i = weak_variant(Algorithm::Argon2i, b"pw");
        assert!(PasswordHasher::is_supported(&argon2i));
        assert_eq!(
            pool.check(SecretString::new("pw"), Some(argon2i)).await.unwrap(),
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
        assert!(!PasswordHasher::is_supported("md5$abc$def"));
        assert!(!PasswordHasher::is_supported("$2b$10$tooshort"));
        let too_slow = bcrypt::hash_with_result("x", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert!(!PasswordHasher::is_supported(&too_slow.replacen("$04$", "$31$", 1)));
        assert!(!PasswordHasher::is_supported(
            "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFy"
        ));
    }

    #[tokio::test]
    async fn memory_exhaustion_a_stored_hash_above_the_caps_is_a_wrong_password_and_never_run() {
        let pool = hasher(1, 1);
        // A real hash of the right password, one KiB above the memory cap.
        let over = Argon2Params {
            memory_kib: MAX_ARGON2_MEMORY_KIB + 1,
            iterations: 1,
            parallelism: 1,
        };
        let stored = hash_with(over, b"right", &mut Vec::new()).unwrap();
        assert!(pool.limits().check(&stored).is_err());
        let before = pool.completed();
        let verification = pool.check(SecretString::new("right"), Some(stored)).await.unwrap();
        assert_eq!(
            verification,
            Verification {
                matches: false,
                needs_rehash: false
            }
        );
        assert_eq!(
            pool.completed() - before,
            1,
            "one dummy verification, the same work as a wrong password"
        );
        // The configured cost is always within the caps, however high.
        let big = Argon2Params {
            memory_kib: 4_194_304,
            iterations: 100,
            parallelism: 64,
        };
        let limits = HashLimits::for_params(big);
        assert_eq!(
            (limits.memory_kib, limits.iterations, limits.parallelism),
            (4_194_304, 100, 64)
        );
        assert_eq!(
            HashLimits::for_params(Argon2Params::OWASP).memory_kib,
            MAX_ARGON2_MEMORY_KIB
        );
    }

    fn weak_variant(algorithm: Algorithm, password: &[u8]) -> String {
        use argon2::PasswordHasher as _;
        let params = argon2_params(Argon2Params::INSECURE_FAST_FOR_TESTS_ONLY, None).unwrap();
        Argon2::new(algorithm, Version::V0x13, params)
            .hash_password_with_salt(password, b"somesaltsomesalt")
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let pool = std::sync::Arc::new(PasswordHasher::new(Argon2Params::OWASP, 1, 0).unwrap());
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
