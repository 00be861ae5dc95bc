//! SigV4-X509, the signature of Roles Anywhere `CreateSession`
//! (roles-anywhere.md 3.2, 3.3 steps 1-5).
//!
//! The canonical request is SigV4's generic mode; the algorithm token
//! replaces `AWS4-HMAC-SHA256` in the header and the string to sign, the
//! credential's first part is the certificate serial in decimal, and the
//! signature is an RSA PKCS#1 v1.5 or ECDSA (DER) signature over the string
//! to sign with **SHA-256 whatever the curve or the token's suffix** (the
//! token's named hash is tried second, for a signer that followed it).
//!
//! This module checks the request's own material: grammar, clock skew,
//! required signed headers, the serial against the caller's parsed
//! certificate, key type against the token, and the signature. Parsing the
//! certificate and its chain is the caller's (`mayfly_federation::x509`).

use std::time::SystemTime;

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

use crate::MAX_CLOCK_SKEW;
use crate::canonical::{canonical_query_string, canonical_uri, push_canonical_headers, sha256_hex};
use crate::request::{AuthForm, RequestParts, UriEncoding};
use crate::scope::{CredentialScope, SCOPE_TERMINATOR};
use crate::timestamp::parse_amz_date;

/// The service name of the Roles Anywhere signing scope.
pub const X509_SERVICE: &str = "rolesanywhere";
/// Longest decimal serial: a 20-byte serial has at most 49 digits (50 with slack).
const MAX_SERIAL_DIGITS: usize = 50;
/// Longest signature accepted, in bytes (RSA-8192).
const MAX_SIGNATURE_BYTES: usize = 1024;

/// Why a SigV4-X509 request was refused. The texts name the check only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X509SignatureError {
    /// No `Authorization` header, or more than one.
    #[error("exactly one Authorization header is required")]
    MissingAuthorization,
    /// The algorithm token is not one of the SigV4-X509 tokens.
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// The header does not follow the grammar.
    #[error("malformed authorization: {0}")]
    Malformed(&'static str),
    /// `X-Amz-Date` is missing, repeated, or not `YYYYMMDDTHHMMSSZ`.
    #[error("missing or malformed X-Amz-Date")]
    BadDate,
    /// The request time is more than 15 minutes from the server's.
    #[error("signature expired or not yet valid (clock skew)")]
    Skewed,
    /// The scope's date is not the request date, its service is not
    /// `rolesanywhere`, or its terminator is not `aws4_request`.
    #[error("credential scope mismatch")]
    ScopeMismatch,
    /// A header that must be signed is not, or a signed header is missing.
    #[error("required header not signed: {0}")]
    UnsignedHeader(&'static str),
    /// The credential's serial is not the certificate's.
    #[error("credential serial does not match the certificate")]
    SerialMismatch,
    /// The certificate's key type does not match the algorithm token.
    #[error("key type does not match the algorithm")]
    KeyMismatch,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// The certificate's public key, as the verifier needs it.
#[derive(Debug, Clone, Copy)]
pub enum X509PublicKey<'a> {
    /// PKCS#1 `RSAPublicKey` DER.
    Rsa(&'a [u8]),
    /// P-256 uncompressed point.
    EcP256(&'a [u8]),
    /// P-384 uncompressed point.
    EcP384(&'a [u8]),
    /// P-521 uncompressed point.
    EcP521(&'a [u8]),
}

/// The key family a token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Rsa,
    Ecdsa,
    MlDsa,
}

/// The hash a token names after the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NamedHash {
    Sha256,
    Sha384,
    Sha512,
    None,
}

fn classify(token: &str) -> Option<(Family, NamedHash)> {
    if token == "AWS4-X509-MLDSA" {
        return Some((Family::MlDsa, NamedHash::None));
    }
    let rest = token.strip_prefix("AWS4-X509-")?;
    let (family, hash) = rest.split_once('-')?;
    let family = match family {
        "RSA" => Family::Rsa,
        "ECDSA" => Family::Ecdsa,
        _ => return None,
    };
    let hash = match hash {
        "SHA256" => NamedHash::Sha256,
        "SHA384" => NamedHash::Sha384,
        "SHA512" => NamedHash::Sha512,
        _ => return None,
    };
    Some((family, hash))
}

/// Whether an `Authorization` value starts with a SigV4-X509 token, for
/// dispatch (roles-anywhere.md 2: `AWS4-X509-*` is CreateSession).
pub fn is_x509_authorization(value: &[u8]) -> bool {
    value.starts_with(b"AWS4-X509-")
}

/// A parsed SigV4-X509 `Authorization` header and request date, checked
/// for grammar, skew, scope and signed headers; not yet verified.
#[derive(Debug, Clone)]
pub struct X509Authentication {
    algorithm: String,
    family: Family,
    named_hash: NamedHash,
    serial_decimal: String,
    scope: CredentialScope,
    signed_headers: String,
    signature: Vec<u8>,
    amz_date: String,
}

fn single_header<'a>(parts: &'a RequestParts<'_>, name: &'a str) -> Option<&'a [u8]> {
    let mut values = parts.header_values(name);
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) || text.len() > 2 * MAX_SIGNATURE_BYTES {
        return None;
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some((nibble(*hi)? << 4) | nibble(*lo)?),
            _ => None,
        })
        .collect()
}

