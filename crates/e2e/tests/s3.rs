//! The S3 gateway end to end: aws-sdk-s3 (path-style, plain http) against
//! the real binary's built-in store, with temporary credentials from
//! AssumeRole, presigned URLs fetched by a plain HTTP client, bucket and
//! session policies, and the negative cases with S3's exact error codes.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::time::Duration;

use anyhow::Result;
use aws_credential_types::Credentials;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use mayfly_e2e::{
    ACCOUNT, Server, ServerOptions, allow, send_raw, session_credentials, trust_policy,
};

const ALLOW_S3: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

/// A role `name` trusted by the account root with `policy`, assumed by the root.
async fn assume(
    server: &Server,
    name: &str,
    policy: &str,
    session_policy: Option<&str>,
    duration: i32,
) -> Result<Credentials> {
    // The account root cannot assume roles: a user does.
    let user = format!("{name}-caller");
    let caller = server
        .user_with_key(
            &user,
            Some(&allow(
                "sts:AssumeRole",
                &format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
            )),
        )
        .await?;
    let iam = server.iam(server.root());
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(trust_policy(&format!("arn:aws:iam::{ACCOUNT}:user/{user}")))
        .send()
        .await?;
    iam.put_role_policy()
        .role_name(name)
        .policy_name("inline")
        .policy_document(policy)
        .send()
        .await?;
    let mut request = server
        .sts(caller)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{name}"))
        .role_session_name("s3-test")
        .duration_seconds(duration);
    if let Some(p) = session_policy {
        request = request.policy(p);
    }
    let out = request.send().await?;
    Ok(session_credentials(out.credentials().expect("credentials")))
}

fn code<E, R>(error: &aws_sdk_s3::error::SdkError<E, R>) -> Option<String>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    match error {
        aws_sdk_s3::error::SdkError::ServiceError(e) => e.err().code().map(str::to_owned),
        _ => None,
    }
}

fn host_of(endpoint: &str) -> String {
    endpoint.trim_start_matches("http://").to_owned()
}

/// GET a presigned URL with a plain HTTP/1.1 client.
fn fetch(server: &Server, method: &str, uri: &str, body: &[u8]) -> Result<mayfly_e2e::RawResponse> {
    let path = uri
        .strip_prefix(&server.s3_endpoint)
        .expect("presigned url on the s3 endpoint");
    send_raw(
        &server.s3_endpoint,
        method,
        path,
        &[("Host".to_owned(), host_of(&server.s3_endpoint))],
        body,
    )
}

#[tokio::test]
async fn bucket_and_object_round_trip_with_assumed_role_credentials() -> Result<()> {
    let server = Server::start()?;
    let creds = assume(&server, "s3-admin", ALLOW_S3, None, 900).await?;
    let s3 = server.s3(creds);
    s3.create_bucket().bucket("photos").send().await?;
    let again = s3
        .create_bucket()
        .bucket("photos")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&again).as_deref(), Some("BucketAlreadyOwnedByYou"));
    s3.head_bucket().bucket("photos").send().await?;

    s3.put_object()
        .bucket("photos")
        .key("2024/jan/a b+c.txt")
        .body(ByteStream::from_static(b"hello world\n"))
        .content_type("text/plain")
        .metadata("note", "first")
        .send()
        .await?;
    for key in ["2024/feb/x", "2024/feb/y", "2025/z", "top"] {
        s3.put_object()
            .bucket("photos")
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await?;
    }
    let got = s3
        .get_object()
        .bucket("photos")
        .key("2024/jan/a b+c.txt")
        .send()
        .await?;
    assert_eq!(got.e_tag(), Some("\"6f5902ac237024bdd0c176cb93063dc4\""));
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(
        got.metadata()
            .and_then(|m| m.get("note"))
            .map(String::as_str),
        Some("first")
    );
    let data = got.body.collect().await?.into_bytes();
    assert_eq!(&data[..], b"hello world\n");

    let ranged = s3
        .get_object()
        .bucket("photos")
        .key("2024/jan/a b+c.txt")
        .range("bytes=6-10")
        .send()
        .await?;
    assert_eq!(ranged.content_range(), Some("bytes 6-10/12"));
    assert_eq!(&ranged.body.collect().await?.into_bytes()[..], b"world");

    let head = s3.head_object().bucket("photos").key("top").send().await?;
    assert_eq!(head.content_length(), Some(1));

    let listed = s3
        .list_objects_v2()
        .bucket("photos")
        .prefix("2024/")
        .delimiter("/")
        .send()
        .await?;
    let prefixes: Vec<&str> = listed
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, vec!["2024/feb/", "2024/jan/"]);

    // Continuation: one key per page over every object.
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket("photos")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        if page.is_truncated() != Some(true) {
            break;
        }
        token = page.next_continuation_token().map(str::to_owned);
    }
    assert_eq!(
        keys,
        vec![
            "2024/feb/x",
            "2024/feb/y",
            "2024/jan/a b+c.txt",
            "2025/z",
            "top"
        ]
    );

    s3.copy_object()
        .bucket("photos")
        .key("copy")
        .copy_source("photos/2024/jan/a%20b%2Bc.txt")
        .send()
        .await?;
    let copy = s3.get_object().bucket("photos").key("copy").send().await?;
    assert_eq!(
        &copy.body.collect().await?.into_bytes()[..],
        b"hello world\n"
    );

    let missing = s3
        .get_object()
        .bucket("photos")
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing).as_deref(), Some("NoSuchKey"));
    let not_empty = s3
        .delete_bucket()
        .bucket("photos")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&not_empty).as_deref(), Some("BucketNotEmpty"));

    let delete = aws_sdk_s3::types::Delete::builder()
        .set_objects(Some(
            [
                "2024/feb/x",
                "2024/feb/y",
                "2024/jan/a b+c.txt",
                "2025/z",
                "top",
                "copy",
            ]
            .iter()
            .map(|k| {
                aws_sdk_s3::types::ObjectIdentifier::builder()
                    .key(*k)
                    .build()
                    .unwrap()
            })
            .collect(),
        ))
        .build()?;
    let deleted = s3
        .delete_objects()
        .bucket("photos")
        .delete(delete)
        .send()
        .await?;
    assert_eq!(deleted.deleted().len(), 6);
    s3.delete_bucket().bucket("photos").send().await?;
    let gone = s3.head_bucket().bucket("photos").send().await.unwrap_err();
    assert!(matches!(gone, aws_sdk_s3::error::SdkError::ServiceError(_)));
    let buckets = s3.list_buckets().send().await?;
    assert!(buckets.buckets().is_empty());
    Ok(())
}

