//! Reading an upload's body as it streams: undo `aws-chunked` (checking the
//! chunk and trailer signatures), compute the digests, and at the end check
//! every declared value — `x-amz-content-sha256`, `Content-MD5`,
//! `x-amz-checksum-*` (header or trailer), `x-amz-decoded-content-length`.
//! Nothing is committed until [`BodyReader::finish`] succeeded.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::HeaderMap;
use http_body::Body;
use http_body_util::BodyExt;
use mayfly_sigv4::{PayloadHash, SigV4Error};
use subtle::ConstantTimeEq;

use crate::checksum::{BodyDigests, ChecksumAlgorithm, Digests};
use crate::chunked::{ChainKey, ChunkedDecoder};
use crate::error::S3Error;

/// Where the expected checksum comes from.
#[derive(Debug, Clone)]
enum ExpectedChecksum {
    None,
    Header(ChecksumAlgorithm, String),
    Trailer(ChecksumAlgorithm),
}

/// How to read and check one body.
#[derive(Debug)]
pub struct BodyPlan {
    payload: Option<PayloadHash>,
    chain: Option<ChainKey>,
    content_md5: Option<[u8; 16]>,
    decoded_length: Option<u64>,
    checksum: ExpectedChecksum,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl BodyPlan {
    /// The plan for a request with these headers and declared payload hash;
    /// `chain` must be given for the signed streaming forms.
    pub fn new(
        headers: &HeaderMap,
        payload: Option<PayloadHash>,
        chain: Option<ChainKey>,
    ) -> Result<Self, S3Error> {
        let content_md5 = match header(headers, "content-md5") {
            None => None,
            Some(value) => {
                let bytes = STANDARD.decode(value.trim()).ok();
                let digest: Option<[u8; 16]> = bytes.and_then(|b| b.try_into().ok());
                Some(digest.ok_or_else(|| {
                    S3Error::new(
                        "InvalidDigest",
                        400,
                        "The Content-MD5 you specified was invalid.",
                    )
                })?)
            }
        };
        let streaming = matches!(
            payload,
            Some(
                PayloadHash::StreamingSigned
                    | PayloadHash::StreamingSignedTrailer
                    | PayloadHash::StreamingUnsignedTrailer
            )
        );
        let decoded_length = if streaming {
            let value = header(headers, "x-amz-decoded-content-length").ok_or_else(|| {
                S3Error::new(
                    "MissingContentLength",
                    411,
                    "You must provide the Content-Length HTTP header.",
                )
            })?;
            Some(value.trim().parse::<u64>().map_err(|_| {
                S3Error::invalid_argument("x-amz-decoded-content-length is not a number")
            })?)
        } else {
            None
        };
        let mut checksum = ExpectedChecksum::None;
        for (name, value) in headers {
            if let Some(algorithm) = ChecksumAlgorithm::from_header(name.as_str()) {
                if !matches!(checksum, ExpectedChecksum::None) {
                    return Err(S3Error::invalid_request(
                        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                    ));
                }
                let value = value.to_str().map_err(|_| {
                    S3Error::invalid_request("Value for x-amz-checksum header is invalid.")
                })?;
                checksum = ExpectedChecksum::Header(algorithm, value.trim().to_owned());
            }
        }
        if let Some(trailer) = header(headers, "x-amz-trailer") {
            if !streaming || payload == Some(PayloadHash::StreamingSigned) {
                return Err(S3Error::invalid_request(
                    "x-amz-trailer is only allowed with a trailer-carrying aws-chunked body.",
                ));
            }
            let names: Vec<&str> = trailer.split(',').map(str::trim).collect();
            let [name] = names.as_slice() else {
                return Err(S3Error::invalid_request(
                    "Expecting a single x-amz-trailer checksum.",
                ));
            };
            let algorithm = ChecksumAlgorithm::from_header(name).ok_or_else(|| {
                S3Error::invalid_request(
                    "The value specified in the x-amz-trailer header is not supported",
                )
            })?;
            if !matches!(checksum, ExpectedChecksum::None) {
                return Err(S3Error::invalid_request(
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                ));
            }
            checksum = ExpectedChecksum::Trailer(algorithm);
        }
        Ok(Self {
            payload,
            chain,
            content_md5,
            decoded_length,
            checksum,
        })
    }
}

/// Reads a body according to its plan.
#[derive(Debug)]
pub struct BodyReader<B> {
    body: B,
    decoder: Option<ChunkedDecoder>,
    /// `None` once handed to the caller ([`BodyReader::detach_digests`]).
    digests: Option<BodyDigests>,
    plan: BodyPlan,
    max_len: u64,
    /// Decoded bytes so far.
    len: u64,
    done: bool,
    /// [`BODY_IDLE_TIMEOUT`], shorter in tests.
    idle_timeout: std::time::Duration,
}

impl<B> BodyReader<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    /// Start reading `body`; more than `max_len` decoded bytes is an error.
    pub fn new(body: B, mut plan: BodyPlan, max_len: u64) -> Result<Self, S3Error> {
        let decoder = match plan.payload {
            Some(PayloadHash::StreamingUnsignedTrailer) => Some(ChunkedDecoder::new(None, true)),
            Some(PayloadHash::StreamingSigned | PayloadHash::StreamingSignedTrailer) => {
                let chain = plan
                    .chain
                    .take()
                    .ok_or_else(|| S3Error::from(SigV4Error::MissingAuthentication))?;
                Some(ChunkedDecoder::new(
                    Some(chain),
                    plan.payload == Some(PayloadHash::StreamingSignedTrailer),
                ))
            }
            _ => None,
        };
        let sha256 = matches!(plan.payload, Some(PayloadHash::Sha256(_)));
        let algorithm = match &plan.checksum {
            ExpectedChecksum::None => None,
            ExpectedChecksum::Header(a, _) | ExpectedChecksum::Trailer(a) => Some(*a),
        };
        if plan.decoded_length.is_some_and(|len| len > max_len) {
            return Err(too_large(max_len));
        }
        Ok(Self {
            body,
            decoder,
            digests: Some(BodyDigests::new(sha256, algorithm)),
            plan,
            max_len,
            len: 0,
            done: false,
            idle_timeout: BODY_IDLE_TIMEOUT,
        })
    }

