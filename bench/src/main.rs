//! `bench`: measures hufu against the targets of the performance issue, in one run on one
//! machine, as ratios to references measured in the same run (a bare route; the argon2 bound).
//!
//! It starts the real `hufu` binary (release build recommended) on the database (and Redis)
//! given, seeds users directly through the store, loads the server over HTTP from this process,
//! prints one table, and writes it as JSON. `--short` runs every scenario for about a second
//! (CI uses it to prove the suite works; its numbers mean little).

mod bound;
mod codes;
mod cpu;
mod load;
mod server;

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use hufu::config::{Settings, names};
use load::{Call, MakeCall, Outcome};
use serde::Serialize;
use server::Server;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "bench", about = "Benchmark hufu over HTTP")]
struct Args {
    /// The hufu binary (default: `hufu` next to this one).
    #[arg(long)]
    hufu: Option<std::path::PathBuf>,
    /// Database URL (default: a fresh SQLite file).
    #[arg(long)]
    database_url: Option<String>,
    /// Redis URL (default: none, in-process cache and limits).
    #[arg(long)]
    redis_url: Option<String>,
    /// Users to seed through the store before the run.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// About a second per scenario and few users: proves the suite works.
    #[arg(long)]
    short: bool,
    /// Where to write the results as JSON.
    #[arg(long, default_value = "bench-results.json")]
    json: std::path::PathBuf,
    /// Threads of the load generator (default: one per core).
    #[arg(long)]
    client_threads: Option<usize>,
    /// A label for this configuration in the table.
    #[arg(long)]
    label: Option<String>,
}

/// One row of the result table.
#[derive(Debug, Serialize)]
struct Row {
    scenario: String,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    refused_fast: u64,
    ratio: Option<f64>,
    reference: String,
    statuses: std::collections::BTreeMap<u16, u64>,
    no_answer: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    label: String,
    cores: usize,
    users: usize,
    seconds_per_scenario: f64,
    /// One argon2id verification alone, median of the samples taken between P2's slices.
    argon2_verify_ms: f64,
    /// The fastest and slowest of those slices' medians.
    argon2_verify_spread_ms: (f64, f64),
    /// One verification while every core verifies (not a reference; see `bound`).
    argon2_verify_together_ms: f64,
    /// P2's reference: cores ÷ `argon2_verify_ms`.
    hash_bound_per_second: f64,
    /// The registrations' reference, measured between their own slices.
    register_hash_bound_per_second: f64,
    server_rss_mib: Option<f64>,
    /// CPU per login during P2, by who spent it (Linux only).
    login_cpu: Option<cpu::LoginCpu>,
    rows: Vec<Row>,
}

const PASSWORD: &str = "bench-password-1";

fn row(scenario: &str, outcome: &Outcome, ok: &[u16], refused: &[u16], ratio: Option<f64>, reference: &str) -> Row {
    let refused_fast = outcome
        .statuses
        .iter()
        .filter(|(s, _)| refused.contains(s))
        .map(|(_, n)| n)
        .sum();
    let mut allowed = ok.to_vec();
    allowed.extend_from_slice(refused);
    Row {
        scenario: scenario.to_owned(),
        requests_per_second: outcome.rate(),
        p50_ms: outcome.ms(50.0),
        p99_ms: outcome.ms(99.0),
        errors: outcome.errors(&allowed),
        refused_fast,
        ratio,
        reference: reference.to_owned(),
        statuses: outcome.statuses.clone(),
        no_answer: outcome.failed,
    }
}

