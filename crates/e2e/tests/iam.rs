//! The IAM admin subset end to end (iam-admin-api.md 1-7, 13;
//! aws-query-protocol.md 3.3) with aws-sdk-iam against the real binary.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::time::{Duration, SystemTime};

use anyhow::Result;
use aws_credential_types::Credentials;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::{PermissionsBoundaryAttachmentType, StatusType, Tag};
use mayfly_e2e::{
    ACCOUNT, Server, allow, error_code, error_message, session_credentials, signed_post,
    trust_policy,
};

// ---- Fixtures ----

/// Assert that `err` is the AWS error `code` with HTTP `status`.
fn assert_error<E>(err: &SdkError<E>, code: &str, status: u16)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    let got_status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(
        (error_code(err).as_deref(), got_status),
        (Some(code), Some(status)),
        "{err:?}"
    );
}

/// The message of `err`, or an empty string.
fn message<E>(err: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata,
{
    error_message(err).unwrap_or_default()
}

fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

fn policy_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/{name}")
}

/// Decode RFC 3986 percent-encoding (aws-query-protocol.md 3.3); `+` stays `+`.
fn percent_decode(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("two hex digits");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

/// An identity policy allowing `iam:GetUser` on `count` user ARNs: about
/// 40 characters per resource.
fn big_policy(count: usize) -> String {
    let resources: Vec<String> = (0..count)
        .map(|i| format!("\"{}\"", user_arn(&format!("u{i:05}"))))
        .collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:GetUser","Resource":[{}]}}]}}"#,
        resources.join(",")
    )
}

/// A policy with one Deny statement.
fn deny(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

/// Create a managed policy and return its ARN.
async fn managed_policy(server: &Server, name: &str, document: &str) -> Result<String> {
    let created = server
        .iam(server.root())
        .create_policy()
        .policy_name(name)
        .policy_document(document)
        .send()
        .await?;
    Ok(created
        .policy()
        .expect("policy")
        .arn()
        .expect("arn")
        .to_owned())
}

fn root_trust() -> String {
    trust_policy(&format!("arn:aws:iam::{ACCOUNT}:root"))
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().expect("tag")
}

// ---- Users (2) ----

#[tokio::test]
async fn users_are_created_read_listed_renamed_and_deleted() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let created = iam.create_user().user_name("alice").send().await?;
    let user = created.user().expect("user");
    assert_eq!(user.user_name(), "alice");
    assert_eq!(user.path(), "/");
    assert_eq!(user.arn(), user_arn("alice"));
    assert!(user.user_id().starts_with("AIDA"), "{}", user.user_id());
    let id = user.user_id().to_owned();

    let got = iam.get_user().user_name("alice").send().await?;
    let got = got.user().expect("user");
    assert_eq!(got.user_id(), id);
    assert_eq!(got.arn(), user_arn("alice"));
    assert_eq!(got.create_date(), user.create_date());

    iam.create_user().user_name("bob").send().await?;
    let listed = iam.list_users().send().await?;
    let names: Vec<&str> = listed.users().iter().map(|u| u.user_name()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(!listed.is_truncated());

    iam.update_user()
        .user_name("alice")
        .new_user_name("alicia")
        .send()
        .await?;
    let renamed = iam.get_user().user_name("alicia").send().await?;
    let renamed = renamed.user().expect("user");
    assert_eq!(renamed.user_id(), id, "a rename keeps the unique id");
    assert_eq!(renamed.arn(), user_arn("alicia"));
    let old = iam.get_user().user_name("alice").send().await.unwrap_err();
    assert_error(&old, "NoSuchEntity", 404);

    iam.delete_user().user_name("alicia").send().await?;
    let gone = iam.get_user().user_name("alicia").send().await.unwrap_err();
    assert_error(&gone, "NoSuchEntity", 404);
    let listed = iam.list_users().send().await?;
    let names: Vec<&str> = listed.users().iter().map(|u| u.user_name()).collect();
    assert_eq!(names, ["bob"]);
    Ok(())
}

#[tokio::test]
async fn a_user_name_taken_in_any_case_is_entity_already_exists() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("alice").send().await?;
    let same = iam
        .create_user()
        .user_name("alice")
        .send()
        .await
        .unwrap_err();
    assert_error(&same, "EntityAlreadyExists", 409);
    assert_eq!(message(&same), "User with name alice already exists.");
    let other_case = iam
        .create_user()
        .user_name("ALICE")
        .send()
        .await
        .unwrap_err();
    assert_error(&other_case, "EntityAlreadyExists", 409);

    // Renaming onto a taken name (in any case) collides too.
    iam.create_user().user_name("bob").send().await?;
    let rename = iam
        .update_user()
        .user_name("bob")
        .new_user_name("Alice")
        .send()
        .await
        .unwrap_err();
    assert_error(&rename, "EntityAlreadyExists", 409);
    Ok(())
}

#[tokio::test]
async fn a_missing_user_is_no_such_entity() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let err = iam.get_user().user_name("ghost").send().await.unwrap_err();
    assert_error(&err, "NoSuchEntity", 404);
    assert_eq!(message(&err), "The user with name ghost cannot be found.");
    let err = iam
        .delete_user()
        .user_name("ghost")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "NoSuchEntity", 404);
    let err = iam
        .update_user()
        .user_name("ghost")
        .new_user_name("spirit")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "NoSuchEntity", 404);
    let err = iam
        .create_access_key()
        .user_name("ghost")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "NoSuchEntity", 404);
    Ok(())
}

#[tokio::test]
async fn delete_user_is_a_conflict_while_access_keys_remain() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("carol").send().await?;
    let key = iam.create_access_key().user_name("carol").send().await?;
    let key_id = key.access_key().expect("key").access_key_id().to_owned();
    let err = iam
        .delete_user()
        .user_name("carol")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "DeleteConflict", 409);
    assert_eq!(
        message(&err),
        "Cannot delete entity, must delete access keys first."
    );
    iam.delete_access_key()
        .user_name("carol")
        .access_key_id(key_id)
        .send()
        .await?;
    iam.delete_user().user_name("carol").send().await?;
    Ok(())
}

#[tokio::test]
async fn delete_user_is_a_conflict_while_inline_policies_remain() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("dave").send().await?;
    iam.put_user_policy()
        .user_name("dave")
        .policy_name("p")
        .policy_document(allow("iam:GetUser", "*"))
        .send()
        .await?;
    let err = iam
        .delete_user()
        .user_name("dave")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "DeleteConflict", 409);
    assert_eq!(
        message(&err),
        "Cannot delete entity, must delete policies first."
    );
    iam.delete_user_policy()
        .user_name("dave")
        .policy_name("p")
        .send()
        .await?;
    iam.delete_user().user_name("dave").send().await?;
    Ok(())
}

#[tokio::test]
async fn delete_user_is_a_conflict_while_managed_policies_are_attached() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("erin").send().await?;
    let arn = managed_policy(&server, "read", &allow("iam:Get*", "*")).await?;
    iam.attach_user_policy()
        .user_name("erin")
        .policy_arn(&arn)
        .send()
        .await?;
    let err = iam
        .delete_user()
        .user_name("erin")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "DeleteConflict", 409);
    assert_eq!(
        message(&err),
        "Cannot delete entity, must detach all policies first."
    );
    iam.detach_user_policy()
        .user_name("erin")
        .policy_arn(&arn)
        .send()
        .await?;
    iam.delete_user().user_name("erin").send().await?;
    Ok(())
}

#[tokio::test]
async fn get_user_without_a_name_returns_the_calling_user() -> Result<()> {
    let server = Server::start()?;
    let frank = server
        .user_with_key("frank", Some(&allow("iam:GetUser", &user_arn("frank"))))
        .await?;
    let me = server.iam(frank).get_user().send().await?;
    let me = me.user().expect("user");
    assert_eq!(me.user_name(), "frank");
    assert_eq!(me.arn(), user_arn("frank"));
    assert!(me.user_id().starts_with("AIDA"));
    Ok(())
}

// ---- Access keys (3) ----

