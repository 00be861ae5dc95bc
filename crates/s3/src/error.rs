//! S3's REST-XML errors: the one place failures become S3 codes, statuses
//! and `<Error>` bodies (sigv4.md §13).

use mayfly_sigv4::SigV4Error;

use crate::chunked::ChunkError;
use crate::xml::escape;

/// An S3 error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    /// S3's error code (`NoSuchKey`, ...).
    pub code: &'static str,
    /// HTTP status.
    pub status: u16,
    /// `<Message>`.
    pub message: String,
    /// Extra elements (`<Key>`, `<BucketName>`, `<HeadersNotSigned>`, ...).
    pub extra: Vec<(&'static str, String)>,
}

impl S3Error {
    /// An error with code, status and message.
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
            extra: Vec::new(),
        }
    }

    /// Add an extra element.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    /// `AccessDenied` (policy).
    pub fn access_denied() -> Self {
        Self::new("AccessDenied", 403, "Access Denied")
    }

    /// `NoSuchBucket`.
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new("NoSuchBucket", 404, "The specified bucket does not exist")
            .with("BucketName", bucket)
    }

    /// `NoSuchKey`.
    pub fn no_such_key(key: &str) -> Self {
        Self::new("NoSuchKey", 404, "The specified key does not exist.").with("Key", key)
    }

    /// `InvalidArgument`.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new("InvalidArgument", 400, message)
    }

    /// `InvalidRequest`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new("InvalidRequest", 400, message)
    }

    /// `MalformedXML`.
    pub fn malformed_xml() -> Self {
        Self::new(
            "MalformedXML",
            400,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    }

    /// `InternalError`.
    pub fn internal() -> Self {
        Self::new(
            "InternalError",
            500,
            "We encountered an internal error. Please try again.",
        )
    }

    /// `BadDigest` (a checksum or Content-MD5 mismatch).
    pub fn bad_digest(what: &str) -> Self {
        Self::new(
            "BadDigest",
            400,
            format!("The {what} you specified did not match what we received."),
        )
    }

    /// The `<Error>` document.
    pub fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        out.push_str(self.code);
        out.push_str("</Code><Message>");
        out.push_str(&escape(&self.message));
        out.push_str("</Message>");
        for (name, value) in &self.extra {
            out.push_str(&format!("<{name}>{}</{name}>", escape(value)));
        }
        out.push_str("<Resource>");
        out.push_str(&escape(resource));
        out.push_str("</Resource><RequestId>");
        out.push_str(request_id);
        out.push_str("</RequestId></Error>");
        out
    }
}

impl From<SigV4Error> for S3Error {
    fn from(error: SigV4Error) -> Self {
        tracing::debug!(cause = %error, "s3 authentication failed");
        let mut out = S3Error {
            code: error.s3_code(),
            status: error.s3_http_status(),
            message: error.s3_message(),
            extra: Vec::new(),
        };
        match &error {
            SigV4Error::HeadersNotSigned { headers } => {
                out.extra.push(("HeadersNotSigned", headers.join(", ")));
            }
            SigV4Error::UnknownAccessKey { access_key_id } => {
                out.extra.push(("AWSAccessKeyId", access_key_id.clone()));
            }
            SigV4Error::ContentSha256Mismatch { declared, computed } => {
                out.extra
                    .push(("ClientComputedContentSHA256", declared.clone()));
                out.extra
                    .push(("S3ComputedContentSHA256", computed.clone()));
            }
            _ => {}
        }
        out
    }
}

impl From<ChunkError> for S3Error {
    fn from(error: ChunkError) -> Self {
        tracing::debug!(cause = %error, "aws-chunked body refused");
        match error {
            ChunkError::ChunkSignature | ChunkError::TrailerSignature => S3Error::new(
                "SignatureDoesNotMatch",
                403,
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            ),
            ChunkError::Incomplete => S3Error::new(
                "IncompleteBody",
                400,
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            ),
            ChunkError::Malformed(what) => {
                S3Error::invalid_request(format!("The aws-chunked body is malformed: {what}."))
            }
        }
    }
}