#[tokio::test]
async fn streaming_upload_with_chunk_signatures_and_trailer() -> Result<()> {
    let server = Server::start()?;
    let creds = assume(&server, "s3-admin", ALLOW_S3, None, 900).await?;
    let s3 = server.s3(creds);
    s3.create_bucket().bucket("stream").send().await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("big.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data)?;
    s3.put_object()
        .bucket("stream")
        .key("big.bin")
        .body(ByteStream::from_path(&path).await?)
        .send()
        .await?;
    let got = s3
        .get_object()
        .bucket("stream")
        .key("big.bin")
        .send()
        .await?;
    assert_eq!(got.body.collect().await?.into_bytes().to_vec(), data);
    Ok(())
}

#[tokio::test]
async fn presigned_get_and_put_work_with_a_plain_http_client() -> Result<()> {
    let server = Server::start()?;
    let creds = assume(&server, "s3-admin", ALLOW_S3, None, 3600).await?;
    let s3 = server.s3(creds);
    s3.create_bucket().bucket("shared").send().await?;
    let put = s3
        .put_object()
        .bucket("shared")
        .key("dir/up load.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600))?)
        .await?;
    let response = fetch(&server, "PUT", put.uri(), b"uploaded by url")?;
    assert_eq!(response.status, 200, "{}", response.body);
    let get = s3
        .get_object()
        .bucket("shared")
        .key("dir/up load.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(600))?)
        .await?;
    let response = fetch(&server, "GET", get.uri(), b"")?;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body, "uploaded by url");
    Ok(())
}

#[tokio::test]
async fn session_expiry_ends_a_presigned_url() -> Result<()> {
    let server = Server::start()?;
    let creds = assume(&server, "s3-admin", ALLOW_S3, None, 900).await?;
    let s3 = server.s3(creds);
    s3.create_bucket().bucket("short").send().await?;
    s3.put_object()
        .bucket("short")
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await?;
    // The URL would live an hour; the session that signed it, 15 minutes.
    let get = s3
        .get_object()
        .bucket("short")
        .key("k")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(3600))?)
        .await?;
    assert_eq!(fetch(&server, "GET", get.uri(), b"")?.status, 200);
    let later = Server::start_with(ServerOptions {
        data_dir: Some(server.data_dir.clone()),
        clock_offset_seconds: 1000,
        ..ServerOptions::default()
    })?;
    let uri = get.uri().replace(&server.s3_endpoint, &later.s3_endpoint);
    let path = uri.strip_prefix(&later.s3_endpoint).unwrap();
    let response = send_raw(
        &later.s3_endpoint,
        "GET",
        path,
        &[("Host".to_owned(), host_of(&server.s3_endpoint))],
        b"",
    )?;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.code(), Some("ExpiredToken"));
    Ok(())
}

#[tokio::test]
async fn an_expired_presigned_url_is_refused() -> Result<()> {
    let server = Server::start()?;
    let s3 = server.s3(server.root());
    s3.create_bucket().bucket("soon").send().await?;
    let get = s3
        .get_object()
        .bucket("soon")
        .key("k")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60))?)
        .await?;
    let later = Server::start_with(ServerOptions {
        data_dir: Some(server.data_dir.clone()),
        clock_offset_seconds: 120,
        ..ServerOptions::default()
    })?;
    let path = get.uri().strip_prefix(&server.s3_endpoint).unwrap();
    let response = send_raw(
        &later.s3_endpoint,
        "GET",
        path,
        &[("Host".to_owned(), host_of(&server.s3_endpoint))],
        b"",
    )?;
    assert_eq!(response.status, 403, "{}", response.body);
    assert_eq!(response.code(), Some("AccessDenied"));
    assert!(
        response.body.contains("Request has expired"),
        "{}",
        response.body
    );
    Ok(())
}

