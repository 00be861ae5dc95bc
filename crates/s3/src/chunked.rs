//! The `aws-chunked` body (sigv4.md §10): an incremental decoder that takes
//! the body as it arrives, yields the object bytes and checks the
//! chunk-signature chain and the trailer signature on the way. Pure: no I/O,
//! bounded memory (one chunk-size line, one trailer block).

use mayfly_sigv4::{
    CredentialScope, SigningKey, canonical_trailers, chunk_string_to_sign, trailer_string_to_sign,
};
use subtle::ConstantTimeEq;

use crate::checksum::Sha256Hasher;

/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Largest trailer block accepted.
const MAX_TRAILERS: usize = 16 * 1024;

/// Trailer lines: lowercase name and trimmed value.
pub type Trailers = Vec<(String, Vec<u8>)>;

/// Why an aws-chunked body is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The framing is broken (bad size line, missing CRLF, oversize line).
    #[error("aws-chunked framing is malformed: {0}")]
    Malformed(&'static str),
    /// A chunk signature does not continue the chain.
    #[error("chunk signature does not match")]
    ChunkSignature,
    /// The trailer signature does not match, or is missing.
    #[error("trailer signature does not match or is missing")]
    TrailerSignature,
    /// The body ended before the final chunk and trailers.
    #[error("aws-chunked body ended early")]
    Incomplete,
}

/// What the chain is checked with (signed forms only).
#[derive(Debug)]
pub struct ChainKey {
    /// The request's signing key.
    pub key: SigningKey,
    /// The request timestamp, basic format.
    pub amz_date: String,
    /// The credential scope.
    pub scope: CredentialScope,
    /// The seed signature (the request's own signature), lowercase hex.
    pub seed: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk-size line.
    SizeLine,
    /// Inside chunk data; this many bytes remain.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the final chunk: trailer lines until an empty line.
    Trailers,
    /// Finished.
    Done,
}

/// Incremental aws-chunked decoder.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
    line: Vec<u8>,
    chain: Option<ChainKey>,
    previous: String,
    expected_signature: Option<[u8; 32]>,
    chunk_hasher: Option<Sha256Hasher>,
    expect_trailers: bool,
    trailers: Trailers,
    trailer_bytes: usize,
    trailer_signature: Option<String>,
}

impl ChunkedDecoder {
    /// A decoder; `chain` is `Some` for the signed forms, `expect_trailers`
    /// for the `-TRAILER` forms.
    pub fn new(chain: Option<ChainKey>, expect_trailers: bool) -> Self {
        let previous = chain.as_ref().map(|c| c.seed.clone()).unwrap_or_default();
        Self {
            state: State::SizeLine,
            line: Vec::new(),
            chain,
            previous,
            expected_signature: None,
            chunk_hasher: None,
            expect_trailers,
            trailers: Vec::new(),
            trailer_bytes: 0,
            trailer_signature: None,
        }
    }

