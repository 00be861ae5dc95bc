//! The master key: encrypts key-ring material and long-term secret access
//! keys at rest (DESIGN.md "Session tokens": stored encrypted under a master
//! key from `MAYFLY_MASTER_KEY` or a 0600 file in the data directory).
//!
//! Sealed blob: `version (0x01) | nonce (12) | AES-256-GCM ciphertext | tag (16)`,
//! AAD = `"mayfly-token/v1/master-key\0" || label`. The label names what the
//! blob belongs to (an access key id, `key-ring/7`…) so blobs cannot be swapped.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::SecureRandom;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::error::TokenError;
use crate::key_ring::KEY_LEN;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const AAD_LABEL: &[u8] = b"mayfly-token/v1/master-key\0";

/// The master key (32 bytes, zeroized on drop, redacting `Debug`).
pub struct MasterKey {
    material: Zeroizing<[u8; KEY_LEN]>,
    key: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A fresh random master key.
    ///
    /// # Errors
    /// [`TokenError::Rng`].
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self, TokenError> {
        let mut material = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill(material.as_mut()).map_err(|_| TokenError::Rng)?;
        Self::from_material(material)
    }

    /// A master key from raw bytes.
    ///
    /// # Errors
    /// [`TokenError::InvalidKeyLength`] unless `bytes` is 32 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenError> {
        if bytes.len() != KEY_LEN {
            return Err(TokenError::InvalidKeyLength { len: bytes.len() });
        }
        let mut material = Zeroizing::new([0u8; KEY_LEN]);
        material.copy_from_slice(bytes);
        Self::from_material(material)
    }

    fn from_material(material: Zeroizing<[u8; KEY_LEN]>) -> Result<Self, TokenError> {
        let unbound =
            UnboundKey::new(&AES_256_GCM, material.as_ref()).map_err(|_| TokenError::Crypto)?;
        Ok(Self {
            material,
            key: LessSafeKey::new(unbound),
        })
    }

    /// Parses what `MAYFLY_MASTER_KEY` or `DATA_DIR/master.key` contain:
    /// 64 hex characters (either case) or base64 (standard or URL-safe,
    /// padded or not) of exactly 32 bytes. Surrounding whitespace (a trailing
    /// newline) is ignored.
    ///
    /// # Errors
    /// [`TokenError::InvalidMasterKeyEncoding`] for anything else.
    pub fn from_encoded(text: &str) -> Result<Self, TokenError> {
        let text = text.trim();
        let bytes = if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            data_encoding::HEXLOWER_PERMISSIVE
                .decode(text.as_bytes())
                .map(Zeroizing::new)
                .map_err(|_| TokenError::InvalidMasterKeyEncoding)?
        } else {
            [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
                .map(Zeroizing::new)
                .ok_or(TokenError::InvalidMasterKeyEncoding)?
        };
        if bytes.len() != KEY_LEN {
            return Err(TokenError::InvalidMasterKeyEncoding);
        }
        Self::from_bytes(&bytes)
    }

    /// Standard base64 (44 characters), for writing the 0600 key file.
    pub fn to_encoded(&self) -> String {
        STANDARD.encode(self.material.as_ref())
    }

    /// Encrypts `plaintext` with a random nonce, bound to `label`.
    ///
    /// # Errors
    /// [`TokenError::Rng`].
    pub fn seal(
        &self,
        plaintext: &[u8],
        label: &str,
        rng: &dyn SecureRandom,
    ) -> Result<Vec<u8>, TokenError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce).map_err(|_| TokenError::Rng)?;
        let mut in_out = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
        in_out.extend_from_slice(plaintext);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(label)),
                &mut *in_out,
            )
            .map_err(|_| TokenError::Crypto)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Decrypts a blob from [`MasterKey::seal`] sealed under the same `label`.
    ///
    /// # Errors
    /// [`TokenError::Malformed`] (too short), [`TokenError::UnsupportedVersion`],
    /// [`TokenError::AuthenticationFailed`] (altered, other key or other label).
    pub fn open(&self, sealed: &[u8], label: &str) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let truncated = TokenError::Malformed {
            reason: "sealed blob is too short",
        };
        let (&version, rest) = sealed.split_first().ok_or(truncated.clone())?;
        if version != VERSION {
            return Err(TokenError::UnsupportedVersion { version });
        }
        let (nonce, ciphertext) = rest.split_at_checked(NONCE_LEN).ok_or(truncated.clone())?;
        if ciphertext.len() < TAG_LEN {
            return Err(truncated);
        }
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| TokenError::Crypto)?;
        let mut in_out = Zeroizing::new(ciphertext.to_vec());
        let plaintext_len = self
            .key
            .open_in_place(nonce, Aad::from(aad(label)), &mut in_out)
            .map_err(|_| TokenError::AuthenticationFailed)?
            .len();
        in_out.truncate(plaintext_len);
        Ok(in_out)
    }
}

