//! Time-based one-time passwords for virtual MFA devices
//! (iam-admin-api.md 10, sts-api.md 8): RFC 6238 over HMAC-SHA1, 30-second
//! steps, 6 digits, seeds exchanged as RFC 3548 base32 text.
//!
//! Pure: the time is always passed in (unix seconds), never read here.
//! Codes are compared in constant time.

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SecureRandom;
use data_encoding::BASE32_NOPAD;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::TokenError;

/// Length of one time step in seconds (RFC 6238 `X`, AWS: 30).
pub const STEP_SECONDS: u64 = 30;

/// Digits in a code (AWS: 6).
pub const CODE_DIGITS: usize = 6;

/// Random bytes in a new seed: 40 bytes are exactly the 64 base32
/// characters of an AWS seed (iam-admin-api.md 10 \[obs\]), no padding.
pub const SEED_LEN: usize = 40;

/// How far, in steps, a code may be from the expected step and still be
/// accepted when signing in: the previous, current and next code.
pub const ACCEPTED_STEPS_AROUND: u64 = 1;

/// How far, in steps, a device's clock may have drifted for
/// ResyncMFADevice to find its two codes (\[choice\]: AWS does not publish
/// its window; 10 steps is five minutes either way).
pub const MAX_DRIFT_STEPS: i64 = 10;

/// A TOTP seed (the HMAC key). `Debug` prints `TotpSeed(<redacted>)`; the
/// bytes are zeroized on drop.
pub struct TotpSeed(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSeed(<redacted>)")
    }
}

/// A 6-digit code as ASCII digits, zeroized on drop.
pub type TotpCode = Zeroizing<[u8; CODE_DIGITS]>;

impl TotpSeed {
    /// A fresh random seed of [`SEED_LEN`] bytes.
    ///
    /// # Errors
    /// [`TokenError::Rng`] if the generator fails.
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self, TokenError> {
        let mut bytes = Zeroizing::new(vec![0u8; SEED_LEN]);
        rng.fill(bytes.as_mut_slice())
            .map_err(|_| TokenError::Rng)?;
        Ok(Self(bytes))
    }

    /// A seed of the given bytes (test vectors, seeds from elsewhere).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// Decodes RFC 3548 base32 text (upper case, `=` padding optional).
    ///
    /// # Errors
    /// [`TokenError::Malformed`] when the text is not base32 or is empty.
    pub fn from_base32(text: &str) -> Result<Self, TokenError> {
        let malformed = TokenError::Malformed {
            reason: "a TOTP seed is not base32 text",
        };
        let unpadded = text.trim_end_matches('=');
        if unpadded.is_empty() {
            return Err(malformed);
        }
        let bytes = BASE32_NOPAD
            .decode(unpadded.as_bytes())
            .map_err(|_| malformed)?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// The seed as base32 text without padding, as `Base32StringSeed`
    /// carries it (64 characters for a generated seed).
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE32_NOPAD.encode(&self.0))
    }

    /// The HMAC key of the seed, built once for every step a check tries.
    fn hmac_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0)
    }

    /// The code of time step `step` (RFC 4226 HOTP with counter `step`,
    /// dynamically truncated to [`CODE_DIGITS`] digits).
    pub fn code_at(&self, step: u64) -> TotpCode {
        code_with(&self.hmac_key(), step)
    }

    /// Whether `code` is the code of `step`, compared in constant time
    /// (a code of another length or with other characters never matches).
    pub fn matches(&self, step: u64, code: &str) -> bool {
        is_code(&self.code_at(step), code)
    }

    /// Sign-in check (sts-api.md 8): the step `code` belongs to among the
    /// previous, current and next step of the device's clock at `now_unix`
    /// (the server's step shifted by `drift_steps`, learnt by
    /// ResyncMFADevice). Every candidate is compared, so the time taken
    /// does not tell which one matched.
    pub fn verify(&self, code: &str, now_unix: u64, drift_steps: i64) -> Option<u64> {
        let key = self.hmac_key();
        let center = device_step(now_unix, drift_steps);
        let mut found = None;
        for step in window(center, ACCEPTED_STEPS_AROUND) {
            if is_code(&code_with(&key, step), code) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }

    /// EnableMFADevice and ResyncMFADevice: two consecutive codes, `first`
    /// of some step `s` and `second` of `s + 1`, both within `radius` steps
    /// of the server's step at `now_unix`. Returns `s + 1`, the step the
    /// device showed last. Every step of the window is tried, its code
    /// computed once and compared with both, so the time taken does not
    /// tell which pair matched.
    pub fn find_consecutive(
        &self,
        first: &str,
        second: &str,
        now_unix: u64,
        radius: u64,
    ) -> Option<u64> {
        let key = self.hmac_key();
        let center = now_unix / STEP_SECONDS;
        // Whether `first` is the code of the step before the current one
        // (none before the window's first step).
        let mut first_before = false;
        let mut found = None;
        for step in window(center, radius) {
            let expected = code_with(&key, step);
            let is_second = is_code(&expected, second);
            if (first_before & is_second) && found.is_none() {
                found = Some(step);
            }
            first_before = is_code(&expected, first);
        }
        found
    }
}

