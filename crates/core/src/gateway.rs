//! The narrow API other front ends (the S3 gateway, later the authorizer)
//! use to authenticate a SigV4 request and to authorize an action on a
//! resource that has its own policy. It reuses the query protocol's key
//! lookup ([`crate::auth::resolve_credentials`]) and request context
//! ([`crate::authz::evaluate_with_resource_policy`]); only the protocol
//! choices (service, URI encoding, payload) and the error mapping are the
//! caller's.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use mayfly_policy::{Decision, NamedPolicy, Policy, PolicyKind};
use mayfly_sigv4::{Authentication, Payload, RequestParts, SigV4Error, SigningKey, UriEncoding};

use crate::audit::{AuditCaller, AuditEvent, AuditOutcome};
use crate::auth::{Caller, resolve_credentials};
use crate::authz::evaluate_with_resource_policy;
use crate::view::View;
use crate::{ActionContext, ApiRequest, Core};

/// One request as a gateway front end sees it (the body is not needed).
#[derive(Debug, Clone, Copy)]
pub struct GatewayRequest<'a> {
    /// The method exactly as received.
    pub method: &'a str,
    /// The raw path, still percent-encoded.
    pub path: &'a str,
    /// The raw query string without `?`.
    pub query: &'a str,
    /// Header names and values in arrival order.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The peer address (`aws:SourceIp`).
    pub source_ip: IpAddr,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
}

impl<'a> GatewayRequest<'a> {
    fn parts(&self) -> RequestParts<'a> {
        RequestParts {
            method: self.method,
            path: self.path,
            query: self.query,
            headers: self.headers,
        }
    }
}

/// Who made a request: an authenticated caller or nobody (anonymous).
#[derive(Debug, Clone)]
pub struct Principal {
    caller: Option<Arc<Caller>>,
}

impl Principal {
    /// The anonymous principal (a request without SigV4 material).
    pub fn anonymous() -> Self {
        Self { caller: None }
    }

    /// Whether the request was anonymous.
    pub fn is_anonymous(&self) -> bool {
        self.caller.is_none()
    }

    /// The caller's account; `None` when anonymous.
    pub fn account_id(&self) -> Option<&str> {
        self.caller.as_ref().map(|c| c.account_id.as_str())
    }

    /// The caller's ARN (GetCallerIdentity `Arn`); `*` when anonymous.
    pub fn arn(&self) -> &str {
        self.caller.as_ref().map_or("*", |c| c.arn.as_str())
    }

    /// The access key id that signed the request; `None` when anonymous.
    pub fn access_key_id(&self) -> Option<&str> {
        self.caller.as_ref().map(|c| c.access_key_id.as_str())
    }

    /// The expiry (seconds since the epoch) of the temporary credentials
    /// that signed the request; `None` for long-term keys and anonymous.
    pub fn session_expires_at(&self) -> Option<u64> {
        self.caller
            .as_deref()
            .and_then(Caller::claims)
            .map(|c| c.expires_at)
    }
}

/// A request whose signature has been verified.
#[derive(Debug)]
pub struct Verified {
    /// Who signed it.
    pub principal: Principal,
    /// The parsed SigV4 material (seed signature, scope, time for the
    /// aws-chunked chain; the declared payload hash).
    pub authentication: Authentication,
    /// The signing key, for the aws-chunked chunk and trailer signatures.
    pub signing_key: SigningKey,
}

/// A resource's own policy (an S3 bucket policy) and the account owning
/// the resource.
#[derive(Debug, Clone, Copy)]
pub struct ResourcePolicy<'a> {
    /// The parsed policy; `None` when the resource has none.
    pub policy: Option<&'a Policy>,
    /// The account owning the resource.
    pub owner_account: &'a str,
}

/// One gateway request for the audit log.
#[derive(Debug)]
pub struct GatewayAudit<'a> {
    /// When the request was received.
    pub time: SystemTime,
    /// The request id returned to the client.
    pub request_id: &'a str,
    /// The service, e.g. `s3`.
    pub service: &'static str,
    /// The operation, e.g. `PutObject`; empty when it was not recognized.
    pub action: &'a str,
    /// Who called (absent before authentication or when it failed).
    pub principal: Option<&'a Principal>,
    /// The peer address.
    pub source_ip: IpAddr,
    /// Non-secret parameters (bucket, key).
    pub parameters: Vec<(String, String)>,
    /// The error code sent, `None` on success.
    pub error_code: Option<&'a str>,
}

