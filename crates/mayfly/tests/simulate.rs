//! `mayfly policy simulate`: offline evaluation of policy files.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::process::{Command, Output};

fn simulate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mayfly"))
        .args(["policy", "simulate"])
        .args(args)
        .output()
        .unwrap()
}

fn policy_file(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("policy.json");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"Read","Effect":"Allow","Action":["s3:Get*","s3:DeleteObject"],"Resource":"*",
     "Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}},
    {"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#;

#[test]
fn prints_one_line_per_action_with_decision_statements_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(&dir, POLICY);
    let output = simulate(&[
        "--policy",
        &file,
        "--action",
        "s3:GetObject",
        "--action",
        "s3:DeleteObject",
        "--action",
        "s3:PutObject",
        "--resource",
        "arn:aws:s3:::bucket/key",
        "--context",
        "aws:SourceIp=ip:203.0.113.5",
    ]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("s3:GetObject arn:aws:s3:::bucket/key allowed"),
        "{stdout}"
    );
    assert!(lines[0].contains("#Read"), "{stdout}");
    assert!(
        lines[1].starts_with("s3:DeleteObject arn:aws:s3:::bucket/key explicitDeny"),
        "{stdout}"
    );
    assert!(lines[1].contains("#NoDelete"), "{stdout}");
    assert!(lines[1].contains("explicit deny"), "{stdout}");
    assert!(
        lines[2].starts_with("s3:PutObject arn:aws:s3:::bucket/key implicitDeny"),
        "{stdout}"
    );
    assert!(
        lines[2].contains("no identity-based policy allows"),
        "{stdout}"
    );
}

#[test]
fn conditions_that_do_not_hold_deny_implicitly() {
    let dir = tempfile::tempdir().unwrap();
    let file = policy_file(&dir, POLICY);
    let output = simulate(&[
        "--policy",
        &file,
        "--action",
        "s3:GetObject",
        "--resource",
        "*",
        "--context",
        "aws:SourceIp=ip:198.51.100.1",
    ]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("s3:GetObject * implicitDeny"),
        "{stdout}"
    );
}

#[test]
fn malformed_policies_and_context_fail() {
    let dir = tempfile::tempdir().unwrap();
    let bad = policy_file(&dir, "{not json");
    let output = simulate(&["--policy", &bad, "--action", "s3:GetObject"]);
    assert!(!output.status.success());
    let dir2 = tempfile::tempdir().unwrap();
    let good = policy_file(&dir2, POLICY);
    let output = simulate(&[
        "--policy",
        &good,
        "--action",
        "s3:GetObject",
        "--context",
        "aws:SourceIp=ip:nope",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not an IP address"), "{stderr}");
}
