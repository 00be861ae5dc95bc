//! The built-in object store under `DATA_DIR/s3/`.
//!
//! ```text
//! s3/tmp/                         uploads in progress (temp files)
//! s3/buckets/<bucket>/bucket.json owner account, creation time
//! s3/buckets/<bucket>/policy.json the bucket policy, if any
//! s3/buckets/<bucket>/objects/<sha256(key) hex>
//! s3/buckets/<bucket>/uploads/<upload id>/upload.json   a multipart upload
//! s3/buckets/<bucket>/uploads/<upload id>/part-<NNNNN>  its parts (object format)
//! ```
//!
//! An object is one file: the data, then its metadata as JSON, then the
//! JSON's length (u32, big-endian) and the magic `MFS3OBJ1`. It is written
//! to `tmp/`, fsynced and renamed into place, so a reader sees the old
//! object or the new one, never a half-written one, and a crash leaves only
//! a temp file. Object keys never become path components (they are hashed),
//! so no key can name a file outside the bucket; bucket names are checked
//! against S3's naming rules before they become a directory name.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

const MAGIC: &[u8; 8] = b"MFS3OBJ1";
const FOOTER: u64 = 12;
/// Largest metadata block accepted when reading an object file.
const MAX_META: u32 = 1024 * 1024;

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

/// The built-in store.
#[derive(Debug)]
pub struct BuiltinStore {
    root: PathBuf,
    rng: aws_lc_rs::rand::SystemRandom,
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

fn object_file_name(key: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes()).as_ref())
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An object being written: a temp file the data streams into.
#[derive(Debug)]
pub struct PendingObject {
    file: tokio::fs::File,
    path: PathBuf,
    committed: bool,
}

