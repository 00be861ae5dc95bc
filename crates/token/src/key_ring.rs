//! The key ring: one active key seals session tokens and authorization
//! messages, every key still in the ring opens them, and each key derives
//! the secret access keys of the temporary credentials it sealed (DESIGN.md
//! "Session tokens", "Revocation").

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, NONCE_LEN, UnboundKey};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SecureRandom;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::access_key_id::{ACCESS_KEY_ID_RANDOM_LEN, temporary_access_key_id_from};
use crate::error::TokenError;
use crate::public_random::RandomSource;
use crate::sealed_envelope;
use crate::secret_key::{SECRET_KEY_BYTES, SecretKey};
use crate::session_claims::SessionClaims;

/// Length of key-ring (and master) key material in bytes.
pub const KEY_LEN: usize = 32;

/// Longest lifetime of anything a key seals (a 36 h GetFederationToken /
/// GetSessionToken session, sts-api.md 4): a retired key can be destroyed
/// this long after it stopped sealing.
pub const MAX_SEALED_LIFETIME_SECS: u64 = 36 * 3600;

// Domain-separation labels: each use of a ring key gets its own subkey,
// HMAC-SHA256(material, label).
const SESSION_TOKEN_SUBKEY_LABEL: &[u8] = b"mayfly-token/v1/subkey/session-token-aead";
const MESSAGE_SUBKEY_LABEL: &[u8] = b"mayfly-token/v1/subkey/authorization-message-aead";
const SECRET_SUBKEY_LABEL: &[u8] = b"mayfly-token/v1/subkey/secret-access-key";

/// One key of the ring: an id, 32 bytes of material (zeroized on drop), its
/// creation time (unix seconds) and whether it is retired. A retired key
/// opens but never seals; a destroyed key is simply absent from the ring,
/// which revokes everything it sealed.
#[derive(Clone)]
pub struct RingKey {
    id: u32,
    material: Zeroizing<[u8; KEY_LEN]>,
    created_at: u64,
    retired: bool,
}

impl RingKey {
    /// A key from its parts (for example as loaded from the store after
    /// [`crate::MasterKey::open`]).
    pub fn new(
        id: u32,
        material: Zeroizing<[u8; KEY_LEN]>,
        created_at: u64,
        retired: bool,
    ) -> Self {
        Self {
            id,
            material,
            created_at,
            retired,
        }
    }

    /// As [`RingKey::new`], from a slice.
    ///
    /// # Errors
    /// [`TokenError::InvalidKeyLength`] unless `material` is 32 bytes.
    pub fn from_slice(
        id: u32,
        material: &[u8],
        created_at: u64,
        retired: bool,
    ) -> Result<Self, TokenError> {
        let mut array = Zeroizing::new([0u8; KEY_LEN]);
        if material.len() != KEY_LEN {
            return Err(TokenError::InvalidKeyLength {
                len: material.len(),
            });
        }
        array.copy_from_slice(material);
        Ok(Self::new(id, array, created_at, retired))
    }

    /// The key id written into every envelope this key seals.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Creation time, unix seconds.
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Whether the key is retired (opens, never seals).
    pub fn is_retired(&self) -> bool {
        self.retired
    }

    /// The same key, marked retired or not.
    pub fn with_retired(mut self, retired: bool) -> Self {
        self.retired = retired;
        self
    }

    /// The raw material, only so the store can seal it under the master key
    /// (use the key id as the label). Never log or persist it unsealed.
    pub fn material_for_storage(&self) -> &[u8; KEY_LEN] {
        &self.material
    }
}

impl std::fmt::Debug for RingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingKey")
            .field("id", &self.id)
            .field("material", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("retired", &self.retired)
            .finish()
    }
}

/// The subkeys of one ring key, derived once when the ring is built.
struct PreparedKey {
    id: u32,
    session_token: LessSafeKey,
    message: LessSafeKey,
    secret: hmac::Key,
}

impl PreparedKey {
    fn derive(key: &RingKey) -> Result<Self, TokenError> {
        let root = hmac::Key::new(hmac::HMAC_SHA256, key.material.as_ref());
        let aead = |label: &[u8]| -> Result<LessSafeKey, TokenError> {
            let subkey = hmac::sign(&root, label);
            let unbound =
                UnboundKey::new(&AES_256_GCM, subkey.as_ref()).map_err(|_| TokenError::Crypto)?;
            Ok(LessSafeKey::new(unbound))
        };
        let secret_subkey = hmac::sign(&root, SECRET_SUBKEY_LABEL);
        Ok(Self {
            id: key.id,
            session_token: aead(SESSION_TOKEN_SUBKEY_LABEL)?,
            message: aead(MESSAGE_SUBKEY_LABEL)?,
            secret: hmac::Key::new(hmac::HMAC_SHA256, secret_subkey.as_ref()),
        })
    }

