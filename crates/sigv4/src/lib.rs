//! AWS Signature Version 4: parse, verify and sign, with no I/O.
//!
//! The verifying side follows `reference/sigv4.md` (the server's view of SigV4):
//!
//! 1. [`authenticate`] classifies the authentication form (§1), parses the `Authorization` header
//!    (§2) or the presigned `X-Amz-*` query parameters (§9), parses the request timestamp and checks
//!    the clock skew or the presigned validity window (§4, §9), then checks the credential scope
//!    terminator and date (§3). It needs no secret.
//! 2. The caller looks the access key id up and checks the session token (§8 steps 5-6), then
//!    derives (or fetches from a [`SigningKeyCache`]) the [`SigningKey`] for the request's
//!    [`CredentialScope`].
//! 3. [`Authentication::verify`] checks which headers must be signed (§5.4), rebuilds the canonical
//!    request (§5), the string to sign (§6) and the signature (§7), compares it in constant time and
//!    checks the body against `x-amz-content-sha256` (§5.6).
//!
//! The building blocks ([`canonical_uri`], [`canonical_query_string`], [`canonical_headers`],
//! [`canonical_request`], [`string_to_sign`], [`signature`]) are public so that each can be checked
//! against the reference's vectors on its own. The signing side ([`sign_headers`], [`presign`]) is
//! for clients (the agent, `mayfly presign`, tests). The aws-chunked chain (§10) builds on
//! [`Authentication::seed_signature`], [`Authentication::amz_date`] and [`SigningKey::sign`]; its
//! strings to sign are in [`chunk_string_to_sign`] and [`trailer_string_to_sign`].
//!
//! Time is always passed in as a [`std::time::SystemTime`]; nothing here reads the clock.

mod authenticate;
mod canonical;
mod chunk;
mod error;
mod fuzz;
mod key;
mod parse;
mod request;
mod scope;
mod sign;
mod timestamp;
pub mod x509;

#[cfg(test)]
mod tests;

pub use authenticate::{Authentication, authenticate};
pub use canonical::{
    EMPTY_SHA256_HEX, canonical_headers, canonical_query_string, canonical_request, canonical_uri,
    sha256_hex, string_to_sign, trim_header_value, uri_encode,
};
pub use chunk::{
    CHUNK_ALGORITHM, TRAILER_ALGORITHM, canonical_trailers, chunk_string_to_sign,
    trailer_string_to_sign,
};
pub use error::SigV4Error;
pub use fuzz::fuzz_one;
pub use key::{SigningKey, SigningKeyCache, derive_signing_key, signature};
pub use request::{AuthForm, Payload, PayloadHash, RequestParts, UriEncoding};
pub use scope::{CredentialScope, InvalidCredentialScope};
pub use sign::{
    Credentials, HeaderSignature, PresignedQuery, SignableBody, SigningError, SigningParams,
    presign, sign_headers,
};
pub use timestamp::{format_amz_date, parse_amz_date};

/// The only algorithm name this crate accepts and emits (§2: case-sensitive `AWS4-HMAC-SHA256`).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Largest `X-Amz-Expires` a presigned URL may carry: 604800 seconds, seven days (§9).
pub const MAX_PRESIGN_EXPIRES_SECS: u32 = 604_800;

/// Allowed distance between the request time and the server's clock: 15 minutes (§4).
pub const MAX_CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(15 * 60);
