//! MD5 (RFC 1321), for what S3 needs it for: the ETag of an object uploaded
//! in one request, the ETag of a multipart upload (the MD5 of its parts'
//! MD5s) and the `Content-MD5` check.
//!
//! Why not the `md-5` crate: a PutObject's ETag is one MD5 over the whole
//! body, and MD5 is serial, so its speed caps the upload's rate. All of
//! MD5's cost is one dependency chain through the newest state word: in
//! each step, the round function of it, an add, a rotate, an add. On the
//! benchmark machine `md-5` 0.11 hashes about 410 MB/s, mostly because
//! LLVM moves each step's round constant to the end of the sum, putting two
//! adds instead of one between the round function and the rotate. Here the
//! constants are opaque to the optimizer and everything that does not
//! depend on the newest word is summed first (about 510 MB/s), and on CPUs
//! with AVX-512VL each round function can be one `vpternlogd` and the
//! rotate one `vprold`, which brings the chain to 4 cycles a step where
//! those take a cycle each (about 590 MB/s on a Zen 4 EPYC). Where they
//! take longer (a Zen 5 EPYC: 440 MB/s, against 800 for the plain code),
//! that code is the slower, so [`Md5::new`] times both once per process
//! and keeps the faster. Figures and the command in docs/PERFORMANCE.md;
//! both paths are checked against `md-5` over random inputs split at
//! random points.

#[cfg(target_arch = "x86_64")]
mod avx512;
mod scalar;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bytes each code hashes per timing when [`Md5::new`] chooses between
/// them: long enough for a timer's resolution, short enough to cost little.
const CALIBRATION_BYTES: usize = 32 * 1024;
/// Timings per code; the best counts, so a preemption in one is ignored.
const CALIBRATION_ROUNDS: usize = 4;

/// The round constants, `floor(abs(sin(i + 1)) * 2^32)`.
const K: [u32; 64] = [
    0xd76a_a478,
    0xe8c7_b756,
    0x2420_70db,
    0xc1bd_ceee,
    0xf57c_0faf,
    0x4787_c62a,
    0xa830_4613,
    0xfd46_9501,
    0x6980_98d8,
    0x8b44_f7af,
    0xffff_5bb1,
    0x895c_d7be,
    0x6b90_1122,
    0xfd98_7193,
    0xa679_438e,
    0x49b4_0821,
    0xf61e_2562,
    0xc040_b340,
    0x265e_5a51,
    0xe9b6_c7aa,
    0xd62f_105d,
    0x0244_1453,
    0xd8a1_e681,
    0xe7d3_fbc8,
    0x21e1_cde6,
    0xc337_07d6,
    0xf4d5_0d87,
    0x455a_14ed,
    0xa9e3_e905,
    0xfcef_a3f8,
    0x676f_02d9,
    0x8d2a_4c8a,
    0xfffa_3942,
    0x8771_f681,
    0x6d9d_6122,
    0xfde5_380c,
    0xa4be_ea44,
    0x4bde_cfa9,
    0xf6bb_4b60,
    0xbebf_bc70,
    0x289b_7ec6,
    0xeaa1_27fa,
    0xd4ef_3085,
    0x0488_1d05,
    0xd9d4_d039,
    0xe6db_99e5,
    0x1fa2_7cf8,
    0xc4ac_5665,
    0xf429_2244,
    0x432a_ff97,
    0xab94_23a7,
    0xfc93_a039,
    0x655b_59c3,
    0x8f0c_cc92,
    0xffef_f47d,
    0x8584_5dd1,
    0x6fa8_7e4f,
    0xfe2c_e6e0,
    0xa301_4314,
    0x4e08_11a1,
    0xf753_7e82,
    0xbd3a_f235,
    0x2ad7_d2bb,
    0xeb86_d391,
];

