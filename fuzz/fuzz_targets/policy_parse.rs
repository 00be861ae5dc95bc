//! Parse arbitrary bytes as every policy kind and evaluate what parses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mayfly_policy::fuzz_one(data);
});
