//! JSON Web Keys (RFC 7517, 7518 6) and signature verification with
//! aws-lc-rs. The algorithm is decided by the key: its `kty`, `crv` and
//! `alg` say what it verifies; the token header only picks among what the
//! key allows, and `none` and HMAC are never among them.

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::error::{JwksError, OidcError, clip};

/// Largest JWKS document accepted. Real ones hold a handful of keys (a
/// 4096-bit RSA key is under 1 KiB of JSON).
pub const JWKS_SIZE_LIMIT: usize = 64 * 1024;

/// Most keys read from one JWKS.
const MAX_KEYS: usize = 100;

/// A signature algorithm Mayfly verifies (sts-api.md 9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
}

const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::Rs256,
    Algorithm::Rs384,
    Algorithm::Rs512,
    Algorithm::Ps256,
    Algorithm::Ps384,
    Algorithm::Ps512,
];

impl Algorithm {
    /// The JWA name, e.g. `RS256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
        }
    }

    /// The algorithm with JWA name `name` (case-sensitive, RFC 7518 3.1);
    /// `None` for anything else, including `none` and `HS*`.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            RSA_ALGORITHMS.as_slice(),
            &[Algorithm::Es256, Algorithm::Es384, Algorithm::Es512],
        ]
        .concat()
        .into_iter()
        .find(|a| a.name() == name)
    }

    fn rsa_parameters(self) -> Option<&'static RsaParameters> {
        Some(match self {
            Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }
}

