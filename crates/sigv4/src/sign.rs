//! The signing side, for clients: the agent, `mayfly presign` and tests (§5-§7, §9).

use std::fmt;
use std::time::SystemTime;

use crate::canonical::{
    canonical_headers, canonical_query_string, canonical_request, canonical_uri, sha256_hex,
    string_to_sign, uri_encode,
};
use crate::key::{SigningKey, derive_signing_key};
use crate::parse::QueryAuthParams;
use crate::request::{AuthForm, PayloadHash, RequestParts, UriEncoding};
use crate::scope::{CredentialScope, InvalidCredentialScope};
use crate::timestamp::format_amz_date;
use crate::{ALGORITHM, MAX_PRESIGN_EXPIRES_SECS};

/// Headers a signer leaves out of `SignedHeaders`: hop-by-hop headers, `authorization`, and
/// those SDKs add or change after signing (§5.4 table: botocore and aws-sigv4 exclusions).
const UNSIGNED_HEADERS: &[&str] = &[
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// The credentials a client signs with. `Debug` redacts the secret and the token.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// Access key id (`AKIA…` or `ASIA…`).
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Session token of temporary credentials.
    pub session_token: Option<&'a str>,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .finish()
    }
}

/// What the signature says about the body (§5.6).
#[derive(Debug, Clone, Copy)]
pub enum SignableBody<'a> {
    /// Sign the body: `HashedPayload` is its SHA-256.
    Bytes(&'a [u8]),
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// A precomputed `HashedPayload` value: a hex SHA-256 or a `STREAMING-*` constant.
    Precomputed(&'a str),
}

impl SignableBody<'_> {
    fn hashed_payload(&self) -> String {
        match self {
            Self::Bytes(body) => sha256_hex(body),
            Self::Unsigned => PayloadHash::UNSIGNED.to_owned(),
            Self::Precomputed(value) => (*value).to_owned(),
        }
    }
}

/// Everything a signature depends on besides the request.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    /// Who signs.
    pub credentials: Credentials<'a>,
    /// Scope region, e.g. `us-east-1`.
    pub region: &'a str,
    /// Scope service, e.g. `sts`.
    pub service: &'a str,
    /// Signing time; the scope date is its UTC day.
    pub time: SystemTime,
    /// Canonical URI rules of the service (`Single` for S3, §5.2).
    pub encoding: UriEncoding,
    /// The body, or what stands for it.
    pub body: SignableBody<'a>,
    /// Header auth: also send and sign `x-amz-content-sha256` (always done in S3 mode, which
    /// requires it, §5.6). Ignored by [`presign`].
    pub content_sha256_header: bool,
}

/// The outcome of [`sign_headers`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSignature {
    /// Headers to add to the request, lowercase names: `x-amz-date`, `x-amz-security-token`
    /// (session credentials), `x-amz-content-sha256` (when asked or in S3 mode), `authorization`.
    pub headers: Vec<(&'static str, String)>,
    /// The `SignedHeaders` list.
    pub signed_headers: String,
    /// The signature, lowercase hex (the seed of an aws-chunked chain, §10.3).
    pub signature: String,
}

/// The outcome of [`presign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedQuery {
    /// The complete query string to put after `?`: the request's own query followed by the
    /// `X-Amz-*` parameters, `X-Amz-Signature` last.
    pub query: String,
    /// The signature, lowercase hex.
    pub signature: String,
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// Region, service or signing time do not make a valid scope.
    #[error(transparent)]
    InvalidScope(#[from] InvalidCredentialScope),
    /// The request has no `host` header, which must be signed (§5.4).
    #[error("request has no `host` header")]
    MissingHost,
    /// The request already carries a header the signer adds.
    #[error("request already carries the `{name}` header the signer adds")]
    HeaderAlreadyPresent {
        /// The header name.
        name: &'static str,
    },
    /// The query already carries `X-Amz-*` authentication parameters.
    #[error("query already carries `X-Amz-*` authentication parameters")]
    QueryAlreadySigned,
    /// The presigned lifetime is not within 1..=604800 seconds (§9).
    #[error("presigned lifetime of {seconds} seconds is not from 1 to 604800")]
    InvalidExpires {
        /// The lifetime asked for.
        seconds: u32,
    },
}

/// Signs a request with an `Authorization` header (§2, §5-§7).
///
/// Signs `host` and every header of `parts` except hop-by-hop and SDK-bookkeeping ones (see the
/// §5.4 table), plus the headers it adds. Returns the headers to add; `parts` must not already
/// carry them.
pub fn sign_headers(
    parts: &RequestParts<'_>,
    params: &SigningParams<'_>,
) -> Result<HeaderSignature, SigningError> {
    let scope = CredentialScope::for_time(params.time, params.region, params.service)?;
    let amz_date = format_amz_date(params.time);
    let hashed_payload = params.body.hashed_payload();
    if !parts.has_header("host") {
        return Err(SigningError::MissingHost);
    }
    let send_content_sha256 =
        params.content_sha256_header || params.encoding == UriEncoding::Single;

    let mut added: Vec<(&'static str, String)> = vec![("x-amz-date", amz_date.clone())];
    if let Some(token) = params.credentials.session_token {
        added.push(("x-amz-security-token", token.to_owned()));
    }
    if send_content_sha256 {
        added.push(("x-amz-content-sha256", hashed_payload.clone()));
    }
    for name in added
        .iter()
        .map(|(n, _)| *n)
        .chain(std::iter::once("authorization"))
    {
        if parts.has_header(name) {
            return Err(SigningError::HeaderAlreadyPresent { name });
        }
    }

    let mut all_headers: Vec<(&str, &[u8])> = parts.headers.to_vec();
    all_headers.extend(added.iter().map(|(n, v)| (*n, v.as_bytes())));
    let signed_headers = signed_header_list(&all_headers);
    let key = derive_signing_key(params.credentials.secret_access_key, &scope);
    let signature = sign_canonical(
        parts,
        &all_headers,
        &signed_headers,
        AuthForm::Header,
        parts.query,
        &hashed_payload,
        params.encoding,
        (&amz_date, &scope, &key),
    );
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        params.credentials.access_key_id
    );
    added.push(("authorization", authorization));
    Ok(HeaderSignature {
        headers: added,
        signed_headers,
        signature,
    })
}

