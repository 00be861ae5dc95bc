//! The one failure family of this crate: minting, sealing and opening credentials.

/// Why minting, sealing or opening a credential failed.
///
/// Messages are lowercase and one line; they never contain secret material
/// (secret keys, key-ring material, session tokens). At the protocol boundary
/// the server maps these to AWS codes: `Malformed`, `UnsupportedVersion`,
/// `UnknownKey`, `AuthenticationFailed` and `AccessKeyMismatch` on a session
/// token become `InvalidClientTokenId` (403), `Expired` becomes
/// `ExpiredToken` (400); on an authorization message every opening error
/// becomes `InvalidAuthorizationMessageException` (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The text or bytes do not have the shape of what was expected (bad
    /// encoding, truncated envelope, trailing bytes).
    #[error("malformed input: {reason}")]
    Malformed {
        /// What was wrong, without echoing the input.
        reason: &'static str,
    },
    /// The envelope names a format version this build does not know.
    #[error("unsupported format version `{version}`")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// The envelope was sealed under a key-ring key this ring does not hold
    /// (destroyed, or never existed).
    #[error("unknown key-ring key `{key_id}`")]
    UnknownKey {
        /// The key id found in the envelope.
        key_id: u32,
    },
    /// The AEAD tag did not verify: the blob was altered, or was sealed by
    /// another key with the same id, or under another label.
    #[error("authentication failed: the sealed data was altered or sealed under another key")]
    AuthenticationFailed,
    /// The session token was issued for another access key id than the one
    /// presented with it.
    #[error("the session token does not belong to access key id `{presented}`")]
    AccessKeyMismatch {
        /// The access key id the caller presented.
        presented: String,
    },
    /// The credential or message expired; it is expired when `now >= expires_at`.
    #[error("expired at `{expires_at}` (unix seconds)")]
    Expired {
        /// Expiry in unix seconds.
        expires_at: u64,
    },
    /// The random number generator failed.
    #[error("the random number generator failed")]
    Rng,
    /// A cryptographic primitive refused its input (never expected with valid key sizes).
    #[error("a cryptographic operation failed")]
    Crypto,
    /// An account id is not exactly 12 decimal digits.
    #[error("invalid account id `{account_id}`: expected 12 decimal digits")]
    InvalidAccountId {
        /// The value given.
        account_id: String,
    },
    /// A unique-id prefix is not 4 upper-case ASCII letters.
    #[error("invalid unique id prefix `{prefix}`: expected 4 upper-case letters")]
    InvalidPrefix {
        /// The value given.
        prefix: String,
    },
    /// Key material has the wrong length (a key-ring or master key is 32 bytes).
    #[error("invalid key material: expected 32 bytes, got {len}")]
    InvalidKeyLength {
        /// The length given, in bytes.
        len: usize,
    },
    /// A master key text is neither 64 hex characters nor base64 of 32 bytes.
    #[error("invalid master key encoding: expected 64 hex characters or base64 of 32 bytes")]
    InvalidMasterKeyEncoding,
    /// A key ring was built without keys.
    #[error("the key ring has no keys")]
    EmptyKeyRing,
    /// Two keys of a ring share an id.
    #[error("duplicate key-ring key id `{key_id}`")]
    DuplicateKeyId {
        /// The id used twice.
        key_id: u32,
    },
    /// The key chosen to seal is marked retired; retired keys only open.
    #[error("key-ring key `{key_id}` is retired and cannot be the active key")]
    ActiveKeyRetired {
        /// The retired key's id.
        key_id: u32,
    },
    /// Claims that cannot be sealed (for example `expires_at <= issued_at`).
    #[error("invalid session claims: {reason}")]
    InvalidClaims {
        /// What is wrong.
        reason: &'static str,
    },
    /// The sealed output would exceed the length a client accepts.
    #[error("sealed output of {len} characters exceeds the maximum of {max}")]
    TooLong {
        /// The encoded length, in characters.
        len: usize,
        /// The maximum, in characters.
        max: usize,
    },
}
