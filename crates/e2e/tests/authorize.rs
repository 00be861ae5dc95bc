//! `POST /authorize` end to end: requests signed by the official `aws-sigv4`
//! signer for another service (`execute-api`), checked by the running
//! server in its JSON form and in its nginx `auth_request` form.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests fail loudly")]

use std::time::SystemTime;

use anyhow::Result;
use aws_credential_types::Credentials;
use mayfly_e2e::{Server, allow, send_raw};

const ITEMS: &str = "arn:aws:execute-api:us-east-1:000000000000:api/prod/GET/items";
const URL: &str = "https://api.example.test/prod/items?limit=5";

/// Headers of a GET of `URL` signed for `execute-api` with `credentials`.
fn signed_get(credentials: &Credentials, time: SystemTime) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let identity: aws_smithy_runtime_api::client::identity::Identity = credentials.clone().into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("execute-api")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [("host", "api.example.test")];
    let signable = SignableRequest::new(
        "GET",
        URL,
        headers.iter().copied(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().method("GET").uri(URL);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let mut request = request.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect()
}

/// Ask the JSON authorizer about `headers` for `action` on `resource`.
fn ask(
    server: &Server,
    headers: &[(String, String)],
    action: &str,
    resource: &str,
) -> Result<(u16, serde_json::Value)> {
    let question = serde_json::json!({
        "method": "GET",
        "url": URL,
        "headers": headers,
        "payloadHash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "action": action,
        "resource": resource,
    });
    let response = send_raw(
        &server.endpoint,
        "POST",
        "/authorize",
        &[("Content-Type".to_owned(), "application/json".to_owned())],
        question.to_string().as_bytes(),
    )?;
    Ok((response.status, serde_json::from_str(&response.body)?))
}

#[tokio::test]
async fn the_json_authorizer_verifies_the_signature_and_evaluates_policy() -> Result<()> {
    let server = Server::start()?;
    let alice = server
        .user_with_key("alice", Some(&allow("execute-api:Invoke", ITEMS)))
        .await?;
    let headers = signed_get(&alice, SystemTime::now());

    let (status, answer) = ask(&server, &headers, "execute-api:Invoke", ITEMS)?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["decision"], "Allow");
    assert_eq!(
        answer["principal"]["arn"],
        "arn:aws:iam::000000000000:user/alice"
    );
    assert_eq!(answer["principal"]["accountId"], "000000000000");

    // Another resource: the signature is good, the policy does not allow it.
    let other = ITEMS.replace("GET/items", "DELETE/items");
    let (status, answer) = ask(&server, &headers, "execute-api:Invoke", &other)?;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["code"], "AccessDenied");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("no identity-based policy allows")
    );

    // Tampered: a signed header changed after signing.
    let tampered: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            let v = if k == "host" {
                "evil.example.test".to_owned()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    let (status, answer) = ask(&server, &tampered, "execute-api:Invoke", ITEMS)?;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["decision"], "Deny");
    assert_eq!(answer["code"], "SignatureDoesNotMatch");

    // Signed for another service than the action names.
    let (status, answer) = ask(&server, &headers, "s3:GetObject", "arn:aws:s3:::b/k")?;
    assert_eq!(status, 401, "{answer}");

    // Another account's resource: no resource policy can grant it here.
    let foreign = ITEMS.replace("000000000000", "111122223333");
    let (status, _) = ask(&server, &headers, "execute-api:Invoke", &foreign)?;
    assert_eq!(status, 403);

    // Expired: the same request fifteen minutes and more later.
    let old = signed_get(
        &alice,
        SystemTime::now() - std::time::Duration::from_secs(20 * 60),
    );
    let (status, answer) = ask(&server, &old, "execute-api:Invoke", ITEMS)?;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["code"], "RequestTimeTooSkewed");
    Ok(())
}

#[tokio::test]
async fn the_nginx_auth_request_form_answers_with_the_status() -> Result<()> {
    let server = Server::start()?;
    let alice = server
        .user_with_key("alice", Some(&allow("execute-api:Invoke", ITEMS)))
        .await?;
    // nginx passes no body: without a declared payload hash the request
    // cannot be verified.
    let headers = signed_get(&alice, SystemTime::now());
    let subrequest = |resource: &str| {
        let mut all = headers.clone();
        all.push(("X-Original-Method".to_owned(), "GET".to_owned()));
        all.push((
            "X-Original-URI".to_owned(),
            "/prod/items?limit=5".to_owned(),
        ));
        all.push((
            "X-Mayfly-Action".to_owned(),
            "execute-api:Invoke".to_owned(),
        ));
        all.push(("X-Mayfly-Resource".to_owned(), resource.to_owned()));
        send_raw(&server.endpoint, "GET", "/authorize", &all, b"")
    };
    let no_hash = subrequest(ITEMS)?;
    assert_eq!(no_hash.status, 401, "{}", no_hash.head);

    // Signed with the declared payload hash, as nginx deployments must.
    let headers = signed_get_with_content_sha256(&alice);
    let subrequest = |resource: &str| {
        let mut all = headers.clone();
        all.push(("X-Original-Method".to_owned(), "GET".to_owned()));
        all.push((
            "X-Original-URI".to_owned(),
            "/prod/items?limit=5".to_owned(),
        ));
        all.push((
            "X-Mayfly-Action".to_owned(),
            "execute-api:Invoke".to_owned(),
        ));
        all.push(("X-Mayfly-Resource".to_owned(), resource.to_owned()));
        send_raw(&server.endpoint, "GET", "/authorize", &all, b"")
    };
    let allowed = subrequest(ITEMS)?;
    assert_eq!(allowed.status, 200, "{}", allowed.head);
    assert!(
        allowed
            .head
            .to_ascii_lowercase()
            .contains("x-mayfly-principal-arn: arn:aws:iam::000000000000:user/alice"),
        "{}",
        allowed.head
    );
    let denied = subrequest(&ITEMS.replace("GET/items", "DELETE/items"))?;
    assert_eq!(denied.status, 403);
    Ok(())
}

/// Like [`signed_get`], with `x-amz-content-sha256` signed (what a client in
/// front of nginx sends, since nginx does not pass the body to the
/// authorizer).
fn signed_get_with_content_sha256(credentials: &Credentials) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
    };
    let identity: aws_smithy_runtime_api::client::identity::Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("execute-api")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let headers = [("host", "api.example.test")];
    let signable = SignableRequest::new(
        "GET",
        URL,
        headers.iter().copied(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().method("GET").uri(URL);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let mut request = request.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect()
}
