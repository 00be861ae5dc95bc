//! Grammar of the authentication material (§2, §9): the `Authorization` header, the credential,
//! the signed-headers list, the signature and the presigned query parameters.

use crate::canonical::query_decode;
use crate::error::SigV4Error;
use crate::request::AuthForm;
use crate::scope::{CredentialScope, is_scope_word};

/// The three parameters of an `Authorization` header, still unparsed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AuthorizationParams<'a> {
    pub(crate) credential: &'a str,
    pub(crate) signed_headers: &'a str,
    pub(crate) signature: &'a str,
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Whether `text` holds a space or a tab (a byte scan; the hot path of every request).
fn has_ows(text: &str) -> bool {
    text.bytes().any(|b| b == b' ' || b == b'\t')
}

/// Parses `AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..` (§2): one or more
/// spaces or tabs after the algorithm, optional whitespace around commas, any order, each parameter
/// exactly once, no whitespace inside a parameter, no unknown parameter.
pub(crate) fn parse_authorization(value: &str) -> Result<AuthorizationParams<'_>, SigV4Error> {
    let value = value.trim_matches(is_ows);
    let (algorithm, rest) = match value.bytes().position(|b| b == b' ' || b == b'\t') {
        Some(end) => (
            value.get(..end).unwrap_or(value),
            value.get(end..).unwrap_or(""),
        ),
        None => (value, ""),
    };
    if algorithm != crate::ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm {
            algorithm: algorithm.to_owned(),
            form: AuthForm::Header,
        });
    }
    let rest = rest.trim_matches(is_ows);
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    if !rest.is_empty() {
        for param in rest.split(',') {
            let param = param.trim_matches(is_ows);
            if param.is_empty() {
                return Err(SigV4Error::MalformedAuthorization {
                    reason: "empty parameter between commas",
                });
            }
            let Some((name, val)) = param.split_once('=') else {
                return Err(SigV4Error::MalformedAuthorization {
                    reason: "parameter without `=`",
                });
            };
            let (slot, parameter) = match name {
                "Credential" => (&mut credential, "Credential"),
                "SignedHeaders" => (&mut signed_headers, "SignedHeaders"),
                "Signature" => (&mut signature, "Signature"),
                other => {
                    if has_ows(other) {
                        return Err(SigV4Error::MalformedAuthorization {
                            reason: "whitespace inside a parameter",
                        });
                    }
                    return Err(SigV4Error::UnknownAuthorizationParameter {
                        name: other.to_owned(),
                    });
                }
            };
            if has_ows(val) {
                return Err(SigV4Error::MalformedAuthorization {
                    reason: "whitespace inside a parameter",
                });
            }
            if slot.replace(val).is_some() {
                return Err(SigV4Error::DuplicateAuthorizationParameter { parameter });
            }
        }
    }
    let missing = |parameter| SigV4Error::MissingAuthorizationParameter { parameter };
    Ok(AuthorizationParams {
        credential: credential.ok_or_else(|| missing("Credential"))?,
        signed_headers: signed_headers.ok_or_else(|| missing("SignedHeaders"))?,
        signature: signature.ok_or_else(|| missing("Signature"))?,
    })
}

/// A credential split into its parts; the terminator is checked later (§8 step 4).
#[derive(Debug)]
pub(crate) struct ParsedCredential {
    pub(crate) access_key_id: String,
    pub(crate) scope: CredentialScope,
    pub(crate) terminator: String,
}

/// Longest access key id accepted (the STS model allows 16..128 characters of `[\w]`).
const MAX_ACCESS_KEY_ID_LEN: usize = 128;

