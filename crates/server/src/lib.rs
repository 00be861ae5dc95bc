//! Mayfly's network shell: listeners (plain HTTP and TLS), the request body
//! cap, `GET /healthz`, graceful shutdown, and the hand-off of every other
//! request to [`mayfly_core::Core`].
//!
//! Nothing here decides security; it moves bytes between sockets and the
//! core and keeps the connection-level facts (peer address, whether TLS was
//! used) that the request context needs.

mod accept;
mod api;
mod authorize;
mod iot_listener;
pub mod jwks;
mod listener;
mod s3_listener;
mod tls;

pub use api::{ApiFrontEnd, ConstantOk};
pub use iot_listener::{IotListener, IotListenerError, serve_iot};
pub use listener::{Connection, Listener, ListenerConfig, RequestHandler, ServeError, serve};
pub use s3_listener::{StreamingBody, StreamingHandler, StreamingListener, serve_streaming};
pub use tls::{TlsError, load_mutual_tls_config, load_tls_config};
