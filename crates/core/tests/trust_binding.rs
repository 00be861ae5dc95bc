//! Trust-policy principals bound to unique ids across a store upgrade: a
//! role row written before principals were bound (no
//! `trust_principal_ids`) still loads and trusts its principals by name,
//! as before, while a role created now trusts only the user that existed
//! when its policy was saved (iam-admin-api.md 1.4 principal binding).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]

mod common;

use std::sync::Arc;

use common::{
    ACCOUNT, Key, MovableClock, between, code_of, core_over, form, initialized_store, issued_key,
    send,
};
use mayfly_core::audit::MemoryAuditSink;
use mayfly_core::{ApiResponse, Core};
use mayfly_store::{Mutation, Role};

/// 2023-11-14T22:13:20Z.
const START: u64 = 1_700_000_000;

async fn call(core: &Core, key: &Key, service: &str, pairs: &[(&str, &str)]) -> ApiResponse {
    send(core, service, key, &form(pairs)).await
}

async fn admin(core: &Core, pairs: &[(&str, &str)]) -> String {
    let mut all = vec![("Version", "2010-05-08")];
    all.extend_from_slice(pairs);
    let response = call(core, &Key::root(), "iam", &all).await;
    assert_eq!(response.status, 200, "{pairs:?}: {}", response.body);
    response.body
}

async fn user_with_key(core: &Core, name: &str) -> Key {
    admin(core, &[("Action", "CreateUser"), ("UserName", name)]).await;
    let body = admin(core, &[("Action", "CreateAccessKey"), ("UserName", name)]).await;
    Key {
        id: between(&body, "<AccessKeyId>", "</AccessKeyId>").to_owned(),
        secret: between(&body, "<SecretAccessKey>", "</SecretAccessKey>").to_owned(),
        token: None,
    }
}

async fn assume(core: &Core, key: &Key, role: &str) -> ApiResponse {
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
    call(
        core,
        key,
        "sts",
        &[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", &arn),
            ("RoleSessionName", "session"),
        ],
    )
    .await
}

#[tokio::test]
async fn a_role_stored_before_binding_still_trusts_by_name_and_a_new_one_does_not() {
    let store = initialized_store(START - 1000).await;
    let core = core_over(
        Arc::clone(&store),
        MovableClock::at(START),
        Arc::new(MemoryAuditSink::default()),
    )
    .await;
    let tom = user_with_key(&core, "tom").await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/tom"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    // A row as an older Mayfly wrote it: no `trust_principal_ids`.
    let legacy = serde_json::json!({
        "account_id": ACCOUNT,
        "name": "legacy",
        "path": "/",
        "role_id": "AROALEGACYLEGACY00001",
        "created_at": START - 500,
        "assume_role_policy": trust,
    });
    store
        .apply(vec![Mutation::Insert {
            kind: "role".to_owned(),
            key: Role::storage_key(ACCOUNT, "legacy"),
            value: legacy.to_string(),
        }])
        .await
        .unwrap();
    core.refresh().await.unwrap();
    admin(
        &core,
        &[
            ("Action", "CreateRole"),
            ("RoleName", "bound"),
            ("AssumeRolePolicyDocument", &trust),
        ],
    )
    .await;
    issued_key(&assume(&core, &tom, "legacy").await);
    issued_key(&assume(&core, &tom, "bound").await);

    // Deleted and created again with the same name.
    admin(
        &core,
        &[
            ("Action", "DeleteAccessKey"),
            ("UserName", "tom"),
            ("AccessKeyId", &tom.id),
        ],
    )
    .await;
    admin(&core, &[("Action", "DeleteUser"), ("UserName", "tom")]).await;
    let tom = user_with_key(&core, "tom").await;

    // The old row: by name, as before, and shown as stored.
    issued_key(&assume(&core, &tom, "legacy").await);
    let got = admin(&core, &[("Action", "GetRole"), ("RoleName", "legacy")]).await;
    assert!(got.contains("user%2Ftom"), "{got}");
    // The role created now: bound to the deleted user only.
    let refused = assume(&core, &tom, "bound").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(code_of(&refused), "AccessDenied");
}
