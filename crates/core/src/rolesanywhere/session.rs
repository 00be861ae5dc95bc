//! CreateSession (roles-anywhere.md 3.3): the X.509 signature, the chain to
//! an enabled trust anchor with its CRLs, the profile and role checks, then
//! a role session minted like AssumeRole's for the principal
//! `rolesanywhere.amazonaws.com`. The trust policy is evaluated as for
//! every service principal ([`crate::authz::authorize_service_assume_with`]:
//! the global keys, `aws:ResourceTag/*` of the role), with Roles Anywhere's
//! own keys added: `aws:SourceArn` (the trust anchor), `aws:SourceAccount`,
//! `sts:SourceIdentity`, and the certificate's attributes as
//! `aws:PrincipalTag/*`, `aws:RequestTag/*` and `aws:TagKeys`.
//!
//! Choices where the reference leaves one: the ARNs come from the query
//! string, else the JSON body, and differing values are a
//! `ValidationException`; an unknown trust anchor or profile reads as
//! `AccessDeniedException` (no existence probing); the duration is clamped
//! to the profile's `durationSeconds`, the role's `MaxSessionDuration` and
//! the certificate's `notAfter`; the source identity is `CN=<subject CN>`
//! and a CN outside STS's source-identity pattern refuses the request.
//!
//! Once the signature and the chain verify, the attempt is recorded on the
//! certificate's subject (`failed` when a later check refuses it), at most
//! once a minute unless it shows a new certificate; before that nothing is
//! written, so an unauthenticated caller writes nothing
//! ([`super::subject`]). A chain that verified is remembered with its
//! validity window ([`super::state::ChainCache`]): a device presenting the
//! same chain again costs one signature check, its request's, not three.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mayfly_federation::x509::{
    AnchorBundle, AttributeMapping, Certificate, KeyKind, X509Error, parse_certificate,
    principal_tags, verify_chain,
};
use mayfly_sigv4::RequestParts;
use mayfly_sigv4::x509::{X509PublicKey, authenticate_x509};
use mayfly_token::SessionTag;
use mayfly_wire::AwsError;
use serde_json::{Map, Value, json};

use super::state::{ChainCache, Loaded, ValidityWindow};
use super::subject::{self, Sighting};
use super::{RaArn, Reply, denied, invalid, now_millis, parse_ra_arn};
use crate::ActionContext;
use crate::role_session::{self, RoleSessionRequest};
use crate::session::SessionPolicies;

/// The service principal sessions are assumed by.
const SERVICE_PRINCIPAL: &str = "rolesanywhere.amazonaws.com";
/// At most this many certificates in `X-Amz-X509-Chain`, each at most 16 KiB.
const MAX_CHAIN: usize = 5;
const MAX_CERT_HEADER: usize = 16 * 1024;

const UNTRUSTED: &str = "Untrusted Signing Certificate";

