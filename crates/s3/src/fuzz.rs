//! One entry point for the `s3_request` fuzz target and the corpus replay in
//! `cargo test`: every parser the gateway runs on client bytes before (or
//! without) authentication.

use mayfly_sigv4::{CredentialScope, derive_signing_key};

use crate::chunked::{ChainKey, ChunkedDecoder};

/// Feed `data` to a parser chosen by its first byte; never panics.
///
/// `0`/`1`: the aws-chunked decoder (unsigned trailer / signed chain with
/// trailer), the rest split into pieces of a size taken from the second
/// byte; `2`: DeleteObjects XML; `3`: CompleteMultipartUpload XML; `4`:
/// bucket/key resolution of a `host\npath`; `5`: a `Range` header over a
/// 1000-byte object; anything else: query parsing.
pub fn fuzz_one(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 7 {
        0 | 1 => {
            let Some((&piece, body)) = rest.split_first() else {
                return;
            };
            let chain = (selector % 7 == 1)
                .then(|| CredentialScope::new("20240115", "us-east-1", "s3").ok())
                .flatten()
                .map(|scope| ChainKey {
                    key: derive_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &scope),
                    amz_date: "20240115T120000Z".to_owned(),
                    scope,
                    seed: "645b40a7f89bdc014b8fb01b4370a9a7db51e8fd2e006cfd80666ac50210dfeb"
                        .to_owned(),
                });
            let mut decoder = ChunkedDecoder::new(chain, true);
            let mut out = Vec::new();
            for part in body.chunks(usize::from(piece).max(1)) {
                if decoder.feed(part, &mut out).is_err() {
                    return;
                }
            }
            let _ = decoder.finish();
        }
        2 => {
            let _ = crate::xml::parse_delete(rest);
        }
        3 => {
            let _ = crate::xml::parse_complete(rest);
        }
        4 => {
            let text = String::from_utf8_lossy(rest);
            let (host, path) = text.split_once('\n').unwrap_or(("localhost", &text));
            let _ = crate::request::resolve_target(Some(host), path, Some("s3.local"));
            let _ = crate::request::resolve_target(Some(host), path, None);
        }
        5 => {
            let _ = crate::gateway::parse_range(&String::from_utf8_lossy(rest), 1000);
        }
        _ => {
            let query = crate::request::Query::parse(&String::from_utf8_lossy(rest));
            let _ = query.get("prefix");
        }
    }
}
