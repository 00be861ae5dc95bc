//! Strings to sign of the aws-chunked signature chain (§10.3, §10.4).
//!
//! Only the pure pieces live here; parsing the aws-chunked framing is the streaming layer's job.
//! A chunk signature is `key.sign_hex(chunk_string_to_sign(..).as_bytes())` with the request's
//! [`crate::SigningKey`], starting from [`crate::Authentication::seed_signature`].

use crate::canonical::{EMPTY_SHA256_HEX, sha256_hex, trim_header_value};
use crate::scope::CredentialScope;

/// Algorithm line of a chunk string to sign (§10.3).
pub const CHUNK_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";

/// Algorithm line of the trailer string to sign (§10.4).
pub const TRAILER_ALGORITHM: &str = "AWS4-HMAC-SHA256-TRAILER";

/// The string to sign of one chunk (including the final empty one), §10.3:
///
/// ```text
/// AWS4-HMAC-SHA256-PAYLOAD \n timestamp \n scope \n previous_signature \n SHA-256("") \n
/// SHA-256(chunk_data)
/// ```
pub fn chunk_string_to_sign(
    timestamp: &str,
    scope: &CredentialScope,
    previous_signature: &str,
    chunk_data: &[u8],
) -> String {
    format!(
        "{CHUNK_ALGORITHM}\n{timestamp}\n{scope}\n{previous_signature}\n{EMPTY_SHA256_HEX}\n{}",
        sha256_hex(chunk_data)
    )
}

/// The canonical trailers (§10.4): for each trailer sorted by lowercase name,
/// `lowercase(name) ":" trim(value) "\n"`. Leave `x-amz-trailer-signature` out.
pub fn canonical_trailers(trailers: &[(&str, &[u8])]) -> Vec<u8> {
    let mut sorted: Vec<(String, &[u8])> = trailers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), *value))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (name, value) in sorted {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&trim_header_value(value));
        out.push(b'\n');
    }
    out
}

/// The trailer string to sign (§10.4), chained on the final (empty) chunk's signature:
///
/// ```text
/// AWS4-HMAC-SHA256-TRAILER \n timestamp \n scope \n previous_signature \n
/// SHA-256(canonical_trailers)
/// ```
pub fn trailer_string_to_sign(
    timestamp: &str,
    scope: &CredentialScope,
    previous_signature: &str,
    canonical_trailers: &[u8],
) -> String {
    format!(
        "{TRAILER_ALGORITHM}\n{timestamp}\n{scope}\n{previous_signature}\n{}",
        sha256_hex(canonical_trailers)
    )
}
