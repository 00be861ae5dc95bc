//! Why an ID token, a JWKS or a discovery document was refused.
//!
//! Messages are one lowercase line a person can act on; they may quote
//! short, truncated claim values (issuer, audience, `kid`), never the token.

/// The AWS error an [`OidcError`] becomes (sts-api.md 9.2, 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcErrorCode {
    /// 400 `InvalidIdentityToken`: unparseable, badly signed, wrong issuer
    /// or audience, not yet valid.
    InvalidIdentityToken,
    /// 400 `ExpiredTokenException`: `exp` (plus the leeway) has passed.
    ExpiredToken,
}

/// A refused ID token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// Not a compact JWS of three base64url parts with JSON header and payload.
    #[error("the token is not a valid JWT: {reason}")]
    Malformed {
        /// What is wrong with its shape.
        reason: String,
    },
    /// `alg` is `none`, an HMAC algorithm or one Mayfly does not implement.
    #[error(
        "the token's algorithm `{alg}` is not accepted; sign with RS256/384/512, PS256/384/512 or ES256/384/512"
    )]
    ForbiddenAlgorithm {
        /// The header's `alg` (truncated).
        alg: String,
    },
    /// The header has no `kid`.
    #[error("the token header has no `kid`; the issuer must name its signing key")]
    MissingKid,
    /// No key in the issuer's JWKS has the token's `kid`.
    #[error("the issuer's JWKS has no signing key with kid `{kid}`")]
    UnknownKid {
        /// The header's `kid` (truncated).
        kid: String,
    },
    /// More than one key in the JWKS has the token's `kid`.
    #[error("the issuer's JWKS has several keys with kid `{kid}`")]
    AmbiguousKid {
        /// The header's `kid` (truncated).
        kid: String,
    },
    /// The key named by `kid` is not for the algorithm in the header.
    #[error("key `{kid}` is for {key_algorithms} but the token header says `{alg}`")]
    AlgorithmMismatch {
        /// The key's id.
        kid: String,
        /// What the key allows.
        key_algorithms: String,
        /// The header's `alg` (truncated).
        alg: String,
    },
    /// The signature does not verify.
    #[error("the token's signature does not verify with key `{kid}`")]
    BadSignature {
        /// The key's id.
        kid: String,
    },
    /// `exp` plus the leeway is in the past.
    #[error("the token expired at {exp} (unix seconds); now is {now}")]
    Expired {
        /// The `exp` claim.
        exp: i64,
        /// The time of the check.
        now: i64,
    },
    /// `nbf` minus the leeway is in the future.
    #[error("the token is not valid before {nbf} (unix seconds); now is {now}")]
    NotYetValid {
        /// The `nbf` claim.
        nbf: i64,
        /// The time of the check.
        now: i64,
    },
    /// `iat` minus the leeway is in the future.
    #[error(
        "the token claims to be issued at {iat} (unix seconds), after now ({now}); check the issuer's clock"
    )]
    IssuedInFuture {
        /// The `iat` claim.
        iat: i64,
        /// The time of the check.
        now: i64,
    },
    /// `iss` is not the provider's issuer.
    #[error("the token's issuer `{found}` is not `{expected}`")]
    IssuerMismatch {
        /// The provider's issuer URL.
        expected: String,
        /// The token's `iss` (truncated).
        found: String,
    },
    /// No `aud` value is among the provider's client ids.
    #[error("Incorrect token audience: none of {found} is a client id of the provider")]
    AudienceMismatch {
        /// The token's audiences, quoted and truncated.
        found: String,
    },
    /// A required claim is absent.
    #[error("the token has no `{claim}` claim")]
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// A claim has the wrong type or an unacceptable value.
    #[error("the token's `{claim}` claim is invalid: {reason}")]
    InvalidClaim {
        /// The claim's name.
        claim: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl OidcError {
    /// The AWS error code this refusal maps to.
    pub fn code(&self) -> OidcErrorCode {
        match self {
            OidcError::Expired { .. } => OidcErrorCode::ExpiredToken,
            _ => OidcErrorCode::InvalidIdentityToken,
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        OidcError::Malformed {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_claim(claim: &'static str, reason: impl Into<String>) -> Self {
        OidcError::InvalidClaim {
            claim,
            reason: reason.into(),
        }
    }
}

/// A refused JWKS document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// Larger than [`crate::oidc::JWKS_SIZE_LIMIT`].
    #[error("the JWKS document is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON of the shape `{"keys": [...]}`.
    #[error("the JWKS document is not valid: {reason}")]
    Malformed {
        /// Why.
        reason: String,
    },
}

/// A refused OpenID Provider configuration document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// Larger than [`crate::oidc::DISCOVERY_SIZE_LIMIT`].
    #[error("the discovery document is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a JSON object with string `issuer` and `jwks_uri`.
    #[error("the discovery document is not valid: {reason}")]
    Malformed {
        /// Why.
        reason: String,
    },
    /// Its `issuer` differs from the issuer it was fetched for (OIDC
    /// Discovery 4.3).
    #[error("the discovery document names issuer `{found}`, not `{expected}`")]
    IssuerMismatch {
        /// The issuer asked for.
        expected: String,
        /// The document's `issuer` (truncated).
        found: String,
    },
}

/// At most `max` characters of untrusted text, for messages.
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