/// An elliptic curve of an `EC` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The one algorithm a key on this curve verifies (RFC 7518 3.4).
    fn algorithm(self) -> Algorithm {
        match self {
            Curve::P256 => Algorithm::Es256,
            Curve::P384 => Algorithm::Es384,
            Curve::P521 => Algorithm::Es512,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicKey {
    /// Big-endian modulus (no leading zeros) and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point `04 || x || y`.
    Ec { curve: Curve, point: Vec<u8> },
}

/// One signing key from a JWKS.
#[derive(Clone)]
pub struct Jwk {
    kid: String,
    /// The key's `alg`, when it names one.
    alg: Option<Algorithm>,
    key: PublicKey,
    /// The key parsed once per algorithm it verifies, so a cached JWKS
    /// costs no key parsing per token. A key aws-lc-rs refuses has none
    /// and verifies nothing.
    verifiers: Vec<(Algorithm, ParsedPublicKey)>,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Jwk {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.alg == other.alg && self.key == other.key
    }
}

impl Eq for Jwk {}

#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

impl Jwk {
    /// The key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithms this key verifies, decided by the key alone.
    fn algorithms(&self) -> Vec<Algorithm> {
        match (&self.key, self.alg) {
            (_, Some(alg)) => vec![alg],
            (PublicKey::Rsa { .. }, None) => RSA_ALGORITHMS.to_vec(),
            (PublicKey::Ec { curve, .. }, None) => vec![curve.algorithm()],
        }
    }

    /// Choose the algorithm for a token whose header says `header_alg`:
    /// it must be one this key verifies.
    pub(crate) fn algorithm_for(&self, header_alg: &str) -> Result<Algorithm, OidcError> {
        let allowed = self.algorithms();
        allowed
            .iter()
            .copied()
            .find(|a| a.name() == header_alg)
            .ok_or_else(|| OidcError::AlgorithmMismatch {
                kid: clip(&self.kid, 64),
                key_algorithms: allowed
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join("/"),
                alg: clip(header_alg, 16),
            })
    }

    /// Verify `signature` over `message` with this key and `alg` (which
    /// [`Jwk::algorithm_for`] returned).
    pub(crate) fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), OidcError> {
        let bad = || OidcError::BadSignature {
            kid: clip(&self.kid, 64),
        };
        let (_, verifier) = self
            .verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .ok_or_else(bad)?;
        verifier.verify_sig(message, sig).map_err(|_| bad())
    }

    /// Parse the key once for each algorithm it verifies.
    fn parse_verifiers(&mut self) {
        for alg in self.algorithms() {
            let parsed = match (&self.key, alg.rsa_parameters()) {
                (PublicKey::Rsa { n, e }, Some(params)) => RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                }
                .to_parsed_public_key(params)
                .ok(),
                (PublicKey::Ec { curve, point }, None) if curve.algorithm() == alg => {
                    let verification: &'static dyn signature::VerificationAlgorithm = match curve {
                        Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
                        Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
                        Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
                    };
                    ParsedPublicKey::new(verification, point).ok()
                }
                _ => None,
            };
            if let Some(parsed) = parsed {
                self.verifiers.push((alg, parsed));
            }
        }
    }

    /// Read one key; `Ok(None)` for keys that cannot verify signatures
    /// (encryption keys, symmetric keys, unknown types, no `kid`), which a
    /// JWKS may legitimately hold next to its signing keys.
    fn from_raw(raw: RawJwk) -> Result<Option<Self>, String> {
        let Some(kid) = raw.kid.filter(|k| !k.is_empty()) else {
            return Ok(None);
        };
        if raw.use_.as_deref().is_some_and(|u| u != "sig") {
            return Ok(None);
        }
        if raw
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
        {
            return Ok(None);
        }
        let alg = match raw.alg.as_deref() {
            None => None,
            Some(name) => match Algorithm::from_name(name) {
                Some(alg) => Some(alg),
                // `HS256`, `none`, `RSA-OAEP`...: never a signing key here.
                None => return Ok(None),
            },
        };
        let key = match raw.kty.as_deref() {
            Some("RSA") => {
                let (Some(n), Some(e)) = (raw.n, raw.e) else {
                    return Err(format!("RSA key `{}` lacks `n` or `e`", clip(&kid, 64)));
                };
                let n = strip_leading_zeros(b64(&n, "n", &kid)?);
                let e = strip_leading_zeros(b64(&e, "e", &kid)?);
                if n.is_empty() || e.is_empty() {
                    return Err(format!(
                        "RSA key `{}` has an empty `n` or `e`",
                        clip(&kid, 64)
                    ));
                }
                if alg.is_some_and(|a| a.rsa_parameters().is_none()) {
                    return Ok(None);
                }
                PublicKey::Rsa { n, e }
            }
            Some("EC") => {
                let curve = match raw.crv.as_deref() {
                    Some("P-256") => Curve::P256,
                    Some("P-384") => Curve::P384,
                    Some("P-521") => Curve::P521,
                    _ => return Ok(None),
                };
                if alg.is_some_and(|a| a != curve.algorithm()) {
                    return Err(format!(
                        "EC key `{}` on its curve cannot be used with its `alg`",
                        clip(&kid, 64)
                    ));
                }
                let (Some(x), Some(y)) = (raw.x, raw.y) else {
                    return Err(format!("EC key `{}` lacks `x` or `y`", clip(&kid, 64)));
                };
                let x = b64(&x, "x", &kid)?;
                let y = b64(&y, "y", &kid)?;
                let len = curve.coordinate_len();
                if x.len() != len || y.len() != len {
                    return Err(format!(
                        "EC key `{}` has coordinates of the wrong length",
                        clip(&kid, 64)
                    ));
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                PublicKey::Ec { curve, point }
            }
            _ => return Ok(None),
        };
        let mut jwk = Jwk {
            kid,
            alg,
            key,
            verifiers: Vec::new(),
        };
        jwk.parse_verifiers();
        Ok(Some(jwk))
    }
}

fn b64(text: &str, field: &str, kid: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| {
        format!(
            "`{field}` of key `{}` is not unpadded base64url",
            clip(kid, 64)
        )
    })
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// The signing keys of an issuer's JWKS (RFC 7517 5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

