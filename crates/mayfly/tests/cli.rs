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
