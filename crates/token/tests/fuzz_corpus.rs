//! Replays the `token_open` fuzz corpus through `mayfly_token::fuzz_one`, and
//! (ignored) regenerates its seed files.

use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mayfly_token::{MasterKey, SessionClaims, SessionPrincipal, SessionTag};

fn corpus_dir() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/token_open"
    ))
    .to_path_buf()
}

#[test]
fn every_corpus_file_runs_through_fuzz_one_without_panicking() {
    let mut count = 0;
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            mayfly_token::fuzz_one(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    assert!(count >= 5, "expected at least 5 seed files, found {count}");
}

#[test]
fn the_valid_seed_token_and_message_open_with_the_fixture_ring() {
    let ring = mayfly_token::fuzz_fixture_key_ring().unwrap();
    let text = std::fs::read_to_string(corpus_dir().join("valid_assumed_role_token")).unwrap();
    let (akid, token) = text.split_once(' ').unwrap();
    // The seed holds "ACCESS_KEY_ID TOKEN"; the token part alone must open.
    let opened = ring.open(token, akid, 0).unwrap();
    assert_eq!(opened.claims.principal_type(), "AssumedRole");
    let message = std::fs::read_to_string(corpus_dir().join("valid_message")).unwrap();
    assert!(ring.open_message(&message, 0).is_ok());
}

fn claims(principal: SessionPrincipal) -> SessionClaims {
    SessionClaims {
        account_id: "000000000000".into(),
        principal,
        issued_at: 1_700_000_000,
        expires_at: 1_700_003_600,
        session_policy: Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#.into()),
        policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
        tags: vec![SessionTag { key: "team".into(), value: "core".into(), transitive: true }],
        source_identity: Some("alice".into()),
        mfa_authenticated_at: None,
        role_chained: false,
        federated_provider: None,
        parent_access_key_id: None,
        context_keys: Default::default(),
    }
}

/// Rewrites the seed files: `cargo test -p mayfly-token --test fuzz_corpus -- --ignored`.
#[test]
#[ignore = "writes the seed corpus; run by hand after a format change"]
fn regenerate_seed_corpus() {
    let rng = SystemRandom::new();
    let ring = mayfly_token::fuzz_fixture_key_ring().unwrap();
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();

    let role = ring
        .issue(
            &claims(SessionPrincipal::AssumedRole {
                role_arn: "arn:aws:iam::000000000000:role/app/Reader".into(),
                role_id: "AROAAAAAAAAAAAAAAAAAA".into(),
                role_name: "Reader".into(),
                session_name: "fuzz".into(),
            }),
            &rng,
        )
        .unwrap();
    write(
        "valid_assumed_role_token_only",
        role.session_token.as_bytes(),
    );
    write(
        "valid_assumed_role_token",
        format!("{} {}", role.access_key_id, role.session_token).as_bytes(),
    );
    write(
        "valid_token_raw_bytes",
        &STANDARD.decode(&role.session_token).unwrap(),
    );
    let root = ring.issue(&claims(SessionPrincipal::Root), &rng).unwrap();
    write("valid_root_token", root.session_token.as_bytes());
    let federated = ring
        .issue(
            &claims(SessionPrincipal::FederatedUser {
                name: "bob".into(),
                user_arn: "arn:aws:iam::000000000000:user/alice".into(),
                user_id: "AIDAAAAAAAAAAAAAAAAAA".into(),
            }),
            &rng,
        )
        .unwrap();
    write("valid_federated_token", federated.session_token.as_bytes());

    let mut truncated = STANDARD.decode(&root.session_token).unwrap();
    truncated.truncate(40);
    write("truncated_token_raw_bytes", &truncated);
    let mut wrong_version = STANDARD.decode(&root.session_token).unwrap();
    wrong_version[0] = 2;
    write(
        "wrong_version_token",
        STANDARD.encode(&wrong_version).as_bytes(),
    );
    write(
        "unknown_key_header_raw_bytes",
        &[1, 0, 0, 0, 9, 4, b'A', b'S', b'I', b'A'],
    );

    let message = ring
        .seal_message(
            r#"{"allowed":false,"explicitDeny":false}"#,
            4_000_000_000,
            &rng,
        )
        .unwrap();
    write("valid_message", message.as_bytes());
    write(
        "message_with_line_break",
        format!("{}\n{}", &message[..8], &message[8..]).as_bytes(),
    );

    let master = MasterKey::from_bytes(&[0x33; 32]).unwrap();
    write(
        "master_key_blob",
        &master.seal(b"ring key", "fuzz", &rng).unwrap(),
    );
    write("master_key_hex", "00".repeat(32).as_bytes());
    write("empty", b"");
    write("not_base64", b"IQoJb3JpZ2luX2Vj!!\xff\x00");
}
