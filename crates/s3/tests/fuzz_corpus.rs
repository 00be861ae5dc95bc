//! Replays the `s3_request` fuzz corpus through `fuzz_one`, and a few
//! thousand deterministic mutations of it, so `cargo test` catches a panic
//! on any seed or saved crash.

#![allow(clippy::expect_used, reason = "tests")]

use std::fs;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/s3_request");

#[test]
fn fuzz_corpus_replays_without_panicking() {
    let mut count = 0;
    for entry in fs::read_dir(DIR).expect("corpus directory exists") {
        let path = entry.expect("directory entry").path();
        if path.is_file() {
            mayfly_s3::fuzz_one(&fs::read(&path).expect("readable seed"));
            count += 1;
        }
    }
    assert!(count >= 7, "only {count} seeds in {DIR}");
}

#[test]
fn mutated_corpus_seeds_never_panic() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let interesting = b"\r\n;:=0fF-/%.<>&\x00";
    for entry in fs::read_dir(DIR).expect("corpus directory exists") {
        let seed = fs::read(entry.expect("directory entry").path()).expect("readable seed");
        if seed.len() < 2 {
            continue;
        }
        for _ in 0..300 {
            let mut data = seed.clone();
            for _ in 0..=(next() % 4) {
                // Keep the selector byte: mutate what the parser sees.
                let at = 1 + (next() % (data.len() as u64 - 1)) as usize;
                let byte = interesting[(next() % interesting.len() as u64) as usize];
                match next() % 3 {
                    0 => data[at] = byte,
                    1 => data.insert(at, byte),
                    _ => {
                        if data.len() > 2 {
                            data.remove(at);
                        }
                    }
                }
            }
            mayfly_s3::fuzz_one(&data);
        }
    }
}
