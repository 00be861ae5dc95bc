//! AssumeRoleWithSAML end to end: a SAML provider created with aws-sdk-iam
//! from metadata, responses signed by xmlsec1 (committed fixtures of
//! `crates/testkit/saml/generate.py`, valid until 2100), exchanged with
//! aws-sdk-sts, and the credentials used for GetCallerIdentity. Replays,
//! expired and wrapped assertions get AWS's error codes.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use anyhow::Result;
use aws_sdk_iam::types::Tag;
use mayfly_e2e::{ACCOUNT, Server, ServerOptions, error_code, session_credentials};

const PROVIDER_NAME: &str = "MayflyTestIdP";
const ROLE_NAME: &str = "SamlRole";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../federation/testdata/saml/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).expect(&path)
}

fn assertion(name: &str) -> String {
    aws_smithy_types::base64::encode(fixture(name))
}

fn provider_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:saml-provider/{PROVIDER_NAME}")
}

fn role_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}")
}

/// The provider and a role trusting it for AssumeRoleWithSAML when the
/// assertion is addressed to the AWS sign-in endpoint.
async fn provider_and_role(server: &Server) -> Result<()> {
    let iam = server.iam(server.root());
    let created = iam
        .create_saml_provider()
        .name(PROVIDER_NAME)
        .saml_metadata_document(fixture("metadata.xml"))
        .tags(Tag::builder().key("team").value("identity").build()?)
        .send()
        .await?;
    assert_eq!(created.saml_provider_arn(), Some(provider_arn().as_str()));
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{}"}},"Action":["sts:AssumeRoleWithSAML","sts:TagSession"],"Condition":{{"StringEquals":{{"SAML:aud":"https://signin.aws.amazon.com/saml","saml:sub":"alice@example.test"}}}}}}]}}"#,
        provider_arn()
    );
    iam.create_role()
        .role_name(ROLE_NAME)
        .assume_role_policy_document(trust)
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
#[allow(deprecated, reason = "PackedPolicySize is still sent and checked")]
async fn a_signed_assertion_becomes_a_role_session_that_calls_get_caller_identity() -> Result<()> {
    let server = Server::start()?;
    provider_and_role(&server).await?;
    let sts = server.sts(server.root());
    let out = sts
        .assume_role_with_saml()
        .role_arn(role_arn())
        .principal_arn(provider_arn())
        .saml_assertion(assertion("e2e-response.xml"))
        .send()
        .await?;
    assert_eq!(out.subject(), Some("alice@example.test"));
    assert_eq!(out.subject_type(), Some("persistent"));
    assert_eq!(out.issuer(), Some("https://idp.example.test/"));
    assert_eq!(out.audience(), Some("https://signin.aws.amazon.com/saml"));
    let qualifier = out.name_qualifier().unwrap();
    assert_eq!(qualifier.len(), 28);
    let user = out.assumed_role_user().unwrap();
    assert_eq!(
        user.arn(),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_NAME}/alice")
    );
    assert!(user.assumed_role_id().starts_with("AROA"));
    assert!(
        out.packed_policy_size().is_some(),
        "the PrincipalTag attribute is a session tag"
    );
    let credentials = out.credentials().unwrap();
    assert!(credentials.access_key_id().starts_with("ASIA"));
    // The SessionDuration attribute (1800) shortens the default hour.
    let lifetime = credentials.expiration().secs()
        - aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs();
    assert!((1700..=1800).contains(&lifetime), "lifetime {lifetime}");

    let identity = server
        .sts(session_credentials(credentials))
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(identity.arn(), Some(user.arn()));
    assert_eq!(identity.account(), Some(ACCOUNT));
    Ok(())
}

