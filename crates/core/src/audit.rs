//! The audit seam: every action, successful or not, produces exactly one
//! [`AuditEvent`] delivered to an [`AuditSink`]. [`crate::cloudtrail`]
//! renders them as CloudTrail records; this module fixes the shape.
//!
//! Events never hold secrets: parameters are recorded only when they are
//! known not to be sensitive (see [`is_secret_parameter`]).

use std::net::IpAddr;
use std::time::SystemTime;

use mayfly_token::{SessionClaims, SessionPrincipal};

use crate::auth::{Caller, CallerKind};

/// One action as it happened.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// When the request was received.
    pub time: SystemTime,
    /// The request id returned to the client.
    pub request_id: String,
    /// `sts` or `iam`.
    pub service: &'static str,
    /// The action name, e.g. `AssumeRole`; empty when the request had none.
    pub action: String,
    /// Who called: ARN, account and the access key id used (absent for
    /// unsigned and unauthenticated requests).
    pub caller: Option<AuditCaller>,
    /// The peer address.
    pub source_ip: IpAddr,
    /// Request parameters with secret-bearing ones removed.
    pub parameters: Vec<(String, String)>,
    /// Success, or the AWS error code returned.
    pub outcome: AuditOutcome,
    /// The access key id this call issued, if any: temporary (STS) or
    /// long-term (IAM CreateAccessKey).
    pub issued_access_key_id: Option<String>,
    /// A unique id for this record (CloudTrail `eventID`), UUID-shaped,
    /// from the core's request-id generator.
    pub event_id: String,
    /// The `User-Agent` header, when the request had one.
    pub user_agent: Option<String>,
    /// The region of the request's SigV4 signing scope (absent for unsigned
    /// requests).
    pub region: Option<String>,
    /// The error message sent with the error code of `outcome`.
    pub error_message: Option<String>,
    /// What the temporary credentials this call issued stand for (never
    /// the secret access key; the session token only as a digest).
    pub issued: Option<AuditIssued>,
    /// The external identity an unsigned federation call presented, once its
    /// token or assertion was verified.
    pub external_identity: Option<AuditExternalIdentity>,
}

/// Temporary credentials an action issued, as far as the audit trail
/// may show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditIssued {
    /// When the credentials expire.
    pub expiration: SystemTime,
    /// Lowercase hex SHA-256 of the session token: lets a log reader match
    /// a token without being able to use it.
    pub session_token_sha256: String,
    /// `aws:userid` of the new session (`AROA…:name`, `ACCT:name`, `AIDA…`).
    pub principal_id: String,
    /// ARN of the new session.
    pub arn: String,
    /// What kind of session was issued.
    pub kind: AuditIssuedKind,
    /// The session's `SourceIdentity`, when set.
    pub source_identity: Option<String>,
}

/// The kind of session temporary credentials stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditIssuedKind {
    /// A role session (`assumedRoleUser`).
    AssumedRole,
    /// A GetFederationToken session (`federatedUser`).
    FederatedUser,
    /// A user's or root's GetSessionToken session.
    SessionToken,
}

