//! Authentication of a request: parse and check the material (§8 steps 1-4), then verify the
//! signature with the caller's signing key (§8 steps 7-9).

use std::fmt;
use std::time::{Duration, SystemTime};

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::canonical::{
    canonical_query_string, canonical_uri, push_canonical_headers, sha256, string_to_sign,
};
use crate::error::SigV4Error;
use crate::key::SigningKey;
use crate::parse::{
    QueryAuthParams, check_signed_headers, parse_authorization, parse_credential, parse_signature,
};
use crate::request::{AuthForm, Payload, PayloadHash, RequestParts, UriEncoding};
use crate::scope::{CredentialScope, SCOPE_TERMINATOR};
use crate::timestamp::{format_amz_date, format_iso8601, parse_amz_date, parse_http_date};
use crate::{MAX_CLOCK_SKEW, MAX_PRESIGN_EXPIRES_SECS};

/// (declared SHA-256, body SHA-256), compared after the signature (§8 step 9).
type BodyCheck = ([u8; 32], [u8; 32]);

/// Which header supplied the request time of header auth (§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeSource {
    XAmzDateHeader,
    DateHeader,
    XAmzDateQuery,
}

/// Parsed, structurally checked SigV4 authentication material, not yet verified.
///
/// Produced by [`authenticate`]; [`Authentication::verify`] checks the signature once the caller
/// has the signing key. `Debug` redacts the session token.
#[derive(Clone)]
pub struct Authentication {
    access_key_id: String,
    scope: CredentialScope,
    form: AuthForm,
    amz_date: String,
    request_time: SystemTime,
    time_source: TimeSource,
    signed_headers: String,
    signature: [u8; 32],
    security_token: Option<Zeroizing<String>>,
    presign_expires: Option<(u32, SystemTime)>,
    content_sha256: Option<String>,
}

impl fmt::Debug for Authentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authentication")
            .field("access_key_id", &self.access_key_id)
            .field("scope", &self.scope)
            .field("form", &self.form)
            .field("amz_date", &self.amz_date)
            .field("signed_headers", &self.signed_headers)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("presign_expires", &self.presign_expires.map(|(s, _)| s))
            .field("content_sha256", &self.content_sha256)
            .finish_non_exhaustive()
    }
}

/// Parses and checks a request's SigV4 material, in the reference's verification order (§8):
///
/// 1. classify the form (§1): both an `Authorization` header and presigned parameters, or more than
///    one `Authorization` header, is an error; neither is [`SigV4Error::MissingAuthentication`];
/// 2. parse the header (§2) or the query parameters (§9): algorithm, credential, signed headers,
///    signature, `X-Amz-Expires` (1..=604800), session token (header or query, not both, §11);
/// 3. parse the timestamp (`X-Amz-Date`, else `Date` for header auth; `X-Amz-Date` parameter for
///    presigned URLs, §4) and check the clock skew (±15 min, header auth) or the presigned window
///    (not before `X-Amz-Date - 15 min`, not after `X-Amz-Date + X-Amz-Expires`, §9);
/// 4. check the scope terminator and that the scope date is the timestamp's date (§3).
///
/// Service and region policy ([`Authentication::require_service`],
/// [`Authentication::require_region`]), key lookup and session checks are the caller's, then
/// [`Authentication::verify`].
pub fn authenticate(
    parts: &RequestParts<'_>,
    now: SystemTime,
) -> Result<Authentication, SigV4Error> {
    let mut authorization = parts.header_values("authorization");
    let first = authorization.next();
    let second = authorization.next();
    let query = QueryAuthParams::extract(parts.query)?;
    match (first, query.is_presigned()) {
        (Some(_), true) => Err(SigV4Error::ConflictingAuthentication),
        (Some(_), false) if second.is_some() => Err(SigV4Error::MultipleAuthorizationHeaders),
        (Some(value), false) => header_authentication(parts, value, &query, now),
        (None, true) => presigned_authentication(parts, query, now),
        (None, false) => Err(SigV4Error::MissingAuthentication),
    }
}

