//! AssumeRoleWithSAML (sts-api.md 9.3): a SAML response signed by an
//! identity provider registered in IAM becomes a role session.
//!
//! The order: validate parameters → find the SAML provider named by
//! `PrincipalArn` → verify the response with the provider's metadata
//! ([`mayfly_federation::saml::verify_response`]: signature, wrapping rules,
//! conditions, claims) → the Role attribute must list the requested pair →
//! trust policy with the provider as `Federated` principal and the `saml:*`
//! condition keys → duration (the minimum of the request, the role, the
//! SessionDuration attribute and SessionNotOnOrAfter) → refuse a replayed
//! assertion → mint. Refusals are logged with their reason; the assertion
//! never is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mayfly_federation::saml::{
    self, IdpMetadata, MetadataError, SamlError, SamlErrorCode, VerifyOptions,
};
use mayfly_token::SessionTag;
use mayfly_wire::{AwsError, QueryParams, STS_NAMESPACE, ValidationErrors, XmlWriter};

use crate::audit::{AuditExternalIdentity, ExternalIdentityKind};
use crate::authz::{self, FederatedAssumeRequest};
use crate::role_session::{self, RoleSessionRequest};
use crate::session;
use crate::{ActionContext, ActionResult};

/// What AssumeRoleWithSAML accepts beyond each provider's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlSettings {
    /// Accepted `Audience` values (default `https://signin.aws.amazon.com/saml`).
    pub audiences: Vec<String>,
    /// Accepted `Recipient`/`Destination` endpoints (default: AWS's sign-in
    /// endpoints, so existing IdP configurations work unchanged).
    pub recipients: Vec<String>,
    /// SAML provider ARNs whose responses may be signed or digested with
    /// SHA-1 (refused for every other provider).
    pub sha1_providers: Vec<String>,
}

impl Default for SamlSettings {
    fn default() -> Self {
        let defaults = VerifyOptions::default();
        Self {
            audiences: defaults.audiences,
            recipients: defaults.recipients,
            sha1_providers: Vec::new(),
        }
    }
}

/// This node's AssumeRoleWithSAML state: parsed provider metadata, so the
/// certificates are not parsed on every call. (The assertions already used
/// are in the store, shared by every node: [`record_use`].)
#[derive(Debug, Default)]
pub(crate) struct SamlState {
    /// Provider ARN → (the metadata document it was parsed from, the result).
    metadata: Mutex<HashMap<String, (String, Arc<IdpMetadata>)>>,
}

impl SamlState {
    /// The parsed metadata of `provider_arn`, reparsed when the stored
    /// document changed.
    fn metadata(
        &self,
        provider_arn: &str,
        document: &str,
    ) -> Result<Arc<IdpMetadata>, MetadataError> {
        if let Ok(cache) = self.metadata.lock()
            && let Some((cached_document, parsed)) = cache.get(provider_arn)
            && cached_document == document
        {
            return Ok(Arc::clone(parsed));
        }
        let parsed = Arc::new(IdpMetadata::parse(document)?);
        if let Ok(mut cache) = self.metadata.lock() {
            // Bounded by the providers in the store (100 per account); a
            // deleted provider's entry is dropped when the map grows large.
            if cache.len() >= 1024 {
                cache.clear();
            }
            cache.insert(
                provider_arn.to_owned(),
                (document.to_owned(), Arc::clone(&parsed)),
            );
        }
        Ok(parsed)
    }
}

/// The AWS error for a refused assertion; the precise reason is logged.
fn assertion_error(error: &SamlError) -> AwsError {
    tracing::info!(reason = %error, "SAML assertion refused");
    match error.code() {
        SamlErrorCode::ExpiredToken => AwsError::expired_token_exception(format!(
            "{error}. Sign in at the identity provider again for a fresh assertion."
        )),
        SamlErrorCode::IdpRejectedClaim => AwsError::idp_rejected_claim(format!("{error}")),
        SamlErrorCode::InvalidIdentityToken => AwsError::invalid_identity_token(format!("{error}")),
    }
}

