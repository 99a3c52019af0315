//! Micro-benchmarks of the authenticated read path's parts: issuing and checking access
//! tokens (HS256 and EdDSA), the whole check an authenticated request makes
//! (`sessions::authenticate`: signature, claims, revocation set), serialising a user, and
//! wrapping data in the envelope. Run with `cargo bench`.

// A test (or benchmark) that cannot set itself up should stop loudly: unwrapping is its way
// of failing. The workspace denies these lints outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use hufu::catalog::{Lang, Success};
use hufu::clock::SystemClock;
use hufu::config::{JwtAlgorithm, Settings};
use hufu::domain::password::Argon2Params;
use hufu::domain::tokens::{KeyRing, TokenService};
use hufu::domain::user::User;
use hufu::http::envelope::render_success;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

fn user() -> User {
    User {
        id: 244_255_350_573_120,
        username: "johndoe".into(),
        email: Some("john@example.com".into()),
        phone: Some("13800138000".into()),
        email_verified: false,
        phone_verified: false,
        nickname: Some("John".into()),
        avatar_url: None,
        status: 1,
        roles: vec!["user".into()],
        mfa_enabled: false,
        wechat_bound: false,
        created_at: time::OffsetDateTime::now_utc(),
        updated_at: time::OffsetDateTime::now_utc(),
    }
}

fn eddsa_service() -> TokenService {
    let secret_box = hufu::crypto::SecretBox::new(&[7u8; 32]).expect("key");
    let row = hufu::domain::keys::generate(&secret_box, 0).expect("key pair");
    let ring = hufu::domain::keys::build_ring(&[row], &secret_box, 0, Duration::from_secs(900)).expect("ring");
    let _: &KeyRing = &ring;
    TokenService::eddsa(ring, "hufu", "hufu", Duration::from_secs(900), Arc::new(SystemClock))
}

fn tokens(c: &mut Criterion) {
    let hs = TokenService::hs256(
        b"0123456789abcdef0123456789abcdef",
        "hufu",
        "hufu",
        Duration::from_secs(900),
        Arc::new(SystemClock),
    );
    let ed = eddsa_service();
    let user = user();
    for (name, service) in [("HS256", &hs), ("EdDSA", &ed)] {
        let token = service.issue(&user, 42, 0, &[]).expect("issue").token;
        c.bench_function(&format!("token issue {name}"), |b| {
            b.iter(|| service.issue(black_box(&user), 42, 0, &[]))
        });
        c.bench_function(&format!("token verify {name}"), |b| {
            b.iter(|| service.verify(black_box(&token)))
        });
    }
}

fn authenticate(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    for algorithm in [JwtAlgorithm::Hs256, JwtAlgorithm::EdDsa] {
        let mut settings = Settings::default();
        settings.database.url = format!("sqlite://{}", dir.path().join(format!("{algorithm:?}.db")).display());
        settings.server.data_dir = dir.path().to_owned();
        settings.tokens.jwt_algorithm = algorithm;
        settings.tokens.jwt_secret = Some(hufu::secret::SecretString::new(
            "bench-secret-bench-secret-bench-secret-00",
        ));
        settings.passwords.argon2 = Argon2Params::INSECURE_FAST_FOR_TESTS_ONLY;
        let state = runtime.block_on(async {
            let store = hufu::app::open_store(&settings).await.expect("store");
            hufu::app::build_state(&settings, store, Arc::new(SystemClock))
                .await
                .expect("state")
        });
        // The node's background work, as in a server (the revocation feed must be running).
        let _runtime = runtime.enter();
        let _background = hufu::app::spawn_background(state.clone());
        // A few thousand revoked sessions, so the set lookup is realistic.
        let revoked: Vec<i64> = (1..5_000).collect();
        state.core.revocations.revoke(&revoked, 0);
        let token = state.core.tokens.issue(&user(), 999_999, 0, &[]).expect("token").token;
        c.bench_function(&format!("authenticate {algorithm:?}"), |b| {
            b.to_async(&runtime)
                .iter(|| hufu::domain::sessions::authenticate(&state.core, black_box(&token)))
        });
    }
}

fn envelope(c: &mut Criterion) {
    let user = user();
    c.bench_function("serialise a user", |b| b.iter(|| serde_json::to_vec(black_box(&user))));
    let json = bytes::Bytes::from(serde_json::to_vec(&user).expect("json"));
    c.bench_function("envelope around cached JSON", |b| {
        b.iter(|| {
            render_success(
                axum::http::StatusCode::OK,
                Lang::En,
                Success::Ok,
                black_box(json.clone()),
            )
        })
    });
}

criterion_group!(benches, tokens, authenticate, envelope);
criterion_main!(benches);