#[tokio::test]
async fn a_replayed_assertion_is_refused_with_invalid_identity_token() -> Result<()> {
    let server = Server::start()?;
    provider_and_role(&server).await?;
    let sts = server.sts(server.root());
    let call = || {
        sts.assume_role_with_saml()
            .role_arn(role_arn())
            .principal_arn(provider_arn())
            .saml_assertion(assertion("e2e-response.xml"))
            .send()
    };
    call().await?;
    let error = call().await.expect_err("a replay must be refused");
    assert_eq!(error_code(&error).as_deref(), Some("InvalidIdentityToken"));
    // Another assertion from the same IdP still works.
    sts.assume_role_with_saml()
        .role_arn(role_arn())
        .principal_arn(provider_arn())
        .saml_assertion(assertion("e2e-response-second.xml"))
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_replay_to_another_node_or_after_a_restart_is_refused() -> Result<()> {
    let first = Server::start()?;
    provider_and_role(&first).await?;
    let second = Server::start_with(ServerOptions {
        data_dir: Some(first.data_dir.clone()),
        ..ServerOptions::default()
    })?;
    let call = |server: &Server, file: &str| {
        server
            .sts(server.root())
            .assume_role_with_saml()
            .role_arn(role_arn())
            .principal_arn(provider_arn())
            .saml_assertion(assertion(file))
            .send()
    };
    call(&first, "e2e-response.xml").await?;
    let error = call(&second, "e2e-response.xml")
        .await
        .expect_err("a replay to another node must be refused");
    assert_eq!(error_code(&error).as_deref(), Some("InvalidIdentityToken"));
    // Both are refused by the second node once it restarts (with nothing
    // in memory).
    call(&second, "e2e-response-second.xml").await?;
    second.terminate()?;
    let restarted = Server::start_with(ServerOptions {
        data_dir: Some(first.data_dir.clone()),
        ..ServerOptions::default()
    })?;
    for file in ["e2e-response.xml", "e2e-response-second.xml"] {
        let error = call(&restarted, file)
            .await
            .expect_err("a replay after a restart must be refused");
        assert_eq!(error_code(&error).as_deref(), Some("InvalidIdentityToken"));
    }
    Ok(())
}

#[tokio::test]
async fn refused_assertions_get_the_aws_error_codes() -> Result<()> {
    let server = Server::start()?;
    provider_and_role(&server).await?;
    let sts = server.sts(server.root());
    let attempt = |role: String, provider: String, saml: String| {
        let sts = sts.clone();
        async move {
            let error = sts
                .assume_role_with_saml()
                .role_arn(role)
                .principal_arn(provider)
                .saml_assertion(saml)
                .send()
                .await
                .expect_err("must be refused");
            error_code(&error)
        }
    };
    let cases = [
        (
            "e2e-expired.xml",
            role_arn(),
            provider_arn(),
            "ExpiredTokenException",
        ),
        (
            "xsw3.xml",
            role_arn(),
            provider_arn(),
            "InvalidIdentityToken",
        ),
        (
            "unsigned.xml",
            role_arn(),
            provider_arn(),
            "InvalidIdentityToken",
        ),
        (
            "signed-by-attacker.xml",
            role_arn(),
            provider_arn(),
            "InvalidIdentityToken",
        ),
        (
            "e2e-response.xml",
            role_arn(),
            format!("arn:aws:iam::{ACCOUNT}:saml-provider/Unknown"),
            "InvalidIdentityToken",
        ),
        (
            "e2e-response.xml",
            format!("arn:aws:iam::{ACCOUNT}:role/NotInTheAssertion"),
            provider_arn(),
            "AccessDenied",
        ),
    ];
    for (file, role, provider, expected) in cases {
        assert_eq!(
            attempt(role, provider, assertion(file)).await.as_deref(),
            Some(expected),
            "{file}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_trust_policy_condition_on_saml_keys_is_enforced() -> Result<()> {
    let server = Server::start()?;
    provider_and_role(&server).await?;
    let iam = server.iam(server.root());
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{}"}},"Action":["sts:AssumeRoleWithSAML","sts:TagSession"],"Condition":{{"StringEquals":{{"saml:sub":"bob@example.test"}}}}}}]}}"#,
        provider_arn()
    );
    iam.update_assume_role_policy()
        .role_name(ROLE_NAME)
        .policy_document(trust)
        .send()
        .await?;
    let error = server
        .sts(server.root())
        .assume_role_with_saml()
        .role_arn(role_arn())
        .principal_arn(provider_arn())
        .saml_assertion(assertion("e2e-response.xml"))
        .send()
        .await
        .expect_err("alice is not bob");
    assert_eq!(error_code(&error).as_deref(), Some("AccessDenied"));
    Ok(())
}

#[tokio::test]
async fn saml_providers_are_managed_through_iam() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    provider_and_role(&server).await?;

    let got = iam
        .get_saml_provider()
        .saml_provider_arn(provider_arn())
        .send()
        .await?;
    assert_eq!(
        got.saml_metadata_document(),
        Some(fixture("metadata.xml").as_str())
    );
    assert!(got.create_date().is_some());
    assert_eq!(got.tags().len(), 1);
    assert!(got.saml_provider_uuid().is_some_and(|u| u.len() == 36));

    let listed = iam.list_saml_providers().send().await?;
    let arns: Vec<_> = listed
        .saml_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .collect();
    assert_eq!(arns, [provider_arn().as_str()]);

    let duplicate = iam
        .create_saml_provider()
        .name(PROVIDER_NAME)
        .saml_metadata_document(fixture("metadata.xml"))
        .send()
        .await
        .expect_err("duplicate");
    assert_eq!(
        error_code(&duplicate).as_deref(),
        Some("EntityAlreadyExists")
    );

    let not_metadata = format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\">{}</md:EntityDescriptor>",
        " ".repeat(1000)
    );
    let invalid = iam
        .create_saml_provider()
        .name("Broken")
        .saml_metadata_document(not_metadata)
        .send()
        .await
        .expect_err("no IDPSSODescriptor");
    assert_eq!(error_code(&invalid).as_deref(), Some("InvalidInput"));

    iam.update_saml_provider()
        .saml_provider_arn(provider_arn())
        .saml_metadata_document(fixture("metadata.xml"))
        .send()
        .await?;
    iam.tag_saml_provider()
        .saml_provider_arn(provider_arn())
        .tags(Tag::builder().key("env").value("test").build()?)
        .send()
        .await?;
    iam.untag_saml_provider()
        .saml_provider_arn(provider_arn())
        .tag_keys("team")
        .send()
        .await?;
    let tags = iam
        .list_saml_provider_tags()
        .saml_provider_arn(provider_arn())
        .send()
        .await?;
    let keys: Vec<_> = tags.tags().iter().map(|t| t.key()).collect();
    assert_eq!(keys, ["env"]);

    iam.delete_saml_provider()
        .saml_provider_arn(provider_arn())
        .send()
        .await?;
    let missing = iam
        .get_saml_provider()
        .saml_provider_arn(provider_arn())
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(error_code(&missing).as_deref(), Some("NoSuchEntity"));
    Ok(())
}

