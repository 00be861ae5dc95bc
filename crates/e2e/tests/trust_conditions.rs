//! Conditions in trust policies, end to end: `sts:ExternalId` and
//! `aws:SourceIp` decide AssumeRole as AWS documents (policy-evaluation.md
//! 8.6, 10).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use anyhow::Result;
use mayfly_e2e::{ACCOUNT, Server, error_code};

fn trust_with_condition(condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/vendor"}},"Action":"sts:AssumeRole","Condition":{condition}}}]}}"#
    )
}

#[tokio::test]
async fn a_trust_policy_requiring_an_external_id_admits_only_that_id() -> Result<()> {
    let server = Server::start()?;
    let vendor = server.user_with_key("vendor", None).await?;
    let role_arn = server
        .iam(server.root())
        .create_role()
        .role_name("third-party")
        .assume_role_policy_document(trust_with_condition(
            r#"{"StringEquals":{"sts:ExternalId":"build-7731"}}"#,
        ))
        .send()
        .await?
        .role()
        .expect("role")
        .arn()
        .to_owned();
    let sts = server.sts(vendor);
    for (external_id, allowed) in [
        (None, false),
        (Some("build-0000"), false),
        (Some("build-7731"), true),
    ] {
        let mut call = sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("vendor");
        if let Some(id) = external_id {
            call = call.external_id(id);
        }
        match call.send().await {
            Ok(_) => assert!(allowed, "{external_id:?} should be refused"),
            Err(e) => {
                assert!(!allowed, "{external_id:?} should be admitted");
                assert_eq!(error_code(&e).as_deref(), Some("AccessDenied"));
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_trust_policy_bound_to_a_network_admits_only_callers_from_it() -> Result<()> {
    let server = Server::start()?;
    let vendor = server.user_with_key("vendor", None).await?;
    let iam = server.iam(server.root());
    // The tests call from 127.0.0.1.
    let inside = iam
        .create_role()
        .role_name("from-loopback")
        .assume_role_policy_document(trust_with_condition(
            r#"{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}"#,
        ))
        .send()
        .await?
        .role()
        .expect("role")
        .arn()
        .to_owned();
    let outside = iam
        .create_role()
        .role_name("from-office")
        .assume_role_policy_document(trust_with_condition(
            r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}"#,
        ))
        .send()
        .await?
        .role()
        .expect("role")
        .arn()
        .to_owned();
    let sts = server.sts(vendor);
    sts.assume_role()
        .role_arn(&inside)
        .role_session_name("vendor")
        .send()
        .await?;
    let refused = sts
        .assume_role()
        .role_arn(&outside)
        .role_session_name("vendor")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&refused).as_deref(), Some("AccessDenied"));
    Ok(())
}
