//! Minting a role session once a role-assuming action has authorized it:
//! the part AssumeRole, AssumeRoleWithWebIdentity and AssumeRoleWithSAML
//! share (sts-api.md 4, 5, 9.1 steps 6-8, 9.2, 9.3).
//!
//! Each action validates its own parameters, resolves the role and
//! authorizes against the trust policy its own way; then it calls
//! [`session_duration`] and [`mint`], and writes the common part of its
//! result with [`RoleSession::write_result`].

use std::collections::BTreeMap;

use mayfly_store::Role;
use mayfly_token::{IssuedCredentials, SessionClaims, SessionPrincipal, SessionTag};
use mayfly_wire::{AwsError, XmlWriter};

use crate::ActionContext;
use crate::arn;
use crate::session::{self, SessionPolicies};

/// The duration of a role session (sts-api.md 4): `requested` (already
/// range-checked at 900–43200 by the action) or 3600, at most the role's
/// `MaxSessionDuration` and, when `chained`, at most one hour.
pub(crate) fn session_duration(
    role: &Role,
    requested: Option<i64>,
    chained: bool,
) -> Result<u64, AwsError> {
    let duration = requested.unwrap_or(3600);
    if chained && duration > 3600 {
        return Err(AwsError::validation_message(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    if duration > i64::from(role.max_session_duration) {
        return Err(AwsError::validation_message(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    Ok(u64::try_from(duration).unwrap_or(0))
}

/// Everything a role session is made of, decided by the action.
#[derive(Debug)]
pub(crate) struct RoleSessionRequest<'a> {
    /// The role being assumed, already authorized.
    pub role: &'a Role,
    /// `RoleSessionName` (validated).
    pub session_name: &'a str,
    /// Seconds, from [`session_duration`].
    pub duration: u64,
    /// Session policies as read from the request (validated here against
    /// the role's account, then packed).
    pub policies: &'a SessionPolicies,
    /// The session's tags: inherited transitive tags and the request's (or
    /// the token's/assertion's) tags, transitive ones marked.
    pub tags: Vec<SessionTag>,
    /// The source identity the session carries (set now or inherited).
    pub source_identity: Option<String>,
    /// When MFA was authenticated, if it was.
    pub mfa_authenticated_at: Option<u64>,
    /// Whether the caller used temporary credentials (role chaining).
    pub role_chained: bool,
    /// The identity provider ARN for web-identity/SAML sessions
    /// (`aws:FederatedProvider`).
    pub federated_provider: Option<String>,
    /// The long-term key that started the chain, for the audit trail.
    pub parent_access_key_id: Option<String>,
    /// Request-context keys the session carries (the IoT credentials
    /// provider's `credentials-iot:*`; empty for every STS action).
    pub context_keys: BTreeMap<String, String>,
}

/// A minted role session: its credentials and what the response reports.
#[derive(Debug)]
pub(crate) struct RoleSession {
    /// The sealed credentials.
    pub issued: IssuedCredentials,
    /// The claims sealed into them.
    pub claims: SessionClaims,
    /// `PackedPolicySize`, when session policies or tags were involved.
    pub packed_policy_size: Option<usize>,
    /// `{RoleId}:{RoleSessionName}`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::{acct}:assumed-role/{RoleName}/{RoleSessionName}`.
    pub assumed_role_arn: String,
}

/// Validate and pack the session policies (sts-api.md 5), then seal the
/// session (sts-api.md 9.1 steps 7-8).
pub(crate) fn mint(
    ctx: &mut ActionContext<'_>,
    request: RoleSessionRequest<'_>,
) -> Result<RoleSession, AwsError> {
    let role = request.role;
    let view = std::sync::Arc::clone(&ctx.view);
    request.policies.validate(&view, &role.account_id)?;
    let packed = session::packed_size(request.policies, &request.tags)?;
    let packed_policy_size =
        (!request.policies.is_empty() || !request.tags.is_empty()).then_some(packed);
    let now = ctx.core.clock.unix_now();
    let claims = SessionClaims {
        account_id: role.account_id.clone(),
        principal: SessionPrincipal::AssumedRole {
            role_arn: role.arn(),
            role_id: role.role_id.clone(),
            role_name: role.name.clone(),
            session_name: request.session_name.to_owned(),
        },
        issued_at: now,
        expires_at: now + request.duration,
        session_policy: request.policies.inline.clone(),
        policy_arns: request.policies.arns.clone(),
        tags: request.tags,
        source_identity: request.source_identity,
        mfa_authenticated_at: request.mfa_authenticated_at,
        role_chained: request.role_chained,
        federated_provider: request.federated_provider,
        parent_access_key_id: request.parent_access_key_id,
        context_keys: request.context_keys,
    };
    let issued = crate::sts::issue(ctx, &claims)?;
    Ok(RoleSession {
        issued,
        packed_policy_size,
        assumed_role_id: format!("{}:{}", role.role_id, request.session_name),
        assumed_role_arn: arn::assumed_role_arn(&role.account_id, &role.name, request.session_name),
        claims,
    })
}

impl RoleSession {
    /// Write `Credentials`, `AssumedRoleUser`, `PackedPolicySize` (when
    /// policies or tags were involved) and `SourceIdentity` (when set) into
    /// the action's result element.
    pub fn write_result(&self, w: &mut XmlWriter) {
        crate::sts::write_credentials(w, &self.issued);
        w.start("AssumedRoleUser");
        w.text("AssumedRoleId", &self.assumed_role_id);
        w.text("Arn", &self.assumed_role_arn);
        w.end("AssumedRoleUser");
        if let Some(packed) = self.packed_policy_size {
            w.number(
                "PackedPolicySize",
                i64::try_from(packed).unwrap_or(i64::MAX),
            );
        }
        w.text_opt("SourceIdentity", self.claims.source_identity.as_deref());
    }
}