/// Stores `users` users, all with the password hash `hash`.
async fn seed(settings: &Settings, run: &str, users: usize, hash: &str) -> anyhow::Result<()> {
    let store = hufu::app::open_store(settings).await?;
    let hash = hash.to_owned();
    let started = Instant::now();
    let concurrency = if settings.database.url.starts_with("sqlite") {
        1
    } else {
        16
    };
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|worker: u16| {
            let (store, hash, next, run) = (store.clone(), hash.clone(), next.clone(), run.to_owned());
            // A node id of its own per worker: two workers on one node id would mint the same
            // id in the same millisecond (random node ids for 16 workers out of 64 collide
            // more often than not).
            let ids = Arc::new(hufu::id::IdGenerator::new(worker));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= users {
                        return Ok::<_, anyhow::Error>(());
                    }
                    let name = format!("b{run}{i}");
                    let user = hufu::store::NewUser {
                        id: ids.next_id(),
                        username: name.clone(),
                        username_key: name.clone(),
                        email: Some(format!("{name}@bench.example")),
                        email_key: Some(format!("{name}@bench.example")),
                        phone: None,
                        password_hash: Some(hash.clone()),
                        email_verified: false,
                        phone_verified: false,
                        roles: "user".into(),
                        now_ms: 0,
                    };
                    store
                        .create_user(&user, None)
                        .await
                        .map_err(|e| anyhow::anyhow!("seeding: {e}"))?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    eprintln!("seeded {users} users in {:.1} s", started.elapsed().as_secs_f64());
    store.close().await;
    Ok(())
}

fn json(value: serde_json::Value) -> Option<Bytes> {
    Some(Bytes::from(value.to_string()))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The generator shares the machine with the server; its thread count is a knob so that its
    // share of the cores can be varied (one thread per core by default, as tokio would pick).
    let threads = args
        .client_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?
        .block_on(bench(args))
}

async fn bench(mut args: Args) -> anyhow::Result<()> {
    if args.short {
        args.seconds = 1;
        args.users = args.users.min(200);
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let binary = match &args.hufu {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("hufu"),
    };
    anyhow::ensure!(
        binary.exists(),
        "no hufu binary at {} (build it, or pass --hufu)",
        binary.display()
    );
    let dir = tempfile::tempdir()?;
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let run: String = format!("{:x}", std::process::id() % 0xffff);
    let label = args.label.clone().unwrap_or_else(|| {
        let store = database_url.split(':').next().unwrap_or("?").to_owned();
        if args.redis_url.is_some() {
            format!("{store}+redis")
        } else {
            store
        }
    });

    let mut seed_settings = Settings::default();
    seed_settings.database.url = database_url.clone();
    seed_settings.server.data_dir = dir.path().to_owned();
    seed_settings.database.pool.max_connections = 16;
    // The hash the users are seeded with is the one the bench verifies for the hash bound.
    let verifier = Arc::new(bound::Verifier::new(PASSWORD)?);
    seed(&seed_settings, &run, args.users, verifier.hash())
        .await
        .context("seeding users")?;

    let mut envs = vec![
        (names::HUFU_DATABASE_URL.to_owned(), database_url.clone()),
        (names::HUFU_DATA_DIR.to_owned(), dir.path().display().to_string()),
        (
            names::HUFU_JWT_SECRET.to_owned(),
            "bench-secret-bench-secret-bench-secret-00".to_owned(),
        ),
        (names::HUFU_REQUIRE_PHONE.to_owned(), "false".to_owned()),
    ];
    // Code sign-ins: SMS through the signed webhook to a receiver in this process; the
    // per-target limits stay as configured but each client cycles through phones of its own.
    let receiver = Arc::new(codes::Receiver::start().await?);
    envs.push((names::HUFU_SMS_PROVIDER.to_owned(), "webhook".to_owned()));
    envs.push((names::HUFU_SMS_WEBHOOK_URL.to_owned(), receiver.url.clone()));
    envs.push((
        names::HUFU_SMS_WEBHOOK_SECRET.to_owned(),
        "bench-webhook-secret-0123456789abcdef".to_owned(),
    ));
    envs.push((names::HUFU_CODE_RESEND_INTERVAL.to_owned(), "0s".to_owned()));
    envs.push((names::HUFU_CODE_DAILY_LIMIT.to_owned(), "1000000".to_owned()));
    for limit in [
        names::HUFU_RATE_LIMIT_CODE,
        names::HUFU_RATE_LIMIT_LOGIN,
        names::HUFU_RATE_LIMIT_REGISTER,
        names::HUFU_RATE_LIMIT_REFRESH,
        names::HUFU_RATE_LIMIT_WECHAT,
    ] {
        envs.push((limit.to_owned(), "1000000".to_owned()));
    }
    if let Some(redis) = &args.redis_url {
        envs.push((names::HUFU_REDIS_URL.to_owned(), redis.clone()));
        envs.push((names::HUFU_REDIS_PREFIX.to_owned(), format!("bench{run}:")));
    }
    let server = Server::start(&binary, &envs)?;
    let addr = server.addr;
    let seconds = Duration::from_secs(args.seconds);
    let users = args.users.max(1);

    // A token for the profile scenarios.
    let token = token_for(addr, &format!("b{run}0")).await?;

    let mut rows = Vec::new();
    let bare: MakeCall = Arc::new(|_, _| Call {
        method: hyper::Method::GET,
        path: hyper::Uri::from_static("/healthz"),
        bearer: None,
        body: None,
    });
    let profile: MakeCall = {
        let authorization = hyper::header::HeaderValue::try_from(format!("Bearer {token}"))?;
        Arc::new(move |_, _| Call {
            method: hyper::Method::GET,
            path: hyper::Uri::from_static("/api/v1/users/profile"),
            bearer: Some(authorization.clone()),
            body: None,
        })
    };
    let bare_run = load::run(addr, 64, seconds, bare.clone()).await?;
    rows.push(row("bare GET /healthz (64 conn)", &bare_run, &[200], &[], None, "-"));
    load::run(addr, 1, Duration::from_millis(50), profile.clone()).await?; // warm the cache
    let profile_run = load::run(addr, 64, seconds, profile.clone()).await?;
    let p1 = profile_run.rate() / bare_run.rate();
    rows.push(row(
        "P1 GET /users/profile warm (64 conn)",
        &profile_run,
        &[200],
        &[],
        Some(p1),
        "bare route",
    ));

    let hashing = bound::Slicing::for_scenario(seconds);
    let together_ms = {
        let verifier = verifier.clone();
        let window = if args.short {
            Duration::ZERO
        } else {
            Duration::from_secs(1)
        };
        tokio::task::spawn_blocking(move || verifier.together_ms(cores, window)).await?
    };
    let logins: MakeCall = {
        let run = run.clone();
        Arc::new(move |c, n| {
            let i = (c * 7_919 + n as usize * 31) % users;
            Call {
                method: hyper::Method::POST,
                path: hyper::Uri::from_static("/api/v1/auth/login"),
                bearer: None,
                body: json(serde_json::json!({"username": format!("b{run}{i}"), "password": PASSWORD})),
            }
        })
    };
    let cpu_before = cpu::snapshot(server.pid());
    let (login_run, login_bound) = bound::run_sliced(addr, 2 * cores, hashing, logins.clone(), &verifier).await?;
    let login_cpu = cpu::per_login(
        cpu_before,
        cpu::snapshot(server.pid()),
        login_run.statuses.get(&200).copied().unwrap_or(0),
    );
    rows.push(row(
        "P2 POST /auth/login",
        &login_run,
        &[200],
        &[],
        Some(login_run.rate() / login_bound.per_second(cores)),
        "hash bound",
    ));

    // P3: reads while logins saturate the hashing pool.
    let idle_reads = load::run(addr, 8, seconds, profile.clone()).await?;
    let (busy_reads, _) = tokio::join!(
        load::run(addr, 8, seconds, profile.clone()),
        load::run(addr, 4 * cores, seconds, logins.clone())
    );
    let busy_reads = busy_reads?;
    rows.push(row(
        "P3 profile reads during a login flood (8 conn)",
        &busy_reads,
        &[200],
        &[],
        Some(busy_reads.rate() / idle_reads.rate()),
        "idle reads (8 conn)",
    ));
    let overload = load::run(addr, 256, seconds, logins.clone()).await?;
    rows.push(row(
        "P3 login overload (256 conn)",
        &overload,
        &[200],
        &[503, 429],
        None,
        "fast 503 when the hash queue is full",
    ));

    let registrations: MakeCall = {
        let run = run.clone();
        Arc::new(move |c, n| {
            let name = format!("r{run}x{c}y{n}");
            Call {
                method: hyper::Method::POST,
                path: hyper::Uri::from_static("/api/v1/auth/register"),
                bearer: None,
                body: json(
                    serde_json::json!({"username": name, "email": format!("{name}@bench.example"), "password": PASSWORD}),
                ),
            }
        })
    };
    let (register_run, register_bound) = bound::run_sliced(addr, 2 * cores, hashing, registrations, &verifier).await?;
    rows.push(row(
        "POST /auth/register",
        &register_run,
        &[201],
        &[],
        Some(register_run.rate() / register_bound.per_second(cores)),
        "hash bound",
    ));

    // Code sign-in: send + deliver + sign in, no password hash on the way.
    let code_run = codes::run(addr, receiver.clone(), 2 * cores, seconds).await?;
    rows.push(row(
        "P5 code sign-in: send + SMS + sign-in (2 × cores conn)",
        &code_run,
        &[200],
        &[],
        Some(code_run.rate() / login_run.rate()),
        "P2 logins/s (target ≥ 10×)",
    ));

    let report = Report {
        label,
        cores,
        users: args.users,
        seconds_per_scenario: seconds.as_secs_f64(),
        argon2_verify_ms: login_bound.verify_ms(),
        argon2_verify_spread_ms: login_bound.spread_ms(),
        argon2_verify_together_ms: together_ms,
        hash_bound_per_second: login_bound.per_second(cores),
        register_hash_bound_per_second: register_bound.per_second(cores),
        server_rss_mib: {
            // "After the run": idle hashing threads give their work areas back within a second.
            tokio::time::sleep(Duration::from_secs(2)).await;
            server.rss_mib()
        },
        login_cpu,
        rows,
    };
    print_table(&report);
    std::fs::write(&args.json, serde_json::to_vec_pretty(&report)?)?;
    eprintln!("wrote {}", args.json.display());
    Ok(())
}

async fn token_for(addr: std::net::SocketAddr, username: &str) -> anyhow::Result<String> {
    use http_body_util::BodyExt;
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let body = serde_json::json!({"username": username, "password": PASSWORD}).to_string();
    let request = hyper::Request::post("/api/v1/auth/login")
        .header("host", "bench")
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from(body)))?;
    let response = sender.send_request(request).await?;
    let bytes = response.into_body().collect().await?.to_bytes();
    let value: serde_json::Value = serde_json::from_slice(&bytes)?;
    value["data"]["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no token in {value}"))
}

