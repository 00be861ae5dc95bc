//! Arbitrary bytes as a request (`METHOD PATH?QUERY`, header lines, blank line, body) through
//! SigV4 authentication and verification; must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mayfly_sigv4::fuzz_one(data);
});
