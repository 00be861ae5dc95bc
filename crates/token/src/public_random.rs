//! Random bytes for values that are public once issued: the random tail of
//! a temporary access key id and the AES-GCM nonce of a session token.
//!
//! Both must be unpredictable and must not repeat, but neither is a secret
//! (the id travels with every request, the nonce sits in the clear in the
//! token). aws-lc's `RAND_bytes` costs about 10,000 instructions per call
//! whatever its length (a CTR-DRBG generate with its reseed checks), a tenth
//! of minting a session. [`PublicRandom`] draws 4 KiB per call instead and
//! hands the bytes out in order from a per-thread buffer, each byte once:
//! the values come from the same generator, only the per-call cost is
//! amortized. Never use it for key material or secrets.

use std::cell::RefCell;

use aws_lc_rs::rand::SecureRandom;

use crate::error::TokenError;

/// Bytes drawn from the system generator per refill.
const BUFFER_LEN: usize = 4096;

/// Requests larger than this bypass the buffer.
const MAX_BUFFERED: usize = 256;

/// Where [`KeyRing::issue`](crate::KeyRing::issue) takes its random bytes
/// from: the system generator itself ([`aws_lc_rs::rand::SystemRandom`]) or
/// a [`PublicRandom`] over it.
pub trait RandomSource {
    /// Fill `dest` with random bytes.
    ///
    /// # Errors
    /// [`TokenError::Rng`] if the generator fails.
    fn fill_random(&self, dest: &mut [u8]) -> Result<(), TokenError>;
}

impl<T: SecureRandom + ?Sized> RandomSource for T {
    fn fill_random(&self, dest: &mut [u8]) -> Result<(), TokenError> {
        self.fill(dest).map_err(|_| TokenError::Rng)
    }
}

/// A buffered source of public random values (see the module docs).
#[derive(Debug, Default, Clone, Copy)]
pub struct PublicRandom;

struct Buffer {
    bytes: [u8; BUFFER_LEN],
    /// Bytes before this index were handed out (and zeroed) or never drawn.
    next: usize,
}

thread_local! {
    // Per thread, so no two threads ever share (and so repeat) bytes.
    static BUFFER: RefCell<Buffer> = const {
        RefCell::new(Buffer { bytes: [0; BUFFER_LEN], next: BUFFER_LEN })
    };
}

impl RandomSource for PublicRandom {
    fn fill_random(&self, dest: &mut [u8]) -> Result<(), TokenError> {
        if dest.len() > MAX_BUFFERED {
            return aws_lc_rs::rand::fill(dest).map_err(|_| TokenError::Rng);
        }
        BUFFER.with(|cell| {
            let mut buffer = cell.try_borrow_mut().map_err(|_| TokenError::Rng)?;
            if BUFFER_LEN - buffer.next < dest.len() {
                aws_lc_rs::rand::fill(&mut buffer.bytes).map_err(|_| TokenError::Rng)?;
                buffer.next = 0;
            }
            let start = buffer.next;
            let end = start + dest.len();
            let taken = buffer.bytes.get_mut(start..end).ok_or(TokenError::Rng)?;
            dest.copy_from_slice(taken);
            // Handed out once: never again from this buffer.
            taken.fill(0);
            buffer.next = end;
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn values_never_repeat_across_refills_and_threads() {
        let draw = || {
            (0..2_000)
                .map(|_| {
                    let mut value = [0u8; 20];
                    PublicRandom.fill_random(&mut value).unwrap();
                    value
                })
                .collect::<Vec<_>>()
        };
        let other = std::thread::spawn(draw);
        let mut seen = HashSet::new();
        let mine = draw();
        for value in mine.into_iter().chain(other.join().unwrap()) {
            assert_ne!(value, [0u8; 20]);
            assert!(seen.insert(value), "a value repeated");
        }
        assert_eq!(seen.len(), 4_000);
    }

    #[test]
    fn large_requests_bypass_the_buffer() {
        let mut big = [0u8; 1024];
        PublicRandom.fill_random(&mut big).unwrap();
        assert!(big.iter().any(|b| *b != 0));
    }
}
