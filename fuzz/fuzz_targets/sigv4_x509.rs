//! Parses and verifies arbitrary SigV4-X509 (Roles Anywhere CreateSession)
//! authorization material (`mayfly_sigv4::x509::fuzz_one`): must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mayfly_sigv4::x509::fuzz_one(data);
});
