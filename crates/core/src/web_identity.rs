//! AssumeRoleWithWebIdentity (sts-api.md 9.2): an OIDC ID token from an
//! identity provider registered in IAM becomes a role session.
//!
//! The order: validate parameters → parse the token (unverified) → find the
//! provider by `iss` in the role's account → fetch its signing keys through
//! the [`OidcKeySource`] (core does no HTTP) → verify signature and claims
//! ([`mayfly_federation::oidc::verify`]) → trust policy with the provider as
//! `Federated` principal and the claims as condition keys → duration →
//! mint. Refusals are logged with their reason; the token never is.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use mayfly_federation::oidc::{self, JwkSet, OidcError, OidcErrorCode, UnverifiedToken};
use mayfly_token::SessionTag;
use mayfly_wire::{AwsError, Pattern, QueryParams, STS_NAMESPACE, ValidationErrors, XmlWriter};

use crate::audit::{AuditExternalIdentity, ExternalIdentityKind};
use crate::authz::{self, FederatedAssumeRequest};
use crate::role_session::{self, RoleSessionRequest};
use crate::session;
use crate::{ActionContext, ActionResult};

/// Why an issuer's signing keys could not be had; becomes
/// `IDPCommunicationError` (botocore retries it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OidcKeyError {
    /// What went wrong, for the client and the log (never a secret).
    pub message: String,
}

impl OidcKeyError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// A future returned by [`OidcKeySource::signing_keys`].
pub type SigningKeysFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Arc<JwkSet>, OidcKeyError>> + Send + 'a>>;

/// Where the signing keys of OIDC issuers come from: OIDC discovery and
/// the JWKS, fetched and cached by the server (`mayfly-server`'s `jwks`).
pub trait OidcKeySource: Send + Sync + fmt::Debug {
    /// The current key set of `issuer` (`https://host/path`, exactly the
    /// token's `iss`). When the cached set lacks `kid`, an implementation
    /// refetches (rate-limited) before answering; the caller then reports
    /// an unknown `kid` itself.
    fn signing_keys<'a>(&'a self, issuer: &'a str, kid: &'a str) -> SigningKeysFuture<'a>;
}

/// The key source of a [`crate::Core`] nobody gave one: every web identity
/// call fails with `IDPCommunicationError`.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoOidcKeySource;

impl OidcKeySource for NoOidcKeySource {
    fn signing_keys<'a>(&'a self, _issuer: &'a str, _kid: &'a str) -> SigningKeysFuture<'a> {
        Box::pin(async {
            Err(OidcKeyError::new(
                "this server cannot fetch OIDC signing keys (no key source configured)",
            ))
        })
    }
}

/// The IAM provider URL (`host/path`, no scheme) a token issuer maps to,
/// or `None` if the issuer is not an acceptable URL: `https://`, or with
/// `allow_http` an `http://` loopback issuer.
pub(crate) fn provider_url_of_issuer(issuer: &str, allow_http: bool) -> Option<String> {
    let rest = if let Some(rest) = issuer.strip_prefix("https://") {
        rest
    } else {
        let rest = issuer.strip_prefix("http://")?;
        if !allow_http || !is_loopback_authority(rest.split('/').next().unwrap_or_default()) {
            return None;
        }
        rest
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return None;
    }
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    if host.is_empty() {
        return None;
    }
    let host = host.to_ascii_lowercase();
    Some(if path.is_empty() {
        host
    } else {
        format!("{host}/{path}")
    })
}

/// Whether `authority` (`host[:port]`) names a loopback host.
pub(crate) fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The AWS error for a refused token; the precise reason is logged.
fn token_error(error: &OidcError) -> AwsError {
    tracing::info!(reason = %error, "web identity token refused");
    match error.code() {
        OidcErrorCode::ExpiredToken => AwsError::expired_token_exception(format!(
            "Token expired: {error}. Get a fresh ID token from the identity provider."
        )),
        OidcErrorCode::InvalidIdentityToken => AwsError::invalid_identity_token(match error {
            OidcError::Malformed { .. } => format!(
                "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token): {error}"
            ),
            _ => format!("{error}"),
        }),
    }
}