#[tokio::test]
async fn access_keys_are_created_listed_without_secrets_and_limited_to_two() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("gina").send().await?;
    let first = iam.create_access_key().user_name("gina").send().await?;
    let first = first.access_key().expect("key").clone();
    assert!(first.access_key_id().starts_with("AKIA"));
    assert_eq!(first.access_key_id().len(), 20);
    assert_eq!(first.secret_access_key().len(), 40);
    assert_eq!(first.user_name(), "gina");
    assert_eq!(first.status(), &StatusType::Active);
    let second = iam.create_access_key().user_name("gina").send().await?;
    let second = second.access_key().expect("key").clone();
    assert_ne!(first.access_key_id(), second.access_key_id());
    assert_ne!(first.secret_access_key(), second.secret_access_key());

    let listed = iam.list_access_keys().user_name("gina").send().await?;
    let mut ids: Vec<&str> = listed
        .access_key_metadata()
        .iter()
        .map(|k| k.access_key_id().expect("id"))
        .collect();
    ids.sort_unstable();
    let mut expected = vec![first.access_key_id(), second.access_key_id()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    for k in listed.access_key_metadata() {
        assert_eq!(k.user_name(), Some("gina"));
        assert_eq!(k.status(), Some(&StatusType::Active));
        assert!(k.create_date().is_some());
    }
    // The raw ListAccessKeys body carries no secret at all.
    let raw = signed_post(
        &server.endpoint,
        "iam",
        &server.root(),
        "Action=ListAccessKeys&Version=2010-05-08&UserName=gina",
        SystemTime::now(),
    )?;
    assert_eq!(raw.status, 200, "{}", raw.body);
    assert!(raw.body.contains(first.access_key_id()), "{}", raw.body);
    assert!(!raw.body.contains("SecretAccessKey"), "{}", raw.body);
    assert!(!raw.body.contains(first.secret_access_key()));
    assert!(!raw.body.contains(second.secret_access_key()));

    let third = iam
        .create_access_key()
        .user_name("gina")
        .send()
        .await
        .unwrap_err();
    assert_error(&third, "LimitExceeded", 409);
    assert!(
        message(&third).contains("AccessKeysPerUser: 2"),
        "{}",
        message(&third)
    );
    Ok(())
}

/// Call GetCallerIdentity with `credentials` until it succeeds (`want_ok`)
/// or fails with `InvalidClientTokenId`, for up to about a second.
async fn key_state_within_a_second(
    server: &Server,
    credentials: &Credentials,
    want_ok: bool,
) -> Result<()> {
    let mut last = None;
    for _ in 0..20 {
        let result = server
            .sts(credentials.clone())
            .get_caller_identity()
            .send()
            .await;
        match (&result, want_ok) {
            (Ok(_), true) => return Ok(()),
            (Err(e), false) if error_code(e).as_deref() == Some("InvalidClientTokenId") => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                assert_eq!(status, Some(403), "{e:?}");
                return Ok(());
            }
            _ => {}
        }
        last = Some(format!("{result:?}"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the key did not become {want_ok} within 1 s: {last:?}")
}

#[tokio::test]
async fn an_inactive_key_is_refused_and_works_again_when_reactivated() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let hank = server.user_with_key("hank", None).await?;
    server
        .sts(hank.clone())
        .get_caller_identity()
        .send()
        .await?;

    iam.update_access_key()
        .user_name("hank")
        .access_key_id(hank.access_key_id())
        .status(StatusType::Inactive)
        .send()
        .await?;
    let listed = iam.list_access_keys().user_name("hank").send().await?;
    assert_eq!(
        listed.access_key_metadata()[0].status(),
        Some(&StatusType::Inactive)
    );
    key_state_within_a_second(&server, &hank, false).await?;

    iam.update_access_key()
        .user_name("hank")
        .access_key_id(hank.access_key_id())
        .status(StatusType::Active)
        .send()
        .await?;
    key_state_within_a_second(&server, &hank, true).await?;
    Ok(())
}

#[tokio::test]
async fn a_deleted_key_is_gone_and_refused() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let ivan = server.user_with_key("ivan", None).await?;
    iam.delete_access_key()
        .user_name("ivan")
        .access_key_id(ivan.access_key_id())
        .send()
        .await?;
    let listed = iam.list_access_keys().user_name("ivan").send().await?;
    assert!(listed.access_key_metadata().is_empty());
    key_state_within_a_second(&server, &ivan, false).await?;
    let again = iam
        .delete_access_key()
        .user_name("ivan")
        .access_key_id(ivan.access_key_id())
        .send()
        .await
        .unwrap_err();
    assert_error(&again, "NoSuchEntity", 404);
    assert_eq!(
        message(&again),
        format!(
            "The Access Key with id {} cannot be found",
            ivan.access_key_id()
        )
    );
    Ok(())
}

// ---- Roles (4) ----

#[tokio::test]
async fn a_role_is_created_with_its_trust_policy_and_default_max_session_duration() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let trust = root_trust();
    let created = iam
        .create_role()
        .role_name("deploy")
        .assume_role_policy_document(&trust)
        .description("deploys things")
        .send()
        .await?;
    let role = created.role().expect("role");
    assert_eq!(role.role_name(), "deploy");
    assert_eq!(role.path(), "/");
    assert_eq!(role.arn(), format!("arn:aws:iam::{ACCOUNT}:role/deploy"));
    assert!(role.role_id().starts_with("AROA"), "{}", role.role_id());
    assert_eq!(role.max_session_duration(), Some(3600));
    assert_eq!(role.description(), Some("deploys things"));
    let doc = role.assume_role_policy_document().expect("document");
    assert_eq!(percent_decode(doc), trust);

    let again = iam
        .create_role()
        .role_name("DEPLOY")
        .assume_role_policy_document(&trust)
        .send()
        .await
        .unwrap_err();
    assert_error(&again, "EntityAlreadyExists", 409);
    assert_eq!(message(&again), "Role with name DEPLOY already exists.");

    let missing = iam.get_role().role_name("nope").send().await.unwrap_err();
    assert_error(&missing, "NoSuchEntity", 404);
    assert_eq!(
        message(&missing),
        "The role with name nope cannot be found."
    );

    let listed = iam.list_roles().send().await?;
    let names: Vec<&str> = listed.roles().iter().map(|r| r.role_name()).collect();
    assert_eq!(names, ["deploy"]);
    Ok(())
}

#[tokio::test]
async fn max_session_duration_must_be_between_one_and_twelve_hours() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    for bad in [0, 3599, 43201] {
        let err = iam
            .create_role()
            .role_name("r")
            .assume_role_policy_document(root_trust())
            .max_session_duration(bad)
            .send()
            .await
            .unwrap_err();
        assert_error(&err, "ValidationError", 400);
    }
    for (name, good) in [("short", 3600), ("long", 43200)] {
        let created = iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(root_trust())
            .max_session_duration(good)
            .send()
            .await?;
        assert_eq!(
            created.role().expect("role").max_session_duration(),
            Some(good)
        );
    }
    let err = iam
        .update_role()
        .role_name("short")
        .max_session_duration(43201)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "ValidationError", 400);
    Ok(())
}

#[tokio::test]
async fn get_role_returns_the_trust_policy_percent_encoded_as_submitted() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    // White space, a `+`, a space and a `/` inside a string: the text
    // comes back byte for byte, RFC 3986 encoded.
    let trust = format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{{\n    \"Effect\": \"Allow\",\n    \"Principal\": {{\"AWS\": \"arn:aws:iam::{ACCOUNT}:root\"}},\n    \"Action\": \"sts:AssumeRole\",\n    \"Condition\": {{\"StringEquals\": {{\"sts:ExternalId\": \"a+b c/*~\"}}}}\n  }}]\n}}"
    );
    let created = iam
        .create_role()
        .role_name("encoded")
        .assume_role_policy_document(&trust)
        .send()
        .await?;
    let from_create = created
        .role()
        .expect("role")
        .assume_role_policy_document()
        .expect("document")
        .to_owned();
    let got = iam.get_role().role_name("encoded").send().await?;
    let raw = got
        .role()
        .expect("role")
        .assume_role_policy_document()
        .expect("document");
    assert_eq!(raw, from_create);
    assert!(raw.starts_with("%7B"), "{raw}");
    assert!(!raw.contains('+'), "{raw}");
    assert!(!raw.contains(' '), "{raw}");
    assert!(!raw.contains('{') && !raw.contains('"') && !raw.contains(':'));
    assert!(raw.contains("a%2Bb%20c%2F%2A~"), "{raw}");
    assert!(raw.contains("%0A"), "{raw}");
    assert_eq!(percent_decode(raw), trust);
    Ok(())
}