/// Parses `akid/date8/region/service/terminator` (§2).
pub(crate) fn parse_credential(
    credential: &str,
    form: AuthForm,
) -> Result<ParsedCredential, SigV4Error> {
    let malformed = || SigV4Error::MalformedCredential {
        credential: credential.to_owned(),
        form,
    };
    let mut parts = credential.split('/');
    let (Some(akid), Some(date), Some(region), Some(service), Some(terminator), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed());
    };
    let akid_ok = !akid.is_empty()
        && akid.len() <= MAX_ACCESS_KEY_ID_LEN
        && akid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    // Date, region and service are validated once, by `CredentialScope::new` below.
    if !akid_ok {
        return Err(malformed());
    }
    if terminator.is_empty() || !is_scope_word(terminator) {
        return Err(malformed());
    }
    let scope = CredentialScope::new(date, region, service).map_err(|_| malformed())?;
    Ok(ParsedCredential {
        access_key_id: akid.to_owned(),
        scope,
        terminator: terminator.to_owned(),
    })
}

/// Checks the signed-headers list (§2): `hname *(";" hname)`, each name of `%x21-7E` without `;`,
/// `,` or uppercase letters, strictly ascending (hence no duplicates). The list is used verbatim.
pub(crate) fn check_signed_headers(value: &str, form: AuthForm) -> Result<Vec<&str>, SigV4Error> {
    let malformed = |reason| SigV4Error::MalformedSignedHeaders {
        value: value.to_owned(),
        reason,
        form,
    };
    let mut names: Vec<&str> = Vec::new();
    for name in value.split(';') {
        if name.is_empty() {
            return Err(malformed("empty header name"));
        }
        if !name.bytes().all(|b| {
            (0x21..=0x7e).contains(&b) && b != b';' && b != b',' && !b.is_ascii_uppercase()
        }) {
            return Err(malformed("header names must be lowercase visible ascii"));
        }
        if names.last().is_some_and(|previous| *previous >= name) {
            return Err(malformed("header names must be sorted and unique"));
        }
        names.push(name);
    }
    Ok(names)
}

