//! Replays the `policy_parse` fuzz corpus through `fuzz_one`, so `cargo test`
//! catches regressions on every seed and every crash ever saved there.

use std::fs;

#[test]
fn fuzz_corpus_replays_without_panicking() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/policy_parse"
    );
    let mut count = 0;
    for entry in fs::read_dir(dir).expect("corpus directory exists") {
        let path = entry.expect("directory entry").path();
        if path.is_file() {
            let data = fs::read(&path).expect("readable seed");
            mayfly_policy::fuzz_one(&data);
            count += 1;
        }
    }
    assert!(count >= 5, "only {count} seeds in {dir}");
}

#[test]
fn mutated_corpus_seeds_never_panic() {
    // A few thousand deterministic byte mutations of every seed: a cheap
    // stand-in for a cargo-fuzz run inside `cargo test`.
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/policy_parse"
    );
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let interesting = b"*?:${}\"[]{},'/\\ 0aA";
    for entry in fs::read_dir(dir).expect("corpus directory exists") {
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
            mayfly_policy::fuzz_one(&data);
        }
    }
}
