//! An RFC 6238 TOTP generator for the MFA tests, written apart from
//! `mayfly_token::totp`: its own base32 decoder, and HMAC (RFC 2104) built
//! here over the RustCrypto SHA-1 rather than aws-lc-rs's HMAC-SHA1.

use sha1::{Digest as _, Sha1};

/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;

/// Decode RFC 4648 base32 (upper case, `=` padding optional); `None` for
/// anything else.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u64, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// HMAC-SHA1 (RFC 2104, 64-byte blocks).
fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_key: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha1::new()
        .chain_update(&inner_key)
        .chain_update(message)
        .finalize();
    let outer = Sha1::new()
        .chain_update(&outer_key)
        .chain_update(inner)
        .finalize();
    let mut tag = [0u8; 20];
    tag.copy_from_slice(&outer);
    tag
}

/// The 6-digit code of time step `step` for `seed` (the HMAC key).
pub fn code(seed: &[u8], step: u64) -> String {
    let mac = hmac_sha1(seed, &step.to_be_bytes());
    let offset = usize::from(mac[19] & 0x0f);
    let word = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    format!("{:06}", word % 1_000_000)
}

/// The time step of `unix_seconds`.
pub fn step_at(unix_seconds: u64) -> u64 {
    unix_seconds / STEP_SECONDS
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors() {
        let seed = b"12345678901234567890";
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_234_567_890, "89005924"),
            (20_000_000_000u64, "65353130"),
        ] {
            assert_eq!(code(seed, step_at(time)), eight[2..]);
        }
    }

    #[test]
    fn rfc_2202_hmac_sha1_vector() {
        // RFC 2202 test case 2.
        let tag = hmac_sha1(b"Jefe", b"what do ya want for nothing?");
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }

    #[test]
    fn base32_decodes_rfc_4648_vectors() {
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZXW6YQ=").unwrap(), b"foob");
        assert!(base32_decode("mzxw6").is_none());
    }
}
