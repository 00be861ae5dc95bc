//! Small objects kept in memory after a GET read them, so that the next
//! GET of the same object opens no file: for a 1 KiB object the `open`,
//! `fstat`, `read` and `close` were an eighth of the server's time, and
//! parsing the metadata JSON a tenth of the gateway's instructions.
//!
//! Consistency: the store calls [`ObjectCache::invalidate`] after every
//! rename or removal of an object file (and [`ObjectCache::forget_bucket`]
//! when a bucket is created or deleted), and each of those moves a change
//! counter on. A reader notes the counter before it opens the file
//! ([`ObjectCache::change_mark`]) and may keep what it read only if no
//! change happened since ([`ObjectCache::insert`]): so an entry never holds
//! older data than the file that was in place when it was inserted, and is
//! dropped when that file is replaced. Like the key index, this assumes
//! that only this process writes the store.
//!
//! Bounded: only objects read whole (at most 64 KiB with their metadata),
//! [`CACHE_BYTES`] in all; when full, everything is dropped and the cache
//! fills again from the requests that follow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use crate::store::ObjectMeta;

/// Most bytes of object data held.
pub const CACHE_BYTES: usize = 8 * 1024 * 1024;

/// A cached object: its metadata and all of its data.
#[derive(Debug)]
pub struct CachedObject {
    /// The metadata.
    pub meta: Arc<ObjectMeta>,
    /// The data.
    pub data: Bytes,
}

#[derive(Debug, Default)]
struct Entries {
    /// Moves on at every invalidation.
    changes: u64,
    bytes: usize,
    /// bucket → key → object.
    objects: HashMap<String, HashMap<String, Arc<CachedObject>>>,
}

/// The cache of small objects (see the module documentation).
#[derive(Debug, Default)]
pub struct ObjectCache {
    entries: Mutex<Entries>,
}

impl ObjectCache {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Every change leaves the maps and counters consistent between
        // statements that cannot panic; a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The object `bucket/key`, if cached.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Arc<CachedObject>> {
        self.lock()
            .objects
            .get(bucket)
            .and_then(|objects| objects.get(key))
            .cloned()
    }

    /// The change counter, to be read before the object file is opened.
    pub fn change_mark(&self) -> u64 {
        self.lock().changes
    }

    /// Keep an object read after [`ObjectCache::change_mark`] returned
    /// `mark`, unless anything changed since.
    pub fn insert(&self, mark: u64, bucket: &str, object: Arc<CachedObject>) {
        let size = object.data.len();
        if size > CACHE_BYTES {
            return;
        }
        let mut entries = self.lock();
        if entries.changes != mark {
            return;
        }
        if entries.bytes + size > CACHE_BYTES {
            entries.objects.clear();
            entries.bytes = 0;
        }
        let key = object.meta.key.clone();
        let previous = entries
            .objects
            .entry(bucket.to_owned())
            .or_default()
            .insert(key, object);
        entries.bytes += size;
        if let Some(previous) = previous {
            entries.bytes -= previous.data.len();
        }
    }

    /// `bucket/key` was replaced or removed.
    pub fn invalidate(&self, bucket: &str, key: &str) {
        let mut entries = self.lock();
        entries.changes += 1;
        let removed = entries
            .objects
            .get_mut(bucket)
            .and_then(|objects| objects.remove(key));
        if let Some(removed) = removed {
            entries.bytes -= removed.data.len();
        }
    }

    /// `bucket` was created or deleted: nothing of it is kept.
    pub fn forget_bucket(&self, bucket: &str) {
        let mut entries = self.lock();
        entries.changes += 1;
        if let Some(objects) = entries.objects.remove(bucket) {
            let freed: usize = objects.values().map(|o| o.data.len()).sum();
            entries.bytes -= freed;
        }
    }

    /// Bytes of object data held (for tests).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn object(key: &str, size: usize) -> Arc<CachedObject> {
        Arc::new(CachedObject {
            meta: Arc::new(ObjectMeta {
                key: key.to_owned(),
                size: size as u64,
                ..ObjectMeta::default()
            }),
            data: Bytes::from(vec![1u8; size]),
        })
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let cache = ObjectCache::default();
        let mark = cache.change_mark();
        cache.invalidate("bkt", "k"); // the file was replaced meanwhile
        cache.insert(mark, "bkt", object("k", 10));
        assert!(cache.get("bkt", "k").is_none());
        let mark = cache.change_mark();
        cache.insert(mark, "bkt", object("k", 10));
        assert_eq!(cache.get("bkt", "k").unwrap().data.len(), 10);
        assert!(cache.get("other", "k").is_none());
    }

    #[test]
    fn invalidation_and_bucket_changes_drop_entries_and_their_bytes() {
        let cache = ObjectCache::default();
        let mark = cache.change_mark();
        cache.insert(mark, "a", object("x", 100));
        cache.insert(mark, "a", object("y", 50));
        cache.insert(mark, "b", object("x", 7));
        assert_eq!(cache.bytes(), 157);
        // Replacing an entry counts its size once.
        cache.insert(mark, "a", object("y", 60));
        assert_eq!(cache.bytes(), 167);
        cache.invalidate("a", "x");
        assert!(cache.get("a", "x").is_none());
        assert_eq!(cache.bytes(), 67);
        cache.forget_bucket("a");
        assert!(cache.get("a", "y").is_none());
        assert_eq!(cache.bytes(), 7);
        assert!(cache.get("b", "x").is_some());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_budget() {
        let cache = ObjectCache::default();
        let size = CACHE_BYTES / 3 + 1;
        for i in 0..10 {
            let mark = cache.change_mark();
            cache.insert(mark, "bkt", object(&format!("k{i}"), size));
            assert!(cache.bytes() <= CACHE_BYTES);
        }
        assert!(cache.get("bkt", "k9").is_some());
        let mark = cache.change_mark();
        cache.insert(mark, "bkt", object("huge", CACHE_BYTES + 1));
        assert!(cache.get("bkt", "huge").is_none());
    }
}
