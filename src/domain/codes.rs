//! One-time codes (contract section 10): what they are for, where they go, their settings, and
//! the rules of sending and checking them — keyed hash at rest, one live code per target and
//! purpose, single use on every node, five tries, the resend interval and the daily cap counted
//! in the database, unauthenticated sends delivered after the answer from a bounded queue.
//!
//! The store keeps the codes (`store::sql::codes`); `delivery` gets them to a person. Nothing
//! here logs, audits or returns a code.

use super::error::{Error, Result, UniqueField};
use super::input::{PublicCodeRequest, Target, UserCodeRequest};
use super::{ClientContext, Core};
use crate::catalog::Lang;
use crate::delivery::{Delivery, Outgoing};
use crate::metrics::Metrics;
use crate::secret::SecretString;
use crate::store::{CodeCheck, CodeKey, CodeSend, SendOutcome, SqlStore};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// Unauthenticated sends waiting for delivery; past this, a send is dropped (and logged).
const QUEUE_CAPACITY: usize = 1_024;
/// Deliveries running at once from the queue, so one slow provider cannot hold them all.
const CONCURRENT_DELIVERIES: usize = 32;

/// The `codes` section of the settings (its defaults are declared in `config::sections`).
#[derive(Debug, Clone)]
pub struct CodeSettings {
    /// How long a code is valid.
    pub ttl: Duration,
    /// Shortest time between two sends to one target (any purpose); zero turns it off.
    pub resend_interval: Duration,
    /// Sends per target per 24 hours.
    pub daily_limit: u32,
    /// Whether a code sign-in with an unknown phone creates an account.
    pub signup: bool,
    /// The channels whose identifiers must be proved by a code (`HUFU_REQUIRE_VERIFIED`).
    pub require_verified: RequireVerified,
}

/// Which identifiers must be proved before they count (`HUFU_REQUIRE_VERIFIED`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequireVerified {
    /// Email addresses must be proved.
    pub email: bool,
    /// Phone numbers must be proved.
    pub phone: bool,
}

impl RequireVerified {
    /// Parses a comma list of `email` and `phone` (empty: neither).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut value = Self::default();
        for item in raw.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            match item {
                "email" => value.email = true,
                "phone" => value.phone = true,
                other => return Err(format!("expected a list of email and phone, got {other:?}")),
            }
        }
        Ok(value)
    }

    /// Whether the identifiers of `channel` must be proved.
    pub fn requires(self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email,
            Channel::Sms => self.phone,
        }
    }
}

pub use crate::delivery::Channel;

/// What a code is for (contract section 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Code sign-in (and sign-up with `HUFU_CODE_SIGNUP`).
    Login,
    /// Proving an identifier at registration.
    Register,
    /// Resetting a forgotten password.
    ResetPassword,
    /// Proving the user's own email or phone.
    Verify,
    /// Proving a new email or phone before it replaces the old one.
    Change,
    /// Proving the user is present before a sensitive change (section 11).
    Reauth,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Purpose; 6] = [
        Purpose::Login,
        Purpose::Register,
        Purpose::ResetPassword,
        Purpose::Verify,
        Purpose::Change,
        Purpose::Reauth,
    ];

    /// The contract's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::Register => "register",
            Purpose::ResetPassword => "reset_password",
            Purpose::Verify => "verify",
            Purpose::Change => "change",
            Purpose::Reauth => "reauth",
        }
    }

    /// The purpose named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl Channel {
    /// The unique field its identifiers are: the email or the phone.
    pub fn field(self) -> UniqueField {
        match self {
            Channel::Email => UniqueField::Email,
            Channel::Sms => UniqueField::Phone,
        }
    }
}

/// One unauthenticated send waiting for its delivery.
struct Job {
    target: Target,
    purpose: Purpose,
    code: SecretString,
    code_hash: String,
    send_id: i64,
    lang: Lang,
    ttl: Duration,
}

/// The code service: its settings, the delivery adapter, and the queue that delivers
/// unauthenticated sends after they are answered.
pub struct Codes {
    settings: CodeSettings,
    delivery: Arc<Delivery>,
    metrics: Arc<Metrics>,
    queue: mpsc::Sender<Job>,
    /// Taken by `run_queue` once.
    receiver: std::sync::Mutex<Option<mpsc::Receiver<Job>>>,
}

impl std::fmt::Debug for Codes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codes")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What a send answers (contract section 10): seconds until the code dies and until the next
/// send to the target is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// `expires_in`.
    pub expires_in: u64,
    /// `resend_after`.
    pub resend_after: u64,
}

