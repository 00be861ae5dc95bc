//! `POST /authorize`: an authorizer for other services. It takes a request
//! a client signed for some other service (method, URL, headers, payload
//! hash) with the action and resource that request means, verifies the
//! SigV4 signature against Mayfly's keys and sessions, evaluates the
//! caller's policies, and answers allow or deny with the principal.
//!
//! Two ways in:
//! - **JSON** (`POST /authorize`, `Content-Type: application/json`):
//!   `{"method", "url", "headers", "payloadHash"?, "action", "resource",
//!   "encoding"?}`; the answer is JSON.
//! - **nginx `auth_request`**: a subrequest whose headers are the original
//!   request's, plus `X-Original-Method`, `X-Original-URI`, `X-Mayfly-Action`
//!   and `X-Mayfly-Resource` set in the nginx configuration; the answer is
//!   the status (200 allow, 401 not authenticated, 403 denied) and the
//!   principal in `X-Mayfly-Principal-Arn`. nginx does not pass the body, so
//!   the client must sign `x-amz-content-sha256` and the upstream must hold
//!   the body to it.
//!
//! The signing scope's service must be the action's service prefix. A
//! resource ARN naming another account is denied unless that account's
//! policies could grant it, which an authorizer without resource policies
//! cannot see: cross-account requests are denied (policy-evaluation.md 8.4).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use mayfly_core::{Core, GatewayAudit, GatewayRequest, Principal, ResourcePolicy};
use mayfly_sigv4::{Payload, UriEncoding};
use serde::Deserialize;

use crate::listener::Connection;

/// The JSON form of a request to authorize.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsonRequest {
    method: String,
    /// `/path?query` or an absolute `http(s)://host/path?query` URL.
    url: String,
    /// Header names and values as sent (the signed ones at least).
    headers: Vec<(String, String)>,
    /// Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`; absent: the signed
    /// `x-amz-content-sha256` header must carry it.
    payload_hash: Option<String>,
    action: String,
    resource: String,
    /// `double` (most services, the default) or `single` (S3) URI encoding.
    encoding: Option<String>,
}

/// One request to authorize, from either form.
struct Question {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    payload: Answerable,
    action: String,
    resource: String,
    encoding: UriEncoding,
}

enum Answerable {
    Sha256([u8; 32]),
    Unsigned,
    Declared,
}

