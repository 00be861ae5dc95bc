//! Keeping a multipart object's parts on disk while a GET still reads them.
//!
//! A multipart object's data stays in its parts' files
//! (`data/<object file>-<upload id>/`), and overwriting or deleting the
//! object removes that directory. A GET opens each part only when the
//! stream reaches it (a HEAD or a conditional answer opens none, and a
//! GET's open files stay few for up to 10,000 parts), so it pins the
//! directory: while pinned, a replaced object's directory is marked
//! retired instead of removed, and the last reader to finish removes it.
//!
//! The order that makes this safe: a writer retires a directory only after
//! the object path no longer names the old object file, and a reader pins
//! the directory and only then checks that the path still names the file
//! it read (`store::pin_parts`). Either the reader sees the new object file
//! (and reads again), or its pin was there when the writer retired the
//! directory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// The part directories GETs are reading from.
#[derive(Debug, Default)]
pub(crate) struct PartPins {
    dirs: Mutex<HashMap<PathBuf, Pinned>>,
}

#[derive(Debug, Default)]
struct Pinned {
    readers: usize,
    /// Replaced: the last reader removes it.
    retired: bool,
}

/// A reader's hold on a part directory; dropping it lets the directory go.
#[derive(Debug)]
pub struct PartPin {
    pins: Arc<PartPins>,
    dir: PathBuf,
}

impl PartPins {
    /// Hold `dir` until the returned pin is dropped.
    pub(crate) fn pin(self: &Arc<Self>, dir: PathBuf) -> PartPin {
        self.lock().entry(dir.clone()).or_default().readers += 1;
        PartPin {
            pins: Arc::clone(self),
            dir,
        }
    }

    /// `dir` belongs to an object that was just overwritten or deleted
    /// (its object file no longer names it): remove it now, or when its
    /// last reader is done (blocking).
    pub(crate) fn retire(&self, dir: Option<PathBuf>) {
        let Some(dir) = dir else {
            return;
        };
        if let Some(pinned) = self.lock().get_mut(&dir) {
            pinned.retired = true;
            return;
        }
        remove_part_dir(&dir);
    }

    /// Whether `dir` is pinned (for tests).
    #[cfg(test)]
    pub(crate) fn is_pinned(&self, dir: &std::path::Path) -> bool {
        self.lock().contains_key(dir)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Pinned>> {
        self.dirs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for PartPin {
    fn drop(&mut self) {
        let remove = {
            let mut dirs = self.pins.lock();
            match dirs.get_mut(&self.dir) {
                Some(pinned) if pinned.readers > 1 => {
                    pinned.readers -= 1;
                    false
                }
                Some(_) => dirs.remove(&self.dir).is_some_and(|pinned| pinned.retired),
                None => false,
            }
        };
        if remove {
            let dir = std::mem::take(&mut self.dir);
            // Up to 10,000 files: not on a runtime thread.
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn_blocking(move || remove_part_dir(&dir))),
                Err(_) => remove_part_dir(&dir),
            }
        }
    }
}

/// Remove a replaced multipart object's parts (blocking; best effort: a
/// directory left behind is removed when the store next opens).
pub(crate) fn remove_part_dir(dir: &std::path::Path) {
    if let Err(error) = std::fs::remove_dir_all(dir)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(%error, dir = %dir.display(), "removing a replaced object's parts failed");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    fn part_dir(root: &std::path::Path, name: &str) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("part-00001"), b"x").unwrap();
        dir
    }

    #[test]
    fn an_unpinned_directory_is_removed_when_retired() {
        let root = tempfile::tempdir().unwrap();
        let pins = Arc::new(PartPins::default());
        let dir = part_dir(root.path(), "a");
        pins.retire(Some(dir.clone()));
        assert!(!dir.exists());
    }

    #[test]
    fn a_retired_directory_outlives_its_readers_and_goes_with_the_last() {
        let root = tempfile::tempdir().unwrap();
        let pins = Arc::new(PartPins::default());
        let dir = part_dir(root.path(), "a");
        let first = pins.pin(dir.clone());
        let second = pins.pin(dir.clone());
        pins.retire(Some(dir.clone()));
        assert!(dir.exists());
        drop(first);
        assert!(dir.exists());
        drop(second);
        assert!(!dir.exists());
        assert!(!pins.is_pinned(&dir));
    }

    #[test]
    fn readers_of_a_directory_still_in_use_leave_it_in_place() {
        let root = tempfile::tempdir().unwrap();
        let pins = Arc::new(PartPins::default());
        let dir = part_dir(root.path(), "a");
        drop(pins.pin(dir.clone()));
        drop(pins.pin(dir.clone()));
        assert!(dir.exists());
        assert!(!pins.is_pinned(&dir));
    }
}
