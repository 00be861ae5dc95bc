//! The digests an upload is checked against while it streams: MD5 (the
//! ETag, `Content-MD5`), SHA-256 (`x-amz-content-sha256`) and the SDKs'
//! flexible checksums (`x-amz-checksum-*`, sigv4.md §10.5).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crc::{CRC_32_ISCSI, CRC_32_ISO_HDLC, CRC_64_NVME, Crc};
use mayfly_md5::Md5;

static CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);
static CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);
static CRC64NVME: Crc<u64> = Crc::<u64>::new(&CRC_64_NVME);

/// A running SHA-256.
pub struct Sha256Hasher(aws_lc_rs::digest::Context);

impl std::fmt::Debug for Sha256Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sha256Hasher")
    }
}

impl Default for Sha256Hasher {
    fn default() -> Self {
        Self(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256))
    }
}

impl Sha256Hasher {
    /// Add data.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest.
    pub fn finish(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        out
    }
}

/// A flexible-checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// `x-amz-checksum-crc32`.
    Crc32,
    /// `x-amz-checksum-crc32c`.
    Crc32c,
    /// `x-amz-checksum-crc64nvme`.
    Crc64Nvme,
    /// `x-amz-checksum-sha1`.
    Sha1,
    /// `x-amz-checksum-sha256`.
    Sha256,
}

impl ChecksumAlgorithm {
    /// The algorithm a `x-amz-checksum-*` header or trailer name selects.
    pub fn from_header(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "x-amz-checksum-crc32" => Some(Self::Crc32),
            "x-amz-checksum-crc32c" => Some(Self::Crc32c),
            "x-amz-checksum-crc64nvme" => Some(Self::Crc64Nvme),
            "x-amz-checksum-sha1" => Some(Self::Sha1),
            "x-amz-checksum-sha256" => Some(Self::Sha256),
            _ => None,
        }
    }

    /// The header name.
    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }
}

/// A running flexible checksum.
pub enum Checksum {
    /// CRC-32.
    Crc32(crc::Digest<'static, u32>),
    /// CRC-32C.
    Crc32c(crc::Digest<'static, u32>),
    /// CRC-64/NVME.
    Crc64Nvme(crc::Digest<'static, u64>),
    /// SHA-1 or SHA-256.
    Digest(aws_lc_rs::digest::Context),
}

impl std::fmt::Debug for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checksum")
    }
}

impl Checksum {
    /// A fresh checksum of `algorithm`.
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Crc32 => Self::Crc32(CRC32.digest()),
            ChecksumAlgorithm::Crc32c => Self::Crc32c(CRC32C.digest()),
            ChecksumAlgorithm::Crc64Nvme => Self::Crc64Nvme(CRC64NVME.digest()),
            ChecksumAlgorithm::Sha1 => Self::Digest(aws_lc_rs::digest::Context::new(
                &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            )),
            ChecksumAlgorithm::Sha256 => {
                Self::Digest(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256))
            }
        }
    }

    /// Add data.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc32(d) | Self::Crc32c(d) => d.update(data),
            Self::Crc64Nvme(d) => d.update(data),
            Self::Digest(d) => d.update(data),
        }
    }

    /// The base64 of the big-endian digest, as the header carries it.
    pub fn finish_base64(self) -> String {
        match self {
            Self::Crc32(d) | Self::Crc32c(d) => STANDARD.encode(d.finalize().to_be_bytes()),
            Self::Crc64Nvme(d) => STANDARD.encode(d.finalize().to_be_bytes()),
            Self::Digest(d) => STANDARD.encode(d.finish().as_ref()),
        }
    }
}

/// Every digest one upload computes.
#[derive(Debug)]
pub struct BodyDigests {
    md5: Md5,
    others: OtherDigests,
    len: u64,
}

/// The digests of an upload besides its MD5: SHA-256 and the flexible
/// checksum, those requested.
#[derive(Debug, Default)]
pub struct OtherDigests {
    sha256: Option<Sha256Hasher>,
    checksum: Option<(ChecksumAlgorithm, Checksum)>,
}