/// Why a request is refused, with the HTTP status.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// Answer `POST /authorize` (JSON) or an nginx `auth_request` subrequest.
pub(crate) fn handle(
    core: &Core,
    parts: &http::request::Parts,
    body: &[u8],
    connection: Connection,
) -> Response<Full<Bytes>> {
    let time = core.gateway_now();
    let request_id = core.request_id();
    let nginx = parts.headers.contains_key("x-original-uri");
    let question = if nginx {
        from_nginx(parts)
    } else if parts.method == http::Method::POST {
        from_json(body)
    } else {
        Err(bad_request(
            "POST a JSON document, or use the nginx auth_request headers",
        ))
    };
    let mut principal = None;
    let mut parameters = Vec::new();
    let outcome = question.and_then(|question| {
        // The checked action and resource and the request line without its
        // query (which may carry a presigned signature or session token).
        parameters = vec![
            ("action".to_owned(), question.action.clone()),
            ("resource".to_owned(), question.resource.clone()),
            ("method".to_owned(), question.method.clone()),
            ("path".to_owned(), question.path.clone()),
        ];
        decide(core, &question, connection, &mut principal)
    });
    core.audit_gateway(GatewayAudit {
        time,
        request_id: &request_id,
        service: "authorize",
        action: "Authorize",
        principal: principal.as_ref(),
        source_ip: connection.peer.ip(),
        parameters,
        error_code: outcome.as_ref().err().map(|refusal| refusal.code),
    });
    let mut response = if nginx {
        nginx_answer(outcome)
    } else {
        json_answer(outcome)
    };
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

/// The principal an allowed request was made by.
struct Allowed {
    arn: String,
    account_id: String,
    access_key_id: String,
}

/// Verify and evaluate `q`; `authenticated` receives the caller once the
/// signature verified, for the audit event.
fn decide(
    core: &Core,
    q: &Question,
    connection: Connection,
    authenticated: &mut Option<Principal>,
) -> Result<Allowed, Refusal> {
    let Some((service, _)) = q.action.split_once(':') else {
        return Err(bad_request("`action` must be `service:Action`"));
    };
    let headers: Vec<(&str, &[u8])> = q
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_slice()))
        .collect();
    let request = GatewayRequest {
        method: &q.method,
        path: &q.path,
        query: &q.query,
        headers: &headers,
        source_ip: connection.peer.ip(),
        secure_transport: connection.secure,
    };
    let payload = match q.payload {
        Answerable::Sha256(digest) => Payload::Sha256(digest),
        Answerable::Unsigned => Payload::Unsigned,
        Answerable::Declared => Payload::Deferred,
    };
    let verified = core
        .authenticate_sigv4(&request, service, payload, q.encoding)
        .map_err(|error| {
            tracing::debug!(%error, action = %q.action, "authorize: not authenticated");
            // A stale view (503) is the server's failure, not the
            // caller's; the status says so.
            let status = StatusCode::from_u16(error.s3_http_status())
                .ok()
                .filter(|status| status.is_server_error())
                .unwrap_or(StatusCode::UNAUTHORIZED);
            Refusal {
                status,
                code: error.s3_code(),
                message: error.to_string(),
            }
        })?;
    let principal = verified.principal;
    let caller_account = principal.account_id().unwrap_or_default().to_owned();
    let owner = resource_account(&q.resource)
        .unwrap_or(&caller_account)
        .to_owned();
    let decision = core.authorize_gateway(
        &request,
        &principal,
        &q.action,
        &q.resource,
        ResourcePolicy {
            policy: None,
            owner_account: &owner,
        },
        &[],
    );
    let arn = principal.arn().to_owned();
    let access_key_id = principal.access_key_id().unwrap_or_default().to_owned();
    *authenticated = Some(principal);
    if !decision.is_allowed() {
        return Err(Refusal {
            status: StatusCode::FORBIDDEN,
            code: "AccessDenied",
            message: format!(
                "User: {} is not authorized to perform: {} on resource: {} because {}",
                arn,
                q.action,
                q.resource,
                decision.reason_phrase()
            ),
        });
    }
    Ok(Allowed {
        arn,
        account_id: caller_account,
        access_key_id,
    })
}

/// The account field of an ARN (`arn:partition:service:region:account:…`),
/// when it has one.
fn resource_account(arn: &str) -> Option<&str> {
    let mut fields = arn.splitn(6, ':');
    (fields.next() == Some("arn")).then_some(())?;
    fields.nth(3).filter(|account| !account.is_empty())
}

fn from_json(body: &[u8]) -> Result<Question, Refusal> {
    let request: JsonRequest = serde_json::from_slice(body)
        .map_err(|error| bad_request(&format!("the request is not the expected JSON: {error}")))?;
    let (path, query) = split_url(&request.url)?;
    let payload = match request.payload_hash.as_deref() {
        None => Answerable::Declared,
        Some("UNSIGNED-PAYLOAD") => Answerable::Unsigned,
        Some(hex_digest) => Answerable::Sha256(parse_digest(hex_digest)?),
    };
    let encoding = match request.encoding.as_deref() {
        None | Some("double") => UriEncoding::Double,
        Some("single") => UriEncoding::Single,
        Some(_) => return Err(bad_request("`encoding` is `double` or `single`")),
    };
    Ok(Question {
        method: request.method,
        path,
        query,
        headers: request
            .headers
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.into_bytes()))
            .collect(),
        payload,
        action: request.action,
        resource: request.resource,
        encoding,
    })
}

