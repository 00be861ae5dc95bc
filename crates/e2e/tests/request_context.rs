//! Request-context keys end to end (policy-evaluation.md 10.1):
//! `aws:RequestedRegion` is the region of the request's SigV4 credential
//! scope, so policies conditioned on it allow or deny by the region a
//! client signs for — in identity policies and in trust policies.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use anyhow::Result;
use aws_credential_types::Credentials;
use mayfly_e2e::{ACCOUNT, Server, error_code, error_message};

fn sts_in(server: &Server, credentials: Credentials, region: &str) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(region.to_owned()))
        .endpoint_url(&server.endpoint)
        .credentials_provider(credentials)
        .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

#[tokio::test]
async fn an_identity_policy_on_requested_region_allows_only_that_region() -> Result<()> {
    let server = Server::start()?;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:GetFederationToken","Resource":"arn:aws:sts::{ACCOUNT}:federated-user/*","Condition":{{"StringEquals":{{"aws:RequestedRegion":"eu-west-1"}}}}}}]}}"#
    );
    let alice = server.user_with_key("alice", Some(&policy)).await?;

    sts_in(&server, alice.clone(), "eu-west-1")
        .get_federation_token()
        .name("contractor")
        .send()
        .await?;

    let refused = sts_in(&server, alice, "us-east-1")
        .get_federation_token()
        .name("contractor")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&refused).as_deref(), Some("AccessDenied"));
    let message = error_message(&refused).unwrap_or_default();
    assert!(
        message
            .contains("because no identity-based policy allows the sts:GetFederationToken action"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_deny_outside_the_approved_regions_is_an_explicit_deny() -> Result<()> {
    let server = Server::start()?;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":"sts:GetFederationToken","Resource":"arn:aws:sts::{ACCOUNT}:federated-user/*"}},
            {{"Effect":"Deny","Action":"*","Resource":"*","Condition":{{"StringNotEquals":{{"aws:RequestedRegion":["eu-west-1","eu-central-1"]}}}}}}]}}"#
    );
    let bob = server.user_with_key("bob", Some(&policy)).await?;
    for region in ["eu-west-1", "eu-central-1"] {
        sts_in(&server, bob.clone(), region)
            .get_federation_token()
            .name("contractor")
            .send()
            .await?;
    }
    let refused = sts_in(&server, bob, "ap-southeast-2")
        .get_federation_token()
        .name("contractor")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&refused).as_deref(), Some("AccessDenied"));
    let message = error_message(&refused).unwrap_or_default();
    assert!(
        message.contains("with an explicit deny in an identity-based policy"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_trust_policy_on_requested_region_admits_only_that_region() -> Result<()> {
    let server = Server::start()?;
    let vendor = server.user_with_key("vendor", None).await?;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/vendor"}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"aws:RequestedRegion":"eu-central-1"}}}}}}]}}"#
    );
    let role_arn = server
        .iam(server.root())
        .create_role()
        .role_name("regional")
        .assume_role_policy_document(trust)
        .send()
        .await?
        .role()
        .expect("role")
        .arn()
        .to_owned();
    sts_in(&server, vendor.clone(), "eu-central-1")
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("vendor")
        .send()
        .await?;
    let refused = sts_in(&server, vendor, "us-west-2")
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("vendor")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&refused).as_deref(), Some("AccessDenied"));
    Ok(())
}
