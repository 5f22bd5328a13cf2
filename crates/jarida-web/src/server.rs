//! The HTTP/1.1 listener: accepts connections, bounds how many are open at once, closes those that
//! do not send a request's headers in time, and shuts down gracefully.
//!
//! `axum::serve` has no timer, so a client trickling header bytes (slowloris) or sitting idle held its
//! connection for ever; it also has no connection cap. hyper's own HTTP/1 connection has both a
//! header-read timeout (running from the moment the connection waits for a request, idle keep-alive
//! included) and graceful shutdown, so this is axum's accept loop with those switched on.
//!
//! Each connection starts on the fast path (`crate::fast`), which answers cache hits itself with the
//! same timeouts, and moves to hyper at its first request that is not one.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;

use crate::AppRef;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service;

/// Bounds on what a client can hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A connection that has not sent a whole request head within this time is closed, whether it
    /// trickles bytes or sends none (an idle keep-alive connection too).
    pub header_timeout: Duration,
    /// A request whose handler (body included) has not answered within this time gets a 408.
    pub request_timeout: Duration,
    /// Connections open at once; past it new ones wait in the listen queue until one closes.
    pub max_connections: usize,
    /// A connection whose reads or writes make no progress for this long is closed (a client that
    /// never reads its answer, or stops sending a body).
    pub stall_timeout: Duration,
    /// How long a graceful stop waits for requests in flight.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            stall_timeout: Duration::from_secs(30),
            drain: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and gives the
/// open connections up to `limits.drain` to finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: AppRef,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // Tells connections on the fast path to end between requests; `open` counts every connection
    // task, so the drain below waits for those too.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let open = Arc::new(crate::Tracker::default());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        // A slot first: at the cap, connections wait in the kernel's queue instead of being taken
        // and dropped, and the header timeout frees slots held by clients that send nothing.
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // A client that stops reading (or sending a body) for this long loses its connection: a
        // thousand of them must not hold every slot by never taking their answers.
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.stall_timeout));
        stream.set_read_timeout(Some(limits.stall_timeout));
        let stream = Box::pin(stream);
        let router = router.clone();
        let (app, http, watcher, stopping) = (
            app.clone(),
            http.clone(),
            graceful.watcher(),
            stopping.clone(),
        );
        open.spawn(async move {
            let _slot = slot;
            let stream =
                match crate::fast::serve(stream, &app, limits.header_timeout, stopping).await {
                    Ok(crate::fast::End::Handoff(s)) => s,
                    Ok(crate::fast::End::Closed) => return,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                        return;
                    }
                };
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                let mut router = router.clone();
                async move { router.call(req).await }
            });
            let conn = watcher.watch(http.serve_connection(TokioIo::new(stream), service));
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = async {
        graceful.shutdown().await;
        open.idle().await;
    };
    if tokio::time::timeout(limits.drain, drained).await.is_err() {
        tracing::warn!("stopped with requests still in flight");
    }
    Ok(())
}