fn header_authentication(
    parts: &RequestParts<'_>,
    authorization: &[u8],
    query: &QueryAuthParams,
    now: SystemTime,
) -> Result<Authentication, SigV4Error> {
    let form = AuthForm::Header;
    let value =
        std::str::from_utf8(authorization).map_err(|_| SigV4Error::MalformedAuthorization {
            reason: "not valid utf-8",
        })?;
    let params = parse_authorization(value)?;
    let credential = parse_credential(params.credential, form)?;
    check_signed_headers(params.signed_headers, form)?;
    let signature = parse_signature(params.signature, form)?;
    let security_token = security_token(parts, query)?;

    let (raw_date, time_source) = match single_header(parts, "x-amz-date") {
        Some(v) => (v, TimeSource::XAmzDateHeader),
        None => match single_header(parts, "date") {
            Some(v) => (v, TimeSource::DateHeader),
            None => return Err(SigV4Error::MissingDate),
        },
    };
    let malformed_date = || SigV4Error::MalformedDate {
        value: String::from_utf8_lossy(raw_date).into_owned(),
        form,
    };
    let date_text = std::str::from_utf8(raw_date).map_err(|_| malformed_date())?;
    let request_time = match time_source {
        TimeSource::DateHeader => parse_http_date(date_text),
        _ => parse_amz_date(date_text),
    }
    .ok_or_else(malformed_date)?;
    // An `X-Amz-Date` that parsed is already in the basic format: sign with
    // the text as sent (no re-formatting on every request).
    let amz_date = match time_source {
        TimeSource::DateHeader => format_amz_date(request_time),
        _ => date_text.to_owned(),
    };
    check_clock_skew(&amz_date, request_time, now)?;
    check_scope(&credential.terminator, &credential.scope, &amz_date, form)?;

    let content_sha256 = joined_header(parts, "x-amz-content-sha256");
    Ok(Authentication {
        access_key_id: credential.access_key_id,
        scope: credential.scope,
        form,
        amz_date,
        request_time,
        time_source,
        signed_headers: params.signed_headers.to_owned(),
        signature,
        security_token,
        presign_expires: None,
        content_sha256,
    })
}

