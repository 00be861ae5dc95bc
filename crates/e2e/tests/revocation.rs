//! "Revoke active sessions" (policy-evaluation.md 11): `mayfly
//! revoke-sessions` refuses every session of a role issued before now, on
//! its next call, while new sessions work.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use anyhow::Result;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use mayfly_e2e::{
    ACCOUNT, Server, ServerOptions, allow, error_code, key_credentials, session_credentials,
    trust_policy,
};

/// The error code of the first refused call of `call`, tried every 50 ms
/// for up to 2 s (a running server sees a change within one second);
/// `None` if every call succeeded.
async fn first_refusal<T, E, F, Fut>(mut call: F) -> Option<Option<String>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, aws_sdk_sts::error::SdkError<E, HttpResponse>>>,
    E: aws_sdk_sts::error::ProvideErrorMetadata,
{
    for _ in 0..40 {
        match call().await {
            Err(e) => return Some(error_code(&e)),
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    None
}

#[tokio::test]
async fn revoke_sessions_refuses_older_sessions_and_lets_new_ones_work() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("ops").send().await?;
    let key = iam.create_access_key().user_name("ops").send().await?;
    let ops = key_credentials(key.access_key().expect("key"));
    let role_arn = iam
        .create_role()
        .role_name("oncall")
        .assume_role_policy_document(trust_policy(&format!("arn:aws:iam::{ACCOUNT}:user/ops")))
        .send()
        .await?
        .role()
        .expect("role")
        .arn()
        .to_owned();
    iam.put_role_policy()
        .role_name("oncall")
        .policy_name("read")
        .policy_document(allow("iam:GetRole", "*"))
        .send()
        .await?;
    let old = server
        .sts(ops.clone())
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("before")
        .send()
        .await?;
    let old = session_credentials(old.credentials().expect("credentials"));
    server
        .iam(old.clone())
        .get_role()
        .role_name("oncall")
        .send()
        .await?;

    let output = server.admin(&["revoke-sessions", "--role", "oncall"])?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Within a second the running server refuses the old session.
    let refused = first_refusal(|| {
        server
            .iam(old.clone())
            .get_role()
            .role_name("oncall")
            .send()
    })
    .await;
    assert_eq!(refused, Some(Some("AccessDenied".to_owned())));

    // A session issued after the revocation works. Tokens carry whole
    // seconds and the cutoff is the next second, so issue it through a
    // second node whose clock is two seconds ahead instead of waiting.
    let later = Server::start_with(ServerOptions {
        data_dir: Some(server.data_dir.clone()),
        clock_offset_seconds: 2,
        ..ServerOptions::default()
    })?;
    let new = later
        .sts_at(ops, 2)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("after")
        .send()
        .await?;
    let new = session_credentials(new.credentials().expect("credentials"));
    server
        .iam(new)
        .get_role()
        .role_name("oncall")
        .send()
        .await?;

    // The policy is AWS's: visible and named as the console names it.
    let policy = iam
        .get_role_policy()
        .role_name("oncall")
        .policy_name("AWSRevokeOlderSessions")
        .send()
        .await?;
    assert!(policy.policy_document().contains("aws%3ATokenIssueTime"));
    Ok(())
}

#[test]
fn revoke_sessions_of_a_missing_role_fails_with_a_message() -> Result<()> {
    let server = Server::start()?;
    let output = server.admin(&["revoke-sessions", "--role", "nope"])?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`nope` does not exist"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn revoke_key_refuses_that_temporary_key_at_once_and_no_other() -> Result<()> {
    let server = Server::start()?;
    let sts = server.sts(server.root());
    let first = sts.get_session_token().duration_seconds(900).send().await?;
    let second = sts.get_session_token().duration_seconds(900).send().await?;
    let first = first.credentials().expect("credentials");
    let revoked = session_credentials(first);
    let kept = session_credentials(second.credentials().expect("credentials"));
    server
        .sts(revoked.clone())
        .get_caller_identity()
        .send()
        .await?;

    let output = server.admin(&["revoke-key", "--access-key-id", first.access_key_id()])?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let refused = first_refusal(|| server.sts(revoked.clone()).get_caller_identity().send()).await;
    assert_eq!(refused, Some(Some("InvalidClientTokenId".to_owned())));
    server.sts(kept).get_caller_identity().send().await?;

    // Long-term keys are deactivated through IAM instead.
    let output = server.admin(&[
        "revoke-key",
        "--access-key-id",
        mayfly_e2e::ROOT_ACCESS_KEY_ID,
    ])?;
    assert!(!output.status.success());
    Ok(())
}

#[tokio::test]
async fn destroying_a_ring_key_refuses_every_session_it_sealed_and_no_other() -> Result<()> {
    let server = Server::start()?;
    let sts = server.sts(server.root());
    let old = sts.get_session_token().duration_seconds(900).send().await?;
    let old = session_credentials(old.credentials().expect("credentials"));
    server.sts(old.clone()).get_caller_identity().send().await?;

    // The active key seals every new token: it cannot go first.
    let output = server.admin(&["keys", "destroy", "1"])?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("key 1 is the active key"), "{stderr}");
    let output = server.admin(&["keys", "destroy", "7"])?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no key 7"), "{stderr}");

    let rotated = server.admin(&["keys", "rotate"])?;
    assert!(rotated.status.success());
    let output = server.admin(&["keys", "destroy", "1"])?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Within a second the running server refuses the old key's session.
    let refused = first_refusal(|| server.sts(old.clone()).get_caller_identity().send()).await;
    assert_eq!(refused, Some(Some("InvalidClientTokenId".to_owned())));

    // Sessions sealed under the new key work, and the ring lists key 2 only.
    let new = sts.get_session_token().duration_seconds(900).send().await?;
    let new = session_credentials(new.credentials().expect("credentials"));
    let me = server.sts(new).get_caller_identity().send().await?;
    assert_eq!(me.account(), Some(ACCOUNT));
    let listed = server.admin(&["keys", "list"])?;
    let listed = String::from_utf8_lossy(&listed.stdout);
    let ids: Vec<&str> = listed
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(ids, ["2"], "{listed}");
    Ok(())
}
