//! The certificate, key and intermediates a workload signs with, read from
//! PEM files.

use std::path::Path;

use mayfly_federation::x509::parse_certificate;
use mayfly_sigv4::x509::X509SigningKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why the signing material could not be loaded. Never carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A file does not hold what it should.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The loaded signing material.
#[derive(Debug)]
pub struct Material {
    /// The end-entity certificate, DER.
    pub certificate_der: Vec<u8>,
    /// Its serial number in decimal.
    pub serial_decimal: String,
    /// Intermediates, DER, in file order.
    pub chain_der: Vec<Vec<u8>>,
    /// The private key.
    pub key: X509SigningKey,
}

fn read(path: &Path) -> Result<Vec<u8>, MaterialError> {
    std::fs::read(path).map_err(|source| MaterialError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn invalid(path: &Path, reason: impl Into<String>) -> MaterialError {
    MaterialError::Invalid {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn certificates(path: &Path) -> Result<Vec<Vec<u8>>, MaterialError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| invalid(path, "not a PEM certificate file"))?;
    if certs.is_empty() {
        // A DER file holds one certificate.
        return Ok(vec![bytes]);
    }
    Ok(certs)
}

impl Material {
    /// Load the certificate (PEM or DER; the first one if several), the
    /// private key (PEM: PKCS#8, SEC1 or PKCS#1) and optional intermediates.
    pub fn load(
        certificate: &Path,
        private_key: &Path,
        intermediates: Option<&Path>,
    ) -> Result<Self, MaterialError> {
        let certificate_der = certificates(certificate)?
            .into_iter()
            .next()
            .ok_or_else(|| invalid(certificate, "no certificate"))?;
        let parsed =
            parse_certificate(&certificate_der).map_err(|e| invalid(certificate, e.to_string()))?;
        let key_bytes = read(private_key)?;
        let key = match PrivateKeyDer::from_pem_slice(&key_bytes) {
            Ok(PrivateKeyDer::Pkcs8(der)) => X509SigningKey::from_pkcs8(der.secret_pkcs8_der()),
            Ok(PrivateKeyDer::Sec1(der)) => X509SigningKey::from_sec1(der.secret_sec1_der()),
            Ok(PrivateKeyDer::Pkcs1(der)) => X509SigningKey::from_pkcs1(der.secret_pkcs1_der()),
            Ok(_) | Err(_) => return Err(invalid(private_key, "not a PEM private key")),
        }
        .map_err(|e| invalid(private_key, e.to_string()))?;
        let chain_der = match intermediates {
            Some(path) => certificates(path)?,
            None => Vec::new(),
        };
        Ok(Self {
            certificate_der,
            serial_decimal: parsed.serial_decimal(),
            chain_der,
            key,
        })
    }
}
