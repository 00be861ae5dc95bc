//! The canonical request (§5) and the string to sign (§6), as small pure functions.

use std::borrow::Cow;

use aws_lc_rs::digest;
use percent_encoding::percent_decode;

use crate::error::SigV4Error;
use crate::request::{AuthForm, UriEncoding};
use crate::scope::{CredentialScope, SCOPE_TERMINATOR};

/// `lowercase_hex(SHA-256(""))`, the hashed payload of an empty body (§5.6).
pub const EMPTY_SHA256_HEX: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// `lowercase_hex(SHA-256(data))`.
pub fn sha256_hex(data: &[u8]) -> String {
    lower_hex(digest::digest(&digest::SHA256, data).as_ref())
}

/// Lowercase hex of `bytes`, by table: on every request (payload hash,
/// canonical-request hash, signatures), where the `hex` crate's
/// char-by-char iterator showed up in profiles.
pub fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = vec![0u8; bytes.len() * 2];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]]);
    }
    // INVARIANT: only ASCII hex digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(d.as_ref()) {
        *o = *b;
    }
    out
}

/// `UriEncode(bytes, keep_slash)` (§5.2): every byte outside `A-Z a-z 0-9 - _ . ~` becomes `%XX`
/// with uppercase hex; `/` stays literal when `keep_slash`.
pub fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// The canonical URI (§5.2) of a raw wire path.
///
/// * `Double` (generic mode): RFC 3986 dot-segment removal and collapse of empty segments, then
///   the already percent-encoded path is encoded once more (`%` becomes `%25`). A trailing `/.` or
///   `/..` keeps its trailing slash, as aws-sigv4 does (botocore drops it; §5.2, §15).
/// * `Single` (S3 mode): no normalization; the path is percent-decoded once and encoded once.
///
/// An empty path is `/` in both modes.
pub fn canonical_uri(raw_path: &str, encoding: UriEncoding) -> String {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    match encoding {
        UriEncoding::Double => uri_encode(remove_dot_segments(path).as_bytes(), true),
        UriEncoding::Single => {
            let decoded: Vec<u8> = percent_decode(path.as_bytes()).collect();
            uri_encode(&decoded, true)
        }
    }
}

fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    out.push('/');
    out.push_str(&segments.join("/"));
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if trailing && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical query string (§5.3) of a raw query (without `?`).
///
/// Items split on `&` (empty ones skipped) and on the first `=` (none: empty value); name and value
/// percent-decoded with `+` read as space (§5.3 recommendation), re-encoded with
/// `UriEncode(.., false)`, sorted by name then value as bytes, repeated names kept. For the
/// presigned form the `X-Amz-Signature` parameter is left out (§9), and only that one.
///
/// A name or value whose raw text already is its canonical encoding (the
/// common case: SDKs send canonical queries) is used as it is, without
/// decoding or allocating ([`canonical_part`]).
pub fn canonical_query_string(raw_query: &str, form: AuthForm) -> String {
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    for item in raw_query.split('&').filter(|item| !item.is_empty()) {
        let (name, value) = item.split_once('=').unwrap_or((item, ""));
        let name = canonical_part(name);
        // Canonical encoding is one-to-one, so this is the decoded name's test.
        if form == AuthForm::Presigned && name == "X-Amz-Signature" {
            continue;
        }
        pairs.push((name, canonical_part(value)));
    }
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw_query.len());
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// `UriEncode(query_decode(raw), false)`: `raw` itself when it already is
/// that, i.e. only unreserved characters and `%XX` escapes (uppercase hex)
/// of bytes that are not unreserved.
fn canonical_part(raw: &str) -> Cow<'_, str> {
    if is_canonical(raw.as_bytes()) {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(uri_encode(&query_decode(raw), false))
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn is_canonical(raw: &[u8]) -> bool {
    fn upper_hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let high = raw.get(i + 1).copied().and_then(upper_hex);
            let low = raw.get(i + 2).copied().and_then(upper_hex);
            match (high, low) {
                (Some(high), Some(low)) if !is_unreserved((high << 4) | low) => i += 3,
                _ => return false,
            }
        } else if is_unreserved(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// The decoded `(name, value)` pairs of a raw query, `+` read as space (§5.3 steps 1-4).
#[cfg(test)]
pub(crate) fn query_pairs(raw_query: &str) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    raw_query
        .split('&')
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (name, value) = item.split_once('=').unwrap_or((item, ""));
            (
                query_decode(name).into_owned(),
                query_decode(value).into_owned(),
            )
        })
}

