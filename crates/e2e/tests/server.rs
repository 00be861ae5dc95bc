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
    let mut child = mayfly_e2e::serve_command(&data)?
        .env("MAYFLY_LOG", "info")
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

/// `mayfly master-key rotate --data-dir DIR` with the key `key_env` names
/// (`None`: the data directory's master.key).
fn rotate_master_key(
    data_dir: &std::path::Path,
    key_env: Option<&str>,
) -> Result<std::process::Output> {
    let mut command = Command::new(mayfly_binary()?);
    command
        .args(["master-key", "rotate", "--data-dir"])
        .arg(data_dir)
        .env_remove("MAYFLY_STORE_URL")
        .env("MAYFLY_LOG", "warn")
        .stdin(Stdio::null());
    match key_env {
        Some(key) => command.env("MAYFLY_MASTER_KEY", key),
        None => command.env_remove("MAYFLY_MASTER_KEY"),
    };
    Ok(command.output()?)
}

/// `mayfly serve` on `data_dir` with its master.key, expected to refuse to
/// start: its stderr (the test fails if it is still running after 30 s).
fn refused_start(data_dir: &std::path::Path) -> Result<String> {
    let mut child = mayfly_e2e::serve_command(data_dir)?
        .env_remove("MAYFLY_MASTER_KEY")
        .env_remove("MAYFLY_STORE_URL")
        .env("MAYFLY_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    for _ in 0..300 {
        if let Some(status) = child.try_wait()? {
            assert!(!status.success());
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut stderr)?;
            return Ok(stderr);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    anyhow::bail!("mayfly serve started with a master key it should refuse")
}

#[tokio::test]
async fn a_master_key_file_rotated_offline_serves_the_same_credentials_and_sessions() -> Result<()>
{
    let temp = tempfile::tempdir()?;
    let data_dir = temp.path().join("data");
    let options = ServerOptions {
        data_dir: Some(data_dir.clone()),
        master_key_file: true,
        ..ServerOptions::default()
    };
    let server = Server::start_with(options.clone())?;
    let issued = server.sts(server.root()).get_session_token().send().await?;
    let session = mayfly_e2e::session_credentials(issued.credentials().expect("credentials"));
    server
        .sts(session.clone())
        .get_caller_identity()
        .send()
        .await?;
    assert!(server.terminate()?.success());

    let key_file = data_dir.join("master.key");
    let old_key = std::fs::read_to_string(&key_file)?;
    let rotated = rotate_master_key(&data_dir, None)?;
    let stdout = String::from_utf8(rotated.stdout)?;
    let stderr = String::from_utf8(rotated.stderr)?;
    assert!(rotated.status.success(), "{stderr}");
    assert!(
        stderr
            .contains("resealed under the new master key: 1 ring keys, 1 access keys, 0 MFA seeds"),
        "{stderr}"
    );
    assert!(stderr.contains("restart every node"), "{stderr}");
    assert_eq!(
        stdout,
        format!("the new master key is in {}\n", key_file.display())
    );
    let new_key = std::fs::read_to_string(&key_file)?;
    assert_ne!(new_key.trim(), old_key.trim());
    for text in [&stdout, &stderr] {
        assert!(!text.contains(new_key.trim()) && !text.contains(old_key.trim()));
    }
    assert!(!data_dir.join("master.key.new").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file)?.permissions().mode() & 0o777,
            0o600
        );
    }

    // Restarted with the new master.key: the root key and the session
    // issued before the rotation both still work.
    let server = Server::start_with(options)?;
    let me = server
        .sts(server.root())
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(me.account(), Some(ACCOUNT));
    let me = server.sts(session).get_caller_identity().send().await?;
    assert_eq!(me.account(), Some(ACCOUNT));
    assert!(server.terminate()?.success());

    // The old key is refused at start by the key check; with a
    // master.key.new beside it (an interrupted rotation), the refusal
    // points to it.
    std::fs::write(&key_file, &old_key)?;
    let stderr = refused_start(&data_dir)?;
    assert!(
        stderr.contains("does not match the one that sealed the secrets of the store"),
        "{stderr}"
    );
    assert!(!stderr.contains("master.key.new"), "{stderr}");
    std::fs::write(data_dir.join("master.key.new"), &new_key)?;
    let stderr = refused_start(&data_dir)?;
    assert!(
        stderr.contains("master.key.new is left from an interrupted `mayfly master-key rotate`"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn a_master_key_from_the_environment_is_rotated_to_one_printed_once() -> Result<()> {
    let temp = tempfile::tempdir()?;
    let data_dir = temp.path().join("data");
    let server = Server::start_with(ServerOptions {
        data_dir: Some(data_dir.clone()),
        ..ServerOptions::default()
    })?;
    let issued = server.sts(server.root()).get_session_token().send().await?;
    let session = mayfly_e2e::session_credentials(issued.credentials().expect("credentials"));
    assert!(server.terminate()?.success());

    let rotated = rotate_master_key(&data_dir, Some(MASTER_KEY))?;
    let stdout = String::from_utf8(rotated.stdout)?;
    let stderr = String::from_utf8(rotated.stderr)?;
    assert!(rotated.status.success(), "{stderr}");
    assert!(
        stderr.contains("set MAYFLY_MASTER_KEY to it on every node"),
        "{stderr}"
    );
    // The new key is stdout's one line, and nowhere else.
    let new_key = stdout.trim().to_owned();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert_ne!(new_key, MASTER_KEY);
    assert!(!stderr.contains(&new_key) && !stderr.contains(MASTER_KEY));
    assert!(!data_dir.join("master.key").exists());
    assert!(!data_dir.join("master.key.new").exists());

    // The old key is refused; the printed one serves the same root key
    // and session.
    let old = mayfly_e2e::admin(&data_dir, &["keys", "list"])?;
    assert!(!old.status.success());
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("does not match the one that sealed"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    let server = Server::start_with(ServerOptions {
        data_dir: Some(data_dir),
        env: vec![("MAYFLY_MASTER_KEY".to_owned(), new_key)],
        ..ServerOptions::default()
    })?;
    server
        .sts(server.root())
        .get_caller_identity()
        .send()
        .await?;
    let me = server.sts(session).get_caller_identity().send().await?;
    assert_eq!(me.account(), Some(ACCOUNT));
    Ok(())
}
