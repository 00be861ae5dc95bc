//! Every bad input of the query protocol gets AWS's error (issue 2, item 10),
//! and the STS actions beyond AssumeRole.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::time::{Duration, SystemTime};

use anyhow::Result;
use aws_credential_types::Credentials;
use mayfly_e2e::{
    ACCOUNT, Server, allow, error_code, presigned_get, send_raw, session_credentials, signed_post,
};

fn now() -> SystemTime {
    SystemTime::now()
}

#[test]
fn an_unknown_action_is_invalid_action() -> Result<()> {
    let server = Server::start()?;
    let r = signed_post(
        &server.endpoint,
        "sts",
        &server.root(),
        "Action=Frobnicate&Version=2011-06-15",
        now(),
    )?;
    assert_eq!(
        (r.status, r.code()),
        (400, Some("InvalidAction")),
        "{}",
        r.body
    );
    assert!(r.head.to_ascii_lowercase().contains("x-amzn-requestid"));
    Ok(())
}

#[test]
fn a_missing_action_is_missing_action() -> Result<()> {
    let server = Server::start()?;
    let r = signed_post(
        &server.endpoint,
        "sts",
        &server.root(),
        "Version=2011-06-15",
        now(),
    )?;
    assert_eq!(
        (r.status, r.code()),
        (400, Some("MissingAction")),
        "{}",
        r.body
    );
    Ok(())
}

#[test]
fn an_unknown_version_is_invalid_action() -> Result<()> {
    let server = Server::start()?;
    let r = signed_post(
        &server.endpoint,
        "sts",
        &server.root(),
        "Action=GetCallerIdentity&Version=2099-01-01",
        now(),
    )?;
    assert_eq!(
        (r.status, r.code()),
        (400, Some("InvalidAction")),
        "{}",
        r.body
    );
    Ok(())
}

#[test]
fn an_unknown_parameter_is_invalid_parameter_value() -> Result<()> {
    let server = Server::start()?;
    let r = signed_post(
        &server.endpoint,
        "sts",
        &server.root(),
        "Action=GetCallerIdentity&Version=2011-06-15&Bogus=1",
        now(),
    )?;
    assert_eq!(
        (r.status, r.code()),
        (400, Some("InvalidParameterValue")),
        "{}",
        r.body
    );
    Ok(())
}

#[test]
fn a_duplicated_parameter_is_refused() -> Result<()> {
    let server = Server::start()?;
    let r = signed_post(
        &server.endpoint,
        "sts",
        &server.root(),
        "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=900&DurationSeconds=1000",
        now(),
    )?;
    assert_eq!(
        (r.status, r.code()),
        (400, Some("InvalidParameterCombination")),
        "{}",
        r.body
    );
    Ok(())
}

#[test]
fn invalid_utf8_is_malformed_query_string() -> Result<()> {
    let server = Server::start()?;
    let r = signed_post(
        &server.endpoint,
        "sts",
        &server.root(),
        "Action=GetCallerIdentity&Version=2011-06-15&X=%FF%FE",
        now(),
    )?;
    assert_eq!(r.code(), Some("MalformedQueryString"), "{}", r.body);
    Ok(())
}

#[test]
fn a_missing_required_parameter_is_a_validation_error_in_aws_words() -> Result<()> {
    let server = Server::start()?;
    let r = signed_post(
        &server.endpoint,
        "sts",
        &server.root(),
        "Action=AssumeRole&Version=2011-06-15&RoleSessionName=x",
        now(),
    )?;
    assert_eq!(
        (r.status, r.code()),
        (400, Some("ValidationError")),
        "{}",
        r.body
    );
    assert!(r.body.contains("Value null at &apos;roleArn&apos; failed to satisfy constraint: Member must not be null")
        || r.body.contains("Value null at 'roleArn' failed to satisfy constraint: Member must not be null"), "{}", r.body);
    assert!(
        r.body.contains("2 validation errors detected"),
        "{}",
        r.body
    );
    Ok(())
}