#[tokio::test]
async fn update_role_and_update_role_description_change_the_role() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_role()
        .role_name("ops")
        .assume_role_policy_document(root_trust())
        .send()
        .await?;
    iam.update_role()
        .role_name("ops")
        .description("first")
        .max_session_duration(7200)
        .send()
        .await?;
    let got = iam.get_role().role_name("ops").send().await?;
    let role = got.role().expect("role");
    assert_eq!(role.description(), Some("first"));
    assert_eq!(role.max_session_duration(), Some(7200));

    let updated = iam
        .update_role_description()
        .role_name("ops")
        .description("second")
        .send()
        .await?;
    let role = updated.role().expect("role");
    assert_eq!(role.description(), Some("second"));
    assert_eq!(role.max_session_duration(), Some(7200));
    assert_eq!(
        percent_decode(role.assume_role_policy_document().expect("document")),
        root_trust()
    );
    let got = iam.get_role().role_name("ops").send().await?;
    assert_eq!(got.role().expect("role").description(), Some("second"));

    let missing = iam
        .update_role()
        .role_name("nope")
        .description("x")
        .send()
        .await
        .unwrap_err();
    assert_error(&missing, "NoSuchEntity", 404);
    let missing = iam
        .update_role_description()
        .role_name("nope")
        .description("x")
        .send()
        .await
        .unwrap_err();
    assert_error(&missing, "NoSuchEntity", 404);
    Ok(())
}

#[tokio::test]
async fn update_assume_role_policy_replaces_a_valid_trust_policy_only() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("jane").send().await?;
    iam.create_role()
        .role_name("trusting")
        .assume_role_policy_document(root_trust())
        .send()
        .await?;
    let new_trust = trust_policy(&user_arn("jane"));
    iam.update_assume_role_policy()
        .role_name("trusting")
        .policy_document(&new_trust)
        .send()
        .await?;
    let got = iam.get_role().role_name("trusting").send().await?;
    let doc = got
        .role()
        .expect("role")
        .assume_role_policy_document()
        .expect("document");
    assert_eq!(percent_decode(doc), new_trust);

    let with_resource = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole","Resource":"*"}}]}}"#
    );
    let err = iam
        .update_assume_role_policy()
        .role_name("trusting")
        .policy_document(with_resource)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "MalformedPolicyDocument", 400);

    let not_json = iam
        .update_assume_role_policy()
        .role_name("trusting")
        .policy_document("{\"Version\":\"2012-10-17\",")
        .send()
        .await
        .unwrap_err();
    assert_error(&not_json, "MalformedPolicyDocument", 400);

    // Neither failure changed the stored trust policy.
    let got = iam.get_role().role_name("trusting").send().await?;
    let doc = got
        .role()
        .expect("role")
        .assume_role_policy_document()
        .expect("document");
    assert_eq!(percent_decode(doc), new_trust);
    Ok(())
}

#[tokio::test]
async fn role_tags_are_added_replaced_case_insensitively_and_removed() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_role()
        .role_name("tagged")
        .assume_role_policy_document(root_trust())
        .tags(tag("Team", "platform"))
        .send()
        .await?;
    iam.tag_role()
        .role_name("tagged")
        .tags(tag("Department", "eng"))
        .send()
        .await?;
    let listed = iam.list_role_tags().role_name("tagged").send().await?;
    let mut tags: Vec<(&str, &str)> = listed.tags().iter().map(|t| (t.key(), t.value())).collect();
    tags.sort_unstable();
    assert_eq!(tags, [("Department", "eng"), ("Team", "platform")]);

    // `department` replaces `Department`: still two tags.
    iam.tag_role()
        .role_name("tagged")
        .tags(tag("department", "ops"))
        .send()
        .await?;
    let listed = iam.list_role_tags().role_name("tagged").send().await?;
    assert_eq!(listed.tags().len(), 2, "{:?}", listed.tags());
    let dept = listed
        .tags()
        .iter()
        .find(|t| t.key().eq_ignore_ascii_case("department"))
        .expect("department tag");
    assert_eq!(dept.value(), "ops");
    let dept_key = dept.key().to_owned();

    // GetRole carries the tags too.
    let got = iam.get_role().role_name("tagged").send().await?;
    assert_eq!(got.role().expect("role").tags().len(), 2);

    iam.untag_role()
        .role_name("tagged")
        .tag_keys(dept_key)
        .tag_keys("not-there")
        .send()
        .await?;
    let listed = iam.list_role_tags().role_name("tagged").send().await?;
    let tags: Vec<(&str, &str)> = listed.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("Team", "platform")]);

    let dup = iam
        .tag_role()
        .role_name("tagged")
        .tags(tag("x", "1"))
        .tags(tag("X", "2"))
        .send()
        .await
        .unwrap_err();
    assert_error(&dup, "InvalidInput", 400);
    Ok(())
}

#[tokio::test]
async fn a_role_permissions_boundary_is_put_reported_and_deleted() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let boundary = managed_policy(&server, "boundary", &allow("iam:Get*", "*")).await?;
    iam.create_role()
        .role_name("bounded")
        .assume_role_policy_document(root_trust())
        .send()
        .await?;
    let got = iam.get_role().role_name("bounded").send().await?;
    assert!(got.role().expect("role").permissions_boundary().is_none());

    iam.put_role_permissions_boundary()
        .role_name("bounded")
        .permissions_boundary(&boundary)
        .send()
        .await?;
    let got = iam.get_role().role_name("bounded").send().await?;
    let pb = got
        .role()
        .expect("role")
        .permissions_boundary()
        .expect("boundary");
    assert_eq!(pb.permissions_boundary_arn(), Some(boundary.as_str()));
    assert_eq!(
        pb.permissions_boundary_type(),
        Some(&PermissionsBoundaryAttachmentType::Policy)
    );
    let policy = iam.get_policy().policy_arn(&boundary).send().await?;
    let policy = policy.policy().expect("policy");
    assert_eq!(policy.permissions_boundary_usage_count(), Some(1));
    assert_eq!(policy.attachment_count(), Some(0));

    iam.delete_role_permissions_boundary()
        .role_name("bounded")
        .send()
        .await?;
    let got = iam.get_role().role_name("bounded").send().await?;
    assert!(got.role().expect("role").permissions_boundary().is_none());

    let unknown = iam
        .put_role_permissions_boundary()
        .role_name("bounded")
        .permissions_boundary(policy_arn("missing"))
        .send()
        .await
        .unwrap_err();
    assert_error(&unknown, "NoSuchEntity", 404);
    Ok(())
}

#[tokio::test]
async fn delete_role_is_a_conflict_while_policies_remain() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_role()
        .role_name("busy")
        .assume_role_policy_document(root_trust())
        .send()
        .await?;
    iam.put_role_policy()
        .role_name("busy")
        .policy_name("p")
        .policy_document(allow("iam:GetRole", "*"))
        .send()
        .await?;
    let err = iam
        .delete_role()
        .role_name("busy")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "DeleteConflict", 409);
    assert_eq!(
        message(&err),
        "Cannot delete entity, must delete policies first."
    );
    iam.delete_role_policy()
        .role_name("busy")
        .policy_name("p")
        .send()
        .await?;

    let arn = managed_policy(&server, "attached", &allow("iam:GetRole", "*")).await?;
    iam.attach_role_policy()
        .role_name("busy")
        .policy_arn(&arn)
        .send()
        .await?;
    let err = iam
        .delete_role()
        .role_name("busy")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "DeleteConflict", 409);
    assert_eq!(
        message(&err),
        "Cannot delete entity, must detach all policies first."
    );
    iam.detach_role_policy()
        .role_name("busy")
        .policy_arn(&arn)
        .send()
        .await?;

    iam.delete_role().role_name("busy").send().await?;
    let gone = iam.get_role().role_name("busy").send().await.unwrap_err();
    assert_error(&gone, "NoSuchEntity", 404);
    Ok(())
}

// ---- Inline policies (5) ----

#[tokio::test]
async fn user_inline_policies_are_put_read_listed_and_deleted() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("kim").send().await?;
    let doc = "{ \"Version\": \"2012-10-17\", \"Statement\": [ { \"Effect\": \"Allow\", \"Action\": \"iam:GetUser\", \"Resource\": \"*\" } ] }";
    for name in ["b-policy", "a-policy"] {
        iam.put_user_policy()
            .user_name("kim")
            .policy_name(name)
            .policy_document(doc)
            .send()
            .await?;
    }
    let got = iam
        .get_user_policy()
        .user_name("kim")
        .policy_name("a-policy")
        .send()
        .await?;
    assert_eq!(got.user_name(), "kim");
    assert_eq!(got.policy_name(), "a-policy");
    assert!(!got.policy_document().contains(' '));
    assert_eq!(percent_decode(got.policy_document()), doc);

    let listed = iam.list_user_policies().user_name("kim").send().await?;
    assert_eq!(listed.policy_names(), ["a-policy", "b-policy"]);

    // Put replaces.
    let replacement = allow("iam:ListUsers", "*");
    iam.put_user_policy()
        .user_name("kim")
        .policy_name("a-policy")
        .policy_document(&replacement)
        .send()
        .await?;
    let got = iam
        .get_user_policy()
        .user_name("kim")
        .policy_name("a-policy")
        .send()
        .await?;
    assert_eq!(percent_decode(got.policy_document()), replacement);

    iam.delete_user_policy()
        .user_name("kim")
        .policy_name("a-policy")
        .send()
        .await?;
    let listed = iam.list_user_policies().user_name("kim").send().await?;
    assert_eq!(listed.policy_names(), ["b-policy"]);
    let err = iam
        .get_user_policy()
        .user_name("kim")
        .policy_name("a-policy")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "NoSuchEntity", 404);
    assert_eq!(
        message(&err),
        "The user policy with name a-policy cannot be found."
    );
    let err = iam
        .delete_user_policy()
        .user_name("kim")
        .policy_name("a-policy")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "NoSuchEntity", 404);
    Ok(())
}

