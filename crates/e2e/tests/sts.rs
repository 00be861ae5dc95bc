//! STS end to end with aws-sdk-sts and aws-sdk-iam against the real binary.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use anyhow::Result;
use aws_credential_types::Credentials;
use mayfly_e2e::{
    ACCOUNT, Server, ServerOptions, allow, error_code, key_credentials, session_credentials,
    trust_policy,
};

async fn role(server: &Server, name: &str, trust: &str, policy: Option<&str>) -> Result<String> {
    let iam = server.iam(server.root());
    let created = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .max_session_duration(7200)
        .send()
        .await?;
    if let Some(policy) = policy {
        iam.put_role_policy()
            .role_name(name)
            .policy_name("inline")
            .policy_document(policy)
            .send()
            .await?;
    }
    Ok(created.role().expect("role").arn().to_owned())
}

#[tokio::test]
async fn a_user_assumes_a_role_and_calls_with_the_temporary_credentials() -> Result<()> {
    let server = Server::start()?;
    let alice_arn = format!("arn:aws:iam::{ACCOUNT}:user/alice");
    let alice = server.user_with_key("alice", None).await?;
    let role_arn = role(
        &server,
        "deploy",
        &trust_policy(&alice_arn),
        Some(&allow("iam:GetRole", "*")),
    )
    .await?;

    let me = server
        .sts(alice.clone())
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(me.arn(), Some(alice_arn.as_str()));
    assert_eq!(me.account(), Some(ACCOUNT));
    assert!(me.user_id().is_some_and(|id| id.starts_with("AIDA")));

    let assumed = server
        .sts(alice)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("ci-run-42")
        .duration_seconds(900)
        .send()
        .await?;
    let creds = assumed.credentials().expect("credentials");
    assert!(creds.access_key_id().starts_with("ASIA"));
    assert_eq!(creds.access_key_id().len(), 20);
    assert_eq!(creds.secret_access_key().len(), 40);
    let user = assumed.assumed_role_user().expect("assumed role user");
    assert_eq!(
        user.arn(),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci-run-42")
    );
    assert!(
        user.assumed_role_id().starts_with("AROA")
            && user.assumed_role_id().ends_with(":ci-run-42")
    );

    let session = session_credentials(creds);
    let me = server
        .sts(session.clone())
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(me.arn(), Some(user.arn()));
    assert_eq!(me.user_id(), Some(user.assumed_role_id()));

    // The session has the role's permissions: GetRole allowed, ListUsers not.
    server
        .iam(session.clone())
        .get_role()
        .role_name("deploy")
        .send()
        .await?;
    let denied = server.iam(session).list_users().send().await.unwrap_err();
    assert_eq!(error_code(&denied).as_deref(), Some("AccessDenied"));
    Ok(())
}

#[tokio::test]
#[allow(deprecated, reason = "PackedPolicySize is still sent and checked")]
async fn a_session_policy_narrows_what_the_session_may_do() -> Result<()> {
    let server = Server::start()?;
    let bob = server.user_with_key("bob", None).await?;
    let role_arn = role(
        &server,
        "reader",
        &trust_policy(&format!("arn:aws:iam::{ACCOUNT}:user/bob")),
        Some(&allow("iam:*", "*")),
    )
    .await?;
    let assumed = server
        .sts(bob)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("narrow")
        .policy(allow("iam:GetRole", "*"))
        .send()
        .await?;
    assert!(
        assumed
            .packed_policy_size()
            .is_some_and(|p| p > 0 && p <= 100)
    );
    let size = assumed.session_token_size().expect("SessionTokenSize");
    let token_len = assumed
        .credentials()
        .expect("credentials")
        .session_token()
        .len();
    assert_eq!(usize::try_from(size)?, token_len);
    assert!(
        assumed
            .session_token_utilization()
            .is_some_and(|p| (1..=100).contains(&p))
    );
    let session = session_credentials(assumed.credentials().expect("credentials"));
    server
        .iam(session.clone())
        .get_role()
        .role_name("reader")
        .send()
        .await?;
    let denied = server.iam(session).list_roles().send().await.unwrap_err();
    assert_eq!(error_code(&denied).as_deref(), Some("AccessDenied"));
    Ok(())
}

#[tokio::test]
async fn assume_role_needs_the_trust_policy_and_hides_missing_roles() -> Result<()> {
    let server = Server::start()?;
    let carol = server
        .user_with_key("carol", Some(&allow("sts:AssumeRole", "*")))
        .await?;
    // Trusts someone else.
    let role_arn = role(
        &server,
        "private",
        &trust_policy(&format!("arn:aws:iam::{ACCOUNT}:root")),
        None,
    )
    .await?;
    // Trusted via the account and allowed by carol's identity policy: works.
    server
        .sts(carol.clone())
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("ok")
        .send()
        .await?;
    // A role whose trust names another user: denied.
    let other = role(
        &server,
        "other",
        &trust_policy(&format!("arn:aws:iam::{ACCOUNT}:user/nobody")),
        None,
    )
    .await;
    // Creating a trust policy naming a missing user may be refused; either way carol cannot assume it.
    let other_arn = other.unwrap_or_else(|_| format!("arn:aws:iam::{ACCOUNT}:role/other"));
    let denied = server
        .sts(carol.clone())
        .assume_role()
        .role_arn(&other_arn)
        .role_session_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&denied).as_deref(), Some("AccessDenied"));
    // A missing role is AccessDenied too, never NoSuchEntity.
    let missing = server
        .sts(carol)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/missing"))
        .role_session_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&missing).as_deref(), Some("AccessDenied"));
    Ok(())
}