impl AuditIssued {
    /// What `issued` stands for; `session_token` is only digested.
    pub fn new(claims: &SessionClaims, session_token: &str) -> Self {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, session_token.as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in digest.as_ref() {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Self {
            expiration: crate::clock::from_unix(claims.expires_at),
            session_token_sha256: hex,
            principal_id: claims.user_id(),
            arn: claims.arn(),
            kind: match claims.principal {
                SessionPrincipal::AssumedRole { .. } => AuditIssuedKind::AssumedRole,
                SessionPrincipal::FederatedUser { .. } => AuditIssuedKind::FederatedUser,
                SessionPrincipal::User { .. } | SessionPrincipal::Root => {
                    AuditIssuedKind::SessionToken
                }
            },
            source_identity: claims.source_identity.clone(),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The external identity behind an AssumeRoleWithWebIdentity or
/// AssumeRoleWithSAML call (CloudTrail `WebIdentityUser` / `SAMLUser`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditExternalIdentity {
    /// OIDC token or SAML assertion.
    pub kind: ExternalIdentityKind,
    /// The OIDC provider ARN, or the SAML name qualifier.
    pub identity_provider: String,
    /// The token's `aud` (OIDC only).
    pub audience: Option<String>,
    /// The token's `sub`, or the assertion's subject.
    pub subject: String,
}

/// Which federation an [`AuditExternalIdentity`] came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalIdentityKind {
    /// An OpenID Connect ID token.
    WebIdentity,
    /// A SAML 2.0 assertion.
    Saml,
}

/// What an action found out for its audit event beyond the caller.
#[derive(Debug, Default)]
pub(crate) struct AuditFacts {
    /// Set by actions that mint temporary credentials.
    pub issued: Option<AuditIssued>,
    /// Set by the unsigned federation actions once the token or assertion
    /// verified.
    pub external_identity: Option<AuditExternalIdentity>,
}

/// The authenticated principal of an audited request.
#[derive(Debug, Clone)]
pub struct AuditCaller {
    /// The principal's ARN (the session ARN for role sessions).
    pub arn: String,
    /// The account the principal belongs to.
    pub account_id: String,
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// What kind of principal signed, with its CloudTrail identity facts.
    pub principal: AuditPrincipal,
}

/// The kind of an audited caller.
#[derive(Debug, Clone)]
pub enum AuditPrincipal {
    /// The account root with a long-term key.
    Root,
    /// An IAM user with a long-term key.
    User {
        /// The user name.
        user_name: String,
        /// The user's unique id (`AIDA…`).
        user_id: String,
    },
    /// Temporary credentials.
    Session(Box<AuditSession>),
}

/// The facts of the session that signed an audited request.
#[derive(Debug, Clone)]
pub struct AuditSession {
    /// Who the session is for.
    pub principal: SessionPrincipal,
    /// When the session was issued.
    pub issued_at: SystemTime,
    /// Whether MFA was presented when the session was issued.
    pub mfa_authenticated: bool,
    /// The session's `SourceIdentity`, when set.
    pub source_identity: Option<String>,
    /// The OIDC or SAML provider ARN of a federated role session.
    pub federated_provider: Option<String>,
}

impl AuditCaller {
    /// The audit view of an authenticated caller.
    pub(crate) fn of(caller: &Caller) -> Self {
        let principal = match &caller.kind {
            CallerKind::Root => AuditPrincipal::Root,
            CallerKind::User { user_name } => AuditPrincipal::User {
                user_name: user_name.clone(),
                user_id: caller.user_id.clone(),
            },
            CallerKind::Session(claims) => AuditPrincipal::Session(Box::new(AuditSession {
                principal: claims.principal.clone(),
                issued_at: crate::clock::from_unix(claims.issued_at),
                mfa_authenticated: claims.mfa_authenticated_at.is_some(),
                source_identity: claims.source_identity.clone(),
                federated_provider: claims.federated_provider.clone(),
            })),
        };
        Self {
            arn: caller.arn.clone(),
            account_id: caller.account_id.clone(),
            access_key_id: caller.access_key_id.clone(),
            principal,
        }
    }
}

/// An error message as the audit trail keeps it: without the encoded
/// authorization failure message of AccessDenied (sealed for
/// DecodeAuthorizationMessage callers, not for log readers).
pub(crate) fn error_message(message: &str) -> String {
    match message.split_once(crate::authz::ENCODED_MESSAGE_PREFIX) {
        Some((reason, _)) => format!("{reason}."),
        None => message.to_owned(),
    }
}

/// The `User-Agent` header of a request, bounded to 1 KiB.
pub(crate) fn user_agent(headers: &[(&str, &[u8])]) -> Option<String> {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
        .map(|(_, value)| {
            let value = &value[..value.len().min(1024)];
            String::from_utf8_lossy(value).into_owned()
        })
}

/// How an audited action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditOutcome {
    /// The action succeeded.
    Success,
    /// The action failed with this AWS error code.
    Error {
        /// The AWS error code sent to the client.
        code: String,
    },
}

/// Receives audit events. Must not block: implementations hand events off
/// (to a log, a channel, a batch writer).
pub trait AuditSink: Send + Sync + std::fmt::Debug {
    /// Record one event.
    fn record(&self, event: AuditEvent);

    /// Whether events are wanted at all; when not, the core does not build
    /// them (the tracing sink with `audit` filtered out of the log).
    fn enabled(&self) -> bool {
        true
    }
}

/// Writes each event as one structured `tracing` record with target `audit`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingAuditSink;

impl AuditSink for TracingAuditSink {
    fn enabled(&self) -> bool {
        tracing::enabled!(target: "audit", tracing::Level::INFO)
    }

    fn record(&self, event: AuditEvent) {
        let outcome = match &event.outcome {
            AuditOutcome::Success => "success",
            AuditOutcome::Error { code } => code.as_str(),
        };
        let parameters = event
            .parameters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        tracing::info!(
            target: "audit",
            request_id = %event.request_id,
            service = event.service,
            action = %event.action,
            caller = event.caller.as_ref().map(|c| c.arn.as_str()).unwrap_or("-"),
            account = event.caller.as_ref().map(|c| c.account_id.as_str()).unwrap_or("-"),
            access_key_id = event.caller.as_ref().map(|c| c.access_key_id.as_str()).unwrap_or("-"),
            source_ip = %event.source_ip,
            outcome,
            issued_access_key_id = event.issued_access_key_id.as_deref().unwrap_or("-"),
            parameters = %parameters,
        );
    }
}

/// Parameters whose values are never recorded: tokens, assertions, MFA codes,
/// policy documents are kept (they are configuration, not secrets).
pub fn is_secret_parameter(name: &str) -> bool {
    matches!(
        name,
        "WebIdentityToken"
            | "SAMLAssertion"
            | "TokenCode"
            | "AuthenticationCode1"
            | "AuthenticationCode2"
            | "EncodedMessage"
            | "X-Amz-Security-Token"
            | "X-Amz-Signature"
            | "ContextAssertion"
    ) || name.ends_with(".ContextAssertion")
}

/// A sink that keeps events in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryAuditSink {
    events: std::sync::Mutex<Vec<AuditEvent>>,
}

impl MemoryAuditSink {
    /// All events recorded so far.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl AuditSink for MemoryAuditSink {
    fn record(&self, event: AuditEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}
