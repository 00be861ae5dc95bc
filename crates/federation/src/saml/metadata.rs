//! An IdP's SAML metadata: its entityID and the signing keys of its
//! `IDPSSODescriptor`. These keys are the only ones a response is verified
//! with; `KeyInfo` inside a response is never trusted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
};

use super::error::MetadataError;
use super::xml::{self, NS_DSIG, NS_METADATA, ParseFailure, children_named, is};

/// Largest metadata document accepted (IAM: 10,000,000 characters).
pub const METADATA_SIZE_LIMIT: usize = 10_000_000;
/// At most this many signing keys per provider (iam-admin-api.md 9).
pub const SIGNING_KEY_LIMIT: usize = 10;

/// A public key that may sign responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKey {
    /// PKCS#1 `RSAPublicKey` DER.
    Rsa(Vec<u8>),
    /// Uncompressed P-256 point.
    EcP256(Vec<u8>),
    /// Uncompressed P-384 point.
    EcP384(Vec<u8>),
}

/// The parts of an IdP's metadata the verifier needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// `EntityDescriptor/@entityID`: the assertion's `Issuer` must equal it.
    pub entity_id: String,
    /// Signing keys from `KeyDescriptor` elements with `use="signing"` or no `use`.
    pub signing_keys: Vec<SigningKey>,
    /// `validUntil`, in Unix seconds, if the document has one.
    pub valid_until: Option<i64>,
}

impl IdpMetadata {
    /// Parses a metadata document (strictly: no DTD, size-capped).
    ///
    /// # Errors
    /// [`MetadataError`] names what is missing or unusable; IAM answers it
    /// with `InvalidInput`.
    pub fn parse(document: &str) -> Result<Self, MetadataError> {
        let parsed =
            xml::parse_strict(document.as_bytes(), METADATA_SIZE_LIMIT).map_err(|failure| {
                match failure {
                    ParseFailure::TooLarge => MetadataError::TooLarge {
                        limit: METADATA_SIZE_LIMIT,
                    },
                    ParseFailure::Doctype => MetadataError::Doctype,
                    ParseFailure::NotUtf8 => MetadataError::Malformed { line: 1, column: 1 },
                    ParseFailure::Malformed { line, column } => {
                        MetadataError::Malformed { line, column }
                    }
                }
            })?;
        let root = parsed.root_element();
        if !is(root, NS_METADATA, "EntityDescriptor") {
            return Err(MetadataError::NotEntityDescriptor);
        }
        let entity_id = root
            .attribute("entityID")
            .filter(|id| !id.is_empty())
            .ok_or(MetadataError::NotEntityDescriptor)?
            .to_owned();
        let valid_until = root
            .attribute("validUntil")
            .map(|value| {
                OffsetDateTime::parse(value, &Rfc3339)
                    .map(OffsetDateTime::unix_timestamp)
                    .map_err(|_| MetadataError::ValidUntil)
            })
            .transpose()?;
        let mut descriptors = children_named(root, NS_METADATA, "IDPSSODescriptor").peekable();
        if descriptors.peek().is_none() {
            return Err(MetadataError::NoIdpDescriptor);
        }
        let mut signing_keys = Vec::new();
        for descriptor in descriptors {
            for key_descriptor in children_named(descriptor, NS_METADATA, "KeyDescriptor") {
                if !matches!(key_descriptor.attribute("use"), None | Some("signing")) {
                    continue;
                }
                let certificates = key_descriptor
                    .descendants()
                    .filter(|node| is(*node, NS_DSIG, "X509Certificate"));
                for certificate in certificates {
                    let index = signing_keys.len() + 1;
                    if index > SIGNING_KEY_LIMIT {
                        return Err(MetadataError::TooManyKeys {
                            limit: SIGNING_KEY_LIMIT,
                        });
                    }
                    signing_keys.push(signing_key(&xml::text_content(certificate), index)?);
                }
            }
        }
        if signing_keys.is_empty() {
            return Err(MetadataError::NoSigningKey);
        }
        signing_keys.dedup();
        Ok(Self {
            entity_id,
            signing_keys,
            valid_until,
        })
    }
}

fn signing_key(base64_der: &str, index: usize) -> Result<SigningKey, MetadataError> {
    let compact: String = base64_der
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = STANDARD
        .decode(compact)
        .map_err(|_| MetadataError::Certificate {
            index,
            reason: "not base64",
        })?;
    let (_, certificate) =
        x509_parser::parse_x509_certificate(&der).map_err(|_| MetadataError::Certificate {
            index,
            reason: "not a DER X.509 certificate",
        })?;
    let spki = certificate.public_key();
    let key = spki.subject_public_key.data.to_vec();
    let algorithm = &spki.algorithm.algorithm;
    if *algorithm == OID_PKCS1_RSAENCRYPTION {
        return Ok(SigningKey::Rsa(key));
    }
    if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| parameters.as_oid().ok());
        return match curve {
            Some(curve) if curve == OID_EC_P256 => Ok(SigningKey::EcP256(key)),
            Some(curve) if curve == OID_NIST_EC_P384 => Ok(SigningKey::EcP384(key)),
            _ => Err(MetadataError::Certificate {
                index,
                reason: "EC keys must be on P-256 or P-384",
            }),
        };
    }
    Err(MetadataError::Certificate {
        index,
        reason: "the key must be RSA or ECDSA",
    })
}
