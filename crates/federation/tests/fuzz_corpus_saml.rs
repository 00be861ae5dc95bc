//! Replays the `saml_response` and `saml_c14n` fuzz corpora through the
//! fuzz entry points, so every seed (and every crash once saved there) runs
//! in `cargo test`.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir(corpus_dir(target)).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            run(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    count
}

#[test]
fn every_saml_response_corpus_file_runs_without_panicking() {
    let count = replay("saml_response", mayfly_federation::saml::fuzz_response);
    assert!(count >= 5, "expected at least 5 seed files, found {count}");
}

#[test]
fn every_saml_c14n_corpus_file_runs_without_panicking() {
    let count = replay("saml_c14n", mayfly_federation::saml::fuzz_c14n);
    assert!(count >= 5, "expected at least 5 seed files, found {count}");
}
