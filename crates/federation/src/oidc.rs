//! OpenID Connect ID tokens for AssumeRoleWithWebIdentity (sts-api.md 9.2):
//! JWT parsing and verification against the issuer's JWKS.
//!
//! The order of checks: parse ([`UnverifiedToken::parse`]), let the caller
//! find the provider by `iss` and fetch its JWKS, then [`verify`]: the key
//! named by `kid` (required) decides the algorithm, the signature must
//! verify, and only then are `iss`, `aud`, `exp`, `nbf`, `iat` and `sub`
//! checked. Time is passed in; nothing here does I/O.

mod discovery;
mod error;
mod jwk;
mod jwt;

pub use discovery::{DISCOVERY_SIZE_LIMIT, DiscoveryDocument, WELL_KNOWN_PATH, discovery_url};
pub use error::{DiscoveryError, JwksError, OidcError, OidcErrorCode};
pub use jwk::{Algorithm, JWKS_SIZE_LIMIT, Jwk, JwkSet};
pub use jwt::{TOKEN_SIZE_LIMIT, UnverifiedToken};

use error::clip;

/// Clock skew tolerated on `exp`, `nbf` and `iat`: AWS allows five minutes
/// after `exp` (sts-api.md 9.2).
pub const DEFAULT_LEEWAY_SECONDS: i64 = 300;

/// Longest `sub` accepted (`SubjectFromWebIdentityToken` is at most 255).
const SUBJECT_MAX: usize = 255;

/// What a token must match.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The provider's issuer URL (`https://` + its URL); `iss` must equal it.
    pub issuer: &'a str,
    /// The provider's `ClientIDList`; some `aud` value must be among them.
    pub client_ids: &'a [String],
    /// Now, unix seconds.
    pub now: i64,
    /// Skew tolerated on time claims, seconds.
    pub leeway_seconds: i64,
}

/// A session tag from the `https://aws.amazon.com/tags` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTag {
    /// The tag key as given.
    pub key: String,
    /// Its single value.
    pub value: String,
    /// Whether `transitive_tag_keys` names it.
    pub transitive: bool,
}

/// The claims of a verified token that AWS uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedClaims {
    /// `iss`.
    pub issuer: String,
    /// `sub` (`SubjectFromWebIdentityToken`, `{provider}:sub`).
    pub subject: String,
    /// The `aud` value found among the client ids (`Audience`, `{provider}:aud`).
    pub audience: String,
    /// Every `aud` value.
    pub audiences: Vec<String>,
    /// `azp`, when present (`{provider}:azp`).
    pub authorized_party: Option<String>,
    /// `amr` values (`{provider}:amr`).
    pub amr: Vec<String>,
    /// `exp`.
    pub expires_at: i64,
    /// `iat`.
    pub issued_at: i64,
    /// The algorithm the signature was verified with.
    pub algorithm: Algorithm,
    /// `principal_tags` of the `https://aws.amazon.com/tags` claim, in
    /// document order; `None` when the claim is absent.
    pub session_tags: Option<Vec<TokenTag>>,
    /// The `https://aws.amazon.com/source_identity` claim.
    pub source_identity: Option<String>,
}