fn from_nginx(parts: &http::request::Parts) -> Result<Question, Refusal> {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let uri = header("x-original-uri").unwrap_or_default();
    let (path, query) = split_url(&uri)?;
    let (Some(action), Some(resource)) = (header("x-mayfly-action"), header("x-mayfly-resource"))
    else {
        return Err(bad_request(
            "set X-Mayfly-Action and X-Mayfly-Resource in the nginx configuration",
        ));
    };
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !name.starts_with("x-original-") && !name.starts_with("x-mayfly-")
        })
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    Ok(Question {
        method: header("x-original-method").unwrap_or_else(|| "GET".to_owned()),
        path,
        query,
        headers,
        payload: Answerable::Declared,
        action,
        resource,
        encoding: UriEncoding::Double,
    })
}

/// `/path?query` of a relative or absolute URL.
fn split_url(url: &str) -> Result<(String, String), Refusal> {
    let relative = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| rest.get(i..).unwrap_or("/")),
        None => url,
    };
    if !relative.starts_with('/') {
        return Err(bad_request("`url` must be a path or an absolute URL"));
    }
    let (path, query) = relative.split_once('?').unwrap_or((relative, ""));
    Ok((path.to_owned(), query.to_owned()))
}

fn parse_digest(hex_digest: &str) -> Result<[u8; 32], Refusal> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut digest)
        .map_err(|_| bad_request("`payloadHash` is 64 hex digits or UNSIGNED-PAYLOAD"))?;
    Ok(digest)
}

fn bad_request(message: &str) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "InvalidRequest",
        message: message.to_owned(),
    }
}

