//! The signing key `kSigning` (§7), its derivation and a per-scope cache.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::scope::{CredentialScope, SCOPE_TERMINATOR};

/// The derived SigV4 signing key `kSigning` (32 bytes), bound to one secret and one credential scope
/// (§7). Also the key of the aws-chunked chunk and trailer signatures (§10.3, §10.4).
///
/// Zeroized on drop; `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SigningKey {
    bytes: [u8; 32],
    /// The HMAC key schedule of `bytes`, computed once so a cached key does not redo it per
    /// signature (aws-lc cleanses it on drop).
    hmac: hmac::Key,
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for SigningKey {}

impl SigningKey {
    /// Wraps raw key bytes (for tests and for keys kept elsewhere).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let hmac = hmac::Key::new(hmac::HMAC_SHA256, &bytes);
        Self { bytes, hmac }
    }

    /// `HMAC-SHA256(kSigning, message)`: the signature of a string to sign (§7) or of a chunk or
    /// trailer string to sign (§10).
    pub fn sign(&self, message: &[u8]) -> [u8; 32] {
        tag_bytes(&hmac::sign(&self.hmac, message))
    }

    /// `lowercase_hex(HMAC-SHA256(kSigning, message))`.
    pub fn sign_hex(&self, message: &[u8]) -> String {
        crate::canonical::lower_hex(&self.sign(message))
    }

    /// Constant-time check that `provided` is the signature of `message` (§7).
    pub fn verify(&self, message: &[u8], provided: &[u8; 32]) -> bool {
        self.sign(message).ct_eq(provided).into()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// Derives `kSigning` (§7):
///
/// ```text
/// kDate    = HMAC-SHA256("AWS4" || SecretAccessKey, date8)
/// kRegion  = HMAC-SHA256(kDate, region)
/// kService = HMAC-SHA256(kRegion, service)
/// kSigning = HMAC-SHA256(kService, "aws4_request")
/// ```
pub fn derive_signing_key(secret_access_key: &str, scope: &CredentialScope) -> SigningKey {
    let mut seed = Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret_access_key.as_bytes());
    let k_date = Zeroizing::new(hmac_sha256(&seed, scope.date().as_bytes()));
    let k_region = Zeroizing::new(hmac_sha256(&*k_date, scope.region().as_bytes()));
    let k_service = Zeroizing::new(hmac_sha256(&*k_region, scope.service().as_bytes()));
    SigningKey::from_bytes(hmac_sha256(&*k_service, SCOPE_TERMINATOR.as_bytes()))
}

/// `Signature = lowercase_hex(HMAC-SHA256(kSigning, StringToSign))` (§7).
pub fn signature(key: &SigningKey, string_to_sign: &str) -> String {
    key.sign_hex(string_to_sign.as_bytes())
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    tag_bytes(&hmac::sign(&key, message))
}

fn tag_bytes(tag: &hmac::Tag) -> [u8; 32] {
    let mut out = [0u8; 32];
    // INVARIANT: an HMAC-SHA256 tag is 32 bytes, so the copy covers `out` exactly.
    for (o, t) in out.iter_mut().zip(tag.as_ref()) {
        *o = *t;
    }
    out
}

/// Thread-safe bounded cache of signing keys per (access key id, date, region, service) (§7
/// "Caching").
///
/// Each entry also holds a copy of the secret it was derived from (zeroized on drop), compared in
/// constant time on every hit, so a rotated secret for the same access key id derives a fresh key
/// instead of reusing a stale one. When the cache is full it is emptied wholesale before the next
/// insert (simple, and at most two dates are live for header auth, §7). A capacity of 0 disables
/// caching.
pub struct SigningKeyCache {
    capacity: usize,
    entries: RwLock<CacheMap>,
}

/// Entries grouped by access key id, so a lookup borrows the id instead of allocating a key; each
/// id has a handful of scopes at most (one per date, region and service in use).
#[derive(Default)]
struct CacheMap {
    by_key_id: HashMap<String, Vec<CacheEntry>>,
    len: usize,
}

struct CacheEntry {
    scope: CredentialScope,
    /// The secret `key` was derived from; a 40-byte constant-time compare is cheaper than hashing
    /// the secret on every lookup.
    secret: Zeroizing<Vec<u8>>,
    key: SigningKey,
}

impl CacheMap {
    fn find(&self, access_key_id: &str, scope: &CredentialScope) -> Option<&CacheEntry> {
        self.by_key_id
            .get(access_key_id)?
            .iter()
            .find(|entry| entry.scope == *scope)
    }

    fn clear(&mut self) {
        self.by_key_id.clear();
        self.len = 0;
    }
}

