//! Chain validation to a trust anchor bundle, with CRLs (roles-anywhere.md
//! 3.3 steps 6-7), on rustls-webpki.

use std::time::SystemTime;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use webpki::{
    BorrowedCertRevocationList, CertRevocationList, EndEntityCert, ExpirationPolicy,
    ExtendedKeyUsageValidator, KeyPurposeIdIter, RevocationCheckDepth, RevocationOptionsBuilder,
    UnknownStatusPolicy,
};

use super::{Certificate, X509Error};

/// At most this many certificates in a trust anchor bundle.
const MAX_ANCHORS: usize = 50;
/// At most this many untrusted intermediates are considered.
pub const MAX_INTERMEDIATES: usize = 5;

/// Signature algorithms accepted on certificates and CRLs: SHA-256 or
/// stronger (no SHA-1, no MD5).
static ALGORITHMS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::aws_lc_rs::ECDSA_P256_SHA256,
    webpki::aws_lc_rs::ECDSA_P256_SHA384,
    webpki::aws_lc_rs::ECDSA_P384_SHA256,
    webpki::aws_lc_rs::ECDSA_P384_SHA384,
    webpki::aws_lc_rs::ECDSA_P521_SHA256,
    webpki::aws_lc_rs::ECDSA_P521_SHA384,
    webpki::aws_lc_rs::ECDSA_P521_SHA512,
    webpki::aws_lc_rs::ED25519,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// The CA certificates of one trust anchor (`CERTIFICATE_BUNDLE` source).
#[derive(Debug, Clone)]
pub struct AnchorBundle {
    certificates: Vec<CertificateDer<'static>>,
}

impl AnchorBundle {
    /// Parse `x509CertificateData`: one or more PEM certificates, each of
    /// which must be usable as a trust anchor.
    pub fn from_pem(pem: &str) -> Result<Self, X509Error> {
        let mut certificates = Vec::new();
        for item in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let der = item.map_err(|_| X509Error::MalformedInput("certificate bundle"))?;
            webpki::anchor_from_trusted_cert(&der)
                .map_err(|_| X509Error::MalformedInput("certificate bundle"))?;
            certificates.push(der);
            if certificates.len() > MAX_ANCHORS {
                return Err(X509Error::MalformedInput("certificate bundle"));
            }
        }
        if certificates.is_empty() {
            return Err(X509Error::MalformedInput("certificate bundle"));
        }
        Ok(Self { certificates })
    }

    /// Whether `der` is one of the anchor's certificates.
    fn contains(&self, der: &[u8]) -> bool {
        self.certificates.iter().any(|c| c.as_ref() == der)
    }
}

/// Decode an imported CRL (`crlData` bytes: PEM, or DER) to DER, checking
/// that it parses.
pub fn parse_crl(data: &[u8]) -> Result<Vec<u8>, X509Error> {
    let der = if data.starts_with(b"-----") {
        CertificateRevocationListDer::from_pem_slice(data)
            .map_err(|_| X509Error::MalformedInput("CRL"))?
            .as_ref()
            .to_vec()
    } else {
        data.to_vec()
    };
    BorrowedCertRevocationList::from_der(&der).map_err(|_| X509Error::MalformedInput("CRL"))?;
    Ok(der)
}

/// Roles Anywhere puts no extended-key-usage requirement on the signing
/// certificate; `keyUsage digitalSignature` is checked separately.
struct AnyExtendedKeyUsage;

impl ExtendedKeyUsageValidator for AnyExtendedKeyUsage {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        // Still refuse a malformed extension.
        for purpose in iter {
            purpose?;
        }
        Ok(())
    }
}

/// Validate `leaf` at `now`: it is not a CA and may sign
/// (`keyUsage digitalSignature`); a path leads from it through `pool`
/// (untrusted candidates, at most [`MAX_INTERMEDIATES`] are used; the leaf
/// and anchors in it are ignored) to a certificate of `anchors`; every
/// certificate on the path is within its validity window, CA certificates
/// are CAs allowed to sign certificates, signatures use SHA-256 or
/// stronger; no certificate on the path is listed in `crls` (DER; only CRLs
/// signed by the certificate's issuer count; CRLs past `nextUpdate` still
/// count).
pub fn verify_chain(
    leaf: &Certificate,
    pool: &[Vec<u8>],
    anchors: &AnchorBundle,
    crls: &[Vec<u8>],
    now: SystemTime,
) -> Result<(), X509Error> {
    if leaf.is_ca {
        return Err(X509Error::KeyUsage("the signing certificate is a CA"));
    }
    if leaf.digital_signature != Some(true) {
        return Err(X509Error::KeyUsage("keyUsage lacks digitalSignature"));
    }
    let leaf_der = CertificateDer::from(leaf.der.as_slice());
    let end_entity = EndEntityCert::try_from(&leaf_der)
        .map_err(|_| X509Error::Malformed("not a valid end-entity certificate"))?;
    let trust_anchors = anchors
        .certificates
        .iter()
        .map(webpki::anchor_from_trusted_cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| X509Error::MalformedInput("certificate bundle"))?;
    let intermediates: Vec<CertificateDer<'_>> = pool
        .iter()
        .filter(|der| der.as_slice() != leaf.der.as_slice() && !anchors.contains(der))
        .take(MAX_INTERMEDIATES)
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    let parsed_crls = crls
        .iter()
        .map(|der| BorrowedCertRevocationList::from_der(der).map(CertRevocationList::from))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| X509Error::MalformedInput("CRL"))?;
    let crl_refs: Vec<&CertRevocationList<'_>> = parsed_crls.iter().collect();
    let revocation = RevocationOptionsBuilder::new(&crl_refs)
        .ok()
        .map(|builder| {
            builder
                .with_depth(RevocationCheckDepth::Chain)
                .with_status_policy(UnknownStatusPolicy::Allow)
                .with_expiration_policy(ExpirationPolicy::Ignore)
                .build()
        });
    let seconds = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| X509Error::Expired)?;
    let time = UnixTime::since_unix_epoch(seconds);
    match end_entity.verify_for_usage(
        ALGORITHMS,
        &trust_anchors,
        &intermediates,
        time,
        AnyExtendedKeyUsage,
        revocation,
        None,
    ) {
        Ok(_) => Ok(()),
        Err(error) => Err(map_error(&error)),
    }
}

fn map_error(error: &webpki::Error) -> X509Error {
    use webpki::Error as E;
    match error {
        E::CertExpired { .. } | E::CertNotValidYet { .. } => X509Error::Expired,
        E::CertRevoked => X509Error::Revoked,
        other => X509Error::Untrusted(format!("{other:?}").chars().take(120).collect()),
    }
}