/// `POST /sessions`.
pub(super) async fn create_session(ctx: &mut ActionContext<'_>) -> Result<Reply, AwsError> {
    let request = ctx.request;
    if request.method != "POST" {
        return Err(invalid("CreateSession takes POST"));
    }
    let parts = RequestParts {
        method: request.method,
        path: request.path,
        query: request.query,
        headers: request.headers,
    };
    // 3.3 steps 1-5: the request's own signature.
    let auth = authenticate_x509(&parts, ctx.now).map_err(|error| {
        tracing::debug!(%error, "CreateSession signature refused");
        denied("Invalid signature")
    })?;
    let leaf_der = header(request.headers, "x-amz-x509")
        .filter(|v| v.len() <= MAX_CERT_HEADER)
        .and_then(|v| STANDARD.decode(v).ok())
        .ok_or_else(|| denied(UNTRUSTED))?;
    // The entities, now: a certificate whose chain verified before is
    // kept parsed with them.
    let loaded = ctx
        .core
        .rolesanywhere
        .current(ctx.core, ctx.view.generation)
        .await?;
    let leaf_digest = ChainCache::leaf_digest(&leaf_der);
    let leaf = match loaded.chains.leaf(&leaf_digest) {
        Some(leaf) => leaf,
        None => Arc::new(parse_certificate(&leaf_der).map_err(|error| {
            tracing::debug!(%error, "CreateSession certificate refused");
            denied(UNTRUSTED)
        })?),
    };
    let key = match leaf.key_kind {
        KeyKind::Rsa => X509PublicKey::Rsa(&leaf.public_key),
        KeyKind::EcP256 => X509PublicKey::EcP256(&leaf.public_key),
        KeyKind::EcP384 => X509PublicKey::EcP384(&leaf.public_key),
        KeyKind::EcP521 => X509PublicKey::EcP521(&leaf.public_key),
    };
    auth.verify(&parts, request.body, &leaf.serial_decimal(), key)
        .map_err(|error| {
            tracing::debug!(%error, "CreateSession signature refused");
            denied("Invalid signature")
        })?;

    // The body and the ARNs.
    let body = if request.body.is_empty() {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(request.body) {
            Ok(Value::Object(map)) => map,
            _ => return Err(invalid("The request body is not a JSON object")),
        }
    };
    let anchor_arn = arn_parameter(request.query, &body, "trustAnchorArn")?;
    let profile_arn = arn_parameter(request.query, &body, "profileArn")?;
    let role_arn = arn_parameter(request.query, &body, "roleArn")?;
    let requested_duration = match body.get("durationSeconds") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|d| (900..=43_200).contains(d))
                .ok_or_else(|| invalid("durationSeconds must be between 900 and 43200"))?,
        ),
    };
    let role_session_name = match body.get("roleSessionName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(invalid("roleSessionName must be a string")),
    };
    let instance_properties = instance_properties(&body)?;
    let anchor_ref = parse_ra_arn(&anchor_arn)
        .filter(|a| a.kind == "trust-anchor")
        .ok_or_else(|| invalid("trustAnchorArn is not a trust anchor ARN"))?;
    let profile_ref = parse_ra_arn(&profile_arn)
        .filter(|a| a.kind == "profile")
        .ok_or_else(|| invalid("profileArn is not a profile ARN"))?;

    // Step 6-7: the chain to an enabled anchor, with its CRLs.
    let anchor_key = format!("{}/{}", anchor_ref.account_id, anchor_ref.id);
    let anchor = loaded
        .anchors
        .get(&anchor_key)
        .filter(|a| a.enabled && a.region == anchor_ref.region)
        .ok_or_else(|| denied(UNTRUSTED))?;
    let bundle = loaded
        .bundles
        .get(&anchor_key)
        .ok_or_else(|| denied(UNTRUSTED))?;
    let pool = chain_pool(request.headers)?;
    let crls = loaded
        .crls_by_anchor
        .get(&anchor_arn)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let verified = verify_chain_cached(
        &loaded,
        &anchor_key,
        (&leaf, leaf_digest),
        &pool,
        bundle,
        crls,
        ctx.now,
    );
    verified.map_err(|error| {
        tracing::debug!(%error, serial = %leaf.serial_hex(), "CreateSession certificate refused");
        match error {
            X509Error::Revoked => denied("Certificate revoked"),
            X509Error::Expired => denied("Certificate expired or not yet valid"),
            _ => denied(UNTRUSTED),
        }
    })?;

    // From here on the certificate is authenticated: the attempt is
    // recorded on its subject, granted or refused.
    let outcome = issue(
        ctx,
        &Issue {
            loaded: &loaded,
            anchor_arn: &anchor_arn,
            anchor,
            profile_ref: &profile_ref,
            role_arn: &role_arn,
            leaf: &leaf,
            requested_duration,
            role_session_name: role_session_name.as_deref(),
        },
    );
    let subject_arn = subject::record(
        ctx.core,
        &loaded,
        &Sighting {
            account_id: &anchor.account_id,
            region: &anchor.region,
            leaf: &leaf,
            instance_properties: instance_properties.as_ref(),
            failed: outcome.is_err(),
            now: now_millis(ctx),
        },
    )
    .await;
    let credential = outcome?;
    Ok(Reply::created(json!({
        "credentialSet": [credential],
        "subjectArn": subject_arn,
    })))
}

/// What steps 8-9 work from.
struct Issue<'a> {
    loaded: &'a Loaded,
    anchor_arn: &'a str,
    anchor: &'a mayfly_store::RaTrustAnchor,
    profile_ref: &'a RaArn<'a>,
    role_arn: &'a str,
    leaf: &'a Certificate,
    requested_duration: Option<u64>,
    role_session_name: Option<&'a str>,
}

