//! What every request handler holds: the domain's services and the few things only the HTTP
//! layer needs (which proxies to believe, where to count requests). `app` builds it once per
//! node; handlers get it through axum's `State`.

use crate::domain::Core;
use crate::metrics::Metrics;
use ipnet::IpNet;
use std::sync::Arc;

/// What every request handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The domain services.
    pub core: Arc<Core>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[IpNet]>,
    /// This node's metrics (its own recorder: several nodes in one process stay apart).
    pub metrics: Arc<Metrics>,
}
