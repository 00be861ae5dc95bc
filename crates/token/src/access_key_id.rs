//! Access key ids (`AKIA…`, `ASIA…`) with the owning account encoded in them,
//! and IAM unique ids (`AIDA…`, `AROA…`, …) — sts-api.md 1.2.

use aws_lc_rs::rand::SecureRandom;

use crate::error::TokenError;

/// Prefix of a long-term access key id (IAM user or root), sts-api.md 1.2.
pub const LONG_TERM_PREFIX: &str = "AKIA";
/// Prefix of a temporary access key id (every STS-issued credential), sts-api.md 1.2.
pub const TEMPORARY_PREFIX: &str = "ASIA";
/// Total length of an access key id (sts-api.md 1.2: 20).
pub const ACCESS_KEY_ID_LEN: usize = 20;
/// Total length of a unique id such as `AIDA…` or `AROA…` (sts-api.md 1.2: 21).
pub const UNIQUE_ID_LEN: usize = 21;

/// The base32 alphabet (RFC 4648) AWS ids use after the prefix.
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `2^39`, added to `account_id / 2` so the encoded 40-bit value always has
/// its top bit set — the marker of the account-encoding id format.
const ACCOUNT_OFFSET: u64 = 1 << 39;

/// Number of base32 characters carrying `account_id / 2 + 2^39` (40 bits).
const ACCOUNT_CHARS: usize = 8;

/// Largest 12-digit account id.
const MAX_ACCOUNT_ID: u64 = 999_999_999_999;

/// A long-term access key id: `AKIA` + 16 characters of `[A-Z2-7]`, the owning
/// account encoded as AWS does since ~2019 (sts-api.md 1.2 \[obs\]): the 8
/// characters after the prefix are base32 of `account_id / 2 + 2^39` (5
/// bytes), the next character comes from the first half of the alphabet
/// (`A`–`P`) for an even account and the second half (`Q`–`7`) for an odd
/// one, and the last 7 characters are random.
///
/// # Errors
/// [`TokenError::InvalidAccountId`] unless `account_id` is 12 decimal digits;
/// [`TokenError::Rng`] if the generator fails.
pub fn long_term_access_key_id(
    account_id: &str,
    rng: &dyn SecureRandom,
) -> Result<String, TokenError> {
    access_key_id(LONG_TERM_PREFIX, account_id, rng)
}

/// A temporary access key id: `ASIA` + 16 characters, with the same account
/// encoding as [`long_term_access_key_id`] (sts-api.md 1.2, 10).
///
/// # Errors
/// As [`long_term_access_key_id`].
pub fn temporary_access_key_id(
    account_id: &str,
    rng: &dyn SecureRandom,
) -> Result<String, TokenError> {
    access_key_id(TEMPORARY_PREFIX, account_id, rng)
}

fn access_key_id(
    prefix: &str,
    account_id: &str,
    rng: &dyn SecureRandom,
) -> Result<String, TokenError> {
    // One byte for the parity character, seven for the random tail.
    let mut random = [0u8; ACCESS_KEY_ID_RANDOM_LEN];
    rng.fill(&mut random).map_err(|_| TokenError::Rng)?;
    access_key_id_from(prefix, account_id, random)
}

/// Random bytes an access key id takes.
pub(crate) const ACCESS_KEY_ID_RANDOM_LEN: usize = 8;

/// [`temporary_access_key_id`] with its random bytes drawn by the caller
/// (the key ring draws them with the token's nonce, in one call).
pub(crate) fn temporary_access_key_id_from(
    account_id: &str,
    random: [u8; ACCESS_KEY_ID_RANDOM_LEN],
) -> Result<String, TokenError> {
    access_key_id_from(TEMPORARY_PREFIX, account_id, random)
}

fn access_key_id_from(
    prefix: &str,
    account_id: &str,
    random: [u8; ACCESS_KEY_ID_RANDOM_LEN],
) -> Result<String, TokenError> {
    let account = parse_account_id(account_id)?;
    let encoded = account / 2 + ACCOUNT_OFFSET;

    let mut id = String::with_capacity(ACCESS_KEY_ID_LEN);
    id.push_str(prefix);
    for i in 0..ACCOUNT_CHARS {
        let shift = 5 * (ACCOUNT_CHARS - 1 - i);
        id.push(base32_char((encoded >> shift) as u8));
    }
    let parity = (account % 2) as u8;
    let mut tail = random.iter();
    if let Some(first) = tail.next() {
        id.push(base32_char((parity << 4) | (first & 0x0f)));
    }
    for byte in tail {
        id.push(base32_char(*byte));
    }
    Ok(id)
}

