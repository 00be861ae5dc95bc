//! Why a SAML response or a provider's metadata was refused.
//!
//! Each variant names one failed check. Messages never quote the assertion:
//! they say what was wrong and where, so a person can fix the IdP
//! configuration without the token reaching a log.

use thiserror::Error;

/// The AWS error code a [`SamlError`] becomes on the wire (sts-api.md 9.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamlErrorCode {
    /// 400 `InvalidIdentityToken`: unsigned, badly signed or malformed.
    InvalidIdentityToken,
    /// 400 `ExpiredTokenException`: a `NotOnOrAfter` has passed.
    ExpiredToken,
    /// 403 `IDPRejectedClaim`: the IdP itself reported a failure status.
    IdpRejectedClaim,
}

impl SamlErrorCode {
    /// The wire `Code` string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidIdentityToken => "InvalidIdentityToken",
            Self::ExpiredToken => "ExpiredTokenException",
            Self::IdpRejectedClaim => "IDPRejectedClaim",
        }
    }
}

/// A SAML response that failed verification.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SamlError {
    /// `SAMLAssertion` is not base64.
    #[error("the SAML assertion is not valid base64")]
    NotBase64,
    /// The decoded document is larger than the verifier accepts.
    #[error("the SAML response is larger than the {limit}-byte limit")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The decoded document is not UTF-8.
    #[error("the SAML response is not UTF-8 text")]
    NotUtf8,
    /// The document declares a DTD (entities, external references).
    #[error("the SAML response contains a DOCTYPE; DTDs and entity declarations are refused")]
    Doctype,
    /// The XML is not well formed (or exceeds the node limit).
    #[error("the SAML response is not well-formed XML (line {line}, column {column})")]
    Malformed {
        /// 1-based line of the error.
        line: u32,
        /// 1-based column of the error.
        column: u32,
    },
    /// The root element is not a SAML 2.0 protocol `Response`.
    #[error("the document is not a SAML 2.0 samlp:Response")]
    NotAResponse,
    /// Two elements carry the same `ID`.
    #[error("two elements in the SAML response share one ID")]
    DuplicateId,
    /// Not exactly one `Assertion`, as a child of the `Response`.
    #[error(
        "the SAML response must carry exactly one Assertion as a child of Response; found {found}"
    )]
    AssertionCount {
        /// Assertions found anywhere in the document.
        found: usize,
    },
    /// An `EncryptedAssertion` (not supported).
    #[error(
        "encrypted assertions are not supported; configure the IdP to send a signed, unencrypted assertion"
    )]
    EncryptedAssertion,
    /// Neither the Response nor the Assertion carries a signature.
    #[error("the SAML response is not signed; sign the Response or the Assertion")]
    Unsigned,
    /// A `Signature` element somewhere other than directly in the Response or the Assertion.
    #[error("a Signature element appears outside the Response and Assertion it may sign")]
    MisplacedSignature,
    /// The signature's Reference does not name the element that holds the signature.
    #[error("the signature's Reference does not point at the element that contains the signature")]
    ReferenceNotParent,
    /// Signature markup that is missing a part or has an unexpected one.
    #[error("the XML signature is malformed: {reason}")]
    SignatureStructure {
        /// What is wrong.
        reason: &'static str,
    },
    /// An algorithm Mayfly does not accept.
    #[error("unsupported XML signature algorithm `{algorithm}`")]
    UnsupportedAlgorithm {
        /// The algorithm URI (not secret).
        algorithm: String,
    },
    /// SHA-1 used without the provider opting in.
    #[error("the SAML response is signed or digested with SHA-1; use SHA-256 or stronger")]
    Sha1Refused,
    /// The digest of the signed element does not match `DigestValue`.
    #[error(
        "the digest of the signed element does not match; the response was altered after signing"
    )]
    DigestMismatch,
    /// No signing key from the provider's metadata verifies `SignatureValue`.
    #[error(
        "the signature does not verify with any signing certificate in the SAML provider's metadata"
    )]
    BadSignature,
    /// Issuer differs from the metadata's entityID.
    #[error("the assertion's Issuer does not match the entityID of the SAML provider's metadata")]
    IssuerMismatch,
    /// A required element is missing.
    #[error("the SAML response has no {element}")]
    Missing {
        /// The missing element or attribute.
        element: &'static str,
    },
    /// A dateTime attribute that does not parse.
    #[error("the {field} attribute is not an xs:dateTime in UTC")]
    InvalidTime {
        /// Which attribute.
        field: &'static str,
    },
    /// `NotBefore` lies in the future.
    #[error("the assertion is not yet valid (NotBefore is in the future); check the IdP clock")]
    NotYetValid,
    /// `NotOnOrAfter` has passed.
    #[error("the SAML assertion has expired (NotOnOrAfter has passed)")]
    Expired,
    /// No `Audience` the service accepts.
    #[error("the assertion's AudienceRestriction does not name an audience this service accepts")]
    AudienceMismatch,
    /// `SubjectConfirmationData/@Recipient` is not an accepted endpoint.
    #[error("the SubjectConfirmationData Recipient is not a SAML endpoint this service accepts")]
    RecipientMismatch,
    /// `Response/@Destination` is not an accepted endpoint.
    #[error("the Response Destination is not a SAML endpoint this service accepts")]
    DestinationMismatch,
    /// Not exactly one bearer `SubjectConfirmation` with Recipient and NotOnOrAfter.
    #[error(
        "the assertion needs exactly one bearer SubjectConfirmation with Recipient and NotOnOrAfter"
    )]
    SubjectConfirmation,
    /// The IdP answered with a status other than Success.
    #[error("the identity provider reported status `{status}`")]
    StatusNotSuccess {
        /// The top-level StatusCode URI.
        status: String,
    },
    /// The RoleSessionName attribute is missing or invalid.
    #[error("RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{{2,64}}")]
    RoleSessionName,
    /// The Role attribute is missing or a value is not a role/provider ARN pair.
    #[error(
        "the https://aws.amazon.com/SAML/Attributes/Role attribute must hold `role-arn,provider-arn` pairs"
    )]
    RoleAttribute,
    /// SessionDuration is not an integer in 900..=43200.
    #[error("the SessionDuration attribute must be an integer from 900 to 43200")]
    SessionDuration,
    /// SourceIdentity is not 2–64 `[\w+=,.@-]` or starts with `aws:`.
    #[error(
        "the SourceIdentity attribute must be 2-64 characters of [a-zA-Z_0-9+=,.@-] and not start with aws:"
    )]
    SourceIdentity,
    /// A PrincipalTag attribute with an invalid key or value, or more than one value.
    #[error("a PrincipalTag attribute is invalid: {reason}")]
    PrincipalTag {
        /// What is wrong.
        reason: &'static str,
    },
}

