//! The built-in object store under `DATA_DIR/s3/`.
//!
//! ```text
//! s3/tmp/                         uploads in progress (temp files)
//! s3/buckets/<bucket>/bucket.json owner account, creation time
//! s3/buckets/<bucket>/policy.json the bucket policy, if any
//! s3/buckets/<bucket>/objects/<sha256(key) hex>
//! s3/buckets/<bucket>/uploads/<upload id>/upload.json   a multipart upload
//! s3/buckets/<bucket>/uploads/<upload id>/part-<NNNNN>  its parts (object format)
//! s3/buckets/<bucket>/data/<object file>-<upload id>/     a completed upload's parts
//! ```
//!
//! An object is one file: the data, then its metadata as JSON, then the
//! JSON's length (u32, big-endian) and the magic `MFS3OBJ1`. It is written
//! to `tmp/`, fsynced and renamed into place, so a reader sees the old
//! object or the new one, never a half-written one, and a crash leaves only
//! a temp file.
//!
//! A completed multipart upload is not copied into one file: its upload
//! directory, holding only the parts the completion named, is renamed to
//! `data/` and the object file holds the metadata alone, listing the parts
//! ([`PartData`]), so completion costs the same for 5 MiB as for 5 GiB.
//! The directory is named after the object file and the upload, so whether
//! a directory there is still used is one footer read: the directories an
//! overwrite or a delete left behind are removed (at once, or when the
//! store opens), and one a crash left between the completion's two renames
//! goes back to `uploads/`, so the client can retry the completion (it
//! keeps `upload.json` until the object is published). Object keys never become path components (they are hashed),
//! so no key can name a file outside the bucket; bucket names are checked
//! against S3's naming rules before they become a directory name.
//!
//! Listing does not read the objects directory: each bucket has an ordered
//! in-memory index of its keys ([`crate::key_index`]), built from the directory the
//! first time the bucket is listed after start-up (every object's footer is
//! read once) and kept in step with the directory by every commit and
//! delete, which rename or remove the file while holding the index's lock.
//! A ListObjectsV2 page walks the index, skips each common prefix in one
//! step, and reads the metadata of the objects it returns only.
//!
//! Every operation does its file I/O with `std::fs` inside one
//! `spawn_blocking` call: each `tokio::fs` call is its own trip through
//! the blocking pool, and those trips, not the I/O, were the cost of a
//! small request.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aws_lc_rs::rand::SecureRandom;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::buffers::BufferPool;
use crate::key_index::{KeyIndex, loaded, walk};
pub use crate::key_index::{ListEntry, ListQuery};
use crate::object_cache::{CachedObject, ObjectCache};
pub use crate::part_pins::PartPin;
use crate::part_pins::{PartPins, remove_part_dir};

const MAGIC: &[u8; 8] = b"MFS3OBJ1";
const FOOTER: u64 = 12;
/// Largest metadata block accepted when reading an object file.
const MAX_META: u32 = 1024 * 1024;
/// Object files up to this size (data, metadata and footer) are read
/// whole by the call that opens them: one read instead of a seek and two
/// reads for the footer and metadata, and another trip for the data.
const INLINE_FILE_BYTES: u64 = 64 * 1024;
/// While an object is being written, writeback of its data to disk is
/// started every this many bytes, so that the fsync before the commit
/// waits for the tail only (the page cache would otherwise hold the whole
/// object until then).
const WRITEBACK_STEP: u64 = 32 * 1024 * 1024;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The bucket exists; its owner is given.
    #[error("bucket already exists")]
    BucketExists {
        /// The owning account.
        owner: String,
    },
    /// The bucket does not exist.
    #[error("no such bucket")]
    NoSuchBucket,
    /// The multipart upload does not exist.
    #[error("no such upload")]
    NoSuchUpload,
    /// The bucket still holds objects.
    #[error("bucket is not empty")]
    BucketNotEmpty,
    /// An I/O failure.
    #[error("storage i/o failed: {0}")]
    Io(#[from] std::io::Error),
    /// A stored file is damaged.
    #[error("stored file is corrupt: {0}")]
    Corrupt(&'static str),
}

/// A bucket's metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketMeta {
    /// The account that created it.
    pub owner: String,
    /// Creation time, seconds since the epoch.
    pub created: u64,
}

/// An object's metadata.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The object key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The ETag without quotes.
    pub etag: String,
    /// Last-modified time, seconds since the epoch.
    pub last_modified: u64,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Other stored entity headers (`content-encoding`, `cache-control`, ...).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// User metadata (`x-amz-meta-*`, names without the prefix, lowercase).
    #[serde(default)]
    pub user_metadata: Vec<(String, String)>,
    /// The flexible checksum sent with the upload: (header name, value).
    #[serde(default)]
    pub checksum: Option<(String, String)>,
    /// For a completed multipart upload: where its data is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<PartData>,
}

/// The data of an object made by a multipart upload: its parts' files,
/// `data/<object file>-<upload id>/part-<NNNNN>`, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartData {
    /// The upload the parts came from.
    pub upload_id: String,
    /// (part number, data length), in the object's order.
    pub parts: Vec<(u32, u64)>,
}

impl ObjectMeta {
    /// Bytes of data the object file itself holds (none when the data
    /// stayed in its parts' files).
    fn stored_len(&self) -> u64 {
        if self.parts.is_some() { 0 } else { self.size }
    }
}

/// The name of the directory holding the parts of the multipart object
/// with object file `object_file`, from upload `upload_id`.
fn part_dir_name(object_file: &str, upload_id: &str) -> String {
    format!("{object_file}-{upload_id}")
}

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadMeta {
    /// The upload id.
    pub upload_id: String,
    /// Initiation time, seconds since the epoch.
    pub initiated: u64,
    /// The object's metadata to be (key, content type, headers, user metadata).
    pub object: ObjectMeta,
}

/// Whether `id` has the shape of an upload id this store issues (32
/// lowercase hex digits), so it is safe as a directory name.
pub fn valid_upload_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `name` follows S3's bucket naming rules (3-63 characters of
/// lowercase letters, digits, `.` and `-`, starting and ending with a letter
/// or digit, no `..`, not an IP address). Only such names become paths.
pub fn valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

pub(crate) fn object_file_name(key: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    let mut name = [0u8; 64];
    // 32 digest bytes always fill the 64 hex digits exactly.
    let _ = hex::encode_to_slice(digest.as_ref(), &mut name);
    String::from_utf8_lossy(&name).into_owned()
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Run blocking file I/O on the blocking pool: one trip per store operation.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| StoreError::Io(std::io::Error::other("blocking store task failed")))?
}

/// `Ok(None)` for a missing file, the error for any other failure.
pub(crate) fn unless_missing<T>(result: std::io::Result<T>) -> Result<Option<T>, StoreError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Starts the writeback of a file being written while more data arrives:
/// an `fdatasync` of a handle to the file on a thread of its own, one at a
/// time. The thread lives for that one sync, so an upload that stalls
/// holds none.
#[derive(Debug)]
struct Writeback {
    file: Arc<File>,
    syncing: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

fn writeback_failed() -> StoreError {
    StoreError::Io(std::io::Error::other("writeback thread failed"))
}

impl Writeback {
    fn new(file: &File) -> std::io::Result<Self> {
        Ok(Self {
            file: Arc::new(file.try_clone()?),
            syncing: None,
        })
    }

    /// Start a sync unless one is still running (it covers this request
    /// in part, and the next request the rest); the error of the last
    /// one, if it failed. (The handle is a `dup` of the writer's: an
    /// error a sync consumed would not be reported again to the final
    /// fsync, so it must be passed on here.)
    fn request(&mut self) -> Result<(), StoreError> {
        if self.syncing.as_ref().is_some_and(|s| !s.is_finished()) {
            return Ok(());
        }
        self.wait()?;
        let file = Arc::clone(&self.file);
        let thread = std::thread::Builder::new()
            .name("mayfly-s3-writeback".to_owned())
            .spawn(move || file.sync_data())?;
        self.syncing = Some(thread);
        Ok(())
    }

    /// Wait for the running sync; its error, if it failed.
    fn wait(&mut self) -> Result<(), StoreError> {
        match self.syncing.take().map(std::thread::JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(error))) => Err(error.into()),
            Some(Err(_)) => Err(writeback_failed()),
        }
    }
}

/// An object being written: a temp file the data is appended to, with
/// blocking calls (the gateway drives it from blocking threads). Dropped
/// without being committed, it removes its temp file.
///
/// Data that is aligned (a full pooled buffer at an aligned offset, see
/// [`crate::buffers`]) goes to disk with `O_DIRECT` where the filesystem
/// allows it: no copy into the page cache and no writeback of it later,
/// which at 500 MB/s was a third of a core on this two-core machine, taken
/// from the MD5 an upload waits for. (MinIO writes its objects the same
/// way.) The rest — the last partial buffer, small objects, the metadata
/// footer, copies — is written through the page cache, and the final
/// `fsync` makes both durable. A later GET then reads the data from disk
/// rather than from memory.
#[derive(Debug)]
pub struct PendingObject {
    file: File,
    /// The same file opened with `O_DIRECT`, while the filesystem takes it.
    direct: Option<File>,
    path: PathBuf,
    written: u64,
    /// Bytes written through the page cache since the last writeback.
    dirty: u64,
    writeback: Option<Writeback>,
    committed: bool,
}

