//! The end-to-end harness: start the real `mayfly` binary on an ephemeral
//! loopback port with a fresh data directory, and build AWS SDK clients
//! pointed at it. Used only by this crate's tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_credential_types::Credentials;

/// The default account of every test server.
pub const ACCOUNT: &str = "000000000000";
/// The root key every test server starts with.
pub const ROOT_ACCESS_KEY_ID: &str = "AKIAMAYFLYTESTROOT01";
/// Its secret.
pub const ROOT_SECRET: &str = "mayfly-test-root-secret-key-0123456789ab";
/// A fixed master key, so several servers can share one data directory.
pub const MASTER_KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";

/// `mayfly serve` on `data_dir` with both listeners on free loopback
/// ports, stdin closed and stdout and stderr piped: for tests that watch a
/// start (or its refusal) themselves instead of through [`Server`]; they
/// add the environment and may redirect the output.
pub fn serve_command(data_dir: &Path) -> Result<Command> {
    let mut command = Command::new(mayfly_binary()?);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--s3-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Ok(command)
}

/// The `mayfly` binary built for this test run.
pub fn mayfly_binary() -> Result<PathBuf> {
    if let Ok(path) = std::env::var("MAYFLY_BIN") {
        return Ok(PathBuf::from(path));
    }
    // tests run from target/<profile>/deps/<test>; the binary sits in target/<profile>/.
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("locating the target directory")?;
    let binary = profile_dir.join(format!("mayfly{}", std::env::consts::EXE_SUFFIX));
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "-p", "mayfly", "--bin", "mayfly"])
            .status()
            .context("building the mayfly binary")?;
        if !status.success() {
            bail!("building the mayfly binary failed");
        }
    }
    Ok(binary)
}

/// How to start a server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Share this data directory instead of a fresh one.
    pub data_dir: Option<PathBuf>,
    /// Shift the server's clock (MAYFLY_TEST_CLOCK_OFFSET_SECONDS).
    pub clock_offset_seconds: i64,
    /// Extra command-line arguments after `serve`.
    pub args: Vec<String>,
    /// Extra environment variables for the server (e.g. `SSL_CERT_FILE`).
    pub env: Vec<(String, String)>,
    /// Take the master key from `DATA_DIR/master.key` (generated at first
    /// start) instead of MAYFLY_MASTER_KEY.
    pub master_key_file: bool,
}