/// A query name or value decoded, `+` read as space (§5.3); a `%` not
/// followed by two hex digits stays as it is. Borrowed when there is
/// nothing to decode.
pub(crate) fn query_decode(raw: &str) -> Cow<'_, [u8]> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = raw.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = (b == b'%')
            .then(|| Some((hex(*bytes.get(i + 1)?)? << 4) | hex(*bytes.get(i + 2)?)?))
            .flatten();
        match (b, escaped) {
            (_, Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (other, None) => {
                out.push(other);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// `trimall` (§5.4): leading and trailing spaces and tabs removed, every inner run of spaces
/// replaced by one space. Inner tabs are kept (aws-sigv4's behaviour; botocore folds them, §15).
pub fn trim_header_value(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    push_trimmed(&mut out, value);
    out
}

/// Appends `trimall(value)` (see [`trim_header_value`]) to `out`.
fn push_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let start = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    let trimmed = value.get(start..end).unwrap_or(&[]);
    // Fast path: most values have no run of spaces to fold.
    if !trimmed.windows(2).any(|pair| pair == b"  ") {
        out.extend_from_slice(trimmed);
        return;
    }
    let mut previous_space = false;
    for &b in trimmed {
        if b == b' ' {
            if !previous_space {
                out.push(b);
            }
            previous_space = true;
        } else {
            out.push(b);
            previous_space = false;
        }
    }
}

/// The canonical headers block (§5.4): for each name of `signed_headers`, in that order,
/// `name ":" join(",", trimall(values in arrival order)) "\n"`. Names match case-insensitively;
/// values are bytes and are not decoded.
///
/// A signed header absent from the request is [`SigV4Error::SignedHeaderMissing`].
pub fn canonical_headers(
    headers: &[(&str, &[u8])],
    signed_headers: &[&str],
) -> Result<Vec<u8>, SigV4Error> {
    let mut out = Vec::new();
    push_canonical_headers(&mut out, headers, signed_headers)?;
    Ok(out)
}

/// Appends the canonical headers block (see [`canonical_headers`]) to `out`.
pub(crate) fn push_canonical_headers(
    out: &mut Vec<u8>,
    headers: &[(&str, &[u8])],
    signed_headers: &[&str],
) -> Result<(), SigV4Error> {
    for name in signed_headers {
        let mut values = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
            .peekable();
        if values.peek().is_none() {
            return Err(SigV4Error::SignedHeaderMissing {
                header: (*name).to_owned(),
            });
        }
        out.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
        out.push(b':');
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_trimmed(out, value);
        }
        out.push(b'\n');
    }
    Ok(())
}

/// The canonical request (§5):
///
/// ```text
/// method "\n" canonical_uri "\n" canonical_query "\n" canonical_headers "\n" signed_headers "\n"
/// hashed_payload
/// ```
///
/// `canonical_headers` already ends with `\n`, hence the blank line before the signed headers.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &[u8],
    signed_headers: &str,
    hashed_payload: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        method.len()
            + canonical_uri.len()
            + canonical_query.len()
            + canonical_headers.len()
            + signed_headers.len()
            + hashed_payload.len()
            + 5,
    );
    for (i, part) in [
        method.as_bytes(),
        canonical_uri.as_bytes(),
        canonical_query.as_bytes(),
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(part);
    }
    out.push(b'\n');
    out.extend_from_slice(canonical_headers);
    out.push(b'\n');
    out.extend_from_slice(signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(hashed_payload.as_bytes());
    out
}