/// AssumeRoleWithSAML (9.3).
pub(crate) async fn assume_role_with_saml(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    // Parameters (9.3 table, 3).
    let mut v = ValidationErrors::new();
    let role_arn = v.required("RoleArn", params.string("RoleArn"));
    let principal_arn = v.required("PrincipalArn", params.string("PrincipalArn"));
    let assertion = v.required("SAMLAssertion", params.string("SAMLAssertion"));
    let duration = params.integer("DurationSeconds", &mut v);
    let policies = session::read_session_policies(params, &mut v, 2048)?;
    params.finish_unknown()?;
    if let Some(arn) = &role_arn {
        v.length("RoleArn", arn, 20, 2048);
    }
    if let Some(arn) = &principal_arn {
        v.length("PrincipalArn", arn, 20, 2048);
    }
    if let Some(a) = &assertion {
        v.sensitive_length("SAMLAssertion", a, 4, 100_000);
    }
    if let Some(d) = duration {
        v.range("DurationSeconds", d, 900, 43_200);
    }
    v.into_result()?;
    let (Some(role_arn), Some(principal_arn), Some(assertion)) =
        (role_arn, principal_arn, assertion)
    else {
        return Err(AwsError::internal());
    };

    // The provider and its metadata.
    let Some(provider) = ctx.view.snapshot.saml_provider(&principal_arn).cloned() else {
        tracing::info!(principal_arn = %crate::truncate(&principal_arn, 256), "no SAML provider for PrincipalArn");
        return Err(AwsError::invalid_identity_token(format!(
            "No SAML provider `{}` exists; create it with CreateSAMLProvider or correct PrincipalArn",
            crate::truncate(&principal_arn, 256)
        )));
    };
    let metadata = ctx
        .core
        .saml
        .metadata(&principal_arn, &provider.metadata_document)
        .map_err(|error| {
        tracing::warn!(%error, provider = %principal_arn, "stored SAML metadata does not parse");
        AwsError::invalid_identity_token(format!(
            "The metadata of SAML provider `{principal_arn}` is unusable ({error}); update it with UpdateSAMLProvider"
        ))
    })?;
    let settings = &ctx.core.config.saml;
    let options = VerifyOptions {
        audiences: settings.audiences.clone(),
        recipients: settings.recipients.clone(),
        allow_sha1: settings.sha1_providers.contains(&principal_arn),
        ..VerifyOptions::default()
    };
    let now = ctx.core.clock.unix_now();
    let verified = saml::verify_response(
        &assertion,
        &metadata,
        &options,
        i64::try_from(now).unwrap_or(i64::MAX),
    )
    .map_err(|e| assertion_error(&e))?;
    ctx.audit_facts.external_identity = Some(AuditExternalIdentity {
        kind: ExternalIdentityKind::Saml,
        identity_provider: saml::name_qualifier(
            &verified.issuer,
            &provider.account_id,
            &provider.name,
        ),
        audience: None,
        subject: verified.subject.clone(),
    });

    let denied = || AwsError::access_denied("Not authorized to perform sts:AssumeRoleWithSAML");
    if !verified.grants(&role_arn, &principal_arn) {
        tracing::info!(role = %crate::truncate(&role_arn, 256), provider = %principal_arn, "the assertion's Role attribute does not list the requested role and provider");
        return Err(denied());
    }

    // Tags and source identity from the attributes (6, 7).
    let tags: Vec<SessionTag> = verified
        .principal_tags
        .iter()
        .map(|(key, value)| SessionTag {
            key: key.clone(),
            value: value.clone(),
            transitive: verified
                .transitive_tag_keys
                .iter()
                .any(|k| session::same_key(k, key)),
        })
        .collect();
    let tags_given =
        !verified.principal_tags.is_empty() || !verified.transitive_tag_keys.is_empty();

    // Trust policy: Federated = the provider ARN, saml:* as condition keys.
    let provider_keys = verified.condition_keys(&provider.account_id, &provider.name);
    let role = authz::authorize_federated(
        ctx,
        &FederatedAssumeRequest {
            action: "sts:AssumeRoleWithSAML",
            role_arn: &role_arn,
            provider_arn: &principal_arn,
            session_name: &verified.role_session_name,
            provider_keys,
            source_identity: verified.source_identity.as_deref(),
            request_tags: &tags,
            tags_given,
        },
    )?;

    // Duration (4): the request (checked against the role), then capped by
    // the SessionDuration attribute and SessionNotOnOrAfter.
    let mut duration = role_session::session_duration(&role, duration, false)?;
    if let Some(attribute) = verified.session_duration {
        duration = duration.min(u64::from(attribute));
    }
    if let Some(limit) = verified.session_not_on_or_after {
        let remaining = u64::try_from(limit).unwrap_or(0).saturating_sub(now);
        duration = duration.min(remaining);
    }

    // Replay (9.3): the first use of an assertion wins, on every node.
    record_use(
        ctx,
        &principal_arn,
        &verified.assertion_id,
        verified.replay_expires_at,
    )
    .await?;

    let session = role_session::mint(
        ctx,
        RoleSessionRequest {
            role: &role,
            session_name: &verified.role_session_name,
            duration,
            policies: &policies,
            tags,
            source_identity: verified.source_identity.clone(),
            mfa_authenticated_at: None,
            role_chained: false,
            federated_provider: Some(principal_arn.clone()),
            parent_access_key_id: None,
            context_keys: Default::default(),
        },
    )?;
    let mut w = XmlWriter::response("AssumeRoleWithSAML", STS_NAMESPACE);
    session.write_result(&mut w);
    w.text("Subject", &verified.subject);
    w.text("SubjectType", &verified.subject_type());
    w.text("Issuer", &verified.issuer);
    w.text("Audience", &verified.recipient);
    w.text(
        "NameQualifier",
        &saml::name_qualifier(&verified.issuer, &provider.account_id, &provider.name),
    );
    Ok(w.finish(ctx.request_id))
}

