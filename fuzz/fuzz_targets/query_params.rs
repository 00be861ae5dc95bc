//! Fuzzes query-protocol decoding: arbitrary bytes as form body and as URL
//! query string, then every reader and encoder (`mayfly_wire::fuzz_one`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mayfly_wire::fuzz_one(data);
});