impl SamlError {
    /// The AWS error code this failure answers with.
    #[must_use]
    pub fn code(&self) -> SamlErrorCode {
        match self {
            Self::Expired => SamlErrorCode::ExpiredToken,
            Self::StatusNotSuccess { .. } => SamlErrorCode::IdpRejectedClaim,
            _ => SamlErrorCode::InvalidIdentityToken,
        }
    }
}

/// SAML metadata that cannot serve as a provider (IAM `InvalidInput`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// Larger than IAM accepts.
    #[error("the SAML metadata document is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// DTDs are refused here too.
    #[error("the SAML metadata document contains a DOCTYPE; DTDs are refused")]
    Doctype,
    /// Not well-formed XML.
    #[error("the SAML metadata document is not well-formed XML (line {line}, column {column})")]
    Malformed {
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
    },
    /// The root is not `md:EntityDescriptor`, or it lacks `entityID`.
    #[error("the SAML metadata document must be an md:EntityDescriptor with an entityID")]
    NotEntityDescriptor,
    /// No IDPSSODescriptor.
    #[error("the SAML metadata document has no IDPSSODescriptor")]
    NoIdpDescriptor,
    /// No signing certificate.
    #[error("the SAML metadata document has no signing X509Certificate in a KeyDescriptor")]
    NoSigningKey,
    /// More than the ten signing keys AWS allows.
    #[error("the SAML metadata document has more than {limit} signing certificates")]
    TooManyKeys {
        /// The limit.
        limit: usize,
    },
    /// A certificate that does not parse or has an unsupported key.
    #[error("signing certificate {index} in the SAML metadata is unusable: {reason}")]
    Certificate {
        /// 1-based position among the signing certificates.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// `validUntil` is not a dateTime.
    #[error("the validUntil attribute of the SAML metadata is not an xs:dateTime")]
    ValidUntil,
}
