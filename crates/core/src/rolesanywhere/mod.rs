//! IAM Roles Anywhere on the API listener (roles-anywhere.md): the admin
//! REST-JSON API (SigV4, signing service `rolesanywhere`) and CreateSession
//! (`POST /sessions`, SigV4-X509).
//!
//! Requests are told apart from the query protocol before it sees them
//! ([`is_rolesanywhere`]): an `AWS4-X509-*` Authorization, a credential
//! scope naming `rolesanywhere`, or the path `/sessions`.
//!
//! Trust anchors, profiles and CRLs are stored entities of their own kinds;
//! the snapshot does not index them, so this module loads them itself once
//! per store generation ([`state`]).

mod admin;
pub(crate) mod session;
pub(crate) mod state;
mod subject;

use mayfly_wire::AwsError;
use serde_json::{Value, json};

use crate::audit::{AuditCaller, AuditEvent, AuditOutcome};
use crate::{ActionContext, ApiRequest, ApiResponse, Core};

pub(crate) use state::{Loaded, State};

/// Largest JSON body accepted (a CRL of 300000 bytes, base64, plus slack).
const MAX_BODY: usize = 450_000;

/// Whether `request` is for Roles Anywhere rather than the query protocol.
pub(crate) fn is_rolesanywhere(request: &ApiRequest<'_>) -> bool {
    if request.path == "/sessions" {
        return true;
    }
    let Some(authorization) = request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| *v)
    else {
        return false;
    };
    if mayfly_sigv4::x509::is_x509_authorization(authorization) {
        return true;
    }
    request.path != "/"
        && authorization
            .windows(b"/rolesanywhere/aws4_request".len())
            .any(|w| w == b"/rolesanywhere/aws4_request")
}

/// A Roles Anywhere answer: status and JSON body.
pub(crate) struct Reply {
    status: u16,
    body: Value,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Self { status: 200, body }
    }

    fn created(body: Value) -> Self {
        Self { status: 201, body }
    }
}

/// Serve one Roles Anywhere request.
pub(crate) async fn handle(core: &Core, request: ApiRequest<'_>) -> ApiResponse {
    let now = core.clock.now();
    let request_id = core.request_id();
    // A stale view is refused before anything reads it (Core::current_view).
    let (view, refused) = match core.current_view() {
        Ok(view) => (view, None),
        Err(error) => (core.view.load_full(), Some(error)),
    };
    let mut ctx = ActionContext {
        core,
        view,
        caller: None,
        request: &request,
        now,
        request_id: &request_id,
        issued_access_key_id: None,
        audit_facts: crate::audit::AuditFacts::default(),
    };
    let mut action = String::new();
    let result = if let Some(error) = refused {
        Err(error)
    } else if request.body.len() > MAX_BODY {
        Err(AwsError::validation_message("request body too large"))
    } else if request.path == "/sessions" {
        action.push_str("CreateSession");
        session::create_session(&mut ctx).await
    } else {
        admin::dispatch(&mut ctx, &mut action).await
    };
    let mut error_type = None;
    let mut error_message = None;
    let (status, body, outcome) = match result {
        Ok(reply) => (reply.status, reply.body.to_string(), AuditOutcome::Success),
        Err(error) => {
            let error = json_error(error);
            // 503: a stale view, logged once when refusing starts.
            if error.status >= 500 && error.status != 503 {
                tracing::error!(code = %error.code, message = %error.message, %request_id, "request failed");
            } else {
                tracing::debug!(code = %error.code, message = %error.message, %request_id, "request refused");
            }
            let code = error.code.to_string();
            let body = json!({"message": error.message, "__type": code}).to_string();
            error_type = Some(code.clone());
            error_message = core
                .audit
                .enabled()
                .then(|| crate::audit::error_message(&error.message));
            (error.status, body, AuditOutcome::Error { code })
        }
    };
    if core.audit.enabled() {
        core.audit.record(AuditEvent {
            time: now,
            request_id: request_id.clone(),
            service: "rolesanywhere",
            action,
            caller: ctx.caller.as_deref().map(AuditCaller::of),
            source_ip: request.source_ip,
            parameters: Vec::new(),
            outcome,
            issued_access_key_id: ctx.issued_access_key_id.take(),
            event_id: core.request_id(),
            user_agent: crate::audit::user_agent(request.headers),
            region: ctx.caller.as_ref().map(|c| c.region.clone()),
            error_message,
            issued: ctx.audit_facts.issued.take(),
            external_identity: None,
        });
    }
    ApiResponse {
        status,
        body,
        request_id,
        content_type: "application/json",
        error_type,
    }
}

