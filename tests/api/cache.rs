//! The profile cache, in process and in Redis: hits after the first read, and every kind of
//! write dropping the cached copy before it answers.

use crate::harness::paths::{PASSWORD, PROFILE};
use crate::harness::{CacheMode, TestApp};
use crate::on_every_cache;
use hufu::domain::admin;
use serde_json::json;

on_every_cache!(
    a_profile_read_is_served_from_the_cache_after_the_first,
    every_kind_of_write_drops_the_cached_profile
);

async fn a_profile_read_is_served_from_the_cache_after_the_first(mode: CacheMode) {
    let app = TestApp::spawn_cached(mode, |_| {}).await;
    let cachey = app.login_as("cachey").await;
    app.settle_feed().await;
    let (h1, h2, misses) = app.cache_counts();
    let first = cachey.get(PROFILE).await.expect_ok(200).clone();
    assert_eq!(
        app.cache_counts(),
        (h1, h2, misses + 1),
        "the first read misses and fills"
    );
    for _ in 0..3 {
        assert_eq!(cachey.get(PROFILE).await.expect_ok(200), &first);
    }
    let (l1, l2, after) = app.cache_counts();
    assert_eq!(after, misses + 1, "no further database reads");
    assert_eq!(l1 - h1, 3, "served from this node's memory");
    assert_eq!(l2, h2);

    if mode == CacheMode::Redis {
        // The entry is in Redis under the seed documents' key shape, with the configured TTL.
        let redis = app.state.core.redis.clone().unwrap();
        let key = redis.key(&format!("userId:{}", first["id"]));
        let stored = redis.get(&key).await.unwrap().expect("cached in Redis");
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&stored).unwrap(), first);
        let ttl = redis.pttl(&key).await.unwrap().unwrap();
        assert!(ttl <= 60_000 && ttl > 50_000, "TTL {ttl} ms");
        // A node with an empty first level (a restart, another node) reads it from Redis.
        app.state.core.cache.set_subscribed(true);
        cachey.get(PROFILE).await.expect_ok(200);
        let (_, l2_after, misses_after) = app.cache_counts();
        assert_eq!((l2_after, misses_after), (l2 + 1, after));
    }
}

async fn every_kind_of_write_drops_the_cached_profile(mode: CacheMode) {
    let app = TestApp::spawn_cached(mode, |_| {}).await;
    let writer = app.login_as("writer").await;
    let read = || async { writer.get(PROFILE).await.expect_ok(200).clone() };
    read().await;
    read().await;

    writer.put(PROFILE, json!({"nickname": "新昵称"})).await.expect_ok(200);
    assert_eq!(read().await["nickname"], "新昵称", "profile update");

    let before = read().await["updated_at"].clone();
    app.clock.advance(time::Duration::seconds(2));
    writer
        .put(
            PASSWORD,
            json!({"old_password": "correct horse battery", "new_password": "another horse battery"}),
        )
        .await
        .expect_ok(200);
    assert_ne!(read().await["updated_at"], before, "password change");

    let core = &app.state.core;
    let user = admin::find_by_username(core, "writer").await.unwrap().user;
    admin::grant_role(core, &user, "editor").await.unwrap();
    assert_eq!(read().await["roles"], json!(["user", "editor"]), "role change");
    // Disabling: the cached copy (still saying status 1) must go at once, everywhere.
    assert_eq!(read().await["status"], 1);
    assert!(core.cache.get(user.id).await.is_some(), "cached before the change");
    admin::set_enabled(core, &user, false).await.unwrap();
    assert!(core.cache.get(user.id).await.is_none(), "dropped by the status change");
    if let Some(redis) = &core.redis {
        assert_eq!(
            redis.get(&redis.key(&format!("userId:{}", user.id))).await.unwrap(),
            None
        );
    }
    writer.get(PROFILE).await.expect_error(401, "TOKEN_REVOKED");
}
