//! The one AWS error type the query-protocol boundary maps to.
//!
//! Every failure a client sees is an [`AwsError`]: the model's wire `Code`
//! string (not the shape name: `NoSuchEntity`, not `NoSuchEntityException`),
//! the HTTP status, the `Sender`/`Receiver` fault and a free-text message
//! (`aws-query-protocol.md` §4.1). Precise internal causes stay in the crates
//! that produce them; they are mapped to one of these constructors in one
//! place and the cause goes to the log, not to the client.
//!
//! Messages are the text clients show to people, so they follow AWS's wording
//! (sentences, capitalised) rather than the lowercase style of internal errors.

use std::borrow::Cow;
use std::fmt;

use crate::validation::ValidationErrors;

/// The wire `Code` strings Mayfly emits, exactly as the STS and IAM models
/// spell them (`sts-api.md` §2.2, §2.3, §11; `iam-admin-api.md` §13).
///
/// Clients match these strings exactly to pick a modeled exception, so they
/// live in one place.
pub mod code {
    /// Unmodeled: authenticated but not authorized (403).
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// Unmodeled: a model constraint (length, pattern, range, required) failed (400).
    pub const VALIDATION_ERROR: &str = "ValidationError";
    /// Query protocol: `Action` names no operation of this version (400).
    pub const INVALID_ACTION: &str = "InvalidAction";
    /// Query protocol: no `Action` parameter (400).
    pub const MISSING_ACTION: &str = "MissingAction";
    /// Query protocol: a required parameter is absent (400).
    pub const MISSING_PARAMETER: &str = "MissingParameter";
    /// Query protocol: a parameter value (or name) is not acceptable (400).
    pub const INVALID_PARAMETER_VALUE: &str = "InvalidParameterValue";
    /// Query protocol: parameters that must not be combined, or one given twice (400).
    pub const INVALID_PARAMETER_COMBINATION: &str = "InvalidParameterCombination";
    /// Query protocol: the query string or form body cannot be decoded (404, as AWS).
    pub const MALFORMED_QUERY_STRING: &str = "MalformedQueryString";
    /// Rate limiting; both SDKs retry it with backoff (400).
    pub const THROTTLING: &str = "Throttling";
    /// STS server fault (500, Receiver).
    pub const INTERNAL_FAILURE: &str = "InternalFailure";
    /// IAM server fault (500, Receiver).
    pub const SERVICE_FAILURE: &str = "ServiceFailure";
    /// Temporarily unable to serve (503, Receiver).
    pub const SERVICE_UNAVAILABLE: &str = "ServiceUnavailable";

    /// Auth: a signed action arrived without any signature (403).
    pub const MISSING_AUTHENTICATION_TOKEN: &str = "MissingAuthenticationToken";
    /// Auth: malformed `Authorization` header or presign fields (400).
    pub const INCOMPLETE_SIGNATURE: &str = "IncompleteSignature";
    /// Auth: unknown access key id or undecodable session token (403).
    pub const INVALID_CLIENT_TOKEN_ID: &str = "InvalidClientTokenId";
    /// Auth: the signature does not verify (403).
    pub const SIGNATURE_DOES_NOT_MATCH: &str = "SignatureDoesNotMatch";
    /// Auth: the signing session token has expired (403).
    pub const EXPIRED_TOKEN: &str = "ExpiredToken";
    /// Auth: `X-Amz-Date` outside the allowed skew or presigned URL expired (400).
    pub const REQUEST_EXPIRED: &str = "RequestExpired";
    /// Auth: the key is not subscribed to the service (403).
    pub const OPT_IN_REQUIRED: &str = "OptInRequired";

