//! `mayfly presign` end to end: URLs printed by the real binary, with
//! credentials from the environment or from a profile's credential_process,
//! fetched by a plain HTTP client from the S3 gateway.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use mayfly_e2e::{ROOT_ACCESS_KEY_ID, ROOT_SECRET, Server, mayfly_binary, send_raw};

/// Every variable the credential and endpoint lookup reads, so the test
/// sees only what it sets.
const AWS_VARIABLES: [&str; 11] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "HOME",
];

/// Run `mayfly presign ARGS` with only `env` set; the printed URL.
fn presign(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Result<String> {
    let mut command = Command::new(mayfly_binary()?);
    command.arg("presign").args(args);
    for name in AWS_VARIABLES {
        command.env_remove(name);
    }
    command.env("HOME", home);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output()?;
    if !output.status.success() {
        bail!(
            "mayfly presign failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?.trim_end().to_owned())
}

/// Send `method` to a presigned `url` with the Host it was signed for.
fn fetch(url: &str, method: &str, body: &[u8]) -> Result<mayfly_e2e::RawResponse> {
    let rest = url.strip_prefix("http://").context("http URL")?;
    let (authority, path) = rest.split_at(rest.find('/').context("path")?);
    send_raw(
        &format!("http://{authority}"),
        method,
        path,
        &[("Host".to_owned(), authority.to_owned())],
        body,
    )
}

#[tokio::test]
async fn presigned_urls_from_the_cli_put_and_get_through_the_gateway() -> Result<()> {
    let server = Server::start()?;
    server
        .s3(server.root())
        .create_bucket()
        .bucket("shared")
        .send()
        .await?;
    let home = tempfile::tempdir()?;
    let endpoint = server.s3_endpoint.as_str();

    // Keys from the environment: a PUT URL for a key with a space and a slash.
    let env_keys = [
        ("AWS_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", ROOT_SECRET),
    ];
    let put = presign(
        home.path(),
        &env_keys,
        &[
            "s3://shared/reports/q3 summary.txt",
            "--method",
            "PUT",
            "--expires-in",
            "300",
            "--endpoint-url",
            endpoint,
        ],
    )?;
    assert!(put.contains("X-Amz-Expires=300"), "{put}");
    assert!(put.contains("/shared/reports/q3%20summary.txt?"), "{put}");
    let stored = fetch(&put, "PUT", b"quarterly numbers")?;
    assert_eq!(stored.status, 200, "{}", stored.body);

    // Keys from a profile's credential_process (no keys in the environment).
    let document = home.path().join("credentials.json");
    std::fs::write(
        &document,
        format!(
            r#"{{"Version":1,"AccessKeyId":"{ROOT_ACCESS_KEY_ID}","SecretAccessKey":"{ROOT_SECRET}"}}"#
        ),
    )?;
    let config = home.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile ci]\nregion = eu-west-1\ncredential_process = cat {}\n",
            document.display()
        ),
    )?;
    let get = presign(
        home.path(),
        &[
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_ENDPOINT_URL_S3", endpoint),
        ],
        &["s3://shared/reports/q3 summary.txt", "--profile", "ci"],
    )?;
    assert!(get.contains("%2Feu-west-1%2Fs3%2Faws4_request"), "{get}");
    let read = fetch(&get, "GET", b"")?;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body, "quarterly numbers");

    // The URL allows that object only.
    let other = get.replace("q3%20summary", "q4%20summary");
    let refused = fetch(&other, "GET", b"")?;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.code(), Some("SignatureDoesNotMatch"));
    Ok(())
}

#[test]
fn presign_refuses_more_than_seven_days_and_missing_credentials() -> Result<()> {
    let home = tempfile::tempdir()?;
    let keys = [
        ("AWS_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", ROOT_SECRET),
    ];
    let too_long = presign(home.path(), &keys, &["s3://b/k", "--expires-in", "604801"]);
    assert!(too_long.is_err());
    let week = presign(home.path(), &keys, &["s3://b/k", "--expires-in", "604800"])?;
    assert!(week.starts_with("http://127.0.0.1:7401/b/k?"), "{week}");
    let error = presign(home.path(), &[], &["s3://b/k"]).unwrap_err();
    assert!(error.to_string().contains("no credentials"), "{error}");
    Ok(())
}
