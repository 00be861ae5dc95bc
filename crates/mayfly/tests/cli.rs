//! The command line itself (the server is exercised by crates/e2e). Having
//! an integration test here also makes `cargo test --workspace` build the
//! real `mayfly` binary that the e2e tests start.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::process::Command;

fn mayfly() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mayfly"))
}

#[test]
fn help_lists_the_subcommands() {
    let output = mayfly().arg("--help").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for command in ["serve", "account", "keys"] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }
}

#[test]
fn admin_commands_refuse_a_directory_that_was_never_initialized() {
    let dir = tempfile::tempdir().unwrap();
    let output = mayfly()
        .args(["keys", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a Mayfly data directory"), "{stderr}");
    assert!(
        !dir.path().join("mayfly.db").exists(),
        "an admin command must not create a store"
    );
}

#[test]
fn tls_flags_go_together() {
    let output = mayfly()
        .args(["serve", "--tls-cert", "x.pem"])
        .output()
        .unwrap();
    assert!(!output.status.success());
}

#[test]
fn a_data_dir_refuses_a_master_key_other_than_the_one_it_was_created_with() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    const KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";
    const OTHER: &str = "0202020202020202020202020202020202020202020202020202020202020202";
    let dir = tempfile::tempdir().unwrap();
    let serve = |key: &str| {
        let mut command = mayfly();
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--s3-listen",
                "127.0.0.1:0",
            ])
            .arg("--data-dir")
            .arg(dir.path())
            .env("MAYFLY_MASTER_KEY", key)
            .env("MAYFLY_LOG", "warn")
            .env_remove("MAYFLY_STORE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };
    let keys_list = |key: &str| {
        mayfly()
            .args(["keys", "list", "--data-dir"])
            .arg(dir.path())
            .env("MAYFLY_MASTER_KEY", key)
            .env_remove("MAYFLY_STORE_URL")
            .output()
            .unwrap()
    };

    // First start: creates the store, records the key check, initializes.
    let mut first = serve(KEY).spawn().unwrap();
    let ready = BufReader::new(first.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .any(|line| line.starts_with("mayfly listening s3="));
    let _ = first.kill();
    let _ = first.wait();
    assert!(ready, "mayfly serve did not become ready");

    let refused = |output: std::process::Output| {
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            stderr.contains("the master key from MAYFLY_MASTER_KEY does not match"),
            "{stderr}"
        );
        assert!(
            stderr.contains("give every node the same MAYFLY_MASTER_KEY"),
            "{stderr}"
        );
        assert!(!stderr.contains(KEY) && !stderr.contains(OTHER), "{stderr}");
    };
    refused(keys_list(OTHER));
    refused(serve(OTHER).output().unwrap());
    let output = keys_list(KEY);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
