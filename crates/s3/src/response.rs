//! Response bodies and the small formats S3 responses use (HTTP dates,
//! ISO 8601 timestamps, quoted ETags).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use mayfly_server::StreamingBody;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use tokio::task::JoinHandle;

use crate::buffers::{BUFFER_BYTES, BufferPool, PooledBuffer};
use crate::store::PartFile;

const HTTP_DATE: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);
const ISO_MILLIS: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");

/// `Mon, 15 Jan 2024 12:00:00 GMT`.
pub fn http_date(unix: u64) -> String {
    OffsetDateTime::from_unix_timestamp(i64::try_from(unix).unwrap_or(0))
        .ok()
        .and_then(|t| t.format(HTTP_DATE).ok())
        .unwrap_or_default()
}

/// Parse an HTTP date (IMF-fixdate) to seconds since the epoch.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let parsed = time::PrimitiveDateTime::parse(text.trim(), HTTP_DATE).ok()?;
    u64::try_from(parsed.assume_utc().unix_timestamp()).ok()
}

/// `2024-01-15T12:00:00.000Z`.
pub fn iso8601(unix: u64) -> String {
    OffsetDateTime::from_unix_timestamp(i64::try_from(unix).unwrap_or(0))
        .ok()
        .and_then(|t| t.format(ISO_MILLIS).ok())
        .unwrap_or_default()
}

