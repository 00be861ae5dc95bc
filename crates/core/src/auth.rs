//! Authentication: who signed this request (sigv4.md 8, sts-api.md 2.2).
//!
//! Long-term keys (`AKIA…`, root or IAM user) are looked up in the view;
//! temporary keys (`ASIA…`) must come with a session token that opens under
//! the key ring, whose sealed access key id matches and which has not
//! expired. The signature is then checked with the signing key derived from
//! the secret (cached per key, date, region and service).

use std::borrow::Cow;

use mayfly_sigv4::{AuthForm, Authentication, Payload, RequestParts, SigV4Error, UriEncoding};
use mayfly_token::{SecretKey, SessionClaims, SessionPrincipal, TokenError};
use mayfly_wire::AwsError;

use crate::arn;
use crate::view::View;
use crate::{ActionContext, Service};

/// The authenticated principal of a request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// What kind of principal, with what it carries.
    pub kind: CallerKind,
    /// The owning account.
    pub account_id: String,
    /// GetCallerIdentity `Arn` (sts-api.md 1.3).
    pub arn: String,
    /// GetCallerIdentity `UserId` = `aws:userid`.
    pub user_id: String,
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// The region of the request's SigV4 credential scope (`aws:RequestedRegion`).
    pub region: String,
}

/// The principal behind a request.
#[derive(Debug, Clone)]
pub(crate) enum CallerKind {
    /// The account root with its long-term key.
    Root,
    /// An IAM user with a long-term key.
    User { user_name: String },
    /// Temporary credentials (any STS-issued session).
    Session(Box<SessionClaims>),
}

impl Caller {
    /// Whether the request was signed with temporary credentials.
    pub fn is_session(&self) -> bool {
        matches!(self.kind, CallerKind::Session(_))
    }

    /// The session claims, for temporary credentials.
    pub fn claims(&self) -> Option<&SessionClaims> {
        match &self.kind {
            CallerKind::Session(claims) => Some(claims),
            _ => None,
        }
    }

    /// Whether this is the account root (long-term or its GetSessionToken session).
    pub fn is_root(&self) -> bool {
        match &self.kind {
            CallerKind::Root => true,
            CallerKind::Session(claims) => matches!(claims.principal, SessionPrincipal::Root),
            CallerKind::User { .. } => false,
        }
    }

    /// `aws:PrincipalType`.
    pub fn principal_type(&self) -> &'static str {
        match &self.kind {
            CallerKind::Root => "Account",
            CallerKind::User { .. } => "User",
            CallerKind::Session(claims) => match claims.principal {
                SessionPrincipal::AssumedRole { .. } => "AssumedRole",
                SessionPrincipal::FederatedUser { .. } => "FederatedUser",
                SessionPrincipal::User { .. } => "User",
                SessionPrincipal::Root => "Account",
            },
        }
    }

    /// `aws:PrincipalArn`: the role ARN for role sessions, otherwise the caller ARN.
    pub fn principal_arn(&self) -> String {
        match self.claims().map(|c| &c.principal) {
            Some(SessionPrincipal::AssumedRole { role_arn, .. }) => role_arn.clone(),
            _ => self.arn.clone(),
        }
    }

    /// `aws:username` for IAM users (and their GetSessionToken sessions).
    pub fn user_name(&self) -> Option<&str> {
        match &self.kind {
            CallerKind::User { user_name } => Some(user_name),
            CallerKind::Session(claims) => match &claims.principal {
                SessionPrincipal::User { user_name, .. } => Some(user_name),
                _ => None,
            },
            CallerKind::Root => None,
        }
    }
}

/// Authenticate the request in `ctx`; returns the caller and the service
/// named by the signing scope.
pub(crate) async fn authenticate(ctx: &ActionContext<'_>) -> Result<(Caller, Service), AwsError> {
    let request = ctx.request;
    let parts = RequestParts {
        method: request.method,
        path: request.path,
        query: request.query,
        headers: request.headers,
    };
    let auth = mayfly_sigv4::authenticate(&parts, ctx.now).map_err(sigv4_error)?;
    let service = match auth.scope().service() {
        "sts" => Service::Sts,
        "iam" => Service::Iam,
        "rolesanywhere" => Service::RolesAnywhere,
        other => {
            return Err(AwsError::new(
                "InvalidClientTokenId",
                403,
                format!(
                    "credential scope names service `{}`; this endpoint serves sts and iam",
                    crate::truncate(other, 64)
                ),
            ));
        }
    };
    if let Some(regions) = &ctx.core.config.regions {
        auth.require_region(|region| regions.iter().any(|r| r == region))
            .map_err(sigv4_error)?;
    }
    let access_key_id = auth.access_key_id();
    let now_unix = ctx.core.clock.unix_now();
    let (caller, secret) = resolve_credentials(&ctx.view, &auth, now_unix).map_err(sigv4_error)?;
    let signing_key =
        ctx.core
            .signing_keys
            .get_or_derive(access_key_id, secret.as_str(), auth.scope());
    // Presigned query-protocol URLs sign the empty payload like any GET.
    let payload = match auth.form() {
        AuthForm::Header | AuthForm::Presigned => Payload::Bytes(request.body),
    };
    auth.verify(&parts, payload, UriEncoding::Double, &signing_key)
        .map_err(sigv4_error)?;
    Ok((caller, service))
}

