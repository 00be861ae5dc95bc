//! Upstream mode: each verified, authorized object request is forwarded to
//! another S3-compatible store, re-signed with the upstream credentials
//! (SigV4, `UNSIGNED-PAYLOAD`), with bodies streamed both ways.
//!
//! The client's body is decoded and checked as it streams (aws-chunked
//! chain, declared hashes, checksums); the last piece is held back until
//! every check passed, so a refused upload ends the upstream request short
//! of its `Content-Length` and the upstream store never commits it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mayfly_server::StreamingBody;
use mayfly_sigv4::{Credentials, RequestParts, SignableBody, SigningParams, UriEncoding};

use crate::body::BodyReader;
use crate::error::S3Error;

/// Where and as whom to forward.
#[derive(Clone)]
pub struct UpstreamConfig {
    /// The upstream endpoint, e.g. `https://s3.example.net` (path-style).
    pub endpoint: Uri,
    /// The upstream access key id.
    pub access_key_id: String,
    /// The upstream secret access key.
    pub secret_access_key: String,
    /// The region to sign for.
    pub region: String,
}

impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("region", &self.region)
            .finish()
    }
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// What to send as the upstream request's body.
#[derive(Debug)]
pub enum ForwardBody<B> {
    /// No body.
    None,
    /// A small document already read and checked.
    Bytes(Bytes),
    /// The client's body, checked as it streams; `u64` is its decoded length.
    Stream(Box<BodyReader<B>>, u64),
}

/// The upstream client.
pub struct Upstream {
    config: UpstreamConfig,
    client: Client<Connector, UpstreamBody>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Request headers passed on to the upstream store (entity headers,
/// conditionals, range, user metadata, checksums, copy and multipart ones).
fn forwarded(name: &str) -> bool {
    matches!(
        name,
        "content-type"
            | "content-md5"
            | "content-disposition"
            | "content-language"
            | "cache-control"
            | "expires"
            | "range"
            | "if-match"
            | "if-none-match"
            | "if-modified-since"
            | "if-unmodified-since"
            | "x-amz-copy-source"
            | "x-amz-copy-source-range"
            | "x-amz-metadata-directive"
            | "x-amz-checksum-mode"
    ) || name.starts_with("x-amz-meta-")
        || name.starts_with("x-amz-copy-source-if-")
        || (name.starts_with("x-amz-checksum-") && name != "x-amz-checksum-mode")
}

/// Response headers passed back to the client.
fn returned(name: &str) -> bool {
    !matches!(
        name,
        "connection" | "keep-alive" | "transfer-encoding" | "server" | "date" | "x-amz-request-id"
    )
}

impl Upstream {
    /// A client for `config` (system roots for https).
    pub fn new(config: UpstreamConfig) -> Result<Self, S3Error> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|_| S3Error::internal())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self { config, client })
    }

    /// Forward one request: `path` is the path-style path (`/bucket/key`,
    /// already percent-encoded as S3 canonical form), `query` the raw query
    /// without the client's `X-Amz-*` authentication parameters.
    pub async fn forward<B>(
        &self,
        method: &Method,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: ForwardBody<B>,
    ) -> Result<Response<StreamingBody>, S3Error>
    where
        B: Body<Data = Bytes> + Send + Unpin,
        B::Error: std::fmt::Display,
    {
        let authority = self
            .config
            .endpoint
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(S3Error::internal)?;
        let base = self.config.endpoint.path().trim_end_matches('/');
        let full_path = format!("{base}{path}");
        let mut list: Vec<(String, String)> = vec![("host".to_owned(), authority)];
        for (name, value) in headers {
            if forwarded(name.as_str())
                && let Ok(value) = value.to_str()
            {
                list.push((name.as_str().to_owned(), value.to_owned()));
            }
        }
        // An empty upload is checked in full before anything is sent.
        let body = match body {
            ForwardBody::Stream(reader, 0) => {
                reader.read_all().await?;
                ForwardBody::Bytes(Bytes::new())
            }
            other => other,
        };
        match &body {
            ForwardBody::None => {}
            ForwardBody::Bytes(bytes) => {
                list.push(("content-length".to_owned(), bytes.len().to_string()));
            }
            ForwardBody::Stream(_, len) => {
                list.push(("content-length".to_owned(), len.to_string()));
            }
        }
        let refs: Vec<(&str, &[u8])> = list
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes()))
            .collect();
        let signature = mayfly_sigv4::sign_headers(
            &RequestParts {
                method: method.as_str(),
                path: &full_path,
                query,
                headers: &refs,
            },
            &SigningParams {
                credentials: Credentials {
                    access_key_id: &self.config.access_key_id,
                    secret_access_key: &self.config.secret_access_key,
                    session_token: None,
                },
                region: &self.config.region,
                service: "s3",
                time: std::time::SystemTime::now(),
                encoding: UriEncoding::Single,
                body: SignableBody::Unsigned,
                content_sha256_header: true,
            },
        )
        .map_err(|error| {
            tracing::error!(%error, "signing the upstream request failed");
            S3Error::internal()
        })?;
        let scheme = self.config.endpoint.scheme_str().unwrap_or("http");
        let uri = if query.is_empty() {
            format!("{scheme}://{}{full_path}", list[0].1)
        } else {
            format!("{scheme}://{}{full_path}?{query}", list[0].1)
        };
        let mut builder = Request::builder().method(method.clone()).uri(uri);
        for (name, value) in list.iter().skip(1) {
            builder = builder.header(name, value);
        }
        for (name, value) in &signature.headers {
            builder = builder.header(*name, value);
        }
        let (request_body, pump) = match body {
            ForwardBody::Stream(reader, len) => {
                let (tx, rx) = tokio::sync::mpsc::channel(4);
                (UpstreamBody::Channel { rx, len }, Some(pump(*reader, tx)))
            }
            ForwardBody::Bytes(bytes) => (UpstreamBody::Full(Some(bytes)), None),
            ForwardBody::None => (UpstreamBody::Empty, None),
        };
        let request = builder
            .body(request_body)
            .map_err(|_| S3Error::internal())?;
        let send = self.client.request(request);
        let (response, pumped) = match pump {
            Some(pump) => {
                let (response, pumped) = tokio::join!(send, pump);
                (response, Some(pumped))
            }
            None => (send.await, None),
        };
        // A refused body wins over whatever the upstream answered to the cut-off request.
        if let Some(Err(error)) = pumped {
            return Err(error);
        }
        let response = response.map_err(|error| {
            tracing::warn!(%error, "the upstream store did not answer");
            S3Error::new(
                "ServiceUnavailable",
                503,
                "The upstream store is unavailable.",
            )
        })?;
        let (parts, incoming) = response.into_parts();
        let mut out = Response::new(
            incoming
                .map_err(|e| std::io::Error::other(e.to_string()))
                .boxed(),
        );
        *out.status_mut() = parts.status;
        for (name, value) in &parts.headers {
            if returned(name.as_str()) {
                out.headers_mut().append(name.clone(), value.clone());
            }
        }
        if parts.status == StatusCode::OK && method == Method::PUT {
            out.headers_mut()
                .entry(http::header::CONTENT_LENGTH)
                .or_insert(HeaderValue::from_static("0"));
        }
        Ok(out)
    }
}