/// A running `mayfly serve`, killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The S3 gateway, `http://127.0.0.1:PORT`.
    pub s3_endpoint: String,
    /// The IoT credentials listener, `https://127.0.0.1:PORT`, when the
    /// server was started with `--iot-listen`.
    pub iot_endpoint: Option<String>,
    /// The data directory.
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Server {
    /// Start a server with a fresh data directory.
    pub fn start() -> Result<Self> {
        Self::start_with(ServerOptions::default())
    }

    /// Start a server.
    pub fn start_with(options: ServerOptions) -> Result<Self> {
        let (temp, data_dir) = match options.data_dir {
            Some(dir) => (None, dir),
            None => {
                let temp = tempfile::tempdir()?;
                let dir = temp.path().join("data");
                (Some(temp), dir)
            }
        };
        let mut command = Command::new(mayfly_binary()?);
        // Before `options.env`, which may give another key.
        if options.master_key_file {
            command.env_remove("MAYFLY_MASTER_KEY");
        } else {
            command.env("MAYFLY_MASTER_KEY", MASTER_KEY);
        }
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(if options.args.iter().any(|a| a == "--s3-listen") {
                &[][..]
            } else {
                &["--s3-listen", "127.0.0.1:0"][..]
            })
            .args(&options.args)
            .env("MAYFLY_ROOT_ACCESS_KEY_ID", ROOT_ACCESS_KEY_ID)
            .env("MAYFLY_ROOT_SECRET_ACCESS_KEY", ROOT_SECRET)
            .env("MAYFLY_LOG", "warn")
            .env(
                "MAYFLY_TEST_CLOCK_OFFSET_SECONDS",
                options.clock_offset_seconds.to_string(),
            )
            .envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let wants_iot = options.args.iter().any(|a| a == "--iot-listen");
        let mut child = command.spawn().context("starting mayfly serve")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut api, mut s3) = (None, None);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(endpoint) = line.strip_prefix("mayfly listening api=") {
                    api = Some(endpoint.to_owned());
                }
                // The s3 line follows the api line, the iot line (if any)
                // the s3 line; every listener is bound by then.
                if let Some(endpoint) = line.strip_prefix("mayfly listening s3=") {
                    s3 = Some(endpoint.to_owned());
                }
                let iot = line
                    .strip_prefix("mayfly listening iot=")
                    .map(str::to_owned);
                if let (Some(api), Some(s3)) = (&api, &s3)
                    && (!wants_iot || iot.is_some())
                {
                    let _ = tx.send((api.clone(), s3.clone(), iot));
                }
            }
        });
        let (endpoint, s3_endpoint, iot_endpoint) = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(endpoints) => endpoints,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait()?;
                bail!("mayfly serve did not become ready (exit: {status})");
            }
        };
        Ok(Self {
            child,
            endpoint,
            s3_endpoint,
            iot_endpoint,
            data_dir,
            _temp: temp,
        })
    }

    /// An STS client signing with `credentials`.
    pub fn sts(&self, credentials: Credentials) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(credentials)
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    /// An STS client whose clock runs `offset_seconds` ahead (to match a
    /// server started with the same clock offset).
    pub fn sts_at(&self, credentials: Credentials, offset_seconds: i64) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(credentials)
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .time_source(aws_smithy_async::time::SharedTimeSource::new(ShiftedClock(
                offset_seconds,
            )))
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    /// An IAM client signing with `credentials`.
    pub fn iam(&self, credentials: Credentials) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(credentials)
            .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    /// An S3 client (path-style addressing) signing with `credentials`.
    pub fn s3(&self, credentials: Credentials) -> aws_sdk_s3::Client {
        self.s3_at(credentials, 0)
    }

    /// An S3 client whose clock runs `offset_seconds` ahead.
    pub fn s3_at(&self, credentials: Credentials, offset_seconds: i64) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&self.s3_endpoint)
            .force_path_style(true)
            .credentials_provider(credentials)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .time_source(aws_smithy_async::time::SharedTimeSource::new(ShiftedClock(
                offset_seconds,
            )))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// The root credentials of the default account.
    pub fn root(&self) -> Credentials {
        Credentials::new(ROOT_ACCESS_KEY_ID, ROOT_SECRET, None, None, "mayfly-root")
    }

    /// Create IAM user `name` in the default account with an inline policy
    /// (if any) and an access key; returns the key's credentials.
    pub async fn user_with_key(&self, name: &str, policy: Option<&str>) -> Result<Credentials> {
        let iam = self.iam(self.root());
        iam.create_user().user_name(name).send().await?;
        if let Some(policy) = policy {
            iam.put_user_policy()
                .user_name(name)
                .policy_name("inline")
                .policy_document(policy)
                .send()
                .await?;
        }
        let key = iam.create_access_key().user_name(name).send().await?;
        let key = key
            .access_key()
            .context("CreateAccessKey returned no key")?;
        Ok(key_credentials(key))
    }

    /// Run an admin subcommand against this server's data directory.
    pub fn admin(&self, args: &[&str]) -> Result<std::process::Output> {
        admin(&self.data_dir, args)
    }

    /// Send SIGTERM and wait for the exit status.
    pub fn terminate(mut self) -> Result<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        bail!("the server did not stop within 5 s of SIGTERM")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The system clock shifted by a number of seconds.
#[derive(Debug, Clone, Copy)]
pub struct ShiftedClock(pub i64);

impl aws_smithy_async::time::TimeSource for ShiftedClock {
    fn now(&self) -> std::time::SystemTime {
        let now = std::time::SystemTime::now();
        let shift = Duration::from_secs(self.0.unsigned_abs());
        if self.0 >= 0 {
            now + shift
        } else {
            now - shift
        }
    }
}

/// Run `mayfly ARGS --data-dir DIR` with the test master key.
pub fn admin(data_dir: &Path, args: &[&str]) -> Result<std::process::Output> {
    let output = Command::new(mayfly_binary()?)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("MAYFLY_MASTER_KEY", MASTER_KEY)
        .stdin(Stdio::null())
        .output()?;
    Ok(output)
}

/// Credentials from an STS `Credentials` structure.
pub fn session_credentials(c: &aws_sdk_sts::types::Credentials) -> Credentials {
    Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "mayfly-session",
    )
}

/// Credentials from a new IAM access key.
pub fn key_credentials(k: &aws_sdk_iam::types::AccessKey) -> Credentials {
    Credentials::new(
        k.access_key_id(),
        k.secret_access_key(),
        None,
        None,
        "mayfly-user",
    )
}

/// The AWS error code of an SDK error, if the service answered with one.
pub fn error_code<E, R>(error: &aws_sdk_sts::error::SdkError<E, R>) -> Option<String>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    match error {
        aws_sdk_sts::error::SdkError::ServiceError(e) => e.err().code().map(str::to_owned),
        _ => None,
    }
}

