//! Upstream mode in front of an S3 implementation that is not Mayfly:
//! s3s-fs (the s3s project's file-system S3 server) on loopback, with its
//! own SigV4 verification switched on. The gateway's re-signed requests
//! must satisfy an independent verifier, and its answers must come back to
//! aws-sdk-s3 intact — objects, metadata, listings, multipart, streamed
//! uploads with chunk signatures, presigned GETs.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::time::Duration;

use anyhow::Result;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use hyper_util::rt::TokioIo;
use mayfly_e2e::{ACCOUNT, Server, ServerOptions, allow, session_credentials, trust_policy};

const UPSTREAM_KEY_ID: &str = "s3s-upstream-key";
const UPSTREAM_SECRET: &str = "s3s-upstream-secret-0123456789";

/// Start s3s-fs on a loopback port over `root`, requiring SigV4 with the
/// upstream key; answers `http://127.0.0.1:PORT`.
async fn start_s3s(root: &std::path::Path) -> Result<String> {
    let mut builder = s3s::service::S3ServiceBuilder::new(
        s3s_fs::FileSystem::new(root).map_err(|e| anyhow::anyhow!("s3s-fs: {e:?}"))?,
    );
    builder.set_auth(s3s::auth::SimpleAuth::from_single(
        UPSTREAM_KEY_ID,
        UPSTREAM_SECRET,
    ));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    Ok(format!("http://{address}"))
}

/// A client straight to s3s-fs, bypassing the gateway.
fn direct_client(endpoint: &str) -> aws_sdk_s3::Client {
    client_with_secret(endpoint, UPSTREAM_SECRET)
}

