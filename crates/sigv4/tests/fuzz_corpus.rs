//! Replays the `sigv4_authorization` fuzz corpus through `mayfly_sigv4::fuzz_one`, so `cargo test`
//! catches a panic on any seed (or on any crash input saved there later).

#[test]
fn replays_every_seed_of_the_fuzz_corpus_without_panicking() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/sigv4_authorization"
    );
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("corpus directory exists") {
        let path = entry.expect("readable directory entry").path();
        let data = std::fs::read(&path).expect("readable corpus file");
        mayfly_sigv4::fuzz_one(&data);
        count += 1;
    }
    assert!(count >= 5, "corpus has only {count} files");
}