/// Verify `token` against `keys` and `expect` (sts-api.md 9.2).
pub fn verify(
    token: &UnverifiedToken,
    keys: &JwkSet,
    expect: &Expectations<'_>,
) -> Result<VerifiedClaims, OidcError> {
    let header = &token.header;
    if header.crit.is_some() {
        return Err(OidcError::malformed(
            "the header has `crit` extensions, which are not supported",
        ));
    }
    if Algorithm::from_name(&header.alg).is_none() {
        return Err(OidcError::ForbiddenAlgorithm {
            alg: clip(&header.alg, 16),
        });
    }
    let kid = header.kid.as_deref().ok_or(OidcError::MissingKid)?;
    let key = keys.find(kid)?;
    let algorithm = key.algorithm_for(&header.alg)?;
    key.verify(algorithm, token.signing_input.as_bytes(), &token.signature)?;

    let claims = &token.claims;
    let issuer = claims
        .iss
        .as_deref()
        .ok_or(OidcError::MissingClaim { claim: "iss" })?;
    if issuer != expect.issuer {
        return Err(OidcError::IssuerMismatch {
            expected: expect.issuer.to_owned(),
            found: clip(issuer, 256),
        });
    }
    let now = expect.now;
    let leeway = expect.leeway_seconds;
    let exp = claims.exp.ok_or(OidcError::MissingClaim { claim: "exp" })?;
    if now > exp.saturating_add(leeway) {
        return Err(OidcError::Expired { exp, now });
    }
    if let Some(nbf) = claims.nbf
        && nbf > now.saturating_add(leeway)
    {
        return Err(OidcError::NotYetValid { nbf, now });
    }
    let iat = claims.iat.ok_or(OidcError::MissingClaim { claim: "iat" })?;
    if iat > now.saturating_add(leeway) {
        return Err(OidcError::IssuedInFuture { iat, now });
    }
    let audiences = claims
        .aud
        .clone()
        .ok_or(OidcError::MissingClaim { claim: "aud" })?
        .into_vec();
    let audience = audiences
        .iter()
        .find(|a| expect.client_ids.iter().any(|c| c == *a))
        .cloned()
        .ok_or_else(|| OidcError::AudienceMismatch {
            found: audiences
                .iter()
                .take(5)
                .map(|a| format!("`{}`", clip(a, 64)))
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let subject = claims
        .sub
        .clone()
        .ok_or(OidcError::MissingClaim { claim: "sub" })?;
    if subject.is_empty() || subject.chars().count() > SUBJECT_MAX {
        return Err(OidcError::invalid_claim(
            "sub",
            format!("it must have 1 to {SUBJECT_MAX} characters"),
        ));
    }
    let session_tags = claims.aws_tags.as_ref().map(parse_tags_claim).transpose()?;
    Ok(VerifiedClaims {
        issuer: issuer.to_owned(),
        subject,
        audience,
        audiences,
        authorized_party: claims.azp.clone(),
        amr: claims
            .amr
            .clone()
            .map(jwt::OneOrMany::into_vec)
            .unwrap_or_default(),
        expires_at: exp,
        issued_at: iat,
        algorithm,
        session_tags,
        source_identity: claims.aws_source_identity.clone(),
    })
}

const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";

/// Read `{"principal_tags": {"k": ["v"]}, "transitive_tag_keys": ["k"]}`:
/// one value per key (sts-api.md 6), transitive keys among the tags. The
/// keys' and values' charset and count are checked by the caller with the
/// rules of the `Tags` parameter.
fn parse_tags_claim(value: &serde_json::Value) -> Result<Vec<TokenTag>, OidcError> {
    let invalid = |reason: &str| OidcError::invalid_claim(TAGS_CLAIM, reason);
    let object = value
        .as_object()
        .ok_or_else(|| invalid("it must be a JSON object"))?;
    let mut tags = Vec::new();
    if let Some(principal_tags) = object.get("principal_tags") {
        let map = principal_tags
            .as_object()
            .ok_or_else(|| invalid("`principal_tags` must map each key to a one-element array"))?;
        for (key, values) in map {
            let value = match values.as_array().map(Vec::as_slice) {
                Some([serde_json::Value::String(v)]) => v.clone(),
                _ => {
                    return Err(OidcError::invalid_claim(
                        TAGS_CLAIM,
                        format!(
                            "tag `{}` must have exactly one string value, as `[\"value\"]`",
                            clip(key, 128)
                        ),
                    ));
                }
            };
            tags.push(TokenTag {
                key: key.clone(),
                value,
                transitive: false,
            });
        }
    }
    if let Some(transitive) = object.get("transitive_tag_keys") {
        let keys = transitive
            .as_array()
            .ok_or_else(|| invalid("`transitive_tag_keys` must be an array of tag keys"))?;
        for key in keys {
            let key = key
                .as_str()
                .ok_or_else(|| invalid("`transitive_tag_keys` must be an array of tag keys"))?;
            let tag = tags
                .iter_mut()
                .find(|t| t.key.to_lowercase() == key.to_lowercase())
                .ok_or_else(|| {
                    OidcError::invalid_claim(
                        TAGS_CLAIM,
                        format!(
                            "transitive tag key `{}` is not among `principal_tags`",
                            clip(key, 128)
                        ),
                    )
                })?;
            tag.transitive = true;
        }
    }
    Ok(tags)
}

/// Fuzzing entry point: parse `data` as a token, a JWKS and a discovery
/// document, and verify the token against the JWKS. Never panics.
pub fn fuzz_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let keys = JwkSet::parse(data).unwrap_or_default();
    let _ = DiscoveryDocument::parse(data, "https://idp.example");
    if let Ok(token) = UnverifiedToken::parse(&text) {
        let client_ids = ["client".to_owned()];
        let expect = Expectations {
            issuer: token.issuer().unwrap_or("https://idp.example"),
            client_ids: &client_ids,
            now: 1_700_000_000,
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
        };
        let _ = verify(&token, &keys, &expect);
        if let Some(tags) = &token.claims.aws_tags {
            let _ = parse_tags_claim(tags);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(value: serde_json::Value) -> Result<Vec<TokenTag>, OidcError> {
        parse_tags_claim(&value)
    }

    #[test]
    fn reads_principal_and_transitive_tags() {
        let t = tags(serde_json::json!({
            "principal_tags": {"Project": ["Blue"], "Cost": ["42"]},
            "transitive_tag_keys": ["cost"]
        }))
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].key, "Project");
        assert!(!t[0].transitive);
        assert!(t[1].transitive);
    }

    #[test]
    fn refuses_multi_valued_tags() {
        assert!(tags(serde_json::json!({"principal_tags": {"a": ["1", "2"]}})).is_err());
        assert!(tags(serde_json::json!({"principal_tags": {"a": "1"}})).is_err());
    }

    #[test]
    fn refuses_transitive_keys_without_tags() {
        assert!(tags(serde_json::json!({"transitive_tag_keys": ["a"]})).is_err());
    }
}
