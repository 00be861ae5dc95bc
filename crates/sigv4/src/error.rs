//! Why authentication failed, and what AWS answers for it (§13).
//!
//! The variants are precise causes (for logs); [`SigV4Error::code`], [`SigV4Error::http_status`] and
//! [`SigV4Error::message`] map them to what a query-protocol service (STS, IAM) answers, and the
//! `s3_*` methods to what S3 answers. Messages never contain a secret, a session token or the
//! expected signature.

use crate::request::AuthForm;

/// A SigV4 authentication failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor `X-Amz-Algorithm`/`X-Amz-Signature` query
    /// parameters (§1); the caller may treat the request as anonymous instead.
    #[error("request carries no sigv4 authentication")]
    MissingAuthentication,
    /// Both an `Authorization` header and presigned query parameters (§1).
    #[error("request carries both an `Authorization` header and presigned query parameters")]
    ConflictingAuthentication,
    /// More than one `Authorization` header (§1).
    #[error("request carries more than one `Authorization` header")]
    MultipleAuthorizationHeaders,
    /// An algorithm other than `AWS4-HMAC-SHA256` (SigV2, SigV4a, X.509 variant, typo), §1, §12.
    #[error("unsupported signing algorithm `{algorithm}`; only `AWS4-HMAC-SHA256` is accepted")]
    UnsupportedAlgorithm {
        /// The algorithm token the request named.
        algorithm: String,
        /// Where it was found.
        form: AuthForm,
    },
    /// The `Authorization` header lacks `Credential`, `SignedHeaders` or `Signature` (§2).
    #[error("`Authorization` header lacks the `{parameter}` parameter")]
    MissingAuthorizationParameter {
        /// `Credential`, `SignedHeaders` or `Signature`.
        parameter: &'static str,
    },
    /// The `Authorization` header names a parameter twice (§2).
    #[error("`Authorization` header repeats the `{parameter}` parameter")]
    DuplicateAuthorizationParameter {
        /// The repeated parameter.
        parameter: &'static str,
    },
    /// The `Authorization` header has a parameter other than the three of §2.
    #[error("`Authorization` header has unknown parameter `{name}`")]
    UnknownAuthorizationParameter {
        /// The unknown name.
        name: String,
    },
    /// The `Authorization` header does not follow the grammar of §2.
    #[error("`Authorization` header is malformed: {reason}")]
    MalformedAuthorization {
        /// What is wrong.
        reason: &'static str,
    },
    /// The credential is not `akid/YYYYMMDD/region/service/terminator` (§2).
    #[error(
        "credential `{credential}` is malformed; expected `<access key id>/YYYYMMDD/<region>/<service>/aws4_request`"
    )]
    MalformedCredential {
        /// The credential as received.
        credential: String,
        /// Where it was found.
        form: AuthForm,
    },
    /// The signed headers list breaks the grammar of §2 (lowercase, strictly ascending, unique).
    #[error("signed headers `{value}` are malformed: {reason}")]
    MalformedSignedHeaders {
        /// The list as received.
        value: String,
        /// What is wrong.
        reason: &'static str,
        /// Where it was found.
        form: AuthForm,
    },
    /// The signature is not 64 hexadecimal digits (§2).
    #[error("signature is not 64 hexadecimal digits")]
    MalformedSignature {
        /// Where it was found.
        form: AuthForm,
    },
    /// A presigned URL lacks one of the six required parameters (§9).
    #[error("presigned url lacks the `{parameter}` query parameter")]
    MissingQueryParameter {
        /// The missing parameter.
        parameter: &'static str,
    },
    /// A presigned URL repeats an `X-Amz-*` authentication parameter (§9).
    #[error("query repeats the `{parameter}` parameter")]
    DuplicateQueryParameter {
        /// The repeated parameter.
        parameter: &'static str,
    },
    /// `X-Amz-Expires` is not an integer in 1..=604800 (§9).
    #[error("`X-Amz-Expires` value `{value}` is not an integer from 1 to 604800")]
    InvalidExpires {
        /// The value as received.
        value: String,
    },
    /// Header auth with neither `X-Amz-Date` nor `Date` (§4).
    #[error("request has neither an `X-Amz-Date` nor a `Date` header")]
    MissingDate,
    /// The timestamp does not parse (§4).
    #[error("request timestamp `{value}` is malformed")]
    MalformedDate {
        /// The value as received.
        value: String,
        /// Where it was found.
        form: AuthForm,
    },
    /// The scope terminator is not `aws4_request` (§3).
    #[error("credential scope terminator is `{found}`, not `aws4_request`")]
    InvalidScopeTerminator {
        /// The terminator as received.
        found: String,
        /// Where it was found.
        form: AuthForm,
    },
    /// The scope date is not the request timestamp's date (§3).
    #[error(
        "credential scope date `{scope_date}` is not the date of request time `{request_time}`"
    )]
    ScopeDateMismatch {
        /// The scope's `YYYYMMDD`.
        scope_date: String,
        /// The request timestamp in basic format.
        request_time: String,
        /// Where it was found.
        form: AuthForm,
    },
    /// The scope names another service than the endpoint implements (§3).
    #[error("credential is scoped to service `{found}`, expected `{expected}`")]
    WrongService {
        /// The service this endpoint implements.
        expected: String,
        /// The service of the scope.
        found: String,
        /// Where it was found.
        form: AuthForm,
    },
    /// The scope region is not accepted by the region policy (§3).
    #[error("credential is scoped to region `{region}`, which is not accepted here")]
    RegionNotAllowed {
        /// The region of the scope.
        region: String,
        /// Where it was found.
        form: AuthForm,
    },
    /// Header auth: the request time is more than 15 minutes before the server's clock (§4).
    #[error(
        "request time `{request_time}` is more than 15 minutes before server time `{server_time}`"
    )]
    SignatureExpired {
        /// Request time, basic format.
        request_time: String,
        /// Server time, basic format.
        server_time: String,
        /// Server time minus 15 minutes, basic format.
        earliest: String,
    },
    /// Header auth: the request time is more than 15 minutes after the server's clock (§4).
    #[error(
        "request time `{request_time}` is more than 15 minutes after server time `{server_time}`"
    )]
    SignatureNotYetCurrent {
        /// Request time, basic format.
        request_time: String,
        /// Server time, basic format.
        server_time: String,
        /// Server time plus 15 minutes, basic format.
        latest: String,
    },
    /// A presigned URL is past `X-Amz-Date + X-Amz-Expires` (§9).
    #[error("presigned url expired at `{expires_at}` (server time `{server_time}`)")]
    PresignExpired {
        /// `X-Amz-Expires` in seconds.
        expires: u32,
        /// Expiry, ISO 8601 extended (`<Expires>`).
        expires_at: String,
        /// Server time, ISO 8601 extended (`<ServerTime>`).
        server_time: String,
    },
    /// A presigned URL's `X-Amz-Date` is more than 15 minutes in the future (§9).
    #[error("presigned url is not valid before `{request_time}` (server time `{server_time}`)")]
    PresignNotYetValid {
        /// `X-Amz-Date` as received.
        request_time: String,
        /// Server time, ISO 8601 extended.
        server_time: String,
    },
    /// `host` is not in the signed headers (§5.4 rule 1).
    #[error("`host` is not a signed header")]
    HostNotSigned,
    /// Headers that must be signed are not (§5.4 rules 2-4).
    #[error("headers present in the request must be signed: {}", .headers.join(", "))]
    HeadersNotSigned {
        /// Their lowercase names, sorted.
        headers: Vec<String>,
    },
    /// A header listed in the signed headers is absent from the request (§5.4).
    #[error("signed header `{header}` is absent from the request")]
    SignedHeaderMissing {
        /// Its name as listed.
        header: String,
    },
    /// S3 header auth without `x-amz-content-sha256`, or a verifier given no body and nothing
    /// declared to stand for it (§5.6).
    #[error("request lacks the `x-amz-content-sha256` header")]
    MissingContentSha256,
    /// The declared payload hash is neither 64 hex digits nor a known constant (§5.6).
    #[error(
        "`x-amz-content-sha256` value `{value}` is not a sha-256 hex digest or a known constant"
    )]
    MalformedContentSha256 {
        /// The value as received.
        value: String,
    },
    /// The declared payload hash is a form the caller does not accept here (for example
    /// `UNSIGNED-PAYLOAD` where the body must be signed), see [`crate::Payload`].
    #[error("payload hash `{value}` is not accepted for this request")]
    PayloadHashNotAccepted {
        /// The value as received (or the S3 presigned default).
        value: String,
    },
    /// The body does not hash to the declared `x-amz-content-sha256` (§5.6).
    #[error("body sha-256 `{computed}` does not match the declared `{declared}`")]
    ContentSha256Mismatch {
        /// The declared value (`<ClientComputedContentSHA256>`).
        declared: String,
        /// The body's hash (`<S3ComputedContentSHA256>`).
        computed: String,
    },
    /// The session token appears more than once (header and query, or repeated header), §11.
    #[error("session token is given more than once")]
    ConflictingSecurityToken,
    /// The access key id is unknown (§8 step 5). For the caller's key lookup.
    #[error("access key id `{access_key_id}` is unknown")]
    UnknownAccessKey {
        /// The access key id.
        access_key_id: String,
    },
    /// The session token is missing, malformed or not bound to the access key (§8 step 6, §11).
    /// For the caller's session check.
    #[error("session token is missing, malformed or does not belong to the access key")]
    InvalidSecurityToken,
    /// The session has expired (§11). For the caller's session check.
    #[error("session token has expired")]
    ExpiredSecurityToken,
    /// The signature does not match (§7). The canonical request and string to sign are kept for
    /// S3's `<CanonicalRequest>`/`<StringToSign>` diagnostics; query services do not echo them.
    #[error("signature does not match for access key id `{access_key_id}`")]
    SignatureMismatch {
        /// The access key id that signed.
        access_key_id: String,
        /// The canonical request the server built (lossy UTF-8).
        canonical_request: String,
        /// The string to sign the server built.
        string_to_sign: String,
    },
    /// The credentials cannot be checked now: the verifier's view of the keys and sessions is
    /// too old to trust (a revocation may be missing from it), so it refuses rather than
    /// answering from stale data. Not the client's fault; retrying later may succeed.
    #[error("credentials cannot be checked: the configuration view is out of date")]
    CredentialsUnavailable,
}

