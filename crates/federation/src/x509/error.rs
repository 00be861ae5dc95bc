//! Why a certificate was refused. The texts name the check, never key
//! material; the front end maps every variant to one AWS error.

/// A refused certificate, chain or CRL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X509Error {
    /// Not a DER X.509 certificate, or a field could not be decoded.
    #[error("malformed certificate: {0}")]
    Malformed(&'static str),
    /// The bundle or CRL is not the PEM it should be.
    #[error("malformed {0}")]
    MalformedInput(&'static str),
    /// No path from the certificate to a certificate of the trust anchor.
    #[error("no valid path to the trust anchor ({0})")]
    Untrusted(String),
    /// A certificate of the path is outside its validity window.
    #[error("certificate expired or not yet valid")]
    Expired,
    /// A certificate of the path is listed in a CRL of the trust anchor.
    #[error("certificate revoked")]
    Revoked,
    /// The end-entity certificate lacks `keyUsage digitalSignature`, or is a CA.
    #[error("certificate not usable for signing: {0}")]
    KeyUsage(&'static str),
    /// The public key is of a type Roles Anywhere does not accept.
    #[error("unsupported public key")]
    UnsupportedKey,
}
