//! The buffered listener (the API): plain HTTP/1.1 or TLS on the shared
//! accept loop ([`crate::accept`]), with the request body cap.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;

use crate::accept::{Socket, accept_loop};

/// Facts about the connection a request arrived on.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    /// The peer's address (`aws:SourceIp`).
    pub peer: SocketAddr,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure: bool,
}

/// What a listener serves. Implemented by the API front end and by the
/// constant-200 server used as the benchmark baseline.
pub trait RequestHandler: Send + Sync + 'static {
    /// Answer one request whose body has been read in full (and is within the cap).
    fn handle(
        &self,
        request: Request<Bytes>,
        connection: Connection,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send;

    /// Answer a request whose body exceeds the cap; the body is not read.
    fn body_too_large(&self, limit: usize) -> Response<Full<Bytes>>;

    /// Answer a request whose body could not be read (malformed chunking).
    fn unreadable_body(&self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = http::StatusCode::BAD_REQUEST;
        response
    }
}

/// Listener settings.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Largest request body accepted, in bytes; larger ones are refused
    /// before they are buffered.
    pub max_body_bytes: usize,
    /// How long a client may take to complete the TLS handshake.
    pub handshake_timeout: Duration,
    /// How long a client may take to send the request head.
    pub header_read_timeout: Duration,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
        }
    }
}

/// A bound listening socket, with TLS when configured.
pub struct Listener {
    socket: Socket,
}

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("socket", &self.socket)
            .finish()
    }
}

impl Listener {
    /// Bind `addr`; with `tls` every connection must complete a TLS handshake.
    pub async fn bind(
        addr: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
        config: ListenerConfig,
    ) -> Result<Self, ServeError> {
        Ok(Self {
            socket: Socket::bind(addr, tls, config).await?,
        })
    }

    /// The address actually bound (resolves port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Whether connections use TLS.
    pub fn is_tls(&self) -> bool {
        self.socket.is_tls()
    }
}

/// Accept connections until `shutdown` resolves, then stop accepting and
/// let in-flight requests finish (bounded by a grace period).
pub async fn serve<H: RequestHandler>(
    listener: Listener,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let max_body_bytes = listener.socket.config().max_body_bytes;
    accept_loop(listener.socket, shutdown, "api", move |connection, _| {
        let handler = Arc::clone(&handler);
        service_fn(move |request| {
            respond(Arc::clone(&handler), max_body_bytes, request, connection)
        })
    })
    .await
}

async fn respond<H: RequestHandler>(
    handler: Arc<H>,
    limit: usize,
    request: Request<Incoming>,
    connection: Connection,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let declared = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Ok(handler.body_too_large(limit));
    }
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            if error.downcast_ref::<LengthLimitError>().is_some() {
                return Ok(handler.body_too_large(limit));
            }
            tracing::debug!(%error, "reading request body failed");
            return Ok(handler.unreadable_body());
        }
    };
    Ok(handler
        .handle(Request::from_parts(parts, body), connection)
        .await)
}
