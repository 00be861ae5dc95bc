//! The IoT credentials listener (workload-credentials.md 7.1): HTTPS that
//! requires a client certificate, serving
//! `GET /role-aliases/{alias}/credentials` through
//! [`mayfly_core::Core::iot_credentials`].
//!
//! The handshake is refused unless the client's chain validates to an
//! enabled Roles Anywhere trust anchor of some account ([`IotClientVerifier`],
//! our own rustls `ClientCertVerifier` over the same X.509 validation as
//! CreateSession: chains, validity, key usage, the anchor's CRLs). Why not
//! rustls's `WebPkiClientVerifier`: its roots and CRLs are fixed when it is
//! built, while anchors and CRLs change at run time (a new or disabled
//! anchor takes effect within a second, without a restart), its CRLs would
//! apply to every root rather than to the anchor that imported them, and
//! the request must learn which accounts' anchors trust the chain. The
//! handshake uses the newest trust the core holds (changes made through
//! this node at once). Changes made elsewhere reach it through the core's
//! own refresh: each view the core installs wakes the listener, which has
//! the core load the trust for it ([`Core::view_changes`]), so a change
//! is seen within the refresh interval plus one load (under a second, as
//! DESIGN.md asks), with no timer of the listener's own. Each request
//! validates the chain again against the trust of its view, so a
//! keep-alive connection loses its standing as soon as its anchor does.
//! A device presenting the same chain again is answered from the core's
//! chain cache at both places.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use mayfly_core::Core;
use mayfly_core::iot::{IotCredentialsRequest, error_body};
use mayfly_federation::x509::X509Error;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::accept::{Socket, accept_loop};
use crate::listener::{Connection, ListenerConfig, ServeError};
use crate::tls::{TlsError, load_mutual_tls_config, provider};

/// How long the listener waits before loading the trust again when a load
/// after a view change failed (the store is unreachable, say).
const TRUST_RETRY: Duration = Duration::from_millis(250);

/// Why the IoT listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum IotListenerError {
    /// `--iot-tls-cert`/`--iot-tls-key` could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The address could not be bound.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The trust anchors could not be loaded from the store.
    #[error("loading the trust anchors for the iot listener failed: {0}")]
    Trust(String),
}

