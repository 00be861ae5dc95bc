//! MD5's compression in plain Rust, for every CPU.
//!
//! Step `i` is `a = b + rol(a + K[i] + M[WORD[i]] + f(b, c, d), s)`, and
//! `b` is the word the previous step made: everything not depending on it
//! is summed first, so one add separates the round function from the
//! rotate. G is `(d & b) + (!d & c)` (the two terms share no bits), with
//! `!d & c` added early.

use crate::{K, WORD, md5_steps, words};

macro_rules! step {
    (F, $a:ident, $b:ident, $c:ident, $d:ident, $w:ident, $k:ident, $i:expr, $s:literal) => {
        let early = $a.wrapping_add($w[WORD[$i]].wrapping_add($k[$i]));
        let f = ($b & ($c ^ $d)) ^ $d;
        $a = early.wrapping_add(f).rotate_left($s).wrapping_add($b);
    };
    (G, $a:ident, $b:ident, $c:ident, $d:ident, $w:ident, $k:ident, $i:expr, $s:literal) => {
        let early = $a
            .wrapping_add($w[WORD[$i]].wrapping_add($k[$i]))
            .wrapping_add(!$d & $c);
        $a = early.wrapping_add($d & $b).rotate_left($s).wrapping_add($b);
    };
    (H, $a:ident, $b:ident, $c:ident, $d:ident, $w:ident, $k:ident, $i:expr, $s:literal) => {
        let early = $a.wrapping_add($w[WORD[$i]].wrapping_add($k[$i]));
        let f = ($c ^ $d) ^ $b;
        $a = early.wrapping_add(f).rotate_left($s).wrapping_add($b);
    };
    (I, $a:ident, $b:ident, $c:ident, $d:ident, $w:ident, $k:ident, $i:expr, $s:literal) => {
        let early = $a.wrapping_add($w[WORD[$i]].wrapping_add($k[$i]));
        let f = ($b | !$d) ^ $c;
        $a = early.wrapping_add(f).rotate_left($s).wrapping_add($b);
    };
}

/// Compress the whole 64-byte blocks of `blocks` into `state`.
pub(crate) fn compress(state: &mut [u32; 4], blocks: &[u8]) {
    // Opaque to the optimizer: as constants, LLVM reassociates each step's
    // sum to add K[i] last, after the round function (a fifth of the speed).
    let k: &[u32; 64] = std::hint::black_box(&K);
    let [mut sa, mut sb, mut sc, mut sd] = *state;
    for block in blocks.chunks_exact(64) {
        let w = words(block);
        let (mut a, mut b, mut c, mut d) = (sa, sb, sc, sd);
        md5_steps!(step, w, k, a, b, c, d);
        sa = sa.wrapping_add(a);
        sb = sb.wrapping_add(b);
        sc = sc.wrapping_add(c);
        sd = sd.wrapping_add(d);
    }
    *state = [sa, sb, sc, sd];
}