/// AssumeRoleWithWebIdentity (9.2).
pub(crate) async fn assume_role_with_web_identity(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    // Parameters (9.2 table, 3).
    let mut v = ValidationErrors::new();
    let role_arn = v.required("RoleArn", params.string("RoleArn"));
    let session_name = v.required("RoleSessionName", params.string("RoleSessionName"));
    let token_text = v.required("WebIdentityToken", params.string("WebIdentityToken"));
    let provider_id = params.string("ProviderId");
    let duration = params.integer("DurationSeconds", &mut v);
    let policies = session::read_session_policies(params, &mut v, 2048)?;
    params.finish_unknown()?;
    if let Some(arn) = &role_arn {
        v.length("RoleArn", arn, 20, 2048);
    }
    if let Some(name) = &session_name {
        v.length("RoleSessionName", name, 2, 64);
        v.pattern("RoleSessionName", name, Pattern::RoleSessionName);
    }
    if let Some(token) = &token_text {
        v.sensitive_length("WebIdentityToken", token, 4, 20_000);
    }
    if let Some(id) = &provider_id {
        v.length("ProviderId", id, 4, 2048);
    }
    if let Some(d) = duration {
        v.range("DurationSeconds", d, 900, 43_200);
    }
    v.into_result()?;
    let (Some(role_arn), Some(session_name), Some(token_text)) =
        (role_arn, session_name, token_text)
    else {
        return Err(AwsError::internal());
    };
    if let Some(id) = &provider_id {
        // ProviderId is only for OAuth 2.0 access tokens of www.amazon.com
        // and graph.facebook.com, whose token-info endpoints Mayfly does not
        // call: the claim cannot be accepted ([choice], DESIGN notes).
        return Err(AwsError::idp_rejected_claim(format!(
            "ProviderId `{}` names an OAuth 2.0 provider; this server accepts only OpenID Connect ID tokens: omit ProviderId",
            crate::truncate(id, 128)
        )));
    }

    // The token, unverified: only to find the provider and the key.
    let token = UnverifiedToken::parse(&token_text).map_err(|e| token_error(&e))?;
    let issuer = token
        .issuer()
        .ok_or_else(|| token_error(&OidcError::MissingClaim { claim: "iss" }))?
        .to_owned();
    let allow_http = ctx.core.config.allow_http_issuer;
    let role_account = crate::arn::Arn::parse(&role_arn)
        .map(|a| a.account.to_owned())
        .unwrap_or_default();
    let provider = provider_url_of_issuer(&issuer, allow_http).and_then(|url| {
        ctx.view
            .snapshot
            .oidc_provider_by_url(&role_account, &url)
            .cloned()
    });
    let Some(provider) = provider else {
        tracing::info!(issuer = %crate::truncate(&issuer, 256), account = %role_account, "no OIDC provider for the token's issuer");
        return Err(AwsError::invalid_identity_token(format!(
            "No OpenIDConnect provider found in your account for {}",
            crate::truncate(&issuer, 256)
        )));
    };
    let provider_arn = provider.arn();
    // Refuse what no key could verify before asking the network.
    if oidc::Algorithm::from_name(token.algorithm()).is_none() {
        return Err(token_error(&OidcError::ForbiddenAlgorithm {
            alg: crate::truncate(token.algorithm(), 16).to_owned(),
        }));
    }
    let kid = token
        .key_id()
        .ok_or_else(|| token_error(&OidcError::MissingKid))?;
    let keys = ctx
        .core
        .oidc_keys
        .signing_keys(&issuer, kid)
        .await
        .map_err(|error| {
            tracing::warn!(issuer = %crate::truncate(&issuer, 256), %error, "fetching the issuer's signing keys failed");
            AwsError::idp_communication_error(format!(
                "Couldn't retrieve verification key from your identity provider: {error}"
            ))
        })?;
    let now = i64::try_from(ctx.core.clock.unix_now()).unwrap_or(i64::MAX);
    let claims = oidc::verify(
        &token,
        &keys,
        &oidc::Expectations {
            issuer: &issuer,
            client_ids: &provider.client_ids,
            now,
            leeway_seconds: oidc::DEFAULT_LEEWAY_SECONDS,
        },
    )
    .map_err(|e| token_error(&e))?;
    ctx.audit_facts.external_identity = Some(AuditExternalIdentity {
        kind: ExternalIdentityKind::WebIdentity,
        identity_provider: provider_arn.clone(),
        audience: Some(claims.audience.clone()),
        subject: claims.subject.clone(),
    });

    // Tags and source identity from the token (6, 7).
    let tags = claim_tags(claims.session_tags.as_deref())?;
    let source_identity = claims.source_identity.clone();
    if let Some(si) = &source_identity {
        let mut v = ValidationErrors::new();
        session::validate_source_identity(&mut v, si);
        if !v.is_empty() || session::source_identity_reserved(si) {
            return Err(AwsError::invalid_identity_token(
                "The token's https://aws.amazon.com/source_identity claim must have 2 to 64 characters of [\\w+=,.@-] and not begin with `aws:`",
            ));
        }
    }

    // Trust policy: Federated = the provider ARN, claims as condition keys.
    let prefix = &provider.url;
    let mut provider_keys = vec![
        (format!("{prefix}:aud"), vec![claims.audience.clone()]),
        (format!("{prefix}:sub"), vec![claims.subject.clone()]),
    ];
    if !claims.amr.is_empty() {
        provider_keys.push((format!("{prefix}:amr"), claims.amr.clone()));
    }
    if let Some(azp) = &claims.authorized_party {
        provider_keys.push((format!("{prefix}:azp"), vec![azp.clone()]));
        provider_keys.push((format!("{prefix}:oaud"), vec![claims.audience.clone()]));
    }
    let role = authz::authorize_federated(
        ctx,
        &FederatedAssumeRequest {
            action: "sts:AssumeRoleWithWebIdentity",
            role_arn: &role_arn,
            provider_arn: &provider_arn,
            session_name: &session_name,
            provider_keys,
            source_identity: source_identity.as_deref(),
            request_tags: &tags,
            tags_given: claims.session_tags.is_some(),
        },
    )?;

    // Duration: as long as the role allows, not capped by the token's exp (4, 9.2).
    let duration = role_session::session_duration(&role, duration, false)?;
    let session = role_session::mint(
        ctx,
        RoleSessionRequest {
            role: &role,
            session_name: &session_name,
            duration,
            policies: &policies,
            tags,
            source_identity,
            mfa_authenticated_at: None,
            role_chained: false,
            federated_provider: Some(provider_arn),
            parent_access_key_id: None,
            context_keys: Default::default(),
        },
    )?;
    let mut w = XmlWriter::response("AssumeRoleWithWebIdentity", STS_NAMESPACE);
    session.write_result(&mut w);
    w.text("SubjectFromWebIdentityToken", &claims.subject);
    w.text("Audience", &claims.audience);
    w.text("Provider", &claims.issuer);
    Ok(w.finish(ctx.request_id))
}

