//! Key handling against a real JWKS server: rotation, refetch on unknown kids and its rate
//! limit, outages, and the background refresh.

// A test that cannot set itself up should stop loudly: unwrapping is its way of failing.
// The workspace denies these lints outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{JwksServer, NOW, TestKey, claims, silent_server, verifier};
use hufu_verify::{ManualClock, Verifier, VerifyError};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn keys_are_fetched_once_and_then_served_from_the_cache() {
    let key = TestKey::generate("k1");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier(&server.base, &ManualClock::new(NOW), Duration::ZERO);
    assert_eq!(server.hits(), 0, "building a verifier fetches nothing");
    for _ in 0..5 {
        verifier.verify(&key.sign(&claims(NOW))).await.unwrap();
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn after_a_rotation_new_and_still_published_old_keys_both_verify() {
    let old = TestKey::generate("k1");
    let server = JwksServer::start(&[&old]).await;
    let verifier = verifier(&server.base, &ManualClock::new(NOW), Duration::ZERO);
    let old_token = old.sign(&claims(NOW));
    verifier.verify(&old_token).await.unwrap();

    let new = TestKey::generate("k2");
    server.publish(&[&new, &old]);
    verifier.verify(&new.sign(&claims(NOW))).await.unwrap();
    assert_eq!(server.hits(), 2, "the unknown kid caused one refetch");
    verifier.verify(&old_token).await.unwrap();
    assert_eq!(server.hits(), 2, "the old key came along in the refetch");
}

#[tokio::test]
async fn a_key_withdrawn_from_the_jwks_stops_verifying_after_the_next_fetch() {
    let old = TestKey::generate("k1");
    let new = TestKey::generate("k2");
    let server = JwksServer::start(&[&old]).await;
    let verifier = verifier(&server.base, &ManualClock::new(NOW), Duration::ZERO);
    let old_token = old.sign(&claims(NOW));
    verifier.verify(&old_token).await.unwrap();

    server.publish(&[&new]);
    verifier.verify(&new.sign(&claims(NOW))).await.unwrap();
    assert_eq!(verifier.verify(&old_token).await, Err(VerifyError::Invalid));
}

#[tokio::test]
async fn an_unknown_kid_triggers_one_jwks_refetch() {
    let key = TestKey::generate("k1");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier(&server.base, &ManualClock::new(NOW), Duration::from_millis(300));
    verifier.verify(&key.sign(&claims(NOW))).await.unwrap();
    assert_eq!(server.hits(), 1);

    tokio::time::sleep(Duration::from_millis(350)).await;
    let stranger = TestKey::generate("garbage");
    assert_eq!(
        verifier.verify(&stranger.sign(&claims(NOW))).await,
        Err(VerifyError::Invalid)
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let key = TestKey::generate("k1");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier(&server.base, &ManualClock::new(NOW), Duration::from_secs(1));
    // Made up front so the burst below fits well inside the interval even on a slow machine.
    let garbage: Vec<String> = (0..10)
        .map(|i| TestKey::generate(&format!("garbage-{i}")).sign(&claims(NOW)))
        .collect();
    verifier.verify(&key.sign(&claims(NOW))).await.unwrap();
    assert_eq!(server.hits(), 1);

    for token in &garbage {
        assert_eq!(verifier.verify(token).await, Err(VerifyError::Invalid));
    }
    assert_eq!(
        server.hits(),
        1,
        "within the interval of the first fetch nothing is refetched"
    );

    tokio::time::sleep(Duration::from_millis(1_050)).await;
    for token in &garbage {
        assert_eq!(verifier.verify(token).await, Err(VerifyError::Invalid));
    }
    assert_eq!(server.hits(), 2, "one refetch for the whole burst");
}

#[tokio::test]
async fn concurrent_unknown_kids_share_one_fetch() {
    let key = TestKey::generate("k1");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier(&server.base, &ManualClock::new(NOW), Duration::from_secs(10));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let verifier = verifier.clone();
        let token = TestKey::generate(&format!("garbage-{i}")).sign(&claims(NOW));
        tasks.spawn(async move { verifier.verify(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap(), Err(VerifyError::Invalid));
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_silent_jwks_server_makes_uncached_kids_unavailable_quickly() {
    let base = silent_server().await;
    let verifier = Verifier::builder(&base, common::ISS, common::AUD)
        .clock(Arc::new(ManualClock::new(NOW)))
        .fetch_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let token = TestKey::generate("k1").sign(&claims(NOW));

    let started = Instant::now();
    assert_eq!(verifier.verify(&token).await, Err(VerifyError::Unavailable));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );

    // Within the refetch interval the outage is remembered, not waited for again.
    let started = Instant::now();
    assert_eq!(verifier.verify(&token).await, Err(VerifyError::Unavailable));
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(verifier.refresh().await, Err(VerifyError::Unavailable));
}

#[tokio::test]
async fn a_refused_connection_makes_uncached_kids_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let verifier = verifier(&base, &ManualClock::new(NOW), Duration::from_secs(10));
    let token = TestKey::generate("k1").sign(&claims(NOW));
    assert_eq!(verifier.verify(&token).await, Err(VerifyError::Unavailable));
}

#[tokio::test]
async fn a_hufu_outage_keeps_cached_keys_working() {
    let key = TestKey::generate("k1");
    let server = JwksServer::start(&[&key]).await;
    let verifier = verifier(&server.base, &ManualClock::new(NOW), Duration::ZERO);
    verifier.verify(&key.sign(&claims(NOW))).await.unwrap();

    server.set_failing(true);
    let stranger = TestKey::generate("k2").sign(&claims(NOW));
    assert_eq!(verifier.verify(&stranger).await, Err(VerifyError::Unavailable));
    assert_eq!(server.hits(), 2);
    verifier.verify(&key.sign(&claims(NOW))).await.unwrap();

    server.set_failing(false);
    assert_eq!(verifier.verify(&stranger).await, Err(VerifyError::Invalid));
}

#[tokio::test]
async fn refresh_loads_the_keys_up_front() {
    let (k1, k2) = (TestKey::generate("k1"), TestKey::generate("k2"));
    let server = JwksServer::start(&[&k1, &k2]).await;
    let verifier = verifier(&server.base, &ManualClock::new(NOW), Duration::from_secs(10));
    assert_eq!(verifier.refresh().await, Ok(2));
    verifier.verify(&k2.sign(&claims(NOW))).await.unwrap();
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn the_background_refresh_brings_rotated_keys_before_their_first_token() {
    let old = TestKey::generate("k1");
    let server = JwksServer::start(&[&old]).await;
    // Unknown kids may not refetch during this test: only the background task can.
    let verifier = verifier(&server.base, &ManualClock::new(NOW), Duration::from_secs(60));
    verifier.refresh().await.unwrap();
    let task = verifier.spawn_refresh(Duration::from_millis(100));

    let new = TestKey::generate("k2");
    server.publish(&[&new, &old]);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(server.hits() >= 2);
    verifier.verify(&new.sign(&claims(NOW))).await.unwrap();

    drop(verifier);
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("the task ends once the verifier is dropped")
        .unwrap();
}
