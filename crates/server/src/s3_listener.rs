//! The listener for front ends that stream request and response bodies
//! (the S3 gateway): the shared accept loop ([`crate::accept`]) as
//! [`crate::serve`] uses, but the handler gets the body as it arrives
//! (bounded memory for any object size) and answers with a streaming body.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::service::service_fn;

use crate::accept::{Socket, accept_loop};
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
    socket: Socket,
}

impl std::fmt::Debug for StreamingListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingListener")
            .field("socket", &self.socket)
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

/// Accept connections until `shutdown` resolves, then let in-flight
/// requests finish (bounded by a grace period).
pub async fn serve_streaming<H: StreamingHandler>(
    listener: StreamingListener,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    accept_loop(listener.socket, shutdown, "s3", move |connection, _| {
        let handler = Arc::clone(&handler);
        service_fn(move |request| respond(Arc::clone(&handler), request, connection))
    })
    .await
}

async fn respond<H: StreamingHandler>(
    handler: Arc<H>,
    request: Request<Incoming>,
    connection: Connection,
) -> Result<Response<StreamingBody>, std::convert::Infallible> {
    Ok(handler.handle(request, connection).await)
}