/// Parse and check the request's SigV4-X509 material at `now` (3.3 steps 1-2).
pub fn authenticate_x509(
    parts: &RequestParts<'_>,
    now: SystemTime,
) -> Result<X509Authentication, X509SignatureError> {
    let malformed = X509SignatureError::Malformed;
    let header =
        single_header(parts, "authorization").ok_or(X509SignatureError::MissingAuthorization)?;
    let header = std::str::from_utf8(header).map_err(|_| malformed("not UTF-8"))?;
    let header = header.trim_matches([' ', '\t']);
    let (algorithm, rest) = header
        .split_once([' ', '\t'])
        .ok_or(malformed("no parameters"))?;
    let (family, named_hash) =
        classify(algorithm).ok_or(X509SignatureError::UnsupportedAlgorithm)?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for param in rest.split(',') {
        let param = param.trim_matches([' ', '\t']);
        let (name, value) = param
            .split_once('=')
            .ok_or(malformed("parameter without `=`"))?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(malformed("unknown parameter")),
        };
        if value.contains([' ', '\t']) || slot.replace(value).is_some() {
            return Err(malformed("whitespace in or repeated parameter"));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(malformed("missing parameter"));
    };

    let mut pieces = credential.split('/');
    let (Some(serial), Some(date), Some(region), Some(service), Some(terminator), None) = (
        pieces.next(),
        pieces.next(),
        pieces.next(),
        pieces.next(),
        pieces.next(),
        pieces.next(),
    ) else {
        return Err(malformed("credential"));
    };
    if serial.is_empty()
        || serial.len() > MAX_SERIAL_DIGITS
        || !serial.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(malformed("credential serial"));
    }
    if service != X509_SERVICE || terminator != SCOPE_TERMINATOR {
        return Err(X509SignatureError::ScopeMismatch);
    }
    let scope =
        CredentialScope::new(date, region, service).map_err(|_| malformed("credential scope"))?;

    let mut previous: Option<&str> = None;
    for name in signed_headers.split(';') {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b',' && !b.is_ascii_uppercase())
            && previous.is_none_or(|p| p < name);
        if !ok {
            return Err(malformed("signed headers"));
        }
        previous = Some(name);
    }
    let is_signed = |wanted: &str| signed_headers.split(';').any(|n| n == wanted);
    for required in ["host", "x-amz-date", "x-amz-x509"] {
        if !is_signed(required) {
            return Err(X509SignatureError::UnsignedHeader(required));
        }
    }
    if parts.has_header("x-amz-x509-chain") && !is_signed("x-amz-x509-chain") {
        return Err(X509SignatureError::UnsignedHeader("x-amz-x509-chain"));
    }
    let signature = decode_hex(signature).ok_or(malformed("signature"))?;

    let amz_date = single_header(parts, "x-amz-date").ok_or(X509SignatureError::BadDate)?;
    let amz_date = std::str::from_utf8(amz_date).map_err(|_| X509SignatureError::BadDate)?;
    let request_time = parse_amz_date(amz_date).ok_or(X509SignatureError::BadDate)?;
    let skew = match now.duration_since(request_time) {
        Ok(age) => age,
        Err(ahead) => ahead.duration(),
    };
    if skew > MAX_CLOCK_SKEW {
        return Err(X509SignatureError::Skewed);
    }
    if amz_date.get(..8) != Some(scope.date()) {
        return Err(X509SignatureError::ScopeMismatch);
    }
    Ok(X509Authentication {
        algorithm: algorithm.to_owned(),
        family,
        named_hash,
        serial_decimal: serial.to_owned(),
        scope,
        signed_headers: signed_headers.to_owned(),
        signature,
        amz_date: amz_date.to_owned(),
    })
}