/// Refuse a replayed assertion (`InvalidIdentityToken`, the code AWS uses
/// for an assertion it will not accept) and remember this one until it
/// expires. The record is in the store, so a replay to another node, or
/// after a restart, is refused too; a store failure refuses the call.
async fn record_use(
    ctx: &ActionContext<'_>,
    provider_arn: &str,
    assertion_id: &str,
    expires_at: i64,
) -> Result<(), AwsError> {
    let expires_at = u64::try_from(expires_at).unwrap_or(0);
    let now = ctx.core.clock.unix_now();
    match ctx
        .core
        .store
        .record_first_use(provider_arn, assertion_id, expires_at, now)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => {
            tracing::info!(provider = %provider_arn, "SAML assertion replayed");
            Err(AwsError::invalid_identity_token(
                "This SAML assertion has already been used; sign in at the identity provider again for a fresh one",
            ))
        }
        Err(error) => {
            tracing::error!(%error, "recording a SAML assertion's use failed");
            Err(AwsError::service_failure())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    const METADATA: &str = include_str!("../../federation/testdata/saml/metadata.xml");

    #[test]
    fn metadata_is_parsed_once_and_again_when_the_document_changes() {
        let state = SamlState::default();
        let arn = "arn:aws:iam::000000000000:saml-provider/Idp";
        let first = state.metadata(arn, METADATA).unwrap();
        assert!(Arc::ptr_eq(&first, &state.metadata(arn, METADATA).unwrap()));
        let changed = METADATA.replace("https://idp.example.test/", "https://other.example.test/");
        let second = state.metadata(arn, &changed).unwrap();
        assert_eq!(second.entity_id, "https://other.example.test/");
        assert!(state.metadata(arn, "<not-metadata/>").is_err());
    }
}
