//! The audit seam: every action, successful or not, produces exactly one
//! [`AuditEvent`] delivered to an [`AuditSink`]. A later issue turns these
//! into CloudTrail records and reports; this module fixes the shape.
//!
//! Events never hold secrets: parameters are recorded only when they are
//! known not to be sensitive (see [`is_secret_parameter`]).

use std::net::IpAddr;
use std::time::SystemTime;

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
