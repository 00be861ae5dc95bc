//! The trust-policy principal scanner of `mayfly-core` (principal binding:
//! finding and replacing `Principal.AWS` values byte for byte).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mayfly_core::fuzz_trust_policy(text, "AIDA\"\\x");
    }
});
