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
//!
//! Deleting a bucket moves its whole directory away, `data/` with it, and
//! a GET may still be streaming an object deleted just before: the pinned
//! directories are first moved out to a holding directory
//! ([`PartPins::evacuate`]), and a reader opens its parts through its pin
//! ([`PartPin::open`]), which knows where the directory went.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
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
    /// Where its bucket's deletion moved it.
    moved_to: Option<PathBuf>,
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

    /// Move the pinned directories of `data` (the `data/` of a bucket
    /// being deleted) into `holding` (created if any), retired: their
    /// readers go on reading them there, and the last one removes each.
    /// Blocking; under the lock, so that no reader opens a part meanwhile.
    pub(crate) fn evacuate(&self, data: &Path, holding: &Path) -> std::io::Result<()> {
        let mut dirs = self.lock();
        let mut created = false;
        for (dir, pinned) in dirs.iter_mut() {
            let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
                continue;
            };
            if parent != data || pinned.moved_to.is_some() {
                continue;
            }
            if !created {
                std::fs::create_dir(holding)?;
                created = true;
            }
            let to = holding.join(name);
            std::fs::rename(dir, &to)?;
            pinned.moved_to = Some(to);
            pinned.retired = true;
        }
        Ok(())
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

impl PartPin {
    /// Open `path`, a part file of the pinned directory, wherever the
    /// directory is now (blocking).
    pub(crate) fn open(&self, path: &Path) -> std::io::Result<File> {
        let dirs = self.pins.lock();
        let moved = dirs.get(&self.dir).and_then(|p| p.moved_to.as_ref());
        match (moved, path.file_name()) {
            (Some(to), Some(name)) => File::open(to.join(name)),
            _ => File::open(path),
        }
    }
}

impl Drop for PartPin {
    fn drop(&mut self) {
        let remove = {
            let mut dirs = self.pins.lock();
            match dirs.get_mut(&self.dir) {
                Some(pinned) if pinned.readers > 1 => {
                    pinned.readers -= 1;
                    None
                }
                Some(_) => dirs
                    .remove(&self.dir)
                    .filter(|pinned| pinned.retired)
                    .map(|pinned| pinned.moved_to.unwrap_or_else(|| self.dir.clone())),
                None => None,
            }
        };
        if let Some(dir) = remove {
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
    fn a_directory_moved_out_of_a_deleted_bucket_is_read_there_and_removed_last() {
        let root = tempfile::tempdir().unwrap();
        let pins = Arc::new(PartPins::default());
        let data = root.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let dir = part_dir(&data, "a");
        let unpinned = part_dir(&data, "b");
        let pin = pins.pin(dir.clone());
        let holding = root.path().join("holding");
        pins.evacuate(&data, &holding).unwrap();
        assert!(
            !dir.exists() && unpinned.exists(),
            "only the pinned one moves"
        );
        std::fs::remove_dir_all(&data).unwrap();
        let mut part = String::new();
        std::io::Read::read_to_string(&mut pin.open(&dir.join("part-00001")).unwrap(), &mut part)
            .unwrap();
        assert_eq!(part, "x");
        drop(pin);
        assert!(!holding.join("a").exists());
        // Nothing pinned: nothing moves and no holding directory is made.
        let other = root.path().join("other");
        pins.evacuate(&data, &other).unwrap();
        assert!(!other.exists());
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
