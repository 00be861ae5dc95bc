//! The request as SigV4 sees it, and the per-service choices that change the rules.

/// Borrowed view of the request parts SigV4 covers.
///
/// Build it from exactly what arrived on the wire (§14.2 "Usage"): the raw, still percent-encoded
/// path, the raw query, and every header in arrival order including `Host` (for HTTP/2, add the
/// `:authority` value as a `host` header). From an `http::Request`:
///
/// ```ignore
/// let headers: Vec<(&str, &[u8])> =
///     req.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
/// let parts = RequestParts {
///     method: req.method().as_str(),
///     path: req.uri().path(),
///     query: req.uri().query().unwrap_or(""),
///     headers: &headers,
/// };
/// ```
///
/// (`http::HeaderMap` groups repeated names together but keeps their values in arrival order,
/// which is all the canonical form needs.)
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method exactly as received (§5.1).
    pub method: &'a str,
    /// The raw path exactly as received, still percent-encoded, e.g. `/` (§5.2).
    pub path: &'a str,
    /// The raw query string without `?`; `""` when there is none (§5.3).
    pub query: &'a str,
    /// Header names in any case, in arrival order; a name may repeat (§5.4).
    pub headers: &'a [(&'a str, &'a [u8])],
}

impl RequestParts<'_> {
    /// Every value of the header `name` (ASCII case-insensitive), in arrival order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// Whether at least one header named `name` is present.
    pub fn has_header(&self, name: &str) -> bool {
        self.header_values(name).next().is_some()
    }
}

/// How the canonical URI is built, which also selects the S3 rules of the reference.
///
/// `Double` is for every service but S3 (§5.2 "generic mode": dot segments removed, the wire path
/// encoded once more). `Single` is S3 mode: the wire path decoded once and encoded once, and, in
/// [`crate::Authentication::verify`], the other S3-only rules: every `x-amz-*` header must be signed
/// (§5.4 rule 4), header auth needs `x-amz-content-sha256`, and a presigned URL's payload defaults to
/// `UNSIGNED-PAYLOAD` (§5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UriEncoding {
    /// Generic mode: `sts`, `iam`, `lambda`, `execute-api`, `rolesanywhere`, ...
    Double,
    /// S3 mode.
    Single,
}

impl UriEncoding {
    /// The mode a credential scope service uses: `Single` for `s3`, `Double` for everything else.
    pub fn for_service(service: &str) -> Self {
        if service == "s3" {
            Self::Single
        } else {
            Self::Double
        }
    }
}

/// Where the request carried its SigV4 material (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthForm {
    /// `Authorization: AWS4-HMAC-SHA256 ...` header.
    Header,
    /// Presigned URL: `X-Amz-Algorithm`, `X-Amz-Credential`, ... query parameters (§9).
    Presigned,
}

/// What the verifier is given about the body, and which `HashedPayload` values it accepts (§5.6).
///
/// The `HashedPayload` line of the canonical request is the declared value when the request has one
/// (an `x-amz-content-sha256` header; for presigned URLs an `X-Amz-Content-Sha256` query parameter
/// or a *signed* `x-amz-content-sha256` header), otherwise `UNSIGNED-PAYLOAD` for S3 presigned URLs
/// and the SHA-256 of the body for everything else.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The complete body; the signature must cover it. A declared hash must equal its SHA-256
    /// (else [`crate::SigV4Error::ContentSha256Mismatch`]); `UNSIGNED-PAYLOAD` and `STREAMING-*`
    /// are refused. Query-protocol services (STS, IAM) use this: the body holds the parameters.
    Bytes(&'a [u8]),
    /// Like `Bytes`, with the body's SHA-256 already computed by the caller.
    Sha256([u8; 32]),
    /// The body is not covered: only `UNSIGNED-PAYLOAD` (declared, or the S3 presigned default) is
    /// accepted.
    Unsigned,
    /// The body is not at hand yet (streaming). Any well-formed declared value is accepted; the
    /// caller must then honour [`crate::Authentication::payload_hash`]: hash the body and compare
    /// for [`PayloadHash::Sha256`], verify the chunk chain (§10) for the `STREAMING-*` forms.
    Deferred,
}

/// A parsed `HashedPayload` value (§5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadHash {
    /// 64 hex digits: the SHA-256 of the body.
    Sha256([u8; 32]),
    /// `UNSIGNED-PAYLOAD`: the body is not covered.
    Unsigned,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked body, unsigned chunks, checksum trailer.
    StreamingUnsignedTrailer,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked body with a chunk-signature chain.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: chunk-signature chain plus signed trailer.
    StreamingSignedTrailer,
}

impl PayloadHash {
    /// `UNSIGNED-PAYLOAD`.
    pub const UNSIGNED: &'static str = "UNSIGNED-PAYLOAD";
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    pub const STREAMING_UNSIGNED_TRAILER: &'static str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.
    pub const STREAMING_SIGNED: &'static str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`.
    pub const STREAMING_SIGNED_TRAILER: &'static str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";

    /// Parses a declared value; `None` for anything else (including the SigV4a `STREAMING-AWS4-
    /// ECDSA-P256-SHA256-*` forms, which this crate does not implement, §12). Hex digits may be of
    /// either case; the canonical request still uses the value verbatim.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            Self::UNSIGNED => Some(Self::Unsigned),
            Self::STREAMING_UNSIGNED_TRAILER => Some(Self::StreamingUnsignedTrailer),
            Self::STREAMING_SIGNED => Some(Self::StreamingSigned),
            Self::STREAMING_SIGNED_TRAILER => Some(Self::StreamingSignedTrailer),
            hex_value => {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(hex_value, &mut digest).ok()?;
                Some(Self::Sha256(digest))
            }
        }
    }
}