/// Parses a signature: 64 hex digits (uppercase tolerated, §2).
pub(crate) fn parse_signature(value: &str, form: AuthForm) -> Result<[u8; 32], SigV4Error> {
    let malformed = || SigV4Error::MalformedSignature { form };
    let digits = value.as_bytes();
    if digits.len() != 64 {
        return Err(malformed());
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (Some(high), Some(low)) = (
            pair.first().copied().and_then(hex_value),
            pair.get(1).copied().and_then(hex_value),
        ) else {
            return Err(malformed());
        };
        *byte = (high << 4) | low;
    }
    Ok(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The `X-Amz-*` authentication parameters of a query (§9), decoded.
#[derive(Debug, Default)]
pub(crate) struct QueryAuthParams {
    pub(crate) algorithm: Option<Vec<u8>>,
    pub(crate) credential: Option<Vec<u8>>,
    pub(crate) date: Option<Vec<u8>>,
    pub(crate) expires: Option<Vec<u8>>,
    pub(crate) signed_headers: Option<Vec<u8>>,
    pub(crate) signature: Option<Vec<u8>>,
    pub(crate) security_token: Option<Vec<u8>>,
    pub(crate) content_sha256: Option<Vec<u8>>,
}

impl QueryAuthParams {
    /// Collects the authentication parameters (names are case-sensitive, §9); a repeated one is
    /// [`SigV4Error::DuplicateQueryParameter`].
    pub(crate) fn extract(raw_query: &str) -> Result<Self, SigV4Error> {
        let mut params = Self::default();
        for item in raw_query.split('&').filter(|item| !item.is_empty()) {
            let (name, value) = item.split_once('=').unwrap_or((item, ""));
            // Values are decoded only for the parameters read here.
            let name = query_decode(name);
            let (slot, parameter) = match name.as_ref() {
                b"X-Amz-Algorithm" => (&mut params.algorithm, "X-Amz-Algorithm"),
                b"X-Amz-Credential" => (&mut params.credential, "X-Amz-Credential"),
                b"X-Amz-Date" => (&mut params.date, "X-Amz-Date"),
                b"X-Amz-Expires" => (&mut params.expires, "X-Amz-Expires"),
                b"X-Amz-SignedHeaders" => (&mut params.signed_headers, "X-Amz-SignedHeaders"),
                b"X-Amz-Signature" => (&mut params.signature, "X-Amz-Signature"),
                b"X-Amz-Security-Token" => (&mut params.security_token, "X-Amz-Security-Token"),
                b"X-Amz-Content-Sha256" => (&mut params.content_sha256, "X-Amz-Content-Sha256"),
                _ => continue,
            };
            if slot.replace(query_decode(value).into_owned()).is_some() {
                return Err(SigV4Error::DuplicateQueryParameter { parameter });
            }
        }
        Ok(params)
    }

    /// Whether the query attempts presigned authentication (`X-Amz-Algorithm` or
    /// `X-Amz-Signature` present, §1).
    pub(crate) fn is_presigned(&self) -> bool {
        self.algorithm.is_some() || self.signature.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::SCOPE_TERMINATOR;

    const SIG: &str = "f9386e025bd38292517950198fbdfe33e2682526cbde7cd8b5be6393b4d691d0";

    #[test]
    fn accepts_sdk_and_documentation_spacing() {
        for header in [
            format!(
                "AWS4-HMAC-SHA256 Credential=AKID/20240115/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature={SIG}"
            ),
            format!(
                "AWS4-HMAC-SHA256  Credential=AKID/20240115/us-east-1/sts/aws4_request,SignedHeaders=host;x-amz-date,Signature={SIG}"
            ),
            format!(
                "AWS4-HMAC-SHA256\tSignature={SIG} ,\tSignedHeaders=host;x-amz-date , Credential=AKID/20240115/us-east-1/sts/aws4_request "
            ),
        ] {
            let p = parse_authorization(&header).unwrap();
            assert_eq!(p.credential, "AKID/20240115/us-east-1/sts/aws4_request");
            assert_eq!(p.signed_headers, "host;x-amz-date");
            assert_eq!(p.signature, SIG);
        }
    }

    #[test]
    fn rejects_other_algorithms() {
        for (header, algorithm) in [
            ("AWS AKID:sig", "AWS"),
            (
                "AWS4-ECDSA-P256-SHA256 Credential=x",
                "AWS4-ECDSA-P256-SHA256",
            ),
            ("aws4-hmac-sha256 Credential=x", "aws4-hmac-sha256"),
            (
                "AWS4-HMAC-SHA256,Credential=x",
                "AWS4-HMAC-SHA256,Credential=x",
            ),
            ("", ""),
        ] {
            assert_eq!(
                parse_authorization(header),
                Err(SigV4Error::UnsupportedAlgorithm {
                    algorithm: algorithm.into(),
                    form: AuthForm::Header
                }),
                "{header}"
            );
        }
    }

    #[test]
    fn rejects_malformed_parameter_lists() {
        let cases: [(&str, SigV4Error); 8] = [
            (
                "AWS4-HMAC-SHA256",
                SigV4Error::MissingAuthorizationParameter {
                    parameter: "Credential",
                },
            ),
            (
                "AWS4-HMAC-SHA256 Credential=a/b, Signature=00",
                SigV4Error::MissingAuthorizationParameter {
                    parameter: "SignedHeaders",
                },
            ),
            (
                "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host",
                SigV4Error::MissingAuthorizationParameter {
                    parameter: "Signature",
                },
            ),
            (
                "AWS4-HMAC-SHA256 Credential=a, Credential=b, SignedHeaders=host, Signature=0",
                SigV4Error::DuplicateAuthorizationParameter {
                    parameter: "Credential",
                },
            ),
            (
                "AWS4-HMAC-SHA256 Credential=a, SignedHeaders=host, Signature=0, Extra=1",
                SigV4Error::UnknownAuthorizationParameter {
                    name: "Extra".into(),
                },
            ),
            (
                "AWS4-HMAC-SHA256 Credential =a, SignedHeaders=host, Signature=0",
                SigV4Error::MalformedAuthorization {
                    reason: "whitespace inside a parameter",
                },
            ),
            (
                "AWS4-HMAC-SHA256 Credential=a,, SignedHeaders=host, Signature=0",
                SigV4Error::MalformedAuthorization {
                    reason: "empty parameter between commas",
                },
            ),
            (
                "AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=0",
                SigV4Error::MalformedAuthorization {
                    reason: "parameter without `=`",
                },
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(parse_authorization(header), Err(expected), "{header}");
        }
    }

    #[test]
    fn parses_credentials() {
        let c = parse_credential(
            "ASIAEXAMPLE/20240115/us-east-1/sts/aws4_request",
            AuthForm::Header,
        )
        .unwrap();
        assert_eq!(c.access_key_id, "ASIAEXAMPLE");
        assert_eq!(c.scope.to_string(), "20240115/us-east-1/sts/aws4_request");
        assert_eq!(c.terminator, SCOPE_TERMINATOR);
    }

    #[test]
    fn rejects_malformed_credentials() {
        for bad in [
            "AKID/20240115/us-east-1/sts",
            "AKID/20240115/us-east-1/sts/aws4_request/extra",
            "/20240115/us-east-1/sts/aws4_request",
            "AK-ID/20240115/us-east-1/sts/aws4_request",
            "AKID/2024011/us-east-1/sts/aws4_request",
            "AKID/20241315/us-east-1/sts/aws4_request",
            "AKID/20240115//sts/aws4_request",
            "AKID/20240115/us-east-1//aws4_request",
            "AKID/20240115/us-east-1/sts/",
            "",
        ] {
            assert!(
                matches!(
                    parse_credential(bad, AuthForm::Header),
                    Err(SigV4Error::MalformedCredential { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn checks_the_signed_headers_grammar() {
        assert_eq!(
            check_signed_headers("content-type;host;x-amz-date", AuthForm::Header).unwrap(),
            ["content-type", "host", "x-amz-date"]
        );
        for bad in [
            "",
            "host;",
            ";host",
            "Host",
            "host;host",
            "x-amz-date;host",
            "a,b",
            "a b",
        ] {
            assert!(
                matches!(
                    check_signed_headers(bad, AuthForm::Header),
                    Err(SigV4Error::MalformedSignedHeaders { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn parses_signatures_of_64_hex_digits_only() {
        assert!(parse_signature(SIG, AuthForm::Header).is_ok());
        assert!(parse_signature(&SIG.to_uppercase(), AuthForm::Header).is_ok());
        for bad in [
            &SIG[..62],
            &format!("{SIG}00"),
            &format!("{}zz", &SIG[..62]),
            "",
        ] {
            assert_eq!(
                parse_signature(bad, AuthForm::Header),
                Err(SigV4Error::MalformedSignature {
                    form: AuthForm::Header
                })
            );
        }
    }

    #[test]
    fn rejects_repeated_query_authentication_parameters() {
        assert_eq!(
            QueryAuthParams::extract("X-Amz-Date=1&a=1&a=2&X-Amz-Date=2").unwrap_err(),
            SigV4Error::DuplicateQueryParameter {
                parameter: "X-Amz-Date"
            }
        );
        let p = QueryAuthParams::extract("a=1&a=2&X-Amz-Signature=ab").unwrap();
        assert!(p.is_presigned());
        assert!(!QueryAuthParams::extract("Action=X").unwrap().is_presigned());
    }

    #[test]
    fn signatures_are_exactly_64_hex_digits_in_either_case() {
        let lower = "0123456789abcdef".repeat(4);
        let parsed = parse_signature(&lower, AuthForm::Header).unwrap();
        assert_eq!(parsed[0], 0x01);
        assert_eq!(parsed[7], 0xef);
        assert_eq!(
            parse_signature(&lower.to_uppercase(), AuthForm::Header).unwrap(),
            parsed
        );
        for bad in [
            String::new(),
            lower[..63].to_owned(),
            format!("{lower}0"),
            format!("g{}", &lower[1..]),
            format!("{}g", &lower[..63]),
            format!("{} ", &lower[..63]),
            format!("{}é", &lower[..62]),
        ] {
            assert!(
                matches!(
                    parse_signature(&bad, AuthForm::Presigned),
                    Err(SigV4Error::MalformedSignature {
                        form: AuthForm::Presigned
                    })
                ),
                "{bad:?}"
            );
        }
    }
}