/// AWS's own text for `SignatureDoesNotMatch` in query-protocol services (§13.1).
pub const SIGNATURE_DOES_NOT_MATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// AWS's own text for `SignatureDoesNotMatch` in S3 (§13.1).
pub const S3_SIGNATURE_DOES_NOT_MATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your key and signing method.";

/// The text for [`SigV4Error::CredentialsUnavailable`] in every protocol: the query
/// protocol's own `ServiceUnavailable` message.
pub const SERVICE_UNAVAILABLE_MESSAGE: &str =
    "The request has failed due to a temporary failure of the server.";

impl SigV4Error {
    /// The AWS error code a query-protocol service (STS, IAM) answers (§13.2, "STS / IAM" column).
    pub fn code(&self) -> &'static str {
        self.query_wire().0
    }

    /// The HTTP status a query-protocol service answers (§13.2).
    pub fn http_status(&self) -> u16 {
        self.query_wire().1
    }

    /// The `<Message>` a query-protocol service answers: AWS's text where the reference quotes it
    /// (§3, §4, §13), otherwise this error's own description.
    pub fn message(&self) -> String {
        match self {
            Self::MissingAuthentication => "Request is missing Authentication Token".into(),
            Self::MissingAuthorizationParameter { parameter } => {
                format!("Authorization header requires '{parameter}' parameter.")
            }
            Self::MissingDate => "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into(),
            Self::MalformedDate { value, .. } => {
                format!("Date must be in ISO-8601 'basic format'. Got '{value}'.")
            }
            Self::UnsupportedAlgorithm { algorithm, .. } => {
                format!("Unsupported AWS 'algorithm': '{algorithm}'")
            }
            Self::InvalidScopeTerminator { found, .. } => format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{found}'."
            ),
            Self::ScopeDateMismatch {
                scope_date,
                request_time,
                ..
            } => format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{}', from '{request_time}'.",
                request_time.get(..8).unwrap_or(request_time)
            ),
            Self::WrongService { expected, .. } => {
                format!("Credential should be scoped to correct service: '{expected}'.")
            }
            Self::RegionNotAllowed { region, .. } => {
                format!("Credential should be scoped to a valid region, not '{region}'.")
            }
            Self::SignatureExpired {
                request_time,
                server_time,
                earliest,
            } => format!(
                "Signature expired: {request_time} is now earlier than {earliest} ({server_time} - 15 min.)"
            ),
            Self::SignatureNotYetCurrent {
                request_time,
                server_time,
                latest,
            } => format!(
                "Signature not yet current: {request_time} is still later than {latest} ({server_time} + 15 min.)"
            ),
            Self::PresignExpired { .. } => "Request has expired".into(),
            Self::PresignNotYetValid { .. } => "Request is not yet valid".into(),
            Self::HostNotSigned => {
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into()
            }
            Self::HeadersNotSigned { .. } => {
                "There were headers present in the request which were not signed".into()
            }
            Self::UnknownAccessKey { .. } | Self::InvalidSecurityToken => {
                "The security token included in the request is invalid.".into()
            }
            Self::ExpiredSecurityToken => {
                "The security token included in the request is expired".into()
            }
            Self::SignatureMismatch { .. } | Self::SignedHeaderMissing { .. } => {
                SIGNATURE_DOES_NOT_MATCH_MESSAGE.into()
            }
            Self::CredentialsUnavailable => SERVICE_UNAVAILABLE_MESSAGE.into(),
            other => other.to_string(),
        }
    }

    /// The AWS error code S3 answers (§13.2, "S3" column).
    pub fn s3_code(&self) -> &'static str {
        self.s3_wire().0
    }

    /// The HTTP status S3 answers (§13.2).
    pub fn s3_http_status(&self) -> u16 {
        self.s3_wire().1
    }

    /// The `<Message>` S3 answers: AWS's text where the reference quotes it, otherwise this
    /// error's own description.
    pub fn s3_message(&self) -> String {
        match self {
            Self::MissingAuthentication => "Access Denied".into(),
            Self::UnsupportedAlgorithm {
                form: AuthForm::Header,
                ..
            } => "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.".into(),
            Self::UnsupportedAlgorithm {
                form: AuthForm::Presigned,
                ..
            } => "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"".into(),
            Self::MalformedCredential {
                form: AuthForm::Header,
                ..
            } => "The authorization header is malformed; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".".into(),
            Self::MissingQueryParameter { .. } => "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.".into(),
            Self::InvalidExpires { .. } => "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds".into(),
            Self::MissingDate
            | Self::MalformedDate {
                form: AuthForm::Header,
                ..
            } => "AWS authentication requires a valid Date or x-amz-date header".into(),
            Self::SignatureExpired { .. } | Self::SignatureNotYetCurrent { .. } => {
                "The difference between the request time and the current time is too large.".into()
            }
            Self::PresignExpired { .. } => "Request has expired".into(),
            Self::PresignNotYetValid { .. } => "Request is not yet valid".into(),
            Self::HeadersNotSigned { .. } | Self::HostNotSigned => {
                "There were headers present in the request which were not signed".into()
            }
            Self::MissingContentSha256 => {
                "Missing required header for this request: x-amz-content-sha256".into()
            }
            Self::ContentSha256Mismatch { .. } => {
                "The provided 'x-amz-content-sha256' header does not match what was computed.".into()
            }
            Self::UnknownAccessKey { .. } => {
                "The AWS Access Key Id you provided does not exist in our records.".into()
            }
            Self::InvalidSecurityToken | Self::ConflictingSecurityToken => {
                "The provided token is malformed or otherwise invalid.".into()
            }
            Self::ExpiredSecurityToken => "The provided token has expired.".into(),
            Self::SignatureMismatch { .. } | Self::SignedHeaderMissing { .. } => {
                S3_SIGNATURE_DOES_NOT_MATCH_MESSAGE.into()
            }
            Self::CredentialsUnavailable => SERVICE_UNAVAILABLE_MESSAGE.into(),
            Self::ConflictingAuthentication => {
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified".into()
            }
            other => other.to_string(),
        }
    }

    /// Query-protocol code and status, one table for every variant (§13.2).
    fn query_wire(&self) -> (&'static str, u16) {
        const INCOMPLETE: (&str, u16) = ("IncompleteSignature", 400);
        const MISMATCH: (&str, u16) = ("SignatureDoesNotMatch", 403);
        match self {
            Self::MissingAuthentication => ("MissingAuthenticationToken", 403),
            Self::ConflictingAuthentication
            | Self::MultipleAuthorizationHeaders
            | Self::UnsupportedAlgorithm { .. }
            | Self::MissingAuthorizationParameter { .. }
            | Self::DuplicateAuthorizationParameter { .. }
            | Self::UnknownAuthorizationParameter { .. }
            | Self::MalformedAuthorization { .. }
            | Self::MalformedCredential { .. }
            | Self::MalformedSignedHeaders { .. }
            | Self::MalformedSignature { .. }
            | Self::MissingQueryParameter { .. }
            | Self::DuplicateQueryParameter { .. }
            | Self::InvalidExpires { .. }
            | Self::MissingDate
            | Self::MalformedDate { .. }
            | Self::HostNotSigned
            | Self::MissingContentSha256
            | Self::MalformedContentSha256 { .. }
            | Self::PayloadHashNotAccepted { .. } => INCOMPLETE,
            Self::InvalidScopeTerminator { .. }
            | Self::ScopeDateMismatch { .. }
            | Self::WrongService { .. }
            | Self::RegionNotAllowed { .. }
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. }
            | Self::SignedHeaderMissing { .. }
            | Self::ContentSha256Mismatch { .. }
            | Self::SignatureMismatch { .. } => MISMATCH,
            Self::PresignExpired { .. }
            | Self::PresignNotYetValid { .. }
            | Self::HeadersNotSigned { .. } => ("AccessDenied", 403),
            Self::ConflictingSecurityToken
            | Self::UnknownAccessKey { .. }
            | Self::InvalidSecurityToken => ("InvalidClientTokenId", 403),
            Self::ExpiredSecurityToken => ("ExpiredToken", 403),
            Self::CredentialsUnavailable => ("ServiceUnavailable", 503),
        }
    }

    /// S3 code and status, one table for every variant (§13.2).
    fn s3_wire(&self) -> (&'static str, u16) {
        const HEADER_MALFORMED: (&str, u16) = ("AuthorizationHeaderMalformed", 400);
        const QUERY_ERROR: (&str, u16) = ("AuthorizationQueryParametersError", 400);
        let by_form = |form: &AuthForm| match form {
            AuthForm::Header => HEADER_MALFORMED,
            AuthForm::Presigned => QUERY_ERROR,
        };
        match self {
            Self::MissingAuthentication
            | Self::PresignExpired { .. }
            | Self::PresignNotYetValid { .. }
            | Self::HostNotSigned
            | Self::HeadersNotSigned { .. }
            | Self::MissingDate => ("AccessDenied", 403),
            Self::MalformedDate { form, .. } => match form {
                AuthForm::Header => ("AccessDenied", 403),
                AuthForm::Presigned => QUERY_ERROR,
            },
            Self::ConflictingAuthentication | Self::MalformedContentSha256 { .. } => {
                ("InvalidArgument", 400)
            }
            Self::UnsupportedAlgorithm { form, .. } => match form {
                AuthForm::Header => ("InvalidRequest", 400),
                AuthForm::Presigned => QUERY_ERROR,
            },
            Self::MultipleAuthorizationHeaders
            | Self::MissingAuthorizationParameter { .. }
            | Self::DuplicateAuthorizationParameter { .. }
            | Self::UnknownAuthorizationParameter { .. }
            | Self::MalformedAuthorization { .. } => HEADER_MALFORMED,
            Self::MalformedCredential { form, .. }
            | Self::MalformedSignedHeaders { form, .. }
            | Self::MalformedSignature { form }
            | Self::InvalidScopeTerminator { form, .. }
            | Self::ScopeDateMismatch { form, .. }
            | Self::WrongService { form, .. }
            | Self::RegionNotAllowed { form, .. } => by_form(form),
            Self::MissingQueryParameter { .. }
            | Self::DuplicateQueryParameter { .. }
            | Self::InvalidExpires { .. } => QUERY_ERROR,
            Self::SignatureExpired { .. } | Self::SignatureNotYetCurrent { .. } => {
                ("RequestTimeTooSkewed", 403)
            }
            Self::MissingContentSha256 | Self::PayloadHashNotAccepted { .. } => {
                ("InvalidRequest", 400)
            }
            Self::ContentSha256Mismatch { .. } => ("XAmzContentSHA256Mismatch", 400),
            Self::UnknownAccessKey { .. } => ("InvalidAccessKeyId", 403),
            Self::ConflictingSecurityToken | Self::InvalidSecurityToken => ("InvalidToken", 400),
            Self::ExpiredSecurityToken => ("ExpiredToken", 400),
            Self::SignedHeaderMissing { .. } | Self::SignatureMismatch { .. } => {
                ("SignatureDoesNotMatch", 403)
            }
            Self::CredentialsUnavailable => ("ServiceUnavailable", 503),
        }
    }
}