#[tokio::test]
async fn the_account_root_cannot_assume_a_role() -> Result<()> {
    let server = Server::start()?;
    let role_arn = role(
        &server,
        "r",
        &trust_policy(&format!("arn:aws:iam::{ACCOUNT}:root")),
        None,
    )
    .await?;
    let err = server
        .sts(server.root())
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("root")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("AccessDenied"));
    Ok(())
}

#[tokio::test]
async fn durations_follow_the_role_maximum_and_the_chaining_limit() -> Result<()> {
    let server = Server::start()?;
    let dave = server.user_with_key("dave", None).await?;
    let dave_arn = format!("arn:aws:iam::{ACCOUNT}:user/dave");
    let role_arn = role(&server, "long", &trust_policy(&dave_arn), None).await?;
    // MaxSessionDuration is 7200: 7200 works, 7201 fails.
    let assumed = server
        .sts(dave.clone())
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("long")
        .duration_seconds(7200)
        .send()
        .await?;
    let too_long = server
        .sts(dave.clone())
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("long")
        .duration_seconds(7201)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&too_long).as_deref(), Some("ValidationError"));
    let too_short = server
        .sts(dave)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("long")
        .duration_seconds(899)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&too_short).as_deref(), Some("ValidationError"));

    // Role chaining: a session assuming a role is capped at one hour.
    let session = session_credentials(assumed.credentials().expect("credentials"));
    let chained_role = role(
        &server,
        "chained",
        &trust_policy(&format!("arn:aws:iam::{ACCOUNT}:role/long")),
        None,
    )
    .await?;
    let chained = server
        .sts(session.clone())
        .assume_role()
        .role_arn(&chained_role)
        .role_session_name("hop")
        .duration_seconds(7200)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&chained).as_deref(), Some("ValidationError"));
    server
        .sts(session)
        .assume_role()
        .role_arn(&chained_role)
        .role_session_name("hop")
        .duration_seconds(3600)
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_principal_of_another_account_assumes_a_role_when_both_sides_allow() -> Result<()> {
    let server = Server::start()?;
    let created = server.admin(&["account", "create", "--id", "111111111111"])?;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let text = String::from_utf8(created.stdout)?;
    assert!(text.starts_with("[111111111111]\n"), "{text}");
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} = ")))
            .map(str::to_owned)
            .expect("credentials field")
    };
    let other_root = Credentials::new(
        field("aws_access_key_id"),
        field("aws_secret_access_key"),
        None,
        None,
        "other",
    );
    // The running server sees the new account within a second.
    let mut ready = false;
    for _ in 0..40 {
        if server
            .sts(other_root.clone())
            .get_caller_identity()
            .send()
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "the server did not see the new account within 2 s");

    // Account B (111111111111) has user erin; account A's role trusts account B.
    let iam_b = server.iam(other_root.clone());
    iam_b.create_user().user_name("erin").send().await?;
    let key = iam_b.create_access_key().user_name("erin").send().await?;
    let erin = key_credentials(key.access_key().expect("key"));
    let role_arn = role(
        &server,
        "shared",
        &trust_policy("arn:aws:iam::111111111111:root"),
        None,
    )
    .await?;

    // Without an identity policy in B, the trust alone is not enough.
    let denied = server
        .sts(erin.clone())
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("xacct")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&denied).as_deref(),
        Some("AccessDenied"),
        "{:?}",
        mayfly_e2e::error_message(&denied)
    );

    iam_b
        .put_user_policy()
        .user_name("erin")
        .policy_name("assume")
        .policy_document(allow("sts:AssumeRole", &role_arn))
        .send()
        .await?;
    let assumed = server
        .sts(erin)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("xacct")
        .send()
        .await?;
    let me = server
        .sts(session_credentials(
            assumed.credentials().expect("credentials"),
        ))
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(me.account(), Some(ACCOUNT));
    assert_eq!(
        me.arn(),
        Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/shared/xacct").as_str())
    );
    Ok(())
}

#[tokio::test]
async fn credentials_expire_when_the_clock_passes_their_expiration() -> Result<()> {
    let server = Server::start()?;
    let frank = server.user_with_key("frank", None).await?;
    let role_arn = role(
        &server,
        "short",
        &trust_policy(&format!("arn:aws:iam::{ACCOUNT}:user/frank")),
        None,
    )
    .await?;
    let assumed = server
        .sts(frank)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("short")
        .duration_seconds(900)
        .send()
        .await?;
    let session = session_credentials(assumed.credentials().expect("credentials"));
    // A second node on the same data directory whose clock runs ahead, and a
    // client whose clock runs equally ahead (so the request is not skewed):
    // no sleeping, the same key ring opens the token on both nodes. The
    // margins (880 s, 905 s for a 900 s session) absorb the seconds that pass
    // between issue and check on a loaded machine.
    let at = |offset: i64| -> Result<Server> {
        Server::start_with(ServerOptions {
            data_dir: Some(server.data_dir.clone()),
            clock_offset_seconds: offset,
            ..ServerOptions::default()
        })
    };
    let before = at(880)?;
    before
        .sts_at(session.clone(), 880)
        .get_caller_identity()
        .send()
        .await?;
    let after = at(905)?;
    let expired = after
        .sts_at(session, 905)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&expired).as_deref(), Some("ExpiredToken"));
    Ok(())
}