impl Codes {
    /// The service; `run_queue` must run for unauthenticated sends to be delivered.
    pub fn new(settings: CodeSettings, delivery: Delivery, metrics: Arc<Metrics>) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        Self {
            settings,
            delivery: Arc::new(delivery),
            metrics,
            queue,
            receiver: std::sync::Mutex::new(Some(receiver)),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &CodeSettings {
        &self.settings
    }

    /// Whether `channel` can deliver here.
    pub fn configured(&self, channel: Channel) -> bool {
        self.delivery.configured(channel)
    }

    fn sent(&self) -> Sent {
        Sent {
            expires_in: self.settings.ttl.as_secs(),
            resend_after: self.settings.resend_interval.as_secs(),
        }
    }

    /// Delivers queued sends until the service is dropped; a failed delivery is logged (with
    /// the provider's own code, never the code or a credential), counted, and undone.
    pub async fn run_queue(&self, store: SqlStore) {
        let receiver = self.receiver.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut receiver) = receiver else { return };
        let running = Arc::new(Semaphore::new(CONCURRENT_DELIVERIES));
        while let Some(job) = receiver.recv().await {
            let Ok(permit) = running.clone().acquire_owned().await else {
                return;
            };
            let (delivery, metrics, store) = (self.delivery.clone(), self.metrics.clone(), store.clone());
            tokio::spawn(async move {
                let _permit = permit;
                deliver(&delivery, &metrics, &store, job).await;
            });
        }
    }
}

/// Delivers one queued send; on failure undoes it.
async fn deliver(delivery: &Delivery, metrics: &Metrics, store: &SqlStore, job: Job) {
    let channel = job.target.channel();
    let message = Outgoing {
        to: job.target.address(),
        code: &job.code,
        purpose: job.purpose.as_str(),
        lang: job.lang,
        ttl: job.ttl,
    };
    match delivery.send(channel, &message).await {
        Ok(()) => metrics.code_sent(channel.as_str(), job.purpose.as_str(), "sent"),
        Err(error) => {
            metrics.code_sent(channel.as_str(), job.purpose.as_str(), "failed");
            tracing::warn!(channel = channel.as_str(), purpose = job.purpose.as_str(), %error, "code delivery failed");
            let key = key_of(&job.target, job.purpose);
            if let Err(error) = store.forget_code_send(job.send_id, key, &job.code_hash).await {
                tracing::warn!(%error, "cannot drop the code of a failed delivery");
            }
        }
    }
}

/// The store's key of a target's code for `purpose`.
fn key_of(target: &Target, purpose: Purpose) -> CodeKey<'_> {
    CodeKey {
        channel: target.channel().as_str(),
        target: target.key(),
        purpose: purpose.as_str(),
    }
}

/// The keyed hash a code is stored as, bound to its target and purpose (key derived from the
/// encryption key, so a database dump alone cannot test guesses).
fn code_hash(core: &Core, target: &Target, purpose: Purpose, code: &str) -> String {
    core.keys.secret_box().keyed_hash(
        code.as_bytes(),
        &format!(
            "one_time_code:{}:{}:{}",
            target.channel().as_str(),
            purpose.as_str(),
            target.key()
        ),
    )
}

fn new_code() -> SecretString {
    SecretString::new(format!("{:06}", rand::rng().random_range(0..1_000_000u32)))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Stores a fresh code for `target`, unless the per-target limits refuse it.
async fn store_new(
    core: &Core,
    target: &Target,
    purpose: Purpose,
    user_id: Option<i64>,
) -> Result<(SecretString, String, i64)> {
    let codes = &core.codes;
    let code = new_code();
    let hash = code_hash(core, target, purpose, code.expose());
    let now_ms = core.clock.unix_millis();
    let send_id = core.ids.next_id();
    let send = CodeSend {
        key: key_of(target, purpose),
        send_id,
        code_hash: &hash,
        user_id,
        now_ms,
        expires_at_ms: now_ms.saturating_add(millis(codes.settings.ttl)),
        resend_interval_ms: millis(codes.settings.resend_interval),
        daily_limit: codes.settings.daily_limit,
    };
    match core.store.store_code(&send).await? {
        SendOutcome::Stored => Ok((code, hash, send_id)),
        SendOutcome::Limited { retry_after_ms } => {
            codes
                .metrics
                .code_sent(target.channel().as_str(), purpose.as_str(), "limited");
            Err(Error::RateLimited {
                retry_after: u64::try_from(retry_after_ms).unwrap_or(0).div_ceil(1_000).max(1),
            })
        }
    }
}

/// Whether an unauthenticated send of `purpose` to `target` is delivered: `register` to any
/// target, `login` to any phone while sign-up by code is on and otherwise only to an account's
/// identifier, `reset_password` only to an account's identifier.
async fn deliverable(core: &Core, target: &Target, purpose: Purpose) -> Result<bool> {
    let held = super::identifiers::holder(core, target).await?.is_some();
    Ok(match purpose {
        Purpose::Register => true,
        Purpose::Login => held || (target.channel() == Channel::Sms && core.codes.settings.signup),
        _ => held,
    })
}

/// `POST /auth/codes`: answers alike, and at once, whether or not the target belongs to an
/// account; the delivery happens after the answer, from the bounded queue. A target that must
/// not get a message still gets a code stored and counted (never delivered), so the limits
/// answer alike too.
pub async fn send_public(core: &Core, request: PublicCodeRequest, lang: Lang, client: &ClientContext) -> Result<Sent> {
    let (target, purpose) = (request.target(), request.purpose());
    if !core.codes.configured(target.channel()) {
        return Err(Error::CodeChannelNotConfigured);
    }
    core.limits
        .rate(super::limits::Action::Code, client.ip.as_deref())
        .await?;
    let deliver = deliverable(core, target, purpose).await?;
    let (code, code_hash, send_id) = store_new(core, target, purpose, None).await?;
    let channel = target.channel().as_str();
    if !deliver {
        core.codes.metrics.code_sent(channel, purpose.as_str(), "suppressed");
        return Ok(core.codes.sent());
    }
    let job = Job {
        target: target.clone(),
        purpose,
        code,
        code_hash,
        send_id,
        lang,
        ttl: core.codes.settings.ttl,
    };
    if let Err(mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job)) =
        core.codes.queue.try_send(job)
    {
        core.codes.metrics.code_sent(channel, purpose.as_str(), "failed");
        tracing::warn!(
            channel,
            purpose = purpose.as_str(),
            "code delivery queue full; send dropped"
        );
        let key = key_of(&job.target, job.purpose);
        core.store.forget_code_send(job.send_id, key, &job.code_hash).await?;
    }
    Ok(core.codes.sent())
}