    /// STS and IAM modeled: invalid policy document (400).
    pub const MALFORMED_POLICY_DOCUMENT: &str = "MalformedPolicyDocument";
    /// STS modeled: session policies and tags pack too large (400).
    pub const PACKED_POLICY_TOO_LARGE: &str = "PackedPolicyTooLarge";
    /// STS modeled: STS not activated in the region (403; code keeps the suffix).
    pub const REGION_DISABLED_EXCEPTION: &str = "RegionDisabledException";
    /// STS modeled: the web identity token or SAML assertion parameter expired
    /// (400; code keeps the suffix; not the 403 `ExpiredToken`).
    pub const EXPIRED_TOKEN_EXCEPTION: &str = "ExpiredTokenException";
    /// STS modeled: the identity provider's claims are rejected (403).
    pub const IDP_REJECTED_CLAIM: &str = "IDPRejectedClaim";
    /// STS modeled: the OIDC provider could not be reached (400; botocore retries it).
    pub const IDP_COMMUNICATION_ERROR: &str = "IDPCommunicationError";
    /// STS modeled: the web identity token or SAML assertion is invalid (400).
    pub const INVALID_IDENTITY_TOKEN: &str = "InvalidIdentityToken";
    /// STS modeled: `DecodeAuthorizationMessage` input is invalid (400; code keeps the suffix).
    pub const INVALID_AUTHORIZATION_MESSAGE_EXCEPTION: &str =
        "InvalidAuthorizationMessageException";

    /// IAM modeled: the referenced entity does not exist (404).
    pub const NO_SUCH_ENTITY: &str = "NoSuchEntity";
    /// IAM modeled: name, URL or device already in use (409).
    pub const ENTITY_ALREADY_EXISTS: &str = "EntityAlreadyExists";
    /// IAM modeled: subordinate entities still attached (409).
    pub const DELETE_CONFLICT: &str = "DeleteConflict";
    /// IAM modeled: quota or size limit (409). Never `LimitExceededException`,
    /// which both SDKs would retry as throttling.
    pub const LIMIT_EXCEEDED: &str = "LimitExceeded";
    /// IAM modeled: bad value such as a malformed ARN or duplicate tag keys (400).
    pub const INVALID_INPUT: &str = "InvalidInput";
    /// IAM modeled: concurrent writes (409).
    pub const CONCURRENT_MODIFICATION: &str = "ConcurrentModification";
    /// IAM modeled: entity recently deleted/recreated (409).
    pub const ENTITY_TEMPORARILY_UNMODIFIABLE: &str = "EntityTemporarilyUnmodifiable";
    /// IAM modeled: service-linked role (400).
    pub const UNMODIFIABLE_ENTITY: &str = "UnmodifiableEntity";
    /// IAM modeled: policy cannot be attached (400).
    pub const POLICY_NOT_ATTACHABLE: &str = "PolicyNotAttachable";
    /// IAM modeled: MFA codes rejected (403).
    pub const INVALID_AUTHENTICATION_CODE: &str = "InvalidAuthenticationCode";
    /// IAM modeled: login profile password violates the password policy (400).
    pub const PASSWORD_POLICY_VIOLATION: &str = "PasswordPolicyViolation";
    /// IAM modeled: credential report never generated (410).
    pub const REPORT_NOT_PRESENT: &str = "ReportNotPresent";
    /// IAM modeled: credential report still generating (404).
    pub const REPORT_IN_PROGRESS: &str = "ReportInProgress";
    /// IAM modeled: credential report stale (410).
    pub const REPORT_EXPIRED: &str = "ReportExpired";
    /// IAM modeled: the OIDC provider could not be reached (400).
    pub const OPEN_ID_IDP_COMMUNICATION_ERROR: &str = "OpenIdIdpCommunicationError";
    /// IAM modeled: service-specific credential service unsupported (404).
    pub const NOT_SUPPORTED_SERVICE: &str = "NotSupportedService";
}

/// Who is at fault, sent as `<Type>` in the error envelope
/// (`aws-query-protocol.md` §4.1): `Sender` for client faults (all 4xx),
/// `Receiver` for server faults (`InternalFailure`, `ServiceFailure`,
/// `ServiceUnavailable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The client's request is at fault.
    Sender,
    /// The service failed.
    Receiver,
}

impl Fault {
    /// The `<Type>` text: `Sender` or `Receiver`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Sender => "Sender",
            Fault::Receiver => "Receiver",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The AWS error a query-protocol client sees: wire `Code`, HTTP status,
/// `Sender`/`Receiver` fault and message (`aws-query-protocol.md` §4.1).
///
/// Render it with [`crate::error_xml`]; send `status` as the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub struct AwsError {
    /// The model's `error.code` string, e.g. `NoSuchEntity`.
    pub code: Cow<'static, str>,
    /// HTTP status code sent with the envelope.
    pub status: u16,
    /// Human-readable text (`<Message>`); must not contain secrets.
    pub message: String,
    /// `<Type>`: `Sender` or `Receiver`.
    pub fault: Fault,
}

