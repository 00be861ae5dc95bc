//! Access key ids, secret-key derivation, sealed session tokens and the key
//! ring of Mayfly (DESIGN.md "Session tokens", "Revocation").
//!
//! Pure: no I/O, no clock (times are unix seconds passed in), randomness
//! through [`aws_lc_rs::rand::SecureRandom`], crypto from aws-lc-rs only
//! (AES-256-GCM, HMAC-SHA256, and HMAC-SHA1 for TOTP only).
//!
//! - [`long_term_access_key_id`], [`temporary_access_key_id`],
//!   [`account_from_access_key_id`], [`unique_id`]: identifiers of
//!   sts-api.md 1.2, with the account encoded in access key ids as AWS does.
//! - [`KeyRing`]: mints temporary credentials ([`KeyRing::issue`]), opens
//!   session tokens ([`KeyRing::open`]) and authorization messages.
//! - [`MasterKey`]: encrypts key-ring material and long-term secrets at rest.
//! - [`totp`]: RFC 6238 one-time codes of virtual MFA devices (HMAC-SHA1).
//!
//! Expiry rule everywhere: a credential or message is expired when
//! `now >= expires_at`.

mod access_key_id;
mod error;
mod key_ring;
mod master_key;
mod public_random;
mod sealed_envelope;
mod secret_key;
mod session_claims;
pub mod totp;

pub use access_key_id::{
    ACCESS_KEY_ID_LEN, LONG_TERM_PREFIX, TEMPORARY_PREFIX, UNIQUE_ID_LEN,
    account_from_access_key_id, long_term_access_key_id, temporary_access_key_id, unique_id,
};
pub use error::TokenError;
pub use key_ring::{
    IssuedCredentials, KEY_LEN, KeyRing, MAX_SEALED_LIFETIME_SECS, OpenedSession, RingKey,
};
pub use master_key::MasterKey;
pub use public_random::{PublicRandom, RandomSource};
pub use sealed_envelope::{MAX_AUTHORIZATION_MESSAGE_LEN, MAX_SESSION_TOKEN_LEN};
pub use secret_key::{SECRET_KEY_LEN, SecretKey};
pub use session_claims::{SessionClaims, SessionPrincipal, SessionTag};

/// Access key id the fuzz entry point also presents, beside the one a token claims.
const FUZZ_ACCESS_KEY_ID: &str = "ASIARZPUZDIKAAAAAAAA";

/// A ring with fixed, public key material (key 1 retired, key 2 active), for
/// the `token_open` fuzz target and its seed corpus. Never seal anything
/// real with it.
#[doc(hidden)]
pub fn fuzz_fixture_key_ring() -> Option<&'static KeyRing> {
    static RING: std::sync::OnceLock<Option<KeyRing>> = std::sync::OnceLock::new();
    RING.get_or_init(|| {
        let keys = vec![
            RingKey::from_slice(1, &[0x11; KEY_LEN], 1_700_000_000, true).ok()?,
            RingKey::from_slice(2, &[0x22; KEY_LEN], 1_700_086_400, false).ok()?,
        ];
        KeyRing::new(keys, 2).ok()
    })
    .as_ref()
}

/// Fuzz entry point (`fuzz/fuzz_targets/token_open.rs`): treats `data` as a
/// session token (text, and base64 of the raw bytes), as an authorization
/// message, as a master-key encoding and as a master-key blob, against
/// fixed keys. Never panics; results are discarded.
pub fn fuzz_one(data: &[u8]) {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    let Some(ring) = fuzz_fixture_key_ring() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let as_token = STANDARD.encode(data);
    let as_message = URL_SAFE_NO_PAD.encode(data);
    for token in [text.as_ref(), as_token.as_str()] {
        let claimed = KeyRing::unauthenticated_access_key_id(token);
        for access_key_id in [claimed.as_deref().unwrap_or(""), FUZZ_ACCESS_KEY_ID] {
            for now in [0, u64::MAX] {
                let _ = ring.open(token, access_key_id, now);
            }
        }
    }
    for message in [text.as_ref(), as_message.as_str()] {
        let _ = ring.open_message(message, 0);
    }
    let _ = MasterKey::from_encoded(&text);
    if let Ok(master) = MasterKey::from_bytes(&[0x33; KEY_LEN]) {
        let _ = master.open(data, "fuzz");
    }
}