fn presigned_authentication(
    parts: &RequestParts<'_>,
    query: QueryAuthParams,
    now: SystemTime,
) -> Result<Authentication, SigV4Error> {
    let form = AuthForm::Presigned;
    let missing = |parameter| SigV4Error::MissingQueryParameter { parameter };
    let algorithm = query
        .algorithm
        .as_deref()
        .ok_or_else(|| missing("X-Amz-Algorithm"))?;
    let credential = query
        .credential
        .as_deref()
        .ok_or_else(|| missing("X-Amz-Credential"))?;
    let date = query.date.as_deref().ok_or_else(|| missing("X-Amz-Date"))?;
    let expires = query
        .expires
        .as_deref()
        .ok_or_else(|| missing("X-Amz-Expires"))?;
    let signed_headers = query
        .signed_headers
        .as_deref()
        .ok_or_else(|| missing("X-Amz-SignedHeaders"))?;
    let signature = query
        .signature
        .as_deref()
        .ok_or_else(|| missing("X-Amz-Signature"))?;

    if algorithm != crate::ALGORITHM.as_bytes() {
        return Err(SigV4Error::UnsupportedAlgorithm {
            algorithm: String::from_utf8_lossy(algorithm).into_owned(),
            form,
        });
    }
    let credential_text =
        std::str::from_utf8(credential).map_err(|_| SigV4Error::MalformedCredential {
            credential: String::from_utf8_lossy(credential).into_owned(),
            form,
        })?;
    let credential = parse_credential(credential_text, form)?;
    let signed_headers_text =
        std::str::from_utf8(signed_headers).map_err(|_| SigV4Error::MalformedSignedHeaders {
            value: String::from_utf8_lossy(signed_headers).into_owned(),
            reason: "not valid utf-8",
            form,
        })?;
    check_signed_headers(signed_headers_text, form)?;
    let signature = std::str::from_utf8(signature)
        .map_err(|_| SigV4Error::MalformedSignature { form })
        .and_then(|s| parse_signature(s, form))?;
    let expires = parse_expires(expires)?;
    let security_token = security_token(parts, &query)?;

    let date_text = String::from_utf8_lossy(date);
    let request_time = parse_amz_date(&date_text).ok_or_else(|| SigV4Error::MalformedDate {
        value: date_text.clone().into_owned(),
        form,
    })?;
    let amz_date = date_text.clone().into_owned();
    let expires_at = request_time
        .checked_add(Duration::from_secs(u64::from(expires)))
        .unwrap_or(request_time);
    check_presign_window(&amz_date, request_time, expires, expires_at, now)?;
    check_scope(&credential.terminator, &credential.scope, &amz_date, form)?;

    // A presigned URL's payload hash is its `X-Amz-Content-Sha256` parameter, else a *signed*
    // `x-amz-content-sha256` header (§5.6).
    let content_sha256 = match query.content_sha256 {
        Some(value) => Some(String::from_utf8_lossy(&value).into_owned()),
        None if signed_headers_text
            .split(';')
            .any(|h| h == "x-amz-content-sha256") =>
        {
            joined_header(parts, "x-amz-content-sha256")
        }
        None => None,
    };
    Ok(Authentication {
        access_key_id: credential.access_key_id,
        scope: credential.scope,
        form,
        amz_date,
        request_time,
        time_source: TimeSource::XAmzDateQuery,
        signed_headers: signed_headers_text.to_owned(),
        signature,
        security_token,
        presign_expires: Some((expires, expires_at)),
        content_sha256,
    })
}

/// `X-Amz-Expires`: decimal digits only, 1..=604800 (§9).
fn parse_expires(raw: &[u8]) -> Result<u32, SigV4Error> {
    let invalid = || SigV4Error::InvalidExpires {
        value: String::from_utf8_lossy(raw).into_owned(),
    };
    if raw.is_empty() || raw.len() > 7 || !raw.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let seconds = raw
        .iter()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    if (1..=MAX_PRESIGN_EXPIRES_SECS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(invalid())
    }
}

/// The session token from the `x-amz-security-token` header or the `X-Amz-Security-Token`
/// parameter; given twice (or in both places) is an error (§11).
fn security_token(
    parts: &RequestParts<'_>,
    query: &QueryAuthParams,
) -> Result<Option<Zeroizing<String>>, SigV4Error> {
    let mut headers = parts.header_values("x-amz-security-token");
    let header = headers.next();
    if headers.next().is_some() {
        return Err(SigV4Error::ConflictingSecurityToken);
    }
    let token = match (header, query.security_token.as_deref()) {
        (Some(_), Some(_)) => return Err(SigV4Error::ConflictingSecurityToken),
        (Some(value), None) | (None, Some(value)) => value,
        (None, None) => return Ok(None),
    };
    let token = std::str::from_utf8(token).map_err(|_| SigV4Error::InvalidSecurityToken)?;
    Ok(Some(Zeroizing::new(token.to_owned())))
}

/// The value of a header that must appear at most once; a repeated one yields the values joined
/// with `,` (which then fails to parse as a timestamp, as it should).
fn single_header<'a>(parts: &'a RequestParts<'_>, name: &'a str) -> Option<&'a [u8]> {
    let mut values = parts.header_values(name);
    let first = values.next()?;
    match values.next() {
        None => Some(first),
        Some(_) => Some(b","),
    }
}