    /// `base64(HMAC-SHA256(secret subkey, access key id)[..30])`: 40 characters.
    fn derive_secret(&self, access_key_id: &str) -> SecretKey {
        let tag = hmac::sign(&self.secret, access_key_id.as_bytes());
        let mut bytes = Zeroizing::new([0u8; SECRET_KEY_BYTES]);
        for (slot, byte) in bytes.iter_mut().zip(tag.as_ref()) {
            *slot = *byte;
        }
        SecretKey::from_bytes(&bytes)
    }
}

/// The key ring: exactly one active (non-retired) key seals; every key in
/// the ring opens (DESIGN.md "Session tokens"). Immutable: rotation builds a
/// new ring ([`KeyRing::rotate`]) that the server swaps in.
///
/// AES-256-GCM with random 96-bit nonces: rotate the active key well before
/// it has sealed 2^32 tokens (NIST SP 800-38D); daily rotation is far below.
pub struct KeyRing {
    keys: Vec<RingKey>,
    prepared: Vec<PreparedKey>,
    active_id: u32,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("keys", &self.keys)
            .field("active_id", &self.active_id)
            .finish()
    }
}

/// Fresh temporary credentials (sts-api.md 10 `Credentials`). `Debug` shows
/// only the access key id and expiry.
#[derive(Clone)]
pub struct IssuedCredentials {
    /// `ASIA…`, 20 characters, account-encoded.
    pub access_key_id: String,
    /// 40 characters, derived from the access key id under the sealing key.
    pub secret_access_key: SecretKey,
    /// The sealed session token (standard base64).
    pub session_token: String,
    /// Expiry, unix seconds (the claims' `expires_at`).
    pub expires_at: u64,
}

impl std::fmt::Debug for IssuedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A session token that opened: its claims, the key that sealed it and the
/// derived secret, so the caller can verify the request's SigV4 signature.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    /// Id of the ring key that sealed the token.
    pub key_id: u32,
    /// What the token carries.
    pub claims: SessionClaims,
    /// The secret access key of the presented access key id.
    pub secret: SecretKey,
}