impl JwkSet {
    /// Parse a JWKS document, keeping the keys that can verify signatures.
    /// A malformed signing key refuses the whole document (it would
    /// otherwise fail later, far from its cause).
    pub fn parse(bytes: &[u8]) -> Result<Self, JwksError> {
        if bytes.len() > JWKS_SIZE_LIMIT {
            return Err(JwksError::TooLarge {
                size: bytes.len(),
                limit: JWKS_SIZE_LIMIT,
            });
        }
        let malformed = |reason: String| JwksError::Malformed { reason };
        let raw: RawJwks = serde_json::from_slice(bytes).map_err(|e| {
            malformed(format!(
                "expected {{\"keys\": [...]}}: {}",
                clip(&e.to_string(), 120)
            ))
        })?;
        if raw.keys.len() > MAX_KEYS {
            return Err(malformed(format!("more than {MAX_KEYS} keys")));
        }
        let mut keys = Vec::new();
        for value in raw.keys {
            let raw: RawJwk = serde_json::from_value(value).map_err(|e| {
                malformed(format!("a key is not a JWK: {}", clip(&e.to_string(), 120)))
            })?;
            if let Some(key) = Jwk::from_raw(raw).map_err(malformed)? {
                keys.push(key);
            }
        }
        Ok(Self { keys })
    }

    /// The one key with id `kid`.
    pub fn find(&self, kid: &str) -> Result<&Jwk, OidcError> {
        let mut matching = self.keys.iter().filter(|k| k.kid == kid);
        match (matching.next(), matching.next()) {
            (Some(key), None) => Ok(key),
            (None, _) => Err(OidcError::UnknownKid { kid: clip(kid, 64) }),
            (Some(_), Some(_)) => Err(OidcError::AmbiguousKid { kid: clip(kid, 64) }),
        }
    }

    /// Whether a key with id `kid` is present.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid == kid)
    }

    /// The signing keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_symmetric_encryption_and_kidless_keys() {
        let set = JwkSet::parse(
            br#"{"keys":[
                {"kty":"oct","kid":"h","k":"c2VjcmV0"},
                {"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"},
                {"kty":"RSA","n":"AQAB","e":"AQAB"},
                {"kty":"RSA","kid":"hs","alg":"HS256","n":"AQAB","e":"AQAB"}
            ]}"#,
        )
        .unwrap();
        assert!(set.keys().is_empty());
    }

    #[test]
    fn refuses_a_signing_key_with_bad_base64() {
        let err = JwkSet::parse(br#"{"keys":[{"kty":"RSA","kid":"a","n":"++","e":"AQAB"}]}"#);
        assert!(matches!(err, Err(JwksError::Malformed { .. })));
    }

    #[test]
    fn refuses_an_ec_key_whose_alg_disagrees_with_its_curve() {
        let x = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let doc = format!(
            r#"{{"keys":[{{"kty":"EC","kid":"a","crv":"P-256","alg":"ES384","x":"{x}","y":"{x}"}}]}}"#
        );
        assert!(JwkSet::parse(doc.as_bytes()).is_err());
    }

    #[test]
    fn rsa_key_without_alg_allows_only_rsa_algorithms() {
        let set =
            JwkSet::parse(br#"{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}"#).unwrap();
        let key = set.find("a").unwrap();
        assert_eq!(key.algorithm_for("PS384").unwrap(), Algorithm::Ps384);
        assert!(key.algorithm_for("HS256").is_err());
        assert!(key.algorithm_for("ES256").is_err());
        assert!(key.algorithm_for("none").is_err());
    }

    #[test]
    fn rsa_key_with_alg_allows_only_that_algorithm() {
        let set = JwkSet::parse(
            br#"{"keys":[{"kty":"RSA","kid":"a","alg":"RS256","n":"AQAB","e":"AQAB"}]}"#,
        )
        .unwrap();
        let key = set.find("a").unwrap();
        assert!(key.algorithm_for("RS256").is_ok());
        assert!(key.algorithm_for("RS512").is_err());
    }

    #[test]
    fn duplicate_kids_are_ambiguous() {
        let set = JwkSet::parse(
            br#"{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"},{"kty":"RSA","kid":"a","n":"AQAC","e":"AQAB"}]}"#,
        )
        .unwrap();
        assert!(matches!(set.find("a"), Err(OidcError::AmbiguousKid { .. })));
    }

    #[test]
    fn refuses_oversized_documents() {
        let big = vec![b' '; JWKS_SIZE_LIMIT + 1];
        assert!(matches!(
            JwkSet::parse(&big),
            Err(JwksError::TooLarge { .. })
        ));
    }
}
