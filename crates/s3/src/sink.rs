//! An upload's way to disk. The decoded body arrives on the connection's
//! task, which copies it into pooled buffers ([`crate::buffers`]) and
//! hands each full buffer to three steps ([`crate::stage`]), each on a
//! blocking thread while it has buffers queued: one appending it to the
//! temp file, one computing the MD5 and, when the upload declared a
//! SHA-256 or a flexible checksum, one computing those. Receiving, hashing
//! and writing then overlap: MD5, which every upload needs for its ETag,
//! alone takes most of a core at 500 MB/s (with a CRC or SHA-256 on the
//! same thread, a single upload ran a quarter to a third slower), and on
//! the connection's task it would also hold up the socket reads. (The copy
//! costs less than it saves: the received frames are released at once, so
//! the HTTP layer reuses its read buffer instead of allocating a new one
//! per read.)
//!
//! Every queue is bounded ([`crate::stage::QUEUE_BUFFERS`] buffers), so an
//! upload holds a few buffers at most however fast the client sends: a
//! full queue stops the reads and TCP slows the client down. A body that
//! fits in one buffer never starts the steps: one blocking call writes and
//! hashes it.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use crate::buffers::{BufferPool, PooledBuffer};
use crate::checksum::{BodyDigests, Digests, OtherDigests};
use crate::stage::{Batch, Stage, stage_failed};
use crate::store::{BuiltinStore, PendingObject, StoreError, blocking};

/// The steps of an upload that outgrew one buffer.
#[derive(Debug)]
struct Stages {
    writer: Stage<PendingObject>,
    hasher: Stage<BodyDigests>,
    /// The SHA-256 and checksum, when requested.
    others: Option<Stage<OtherDigests>>,
}

/// Where an upload's decoded bytes go: a new object's temp file and its
/// digests. Dropped before [`UploadSink::finish`], the steps finish the
/// buffers already queued and the temp file is removed.
#[derive(Debug)]
pub struct UploadSink {
    buffers: Arc<BufferPool>,
    filling: Option<PooledBuffer>,
    /// Until the stages start (they take them).
    start: Option<(PathBuf, BodyDigests)>,
    stages: Option<Stages>,
}

fn write_step(pending: &mut PendingObject, data: &[u8]) -> Result<(), StoreError> {
    pending.write(data)
}

fn hash_step(digests: &mut BodyDigests, data: &[u8]) -> Result<(), StoreError> {
    digests.update(data);
    Ok(())
}

fn others_step(others: &mut OtherDigests, data: &[u8]) -> Result<(), StoreError> {
    others.update(data);
    Ok(())
}

impl UploadSink {
    /// A sink writing a new temp file of `store`, computing `digests`.
    pub fn new(store: &BuiltinStore, digests: BodyDigests) -> Result<Self, StoreError> {
        Ok(Self {
            buffers: Arc::clone(store.buffers()),
            filling: None,
            start: Some((store.temp_path()?, digests)),
            stages: None,
        })
    }

    /// Append `data`; waits when the steps are behind.
    pub async fn write(&mut self, data: Bytes) -> Result<(), StoreError> {
        let mut rest = &data[..];
        while !rest.is_empty() {
            let buffer = self.filling.get_or_insert_with(|| self.buffers.take());
            let n = buffer.spare().min(rest.len());
            let (now, later) = rest.split_at(n);
            buffer.extend_from_slice(now);
            rest = later;
            if buffer.spare() == 0 {
                self.hand_on().await?;
            }
        }
        Ok(())
    }

    async fn hand_on(&mut self) -> Result<(), StoreError> {
        let Some(buffer) = self.filling.take() else {
            return Ok(());
        };
        let batch: Batch = Arc::new(buffer);
        if self.stages.is_none() {
            self.stages = Some(self.start_stages().await?);
        }
        let Some(stages) = self.stages.as_ref() else {
            return Err(stage_failed());
        };
        let mut sent = stages.writer.push(Arc::clone(&batch)).await.is_ok()
            && stages.hasher.push(Arc::clone(&batch)).await.is_ok();
        if let Some(others) = &stages.others {
            sent = sent && others.push(batch).await.is_ok();
        }
        if sent {
            return Ok(());
        }
        // A step failed: only the writer can; its error says why.
        match self.stages.take() {
            Some(stages) => match stages.writer.finish().await {
                Err(error) => Err(error),
                Ok(_) => Err(stage_failed()),
            },
            None => Err(stage_failed()),
        }
    }

    async fn start_stages(&mut self) -> Result<Stages, StoreError> {
        let (temp, mut digests) = self.start.take().ok_or_else(stage_failed)?;
        let others = digests
            .split_others()
            .map(|others| Stage::new(others, others_step));
        let pending = blocking(move || PendingObject::create(temp)).await?;
        Ok(Stages {
            writer: Stage::new(pending, write_step),
            hasher: Stage::new(digests, hash_step),
            others,
        })
    }