/// Steps 8-9 for an authenticated certificate: the profile and role checks,
/// the trust policy, then the session; the `credentialSet` element.
fn issue(ctx: &mut ActionContext<'_>, input: &Issue<'_>) -> Result<Value, AwsError> {
    let Issue {
        loaded,
        anchor_arn,
        anchor,
        profile_ref,
        role_arn,
        leaf,
        requested_duration,
        role_session_name,
    } = *input;
    // Step 8: the profile.
    let profile = loaded
        .profiles
        .get(&format!("{}/{}", profile_ref.account_id, profile_ref.id))
        .filter(|p| {
            p.region == profile_ref.region
                && p.account_id == anchor.account_id
                && p.region == anchor.region
        })
        .ok_or_else(|| denied("Profile not found or not usable with this trust anchor"))?;
    if !profile.enabled {
        return Err(denied("Profile is disabled"));
    }
    if !profile.role_arns.iter().any(|r| r == role_arn) {
        return Err(denied(format!(
            "Unable to assume role for {}: the role is not in the profile",
            crate::truncate(role_arn, 256)
        )));
    }
    let session_name = match role_session_name {
        Some(name) => {
            if !profile.accept_role_session_name {
                return Err(denied("Not authorized to set roleSessionName."));
            }
            if !valid_session_name(name) {
                return Err(invalid(
                    "roleSessionName must be 2-64 characters of [\\w+=,.@-]",
                ));
            }
            name.to_owned()
        }
        None => leaf.serial_hex(),
    };

    // Step 9: tags, source identity, trust policy, duration, session.
    let mappings: Vec<AttributeMapping> = profile
        .attribute_mappings
        .iter()
        .map(|m| AttributeMapping {
            certificate_field: m.certificate_field.clone(),
            specifiers: m.specifiers.clone(),
        })
        .collect();
    let tags = principal_tags(leaf, &mappings).map_err(|failed| {
        denied(format!(
            "Unable to assume role for {}. Some attributes failed to be mapped into session tags. {}",
            crate::truncate(role_arn, 256),
            failed.describe()
        ))
    })?;
    let source_identity = match leaf.subject_cn() {
        Some(cn) => {
            let value = format!("CN={cn}");
            if !valid_source_identity(&value) {
                return Err(denied(
                    "The certificate's common name cannot be a source identity",
                ));
            }
            Some(value)
        }
        None => None,
    };
    let view = std::sync::Arc::clone(&ctx.view);
    let role = view
        .snapshot
        .role_by_arn(role_arn)
        .filter(|r| r.account_id == profile.account_id)
        .ok_or_else(|| {
            denied(format!(
                "Unable to assume role for {}",
                crate::truncate(role_arn, 256)
            ))
        })?;
    // Roles Anywhere always tags the session with the certificate's
    // attributes, so the trust policy must allow sts:TagSession too.
    let session_tags: Vec<SessionTag> = tags
        .into_iter()
        .map(|(key, value)| SessionTag {
            key,
            value,
            transitive: false,
        })
        .collect();
    let mut additional = vec!["sts:TagSession"];
    if source_identity.is_some() {
        additional.push("sts:SetSourceIdentity");
    }
    crate::authz::authorize_service_assume_with(
        ctx,
        SERVICE_PRINCIPAL,
        role,
        &session_name,
        &additional,
        |rc| {
            rc.set("aws:SourceArn", anchor_arn.to_owned());
            rc.set("aws:SourceAccount", anchor.account_id.clone());
            if let Some(si) = &source_identity {
                rc.set("sts:SourceIdentity", si.clone());
            }
            // The certificate's attributes are the principal's tags
            // (`aws:PrincipalTag/x509Subject/CN`, `…/x509Issuer/…`,
            // `…/x509SAN/…`) and the tags the session is requested with.
            for tag in &session_tags {
                rc.set(&format!("aws:PrincipalTag/{}", tag.key), tag.value.clone());
            }
            crate::authz::add_request_tags(rc, &session_tags);
        },
    )
    .map_err(|decision| match decision {
        Some(decision) => {
            tracing::info!(role = %role_arn, denied_action = %decision.action, reason = %decision.reason_phrase(),
                "Roles Anywhere session refused by the trust policy");
            denied(format!(
                "Unable to assume role for {}: not authorized to perform {}",
                crate::truncate(role_arn, 256),
                decision.action
            ))
        }
        None => {
            tracing::warn!(role = %role_arn, "the role's trust policy does not parse");
            denied("Unable to assume role")
        }
    })?;

    let ceiling = u64::from(profile.duration_seconds).min(u64::from(role.max_session_duration));
    let mut duration = requested_duration
        .unwrap_or(u64::from(profile.duration_seconds))
        .min(ceiling);
    let now_unix = ctx.core.clock.unix_now();
    if let Ok(not_after) = leaf.not_after.duration_since(std::time::UNIX_EPOCH) {
        duration = duration.min(not_after.as_secs().saturating_sub(now_unix));
    }
    if duration == 0 {
        return Err(denied("Certificate expired or not yet valid"));
    }
    let policies = SessionPolicies {
        inline: profile.session_policy.clone(),
        arns: profile.managed_policy_arns.clone(),
    };
    let session = role_session::mint(
        ctx,
        RoleSessionRequest {
            role,
            session_name: &session_name,
            duration,
            policies: &policies,
            tags: session_tags,
            source_identity: source_identity.clone(),
            mfa_authenticated_at: None,
            role_chained: false,
            federated_provider: None,
            parent_access_key_id: None,
            context_keys: Default::default(),
        },
    )?;
    ctx.issued_access_key_id = Some(session.issued.access_key_id.clone());

    let mut credential = json!({
        "assumedRoleUser": {
            "arn": session.assumed_role_arn,
            "assumedRoleId": session.assumed_role_id,
        },
        "credentials": {
            "accessKeyId": session.issued.access_key_id,
            "secretAccessKey": session.issued.secret_access_key.as_str(),
            "sessionToken": session.issued.session_token,
            "expiration": mayfly_wire::iso8601(crate::clock::from_unix(session.issued.expires_at)),
        },
        "packedPolicySize": session.packed_policy_size.unwrap_or(0),
        "roleArn": role_arn,
    });
    if let (Some(si), Some(map)) = (&source_identity, credential.as_object_mut()) {
        map.insert("sourceIdentity".to_owned(), Value::String(si.clone()));
    }
    Ok(credential)
}