/// The AWS error message of an SDK error.
pub fn error_message<E, R>(error: &aws_sdk_sts::error::SdkError<E, R>) -> Option<String>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    match error {
        aws_sdk_sts::error::SdkError::ServiceError(e) => e.err().message().map(str::to_owned),
        _ => None,
    }
}

/// A trust policy letting `principal_arn` assume the role.
pub fn trust_policy(principal_arn: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal_arn}"}},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}}]}}"#
    )
}

/// An identity policy allowing `action` on `resource`.
pub fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

/// A raw HTTP response: status and body.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status code.
    pub status: u16,
    /// Header lines as received.
    pub head: String,
    /// The body.
    pub body: String,
}

impl RawResponse {
    /// The `<Code>` of an error body.
    pub fn code(&self) -> Option<&str> {
        let start = self.body.find("<Code>")? + 6;
        let end = self.body[start..].find("</Code>")? + start;
        self.body.get(start..end)
    }
}

/// Send one HTTP/1.1 request over a fresh connection and read the whole response.
pub fn send_raw(
    endpoint: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<RawResponse> {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr)?;
    let mut head = format!("{method} {path_and_query} HTTP/1.1\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// An HTTP/1.1 response read to its end (the connection closed after it).
pub fn parse_response(raw: &[u8]) -> Result<RawResponse> {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("status line")?;
    Ok(RawResponse {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    })
}

/// Sign a query-protocol POST with the official `aws-sigv4` signer and send it.
pub fn signed_post(
    endpoint: &str,
    service: &str,
    credentials: &Credentials,
    body: &str,
    time: std::time::SystemTime,
) -> Result<RawResponse> {
    signed_request(
        endpoint,
        service,
        credentials,
        SignedRequest {
            method: "POST",
            path_and_query: "/",
            content_type: "application/x-www-form-urlencoded",
            body: body.as_bytes(),
            time,
        },
    )
}

/// A request for [`signed_request`].
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path and query string, already encoded.
    pub path_and_query: &'a str,
    /// `Content-Type` (signed).
    pub content_type: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// The signing time.
    pub time: std::time::SystemTime,
}

/// Sign `request` for `service` (region `us-east-1`) with the official
/// `aws-sigv4` signer and send it: query-protocol POSTs and REST-JSON
/// admin APIs such as Roles Anywhere's.
pub fn signed_request(
    endpoint: &str,
    service: &str,
    credentials: &Credentials,
    request: SignedRequest<'_>,
) -> Result<RawResponse> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let host = endpoint.trim_start_matches("http://").to_owned();
    let uri = format!("{endpoint}{}", request.path_and_query);
    let identity: aws_smithy_runtime_api::client::identity::Identity = credentials.clone().into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(request.time)
        .settings(SigningSettings::default())
        .build()?
        .into();
    let headers = [
        ("host".to_owned(), host),
        ("content-type".to_owned(), request.content_type.to_owned()),
    ];
    let signable = SignableRequest::new(
        request.method,
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(request.body),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let mut http_request = http::Request::builder().method(request.method).uri(&uri);
    for (k, v) in &headers {
        http_request = http_request.header(k, v);
    }
    let mut http_request = http_request.body(())?;
    instructions.apply_to_request_http1x(&mut http_request);
    let all: Vec<(String, String)> = http_request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    send_raw(
        endpoint,
        request.method,
        request.path_and_query,
        &all,
        request.body,
    )
}

/// A presigned GET URL path-and-query for `query` (query-protocol parameters).
pub fn presigned_get(
    endpoint: &str,
    service: &str,
    credentials: &Credentials,
    query: &str,
    expires_in: Duration,
    time: std::time::SystemTime,
) -> Result<String> {
    use aws_sigv4::http_request::{
        SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
    };
    let host = endpoint.trim_start_matches("http://").to_owned();
    let uri = format!("{endpoint}/?{query}");
    let identity: aws_smithy_runtime_api::client::identity::Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires_in);
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(time)
        .settings(settings)
        .build()?
        .into();
    let headers = [("host".to_owned(), host)];
    let signable = SignableRequest::new(
        "GET",
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(b""),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let mut request = http::Request::builder().method("GET").uri(&uri).body(())?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default())
}

/// Upload `parts` (part numbers from 1) as one multipart upload of
/// `bucket`/`key` and complete it.
pub async fn multipart_upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    parts: &[&[u8]],
) -> Result<()> {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await?;
    let id = upload.upload_id().context("upload id")?;
    let mut completed = Vec::new();
    for (number, body) in (1..).zip(parts) {
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(number)
            .body(aws_sdk_s3::primitives::ByteStream::from(body.to_vec()))
            .send()
            .await?;
        completed.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await?;
    Ok(())
}