/// The account encoded in an `AKIA`/`ASIA` access key id (for
/// GetAccessKeyInfo, sts-api.md 9.7), or `None` if the id does not carry one:
/// wrong length or prefix, a character outside `[A-Z2-7]`, no format marker
/// (the top bit of the encoded value; older AWS ids lack it), or a value above
/// `999999999999`. The result is 12 digits, zero-padded.
pub fn account_from_access_key_id(id: &str) -> Option<String> {
    if id.len() != ACCESS_KEY_ID_LEN {
        return None;
    }
    let (prefix, rest) = id.split_at_checked(4)?;
    if prefix != LONG_TERM_PREFIX && prefix != TEMPORARY_PREFIX {
        return None;
    }
    let mut values = [0u8; ACCESS_KEY_ID_LEN - 4];
    for (slot, byte) in values.iter_mut().zip(rest.bytes()) {
        *slot = base32_value(byte)?;
    }
    let mut encoded: u64 = 0;
    for value in values.iter().take(ACCOUNT_CHARS) {
        encoded = (encoded << 5) | u64::from(*value);
    }
    if encoded & ACCOUNT_OFFSET == 0 {
        return None;
    }
    let parity = u64::from(values.get(ACCOUNT_CHARS)? >> 4);
    let account = (encoded - ACCOUNT_OFFSET) * 2 + parity;
    (account <= MAX_ACCOUNT_ID).then(|| format!("{account:012}"))
}

/// An IAM unique id: a 4-letter prefix (`AIDA` user, `AROA` role, `AGPA`
/// group, `ANPA` managed policy, `AIPA` instance profile, `ASCA` certificate…)
/// and 17 random characters of `[A-Z2-7]`, 21 in all (sts-api.md 1.2 \[obs\]).
///
/// # Errors
/// [`TokenError::InvalidPrefix`] unless `prefix` is 4 upper-case ASCII
/// letters; [`TokenError::Rng`] if the generator fails.
pub fn unique_id(prefix: &str, rng: &dyn SecureRandom) -> Result<String, TokenError> {
    if prefix.len() != 4 || !prefix.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(TokenError::InvalidPrefix {
            prefix: prefix.to_owned(),
        });
    }
    let mut random = [0u8; UNIQUE_ID_LEN - 4];
    rng.fill(&mut random).map_err(|_| TokenError::Rng)?;
    let mut id = String::with_capacity(UNIQUE_ID_LEN);
    id.push_str(prefix);
    id.extend(random.iter().map(|b| base32_char(*b)));
    Ok(id)
}

/// Checks that `account_id` is exactly 12 ASCII digits and returns its value.
pub(crate) fn parse_account_id(account_id: &str) -> Result<u64, TokenError> {
    let invalid = || TokenError::InvalidAccountId {
        account_id: account_id.to_owned(),
    };
    if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    account_id.parse().map_err(|_| invalid())
}

/// The base32 character for the low 5 bits of `value`.
fn base32_char(value: u8) -> char {
    // INVARIANT: `value & 31` is always a valid index into the 32-entry alphabet.
    char::from(BASE32_ALPHABET[usize::from(value & 31)])
}