impl PendingObject {
    /// Append data.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        self.file.write_all(data).await?;
        Ok(())
    }

    /// Discard the upload.
    pub async fn abort(mut self) {
        self.committed = true;
        let _ = tokio::fs::remove_file(&self.path).await;
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

/// An object opened for reading.
#[derive(Debug)]
pub struct OpenObject {
    /// Its metadata.
    pub meta: ObjectMeta,
    /// The file, positioned nowhere in particular; data is `[0, meta.size)`.
    pub file: tokio::fs::File,
}

impl BuiltinStore {
    /// Open (creating) the store under `root` (`DATA_DIR/s3`).
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        tokio::fs::create_dir_all(root.join("buckets")).await?;
        tokio::fs::create_dir_all(root.join("tmp")).await?;
        Ok(Self {
            root,
            rng: aws_lc_rs::rand::SystemRandom::new(),
        })
    }

    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join("buckets").join(bucket)
    }

    fn temp_path(&self) -> Result<PathBuf, StoreError> {
        let mut bytes = [0u8; 16];
        self.rng
            .fill(&mut bytes)
            .map_err(|_| StoreError::Io(std::io::Error::other("rng failed")))?;
        Ok(self.root.join("tmp").join(hex::encode(bytes)))
    }

    async fn write_atomic(&self, target: &Path, data: &[u8]) -> Result<(), StoreError> {
        let temp = self.temp_path()?;
        let mut file = tokio::fs::File::create(&temp).await?;
        file.write_all(data).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&temp, target).await?;
        Ok(())
    }

    /// Create a bucket owned by `owner`.
    pub async fn create_bucket(&self, bucket: &str, owner: &str) -> Result<(), StoreError> {
        let dir = self.bucket_dir(bucket);
        match tokio::fs::create_dir(&dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let owner = self
                    .bucket(bucket)
                    .await?
                    .map(|m| m.owner)
                    .unwrap_or_default();
                return Err(StoreError::BucketExists { owner });
            }
            Err(e) => return Err(e.into()),
        }
        tokio::fs::create_dir(dir.join("objects")).await?;
        let meta = BucketMeta {
            owner: owner.to_owned(),
            created: now_unix(),
        };
        let json = serde_json::to_vec(&meta).map_err(|_| StoreError::Corrupt("bucket meta"))?;
        self.write_atomic(&dir.join("bucket.json"), &json).await
    }

    /// A bucket's metadata, `None` when it does not exist.
    pub async fn bucket(&self, bucket: &str) -> Result<Option<BucketMeta>, StoreError> {
        if !valid_bucket_name(bucket) {
            return Ok(None);
        }
        match tokio::fs::read(self.bucket_dir(bucket).join("bucket.json")).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| StoreError::Corrupt("bucket meta")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
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
        tokio::task::spawn_blocking(move || {
            let meta = match std::fs::read(dir.join("bucket.json")) {
                Ok(bytes) => serde_json::from_slice::<BucketMeta>(&bytes)
                    .map_err(|_| StoreError::Corrupt("bucket meta"))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(StoreError::from(e)),
            };
            let policy = match std::fs::read_to_string(dir.join("policy.json")) {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(StoreError::from(e)),
            };
            Ok(Some((meta, policy)))
        })
        .await
        .map_err(|_| StoreError::Io(std::io::Error::other("blocking read task failed")))?
    }

    /// Every bucket, by name.
    pub async fn list_buckets(&self) -> Result<Vec<(String, BucketMeta)>, StoreError> {
        let mut out = Vec::new();
        let mut dir = tokio::fs::read_dir(self.root.join("buckets")).await?;
        while let Some(entry) = dir.next_entry().await? {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if let Some(meta) = self.bucket(&name).await? {
                out.push((name, meta));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Delete an empty bucket.
    pub async fn delete_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        if self.bucket(bucket).await?.is_none() {
            return Err(StoreError::NoSuchBucket);
        }
        let dir = self.bucket_dir(bucket);
        let mut objects = tokio::fs::read_dir(dir.join("objects")).await?;
        if objects.next_entry().await?.is_some() {
            return Err(StoreError::BucketNotEmpty);
        }
        // Move it aside first: the name is free at once, the removal may lag.
        let aside = self.temp_path()?;
        tokio::fs::rename(&dir, &aside).await?;
        tokio::fs::remove_dir_all(&aside).await?;
        Ok(())
    }

    /// Set the bucket policy.
    pub async fn put_policy(&self, bucket: &str, text: &str) -> Result<(), StoreError> {
        self.write_atomic(
            &self.bucket_dir(bucket).join("policy.json"),
            text.as_bytes(),
        )
        .await
    }

    /// Remove the bucket policy.
    pub async fn delete_policy(&self, bucket: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.bucket_dir(bucket).join("policy.json")).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Start writing an object.
    pub async fn begin_object(&self) -> Result<PendingObject, StoreError> {
        let path = self.temp_path()?;
        let file = tokio::fs::File::create(&path).await?;
        Ok(PendingObject {
            file,
            path,
            committed: false,
        })
    }

    /// Make a finished upload visible as `bucket/key` with `meta`.
    pub async fn commit_object(
        &self,
        pending: PendingObject,
        bucket: &str,
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        let objects = self.bucket_dir(bucket).join("objects");
        self.finish_file(pending, &objects, &object_file_name(&meta.key), meta)
            .await
    }

    /// Append the metadata footer, fsync, and rename into `dir/name`.
    async fn finish_file(
        &self,
        mut pending: PendingObject,
        dir: &Path,
        name: &str,
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_vec(meta).map_err(|_| StoreError::Corrupt("object meta"))?;
        let len = u32::try_from(json.len()).map_err(|_| StoreError::Corrupt("object meta"))?;
        pending.file.write_all(&json).await?;
        pending.file.write_all(&len.to_be_bytes()).await?;
        pending.file.write_all(MAGIC).await?;
        pending.file.sync_all().await?;
        tokio::fs::rename(&pending.path, dir.join(name))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => StoreError::NoSuchBucket,
                _ => StoreError::Io(e),
            })?;
        pending.committed = true;
        if let Ok(dir) = tokio::fs::File::open(dir).await {
            let _ = dir.sync_all().await;
        }
        Ok(())
    }

    async fn read_meta(file: &mut tokio::fs::File) -> Result<ObjectMeta, StoreError> {
        let total = file.metadata().await?.len();
        let footer_at = total
            .checked_sub(FOOTER)
            .ok_or(StoreError::Corrupt("object file too short"))?;
        file.seek(SeekFrom::Start(footer_at)).await?;
        let mut footer = [0u8; FOOTER as usize];
        file.read_exact(&mut footer).await?;
        let len = meta_len(total, &footer)?;
        file.seek(SeekFrom::Start(footer_at - u64::from(len)))
            .await?;
        let mut json = vec![0u8; len as usize];
        file.read_exact(&mut json).await?;
        parse_meta(total, len, &json)
    }

    /// [`Store::read_meta`] with blocking I/O, for one trip to the blocking
    /// pool instead of one per file operation (the GET hot path).
    fn read_meta_blocking(file: &mut std::fs::File) -> Result<ObjectMeta, StoreError> {
        use std::io::{Read, Seek};
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

    /// Open `bucket/key` for reading; `None` when it does not exist.
    pub async fn open_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<OpenObject>, StoreError> {
        let path = self
            .bucket_dir(bucket)
            .join("objects")
            .join(object_file_name(key));
        // Open and read the metadata in one blocking call: a GET is mostly
        // these few small reads, and each async file operation would be its
        // own round trip through the blocking pool.
        let opened = tokio::task::spawn_blocking(move || {
            let mut file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(StoreError::from(e)),
            };
            let meta = Self::read_meta_blocking(&mut file)?;
            Ok(Some((meta, file)))
        })
        .await
        .map_err(|_| StoreError::Io(std::io::Error::other("blocking read task failed")))??;
        let Some((meta, file)) = opened else {
            return Ok(None);
        };
        if meta.key != key {
            return Ok(None);
        }
        Ok(Some(OpenObject {
            meta,
            file: tokio::fs::File::from_std(file),
        }))
    }

    /// Delete `bucket/key` (no error when it does not exist, as S3).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let path = self
            .bucket_dir(bucket)
            .join("objects")
            .join(object_file_name(key));
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
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
        tokio::fs::create_dir_all(&uploads).await?;
        let dir = uploads.join(&upload_id);
        tokio::fs::create_dir(&dir).await?;
        let meta = UploadMeta {
            upload_id,
            initiated: now_unix(),
            object,
        };
        let json = serde_json::to_vec(&meta).map_err(|_| StoreError::Corrupt("upload meta"))?;
        self.write_atomic(&dir.join("upload.json"), &json).await?;
        Ok(meta)
    }

    /// A multipart upload's metadata.
    pub async fn upload(&self, bucket: &str, upload_id: &str) -> Result<UploadMeta, StoreError> {
        let dir = self.upload_dir(bucket, upload_id)?;
        match tokio::fs::read(dir.join("upload.json")).await {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|_| StoreError::Corrupt("upload meta"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NoSuchUpload),
            Err(e) => Err(e.into()),
        }
    }

    /// Every multipart upload of `bucket`, by key then initiation.
    pub async fn list_uploads(&self, bucket: &str) -> Result<Vec<UploadMeta>, StoreError> {
        let mut out = Vec::new();
        let mut dir = match tokio::fs::read_dir(self.bucket_dir(bucket).join("uploads")).await {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = dir.next_entry().await? {
            let Ok(id) = entry.file_name().into_string() else {
                continue;
            };
            match self.upload(bucket, &id).await {
                Ok(meta) => out.push(meta),
                Err(StoreError::NoSuchUpload) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| {
            (a.object.key.as_bytes(), a.initiated).cmp(&(b.object.key.as_bytes(), b.initiated))
        });
        Ok(out)
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
        self.finish_file(pending, &dir, &format!("part-{number:05}"), meta)
            .await
            .map_err(|e| match e {
                StoreError::NoSuchBucket => StoreError::NoSuchUpload,
                other => other,
            })
    }

    /// The upload's parts (number, metadata), by number.
    pub async fn list_parts(
        &self,
        bucket: &str,
        upload_id: &str,
    ) -> Result<Vec<(u32, ObjectMeta)>, StoreError> {
        let dir = self.upload_dir(bucket, upload_id)?;
        let mut out = Vec::new();
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NoSuchUpload);
            }
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let Some(number) = name
                .to_str()
                .and_then(|n| n.strip_prefix("part-"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(mut file) = tokio::fs::File::open(entry.path()).await else {
                continue;
            };
            out.push((number, Self::read_meta(&mut file).await?));
        }
        out.sort_by_key(|(n, _)| *n);
        Ok(out)
    }

    /// Open part `number` of an upload for reading.
    pub async fn open_part(
        &self,
        bucket: &str,
        upload_id: &str,
        number: u32,
    ) -> Result<Option<OpenObject>, StoreError> {
        let path = self
            .upload_dir(bucket, upload_id)?
            .join(format!("part-{number:05}"));
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let meta = Self::read_meta(&mut file).await?;
        Ok(Some(OpenObject { meta, file }))
    }

    /// Remove an upload and its parts.
    pub async fn remove_upload(&self, bucket: &str, upload_id: &str) -> Result<(), StoreError> {
        let dir = self.upload_dir(bucket, upload_id)?;
        let aside = self.temp_path()?;
        match tokio::fs::rename(&dir, &aside).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NoSuchUpload);
            }
            Err(e) => return Err(e.into()),
        }
        tokio::fs::remove_dir_all(&aside).await?;
        Ok(())
    }

    /// Every object's metadata in `bucket` whose key starts with `prefix`,
    /// sorted by key (UTF-8 byte order, as S3).
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<ObjectMeta>, StoreError> {
        let mut out = Vec::new();
        let mut dir = match tokio::fs::read_dir(self.bucket_dir(bucket).join("objects")).await {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NoSuchBucket);
            }
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = dir.next_entry().await? {
            let Ok(mut file) = tokio::fs::File::open(entry.path()).await else {
                continue; // deleted meanwhile
            };
            match Self::read_meta(&mut file).await {
                Ok(meta) if meta.key.starts_with(prefix) => out.push(meta),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, path = %entry.path().display(), "skipping a damaged object file");
                }
            }
        }
        out.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
        Ok(out)
    }
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
    if meta.size + u64::from(len) + FOOTER != total {
        return Err(StoreError::Corrupt("object size"));
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

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
            let mut pending = store.begin_object().await.unwrap();
            pending.write(body).await.unwrap();
            let meta = ObjectMeta {
                key: "../../etc/passwd".into(),
                size: body.len() as u64,
                ..ObjectMeta::default()
            };
            store.commit_object(pending, "bkt", &meta).await.unwrap();
        }
        let mut open = store
            .open_object("bkt", "../../etc/passwd")
            .await
            .unwrap()
            .unwrap();
        let mut data = vec![0u8; open.meta.size as usize];
        open.file.seek(SeekFrom::Start(0)).await.unwrap();
        open.file.read_exact(&mut data).await.unwrap();
        assert_eq!(data, b"second version");
        // Nothing was written outside the bucket's objects directory.
        assert!(!dir.path().join("etc").exists());
        let listed = store.list_objects("bkt", "").await.unwrap();
        assert_eq!(listed.len(), 1);
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
    async fn aborted_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BuiltinStore::open(dir.path().join("s3")).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        let mut pending = store.begin_object().await.unwrap();
        pending.write(b"half").await.unwrap();
        drop(pending);
        assert!(store.open_object("bkt", "k").await.unwrap().is_none());
        let mut tmp = std::fs::read_dir(dir.path().join("s3/tmp")).unwrap();
        assert!(tmp.next().is_none());
    }
}
