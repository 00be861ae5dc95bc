#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
//! The IoT credentials provider end to end: the real binary with
//! `--iot-listen`, a trust anchor made through the Roles Anywhere admin API
//! (signed by the official `aws-sigv4` signer), role aliases made with
//! `mayfly iot role-alias create`, and devices speaking mutual TLS through
//! tokio-rustls with certificates from `mayfly_testkit::pki`. The issued
//! credentials are then used by the official SDK (GetCallerIdentity, S3).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, bail};
use aws_credential_types::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use mayfly_e2e::{
    RawResponse, Server, ServerOptions, SignedRequest, error_code, parse_response, signed_request,
};
use mayfly_testkit::jwt::TestCa;
use mayfly_testkit::pki::{CaCert, Leaf, TestPki};
use rustls::AlertDescription;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The role devices get; its policy scopes S3 reads by the thing name and
/// by the certificate id.
const DEVICE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::things/${credentials-iot:ThingName}/*"},
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::things/by-cert/${credentials-iot:AwsCertificateId}"}]}"#;

/// A trust policy for the IoT credentials provider.
const IOT_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"credentials.iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// How long a change made elsewhere may take to reach the listener.
const PROPAGATION: Duration = Duration::from_secs(1);

struct Setup {
    server: Server,
    pki: TestPki,
    listener_ca: TestCa,
    anchor_id: String,
    anchor_arn: String,
    _dir: tempfile::TempDir,
}

fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A REST-JSON request to the Roles Anywhere admin API, as root.
fn admin(server: &Server, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let response = signed_request(
        &server.endpoint,
        "rolesanywhere",
        &server.root(),
        SignedRequest {
            method,
            path_and_query: path,
            content_type: "application/json",
            body: body.as_bytes(),
            time: SystemTime::now(),
        },
    )?;
    Ok((
        response.status,
        serde_json::from_str(&response.body).unwrap_or(Value::Null),
    ))
}

/// `mayfly iot role-alias ARGS` against the server's data directory.
fn role_alias_cli(server: &Server, args: &[&str]) -> Result<std::process::Output> {
    let mut all = vec!["iot", "role-alias"];
    all.extend_from_slice(args);
    server.admin(&all)
}

async fn setup() -> Result<Setup> {
    let dir = tempfile::tempdir()?;
    let listener_ca = TestCa::new().unwrap();
    let cert_path = dir.path().join("iot.pem");
    let key_path = dir.path().join("iot.key");
    std::fs::write(
        &cert_path,
        listener_ca
            .server_chain
            .iter()
            .map(|c| pem("CERTIFICATE", c))
            .collect::<String>(),
    )?;
    std::fs::write(&key_path, pem("PRIVATE KEY", &listener_ca.server_key))?;
    let server = Server::start_with(ServerOptions {
        args: vec![
            "--iot-listen".into(),
            "127.0.0.1:0".into(),
            "--iot-tls-cert".into(),
            cert_path.display().to_string(),
            "--iot-tls-key".into(),
            key_path.display().to_string(),
        ],
        ..ServerOptions::default()
    })?;
    let pki = TestPki::generate().unwrap();

    let (status, anchor) = admin(
        &server,
        "POST",
        "/trustanchors",
        Some(&json!({
            "name": "devices",
            "enabled": true,
            "source": {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": pki.root.cert_pem}},
        })),
    )?;
    assert_eq!(status, 201, "{anchor}");
    let anchor_arn = anchor["trustAnchor"]["trustAnchorArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let anchor_id = anchor["trustAnchor"]["trustAnchorId"]
        .as_str()
        .unwrap()
        .to_owned();

    let iam = server.iam(server.root());
    iam.create_role()
        .role_name("device")
        .assume_role_policy_document(IOT_TRUST)
        .max_session_duration(7200)
        .send()
        .await?;
    iam.put_role_policy()
        .role_name("device")
        .policy_name("things")
        .policy_document(DEVICE_POLICY)
        .send()
        .await?;
    iam.create_role()
        .role_name("untrusting")
        .assume_role_policy_document(mayfly_e2e::trust_policy("arn:aws:iam::000000000000:root"))
        .send()
        .await?;

    let output = role_alias_cli(
        &server,
        &[
            "create",
            "--role-alias",
            "cams",
            "--role-arn",
            "arn:aws:iam::000000000000:role/device",
            "--credential-duration-seconds",
            "1800",
        ],
    )?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(
        printed,
        json!({"roleAlias": "cams", "roleAliasArn": "arn:aws:iot:us-east-1:000000000000:rolealias/cams"})
    );
    let output = role_alias_cli(
        &server,
        &[
            "create",
            "--role-alias",
            "untrusted",
            "--role-arn",
            "arn:aws:iam::000000000000:role/untrusting",
        ],
    )?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let setup = Setup {
        server,
        pki,
        listener_ca,
        anchor_id,
        anchor_arn,
        _dir: dir,
    };
    // The CLI wrote to the store behind the server's back: it sees the
    // aliases within a second.
    let started = Instant::now();
    while setup
        .fetch(&setup.pki.ec_p256, "untrusted", None)
        .await?
        .status
        == 404
    {
        assert!(started.elapsed() < PROPAGATION, "the aliases were not seen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(setup)
}

/// A device's TLS identity: its leaf and the intermediates it sends.
fn identity(
    leaf: &Leaf,
    intermediates: &[&CaCert],
) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let mut chain = vec![CertificateDer::from(leaf.cert_der.clone())];
    chain.extend(
        intermediates
            .iter()
            .map(|c| CertificateDer::from(c.cert_der.clone())),
    );
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key_pkcs8_der.clone()));
    (chain, key)
}

impl Setup {
    fn address(&self) -> String {
        self.server
            .iot_endpoint
            .as_deref()
            .unwrap()
            .trim_start_matches("https://")
            .to_owned()
    }

    /// A TLS client trusting the listener's CA, with `device` as its
    /// client certificate (or none), speaking only TLS 1.2 when asked.
    fn client(
        &self,
        device: Option<(&Leaf, &[&CaCert])>,
        tls12_only: bool,
    ) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        for der in CertificateDer::pem_slice_iter(self.listener_ca.ca_pem.as_bytes()) {
            roots.add(der.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ));
        let builder = if tls12_only {
            builder.with_protocol_versions(&[&rustls::version::TLS12])
        } else {
            builder.with_safe_default_protocol_versions()
        }
        .unwrap()
        .with_root_certificates(roots);
        let config = match device {
            Some((leaf, intermediates)) => {
                let (chain, key) = identity(leaf, intermediates);
                builder.with_client_auth_cert(chain, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    /// The intermediate every test leaf is issued by.
    fn chain(&self) -> [&CaCert; 1] {
        [&self.pki.intermediate]
    }

    /// A mutual-TLS connection as `device`.
    async fn connect(&self, device: (&Leaf, &[&CaCert])) -> Result<DeviceConnection> {
        let tcp = tokio::net::TcpStream::connect(self.address()).await?;
        Ok(self
            .client(Some(device), false)
            .connect(ServerName::try_from("localhost")?, tcp)
            .await?)
    }

    /// One request over a fresh mutual-TLS connection.
    async fn request(
        &self,
        device: (&Leaf, &[&CaCert]),
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<RawResponse> {
        let addr = self.address();
        let mut tls = self.connect(device).await?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        tls.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        tls.read_to_end(&mut raw).await?;
        parse_response(&raw)
    }

    /// `GET /role-aliases/{alias}/credentials` as `leaf`.
    async fn fetch(&self, leaf: &Leaf, alias: &str, thing: Option<&str>) -> Result<RawResponse> {
        let headers: Vec<(&str, &str)> = thing
            .map(|t| ("x-amzn-iot-thingname", t))
            .into_iter()
            .collect();
        self.request(
            (leaf, &self.chain()),
            "GET",
            &format!("/role-aliases/{alias}/credentials"),
            &headers,
        )
        .await
    }

    /// The TLS alert the listener refuses `device` with, `None` if it
    /// completes the handshake. Over TLS 1.2 the server checks the client
    /// certificate before its own Finished, so the handshake itself says.
    async fn handshake(
        &self,
        device: Option<(&Leaf, &[&CaCert])>,
    ) -> Result<Option<AlertDescription>> {
        let tcp = tokio::net::TcpStream::connect(self.address()).await?;
        match self
            .client(device, true)
            .connect(ServerName::try_from("localhost")?, tcp)
            .await
        {
            Ok(_) => Ok(None),
            Err(error) => alert(&error).map(Some),
        }
    }

    /// The TLS alert a TLS 1.3 handshake of `device` is refused with. The
    /// client's handshake ends before the server has read its certificate,
    /// so the alert arrives on the first read; the client does not write
    /// first, so the alert cannot be lost to a reset.
    async fn tls13_refusal(&self, device: Option<(&Leaf, &[&CaCert])>) -> Result<AlertDescription> {
        let tcp = tokio::net::TcpStream::connect(self.address()).await?;
        let mut tls = self
            .client(device, false)
            .connect(ServerName::try_from("localhost")?, tcp)
            .await?;
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(5), tls.read(&mut byte)).await? {
            Err(error) => alert(&error),
            Ok(n) => bail!("the handshake was accepted (read {n} bytes)"),
        }
    }

    /// Wait (at most [`PROPAGATION`]) until `leaf` is refused with `alert`
    /// or, with `None`, accepted again.
    async fn until_handshake(&self, leaf: &Leaf, alert: Option<AlertDescription>) -> Result<()> {
        let started = Instant::now();
        loop {
            let seen = self.handshake(Some((leaf, &self.chain()))).await?;
            if seen == alert {
                return Ok(());
            }
            if started.elapsed() > PROPAGATION {
                bail!(
                    "after {:?}: {seen:?}, expected {alert:?}",
                    started.elapsed()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A device's side of a mutual-TLS connection to the listener.
type DeviceConnection = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// `GET path` on a connection kept alive: exactly one response is read (by
/// its `Content-Length`), leaving the connection open for the next.
async fn get_kept_alive(tls: &mut DeviceConnection, host: &str, path: &str) -> Result<RawResponse> {
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await?;
    let mut raw = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map(|value| value.trim().parse::<usize>())
                .transpose()?
                .unwrap_or(0);
            if raw.len() >= end + 4 + length {
                return parse_response(&raw[..end + 4 + length]);
            }
        }
        let n = tls.read(&mut buffer).await?;
        if n == 0 {
            bail!("the connection closed before a whole response");
        }
        raw.extend_from_slice(&buffer[..n]);
    }
}

/// The alert inside a TLS error.
fn alert(error: &std::io::Error) -> Result<AlertDescription> {
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::AlertReceived(alert)) => Ok(*alert),
        _ => bail!("not a TLS alert: {error}"),
    }
}

fn message(response: &RawResponse) -> String {
    let body: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    body["message"].as_str().unwrap_or_default().to_owned()
}

fn assert_json(response: &RawResponse) {
    assert!(
        response
            .head
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{}",
        response.head
    );
}

/// The credentials of a 200 answer, checked for AWS's exact shape.
fn credentials(response: &RawResponse) -> Credentials {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_json(response);
    let body: Value = serde_json::from_str(&response.body).unwrap();
    let object = body.as_object().unwrap();
    assert_eq!(object.keys().collect::<Vec<_>>(), ["credentials"]);
    let c = body["credentials"].as_object().unwrap();
    assert_eq!(
        c.keys().collect::<Vec<_>>(),
        [
            "accessKeyId",
            "secretAccessKey",
            "sessionToken",
            "expiration"
        ]
    );
    let expiration = c["expiration"].as_str().unwrap();
    assert_eq!(expiration.len(), 20, "{expiration}");
    assert!(expiration.ends_with('Z') && expiration.as_bytes()[10] == b'T');
    let id = c["accessKeyId"].as_str().unwrap();
    assert!(id.starts_with("ASIA"), "{id}");
    assert!(
        response.body.starts_with(&format!(
            "{{\"credentials\":{{\"accessKeyId\":\"{id}\",\"secretAccessKey\":\""
        )),
        "{}",
        response.body
    );
    Credentials::new(
        id,
        c["secretAccessKey"].as_str().unwrap(),
        Some(c["sessionToken"].as_str().unwrap().to_owned()),
        None,
        "mayfly-iot",
    )
}

#[tokio::test]
async fn a_device_trades_its_certificate_for_role_credentials() -> Result<()> {
    let s = setup().await?;
    let leaf = &s.pki.ec_p256;
    let response = s.fetch(leaf, "cams", None).await?;
    let creds = credentials(&response);
    assert!(
        response
            .head
            .to_ascii_lowercase()
            .contains("x-amzn-requestid: ")
    );

    // The session is the role's, named by the certificate id.
    let identity = s.server.sts(creds).get_caller_identity().send().await?;
    assert_eq!(
        identity.arn(),
        Some(
            format!(
                "arn:aws:sts::000000000000:assumed-role/device/{}",
                leaf.certificate_id()
            )
            .as_str()
        )
    );
    assert_eq!(identity.account(), Some("000000000000"));

    // It lasts the alias's credentialDurationSeconds (1800 s).
    let body: Value = serde_json::from_str(&response.body)?;
    let expiration = body["credentials"]["expiration"].as_str().unwrap();
    let now = mayfly_sigv4::format_amz_date(SystemTime::now() + Duration::from_secs(1800));
    let later = mayfly_sigv4::format_amz_date(SystemTime::now() + Duration::from_secs(1790));
    let compact = expiration.replace(['-', ':'], "");
    assert!(
        compact.as_str() <= now.as_str() && compact.as_str() >= later.as_str(),
        "{expiration}"
    );

    // RSA and P-384 leaves work too, and the thing name equal to the CN.
    for other in [&s.pki.rsa, &s.pki.ec_p384] {
        credentials(&s.fetch(other, "cams", None).await?);
    }
    credentials(&s.fetch(leaf, "cams", Some("workload-ec")).await?);

    // The CLI lists what it created.
    let output = role_alias_cli(&s.server, &["list"])?;
    assert!(output.status.success());
    let listing = String::from_utf8(output.stdout)?;
    assert!(
        listing.contains("cams\tarn:aws:iot:us-east-1:000000000000:rolealias/cams\tarn:aws:iam::000000000000:role/device\t1800\t"),
        "{listing}"
    );
    Ok(())
}

#[tokio::test]
async fn the_thing_name_and_certificate_id_are_policy_variables() -> Result<()> {
    let s = setup().await?;
    let leaf = &s.pki.ec_p256;
    let root_s3 = s.server.s3(s.server.root());
    root_s3.create_bucket().bucket("things").send().await?;
    let by_cert = format!("by-cert/{}", leaf.certificate_id());
    for key in [
        "workload-ec/config.json",
        "workload-rsa/config.json",
        by_cert.as_str(),
    ] {
        root_s3
            .put_object()
            .bucket("things")
            .key(key)
            .body(ByteStream::from_static(b"{}"))
            .send()
            .await?;
    }

    let with_thing = credentials(&s.fetch(leaf, "cams", Some("workload-ec")).await?);
    let s3 = s.server.s3(with_thing);
    s3.get_object()
        .bucket("things")
        .key("workload-ec/config.json")
        .send()
        .await?;
    let other = s3
        .get_object()
        .bucket("things")
        .key("workload-rsa/config.json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&other).as_deref(), Some("AccessDenied"));
    s3.get_object()
        .bucket("things")
        .key(&by_cert)
        .send()
        .await?;

    // Without the header the thing variable is absent: nothing matches it.
    let without = credentials(&s.fetch(leaf, "cams", None).await?);
    let s3 = s.server.s3(without);
    let denied = s3
        .get_object()
        .bucket("things")
        .key("workload-ec/config.json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&denied).as_deref(), Some("AccessDenied"));
    // The certificate id is always there.
    s3.get_object()
        .bucket("things")
        .key(&by_cert)
        .send()
        .await?;

    // Another certificate's id does not open this one's object.
    let rsa = s
        .server
        .s3(credentials(&s.fetch(&s.pki.rsa, "cams", None).await?));
    let denied = rsa
        .get_object()
        .bucket("things")
        .key(&by_cert)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&denied).as_deref(), Some("AccessDenied"));

    // A thing name other than the certificate's CN is refused.
    let response = s.fetch(leaf, "cams", Some("workload-rsa")).await?;
    assert_eq!(
        (response.status, message(&response).as_str()),
        (403, "Invalid thing name passed")
    );
    assert_json(&response);
    Ok(())
}

#[tokio::test]
async fn handshakes_without_a_trusted_certificate_are_refused() -> Result<()> {
    let s = setup().await?;
    let chain = s.chain();
    assert_eq!(
        s.handshake(None).await?,
        Some(AlertDescription::CertificateRequired)
    );
    assert_eq!(
        s.handshake(Some((&s.pki.other_leaf, &[]))).await?,
        Some(AlertDescription::UnknownCA)
    );
    assert_eq!(
        s.handshake(Some((&s.pki.expired, &chain))).await?,
        Some(AlertDescription::CertificateExpired)
    );
    assert_eq!(
        s.handshake(Some((&s.pki.no_digital_signature, &chain)))
            .await?,
        Some(AlertDescription::UnsupportedCertificate)
    );
    // Without its intermediate the leaf chains to nothing.
    assert_eq!(
        s.handshake(Some((&s.pki.ec_p256, &[]))).await?,
        Some(AlertDescription::UnknownCA)
    );
    assert_eq!(s.handshake(Some((&s.pki.ec_p256, &chain))).await?, None);
    // TLS 1.3 refuses the same way.
    assert_eq!(
        s.tls13_refusal(None).await?,
        AlertDescription::CertificateRequired
    );
    assert_eq!(
        s.tls13_refusal(Some((&s.pki.other_leaf, &[]))).await?,
        AlertDescription::UnknownCA
    );

    // The revoked leaf works until the anchor's CRL is imported and enabled.
    credentials(&s.fetch(&s.pki.revoked, "cams", None).await?);
    let crl_data = base64::engine::general_purpose::STANDARD.encode(s.pki.crl_pem.as_bytes());
    let (status, crl) = admin(
        &s.server,
        "POST",
        "/crls",
        Some(
            &json!({"name": "issuing", "crlData": crl_data, "trustAnchorArn": s.anchor_arn, "enabled": true}),
        ),
    )?;
    assert_eq!(status, 201, "{crl}");
    s.until_handshake(&s.pki.revoked, Some(AlertDescription::CertificateRevoked))
        .await?;
    credentials(&s.fetch(&s.pki.ec_p256, "cams", None).await?);

    // An anchor disabled through another node sharing the store trusts
    // nothing here within a second, without a restart; enabled, again.
    let other_node = Server::start_with(ServerOptions {
        data_dir: Some(s.server.data_dir.clone()),
        ..ServerOptions::default()
    })?;
    let (status, _) = admin(
        &other_node,
        "POST",
        &format!("/trustanchor/{}/disable", s.anchor_id),
        None,
    )?;
    assert_eq!(status, 200);
    s.until_handshake(&s.pki.ec_p256, Some(AlertDescription::UnknownCA))
        .await?;
    let (status, _) = admin(
        &other_node,
        "POST",
        &format!("/trustanchor/{}/enable", s.anchor_id),
        None,
    )?;
    assert_eq!(status, 200);
    s.until_handshake(&s.pki.ec_p256, None).await?;

    // A new anchor is trusted within a second.
    let (status, anchor) = admin(
        &s.server,
        "POST",
        "/trustanchors",
        Some(&json!({
            "name": "elsewhere",
            "enabled": true,
            "source": {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": s.pki.other_root.cert_pem}},
        })),
    )?;
    assert_eq!(status, 201, "{anchor}");
    let started = Instant::now();
    loop {
        let response = s
            .request(
                (&s.pki.other_leaf, &[]),
                "GET",
                "/role-aliases/cams/credentials",
                &[],
            )
            .await;
        if let Ok(response) = response {
            credentials(&response);
            break;
        }
        assert!(
            started.elapsed() < PROPAGATION,
            "the new anchor was not trusted: {response:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn a_kept_alive_connection_is_refused_once_its_cached_chain_is_revoked() -> Result<()> {
    let s = setup().await?;
    let chain = s.chain();
    let host = s.address();
    let path = "/role-aliases/cams/credentials";
    let mut tls = s.connect((&s.pki.revoked, &chain)).await?;
    // Verified at the handshake, then answered from the chain cache on
    // every request of the connection.
    for _ in 0..3 {
        credentials(&get_kept_alive(&mut tls, &host, path).await?);
    }
    let crl_data = base64::engine::general_purpose::STANDARD.encode(s.pki.crl_pem.as_bytes());
    let (status, crl) = admin(
        &s.server,
        "POST",
        "/crls",
        Some(
            &json!({"name": "issuing", "crlData": crl_data, "trustAnchorArn": s.anchor_arn, "enabled": true}),
        ),
    )?;
    assert_eq!(status, 201, "{crl}");
    // The same connection, its handshake long past: the next request is
    // refused at once, the cached verification notwithstanding.
    let response = get_kept_alive(&mut tls, &host, path).await?;
    assert_eq!(
        (response.status, message(&response).as_str()),
        (403, "Certificate revoked")
    );
    assert_json(&response);
    Ok(())
}

#[tokio::test]
async fn refusals_are_json_with_the_documented_statuses() -> Result<()> {
    let s = setup().await?;
    let leaf = &s.pki.ec_p256;
    let chain = s.chain();
    let device = (leaf, &chain[..]);

    let response = s.fetch(leaf, "nope", None).await?;
    assert_eq!(
        (response.status, message(&response).as_str()),
        (404, "Role alias does not exist")
    );
    assert_json(&response);

    let response = s.fetch(leaf, "untrusted", None).await?;
    assert_eq!(response.status, 403, "{}", response.body);
    assert_eq!(
        message(&response),
        "The role of role alias untrusted cannot be assumed by credentials.iot.amazonaws.com"
    );
    assert_json(&response);

    let response = s.fetch(leaf, "cams", Some("not a thing")).await?;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_json(&response);
    let response = s.fetch(leaf, "bad%20alias", None).await?;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_json(&response);
    // A percent-encoded alias is decoded.
    credentials(&s.fetch(leaf, "%63ams", None).await?);

    let response = s
        .request(
            device,
            "POST",
            "/role-aliases/cams/credentials",
            &[("Content-Length", "0")],
        )
        .await?;
    assert_eq!(response.status, 405, "{}", response.body);
    assert!(
        response.head.to_ascii_lowercase().contains("allow: get"),
        "{}",
        response.head
    );
    assert_json(&response);
    for path in [
        "/",
        "/role-aliases/cams",
        "/role-aliases/cams/credentials/x",
        "/healthz",
    ] {
        let response = s.request(device, "GET", path, &[]).await?;
        assert_eq!(response.status, 404, "{path}: {}", response.body);
        assert_json(&response);
    }
    Ok(())
}

#[tokio::test]
async fn a_deleted_alias_answers_404_within_a_second() -> Result<()> {
    let s = setup().await?;
    let leaf = &s.pki.ec_p256;
    credentials(&s.fetch(leaf, "cams", None).await?);
    let output = role_alias_cli(&s.server, &["delete", "--role-alias", "cams"])?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let started = Instant::now();
    loop {
        let response = s.fetch(leaf, "cams", None).await?;
        if response.status == 404 {
            assert_eq!(message(&response), "Role alias does not exist");
            break;
        }
        assert!(
            started.elapsed() < PROPAGATION,
            "still served: {}",
            response.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Deleting it again is an error, and so are invalid aliases.
    let output = role_alias_cli(&s.server, &["delete", "--role-alias", "cams"])?;
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "mayfly: role alias `cams` does not exist in account `000000000000`"
    );
    Ok(())
}

#[tokio::test]
async fn role_alias_create_refuses_invalid_input_with_a_reason() -> Result<()> {
    let s = setup().await?;
    let role = "arn:aws:iam::000000000000:role/device";
    let cases: [(&[&str], &str); 5] = [
        (
            &["--role-alias", "no spaces", "--role-arn", role],
            "mayfly: role alias `no spaces` is invalid: use 1-128 characters of letters, digits and `_=,@-`",
        ),
        (
            &[
                "--role-alias",
                "long",
                "--role-arn",
                role,
                "--credential-duration-seconds",
                "7201",
            ],
            "mayfly: credential duration 7201 s exceeds the MaxSessionDuration (7200 s) of role `arn:aws:iam::000000000000:role/device`",
        ),
        (
            &[
                "--role-alias",
                "short",
                "--role-arn",
                role,
                "--credential-duration-seconds",
                "600",
            ],
            "mayfly: credential duration 600 s is outside 900-43200 seconds",
        ),
        (
            &[
                "--role-alias",
                "ghost",
                "--role-arn",
                "arn:aws:iam::000000000000:role/ghost",
            ],
            "mayfly: the role `arn:aws:iam::000000000000:role/ghost` does not exist",
        ),
        (
            &["--role-alias", "cams", "--role-arn", role],
            "mayfly: role alias `cams` already exists in account `000000000000`",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        let output = role_alias_cli(&s.server, &all)?;
        assert!(!output.status.success(), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr).trim(), expected);
    }
    Ok(())
}