/// The string to sign (§6):
/// `"AWS4-HMAC-SHA256\n" timestamp "\n" scope "\n" lowercase_hex(SHA-256(canonical_request))`,
/// no trailing newline. `timestamp` is in ISO 8601 basic format.
pub fn string_to_sign(
    timestamp: &str,
    scope: &CredentialScope,
    canonical_request: &[u8],
) -> String {
    // Pushed into one pre-sized buffer: `format!` with a `Display` scope was a visible cost.
    let hash = sha256_hex(canonical_request);
    let (date, region, service) = (scope.date(), scope.region(), scope.service());
    let mut out = String::with_capacity(
        crate::ALGORITHM.len()
            + timestamp.len()
            + date.len()
            + region.len()
            + service.len()
            + SCOPE_TERMINATOR.len()
            + hash.len()
            + 7,
    );
    for part in [
        crate::ALGORITHM,
        "\n",
        timestamp,
        "\n",
        date,
        "/",
        region,
        "/",
        service,
        "/",
    ] {
        out.push_str(part);
    }
    out.push_str(SCOPE_TERMINATOR);
    out.push('\n');
    out.push_str(&hash);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_bytes_with_uppercase_hex() {
        assert_eq!(uri_encode(b"a b/c~d", false), "a%20b%2Fc~d");
        assert_eq!(uri_encode(b"a b/c", true), "a%20b/c");
        assert_eq!(uri_encode("€".as_bytes(), true), "%E2%82%AC");
    }

    #[test]
    fn generic_mode_encodes_the_wire_path_again() {
        assert_eq!(
            canonical_uri(
                "/2015-03-31/functions/arn%3Aaws%3Alambda/invocations",
                UriEncoding::Double
            ),
            "/2015-03-31/functions/arn%253Aaws%253Alambda/invocations"
        );
        assert_eq!(canonical_uri("", UriEncoding::Double), "/");
        assert_eq!(canonical_uri("/a:b", UriEncoding::Double), "/a%3Ab");
    }

    #[test]
    fn generic_mode_removes_dot_and_empty_segments() {
        for (raw, expected) in [
            ("/a//b", "/a/b"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/../a", "/a"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/a/", "/a/"),
            ("//", "/"),
            ("/./", "/"),
        ] {
            assert_eq!(canonical_uri(raw, UriEncoding::Double), expected, "{raw}");
        }
    }

    #[test]
    fn s3_mode_decodes_once_and_keeps_segments() {
        assert_eq!(
            canonical_uri("/test$file.text", UriEncoding::Single),
            "/test%24file.text"
        );
        assert_eq!(canonical_uri("/a//b/./c", UriEncoding::Single), "/a//b/./c");
        assert_eq!(
            canonical_uri(
                "/examplebucket/dir/a%20b%2Bc%3Dd%E2%82%AC~%281%29.txt",
                UriEncoding::Single
            ),
            "/examplebucket/dir/a%20b%2Bc%3Dd%E2%82%AC~%281%29.txt"
        );
        assert_eq!(canonical_uri("", UriEncoding::Single), "/");
    }

    #[test]
    fn sorts_and_reencodes_the_query() {
        assert_eq!(
            canonical_query_string(
                "list-type=2&prefix=a%20b%3D%2F&delimiter=%2F&max-keys=2&encoding-type=url",
                AuthForm::Header
            ),
            "delimiter=%2F&encoding-type=url&list-type=2&max-keys=2&prefix=a%20b%3D%2F"
        );
        assert_eq!(canonical_query_string("acl", AuthForm::Header), "acl=");
        assert_eq!(canonical_query_string("", AuthForm::Header), "");
        assert_eq!(canonical_query_string("&&b=1&", AuthForm::Header), "b=1");
        assert_eq!(canonical_query_string("a=x+y", AuthForm::Header), "a=x%20y");
        assert_eq!(
            canonical_query_string("a=2&a=1&B=3", AuthForm::Header),
            "B=3&a=1&a=2"
        );
        assert_eq!(canonical_query_string("a=%zz", AuthForm::Header), "a=%25zz");
    }

    #[test]
    fn drops_only_the_signature_parameter_of_presigned_urls() {
        let q = "X-Amz-Signature=abc&X-Amz-Security-Token=t&a=1";
        assert_eq!(
            canonical_query_string(q, AuthForm::Presigned),
            "X-Amz-Security-Token=t&a=1"
        );
        assert_eq!(
            canonical_query_string(q, AuthForm::Header),
            "X-Amz-Security-Token=t&X-Amz-Signature=abc&a=1"
        );
    }

    #[test]
    fn already_canonical_parts_are_kept_and_others_reencoded() {
        assert_eq!(
            canonical_query_string("a=%41%2f%2F%7E~&%58-Amz-Signature=s", AuthForm::Presigned),
            "a=A%2F%2F~~"
        );
        assert!(is_canonical(
            b"AKID%2F20240115%2Fus-east-1%2Fs3%2Faws4_request"
        ));
        for raw in [
            &b"%41"[..],
            b"%2f",
            b"a+b",
            b"a b",
            b"%",
            b"%2",
            b"%G0",
            b"/",
            "é".as_bytes(),
        ] {
            assert!(!is_canonical(raw), "{raw:?}");
        }
    }

    /// What `canonical_query_string` computed before it kept canonical
    /// parts as they are: decode every name and value, encode, sort.
    fn decode_every_part(raw_query: &str, form: AuthForm) -> String {
        let mut pairs: Vec<(String, String)> = query_pairs(raw_query)
            .filter(|(name, _)| !(form == AuthForm::Presigned && name == b"X-Amz-Signature"))
            .map(|(name, value)| (uri_encode(&name, false), uri_encode(&value, false)))
            .collect();
        pairs.sort();
        pairs
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    proptest::proptest! {
        #[test]
        fn query_decoding_is_plus_as_space_then_percent_decoding(
            raw in "([a-zA-Z0-9%+=~. -]|%[0-9a-fA-F]{2}|%[0-9a-fA-F]|é){0,30}",
        ) {
            let plus_as_space: Vec<u8> = raw
                .bytes()
                .map(|b| if b == b'+' { b' ' } else { b })
                .collect();
            let expected: Vec<u8> = percent_decode(&plus_as_space).collect();
            let decoded = query_decode(&raw);
            proptest::prop_assert_eq!(decoded.as_ref(), expected.as_slice());
        }

        #[test]
        fn keeping_canonical_parts_changes_nothing(
            query in "([a-zA-Z0-9%+=&~._/ -]|%[0-9a-fA-F]{2}|X-Amz-Signature|é){0,40}",
            presigned in proptest::bool::ANY,
        ) {
            let form = if presigned { AuthForm::Presigned } else { AuthForm::Header };
            proptest::prop_assert_eq!(
                canonical_query_string(&query, form),
                decode_every_part(&query, form)
            );
        }
    }

    #[test]
    fn trims_and_collapses_header_values() {
        assert_eq!(trim_header_value(b"  two  spaces  "), b"two spaces");
        assert_eq!(trim_header_value(b"\ta\t b\t"), b"a\t b");
        assert_eq!(trim_header_value(b"   "), b"");
        assert_eq!(trim_header_value(b""), b"");
    }

    #[test]
    fn joins_repeated_headers_with_a_comma_in_arrival_order() {
        let headers: &[(&str, &[u8])] = &[
            ("X-Amz-Meta-A", b" 2 "),
            ("Host", b"h"),
            ("x-amz-meta-a", b"1"),
        ];
        let block = canonical_headers(headers, &["host", "x-amz-meta-a"]).unwrap();
        assert_eq!(block, b"host:h\nx-amz-meta-a:2,1\n");
    }

    #[test]
    fn reports_a_signed_header_that_is_absent() {
        let headers: &[(&str, &[u8])] = &[("Host", b"h")];
        assert_eq!(
            canonical_headers(headers, &["host", "x-amz-date"]),
            Err(SigV4Error::SignedHeaderMissing {
                header: "x-amz-date".into()
            })
        );
    }

    #[test]
    fn lays_out_the_canonical_request_with_a_blank_line() {
        let creq = canonical_request("GET", "/", "", b"host:h\n", "host", EMPTY_SHA256_HEX);
        assert_eq!(
            creq,
            format!("GET\n/\n\nhost:h\n\nhost\n{EMPTY_SHA256_HEX}").into_bytes()
        );
        assert_eq!(sha256_hex(b""), EMPTY_SHA256_HEX);
    }
}
