//! The event channel between nodes: Redis pub/sub on `<prefix>events`. This module is the one
//! place that knows the wire form of an event; everything else sends and receives [`Event`]s.
//!
//! - `u:<user id>:<nonce>`: drop that user's first-level cache entry, then acknowledge.
//! - `a:<nonce>`: a node has dropped the entry of invalidation `nonce`.
//! - `s:<id>,<id>…`: these sessions were revoked.
//!
//! Depends only on the Redis adapter; the subscriber that applies events is in
//! [`super::subscriber`].

use crate::cache::redis::{Redis, RedisDown};

/// One message on the event channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A user's profile changed: every node drops its first-level copy and acknowledges.
    Invalidated {
        /// Whose profile.
        user_id: i64,
        /// Names this invalidation in the acknowledgements (empty: none wanted).
        nonce: String,
    },
    /// A node has dropped its copy for the invalidation `nonce`.
    Acknowledged {
        /// The invalidation acknowledged.
        nonce: String,
    },
    /// Sessions revoked on some node.
    Revoked(Vec<i64>),
}

impl Event {
    /// The wire form.
    pub fn encode(&self) -> String {
        match self {
            Event::Invalidated { user_id, nonce } => format!("u:{user_id}:{nonce}"),
            Event::Acknowledged { nonce } => format!("a:{nonce}"),
            Event::Revoked(ids) => {
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!("s:{}", ids.join(","))
            }
        }
    }

    /// Reads the wire form; `None` for anything this node does not understand (a newer node's
    /// event, or noise), which is then ignored.
    pub fn parse(payload: &str) -> Option<Self> {
        if let Some(rest) = payload.strip_prefix("u:") {
            let (id, nonce) = rest.split_once(':').unwrap_or((rest, ""));
            let user_id = id.parse().ok()?;
            Some(Event::Invalidated {
                user_id,
                nonce: nonce.to_owned(),
            })
        } else if let Some(nonce) = payload.strip_prefix("a:") {
            Some(Event::Acknowledged {
                nonce: nonce.to_owned(),
            })
        } else {
            let ids = payload.strip_prefix("s:")?;
            Some(Event::Revoked(
                ids.split(',').filter_map(|id| id.parse().ok()).collect(),
            ))
        }
    }
}

/// The channel's name under this deployment's key prefix.
pub fn channel(redis: &Redis) -> String {
    redis.key("events")
}

/// Publishes `event`; the number of subscribed nodes that received it.
pub async fn publish(redis: &Redis, event: &Event) -> Result<usize, RedisDown> {
    redis.publish(&channel(redis), &event.encode()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_reads_back_as_itself() {
        for event in [
            Event::Invalidated {
                user_id: 42,
                nonce: "01J0NONCE".into(),
            },
            Event::Acknowledged {
                nonce: "01J0NONCE".into(),
            },
            Event::Revoked(vec![1, 2, 300]),
        ] {
            assert_eq!(Event::parse(&event.encode()), Some(event));
        }
    }

    #[test]
    fn the_wire_form_is_the_one_older_nodes_speak() {
        let revoked = Event::Revoked(vec![7, 8]).encode();
        assert_eq!(revoked, "s:7,8");
        assert_eq!(
            Event::Invalidated {
                user_id: 5,
                nonce: "n".into()
            }
            .encode(),
            "u:5:n"
        );
        assert_eq!(
            Event::parse("u:5"),
            Some(Event::Invalidated {
                user_id: 5,
                nonce: String::new()
            })
        );
        assert_eq!(Event::parse("x:1"), None);
        assert_eq!(Event::parse("u:notanumber:n"), None);
    }
}