#[test]
fn an_unsigned_request_is_missing_authentication_token() -> Result<()> {
    let server = Server::start()?;
    let r = send_raw(
        &server.endpoint,
        "POST",
        "/",
        &[(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        b"Action=GetCallerIdentity&Version=2011-06-15",
    )?;
    assert_eq!(
        (r.status, r.code()),
        (403, Some("MissingAuthenticationToken")),
        "{}",
        r.body
    );
    Ok(())
}

#[tokio::test]
async fn a_wrong_secret_is_signature_does_not_match() -> Result<()> {
    let server = Server::start()?;
    let wrong = Credentials::new(
        mayfly_e2e::ROOT_ACCESS_KEY_ID,
        "wrong-secret-wrong-secret-wrong-secret00",
        None,
        None,
        "t",
    );
    let err = server
        .sts(wrong)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("SignatureDoesNotMatch"));
    Ok(())
}

#[test]
fn a_skewed_clock_is_refused() -> Result<()> {
    let server = Server::start()?;
    let r = signed_post(
        &server.endpoint,
        "sts",
        &server.root(),
        "Action=GetCallerIdentity&Version=2011-06-15",
        now() - Duration::from_secs(16 * 60),
    )?;
    // sigv4.md 13.2: skew is 403 SignatureDoesNotMatch "Signature expired: …".
    assert_eq!(
        (r.status, r.code()),
        (403, Some("SignatureDoesNotMatch")),
        "{}",
        r.body
    );
    assert!(r.body.contains("Signature expired"), "{}", r.body);
    let r = signed_post(
        &server.endpoint,
        "sts",
        &server.root(),
        "Action=GetCallerIdentity&Version=2011-06-15",
        now() + Duration::from_secs(16 * 60),
    )?;
    assert_eq!(r.code(), Some("SignatureDoesNotMatch"), "{}", r.body);
    assert!(r.body.contains("Signature not yet current"), "{}", r.body);
    Ok(())
}

#[tokio::test]
async fn a_tampered_session_token_is_invalid_client_token_id() -> Result<()> {
    let server = Server::start()?;
    let out = server
        .sts(server.root())
        .get_session_token()
        .duration_seconds(900)
        .send()
        .await?;
    let creds = out.credentials().expect("credentials");
    let token = creds.session_token();
    // Flip one character in the middle of the token.
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = Credentials::new(
        creds.access_key_id(),
        creds.secret_access_key(),
        Some(String::from_utf8(bytes)?),
        None,
        "t",
    );
    let err = server
        .sts(tampered)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("InvalidClientTokenId"));
    // A temporary key without its token is refused too.
    let no_token = Credentials::new(
        creds.access_key_id(),
        creds.secret_access_key(),
        None,
        None,
        "t",
    );
    let err = server
        .sts(no_token)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("InvalidClientTokenId"));
    Ok(())
}

#[test]
fn a_presigned_get_caller_identity_url_works_until_it_expires() -> Result<()> {
    let server = Server::start()?;
    let path = presigned_get(
        &server.endpoint,
        "sts",
        &server.root(),
        "Action=GetCallerIdentity&Version=2011-06-15",
        Duration::from_secs(60),
        now(),
    )?;
    let host = server.endpoint.trim_start_matches("http://").to_owned();
    let r = send_raw(
        &server.endpoint,
        "GET",
        &path,
        &[("Host".into(), host.clone())],
        b"",
    )?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("<Arn>arn:aws:iam::{ACCOUNT}:root</Arn>")),
        "{}",
        r.body
    );
    // Signed two minutes ago for 60 s: expired.
    let old = presigned_get(
        &server.endpoint,
        "sts",
        &server.root(),
        "Action=GetCallerIdentity&Version=2011-06-15",
        Duration::from_secs(60),
        now() - Duration::from_secs(120),
    )?;
    let r = send_raw(&server.endpoint, "GET", &old, &[("Host".into(), host)], b"")?;
    // sigv4.md 13.2 (recommended): 403 AccessDenied "Request has expired".
    assert_eq!(
        (r.status, r.code()),
        (403, Some("AccessDenied")),
        "{}",
        r.body
    );
    assert!(r.body.contains("Request has expired"), "{}", r.body);
    Ok(())
}

#[tokio::test]
async fn get_session_token_acts_as_the_user_and_refuses_session_callers() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("gina").send().await?;
    let key = iam.create_access_key().user_name("gina").send().await?;
    let gina = mayfly_e2e::key_credentials(key.access_key().expect("key"));
    let out = server.sts(gina).get_session_token().send().await?;
    let creds = out.credentials().expect("credentials");
    let expires = SystemTime::try_from(*creds.expiration())?;
    let lifetime = expires.duration_since(now())?.as_secs();
    assert!(
        (43_000..=43_200).contains(&lifetime),
        "default 12 h, got {lifetime}"
    );
    let session = session_credentials(creds);
    let me = server
        .sts(session.clone())
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:iam::{ACCOUNT}:user/gina").as_str())
    );
    let err = server
        .sts(session.clone())
        .get_session_token()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("AccessDenied"));
    // Without MFA these credentials cannot call IAM (AWS answers InvalidClientTokenId).
    let err = server.iam(session).list_users().send().await.unwrap_err();
    assert_eq!(
        mayfly_e2e::error_code(&err).as_deref(),
        Some("InvalidClientTokenId")
    );
    // Root: 3600 s at most, larger values clamped.
    let out = server
        .sts(server.root())
        .get_session_token()
        .duration_seconds(7200)
        .send()
        .await?;
    let expires = SystemTime::try_from(*out.credentials().expect("credentials").expiration())?;
    assert!(expires.duration_since(now())?.as_secs() <= 3600);
    Ok(())
}

