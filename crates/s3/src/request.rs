//! What an S3 request addresses: bucket and key from path-style or
//! virtual-host-style addressing, and the query parameters.

use percent_encoding::percent_decode_str;

use crate::error::S3Error;
use crate::store::valid_bucket_name;

/// Longest object key S3 accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// The bucket and key a request addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The bucket, if any (`None`: the service, e.g. ListBuckets).
    pub bucket: Option<String>,
    /// The object key, if any (decoded).
    pub key: Option<String>,
}

fn decode(raw: &str) -> Result<String, S3Error> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| S3Error::invalid_argument("The path is not valid percent-encoded UTF-8."))
}

/// Resolve the target from the `Host` header and the raw path.
///
/// With `domain` set and a host of the form `BUCKET.DOMAIN[:port]`, the
/// bucket comes from the host and the whole path is the key
/// (virtual-host-style); otherwise the first path segment is the bucket
/// (path-style). The bucket segment is decoded and must be a valid bucket
/// name, so an encoded slash or `..` can never reach a file name.
pub fn resolve_target(
    host: Option<&str>,
    raw_path: &str,
    domain: Option<&str>,
) -> Result<Target, S3Error> {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let host_bucket = match (host, domain) {
        (Some(host), Some(domain)) => {
            let name = host.rsplit_once(':').map_or(host, |(h, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    h
                } else {
                    host
                }
            });
            name.strip_suffix(domain)
                .and_then(|rest| rest.strip_suffix('.'))
                .filter(|b| !b.is_empty())
                .map(str::to_owned)
        }
        _ => None,
    };
    let (bucket, key) = match host_bucket {
        Some(bucket) => (Some(bucket), (!path.is_empty()).then(|| path.to_owned())),
        None => {
            if path.is_empty() {
                (None, None)
            } else {
                match path.split_once('/') {
                    Some((bucket, "")) => (Some(decode(bucket)?), None),
                    Some((bucket, key)) => (Some(decode(bucket)?), Some(key.to_owned())),
                    None => (Some(decode(path)?), None),
                }
            }
        }
    };
    if let Some(bucket) = &bucket
        && !valid_bucket_name(bucket)
    {
        return Err(S3Error::new(
            "InvalidBucketName",
            400,
            "The specified bucket is not valid.",
        )
        .with("BucketName", bucket.clone()));
    }
    let key = match key {
        Some(raw) => {
            let key = decode(&raw)?;
            if key.len() > MAX_KEY_BYTES {
                return Err(S3Error::new("KeyTooLongError", 400, "Your key is too long"));
            }
            Some(key)
        }
        None => None,
    };
    Ok(Target { bucket, key })
}

/// The decoded query parameters, in order.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parse a raw query string. The SigV4 query parameters (`X-Amz-*`,
    /// which only the signature check reads, from the raw query) are left
    /// out: decoding the signature, credential and signed headers of every
    /// presigned request for nothing was a tenth of a small GET's work.
    pub fn parse(raw: &str) -> Self {
        Self {
            pairs: raw
                .split('&')
                .filter(|pair| !pair.starts_with("X-Amz-"))
                .flat_map(|pair| form_urlencoded::parse(pair.as_bytes()))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn query_parameters_decode_and_sigv4_ones_are_left_out() {
        let q = Query::parse(
            "list-type=2&prefix=a%2Fb+c&X-Amz-Signature=abc&X-Amz-Credential=AK%2F1&uploads&delimiter=%2F",
        );
        assert_eq!(q.get("list-type"), Some("2"));
        assert_eq!(q.get("prefix"), Some("a/b c"));
        assert_eq!(q.get("delimiter"), Some("/"));
        assert!(q.has("uploads"));
        assert!(!q.has("X-Amz-Signature"));
        assert!(!q.has("X-Amz-Credential"));
        // Only the exact prefix is skipped: other names keep their value.
        assert_eq!(Query::parse("x-amz-foo=1").get("x-amz-foo"), Some("1"));
        assert_eq!(Query::parse("").get(""), None);
    }

    #[test]
    fn path_style() {
        let t = resolve_target(Some("localhost:7401"), "/bkt/dir/a%20b.txt", None).unwrap();
        assert_eq!(t.bucket.as_deref(), Some("bkt"));
        assert_eq!(t.key.as_deref(), Some("dir/a b.txt"));
        let t = resolve_target(None, "/", None).unwrap();
        assert_eq!(
            t,
            Target {
                bucket: None,
                key: None
            }
        );
        let t = resolve_target(None, "/bkt/", None).unwrap();
        assert_eq!(t.key, None);
    }

    #[test]
    fn virtual_host_style() {
        let t = resolve_target(Some("bkt.s3.local:7401"), "/a/b", Some("s3.local")).unwrap();
        assert_eq!(t.bucket.as_deref(), Some("bkt"));
        assert_eq!(t.key.as_deref(), Some("a/b"));
        let t = resolve_target(Some("s3.local:7401"), "/bkt/k", Some("s3.local")).unwrap();
        assert_eq!(t.bucket.as_deref(), Some("bkt"));
    }

    #[test]
    fn traversal_in_the_bucket_segment_is_refused() {
        for path in [
            "/..%2F..%2Fetc/x",
            "/%2E%2E/x",
            "/bkt%2F..%2Fother/k",
            "/../x",
        ] {
            let err = resolve_target(None, path, None).unwrap_err();
            assert_eq!(err.code, "InvalidBucketName", "{path}");
        }
    }

    #[test]
    fn keys_keep_dots_and_encoded_slashes_as_characters() {
        let t = resolve_target(None, "/bkt/..%2F..%2Fsecret", None).unwrap();
        assert_eq!(t.key.as_deref(), Some("../../secret"));
    }

    #[test]
    fn overlong_key_is_refused() {
        let path = format!("/bkt/{}", "a".repeat(1025));
        assert_eq!(
            resolve_target(None, &path, None).unwrap_err().code,
            "KeyTooLongError"
        );
    }
}
