//! Replays the `query_params` fuzz corpus through `mayfly_wire::fuzz_one`,
//! so `cargo test` catches regressions the fuzzer once found.

use std::fs;
use std::path::Path;

use proptest::prelude::*;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fuzz/corpus/query_params"
);

#[test]
fn every_corpus_file_runs_without_panicking() {
    let mut count = 0;
    for entry in fs::read_dir(Path::new(CORPUS)).expect("corpus directory exists") {
        let path = entry.expect("readable directory entry").path();
        if path.is_file() {
            let data = fs::read(&path).expect("readable corpus file");
            mayfly_wire::fuzz_one(&data);
            count += 1;
        }
    }
    assert!(
        count >= 5,
        "expected at least 5 seeds in {CORPUS}, found {count}"
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        mayfly_wire::fuzz_one(&data);
    }

    #[test]
    fn arbitrary_parameter_shapes_never_panic(
        pairs in proptest::collection::vec(
            (
                prop_oneof![
                    Just("Tags.member.".to_owned()),
                    Just("TransitiveTagKeys.member.".to_owned()),
                    Just("PolicyArns.member.".to_owned()),
                    Just("RoleArn".to_owned()),
                    Just("Tags".to_owned()),
                    "[A-Za-z.]{0,12}",
                ],
                "[0-9]{0,3}",
                prop_oneof![Just(".Key"), Just(".Value"), Just(".arn"), Just("")],
                "[ -~]{0,8}",
            ),
            0..24,
        )
    ) {
        let body: Vec<String> = pairs
            .iter()
            .map(|(name, index, field, value)| format!("{name}{index}{field}={value}"))
            .collect();
        mayfly_wire::fuzz_one(body.join("&").as_bytes());
    }
}