#[tokio::test]
async fn a_presigned_url_valid_for_more_than_seven_days_is_refused() -> Result<()> {
    let server = Server::start()?;
    let s3 = server.s3(server.root());
    s3.create_bucket().bucket("week").send().await?;
    let get = s3
        .get_object()
        .bucket("week")
        .key("k")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(604_800))?)
        .await?;
    assert!(get.uri().contains("X-Amz-Expires=604800"));
    let uri = get
        .uri()
        .replace("X-Amz-Expires=604800", "X-Amz-Expires=604801");
    let response = fetch(&server, "GET", &uri, b"")?;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.code(), Some("AuthorizationQueryParametersError"));
    Ok(())
}

#[tokio::test]
async fn a_tampered_signature_is_refused() -> Result<()> {
    let server = Server::start()?;
    let s3 = server.s3(server.root());
    s3.create_bucket().bucket("sig").send().await?;
    let get = s3
        .get_object()
        .bucket("sig")
        .key("k")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60))?)
        .await?;
    let uri = get.uri().to_owned();
    let at = uri.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &uri[at..=at] == "0" { "1" } else { "0" };
    let tampered = format!("{}{flipped}{}", &uri[..at], &uri[at + 1..]);
    let response = fetch(&server, "GET", &tampered, b"")?;
    assert_eq!(response.status, 403, "{}", response.body);
    assert_eq!(response.code(), Some("SignatureDoesNotMatch"));
    // Another key (the same URL for a different object) is refused too.
    let moved = uri.replace("/sig/k?", "/sig/other?");
    assert_eq!(
        fetch(&server, "GET", &moved, b"")?.code(),
        Some("SignatureDoesNotMatch")
    );
    Ok(())
}

#[tokio::test]
async fn an_unsigned_amz_header_is_refused() -> Result<()> {
    let server = Server::start()?;
    let s3 = server.s3(server.root());
    s3.create_bucket().bucket("hdr").send().await?;
    let put = s3
        .put_object()
        .bucket("hdr")
        .key("k")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60))?)
        .await?;
    let path = put.uri().strip_prefix(&server.s3_endpoint).unwrap();
    let response = send_raw(
        &server.s3_endpoint,
        "PUT",
        path,
        &[
            ("Host".to_owned(), host_of(&server.s3_endpoint)),
            ("x-amz-meta-injected".to_owned(), "yes".to_owned()),
        ],
        b"data",
    )?;
    assert_eq!(response.status, 403, "{}", response.body);
    assert_eq!(response.code(), Some("AccessDenied"));
    assert!(
        response
            .body
            .contains("<HeadersNotSigned>x-amz-meta-injected</HeadersNotSigned>"),
        "{}",
        response.body
    );
    Ok(())
}

/// Sign a PUT with the official signer, declaring `declared` as the payload
/// hash, and send `body`.
fn put_with_declared_hash(
    server: &Server,
    path: &str,
    declared: &str,
    body: &[u8],
) -> Result<mayfly_e2e::RawResponse> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
    };
    let credentials = server.root();
    let identity: aws_smithy_runtime_api::client::identity::Identity = credentials.into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
    settings.uri_path_normalization_mode =
        aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()?
        .into();
    let uri = format!("{}{path}", server.s3_endpoint);
    let headers = [("host".to_owned(), host_of(&server.s3_endpoint))];
    let signable = SignableRequest::new(
        "PUT",
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Precomputed(declared.to_owned()),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let mut request = http::Request::builder().method("PUT").uri(&uri);
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    let mut request = request.body(())?;
    instructions.apply_to_request_http1x(&mut request);
    let all: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    send_raw(&server.s3_endpoint, "PUT", path, &all, body)
}

#[tokio::test]
async fn a_wrong_content_hash_is_refused_and_nothing_is_stored() -> Result<()> {
    let server = Server::start()?;
    let s3 = server.s3(server.root());
    s3.create_bucket().bucket("hash").send().await?;
    // SHA-256 of "expected", sent with a different body.
    let declared = "5a7f1ba3c7a4d4a1d2e5b8b1fb5e35b7f2fde0d0c9e1b93e0e6e1c6f3f7f0b3a";
    let response = put_with_declared_hash(&server, "/hash/k", declared, b"actual")?;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.code(), Some("XAmzContentSHA256Mismatch"));
    let missing = s3
        .get_object()
        .bucket("hash")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing).as_deref(), Some("NoSuchKey"));
    // The same request with the right hash is stored.
    let right = "8a5edab282632443219e051e4ade2d1d5bbc671c781051bf1437897cbdfea0f1";
    let ok = put_with_declared_hash(&server, "/hash/k", right, b"/")?;
    assert_eq!(ok.status, 200, "{}", ok.body);
    Ok(())
}