/// The message word each step adds.
const WORD: [usize; 64] = {
    let mut word = [0; 64];
    let mut i = 0;
    while i < 64 {
        word[i] = match i / 16 {
            0 => i,
            1 => (5 * i + 1) % 16,
            2 => (3 * i + 5) % 16,
            _ => (7 * i) % 16,
        };
        i += 1;
    }
    word
};

const INITIAL: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The 64 steps of one block as `$step!(round, a, b, c, d, words, constants,
/// step number, shift)`, the roles of the four state variables rotating
/// from step to step.
macro_rules! md5_steps {
    ($step:ident, $w:ident, $k:ident, $a:ident, $b:ident, $c:ident, $d:ident) => {
        md5_steps!(@four $step, F, $w, $k, $a $b $c $d, 0, 7 12 17 22);
        md5_steps!(@four $step, F, $w, $k, $a $b $c $d, 4, 7 12 17 22);
        md5_steps!(@four $step, F, $w, $k, $a $b $c $d, 8, 7 12 17 22);
        md5_steps!(@four $step, F, $w, $k, $a $b $c $d, 12, 7 12 17 22);
        md5_steps!(@four $step, G, $w, $k, $a $b $c $d, 16, 5 9 14 20);
        md5_steps!(@four $step, G, $w, $k, $a $b $c $d, 20, 5 9 14 20);
        md5_steps!(@four $step, G, $w, $k, $a $b $c $d, 24, 5 9 14 20);
        md5_steps!(@four $step, G, $w, $k, $a $b $c $d, 28, 5 9 14 20);
        md5_steps!(@four $step, H, $w, $k, $a $b $c $d, 32, 4 11 16 23);
        md5_steps!(@four $step, H, $w, $k, $a $b $c $d, 36, 4 11 16 23);
        md5_steps!(@four $step, H, $w, $k, $a $b $c $d, 40, 4 11 16 23);
        md5_steps!(@four $step, H, $w, $k, $a $b $c $d, 44, 4 11 16 23);
        md5_steps!(@four $step, I, $w, $k, $a $b $c $d, 48, 6 10 15 21);
        md5_steps!(@four $step, I, $w, $k, $a $b $c $d, 52, 6 10 15 21);
        md5_steps!(@four $step, I, $w, $k, $a $b $c $d, 56, 6 10 15 21);
        md5_steps!(@four $step, I, $w, $k, $a $b $c $d, 60, 6 10 15 21);
    };
    (@four $step:ident, $round:ident, $w:ident, $k:ident, $a:ident $b:ident $c:ident $d:ident,
     $i:expr, $s0:literal $s1:literal $s2:literal $s3:literal) => {
        $step!($round, $a, $b, $c, $d, $w, $k, $i, $s0);
        $step!($round, $d, $a, $b, $c, $w, $k, $i + 1, $s1);
        $step!($round, $c, $d, $a, $b, $w, $k, $i + 2, $s2);
        $step!($round, $b, $c, $d, $a, $w, $k, $i + 3, $s3);
    };
}
pub(crate) use md5_steps;

/// The 16 little-endian words of a 64-byte block.
#[inline(always)]
fn words(block: &[u8]) -> [u32; 16] {
    let mut words = [0u32; 16];
    for (word, bytes) in words.iter_mut().zip(block.chunks_exact(4)) {
        let mut le = [0u8; 4];
        le.copy_from_slice(bytes);
        *word = u32::from_le_bytes(le);
    }
    words
}

/// How blocks are compressed on this CPU.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx512(avx512::Available),
}