/// Offsets, lengths and addresses an `O_DIRECT` write must be a multiple of.
const DIRECT_ALIGN: usize = crate::buffers::BUFFER_ALIGN;

/// `path` opened for writing with `O_DIRECT`, if the filesystem allows it.
#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;

    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_: &Path) -> Option<File> {
    None
}

impl PendingObject {
    /// Create the temp file at `path` (blocking).
    pub(crate) fn create(path: PathBuf) -> Result<Self, StoreError> {
        let file = File::create(&path)?;
        Ok(Self {
            direct: open_direct(&path),
            file,
            path,
            written: 0,
            dirty: 0,
            writeback: None,
            committed: false,
        })
    }

    /// Append `data` (blocking).
    pub fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        use std::os::unix::fs::FileExt;

        if let Some(direct) = &self.direct
            && self.written.is_multiple_of(DIRECT_ALIGN as u64)
            && data.len().is_multiple_of(DIRECT_ALIGN)
            && (data.as_ptr() as usize).is_multiple_of(DIRECT_ALIGN)
        {
            match direct.write_all_at(data, self.written) {
                Ok(()) => {
                    self.written += data.len() as u64;
                    return Ok(());
                }
                // The filesystem or device wants another alignment: through
                // the page cache from now on (a partial write is rewritten).
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => self.direct = None,
                Err(e) => return Err(e.into()),
            }
        }
        self.file.write_all_at(data, self.written)?;
        self.wrote(data.len() as u64)
    }

    /// Append `len` bytes of `source` from its current position (blocking;
    /// the kernel copies between the files where it can).
    fn copy_from(&mut self, source: &File, len: u64) -> Result<(), StoreError> {
        self.file.seek(SeekFrom::Start(self.written))?;
        let copied = std::io::copy(&mut source.take(len), &mut self.file)?;
        if copied != len {
            return Err(StoreError::Corrupt("object file shorter than its size"));
        }
        self.wrote(len)
    }

    /// `n` bytes were written through the page cache.
    fn wrote(&mut self, n: u64) -> Result<(), StoreError> {
        self.written += n;
        self.dirty += n;
        if self.dirty >= WRITEBACK_STEP {
            self.dirty = 0;
            if self.writeback.is_none() {
                self.writeback = Some(Writeback::new(&self.file)?);
            }
            if let Some(writeback) = self.writeback.as_mut() {
                writeback.request()?;
            }
        }
        Ok(())
    }

    /// Append the metadata footer and make everything durable (blocking).
    fn seal(&mut self, meta: &ObjectMeta) -> Result<(), StoreError> {
        let json = serde_json::to_vec(meta).map_err(|_| StoreError::Corrupt("object meta"))?;
        let len = u32::try_from(json.len()).map_err(|_| StoreError::Corrupt("object meta"))?;
        let mut footer = json;
        footer.extend_from_slice(&len.to_be_bytes());
        footer.extend_from_slice(MAGIC);
        std::os::unix::fs::FileExt::write_all_at(&self.file, &footer, self.written)?;
        if let Some(mut writeback) = self.writeback.take() {
            writeback.wait()?;
        }
        self.file.sync_all()?;
        Ok(())
    }

    /// Rename the sealed file to `target` (blocking).
    fn publish(&mut self, target: &Path) -> Result<(), StoreError> {
        std::fs::rename(&self.path, target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PendingObject {
    fn drop(&mut self) {
        if !self.committed {
            // An upload that failed half-way: never visible, remove the temp file.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A stored object's data as a GET reads it.
#[derive(Debug)]
pub enum ObjectData {
    /// A small object, read whole together with its metadata.
    Inline(Bytes),
    /// A larger object: its file, the data is `[0, meta.size)`.
    File(File),
    /// A multipart object: its parts, none opened yet
    /// ([`BuiltinStore::pin_parts`]).
    Parts(PartList),
}

/// A multipart object's parts as its object file lists them. Nothing is
/// opened until a GET needs the data: a HEAD, a 304 or 412, or a range
/// inside one part touch no part file at all.
#[derive(Debug)]
pub struct PartList {
    /// The object file's path, and the file as it was read (to tell
    /// whether the path still names it).
    object: PathBuf,
    file: File,
    data: PartData,
}

/// The parts a read of a multipart object needs ([`BuiltinStore::pin_parts`]).
#[derive(Debug)]
pub struct PinnedParts {
    /// Each part's file and data length, in order.
    pub files: Vec<(PartFile, u64)>,
    /// The object offset of the first.
    pub first: u64,
}

/// A file of an object being read: a single-file object's, opened with
/// it, or one part of a multipart object, opened when the read reaches it
/// (a GET's open files stay few however many parts, up to 10,000, the
/// object has) on the blocking pool. The part's directory is pinned until
/// then ([`crate::part_pins`]): an overwrite or delete meanwhile leaves it
/// in place until the read is done.
#[derive(Debug)]
pub enum PartFile {
    /// Opened.
    Open(File),
    /// To be opened when reached, its directory pinned until then.
    Later(PathBuf, Arc<PartPin>),
}

impl PartFile {
    /// The file, opening it if needed (blocking).
    pub fn open(self) -> std::io::Result<File> {
        match self {
            Self::Open(file) => Ok(file),
            Self::Later(path, pin) => pin.open(&path),
        }
    }
}

/// An object opened for reading.
#[derive(Debug)]
pub struct StoredObject {
    /// Its metadata.
    pub meta: Arc<ObjectMeta>,
    /// Its data.
    pub data: ObjectData,
}

/// One page of a listing.
#[derive(Debug, Default)]
pub struct ListPage {
    /// The objects, by key.
    pub contents: Vec<ObjectMeta>,
    /// The common prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// Whether entries remain after this page.
    pub truncated: bool,
    /// The page's last entry (the next page starts after it).
    pub last: Option<ListEntry>,
}

/// The built-in store.
#[derive(Debug)]
pub struct BuiltinStore {
    root: PathBuf,
    rng: aws_lc_rs::rand::SystemRandom,
    /// Changes after every change to any bucket's record or policy (see
    /// [`BuiltinStore::bucket_generation`]).
    bucket_generation: AtomicU64,
    /// The key index of each bucket used since start-up.
    indexes: Mutex<HashMap<String, Arc<KeyIndex>>>,
    /// Transfer buffers for uploads and downloads.
    buffers: Arc<BufferPool>,
    /// Small objects recently read.
    cache: Arc<ObjectCache>,
    /// The part directories GETs are still reading.
    pins: Arc<PartPins>,
}

impl BuiltinStore {
    /// Open (creating) the store under `root` (`DATA_DIR/s3`).
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        let dirs = root.clone();
        blocking(move || {
            std::fs::create_dir_all(dirs.join("buckets"))?;
            std::fs::create_dir_all(dirs.join("tmp"))?;
            sweep_tmp(&dirs.join("tmp"), SystemTime::now());
            sweep_part_dirs(&dirs.join("buckets"))
        })
        .await?;
        Ok(Self {
            root,
            rng: aws_lc_rs::rand::SystemRandom::new(),
            bucket_generation: AtomicU64::new(0),
            indexes: Mutex::new(HashMap::new()),
            buffers: BufferPool::new(),
            cache: Arc::new(ObjectCache::default()),
            pins: Arc::new(PartPins::default()),
        })
    }

    /// A number that changes (after the files changed) whenever a bucket is
    /// created or deleted or its policy set or removed. A bucket record read
    /// after observing generation `g` is current for as long as the
    /// generation is still `g`: callers may cache it on that condition.
    pub fn bucket_generation(&self) -> u64 {
        self.bucket_generation.load(Ordering::Acquire)
    }

    /// A bucket's record or policy changed: bump the generation.
    fn bucket_changed(&self) {
        self.bucket_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A bucket was created or deleted: also forget its key index (a bucket
    /// made anew starts from its directory) and its cached objects.
    fn bucket_replaced(&self, bucket: &str) {
        self.cache.forget_bucket(bucket);
        self.indexes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(bucket);
        self.bucket_changed();
    }

    /// The transfer buffers uploads and downloads share.
    pub fn buffers(&self) -> &Arc<BufferPool> {
        &self.buffers
    }

    fn index(&self, bucket: &str) -> Arc<KeyIndex> {
        let mut indexes = self.indexes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = indexes.get(bucket) {
            return Arc::clone(index);
        }
        let index = Arc::new(KeyIndex::default());
        indexes.insert(bucket.to_owned(), Arc::clone(&index));
        index
    }

    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join("buckets").join(bucket)
    }

    fn objects_dir(&self, bucket: &str) -> PathBuf {
        self.bucket_dir(bucket).join("objects")
    }

    /// `buckets/<bucket>/objects/<sha256(key)>`, built in one allocation
    /// (every GET computes it).
    fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        let mut path = PathBuf::with_capacity(self.root.as_os_str().len() + bucket.len() + 90);
        path.push(&self.root);
        path.push("buckets");
        path.push(bucket);
        path.push("objects");
        path.push(object_file_name(key));
        path
    }

    /// A fresh temp file path under `tmp/`.
    pub(crate) fn temp_path(&self) -> Result<PathBuf, StoreError> {
        let mut bytes = [0u8; 16];
        self.rng
            .fill(&mut bytes)
            .map_err(|_| StoreError::Io(std::io::Error::other("rng failed")))?;
        Ok(self.root.join("tmp").join(hex::encode(bytes)))
    }

    /// Create a bucket owned by `owner`.
    pub async fn create_bucket(&self, bucket: &str, owner: &str) -> Result<(), StoreError> {
        let dir = self.bucket_dir(bucket);
        let temp = self.temp_path()?;
        let meta = BucketMeta {
            owner: owner.to_owned(),
            created: now_unix(),
        };
        let json = serde_json::to_vec(&meta).map_err(|_| StoreError::Corrupt("bucket meta"))?;
        let result = blocking(move || {
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = read_bucket_meta(&dir)?.map(|m| m.owner).unwrap_or_default();
                    return Err(StoreError::BucketExists { owner });
                }
                Err(e) => return Err(e.into()),
            }
            std::fs::create_dir(dir.join("objects"))?;
            write_atomic(&temp, &dir.join("bucket.json"), &json)
        })
        .await;
        if !matches!(result, Err(StoreError::BucketExists { .. })) {
            self.bucket_replaced(bucket);
        }
        result
    }

    /// A bucket's metadata, `None` when it does not exist.
    pub async fn bucket(&self, bucket: &str) -> Result<Option<BucketMeta>, StoreError> {
        if !valid_bucket_name(bucket) {
            return Ok(None);
        }
        let dir = self.bucket_dir(bucket);
        blocking(move || read_bucket_meta(&dir)).await
    }

    /// A bucket's metadata and policy text, read in one blocking call (every
    /// request loads both); `None` when the bucket does not exist.
    pub async fn bucket_and_policy(
        &self,
        bucket: &str,
    ) -> Result<Option<(BucketMeta, Option<String>)>, StoreError> {
        if !valid_bucket_name(bucket) {
            return Ok(None);
        }
        let dir = self.bucket_dir(bucket);
        blocking(move || {
            let Some(meta) = read_bucket_meta(&dir)? else {
                return Ok(None);
            };
            let policy = unless_missing(std::fs::read_to_string(dir.join("policy.json")))?;
            Ok(Some((meta, policy)))
        })
        .await
    }

    /// Every bucket, by name.
    pub async fn list_buckets(&self) -> Result<Vec<(String, BucketMeta)>, StoreError> {
        let buckets = self.root.join("buckets");
        blocking(move || {
            let mut out = Vec::new();
            for entry in std::fs::read_dir(&buckets)? {
                let entry = entry?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                if !valid_bucket_name(&name) {
                    continue;
                }
                if let Some(meta) = read_bucket_meta(&entry.path())? {
                    out.push((name, meta));
                }
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(out)
        })
        .await
    }

    /// Delete an empty bucket.
    pub async fn delete_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        if !valid_bucket_name(bucket) {
            return Err(StoreError::NoSuchBucket);
        }
        let dir = self.bucket_dir(bucket);
        let aside = self.temp_path()?;
        let holding = self.temp_path()?;
        let index = self.index(bucket);
        let pins = Arc::clone(&self.pins);
        let result = blocking(move || {
            // Under the index lock no object is committed meanwhile, so the
            // bucket is still empty when it is moved away.
            let keys = index.lock();
            if read_bucket_meta(&dir)?.is_none() {
                return Err(StoreError::NoSuchBucket);
            }
            if std::fs::read_dir(dir.join("objects"))?.next().is_some() {
                return Err(StoreError::BucketNotEmpty);
            }
            // GETs still streaming objects deleted before keep their parts.
            pins.evacuate(&dir.join("data"), &holding)?;
            // Move it aside first: the name is free at once, the removal may lag.
            std::fs::rename(&dir, &aside)?;
            drop(keys);
            std::fs::remove_dir_all(&aside)?;
            Ok(())
        })
        .await;
        if !matches!(
            result,
            Err(StoreError::BucketNotEmpty | StoreError::NoSuchBucket)
        ) {
            self.bucket_replaced(bucket);
        }
        result
    }

    /// Set the bucket policy.
    pub async fn put_policy(&self, bucket: &str, text: &str) -> Result<(), StoreError> {
        let target = self.bucket_dir(bucket).join("policy.json");
        let temp = self.temp_path()?;
        let text = text.as_bytes().to_vec();
        let result = blocking(move || write_atomic(&temp, &target, &text)).await;
        self.bucket_changed();
        result
    }

    /// Remove the bucket policy.
    pub async fn delete_policy(&self, bucket: &str) -> Result<(), StoreError> {
        let path = self.bucket_dir(bucket).join("policy.json");
        let result = blocking(move || {
            unless_missing(std::fs::remove_file(&path))?;
            Ok(())
        })
        .await;
        self.bucket_changed();
        result
    }

    /// Start writing an object.
    pub async fn begin_object(&self) -> Result<PendingObject, StoreError> {
        let path = self.temp_path()?;
        blocking(move || PendingObject::create(path)).await
    }

    /// A new (uncommitted) object holding a copy of the data of
    /// `bucket/key`, with the source's metadata; `None` when the source
    /// does not exist.
    pub async fn copy_object_data(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(ObjectMeta, PendingObject)>, StoreError> {
        let source = self.object_path(bucket, key);
        let key = key.to_owned();
        let temp = self.temp_path()?;
        let pins = Arc::clone(&self.pins);
        blocking(move || {
            for _ in 0..READ_ATTEMPTS {
                let Some(object) = read_object_file(&source, &key)? else {
                    return Ok(None);
                };
                let mut meta = ObjectMeta::clone(&object.meta);
                meta.parts = None;
                let files = match object.data {
                    ObjectData::Inline(data) => {
                        let mut pending = PendingObject::create(temp)?;
                        pending.write(&data)?;
                        return Ok(Some((meta, pending)));
                    }
                    ObjectData::File(file) => vec![(PartFile::Open(file), meta.size)],
                    ObjectData::Parts(list) => match pin_parts(&pins, list, 0..meta.size)? {
                        Some(pinned) => pinned.files,
                        None => continue,
                    },
                };
                let mut pending = PendingObject::create(temp)?;
                for (file, len) in files {
                    let mut file = file.open()?;
                    file.seek(SeekFrom::Start(0))?;
                    pending.copy_from(&file, len)?;
                }
                return Ok(Some((meta, pending)));
            }
            Err(replaced_while_read())
        })
        .await
    }

    /// Make a finished upload visible as `bucket/key` with `meta`.
    pub async fn commit_object(
        &self,
        pending: PendingObject,
        bucket: &str,
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        let objects = self.objects_dir(bucket);
        let index = self.index(bucket);
        let cache = Arc::clone(&self.cache);
        let pins = Arc::clone(&self.pins);
        let bucket = bucket.to_owned();
        let meta = meta.clone();
        blocking(move || {
            let mut pending = pending;
            pending.seal(&meta)?;
            let target = objects.join(object_file_name(&meta.key));
            let replaced = {
                let mut keys = index.lock();
                let replaced = part_dir_of(&target);
                pending.publish(&target).map_err(|e| match e {
                    StoreError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        StoreError::NoSuchBucket
                    }
                    other => other,
                })?;
                cache.invalidate(&bucket, &meta.key);
                if let Some(keys) = keys.as_mut() {
                    keys.insert(meta.key);
                }
                replaced
            };
            sync_dir(&objects);
            pins.retire(replaced);
            Ok(())
        })
        .await
    }

    /// Open `bucket/key` for a GET, with the data of a small object read
    /// in the same call; `None` when it does not exist.
    ///
    /// This blocks the calling thread, on purpose: it is an `open`, an
    /// `fstat` and one read of at most [`INLINE_FILE_BYTES`] (or two small
    /// reads of a larger file's footer), microseconds when the file is in
    /// the page cache, while a trip through the blocking pool costs two
    /// thread wake-ups and was most of the time of a small GET. A larger
    /// object's data is then streamed from the blocking pool. Small objects
    /// are kept in the [`ObjectCache`], and served from it while unchanged.
    pub fn read_object(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, StoreError> {
        if let Some(hit) = self.cache.get(bucket, key) {
            return Ok(Some(StoredObject {
                meta: Arc::clone(&hit.meta),
                data: ObjectData::Inline(hit.data.clone()),
            }));
        }
        let mark = self.cache.change_mark();
        let object = read_object_file(&self.object_path(bucket, key), key)?;
        if let Some(StoredObject {
            meta,
            data: ObjectData::Inline(data),
        }) = &object
        {
            // An exact copy: the read buffer also holds the metadata JSON.
            let cached = CachedObject {
                meta: Arc::clone(meta),
                data: Bytes::copy_from_slice(data),
            };
            self.cache.insert(mark, bucket, Arc::new(cached));
        }
        Ok(object)
    }

    /// The part files a read of `range` of a multipart object needs, and
    /// the object offset of the first ([`pin_parts`]); `None` when the
    /// object was replaced since [`BuiltinStore::read_object`]: read it
    /// again (at most [`READ_ATTEMPTS`] times).
    pub fn pin_parts(
        &self,
        list: PartList,
        range: std::ops::Range<u64>,
    ) -> Result<Option<PinnedParts>, StoreError> {
        pin_parts(&self.pins, list, range)
    }

    /// Delete `bucket/key` (no error when it does not exist, as S3).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let path = self.object_path(bucket, key);
        let index = self.index(bucket);
        let cache = Arc::clone(&self.cache);
        let pins = Arc::clone(&self.pins);
        let bucket = bucket.to_owned();
        let key = key.to_owned();
        blocking(move || {
            let mut keys = index.lock();
            let replaced = part_dir_of(&path);
            let removed = unless_missing(std::fs::remove_file(&path));
            cache.invalidate(&bucket, &key);
            removed?;
            if let Some(keys) = keys.as_mut() {
                keys.remove(&key);
            }
            drop(keys);
            pins.retire(replaced);
            Ok(())
        })
        .await
    }

    /// One page of the keys of `bucket` (ListObjectsV2): entries chosen from
    /// the key index, metadata read for the returned objects only.
    pub async fn list_objects(
        &self,
        bucket: &str,
        query: ListQuery,
    ) -> Result<ListPage, StoreError> {
        let objects = self.objects_dir(bucket);
        let index = self.index(bucket);
        blocking(move || {
            let (entries, truncated) = {
                let mut keys = index.lock();
                walk(loaded(&mut keys, &objects)?, &query)
            };
            let mut page = ListPage {
                truncated,
                last: entries.last().cloned(),
                ..ListPage::default()
            };
            for entry in entries {
                match entry {
                    ListEntry::Key(key) => {
                        if let Some(meta) = read_listed_meta(&objects, &key) {
                            page.contents.push(meta);
                        }
                    }
                    ListEntry::CommonPrefix(common) => page.common_prefixes.push(common),
                }
            }
            Ok(page)
        })
        .await
    }

    fn upload_dir(&self, bucket: &str, upload_id: &str) -> Result<PathBuf, StoreError> {
        if !valid_upload_id(upload_id) {
            return Err(StoreError::NoSuchUpload);
        }
        Ok(self.bucket_dir(bucket).join("uploads").join(upload_id))
    }

    /// Start a multipart upload of `object` (its key and metadata).
    pub async fn create_upload(
        &self,
        bucket: &str,
        object: ObjectMeta,
    ) -> Result<UploadMeta, StoreError> {
        let mut bytes = [0u8; 16];
        self.rng
            .fill(&mut bytes)
            .map_err(|_| StoreError::Io(std::io::Error::other("rng failed")))?;
        let upload_id = hex::encode(bytes);
        let uploads = self.bucket_dir(bucket).join("uploads");
        let dir = uploads.join(&upload_id);
        let meta = UploadMeta {
            upload_id,
            initiated: now_unix(),
            object,
        };
        let json = serde_json::to_vec(&meta).map_err(|_| StoreError::Corrupt("upload meta"))?;
        let temp = self.temp_path()?;
        blocking(move || {
            std::fs::create_dir_all(&uploads)?;
            std::fs::create_dir(&dir)?;
            write_atomic(&temp, &dir.join("upload.json"), &json)
        })
        .await?;
        Ok(meta)
    }

    /// A multipart upload's metadata.
    pub async fn upload(&self, bucket: &str, upload_id: &str) -> Result<UploadMeta, StoreError> {
        let dir = self.upload_dir(bucket, upload_id)?;
        blocking(move || read_upload_meta(&dir)?.ok_or(StoreError::NoSuchUpload)).await
    }

    /// Every multipart upload of `bucket`, by key then initiation.
    pub async fn list_uploads(&self, bucket: &str) -> Result<Vec<UploadMeta>, StoreError> {
        let uploads = self.bucket_dir(bucket).join("uploads");
        blocking(move || {
            let mut out = Vec::new();
            let Some(entries) = unless_missing(std::fs::read_dir(&uploads))? else {
                return Ok(out);
            };
            for entry in entries {
                let entry = entry?;
                let Ok(id) = entry.file_name().into_string() else {
                    continue;
                };
                if !valid_upload_id(&id) {
                    continue;
                }
                if let Some(meta) = read_upload_meta(&entry.path())? {
                    out.push(meta);
                }
            }
            out.sort_by(|a, b| {
                (a.object.key.as_bytes(), a.initiated).cmp(&(b.object.key.as_bytes(), b.initiated))
            });
            Ok(out)
        })
        .await
    }

    /// Make a finished part visible as part `number` of the upload.
    pub async fn commit_part(
        &self,
        pending: PendingObject,
        bucket: &str,
        upload_id: &str,
        number: u32,
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        let dir = self.upload_dir(bucket, upload_id)?;
        let meta = meta.clone();
        blocking(move || {
            let mut pending = pending;
            pending.seal(&meta)?;
            pending
                .publish(&dir.join(format!("part-{number:05}")))
                .map_err(|e| match e {
                    StoreError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        StoreError::NoSuchUpload
                    }
                    other => other,
                })?;
            sync_dir(&dir);
            Ok(())
        })
        .await
    }

    /// The upload's parts (number, metadata), by number.
    pub async fn list_parts(
        &self,
        bucket: &str,
        upload_id: &str,
    ) -> Result<Vec<(u32, ObjectMeta)>, StoreError> {
        let dir = self.upload_dir(bucket, upload_id)?;
        blocking(move || {
            let Some(entries) = unless_missing(std::fs::read_dir(&dir))? else {
                return Err(StoreError::NoSuchUpload);
            };
            let mut out = Vec::new();
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name();
                let Some(number) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix("part-"))
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                let Some(mut file) = unless_missing(File::open(entry.path()))? else {
                    continue;
                };
                out.push((number, read_meta(&mut file)?));
            }
            out.sort_by_key(|(n, _)| *n);
            Ok(out)
        })
        .await
    }

    /// Make the completed upload `upload_id` visible as the object
    /// `meta.key`: the parts not in `parts` (number, size) are removed, the
    /// upload's directory becomes the object's data directory, and the
    /// object file records the parts in the order given. No data is copied.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        upload_id: &str,
        parts: Vec<(u32, u64)>,
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        let upload_dir = self.upload_dir(bucket, upload_id)?;
        let data = self.bucket_dir(bucket).join("data");
        let objects = self.objects_dir(bucket);
        let file_name = object_file_name(&meta.key);
        let part_dir = data.join(part_dir_name(&file_name, upload_id));
        let target = objects.join(file_name);
        let temp = self.temp_path()?;
        let index = self.index(bucket);
        let cache = Arc::clone(&self.cache);
        let pins = Arc::clone(&self.pins);
        let bucket = bucket.to_owned();
        let mut meta = meta.clone();
        meta.size = parts.iter().map(|(_, len)| len).sum();
        let chosen: HashSet<String> = parts
            .iter()
            .map(|(number, _)| format!("part-{number:05}"))
            .collect();
        meta.parts = Some(PartData {
            upload_id: upload_id.to_owned(),
            parts,
        });
        blocking(move || {
            // Claim the upload first: of two completions racing, or a
            // completion and an UploadPart, the loser finds no upload
            // (NoSuchUpload) instead of changing the parts under the winner.
            // A crash from here until the object is published leaves a
            // directory in `data/` that no object names but that still holds
            // `upload.json`: the next start moves it back to `uploads/`, so
            // the client's retry of the completion finds its upload.
            std::fs::create_dir_all(&data)?;
            unless_missing(std::fs::rename(&upload_dir, &part_dir))?
                .ok_or(StoreError::NoSuchUpload)?;
            sync_dir(&data);
            let published = (|| {
                for entry in std::fs::read_dir(&part_dir)? {
                    let entry = entry?;
                    let name = entry.file_name();
                    let keep = name
                        .to_str()
                        .is_some_and(|n| n == "upload.json" || chosen.contains(n));
                    if !keep {
                        unless_missing(std::fs::remove_file(entry.path()))?;
                    }
                }
                let mut pending = PendingObject::create(temp)?;
                pending.seal(&meta)?;
                let mut keys = index.lock();
                let replaced = part_dir_of(&target);
                pending.publish(&target)?;
                cache.invalidate(&bucket, &meta.key);
                if let Some(keys) = keys.as_mut() {
                    keys.insert(meta.key);
                }
                Ok::<_, StoreError>(replaced)
            })();
            let replaced = match published {
                Ok(replaced) => replaced,
                Err(error) => {
                    // Not published: the upload goes back, for a retry.
                    let _ = std::fs::rename(&part_dir, &upload_dir);
                    return Err(error);
                }
            };
            sync_dir(&objects);
            if let Some(uploads) = upload_dir.parent() {
                sync_dir(uploads);
            }
            // Published: the upload is over. (Should a crash or an error
            // keep this file, the next start removes it, as the directory
            // is in use.)
            if let Err(error) = std::fs::remove_file(part_dir.join("upload.json")) {
                tracing::warn!(%error, "removing a completed upload's record failed");
            }
            pins.retire(replaced);
            Ok(())
        })
        .await
    }

    /// Remove an upload and its parts.
    pub async fn remove_upload(&self, bucket: &str, upload_id: &str) -> Result<(), StoreError> {
        let dir = self.upload_dir(bucket, upload_id)?;
        let aside = self.temp_path()?;
        blocking(move || {
            unless_missing(std::fs::rename(&dir, &aside))?.ok_or(StoreError::NoSuchUpload)?;
            std::fs::remove_dir_all(&aside)?;
            Ok(())
        })
        .await
    }
}