/// Errors raised in query-protocol terms (SigV4 authentication, policy
/// denials, session-policy validation) in their JSON-service form
/// (sigv4.md 13.2 "JSON services", roles-anywhere.md 2).
fn json_error(error: AwsError) -> AwsError {
    let (code, status): (&'static str, u16) = match error.code.as_ref() {
        "AccessDenied" => ("AccessDeniedException", 403),
        "MissingAuthenticationToken" => ("MissingAuthenticationTokenException", 403),
        "IncompleteSignature" => ("IncompleteSignatureException", 400),
        "SignatureDoesNotMatch"
            if error.message.starts_with("Signature expired")
                || error.message.starts_with("Signature not yet current") =>
        {
            ("InvalidSignatureException", 400)
        }
        "SignatureDoesNotMatch" => ("InvalidSignatureException", 403),
        "InvalidClientTokenId" => ("UnrecognizedClientException", 400),
        "ExpiredToken" => ("ExpiredTokenException", 403),
        "ValidationError" | "MalformedPolicyDocument" | "PackedPolicyTooLarge" => {
            ("ValidationException", 400)
        }
        _ => return error,
    };
    AwsError::new(code, status, error.message)
}

/// `ResourceNotFoundException` (404).
fn not_found(what: &str) -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        404,
        format!("{what} not found"),
    )
}

/// `ValidationException` (400).
fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationException", 400, message)
}

/// `AccessDeniedException` (403).
fn denied(message: impl Into<String>) -> AwsError {
    AwsError::new("AccessDeniedException", 403, message)
}

/// An ISO 8601 UTC timestamp with milliseconds, from unix milliseconds.
fn timestamp(millis: u64) -> String {
    let seconds = crate::clock::from_unix(millis / 1000);
    let base = mayfly_wire::iso8601(seconds);
    let base = base.trim_end_matches('Z');
    format!("{base}.{:03}Z", millis % 1000)
}

/// Unix milliseconds of the request.
fn now_millis(ctx: &ActionContext<'_>) -> u64 {
    ctx.now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A fresh random (version 4) UUID.
fn new_uuid(ctx: &ActionContext<'_>) -> Result<String, AwsError> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    ctx.core
        .rng
        .fill(&mut bytes)
        .map_err(|_| AwsError::service_failure())?;
    Ok(uuid_text(bytes))
}

/// Format 16 bytes as a version-4 UUID.
fn uuid_text(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let part = |a: usize, b: usize| hex.get(a..b).unwrap_or_default().to_owned();
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

/// The parsed pieces of a Roles Anywhere ARN:
/// `arn:aws:rolesanywhere:{region}:{account}:{kind}/{id}`.
#[derive(Debug, PartialEq, Eq)]
struct RaArn<'a> {
    region: &'a str,
    account_id: &'a str,
    kind: &'a str,
    id: &'a str,
}

fn parse_ra_arn(arn: &str) -> Option<RaArn<'_>> {
    let rest = arn.strip_prefix("arn:aws:rolesanywhere:")?;
    let mut parts = rest.splitn(3, ':');
    let (region, account_id, resource) = (parts.next()?, parts.next()?, parts.next()?);
    let (kind, id) = resource.split_once('/')?;
    let ok = !region.is_empty() && crate::arn::is_account_id(account_id) && is_uuid(id);
    ok.then_some(RaArn {
        region,
        account_id,
        kind,
        id,
    })
}

/// 36-character lowercase-or-uppercase hex UUID text.
fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_parse() {
        let arn = "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/4579702c-9abb-47c2-88b2-c734e0b29539";
        assert_eq!(
            parse_ra_arn(arn),
            Some(RaArn {
                region: "us-east-1",
                account_id: "111122223333",
                kind: "trust-anchor",
                id: "4579702c-9abb-47c2-88b2-c734e0b29539"
            })
        );
        assert_eq!(
            parse_ra_arn("arn:aws:rolesanywhere:us-east-1:111122223333:profile/x"),
            None
        );
        assert_eq!(parse_ra_arn("arn:aws:iam::111122223333:role/x"), None);
    }

    #[test]
    fn timestamps_have_milliseconds() {
        assert_eq!(timestamp(1_705_320_000_123), "2024-01-15T12:00:00.123Z");
    }
}