impl SigningKeyCache {
    /// A cache holding at most `capacity` keys.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: RwLock::new(CacheMap::default()),
        }
    }

    /// The cached key for this access key id, secret and scope, deriving and caching it on a miss
    /// (a clone of the cached key is returned).
    pub fn get_or_derive(
        &self,
        access_key_id: &str,
        secret: &str,
        scope: &CredentialScope,
    ) -> SigningKey {
        if self.capacity == 0 {
            return derive_signing_key(secret, scope);
        }
        {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            let fresh = entries
                .find(access_key_id, scope)
                .filter(|entry| bool::from(entry.secret.as_slice().ct_eq(secret.as_bytes())));
            if let Some(entry) = fresh {
                return entry.key.clone();
            }
        }
        let key = derive_signing_key(secret, scope);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len >= self.capacity && entries.find(access_key_id, scope).is_none() {
            entries.clear();
        }
        let fresh = CacheEntry {
            scope: scope.clone(),
            secret: Zeroizing::new(secret.as_bytes().to_vec()),
            key: key.clone(),
        };
        let CacheMap { by_key_id, len } = &mut *entries;
        let scopes = by_key_id.entry(access_key_id.to_owned()).or_default();
        match scopes.iter_mut().find(|entry| entry.scope == *scope) {
            Some(stale) => *stale = fresh,
            None => {
                scopes.push(fresh);
                *len += 1;
            }
        }
        key
    }

    /// Drops every cached key of `access_key_id` (secret rotation, key deletion, session revoked).
    pub fn invalidate(&self, access_key_id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(removed) = entries.by_key_id.remove(access_key_id) {
            entries.len = entries.len.saturating_sub(removed.len());
        }
    }

    /// Drops every cached key.
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// How many keys are cached now.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len
    }

    /// Whether no key is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn scope(region: &str) -> CredentialScope {
        CredentialScope::new("20240115", region, "sts").unwrap()
    }

    #[test]
    fn derives_the_documented_aws_example_key() {
        // AWS docs "Derive a signing key": 20120215 / us-east-1 / iam.
        let scope = CredentialScope::new("20120215", "us-east-1", "iam").unwrap();
        let key = derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope);
        assert_eq!(
            crate::canonical::lower_hex(&key.bytes),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn debug_output_redacts_the_key() {
        let key = derive_signing_key(SECRET, &scope("us-east-1"));
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
        let cache = SigningKeyCache::new(4);
        cache.get_or_derive("AKID", SECRET, &scope("us-east-1"));
        assert!(!format!("{cache:?}").contains(&crate::canonical::lower_hex(&key.bytes)));
    }

    #[test]
    fn cache_returns_the_same_key_as_derivation() {
        let cache = SigningKeyCache::new(4);
        let derived = derive_signing_key(SECRET, &scope("us-east-1"));
        let first = cache.get_or_derive("AKID", SECRET, &scope("us-east-1"));
        let second = cache.get_or_derive("AKID", SECRET, &scope("us-east-1"));
        assert_eq!(first.bytes, derived.bytes);
        assert_eq!(second.bytes, derived.bytes);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn cache_derives_a_new_key_when_the_secret_rotates() {
        let cache = SigningKeyCache::new(4);
        let old = cache.get_or_derive("AKID", SECRET, &scope("us-east-1"));
        let new = cache.get_or_derive("AKID", "another secret", &scope("us-east-1"));
        assert_ne!(old.bytes, new.bytes);
        assert_eq!(
            new.bytes,
            derive_signing_key("another secret", &scope("us-east-1")).bytes
        );
    }

    #[test]
    fn cache_replaces_the_stale_key_of_a_rotated_secret_in_place() {
        let cache = SigningKeyCache::new(4);
        cache.get_or_derive("AKID", SECRET, &scope("us-east-1"));
        cache.get_or_derive("AKID", "another secret", &scope("us-east-1"));
        assert_eq!(cache.len(), 1);
        let again = cache.get_or_derive("AKID", SECRET, &scope("us-east-1"));
        assert_eq!(
            again.bytes,
            derive_signing_key(SECRET, &scope("us-east-1")).bytes
        );
    }

    #[test]
    fn invalidate_drops_every_scope_of_one_key_id_only() {
        let cache = SigningKeyCache::new(8);
        cache.get_or_derive("AKID", SECRET, &scope("us-east-1"));
        cache.get_or_derive("AKID", SECRET, &scope("eu-west-1"));
        cache.get_or_derive("OTHER", SECRET, &scope("us-east-1"));
        cache.invalidate("AKID");
        assert_eq!(cache.len(), 1);
        cache.invalidate("AKID");
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn signing_key_from_bytes_signs_like_plain_hmac() {
        let key = SigningKey::from_bytes([7u8; 32]);
        assert_eq!(key.sign(b"message"), hmac_sha256(&[7u8; 32], b"message"));
        assert!(key.verify(b"message", &hmac_sha256(&[7u8; 32], b"message")));
        assert!(!key.verify(b"other", &hmac_sha256(&[7u8; 32], b"message")));
    }

    #[test]
    fn cache_keys_differ_per_region() {
        let cache = SigningKeyCache::new(4);
        let a = cache.get_or_derive("AKID", SECRET, &scope("us-east-1"));
        let b = cache.get_or_derive("AKID", SECRET, &scope("eu-west-1"));
        assert_ne!(a.bytes, b.bytes);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn cache_stays_within_its_capacity() {
        let cache = SigningKeyCache::new(3);
        for i in 0..10 {
            cache.get_or_derive(&format!("AKID{i}"), SECRET, &scope("us-east-1"));
            assert!(cache.len() <= 3);
        }
        cache.invalidate("AKID9");
        assert!(cache.len() <= 2);
        cache.clear();
        assert!(cache.is_empty());
        let disabled = SigningKeyCache::new(0);
        disabled.get_or_derive("AKID", SECRET, &scope("us-east-1"));
        assert!(disabled.is_empty());
    }
}