/// Write `data` to `temp`, fsync, rename to `target` (blocking).
fn write_atomic(temp: &Path, target: &Path, data: &[u8]) -> Result<(), StoreError> {
    let mut file = File::create(temp)?;
    file.write_all(data)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(temp, target)?;
    Ok(())
}

/// Make a rename in `dir` durable; best effort (the data itself is synced).
fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

fn read_bucket_meta(dir: &Path) -> Result<Option<BucketMeta>, StoreError> {
    match unless_missing(std::fs::read(dir.join("bucket.json")))? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| StoreError::Corrupt("bucket meta")),
        None => Ok(None),
    }
}

fn read_upload_meta(dir: &Path) -> Result<Option<UploadMeta>, StoreError> {
    match unless_missing(std::fs::read(dir.join("upload.json")))? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| StoreError::Corrupt("upload meta")),
        None => Ok(None),
    }
}

/// The metadata of an object file (blocking).
pub(crate) fn read_meta(file: &mut File) -> Result<ObjectMeta, StoreError> {
    let total = file.metadata()?.len();
    let footer_at = total
        .checked_sub(FOOTER)
        .ok_or(StoreError::Corrupt("object file too short"))?;
    file.seek(SeekFrom::Start(footer_at))?;
    let mut footer = [0u8; FOOTER as usize];
    file.read_exact(&mut footer)?;
    let len = meta_len(total, &footer)?;
    file.seek(SeekFrom::Start(footer_at - u64::from(len)))?;
    let mut json = vec![0u8; len as usize];
    file.read_exact(&mut json)?;
    parse_meta(total, len, &json)
}

