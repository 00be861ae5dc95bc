//! X.509 for Roles Anywhere (roles-anywhere.md 1.1, 1.2, 3.3 steps 3, 6, 7):
//! parse the end-entity certificate (serial, subject, issuer, SANs, public
//! key, key usage), validate its chain to a trust anchor bundle at a given
//! time (rustls-webpki), consult the trust anchor's CRLs, and map
//! certificate fields to session tags.
//!
//! Pure: certificates, CRLs and the time come from the caller.

mod certificate;
mod chain;
mod error;
mod mapping;

pub use certificate::{Certificate, KeyKind, Rdn, parse_certificate};
pub use chain::{AnchorBundle, parse_crl, verify_chain};
pub use error::X509Error;
pub use mapping::{AttributeMapping, MappingError, default_mappings, principal_tags};

/// Fuzz entry point (`fuzz/fuzz_targets/x509_certificate.rs`): parse
/// arbitrary bytes as a certificate, a CRL and a PEM bundle, and map a
/// parsed certificate's fields to tags. Must never panic.
pub fn fuzz_one(data: &[u8]) {
    if let Ok(certificate) = parse_certificate(data) {
        let _ = certificate.serial_decimal();
        let _ = certificate.serial_hex();
        let _ = principal_tags(&certificate, &default_mappings());
        if let Ok(bundle) = AnchorBundle::from_pem(&pem_of(data)) {
            let _ = verify_chain(
                &certificate,
                &[],
                &bundle,
                &[data.to_vec()],
                std::time::UNIX_EPOCH,
            );
        }
    }
    let _ = parse_crl(data);
    let _ = AnchorBundle::from_pem(&String::from_utf8_lossy(data));
}

/// `data` as one PEM certificate block.
fn pem_of(data: &[u8]) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    format!("-----BEGIN CERTIFICATE-----\n{encoded}\n-----END CERTIFICATE-----\n")
}