impl X509Authentication {
    /// The algorithm token as sent.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The certificate serial the credential names, in decimal.
    pub fn serial_decimal(&self) -> &str {
        &self.serial_decimal
    }

    /// The credential scope (its region is the request's).
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }

    /// The string to sign of this request over `body` (3.2): the token,
    /// the date, the scope and the hex SHA-256 of the generic-mode
    /// canonical request.
    pub fn string_to_sign(
        &self,
        parts: &RequestParts<'_>,
        body: &[u8],
    ) -> Result<String, X509SignatureError> {
        let signed: Vec<&str> = self.signed_headers.split(';').collect();
        let mut canonical = Vec::with_capacity(1024);
        canonical.extend_from_slice(parts.method.as_bytes());
        canonical.push(b'\n');
        canonical.extend_from_slice(canonical_uri(parts.path, UriEncoding::Double).as_bytes());
        canonical.push(b'\n');
        canonical
            .extend_from_slice(canonical_query_string(parts.query, AuthForm::Header).as_bytes());
        canonical.push(b'\n');
        push_canonical_headers(&mut canonical, parts.headers, &signed)
            .map_err(|_| X509SignatureError::UnsignedHeader("a signed header is absent"))?;
        canonical.push(b'\n');
        canonical.extend_from_slice(self.signed_headers.as_bytes());
        canonical.push(b'\n');
        canonical.extend_from_slice(sha256_hex(body).as_bytes());
        Ok(format!(
            "{}\n{}\n{}\n{}",
            self.algorithm,
            self.amz_date,
            self.scope,
            sha256_hex(&canonical)
        ))
    }

    /// Verify the signature (3.3 steps 3-5): `serial_decimal` is the
    /// certificate's serial (it must equal the credential's), `key` its
    /// public key (its type must match the token).
    pub fn verify(
        &self,
        parts: &RequestParts<'_>,
        body: &[u8],
        serial_decimal: &str,
        key: X509PublicKey<'_>,
    ) -> Result<(), X509SignatureError> {
        if strip_zeros(serial_decimal) != strip_zeros(&self.serial_decimal) {
            return Err(X509SignatureError::SerialMismatch);
        }
        let candidates: &[&'static dyn VerificationAlgorithm] = match (self.family, key) {
            (Family::Rsa, X509PublicKey::Rsa(_)) => match self.named_hash {
                NamedHash::Sha384 => &[
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    &signature::RSA_PKCS1_2048_8192_SHA384,
                ],
                NamedHash::Sha512 => &[
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    &signature::RSA_PKCS1_2048_8192_SHA512,
                ],
                _ => &[&signature::RSA_PKCS1_2048_8192_SHA256],
            },
            (Family::Ecdsa, X509PublicKey::EcP256(_)) => match self.named_hash {
                NamedHash::Sha384 => &[
                    &signature::ECDSA_P256_SHA256_ASN1,
                    &signature::ECDSA_P256_SHA384_ASN1,
                ],
                NamedHash::Sha512 => &[
                    &signature::ECDSA_P256_SHA256_ASN1,
                    &signature::ECDSA_P256_SHA512_ASN1,
                ],
                _ => &[&signature::ECDSA_P256_SHA256_ASN1],
            },
            (Family::Ecdsa, X509PublicKey::EcP384(_)) => match self.named_hash {
                NamedHash::Sha384 => &[
                    &signature::ECDSA_P384_SHA256_ASN1,
                    &signature::ECDSA_P384_SHA384_ASN1,
                ],
                NamedHash::Sha512 => &[
                    &signature::ECDSA_P384_SHA256_ASN1,
                    &signature::ECDSA_P384_SHA512_ASN1,
                ],
                _ => &[&signature::ECDSA_P384_SHA256_ASN1],
            },
            (Family::Ecdsa, X509PublicKey::EcP521(_)) => match self.named_hash {
                NamedHash::Sha384 => &[
                    &signature::ECDSA_P521_SHA256_ASN1,
                    &signature::ECDSA_P521_SHA384_ASN1,
                ],
                NamedHash::Sha512 => &[
                    &signature::ECDSA_P521_SHA256_ASN1,
                    &signature::ECDSA_P521_SHA512_ASN1,
                ],
                _ => &[&signature::ECDSA_P521_SHA256_ASN1],
            },
            _ => return Err(X509SignatureError::KeyMismatch),
        };
        let key_bytes = match key {
            X509PublicKey::Rsa(b)
            | X509PublicKey::EcP256(b)
            | X509PublicKey::EcP384(b)
            | X509PublicKey::EcP521(b) => b,
        };
        let message = self.string_to_sign(parts, body)?;
        let verified = candidates.iter().any(|algorithm| {
            UnparsedPublicKey::new(*algorithm, key_bytes)
                .verify(message.as_bytes(), &self.signature)
                .is_ok()
        });
        if verified {
            Ok(())
        } else {
            Err(X509SignatureError::BadSignature)
        }
    }
}