fn aad(label: &str) -> Vec<u8> {
    [AAD_LABEL, label.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn key() -> MasterKey {
        MasterKey::from_encoded(HEX).unwrap()
    }

    #[test]
    fn seal_then_open_returns_the_plaintext() {
        let rng = SystemRandom::new();
        let key = key();
        for plaintext in [&b""[..], b"x", b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"] {
            let sealed = key.seal(plaintext, "AKIARZPUZDIKAAAAAAAA", &rng).unwrap();
            assert_eq!(
                key.open(&sealed, "AKIARZPUZDIKAAAAAAAA")
                    .unwrap()
                    .as_slice(),
                plaintext
            );
        }
    }

    #[test]
    fn sealing_twice_gives_different_blobs() {
        let rng = SystemRandom::new();
        let key = key();
        assert_ne!(
            key.seal(b"secret", "l", &rng).unwrap(),
            key.seal(b"secret", "l", &rng).unwrap()
        );
    }

    #[test]
    fn open_with_a_wrong_label_fails() {
        let rng = SystemRandom::new();
        let key = key();
        let sealed = key.seal(b"secret", "AKIARZPUZDIKAAAAAAAA", &rng).unwrap();
        assert_eq!(
            key.open(&sealed, "AKIARZPUZDIKAAAAAAAB"),
            Err(TokenError::AuthenticationFailed)
        );
        assert_eq!(key.open(&sealed, ""), Err(TokenError::AuthenticationFailed));
    }

    #[test]
    fn open_with_another_master_key_fails() {
        let rng = SystemRandom::new();
        let sealed = key().seal(b"secret", "l", &rng).unwrap();
        let other = MasterKey::generate(&rng).unwrap();
        assert_eq!(
            other.open(&sealed, "l"),
            Err(TokenError::AuthenticationFailed)
        );
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let rng = SystemRandom::new();
        let key = key();
        let sealed = key
            .seal(b"ring key material, 32 bytes long", "key-ring/1", &rng)
            .unwrap();
        for index in 0..sealed.len() {
            for bit in 0..8 {
                let mut altered = sealed.clone();
                altered[index] ^= 1 << bit;
                assert!(
                    key.open(&altered, "key-ring/1").is_err(),
                    "byte {index} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn truncated_and_unknown_version_blobs_are_rejected() {
        let rng = SystemRandom::new();
        let key = key();
        let sealed = key.seal(b"abc", "l", &rng).unwrap();
        for len in 0..sealed.len() {
            assert!(key.open(&sealed[..len], "l").is_err(), "length {len}");
        }
        assert!(matches!(
            key.open(&[], "l"),
            Err(TokenError::Malformed { .. })
        ));
        assert!(matches!(
            key.open(&[1; 20], "l"),
            Err(TokenError::Malformed { .. })
        ));
        let mut other_version = sealed.clone();
        other_version[0] = 2;
        assert_eq!(
            key.open(&other_version, "l"),
            Err(TokenError::UnsupportedVersion { version: 2 })
        );
    }

    #[test]
    fn from_encoded_accepts_hex_and_base64_of_32_bytes() {
        let reference = key();
        let bytes: Vec<u8> = (0u8..32).collect();
        for text in [
            HEX.to_owned(),
            HEX.to_uppercase(),
            format!("{HEX}\n"),
            STANDARD.encode(&bytes),
            STANDARD_NO_PAD.encode(&bytes),
            URL_SAFE.encode(&bytes),
            format!("  {}\n", STANDARD.encode(&bytes)),
        ] {
            let parsed = MasterKey::from_encoded(&text).unwrap();
            assert_eq!(parsed.to_encoded(), reference.to_encoded(), "{text}");
        }
    }

    #[test]
    fn to_encoded_round_trips() {
        let rng = SystemRandom::new();
        let key = MasterKey::generate(&rng).unwrap();
        let text = key.to_encoded();
        assert_eq!(text.len(), 44);
        let again = MasterKey::from_encoded(&text).unwrap();
        let sealed = key.seal(b"x", "l", &rng).unwrap();
        assert_eq!(again.open(&sealed, "l").unwrap().as_slice(), b"x");
    }

    #[test]
    fn from_encoded_rejects_wrong_lengths_and_garbage() {
        for text in [
            String::new(),
            HEX[..62].to_owned(),
            format!("{HEX}00"),
            format!("{}g", &HEX[..63]),
            STANDARD.encode([0u8; 31]),
            STANDARD.encode([0u8; 33]),
            STANDARD.encode([0xffu8; 48]), // 64 chars, but not hex
            "not a key at all".to_owned(),
        ] {
            assert_eq!(
                MasterKey::from_encoded(&text).err(),
                Some(TokenError::InvalidMasterKeyEncoding),
                "{text}"
            );
        }
        assert_eq!(
            MasterKey::from_bytes(&[0; 31]).err(),
            Some(TokenError::InvalidKeyLength { len: 31 })
        );
    }

    #[test]
    fn debug_never_prints_key_material() {
        let key = key();
        let shown = format!("{key:?} {key:#?}");
        assert!(!shown.contains("AAECAw"), "{shown}");
        assert!(!shown.contains("000102"), "{shown}");
        assert!(!shown.contains('['), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
