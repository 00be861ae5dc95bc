//! `--audit-log` end to end: the real binary writes one CloudTrail record
//! per request to an owner-only file, everything queued is on disk after
//! SIGTERM, and a temporary key leads back to the call that issued it
//! (audit-and-cognito.md A.5) without any secret in the file.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use anyhow::Result;
use aws_sdk_sts::operation::RequestId;
use mayfly_e2e::{
    ACCOUNT, ROOT_ACCESS_KEY_ID, ROOT_SECRET, Server, ServerOptions, allow, error_code,
    session_credentials, trust_policy,
};
use serde_json::Value;

#[tokio::test]
async fn records_trace_a_temporary_key_back_to_its_issuer() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.jsonl");
    let server = Server::start_with(ServerOptions {
        args: vec!["--audit-log".into(), path.display().to_string()],
        ..ServerOptions::default()
    })?;
    // AWS refuses AssumeRole to root: an IAM user with a long-term key
    // issues the session.
    let alice_arn = format!("arn:aws:iam::{ACCOUNT}:user/alice");
    let alice = server.user_with_key("alice", None).await?;
    let alice_key = alice.access_key_id().to_owned();
    let alice_secret = alice.secret_access_key().to_owned();
    let iam = server.iam(server.root());
    let role_arn = iam
        .create_role()
        .role_name("auditor")
        .assume_role_policy_document(trust_policy(&alice_arn))
        .send()
        .await?
        .role()
        .expect("role")
        .arn()
        .to_owned();
    iam.put_role_policy()
        .role_name("auditor")
        .policy_name("inline")
        .policy_document(allow("iam:GetRole", "*"))
        .send()
        .await?;

    // Alice issues a session …
    let assumed = server
        .sts(alice)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("trace-me")
        .duration_seconds(900)
        .send()
        .await?;
    let issuing_request_id = assumed.request_id().expect("request id").to_owned();
    let credentials = assumed.credentials().expect("credentials");
    let key = credentials.access_key_id().to_owned();
    let secret = credentials.secret_access_key().to_owned();
    let token = credentials.session_token().to_owned();

    // … which calls, signing for another region …
    let session = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("eu-west-1"))
            .endpoint_url(&server.endpoint)
            .credentials_provider(session_credentials(credentials))
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .build(),
    );
    session.get_caller_identity().send().await?;
    // … and is refused once (no sts:AssumeRole in the role's policy).
    let refused = session
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("again")
        .send()
        .await
        .expect_err("the role may not assume roles");
    assert_eq!(error_code(&refused).as_deref(), Some("AccessDenied"));

    // SIGTERM: what was queued must be written before the process exits.
    let status = server.terminate()?;
    assert!(status.success(), "{status}");

    let text = std::fs::read_to_string(&path)?;
    for forbidden in [secret.as_str(), token.as_str(), &alice_secret, ROOT_SECRET] {
        assert!(!text.contains(forbidden), "a secret is in the audit log");
    }
    for name in ["secretAccessKey", "\"sessionToken\""] {
        assert!(!text.contains(name), "`{name}` in the audit log");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)?.permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    let records: Vec<Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    for record in &records {
        assert_eq!(record["eventVersion"], "1.11");
        assert_eq!(record["eventType"], "AwsApiCall");
        assert_eq!(record["recipientAccountId"], ACCOUNT);
    }

    // A.5 step 1: the later call names the key …
    let call = records
        .iter()
        .find(|r| r["eventName"] == "GetCallerIdentity")
        .expect("the GetCallerIdentity record");
    let identity = &call["userIdentity"];
    assert_eq!(identity["type"], "AssumedRole");
    assert_eq!(identity["accessKeyId"], key.as_str());
    assert_eq!(
        identity["arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/auditor/trace-me")
    );
    assert_eq!(identity["sessionContext"]["sessionIssuer"]["type"], "Role");
    assert_eq!(
        identity["sessionContext"]["sessionIssuer"]["arn"],
        role_arn.as_str()
    );
    assert_eq!(
        identity["sessionContext"]["attributes"]["mfaAuthenticated"],
        "false"
    );
    assert_eq!(call["awsRegion"], "eu-west-1");
    assert_eq!(call["eventSource"], "sts.amazonaws.com");
    assert!(call["userAgent"].as_str().is_some_and(|a| !a.is_empty()));
    assert!(call.get("errorCode").is_none());

    // … step 2: the record whose response issued it …
    let issuing: Vec<&Value> = records
        .iter()
        .filter(|r| r["responseElements"]["credentials"]["accessKeyId"] == key.as_str())
        .collect();
    assert_eq!(issuing.len(), 1);
    let issuing = issuing[0];
    assert_eq!(issuing["eventName"], "AssumeRole");
    assert_eq!(issuing["requestID"], issuing_request_id.as_str());
    assert_eq!(
        issuing["eventTime"],
        identity["sessionContext"]["attributes"]["creationDate"]
    );
    assert_eq!(issuing["requestParameters"]["roleArn"], role_arn.as_str());
    assert_eq!(issuing["requestParameters"]["roleSessionName"], "trace-me");
    assert_eq!(issuing["requestParameters"]["durationSeconds"], 900);
    let issued = &issuing["responseElements"]["credentials"];
    assert!(
        issued["expiration"]
            .as_str()
            .is_some_and(|e| e.ends_with('Z'))
    );
    assert!(
        issued["sessionTokenSha256"]
            .as_str()
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    // … step 3: whose caller ends the chain: a user with a long-term key.
    let issuer = &issuing["userIdentity"];
    assert_eq!(issuer["type"], "IAMUser");
    assert_eq!(issuer["accessKeyId"], alice_key.as_str());
    assert_eq!(issuer["arn"], alice_arn.as_str());
    assert_eq!(issuer["userName"], "alice");
    assert!(
        issuer["principalId"]
            .as_str()
            .is_some_and(|id| id.starts_with("AIDA"))
    );
    assert!(issuer.get("sessionContext").is_none());

    // Root's own calls (creating the user, role and key) are `Root` records.
    let create_role = records
        .iter()
        .find(|r| r["eventName"] == "CreateRole")
        .expect("the CreateRole record");
    assert_eq!(create_role["userIdentity"]["type"], "Root");
    assert_eq!(
        create_role["userIdentity"]["accessKeyId"],
        ROOT_ACCESS_KEY_ID
    );
    assert_eq!(create_role["eventSource"], "iam.amazonaws.com");
    assert_eq!(create_role["readOnly"], false);
    let create_key = records
        .iter()
        .find(|r| r["eventName"] == "CreateAccessKey")
        .expect("the CreateAccessKey record");
    assert_eq!(
        create_key["responseElements"]["accessKey"]["accessKeyId"],
        alice_key.as_str()
    );

    // The refused call: error, no response, still traceable to the key.
    let refused = records
        .iter()
        .find(|r| {
            r["eventName"] == "AssumeRole" && r["userIdentity"]["accessKeyId"] == key.as_str()
        })
        .expect("the refused AssumeRole record");
    assert_eq!(refused["errorCode"], "AccessDenied");
    let message = refused["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("is not authorized to perform: sts:AssumeRole"),
        "{message}"
    );
    // The sealed explanation is for DecodeAuthorizationMessage, not the log.
    assert!(
        !message.contains("Encoded authorization failure message"),
        "{message}"
    );
    assert!(refused["responseElements"].is_null());
    assert_eq!(refused["requestParameters"]["roleSessionName"], "again");
    Ok(())
}