/// The `https://aws.amazon.com/tags` claim's tags, checked with the rules
/// of the `Tags` parameter (sts-api.md 6): ≤ 50, key and value formats, no
/// `aws:` prefix, no case-insensitive duplicates.
fn claim_tags(tags: Option<&[oidc::TokenTag]>) -> Result<Vec<SessionTag>, AwsError> {
    let Some(tags) = tags else {
        return Ok(Vec::new());
    };
    let invalid = |reason: String| {
        tracing::info!(%reason, "web identity token's session tags refused");
        AwsError::invalid_identity_token(format!(
            "The token's https://aws.amazon.com/tags claim is invalid: {reason}"
        ))
    };
    if tags.len() > 50 {
        return Err(invalid(format!(
            "{} tags, more than the 50 a session may have",
            tags.len()
        )));
    }
    let mut out: Vec<SessionTag> = Vec::with_capacity(tags.len());
    for tag in tags {
        let key_ok =
            (1..=128).contains(&tag.key.chars().count()) && Pattern::TagKey.matches(&tag.key);
        let value_ok = tag.value.chars().count() <= 256 && Pattern::TagValue.matches(&tag.value);
        if !key_ok || !value_ok {
            return Err(invalid(format!(
                "tag `{}` has a key or value of the wrong length or characters",
                crate::truncate(&tag.key, 128)
            )));
        }
        let reserved = |t: &str| t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"));
        if reserved(&tag.key) || reserved(&tag.value) {
            return Err(invalid(
                "tag keys and values cannot begin with the reserved prefix `aws:`".to_owned(),
            ));
        }
        if out.iter().any(|t| session::same_key(&t.key, &tag.key)) {
            return Err(invalid(format!(
                "duplicate tag key `{}` (tag keys are case insensitive)",
                crate::truncate(&tag.key, 128)
            )));
        }
        out.push(SessionTag {
            key: tag.key.clone(),
            value: tag.value.clone(),
            transitive: tag.transitive,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_maps_to_the_provider_url() {
        assert_eq!(
            provider_url_of_issuer("https://Token.Actions.GitHubUserContent.com", false).as_deref(),
            Some("token.actions.githubusercontent.com")
        );
        assert_eq!(
            provider_url_of_issuer("https://oidc.eks.us-west-2.amazonaws.com/id/ABC/", false)
                .as_deref(),
            Some("oidc.eks.us-west-2.amazonaws.com/id/ABC")
        );
        assert_eq!(provider_url_of_issuer("https://", false), None);
        assert_eq!(provider_url_of_issuer("https://a?b", false), None);
    }

    #[test]
    fn http_issuers_need_the_flag_and_a_loopback_host() {
        assert_eq!(provider_url_of_issuer("http://127.0.0.1:8080", false), None);
        assert_eq!(
            provider_url_of_issuer("http://127.0.0.1:8080", true).as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            provider_url_of_issuer("http://localhost/x", true).as_deref(),
            Some("localhost/x")
        );
        assert_eq!(
            provider_url_of_issuer("http://[::1]:9/x", true).as_deref(),
            Some("[::1]:9/x")
        );
        assert_eq!(provider_url_of_issuer("http://idp.example", true), None);
        assert_eq!(provider_url_of_issuer("http://10.0.0.1", true), None);
    }

    #[test]
    fn claim_tags_follow_the_session_tag_rules() {
        let tag = |k: &str, v: &str| oidc::TokenTag {
            key: k.to_owned(),
            value: v.to_owned(),
            transitive: false,
        };
        assert!(claim_tags(Some(&[tag("Project", "blue")])).is_ok());
        assert!(claim_tags(Some(&[tag("aws:x", "blue")])).is_err());
        assert!(claim_tags(Some(&[tag("a", "1"), tag("A", "2")])).is_err());
        assert!(claim_tags(Some(&[tag("bad*key", "1")])).is_err());
        let many: Vec<_> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert!(claim_tags(Some(&many)).is_err());
    }
}