fn strip_zeros(digits: &str) -> &str {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    const LEAF: &str = "MIIBzTCCAXOgAwIBAgIFC63A/+4wCgYIKoZIzj0EAwIwOTELMAkGA1UEBhMCVVMxEDAOBgNVBAoMB0V4YW1wbGUxGDAWBgNVBAMMD0V4YW1wbGUgUm9vdCBDQTAeFw0yNDAxMDEwMDAwMDBaFw0zMzEyMjkwMDAwMDBaMEMxCzAJBgNVBAYTAlVTMRAwDgYDVQQKDAdFeGFtcGxlMQwwCgYDVQQLDANEZXYxFDASBgNVBAMMC3dvcmtsb2FkLWVjMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqHGyFzAgobqN6DU9KjOW1VbG/PcO+JFP5h+v0kPZNiXMjWoCr+/Eyt2FKuJI6++Ne14+Ty8gvesZ5A/h5uB0AqNeMFwwDAYDVR0TAQH/BAIwADA8BgNVHREENTAzghFob3N0MS5leGFtcGxlLmNvbYYec3BpZmZlOi8vZXhhbXBsZS5jb20vbnMvYS9zYS9iMA4GA1UdDwEB/wQEAwIHgDAKBggqhkjOPQQDAgNIADBFAiEAxk1cduDdjEja49cRmmqpkkFCLtxmSrAv1oSapUsNMwcCIAUl+kYYyQtJdMWPCLfke+3Apf61vkh6HnWBTJn5W+a1";
    const AUTHORIZATION: &str = "AWS4-X509-ECDSA-SHA256 Credential=50159747054/20240115/us-east-1/rolesanywhere/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-x509, Signature=3045022100cd66a39b72bbc5e0aff964429cf08fc310a4de9ba9d8cf6cf37b32eab17177e10220535fb3dbcea26e6740ad6e8676543876c88e0dcc65f66e40336f91ee8e7c7d28";
    const BODY: &str = r#"{"durationSeconds": 900, "profileArn": "arn:aws:rolesanywhere:us-east-1:111122223333:profile/a6294488-77cf-4d4a-8c5c-40b96690bbf0", "roleArn": "arn:aws:iam::111122223333:role/demo", "trustAnchorArn": "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/4579702c-9abb-47c2-88b2-c734e0b29539"}"#;

    /// The P-256 point of the vector's leaf: the 65 bytes after the SPKI
    /// BIT STRING header `03 42 00`.
    fn leaf_point() -> Vec<u8> {
        let der = base64_decode(LEAF);
        let at = der
            .windows(4)
            .position(|w| w == [0x03, 0x42, 0x00, 0x04])
            .unwrap();
        der[at + 3..at + 3 + 65].to_vec()
    }

    fn base64_decode(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0u32);
        for c in text.bytes().filter(|c| *c != b'=') {
            let v = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        out
    }

    fn at(seconds_after_vector: u64) -> SystemTime {
        // 2024-01-15T12:00:00Z
        UNIX_EPOCH + Duration::from_secs(1_705_320_000 + seconds_after_vector)
    }

    fn headers(authorization: &str) -> Vec<(&str, &[u8])> {
        vec![
            ("Accept-Encoding", b"identity".as_slice()),
            ("User-Agent", b"python-urllib3/2.7.0".as_slice()),
            ("Host", b"localhost:8445".as_slice()),
            ("Content-Type", b"application/x-amz-json-1.0".as_slice()),
            ("X-Amz-Date", b"20240115T120000Z".as_slice()),
            ("X-Amz-X509", LEAF.as_bytes()),
            ("Authorization", authorization.as_bytes()),
            ("Content-Length", b"297".as_slice()),
        ]
    }

    fn parts<'a>(headers: &'a [(&'a str, &'a [u8])]) -> RequestParts<'a> {
        RequestParts {
            method: "POST",
            path: "/sessions",
            query: "",
            headers,
        }
    }

    #[test]
    fn the_captured_vector_verifies() {
        let headers = headers(AUTHORIZATION);
        let parts = parts(&headers);
        let auth = authenticate_x509(&parts, at(60)).unwrap();
        assert_eq!(auth.serial_decimal(), "50159747054");
        assert_eq!(
            sha256_hex(BODY.as_bytes()),
            "eb5b36e6c65dbc70869f17443fae1bac804b9ae3f14644434861b3cf68945ff9"
        );
        assert_eq!(
            auth.string_to_sign(&parts, BODY.as_bytes()).unwrap(),
            "AWS4-X509-ECDSA-SHA256\n20240115T120000Z\n20240115/us-east-1/rolesanywhere/aws4_request\n0f01bab1c4e159d09b3aa82beebeb09ad0a5f579ec02a2aa14bf959d352be790"
        );
        let point = leaf_point();
        auth.verify(
            &parts,
            BODY.as_bytes(),
            "50159747054",
            X509PublicKey::EcP256(&point),
        )
        .unwrap();
    }

    #[test]
    fn a_changed_body_or_header_breaks_the_vector() {
        let headers = headers(AUTHORIZATION);
        let parts = parts(&headers);
        let auth = authenticate_x509(&parts, at(0)).unwrap();
        let point = leaf_point();
        let body = BODY.replace("900", "901");
        assert_eq!(
            auth.verify(
                &parts,
                body.as_bytes(),
                "50159747054",
                X509PublicKey::EcP256(&point)
            ),
            Err(X509SignatureError::BadSignature)
        );
        let mut changed = headers.clone();
        changed[3] = ("Content-Type", b"application/json".as_slice());
        let parts = RequestParts {
            headers: &changed,
            ..parts
        };
        assert_eq!(
            auth.verify(
                &parts,
                BODY.as_bytes(),
                "50159747054",
                X509PublicKey::EcP256(&point)
            ),
            Err(X509SignatureError::BadSignature)
        );
    }

    #[test]
    fn serial_key_type_and_skew_are_checked() {
        let headers = headers(AUTHORIZATION);
        let parts = parts(&headers);
        let auth = authenticate_x509(&parts, at(0)).unwrap();
        let point = leaf_point();
        assert_eq!(
            auth.verify(
                &parts,
                BODY.as_bytes(),
                "50159747055",
                X509PublicKey::EcP256(&point)
            ),
            Err(X509SignatureError::SerialMismatch)
        );
        assert_eq!(
            auth.verify(
                &parts,
                BODY.as_bytes(),
                "50159747054",
                X509PublicKey::Rsa(&point)
            ),
            Err(X509SignatureError::KeyMismatch)
        );
        assert_eq!(
            authenticate_x509(&parts, at(16 * 60)).unwrap_err(),
            X509SignatureError::Skewed
        );
        assert!(authenticate_x509(&parts, at(14 * 60)).is_ok());
    }

    #[test]
    fn grammar_and_required_headers() {
        let cases = [
            (
                AUTHORIZATION.replace("AWS4-X509-ECDSA-SHA256", "AWS4-HMAC-SHA256"),
                X509SignatureError::UnsupportedAlgorithm,
            ),
            (
                AUTHORIZATION.replace("AWS4-X509-ECDSA-SHA256", "AWS4-X509-DSA-SHA256"),
                X509SignatureError::UnsupportedAlgorithm,
            ),
            (
                AUTHORIZATION.replace("rolesanywhere", "sts"),
                X509SignatureError::ScopeMismatch,
            ),
            (
                AUTHORIZATION.replace("20240115/", "20240116/"),
                X509SignatureError::ScopeMismatch,
            ),
            (
                AUTHORIZATION.replace(
                    "content-type;host;x-amz-date;x-amz-x509",
                    "content-type;host;x-amz-date",
                ),
                X509SignatureError::UnsignedHeader("x-amz-x509"),
            ),
            (
                AUTHORIZATION.replace("content-type;host;", "content-type;"),
                X509SignatureError::UnsignedHeader("host"),
            ),
            (
                AUTHORIZATION.replace("50159747054", "5015974705x"),
                X509SignatureError::Malformed("credential serial"),
            ),
            (
                AUTHORIZATION.replace("Signature=30", "Signature=3"),
                X509SignatureError::Malformed("signature"),
            ),
            (
                AUTHORIZATION.replace(", Signature", ", Signature=00, Signature"),
                X509SignatureError::Malformed("whitespace in or repeated parameter"),
            ),
        ];
        for (authorization, expected) in cases {
            let headers = headers(&authorization);
            assert_eq!(
                authenticate_x509(&parts(&headers), at(0)).unwrap_err(),
                expected,
                "{authorization}"
            );
        }
        let mut with_chain = headers(AUTHORIZATION);
        with_chain.push(("X-Amz-X509-Chain", LEAF.as_bytes()));
        assert_eq!(
            authenticate_x509(&parts(&with_chain), at(0)).unwrap_err(),
            X509SignatureError::UnsignedHeader("x-amz-x509-chain")
        );
        let no_auth: Vec<_> = headers(AUTHORIZATION)
            .into_iter()
            .filter(|(n, _)| *n != "Authorization")
            .collect();
        assert_eq!(
            authenticate_x509(&parts(&no_auth), at(0)).unwrap_err(),
            X509SignatureError::MissingAuthorization
        );
    }

    #[test]
    fn every_label_both_clients_send_parses() {
        for token in [
            "AWS4-X509-RSA-SHA256",
            "AWS4-X509-ECDSA-SHA256",
            "AWS4-X509-ECDSA-SHA384",
            "AWS4-X509-RSA-SHA512",
            "AWS4-X509-MLDSA",
        ] {
            assert!(classify(token).is_some(), "{token}");
            assert!(is_x509_authorization(token.as_bytes()));
        }
        assert!(classify("AWS4-X509-ECDSA-SHA1").is_none());
    }
}

