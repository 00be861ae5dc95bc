//! The ordered index of a bucket's keys that ListObjectsV2 walks (see
//! [`crate::store`]): which entries a page holds, computed from the
//! sorted keys without touching the object files.

use std::collections::BTreeSet;
use std::fs::File;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::store::{StoreError, object_file_name, read_meta, unless_missing};

/// One ListObjectsV2 entry, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListEntry {
    /// An object key.
    Key(String),
    /// A common prefix: the keys under it are rolled up into it.
    CommonPrefix(String),
}

/// What one ListObjectsV2 page asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up to the first occurrence of this after the prefix.
    pub delimiter: Option<String>,
    /// Start after this entry: a key (`start-after`, or the last key of
    /// the previous page), or a common prefix (everything under it is
    /// skipped).
    pub after: Option<ListEntry>,
    /// Largest number of entries (keys and common prefixes) in the page.
    pub max_keys: usize,
}

/// The keys of one bucket in S3's order (UTF-8 bytes, which is `str`'s).
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    /// `None` until the bucket's directory has been read.
    keys: Mutex<Option<BTreeSet<String>>>,
}

impl KeyIndex {
    /// INVARIANT: whoever renames a file into, or removes one from, the
    /// bucket's objects directory holds this lock meanwhile and updates the
    /// loaded set before releasing it; a scan holds it while reading the
    /// directory. So the set, once loaded, is the directory's key set.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Option<BTreeSet<String>>> {
        // A panic while holding the lock cannot leave the set half-changed
        // (each change is one insert or remove), so poisoning is ignored.
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The loaded key set, reading the directory first if needed (blocking).
pub(crate) fn loaded<'a>(
    keys: &'a mut Option<BTreeSet<String>>,
    objects: &Path,
) -> Result<&'a mut BTreeSet<String>, StoreError> {
    if keys.is_none() {
        *keys = Some(scan_keys(objects)?);
    }
    keys.as_mut().ok_or(StoreError::Corrupt("key index"))
}

/// Every key of an objects directory, from the object files' footers.
fn scan_keys(objects: &Path) -> Result<BTreeSet<String>, StoreError> {
    let entries = match std::fs::read_dir(objects) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::NoSuchBucket),
        Err(e) => return Err(e.into()),
    };
    let mut keys = BTreeSet::new();
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let Some(mut file) = unless_missing(File::open(&path))? else {
            continue;
        };
        match read_meta(&mut file) {
            Ok(meta)
                if entry.file_name().to_str() == Some(object_file_name(&meta.key).as_str()) =>
            {
                keys.insert(meta.key);
            }
            Ok(_) => {
                tracing::warn!(path = %path.display(), "skipping an object file not named after its key");
            }
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "skipping a damaged object file");
            }
        }
    }
    Ok(keys)
}

/// The smallest string greater than every string starting with `prefix`
/// (`None` when there is none: `prefix` is all `U+10FFFF`). UTF-8 orders
/// like code points, so the last code point that can grow grows by one.
fn successor(prefix: &str) -> Option<String> {
    let mut out = prefix.to_owned();
    while let Some(last) = out.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            char::MAX => None,
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            out.push(next);
            return Some(out);
        }
    }
    None
}

/// Where a walk starts: at or after `key`.
struct Start {
    key: String,
    inclusive: bool,
}

impl Start {
    /// The later of two starts.
    fn max(self, other: Self) -> Self {
        match self.key.cmp(&other.key) {
            std::cmp::Ordering::Greater => self,
            std::cmp::Ordering::Less => other,
            std::cmp::Ordering::Equal if self.inclusive => other,
            std::cmp::Ordering::Equal => self,
        }
    }
}

