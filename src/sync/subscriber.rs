//! The receiving side of the event channel: each node keeps one subscription and applies what
//! arrives. While it is down the node stops trusting its first-level cache (the database feed
//! still delivers revocations within a quarter second).
//!
//! A Redis Cluster deployment gets no subscription (sharded pub/sub needs RESP3 push
//! connections): its nodes read profiles from Redis and the database only, never from a
//! first level that could miss an invalidation.

use super::Node;
use super::events::{self, Event};
use crate::cache::redis::{Redis, Target};
use futures_util::StreamExt;
use std::time::Duration;

/// How long to wait before subscribing again after losing the subscription.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// Applies one event to this node.
pub async fn apply(node: Node<'_>, redis: Option<&Redis>, event: Event) {
    match event {
        Event::Invalidated { user_id, nonce } => {
            node.cache.invalidate_local(user_id);
            if let (Some(redis), false) = (redis, nonce.is_empty()) {
                // Only now may the writer answer: this node will not serve the old copy again.
                let _ = events::publish(redis, &Event::Acknowledged { nonce }).await;
            }
        }
        Event::Acknowledged { nonce } => node.peers.acknowledged(&nonce),
        Event::Revoked(ids) => node.revocations.revoke(&ids, node.clock.unix_millis()),
    }
}

/// Keeps this node subscribed for as long as it runs.
pub async fn subscribe(node: Node<'_>) {
    let Some(redis) = node.peers.redis().cloned() else {
        return;
    };
    let Target::Single(url) = redis.target().clone() else {
        return;
    };
    let channel = events::channel(&redis);
    loop {
        let subscribed = async {
            let client = redis::Client::open(url.as_str())?;
            let mut pubsub = tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub())
                .await
                .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connect timed out")))??;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match subscribed.await {
            Ok(mut pubsub) => {
                // Anything cached before this point may have missed an invalidation.
                node.cache.set_subscribed(true);
                tracing::info!("subscribed to cache and revocation events");
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    if let Some(event) = message.get_payload::<String>().ok().and_then(|p| Event::parse(&p)) {
                        apply(node, Some(&redis), event).await;
                    }
                }
                node.cache.set_subscribed(false);
                tracing::warn!("lost the event subscription; not trusting the first-level cache until it is back");
            }
            Err(error) => tracing::debug!(error = %error, "cannot subscribe to events yet"),
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}