    /// Feed the next piece of the body; decoded object bytes are appended to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkError> {
        while !input.is_empty() {
            match self.state {
                State::Done => return Err(ChunkError::Malformed("data after the end of the body")),
                State::Data(remaining) => {
                    let take = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let (data, rest) = input.split_at(take);
                    if let Some(h) = self.chunk_hasher.as_mut() {
                        h.update(data);
                    }
                    out.extend_from_slice(data);
                    input = rest;
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                }
                State::SizeLine | State::DataEnd | State::Trailers => {
                    let Some(pos) = input.iter().position(|b| *b == b'\n') else {
                        self.push_line(input)?;
                        return Ok(());
                    };
                    self.push_line(&input[..=pos])?;
                    input = &input[pos + 1..];
                    let line = std::mem::take(&mut self.line);
                    let Some(line) = line.strip_suffix(b"\r\n") else {
                        return Err(ChunkError::Malformed("line does not end with CRLF"));
                    };
                    self.on_line(line)?;
                }
            }
        }
        Ok(())
    }

    fn push_line(&mut self, bytes: &[u8]) -> Result<(), ChunkError> {
        if self.line.len() + bytes.len() > MAX_LINE {
            return Err(ChunkError::Malformed("line too long"));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn on_line(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        match self.state {
            State::SizeLine => self.on_size_line(line),
            State::DataEnd => {
                if !line.is_empty() {
                    return Err(ChunkError::Malformed("chunk data is longer than its size"));
                }
                self.finish_chunk()?;
                self.state = State::SizeLine;
                Ok(())
            }
            State::Trailers => self.on_trailer_line(line),
            State::Data(_) | State::Done => Err(ChunkError::Malformed("unexpected line")),
        }
    }

    fn on_size_line(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        let text = std::str::from_utf8(line).map_err(|_| ChunkError::Malformed("size line"))?;
        let (size_text, ext) = match text.split_once(';') {
            Some((size, ext)) => (size, Some(ext)),
            None => (text, None),
        };
        if size_text.is_empty() || size_text.len() > 16 {
            return Err(ChunkError::Malformed("chunk size"));
        }
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| ChunkError::Malformed("chunk size is not hexadecimal"))?;
        match (&self.chain, ext) {
            (Some(_), Some(ext)) => {
                let sig = ext
                    .strip_prefix("chunk-signature=")
                    .ok_or(ChunkError::Malformed("chunk extension"))?;
                let mut digest = [0u8; 32];
                hex::decode_to_slice(sig, &mut digest).map_err(|_| ChunkError::ChunkSignature)?;
                self.expected_signature = Some(digest);
                self.chunk_hasher = Some(Sha256Hasher::default());
            }
            (Some(_), None) => return Err(ChunkError::ChunkSignature),
            (None, Some(_)) => return Err(ChunkError::Malformed("unexpected chunk extension")),
            (None, None) => {}
        }
        if size == 0 {
            // The final chunk: its signature covers the empty data.
            self.finish_chunk()?;
            self.state = State::Trailers;
        } else {
            self.state = State::Data(size);
        }
        Ok(())
    }

    /// Check the signature of the chunk just read (signed forms).
    fn finish_chunk(&mut self) -> Result<(), ChunkError> {
        let Some(chain) = &self.chain else {
            return Ok(());
        };
        let (Some(expected), Some(hasher)) =
            (self.expected_signature.take(), self.chunk_hasher.take())
        else {
            return Err(ChunkError::ChunkSignature);
        };
        let digest = hasher.finish();
        let sts = chunk_string_to_sign_from_digest(
            &chain.amz_date,
            &chain.scope,
            &self.previous,
            &digest,
        );
        let computed = chain.key.sign(sts.as_bytes());
        if !bool::from(computed.ct_eq(&expected)) {
            return Err(ChunkError::ChunkSignature);
        }
        self.previous = hex::encode(computed);
        Ok(())
    }

    fn on_trailer_line(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        if line.is_empty() {
            self.state = State::Done;
            return Ok(());
        }
        self.trailer_bytes += line.len();
        if self.trailer_bytes > MAX_TRAILERS || !self.expect_trailers {
            return Err(ChunkError::Malformed("unexpected trailer"));
        }
        let text = std::str::from_utf8(line).map_err(|_| ChunkError::Malformed("trailer"))?;
        let (name, value) = text
            .split_once(':')
            .ok_or(ChunkError::Malformed("trailer line has no colon"))?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if name == "x-amz-trailer-signature" {
            if self.trailer_signature.is_some() {
                return Err(ChunkError::Malformed("repeated trailer signature"));
            }
            self.trailer_signature = Some(value.to_owned());
        } else {
            self.trailers.push((name, value.as_bytes().to_vec()));
        }
        Ok(())
    }

    /// The body ended: check that it was complete and, for the signed
    /// trailer form, the trailer signature. Returns the trailers.
    pub fn finish(self) -> Result<Trailers, ChunkError> {
        if self.state != State::Done {
            return Err(ChunkError::Incomplete);
        }
        if let (Some(chain), true) = (&self.chain, self.expect_trailers) {
            let Some(provided) = &self.trailer_signature else {
                return Err(ChunkError::TrailerSignature);
            };
            let refs: Vec<(&str, &[u8])> = self
                .trailers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_slice()))
                .collect();
            let canonical = canonical_trailers(&refs);
            let sts =
                trailer_string_to_sign(&chain.amz_date, &chain.scope, &self.previous, &canonical);
            let mut digest = [0u8; 32];
            hex::decode_to_slice(provided, &mut digest)
                .map_err(|_| ChunkError::TrailerSignature)?;
            if !chain.key.verify(sts.as_bytes(), &digest) {
                return Err(ChunkError::TrailerSignature);
            }
        }
        Ok(self.trailers)
    }
}

