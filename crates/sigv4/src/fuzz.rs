//! Fuzzing entry point: arbitrary bytes as a request, through authentication and verification.

use std::time::{Duration, SystemTime};

use crate::authenticate::authenticate;
use crate::canonical::{canonical_query_string, canonical_uri};
use crate::error::SigV4Error;
use crate::key::derive_signing_key;
use crate::request::{AuthForm, Payload, RequestParts, UriEncoding};

/// Server clock of every fuzz run: 2024-01-15T12:00:00Z, the time of the reference vectors (§14).
pub(crate) const FUZZ_NOW_UNIX: u64 = 1_705_320_000;

/// Secret every fuzz run verifies with (the reference vectors' secret, §14).
pub(crate) const FUZZ_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// Parses `data` as a small HTTP-like request and runs [`authenticate`] and
/// [`crate::Authentication::verify`] on it (every payload variant, both URI encodings) with a fixed
/// clock and secret. Never panics, whatever the input.
///
/// Input format (the seed corpus follows it): a first line `METHOD PATH[?QUERY]`, header lines
/// `Name: value`, an empty line, then the body. Lines end with `\n` (a trailing `\r` is dropped).
pub fn fuzz_one(data: &[u8]) {
    let _ = fuzz_case(data);
}

/// The outcome of one fuzz input: `None` when `data` is not a request, otherwise the result of
/// authentication and, when it passed, of verification for each encoding with `Payload::Bytes`.
pub(crate) fn fuzz_case(data: &[u8]) -> Option<Result<(), SigV4Error>> {
    let (head, body) = split_head(data);
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = std::str::from_utf8(lines.next()?).ok()?;
    let (method, target) = request_line.split_once(' ')?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers: Vec<(&str, &[u8])> = Vec::new();
    for line in lines {
        let colon = line.iter().position(|b| *b == b':')?;
        let name = std::str::from_utf8(line.get(..colon)?).ok()?;
        let value = line.get(colon + 1..)?;
        let value = value.strip_prefix(b" ").unwrap_or(value);
        headers.push((name, value));
    }
    let parts = RequestParts {
        method,
        path,
        query,
        headers: &headers,
    };

    for encoding in [UriEncoding::Double, UriEncoding::Single] {
        let _ = canonical_uri(path, encoding);
    }
    for form in [AuthForm::Header, AuthForm::Presigned] {
        let _ = canonical_query_string(query, form);
    }

    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(FUZZ_NOW_UNIX);
    let auth = match authenticate(&parts, now) {
        Ok(auth) => auth,
        Err(e) => {
            let _ = (
                e.code(),
                e.http_status(),
                e.message(),
                e.s3_code(),
                e.s3_message(),
            );
            return Some(Err(e));
        }
    };
    let _ = (
        auth.payload_hash(),
        auth.presign_expires_at(),
        auth.security_token(),
    );
    let key = derive_signing_key(FUZZ_SECRET, auth.scope());
    let mut outcome = Err(SigV4Error::MissingAuthentication);
    for encoding in [UriEncoding::Double, UriEncoding::Single] {
        for payload in [
            Payload::Unsigned,
            Payload::Deferred,
            Payload::Sha256([0; 32]),
        ] {
            let _ = auth.verify(&parts, payload, encoding, &key);
        }
        let result = auth.verify(&parts, Payload::Bytes(body), encoding, &key);
        if result.is_ok() || outcome.is_err() {
            outcome = result;
        }
    }
    if outcome.is_err() {
        // Streaming and presigned S3 requests verify with the payload left to the caller.
        let encoding = UriEncoding::for_service(auth.scope().service());
        if auth
            .verify(&parts, Payload::Deferred, encoding, &key)
            .is_ok()
        {
            outcome = Ok(());
        }
    }
    Some(outcome)
}

fn split_head(data: &[u8]) -> (&[u8], &[u8]) {
    let find = |separator: &[u8]| {
        data.windows(separator.len())
            .position(|w| w == separator)
            .map(|at| (at, at + separator.len()))
    };
    let split = match (find(b"\r\n\r\n"), find(b"\n\n")) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match split {
        Some((head_end, body_start)) => (
            data.get(..head_end).unwrap_or(data),
            data.get(body_start..).unwrap_or(&[]),
        ),
        None => (data, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Vec<(String, Vec<u8>)> {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fuzz/corpus/sigv4_authorization"
        );
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn valid_seed_files_verify_and_invalid_ones_do_not() {
        let files = corpus();
        assert!(files.len() >= 5);
        for (name, data) in files {
            let outcome = fuzz_case(&data);
            if name.starts_with("valid-") {
                assert_eq!(outcome, Some(Ok(())), "{name}");
            } else {
                assert!(!matches!(outcome, Some(Ok(()))), "{name}: {outcome:?}");
            }
        }
    }

    #[test]
    fn survives_degenerate_inputs() {
        for data in [
            &b""[..],
            b"\n\n",
            b"GET",
            b"GET /\nAuthorization",
            b"GET /?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=%ff\n\n",
            b"GET /\nAuthorization: AWS4-HMAC-SHA256 \xff\n\n",
            b"GET /%\nAuthorization: AWS4-HMAC-SHA256 Credential=a/20240115/r/s/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000\nX-Amz-Date: 20240115T120000Z\nHost: h\n\n",
        ] {
            fuzz_one(data);
        }
    }
}