impl Backend {
    /// The faster code on this CPU, chosen once per process.
    fn detect() -> Self {
        static CHOSEN: OnceLock<Backend> = OnceLock::new();
        *CHOSEN.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            if let Some(available) = avx512::Available::detect() {
                return Self::faster(Self::Scalar, Self::Avx512(available));
            }
            Self::Scalar
        })
    }

    /// Whichever of `a` and `b` hashes [`CALIBRATION_BYTES`] faster, by the
    /// best of [`CALIBRATION_ROUNDS`] interleaved timings each (`a` on a
    /// tie). Timed rather than assumed: the AVX-512VL code is the faster on
    /// CPUs whose vector rotate and ternary logic take one cycle (about
    /// 590 against 510 MB/s on the Zen 4 EPYC of the first benchmarks) and
    /// the slower where they do not (about 440 against 800 MB/s on a Zen 5
    /// EPYC), and no feature flag tells the two apart. About 0.5 ms, once.
    fn faster(a: Self, b: Self) -> Self {
        let data = [0x5a_u8; CALIBRATION_BYTES];
        let time = |backend: Self| {
            let mut state = INITIAL;
            let started = Instant::now();
            backend.compress(&mut state, std::hint::black_box(&data));
            std::hint::black_box(state);
            started.elapsed()
        };
        let (mut best_a, mut best_b) = (Duration::MAX, Duration::MAX);
        for _ in 0..CALIBRATION_ROUNDS {
            best_a = best_a.min(time(a));
            best_b = best_b.min(time(b));
        }
        if best_b < best_a { b } else { a }
    }

    /// Compress the whole 64-byte blocks of `blocks` into `state` (a
    /// shorter remainder is ignored).
    fn compress(self, state: &mut [u32; 4], blocks: &[u8]) {
        match self {
            Self::Scalar => scalar::compress(state, blocks),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512(available) => available.compress(state, blocks),
        }
    }
}

/// An MD5 computation fed piece by piece.
#[derive(Debug, Clone)]
pub struct Md5 {
    state: [u32; 4],
    /// The start of a block not yet complete: `buffer[..buffered]`.
    buffer: [u8; 64],
    buffered: usize,
    /// Bytes hashed so far (MD5 counts them modulo 2^64 bits).
    len: u64,
    backend: Backend,
}

impl Default for Md5 {
    fn default() -> Self {
        Self::new()
    }
}

impl Md5 {
    /// A new computation, using the faster code on this CPU (timed once per
    /// process, at the first call).
    pub fn new() -> Self {
        Self::with_backend(Backend::detect())
    }

    /// A new computation in plain Rust even where faster code runs (to
    /// compare the two: `examples/speed.rs`).
    pub fn portable() -> Self {
        Self::with_backend(Backend::Scalar)
    }

