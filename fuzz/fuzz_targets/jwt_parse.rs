//! Parse arbitrary bytes as a JWT, a JWKS and an OIDC discovery document,
//! and verify the token against the key set.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mayfly_federation::oidc::fuzz_one(data);
});