#[tokio::test]
async fn role_inline_policies_are_put_read_listed_and_deleted() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_role()
        .role_name("worker")
        .assume_role_policy_document(root_trust())
        .send()
        .await?;
    let doc = allow("iam:GetRole", "*");
    iam.put_role_policy()
        .role_name("worker")
        .policy_name("get")
        .policy_document(&doc)
        .send()
        .await?;
    let got = iam
        .get_role_policy()
        .role_name("worker")
        .policy_name("get")
        .send()
        .await?;
    assert_eq!(got.role_name(), "worker");
    assert_eq!(got.policy_name(), "get");
    assert!(got.policy_document().starts_with("%7B"));
    assert_eq!(percent_decode(got.policy_document()), doc);
    let listed = iam.list_role_policies().role_name("worker").send().await?;
    assert_eq!(listed.policy_names(), ["get"]);
    iam.delete_role_policy()
        .role_name("worker")
        .policy_name("get")
        .send()
        .await?;
    let listed = iam.list_role_policies().role_name("worker").send().await?;
    assert!(listed.policy_names().is_empty());
    let err = iam
        .get_role_policy()
        .role_name("worker")
        .policy_name("get")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "NoSuchEntity", 404);
    assert_eq!(
        message(&err),
        "The role policy with name get cannot be found."
    );
    Ok(())
}

#[tokio::test]
async fn an_identity_policy_with_a_principal_is_malformed() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("lee").send().await?;
    iam.create_role()
        .role_name("r")
        .assume_role_policy_document(root_trust())
        .send()
        .await?;
    let with_principal = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"iam:GetUser","Resource":"*"}}]}}"#
    );
    let err = iam
        .put_user_policy()
        .user_name("lee")
        .policy_name("p")
        .policy_document(&with_principal)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "MalformedPolicyDocument", 400);
    let err = iam
        .put_role_policy()
        .role_name("r")
        .policy_name("p")
        .policy_document(&with_principal)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "MalformedPolicyDocument", 400);
    let err = iam
        .create_policy()
        .policy_name("p")
        .policy_document(&with_principal)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "MalformedPolicyDocument", 400);
    let listed = iam.list_user_policies().user_name("lee").send().await?;
    assert!(listed.policy_names().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_user_s_inline_policies_share_a_2048_character_quota() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("max").send().await?;
    let half = big_policy(30); // about 1,300 characters
    assert!((1100..1500).contains(&half.len()), "{}", half.len());
    iam.put_user_policy()
        .user_name("max")
        .policy_name("a")
        .policy_document(&half)
        .send()
        .await?;
    let err = iam
        .put_user_policy()
        .user_name("max")
        .policy_name("b")
        .policy_document(&half)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "LimitExceeded", 409);
    assert_eq!(
        message(&err),
        "Maximum policy size of 2048 bytes exceeded for user max"
    );
    // Replacing `a` does not count its old text.
    iam.put_user_policy()
        .user_name("max")
        .policy_name("a")
        .policy_document(&half)
        .send()
        .await?;
    // A small second policy still fits.
    iam.put_user_policy()
        .user_name("max")
        .policy_name("b")
        .policy_document(allow("iam:GetUser", "*"))
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_role_s_inline_policies_share_a_10240_character_quota() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_role()
        .role_name("fat")
        .assume_role_policy_document(root_trust())
        .send()
        .await?;
    let quarter = big_policy(75); // about 3,100 characters
    assert!((2800..3400).contains(&quarter.len()), "{}", quarter.len());
    for name in ["a", "b", "c"] {
        iam.put_role_policy()
            .role_name("fat")
            .policy_name(name)
            .policy_document(&quarter)
            .send()
            .await?;
    }
    let err = iam
        .put_role_policy()
        .role_name("fat")
        .policy_name("d")
        .policy_document(&quarter)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "LimitExceeded", 409);
    assert_eq!(
        message(&err),
        "Maximum policy size of 10240 bytes exceeded for role fat"
    );
    Ok(())
}

// ---- Managed policies (6) ----

#[tokio::test]
async fn a_managed_policy_starts_at_version_one_unattached() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let doc = allow("iam:Get*", "*");
    let created = iam
        .create_policy()
        .policy_name("reader")
        .policy_document(&doc)
        .description("reads")
        .send()
        .await?;
    let policy = created.policy().expect("policy");
    assert_eq!(policy.policy_name(), Some("reader"));
    assert_eq!(policy.arn(), Some(policy_arn("reader").as_str()));
    assert!(policy.policy_id().is_some_and(|id| id.starts_with("ANPA")));
    assert_eq!(policy.default_version_id(), Some("v1"));
    assert_eq!(policy.attachment_count(), Some(0));
    assert_eq!(policy.permissions_boundary_usage_count(), Some(0));
    assert!(policy.is_attachable());
    assert_eq!(policy.path(), Some("/"));

    let version = iam
        .get_policy_version()
        .policy_arn(policy_arn("reader"))
        .version_id("v1")
        .send()
        .await?;
    let version = version.policy_version().expect("version");
    assert!(version.is_default_version());
    assert_eq!(percent_decode(version.document().expect("document")), doc);

    let dup = iam
        .create_policy()
        .policy_name("READER")
        .policy_document(&doc)
        .send()
        .await
        .unwrap_err();
    assert_error(&dup, "EntityAlreadyExists", 409);

    let missing = iam
        .get_policy()
        .policy_arn(policy_arn("nope"))
        .send()
        .await
        .unwrap_err();
    assert_error(&missing, "NoSuchEntity", 404);
    Ok(())
}

#[tokio::test]
async fn policy_versions_are_created_listed_protected_and_limited_to_five() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let arn = managed_policy(&server, "versioned", &allow("iam:GetUser", "*")).await?;
    let v2_doc = allow("iam:ListUsers", "*");
    let v2 = iam
        .create_policy_version()
        .policy_arn(&arn)
        .policy_document(&v2_doc)
        .set_as_default(true)
        .send()
        .await?;
    let v2 = v2.policy_version().expect("version");
    assert_eq!(v2.version_id(), Some("v2"));
    assert!(v2.is_default_version());
    assert!(
        v2.document().is_none(),
        "CreatePolicyVersion has no Document"
    );

    let policy = iam.get_policy().policy_arn(&arn).send().await?;
    assert_eq!(
        policy.policy().expect("policy").default_version_id(),
        Some("v2")
    );
    let got = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id("v2")
        .send()
        .await?;
    let got = got.policy_version().expect("version");
    assert_eq!(percent_decode(got.document().expect("document")), v2_doc);
    assert!(got.is_default_version());
    let v1 = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id("v1")
        .send()
        .await?;
    assert!(!v1.policy_version().expect("version").is_default_version());

    let listed = iam.list_policy_versions().policy_arn(&arn).send().await?;
    let mut versions: Vec<(&str, bool)> = listed
        .versions()
        .iter()
        .map(|v| (v.version_id().expect("id"), v.is_default_version()))
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, [("v1", false), ("v2", true)]);
    assert!(listed.versions().iter().all(|v| v.document().is_none()));

    let err = iam
        .delete_policy_version()
        .policy_arn(&arn)
        .version_id("v2")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "DeleteConflict", 409);
    assert_eq!(
        message(&err),
        "Cannot delete the default version of a policy."
    );

    for expected in ["v3", "v4", "v5"] {
        let created = iam
            .create_policy_version()
            .policy_arn(&arn)
            .policy_document(allow("iam:GetRole", "*"))
            .send()
            .await?;
        let created = created.policy_version().expect("version");
        assert_eq!(created.version_id(), Some(expected));
        assert!(!created.is_default_version());
    }
    let sixth = iam
        .create_policy_version()
        .policy_arn(&arn)
        .policy_document(allow("iam:GetRole", "*"))
        .send()
        .await
        .unwrap_err();
    assert_error(&sixth, "LimitExceeded", 409);
    assert!(
        message(&sixth).contains("up to 5 versions"),
        "{}",
        message(&sixth)
    );

    // Deleting a non-default version makes room; numbers are not reused.
    iam.delete_policy_version()
        .policy_arn(&arn)
        .version_id("v1")
        .send()
        .await?;
    let next = iam
        .create_policy_version()
        .policy_arn(&arn)
        .policy_document(allow("iam:GetRole", "*"))
        .send()
        .await?;
    assert_eq!(
        next.policy_version().expect("version").version_id(),
        Some("v6")
    );
    let gone = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id("v1")
        .send()
        .await
        .unwrap_err();
    assert_error(&gone, "NoSuchEntity", 404);
    Ok(())
}