/// Choose one page's entries from the sorted keys: those after
/// `query.after` that start with the prefix, each either a key or (with a
/// delimiter) the common prefix it rolls up to, at most `max_keys`; and
/// whether more remain. Each common prefix costs one step whatever the
/// number of keys under it.
pub(crate) fn walk(keys: &BTreeSet<String>, query: &ListQuery) -> (Vec<ListEntry>, bool) {
    let prefix = query.prefix.as_str();
    let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty());
    let mut start = Start {
        key: prefix.to_owned(),
        inclusive: true,
    };
    match &query.after {
        None => {}
        Some(ListEntry::Key(key)) => {
            start = start.max(Start {
                key: key.clone(),
                inclusive: false,
            });
        }
        Some(ListEntry::CommonPrefix(common)) => match successor(common) {
            Some(key) => {
                start = start.max(Start {
                    key,
                    inclusive: true,
                });
            }
            None => return (Vec::new(), false),
        },
    }
    let mut entries = Vec::new();
    loop {
        let lower = if start.inclusive {
            Bound::Included(start.key.as_str())
        } else {
            Bound::Excluded(start.key.as_str())
        };
        let mut restart = None;
        for key in keys.range::<str, _>((lower, Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                // Keys with the prefix are contiguous, and the walk began
                // at or after the prefix: none follow.
                return (entries, false);
            }
            if entries.len() >= query.max_keys {
                return (entries, true);
            }
            let common = delimiter.and_then(|d| {
                let rest = key.get(prefix.len()..)?;
                rest.find(d)
                    .and_then(|at| key.get(..prefix.len() + at + d.len()))
            });
            match common {
                Some(common) => {
                    entries.push(ListEntry::CommonPrefix(common.to_owned()));
                    match successor(common) {
                        Some(next) => restart = Some(next),
                        None => return (entries, false),
                    }
                    break;
                }
                None => entries.push(ListEntry::Key(key.clone())),
            }
        }
        match restart {
            Some(key) => {
                start = Start {
                    key,
                    inclusive: true,
                };
            }
            None => return (entries, false),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    #[test]
    fn successor_is_the_first_string_past_a_prefix() {
        assert_eq!(successor("a/").as_deref(), Some("a0"));
        assert_eq!(successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(successor("\u{10FFFF}"), None);
        assert_eq!(successor(""), None);
    }

    /// Pseudo-random keys with shared prefixes, delimiters in odd places
    /// and multi-byte characters (UTF-8 byte order is S3's order).
    fn many_keys(n: usize) -> Vec<String> {
        let mut state = 0x2545_f491_u64;
        let mut next = move |m: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % m
        };
        let parts = [
            "a",
            "b",
            "ü",
            "日本",
            "😀",
            "a/",
            "",
            "/",
            "x.y",
            "\u{10FFFF}",
            "\u{D7FF}",
            "s",
        ];
        let mut keys = BTreeSet::new();
        while keys.len() < n {
            let depth = 1 + next(4);
            let mut key = String::new();
            for level in 0..depth {
                if level > 0 {
                    key.push('/');
                }
                key.push_str(parts[next(parts.len() as u64) as usize]);
                key.push_str(&next(7).to_string());
            }
            keys.insert(key);
        }
        keys.insert("a/".to_owned());
        keys.insert("a//b".to_owned());
        keys.into_iter().collect()
    }

    /// The listing rules stated directly over a sorted list: the model the
    /// index walk must agree with.
    fn model(keys: &[String], query: &ListQuery) -> (Vec<ListEntry>, bool) {
        let prefix = query.prefix.as_str();
        let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty());
        let mut entries: Vec<ListEntry> = Vec::new();
        for key in keys {
            if !key.starts_with(prefix) {
                continue;
            }
            match &query.after {
                Some(ListEntry::Key(after)) if key <= after => continue,
                Some(ListEntry::CommonPrefix(p)) if key <= p || key.starts_with(p.as_str()) => {
                    continue;
                }
                _ => {}
            }
            let entry = match delimiter.and_then(|d| key[prefix.len()..].find(d).map(|i| (i, d))) {
                Some((i, d)) => {
                    ListEntry::CommonPrefix(key[..prefix.len() + i + d.len()].to_owned())
                }
                None => ListEntry::Key(key.clone()),
            };
            if entries.last() == Some(&entry) {
                continue;
            }
            if entries.len() >= query.max_keys {
                return (entries, true);
            }
            entries.push(entry);
        }
        (entries, false)
    }

    #[test]
    fn the_index_walk_agrees_with_the_listing_rules_over_2500_keys() {
        let keys = many_keys(2500);
        let set: BTreeSet<String> = keys.iter().cloned().collect();
        let prefixes = [
            "",
            "a",
            "a/",
            "a1/",
            "ü",
            "日本3/",
            "😀",
            "\u{10FFFF}",
            "zzz",
            "/",
        ];
        let delimiters = [None, Some("/"), Some("1"), Some("/b"), Some("")];
        let mut pages = 0;
        for prefix in prefixes {
            for delimiter in delimiters {
                for max_keys in [0usize, 1, 7, 1000] {
                    let mut query = ListQuery {
                        prefix: prefix.to_owned(),
                        delimiter: delimiter.map(str::to_owned),
                        after: None,
                        max_keys,
                    };
                    // Page through everything, comparing each page.
                    let (everything, _) = model(
                        &keys,
                        &ListQuery {
                            max_keys: usize::MAX,
                            ..query.clone()
                        },
                    );
                    let mut collected = Vec::new();
                    loop {
                        let (entries, truncated) = walk(&set, &query);
                        assert_eq!(
                            (entries.clone(), truncated),
                            model(&keys, &query),
                            "{query:?}"
                        );
                        pages += 1;
                        collected.extend(entries.iter().cloned());
                        if !truncated || max_keys == 0 {
                            break;
                        }
                        query.after = entries.last().cloned();
                    }
                    if max_keys > 0 {
                        assert_eq!(collected, everything, "{prefix:?} {delimiter:?} {max_keys}");
                    }
                }
            }
        }
        assert!(pages > 2500, "{pages} pages");
        // start-after at arbitrary points, including keys not in the set.
        for after in ["", "a", "a/", "a1/b2", "ü9", "\u{10FFFF}\u{10FFFF}"] {
            for delimiter in [None, Some("/")] {
                let query = ListQuery {
                    prefix: String::new(),
                    delimiter: delimiter.map(str::to_owned),
                    after: Some(ListEntry::Key(after.to_owned())),
                    max_keys: 50,
                };
                assert_eq!(walk(&set, &query), model(&keys, &query), "{query:?}");
            }
        }
    }
}