    /// Take the digests out, to compute them elsewhere (an upload hashes
    /// on a thread of its own while the body is read): [`BodyReader::next`]
    /// then only decodes and counts, and [`BodyReader::finish_with`] checks
    /// the digests computed over exactly the bytes it returned. `None` once
    /// bytes have been read (they would be missing from the digests).
    pub fn detach_digests(&mut self) -> Option<BodyDigests> {
        if self.len > 0 {
            return None;
        }
        self.digests.take()
    }

    /// The next decoded bytes; `None` at the end of the body. A plain body's
    /// frames are passed on as received, without a copy.
    pub async fn next(&mut self) -> Result<Option<Bytes>, S3Error> {
        loop {
            if self.done {
                return Ok(None);
            }
            let frame = tokio::time::timeout(self.idle_timeout, self.body.frame())
                .await
                .map_err(|_| request_timeout())?;
            let Some(frame) = frame else {
                self.done = true;
                return Ok(None);
            };
            let frame = frame.map_err(|error| {
                tracing::debug!(%error, "reading the request body failed");
                S3Error::new(
                    "IncompleteBody",
                    400,
                    "You did not provide the number of bytes specified by the Content-Length HTTP header.",
                )
            })?;
            let Ok(data) = frame.into_data() else {
                continue; // HTTP trailers: not used by S3 clients
            };
            let out = match self.decoder.as_mut() {
                Some(decoder) => {
                    let mut out = Vec::with_capacity(data.len());
                    decoder.feed(&data, &mut out)?;
                    Bytes::from(out)
                }
                None => data,
            };
            if out.is_empty() {
                continue;
            }
            self.len += out.len() as u64;
            if self.len > self.max_len {
                return Err(too_large(self.max_len));
            }
            if let Some(digests) = self.digests.as_mut() {
                digests.update(&out);
            }
            return Ok(Some(out));
        }
    }

