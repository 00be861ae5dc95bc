//! Replays the `jwt_parse` fuzz corpus through `oidc::fuzz_one`, plus
//! deterministic mutations of every seed, so `cargo test` catches panics.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::fs;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/jwt_parse");

#[test]
fn jwt_fuzz_corpus_replays_without_panicking() {
    let mut count = 0;
    for entry in fs::read_dir(DIR).expect("corpus directory exists") {
        let path = entry.expect("directory entry").path();
        if path.is_file() {
            mayfly_federation::oidc::fuzz_one(&fs::read(&path).expect("readable seed"));
            count += 1;
        }
    }
    assert!(count >= 5, "only {count} seeds in {DIR}");
}

#[test]
fn mutated_jwt_seeds_never_panic() {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let interesting = b".=-_+/{}[]\":,0aA\\ \x00\xff";
    for entry in fs::read_dir(DIR).expect("corpus directory exists") {
        let seed = fs::read(entry.expect("directory entry").path()).expect("readable seed");
        if seed.is_empty() {
            continue;
        }
        for _ in 0..300 {
            let mut data = seed.clone();
            for _ in 0..=(next() % 4) {
                let at = (next() % data.len() as u64) as usize;
                let byte = interesting[(next() % interesting.len() as u64) as usize];
                match next() % 3 {
                    0 => data[at] = byte,
                    1 => data.insert(at, byte),
                    _ => {
                        data.remove(at);
                        if data.is_empty() {
                            data.push(byte);
                        }
                    }
                }
            }
            mayfly_federation::oidc::fuzz_one(&data);
        }
    }
}
