//! The code sign-in scenario: each of `connections` clients asks a `login` code for a phone of
//! its own, reads it where a phone would show it (hufu's `webhook` SMS provider posts it to a
//! receiver in this process), and signs in with it; one answer of the run is one whole
//! sign-in (two requests and a delivery). The first round of each phone signs up, the later
//! ones sign in. No password is hashed anywhere on this path.

use crate::load::Outcome;
use axum::extract::State;
use axum::routing::post;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Codes received, by phone, with a wake-up for a client waiting for its own.
#[derive(Default)]
struct Phones {
    codes: Mutex<HashMap<String, String>>,
    arrived: Notify,
}

async fn receive(State(phones): State<Arc<Phones>>, body: axum::body::Bytes) -> &'static str {
    if let Ok(message) = serde_json::from_slice::<serde_json::Value>(&body)
        && let (Some(phone), Some(code)) = (message["phone"].as_str(), message["code"].as_str())
    {
        phones
            .codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(phone.to_owned(), code.to_owned());
        phones.arrived.notify_waiters();
    }
    "ok"
}

/// The SMS receiver, listening on 127.0.0.1; the URL for `HUFU_SMS_WEBHOOK_URL`.
pub struct Receiver {
    phones: Arc<Phones>,
    /// Where hufu posts.
    pub url: String,
}

impl Receiver {
    /// Starts the receiver.
    pub async fn start() -> anyhow::Result<Receiver> {
        let phones = Arc::new(Phones::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/sms", listener.local_addr()?);
        let app = axum::Router::new()
            .route("/sms", post(receive))
            .with_state(phones.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Receiver { phones, url })
    }

    async fn code_for(&self, phone: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let waiting = self.phones.arrived.notified();
            if let Some(code) = self
                .phones
                .codes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(phone)
            {
                return Some(code);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let _ = tokio::time::timeout(left, waiting).await;
        }
    }
}

/// One client's sign-ins until `until`.
async fn client(addr: SocketAddr, c: usize, receiver: Arc<Receiver>, until: Instant) -> anyhow::Result<Outcome> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(2).build()?;
    let mut outcome = Outcome::empty()?;
    let mut round = 0u64;
    while Instant::now() < until {
        // Each client cycles through four phones of its own (so later rounds sign in, and a
        // resend interval, if one were set, would not be what is measured).
        let phone = format!("17{:03}{:06}", c % 1_000, round % 4);
        round += 1;
        let begun = Instant::now();
        let sent = http
            .post(format!("http://{addr}/api/v1/auth/codes"))
            .json(&serde_json::json!({"channel": "sms", "target": phone, "purpose": "login"}))
            .send()
            .await;
        let status = match sent {
            Ok(answer) if answer.status() == 200 => match receiver.code_for(&phone, Duration::from_secs(5)).await {
                Some(code) => {
                    let signed = http
                        .post(format!("http://{addr}/api/v1/auth/login/code"))
                        .json(&serde_json::json!({"channel": "sms", "target": phone, "code": code}))
                        .send()
                        .await;
                    signed.map(|a| a.status().as_u16()).ok()
                }
                // Never delivered: counted as a gateway timeout.
                None => Some(504),
            },
            Ok(answer) => Some(answer.status().as_u16()),
            Err(_) => None,
        };
        match status {
            Some(status) => {
                outcome.answered += 1;
                *outcome.statuses.entry(status).or_default() += 1;
                let micros = u64::try_from(begun.elapsed().as_micros()).unwrap_or(u64::MAX);
                outcome.latency_us.record(micros.max(1))?;
            }
            None => outcome.failed += 1,
        }
    }
    Ok(outcome)
}

/// Runs `connections` clients for `duration`; the outcome counts whole sign-ins.
pub async fn run(
    addr: SocketAddr,
    receiver: Arc<Receiver>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let until = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|c| tokio::spawn(client(addr, c, receiver.clone(), until)))
        .collect();
    let mut total = Outcome::empty()?;
    for task in tasks {
        total.absorb(task.await??)?;
    }
    // The clients ran side by side: the run took the wall time, not the sum of theirs.
    total.elapsed = started.elapsed();
    Ok(total)
}