/// Look up the access key of parsed SigV4 material (sigv4.md 8 steps 5-6):
/// a long-term key in the view, or a temporary key whose session token opens
/// under the key ring, is bound to it, has not expired at `now_unix` and is
/// not revoked. Returns the caller and the secret to derive the signing key
/// from (a long-term secret borrowed from the view, never copied). Shared by every front end; each maps the error to its protocol.
pub(crate) fn resolve_credentials<'v>(
    view: &'v View,
    auth: &Authentication,
    now_unix: u64,
) -> Result<(Caller, Cow<'v, SecretKey>), SigV4Error> {
    let access_key_id = auth.access_key_id();
    let (caller, secret) = if access_key_id.starts_with("ASIA") {
        let Some(token) = auth.security_token() else {
            return Err(SigV4Error::InvalidSecurityToken);
        };
        let opened =
            view.key_ring
                .open(token, access_key_id, now_unix)
                .map_err(|error| match error {
                    TokenError::Expired { .. } => SigV4Error::ExpiredSecurityToken,
                    other => {
                        tracing::debug!(error = %other, %access_key_id, "session token refused");
                        SigV4Error::InvalidSecurityToken
                    }
                })?;
        if view.snapshot.is_revoked(access_key_id) {
            tracing::debug!(%access_key_id, "session key is revoked");
            return Err(SigV4Error::InvalidSecurityToken);
        }
        let claims = opened.claims;
        let caller = Caller {
            account_id: claims.account_id.clone(),
            arn: claims.arn(),
            user_id: claims.user_id(),
            access_key_id: access_key_id.to_owned(),
            region: auth.scope().region().to_owned(),
            kind: CallerKind::Session(Box::new(claims)),
        };
        (caller, Cow::Owned(opened.secret))
    } else {
        if auth.security_token().is_some() {
            // A session token only goes with the temporary key it was issued with.
            return Err(SigV4Error::InvalidSecurityToken);
        }
        let (Some(key), Some(secret)) = (
            view.snapshot.access_key(access_key_id),
            view.long_term_secret(access_key_id),
        ) else {
            return Err(SigV4Error::UnknownAccessKey {
                access_key_id: access_key_id.to_owned(),
            });
        };
        let caller = match &key.user_name {
            None => Caller {
                kind: CallerKind::Root,
                account_id: key.account_id.clone(),
                arn: arn::root_arn(&key.account_id),
                user_id: key.account_id.clone(),
                access_key_id: access_key_id.to_owned(),
                region: auth.scope().region().to_owned(),
            },
            Some(user_name) => {
                let Some(user) = view.snapshot.user(&key.account_id, user_name) else {
                    return Err(SigV4Error::UnknownAccessKey {
                        access_key_id: access_key_id.to_owned(),
                    });
                };
                Caller {
                    kind: CallerKind::User {
                        user_name: user.name.clone(),
                    },
                    account_id: key.account_id.clone(),
                    arn: user.arn(),
                    user_id: user.user_id.clone(),
                    access_key_id: access_key_id.to_owned(),
                    region: auth.scope().region().to_owned(),
                }
            }
        };
        (caller, Cow::Borrowed(secret))
    };
    Ok((caller, secret))
}

/// The one place SigV4 failures become query-protocol errors.
/// The wire message is AWS's text; the precise cause goes to the debug log.
pub(crate) fn sigv4_error(error: SigV4Error) -> AwsError {
    tracing::debug!(cause = %error, "authentication failed");
    AwsError {
        code: std::borrow::Cow::Borrowed(error.code()),
        status: error.http_status(),
        message: error.message(),
        fault: mayfly_wire::Fault::Sender,
    }
}