    /// Every byte has been written: the new object's temp file (not yet
    /// durable: the commit seals it) and the digests of the data.
    pub async fn finish(mut self) -> Result<(PendingObject, Digests), StoreError> {
        if let Some((temp, mut digests)) = self.start.take() {
            // At most one buffer: one blocking call writes and hashes it.
            let buffer = self.filling.take();
            return blocking(move || {
                let mut pending = PendingObject::create(temp)?;
                if let Some(buffer) = buffer {
                    pending.write(&buffer)?;
                    digests.update(&buffer);
                }
                Ok((pending, digests.finish()))
            })
            .await;
        }
        self.hand_on().await?;
        let Stages {
            writer,
            hasher,
            others,
        } = self.stages.take().ok_or_else(stage_failed)?;
        let pending = writer.finish().await?;
        let mut digests = hasher.finish().await?.finish();
        if let Some(others) = others {
            others.finish().await?.finish_into(&mut digests);
        }
        Ok((pending, digests))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use crate::checksum::{Checksum, ChecksumAlgorithm};
    use crate::store::{ObjectData, ObjectMeta};
    use md5::Digest;

    async fn upload(store: &BuiltinStore, key: &str, frames: &[Bytes]) -> Digests {
        let digests = BodyDigests::new(true, Some(ChecksumAlgorithm::Crc32));
        let mut sink = UploadSink::new(store, digests).unwrap();
        for frame in frames {
            sink.write(frame.clone()).await.unwrap();
        }
        let (pending, digests) = sink.finish().await.unwrap();
        let meta = ObjectMeta {
            key: key.to_owned(),
            size: digests.len,
            etag: hex::encode(digests.md5),
            ..ObjectMeta::default()
        };
        store.commit_object(pending, "bkt", &meta).await.unwrap();
        digests
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn small_and_large_uploads_store_every_byte_in_order_with_their_digests() {
        let dir = tempfile::tempdir().unwrap();
        let store = BuiltinStore::open(dir.path().join("s3")).await.unwrap();
        store.create_bucket("bkt", "111").await.unwrap();
        // Frames of uneven sizes: several batches, tiny frames included.
        let mut frames = Vec::new();
        let mut all = Vec::new();
        let mut n = 0u32;
        while all.len() < 5 * crate::buffers::BUFFER_BYTES + 12_345 {
            let len = match n % 4 {
                0 => 1,
                1 => 70_000,
                2 => 3,
                _ => 300_001,
            };
            let frame: Vec<u8> = (0..len).map(|i| ((i as u32 ^ n) % 253) as u8).collect();
            all.extend_from_slice(&frame);
            frames.push(Bytes::from(frame));
            n += 1;
        }
        for (key, frames, data) in [
            ("large", frames.as_slice(), all.as_slice()),
            (
                "small",
                &[
                    Bytes::from_static(b"hello "),
                    Bytes::from_static(b"world\n"),
                ][..],
                b"hello world\n",
            ),
        ] {
            let digests = upload(&store, key, frames).await;
            assert_eq!(digests.len, data.len() as u64);
            let md5: [u8; 16] = md5::Md5::digest(data).into();
            assert_eq!(digests.md5, md5);
            let sha: [u8; 32] = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
                .as_ref()
                .try_into()
                .unwrap();
            assert_eq!(digests.sha256, Some(sha));
            let mut crc = Checksum::new(ChecksumAlgorithm::Crc32);
            crc.update(data);
            let crc = (ChecksumAlgorithm::Crc32, crc.finish_base64());
            assert_eq!(digests.checksum, Some(crc));
            let object = store.read_object("bkt", key).unwrap().unwrap();
            let stored = match object.data {
                ObjectData::Inline(bytes) => bytes.to_vec(),
                ObjectData::File(mut file) => {
                    use std::io::{Read, Seek};
                    file.seek(std::io::SeekFrom::Start(0)).unwrap();
                    let mut out = Vec::new();
                    (&file)
                        .take(object.meta.size)
                        .read_to_end(&mut out)
                        .unwrap();
                    out
                }
                ObjectData::Parts(_) => Vec::new(),
            };
            assert!(stored == data, "{key}: stored bytes differ");
        }
        // No temp file is left behind.
        assert!(
            std::fs::read_dir(dir.path().join("s3/tmp"))
                .unwrap()
                .next()
                .is_none()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_upload_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = BuiltinStore::open(dir.path().join("s3")).await.unwrap();
        let mut sink = UploadSink::new(&store, BodyDigests::new(false, None)).unwrap();
        for _ in 0..3 {
            sink.write(Bytes::from(vec![7u8; crate::buffers::BUFFER_BYTES]))
                .await
                .unwrap();
        }
        drop(sink);
        // The threads drain their queues, then drop the temp file.
        let tmp = dir.path().join("s3/tmp");
        let mut empty = false;
        for _ in 0..200 {
            empty = std::fs::read_dir(&tmp).unwrap().next().is_none();
            if empty {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(empty, "temp file left behind");
    }
}