/// The metadata of a listed key; `None` (and a warning for damage) when it
/// cannot be read: deleted since the index was walked, or damaged.
fn read_listed_meta(objects: &Path, key: &str) -> Option<ObjectMeta> {
    let path = objects.join(object_file_name(key));
    let mut file = File::open(&path).ok()?;
    match read_meta(&mut file) {
        Ok(meta) if meta.key == key => Some(meta),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "skipping a damaged object file");
            None
        }
    }
}

/// Reads of an object that give up when it is replaced this many times
/// in a row between reading its file and pinning its parts.
pub const READ_ATTEMPTS: usize = 3;

/// The error when [`READ_ATTEMPTS`] reads all lost to a replacement.
pub fn replaced_while_read() -> StoreError {
    StoreError::Io(std::io::Error::other("object replaced while being opened"))
}

/// The object in the file at `path` if it holds `key` (blocking). A
/// multipart object's parts are not opened ([`PartList`]).
fn read_object_file(path: &Path, key: &str) -> Result<Option<StoredObject>, StoreError> {
    let Some(mut file) = unless_missing(File::open(path))? else {
        return Ok(None);
    };
    let total = file.metadata()?.len();
    let mut inline = None;
    let meta = if total <= INLINE_FILE_BYTES {
        let mut whole = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        (&file).take(total).read_to_end(&mut whole)?;
        let meta = meta_from_whole_file(&whole)?;
        let size = usize::try_from(meta.size).map_err(|_| StoreError::Corrupt("object size"))?;
        if meta.parts.is_none() {
            if size > whole.len() {
                return Err(StoreError::Corrupt("object file shorter than its size"));
            }
            inline = Some(Bytes::from(whole).slice(..size));
        }
        meta
    } else {
        read_meta(&mut file)?
    };
    if meta.key != key {
        return Ok(None);
    }
    let data = match (inline, &meta.parts) {
        (Some(bytes), _) => ObjectData::Inline(bytes),
        (None, None) => ObjectData::File(file),
        (None, Some(parts)) => ObjectData::Parts(PartList {
            object: path.to_owned(),
            file,
            data: parts.clone(),
        }),
    };
    Ok(Some(StoredObject {
        meta: Arc::new(meta),
        data,
    }))
}