fn json_answer(outcome: Result<Allowed, Refusal>) -> Response<Full<Bytes>> {
    let (status, body) = match outcome {
        Ok(allowed) => (
            StatusCode::OK,
            serde_json::json!({
                "decision": "Allow",
                "principal": {
                    "arn": allowed.arn,
                    "accountId": allowed.account_id,
                    "accessKeyId": allowed.access_key_id,
                },
            }),
        ),
        Err(refusal) => (
            refusal.status,
            serde_json::json!({
                "decision": "Deny",
                "code": refusal.code,
                "message": refusal.message,
            }),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn nginx_answer(outcome: Result<Allowed, Refusal>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    match outcome {
        Ok(allowed) => {
            for (name, value) in [
                ("x-mayfly-principal-arn", allowed.arn),
                ("x-mayfly-account-id", allowed.account_id),
            ] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
        }
        Err(refusal) => {
            *response.status_mut() = refusal.status;
            response
                .headers_mut()
                .insert("x-mayfly-error", HeaderValue::from_static(refusal.code));
        }
    }
    response
}

#[cfg(test)]
#[allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::sync::Arc;

    use mayfly_core::CoreConfig;
    use mayfly_core::audit::{AuditOutcome, MemoryAuditSink};
    use mayfly_core::clock::{Clock, FixedClock};
    use mayfly_sigv4::{Credentials, RequestParts, SignableBody, SigningParams, sign_headers};
    use mayfly_store::{SqliteStore, Store};
    use mayfly_token::{MasterKey, SecretKey};

    use super::*;

    const ROOT_KEY_ID: &str = "AKIAMAYFLYAUTHROOT01";
    const ROOT_SECRET: &str = "mayfly-authorize-root-secret-abcdefghijk";
    const NOW: u64 = 1_750_000_000;

    async fn core(dir: &std::path::Path, audit: Arc<MemoryAuditSink>) -> Core {
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.join("mayfly.db")).await.unwrap());
        let master = MasterKey::from_encoded(&"5a".repeat(32)).unwrap();
        mayfly_core::admin::initialize(
            store.as_ref(),
            &master,
            NOW - 100,
            "000000000000",
            Some((
                ROOT_KEY_ID.to_owned(),
                SecretKey::new(ROOT_SECRET.to_owned()),
            )),
        )
        .await
        .unwrap();
        let clock: Arc<dyn Clock> = Arc::new(FixedClock(mayfly_core::clock::from_unix(NOW)));
        Core::new(store, master, clock, audit, CoreConfig::default())
            .await
            .unwrap()
    }

    /// A JSON question about a GET of `/items?token=…`, signed
    /// by the root key (or not at all).
    fn question(signed: bool) -> (http::request::Parts, Vec<u8>) {
        let mut headers = vec![("host".to_owned(), "api.example".to_owned())];
        if signed {
            let host = [("host", b"api.example".as_slice())];
            let signature = sign_headers(
                &RequestParts {
                    method: "GET",
                    path: "/items",
                    query: "token=secret-looking",
                    headers: &host,
                },
                &SigningParams {
                    credentials: Credentials {
                        access_key_id: ROOT_KEY_ID,
                        secret_access_key: ROOT_SECRET,
                        session_token: None,
                    },
                    region: "us-east-1",
                    service: "execute-api",
                    time: mayfly_core::clock::from_unix(NOW),
                    encoding: UriEncoding::Double,
                    body: SignableBody::Bytes(b""),
                    content_sha256_header: false,
                },
            )
            .unwrap();
            headers.extend(
                signature
                    .headers
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), value.clone())),
            );
        }
        let body = serde_json::json!({
            "method": "GET",
            "url": "https://api.example/items?token=secret-looking",
            "headers": headers,
            "payloadHash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "action": "execute-api:Invoke",
            "resource": "arn:aws:execute-api:us-east-1:000000000000:api/stage/GET/items",
        });
        let (parts, ()) = http::Request::builder()
            .method("POST")
            .uri("/authorize")
            .header("content-type", "application/json")
            .body(())
            .unwrap()
            .into_parts();
        (parts, body.to_string().into_bytes())
    }

    fn connection() -> Connection {
        Connection {
            peer: SocketAddr::from((Ipv4Addr::new(192, 0, 2, 7), 40000)),
            secure: false,
        }
    }

    #[tokio::test]
    async fn every_answer_is_one_audit_event_without_the_query() {
        let dir = tempfile::tempdir().unwrap();
        let audit = Arc::new(MemoryAuditSink::default());
        let core = core(dir.path(), Arc::clone(&audit)).await;

        let (parts, body) = question(true);
        let allowed = handle(&core, &parts, &body, connection());
        assert_eq!(allowed.status(), StatusCode::OK);
        let (parts, body) = question(false);
        let refused = handle(&core, &parts, &body, connection());
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

        let events = audit.events();
        assert_eq!(events.len(), 2);
        let (ok, denied) = (&events[0], &events[1]);
        assert_eq!((ok.service, ok.action.as_str()), ("authorize", "Authorize"));
        assert!(matches!(ok.outcome, AuditOutcome::Success));
        let caller = ok.caller.as_ref().unwrap();
        assert_eq!(caller.access_key_id, ROOT_KEY_ID);
        assert_eq!(
            allowed
                .headers()
                .get("x-amzn-requestid")
                .unwrap()
                .to_str()
                .unwrap(),
            ok.request_id
        );
        assert!(
            ok.parameters
                .contains(&("action".to_owned(), "execute-api:Invoke".to_owned()))
        );
        assert!(
            ok.parameters
                .contains(&("path".to_owned(), "/items".to_owned()))
        );
        assert!(matches!(&denied.outcome, AuditOutcome::Error { code } if code == "AccessDenied"));
        assert!(denied.caller.is_none());
        for event in &events {
            let text = format!("{event:?}");
            assert!(!text.contains("secret-looking"), "query leaked: {text}");
            assert!(!text.contains("Signature="), "signature leaked: {text}");
        }
    }

    #[test]
    fn urls_become_path_and_query() {
        let split = |url| split_url(url).ok();
        assert_eq!(
            split("https://api.example/v1/items?a=1"),
            Some(("/v1/items".to_owned(), "a=1".to_owned()))
        );
        assert_eq!(split("/x"), Some(("/x".to_owned(), String::new())));
        assert_eq!(split("http://host"), Some(("/".to_owned(), String::new())));
        assert!(split("items").is_none());
    }

    #[test]
    fn resource_accounts_come_from_the_arn() {
        assert_eq!(
            resource_account("arn:aws:execute-api:us-east-1:111122223333:api/stage/GET/x"),
            Some("111122223333")
        );
        assert_eq!(resource_account("arn:aws:s3:::bucket/key"), None);
        assert_eq!(resource_account("not-an-arn"), None);
    }
}