/// The client side: a private key that signs SigV4-X509 requests (the
/// agent, `mayfly credential-process`).
///
/// RSA keys sign `AWS4-X509-RSA-SHA256`, P-256 keys `AWS4-X509-ECDSA-SHA256`.
/// aws-lc-rs signs P-384 only with SHA-384, so P-384 keys send
/// `AWS4-X509-ECDSA-SHA384` with a SHA-384 signature (what
/// `iam-rolesanywhere-session` labels such a key; whether AWS accepts that
/// token is unverified, Mayfly does).
pub struct X509SigningKey {
    inner: SigningInner,
}

enum SigningInner {
    Rsa(aws_lc_rs::rsa::KeyPair),
    EcP256(aws_lc_rs::signature::EcdsaKeyPair),
    EcP384(aws_lc_rs::signature::EcdsaKeyPair),
}

impl std::fmt::Debug for X509SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X509SigningKey")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

/// A private key that is not an RSA, P-256 or P-384 key in PKCS#8, SEC1
/// or PKCS#1 DER, or a signing failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct X509SigningError(&'static str);

impl X509SigningKey {
    /// A key from PKCS#8 DER (RSA, P-256 or P-384).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, X509SigningError> {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
        };
        if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der) {
            return Ok(Self {
                inner: SigningInner::EcP256(key),
            });
        }
        if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, der) {
            return Ok(Self {
                inner: SigningInner::EcP384(key),
            });
        }
        if let Ok(key) = aws_lc_rs::rsa::KeyPair::from_pkcs8(der) {
            return Ok(Self {
                inner: SigningInner::Rsa(key),
            });
        }
        Err(X509SigningError(
            "the private key is not an RSA, P-256 or P-384 PKCS#8 key",
        ))
    }

    /// A key from SEC1 (`EC PRIVATE KEY`) DER.
    pub fn from_sec1(der: &[u8]) -> Result<Self, X509SigningError> {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
        };
        if let Ok(key) = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, der) {
            return Ok(Self {
                inner: SigningInner::EcP256(key),
            });
        }
        if let Ok(key) = EcdsaKeyPair::from_private_key_der(&ECDSA_P384_SHA384_ASN1_SIGNING, der) {
            return Ok(Self {
                inner: SigningInner::EcP384(key),
            });
        }
        Err(X509SigningError(
            "the private key is not a P-256 or P-384 SEC1 key",
        ))
    }

    /// A key from PKCS#1 (`RSA PRIVATE KEY`) DER.
    pub fn from_pkcs1(der: &[u8]) -> Result<Self, X509SigningError> {
        aws_lc_rs::rsa::KeyPair::from_der(der)
            .map(|key| Self {
                inner: SigningInner::Rsa(key),
            })
            .map_err(|_| X509SigningError("the private key is not a PKCS#1 RSA key"))
    }

    /// The algorithm token this key signs with.
    pub fn algorithm(&self) -> &'static str {
        match self.inner {
            SigningInner::Rsa(_) => "AWS4-X509-RSA-SHA256",
            SigningInner::EcP256(_) => "AWS4-X509-ECDSA-SHA256",
            SigningInner::EcP384(_) => "AWS4-X509-ECDSA-SHA384",
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, X509SigningError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let failed = |_| X509SigningError("signing failed");
        match &self.inner {
            SigningInner::Rsa(key) => {
                let mut signature = vec![0u8; key.public_modulus_len()];
                key.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }
            SigningInner::EcP256(key) | SigningInner::EcP384(key) => {
                Ok(key.sign(&rng, message).map_err(failed)?.as_ref().to_vec())
            }
        }
    }
}

