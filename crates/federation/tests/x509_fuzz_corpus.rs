//! Replays the `x509_certificate` fuzz corpus through
//! `mayfly_federation::x509::fuzz_one`, so every seed (and every crash once
//! saved there) runs in `cargo test`.
#![allow(clippy::unwrap_used, reason = "tests")]

#[test]
fn every_x509_corpus_file_runs_without_panicking() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/x509_certificate"
    );
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            mayfly_federation::x509::fuzz_one(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count >= 5, "expected at least 5 seed files, found {count}");
}
