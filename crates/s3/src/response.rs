//! Response bodies and the small formats S3 responses use (HTTP dates,
//! ISO 8601 timestamps, quoted ETags).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use mayfly_server::StreamingBody;
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use tokio::io::{AsyncRead, ReadBuf};

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

/// Streams `remaining` bytes of a file in 64 KiB frames.
#[derive(Debug)]
pub struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: Box<[u8]>,
}

impl FileBody {
    /// Stream `len` bytes from the file's current position.
    pub fn new(file: tokio::fs::File, len: u64) -> Self {
        Self {
            file,
            remaining: len,
            buf: vec![0u8; 64 * 1024].into_boxed_slice(),
        }
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
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(this.remaining)
            .unwrap_or(usize::MAX)
            .min(this.buf.len());
        let mut read = ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(error)) => Poll::Ready(Some(Err(error))),
            Poll::Ready(Ok(())) => {
                let filled = read.filled();
                if filled.is_empty() {
                    return Poll::Ready(Some(Err(std::io::Error::from(
                        std::io::ErrorKind::UnexpectedEof,
                    ))));
                }
                this.remaining -= filled.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(filled)))))
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