/// Accepts a client certificate only if its chain validates to an enabled
/// trust anchor (see the module documentation).
#[derive(Debug)]
struct IotClientVerifier {
    /// Where the trust and the time (as CreateSession's) come from.
    core: Arc<Core>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for IotClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // The anchors change at run time; clients send their one
        // certificate whatever the hints say.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let mut chain: Vec<&[u8]> = Vec::with_capacity(1 + intermediates.len());
        chain.push(end_entity.as_ref());
        chain.extend(intermediates.iter().map(|c| c.as_ref()));
        let verified = match self.core.iot_trust_loaded() {
            Some(trust) => trust.verify(&chain, self.core.clock().now()),
            None => Err(X509Error::Untrusted(
                "the trust anchors are not loaded".to_owned(),
            )),
        };
        match verified {
            Ok(_) => Ok(ClientCertVerified::assertion()),
            Err(error) => {
                tracing::debug!(%error, "iot client certificate refused at the handshake");
                Err(rustls::Error::InvalidCertificate(certificate_error(&error)))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The TLS alert a refusal is sent as: `certificate_revoked`,
/// `certificate_expired`, `unsupported_certificate`, `bad_certificate` or
/// `unknown_ca`.
fn certificate_error(error: &X509Error) -> CertificateError {
    match error {
        X509Error::Revoked => CertificateError::Revoked,
        X509Error::Expired => CertificateError::Expired,
        X509Error::KeyUsage(_) => CertificateError::InvalidPurpose,
        X509Error::Malformed(_) | X509Error::MalformedInput(_) | X509Error::UnsupportedKey => {
            CertificateError::BadEncoding
        }
        X509Error::Untrusted(_) => CertificateError::UnknownIssuer,
    }
}

/// The bound IoT listener.
pub struct IotListener {
    socket: Socket,
    core: Arc<Core>,
    /// Subscribed before the first load, so no view installed after it is missed.
    views: tokio::sync::watch::Receiver<u64>,
}

impl std::fmt::Debug for IotListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IotListener")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl IotListener {
    /// Load the current trust, the server's certificate and key (PEM), and
    /// bind `addr`.
    pub async fn bind(
        addr: SocketAddr,
        cert: &Path,
        key: &Path,
        core: Arc<Core>,
        config: ListenerConfig,
    ) -> Result<Self, IotListenerError> {
        let views = core.view_changes();
        core.iot_trust()
            .await
            .map_err(|error| IotListenerError::Trust(error.message))?;
        let verifier: Arc<dyn ClientCertVerifier> = Arc::new(IotClientVerifier {
            core: Arc::clone(&core),
            algorithms: provider().signature_verification_algorithms,
        });
        let tls = load_mutual_tls_config(cert, key, verifier)?;
        Ok(Self {
            socket: Socket::bind(addr, Some(tls), config).await?,
            core,
            views,
        })
    }

    /// The address actually bound (resolves port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

/// Serve the IoT listener until `shutdown` resolves, keeping its trust as
/// new as the core's view meanwhile.
pub async fn serve_iot(
    listener: IotListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let follower = tokio::spawn(follow_views(Arc::clone(&listener.core), listener.views));
    let core = listener.core;
    let served = accept_loop(
        listener.socket,
        shutdown,
        "iot",
        move |connection, certificates| {
            let core = Arc::clone(&core);
            // Owned once per connection; every request on it re-validates.
            let chain: Arc<[CertificateDer<'static>]> = certificates.unwrap_or_default().into();
            service_fn(move |request| {
                respond(Arc::clone(&core), Arc::clone(&chain), connection, request)
            })
        },
    )
    .await;
    follower.abort();
    served
}

/// Have the core load the trust for each view it installs, so that the
/// handshake (which cannot wait for the store) finds it loaded; a failed
/// load is retried every [`TRUST_RETRY`] until one succeeds.
async fn follow_views(core: Arc<Core>, mut views: tokio::sync::watch::Receiver<u64>) {
    // Ends only if the core is dropped, which this task's `core` prevents.
    while views.changed().await.is_ok() {
        while let Err(error) = core.iot_trust().await {
            tracing::warn!(message = %error.message, "loading the iot trust anchors failed");
            tokio::time::sleep(TRUST_RETRY).await;
        }
    }
}

/// Route one request: the credentials path with GET, else 405 or 404.
async fn respond(
    core: Arc<Core>,
    chain: Arc<[CertificateDer<'static>]>,
    connection: Connection,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(encoded_alias) = request
        .uri()
        .path()
        .strip_prefix("/role-aliases/")
        .and_then(|rest| rest.strip_suffix("/credentials"))
        .filter(|alias| !alias.is_empty() && !alias.contains('/'))
    else {
        return Ok(json(StatusCode::NOT_FOUND, error_body("Not Found"), None));
    };
    if request.method() != Method::GET {
        let mut response = json(
            StatusCode::METHOD_NOT_ALLOWED,
            error_body("Only GET is supported on this resource"),
            None,
        );
        response
            .headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET"));
        return Ok(response);
    }
    let Ok(role_alias) = percent_encoding::percent_decode_str(encoded_alias).decode_utf8() else {
        return Ok(json(
            StatusCode::BAD_REQUEST,
            error_body("The role alias is not valid UTF-8"),
            None,
        ));
    };
    let headers = request.headers();
    let certificate_chain: Vec<&[u8]> = chain.iter().map(|c| c.as_ref()).collect();
    let answer = core
        .iot_credentials(IotCredentialsRequest {
            role_alias: &role_alias,
            thing_name: headers
                .get("x-amzn-iot-thingname")
                .map(HeaderValue::as_bytes),
            certificate_chain: &certificate_chain,
            source_ip: connection.peer.ip(),
            user_agent: headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        })
        .await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok(json(status, answer.body, Some(&answer.request_id)))
}

fn json(status: StatusCode, body: String, request_id: Option<&str>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(Ok(id)) = request_id.map(HeaderValue::from_str) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

#[cfg(test)]
mod tests {
    use mayfly_core::CoreConfig;
    use mayfly_core::audit::MemoryAuditSink;
    use mayfly_core::clock::FixedClock;
    use mayfly_store::{Account, Mutation, SqliteStore, Store};
    use mayfly_token::MasterKey;

    use super::*;

    const NOW: u64 = 1_893_456_000;

    #[tokio::test]
    async fn the_trust_follows_each_view_the_core_refresh_installs() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
        let master = MasterKey::from_encoded(&"42".repeat(32)).unwrap();
        mayfly_core::admin::initialize(store.as_ref(), &master, NOW, "000000000000", None)
            .await
            .unwrap();
        let core = Arc::new(
            Core::new(
                Arc::clone(&store),
                master,
                Arc::new(FixedClock(mayfly_core::clock::from_unix(NOW))),
                Arc::new(MemoryAuditSink::default()),
                CoreConfig::default(),
            )
            .await
            .unwrap(),
        );
        // As `IotListener::bind`: subscribe, then load.
        let views = core.view_changes();
        let first = core.iot_trust().await.unwrap().generation();
        let follower = tokio::spawn(follow_views(Arc::clone(&core), views));

        // A write behind this node's back (another node, an admin command),
        // then the core's own refresh, as its refresher runs it: the trust
        // the handshake reads follows with no timer of the listener's.
        for id in ["111122223333", "444455556666"] {
            store
                .apply(vec![
                    Mutation::insert(&Account {
                        id: id.to_owned(),
                        created_at: NOW,
                        alias: None,
                    })
                    .unwrap(),
                ])
                .await
                .unwrap();
            core.refresh().await.unwrap();
            let installed = store.generation().await.unwrap();
            assert!(installed > first);
            tokio::time::timeout(Duration::from_secs(1), async {
                while core.iot_trust_loaded().map(|trust| trust.generation()) != Some(installed) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await
            .unwrap();
        }
        follower.abort();
    }
}
