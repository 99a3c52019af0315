//! A small closed-loop HTTP/1.1 load generator: each connection sends its next request as
//! soon as the previous answer is in, for a fixed time, recording latencies in a histogram.

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::HeaderValue;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request to send. The path and the `Authorization` value are built once by the
/// scenario and cloned per request (a reference count), so the generator, which shares the
/// machine with the server, spends no more per request on one scenario than on another.
pub struct Call {
    /// `GET`, `POST`, …
    pub method: hyper::Method,
    /// Path and query.
    pub path: hyper::Uri,
    /// `Authorization: Bearer …`, if any.
    pub bearer: Option<HeaderValue>,
    /// JSON body, if any.
    pub body: Option<Bytes>,
}

static HOST: HeaderValue = HeaderValue::from_static("bench");
static JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Makes the `n`-th request of connection `c`.
pub type MakeCall = Arc<dyn Fn(usize, u64) -> Call + Send + Sync>;

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Answers received.
    pub answered: u64,
    /// Answers by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection errors).
    pub failed: u64,
    /// Latency histogram in microseconds.
    pub latency_us: Histogram<u64>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Outcome {
    /// Answers per second.
    pub fn rate(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64()
    }

    /// Answers whose status is not in `ok`, plus requests with no answer.
    pub fn errors(&self, ok: &[u16]) -> u64 {
        self.failed
            + self
                .statuses
                .iter()
                .filter(|(s, _)| !ok.contains(s))
                .map(|(_, n)| n)
                .sum::<u64>()
    }

    /// A latency percentile in milliseconds.
    pub fn ms(&self, percentile: f64) -> f64 {
        self.latency_us.value_at_percentile(percentile) as f64 / 1_000.0
    }

    /// Nothing measured yet.
    pub fn empty() -> anyhow::Result<Outcome> {
        Ok(Outcome {
            answered: 0,
            statuses: BTreeMap::new(),
            failed: 0,
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            elapsed: Duration::ZERO,
        })
    }

    /// Adds `other`'s answers, failures, latencies and time to these (one run of connections
    /// that ran side by side, or one run made of slices that ran one after the other).
    pub fn absorb(&mut self, other: Outcome) -> anyhow::Result<()> {
        self.answered += other.answered;
        self.failed += other.failed;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.latency_us.add(&other.latency_us)?;
        self.elapsed += other.elapsed;
        Ok(())
    }
}

async fn connection(addr: SocketAddr, c: usize, until: Instant, make: MakeCall) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::empty()?;
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut n = 0u64;
    while Instant::now() < until {
        let call = make(c, n);
        n += 1;
        let mut request = Request::builder()
            .method(call.method)
            .uri(call.path)
            .header(hyper::header::HOST, HOST.clone());
        if let Some(authorization) = call.bearer {
            request = request.header(hyper::header::AUTHORIZATION, authorization);
        }
        let body = match call.body {
            Some(body) => {
                request = request.header(hyper::header::CONTENT_TYPE, JSON.clone());
                Full::new(body)
            }
            None => Full::new(Bytes::new()),
        };
        let started = Instant::now();
        let answer = async {
            sender.ready().await?;
            let response = sender.send_request(request.body(body)?).await?;
            let status = response.status().as_u16();
            response.into_body().collect().await?;
            Ok::<_, anyhow::Error>(status)
        };
        match answer.await {
            Ok(status) => {
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
                outcome.latency_us.saturating_record(micros);
                *outcome.statuses.entry(status).or_default() += 1;
                outcome.answered += 1;
            }
            Err(_) => {
                outcome.failed += 1;
                break;
            }
        }
    }
    Ok(outcome)
}

/// Runs `connections` closed loops against `addr` for `duration`.
pub async fn run(addr: SocketAddr, connections: usize, duration: Duration, make: MakeCall) -> anyhow::Result<Outcome> {
    run_numbered(addr, 0..connections, duration, make).await
}

/// Runs one closed loop per number in `connections` (the `c` that `make` is given) for
/// `duration`. A run made of several parts numbers each part's connections apart, so that
/// requests built from `(c, n)` (user picked, name registered) do not repeat across parts.
pub async fn run_numbered(
    addr: SocketAddr,
    connections: std::ops::Range<usize>,
    duration: Duration,
    make: MakeCall,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let until = started + duration;
    let tasks: Vec<_> = connections
        .map(|c| tokio::spawn(connection(addr, c, until, make.clone())))
        .collect();
    let mut total = Outcome::empty()?;
    for task in tasks {
        total.absorb(task.await??)?;
    }
    // The connections ran side by side: the run took the wall time, not the sum of theirs.
    total.elapsed = started.elapsed();
    Ok(total)
}