fn print_table(report: &Report) {
    println!(
        "\nhufu bench — {} — {} cores, {} users, {:.0} s per scenario; argon2id verify {:.1} ms alone (slices {:.1}–{:.1} ms) → hash bound {:.0}/s ({:.0}/s for registrations); {:.1} ms with {} at once; server RSS {}",
        report.label,
        report.cores,
        report.users,
        report.seconds_per_scenario,
        report.argon2_verify_ms,
        report.argon2_verify_spread_ms.0,
        report.argon2_verify_spread_ms.1,
        report.hash_bound_per_second,
        report.register_hash_bound_per_second,
        report.argon2_verify_together_ms,
        report.cores,
        report.server_rss_mib.map_or("?".to_owned(), |m| format!("{m:.1} MiB")),
    );
    println!("| scenario | req/s | p50 ms | p99 ms | errors | refused fast | ratio | reference |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    for r in &report.rows {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} |",
            r.scenario,
            r.requests_per_second,
            r.p50_ms,
            r.p99_ms,
            r.errors,
            r.refused_fast,
            r.ratio.map_or("-".to_owned(), |x| format!("{:.0} %", x * 100.0)),
            r.reference
        );
    }
    if let Some(c) = &report.login_cpu {
        println!(
            "\nCPU per P2 login: hashing {:.2} ms; outside hashing {:.2} ms (hufu's other threads {:.2}, database {:.2}, Redis {:.2})",
            c.hashing_ms,
            c.outside_hashing_ms(),
            c.server_other_ms,
            c.database_ms,
            c.redis_ms
        );
    }
}