#[tokio::test]
async fn object_keys_cannot_escape_the_bucket() -> Result<()> {
    let server = Server::start()?;
    let s3 = server.s3(server.root());
    s3.create_bucket().bucket("jail").send().await?;
    s3.create_bucket().bucket("other").send().await?;
    s3.put_object()
        .bucket("other")
        .key("secret")
        .body(ByteStream::from_static(b"other's data"))
        .send()
        .await?;
    // `..` and encoded slashes are key characters: stored inside `jail`.
    s3.put_object()
        .bucket("jail")
        .key("../other/secret")
        .body(ByteStream::from_static(b"overwrite?"))
        .send()
        .await?;
    let other = s3.get_object().bucket("other").key("secret").send().await?;
    assert_eq!(
        &other.body.collect().await?.into_bytes()[..],
        b"other's data"
    );
    let listed = s3.list_objects_v2().bucket("jail").send().await?;
    assert_eq!(listed.contents()[0].key(), Some("../other/secret"));
    // A key that walks up reads nothing outside the bucket.
    let out = s3
        .get_object()
        .bucket("jail")
        .key("../../root-credentials")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&out).as_deref(), Some("NoSuchKey"));
    // An encoded slash or dot segment in the bucket part is not a bucket name.
    let raw = send_raw(
        &server.s3_endpoint,
        "GET",
        "/jail%2F..%2Fother/secret",
        &[("Host".to_owned(), host_of(&server.s3_endpoint))],
        b"",
    )?;
    assert_eq!(raw.status, 400, "{}", raw.body);
    assert_eq!(raw.code(), Some("InvalidBucketName"));
    Ok(())
}

