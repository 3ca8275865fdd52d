//! Client connections: accepted while fewer than `MAX_CONNECTIONS` are open (an upgraded
//! WebSocket counts until it closes), closed when a client takes longer than
//! `HEADER_READ_TIMEOUT` to send a request's headers or stays idle that long, and drained on
//! shutdown.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo, http::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
};
use tower::ServiceExt;

/// How connections are served.
pub struct Connections {
    pub max_open: usize,
    pub header_read_timeout: Duration,
}

/// Serves `router` on `listener` until `stop` completes; then stops accepting, asks open
/// connections to close once their request is answered, and returns once every one has.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    connections: Connections,
    stop: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(connections.max_open.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(connections.header_read_timeout);
    let (stopping, stop_seen) = watch::channel(false);
    let accepting = async {
        loop {
            let Ok(place) = open.clone().acquire_owned().await else {
                return;
            };
            let (stream, remote) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::warn!(error = %err, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let io = TokioIo::new(Counted {
                stream,
                _place: place,
            });
            let service = router
                .clone()
                .map_request(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(remote));
                    request.map(Body::new)
                });
            let connection = http
                .serve_connection(io, TowerToHyperService::new(service))
                .with_upgrades();
            let mut stop_seen = stop_seen.clone();
            tokio::spawn(async move {
                let mut connection = std::pin::pin!(connection);
                tokio::select! {
                    result = connection.as_mut() => log_end(result),
                    () = stopped(&mut stop_seen) => {
                        connection.as_mut().graceful_shutdown();
                        log_end(connection.await);
                    }
                }
                drop(stop_seen);
            });
        }
    };
    tokio::select! {
        () = accepting => {}
        () = stop => {}
    }
    drop(listener);
    let _ = stopping.send(true);
    drop(stop_seen);
    // Every connection task holds a receiver until its connection closed.
    stopping.closed().await;
}

/// Completes once the server stops.
async fn stopped(stop_seen: &mut watch::Receiver<bool>) {
    let _ = stop_seen.wait_for(|stopping| *stopping).await;
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(err) = result {
        tracing::debug!(error = %err, "a connection ended with an error");
    }
}

/// A client connection holding its place among the open ones until it is dropped, after an
/// upgrade too.
struct Counted {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
