//! TLS server configuration from PEM files (`--tls-cert`, `--tls-key`;
//! `--iot-tls-cert`, `--iot-tls-key` with client authentication).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS certificate or key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file could not be read or held no PEM certificate.
    #[error("cannot read certificate chain from `{path}`: {reason}")]
    Certificate {
        /// The file named by `--tls-cert`.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key file could not be read or held no PEM private key.
    #[error("cannot read private key from `{path}`: {reason}")]
    PrivateKey {
        /// The file named by `--tls-key`.
        path: PathBuf,
        /// What went wrong (never the key itself).
        reason: String,
    },
    /// rustls refused the pair (for example, the key does not match).
    #[error("invalid certificate/key pair: {0}")]
    Config(String),
}

/// Build a rustls server configuration (TLS 1.2 and 1.3, aws-lc-rs) from a
/// PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn load_tls_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let no_client_auth = rustls::server::WebPkiClientVerifier::no_client_auth();
    load_mutual_tls_config(cert, key, no_client_auth)
}

/// As [`load_tls_config`], but every client must present a certificate
/// that `verifier` accepts (mutual TLS).
pub fn load_mutual_tls_config(
    cert: &Path,
    key: &Path,
    verifier: Arc<dyn ClientCertVerifier>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let (chain, key) = read_identity(cert, key)?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(finish(config))
}

/// The one crypto provider (DEPENDENCIES.md).
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn finish(mut config: ServerConfig) -> Arc<ServerConfig> {
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The server's certificate chain and private key from PEM files.
fn read_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::Certificate {
            path: cert.to_owned(),
            reason: e.to_string(),
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate {
            path: cert.to_owned(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: cert.to_owned(),
            reason: "no PEM certificate found".into(),
        });
    }
    // The error type's Display never contains key material.
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::PrivateKey {
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    Ok((chain, key))
}
