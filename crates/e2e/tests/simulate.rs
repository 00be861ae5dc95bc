//! The IAM policy simulator end to end: SimulateCustomPolicy and
//! SimulatePrincipalPolicy with aws-sdk-iam against the real binary.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use anyhow::Result;
use aws_sdk_iam::types::{
    ContextEntry, ContextKeyTypeEnum, EvaluationResult, PolicyEvaluationDecisionType,
};
use mayfly_e2e::{ACCOUNT, Server, allow, error_code};

const ALLOW_AND_DENY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"ReadAll","Effect":"Allow","Action":["s3:Get*","s3:DeleteObject"],"Resource":"*"},
    {"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#;

const FROM_OFFICE: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"Office","Effect":"Allow","Action":"s3:GetObject","Resource":"*",
     "Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}"#;

fn decision_of<'r>(results: &'r [EvaluationResult], action: &str) -> &'r EvaluationResult {
    results
        .iter()
        .find(|r| r.eval_action_name() == action)
        .expect("a result for every simulated action")
}

fn source_ip(ip: &str) -> ContextEntry {
    ContextEntry::builder()
        .context_key_name("aws:SourceIp")
        .context_key_type(ContextKeyTypeEnum::Ip)
        .context_key_values(ip)
        .build()
}

#[tokio::test]
async fn simulate_custom_policy_reports_allowed_explicit_and_implicit_deny() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let out = iam
        .simulate_custom_policy()
        .policy_input_list(ALLOW_AND_DENY)
        .action_names("s3:GetObject")
        .action_names("s3:DeleteObject")
        .action_names("s3:PutObject")
        .send()
        .await?;
    let results = out.evaluation_results();
    assert_eq!(results.len(), 3);
    assert!(!out.is_truncated());

    let get = decision_of(results, "s3:GetObject");
    assert_eq!(get.eval_decision(), &PolicyEvaluationDecisionType::Allowed);
    assert_eq!(get.eval_resource_name(), Some("*"));
    let matched = get.matched_statements();
    assert_eq!(matched.len(), 1, "{matched:?}");
    assert_eq!(matched[0].source_policy_id(), Some("PolicyInputList.1"));
    assert_eq!(
        matched[0].source_policy_type().map(|t| t.as_str()),
        Some("IAM Policy")
    );
    assert!(get.permissions_boundary_decision_detail().is_none());

    let delete = decision_of(results, "s3:DeleteObject");
    assert_eq!(
        delete.eval_decision(),
        &PolicyEvaluationDecisionType::ExplicitDeny
    );
    assert_eq!(delete.matched_statements().len(), 1);

    let put = decision_of(results, "s3:PutObject");
    assert_eq!(
        put.eval_decision(),
        &PolicyEvaluationDecisionType::ImplicitDeny
    );
    assert!(put.matched_statements().is_empty());
    Ok(())
}

#[tokio::test]
async fn simulate_custom_policy_evaluates_source_ip_conditions_from_context_entries() -> Result<()>
{
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let inside = iam
        .simulate_custom_policy()
        .policy_input_list(FROM_OFFICE)
        .action_names("s3:GetObject")
        .resource_arns("arn:aws:s3:::bucket/key")
        .context_entries(source_ip("203.0.113.9"))
        .send()
        .await?;
    let result = &inside.evaluation_results()[0];
    assert_eq!(
        result.eval_decision(),
        &PolicyEvaluationDecisionType::Allowed
    );
    assert_eq!(result.eval_resource_name(), Some("arn:aws:s3:::bucket/key"));
    assert!(result.missing_context_values().is_empty());

    let outside = iam
        .simulate_custom_policy()
        .policy_input_list(FROM_OFFICE)
        .action_names("s3:GetObject")
        .context_entries(source_ip("198.51.100.1"))
        .send()
        .await?;
    assert_eq!(
        outside.evaluation_results()[0].eval_decision(),
        &PolicyEvaluationDecisionType::ImplicitDeny
    );

    let missing = iam
        .simulate_custom_policy()
        .policy_input_list(FROM_OFFICE)
        .action_names("s3:GetObject")
        .send()
        .await?;
    let result = &missing.evaluation_results()[0];
    assert_eq!(
        result.eval_decision(),
        &PolicyEvaluationDecisionType::ImplicitDeny
    );
    assert_eq!(result.missing_context_values(), ["aws:SourceIp"]);
    Ok(())
}