/// A CreateSession request to sign (roles-anywhere.md 3.1).
#[derive(Debug, Clone)]
pub struct X509SignRequest<'a> {
    /// `POST`.
    pub method: &'a str,
    /// `/sessions`.
    pub path: &'a str,
    /// The query string as it will be sent, without `?`.
    pub query: &'a str,
    /// `Host` (port included when not the scheme's default).
    pub host: &'a str,
    /// `Content-Type`.
    pub content_type: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// The signing time.
    pub time: SystemTime,
    /// The scope's region.
    pub region: &'a str,
    /// The end-entity certificate, DER.
    pub certificate_der: &'a [u8],
    /// Intermediate certificates, DER, in bundle order.
    pub chain_der: &'a [Vec<u8>],
    /// The certificate serial in decimal.
    pub serial_decimal: &'a str,
}

/// Sign `request` with `key`: the headers to send besides `Host`
/// (`Content-Type`, `X-Amz-Date`, `X-Amz-X509`, `X-Amz-X509-Chain` when a
/// chain is given, `Authorization`).
pub fn sign_x509(
    key: &X509SigningKey,
    request: &X509SignRequest<'_>,
) -> Result<Vec<(String, String)>, X509SigningError> {
    use base64_engine::encode;
    let amz_date = crate::timestamp::format_amz_date(request.time);
    let mut headers: Vec<(&str, String)> = vec![
        ("content-type", request.content_type.to_owned()),
        ("host", request.host.to_owned()),
        ("x-amz-date", amz_date.clone()),
        ("x-amz-x509", encode(request.certificate_der)),
    ];
    if !request.chain_der.is_empty() {
        let chain: Vec<String> = request.chain_der.iter().map(|c| encode(c)).collect();
        headers.push(("x-amz-x509-chain", chain.join(",")));
    }
    let signed_headers = headers
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(";");
    let wire: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    let date = amz_date.get(..8).ok_or(X509SigningError("bad time"))?;
    let scope = CredentialScope::new(date, request.region, X509_SERVICE)
        .map_err(|_| X509SigningError("invalid region"))?;
    let authentication = X509Authentication {
        algorithm: key.algorithm().to_owned(),
        family: Family::Rsa,
        named_hash: NamedHash::Sha256,
        serial_decimal: request.serial_decimal.to_owned(),
        scope,
        signed_headers: signed_headers.clone(),
        signature: Vec::new(),
        amz_date,
    };
    let parts = RequestParts {
        method: request.method,
        path: request.path,
        query: request.query,
        headers: &wire,
    };
    let string_to_sign = authentication
        .string_to_sign(&parts, request.body)
        .map_err(|_| X509SigningError("canonical request"))?;
    let signature = key.sign(string_to_sign.as_bytes())?;
    let mut out: Vec<(String, String)> = headers
        .into_iter()
        .filter(|(n, _)| *n != "host")
        .map(|(n, v)| (n.to_owned(), v))
        .collect();
    out.push((
        "authorization".to_owned(),
        format!(
            "{} Credential={}/{}, SignedHeaders={signed_headers}, Signature={}",
            key.algorithm(),
            request.serial_decimal,
            authentication.scope,
            crate::canonical::lower_hex(&signature)
        ),
    ));
    Ok(out)
}