impl OtherDigests {
    /// Whether none is requested.
    pub fn is_empty(&self) -> bool {
        self.sha256.is_none() && self.checksum.is_none()
    }

    /// Add data.
    pub fn update(&mut self, data: &[u8]) {
        if let Some(s) = self.sha256.as_mut() {
            s.update(data);
        }
        if let Some((_, c)) = self.checksum.as_mut() {
            c.update(data);
        }
    }

    /// Finish them, into the digests computed with the MD5.
    pub fn finish_into(self, digests: &mut Digests) {
        digests.sha256 = self.sha256.map(Sha256Hasher::finish);
        digests.checksum = self.checksum.map(|(a, c)| (a, c.finish_base64()));
    }
}

/// The finished digests.
#[derive(Debug, Clone)]
pub struct Digests {
    /// MD5 of the data.
    pub md5: [u8; 16],
    /// SHA-256 of the data, when requested.
    pub sha256: Option<[u8; 32]>,
    /// The flexible checksum, when requested: (algorithm, base64 value).
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    /// Number of bytes.
    pub len: u64,
}

impl BodyDigests {
    /// Digests to compute: MD5 always, SHA-256 and a checksum on request.
    pub fn new(sha256: bool, checksum: Option<ChecksumAlgorithm>) -> Self {
        Self {
            md5: Md5::new(),
            others: OtherDigests {
                sha256: sha256.then(Sha256Hasher::default),
                checksum: checksum.map(|a| (a, Checksum::new(a))),
            },
            len: 0,
        }
    }

    /// Add data.
    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.others.update(data);
        self.len += data.len() as u64;
    }

    /// Take out the digests besides MD5 (and the length), so another
    /// thread can compute them at the same time ([`OtherDigests::finish_into`]
    /// joins them again); `None` when none is requested.
    pub fn split_others(&mut self) -> Option<OtherDigests> {
        let others = std::mem::take(&mut self.others);
        (!others.is_empty()).then_some(others)
    }

    /// Bytes so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes were added.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Finish every digest.
    pub fn finish(self) -> Digests {
        let mut digests = Digests {
            md5: self.md5.finalize(),
            sha256: None,
            checksum: None,
            len: self.len,
        };
        self.others.finish_into(&mut digests);
        digests
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn crc32_of_hello_world_matches_the_reference() {
        let mut d = BodyDigests::new(true, Some(ChecksumAlgorithm::Crc32));
        d.update(b"hello ");
        d.update(b"world\n");
        let done = d.finish();
        assert_eq!(done.checksum.unwrap().1, "rwg7LQ==");
        assert_eq!(hex::encode(done.md5), "6f5902ac237024bdd0c176cb93063dc4");
        assert_eq!(done.len, 12);
    }

    #[test]
    fn digests_split_across_two_computations_are_the_same() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let mut whole = BodyDigests::new(true, Some(ChecksumAlgorithm::Crc32c));
        whole.update(&data);
        let whole = whole.finish();
        let mut md5_half = BodyDigests::new(true, Some(ChecksumAlgorithm::Crc32c));
        let mut others = md5_half.split_others().unwrap();
        for piece in data.chunks(7_777) {
            md5_half.update(piece);
            others.update(piece);
        }
        let mut joined = md5_half.finish();
        assert!(joined.sha256.is_none());
        others.finish_into(&mut joined);
        assert_eq!(joined.md5, whole.md5);
        assert_eq!(joined.sha256, whole.sha256);
        assert_eq!(joined.checksum, whole.checksum);
        assert_eq!(joined.len, whole.len);
        assert!(BodyDigests::new(false, None).split_others().is_none());
    }

    #[test]
    fn crc32c_of_published_example() {
        // sigv4.md V9: 65 KiB of `a` → x-amz-checksum-crc32c:sOO8/Q==
        let mut c = Checksum::new(ChecksumAlgorithm::Crc32c);
        c.update(&vec![b'a'; 66560]);
        assert_eq!(c.finish_base64(), "sOO8/Q==");
    }
}