/// `buckets/<bucket>/data/<object file>-<upload id>` for the object file
/// at `object` (`buckets/<bucket>/objects/<object file>`).
fn part_dir(object: &Path, upload_id: &str) -> Option<PathBuf> {
    let file_name = object.file_name()?.to_str()?;
    let bucket = object.parent()?.parent()?;
    valid_upload_id(upload_id).then(|| {
        bucket
            .join("data")
            .join(part_dir_name(file_name, upload_id))
    })
}

/// The part files of a multipart object that hold bytes of `range`, each
/// to be opened when a read reaches it, their directory pinned (no I/O but
/// one `stat`), and the object offset of the first. `None` when the object
/// was replaced since its file was read: read it again.
fn pin_parts(
    pins: &Arc<PartPins>,
    list: PartList,
    range: std::ops::Range<u64>,
) -> Result<Option<PinnedParts>, StoreError> {
    use std::os::unix::fs::MetadataExt;

    let dir =
        part_dir(&list.object, &list.data.upload_id).ok_or(StoreError::Corrupt("object parts"))?;
    let pin = Arc::new(pins.pin(dir.clone()));
    // Pinned, then checked: if the path still names the file that was
    // read, whoever replaces it later finds the pin (crate::part_pins).
    let read = list.file.metadata()?;
    match unless_missing(std::fs::metadata(&list.object))? {
        Some(now) if now.ino() == read.ino() && now.dev() == read.dev() => {}
        _ => return Ok(None),
    }
    let mut files = Vec::new();
    let (mut offset, mut first) = (0u64, None);
    for (number, len) in &list.data.parts {
        let end = offset.saturating_add(*len);
        if end > range.start && offset < range.end {
            first.get_or_insert(offset);
            let path = dir.join(format!("part-{number:05}"));
            files.push((PartFile::Later(path, Arc::clone(&pin)), *len));
        }
        offset = end;
    }
    Ok(Some(PinnedParts {
        files,
        first: first.unwrap_or(range.start),
    }))
}

/// The part directory of the object file at `object`, if it is a
/// multipart object (blocking; read before the file is replaced or removed).
fn part_dir_of(object: &Path) -> Option<PathBuf> {
    let mut file = File::open(object).ok()?;
    let meta = read_meta(&mut file).ok()?;
    part_dir(object, &meta.parts?.upload_id)
}

/// Entries of `tmp/` untouched this long are what a crash or a kill left
/// behind (an upload's temp file, a deleted bucket still being removed):
/// a live upload writes its file at least every [`crate::body::BODY_IDLE_TIMEOUT`].
/// The age spares the files of another process sharing the directory.
const TMP_MAX_AGE: Duration = Duration::from_secs(3600);

/// Remove what a crash left in `tmp/` (blocking; at start-up; best effort).
fn sweep_tmp(tmp: &Path, now: SystemTime) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let modified = meta.modified().unwrap_or(now);
        if now.duration_since(modified).unwrap_or_default() < TMP_MAX_AGE {
            continue;
        }
        let path = entry.path();
        let removed = if meta.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if let Err(error) = removed {
            tracing::warn!(%error, path = %path.display(), "removing a leftover temp file failed");
        }
    }
}

/// Tidy `buckets/*/data/` (blocking; at start-up). A part directory no
/// object file names is either a completion a crash interrupted between
/// its two renames (it still holds `upload.json`: it goes back to
/// `uploads/`, so the completion can be retried) or the parts of an object
/// since overwritten or deleted (removed). A directory in use loses any
/// `upload.json` a crash left in it.
fn sweep_part_dirs(buckets: &Path) -> Result<(), StoreError> {
    for bucket in std::fs::read_dir(buckets)? {
        let bucket = bucket?.path();
        let Some(entries) = unless_missing(std::fs::read_dir(bucket.join("data")))? else {
            continue;
        };
        for entry in entries {
            let dir = entry?.path();
            let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let Some((object_file, upload_id)) = name.split_once('-') else {
                remove_part_dir(&dir);
                continue;
            };
            let object = bucket.join("objects").join(object_file);
            let upload_meta = dir.join("upload.json");
            if part_dir_of(&object).is_some_and(|used| used == dir) {
                unless_missing(std::fs::remove_file(&upload_meta))?;
                continue;
            }
            let upload = bucket.join("uploads").join(upload_id);
            if valid_upload_id(upload_id) && upload_meta.is_file() && !upload.exists() {
                tracing::info!(dir = %dir.display(), "restoring an upload whose completion was interrupted");
                std::fs::create_dir_all(bucket.join("uploads"))?;
                std::fs::rename(&dir, &upload)?;
                continue;
            }
            tracing::info!(dir = %dir.display(), "removing unused object parts");
            remove_part_dir(&dir);
        }
    }
    Ok(())
}

