//! Replays the `trust_policy` fuzz corpus (and the `policy_parse` one)
//! through `fuzz_trust_policy`, with a few thousand deterministic
//! mutations, so `cargo test` catches a panic of the trust-policy principal
//! scanner; and checks on every input that the scanner and the replacement
//! agree: the replaced text yields the same number of principals, each the
//! replacement, and text without principals comes back unchanged.

#![allow(clippy::expect_used, reason = "tests")]

use std::fs;

const CORPORA: [&str; 2] = [
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/trust_policy"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/policy_parse"
    ),
];

/// What the replacement puts in: a quote and a backslash to escape.
const WITH: &str = "AIDA\"\\x";

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for dir in CORPORA {
        for entry in fs::read_dir(dir).expect("corpus directory exists") {
            let path = entry.expect("directory entry").path();
            if path.is_file() {
                seeds.push(fs::read(&path).expect("readable seed"));
            }
        }
    }
    seeds
}

fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (found, replaced) = mayfly_core::fuzz_trust_policy(text, WITH);
    if found.is_empty() {
        assert_eq!(replaced, text);
        return;
    }
    let (again, _) = mayfly_core::fuzz_trust_policy(&replaced, WITH);
    assert_eq!(again.len(), found.len(), "{text}");
    assert!(again.iter().all(|p| p == WITH), "{text}");
}

#[test]
fn corpus_seeds_are_scanned_and_replaced_consistently() {
    let seeds = seeds();
    assert!(seeds.len() >= 20, "only {} seeds", seeds.len());
    let mut with_principals = 0;
    for seed in &seeds {
        check(seed);
        if let Ok(text) = std::str::from_utf8(seed) {
            with_principals +=
                usize::from(!mayfly_core::fuzz_trust_policy(text, WITH).0.is_empty());
        }
    }
    assert!(
        with_principals >= 3,
        "{with_principals} seeds name principals"
    );
}

#[test]
fn mutated_corpus_seeds_never_panic_and_stay_consistent() {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let interesting = b"\"\\{}[],: \n0aAu";
    for seed in seeds() {
        if seed.len() < 2 {
            continue;
        }
        for _ in 0..300 {
            let mut data = seed.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % data.len() as u64) as usize;
                match next() % 3 {
                    0 => data[at] = interesting[(next() % interesting.len() as u64) as usize],
                    1 => {
                        data.remove(at);
                        if data.is_empty() {
                            break;
                        }
                    }
                    _ => data.insert(
                        at,
                        interesting[(next() % interesting.len() as u64) as usize],
                    ),
                }
            }
            check(&data);
        }
    }
}