/// Read the client's body and pass it on, holding the last piece back
/// until every check of [`BodyReader::finish`] passed.
async fn pump<B>(
    mut reader: BodyReader<B>,
    tx: tokio::sync::mpsc::Sender<Bytes>,
) -> Result<(), S3Error>
where
    B: Body<Data = Bytes> + Send + Unpin,
    B::Error: std::fmt::Display,
{
    let mut held: Option<Bytes> = None;
    while let Some(piece) = reader.next().await? {
        if let Some(previous) = held.replace(piece)
            && tx.send(previous).await.is_err()
        {
            return Ok(()); // the upstream hung up; its answer says why
        }
    }
    reader.finish()?;
    if let Some(last) = held {
        let _ = tx.send(last).await;
    }
    Ok(())
}

/// The body of an upstream request.
#[derive(Debug)]
pub enum UpstreamBody {
    /// No body.
    Empty,
    /// One piece.
    Full(Option<Bytes>),
    /// Pieces from the pump; `len` bytes in all.
    Channel {
        /// The pump's receiving end.
        rx: tokio::sync::mpsc::Receiver<Bytes>,
        /// The declared length.
        len: u64,
    },
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            Self::Empty => Poll::Ready(None),
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Channel { rx, len } => match rx.poll_recv(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Some(bytes)) => {
                    *len = len.saturating_sub(bytes.len() as u64);
                    Poll::Ready(Some(Ok(Frame::data(bytes))))
                }
                Poll::Ready(None) if *len == 0 => Poll::Ready(None),
                // The pump stopped early: refused or broken body. Fail the
                // request so the upstream store commits nothing.
                Poll::Ready(None) => {
                    Poll::Ready(Some(Err(std::io::Error::other("client body refused"))))
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Full(bytes) => bytes.is_none(),
            Self::Channel { len, .. } => *len == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Channel { len, .. } => SizeHint::with_exact(*len),
        }
    }
}
