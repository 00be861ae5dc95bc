//! Opens arbitrary bytes as a session token, an authorization message and a
//! master-key blob against fixed keys (`mayfly_token::fuzz_one`): must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mayfly_token::fuzz_one(data);
});
