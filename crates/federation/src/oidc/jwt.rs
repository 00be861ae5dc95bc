//! Compact JWS parsing (RFC 7515 7.1, RFC 7519): three strict base64url
//! parts, a JSON object header and payload, with size caps. Nothing here
//! trusts what it parses; [`super::verify`] does the checking.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::error::{OidcError, clip};

/// Longest token accepted: the `WebIdentityToken` parameter's maximum
/// (sts-api.md 3).
pub const TOKEN_SIZE_LIMIT: usize = 20_000;

/// Longest decoded header accepted; real headers are under 200 bytes.
const HEADER_SIZE_LIMIT: usize = 1024;

/// A string or an array of strings (`aud`, `amr`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The JOSE header fields Mayfly reads. Derived deserialization refuses a
/// duplicated field; `jku`, `jwk`, `x5u` and `x5c` are ignored (keys come
/// only from the provider's JWKS).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Header {
    pub alg: String,
    pub kid: Option<String>,
    /// Extensions the recipient must understand; Mayfly understands none
    /// (RFC 7515 4.1.11), so any `crit` refuses the token.
    pub crit: Option<serde_json::Value>,
}

/// The claims Mayfly reads. Numeric dates must be integers (sts-api.md 9.2).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Claims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Option<OneOrMany>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    pub azp: Option<String>,
    pub amr: Option<OneOrMany>,
    #[serde(rename = "https://aws.amazon.com/tags")]
    pub aws_tags: Option<serde_json::Value>,
    #[serde(rename = "https://aws.amazon.com/source_identity")]
    pub aws_source_identity: Option<String>,
}

/// A JWT split and decoded but not verified. `Debug` shows only the
/// algorithm, key id and issuer, never the token.
#[derive(Clone)]
pub struct UnverifiedToken {
    pub(crate) header: Header,
    pub(crate) claims: Claims,
    /// `BASE64URL(header) '.' BASE64URL(payload)`, the signed bytes.
    pub(crate) signing_input: String,
    pub(crate) signature: Vec<u8>,
}

impl std::fmt::Debug for UnverifiedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnverifiedToken")
            .field("alg", &self.header.alg)
            .field("kid", &self.header.kid)
            .field("iss", &self.claims.iss)
            .finish_non_exhaustive()
    }
}

impl UnverifiedToken {
    /// Split and decode a compact JWS. Refuses anything but exactly three
    /// non-empty base64url parts (no padding, no stray bits), a JSON object
    /// header with a string `alg`, and a JSON object payload.
    pub fn parse(token: &str) -> Result<Self, OidcError> {
        if token.len() > TOKEN_SIZE_LIMIT {
            return Err(OidcError::malformed(format!(
                "it is {} bytes, over the {TOKEN_SIZE_LIMIT}-byte limit",
                token.len()
            )));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(OidcError::malformed(
                "it does not have exactly three dot-separated parts (You may see this error if you sent an Access Token)",
            ));
        };
        if header.is_empty() || payload.is_empty() || signature.is_empty() {
            return Err(OidcError::malformed(
                "a part is empty (unsigned tokens are never accepted)",
            ));
        }
        let header_bytes = decode_part(header, "header")?;
        if header_bytes.len() > HEADER_SIZE_LIMIT {
            return Err(OidcError::malformed("the header is too large"));
        }
        let payload_bytes = decode_part(payload, "payload")?;
        let signature = decode_part(signature, "signature")?;
        let header: Header = json_object(&header_bytes, "header")?;
        let claims: Claims = json_object(&payload_bytes, "payload")?;
        let signing_input_len = token.len() - signature_len(token);
        Ok(Self {
            header,
            claims,
            signing_input: token[..signing_input_len].to_owned(),
            signature,
        })
    }

    /// The `iss` claim, before verification (to find the provider).
    pub fn issuer(&self) -> Option<&str> {
        self.claims.iss.as_deref()
    }

    /// The header's `kid`, before verification (to pick the key).
    pub fn key_id(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    /// The header's `alg`, before verification.
    pub fn algorithm(&self) -> &str {
        &self.header.alg
    }
}

/// Length of the signature part plus its leading dot.
fn signature_len(token: &str) -> usize {
    token.rfind('.').map_or(0, |i| token.len() - i)
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>, OidcError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| OidcError::malformed(format!("the {what} is not unpadded base64url")))
}

/// Decode a JSON object (not an array, which serde would also map onto a struct).
fn json_object<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, OidcError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(OidcError::malformed(format!(
            "the {what} is not a JSON object"
        )));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        OidcError::malformed(format!(
            "the {what} is not acceptable JSON: {}",
            clip(&error.to_string(), 120)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(text)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    #[test]
    fn parses_a_well_formed_token() {
        let t = UnverifiedToken::parse(&token(
            r#"{"alg":"RS256","kid":"k1"}"#,
            r#"{"iss":"https://idp","aud":["a","b"],"exp":10}"#,
        ))
        .unwrap();
        assert_eq!(t.issuer(), Some("https://idp"));
        assert_eq!(t.key_id(), Some("k1"));
        assert_eq!(t.signature, b"sig");
        assert!(
            t.signing_input
                .ends_with(&b64(r#"{"iss":"https://idp","aud":["a","b"],"exp":10}"#))
        );
    }

    #[test]
    fn refuses_two_or_four_parts() {
        assert!(UnverifiedToken::parse("a.b").is_err());
        assert!(UnverifiedToken::parse("a.b.c.d").is_err());
    }

    #[test]
    fn refuses_an_empty_signature() {
        let t = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64("{}"));
        assert!(matches!(
            UnverifiedToken::parse(&t),
            Err(OidcError::Malformed { .. })
        ));
    }

    #[test]
    fn refuses_padding_and_standard_alphabet() {
        let header = format!("{}=", b64(r#"{"alg":"RS256"}"#));
        assert!(UnverifiedToken::parse(&format!("{header}.{}.c2ln", b64("{}"))).is_err());
        assert!(
            UnverifiedToken::parse(&format!("{}.{}.c2l+", b64(r#"{"alg":"RS256"}"#), b64("{}")))
                .is_err()
        );
    }

    #[test]
    fn refuses_a_json_array_payload() {
        assert!(UnverifiedToken::parse(&token(r#"{"alg":"RS256"}"#, r#"["x"]"#)).is_err());
    }

    #[test]
    fn refuses_duplicate_claims() {
        let t = token(r#"{"alg":"RS256"}"#, r#"{"iss":"a","iss":"b"}"#);
        assert!(UnverifiedToken::parse(&t).is_err());
    }

    #[test]
    fn refuses_fractional_dates() {
        let t = token(r#"{"alg":"RS256"}"#, r#"{"exp":1.5}"#);
        assert!(UnverifiedToken::parse(&t).is_err());
    }

    #[test]
    fn refuses_oversized_tokens() {
        let long = "a".repeat(TOKEN_SIZE_LIMIT + 1);
        assert!(UnverifiedToken::parse(&long).is_err());
    }

    #[test]
    fn debug_never_shows_the_signature_or_claims() {
        let t = UnverifiedToken::parse(&token(
            r#"{"alg":"RS256","kid":"k"}"#,
            r#"{"sub":"secret-subject"}"#,
        ))
        .unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("secret-subject"));
        assert!(!shown.contains("sig"));
    }
}