#[tokio::test]
async fn managed_policies_attach_and_detach_on_users_and_roles() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let arn = managed_policy(&server, "shared", &allow("iam:Get*", "*")).await?;
    iam.create_user().user_name("nina").send().await?;
    iam.create_role()
        .role_name("runner")
        .assume_role_policy_document(root_trust())
        .send()
        .await?;
    iam.attach_user_policy()
        .user_name("nina")
        .policy_arn(&arn)
        .send()
        .await?;
    // Attaching twice is a no-op.
    iam.attach_user_policy()
        .user_name("nina")
        .policy_arn(&arn)
        .send()
        .await?;
    iam.attach_role_policy()
        .role_name("runner")
        .policy_arn(&arn)
        .send()
        .await?;

    let on_user = iam
        .list_attached_user_policies()
        .user_name("nina")
        .send()
        .await?;
    let attached: Vec<(Option<&str>, Option<&str>)> = on_user
        .attached_policies()
        .iter()
        .map(|p| (p.policy_name(), p.policy_arn()))
        .collect();
    assert_eq!(attached, [(Some("shared"), Some(arn.as_str()))]);
    let on_role = iam
        .list_attached_role_policies()
        .role_name("runner")
        .send()
        .await?;
    let attached: Vec<(Option<&str>, Option<&str>)> = on_role
        .attached_policies()
        .iter()
        .map(|p| (p.policy_name(), p.policy_arn()))
        .collect();
    assert_eq!(attached, [(Some("shared"), Some(arn.as_str()))]);

    let policy = iam.get_policy().policy_arn(&arn).send().await?;
    assert_eq!(policy.policy().expect("policy").attachment_count(), Some(2));

    let entities = iam
        .list_entities_for_policy()
        .policy_arn(&arn)
        .send()
        .await?;
    let users: Vec<Option<&str>> = entities
        .policy_users()
        .iter()
        .map(|u| u.user_name())
        .collect();
    let roles: Vec<Option<&str>> = entities
        .policy_roles()
        .iter()
        .map(|r| r.role_name())
        .collect();
    assert_eq!(users, [Some("nina")]);
    assert_eq!(roles, [Some("runner")]);
    assert!(entities.policy_groups().is_empty());
    assert!(
        entities.policy_users()[0]
            .user_id()
            .is_some_and(|id| id.starts_with("AIDA"))
    );
    assert!(
        entities.policy_roles()[0]
            .role_id()
            .is_some_and(|id| id.starts_with("AROA"))
    );

    let err = iam
        .delete_policy()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "DeleteConflict", 409);
    assert_eq!(
        message(&err),
        "Cannot delete a policy attached to entities."
    );

    iam.detach_user_policy()
        .user_name("nina")
        .policy_arn(&arn)
        .send()
        .await?;
    let again = iam
        .detach_user_policy()
        .user_name("nina")
        .policy_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_error(&again, "NoSuchEntity", 404);
    iam.detach_role_policy()
        .role_name("runner")
        .policy_arn(&arn)
        .send()
        .await?;
    let policy = iam.get_policy().policy_arn(&arn).send().await?;
    assert_eq!(policy.policy().expect("policy").attachment_count(), Some(0));
    let on_user = iam
        .list_attached_user_policies()
        .user_name("nina")
        .send()
        .await?;
    assert!(on_user.attached_policies().is_empty());

    iam.delete_policy().policy_arn(&arn).send().await?;
    let gone = iam.get_policy().policy_arn(&arn).send().await.unwrap_err();
    assert_error(&gone, "NoSuchEntity", 404);

    let missing = iam
        .attach_role_policy()
        .role_name("runner")
        .policy_arn(policy_arn("missing"))
        .send()
        .await
        .unwrap_err();
    assert_error(&missing, "NoSuchEntity", 404);
    Ok(())
}

// ---- Pagination (1.2) ----

#[tokio::test]
async fn list_users_walks_pages_with_markers() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let names: Vec<String> = (0..7).map(|i| format!("user-{i}")).collect();
    for name in names.iter().rev() {
        iam.create_user().user_name(name).send().await?;
    }
    let mut seen = Vec::new();
    let mut truncated = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..3 {
        let page = iam
            .list_users()
            .max_items(3)
            .set_marker(marker.clone())
            .send()
            .await?;
        assert!(page.users().len() <= 3);
        seen.extend(page.users().iter().map(|u| u.user_name().to_owned()));
        truncated.push(page.is_truncated());
        marker = page.marker().map(str::to_owned);
        assert_eq!(marker.is_some(), page.is_truncated());
    }
    assert_eq!(truncated, [true, true, false]);
    assert_eq!(seen, names);

    let err = iam
        .list_users()
        .marker("not-a-marker")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "ValidationError", 400);
    Ok(())
}

#[tokio::test]
async fn the_sdk_paginator_collects_every_user() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let names: Vec<String> = (0..7).map(|i| format!("p{i}")).collect();
    for name in &names {
        iam.create_user().user_name(name).send().await?;
    }
    let users = iam
        .list_users()
        .max_items(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await?;
    let got: Vec<&str> = users.iter().map(|u| u.user_name()).collect();
    assert_eq!(got, names);
    Ok(())
}

// ---- Authorization ----

#[tokio::test]
async fn a_user_allowed_only_get_user_on_itself_is_denied_create_user() -> Result<()> {
    let server = Server::start()?;
    let own = user_arn("olga");
    let olga = server
        .user_with_key("olga", Some(&allow("iam:GetUser", &own)))
        .await?;
    let iam = server.iam(olga);
    iam.get_user().user_name("olga").send().await?;
    iam.get_user().send().await?;

    let err = iam
        .create_user()
        .user_name("mallory")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "AccessDenied", 403);
    let text = message(&err);
    assert!(
        text.contains("is not authorized to perform: iam:CreateUser"),
        "{text}"
    );
    assert!(text.contains(&own), "{text}");
    // Another user's GetUser is outside the policy's resource.
    server
        .iam(server.root())
        .create_user()
        .user_name("pat")
        .send()
        .await?;
    let err = iam.get_user().user_name("pat").send().await.unwrap_err();
    assert_error(&err, "AccessDenied", 403);
    // Nothing was created.
    let missing = server
        .iam(server.root())
        .get_user()
        .user_name("mallory")
        .send()
        .await
        .unwrap_err();
    assert_error(&missing, "NoSuchEntity", 404);
    Ok(())
}

#[tokio::test]
async fn a_user_permissions_boundary_caps_an_allow_everything_policy() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let boundary = managed_policy(&server, "only-users", &allow("iam:*User*", "*")).await?;
    let quinn = server
        .user_with_key("quinn", Some(&allow("iam:*", "*")))
        .await?;
    let as_quinn = server.iam(quinn);
    // Without a boundary, iam:* allows ListRoles.
    as_quinn.list_roles().send().await?;

    iam.put_user_permissions_boundary()
        .user_name("quinn")
        .permissions_boundary(&boundary)
        .send()
        .await?;
    let got = iam.get_user().user_name("quinn").send().await?;
    assert_eq!(
        got.user()
            .expect("user")
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(boundary.as_str())
    );
    let err = as_quinn.list_roles().send().await.unwrap_err();
    assert_error(&err, "AccessDenied", 403);
    assert!(
        message(&err).contains("is not authorized to perform: iam:ListRoles"),
        "{}",
        message(&err)
    );
    // What both allow still works.
    as_quinn.list_users().send().await?;

    iam.delete_user_permissions_boundary()
        .user_name("quinn")
        .send()
        .await?;
    as_quinn.list_roles().send().await?;
    Ok(())
}

