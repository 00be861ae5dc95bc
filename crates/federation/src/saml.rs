//! SAML 2.0 responses for AssumeRoleWithSAML: strict parsing, exclusive C14N
//! and XML-DSig verification, then the assertion's conditions and AWS claims.
//!
//! The rules that make signature wrapping (XSW1–XSW8) fail:
//! - the document is parsed once, and claims are read from the same tree the
//!   signature was checked on;
//! - no two elements share an `ID`;
//! - exactly one `Assertion`, a direct child of the `Response`;
//! - a `Signature` may only sit directly inside the `Response` or the
//!   `Assertion`, its `Reference` must name that parent, and it may not carry
//!   an `Object`;
//! - claims are read only from that one Assertion, which the verified
//!   signature covers (signed itself, or inside the signed Response).
//!
//! Keys come only from the provider's metadata ([`IdpMetadata`]); `KeyInfo`
//! in a response is ignored. Time is passed in; nothing here reads a clock.

mod c14n;
mod condition_keys;
mod dsig;
mod error;
mod metadata;
mod response;
mod xml;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

pub use c14n::{C14nOptions, canonicalize};
pub use condition_keys::name_qualifier;
pub use error::{MetadataError, SamlError, SamlErrorCode};
pub use metadata::{IdpMetadata, METADATA_SIZE_LIMIT, SIGNING_KEY_LIMIT, SigningKey};

/// Largest decoded SAML response accepted. Real responses are a few KiB;
/// the STS parameter itself is capped at 100,000 base64 characters.
pub const RESPONSE_SIZE_LIMIT: usize = 256 * 1024;

/// The audience AWS expects in `AudienceRestriction`.
pub const AWS_SAML_AUDIENCE: &str = "https://signin.aws.amazon.com/saml";

/// The AWS sign-in endpoints accepted as `Recipient` and `Destination` by default.
pub const AWS_SAML_RECIPIENTS: &[&str] = &[
    "https://signin.aws.amazon.com/saml",
    "https://signin.aws.amazon.com/static/saml",
];

/// What the verifier accepts beyond the provider's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Accepted `Audience` values; default [`AWS_SAML_AUDIENCE`].
    pub audiences: Vec<String>,
    /// Accepted `Recipient`/`Destination` values; default [`AWS_SAML_RECIPIENTS`].
    pub recipients: Vec<String>,
    /// Accept RSA-SHA1 signatures and SHA-1 digests (off by default).
    pub allow_sha1: bool,
    /// Clock skew tolerated on every time check, in seconds.
    pub clock_skew_seconds: i64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            audiences: vec![AWS_SAML_AUDIENCE.to_owned()],
            recipients: AWS_SAML_RECIPIENTS
                .iter()
                .map(|&uri| uri.to_owned())
                .collect(),
            allow_sha1: false,
            clock_skew_seconds: 60,
        }
    }
}

/// Which element the trusted signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedElement {
    /// The whole `samlp:Response` (the assertion may be signed too).
    Response,
    /// Only the `saml:Assertion`.
    Assertion,
}

/// One value of the `https://aws.amazon.com/SAML/Attributes/Role` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePair {
    /// `arn:aws:iam::ACCT:role/…`.
    pub role_arn: String,
    /// `arn:aws:iam::ACCT:saml-provider/…`.
    pub provider_arn: String,
}

impl RolePair {
    /// Parses `roleArn,providerArn` in either order.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let (first, second) = value.split_once(',')?;
        let (first, second) = (first.trim(), second.trim());
        let is_role = |arn: &str| arn.starts_with("arn:") && arn.contains(":role/");
        let is_provider = |arn: &str| arn.starts_with("arn:") && arn.contains(":saml-provider/");
        let (role_arn, provider_arn) = if is_role(first) && is_provider(second) {
            (first, second)
        } else if is_provider(first) && is_role(second) {
            (second, first)
        } else {
            return None;
        };
        Some(Self {
            role_arn: role_arn.to_owned(),
            provider_arn: provider_arn.to_owned(),
        })
    }
}