    /// A new computation with the AVX-512VL code, where this CPU runs it,
    /// even where it is the slower (to compare: `examples/speed.rs`).
    pub fn avx512() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if let Some(available) = avx512::Available::detect() {
            return Some(Self::with_backend(Backend::Avx512(available)));
        }
        None
    }

    /// Whether this computation uses the AVX-512VL code (for
    /// [`Md5::new`]: whether it was the faster here).
    pub fn is_accelerated(&self) -> bool {
        !matches!(self.backend, Backend::Scalar)
    }

    fn with_backend(backend: Backend) -> Self {
        Self {
            state: INITIAL,
            buffer: [0; 64],
            buffered: 0,
            len: 0,
            backend,
        }
    }

    /// The MD5 of `data`.
    pub fn digest(data: &[u8]) -> [u8; 16] {
        let mut md5 = Self::new();
        md5.update(data);
        md5.finalize()
    }

    /// Hash `data` next.
    pub fn update(&mut self, data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        let mut data = data;
        if self.buffered > 0 {
            // INVARIANT: `buffered` < 64 between calls.
            let free = self.buffer.get_mut(self.buffered..).unwrap_or_default();
            let (now, rest) = data.split_at(free.len().min(data.len()));
            free.get_mut(..now.len())
                .unwrap_or_default()
                .copy_from_slice(now);
            self.buffered += now.len();
            data = rest;
            if self.buffered < 64 {
                return;
            }
            let block = self.buffer;
            self.backend.compress(&mut self.state, &block);
            self.buffered = 0;
        }
        let (blocks, rest) = data.split_at(data.len() - data.len() % 64);
        self.backend.compress(&mut self.state, blocks);
        if let Some(start) = self.buffer.get_mut(..rest.len()) {
            start.copy_from_slice(rest);
            self.buffered = rest.len();
        }
    }

    /// The digest of everything hashed.
    pub fn finalize(mut self) -> [u8; 16] {
        let bits = self.len.wrapping_mul(8);
        // The rest, the 0x80 marker, zeros, the length in bits: one block
        // or, when the rest leaves no room for the length, two.
        let mut tail = [0u8; 128];
        let rest = self.buffer.get(..self.buffered).unwrap_or_default();
        let end = if rest.len() < 56 { 64 } else { 128 };
        for (to, from) in tail.iter_mut().zip(rest.iter().chain([&0x80])) {
            *to = *from;
        }
        if let Some(length) = tail.get_mut(end - 8..end) {
            length.copy_from_slice(&bits.to_le_bytes());
        }
        self.backend
            .compress(&mut self.state, tail.get(..end).unwrap_or_default());
        let mut digest = [0u8; 16];
        for (bytes, word) in digest.chunks_exact_mut(4).zip(self.state) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        digest
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use md5::Digest as _;
    use proptest::prelude::*;

    use super::*;

    fn backends() -> Vec<Backend> {
        let mut all = vec![Backend::Scalar];
        #[cfg(target_arch = "x86_64")]
        if let Some(available) = avx512::Available::detect() {
            all.push(Backend::Avx512(available));
        }
        all
    }

    #[test]
    fn new_keeps_one_choice_among_the_codes_this_cpu_runs() {
        let first = Md5::new().is_accelerated();
        for _ in 0..8 {
            assert_eq!(Md5::new().is_accelerated(), first);
        }
        assert_eq!(Md5::avx512().is_some(), backends().len() == 2);
        if Md5::avx512().is_none() {
            assert!(!first, "no AVX-512VL here, yet chosen");
        }
        assert!(!Md5::portable().is_accelerated());
    }

    fn hex(digest: [u8; 16]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_rfc_1321_test_suite() {
        let suite = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for backend in backends() {
            for (input, expected) in suite {
                let mut md5 = Md5::with_backend(backend);
                md5.update(input.as_bytes());
                assert_eq!(hex(md5.finalize()), expected, "{backend:?} {input:?}");
            }
        }
    }

    #[test]
    fn every_length_around_the_block_and_padding_edges_matches_md_5() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + i / 5) as u8).collect();
        for backend in backends() {
            for len in 0..data.len() {
                let mut md5 = Md5::with_backend(backend);
                md5.update(&data[..len]);
                let expected: [u8; 16] = md5::Md5::digest(&data[..len]).into();
                assert_eq!(md5.finalize(), expected, "{backend:?} length {len}");
            }
        }
    }

    #[test]
    fn a_mebibyte_matches_md_5_on_every_backend() {
        let data: Vec<u8> = (0..1 << 20u32).map(|i| (i ^ (i >> 9)) as u8).collect();
        let expected: [u8; 16] = md5::Md5::digest(&data).into();
        for backend in backends() {
            let mut md5 = Md5::with_backend(backend);
            md5.update(&data);
            assert_eq!(md5.finalize(), expected, "{backend:?}");
        }
        assert_eq!(Md5::digest(&data), expected);
    }

    proptest! {
        #[test]
        fn any_input_fed_in_any_pieces_matches_md_5(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(0usize..2000, 0..6),
        ) {
            let expected: [u8; 16] = md5::Md5::digest(&data).into();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            for backend in backends() {
                let mut md5 = Md5::with_backend(backend);
                let mut from = 0;
                for cut in cuts.iter().copied().chain([data.len()]) {
                    md5.update(&data[from..cut]);
                    from = cut;
                }
                prop_assert_eq!(md5.finalize(), expected);
            }
        }
    }
}