/// `POST /users/codes`: a code for the signed-in user, delivered before the answer (a failed
/// delivery is 503 `CODE_DELIVERY_FAILED` and undone). `verify` and `reauth` go to the
/// account's own email or phone; `change` to a new one, which no other account may hold
/// verified.
pub async fn send_for_user(
    core: &Core,
    user_id: i64,
    request: UserCodeRequest,
    lang: Lang,
    client: &ClientContext,
) -> Result<Sent> {
    let channel = request.channel();
    if !core.codes.configured(channel) {
        return Err(Error::CodeChannelNotConfigured);
    }
    core.limits
        .rate(super::limits::Action::Code, client.ip.as_deref())
        .await?;
    let account = core.store.user_by_id(user_id).await?.ok_or(Error::NotFound)?;
    let target = match request.target() {
        Some(target) => {
            if let Some(holder) = super::identifiers::holder(core, target).await?
                && holder.id != user_id
                && holder.verified
            {
                return Err(Error::Taken(channel.field()));
            }
            target.clone()
        }
        None => super::identifiers::own_target(&account.user, channel).ok_or_else(|| {
            Error::field(
                if channel == Channel::Email { "email" } else { "phone" },
                super::error::Reason::Required,
            )
        })?,
    };
    let purpose = request.purpose();
    let (code, code_hash, send_id) = store_new(core, &target, purpose, Some(user_id)).await?;
    let message = Outgoing {
        to: target.address(),
        code: &code,
        purpose: purpose.as_str(),
        lang,
        ttl: core.codes.settings.ttl,
    };
    match core.codes.delivery.send(channel, &message).await {
        Ok(()) => {
            core.codes.metrics.code_sent(channel.as_str(), purpose.as_str(), "sent");
            Ok(core.codes.sent())
        }
        Err(error) => {
            core.codes
                .metrics
                .code_sent(channel.as_str(), purpose.as_str(), "failed");
            tracing::warn!(channel = channel.as_str(), purpose = purpose.as_str(), %error, "code delivery failed");
            core.store
                .forget_code_send(send_id, key_of(&target, purpose), &code_hash)
                .await?;
            Err(Error::CodeDeliveryFailed)
        }
    }
}

/// Uses the code for `(target, purpose)` (sent for `user_id`, when a signed-in user asked
/// for it): single use on every node, five tries. Anything but a right live code is
/// `CODE_INVALID`.
pub async fn use_code(
    core: &Core,
    target: &Target,
    purpose: Purpose,
    code: &SecretString,
    user_id: Option<i64>,
) -> Result<()> {
    let hash = code_hash(core, target, purpose, code.expose());
    let check = core
        .store
        .use_code(key_of(target, purpose), &hash, user_id, core.clock.unix_millis())
        .await?;
    let outcome = match check {
        CodeCheck::Used => "ok",
        CodeCheck::Wrong => "wrong",
        CodeCheck::Expired => "expired",
        CodeCheck::Exhausted => "exhausted",
    };
    core.codes.metrics.code_check(outcome);
    match check {
        CodeCheck::Used => Ok(()),
        _ => Err(Error::CodeInvalid),
    }
}