fn joined_header(parts: &RequestParts<'_>, name: &str) -> Option<String> {
    let values: Vec<String> = parts
        .header_values(name)
        .map(|v| String::from_utf8_lossy(v).trim().to_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// Header auth: `|now - request_time| <= 15 min` (§4).
fn check_clock_skew(
    amz_date: &str,
    request_time: SystemTime,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    if now
        .duration_since(request_time)
        .is_ok_and(|age| age > MAX_CLOCK_SKEW)
    {
        return Err(SigV4Error::SignatureExpired {
            request_time: amz_date.to_owned(),
            server_time: format_amz_date(now),
            earliest: format_amz_date(now.checked_sub(MAX_CLOCK_SKEW).unwrap_or(now)),
        });
    }
    if request_time
        .duration_since(now)
        .is_ok_and(|ahead| ahead > MAX_CLOCK_SKEW)
    {
        return Err(SigV4Error::SignatureNotYetCurrent {
            request_time: amz_date.to_owned(),
            server_time: format_amz_date(now),
            latest: format_amz_date(now.checked_add(MAX_CLOCK_SKEW).unwrap_or(now)),
        });
    }
    Ok(())
}

/// Presigned URLs: not more than 15 min in the future, not past `X-Amz-Date + X-Amz-Expires` (§9).
fn check_presign_window(
    amz_date: &str,
    request_time: SystemTime,
    expires: u32,
    expires_at: SystemTime,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    if request_time
        .duration_since(now)
        .is_ok_and(|ahead| ahead > MAX_CLOCK_SKEW)
    {
        return Err(SigV4Error::PresignNotYetValid {
            request_time: amz_date.to_owned(),
            server_time: format_iso8601(now),
        });
    }
    if now > expires_at {
        return Err(SigV4Error::PresignExpired {
            expires,
            expires_at: format_iso8601(expires_at),
            server_time: format_iso8601(now),
        });
    }
    Ok(())
}

/// Scope terminator and date (§3); service and region are the caller's policy.
fn check_scope(
    terminator: &str,
    scope: &CredentialScope,
    amz_date: &str,
    form: AuthForm,
) -> Result<(), SigV4Error> {
    if terminator != SCOPE_TERMINATOR {
        return Err(SigV4Error::InvalidScopeTerminator {
            found: terminator.to_owned(),
            form,
        });
    }
    if amz_date.get(..8) != Some(scope.date()) {
        return Err(SigV4Error::ScopeDateMismatch {
            scope_date: scope.date().to_owned(),
            request_time: amz_date.to_owned(),
            form,
        });
    }
    Ok(())
}

impl Authentication {
    /// The access key id of the credential (`AKIA…` long-term, `ASIA…` temporary).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The session token: the `x-amz-security-token` header or `X-Amz-Security-Token` parameter
    /// (§11). Bound to the access key by the caller.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref().map(String::as_str)
    }

    /// The credential scope the client signed with.
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }

    /// Header auth or presigned URL.
    pub fn form(&self) -> AuthForm {
        self.form
    }

    /// The request time: `X-Amz-Date` (or the `Date` header for header auth without it, §4).
    pub fn request_time(&self) -> SystemTime {
        self.request_time
    }

    /// The request time in ISO 8601 basic format, as used in the string to sign and in the
    /// aws-chunked strings to sign (§6, §10.3).
    pub fn amz_date(&self) -> &str {
        &self.amz_date
    }

    /// Presigned URLs: `X-Amz-Date + X-Amz-Expires` (§9). The caller may clip it further, e.g. to
    /// the session's expiration, or to 15 minutes after `X-Amz-Date` for STS presigned
    /// `GetCallerIdentity` (§9 recommendation).
    pub fn presign_expires_at(&self) -> Option<SystemTime> {
        self.presign_expires.map(|(_, at)| at)
    }

    /// Presigned URLs: `X-Amz-Expires` in seconds.
    pub fn presign_expires_secs(&self) -> Option<u32> {
        self.presign_expires.map(|(secs, _)| secs)
    }

    /// The signed-headers list, verbatim (§5.5).
    pub fn signed_headers(&self) -> &str {
        &self.signed_headers
    }

    /// The signature the client sent, lowercase hex. For aws-chunked uploads this is the seed of
    /// the chunk-signature chain (§10.3).
    pub fn seed_signature(&self) -> String {
        crate::canonical::lower_hex(&self.signature)
    }

    /// The declared payload hash (`x-amz-content-sha256` header, or for presigned URLs the
    /// `X-Amz-Content-Sha256` parameter or a signed header), verbatim (§5.6).
    pub fn content_sha256(&self) -> Option<&str> {
        self.content_sha256.as_deref()
    }

    /// The declared payload hash, parsed; `None` when absent or not a known form. With
    /// [`Payload::Deferred`] the caller must honour it after [`Authentication::verify`].
    pub fn payload_hash(&self) -> Option<PayloadHash> {
        self.content_sha256.as_deref().and_then(PayloadHash::parse)
    }

    /// Requires the scope service to be `expected`, the service this endpoint implements (§3).
    pub fn require_service(&self, expected: &str) -> Result<(), SigV4Error> {
        if self.scope.service() == expected {
            Ok(())
        } else {
            Err(SigV4Error::WrongService {
                expected: expected.to_owned(),
                found: self.scope.service().to_owned(),
                form: self.form,
            })
        }
    }

    /// Requires the scope region to pass the caller's region policy (§3: any region, or an
    /// allow-list).
    pub fn require_region(&self, allowed: impl Fn(&str) -> bool) -> Result<(), SigV4Error> {
        if allowed(self.scope.region()) {
            Ok(())
        } else {
            Err(SigV4Error::RegionNotAllowed {
                region: self.scope.region().to_owned(),
                form: self.form,
            })
        }
    }

    /// Verifies the signature with a derived signing key (§8 steps 7-9).
    ///
    /// `parts` must be the request [`authenticate`] parsed. In order:
    ///
    /// 1. required signed headers (§5.4): `host`; for header auth the header that supplied the
    ///    time; an `x-amz-security-token` header when present; in S3 mode (`UriEncoding::Single`)
    ///    every `x-amz-*` header present except `x-amz-content-sha256`;
    /// 2. the `HashedPayload` value and whether `payload` accepts it (see [`Payload`]);
    /// 3. canonical request (a signed header absent from the request is an error), string to sign,
    ///    signature, compared in constant time;
    /// 4. the body against a declared SHA-256 (`ContentSha256Mismatch`).
    pub fn verify(
        &self,
        parts: &RequestParts<'_>,
        payload: Payload<'_>,
        encoding: UriEncoding,
        key: &SigningKey,
    ) -> Result<(), SigV4Error> {
        let signed: Vec<&str> = self.signed_headers.split(';').collect();
        self.check_required_signed_headers(parts, &signed, encoding)?;
        let (hashed_payload, body_check) = self.hashed_payload(payload, encoding)?;

        // The canonical request (§5) built in one buffer sized from the request.
        // `/` is its own canonical form in both encodings (every query-protocol request).
        let canonical_uri = if parts.path == "/" {
            std::borrow::Cow::Borrowed("/")
        } else {
            std::borrow::Cow::Owned(canonical_uri(parts.path, encoding))
        };
        let canonical_query = canonical_query_string(parts.query, self.form);
        let headers_len: usize = parts
            .headers
            .iter()
            .map(|(name, value)| name.len() + value.len() + 2)
            .sum();
        let mut creq = Vec::with_capacity(
            parts.method.len()
                + canonical_uri.len()
                + canonical_query.len()
                + headers_len
                + self.signed_headers.len()
                + hashed_payload.len()
                + 5,
        );
        for part in [parts.method, &canonical_uri, &canonical_query] {
            creq.extend_from_slice(part.as_bytes());
            creq.push(b'\n');
        }
        push_canonical_headers(&mut creq, parts.headers, &signed)?;
        creq.push(b'\n');
        creq.extend_from_slice(self.signed_headers.as_bytes());
        creq.push(b'\n');
        creq.extend_from_slice(hashed_payload.as_bytes());
        let sts = string_to_sign(&self.amz_date, &self.scope, &creq);
        let expected = key.sign(sts.as_bytes());
        if !bool::from(expected.ct_eq(&self.signature)) {
            return Err(SigV4Error::SignatureMismatch {
                access_key_id: self.access_key_id.clone(),
                canonical_request: String::from_utf8_lossy(&creq).into_owned(),
                string_to_sign: sts,
            });
        }
        if let Some((_, body)) = body_check.filter(|(declared, body)| declared != body) {
            return Err(SigV4Error::ContentSha256Mismatch {
                declared: hashed_payload,
                computed: crate::canonical::lower_hex(&body),
            });
        }
        Ok(())
    }

    fn check_required_signed_headers(
        &self,
        parts: &RequestParts<'_>,
        signed: &[&str],
        encoding: UriEncoding,
    ) -> Result<(), SigV4Error> {
        let is_signed = |name: &str| signed.contains(&name);
        if !is_signed("host") && !is_signed(":authority") {
            return Err(SigV4Error::HostNotSigned);
        }
        let mut unsigned: Vec<String> = Vec::new();
        match self.time_source {
            TimeSource::XAmzDateHeader if !is_signed("x-amz-date") => {
                unsigned.push("x-amz-date".into());
            }
            TimeSource::DateHeader if !is_signed("date") => unsigned.push("date".into()),
            _ => {}
        }
        if parts.has_header("x-amz-security-token") && !is_signed("x-amz-security-token") {
            unsigned.push("x-amz-security-token".into());
        }
        if encoding == UriEncoding::Single {
            for (name, _) in parts.headers {
                let lower = name.to_ascii_lowercase();
                if lower.starts_with("x-amz-")
                    && lower != "x-amz-content-sha256"
                    && !is_signed(&lower)
                {
                    unsigned.push(lower);
                }
            }
        }
        unsigned.sort();
        unsigned.dedup();
        if unsigned.is_empty() {
            Ok(())
        } else {
            Err(SigV4Error::HeadersNotSigned { headers: unsigned })
        }
    }

    /// The `HashedPayload` line (§5.6) and, when the body must match a declared hash, the pair
    /// (declared digest, body digest) to compare after the signature.
    fn hashed_payload(
        &self,
        payload: Payload<'_>,
        encoding: UriEncoding,
    ) -> Result<(String, Option<BodyCheck>), SigV4Error> {
        let body_digest = match payload {
            Payload::Bytes(body) => Some(sha256(body)),
            Payload::Sha256(digest) => Some(digest),
            Payload::Unsigned | Payload::Deferred => None,
        };
        let value = match (&self.content_sha256, self.form, encoding) {
            (Some(declared), _, _) => declared.clone(),
            (None, AuthForm::Presigned, UriEncoding::Single) => PayloadHash::UNSIGNED.to_owned(),
            (None, AuthForm::Header, UriEncoding::Single) => {
                return Err(SigV4Error::MissingContentSha256);
            }
            (None, _, UriEncoding::Double) => match body_digest {
                Some(digest) => return Ok((crate::canonical::lower_hex(&digest), None)),
                None => return Err(SigV4Error::MissingContentSha256),
            },
        };
        let Some(kind) = PayloadHash::parse(&value) else {
            return Err(SigV4Error::MalformedContentSha256 { value });
        };
        let accepted = match (payload, kind) {
            (Payload::Bytes(_) | Payload::Sha256(_), PayloadHash::Sha256(declared)) => {
                let body = body_digest.unwrap_or_default();
                return Ok((value, Some((declared, body))));
            }
            (Payload::Unsigned, PayloadHash::Unsigned) | (Payload::Deferred, _) => true,
            _ => false,
        };
        if accepted {
            Ok((value, None))
        } else {
            Err(SigV4Error::PayloadHashNotAccepted { value })
        }
    }
}