/// The facts of a verified assertion. Everything here was covered by a
/// signature made with a key from the provider's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// Which element was signed.
    pub signed_element: SignedElement,
    /// `Assertion/@ID`, for replay detection.
    pub assertion_id: String,
    /// `Assertion/Issuer` (equals the metadata's entityID).
    pub issuer: String,
    /// `Subject/NameID`, all its text (a comment cannot cut it short).
    pub subject: String,
    /// `NameID/@Format`, if given.
    pub subject_format: Option<String>,
    /// `SubjectConfirmationData/@Recipient`: the response's `Audience` and `saml:aud`.
    pub recipient: String,
    /// Every `Audience` of the AudienceRestrictions.
    pub audiences: Vec<String>,
    /// Unix seconds until which the assertion ID must be remembered: the
    /// earliest NotOnOrAfter plus the clock skew, when it stops being accepted.
    pub replay_expires_at: i64,
    /// `AuthnStatement/@SessionNotOnOrAfter`, caps the session (sts-api.md 4).
    pub session_not_on_or_after: Option<i64>,
    /// The Role attribute's pairs.
    pub roles: Vec<RolePair>,
    /// The RoleSessionName attribute (validated `[\w+=,.@-]{2,64}`).
    pub role_session_name: String,
    /// The SessionDuration attribute, 900–43200.
    pub session_duration: Option<u32>,
    /// `PrincipalTag:{Key}` attributes as (key, value).
    pub principal_tags: Vec<(String, String)>,
    /// The TransitiveTagKeys attribute's values.
    pub transitive_tag_keys: Vec<String>,
    /// The SourceIdentity attribute.
    pub source_identity: Option<String>,
    /// Every attribute as (Name, values), for the `saml:*` condition keys.
    pub attributes: Vec<(String, Vec<String>)>,
}

impl VerifiedAssertion {
    /// Whether the Role attribute lists this role with this provider.
    #[must_use]
    pub fn grants(&self, role_arn: &str, provider_arn: &str) -> bool {
        self.roles
            .iter()
            .any(|pair| pair.role_arn == role_arn && pair.provider_arn == provider_arn)
    }
}

/// Verifies the base64 `SAMLAssertion` parameter of AssumeRoleWithSAML.
///
/// # Errors
/// [`SamlError`]; its [`SamlError::code`] is the AWS error to answer with.
pub fn verify_response(
    saml_assertion: &str,
    metadata: &IdpMetadata,
    options: &VerifyOptions,
    now: i64,
) -> Result<VerifiedAssertion, SamlError> {
    // Fail fast on size before decoding anything.
    if saml_assertion.len() > RESPONSE_SIZE_LIMIT.div_ceil(3) * 4 + 4096 {
        return Err(SamlError::TooLarge {
            limit: RESPONSE_SIZE_LIMIT,
        });
    }
    let compact: Vec<u8> = saml_assertion
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    let decoded = STANDARD.decode(compact).map_err(|_| SamlError::NotBase64)?;
    verify_response_xml(&decoded, metadata, options, now)
}

/// Verifies a decoded `samlp:Response` document.
///
/// # Errors
/// As [`verify_response`].
pub fn verify_response_xml(
    document: &[u8],
    metadata: &IdpMetadata,
    options: &VerifyOptions,
    now: i64,
) -> Result<VerifiedAssertion, SamlError> {
    let parsed =
        xml::parse_strict(document, RESPONSE_SIZE_LIMIT).map_err(|failure| match failure {
            xml::ParseFailure::TooLarge => SamlError::TooLarge {
                limit: RESPONSE_SIZE_LIMIT,
            },
            xml::ParseFailure::NotUtf8 => SamlError::NotUtf8,
            xml::ParseFailure::Doctype => SamlError::Doctype,
            xml::ParseFailure::Malformed { line, column } => SamlError::Malformed { line, column },
        })?;
    response::verify_document(&parsed, metadata, options, now)
}

/// Fuzz entry point (`fuzz/fuzz_targets/saml_response.rs`): `data` as a
/// response document and as metadata. Must never panic.
pub fn fuzz_response(data: &[u8]) {
    let metadata = IdpMetadata {
        entity_id: "https://idp.example.test/".to_owned(),
        signing_keys: Vec::new(),
        valid_until: None,
    };
    let options = VerifyOptions {
        allow_sha1: true,
        ..VerifyOptions::default()
    };
    let _ = verify_response_xml(data, &metadata, &options, 1_800_000_000);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = verify_response(text, &metadata, &options, 1_800_000_000);
        let _ = IdpMetadata::parse(text);
    }
}

/// Fuzz entry point (`fuzz/fuzz_targets/saml_c14n.rs`): canonicalizes `data`
/// (if it parses strictly) with and without comments and with a prefix
/// list, leaving out each root child in turn. Must never panic.
pub fn fuzz_c14n(data: &[u8]) {
    let Ok(parsed) = xml::parse_strict(data, RESPONSE_SIZE_LIMIT) else {
        return;
    };
    let root = parsed.root_element();
    let prefixes = ["#default".to_owned(), "ds".to_owned(), "saml".to_owned()];
    for with_comments in [false, true] {
        let options = C14nOptions {
            with_comments,
            inclusive_prefixes: &prefixes,
        };
        let _ = canonicalize(root, None, &options);
        for child in root.children().take(8) {
            let _ = canonicalize(root, Some(child.id()), &C14nOptions::default());
        }
    }
}
