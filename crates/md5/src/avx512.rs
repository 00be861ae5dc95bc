//! MD5's compression with AVX-512VL, for x86-64 CPUs that have it.
//!
//! The four state words live in lane 0 of `xmm` registers (the other lanes
//! are ignored; every instruction used is lane-wise). Each step's round
//! function is one `vpternlogd`, the rotate one `vprold`, so the chain
//! through the newest word is ternlog, add, rotate, add: 4 cycles a step,
//! against 4.5 at best with general-purpose instructions. `K[i] + M[g]` is
//! one scalar add moved into lane 0, added to `a` (made four steps ago)
//! off the chain.

use std::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_cvtsi32_si128, _mm_cvtsi128_si32, _mm_rol_epi32,
    _mm_ternarylogic_epi32,
};

use crate::{K, WORD, md5_steps, words};

/// Proof that this CPU runs AVX-512F and AVX-512VL: only
/// [`Available::detect`] makes one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Available(());

impl Available {
    pub(crate) fn detect() -> Option<Self> {
        (std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl"))
        .then_some(Self(()))
    }

    /// Compress the whole 64-byte blocks of `blocks` into `state`.
    #[expect(
        unsafe_code,
        reason = "calling a #[target_feature] function needs `unsafe` unless the caller has the features too"
    )]
    pub(crate) fn compress(self, state: &mut [u32; 4], blocks: &[u8]) {
        // SAFETY: `self` exists only if `detect` found that the CPU runs
        // avx512f and avx512vl, the features `compress_blocks` enables;
        // it has no other requirement (its body is safe code).
        unsafe { compress_blocks(state, blocks) }
    }
}

// `vpternlogd` truth tables: bit (b << 2 | c << 1 | d) of the immediate is
// the function's value, so b is 0xF0, c 0xCC and d 0xAA.
/// F = (b & c) | (!b & d)
const TERN_F: i32 = 0xCA;
/// G = (b & d) | (c & !d)
const TERN_G: i32 = 0xE4;
/// H = b ^ c ^ d
const TERN_H: i32 = 0x96;
/// I = c ^ (b | !d)
const TERN_I: i32 = 0x39;

macro_rules! step {
    ($round:ident, $a:ident, $b:ident, $c:ident, $d:ident, $w:ident, $k:ident, $i:expr, $s:literal) => {
        let km = _mm_cvtsi32_si128($w[WORD[$i]].wrapping_add($k[$i]).cast_signed());
        let early = _mm_add_epi32($a, km);
        let f = step!(@fun $round, $b, $c, $d);
        $a = _mm_add_epi32($b, _mm_rol_epi32::<$s>(_mm_add_epi32(early, f)));
    };
    (@fun F, $b:ident, $c:ident, $d:ident) => { _mm_ternarylogic_epi32::<TERN_F>($b, $c, $d) };
    (@fun G, $b:ident, $c:ident, $d:ident) => { _mm_ternarylogic_epi32::<TERN_G>($b, $c, $d) };
    (@fun H, $b:ident, $c:ident, $d:ident) => { _mm_ternarylogic_epi32::<TERN_H>($b, $c, $d) };
    (@fun I, $b:ident, $c:ident, $d:ident) => { _mm_ternarylogic_epi32::<TERN_I>($b, $c, $d) };
}

#[target_feature(enable = "avx512f,avx512vl")]
fn compress_blocks(state: &mut [u32; 4], blocks: &[u8]) {
    let k = &K;
    let [a0, b0, c0, d0] = state.map(u32::cast_signed);
    let mut sa: __m128i = _mm_cvtsi32_si128(a0);
    let mut sb = _mm_cvtsi32_si128(b0);
    let mut sc = _mm_cvtsi32_si128(c0);
    let mut sd = _mm_cvtsi32_si128(d0);
    for block in blocks.chunks_exact(64) {
        let w = words(block);
        let (mut a, mut b, mut c, mut d) = (sa, sb, sc, sd);
        md5_steps!(step, w, k, a, b, c, d);
        sa = _mm_add_epi32(sa, a);
        sb = _mm_add_epi32(sb, b);
        sc = _mm_add_epi32(sc, c);
        sd = _mm_add_epi32(sd, d);
    }
    *state = [
        _mm_cvtsi128_si32(sa),
        _mm_cvtsi128_si32(sb),
        _mm_cvtsi128_si32(sc),
        _mm_cvtsi128_si32(sd),
    ]
    .map(i32::cast_unsigned);
}
