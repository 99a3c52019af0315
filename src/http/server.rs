//! The HTTP/1.1 accept loop: hyper with a header-read timeout, each connection in its own task,
//! and a bounded graceful drain on shutdown. `app::serve` runs it around the router.

use std::time::Duration;
use tokio::net::TcpListener;

/// Per-connection bounds of the HTTP server.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request's line and headers (and an idle
    /// keep-alive connection may stay open).
    pub header_read_timeout: Duration,
    /// How long in-flight requests get to finish after shutdown begins.
    pub shutdown_timeout: Duration,
}

/// Largest request line and headers together (and hyper's read buffer); a larger head is
/// answered 431 and the connection closed.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The accept loop: HTTP/1.1 over hyper with a header-read timeout, each connection in its
/// own task, and a bounded graceful drain when `shutdown` resolves.
///
/// axum's own `serve` sets no timer, so hyper's header-read timeout never runs there and a
/// client that never finishes its headers holds a connection (and a task) forever.
pub async fn serve_connections(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    // At most 100 request headers (more is answered 431 and the connection closed): that is
    // hyper's default, so `max_headers` is not called. Setting any value moves hyper's header
    // arrays from the stack to the heap and initialises them on every request (about 5 % of a
    // `/healthz` request's instructions under callgrind).
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(MAX_HEAD_BYTES);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Usually out of file descriptors: wait instead of spinning.
                        tracing::warn!(error = %error, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = router.clone().map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(remote));
                    request.map(axum::body::Body::new)
                });
                let connection = builder.serve_connection(
                    TokioIo::new(stream),
                    hyper_util::service::TowerToHyperService::new(service),
                );
                let mut stopped = stopped.clone();
                connections.spawn(async move {
                    let mut connection = std::pin::pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => return,
                        _ = stopped.wait_for(|stop| *stop) => {}
                    }
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                });
            }
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let open = connections.len();
    tracing::info!(connections = open, "stopped accepting; draining connections");
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            timeout_ms = u64::try_from(limits.shutdown_timeout.as_millis()).unwrap_or(u64::MAX),
            "shutdown timeout reached; dropping the connections still busy"
        );
        connections.shutdown().await;
    }
}
