//! Parses arbitrary bytes as an X.509 certificate, a CRL and a trust anchor
//! bundle, and maps certificate fields to session tags
//! (`mayfly_federation::x509::fuzz_one`): must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mayfly_federation::x509::fuzz_one(data);
});