/// Presigns a request (§9): returns the query string carrying `X-Amz-Algorithm`,
/// `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`,
/// `X-Amz-Security-Token` (session credentials, part of the canonical query), and
/// `X-Amz-Signature`, in botocore's order.
///
/// Signs `host` and the other headers of `parts` (same exclusions as [`sign_headers`]). The payload
/// follows §5.6: S3 mode defaults to `UNSIGNED-PAYLOAD`, generic mode to the body's SHA-256; any
/// other value is carried in an `X-Amz-Content-Sha256` parameter.
pub fn presign(
    parts: &RequestParts<'_>,
    params: &SigningParams<'_>,
    expires_in_secs: u32,
) -> Result<PresignedQuery, SigningError> {
    if !(1..=MAX_PRESIGN_EXPIRES_SECS).contains(&expires_in_secs) {
        return Err(SigningError::InvalidExpires {
            seconds: expires_in_secs,
        });
    }
    let scope = CredentialScope::for_time(params.time, params.region, params.service)?;
    let amz_date = format_amz_date(params.time);
    if !parts.has_header("host") {
        return Err(SigningError::MissingHost);
    }
    match QueryAuthParams::extract(parts.query) {
        Ok(q)
            if q.algorithm.is_none()
                && q.credential.is_none()
                && q.date.is_none()
                && q.expires.is_none()
                && q.signed_headers.is_none()
                && q.signature.is_none()
                && q.security_token.is_none()
                && q.content_sha256.is_none() => {}
        _ => return Err(SigningError::QueryAlreadySigned),
    }
    let hashed_payload = params.body.hashed_payload();
    let default_payload = matches!(
        (params.encoding, PayloadHash::parse(&hashed_payload)),
        (UriEncoding::Single, Some(PayloadHash::Unsigned))
            | (UriEncoding::Double, Some(PayloadHash::Sha256(_)))
    );
    let signed_headers = signed_header_list(parts.headers);

    let mut query = parts.query.to_owned();
    let credential = format!("{}/{scope}", params.credentials.access_key_id);
    let expires = expires_in_secs.to_string();
    let mut auth_params: Vec<(&str, &str)> = vec![
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", &credential),
        ("X-Amz-Date", &amz_date),
        ("X-Amz-Expires", &expires),
        ("X-Amz-SignedHeaders", &signed_headers),
    ];
    if let Some(token) = params.credentials.session_token {
        auth_params.push(("X-Amz-Security-Token", token));
    }
    if !default_payload {
        auth_params.push(("X-Amz-Content-Sha256", &hashed_payload));
    }
    for (name, value) in auth_params {
        push_query_param(&mut query, name, value);
    }

    let key = derive_signing_key(params.credentials.secret_access_key, &scope);
    let signature = sign_canonical(
        parts,
        parts.headers,
        &signed_headers,
        AuthForm::Presigned,
        &query,
        &hashed_payload,
        params.encoding,
        (&amz_date, &scope, &key),
    );
    push_query_param(&mut query, "X-Amz-Signature", &signature);
    Ok(PresignedQuery { query, signature })
}

fn push_query_param(query: &mut String, name: &str, value: &str) {
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str(&uri_encode(name.as_bytes(), false));
    query.push('=');
    query.push_str(&uri_encode(value.as_bytes(), false));
}

/// Lowercase, sorted, unique names of the headers to sign, joined with `;`.
fn signed_header_list(headers: &[(&str, &[u8])]) -> String {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .filter(|n| !UNSIGNED_HEADERS.contains(&n.as_str()))
        .collect();
    names.sort();
    names.dedup();
    names.join(";")
}

#[expect(
    clippy::too_many_arguments,
    reason = "private: the canonical request simply has this many inputs"
)]
fn sign_canonical(
    parts: &RequestParts<'_>,
    headers: &[(&str, &[u8])],
    signed_headers: &str,
    form: AuthForm,
    query: &str,
    hashed_payload: &str,
    encoding: UriEncoding,
    (amz_date, scope, key): (&str, &CredentialScope, &SigningKey),
) -> String {
    let names: Vec<&str> = signed_headers.split(';').collect();
    // INVARIANT: every name in `signed_headers` comes from `headers`, so none is missing.
    let block = canonical_headers(headers, &names).unwrap_or_default();
    let creq = canonical_request(
        parts.method,
        &canonical_uri(parts.path, encoding),
        &canonical_query_string(query, form),
        &block,
        signed_headers,
        hashed_payload,
    );
    key.sign_hex(string_to_sign(amz_date, scope, &creq).as_bytes())
}