/// Standard base64 with padding, for the certificate headers.
mod base64_engine {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub(super) fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk.first().copied().unwrap_or(0),
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    let index = usize::try_from((n >> (18 - 6 * i)) & 0x3f).unwrap_or(0);
                    out.push(char::from(ALPHABET[index]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod signing_tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::time::{Duration, UNIX_EPOCH};

    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

    use super::*;

    #[test]
    fn signed_requests_verify_and_base64_is_standard() {
        assert_eq!(
            base64_engine::encode(b"any carnal pleas"),
            "YW55IGNhcm5hbCBwbGVhcw=="
        );
        assert_eq!(
            base64_engine::encode(b"any carnal pleasu"),
            "YW55IGNhcm5hbCBwbGVhc3U="
        );
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let key = X509SigningKey::from_pkcs8(pkcs8.as_ref()).unwrap();
        let time = UNIX_EPOCH + Duration::from_secs(1_705_320_000);
        let body = br#"{"durationSeconds":3600}"#;
        let query = "profileArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1%3A111122223333%3Aprofile%2Fx";
        let headers = sign_x509(
            &key,
            &X509SignRequest {
                method: "POST",
                path: "/sessions",
                query,
                host: "127.0.0.1:7400",
                content_type: "application/json",
                body,
                time,
                region: "us-east-1",
                certificate_der: b"not really a certificate",
                chain_der: &[b"chain".to_vec()],
                serial_decimal: "42",
            },
        )
        .unwrap();
        let mut wire: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        wire.push(("host", b"127.0.0.1:7400"));
        let parts = RequestParts {
            method: "POST",
            path: "/sessions",
            query,
            headers: &wire,
        };
        let auth = authenticate_x509(&parts, time).unwrap();
        assert_eq!(auth.algorithm(), "AWS4-X509-ECDSA-SHA256");
        auth.verify(
            &parts,
            body,
            "42",
            X509PublicKey::EcP256(pair.public_key().as_ref()),
        )
        .unwrap();
        assert_eq!(
            auth.verify(
                &parts,
                b"{}",
                "42",
                X509PublicKey::EcP256(pair.public_key().as_ref())
            ),
            Err(X509SignatureError::BadSignature)
        );
    }
}

/// Fuzz entry point (`fuzz/fuzz_targets/sigv4_x509.rs`): the first line of
/// `data` is the `Authorization` value, the second `X-Amz-Date`, the third
/// the query string, the rest the body; the request is parsed and, when it
/// parses, verified against a fixed P-256 point. Must never panic.
pub fn fuzz_one(data: &[u8]) {
    let mut lines = data.splitn(4, |b| *b == b'\n');
    let authorization = lines.next().unwrap_or_default();
    let date = lines.next().unwrap_or_default();
    let query = std::str::from_utf8(lines.next().unwrap_or_default()).unwrap_or("");
    let body = lines.next().unwrap_or_default();
    let headers: [(&str, &[u8]); 5] = [
        ("authorization", authorization),
        ("x-amz-date", date),
        ("host", b"localhost"),
        ("x-amz-x509", b"AAAA"),
        ("x-amz-x509-chain", b"AAAA,BBBB"),
    ];
    let parts = RequestParts {
        method: "POST",
        path: "/sessions",
        query,
        headers: &headers,
    };
    let now =
        parse_amz_date(std::str::from_utf8(date).unwrap_or("")).unwrap_or(SystemTime::UNIX_EPOCH);
    if let Ok(auth) = authenticate_x509(&parts, now) {
        let mut point = [0u8; 65];
        point[0] = 4;
        let serial = auth.serial_decimal().to_owned();
        let _ = auth.verify(&parts, body, &serial, X509PublicKey::EcP256(&point));
        let _ = auth.verify(&parts, body, &serial, X509PublicKey::Rsa(body));
    }
}