#[tokio::test]
async fn an_explicit_deny_wins_over_an_allow() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let rita = server
        .user_with_key("rita", Some(&allow("iam:*", "*")))
        .await?;
    let as_rita = server.iam(rita);
    as_rita.list_users().send().await?;
    iam.put_user_policy()
        .user_name("rita")
        .policy_name("no-list")
        .policy_document(deny("iam:ListUsers", "*"))
        .send()
        .await?;
    let err = as_rita.list_users().send().await.unwrap_err();
    assert_error(&err, "AccessDenied", 403);
    assert!(
        message(&err).contains("is not authorized to perform: iam:ListUsers"),
        "{}",
        message(&err)
    );
    as_rita.list_roles().send().await?;

    // A denying managed policy works the same way.
    let arn = managed_policy(&server, "no-roles", &deny("iam:ListRoles", "*")).await?;
    iam.attach_user_policy()
        .user_name("rita")
        .policy_arn(&arn)
        .send()
        .await?;
    let err = as_rita.list_roles().send().await.unwrap_err();
    assert_error(&err, "AccessDenied", 403);
    Ok(())
}

#[tokio::test]
async fn a_role_permissions_boundary_limits_its_sessions() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let sam = server.user_with_key("sam", None).await?;
    let boundary = managed_policy(&server, "get-role-only", &allow("iam:GetRole", "*")).await?;
    let created = iam
        .create_role()
        .role_name("bounded")
        .assume_role_policy_document(trust_policy(&user_arn("sam")))
        .permissions_boundary(&boundary)
        .send()
        .await?;
    let role_arn = created.role().expect("role").arn().to_owned();
    assert_eq!(
        created
            .role()
            .expect("role")
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(boundary.as_str())
    );
    iam.put_role_policy()
        .role_name("bounded")
        .policy_name("all")
        .policy_document(allow("iam:*", "*"))
        .send()
        .await?;
    let assumed = server
        .sts(sam)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("capped")
        .send()
        .await?;
    let session = session_credentials(assumed.credentials().expect("credentials"));
    let as_session = server.iam(session);
    as_session.get_role().role_name("bounded").send().await?;
    let err = as_session.list_roles().send().await.unwrap_err();
    assert_error(&err, "AccessDenied", 403);
    assert!(
        message(&err).contains("is not authorized to perform: iam:ListRoles"),
        "{}",
        message(&err)
    );

    // Removing the boundary takes effect on the existing session.
    iam.delete_role_permissions_boundary()
        .role_name("bounded")
        .send()
        .await?;
    as_session.list_roles().send().await?;
    Ok(())
}

// ---- Edge cases of sections 1-7 ----

#[tokio::test]
async fn a_trust_policy_naming_a_missing_user_is_an_invalid_principal() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let err = iam
        .create_role()
        .role_name("r")
        .assume_role_policy_document(trust_policy(&user_arn("ghost")))
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "MalformedPolicyDocument", 400);
    assert_eq!(
        message(&err),
        format!(
            "Invalid principal in policy: \"AWS\":\"{}\"",
            user_arn("ghost")
        )
    );
    let missing = iam.get_role().role_name("r").send().await.unwrap_err();
    assert_error(&missing, "NoSuchEntity", 404);
    Ok(())
}

#[tokio::test]
async fn a_trust_policy_without_a_principal_is_malformed() -> Result<()> {
    let server = Server::start()?;
    let err = server
        .iam(server.root())
        .create_role()
        .role_name("r")
        .assume_role_policy_document(allow("sts:AssumeRole", "*"))
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "MalformedPolicyDocument", 400);
    Ok(())
}

#[tokio::test]
async fn a_session_of_a_deleted_role_gains_nothing_from_a_re_created_role_of_its_name() -> Result<()>
{
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let ops = server.user_with_key("ops", None).await?;
    let create = |iam: aws_sdk_iam::Client| async move {
        let arn = iam
            .create_role()
            .role_name("worker")
            .assume_role_policy_document(trust_policy(&format!("arn:aws:iam::{ACCOUNT}:user/ops")))
            .send()
            .await?
            .role()
            .expect("role")
            .arn()
            .to_owned();
        iam.put_role_policy()
            .role_name("worker")
            .policy_name("read")
            .policy_document(allow("iam:GetRole", "*"))
            .send()
            .await?;
        anyhow::Ok(arn)
    };
    let assume = |arn: String| {
        let sts = server.sts(ops.clone());
        async move {
            let out = sts
                .assume_role()
                .role_arn(arn)
                .role_session_name("shift")
                .send()
                .await?;
            anyhow::Ok(session_credentials(out.credentials().expect("credentials")))
        }
    };
    let arn = create(iam.clone()).await?;
    let old = assume(arn.clone()).await?;
    server
        .iam(old.clone())
        .get_role()
        .role_name("worker")
        .send()
        .await?;

    // Deleted and created again, with the same name, trust and policy.
    iam.delete_role_policy()
        .role_name("worker")
        .policy_name("read")
        .send()
        .await?;
    iam.delete_role().role_name("worker").send().await?;
    assert_eq!(create(iam.clone()).await?, arn);

    // The old session belongs to the deleted role (another unique id): it
    // has none of the new role's permissions; a new session has them.
    let err = server
        .iam(old)
        .get_role()
        .role_name("worker")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("AccessDenied"));
    let new = assume(arn).await?;
    server
        .iam(new)
        .get_role()
        .role_name("worker")
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_re_created_user_is_not_trusted_by_an_old_trust_policy() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("tom").send().await?;
    let old_id = iam
        .get_user()
        .user_name("tom")
        .send()
        .await?
        .user()
        .expect("user")
        .user_id()
        .to_owned();
    let created = iam
        .create_role()
        .role_name("trusts-tom")
        .assume_role_policy_document(trust_policy(&user_arn("tom")))
        .send()
        .await?;
    let role_arn = created.role().expect("role").arn().to_owned();
    iam.delete_user().user_name("tom").send().await?;
    // The deleted principal shows as its bare unique id.
    let got = iam.get_role().role_name("trusts-tom").send().await?;
    let doc = percent_decode(
        got.role()
            .expect("role")
            .assume_role_policy_document()
            .expect("document"),
    );
    assert!(doc.contains(&old_id), "{doc}");
    assert!(!doc.contains(&user_arn("tom")), "{doc}");
    // A new `tom` is not trusted.
    let tom = server.user_with_key("tom", None).await?;
    let err = server
        .sts(tom)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("session")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("AccessDenied"));
    Ok(())
}

#[tokio::test]
async fn a_session_of_a_re_created_role_is_not_trusted_until_the_trust_policy_is_saved_again()
-> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let ops = server.user_with_key("ops", None).await?;
    let builder_arn = format!("arn:aws:iam::{ACCOUNT}:role/ci/builder");
    let create_builder = || async {
        iam.create_role()
            .role_name("builder")
            .path("/ci/")
            .assume_role_policy_document(trust_policy(&user_arn("ops")))
            .send()
            .await?;
        let out = server
            .sts(ops.clone())
            .assume_role()
            .role_arn(&builder_arn)
            .role_session_name("build")
            .send()
            .await?;
        anyhow::Ok(session_credentials(out.credentials().expect("credentials")))
    };
    let old_session = create_builder().await?;
    let old_id = iam
        .get_role()
        .role_name("builder")
        .send()
        .await?
        .role()
        .expect("role")
        .role_id()
        .to_owned();
    // Trusts the builder role (ARN with path) and the account root.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":["{builder_arn}", "arn:aws:iam::{ACCOUNT}:root"]}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let deployer_arn = iam
        .create_role()
        .role_name("deployer")
        .assume_role_policy_document(&trust)
        .send()
        .await?
        .role()
        .expect("role")
        .arn()
        .to_owned();
    let assume_deployer = |credentials: Credentials| {
        let sts = server.sts(credentials);
        let arn = deployer_arn.clone();
        async move {
            sts.assume_role()
                .role_arn(arn)
                .role_session_name("deploy")
                .send()
                .await
        }
    };
    assume_deployer(old_session).await?;
    let shown = |iam: aws_sdk_iam::Client| async move {
        let got = iam.get_role().role_name("deployer").send().await?;
        anyhow::Ok(percent_decode(
            got.role()
                .expect("role")
                .assume_role_policy_document()
                .expect("document"),
        ))
    };
    // While the role exists the policy reads as submitted.
    assert_eq!(shown(iam.clone()).await?, trust);

    iam.delete_role().role_name("builder").send().await?;
    let bare = trust.replace(&builder_arn, &old_id);
    assert_eq!(shown(iam.clone()).await?, bare);
    let new_session = create_builder().await?;
    assert_eq!(shown(iam.clone()).await?, bare);
    let err = assume_deployer(new_session.clone()).await.unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("AccessDenied"));

    // Saving the policy again binds the new role.
    iam.update_assume_role_policy()
        .role_name("deployer")
        .policy_document(&trust)
        .send()
        .await?;
    assert_eq!(shown(iam.clone()).await?, trust);
    assume_deployer(new_session).await?;
    Ok(())
}