/// The code of `step` under the seed's HMAC `key` (see [`TotpSeed::code_at`]).
fn code_with(key: &hmac::Key, step: u64) -> TotpCode {
    let tag = hmac::sign(key, &step.to_be_bytes());
    let mac = tag.as_ref();
    // INVARIANT: an HMAC-SHA1 tag is 20 bytes, so the offset (≤ 15) plus
    // 4 stays inside it; `get` keeps that from being a panic regardless.
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word = mac
        .get(offset..offset + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes);
    let mut value = (word & 0x7fff_ffff) % 1_000_000;
    let mut code = Zeroizing::new([b'0'; CODE_DIGITS]);
    for digit in code.iter_mut().rev() {
        // `value % 10` is below 10, so the cast cannot truncate.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
    code
}

/// Whether `code` is `expected`, compared in constant time (a code of
/// another length never matches).
fn is_code(expected: &TotpCode, code: &str) -> bool {
    bool::from(expected.as_slice().ct_eq(code.as_bytes()))
}

/// The server's time step at `now_unix`.
pub fn step_at(now_unix: u64) -> u64 {
    now_unix / STEP_SECONDS
}

/// The device's step at `now_unix`: the server's step shifted by `drift_steps`.
pub fn device_step(now_unix: u64, drift_steps: i64) -> u64 {
    step_at(now_unix).saturating_add_signed(drift_steps)
}

/// Until when (unix seconds) a code accepted at `now_unix` could be
/// accepted again under any drift a resync may set: the end of the last
/// step in which any of the steps accepted now is still inside the window.
/// Replay records of used codes are kept this long.
pub fn replay_horizon(now_unix: u64) -> u64 {
    let span = 2 * MAX_DRIFT_STEPS.unsigned_abs() + 2 * ACCEPTED_STEPS_AROUND + 1;
    (step_at(now_unix) + span) * STEP_SECONDS
}

/// `center - radius ..= center + radius`, clamped at step 0.
fn window(center: u64, radius: u64) -> std::ops::RangeInclusive<u64> {
    center.saturating_sub(radius)..=center.saturating_add(radius)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// RFC 6238 appendix B: the SHA-1 seed is the ASCII text "12345678901234567890".
    const RFC_SEED: &[u8] = b"12345678901234567890";

    fn code_text(seed: &TotpSeed, step: u64) -> String {
        String::from_utf8(seed.code_at(step).to_vec()).unwrap()
    }

    #[test]
    fn rfc_6238_sha1_vectors_truncated_to_six_digits() {
        let seed = TotpSeed::from_bytes(RFC_SEED);
        // (time, the RFC's 8-digit TOTP); 6 digits are its last six.
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, eight) in vectors {
            assert_eq!(code_text(&seed, step_at(time)), eight[2..], "T = {time}");
        }
    }

    #[test]
    fn rfc_4226_hotp_vectors() {
        // RFC 4226 appendix D: counters 0..9 with the same seed.
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        let seed = TotpSeed::from_bytes(RFC_SEED);
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(code_text(&seed, counter as u64), *code);
        }
    }

    #[test]
    fn base32_follows_rfc_4648_vectors() {
        let vectors = [
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (plain, encoded) in vectors {
            let seed = TotpSeed::from_bytes(plain.as_bytes());
            assert_eq!(seed.to_base32().as_str(), encoded);
            let back = TotpSeed::from_base32(encoded).unwrap();
            assert_eq!(back.0.as_slice(), plain.as_bytes());
        }
        // Padding is accepted on input.
        let padded = TotpSeed::from_base32("MZXW6YQ=").unwrap();
        assert_eq!(padded.0.as_slice(), b"foob");
    }

    #[test]
    fn base32_refuses_what_is_not_base32() {
        for text in ["", "====", "mzxw6", "MZXW6!", "MZXW61"] {
            assert!(TotpSeed::from_base32(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn a_generated_seed_is_64_base32_characters() {
        let seed = TotpSeed::generate(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
        let text = seed.to_base32();
        assert_eq!(text.len(), 64);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
        assert_eq!(TotpSeed::from_base32(&text).unwrap().0.len(), SEED_LEN);
    }

    #[test]
    fn the_window_accepts_one_step_either_side_and_refuses_two() {
        let seed = TotpSeed::from_bytes(RFC_SEED);
        let now = 1_800_000_015;
        let step = step_at(now);
        for (offset, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let at = step.checked_add_signed(offset).unwrap();
            let code = code_text(&seed, at);
            let expected = accepted.then_some(at);
            assert_eq!(seed.verify(&code, now, 0), expected, "offset {offset}");
        }
    }

    #[test]
    fn drift_moves_the_window() {
        let seed = TotpSeed::from_bytes(RFC_SEED);
        let now = 1_800_000_015;
        let ahead = step_at(now) + 5;
        let code = code_text(&seed, ahead);
        assert_eq!(seed.verify(&code, now, 0), None);
        assert_eq!(seed.verify(&code, now, 5), Some(ahead));
        assert_eq!(seed.verify(&code, now, 4), Some(ahead));
        assert_eq!(seed.verify(&code, now, 7), None);
    }

    #[test]
    fn codes_of_other_shapes_never_match() {
        let seed = TotpSeed::from_bytes(RFC_SEED);
        let now = 59;
        assert!(seed.verify("287082", now, 0).is_some());
        for code in ["", "28708", "2870820", "94287082", "28708a", " 287082"] {
            assert_eq!(seed.verify(code, now, 0), None, "{code:?}");
        }
    }

    #[test]
    fn consecutive_codes_are_found_within_the_radius_and_in_order_only() {
        let seed = TotpSeed::from_bytes(RFC_SEED);
        let now = 1_800_000_015;
        let step = step_at(now);
        let code = |s: u64| code_text(&seed, s);
        // previous + current, current + next.
        assert_eq!(
            seed.find_consecutive(&code(step - 1), &code(step), now, 1),
            Some(step)
        );
        assert_eq!(
            seed.find_consecutive(&code(step), &code(step + 1), now, 1),
            Some(step + 1)
        );
        // Reversed, not consecutive, or outside the radius.
        assert_eq!(
            seed.find_consecutive(&code(step), &code(step - 1), now, 1),
            None
        );
        assert_eq!(
            seed.find_consecutive(&code(step - 1), &code(step + 1), now, 1),
            None
        );
        assert_eq!(
            seed.find_consecutive(&code(step - 2), &code(step - 1), now, 1),
            None
        );
        assert_eq!(
            seed.find_consecutive(&code(step + 1), &code(step + 2), now, 1),
            None
        );
        // A resync radius finds a drifted pair.
        assert_eq!(
            seed.find_consecutive(&code(step + 6), &code(step + 7), now, 10),
            Some(step + 7)
        );
    }

    #[test]
    fn consecutive_codes_at_the_edges_of_the_window_are_found_and_no_further() {
        let seed = TotpSeed::from_bytes(RFC_SEED);
        let now = 1_800_000_015;
        let step = step_at(now);
        let radius = MAX_DRIFT_STEPS.unsigned_abs();
        let code = |s: u64| code_text(&seed, s);
        // Both codes inside the window, at its first and at its last step.
        assert_eq!(
            seed.find_consecutive(&code(step - radius), &code(step - radius + 1), now, radius),
            Some(step - radius + 1)
        );
        assert_eq!(
            seed.find_consecutive(&code(step + radius - 1), &code(step + radius), now, radius),
            Some(step + radius)
        );
        // One code just outside.
        assert_eq!(
            seed.find_consecutive(&code(step - radius - 1), &code(step - radius), now, radius),
            None
        );
        assert_eq!(
            seed.find_consecutive(&code(step + radius), &code(step + radius + 1), now, radius),
            None
        );
        // Every other pair of steps around the window: found exactly when
        // consecutive, in order and both inside.
        let low = step - radius;
        let high = step + radius;
        for a in low - 2..=high + 2 {
            for b in low - 2..=high + 2 {
                let inside = (low..=high).contains(&a) && (low..=high).contains(&b);
                let expected = (inside && b == a + 1).then_some(b);
                assert_eq!(
                    seed.find_consecutive(&code(a), &code(b), now, radius),
                    expected,
                    "steps {a}, {b}"
                );
            }
        }
    }

    #[test]
    fn the_window_of_consecutive_codes_stops_at_step_zero() {
        let seed = TotpSeed::from_bytes(RFC_SEED);
        // RFC 4226 counters 0 and 1, 1 and 2, with the server at step 0.
        assert_eq!(seed.find_consecutive("755224", "287082", 0, 1), Some(1));
        assert_eq!(seed.find_consecutive("287082", "359152", 0, 1), None);
        assert_eq!(seed.find_consecutive("287082", "755224", 0, 1), None);
        assert_eq!(seed.verify("755224", 0, 0), Some(0));
        assert_eq!(seed.verify("287082", 0, 0), Some(1));
        // Codes of other shapes never match, in either position.
        assert_eq!(seed.find_consecutive("7552240", "287082", 0, 1), None);
        assert_eq!(seed.find_consecutive("755224", "28708", 0, 1), None);
    }

    #[test]
    fn the_replay_horizon_outlives_every_window_a_code_can_be_in() {
        let now = 1_800_000_015;
        let horizon = replay_horizon(now);
        // The latest step accepted now, under the largest forward drift.
        let latest = device_step(now, MAX_DRIFT_STEPS) + ACCEPTED_STEPS_AROUND;
        // It stays acceptable while some server step, under the largest
        // backward drift, has it inside the window.
        let last_server_step = latest + MAX_DRIFT_STEPS.unsigned_abs() + ACCEPTED_STEPS_AROUND;
        assert!(horizon >= (last_server_step + 1) * STEP_SECONDS);
    }

    #[test]
    fn debug_never_prints_the_seed() {
        let seed = TotpSeed::from_bytes(RFC_SEED);
        assert_eq!(format!("{seed:?}"), "TotpSeed(<redacted>)");
    }
}
