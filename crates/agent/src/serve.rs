//! The endpoints SDKs read credentials from (workload-credentials.md 2, 3):
//! IMDSv2 (token `PUT` with TTL, role listing, credentials, the extended
//! path) and the container credentials endpoint (bearer token from a file,
//! compared in constant time). Bodies carry no trailing newline; times are
//! `YYYY-MM-DDTHH:MM:SSZ`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_lc_rs::rand::SecureRandom as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;
use tokio::net::TcpListener;

use crate::refresh::{Cached, CredentialCache};

/// Most IMDS session tokens kept at once (the earliest-expiring goes first).
const MAX_TOKENS: usize = 256;
/// Largest token TTL, seconds.
const MAX_TTL: u64 = 21_600;

/// What both endpoints serve.
#[derive(Debug)]
pub struct Served {
    /// The credentials.
    pub cache: Arc<CredentialCache>,
    /// The role ARN the credentials are for.
    pub role_arn: String,
}

impl Served {
    fn role_name(&self) -> &str {
        self.role_arn.rsplit('/').next().unwrap_or("")
    }

    fn account_id(&self) -> &str {
        self.role_arn.split(':').nth(4).unwrap_or("")
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

fn text(status: StatusCode, body: &str) -> Reply {
    reply(status, "text/plain", body.to_owned())
}

/// The credentials document: IMDS form (`Code`, `LastUpdated`, `Type`,
/// keys, `Expiration`) with `AccountId` when `extended`; container form
/// (`RoleArn`, keys, `Expiration`, `AccountId`) when `container`.
fn document(served: &Served, cached: &Cached, extended: bool, container: bool) -> String {
    let c = &cached.credentials;
    let mut map = Map::new();
    if container {
        map.insert("RoleArn".into(), served.role_arn.clone().into());
    } else {
        map.insert("Code".into(), "Success".into());
        map.insert(
            "LastUpdated".into(),
            mayfly_wire::iso8601(cached.fetched_at).into(),
        );
        map.insert("Type".into(), "AWS-HMAC".into());
    }
    map.insert("AccessKeyId".into(), c.access_key_id.clone().into());
    map.insert("SecretAccessKey".into(), c.secret_access_key.clone().into());
    map.insert("Token".into(), c.session_token.clone().into());
    map.insert(
        "Expiration".into(),
        mayfly_wire::iso8601(cached.expires_at).into(),
    );
    if extended || container {
        map.insert("AccountId".into(), served.account_id().to_owned().into());
    }
    Value::Object(map).to_string()
}

/// IMDSv2 session tokens.
#[derive(Debug, Default)]
struct Tokens {
    live: Mutex<HashMap<String, Instant>>,
}

impl Tokens {
    fn issue(&self, ttl: Duration) -> Option<String> {
        let mut bytes = [0u8; 48];
        aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes).ok()?;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut live = self.live.lock().ok()?;
        live.retain(|_, expiry| *expiry > now);
        if live.len() >= MAX_TOKENS
            && let Some(oldest) = live.iter().min_by_key(|(_, e)| **e).map(|(t, _)| t.clone())
        {
            live.remove(&oldest);
        }
        live.insert(token.clone(), now + ttl);
        Some(token)
    }

    /// Remaining seconds of `token`, if it is live.
    fn check(&self, token: &[u8]) -> Option<u64> {
        let now = Instant::now();
        let live = self.live.lock().ok()?;
        live.iter()
            .find(|(t, _)| bool::from(t.as_bytes().ct_eq(token)))
            .and_then(|(_, expiry)| expiry.checked_duration_since(now))
            .map(|d| d.as_secs())
    }
}

fn imds(served: &Served, tokens: &Tokens, request: &Request<Incoming>) -> Reply {
    let path = request.uri().path();
    let trimmed = path.trim_end_matches('/');
    if trimmed == "/latest/api/token" {
        if request.method() != Method::PUT {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        if request.headers().contains_key("x-forwarded-for") {
            return text(
                StatusCode::BAD_REQUEST,
                "forwarded token requests are refused",
            );
        }
        let ttl = request
            .headers()
            .get("x-aws-ec2-metadata-token-ttl-seconds")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|t| (1..=MAX_TTL).contains(t));
        let Some(ttl) = ttl else {
            return text(
                StatusCode::BAD_REQUEST,
                "x-aws-ec2-metadata-token-ttl-seconds must be 1-21600",
            );
        };
        let Some(token) = tokens.issue(Duration::from_secs(ttl)) else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "token unavailable");
        };
        let mut response = text(StatusCode::OK, &token);
        if let Ok(value) = http::HeaderValue::from_str(&ttl.to_string()) {
            response
                .headers_mut()
                .insert("x-aws-ec2-metadata-token-ttl-seconds", value);
        }
        return response;
    }
    if request.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let (extended, rest) = if let Some(rest) =
        trimmed.strip_prefix("/latest/meta-data/iam/security-credentials-extended")
    {
        (true, rest)
    } else if let Some(rest) = trimmed.strip_prefix("/latest/meta-data/iam/security-credentials") {
        (false, rest)
    } else {
        return text(StatusCode::NOT_FOUND, "not found");
    };
    let remaining = request
        .headers()
        .get("x-aws-ec2-metadata-token")
        .and_then(|t| tokens.check(t.as_bytes()));
    let Some(remaining) = remaining else {
        return text(
            StatusCode::UNAUTHORIZED,
            "a valid x-aws-ec2-metadata-token is required",
        );
    };
    let mut response = match rest {
        "" => text(StatusCode::OK, served.role_name()),
        other if other.strip_prefix('/') == Some(served.role_name()) => {
            match served.cache.get(SystemTime::now()) {
                Some(cached) => reply(
                    StatusCode::OK,
                    "text/plain",
                    document(served, &cached, extended, false),
                ),
                None => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "credentials are not available yet",
                ),
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    };
    if let Ok(value) = http::HeaderValue::from_str(&remaining.to_string()) {
        response
            .headers_mut()
            .insert("x-aws-ec2-metadata-token-ttl-seconds", value);
    }
    response
}