impl Core {
    /// Authenticate a SigV4 request for `service` (sigv4.md 8): parse the
    /// material and check time and scope, look the key up (temporary keys:
    /// the session token must open, match and not be expired or revoked),
    /// then verify the signature with `payload` and `encoding`
    /// (`UriEncoding::Single` for S3). Errors are the precise SigV4 causes;
    /// the front end maps them to its protocol (`SigV4Error::s3_code`).
    /// Every request, anonymous ones too, is refused with
    /// [`SigV4Error::CredentialsUnavailable`] (503 `ServiceUnavailable`)
    /// while the view is older than [`crate::CoreConfig::max_view_age`].
    pub fn authenticate_sigv4(
        &self,
        request: &GatewayRequest<'_>,
        service: &str,
        payload: Payload<'_>,
        encoding: UriEncoding,
    ) -> Result<Verified, SigV4Error> {
        // Refused before parsing, so anonymous requests are refused too.
        let view = self
            .current_view()
            .map_err(|_| SigV4Error::CredentialsUnavailable)?;
        let parts = request.parts();
        let now = self.clock.now();
        let authentication = mayfly_sigv4::authenticate(&parts, now)?;
        authentication.require_service(service)?;
        if let Some(regions) = &self.config.regions {
            authentication.require_region(|region| regions.iter().any(|r| r == region))?;
        }
        let (caller, secret) = resolve_credentials(&view, &authentication, self.clock.unix_now())?;
        let signing_key = self.signing_keys.get_or_derive(
            authentication.access_key_id(),
            secret.as_str(),
            authentication.scope(),
        );
        authentication.verify(&parts, payload, encoding, &signing_key)?;
        Ok(Verified {
            principal: Principal {
                caller: Some(Arc::new(caller)),
            },
            authentication,
            signing_key,
        })
    }

    /// Decide whether `principal` may perform `action` on `resource`
    /// (policy-evaluation.md 8): identity, boundary and session policies of
    /// the caller, the resource's policy and the cross-account rule (both
    /// sides must allow when the resource belongs to another account).
    /// `extra` adds service-specific condition keys (`s3:prefix`, ...).
    pub fn authorize_gateway(
        &self,
        request: &GatewayRequest<'_>,
        principal: &Principal,
        action: &str,
        resource: &str,
        resource_policy: ResourcePolicy<'_>,
        extra: &[(&str, Vec<String>)],
    ) -> Decision {
        let view: Arc<View> = self.view.load_full();
        let api_request = ApiRequest {
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers,
            body: &[],
            source_ip: request.source_ip,
            secure_transport: request.secure_transport,
        };
        let ctx = ActionContext {
            core: self,
            view,
            caller: principal.caller.clone(),
            request: &api_request,
            now: self.clock.now(),
            request_id: "",
            issued_access_key_id: None,
            audit_facts: crate::audit::AuditFacts::default(),
        };
        let named = resource_policy.policy.map(|policy| NamedPolicy {
            id: "resource:bucket-policy",
            policy,
            kind: PolicyKind::Resource,
        });
        evaluate_with_resource_policy(
            &ctx,
            principal.caller.as_deref(),
            action,
            resource,
            named,
            resource_policy.owner_account,
            |rc| {
                for (key, values) in extra {
                    rc.set_multi(key, values.clone());
                }
            },
        )
    }

    /// Whether `account_id` exists (a bucket policy may only name known
    /// accounts' principals; the gateway also checks bucket owners).
    pub fn account_exists(&self, account_id: &str) -> bool {
        self.view.load().snapshot.account(account_id).is_some()
    }

    /// Record one gateway request in the audit log (exactly one per
    /// request, success or failure). `parameters` must hold nothing secret:
    /// bucket and key names, never query strings (they may carry
    /// `X-Amz-Signature` and `X-Amz-Security-Token`).
    pub fn audit_gateway(&self, event: GatewayAudit<'_>) {
        if !self.audit.enabled() {
            return;
        }
        self.audit.record(AuditEvent {
            time: event.time,
            request_id: event.request_id.to_owned(),
            service: event.service,
            action: event.action.to_owned(),
            caller: event
                .principal
                .and_then(|p| p.caller.as_ref())
                .map(|c| AuditCaller::of(c)),
            source_ip: event.source_ip,
            parameters: event.parameters,
            outcome: match event.error_code {
                None => AuditOutcome::Success,
                Some(code) => AuditOutcome::Error {
                    code: code.to_owned(),
                },
            },
            issued_access_key_id: None,
            event_id: self.request_id(),
            user_agent: None,
            region: event
                .principal
                .and_then(|p| p.caller.as_ref())
                .map(|c| c.region.clone()),
            error_message: None,
            issued: None,
            external_identity: None,
        });
    }

    /// The current time of the core's clock.
    pub fn gateway_now(&self) -> SystemTime {
        self.clock.now()
    }
}