#[tokio::test]
async fn a_renamed_user_stays_trusted_and_is_shown_by_its_new_arn() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let ann = server.user_with_key("ann", None).await?;
    iam.create_role()
        .role_name("trusts-ann")
        .assume_role_policy_document(trust_policy(&user_arn("ann")))
        .send()
        .await?;
    iam.update_user()
        .user_name("ann")
        .new_user_name("anne")
        .send()
        .await?;
    let got = iam.get_role().role_name("trusts-ann").send().await?;
    let doc = percent_decode(
        got.role()
            .expect("role")
            .assume_role_policy_document()
            .expect("document"),
    );
    assert_eq!(doc, trust_policy(&user_arn("anne")));
    server
        .sts(ann)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/trusts-ann"))
        .role_session_name("session")
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_trust_policy_over_2048_characters_is_limit_exceeded() -> Result<()> {
    let server = Server::start()?;
    let principals: Vec<String> = (0..60)
        .map(|i| format!("\"arn:aws:iam::{:012}:root\"", 100_000_000_000_u64 + i))
        .collect();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":[{}]}},"Action":"sts:AssumeRole"}}]}}"#,
        principals.join(",")
    );
    assert!(trust.len() > 2048 && trust.len() < 4096, "{}", trust.len());
    let err = server
        .iam(server.root())
        .create_role()
        .role_name("wide")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "LimitExceeded", 409);
    assert_eq!(
        message(&err),
        "Cannot exceed quota for ACLSizePerRole: 2048"
    );
    Ok(())
}

#[tokio::test]
async fn white_space_does_not_count_toward_the_inline_quota() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("wes").send().await?;
    let padded = format!(
        "{{{}\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"iam:GetUser\",\"Resource\":\"*\"}}]}}",
        " \n".repeat(1500)
    );
    assert!(padded.len() > 3000);
    iam.put_user_policy()
        .user_name("wes")
        .policy_name("padded")
        .policy_document(&padded)
        .send()
        .await?;
    let got = iam
        .get_user_policy()
        .user_name("wes")
        .policy_name("padded")
        .send()
        .await?;
    assert_eq!(percent_decode(got.policy_document()), padded);
    Ok(())
}

#[tokio::test]
async fn a_managed_policy_over_6144_characters_is_limit_exceeded() -> Result<()> {
    let server = Server::start()?;
    let doc = big_policy(160); // about 6,500 characters
    assert!(doc.len() > 6144, "{}", doc.len());
    let err = server
        .iam(server.root())
        .create_policy()
        .policy_name("huge")
        .policy_document(doc)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "LimitExceeded", 409);
    assert_eq!(message(&err), "Cannot exceed quota for PolicySize: 6144");
    Ok(())
}

#[tokio::test]
async fn a_managed_policy_must_use_version_2012_10_17() -> Result<()> {
    let server = Server::start()?;
    let old = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#;
    let err = server
        .iam(server.root())
        .create_policy()
        .policy_name("old")
        .policy_document(old)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "MalformedPolicyDocument", 400);
    Ok(())
}

#[tokio::test]
async fn delete_policy_is_a_conflict_while_non_default_versions_exist() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let arn = managed_policy(&server, "two", &allow("iam:GetUser", "*")).await?;
    iam.create_policy_version()
        .policy_arn(&arn)
        .policy_document(allow("iam:GetRole", "*"))
        .send()
        .await?;
    let err = iam
        .delete_policy()
        .policy_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "DeleteConflict", 409);
    iam.delete_policy_version()
        .policy_arn(&arn)
        .version_id("v2")
        .send()
        .await?;
    iam.delete_policy().policy_arn(&arn).send().await?;
    Ok(())
}

#[tokio::test]
async fn set_default_policy_version_switches_the_default() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let arn = managed_policy(&server, "switch", &allow("iam:GetUser", "*")).await?;
    iam.create_policy_version()
        .policy_arn(&arn)
        .policy_document(allow("iam:GetRole", "*"))
        .send()
        .await?;
    iam.set_default_policy_version()
        .policy_arn(&arn)
        .version_id("v2")
        .send()
        .await?;
    let policy = iam.get_policy().policy_arn(&arn).send().await?;
    assert_eq!(
        policy.policy().expect("policy").default_version_id(),
        Some("v2")
    );
    // Now v1 is deletable and v2 is not.
    let err = iam
        .delete_policy_version()
        .policy_arn(&arn)
        .version_id("v2")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "DeleteConflict", 409);
    iam.delete_policy_version()
        .policy_arn(&arn)
        .version_id("v1")
        .send()
        .await?;
    let missing = iam
        .set_default_policy_version()
        .policy_arn(&arn)
        .version_id("v9")
        .send()
        .await
        .unwrap_err();
    assert_error(&missing, "NoSuchEntity", 404);
    Ok(())
}

#[tokio::test]
async fn an_eleventh_attached_policy_is_limit_exceeded() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_role()
        .role_name("many")
        .assume_role_policy_document(root_trust())
        .send()
        .await?;
    for i in 0..11 {
        let arn = managed_policy(&server, &format!("p{i}"), &allow("iam:GetRole", "*")).await?;
        let result = iam
            .attach_role_policy()
            .role_name("many")
            .policy_arn(&arn)
            .send()
            .await;
        if i < 10 {
            result?;
        } else {
            let err = result.unwrap_err();
            assert_error(&err, "LimitExceeded", 409);
            assert_eq!(message(&err), "Cannot exceed quota for PoliciesPerRole: 10");
        }
    }
    Ok(())
}

#[tokio::test]
async fn detaching_a_policy_that_is_not_attached_is_no_such_entity() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let arn = managed_policy(&server, "loose", &allow("iam:GetRole", "*")).await?;
    iam.create_role()
        .role_name("r")
        .assume_role_policy_document(root_trust())
        .send()
        .await?;
    let err = iam
        .detach_role_policy()
        .role_name("r")
        .policy_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "NoSuchEntity", 404);
    assert_eq!(message(&err), format!("Policy {arn} was not found."));
    Ok(())
}

#[tokio::test]
async fn user_tags_are_case_insensitive_and_limited_to_fifty() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user()
        .user_name("tess")
        .tags(tag("Env", "prod"))
        .send()
        .await?;
    iam.tag_user()
        .user_name("tess")
        .tags(tag("env", "dev"))
        .send()
        .await?;
    let listed = iam.list_user_tags().user_name("tess").send().await?;
    assert_eq!(listed.tags().len(), 1, "{:?}", listed.tags());
    assert_eq!(listed.tags()[0].value(), "dev");
    let got = iam.get_user().user_name("tess").send().await?;
    assert_eq!(got.user().expect("user").tags().len(), 1);

    let mut request = iam.tag_user().user_name("tess");
    for i in 0..50 {
        request = request.tags(tag(&format!("k{i}"), "v"));
    }
    let err = request.send().await.unwrap_err();
    assert_error(&err, "LimitExceeded", 409);
    let listed = iam.list_user_tags().user_name("tess").send().await?;
    assert_eq!(listed.tags().len(), 1, "a refused TagUser changes nothing");

    let reserved = iam
        .tag_user()
        .user_name("tess")
        .tags(tag("aws:owner", "me"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        reserved.raw_response().map(|r| r.status().as_u16()),
        Some(400),
        "{reserved:?}"
    );
    Ok(())
}

#[tokio::test]
async fn create_user_with_invalid_tags_creates_nothing() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let err = iam
        .create_user()
        .user_name("dup")
        .tags(tag("a", "1"))
        .tags(tag("A", "2"))
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "InvalidInput", 400);
    let missing = iam.get_user().user_name("dup").send().await.unwrap_err();
    assert_error(&missing, "NoSuchEntity", 404);
    Ok(())
}

#[tokio::test]
async fn list_results_omit_tags_and_boundaries() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let boundary = managed_policy(&server, "b", &allow("iam:*", "*")).await?;
    iam.create_user()
        .user_name("uma")
        .permissions_boundary(&boundary)
        .tags(tag("k", "v"))
        .send()
        .await?;
    iam.create_role()
        .role_name("r")
        .assume_role_policy_document(root_trust())
        .permissions_boundary(&boundary)
        .tags(tag("k", "v"))
        .send()
        .await?;
    let users = iam.list_users().send().await?;
    let user = &users.users()[0];
    assert!(user.tags().is_empty() && user.permissions_boundary().is_none());
    let roles = iam.list_roles().send().await?;
    let role = &roles.roles()[0];
    assert!(role.tags().is_empty() && role.permissions_boundary().is_none());
    assert!(role.role_last_used().is_none());
    // Get* has them.
    let got = iam.get_user().user_name("uma").send().await?;
    let got = got.user().expect("user");
    assert_eq!(got.tags().len(), 1);
    assert!(got.permissions_boundary().is_some());
    Ok(())
}