#[tokio::test]
async fn get_federation_token_needs_a_session_policy_for_any_permission() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("hank").send().await?;
    iam.put_user_policy()
        .user_name("hank")
        .policy_name("p")
        .policy_document(allow("*", "*"))
        .send()
        .await?;
    let key = iam.create_access_key().user_name("hank").send().await?;
    let hank = mayfly_e2e::key_credentials(key.access_key().expect("key"));
    let out = server
        .sts(hank.clone())
        .get_federation_token()
        .name("visitor")
        .policy(allow("sts:GetAccessKeyInfo", "*"))
        .send()
        .await?;
    let fed = out.federated_user().expect("federated user");
    assert_eq!(
        fed.arn(),
        format!("arn:aws:sts::{ACCOUNT}:federated-user/visitor")
    );
    assert_eq!(fed.federated_user_id(), format!("{ACCOUNT}:visitor"));
    let session = session_credentials(out.credentials().expect("credentials"));
    let me = server
        .sts(session.clone())
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(me.arn(), Some(fed.arn()));
    server
        .sts(session.clone())
        .get_access_key_info()
        .access_key_id(mayfly_e2e::ROOT_ACCESS_KEY_ID)
        .send()
        .await?;
    let err = server
        .sts(session)
        .decode_authorization_message()
        .encoded_message("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("AccessDenied"));
    Ok(())
}

#[tokio::test]
async fn get_access_key_info_names_the_owning_account() -> Result<()> {
    let server = Server::start()?;
    let out = server
        .sts(server.root())
        .get_access_key_info()
        .access_key_id(mayfly_e2e::ROOT_ACCESS_KEY_ID)
        .send()
        .await?;
    assert_eq!(out.account(), Some(ACCOUNT));
    Ok(())
}

#[tokio::test]
async fn access_denied_carries_a_message_that_decode_authorization_message_opens() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("ivan").send().await?;
    iam.put_user_policy()
        .user_name("ivan")
        .policy_name("decode")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Decode","Effect":"Allow","Action":"sts:DecodeAuthorizationMessage","Resource":"*"},{"Sid":"NoUsers","Effect":"Deny","Action":"iam:ListUsers","Resource":"*"}]}"#,
        )
        .send()
        .await?;
    let key = iam.create_access_key().user_name("ivan").send().await?;
    let ivan = mayfly_e2e::key_credentials(key.access_key().expect("key"));
    let err = server
        .iam(ivan.clone())
        .list_users()
        .send()
        .await
        .unwrap_err();
    let message = mayfly_e2e::error_message(&err).expect("message");
    assert!(
        message.contains("with an explicit deny in an identity-based policy"),
        "{message}"
    );
    let encoded = message
        .split("Encoded authorization failure message: ")
        .nth(1)
        .expect("encoded message")
        .trim()
        .to_owned();
    let decoded = server
        .sts(ivan.clone())
        .decode_authorization_message()
        .encoded_message(&encoded)
        .send()
        .await?;
    let json: serde_json::Value =
        serde_json::from_str(decoded.decoded_message().expect("decoded"))?;
    assert_eq!(json["allowed"], false);
    assert_eq!(json["explicitDeny"], true);
    assert_eq!(json["context"]["action"], "iam:ListUsers");
    assert_eq!(
        json["matchedStatements"]["items"][0]["statementId"],
        "NoUsers"
    );
    // A tampered message is InvalidAuthorizationMessageException.
    let mut bad = encoded.clone();
    bad.replace_range(10..11, if &encoded[10..11] == "A" { "B" } else { "A" });
    let err = server
        .sts(ivan)
        .decode_authorization_message()
        .encoded_message(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err).as_deref(),
        Some("InvalidAuthorizationMessageException")
    );
    Ok(())
}
