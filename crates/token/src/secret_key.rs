//! Secret access keys: 40 characters of `[A-Za-z0-9+/]`, as AWS issues them.

use aws_lc_rs::rand::SecureRandom;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::error::TokenError;

/// Length of a secret access key in characters (sts-api.md 1.2 \[obs\]).
pub const SECRET_KEY_LEN: usize = 40;

/// Number of random (or derived) bytes behind a secret key: 30 bytes encode
/// to exactly 40 standard-base64 characters without padding.
pub(crate) const SECRET_KEY_BYTES: usize = 30;

/// A secret access key (AWS: 40 characters of `[A-Za-z0-9+/]`, sts-api.md 1.2).
///
/// `Debug` prints `SecretKey(<redacted>)`; the text is zeroized on drop.
/// Compare with [`SecretKey::ct_eq`] (constant time); `PartialEq` uses it too.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps an existing secret as given (for example from
    /// `MAYFLY_ROOT_SECRET_ACCESS_KEY` or decrypted from the store). Not
    /// validated: check [`SecretKey::is_well_formed`] where the AWS shape matters.
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret text, for SigV4 signing-key derivation and for the one
    /// response that hands it to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A fresh random secret: 30 random bytes as 40 standard-base64 characters,
    /// the shape of an AWS secret access key.
    ///
    /// # Errors
    /// [`TokenError::Rng`] if the generator fails.
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self, TokenError> {
        let mut bytes = Zeroizing::new([0u8; SECRET_KEY_BYTES]);
        rng.fill(bytes.as_mut()).map_err(|_| TokenError::Rng)?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Encodes 30 bytes as the 40-character secret.
    pub(crate) fn from_bytes(bytes: &[u8; SECRET_KEY_BYTES]) -> Self {
        Self(STANDARD.encode(bytes))
    }

    /// Whether the text has the AWS shape: exactly 40 characters of `[A-Za-z0-9+/]`.
    pub fn is_well_formed(&self) -> bool {
        self.0.len() == SECRET_KEY_LEN
            && self
                .0
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    }

    /// Constant-time equality (the length is not hidden).
    pub fn ct_eq(&self, other: &SecretKey) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other)
    }
}

impl Eq for SecretKey {}

impl ConstantTimeEq for SecretKey {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_bytes().ct_eq(other.0.as_bytes())
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;

    #[test]
    fn generated_secret_has_the_aws_shape() {
        let rng = SystemRandom::new();
        for _ in 0..50 {
            let secret = SecretKey::generate(&rng).unwrap();
            assert_eq!(secret.as_str().len(), 40);
            assert!(secret.is_well_formed());
        }
    }

    #[test]
    fn generated_secrets_differ() {
        let rng = SystemRandom::new();
        let a = SecretKey::generate(&rng).unwrap();
        let b = SecretKey::generate(&rng).unwrap();
        assert!(!a.ct_eq(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn ct_eq_compares_content() {
        let a = SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into());
        let b = SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into());
        let c = SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ".into());
        let short = SecretKey::new("wJalrXUtnFEMI".into());
        assert!(a.ct_eq(&b));
        assert!(!a.ct_eq(&c));
        assert!(!a.ct_eq(&short));
        assert!(bool::from(ConstantTimeEq::ct_eq(&a, &b)));
    }

    #[test]
    fn is_well_formed_rejects_wrong_length_and_alphabet() {
        assert!(SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()).is_well_formed());
        assert!(!SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE".into()).is_well_formed());
        assert!(
            !SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE=".into()).is_well_formed()
        );
        assert!(
            !SecretKey::new("wJalrXUtnFEMI-K7MDENG/bPxRfiCYEXAMPLEKEY".into()).is_well_formed()
        );
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let secret = SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into());
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
