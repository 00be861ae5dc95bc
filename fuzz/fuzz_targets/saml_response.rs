//! Verifies arbitrary bytes as a SAML response (raw and as base64) and parses
//! them as IdP metadata (`mayfly_federation::saml::fuzz_response`): must
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mayfly_federation::saml::fuzz_response(data);
});