#[tokio::test]
async fn a_boundary_that_does_not_exist_is_no_such_entity() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let err = iam
        .create_user()
        .user_name("vic")
        .permissions_boundary(policy_arn("missing"))
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "NoSuchEntity", 404);
    let missing = iam.get_user().user_name("vic").send().await.unwrap_err();
    assert_error(&missing, "NoSuchEntity", 404);
    Ok(())
}

#[tokio::test]
async fn users_have_paths_and_list_users_filters_by_path_prefix() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let created = iam
        .create_user()
        .user_name("yan")
        .path("/eng/")
        .send()
        .await?;
    let user = created.user().expect("user");
    assert_eq!(user.path(), "/eng/");
    assert_eq!(user.arn(), format!("arn:aws:iam::{ACCOUNT}:user/eng/yan"));
    iam.create_user().user_name("zoe").send().await?;
    let eng = iam.list_users().path_prefix("/eng/").send().await?;
    let names: Vec<&str> = eng.users().iter().map(|u| u.user_name()).collect();
    assert_eq!(names, ["yan"]);
    let bad = iam
        .create_user()
        .user_name("x")
        .path("no-slashes")
        .send()
        .await
        .unwrap_err();
    assert_error(&bad, "ValidationError", 400);
    Ok(())
}

#[tokio::test]
async fn max_items_must_be_between_1_and_1000() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    for bad in [0, 1001] {
        let err = iam.list_users().max_items(bad).send().await.unwrap_err();
        assert_error(&err, "ValidationError", 400);
    }
    Ok(())
}

#[tokio::test]
async fn get_user_without_a_name_from_a_role_session_is_a_validation_error() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let amy = server.user_with_key("amy", None).await?;
    let created = iam
        .create_role()
        .role_name("admin")
        .assume_role_policy_document(trust_policy(&user_arn("amy")))
        .send()
        .await?;
    iam.put_role_policy()
        .role_name("admin")
        .policy_name("all")
        .policy_document(allow("iam:*", "*"))
        .send()
        .await?;
    let assumed = server
        .sts(amy)
        .assume_role()
        .role_arn(created.role().expect("role").arn())
        .role_session_name("session")
        .send()
        .await?;
    let session = session_credentials(assumed.credentials().expect("credentials"));
    let err = server.iam(session).get_user().send().await.unwrap_err();
    assert_error(&err, "ValidationError", 400);
    assert_eq!(
        message(&err),
        "Must specify userName when calling with non-User credentials"
    );
    Ok(())
}

#[tokio::test]
async fn a_key_of_another_user_is_no_such_entity_for_update_access_key() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let bea = server.user_with_key("bea", None).await?;
    iam.create_user().user_name("cy").send().await?;
    let err = iam
        .update_access_key()
        .user_name("cy")
        .access_key_id(bea.access_key_id())
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "NoSuchEntity", 404);
    // bea's key is untouched.
    server.sts(bea).get_caller_identity().send().await?;
    Ok(())
}

#[tokio::test]
async fn get_access_key_last_used_reports_the_owner() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let dee = server.user_with_key("dee", None).await?;
    let used = iam
        .get_access_key_last_used()
        .access_key_id(dee.access_key_id())
        .send()
        .await?;
    assert_eq!(used.user_name(), Some("dee"));
    let info = used.access_key_last_used().expect("AccessKeyLastUsed");
    assert!(!info.service_name().is_empty());
    assert!(!info.region().is_empty());
    let err = iam
        .get_access_key_last_used()
        .access_key_id("AKIAAAAAAAAAAAAAAAAA")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "NoSuchEntity", 404);
    Ok(())
}

#[tokio::test]
async fn a_name_over_64_characters_is_a_validation_error() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let long = "a".repeat(65);
    let err = iam.create_user().user_name(&long).send().await.unwrap_err();
    assert_error(&err, "ValidationError", 400);
    let err = iam
        .create_role()
        .role_name(&long)
        .assume_role_policy_document(root_trust())
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "ValidationError", 400);
    let err = iam
        .create_user()
        .user_name("bad/name")
        .send()
        .await
        .unwrap_err();
    assert_error(&err, "ValidationError", 400);
    iam.create_user().user_name("a".repeat(64)).send().await?;
    Ok(())
}

#[tokio::test]
async fn get_role_reports_an_empty_role_last_used() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_role()
        .role_name("fresh")
        .assume_role_policy_document(root_trust())
        .send()
        .await?;
    let got = iam.get_role().role_name("fresh").send().await?;
    let last = got
        .role()
        .expect("role")
        .role_last_used()
        .expect("RoleLastUsed");
    assert!(last.last_used_date().is_none());
    Ok(())
}

#[tokio::test]
async fn a_user_creates_and_lists_its_own_keys_without_naming_itself() -> Result<()> {
    let server = Server::start()?;
    let own = user_arn("gus");
    let gus = server
        .user_with_key("gus", Some(&allow("iam:*AccessKey*", &own)))
        .await?;
    let iam = server.iam(gus.clone());
    let created = iam.create_access_key().send().await?;
    let key = created.access_key().expect("key");
    assert_eq!(key.user_name(), "gus");
    let listed = iam.list_access_keys().send().await?;
    assert_eq!(listed.access_key_metadata().len(), 2);
    assert!(
        listed
            .access_key_metadata()
            .iter()
            .all(|k| k.user_name() == Some("gus"))
    );
    Ok(())
}

#[tokio::test]
async fn get_user_without_a_name_as_root_returns_the_root_identity() -> Result<()> {
    let server = Server::start()?;
    let me = server.iam(server.root()).get_user().send().await?;
    let me = me.user().expect("user");
    assert_eq!(me.arn(), format!("arn:aws:iam::{ACCOUNT}:root"));
    Ok(())
}

// ---- MalformedPolicyDocument names the offending element (policy-evaluation.md 9) ----

#[tokio::test]
async fn malformed_policy_documents_name_the_offending_element() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    iam.create_user().user_name("mal").send().await?;
    let ok = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;
    let put = iam
        .put_user_policy()
        .user_name("mal")
        .policy_name("p")
        .policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{ok},{{"Effect":"allow","Action":"*","Resource":"*"}}]}}"#
        ))
        .send()
        .await
        .unwrap_err();
    assert_error(&put, "MalformedPolicyDocument", 400);
    assert!(
        message(&put).starts_with("The policy failed legacy parsing (Statement[1].Effect: "),
        "{}",
        message(&put)
    );

    let create = iam
        .create_policy()
        .policy_name("no-actions")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}"#,
        )
        .send()
        .await
        .unwrap_err();
    assert_error(&create, "MalformedPolicyDocument", 400);
    assert!(
        message(&create)
            .starts_with("Policy statement must contain actions. (Statement[0].Action: "),
        "{}",
        message(&create)
    );

    let role = iam
        .create_role()
        .role_name("r")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"sts:AssumeRole","Resource":"*"}}]}}"#,
            user_arn("mal")
        ))
        .send()
        .await
        .unwrap_err();
    assert_error(&role, "MalformedPolicyDocument", 400);
    assert!(
        message(&role).starts_with("Has prohibited field Resource. (Statement[0].Resource: "),
        "{}",
        message(&role)
    );
    Ok(())
}

#[tokio::test]
async fn a_malformed_session_policy_names_its_element_and_an_oversized_one_is_a_validation_error()
-> Result<()> {
    let server = Server::start()?;
    let alice = server
        .user_with_key("alice", Some(&allow("sts:AssumeRole", "*")))
        .await?;
    let role_arn = server
        .iam(server.root())
        .create_role()
        .role_name("target")
        .assume_role_policy_document(trust_policy(&user_arn("alice")))
        .send()
        .await?
        .role()
        .expect("role")
        .arn()
        .to_owned();
    let sts = server.sts(alice);
    let malformed = sts
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("s1")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&malformed).as_deref(),
        Some("MalformedPolicyDocument"),
        "{:?}",
        error_message(&malformed)
    );
    let text = error_message(&malformed).unwrap_or_default();
    assert!(
        text.starts_with(
            "Policy document should not specify a principal. (Statement[0].Principal: "
        ),
        "{text}"
    );

    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"s3:*","Resource":"*"}}]}}"#,
        "A".repeat(2_100)
    );
    let oversized = sts
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("s1")
        .policy(big)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&oversized).as_deref(), Some("ValidationError"));
    let text = error_message(&oversized).unwrap_or_default();
    assert!(
        text.contains("at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048"),
        "{text}"
    );
    Ok(())
}
