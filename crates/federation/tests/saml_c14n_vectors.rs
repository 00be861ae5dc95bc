//! Mayfly's exclusive C14N against libxml2's (`xmllint --exc-c14n`) on the
//! committed vectors of `crates/testkit/saml/c14n_vectors.py`: random
//! documents exercising namespace rendering, attribute order, escapes,
//! CDATA, comments and processing instructions.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use mayfly_federation::saml::{C14nOptions, canonicalize};

#[derive(serde::Deserialize)]
struct Vector {
    input: String,
    exc_c14n_with_comments: String,
}

#[test]
fn canonical_forms_match_libxml2_on_every_vector() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/saml/c14n-vectors.json"
    );
    let vectors: Vec<Vector> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(vectors.len() >= 100);
    for vector in &vectors {
        let document = roxmltree::Document::parse(&vector.input).unwrap();
        let options = C14nOptions {
            with_comments: true,
            inclusive_prefixes: &[],
        };
        let ours =
            String::from_utf8(canonicalize(document.root_element(), None, &options)).unwrap();
        assert_eq!(
            ours, vector.exc_c14n_with_comments,
            "input: {}",
            vector.input
        );
    }
}