impl AwsError {
    /// A client-fault (`Sender`) error with the given wire code and status.
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        AwsError {
            code: Cow::Borrowed(code),
            status,
            message: message.into(),
            fault: Fault::Sender,
        }
    }

    /// A server-fault (`Receiver`) error with the given wire code and status.
    pub fn receiver(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        AwsError {
            code: Cow::Borrowed(code),
            status,
            message: message.into(),
            fault: Fault::Receiver,
        }
    }

    /// Whether this error carries the given wire code.
    pub fn has_code(&self, code: &str) -> bool {
        self.code == code
    }

    // --- query protocol and validation (sts-api.md §2.3) ---

    /// 400 `ValidationError` with AWS's message:
    /// `N validation error(s) detected: …; …` (`sts-api.md` §2.3).
    pub fn validation(errors: &ValidationErrors) -> Self {
        AwsError::new(code::VALIDATION_ERROR, 400, errors.message())
    }

    /// 400 `ValidationError` with a free message, for checks outside the
    /// constraint grammar (e.g. IAM's "Invalid Marker." [choice]).
    pub fn validation_message(message: impl Into<String>) -> Self {
        AwsError::new(code::VALIDATION_ERROR, 400, message)
    }

    /// 403 `AccessDenied`, e.g. "User: {arn} is not authorized to perform:
    /// {action} on resource: {arn}".
    pub fn access_denied(message: impl Into<String>) -> Self {
        AwsError::new(code::ACCESS_DENIED, 403, message)
    }

    /// 500 `InternalFailure` (STS's server fault, `Receiver`). The message is
    /// generic on purpose: the cause goes to the log.
    pub fn internal() -> Self {
        AwsError::receiver(
            code::INTERNAL_FAILURE,
            500,
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// 500 `ServiceFailure` (IAM's modeled server fault, `Receiver`).
    pub fn service_failure() -> Self {
        AwsError::receiver(
            code::SERVICE_FAILURE,
            500,
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// 503 `ServiceUnavailable` (`Receiver`); clients retry it.
    pub fn service_unavailable() -> Self {
        AwsError::receiver(
            code::SERVICE_UNAVAILABLE,
            503,
            "The request has failed due to a temporary failure of the server.",
        )
    }

    /// 400 `Throttling` "Rate exceeded", the code STS and IAM use for rate
    /// limiting (both SDKs retry it; `aws-query-protocol.md` §4.2).
    pub fn throttling() -> Self {
        AwsError::new(code::THROTTLING, 400, "Rate exceeded")
    }

    /// 400 `InvalidAction`: "Could not find operation {action} for version {version}".
    pub fn invalid_action(action: &str, version: &str) -> Self {
        AwsError::new(
            code::INVALID_ACTION,
            400,
            format!("Could not find operation {action} for version {version}"),
        )
    }

    /// 400 `MissingAction`: the request has no `Action` parameter.
    pub fn missing_action() -> Self {
        AwsError::new(
            code::MISSING_ACTION,
            400,
            "The request must contain the parameter Action",
        )
    }

    /// 400 `MissingParameter`: "The request must contain the parameter {name}".
    pub fn missing_parameter(name: &str) -> Self {
        AwsError::new(
            code::MISSING_PARAMETER,
            400,
            format!("The request must contain the parameter {name}"),
        )
    }

    /// 400 `InvalidParameterValue`.
    pub fn invalid_parameter_value(message: impl Into<String>) -> Self {
        AwsError::new(code::INVALID_PARAMETER_VALUE, 400, message)
    }

    /// 400 `InvalidParameterCombination`.
    pub fn invalid_parameter_combination(message: impl Into<String>) -> Self {
        AwsError::new(code::INVALID_PARAMETER_COMBINATION, 400, message)
    }

    /// `MalformedQueryString` with status 404, as AWS's common query errors
    /// list it (`sts-api.md` §2.3).
    pub fn malformed_query_string(message: impl Into<String>) -> Self {
        AwsError::new(code::MALFORMED_QUERY_STRING, 404, message)
    }

    // --- authentication (sts-api.md §2.2) ---

    /// 403 `MissingAuthenticationToken`: a signed action arrived unsigned.
    pub fn missing_authentication_token() -> Self {
        AwsError::new(
            code::MISSING_AUTHENTICATION_TOKEN,
            403,
            "Request is missing Authentication Token",
        )
    }

    /// 400 `IncompleteSignature`: malformed `Authorization` or presign fields.
    pub fn incomplete_signature(message: impl Into<String>) -> Self {
        AwsError::new(code::INCOMPLETE_SIGNATURE, 400, message)
    }

    /// 403 `InvalidClientTokenId`: unknown access key or undecodable session token.
    pub fn invalid_client_token_id() -> Self {
        AwsError::new(
            code::INVALID_CLIENT_TOKEN_ID,
            403,
            "The security token included in the request is invalid.",
        )
    }

    /// 403 `SignatureDoesNotMatch`, with AWS's message.
    pub fn signature_does_not_match() -> Self {
        AwsError::new(
            code::SIGNATURE_DOES_NOT_MATCH,
            403,
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. \
             Consult the service documentation for details.",
        )
    }

    /// 403 `ExpiredToken`: the *signing* session token has expired (not the
    /// modeled 400 `ExpiredTokenException`, see [`AwsError::expired_token_exception`]).
    pub fn expired_token() -> Self {
        AwsError::new(
            code::EXPIRED_TOKEN,
            403,
            "The security token included in the request is expired",
        )
    }

    /// 400 `RequestExpired`: `X-Amz-Date` too far from server time, or a
    /// presigned URL past `X-Amz-Expires`.
    pub fn request_expired(message: impl Into<String>) -> Self {
        AwsError::new(code::REQUEST_EXPIRED, 400, message)
    }

    /// 403 `OptInRequired`.
    pub fn opt_in_required(message: impl Into<String>) -> Self {
        AwsError::new(code::OPT_IN_REQUIRED, 403, message)
    }

    // --- STS modeled errors (sts-api.md §11) ---

    /// 400 `MalformedPolicyDocument` (STS and IAM).
    pub fn malformed_policy_document(message: impl Into<String>) -> Self {
        AwsError::new(code::MALFORMED_POLICY_DOCUMENT, 400, message)
    }

    /// 400 `PackedPolicyTooLarge`.
    pub fn packed_policy_too_large(message: impl Into<String>) -> Self {
        AwsError::new(code::PACKED_POLICY_TOO_LARGE, 400, message)
    }

    /// 403 `RegionDisabledException`.
    pub fn region_disabled(message: impl Into<String>) -> Self {
        AwsError::new(code::REGION_DISABLED_EXCEPTION, 403, message)
    }

    /// 400 `ExpiredTokenException`: the web identity token or SAML assertion
    /// passed as a parameter has expired.
    pub fn expired_token_exception(message: impl Into<String>) -> Self {
        AwsError::new(code::EXPIRED_TOKEN_EXCEPTION, 400, message)
    }

    /// 403 `IDPRejectedClaim`.
    pub fn idp_rejected_claim(message: impl Into<String>) -> Self {
        AwsError::new(code::IDP_REJECTED_CLAIM, 403, message)
    }

    /// 400 `IDPCommunicationError` (botocore retries it).
    pub fn idp_communication_error(message: impl Into<String>) -> Self {
        AwsError::new(code::IDP_COMMUNICATION_ERROR, 400, message)
    }

    /// 400 `InvalidIdentityToken`.
    pub fn invalid_identity_token(message: impl Into<String>) -> Self {
        AwsError::new(code::INVALID_IDENTITY_TOKEN, 400, message)
    }

    /// 400 `InvalidAuthorizationMessageException`.
    pub fn invalid_authorization_message(message: impl Into<String>) -> Self {
        AwsError::new(code::INVALID_AUTHORIZATION_MESSAGE_EXCEPTION, 400, message)
    }

    // --- IAM modeled errors (iam-admin-api.md §13) ---

    /// 404 `NoSuchEntity`, e.g. "The role with name deploy cannot be found.".
    pub fn no_such_entity(message: impl Into<String>) -> Self {
        AwsError::new(code::NO_SUCH_ENTITY, 404, message)
    }

    /// 409 `EntityAlreadyExists`.
    pub fn entity_already_exists(message: impl Into<String>) -> Self {
        AwsError::new(code::ENTITY_ALREADY_EXISTS, 409, message)
    }

    /// 409 `DeleteConflict`.
    pub fn delete_conflict(message: impl Into<String>) -> Self {
        AwsError::new(code::DELETE_CONFLICT, 409, message)
    }

    /// 409 `LimitExceeded` (IAM quotas and size limits).
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        AwsError::new(code::LIMIT_EXCEEDED, 409, message)
    }

    /// 400 `InvalidInput`.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        AwsError::new(code::INVALID_INPUT, 400, message)
    }

    /// 409 `ConcurrentModification`.
    pub fn concurrent_modification(message: impl Into<String>) -> Self {
        AwsError::new(code::CONCURRENT_MODIFICATION, 409, message)
    }

    /// 409 `EntityTemporarilyUnmodifiable`.
    pub fn entity_temporarily_unmodifiable(message: impl Into<String>) -> Self {
        AwsError::new(code::ENTITY_TEMPORARILY_UNMODIFIABLE, 409, message)
    }

    /// 400 `UnmodifiableEntity`.
    pub fn unmodifiable_entity(message: impl Into<String>) -> Self {
        AwsError::new(code::UNMODIFIABLE_ENTITY, 400, message)
    }

    /// 400 `PolicyNotAttachable`.
    pub fn policy_not_attachable(message: impl Into<String>) -> Self {
        AwsError::new(code::POLICY_NOT_ATTACHABLE, 400, message)
    }

    /// 403 `InvalidAuthenticationCode`.
    pub fn invalid_authentication_code(message: impl Into<String>) -> Self {
        AwsError::new(code::INVALID_AUTHENTICATION_CODE, 403, message)
    }

    /// 400 `PasswordPolicyViolation`.
    pub fn password_policy_violation(message: impl Into<String>) -> Self {
        AwsError::new(code::PASSWORD_POLICY_VIOLATION, 400, message)
    }

    /// 410 `ReportNotPresent`.
    pub fn report_not_present(message: impl Into<String>) -> Self {
        AwsError::new(code::REPORT_NOT_PRESENT, 410, message)
    }

    /// 404 `ReportInProgress`.
    pub fn report_in_progress(message: impl Into<String>) -> Self {
        AwsError::new(code::REPORT_IN_PROGRESS, 404, message)
    }

    /// 410 `ReportExpired`.
    pub fn report_expired(message: impl Into<String>) -> Self {
        AwsError::new(code::REPORT_EXPIRED, 410, message)
    }

    /// 400 `OpenIdIdpCommunicationError`.
    pub fn open_id_idp_communication_error(message: impl Into<String>) -> Self {
        AwsError::new(code::OPEN_ID_IDP_COMMUNICATION_ERROR, 400, message)
    }

    /// 404 `NotSupportedService`.
    pub fn not_supported_service(message: impl Into<String>) -> Self {
        AwsError::new(code::NOT_SUPPORTED_SERVICE, 404, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_and_receiver_faults_follow_the_constructor() {
        assert_eq!(AwsError::access_denied("x").fault, Fault::Sender);
        assert_eq!(AwsError::internal().fault, Fault::Receiver);
        assert_eq!(AwsError::service_failure().fault, Fault::Receiver);
        assert_eq!(AwsError::service_unavailable().fault, Fault::Receiver);
        assert_eq!(Fault::Sender.to_string(), "Sender");
        assert_eq!(Fault::Receiver.as_str(), "Receiver");
    }

    #[test]
    fn codes_and_statuses_match_the_models() {
        let cases: &[(AwsError, &str, u16)] = &[
            (AwsError::access_denied("m"), "AccessDenied", 403),
            (AwsError::internal(), "InternalFailure", 500),
            (AwsError::service_failure(), "ServiceFailure", 500),
            (AwsError::service_unavailable(), "ServiceUnavailable", 503),
            (AwsError::throttling(), "Throttling", 400),
            (
                AwsError::invalid_action("Foo", "2011-06-15"),
                "InvalidAction",
                400,
            ),
            (AwsError::missing_action(), "MissingAction", 400),
            (
                AwsError::missing_parameter("RoleArn"),
                "MissingParameter",
                400,
            ),
            (
                AwsError::invalid_parameter_value("m"),
                "InvalidParameterValue",
                400,
            ),
            (
                AwsError::invalid_parameter_combination("m"),
                "InvalidParameterCombination",
                400,
            ),
            (
                AwsError::malformed_query_string("m"),
                "MalformedQueryString",
                404,
            ),
            (
                AwsError::missing_authentication_token(),
                "MissingAuthenticationToken",
                403,
            ),
            (
                AwsError::incomplete_signature("m"),
                "IncompleteSignature",
                400,
            ),
            (
                AwsError::invalid_client_token_id(),
                "InvalidClientTokenId",
                403,
            ),
            (
                AwsError::signature_does_not_match(),
                "SignatureDoesNotMatch",
                403,
            ),
            (AwsError::expired_token(), "ExpiredToken", 403),
            (AwsError::request_expired("m"), "RequestExpired", 400),
            (AwsError::opt_in_required("m"), "OptInRequired", 403),
            (
                AwsError::malformed_policy_document("m"),
                "MalformedPolicyDocument",
                400,
            ),
            (
                AwsError::packed_policy_too_large("m"),
                "PackedPolicyTooLarge",
                400,
            ),
            (
                AwsError::region_disabled("m"),
                "RegionDisabledException",
                403,
            ),
            (
                AwsError::expired_token_exception("m"),
                "ExpiredTokenException",
                400,
            ),
            (AwsError::idp_rejected_claim("m"), "IDPRejectedClaim", 403),
            (
                AwsError::idp_communication_error("m"),
                "IDPCommunicationError",
                400,
            ),
            (
                AwsError::invalid_identity_token("m"),
                "InvalidIdentityToken",
                400,
            ),
            (
                AwsError::invalid_authorization_message("m"),
                "InvalidAuthorizationMessageException",
                400,
            ),
            (AwsError::no_such_entity("m"), "NoSuchEntity", 404),
            (
                AwsError::entity_already_exists("m"),
                "EntityAlreadyExists",
                409,
            ),
            (AwsError::delete_conflict("m"), "DeleteConflict", 409),
            (AwsError::limit_exceeded("m"), "LimitExceeded", 409),
            (AwsError::invalid_input("m"), "InvalidInput", 400),
            (
                AwsError::concurrent_modification("m"),
                "ConcurrentModification",
                409,
            ),
            (
                AwsError::entity_temporarily_unmodifiable("m"),
                "EntityTemporarilyUnmodifiable",
                409,
            ),
            (
                AwsError::unmodifiable_entity("m"),
                "UnmodifiableEntity",
                400,
            ),
            (
                AwsError::policy_not_attachable("m"),
                "PolicyNotAttachable",
                400,
            ),
            (
                AwsError::invalid_authentication_code("m"),
                "InvalidAuthenticationCode",
                403,
            ),
            (
                AwsError::password_policy_violation("m"),
                "PasswordPolicyViolation",
                400,
            ),
            (AwsError::report_not_present("m"), "ReportNotPresent", 410),
            (AwsError::report_in_progress("m"), "ReportInProgress", 404),
            (AwsError::report_expired("m"), "ReportExpired", 410),
            (
                AwsError::open_id_idp_communication_error("m"),
                "OpenIdIdpCommunicationError",
                400,
            ),
            (
                AwsError::not_supported_service("m"),
                "NotSupportedService",
                404,
            ),
            (
                AwsError::validation_message("Invalid Marker."),
                "ValidationError",
                400,
            ),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code, *code, "{err:?}");
            assert!(err.has_code(code));
            assert_eq!(err.status, *status, "{err:?}");
            let is_server = err.status >= 500;
            assert_eq!(err.fault == Fault::Receiver, is_server, "{err:?}");
        }
    }

    #[test]
    fn no_code_is_the_retried_limit_exceeded_exception() {
        assert_ne!(AwsError::limit_exceeded("m").code, "LimitExceededException");
    }

    #[test]
    fn invalid_action_names_operation_and_version() {
        assert_eq!(
            AwsError::invalid_action("Foo", "2011-06-15").message,
            "Could not find operation Foo for version 2011-06-15"
        );
    }

    #[test]
    fn display_shows_code_status_and_message() {
        assert_eq!(
            AwsError::no_such_entity("The role with name deploy cannot be found.").to_string(),
            "NoSuchEntity (404): The role with name deploy cannot be found."
        );
    }
}