#[tokio::test]
async fn a_session_policy_narrows_the_role_to_one_prefix() -> Result<()> {
    let server = Server::start()?;
    server
        .s3(server.root())
        .create_bucket()
        .bucket("teams")
        .send()
        .await?;
    let session_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::teams/team-a/*"},{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::teams","Condition":{"StringLike":{"s3:prefix":"team-a/*"}}}]}"#;
    let creds = assume(&server, "s3-admin", ALLOW_S3, Some(session_policy), 900).await?;
    let s3 = server.s3(creds);
    s3.put_object()
        .bucket("teams")
        .key("team-a/x")
        .body(ByteStream::from_static(b"a"))
        .send()
        .await?;
    let denied = s3
        .put_object()
        .bucket("teams")
        .key("team-b/x")
        .body(ByteStream::from_static(b"b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&denied).as_deref(), Some("AccessDenied"));
    s3.list_objects_v2()
        .bucket("teams")
        .prefix("team-a/")
        .send()
        .await?;
    let list_all = s3
        .list_objects_v2()
        .bucket("teams")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&list_all).as_deref(), Some("AccessDenied"));
    Ok(())
}

async fn other_account(server: &Server) -> Result<Credentials> {
    let created = server.admin(&["account", "create", "--id", "111111111111"])?;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let text = String::from_utf8(created.stdout)?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = ")))
            .map(str::to_owned)
            .expect("credentials field")
    };
    let creds = Credentials::new(
        field("aws_access_key_id"),
        field("aws_secret_access_key"),
        None,
        None,
        "other",
    );
    for _ in 0..40 {
        if server
            .sts(creds.clone())
            .get_caller_identity()
            .send()
            .await
            .is_ok()
        {
            return Ok(creds);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the new account did not become visible")
}

#[tokio::test]
async fn a_bucket_policy_grants_another_account() -> Result<()> {
    let server = Server::start()?;
    let owner = server.s3(server.root());
    owner.create_bucket().bucket("partner").send().await?;
    owner
        .put_object()
        .bucket("partner")
        .key("report.csv")
        .body(ByteStream::from_static(b"1,2,3"))
        .send()
        .await?;
    let other = server.s3(other_account(&server).await?);
    let before = other
        .get_object()
        .bucket("partner")
        .key("report.csv")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&before).as_deref(), Some("AccessDenied"));
    owner
        .put_bucket_policy()
        .bucket("partner")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::partner/*"}]}"#)
        .send()
        .await?;
    let got = other
        .get_object()
        .bucket("partner")
        .key("report.csv")
        .send()
        .await?;
    assert_eq!(&got.body.collect().await?.into_bytes()[..], b"1,2,3");
    // The grant is for reading only.
    let put = other
        .put_object()
        .bucket("partner")
        .key("x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&put).as_deref(), Some("AccessDenied"));
    // The other account's own buckets do not list it.
    assert!(other.list_buckets().send().await?.buckets().is_empty());
    Ok(())
}

#[tokio::test]
async fn anonymous_requests_need_a_public_bucket_policy() -> Result<()> {
    let server = Server::start()?;
    let owner = server.s3(server.root());
    owner.create_bucket().bucket("public").send().await?;
    owner
        .put_object()
        .bucket("public")
        .key("index.html")
        .body(ByteStream::from_static(b"<h1>hi</h1>"))
        .send()
        .await?;
    let anonymous = |path: &str| {
        send_raw(
            &server.s3_endpoint,
            "GET",
            path,
            &[("Host".to_owned(), host_of(&server.s3_endpoint))],
            b"",
        )
    };
    let denied = anonymous("/public/index.html")?;
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert_eq!(denied.code(), Some("AccessDenied"));
    owner
        .put_bucket_policy()
        .bucket("public")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public/*"}]}"#)
        .send()
        .await?;
    let allowed = anonymous("/public/index.html")?;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(allowed.body, "<h1>hi</h1>");
    // Listing was not granted.
    assert_eq!(
        anonymous("/public?list-type=2")?.code(),
        Some("AccessDenied")
    );
    Ok(())
}

/// How to spoil a signed aws-chunked upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spoil {
    Nothing,
    /// Change a byte of the first chunk after signing it.
    ChunkData,
    /// Leave out the declared checksum trailer (the trailer signature covers none).
    ChecksumTrailer,
    /// Leave out the trailer signature.
    TrailerSignature,
    /// Send a checksum that is not the data's (correctly signed).
    ChecksumValue,
}

/// PUT `/chunks/k` as a STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER upload
/// signed by Mayfly's own signer (written apart from the gateway's decoder).
fn signed_chunked_put(
    server: &Server,
    chunks: &[&[u8]],
    spoil: Spoil,
) -> Result<mayfly_e2e::RawResponse> {
    signed_chunked_put_to(server, "/chunks/k", chunks, spoil)
}

/// As [`signed_chunked_put`], to `path`.
fn signed_chunked_put_to(
    server: &Server,
    path: &str,
    chunks: &[&[u8]],
    spoil: Spoil,
) -> Result<mayfly_e2e::RawResponse> {
    use mayfly_sigv4::{
        CredentialScope, RequestParts, SignableBody, SigningParams, UriEncoding,
        canonical_trailers, chunk_string_to_sign, derive_signing_key, format_amz_date, sha256_hex,
        sign_headers, trailer_string_to_sign,
    };
    let time = std::time::SystemTime::now();
    let data: Vec<u8> = chunks.concat();
    let digest: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&sha256_hex(&data)[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut checksum = aws_smithy_types::base64::encode(&digest);
    if spoil == Spoil::ChecksumValue {
        checksum = aws_smithy_types::base64::encode([0u8; 32]);
    }
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host_of(&server.s3_endpoint)),
        ("content-encoding".into(), "aws-chunked".into()),
        (
            "x-amz-decoded-content-length".into(),
            data.len().to_string(),
        ),
        ("x-amz-trailer".into(), "x-amz-checksum-sha256".into()),
    ];
    let refs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    let parts = RequestParts {
        method: "PUT",
        path,
        query: "",
        headers: &refs,
    };
    let signed = sign_headers(
        &parts,
        &SigningParams {
            credentials: mayfly_sigv4::Credentials {
                access_key_id: mayfly_e2e::ROOT_ACCESS_KEY_ID,
                secret_access_key: mayfly_e2e::ROOT_SECRET,
                session_token: None,
            },
            region: "us-east-1",
            service: "s3",
            time,
            encoding: UriEncoding::Single,
            body: SignableBody::Precomputed("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
            content_sha256_header: true,
        },
    )?;
    headers.extend(
        signed
            .headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone())),
    );
    let scope = CredentialScope::for_time(time, "us-east-1", "s3")?;
    let key = derive_signing_key(mayfly_e2e::ROOT_SECRET, &scope);
    let amz_date = format_amz_date(time);
    let mut previous = signed.signature.clone();
    let mut body = Vec::new();
    for chunk in chunks.iter().copied().chain(std::iter::once(&b""[..])) {
        let signature =
            key.sign_hex(chunk_string_to_sign(&amz_date, &scope, &previous, chunk).as_bytes());
        body.extend_from_slice(
            format!("{:x};chunk-signature={signature}\r\n", chunk.len()).as_bytes(),
        );
        if !chunk.is_empty() {
            body.extend_from_slice(chunk);
            body.extend_from_slice(b"\r\n");
        }
        previous = signature;
    }
    let trailers: Vec<(&str, &[u8])> = if spoil == Spoil::ChecksumTrailer {
        vec![]
    } else {
        vec![("x-amz-checksum-sha256", checksum.as_bytes())]
    };
    for (name, value) in &trailers {
        body.extend_from_slice(format!("{name}:{}\r\n", String::from_utf8_lossy(value)).as_bytes());
    }
    let trailer_signature = key.sign_hex(
        trailer_string_to_sign(&amz_date, &scope, &previous, &canonical_trailers(&trailers))
            .as_bytes(),
    );
    if spoil != Spoil::TrailerSignature {
        body.extend_from_slice(
            format!("x-amz-trailer-signature:{trailer_signature}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(b"\r\n");
    if spoil == Spoil::ChunkData {
        let at = body.iter().position(|b| *b == b'\n').unwrap() + 1;
        body[at] ^= 1;
    }
    send_raw(&server.s3_endpoint, "PUT", path, &headers, &body)
}

async fn chunk_case(spoil: Spoil) -> Result<(mayfly_e2e::RawResponse, bool)> {
    let server = Server::start()?;
    let s3 = server.s3(server.root());
    s3.create_bucket().bucket("chunks").send().await?;
    let first = vec![b'a'; 9000];
    let response = signed_chunked_put(&server, &[&first, b"tail"], spoil)?;
    let stored = s3
        .get_object()
        .bucket("chunks")
        .key("k")
        .send()
        .await
        .is_ok();
    Ok((response, stored))
}

#[tokio::test]
async fn a_signed_chunked_upload_with_a_trailer_is_stored() -> Result<()> {
    let (response, stored) = chunk_case(Spoil::Nothing).await?;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(stored);
    Ok(())
}

#[tokio::test]
async fn a_tampered_chunk_is_refused_and_nothing_is_stored() -> Result<()> {
    let (response, stored) = chunk_case(Spoil::ChunkData).await?;
    assert_eq!(response.status, 403, "{}", response.body);
    assert_eq!(response.code(), Some("SignatureDoesNotMatch"));
    assert!(!stored);
    Ok(())
}

#[tokio::test]
async fn a_missing_checksum_trailer_is_refused() -> Result<()> {
    let (response, stored) = chunk_case(Spoil::ChecksumTrailer).await?;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.code(), Some("InvalidRequest"));
    assert!(!stored);
    Ok(())
}

#[tokio::test]
async fn a_missing_trailer_signature_is_refused() -> Result<()> {
    let (response, stored) = chunk_case(Spoil::TrailerSignature).await?;
    assert_eq!(response.status, 403, "{}", response.body);
    assert_eq!(response.code(), Some("SignatureDoesNotMatch"));
    assert!(!stored);
    Ok(())
}

#[tokio::test]
async fn a_wrong_trailing_checksum_is_bad_digest() -> Result<()> {
    let (response, stored) = chunk_case(Spoil::ChecksumValue).await?;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.code(), Some("BadDigest"));
    assert!(!stored);
    Ok(())
}

#[test]
fn oversized_headers_are_refused_before_any_processing() -> Result<()> {
    let server = Server::start()?;
    let mut headers = vec![("Host".to_owned(), host_of(&server.s3_endpoint))];
    headers.extend((0..200).map(|i| (format!("x-filler-{i}"), "v".repeat(100))));
    let response = send_raw(&server.s3_endpoint, "GET", "/", &headers, b"")?;
    assert_eq!(response.status, 431, "{}", response.head);
    let huge = vec![
        ("Host".to_owned(), host_of(&server.s3_endpoint)),
        ("x-amz-meta-big".to_owned(), "v".repeat(1024 * 1024)),
    ];
    let response = send_raw(&server.s3_endpoint, "GET", "/", &huge, b"");
    // hyper answers 431, or closes the connection on a head larger than its buffer.
    if let Ok(response) = response {
        assert_eq!(response.status, 431, "{}", response.head);
    }
    Ok(())
}

#[tokio::test]
async fn multipart_upload_round_trip() -> Result<()> {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let server = Server::start()?;
    let creds = assume(&server, "s3-admin", ALLOW_S3, None, 900).await?;
    let s3 = server.s3(creds);
    s3.create_bucket().bucket("multi").send().await?;
    let created = s3
        .create_multipart_upload()
        .bucket("multi")
        .key("big/object.bin")
        .content_type("application/x-test")
        .metadata("origin", "multipart")
        .send()
        .await?;
    let upload_id = created.upload_id().unwrap().to_owned();
    let part1: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let part2 = b"the last part may be small".to_vec();
    let mut completed = Vec::new();
    for (number, data) in [(1, &part1), (2, &part2)] {
        let out = s3
            .upload_part()
            .bucket("multi")
            .key("big/object.bin")
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(data.clone()))
            .send()
            .await?;
        completed.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    let parts = s3
        .list_parts()
        .bucket("multi")
        .key("big/object.bin")
        .upload_id(&upload_id)
        .send()
        .await?;
    assert_eq!(parts.parts().len(), 2);
    assert_eq!(parts.parts()[1].size(), Some(part2.len() as i64));
    let uploads = s3.list_multipart_uploads().bucket("multi").send().await?;
    assert_eq!(uploads.uploads().len(), 1);
    // Not visible before completion.
    let early = s3
        .get_object()
        .bucket("multi")
        .key("big/object.bin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&early).as_deref(), Some("NoSuchKey"));
    let done = s3
        .complete_multipart_upload()
        .bucket("multi")
        .key("big/object.bin")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await?;
    assert!(
        done.e_tag().unwrap().ends_with("-2\""),
        "{:?}",
        done.e_tag()
    );
    let got = s3
        .get_object()
        .bucket("multi")
        .key("big/object.bin")
        .send()
        .await?;
    assert_eq!(got.content_type(), Some("application/x-test"));
    assert_eq!(got.e_tag(), done.e_tag());
    let data = got.body.collect().await?.into_bytes();
    assert_eq!(data.len(), part1.len() + part2.len());
    assert_eq!(&data[..part1.len()], &part1[..]);
    assert_eq!(&data[part1.len()..], &part2[..]);
    // A range from an unaligned offset of the first part (read from the
    // disk with O_DIRECT, being 5 MiB) into the second.
    let whole = [&part1[..], &part2[..]].concat();
    let (first, last) = (4097usize, part1.len() + 9);
    let ranged = s3
        .get_object()
        .bucket("multi")
        .key("big/object.bin")
        .range(format!("bytes={first}-{last}"))
        .send()
        .await?;
    let ranged = ranged.body.collect().await?.into_bytes();
    assert!(ranged.as_ref() == &whole[first..=last]);
    // The parts stay separate files: a range across their boundary reads
    // from both, and a copy is one object with the same bytes.
    let from = part1.len() - 3;
    let across = s3
        .get_object()
        .bucket("multi")
        .key("big/object.bin")
        .range(format!("bytes={from}-{}", part1.len() + 4))
        .send()
        .await?;
    assert_eq!(
        across.body.collect().await?.into_bytes().as_ref(),
        &data[from..part1.len() + 5]
    );
    s3.copy_object()
        .bucket("multi")
        .key("copied.bin")
        .copy_source("multi/big/object.bin")
        .send()
        .await?;
    let copied = s3
        .get_object()
        .bucket("multi")
        .key("copied.bin")
        .send()
        .await?;
    assert_eq!(copied.body.collect().await?.into_bytes(), data);
    assert!(
        s3.list_multipart_uploads()
            .bucket("multi")
            .send()
            .await?
            .uploads()
            .is_empty()
    );

    // An aborted upload is gone; a small first part is refused at completion.
    let other = s3
        .create_multipart_upload()
        .bucket("multi")
        .key("small")
        .send()
        .await?;
    let other_id = other.upload_id().unwrap().to_owned();
    let mut small = Vec::new();
    for number in [1, 2] {
        let out = s3
            .upload_part()
            .bucket("multi")
            .key("small")
            .upload_id(&other_id)
            .part_number(number)
            .body(ByteStream::from_static(b"tiny"))
            .send()
            .await?;
        small.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    let too_small = s3
        .complete_multipart_upload()
        .bucket("multi")
        .key("small")
        .upload_id(&other_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(small))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&too_small).as_deref(), Some("EntityTooSmall"));
    s3.abort_multipart_upload()
        .bucket("multi")
        .key("small")
        .upload_id(&other_id)
        .send()
        .await?;
    let gone = s3
        .list_parts()
        .bucket("multi")
        .key("small")
        .upload_id(&other_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&gone).as_deref(), Some("NoSuchUpload"));
    // An upload id that is not one of ours never reaches the file system.
    let bogus = s3
        .list_parts()
        .bucket("multi")
        .key("small")
        .upload_id("../../objects")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bogus).as_deref(), Some("NoSuchUpload"));
    Ok(())
}

#[tokio::test]
async fn the_gateway_serves_https_with_streaming_unsigned_trailer_uploads() -> Result<()> {
    use aws_smithy_http_client::tls;
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
        server.s3_endpoint.starts_with("https://"),
        "{}",
        server.s3_endpoint
    );
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(
            tls::TlsContext::builder()
                .with_trust_store(
                    tls::TrustStore::empty().with_pem_certificate(cert.pem().into_bytes()),
                )
                .build()?,
        )
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(server.s3_endpoint.replace("127.0.0.1", "localhost"))
        .force_path_style(true)
        .credentials_provider(server.root())
        .http_client(http_client)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(config);
    s3.create_bucket().bucket("secure").send().await?;
    let path = dir.path().join("data.bin");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&path, &data)?;
    // A streaming body over https: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer.
    s3.put_object()
        .bucket("secure")
        .key("data.bin")
        .body(ByteStream::from_path(&path).await?)
        .send()
        .await?;
    let got = s3
        .get_object()
        .bucket("secure")
        .key("data.bin")
        .send()
        .await?;
    assert_eq!(got.body.collect().await?.into_bytes().to_vec(), data);
    Ok(())
}

#[test]
fn virtual_host_style_addressing_names_the_bucket_in_the_host() -> Result<()> {
    use mayfly_sigv4::{RequestParts, SignableBody, SigningParams, UriEncoding, sign_headers};
    let server = Server::start_with(ServerOptions {
        args: vec!["--s3-domain".into(), "s3.test".into()],
        ..ServerOptions::default()
    })?;
    let port = server.s3_endpoint.rsplit(':').next().unwrap().to_owned();
    let signed_request = |method: &str, host: &str, path: &str, body: &[u8]| {
        let mut headers = vec![("host".to_owned(), host.to_owned())];
        let refs: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes()))
            .collect();
        let signed = sign_headers(
            &RequestParts {
                method,
                path,
                query: "",
                headers: &refs,
            },
            &SigningParams {
                credentials: mayfly_sigv4::Credentials {
                    access_key_id: mayfly_e2e::ROOT_ACCESS_KEY_ID,
                    secret_access_key: mayfly_e2e::ROOT_SECRET,
                    session_token: None,
                },
                region: "us-east-1",
                service: "s3",
                time: std::time::SystemTime::now(),
                encoding: UriEncoding::Single,
                body: SignableBody::Bytes(body),
                content_sha256_header: true,
            },
        )
        .unwrap();
        headers.extend(
            signed
                .headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone())),
        );
        send_raw(&server.s3_endpoint, method, path, &headers, body)
    };
    let bucket_host = format!("vhost.s3.test:{port}");
    let created = signed_request("PUT", &bucket_host, "/", b"")?;
    assert_eq!(created.status, 200, "{}", created.body);
    let put = signed_request("PUT", &bucket_host, "/dir/file.txt", b"virtual")?;
    assert_eq!(put.status, 200, "{}", put.body);
    // Path-style still works on the same listener.
    let path_style = signed_request(
        "GET",
        &format!("s3.test:{port}"),
        "/vhost/dir/file.txt",
        b"",
    )?;
    assert_eq!(path_style.status, 200, "{}", path_style.body);
    assert_eq!(path_style.body, "virtual");
    let get = signed_request("GET", &bucket_host, "/dir/file.txt", b"")?;
    assert_eq!(get.body, "virtual");
    Ok(())
}

#[test]
fn signature_version_2_is_refused_not_taken_as_anonymous() -> Result<()> {
    let server = Server::start()?;
    let host = ("Host".to_owned(), host_of(&server.s3_endpoint));
    let query = send_raw(
        &server.s3_endpoint,
        "GET",
        "/bkt/k?AWSAccessKeyId=AKIAMAYFLYTESTROOT01&Signature=abc%3D&Expires=9999999999",
        std::slice::from_ref(&host),
        b"",
    )?;
    assert_eq!(query.status, 400, "{}", query.body);
    assert_eq!(query.code(), Some("InvalidRequest"));
    let header = send_raw(
        &server.s3_endpoint,
        "GET",
        "/bkt/k",
        &[
            host,
            (
                "Authorization".to_owned(),
                "AWS AKIAMAYFLYTESTROOT01:abc=".to_owned(),
            ),
        ],
        b"",
    )?;
    assert_eq!(header.status, 400, "{}", header.body);
    assert_eq!(header.code(), Some("InvalidRequest"));
    Ok(())
}

#[tokio::test]
async fn upstream_mode_forwards_to_another_store_and_keeps_refused_uploads_out() -> Result<()> {
    let backend = Server::start()?;
    let front = Server::start_with(ServerOptions {
        args: vec![
            "--s3-upstream".into(),
            backend.s3_endpoint.clone(),
            "--s3-upstream-access-key-id".into(),
            mayfly_e2e::ROOT_ACCESS_KEY_ID.into(),
        ],
        env: vec![(
            "MAYFLY_S3_UPSTREAM_SECRET_ACCESS_KEY".into(),
            mayfly_e2e::ROOT_SECRET.into(),
        )],
        ..ServerOptions::default()
    })?;
    let direct = backend.s3(backend.root());
    front
        .s3(front.root())
        .create_bucket()
        .bucket("proxied")
        .send()
        .await?;
    direct.head_bucket().bucket("proxied").send().await?;

    let s3 = front.s3(assume(&front, "s3-admin", ALLOW_S3, None, 900).await?);
    s3.put_object()
        .bucket("proxied")
        .key("dir/a b.txt")
        .body(ByteStream::from_static(b"through the gateway"))
        .metadata("note", "kept")
        .send()
        .await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("stream.bin");
    let data: Vec<u8> = (0..150_000u32).map(|i| (i % 239) as u8).collect();
    std::fs::write(&path, &data)?;
    // Chunk-signed with a trailer to the gateway, re-signed unsigned upstream.
    s3.put_object()
        .bucket("proxied")
        .key("stream.bin")
        .body(ByteStream::from_path(&path).await?)
        .send()
        .await?;
    let upstream_copy = direct
        .get_object()
        .bucket("proxied")
        .key("stream.bin")
        .send()
        .await?;
    assert_eq!(
        upstream_copy.body.collect().await?.into_bytes().to_vec(),
        data
    );
    let got = s3
        .get_object()
        .bucket("proxied")
        .key("dir/a b.txt")
        .send()
        .await?;
    assert_eq!(
        got.metadata()
            .and_then(|m| m.get("note"))
            .map(String::as_str),
        Some("kept")
    );
    assert_eq!(
        &got.body.collect().await?.into_bytes()[..],
        b"through the gateway"
    );
    let listed = s3
        .list_objects_v2()
        .bucket("proxied")
        .prefix("dir/")
        .send()
        .await?;
    assert_eq!(listed.contents().len(), 1);

    // Multipart through the gateway.
    let part1 = vec![7u8; 5 * 1024 * 1024];
    mayfly_e2e::multipart_upload(&s3, "proxied", "multi", &[&part1, b"end"]).await?;
    let head = direct
        .head_object()
        .bucket("proxied")
        .key("multi")
        .send()
        .await?;
    assert_eq!(head.content_length(), Some(part1.len() as i64 + 3));

    // A refused upload never reaches the upstream store.
    let declared = "5a7f1ba3c7a4d4a1d2e5b8b1fb5e35b7f2fde0d0c9e1b93e0e6e1c6f3f7f0b3a";
    let refused = put_with_declared_hash(&front, "/proxied/refused", declared, b"actual")?;
    assert_eq!(
        refused.code(),
        Some("XAmzContentSHA256Mismatch"),
        "{}",
        refused.body
    );
    let missing = direct
        .head_object()
        .bucket("proxied")
        .key("refused")
        .send()
        .await;
    assert!(missing.is_err());
    let chunked = signed_chunked_put_to(
        &front,
        "/proxied/chunked",
        &[&[b'x'; 9000][..], b"y"],
        Spoil::ChunkData,
    )?;
    assert_eq!(
        chunked.code(),
        Some("SignatureDoesNotMatch"),
        "{}",
        chunked.body
    );
    assert!(
        direct
            .head_object()
            .bucket("proxied")
            .key("chunked")
            .send()
            .await
            .is_err()
    );
    // Refused only at the end, after earlier chunks went upstream: the
    // upstream request is cut short and commits nothing.
    for spoil in [Spoil::TrailerSignature, Spoil::ChecksumValue] {
        let late = signed_chunked_put_to(
            &front,
            "/proxied/late",
            &[&[b'x'; 70_000][..], &[b'y'; 70_000][..], b"z"],
            spoil,
        )?;
        assert!(late.status >= 400, "{}", late.body);
        assert!(
            direct
                .head_object()
                .bucket("proxied")
                .key("late")
                .send()
                .await
                .is_err(),
            "{spoil:?} reached the upstream store"
        );
    }

    // Presigned URLs are verified by the gateway, then forwarded.
    let presigned = s3
        .get_object()
        .bucket("proxied")
        .key("dir/a b.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60))?)
        .await?;
    let response = fetch(&front, "GET", presigned.uri(), b"")?;
    assert_eq!(response.body, "through the gateway");
    Ok(())
}
