//! The OpenID Provider configuration document (OIDC Discovery 1.0 §3, §4):
//! fetched from `{issuer}/.well-known/openid-configuration` by the caller,
//! parsed and checked here.

use serde::Deserialize;

use super::error::{DiscoveryError, clip};

/// Largest discovery document accepted; real ones are a few KiB.
pub const DISCOVERY_SIZE_LIMIT: usize = 64 * 1024;

/// Where discovery documents live under an issuer.
pub const WELL_KNOWN_PATH: &str = "/.well-known/openid-configuration";

/// The discovery URL of `issuer` (a trailing `/` is not doubled).
pub fn discovery_url(issuer: &str) -> String {
    format!("{}{WELL_KNOWN_PATH}", issuer.trim_end_matches('/'))
}

/// The parts of a provider's configuration Mayfly uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryDocument {
    /// The issuer, exactly as the tokens' `iss`.
    pub issuer: String,
    /// Where the signing keys are.
    pub jwks_uri: String,
}

#[derive(Deserialize)]
struct RawDocument {
    issuer: Option<String>,
    jwks_uri: Option<String>,
}

impl DiscoveryDocument {
    /// Parse a document fetched for `expected_issuer`; its `issuer` must be
    /// exactly that (OIDC Discovery 4.3: guards against a provider serving
    /// another issuer's configuration).
    pub fn parse(bytes: &[u8], expected_issuer: &str) -> Result<Self, DiscoveryError> {
        if bytes.len() > DISCOVERY_SIZE_LIMIT {
            return Err(DiscoveryError::TooLarge {
                size: bytes.len(),
                limit: DISCOVERY_SIZE_LIMIT,
            });
        }
        let malformed = |reason: &str| DiscoveryError::Malformed {
            reason: reason.to_owned(),
        };
        let raw: RawDocument = serde_json::from_slice(bytes)
            .map_err(|_| malformed("expected a JSON object with `issuer` and `jwks_uri`"))?;
        let issuer = raw.issuer.ok_or_else(|| malformed("no `issuer`"))?;
        let jwks_uri = raw.jwks_uri.ok_or_else(|| malformed("no `jwks_uri`"))?;
        if issuer != expected_issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: expected_issuer.to_owned(),
                found: clip(&issuer, 256),
            });
        }
        if jwks_uri.is_empty() || jwks_uri.chars().any(char::is_whitespace) {
            return Err(malformed("`jwks_uri` is not a URL"));
        }
        Ok(Self { issuer, jwks_uri })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_issuer_and_jwks_uri() {
        let doc = DiscoveryDocument::parse(
            br#"{"issuer":"https://idp.example","jwks_uri":"https://idp.example/keys","response_types_supported":["id_token"]}"#,
            "https://idp.example",
        )
        .unwrap();
        assert_eq!(doc.jwks_uri, "https://idp.example/keys");
    }

    #[test]
    fn refuses_another_issuers_document() {
        let err = DiscoveryDocument::parse(
            br#"{"issuer":"https://evil.example","jwks_uri":"https://evil.example/keys"}"#,
            "https://idp.example",
        );
        assert!(matches!(err, Err(DiscoveryError::IssuerMismatch { .. })));
    }

    #[test]
    fn refuses_a_document_without_jwks_uri() {
        assert!(
            DiscoveryDocument::parse(
                br#"{"issuer":"https://idp.example"}"#,
                "https://idp.example"
            )
            .is_err()
        );
    }

    #[test]
    fn builds_the_well_known_url() {
        assert_eq!(
            discovery_url("https://idp.example/tenant/"),
            "https://idp.example/tenant/.well-known/openid-configuration"
        );
    }
}
