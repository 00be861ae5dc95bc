//! The accept loop every listener shares: a bound socket with optional TLS,
//! the handshake and header-read timeouts, HTTP/1.1 per connection, and
//! graceful shutdown. Listeners differ only in the service they build for
//! each connection ([`accept_loop`]'s `make_service`), which sees the
//! connection facts and, on a mutual-TLS listener, the client's chain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::listener::{Connection, ListenerConfig, ServeError};

/// How long in-flight requests may run on after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A bound listening socket, with TLS when configured.
pub(crate) struct Socket {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    config: ListenerConfig,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("local_addr", &self.tcp.local_addr().ok())
            .field("tls", &self.tls.is_some())
            .field("config", &self.config)
            .finish()
    }
}

impl Socket {
    /// Bind `addr`; with `tls` every connection must complete a TLS handshake.
    pub(crate) async fn bind(
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
    pub(crate) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Whether connections use TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The listener settings.
    pub(crate) fn config(&self) -> &ListenerConfig {
        &self.config
    }
}

/// Accept connections until `shutdown` resolves, serving each with the
/// service `make_service` builds from the connection facts and the peer's
/// certificate chain (TLS with client authentication only); then stop
/// accepting and let in-flight requests finish, bounded by a grace period.
/// `label` names the listener in logs.
pub(crate) async fn accept_loop<M, S, B>(
    socket: Socket,
    shutdown: impl Future<Output = ()>,
    label: &'static str,
    make_service: M,
) -> Result<(), ServeError>
where
    M: Fn(Connection, Option<&[CertificateDer<'static>]>) -> S + Send + Sync + 'static,
    S: HttpService<Incoming, ResBody = B> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let graceful = GracefulShutdown::new();
    let make_service = Arc::new(make_service);
    let handshake_timeout = socket.config.handshake_timeout;
    let header_read_timeout = socket.config.header_read_timeout;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = socket.tcp.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(%error, listener = label, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let make_service = Arc::clone(&make_service);
                let tls = socket.tls.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let mut builder = http1::Builder::new();
                    builder
                        .timer(TokioTimer::new())
                        .header_read_timeout(header_read_timeout);
                    match tls {
                        None => {
                            let service = make_service(Connection { peer, secure: false }, None);
                            serve_connection(&builder, stream, service, watcher, peer).await;
                        }
                        Some(acceptor) => {
                            let handshake =
                                tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await;
                            let stream = match handshake {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(error)) => {
                                    tracing::debug!(%error, %peer, listener = label, "tls handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, listener = label, "tls handshake timed out");
                                    return;
                                }
                            };
                            let service = make_service(
                                Connection { peer, secure: true },
                                stream.get_ref().1.peer_certificates(),
                            );
                            serve_connection(&builder, stream, service, watcher, peer).await;
                        }
                    }
                });
            }
        }
    }
    drop(socket.tcp);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            listener = label,
            "connections still open after the shutdown grace period; closing them"
        );
    }
    Ok(())
}

/// Serve HTTP/1.1 on one established connection until it closes.
async fn serve_connection<I, S, B>(
    builder: &http1::Builder,
    io: I,
    service: S,
    watcher: Watcher,
    peer: SocketAddr,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService<Incoming, ResBody = B> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = builder.serve_connection(TokioIo::new(io), service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%error, %peer, "connection ended with an error");
    }
}
