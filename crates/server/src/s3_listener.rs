//! The accept loop for front ends that stream request and response bodies
//! (the S3 gateway): the same TLS, handshake timeout, header timeout and
//! graceful shutdown as [`crate::serve`], but the handler gets the body as
//! it arrives (bounded memory for any object size) and answers with a
//! streaming body.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::listener::{Connection, ListenerConfig, ServeError};

/// A streaming response body.
pub type StreamingBody = BoxBody<Bytes, std::io::Error>;

/// What a streaming listener serves.
pub trait StreamingHandler: Send + Sync + 'static {
    /// Answer one request; its body is read by the handler as it arrives.
    fn handle(
        &self,
        request: Request<Incoming>,
        connection: Connection,
    ) -> impl Future<Output = Response<StreamingBody>> + Send;
}

/// A bound socket for a streaming front end, with TLS when configured.
pub struct StreamingListener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    config: ListenerConfig,
}

impl std::fmt::Debug for StreamingListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingListener")
            .field("local_addr", &self.tcp.local_addr().ok())
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl StreamingListener {
    /// Bind `addr`; with `tls` every connection must complete a TLS handshake.
    /// `config.max_body_bytes` is not used: the handler bounds what it reads.
    pub async fn bind(
        addr: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
        config: ListenerConfig,
    ) -> Result<Self, ServeError> {
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Self {
            tcp,
            tls: tls.map(TlsAcceptor::from),
            config,
        })
    }

    /// The address actually bound (resolves port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Whether connections use TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// Accept connections until `shutdown` resolves, then let in-flight
/// requests finish (bounded by a grace period).
pub async fn serve_streaming<H: StreamingHandler>(
    listener: StreamingListener,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let graceful = GracefulShutdown::new();
    let config = listener.config;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.tcp.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let handler = Arc::clone(&handler);
                let tls = listener.tls.clone();
                let watcher = graceful.watcher();
                let config = config.clone();
                tokio::spawn(async move {
                    let mut builder = http1::Builder::new();
                    builder
                        .timer(TokioTimer::new())
                        .header_read_timeout(config.header_read_timeout);
                    match tls {
                        None => {
                            let connection = Connection { peer, secure: false };
                            let service = service_fn(move |request| {
                                respond(Arc::clone(&handler), request, connection)
                            });
                            let conn = builder.serve_connection(TokioIo::new(stream), service);
                            if let Err(error) = watcher.watch(conn).await {
                                tracing::debug!(%error, %peer, "connection ended with an error");
                            }
                        }
                        Some(acceptor) => {
                            let handshake = tokio::time::timeout(
                                config.handshake_timeout,
                                acceptor.accept(stream),
                            )
                            .await;
                            let stream = match handshake {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(error)) => {
                                    tracing::debug!(%error, %peer, "tls handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "tls handshake timed out");
                                    return;
                                }
                            };
                            let connection = Connection { peer, secure: true };
                            let service = service_fn(move |request| {
                                respond(Arc::clone(&handler), request, connection)
                            });
                            let conn = builder.serve_connection(TokioIo::new(stream), service);
                            if let Err(error) = watcher.watch(conn).await {
                                tracing::debug!(%error, %peer, "connection ended with an error");
                            }
                        }
                    }
                });
            }
        }
    }
    drop(listener.tcp);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("s3 connections still open after the shutdown grace period; closing them");
    }
    Ok(())
}

async fn respond<H: StreamingHandler>(
    handler: Arc<H>,
    request: Request<Incoming>,
    connection: Connection,
) -> Result<Response<StreamingBody>, std::convert::Infallible> {
    Ok(handler.handle(request, connection).await)
}
