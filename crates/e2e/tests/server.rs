//! `mayfly serve` and the admin commands: the external contract of DESIGN.md.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::Result;
use mayfly_e2e::{ACCOUNT, MASTER_KEY, Server, ServerOptions, error_code, mayfly_binary};

/// A raw HTTP/1.1 exchange (for what the SDKs never send).
fn raw_http(endpoint: &str, request: &str) -> Result<String> {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr)?;
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

#[test]
fn healthz_answers_200_once_ready() -> Result<()> {
    let server = Server::start()?;
    let host = server.endpoint.trim_start_matches("http://");
    let response = raw_http(
        &server.endpoint,
        &format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )?;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    Ok(())
}

#[test]
fn sigterm_stops_the_server_cleanly() -> Result<()> {
    let server = Server::start()?;
    let status = server.terminate()?;
    assert!(status.success(), "exit status {status}");
    Ok(())
}

#[test]
fn plain_http_on_a_non_loopback_address_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let output = Command::new(mayfly_binary()?)
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env("MAYFLY_MASTER_KEY", MASTER_KEY)
        .stdin(Stdio::null())
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--insecure-http"), "{stderr}");
    Ok(())
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("mayfly.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlisten_port = 7400\n")?;
    let output = Command::new(mayfly_binary()?)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdin(Stdio::null())
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("listen_port"), "{stderr}");
    Ok(())
}

#[test]
fn a_generated_root_key_is_written_owner_only_and_never_logged() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut child = Command::new(mayfly_binary()?)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--s3-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(&data)
        .env("MAYFLY_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 22];
    stdout.read_exact(&mut first)?;
    assert_eq!(&first, b"mayfly listening api=h");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    let output = child.wait_with_output()?;
    let credentials = std::fs::read_to_string(data.join("root-credentials"))?;
    let mode = std::fs::metadata(data.join("root-credentials"))?
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        credentials.starts_with("[mayfly-root]\naws_access_key_id = AKIA"),
        "{credentials}"
    );
    let secret = credentials
        .lines()
        .find_map(|l| l.strip_prefix("aws_secret_access_key = "))
        .expect("secret line");
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(logs.contains("root-credentials"), "{logs}");
    assert!(!logs.contains(secret), "the secret reached the log");
    let master_mode = std::fs::metadata(data.join("master.key"))?
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(master_mode, 0o600);
    Ok(())
}

#[test]
fn keys_rotate_and_list_work_beside_a_running_server() -> Result<()> {
    let server = Server::start()?;
    let rotated = server.admin(&["keys", "rotate"])?;
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert_eq!(String::from_utf8(rotated.stdout)?, "key 2 is now active\n");
    let listed = server.admin(&["keys", "list"])?;
    let text = String::from_utf8(listed.stdout)?;
    assert!(
        text.lines()
            .any(|l| l.starts_with("1 ") && l.contains("retired")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("2 ") && l.contains("active")),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn tokens_sealed_before_a_rotation_still_open_after_it() -> Result<()> {
    let server = Server::start()?;
    let before = server.sts(server.root()).get_session_token().send().await?;
    let session = mayfly_e2e::session_credentials(before.credentials().expect("credentials"));
    let rotated = server.admin(&["keys", "rotate"])?;
    assert!(rotated.status.success());
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    // Old token still opens; a new one is sealed under key 2 and opens too.
    server.sts(session).get_caller_identity().send().await?;
    let after = server.sts(server.root()).get_session_token().send().await?;
    let session = mayfly_e2e::session_credentials(after.credentials().expect("credentials"));
    let me = server.sts(session).get_caller_identity().send().await?;
    assert_eq!(me.account(), Some(ACCOUNT));
    Ok(())
}

#[tokio::test]
async fn tls_serves_the_api_with_the_given_certificate() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let key = rcgen::KeyPair::generate()?;
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?.self_signed(&key)?;
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.pem())?;
    std::fs::write(&key_path, key.serialize_pem())?;
    let server = Server::start_with(ServerOptions {
        args: vec![
            "--tls-cert".into(),
            cert_path.display().to_string(),
            "--tls-key".into(),
            key_path.display().to_string(),
        ],
        ..ServerOptions::default()
    })?;
    assert!(
        server.endpoint.starts_with("https://"),
        "{}",
        server.endpoint
    );

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let addr = server.endpoint.trim_start_matches("https://").to_owned();
    let tcp = tokio::net::TcpStream::connect(&addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost")?;
    let mut tls = connector.connect(name, tcp).await?;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tls.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut response = String::new();
    tls.read_to_string(&mut response).await?;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    Ok(())
}

#[test]
fn a_body_over_the_cap_is_refused_before_it_is_read() -> Result<()> {
    let server = Server::start_with(ServerOptions {
        args: vec!["--max-body-bytes".into(), "1024".into()],
        ..ServerOptions::default()
    })?;
    let host = server.endpoint.trim_start_matches("http://");
    let response = raw_http(
        &server.endpoint,
        &format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n"
        ),
    )?;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains("<Code>RequestEntityTooLarge</Code>"),
        "{response}"
    );
    Ok(())
}

#[tokio::test]
async fn an_unknown_access_key_is_invalid_client_token_id() -> Result<()> {
    let server = Server::start()?;
    let bogus = aws_credential_types::Credentials::new(
        "AKIAUNKNOWNKEY000000",
        "x".repeat(40),
        None,
        None,
        "t",
    );
    let err = server
        .sts(bogus)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("InvalidClientTokenId"));
    Ok(())
}