#[tokio::test]
async fn simulate_custom_policy_paginates_with_max_items() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let first = iam
        .simulate_custom_policy()
        .policy_input_list(ALLOW_AND_DENY)
        .action_names("s3:GetObject")
        .action_names("s3:DeleteObject")
        .action_names("s3:PutObject")
        .max_items(2)
        .send()
        .await?;
    assert_eq!(first.evaluation_results().len(), 2);
    assert!(first.is_truncated());
    let second = iam
        .simulate_custom_policy()
        .policy_input_list(ALLOW_AND_DENY)
        .action_names("s3:GetObject")
        .action_names("s3:DeleteObject")
        .action_names("s3:PutObject")
        .max_items(2)
        .marker(first.marker().expect("marker"))
        .send()
        .await?;
    assert_eq!(second.evaluation_results().len(), 1);
    assert_eq!(
        second.evaluation_results()[0].eval_action_name(),
        "s3:PutObject"
    );
    assert!(!second.is_truncated());
    Ok(())
}

#[tokio::test]
async fn simulate_principal_policy_uses_the_users_policies_and_boundary() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("sim").send().await?;
    iam.put_user_policy()
        .user_name("sim")
        .policy_name("s3-and-iam")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","iam:ListUsers"],"Resource":"*"}]}"#,
        )
        .send()
        .await?;
    let boundary = iam
        .create_policy()
        .policy_name("only-s3")
        .policy_document(allow("s3:*", "*"))
        .send()
        .await?;
    let boundary_arn = boundary.policy().unwrap().arn().unwrap().to_owned();
    iam.put_user_permissions_boundary()
        .user_name("sim")
        .permissions_boundary(&boundary_arn)
        .send()
        .await?;

    let user_arn = format!("arn:aws:iam::{ACCOUNT}:user/sim");
    let out = iam
        .simulate_principal_policy()
        .policy_source_arn(&user_arn)
        .action_names("s3:GetObject")
        .action_names("iam:ListUsers")
        .send()
        .await?;
    let results = out.evaluation_results();
    let get = decision_of(results, "s3:GetObject");
    assert_eq!(get.eval_decision(), &PolicyEvaluationDecisionType::Allowed);
    assert!(
        get.permissions_boundary_decision_detail()
            .unwrap()
            .allowed_by_permissions_boundary()
    );
    let inline = get
        .matched_statements()
        .iter()
        .find(|s| s.source_policy_id() == Some("s3-and-iam"))
        .expect("the inline policy matched");
    assert_eq!(
        inline.source_policy_type().map(|t| t.as_str()),
        Some("user")
    );

    let list = decision_of(results, "iam:ListUsers");
    assert_eq!(
        list.eval_decision(),
        &PolicyEvaluationDecisionType::ImplicitDeny
    );
    assert!(
        !list
            .permissions_boundary_decision_detail()
            .unwrap()
            .allowed_by_permissions_boundary()
    );

    // An unknown source is NoSuchEntity.
    let err = iam
        .simulate_principal_policy()
        .policy_source_arn(format!("arn:aws:iam::{ACCOUNT}:user/nobody"))
        .action_names("s3:GetObject")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("NoSuchEntity"));
    Ok(())
}

#[tokio::test]
async fn simulate_rejects_malformed_policies_and_missing_actions() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let err = iam
        .simulate_custom_policy()
        .policy_input_list("{not json")
        .action_names("s3:GetObject")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err).as_deref(),
        Some("MalformedPolicyDocument"),
        "{err:?}"
    );
    let err = iam
        .simulate_custom_policy()
        .policy_input_list(allow("s3:*", "*"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err).as_deref(),
        Some("ValidationError"),
        "{err:?}"
    );
    Ok(())
}