/// [`chunk_string_to_sign`] with the chunk's SHA-256 already computed
/// (the data streams through; it is never held whole).
fn chunk_string_to_sign_from_digest(
    amz_date: &str,
    scope: &CredentialScope,
    previous: &str,
    digest: &[u8],
) -> String {
    // chunk_string_to_sign hashes its data argument; the last line is the
    // hex digest, so rebuild it from the empty-data form.
    let base = chunk_string_to_sign(amz_date, scope, previous, &[]);
    let cut = base.rfind('\n').map_or(base.len(), |i| i + 1);
    format!("{}{}", &base[..cut], hex::encode(digest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;
    use mayfly_sigv4::derive_signing_key;

    fn v8_chain() -> ChainKey {
        let scope = CredentialScope::new("20240115", "us-east-1", "s3").unwrap();
        ChainKey {
            key: derive_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &scope),
            amz_date: "20240115T120000Z".into(),
            scope,
            seed: "645b40a7f89bdc014b8fb01b4370a9a7db51e8fd2e006cfd80666ac50210dfeb".into(),
        }
    }

    const V8_BODY: &str = "c;chunk-signature=3bde88903729b85844133b051916d3549e015e7383680fe40c309fc72a01fa79\r\nhello world\n\r\n0;chunk-signature=4983f824d0ed185d114d08e91c711c2cd372916b6e2e820d7dddffdce6f0b22f\r\nx-amz-checksum-crc32:rwg7LQ==\r\nx-amz-trailer-signature:d11b4906736fbdc22c6c56ec7b4ccc8790c93111a00b0113bc6aa3366660e036\r\n\r\n";

    fn decode_in_pieces(
        mut decoder: ChunkedDecoder,
        body: &[u8],
        piece: usize,
    ) -> Result<(Vec<u8>, Trailers), ChunkError> {
        let mut out = Vec::new();
        for part in body.chunks(piece) {
            decoder.feed(part, &mut out)?;
        }
        Ok((out, decoder.finish()?))
    }

    #[test]
    fn v8_signed_trailer_body_decodes_in_any_split() {
        for piece in [1, 2, 7, 64, 1000] {
            let (data, trailers) = decode_in_pieces(
                ChunkedDecoder::new(Some(v8_chain()), true),
                V8_BODY.as_bytes(),
                piece,
            )
            .unwrap();
            assert_eq!(data, b"hello world\n");
            assert_eq!(
                trailers,
                vec![("x-amz-checksum-crc32".to_owned(), b"rwg7LQ==".to_vec())]
            );
        }
    }

    #[test]
    fn tampered_chunk_data_is_refused() {
        let body = V8_BODY.replace("hello world", "hello World");
        let err = decode_in_pieces(
            ChunkedDecoder::new(Some(v8_chain()), true),
            body.as_bytes(),
            5,
        )
        .unwrap_err();
        assert_eq!(err, ChunkError::ChunkSignature);
    }

    #[test]
    fn tampered_trailer_is_refused() {
        let body = V8_BODY.replace("rwg7LQ==", "AAAAAA==");
        let err = decode_in_pieces(
            ChunkedDecoder::new(Some(v8_chain()), true),
            body.as_bytes(),
            5,
        )
        .unwrap_err();
        assert_eq!(err, ChunkError::TrailerSignature);
    }

    #[test]
    fn missing_trailer_signature_is_refused() {
        let body = V8_BODY.replace(
            "x-amz-trailer-signature:d11b4906736fbdc22c6c56ec7b4ccc8790c93111a00b0113bc6aa3366660e036\r\n",
            "",
        );
        let err = decode_in_pieces(
            ChunkedDecoder::new(Some(v8_chain()), true),
            body.as_bytes(),
            5,
        )
        .unwrap_err();
        assert_eq!(err, ChunkError::TrailerSignature);
    }

    #[test]
    fn truncated_body_is_incomplete() {
        let body = &V8_BODY.as_bytes()[..100];
        let err =
            decode_in_pieces(ChunkedDecoder::new(Some(v8_chain()), true), body, 7).unwrap_err();
        assert_eq!(err, ChunkError::Incomplete);
    }

    #[test]
    fn unsigned_trailer_body_decodes() {
        let body = b"c\r\nhello world\n\r\n0\r\nx-amz-checksum-crc32:rwg7LQ==\r\n\r\n";
        let (data, trailers) = decode_in_pieces(ChunkedDecoder::new(None, true), body, 3).unwrap();
        assert_eq!(data, b"hello world\n");
        assert_eq!(trailers.len(), 1);
    }

    #[test]
    fn oversize_chunk_data_is_malformed() {
        let body = b"2\r\nhello\r\n0\r\n\r\n";
        let err = decode_in_pieces(ChunkedDecoder::new(None, true), body, 3).unwrap_err();
        assert!(matches!(err, ChunkError::Malformed(_)));
    }

    #[test]
    fn unsigned_chunk_in_signed_chain_is_refused() {
        let body = b"c\r\nhello world\n\r\n0\r\n\r\n";
        let err =
            decode_in_pieces(ChunkedDecoder::new(Some(v8_chain()), false), body, 3).unwrap_err();
        assert_eq!(err, ChunkError::ChunkSignature);
    }
}