    /// Read the whole body (small documents only: bounded by `max_len`).
    pub async fn read_all(mut self) -> Result<(Vec<u8>, Digests), S3Error> {
        let mut all = Vec::new();
        while let Some(piece) = self.next().await? {
            all.extend_from_slice(&piece);
        }
        let digests = self.finish()?;
        Ok((all, digests))
    }

    /// The body has been read: check every declared value.
    pub fn finish(mut self) -> Result<Digests, S3Error> {
        let digests = self.digests.take().ok_or_else(S3Error::internal)?.finish();
        self.finish_with(digests)
    }

    /// [`BodyReader::finish`] with the digests computed by the caller over
    /// every byte [`BodyReader::next`] returned (after
    /// [`BodyReader::detach_digests`]).
    pub fn finish_with(self, digests: Digests) -> Result<Digests, S3Error> {
        if digests.len != self.len {
            // The caller's digests do not cover what was read.
            return Err(S3Error::internal());
        }
        let trailers = match self.decoder {
            Some(decoder) => decoder.finish()?,
            None => Vec::new(),
        };
        if let Some(expected) = self.plan.decoded_length
            && expected != digests.len
        {
            return Err(S3Error::new(
                "IncompleteBody",
                400,
                "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            ));
        }
        if let (Some(PayloadHash::Sha256(declared)), Some(computed)) =
            (self.plan.payload, digests.sha256)
            && !bool::from(declared.ct_eq(&computed))
        {
            return Err(S3Error::from(SigV4Error::ContentSha256Mismatch {
                declared: hex::encode(declared),
                computed: hex::encode(computed),
            }));
        }
        if let Some(md5) = self.plan.content_md5
            && md5 != digests.md5
        {
            return Err(S3Error::bad_digest("Content-MD5"));
        }
        let expected = match &self.plan.checksum {
            ExpectedChecksum::None => None,
            ExpectedChecksum::Header(algorithm, value) => Some((*algorithm, value.clone())),
            ExpectedChecksum::Trailer(algorithm) => {
                let value = trailers
                    .iter()
                    .find(|(name, _)| name == algorithm.header())
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                    .ok_or_else(|| {
                        S3Error::invalid_request(format!(
                            "The trailer {} was declared in x-amz-trailer but not sent.",
                            algorithm.header()
                        ))
                    })?;
                Some((*algorithm, value))
            }
        };
        if let (Some((_, want)), Some((_, got))) = (&expected, &digests.checksum)
            && want != got
        {
            return Err(S3Error::bad_digest("checksum"));
        }
        Ok(digests)
    }
}

/// How long a body may send nothing before the request fails with S3's
/// `RequestTimeout`: a client that stops mid-body would otherwise hold its
/// connection, its buffers and its upload's temp file for ever. (S3's own
/// limit is not published; 20 s is the figure its clients report.)
pub const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

fn request_timeout() -> S3Error {
    S3Error::new(
        "RequestTimeout",
        400,
        "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
    )
}

fn too_large(max: u64) -> S3Error {
    S3Error::new(
        "EntityTooLarge",
        400,
        "Your proposed upload exceeds the maximum allowed size",
    )
    .with("MaxSizeAllowed", max.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body::Frame;

    use super::*;

    /// A body that sends `first`, then nothing, never ending.
    struct Stalls {
        first: Option<Bytes>,
    }

    impl Body for Stalls {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            match self.first.take() {
                Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                None => Poll::Pending,
            }
        }
    }

    #[tokio::test]
    async fn a_body_that_stops_sending_fails_with_request_timeout() {
        let plan = BodyPlan::new(&HeaderMap::new(), Some(PayloadHash::Unsigned), None).unwrap();
        let body = Stalls {
            first: Some(Bytes::from_static(b"some")),
        };
        let mut reader = BodyReader::new(body, plan, 1 << 20).unwrap();
        reader.idle_timeout = std::time::Duration::from_millis(50);
        assert_eq!(reader.next().await.unwrap().unwrap(), "some");
        let error = reader.next().await.unwrap_err();
        assert_eq!(error.code, "RequestTimeout");
        assert_eq!(error.status, 400);
    }
}