fn client_with_secret(endpoint: &str, secret: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .force_path_style(true)
        .credentials_provider(aws_credential_types::Credentials::from_keys(
            UPSTREAM_KEY_ID,
            secret,
            None,
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_mode_works_in_front_of_s3s_fs() -> Result<()> {
    let root = tempfile::tempdir()?;
    let upstream = start_s3s(root.path()).await?;
    let direct = direct_client(&upstream);
    let front = Server::start_with(ServerOptions {
        args: vec![
            "--s3-upstream".into(),
            upstream.clone(),
            "--s3-upstream-access-key-id".into(),
            UPSTREAM_KEY_ID.into(),
        ],
        env: vec![(
            "MAYFLY_S3_UPSTREAM_SECRET_ACCESS_KEY".into(),
            UPSTREAM_SECRET.into(),
        )],
        ..ServerOptions::default()
    })?;

    // Temporary credentials from AssumeRole, as a workload would hold.
    let caller = front
        .user_with_key(
            "upstream-caller",
            Some(&allow(
                "sts:AssumeRole",
                &format!("arn:aws:iam::{ACCOUNT}:role/upstream"),
            )),
        )
        .await?;
    let iam = front.iam(front.root());
    iam.create_role()
        .role_name("upstream")
        .assume_role_policy_document(trust_policy(&format!(
            "arn:aws:iam::{ACCOUNT}:user/upstream-caller"
        )))
        .send()
        .await?;
    iam.put_role_policy()
        .role_name("upstream")
        .policy_name("s3")
        .policy_document(allow("s3:*", "*"))
        .send()
        .await?;
    let assumed = front
        .sts(caller)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/upstream"))
        .role_session_name("through-s3s")
        .send()
        .await?;
    let s3 = front.s3(session_credentials(assumed.credentials().unwrap()));

    s3.create_bucket().bucket("forwarded").send().await?;
    direct.head_bucket().bucket("forwarded").send().await?;
    // The upstream checks signatures itself: what reaches it from the
    // gateway was re-signed with the upstream key.
    let wrong = client_with_secret(&upstream, "not-the-upstream-secret");
    assert!(
        wrong
            .head_bucket()
            .bucket("forwarded")
            .send()
            .await
            .is_err()
    );

    s3.put_object()
        .bucket("forwarded")
        .key("docs/a b+c.txt")
        .body(ByteStream::from_static(b"hello from the gateway"))
        .metadata("note", "kept")
        .send()
        .await?;
    let stored = direct
        .get_object()
        .bucket("forwarded")
        .key("docs/a b+c.txt")
        .send()
        .await?;
    assert_eq!(
        &stored.body.collect().await?.into_bytes()[..],
        b"hello from the gateway"
    );

    // A streamed upload: chunk-signed to the gateway, re-signed for s3s.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("stream.bin");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data)?;
    s3.put_object()
        .bucket("forwarded")
        .key("stream.bin")
        .body(ByteStream::from_path(&path).await?)
        .send()
        .await?;
    let got = s3
        .get_object()
        .bucket("forwarded")
        .key("stream.bin")
        .send()
        .await?;
    assert_eq!(got.body.collect().await?.into_bytes().to_vec(), data);

    let head = s3
        .head_object()
        .bucket("forwarded")
        .key("docs/a b+c.txt")
        .send()
        .await?;
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("note"))
            .map(String::as_str),
        Some("kept")
    );
    let ranged = s3
        .get_object()
        .bucket("forwarded")
        .key("stream.bin")
        .range("bytes=10-19")
        .send()
        .await?;
    assert_eq!(
        ranged.body.collect().await?.into_bytes().to_vec(),
        data[10..20].to_vec()
    );

    let listed = s3
        .list_objects_v2()
        .bucket("forwarded")
        .prefix("docs/")
        .send()
        .await?;
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["docs/a b+c.txt"]);

    // Multipart through the gateway.
    let first = vec![3u8; 5 * 1024 * 1024];
    mayfly_e2e::multipart_upload(&s3, "forwarded", "multi", &[&first, b"tail"]).await?;
    let multi = direct
        .head_object()
        .bucket("forwarded")
        .key("multi")
        .send()
        .await?;
    assert_eq!(multi.content_length(), Some(first.len() as i64 + 4));

    // A presigned GET is verified by the gateway, then forwarded re-signed.
    let presigned = s3
        .get_object()
        .bucket("forwarded")
        .key("docs/a b+c.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60))?)
        .await?;
    let uri: http::Uri = presigned.uri().parse()?;
    let host = front.s3_endpoint.trim_start_matches("http://").to_owned();
    let fetched = mayfly_e2e::send_raw(
        &front.s3_endpoint,
        "GET",
        uri.path_and_query().map_or("/", |p| p.as_str()),
        &[("host".to_owned(), host.clone())],
        b"",
    )?;
    assert_eq!(fetched.status, 200, "{}", fetched.body);
    assert_eq!(fetched.body, "hello from the gateway");

    // Deletes reach the upstream store.
    s3.delete_object()
        .bucket("forwarded")
        .key("stream.bin")
        .send()
        .await?;
    assert!(
        direct
            .head_object()
            .bucket("forwarded")
            .key("stream.bin")
            .send()
            .await
            .is_err()
    );

    // Without the gateway's verification nothing gets through: a request
    // whose signature does not match is refused before anything is forwarded.
    let amz_date = mayfly_sigv4::format_amz_date(std::time::SystemTime::now());
    let forged = mayfly_e2e::send_raw(
        &front.s3_endpoint,
        "GET",
        "/forwarded/docs/a%20b%2Bc.txt",
        &[
            ("host".to_owned(), host),
            ("x-amz-date".to_owned(), amz_date.clone()),
            (
                "x-amz-content-sha256".to_owned(),
                "UNSIGNED-PAYLOAD".to_owned(),
            ),
            (
                "authorization".to_owned(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/{}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={}",
                    mayfly_e2e::ROOT_ACCESS_KEY_ID,
                    &amz_date[..8],
                    "0".repeat(64)
                ),
            ),
        ],
        b"",
    )?;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(
        forged.code(),
        Some("SignatureDoesNotMatch"),
        "{}",
        forged.body
    );
    Ok(())
}