fn container(served: &Served, auth_token: &[u8], request: &Request<Incoming>) -> Reply {
    let error = |status, code: &str, message: &str| {
        let body = serde_json::json!({"Code": code, "Message": message}).to_string();
        reply(status, "application/json", body)
    };
    if request.method() != Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "use GET",
        );
    }
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if auth_token.is_empty() || !bool::from(presented.ct_eq(auth_token)) {
        return error(
            StatusCode::UNAUTHORIZED,
            "AccessDenied",
            "a valid Authorization token is required",
        );
    }
    match served.cache.get(SystemTime::now()) {
        Some(cached) => reply(
            StatusCode::OK,
            "application/json",
            document(served, &cached, false, true),
        ),
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "credentials are not available yet",
        ),
    }
}

/// Which endpoint a listener serves.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// IMDSv2.
    Imds,
    /// The container endpoint with its bearer token (the token file's
    /// content, a trailing newline removed).
    Container(Arc<Vec<u8>>),
}

/// Bind `addr` and serve `endpoint` in the background; returns the bound address.
pub async fn spawn(
    addr: SocketAddr,
    endpoint: Endpoint,
    served: Arc<Served>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let tokens = Arc::new(Tokens::default());
    let handle = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (served, tokens, endpoint) =
                (Arc::clone(&served), Arc::clone(&tokens), endpoint.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let response = match &endpoint {
                        Endpoint::Imds => imds(&served, &tokens, &request),
                        Endpoint::Container(token) => container(&served, token, &request),
                    };
                    async move { Ok::<_, Infallible>(response) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "agent connection ended with an error");
                }
            });
        }
    });
    Ok((local, handle))
}
