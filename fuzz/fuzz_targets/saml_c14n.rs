//! Canonicalizes arbitrary XML with exclusive C14N, with and without
//! comments and a prefix list (`mayfly_federation::saml::fuzz_c14n`): must
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mayfly_federation::saml::fuzz_c14n(data);
});
