//! XML-DSig verification of one enveloped signature, restricted to what a
//! SAML IdP needs: exclusive C14N, one same-document `Reference` to the
//! signature's own parent, the enveloped-signature transform, SHA-2 (SHA-1
//! only on opt-in), RSA PKCS#1 v1.5 and ECDSA. Anything else is refused.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use roxmltree::Node;
use subtle::ConstantTimeEq as _;

use super::c14n::{C14nOptions, canonicalize};
use super::error::SamlError;
use super::metadata::SigningKey;
use super::xml::{NS_DSIG, NS_EXC_C14N, elements, id_attribute, is, text_content};

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest_method(uri: &str) -> Result<Self, SamlError> {
        match uri {
            "http://www.w3.org/2000/09/xmldsig#sha1" => Ok(Self::Sha1),
            "http://www.w3.org/2001/04/xmlenc#sha256" => Ok(Self::Sha256),
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => Ok(Self::Sha384),
            "http://www.w3.org/2001/04/xmlenc#sha512" => Ok(Self::Sha512),
            other => Err(unsupported(other)),
        }
    }

    fn algorithm(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignatureMethod {
    Rsa(Hash),
    Ecdsa(Hash),
}

impl SignatureMethod {
    fn parse(uri: &str) -> Result<Self, SamlError> {
        match uri {
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => Ok(Self::Rsa(Hash::Sha1)),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Ok(Self::Rsa(Hash::Sha256)),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Ok(Self::Rsa(Hash::Sha384)),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Ok(Self::Rsa(Hash::Sha512)),
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Ok(Self::Ecdsa(Hash::Sha256)),
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => Ok(Self::Ecdsa(Hash::Sha384)),
            other => Err(unsupported(other)),
        }
    }

    fn hash(self) -> Hash {
        match self {
            Self::Rsa(hash) | Self::Ecdsa(hash) => hash,
        }
    }

    /// The aws-lc-rs verifier for this method and key, `None` if they do not fit.
    fn verifier(self, key: &SigningKey) -> Option<(&'static dyn VerificationAlgorithm, &[u8])> {
        let algorithm: &'static dyn VerificationAlgorithm = match (self, key) {
            (Self::Rsa(Hash::Sha1), SigningKey::Rsa(_)) => {
                &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
            }
            (Self::Rsa(Hash::Sha256), SigningKey::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (Self::Rsa(Hash::Sha384), SigningKey::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (Self::Rsa(Hash::Sha512), SigningKey::Rsa(_)) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (Self::Ecdsa(Hash::Sha256), SigningKey::EcP256(_)) => {
                &signature::ECDSA_P256_SHA256_FIXED
            }
            (Self::Ecdsa(Hash::Sha384), SigningKey::EcP384(_)) => {
                &signature::ECDSA_P384_SHA384_FIXED
            }
            _ => return None,
        };
        let bytes = match key {
            SigningKey::Rsa(bytes) | SigningKey::EcP256(bytes) | SigningKey::EcP384(bytes) => bytes,
        };
        Some((algorithm, bytes.as_slice()))
    }
}

fn unsupported(uri: &str) -> SamlError {
    // Algorithm URIs come from the document but are short public identifiers;
    // cap the length so a hostile value cannot flood a log line.
    SamlError::UnsupportedAlgorithm {
        algorithm: uri.chars().take(100).collect(),
    }
}

fn structure(reason: &'static str) -> SamlError {
    SamlError::SignatureStructure { reason }
}

/// The prefixes of an `InclusiveNamespaces` child of `node`, if any.
fn inclusive_prefixes(node: Node<'_, '_>) -> Result<Vec<String>, SamlError> {
    let mut lists = elements(node).filter(|child| is(*child, NS_EXC_C14N, "InclusiveNamespaces"));
    let Some(list) = lists.next() else {
        return Ok(Vec::new());
    };
    if lists.next().is_some() {
        return Err(structure("more than one InclusiveNamespaces"));
    }
    Ok(list
        .attribute("PrefixList")
        .unwrap_or("")
        .split_ascii_whitespace()
        .map(str::to_owned)
        .collect())
}

fn base64_text(node: Node<'_, '_>) -> Result<Vec<u8>, SamlError> {
    let compact: String = text_content(node)
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(compact)
        .map_err(|_| structure("a base64 value does not decode"))
}

/// Verifies `signature_element`, which must sit directly inside the element
/// it signs. Returns that element; claims may be read from it and nothing else.
pub(crate) fn verify_enveloped<'a, 'i>(
    signature_element: Node<'a, 'i>,
    keys: &[SigningKey],
    allow_sha1: bool,
) -> Result<Node<'a, 'i>, SamlError> {
    let signed = signature_element
        .parent_element()
        .ok_or(SamlError::ReferenceNotParent)?;

    // Signature: SignedInfo, SignatureValue, optional KeyInfo; no Object (a
    // wrapping attack's favourite hiding place).
    let parts: Vec<Node<'_, '_>> = elements(signature_element).collect();
    let [signed_info, signature_value, rest @ ..] = parts.as_slice() else {
        return Err(structure("Signature needs SignedInfo and SignatureValue"));
    };
    if !is(*signed_info, NS_DSIG, "SignedInfo") || !is(*signature_value, NS_DSIG, "SignatureValue")
    {
        return Err(structure("Signature needs SignedInfo then SignatureValue"));
    }
    match rest {
        [] => {}
        [key_info] if is(*key_info, NS_DSIG, "KeyInfo") => {}
        _ => {
            return Err(structure(
                "Signature may hold only SignedInfo, SignatureValue and KeyInfo",
            ));
        }
    }

    // SignedInfo: CanonicalizationMethod, SignatureMethod, exactly one Reference.
    let info_parts: Vec<Node<'_, '_>> = elements(*signed_info).collect();
    let [c14n_method, signature_method, reference] = info_parts.as_slice() else {
        return Err(structure(
            "SignedInfo needs one CanonicalizationMethod, SignatureMethod and Reference",
        ));
    };
    if !is(*c14n_method, NS_DSIG, "CanonicalizationMethod")
        || !is(*signature_method, NS_DSIG, "SignatureMethod")
        || !is(*reference, NS_DSIG, "Reference")
    {
        return Err(structure(
            "SignedInfo needs one CanonicalizationMethod, SignatureMethod and Reference",
        ));
    }
    let info_with_comments = match c14n_method.attribute("Algorithm") {
        Some(EXC_C14N) => false,
        Some(EXC_C14N_WITH_COMMENTS) => true,
        Some(other) => return Err(unsupported(other)),
        None => return Err(structure("CanonicalizationMethod has no Algorithm")),
    };
    let info_prefixes = inclusive_prefixes(*c14n_method)?;
    let method = SignatureMethod::parse(
        signature_method
            .attribute("Algorithm")
            .ok_or(structure("SignatureMethod has no Algorithm"))?,
    )?;

    // Reference: "#ID" of the signature's own parent.
    let uri = reference
        .attribute("URI")
        .ok_or(SamlError::ReferenceNotParent)?;
    let referenced_id = uri
        .strip_prefix('#')
        .filter(|id| !id.is_empty())
        .ok_or(SamlError::ReferenceNotParent)?;
    if id_attribute(signed) != Some(referenced_id) {
        return Err(SamlError::ReferenceNotParent);
    }
    let reference_parts: Vec<Node<'_, '_>> = elements(*reference).collect();
    let [transforms, digest_method, digest_value] = reference_parts.as_slice() else {
        return Err(structure(
            "Reference needs Transforms, DigestMethod and DigestValue",
        ));
    };
    if !is(*transforms, NS_DSIG, "Transforms")
        || !is(*digest_method, NS_DSIG, "DigestMethod")
        || !is(*digest_value, NS_DSIG, "DigestValue")
    {
        return Err(structure(
            "Reference needs Transforms, DigestMethod and DigestValue",
        ));
    }
    let transform_list: Vec<Node<'_, '_>> = elements(*transforms).collect();
    let [enveloped, exclusive] = transform_list.as_slice() else {
        return Err(structure(
            "Transforms must be enveloped-signature then exclusive C14N",
        ));
    };
    if !is(*enveloped, NS_DSIG, "Transform")
        || !is(*exclusive, NS_DSIG, "Transform")
        || enveloped.attribute("Algorithm") != Some(ENVELOPED)
    {
        return Err(structure(
            "Transforms must be enveloped-signature then exclusive C14N",
        ));
    }
    match exclusive.attribute("Algorithm") {
        // A bare "#id" reference drops comments before any transform runs
        // (XML-DSig 4.3.3.3), so both variants canonicalize without them.
        Some(EXC_C14N | EXC_C14N_WITH_COMMENTS) => {}
        Some(other) => return Err(unsupported(other)),
        None => return Err(structure("Transform has no Algorithm")),
    }
    let reference_prefixes = inclusive_prefixes(*exclusive)?;
    let digest_hash = Hash::digest_method(
        digest_method
            .attribute("Algorithm")
            .ok_or(structure("DigestMethod has no Algorithm"))?,
    )?;
    if !allow_sha1 && (digest_hash == Hash::Sha1 || method.hash() == Hash::Sha1) {
        return Err(SamlError::Sha1Refused);
    }

    // Digest of the signed element without this signature.
    let canonical = canonicalize(
        signed,
        Some(signature_element.id()),
        &C14nOptions {
            with_comments: false,
            inclusive_prefixes: &reference_prefixes,
        },
    );
    let computed = digest::digest(digest_hash.algorithm(), &canonical);
    let expected = base64_text(*digest_value)?;
    if !bool::from(computed.as_ref().ct_eq(expected.as_slice())) {
        return Err(SamlError::DigestMismatch);
    }

    // Signature over the canonical SignedInfo, with a metadata key only.
    let canonical_info = canonicalize(
        *signed_info,
        None,
        &C14nOptions {
            with_comments: info_with_comments,
            inclusive_prefixes: &info_prefixes,
        },
    );
    let signature_bytes = base64_text(*signature_value)?;
    let verified =
        keys.iter()
            .filter_map(|key| method.verifier(key))
            .any(|(algorithm, public_key)| {
                UnparsedPublicKey::new(algorithm, public_key)
                    .verify(&canonical_info, &signature_bytes)
                    .is_ok()
            });
    if !verified {
        return Err(SamlError::BadSignature);
    }
    Ok(signed)
}

/// The `ds:Signature` children of `node`; more than one is refused.
pub(crate) fn signature_child<'a, 'i>(
    node: Node<'a, 'i>,
) -> Result<Option<Node<'a, 'i>>, SamlError> {
    let mut signatures = elements(node).filter(|child| is(*child, NS_DSIG, "Signature"));
    let first = signatures.next();
    if signatures.next().is_some() {
        return Err(SamlError::MisplacedSignature);
    }
    Ok(first)
}