/// The metadata of an object file read whole into `whole`.
fn meta_from_whole_file(whole: &[u8]) -> Result<ObjectMeta, StoreError> {
    let total = whole.len() as u64;
    let footer_at = total
        .checked_sub(FOOTER)
        .ok_or(StoreError::Corrupt("object file too short"))?;
    let footer: &[u8; FOOTER as usize] = whole
        .get(footer_at as usize..)
        .and_then(|f| f.try_into().ok())
        .ok_or(StoreError::Corrupt("object file too short"))?;
    let len = meta_len(total, footer)?;
    let json = whole
        .get((footer_at - u64::from(len)) as usize..footer_at as usize)
        .ok_or(StoreError::Corrupt("object meta length"))?;
    parse_meta(total, len, json)
}

/// The metadata length a footer declares, checked against the file size.
fn meta_len(total: u64, footer: &[u8; FOOTER as usize]) -> Result<u32, StoreError> {
    if footer.get(4..) != Some(MAGIC.as_slice()) {
        return Err(StoreError::Corrupt("object file magic"));
    }
    let len = u32::from_be_bytes([footer[0], footer[1], footer[2], footer[3]]);
    if len > MAX_META || u64::from(len) + FOOTER > total {
        return Err(StoreError::Corrupt("object meta length"));
    }
    Ok(len)
}