/// `instanceProperties`: absent, or a map of at most 50 entries whose keys
/// and values are strings of 1-200 characters (botocore's
/// `InstancePropertyMap`).
fn instance_properties(
    body: &Map<String, Value>,
) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let properties = match body.get("instanceProperties") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(invalid("instanceProperties must be a map of strings")),
    };
    if properties.len() > 50 {
        return Err(invalid("instanceProperties has more than 50 entries"));
    }
    let length_ok = |s: &str| (1..=200).contains(&s.chars().count());
    properties
        .iter()
        .map(|(key, value)| match value {
            Value::String(value) if length_ok(key) && length_ok(value) => {
                Ok((key.clone(), value.clone()))
            }
            _ => Err(invalid(
                "instanceProperties keys and values must be strings of 1-200 characters",
            )),
        })
        .collect::<Result<BTreeMap<_, _>, _>>()
        .map(Some)
}

/// [`verify_chain`], answered from `loaded.chains` when the same chain to
/// the same anchor verified before and `now` is inside the window where
/// every certificate offered (leaf and pool) is valid. A chain that
/// verifies is remembered with that window, and its leaf (with the SHA-256
/// of its DER) kept parsed; a pool certificate that does not parse leaves
/// it unremembered. Refusals are never remembered.
pub(crate) fn verify_chain_cached(
    loaded: &Loaded,
    anchor_key: &str,
    (leaf, leaf_digest): (&Arc<Certificate>, [u8; 32]),
    pool: &[Vec<u8>],
    bundle: &AnchorBundle,
    crls: &[Vec<u8>],
    now: SystemTime,
) -> Result<(), X509Error> {
    let key = ChainCache::key(anchor_key, &leaf_digest, pool);
    if loaded.chains.verified_at(&key, now) {
        return Ok(());
    }
    verify_chain(leaf, pool, bundle, crls, now)?;
    let mut window = ValidityWindow {
        not_before: leaf.not_before,
        not_after: leaf.not_after,
    };
    for der in pool {
        let Ok(certificate) = parse_certificate(der) else {
            return Ok(());
        };
        window.not_before = window.not_before.max(certificate.not_before);
        window.not_after = window.not_after.min(certificate.not_after);
    }
    loaded
        .chains
        .insert(key, window, leaf_digest, Arc::clone(leaf));
    Ok(())
}

fn header<'a>(headers: &'a [(&'a str, &'a [u8])], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// `X-Amz-X509-Chain`: comma-separated base64 DER certificates.
fn chain_pool(headers: &[(&str, &[u8])]) -> Result<Vec<Vec<u8>>, AwsError> {
    let Some(value) = header(headers, "x-amz-x509-chain") else {
        return Ok(Vec::new());
    };
    if value.len() > MAX_CHAIN * MAX_CERT_HEADER {
        return Err(denied(UNTRUSTED));
    }
    value
        .split(|b| *b == b',')
        .filter(|item| !item.is_empty())
        .take(MAX_CHAIN)
        .map(|item| {
            STANDARD
                .decode(item.trim_ascii())
                .map_err(|_| denied(UNTRUSTED))
        })
        .collect()
}

/// An ARN from the query string or else the body; both and different is a
/// `ValidationException`, neither too.
fn arn_parameter(query: &str, body: &Map<String, Value>, name: &str) -> Result<String, AwsError> {
    let from_query = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    let from_body = match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(invalid(format!("{name} must be a string"))),
    };
    match (from_query, from_body) {
        (Some(q), Some(b)) if q != b => Err(invalid(format!(
            "{name} differs between the query string and the body"
        ))),
        (Some(v), _) | (None, Some(v)) => Ok(v),
        (None, None) => Err(invalid(format!("{name} is required"))),
    }
}

fn session_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.chars().all(session_name_char)
}

fn valid_source_identity(value: &str) -> bool {
    (2..=64).contains(&value.len()) && value.chars().all(session_name_char)
}
