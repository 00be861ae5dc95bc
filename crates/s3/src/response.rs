//! Response bodies and the small formats S3 responses use (HTTP dates,
//! ISO 8601 timestamps, quoted ETags).

use std::collections::VecDeque;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
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

use crate::buffers::{BUFFER_BYTES, BufferPool};
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

/// A range of one file still to be sent.
#[derive(Debug)]
struct Segment {
    file: Option<PartFile>,
    /// Once opened.
    opened: Option<std::fs::File>,
    /// Where to seek before the next read; `None` once positioned.
    seek: Option<u64>,
    /// Bytes not yet read.
    unread: u64,
}

/// Streams a range of a file, or of several files one after the other (a
/// multipart object's parts), in frames of one pooled buffer each
/// ([`crate::buffers`]). Each frame is read by one blocking call straight
/// into its buffer, which goes to the socket as it is and back to the pool
/// afterwards; the next read starts as soon as a frame is handed out, so
/// the disk and the socket work at the same time, with two buffers per
/// response at most.
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
                    seek: Some(from - offset),
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
        let want = segment.unread.min(BUFFER_BYTES as u64);
        segment.unread -= want;
        let mut buffer = self.buffers.take();
        self.reading = Some(tokio::task::spawn_blocking(move || {
            let file = match (segment.opened.take(), segment.file.take()) {
                (Some(file), _) => file,
                (None, Some(part)) => part.open()?,
                (None, None) => return Err(std::io::Error::other("segment without a file")),
            };
            let file = segment.opened.insert(file);
            if let Some(start) = segment.seek.take() {
                file.seek(SeekFrom::Start(start))?;
            }
            (&*file).take(want).read_to_end(buffer.vec_mut())?;
            if buffer.len() as u64 != want {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
            }
            Ok((segment, buffer.into_bytes()))
        }));
    }

    /// As a boxed response body.
    pub fn boxed(self) -> StreamingBody {
        BodyExt::boxed(self)
    }
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
    use super::*;

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