/// The metadata JSON of an object file of `total` bytes.
fn parse_meta(total: u64, len: u32, json: &[u8]) -> Result<ObjectMeta, StoreError> {
    let meta: ObjectMeta =
        serde_json::from_slice(json).map_err(|_| StoreError::Corrupt("object meta"))?;
    if meta.stored_len().checked_add(u64::from(len) + FOOTER) != Some(total) {
        return Err(StoreError::Corrupt("object size"));
    }
    if let Some(data) = &meta.parts {
        let sum = data
            .parts
            .iter()
            .try_fold(0u64, |sum, (_, len)| sum.checked_add(*len));
        if sum != Some(meta.size) {
            return Err(StoreError::Corrupt("object parts"));
        }
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket.1", "a1b"] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "..",
            "a..b",
            "ABC",
            "a_b",
            "-ab",
            "ab-",
            "a/b",
            "192.168.0.1",
            "../x",
            "a%2fb",
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }

    #[test]
    fn object_files_are_named_by_the_hex_sha256_of_the_key() {
        // The on-disk layout: a different name would orphan stored objects.
        assert_eq!(
            object_file_name("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    async fn put(store: &BuiltinStore, bucket: &str, key: &str, body: &[u8]) {
        let mut pending = store.begin_object().await.unwrap();
        pending.write(body).unwrap();
        let meta = ObjectMeta {
            key: key.into(),
            size: body.len() as u64,
            etag: format!("etag-{}", body.len()),
            ..ObjectMeta::default()
        };
        store.commit_object(pending, bucket, &meta).await.unwrap();
    }

    async fn read_all(store: &BuiltinStore, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let object = store.read_object(bucket, key).unwrap()?;
        Some(match object.data {
            ObjectData::Inline(bytes) => bytes.to_vec(),
            ObjectData::File(mut file) => {
                let mut data = vec![0u8; usize::try_from(object.meta.size).unwrap()];
                file.seek(SeekFrom::Start(0)).unwrap();
                file.read_exact(&mut data).unwrap();
                data
            }
            ObjectData::Parts(list) => {
                let mut data = Vec::new();
                let pinned = store.pin_parts(list, 0..u64::MAX).unwrap().unwrap();
                for (file, len) in pinned.files {
                    (&file.open().unwrap())
                        .take(len)
                        .read_to_end(&mut data)
                        .unwrap();
                }
                data
            }
        })
    }

    /// A multipart upload of `parts` to `bucket/key`, completed with the
    /// parts numbered in `chosen` (in that order); the upload id.
    async fn multipart(
        store: &BuiltinStore,
        bucket: &str,
        key: &str,
        parts: &[&[u8]],
        chosen: &[u32],
    ) -> String {
        let object = ObjectMeta {
            key: key.into(),
            ..ObjectMeta::default()
        };
        let upload = store.create_upload(bucket, object.clone()).await.unwrap();
        for (i, data) in parts.iter().enumerate() {
            let mut pending = store.begin_object().await.unwrap();
            pending.write(data).unwrap();
            let meta = ObjectMeta {
                size: data.len() as u64,
                ..ObjectMeta::default()
            };
            let number = u32::try_from(i + 1).unwrap();
            store
                .commit_part(pending, bucket, &upload.upload_id, number, &meta)
                .await
                .unwrap();
        }
        let sizes = chosen
            .iter()
            .map(|n| (*n, parts[*n as usize - 1].len() as u64))
            .collect();
        store
            .complete_upload(bucket, &upload.upload_id, sizes, &object)
            .await
            .unwrap();
        upload.upload_id
    }

    fn part_dirs(root: &Path, bucket: &str) -> BTreeSet<String> {
        match std::fs::read_dir(root.join("buckets").join(bucket).join("data")) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect(),
            Err(_) => BTreeSet::new(),
        }
    }

    #[tokio::test]
    async fn a_completed_upload_keeps_its_chosen_parts_in_place_without_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s3");
        let store = BuiltinStore::open(&root).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        let large = vec![7u8; 100_000];
        let id = multipart(&store, "bkt", "k", &[b"one-", &large, b"three"], &[1, 3]).await;
        // Part 2 was not chosen: it is gone; the upload is no longer listed.
        let expected = [&b"one-"[..], b"three"].concat();
        assert_eq!(read_all(&store, "bkt", "k").await.unwrap(), expected);
        let object = store.read_object("bkt", "k").unwrap().unwrap();
        assert!(matches!(&object.data, ObjectData::Parts(list) if list.data.parts.len() == 2));
        assert_eq!(object.meta.size, 9);
        let dirs = part_dirs(&root, "bkt");
        assert_eq!(dirs.len(), 1);
        let part_dir = root.join("buckets/bkt/data").join(dirs.first().unwrap());
        let mut files: Vec<String> = std::fs::read_dir(&part_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files, ["part-00001", "part-00003"]);
        assert!(dirs.first().unwrap().ends_with(&id));
        assert!(store.list_uploads("bkt").await.unwrap().is_empty());
        assert!(matches!(
            store.upload("bkt", &id).await,
            Err(StoreError::NoSuchUpload)
        ));

        // Listed with its full size; copied into one ordinary object.
        let page = store
            .list_objects(
                "bkt",
                ListQuery {
                    max_keys: 10,
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.contents[0].size, 9);
        let (meta, pending) = store.copy_object_data("bkt", "k").await.unwrap().unwrap();
        assert!(meta.parts.is_none());
        store
            .commit_object(
                pending,
                "bkt",
                &ObjectMeta {
                    key: "copy".into(),
                    ..meta
                },
            )
            .await
            .unwrap();
        assert!(matches!(
            store.read_object("bkt", "copy").unwrap().unwrap().data,
            ObjectData::Inline(_)
        ));
        assert_eq!(read_all(&store, "bkt", "copy").await.unwrap(), expected);

        // Overwritten by a PUT, then again by an upload, then deleted: each
        // time the replaced parts go with the object.
        put(&store, "bkt", "k", b"plain").await;
        assert!(part_dirs(&root, "bkt").is_empty());
        multipart(&store, "bkt", "k", &[b"a", b"b"], &[1, 2]).await;
        let second = multipart(&store, "bkt", "k", &[b"c", b"d"], &[2, 1]).await;
        assert_eq!(read_all(&store, "bkt", "k").await.unwrap(), b"dc");
        let dirs = part_dirs(&root, "bkt");
        assert_eq!(dirs.len(), 1);
        assert!(dirs.first().unwrap().ends_with(&second));
        store.delete_object("bkt", "k").await.unwrap();
        assert!(part_dirs(&root, "bkt").is_empty());
        assert!(read_all(&store, "bkt", "k").await.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parts_are_opened_when_the_stream_reaches_them_even_after_an_overwrite() {
        use http_body_util::BodyExt;

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s3");
        let store = BuiltinStore::open(&root).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        let parts: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 1000 + usize::from(i)]).collect();
        let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let numbers: Vec<u32> = (1..=slices.len() as u32).collect();
        multipart(&store, "bkt", "k", &slices, &numbers).await;
        let whole = parts.concat();
        let object = store.read_object("bkt", "k").unwrap().unwrap();
        let files = match object.data {
            ObjectData::Parts(list) => store.pin_parts(list, 0..u64::MAX).unwrap().unwrap().files,
            _ => Vec::new(),
        };
        assert_eq!(files.len(), parts.len());
        assert!(files.iter().all(|(f, _)| matches!(f, PartFile::Later(..))));
        // Overwritten before the stream reaches the parts: they stay until
        // the stream is done with them.
        let old_dirs = part_dirs(&root, "bkt");
        put(&store, "bkt", "k", b"new").await;
        assert_eq!(part_dirs(&root, "bkt"), old_dirs);
        // A range from inside one part to inside a later one.
        let (start, end) = (31_000u64, whole.len() as u64 - 500);
        let body =
            crate::response::FileBody::new(files, start, end - start, Arc::clone(store.buffers()));
        let got = body.collect().await.unwrap().to_bytes();
        assert!(got.as_ref() == &whole[start as usize..end as usize]);
        // The last reader removes the directory (on the blocking pool).
        for _ in 0..100 {
            if part_dirs(&root, "bkt").is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(part_dirs(&root, "bkt").is_empty());
        assert_eq!(read_all(&store, "bkt", "k").await.unwrap(), b"new");
    }

    #[tokio::test]
    async fn reading_a_multipart_object_opens_no_part_until_its_parts_are_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s3");
        let store = BuiltinStore::open(&root).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        multipart(&store, "bkt", "k", &[b"ab", b"cd"], &[1, 2]).await;
        // What a HEAD reads: the metadata, with the part directory gone
        // (nothing in it was touched).
        let parts_dir = root
            .join("buckets/bkt/data")
            .join(part_dirs(&root, "bkt").pop_first().unwrap());
        let hidden = root.join("hidden");
        std::fs::rename(&parts_dir, &hidden).unwrap();
        let object = store.read_object("bkt", "k").unwrap().unwrap();
        assert_eq!(object.meta.size, 4);
        std::fs::rename(&hidden, &parts_dir).unwrap();
        let ObjectData::Parts(list) = object.data else {
            panic!("a multipart object reads as its parts");
        };
        // Only the parts a range needs, from the first one's offset.
        let pinned = store.pin_parts(list, 3..4).unwrap().unwrap();
        assert_eq!((pinned.files.len(), pinned.first), (1, 2));
        // Replaced between the read and the pin: read it again.
        let object = store.read_object("bkt", "k").unwrap().unwrap();
        put(&store, "bkt", "k", b"new").await;
        let ObjectData::Parts(list) = object.data else {
            panic!("a multipart object reads as its parts");
        };
        assert!(store.pin_parts(list, 0..4).unwrap().is_none());
        assert_eq!(read_all(&store, "bkt", "k").await.unwrap(), b"new");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_get_streaming_a_deleted_object_survives_the_deletion_of_its_bucket() {
        use http_body_util::BodyExt;

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s3");
        let store = BuiltinStore::open(&root).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        let parts: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 70_000]).collect();
        let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        multipart(&store, "bkt", "k", &slices, &[1, 2, 3]).await;
        let object = store.read_object("bkt", "k").unwrap().unwrap();
        let ObjectData::Parts(list) = object.data else {
            panic!("a multipart object reads as its parts");
        };
        let pinned = store.pin_parts(list, 0..210_000).unwrap().unwrap();
        // The object and then its bucket go before the stream opens a part.
        store.delete_object("bkt", "k").await.unwrap();
        store.delete_bucket("bkt").await.unwrap();
        assert!(store.bucket("bkt").await.unwrap().is_none());
        let body =
            crate::response::FileBody::new(pinned.files, 0, 210_000, Arc::clone(store.buffers()));
        let got = body.collect().await.unwrap().to_bytes();
        assert!(got.as_ref() == parts.concat().as_slice());
        // The last reader removed the parts from where the deletion put them.
        let mut empty = false;
        for _ in 0..100 {
            let holding: Vec<_> = std::fs::read_dir(root.join("tmp")).unwrap().collect();
            empty = holding.iter().all(|entry| {
                std::fs::read_dir(entry.as_ref().unwrap().path())
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(true)
            });
            if empty {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(empty, "the parts were left behind");
    }

    #[test]
    fn leftovers_in_tmp_are_removed_once_an_hour_old() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        std::fs::write(tmp.join("upload"), b"half an object").unwrap();
        std::fs::create_dir(tmp.join("aside")).unwrap();
        std::fs::write(tmp.join("aside").join("bucket.json"), b"{}").unwrap();
        let now = SystemTime::now();
        // Fresh: maybe another process's upload in progress.
        sweep_tmp(&tmp, now + TMP_MAX_AGE - Duration::from_secs(60));
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 2);
        sweep_tmp(&tmp, now + TMP_MAX_AGE + Duration::from_secs(60));
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn opening_the_store_removes_part_directories_no_object_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s3");
        let store = BuiltinStore::open(&root).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        multipart(&store, "bkt", "kept", &[b"x"], &[1]).await;
        let kept = part_dirs(&root, "bkt");
        // What a crash between a completion's renames leaves behind, and
        // a directory of an object since overwritten.
        let data = root.join("buckets/bkt/data");
        let orphan = part_dir_name(&object_file_name("never"), &"a".repeat(32));
        let stale = part_dir_name(&object_file_name("kept"), &"b".repeat(32));
        for name in [&orphan, &stale] {
            std::fs::create_dir(data.join(name)).unwrap();
            std::fs::write(data.join(name).join("part-00001"), b"x").unwrap();
        }
        std::fs::create_dir(data.join("junk")).unwrap();
        // A completion that published its object but crashed before it
        // removed the upload's record.
        let kept_dir = data.join(kept.first().unwrap());
        std::fs::write(kept_dir.join("upload.json"), b"{}").unwrap();
        drop(store);
        let store = BuiltinStore::open(&root).await.unwrap();
        assert_eq!(part_dirs(&root, "bkt"), kept);
        assert!(!kept_dir.join("upload.json").exists());
        assert_eq!(read_all(&store, "bkt", "kept").await.unwrap(), b"x");
        assert!(store.list_uploads("bkt").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_completion_cut_short_between_its_renames_can_be_retried_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s3");
        let store = BuiltinStore::open(&root).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        let object = ObjectMeta {
            key: "k".into(),
            ..ObjectMeta::default()
        };
        let upload = store.create_upload("bkt", object.clone()).await.unwrap();
        for (number, data) in [(1, b"abc"), (2, b"def")] {
            let mut pending = store.begin_object().await.unwrap();
            pending.write(data).unwrap();
            let meta = ObjectMeta {
                size: 3,
                ..ObjectMeta::default()
            };
            store
                .commit_part(pending, "bkt", &upload.upload_id, number, &meta)
                .await
                .unwrap();
        }
        // The state after the upload directory moved to `data/` and before
        // the object file was published.
        let bucket = root.join("buckets/bkt");
        std::fs::create_dir_all(bucket.join("data")).unwrap();
        std::fs::rename(
            bucket.join("uploads").join(&upload.upload_id),
            bucket
                .join("data")
                .join(part_dir_name(&object_file_name("k"), &upload.upload_id)),
        )
        .unwrap();
        drop(store);

        let store = BuiltinStore::open(&root).await.unwrap();
        assert!(part_dirs(&root, "bkt").is_empty());
        let listed = store.list_uploads("bkt").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].upload_id, upload.upload_id);
        store
            .complete_upload("bkt", &upload.upload_id, vec![(1, 3), (2, 3)], &object)
            .await
            .unwrap();
        assert_eq!(read_all(&store, "bkt", "k").await.unwrap(), b"abcdef");
        assert!(store.list_uploads("bkt").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_multipart_object_whose_parts_are_missing_is_an_error_not_data() {
        use http_body_util::BodyExt;

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s3");
        let store = BuiltinStore::open(&root).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        multipart(&store, "bkt", "k", &[b"abc", b"def"], &[1, 2]).await;
        let data = root.join("buckets/bkt/data");
        let part_dir = data.join(part_dirs(&root, "bkt").first().unwrap());
        // The parts are opened as the stream reaches them: a short or a
        // missing one ends the stream with an error, never short data.
        let stream = |store: &BuiltinStore| {
            let object = store.read_object("bkt", "k").unwrap().unwrap();
            let ObjectData::Parts(list) = object.data else {
                panic!("a multipart object reads as its parts");
            };
            let pinned = store.pin_parts(list, 0..6).unwrap().unwrap();
            crate::response::FileBody::new(pinned.files, 0, 6, Arc::clone(store.buffers()))
        };
        std::fs::write(part_dir.join("part-00002"), b"d").unwrap();
        assert!(stream(&store).collect().await.is_err());
        std::fs::remove_file(part_dir.join("part-00002")).unwrap();
        assert!(stream(&store).collect().await.is_err());
    }

    #[tokio::test]
    async fn full_buffers_go_past_the_page_cache_and_the_rest_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = BuiltinStore::open(dir.path().join("s3")).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        let mut pending = store.begin_object().await.unwrap();
        // tmpfs and some others refuse O_DIRECT; there everything is buffered.
        let direct = pending.direct.is_some();
        let mut all = Vec::new();
        for i in 0..3u8 {
            let mut buffer = store.buffers().take();
            let data = vec![i; buffer.spare()];
            buffer.extend_from_slice(&data);
            pending.write(&buffer).unwrap();
            all.extend_from_slice(&data);
        }
        // A partial buffer, then a full one at an unaligned offset.
        pending.write(b"tail").unwrap();
        all.extend_from_slice(b"tail");
        let mut buffer = store.buffers().take();
        let data = vec![9; buffer.spare()];
        buffer.extend_from_slice(&data);
        pending.write(&buffer).unwrap();
        all.extend_from_slice(&data);
        assert_eq!(
            pending.direct.is_some(),
            direct,
            "the aligned writes were accepted"
        );
        let buffered = if direct { 4 + data.len() } else { all.len() };
        assert_eq!(
            pending.dirty, buffered as u64,
            "what went through the page cache"
        );
        let meta = ObjectMeta {
            key: "k".into(),
            size: all.len() as u64,
            etag: "etag".into(),
            ..ObjectMeta::default()
        };
        store.commit_object(pending, "bkt", &meta).await.unwrap();
        assert!(read_all(&store, "bkt", "k").await.unwrap() == all);
    }

    #[tokio::test]
    async fn an_object_past_several_writeback_steps_is_stored_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = BuiltinStore::open(dir.path().join("s3")).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        let piece = 1024 * 1024;
        let pieces = usize::try_from(WRITEBACK_STEP).unwrap() * 7 / 2 / piece;
        let mut pending = store.begin_object().await.unwrap();
        let mut all = Vec::with_capacity(pieces * piece);
        for i in 0..pieces {
            let data: Vec<u8> = (0..piece).map(|j| ((i * 31 + j) % 251) as u8).collect();
            pending.write(&data).unwrap();
            all.extend_from_slice(&data);
        }
        // Syncs were started on the way (each on a thread of its own).
        assert!(pending.writeback.is_some());
        let meta = ObjectMeta {
            key: "big".into(),
            size: all.len() as u64,
            etag: "etag-big".into(),
            ..ObjectMeta::default()
        };
        store.commit_object(pending, "bkt", &meta).await.unwrap();
        assert!(read_all(&store, "bkt", "big").await.unwrap() == all);
    }

    #[tokio::test]
    async fn object_round_trip_and_atomic_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let store = BuiltinStore::open(dir.path().join("s3")).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        assert!(matches!(
            store.create_bucket("bkt", "222").await,
            Err(StoreError::BucketExists { owner }) if owner == "111"
        ));
        for body in [&b"first"[..], b"second version"] {
            put(&store, "bkt", "../../etc/passwd", body).await;
        }
        assert_eq!(
            read_all(&store, "bkt", "../../etc/passwd").await.unwrap(),
            b"second version"
        );
        // Nothing was written outside the bucket's objects directory.
        assert!(!dir.path().join("etc").exists());
        let listed = store
            .list_objects(
                "bkt",
                ListQuery {
                    max_keys: 1000,
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(listed.contents.len(), 1);
        assert_eq!(listed.contents[0].etag, "etag-14");
        assert!(matches!(
            store.delete_bucket("bkt").await,
            Err(StoreError::BucketNotEmpty)
        ));
        store
            .delete_object("bkt", "../../etc/passwd")
            .await
            .unwrap();
        store.delete_bucket("bkt").await.unwrap();
        assert!(store.bucket("bkt").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn large_objects_are_read_from_their_file_small_ones_inline() {
        let dir = tempfile::tempdir().unwrap();
        let store = BuiltinStore::open(dir.path().join("s3")).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        let large: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        put(&store, "bkt", "large", &large).await;
        put(&store, "bkt", "small", b"tiny").await;
        let object = store.read_object("bkt", "large").unwrap().unwrap();
        assert!(matches!(object.data, ObjectData::File(_)));
        assert_eq!(read_all(&store, "bkt", "large").await.unwrap(), large);
        let object = store.read_object("bkt", "small").unwrap().unwrap();
        assert!(matches!(&object.data, ObjectData::Inline(b) if b.as_ref() == b"tiny"));
        assert!(store.read_object("bkt", "absent").unwrap().is_none());
    }

    #[tokio::test]
    async fn cached_small_objects_never_outlive_an_overwrite_or_a_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = BuiltinStore::open(dir.path().join("s3")).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        put(&store, "bkt", "k", b"one").await;
        assert_eq!(read_all(&store, "bkt", "k").await.unwrap(), b"one");
        assert!(store.cache.get("bkt", "k").is_some(), "kept after a read");
        assert_eq!(read_all(&store, "bkt", "k").await.unwrap(), b"one");
        put(&store, "bkt", "k", b"two, longer").await;
        assert!(
            store.cache.get("bkt", "k").is_none(),
            "dropped by the commit"
        );
        assert_eq!(read_all(&store, "bkt", "k").await.unwrap(), b"two, longer");
        store.delete_object("bkt", "k").await.unwrap();
        assert!(store.read_object("bkt", "k").unwrap().is_none());
        // A deleted and re-created bucket starts empty.
        put(&store, "bkt", "k", b"three").await;
        assert_eq!(read_all(&store, "bkt", "k").await.unwrap(), b"three");
        store.delete_object("bkt", "k").await.unwrap();
        store.delete_bucket("bkt").await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        assert!(store.read_object("bkt", "k").unwrap().is_none());
        assert_eq!(store.cache.bytes(), 0);
    }

    #[tokio::test]
    async fn a_damaged_object_file_is_an_error_not_data() {
        let dir = tempfile::tempdir().unwrap();
        let store = BuiltinStore::open(dir.path().join("s3")).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        put(&store, "bkt", "k", b"hello").await;
        let path = store.objects_dir("bkt").join(object_file_name("k"));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 1);
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            store.read_object("bkt", "k"),
            Err(StoreError::Corrupt("object file magic"))
        ));
    }

    #[tokio::test]
    async fn aborted_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BuiltinStore::open(dir.path().join("s3")).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        let mut pending = store.begin_object().await.unwrap();
        pending.write(b"half").unwrap();
        drop(pending);
        assert!(store.read_object("bkt", "k").unwrap().is_none());
        let mut tmp = std::fs::read_dir(dir.path().join("s3/tmp")).unwrap();
        assert!(tmp.next().is_none());
    }

    #[tokio::test]
    async fn bucket_changes_move_the_generation() {
        let dir = tempfile::tempdir().unwrap();
        let store = BuiltinStore::open(dir.path().join("s3")).await.unwrap();
        let mut seen = store.bucket_generation();
        let mut changed = |store: &BuiltinStore| {
            let now = store.bucket_generation();
            let moved = now != seen;
            seen = now;
            moved
        };
        store.create_bucket("bkt", "111").await.unwrap();
        assert!(changed(&store));
        put(&store, "bkt", "k", b"x").await;
        assert!(!changed(&store), "objects do not touch bucket records");
        store.put_policy("bkt", "{}").await.unwrap();
        assert!(changed(&store));
        store.delete_policy("bkt").await.unwrap();
        assert!(changed(&store));
        store.delete_object("bkt", "k").await.unwrap();
        store.delete_bucket("bkt").await.unwrap();
        assert!(changed(&store));
    }

    #[tokio::test]
    async fn the_key_index_follows_commits_and_deletes_and_is_rebuilt_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s3");
        let store = BuiltinStore::open(&root).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        let mut expected = BTreeSet::new();
        for i in 0..150 {
            let key = format!("d{}/k{i:03}", i % 3);
            put(&store, "bkt", &key, key.as_bytes()).await;
            expected.insert(key);
        }
        let all = ListQuery {
            max_keys: 1000,
            ..ListQuery::default()
        };
        let keys = |page: &ListPage| -> Vec<String> {
            page.contents.iter().map(|m| m.key.clone()).collect()
        };
        // First listing loads the index from the directory.
        let page = store.list_objects("bkt", all.clone()).await.unwrap();
        assert_eq!(keys(&page), expected.iter().cloned().collect::<Vec<_>>());
        assert_eq!(page.contents[0].size, page.contents[0].key.len() as u64);
        // Later changes reach the loaded index.
        for i in (0..150).step_by(4) {
            let key = format!("d{}/k{i:03}", i % 3);
            store.delete_object("bkt", &key).await.unwrap();
            expected.remove(&key);
        }
        put(&store, "bkt", "d1/new", b"new").await;
        expected.insert("d1/new".to_owned());
        put(&store, "bkt", "d1/k001", b"overwritten").await;
        let page = store.list_objects("bkt", all.clone()).await.unwrap();
        assert_eq!(keys(&page), expected.iter().cloned().collect::<Vec<_>>());
        let overwritten = page.contents.iter().find(|m| m.key == "d1/k001").unwrap();
        assert_eq!(overwritten.size, 11);
        let delimited = store
            .list_objects(
                "bkt",
                ListQuery {
                    delimiter: Some("/".into()),
                    ..all.clone()
                },
            )
            .await
            .unwrap();
        assert_eq!(delimited.common_prefixes, ["d0/", "d1/", "d2/"]);
        assert!(delimited.contents.is_empty());
        // A new process reads the same keys from the directory.
        drop(store);
        let reopened = BuiltinStore::open(&root).await.unwrap();
        let page = reopened.list_objects("bkt", all).await.unwrap();
        assert_eq!(keys(&page), expected.iter().cloned().collect::<Vec<_>>());
    }
}