impl KeyRing {
    /// Builds a ring. `active_id` names the key that seals.
    ///
    /// # Errors
    /// [`TokenError::EmptyKeyRing`], [`TokenError::DuplicateKeyId`],
    /// [`TokenError::UnknownKey`] if `active_id` is not in `keys`,
    /// [`TokenError::ActiveKeyRetired`] if it is retired.
    pub fn new(keys: Vec<RingKey>, active_id: u32) -> Result<Self, TokenError> {
        if keys.is_empty() {
            return Err(TokenError::EmptyKeyRing);
        }
        for (index, key) in keys.iter().enumerate() {
            if keys.iter().skip(index + 1).any(|other| other.id == key.id) {
                return Err(TokenError::DuplicateKeyId { key_id: key.id });
            }
        }
        let active = keys
            .iter()
            .find(|key| key.id == active_id)
            .ok_or(TokenError::UnknownKey { key_id: active_id })?;
        if active.retired {
            return Err(TokenError::ActiveKeyRetired { key_id: active_id });
        }
        let prepared = keys
            .iter()
            .map(PreparedKey::derive)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            keys,
            prepared,
            active_id,
        })
    }

    /// A fresh random 32-byte key, not retired.
    ///
    /// # Errors
    /// [`TokenError::Rng`] if the generator fails.
    pub fn generate_key(
        id: u32,
        created_at: u64,
        rng: &dyn SecureRandom,
    ) -> Result<RingKey, TokenError> {
        let mut material = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill(material.as_mut()).map_err(|_| TokenError::Rng)?;
        Ok(RingKey::new(id, material, created_at, false))
    }

    /// A new ring where `new_key` is active and the previously active key is
    /// retired (it keeps opening what it sealed). Destroy the retired key
    /// [`MAX_SEALED_LIFETIME_SECS`] later by building a ring without it.
    ///
    /// # Errors
    /// As [`KeyRing::new`] (for example a duplicate id).
    pub fn rotate(&self, new_key: RingKey) -> Result<KeyRing, TokenError> {
        let new_id = new_key.id;
        let mut keys: Vec<RingKey> = self
            .keys
            .iter()
            .map(|key| {
                let retired = key.retired || key.id == self.active_id;
                key.clone().with_retired(retired)
            })
            .collect();
        keys.push(new_key.with_retired(false));
        KeyRing::new(keys, new_id)
    }

    /// The id of the key that seals.
    pub fn active_key_id(&self) -> u32 {
        self.active_id
    }

    /// Every key of the ring, in the order given.
    pub fn keys(&self) -> &[RingKey] {
        &self.keys
    }

    fn prepared(&self, key_id: u32) -> Result<&PreparedKey, TokenError> {
        self.prepared
            .iter()
            .find(|key| key.id == key_id)
            .ok_or(TokenError::UnknownKey { key_id })
    }

    fn active(&self) -> Result<&PreparedKey, TokenError> {
        self.prepared(self.active_id)
    }

    /// Mints temporary credentials for `claims`: a new account-encoded `ASIA`
    /// id, its secret derived under the active key, and a session token
    /// sealing the claims and that id under the active key.
    ///
    /// # Errors
    /// [`TokenError::InvalidAccountId`], [`TokenError::InvalidClaims`]
    /// (`expires_at <= issued_at`), [`TokenError::Rng`],
    /// [`TokenError::TooLong`] for claims beyond 64 KiB of token.
    pub fn issue(
        &self,
        claims: &SessionClaims,
        rng: &dyn RandomSource,
    ) -> Result<IssuedCredentials, TokenError> {
        claims.check_sealable()?;
        let active = self.active()?;
        // One draw for the key id and the token's nonce, both public values
        // (a `PublicRandom` may serve them from its buffer).
        let mut random = [0u8; ACCESS_KEY_ID_RANDOM_LEN + NONCE_LEN];
        rng.fill_random(&mut random)?;
        let (id_random, nonce) = random.split_at(ACCESS_KEY_ID_RANDOM_LEN);
        let access_key_id = temporary_access_key_id_from(
            &claims.account_id,
            id_random.try_into().map_err(|_| TokenError::Rng)?,
        )?;
        let claims_json = serde_json::to_vec(claims).map_err(|_| TokenError::InvalidClaims {
            reason: "claims do not serialize",
        })?;
        let session_token = sealed_envelope::seal_session_token(
            &active.session_token,
            active.id,
            &access_key_id,
            &claims_json,
            nonce.try_into().map_err(|_| TokenError::Rng)?,
        )?;
        Ok(IssuedCredentials {
            secret_access_key: active.derive_secret(&access_key_id),
            access_key_id,
            session_token,
            expires_at: claims.expires_at,
        })
    }

    /// Opens a session token presented with `access_key_id` (the
    /// `X-Amz-Security-Token` of a SigV4 request): decodes it, finds the key
    /// named in the envelope (retired keys included), authenticates and
    /// decrypts it, checks in constant time that it was issued for
    /// `access_key_id`, checks expiry (expired when `now >= expires_at`), and
    /// returns the claims with the derived secret.
    ///
    /// # Errors
    /// [`TokenError::Malformed`], [`TokenError::UnsupportedVersion`],
    /// [`TokenError::UnknownKey`], [`TokenError::AuthenticationFailed`],
    /// [`TokenError::AccessKeyMismatch`], [`TokenError::Expired`].
    pub fn open(
        &self,
        session_token: &str,
        access_key_id: &str,
        now: u64,
    ) -> Result<OpenedSession, TokenError> {
        let (header, mut bytes) = sealed_envelope::decode_session_token(session_token)?;
        let key = self.prepared(header.key_id)?;
        let plaintext =
            sealed_envelope::open_session_token(&key.session_token, &header, &mut bytes)?;
        let claims: SessionClaims =
            serde_json::from_slice(plaintext).map_err(|_| TokenError::Malformed {
                reason: "sealed claims do not parse",
            })?;
        let same_key: bool = header
            .access_key_id
            .as_bytes()
            .ct_eq(access_key_id.as_bytes())
            .into();
        if !same_key {
            return Err(TokenError::AccessKeyMismatch {
                presented: access_key_id.to_owned(),
            });
        }
        if claims.is_expired_at(now) {
            return Err(TokenError::Expired {
                expires_at: claims.expires_at,
            });
        }
        Ok(OpenedSession {
            key_id: key.id,
            secret: key.derive_secret(access_key_id),
            claims,
        })
    }

    /// The secret access key of a temporary access key id under ring key
    /// `key_id`: `base64(HMAC-SHA256(K, access_key_id)[..30])` where `K` is
    /// the key's secret-derivation subkey (HMAC-SHA256 of its material and a
    /// fixed label). Deterministic; the token need not carry the secret.
    ///
    /// # Errors
    /// [`TokenError::UnknownKey`].
    pub fn derive_secret(&self, key_id: u32, access_key_id: &str) -> Result<SecretKey, TokenError> {
        Ok(self.prepared(key_id)?.derive_secret(access_key_id))
    }

    /// Seals an authorization message (the encoded message of an
    /// `AccessDenied` that DecodeAuthorizationMessage decodes, sts-api.md
    /// 9.8) with its expiry under the active key. The result is base64url
    /// without padding: printable, no line breaks.
    ///
    /// # Errors
    /// [`TokenError::TooLong`] if the result exceeds 10240 characters
    /// (about 7.6 KB of plaintext), [`TokenError::Rng`].
    pub fn seal_message(
        &self,
        plaintext: &str,
        expires_at: u64,
        rng: &dyn SecureRandom,
    ) -> Result<String, TokenError> {
        let active = self.active()?;
        sealed_envelope::seal_message(
            &active.message,
            active.id,
            expires_at,
            plaintext.as_bytes(),
            rng,
        )
    }

    /// Opens a message sealed by [`KeyRing::seal_message`]; expired when
    /// `now >= expires_at`.
    ///
    /// # Errors
    /// [`TokenError::Malformed`] (including line breaks or more than 10240
    /// characters), [`TokenError::UnsupportedVersion`],
    /// [`TokenError::UnknownKey`], [`TokenError::AuthenticationFailed`],
    /// [`TokenError::Expired`].
    pub fn open_message(&self, sealed: &str, now: u64) -> Result<String, TokenError> {
        let (header, mut bytes) = sealed_envelope::decode_message(sealed)?;
        let key = self.prepared(header.key_id)?;
        let plaintext = sealed_envelope::open_message(&key.message, &header, &mut bytes)?;
        if now >= header.expires_at {
            return Err(TokenError::Expired {
                expires_at: header.expires_at,
            });
        }
        String::from_utf8(plaintext.to_vec()).map_err(|_| TokenError::Malformed {
            reason: "sealed message is not UTF-8",
        })
    }

    /// The access key id a session token claims to belong to, read from its
    /// envelope without authenticating it (fuzzing and diagnostics only).
    pub(crate) fn unauthenticated_access_key_id(session_token: &str) -> Option<String> {
        sealed_envelope::decode_session_token(session_token)
            .ok()
            .map(|(header, _)| header.access_key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_key_id::account_from_access_key_id;
    use crate::session_claims::tests::{
        assumed_role_claims, federated_user_claims, root_claims, user_claims,
    };
    use crate::session_claims::{SessionPrincipal, SessionTag};
    use aws_lc_rs::rand::SystemRandom;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    const BASE64_CHARS: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_";

    fn key(id: u32, fill: u8, retired: bool) -> RingKey {
        RingKey::from_slice(id, &[fill; KEY_LEN], 1_700_000_000, retired).unwrap()
    }

    fn ring() -> KeyRing {
        KeyRing::new(vec![key(1, 0x11, true), key(2, 0x22, false)], 2).unwrap()
    }

    fn all_claims() -> Vec<SessionClaims> {
        vec![
            assumed_role_claims(),
            federated_user_claims(),
            user_claims(),
            root_claims(),
        ]
    }

    #[test]
    fn issue_then_open_round_trips_every_principal_kind() {
        let rng = SystemRandom::new();
        let ring = ring();
        for claims in all_claims() {
            let issued = ring.issue(&claims, &rng).unwrap();
            assert_eq!(issued.expires_at, claims.expires_at);
            let opened = ring
                .open(
                    &issued.session_token,
                    &issued.access_key_id,
                    claims.issued_at,
                )
                .unwrap();
            assert_eq!(opened.claims, claims);
            assert_eq!(opened.key_id, 2);
            assert!(opened.secret.ct_eq(&issued.secret_access_key));
        }
    }

    #[test]
    fn issued_credentials_have_the_aws_shape() {
        let rng = SystemRandom::new();
        let issued = ring().issue(&assumed_role_claims(), &rng).unwrap();
        assert_eq!(issued.access_key_id.len(), 20);
        assert!(issued.access_key_id.starts_with("ASIA"));
        assert_eq!(
            account_from_access_key_id(&issued.access_key_id).as_deref(),
            Some("123456789012")
        );
        assert!(issued.secret_access_key.is_well_formed());
        assert!(
            issued
                .session_token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        );
    }

    #[test]
    fn each_issue_mints_new_credentials() {
        let rng = SystemRandom::new();
        let ring = ring();
        let a = ring.issue(&root_claims(), &rng).unwrap();
        let b = ring.issue(&root_claims(), &rng).unwrap();
        assert_ne!(a.access_key_id, b.access_key_id);
        assert_ne!(a.secret_access_key, b.secret_access_key);
        assert_ne!(a.session_token, b.session_token);
    }

    #[test]
    fn a_retired_key_still_opens_what_it_sealed() {
        let rng = SystemRandom::new();
        let first = KeyRing::new(vec![key(1, 0x11, false)], 1).unwrap();
        let issued = first.issue(&user_claims(), &rng).unwrap();
        let message = first.seal_message("{}", 2_000_000_000, &rng).unwrap();

        let rotated = first.rotate(key(2, 0x22, false)).unwrap();
        assert_eq!(rotated.active_key_id(), 2);
        assert!(rotated.keys().iter().any(|k| k.id() == 1 && k.is_retired()));

        let opened = rotated
            .open(&issued.session_token, &issued.access_key_id, 1_700_000_001)
            .unwrap();
        assert_eq!(opened.key_id, 1);
        assert_eq!(opened.claims, user_claims());
        assert!(opened.secret.ct_eq(&issued.secret_access_key));
        assert_eq!(rotated.open_message(&message, 0).unwrap(), "{}");

        let fresh = rotated.issue(&user_claims(), &rng).unwrap();
        assert_eq!(
            rotated
                .open(&fresh.session_token, &fresh.access_key_id, 1_700_000_001)
                .unwrap()
                .key_id,
            2
        );
    }

    #[test]
    fn a_destroyed_key_gives_unknown_key() {
        let rng = SystemRandom::new();
        let issued = ring().issue(&root_claims(), &rng).unwrap();
        let without = KeyRing::new(vec![key(3, 0x33, false)], 3).unwrap();
        assert_eq!(
            without
                .open(&issued.session_token, &issued.access_key_id, 0)
                .unwrap_err(),
            TokenError::UnknownKey { key_id: 2 }
        );
        assert_eq!(
            without.derive_secret(2, &issued.access_key_id).unwrap_err(),
            TokenError::UnknownKey { key_id: 2 }
        );
        let message = ring().seal_message("m", 10, &rng).unwrap();
        assert_eq!(
            without.open_message(&message, 0).unwrap_err(),
            TokenError::UnknownKey { key_id: 2 }
        );
    }

    #[test]
    fn same_key_id_with_other_material_fails_authentication() {
        let rng = SystemRandom::new();
        let issued = ring().issue(&root_claims(), &rng).unwrap();
        let impostor = KeyRing::new(vec![key(2, 0x99, false)], 2).unwrap();
        assert_eq!(
            impostor
                .open(&issued.session_token, &issued.access_key_id, 0)
                .unwrap_err(),
            TokenError::AuthenticationFailed
        );
    }

    #[test]
    fn a_token_presented_with_another_access_key_id_is_a_mismatch() {
        let rng = SystemRandom::new();
        let ring = ring();
        let issued = ring.issue(&root_claims(), &rng).unwrap();
        let other = ring.issue(&root_claims(), &rng).unwrap();
        for presented in [other.access_key_id.as_str(), "", "AKIARZPUZDIKAAAAAAAA"] {
            assert_eq!(
                ring.open(&issued.session_token, presented, 0).unwrap_err(),
                TokenError::AccessKeyMismatch {
                    presented: presented.to_owned()
                }
            );
        }
    }

    #[test]
    fn a_token_is_expired_from_exactly_expires_at() {
        let rng = SystemRandom::new();
        let ring = ring();
        let claims = root_claims();
        let issued = ring.issue(&claims, &rng).unwrap();
        let open = |now| ring.open(&issued.session_token, &issued.access_key_id, now);
        assert!(open(claims.expires_at - 1).is_ok());
        assert!(open(0).is_ok());
        for now in [claims.expires_at, claims.expires_at + 1, u64::MAX] {
            assert_eq!(
                open(now).unwrap_err(),
                TokenError::Expired {
                    expires_at: claims.expires_at
                }
            );
        }
    }

    #[test]
    fn derive_secret_is_deterministic_and_differs_per_key_and_access_key() {
        let ring = ring();
        let a = "ASIARZPUZDIKAAAAAAAA";
        let b = "ASIARZPUZDIKAAAAAAAB";
        let secret = ring.derive_secret(2, a).unwrap();
        assert!(secret.is_well_formed());
        assert_eq!(secret, ring.derive_secret(2, a).unwrap());
        assert_eq!(
            secret,
            KeyRing::new(vec![key(2, 0x22, false)], 2)
                .unwrap()
                .derive_secret(2, a)
                .unwrap()
        );
        assert_ne!(secret, ring.derive_secret(1, a).unwrap());
        assert_ne!(secret, ring.derive_secret(2, b).unwrap());
        // Same material under another id derives the same secret: the id is
        // only a name, the material is what counts.
        let renamed = KeyRing::new(vec![key(7, 0x22, false)], 7).unwrap();
        assert_eq!(secret, renamed.derive_secret(7, a).unwrap());
    }

    #[test]
    fn every_flipped_bit_of_the_decoded_token_is_rejected() {
        let rng = SystemRandom::new();
        let ring = ring();
        let issued = ring.issue(&assumed_role_claims(), &rng).unwrap();
        let bytes = STANDARD.decode(&issued.session_token).unwrap();
        for index in 0..bytes.len() {
            for bit in 0..8 {
                let mut altered = bytes.clone();
                altered[index] ^= 1 << bit;
                let text = STANDARD.encode(&altered);
                assert!(
                    ring.open(&text, &issued.access_key_id, 0).is_err(),
                    "byte {index} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn every_altered_character_of_the_token_text_is_rejected() {
        let rng = SystemRandom::new();
        let ring = ring();
        let issued = ring.issue(&federated_user_claims(), &rng).unwrap();
        let text = issued.session_token.as_bytes();
        for index in 0..text.len() {
            let mut candidates: Vec<u8> = BASE64_CHARS.to_vec();
            candidates.extend((0..8).map(|bit| text[index] ^ (1 << bit)));
            candidates.extend([b' ', b'\n', b'.']);
            for replacement in candidates {
                if replacement == text[index] {
                    continue;
                }
                let mut altered = text.to_vec();
                altered[index] = replacement;
                let altered = String::from_utf8_lossy(&altered);
                assert!(
                    ring.open(&altered, &issued.access_key_id, 0).is_err(),
                    "index {index} replacement {replacement}"
                );
            }
        }
    }

    #[test]
    fn truncated_or_extended_tokens_are_rejected() {
        let rng = SystemRandom::new();
        let ring = ring();
        let issued = ring.issue(&root_claims(), &rng).unwrap();
        let bytes = STANDARD.decode(&issued.session_token).unwrap();
        for len in 0..bytes.len() {
            let text = STANDARD.encode(&bytes[..len]);
            assert!(
                ring.open(&text, &issued.access_key_id, 0).is_err(),
                "len {len}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            ring.open(&STANDARD.encode(&longer), &issued.access_key_id, 0)
                .unwrap_err(),
            TokenError::AuthenticationFailed
        );
        let padded = format!("{} ", issued.session_token);
        assert!(matches!(
            ring.open(&padded, &issued.access_key_id, 0),
            Err(TokenError::Malformed { .. })
        ));
    }

    #[test]
    fn open_reports_each_structural_error() {
        let ring = ring();
        let malformed = |text: &str| {
            matches!(
                ring.open(text, "ASIARZPUZDIKAAAAAAAA", 0),
                Err(TokenError::Malformed { .. })
            )
        };
        assert!(malformed(""));
        assert!(malformed("not base64!"));
        assert!(malformed(&"A".repeat(MAX_SESSION_TOKEN_LEN_FOR_TESTS + 4)));
        // Header with a zero-length access key id.
        assert!(malformed(&STANDARD.encode([1, 0, 0, 0, 2, 0])));
        // Access key id with a character outside [\w].
        let mut bytes = vec![1, 0, 0, 0, 2, 2, b'A', b'-'];
        bytes.extend([0u8; 12 + 16]);
        assert!(malformed(&STANDARD.encode(&bytes)));
        // Header, but no room for a tag.
        let mut bytes = vec![1, 0, 0, 0, 2, 1, b'A'];
        bytes.extend([0u8; 12 + 15]);
        assert!(malformed(&STANDARD.encode(&bytes)));
        bytes.push(0);
        assert_eq!(
            ring.open(&STANDARD.encode(&bytes), "A", 0).unwrap_err(),
            TokenError::AuthenticationFailed
        );
        assert_eq!(
            ring.open(&STANDARD.encode([9, 0, 0, 0, 2]), "A", 0)
                .unwrap_err(),
            TokenError::UnsupportedVersion { version: 9 }
        );
    }

    const MAX_SESSION_TOKEN_LEN_FOR_TESTS: usize = crate::MAX_SESSION_TOKEN_LEN;

    #[test]
    fn a_token_with_a_2kb_session_policy_stays_well_under_8kb() {
        let rng = SystemRandom::new();
        let mut claims = assumed_role_claims();
        let statement = r#"{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::bucket/prefix/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"x"}}},"#;
        let mut policy = String::from(r#"{"Version":"2012-10-17","Statement":["#);
        while policy.len() + statement.len() < 2048 {
            policy.push_str(statement);
        }
        policy.pop();
        policy.push_str("]}");
        claims.session_policy = Some(policy);
        claims.policy_arns = (0..10)
            .map(|i| format!("arn:aws:iam::123456789012:policy/team/policy-{i}"))
            .collect();
        claims.tags = (0..10)
            .map(|i| SessionTag {
                key: format!("tag-key-{i}"),
                value: format!("tag-value-{i}"),
                transitive: i % 2 == 0,
            })
            .collect();
        let issued = ring().issue(&claims, &rng).unwrap();
        assert!(
            issued.session_token.len() < 6 * 1024,
            "token is {} chars",
            issued.session_token.len()
        );
    }

    #[test]
    fn new_rejects_bad_rings() {
        assert_eq!(
            KeyRing::new(vec![], 1).unwrap_err(),
            TokenError::EmptyKeyRing
        );
        assert_eq!(
            KeyRing::new(vec![key(1, 1, false), key(1, 2, true)], 1).unwrap_err(),
            TokenError::DuplicateKeyId { key_id: 1 }
        );
        assert_eq!(
            KeyRing::new(vec![key(1, 1, false)], 2).unwrap_err(),
            TokenError::UnknownKey { key_id: 2 }
        );
        assert_eq!(
            KeyRing::new(vec![key(1, 1, true), key(2, 2, false)], 1).unwrap_err(),
            TokenError::ActiveKeyRetired { key_id: 1 }
        );
        assert_eq!(
            ring().rotate(key(1, 3, false)).unwrap_err(),
            TokenError::DuplicateKeyId { key_id: 1 }
        );
        assert_eq!(
            RingKey::from_slice(1, &[0; 31], 0, false).unwrap_err(),
            TokenError::InvalidKeyLength { len: 31 }
        );
    }

    #[test]
    fn generated_keys_are_random_and_active() {
        let rng = SystemRandom::new();
        let a = KeyRing::generate_key(1, 5, &rng).unwrap();
        let b = KeyRing::generate_key(2, 6, &rng).unwrap();
        assert_ne!(a.material_for_storage(), b.material_for_storage());
        assert_eq!((a.id(), a.created_at(), a.is_retired()), (1, 5, false));
        let ring = KeyRing::new(vec![a, b], 2).unwrap();
        assert_eq!(ring.active_key_id(), 2);
        assert_eq!(ring.keys().len(), 2);
    }

    #[test]
    fn issue_rejects_unsealable_claims() {
        let rng = SystemRandom::new();
        let ring = ring();
        let mut claims = root_claims();
        claims.account_id = "root".into();
        assert!(matches!(
            ring.issue(&claims, &rng),
            Err(TokenError::InvalidAccountId { .. })
        ));
        let mut claims = root_claims();
        claims.expires_at = claims.issued_at - 1;
        assert!(matches!(
            ring.issue(&claims, &rng),
            Err(TokenError::InvalidClaims { .. })
        ));
        let mut claims = root_claims();
        claims.session_policy = Some("x".repeat(MAX_SESSION_TOKEN_LEN_FOR_TESTS));
        assert!(matches!(
            ring.issue(&claims, &rng),
            Err(TokenError::TooLong { .. })
        ));
    }

    #[test]
    fn message_round_trips_until_it_expires() {
        let rng = SystemRandom::new();
        let ring = ring();
        let json =
            r#"{"allowed":false,"explicitDeny":false,"context":{"principal":{"id":"AROA:x"}}}"#;
        let sealed = ring.seal_message(json, 1_000, &rng).unwrap();
        assert!(
            sealed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(ring.open_message(&sealed, 999).unwrap(), json);
        assert_eq!(
            ring.open_message(&sealed, 1_000).unwrap_err(),
            TokenError::Expired { expires_at: 1_000 }
        );
    }

    #[test]
    fn every_flipped_bit_and_character_of_a_message_is_rejected() {
        let rng = SystemRandom::new();
        let ring = ring();
        let sealed = ring
            .seal_message("{\"allowed\":false}", 1_000, &rng)
            .unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for index in 0..bytes.len() {
            for bit in 0..8 {
                let mut altered = bytes.clone();
                altered[index] ^= 1 << bit;
                let text = URL_SAFE_NO_PAD.encode(&altered);
                assert!(
                    ring.open_message(&text, 0).is_err(),
                    "byte {index} bit {bit}"
                );
            }
        }
        let text = sealed.as_bytes();
        for index in 0..text.len() {
            for &replacement in BASE64_CHARS {
                if replacement == text[index] {
                    continue;
                }
                let mut altered = text.to_vec();
                altered[index] = replacement;
                let altered = String::from_utf8_lossy(&altered);
                assert!(ring.open_message(&altered, 0).is_err(), "index {index}");
            }
        }
    }

    #[test]
    fn messages_with_line_breaks_or_beyond_the_limit_are_rejected() {
        let rng = SystemRandom::new();
        let ring = ring();
        let sealed = ring.seal_message("{}", 1_000, &rng).unwrap();
        let (head, tail) = sealed.split_at(10);
        let broken = format!("{head}\n{tail}");
        assert!(matches!(
            ring.open_message(&broken, 0),
            Err(TokenError::Malformed { .. })
        ));
        assert!(matches!(
            ring.open_message(&"A".repeat(10_241), 0),
            Err(TokenError::Malformed { .. })
        ));
        assert!(matches!(
            ring.open_message("", 0),
            Err(TokenError::Malformed { .. })
        ));
        assert!(matches!(
            ring.seal_message(&"x".repeat(8_000), 1_000, &rng),
            Err(TokenError::TooLong { max: 10_240, .. })
        ));
        let big = ring.seal_message(&"x".repeat(7_000), 1_000, &rng).unwrap();
        assert!(big.len() <= 10_240);
    }

    #[test]
    fn tokens_and_messages_cannot_stand_in_for_each_other() {
        let rng = SystemRandom::new();
        let ring = ring();
        let issued = ring.issue(&root_claims(), &rng).unwrap();
        let token_bytes = STANDARD.decode(&issued.session_token).unwrap();
        assert!(
            ring.open_message(&URL_SAFE_NO_PAD.encode(&token_bytes), 0)
                .is_err()
        );
        let sealed = ring.seal_message("{}", 1_000, &rng).unwrap();
        let message_bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        assert!(
            ring.open(&STANDARD.encode(&message_bytes), "ASIA", 0)
                .is_err()
        );
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let rng = SystemRandom::new();
        let ring = ring();
        let issued = ring.issue(&assumed_role_claims(), &rng).unwrap();
        let opened = ring
            .open(&issued.session_token, &issued.access_key_id, 0)
            .unwrap();
        let secret = issued.secret_access_key.as_str().to_owned();
        let token_head = issued.session_token[..16].to_owned();
        let shown = format!(
            "{issued:?} {issued:#?} {opened:?} {ring:?} {:?}",
            ring.keys()[0]
        );
        assert!(!shown.contains(&secret), "{shown}");
        assert!(!shown.contains(&token_head), "{shown}");
        assert!(!shown.contains("34, 34"), "{shown}");
        assert!(
            !shown.contains("0x22") && !shown.contains("17, 17"),
            "{shown}"
        );
        assert!(shown.contains(&issued.access_key_id));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn claims_of_every_kind_survive_rotation_unchanged() {
        let rng = SystemRandom::new();
        let ring = ring();
        let tokens: Vec<_> = all_claims()
            .into_iter()
            .map(|c| (ring.issue(&c, &rng).unwrap(), c))
            .collect();
        let rotated = ring.rotate(key(3, 0x33, false)).unwrap();
        for (issued, claims) in tokens {
            let opened = rotated
                .open(&issued.session_token, &issued.access_key_id, 0)
                .unwrap();
            assert_eq!(opened.claims, claims);
            assert!(matches!(
                opened.claims.principal,
                SessionPrincipal::AssumedRole { .. }
                    | SessionPrincipal::FederatedUser { .. }
                    | SessionPrincipal::User { .. }
                    | SessionPrincipal::Root
            ));
        }
    }
}