/// `"etag"`.
pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// A complete in-memory body.
pub fn full(bytes: impl Into<Bytes>) -> StreamingBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A response with an XML document.
pub fn xml(status: StatusCode, document: String) -> Response<StreamingBody> {
    let mut response = Response::new(full(document));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

/// A response without a body.
pub fn empty(status: StatusCode) -> Response<StreamingBody> {
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// One frame being read: the segment it came from (to go on with) and
/// the frame.
type FrameRead = JoinHandle<std::io::Result<(Segment, Bytes)>>;

/// A file range at least this long is read with `O_DIRECT`.
pub const DIRECT_READ_MIN: u64 = 4 * 1024 * 1024;
/// Offsets and lengths of `O_DIRECT` reads are multiples of this (the
/// buffers' alignment, [`crate::buffers::BUFFER_ALIGN`]).
const DIRECT_ALIGN: usize = crate::buffers::BUFFER_ALIGN;

/// A range of one file still to be sent.
#[derive(Debug)]
struct Segment {
    file: Option<PartFile>,
    /// Once opened.
    opened: Option<OpenedFile>,
    /// Where in the file the next read starts.
    position: u64,
    /// Bytes not yet read.
    unread: u64,
}

/// A segment's file, and the same file opened with `O_DIRECT` when its
/// range is long and the filesystem takes it.
#[derive(Debug)]
struct OpenedFile {
    file: std::fs::File,
    direct: Option<std::fs::File>,
}

/// Streams a range of a file, or of several files one after the other (a
/// multipart object's parts), in frames of one pooled buffer each
/// ([`crate::buffers`]). Each frame is read by one blocking call straight
/// into its buffer, which goes to the socket as it is and back to the pool
/// afterwards; the next read starts as soon as a frame is handed out, so
/// the disk and the socket work at the same time, with two buffers per
/// response at most.
///
/// A file range of [`DIRECT_READ_MIN`] or more is read with `O_DIRECT`, in
/// block-aligned reads (the frame is the wanted part of the buffer): the
/// full buffers of large uploads were written past the page cache
/// ([`crate::store::PendingObject`]), so such objects are read from the
/// disk, where one 512 KiB `O_DIRECT` read at a time ran at 830–980 MB/s on
/// the benchmark machine against 390–510 MB/s through the page cache and
/// its readahead. Where the filesystem refuses `O_DIRECT`, reads go
/// through the page cache.
#[derive(Debug)]
pub struct FileBody {
    buffers: Arc<BufferPool>,
    reading: Option<FrameRead>,
    /// Bytes not yet handed out.
    remaining: u64,
    /// What is left to read, in order.
    segments: VecDeque<Segment>,
}

impl FileBody {
    /// Stream `len` bytes from offset `start` of the concatenation of
    /// `files` (each with the length of its data; one not yet open is
    /// opened when the stream reaches it). Must be called within the
    /// runtime (it starts the first read).
    pub fn new(
        files: Vec<(PartFile, u64)>,
        start: u64,
        len: u64,
        buffers: Arc<BufferPool>,
    ) -> Self {
        let end = start.saturating_add(len);
        let mut segments = VecDeque::with_capacity(files.len());
        let mut offset = 0u64;
        for (file, size) in files {
            let (from, to) = (start.max(offset), end.min(offset.saturating_add(size)));
            if from < to {
                segments.push_back(Segment {
                    file: Some(file),
                    opened: None,
                    position: from - offset,
                    unread: to - from,
                });
            }
            offset = offset.saturating_add(size);
        }
        let mut body = Self {
            buffers,
            reading: None,
            remaining: segments.iter().map(|s| s.unread).sum(),
            segments,
        };
        body.read_next();
        body
    }

    fn read_next(&mut self) {
        let Some(mut segment) = self.segments.pop_front() else {
            return;
        };
        // An unaligned start makes the first frame shorter, so that every
        // read after it starts on a block boundary.
        let skip = segment.position % DIRECT_ALIGN as u64;
        let want = segment.unread.min(BUFFER_BYTES as u64 - skip);
        let position = segment.position;
        // The segment's whole range when this is its first read.
        let range = segment.unread;
        segment.unread -= want;
        segment.position += want;
        let buffer = self.buffers.take();
        self.reading = Some(tokio::task::spawn_blocking(move || {
            let opened = match (segment.opened.take(), segment.file.take()) {
                (Some(opened), _) => opened,
                (None, Some(part)) => {
                    let file = part.open()?;
                    let direct = (range >= DIRECT_READ_MIN)
                        .then(|| reopen_direct(&file))
                        .flatten();
                    OpenedFile { file, direct }
                }
                (None, None) => return Err(std::io::Error::other("segment without a file")),
            };
            let opened = segment.opened.insert(opened);
            let frame = read_frame(opened, buffer, position, want)?;
            Ok((segment, frame))
        }));
    }

    /// As a boxed response body.
    pub fn boxed(self) -> StreamingBody {
        BodyExt::boxed(self)
    }
}

/// `want` bytes of `opened` from `position`, read into `buffer` (blocking).
fn read_frame(
    opened: &mut OpenedFile,
    mut buffer: PooledBuffer,
    position: u64,
    want: u64,
) -> std::io::Result<Bytes> {
    let eof = || std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
    let want = usize::try_from(want).map_err(|_| eof())?;
    if let Some(direct) = &opened.direct {
        // Whole blocks around the range; `read_next` keeps them within one
        // buffer.
        let skip = (position % DIRECT_ALIGN as u64) as usize;
        let len = (skip + want).next_multiple_of(DIRECT_ALIGN);
        match buffer.read_with(len, |blocks| {
            read_full_at(direct, blocks, position - skip as u64, DIRECT_ALIGN)
        }) {
            Ok(n) if n >= skip + want => {
                return Ok(buffer.into_bytes().slice(skip..skip + want));
            }
            Ok(_) => return Err(eof()),
            // An alignment the device does not take: through the page
            // cache from now on.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => opened.direct = None,
            Err(e) => return Err(e),
        }
    }
    let n = buffer.read_with(want, |data| read_full_at(&opened.file, data, position, 1))?;
    if n != want {
        return Err(eof());
    }
    Ok(buffer.into_bytes())
}

/// Fill `data` from `offset` of `file`, reading on until it is full or
/// the file ends (a read of 0 bytes, or one that is not a multiple of
/// `unit`: an `O_DIRECT` read that reached the end). Returns the bytes
/// read.
fn read_full_at(
    file: &std::fs::File,
    data: &mut [u8],
    offset: u64,
    unit: usize,
) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;

    let mut done = 0;
    while let Some(rest) = data.get_mut(done..).filter(|rest| !rest.is_empty()) {
        match file.read_at(rest, offset + done as u64) {
            Ok(0) => break,
            Ok(n) => {
                done += n;
                if !n.is_multiple_of(unit) {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// `file` opened once more, read-only with `O_DIRECT`, if the filesystem
/// allows it (through `/proc/self/fd`, which reaches the same file even
/// after it was renamed over or removed).
#[cfg(target_os = "linux")]
fn reopen_direct(file: &std::fs::File) -> Option<std::fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;

    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn reopen_direct(_: &std::fs::File) -> Option<std::fs::File> {
    None
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        let Some(reading) = this.reading.as_mut() else {
            return Poll::Ready(None);
        };
        let read = match Pin::new(reading).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(read) => read,
        };
        this.reading = None;
        match read {
            Ok(Ok((segment, frame))) => {
                this.remaining -= frame.len() as u64;
                if segment.unread > 0 {
                    this.segments.push_front(segment);
                }
                this.read_next();
                Poll::Ready(Some(Ok(Frame::data(frame))))
            }
            Ok(Err(error)) => {
                this.remaining = 0;
                Poll::Ready(Some(Err(error)))
            }
            Err(_) => {
                this.remaining = 0;
                Poll::Ready(Some(Err(std::io::Error::other("file read task failed"))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    /// A file of `len` bytes that differ from block to block.
    fn data_file(dir: &std::path::Path, name: &str, len: usize) -> (std::fs::File, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i ^ (i >> 9) ^ (i >> 17)) as u8).collect();
        let path = dir.join(name);
        std::fs::write(&path, &data).unwrap();
        (std::fs::File::open(&path).unwrap(), data)
    }

    #[test]
    fn direct_reads_return_exactly_the_range_asked_for_from_any_offset() {
        let dir = tempfile::tempdir().unwrap();
        let len = 3 * BUFFER_BYTES + 777;
        let (file, data) = data_file(dir.path(), "f", len);
        let Some(direct) = reopen_direct(&file) else {
            eprintln!("this filesystem refuses O_DIRECT: nothing to check here");
            return;
        };
        let mut opened = OpenedFile {
            file,
            direct: Some(direct),
        };
        let pool = BufferPool::new();
        let len = len as u64;
        for (position, want) in [
            (0, BUFFER_BYTES as u64),
            (1, BUFFER_BYTES as u64 - 4096),
            (4095, 1),
            (4096, 10_000),
            (BUFFER_BYTES as u64 + 123, BUFFER_BYTES as u64 - 4096),
            (len - 777, 777),
            (len - 5000, 5000),
            (len - 1, 1),
        ] {
            let frame = read_frame(&mut opened, pool.take(), position, want).unwrap();
            let (from, to) = (position as usize, (position + want) as usize);
            assert!(frame.as_ref() == &data[from..to], "{position} + {want}");
        }
        assert!(opened.direct.is_some(), "no fallback to the page cache");
        // Past the end: an error, not a short frame.
        let past = read_frame(&mut opened, pool.take(), len - 10, 11).unwrap_err();
        assert_eq!(past.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn long_and_short_ranges_of_files_stream_every_byte_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [
            DIRECT_READ_MIN as usize + 4097,
            3000,
            DIRECT_READ_MIN as usize / 2 + 1,
        ];
        let mut files = Vec::new();
        let mut whole = Vec::new();
        for (i, size) in sizes.into_iter().enumerate() {
            let (file, data) = data_file(dir.path(), &format!("part{i}"), size);
            files.push((file, data.len() as u64));
            whole.extend_from_slice(&data);
        }
        let total = whole.len() as u64;
        let pool = BufferPool::new();
        for (start, len) in [
            (0, total),
            (1, total - 1),
            (4095, DIRECT_READ_MIN + 10_000),
            (sizes[0] as u64 - 5, 5 + 3000 + 7),
            (total - 100, 100),
            (12_345, 1),
        ] {
            let parts = files
                .iter()
                .map(|(file, size)| (PartFile::Open(file.try_clone().unwrap()), *size))
                .collect();
            let body = FileBody::new(parts, start, len, Arc::clone(&pool));
            let got = body.collect().await.unwrap().to_bytes();
            let (from, to) = (start as usize, (start + len) as usize);
            assert!(got.as_ref() == &whole[from..to], "{start} + {len}");
        }
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(http_date(1_705_320_000), "Mon, 15 Jan 2024 12:00:00 GMT");
        assert_eq!(
            parse_http_date("Mon, 15 Jan 2024 12:00:00 GMT"),
            Some(1_705_320_000)
        );
        assert_eq!(iso8601(1_705_320_000), "2024-01-15T12:00:00.000Z");
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