fn base32_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'2'..=b'7' => Some(byte - b'2' + 26),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;

    const ACCOUNTS: &[&str] = &[
        "000000000000",
        "000000000001",
        "123456789012",
        "210987654321",
        "555555555555",
        "999999999998",
        "999999999999",
    ];

    fn assert_base32_after_prefix(id: &str, prefix: &str, len: usize) {
        assert_eq!(id.len(), len, "{id}");
        assert!(id.starts_with(prefix), "{id}");
        assert!(
            id[4..].bytes().all(|b| BASE32_ALPHABET.contains(&b)),
            "{id}"
        );
    }

    #[test]
    fn long_term_ids_are_akia_and_16_base32_chars() {
        let rng = SystemRandom::new();
        for account in ACCOUNTS {
            let id = long_term_access_key_id(account, &rng).unwrap();
            assert_base32_after_prefix(&id, "AKIA", 20);
        }
    }

    #[test]
    fn temporary_ids_are_asia_and_16_base32_chars() {
        let rng = SystemRandom::new();
        for account in ACCOUNTS {
            let id = temporary_access_key_id(account, &rng).unwrap();
            assert_base32_after_prefix(&id, "ASIA", 20);
        }
    }

    #[test]
    fn account_round_trips_through_both_id_kinds() {
        let rng = SystemRandom::new();
        for account in ACCOUNTS {
            for _ in 0..20 {
                let long = long_term_access_key_id(account, &rng).unwrap();
                let temp = temporary_access_key_id(account, &rng).unwrap();
                assert_eq!(account_from_access_key_id(&long).as_deref(), Some(*account));
                assert_eq!(account_from_access_key_id(&temp).as_deref(), Some(*account));
            }
        }
    }

    #[test]
    fn decodes_ids_built_by_hand_from_the_aws_rule() {
        // Built by hand from the rule: 123456789012 / 2 + 2^39 = 611484707394
        // = 0x8E_5F_4C_8D_0A -> base32 "RZPUZDIK"; even account -> parity char in A-P.
        assert_eq!(
            account_from_access_key_id("ASIARZPUZDIKAAAAAAAA").as_deref(),
            Some("123456789012")
        );
        assert_eq!(
            account_from_access_key_id("AKIARZPUZDIKQAAAAAAA").as_deref(),
            Some("123456789013")
        );
    }

    #[test]
    fn decodes_a_publicly_documented_aws_key_id() {
        // Published alongside the decoding method (Tal Be'ery, 2023); [obs].
        assert_eq!(
            account_from_access_key_id("ASIAY34FZKBOKMUTVV7A").as_deref(),
            Some("609629065308")
        );
    }

    #[test]
    fn random_tail_differs_between_ids() {
        let rng = SystemRandom::new();
        let a = temporary_access_key_id("123456789012", &rng).unwrap();
        let b = temporary_access_key_id("123456789012", &rng).unwrap();
        assert_eq!(a[..12], b[..12]);
        assert_ne!(a, b);
    }

    #[test]
    fn rejects_invalid_account_ids() {
        let rng = SystemRandom::new();
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "-12345678901",
            "+23456789012",
            "１２３４５６７８９０１２",
        ] {
            assert_eq!(
                long_term_access_key_id(bad, &rng),
                Err(TokenError::InvalidAccountId {
                    account_id: bad.to_owned()
                })
            );
            assert!(temporary_access_key_id(bad, &rng).is_err());
        }
    }

    #[test]
    fn account_decoding_rejects_ids_without_an_account() {
        for bad in [
            "",
            "ASIA",
            "ASIARZPUZDIKAAAAAAA",   // 19 chars
            "ASIARZPUZDIKAAAAAAAAA", // 21 chars
            "AROARZPUZDIKAAAAAAAA",  // not an access key prefix
            "asiarzpv5pscaaaaaaaa",  // lower case
            "ASIARZPUZDIK0AAAAAAA",  // '0' is not base32
            "ASIAAAAAAAAAAAAAAAAA",  // no format marker (old-style id)
            "ASIA7777777777777777",  // beyond 999999999999
            "ASIARZPUZDIKAAAAAAAé",
        ] {
            assert_eq!(account_from_access_key_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn unique_ids_are_prefix_and_17_base32_chars() {
        let rng = SystemRandom::new();
        for prefix in ["AIDA", "AROA", "ANPA", "AGPA", "AIPA", "ASCA"] {
            let id = unique_id(prefix, &rng).unwrap();
            assert_base32_after_prefix(&id, prefix, 21);
        }
        assert_ne!(
            unique_id("AROA", &rng).unwrap(),
            unique_id("AROA", &rng).unwrap()
        );
    }

    #[test]
    fn unique_id_rejects_bad_prefixes() {
        let rng = SystemRandom::new();
        for bad in ["", "AID", "AIDAA", "aida", "AID1", "AIDÄ"] {
            assert_eq!(
                unique_id(bad, &rng),
                Err(TokenError::InvalidPrefix {
                    prefix: bad.to_owned()
                })
            );
        }
    }
}