#[tokio::test]
async fn the_accepted_audiences_are_set_with_saml_audience() -> Result<()> {
    // Only another service's audience: the AWS-addressed assertion is refused.
    let server = Server::start_with(ServerOptions {
        args: vec![
            "--saml-audience".into(),
            "https://sp.example.test/saml".into(),
        ],
        ..Default::default()
    })?;
    provider_and_role(&server).await?;
    let error = server
        .sts(server.root())
        .assume_role_with_saml()
        .role_arn(role_arn())
        .principal_arn(provider_arn())
        .saml_assertion(assertion("e2e-response.xml"))
        .send()
        .await
        .expect_err("an audience outside --saml-audience must be refused");
    assert_eq!(error_code(&error).as_deref(), Some("InvalidIdentityToken"));

    // Both audiences listed (the env form, comma-separated): accepted.
    let server = Server::start_with(ServerOptions {
        env: vec![(
            "MAYFLY_SAML_AUDIENCES".into(),
            "https://sp.example.test/saml,https://signin.aws.amazon.com/saml".into(),
        )],
        ..Default::default()
    })?;
    provider_and_role(&server).await?;
    server
        .sts(server.root())
        .assume_role_with_saml()
        .role_arn(role_arn())
        .principal_arn(provider_arn())
        .saml_assertion(assertion("e2e-response.xml"))
        .send()
        .await?;
    Ok(())
}
