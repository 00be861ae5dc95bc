//! The `Store` conformance suite: every engine runs these functions, each on
//! an empty store (see the engine's test module).

use std::collections::BTreeMap;

use crate::entity::{Entity, Mutation, StoredRow, decode};
use crate::error::StoreError;
use crate::model::{
    AccessKey, AccessKeyLastUsed, AccessKeyStatus, Account, Group, ManagedPolicy, MfaAssignment,
    MfaDevice, OidcProvider, PolicyVersion, Revocation, RingKey, Role, RoleLastUsed,
    SamlPrivateKey, SamlProvider, Tag, User,
};
use crate::store::Store;

pub(crate) const ACCOUNT: &str = "000000000000";

pub(crate) fn account(id: &str) -> Account {
    Account {
        id: id.to_owned(),
        created_at: 1_700_000_000,
        alias: Some("mayfly".to_owned()),
    }
}

pub(crate) fn user(account_id: &str, name: &str, path: &str, user_id: &str) -> User {
    User {
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        path: path.to_owned(),
        user_id: user_id.to_owned(),
        created_at: 1_700_000_100,
        tags: vec![Tag {
            key: "team".to_owned(),
            value: "storage".to_owned(),
        }],
        permissions_boundary: None,
        inline_policies: BTreeMap::from([(
            "inline".to_owned(),
            r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned(),
        )]),
        attached_policies: Vec::new(),
    }
}

pub(crate) fn role(account_id: &str, name: &str, path: &str, role_id: &str) -> Role {
    Role {
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        path: path.to_owned(),
        role_id: role_id.to_owned(),
        created_at: 1_700_000_200,
        assume_role_policy: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#.to_owned(),
        trust_principal_ids: BTreeMap::new(),
        description: Some("deploys things".to_owned()),
        max_session_duration: 7200,
        tags: Vec::new(),
        permissions_boundary: None,
        inline_policies: BTreeMap::new(),
        attached_policies: Vec::new(),
        last_used: Some(RoleLastUsed {
            at: 1_700_000_900,
            region: Some("eu-west-1".to_owned()),
        }),
    }
}

pub(crate) fn group(account_id: &str, name: &str, members: &[&str]) -> Group {
    Group {
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        path: "/".to_owned(),
        group_id: format!("AGPA{}", name.to_uppercase()),
        created_at: 1_700_000_250,
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        inline_policies: BTreeMap::new(),
        attached_policies: Vec::new(),
    }
}

pub(crate) fn access_key(id: &str, user_name: Option<&str>, created_at: u64) -> AccessKey {
    AccessKey {
        access_key_id: id.to_owned(),
        account_id: ACCOUNT.to_owned(),
        user_name: user_name.map(str::to_owned),
        secret_sealed: vec![0, 1, 2, 250, 251, 252],
        status: AccessKeyStatus::Active,
        created_at,
        last_used: Some(AccessKeyLastUsed {
            at: created_at + 60,
            service: "sts".to_owned(),
            region: None,
        }),
    }
}

pub(crate) fn policy(account_id: &str, name: &str, path: &str) -> ManagedPolicy {
    ManagedPolicy {
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        path: path.to_owned(),
        policy_id: format!("ANPA{}", name.to_uppercase()),
        arn: ManagedPolicy::arn_for(account_id, path, name),
        description: None,
        created_at: 1_700_000_300,
        updated_at: 1_700_000_400,
        default_version_id: "v2".to_owned(),
        versions: vec![
            PolicyVersion {
                version_id: "v1".to_owned(),
                document: r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned(),
                created_at: 1_700_000_300,
            },
            PolicyVersion {
                version_id: "v2".to_owned(),
                document: "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}".to_owned(),
                created_at: 1_700_000_400,
            },
        ],
        next_version: 3,
        tags: Vec::new(),
    }
}

pub(crate) fn mfa_device(name: &str, assigned_to: Option<Option<&str>>) -> MfaDevice {
    MfaDevice {
        account_id: ACCOUNT.to_owned(),
        name: name.to_owned(),
        path: "/".to_owned(),
        seed_sealed: vec![9; 40],
        created_at: 1_700_000_500,
        assignment: assigned_to.map(|user_name| MfaAssignment {
            user_name: user_name.map(str::to_owned),
            enabled_at: 1_700_000_600,
        }),
        drift_steps: -2,
        tags: Vec::new(),
    }
}

pub(crate) fn oidc_provider(url: &str) -> OidcProvider {
    OidcProvider {
        account_id: ACCOUNT.to_owned(),
        url: url.to_owned(),
        client_ids: vec!["sts.amazonaws.com".to_owned()],
        thumbprints: vec!["9e99a48a9960b14926bb7f3b02e22da2b0ab7280".to_owned()],
        created_at: 1_700_000_700,
        tags: Vec::new(),
    }
}

pub(crate) fn saml_provider(name: &str) -> SamlProvider {
    SamlProvider {
        account_id: ACCOUNT.to_owned(),
        name: name.to_owned(),
        metadata_document: "<EntityDescriptor/>".to_owned(),
        created_at: 1_700_000_800,
        valid_until: Some(1_800_000_000),
        uuid: "6f8a1d2c-0000-4000-8000-000000000000".to_owned(),
        assertion_encryption_mode: Some("Allowed".to_owned()),
        private_keys: vec![SamlPrivateKey {
            key_id: "KEY1".to_owned(),
            key_sealed: vec![7; 12],
            created_at: 1_700_000_800,
        }],
        tags: vec![Tag {
            key: "Env".to_owned(),
            value: "prod".to_owned(),
        }],
    }
}

pub(crate) fn ring_key(key_id: u32, retired_at: Option<u64>) -> RingKey {
    RingKey {
        key_id,
        material_sealed: vec![42; 60],
        created_at: 1_700_000_000,
        retired_at,
    }
}

pub(crate) fn revocation(access_key_id: &str, expires_at: u64) -> Revocation {
    Revocation {
        access_key_id: access_key_id.to_owned(),
        revoked_at: 1_700_000_000,
        expires_at,
    }
}

/// One insert of every model type.
pub(crate) fn one_of_each() -> Vec<Mutation> {
    vec![
        Mutation::insert(&account(ACCOUNT)).unwrap(),
        Mutation::insert(&user(ACCOUNT, "Alice", "/eng/", "AIDAALICE")).unwrap(),
        Mutation::insert(&group(ACCOUNT, "Admins", &["Alice"])).unwrap(),
        Mutation::insert(&role(ACCOUNT, "Deploy", "/ci/", "AROADEPLOY")).unwrap(),
        Mutation::insert(&access_key("AKIAEXAMPLE000000001", Some("Alice"), 10)).unwrap(),
        Mutation::insert(&policy(ACCOUNT, "ReadOnly", "/")).unwrap(),
        Mutation::insert(&mfa_device("alice-phone", Some(Some("Alice")))).unwrap(),
        Mutation::insert(&oidc_provider("token.actions.githubusercontent.com")).unwrap(),
        Mutation::insert(&saml_provider("Okta")).unwrap(),
        Mutation::insert(&ring_key(1, None)).unwrap(),
        Mutation::insert(&revocation("ASIAEXAMPLE000000001", 1_700_003_600)).unwrap(),
    ]
}

fn row<'a>(rows: &'a [StoredRow], kind: &str, key: &str) -> &'a StoredRow {
    rows.iter()
        .find(|r| r.kind == kind && r.key == key)
        .unwrap_or_else(|| panic!("no {kind} row with key {key}"))
}

fn round_trips<E: Entity + PartialEq + std::fmt::Debug>(rows: &[StoredRow], entity: &E) {
    let stored = row(rows, E::KIND, &entity.key());
    let decoded: E = decode(&stored.value).unwrap();
    assert_eq!(&decoded, entity);
}

pub(crate) async fn loads_back_every_model_type_as_written(store: &dyn Store) {
    store.apply(one_of_each()).await.unwrap();
    let rows = store.load_all().await.unwrap();
    assert_eq!(rows.len(), 11);
    round_trips(&rows, &account(ACCOUNT));
    round_trips(&rows, &user(ACCOUNT, "Alice", "/eng/", "AIDAALICE"));
    round_trips(&rows, &group(ACCOUNT, "Admins", &["Alice"]));
    round_trips(&rows, &role(ACCOUNT, "Deploy", "/ci/", "AROADEPLOY"));
    round_trips(
        &rows,
        &access_key("AKIAEXAMPLE000000001", Some("Alice"), 10),
    );
    round_trips(&rows, &policy(ACCOUNT, "ReadOnly", "/"));
    round_trips(&rows, &mfa_device("alice-phone", Some(Some("Alice"))));
    round_trips(&rows, &oidc_provider("token.actions.githubusercontent.com"));
    round_trips(&rows, &saml_provider("Okta"));
    round_trips(&rows, &ring_key(1, None));
    round_trips(&rows, &revocation("ASIAEXAMPLE000000001", 1_700_003_600));
}

pub(crate) async fn load_all_orders_rows_by_kind_then_key(store: &dyn Store) {
    store
        .apply(vec![
            Mutation::insert(&user(ACCOUNT, "zed", "/", "AIDAZED")).unwrap(),
            Mutation::insert(&role(ACCOUNT, "b", "/", "AROAB")).unwrap(),
            Mutation::insert(&user(ACCOUNT, "Bob", "/", "AIDABOB")).unwrap(),
            Mutation::insert(&role(ACCOUNT, "a", "/", "AROAA")).unwrap(),
        ])
        .await
        .unwrap();
    let order: Vec<(String, String)> = store
        .load_all()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.kind, r.key))
        .collect();
    let expected = [
        ("role", "000000000000/a"),
        ("role", "000000000000/b"),
        ("user", "000000000000/bob"),
        ("user", "000000000000/zed"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(order, expected);
}

pub(crate) async fn insert_of_an_existing_key_fails_with_already_exists(store: &dyn Store) {
    let alice = user(ACCOUNT, "alice", "/", "AIDA1");
    store
        .apply(vec![Mutation::insert(&alice).unwrap()])
        .await
        .unwrap();
    let again = store.apply(vec![Mutation::insert(&alice).unwrap()]).await;
    assert!(
        matches!(&again, Err(StoreError::AlreadyExists { kind, key }) if kind == "user" && key == "000000000000/alice"),
        "{again:?}"
    );
}

pub(crate) async fn insert_collides_with_a_name_differing_only_in_case(store: &dyn Store) {
    store
        .apply(vec![
            Mutation::insert(&user(ACCOUNT, "Alice", "/", "AIDA1")).unwrap(),
        ])
        .await
        .unwrap();
    let lower = store
        .apply(vec![
            Mutation::insert(&user(ACCOUNT, "alice", "/other/", "AIDA2")).unwrap(),
        ])
        .await;
    assert!(
        matches!(lower, Err(StoreError::AlreadyExists { .. })),
        "{lower:?}"
    );
    let roles = store
        .apply(vec![
            Mutation::insert(&role(ACCOUNT, "Deploy", "/", "AROA1")).unwrap(),
            Mutation::insert(&role(ACCOUNT, "DEPLOY", "/", "AROA2")).unwrap(),
        ])
        .await;
    assert!(
        matches!(roles, Err(StoreError::AlreadyExists { .. })),
        "{roles:?}"
    );
    let policies = store
        .apply(vec![
            Mutation::insert(&policy(ACCOUNT, "ReadOnly", "/")).unwrap(),
            Mutation::insert(&policy(ACCOUNT, "readonly", "/team/")).unwrap(),
        ])
        .await;
    assert!(
        matches!(policies, Err(StoreError::AlreadyExists { .. })),
        "{policies:?}"
    );
    // The stored value keeps the display case.
    let rows = store.load_all().await.unwrap();
    assert_eq!(rows.len(), 1);
    let stored: User = decode(&rows[0].value).unwrap();
    assert_eq!(stored.name, "Alice");
}

pub(crate) async fn same_key_in_different_kinds_does_not_collide(store: &dyn Store) {
    store
        .apply(vec![
            Mutation::insert(&user(ACCOUNT, "x", "/", "AIDAX")).unwrap(),
            Mutation::insert(&role(ACCOUNT, "x", "/", "AROAX")).unwrap(),
            Mutation::insert(&access_key("ASIAEXAMPLE000000009", None, 1)).unwrap(),
            Mutation::insert(&revocation("ASIAEXAMPLE000000009", 5)).unwrap(),
        ])
        .await
        .unwrap();
    assert_eq!(store.load_all().await.unwrap().len(), 4);
}

pub(crate) async fn same_name_in_different_accounts_does_not_collide(store: &dyn Store) {
    store
        .apply(vec![
            Mutation::insert(&user(ACCOUNT, "alice", "/", "AIDA1")).unwrap(),
            Mutation::insert(&user("111111111111", "alice", "/", "AIDA2")).unwrap(),
        ])
        .await
        .unwrap();
    assert_eq!(store.load_all().await.unwrap().len(), 2);
}

pub(crate) async fn update_of_a_missing_entity_fails_with_not_found(store: &dyn Store) {
    let result = store
        .apply(vec![
            Mutation::update(&role(ACCOUNT, "Ghost", "/", "AROAG")).unwrap(),
        ])
        .await;
    assert!(
        matches!(&result, Err(StoreError::NotFound { kind, key }) if kind == "role" && key == "000000000000/ghost"),
        "{result:?}"
    );
    assert!(store.load_all().await.unwrap().is_empty());
}

pub(crate) async fn delete_of_a_missing_entity_fails_with_not_found(store: &dyn Store) {
    let result = store
        .apply(vec![Mutation::delete::<AccessKey>("AKIANOTTHERE00000000")])
        .await;
    assert!(
        matches!(&result, Err(StoreError::NotFound { kind, key }) if kind == "access_key" && key == "AKIANOTTHERE00000000"),
        "{result:?}"
    );
}

pub(crate) async fn update_replaces_and_delete_removes(store: &dyn Store) {
    let mut deploy = role(ACCOUNT, "Deploy", "/", "AROA1");
    store
        .apply(vec![Mutation::insert(&deploy).unwrap()])
        .await
        .unwrap();
    deploy.description = Some("changed".to_owned());
    deploy
        .inline_policies
        .insert("AWSRevokeOlderSessions".to_owned(), "{}".to_owned());
    store
        .apply(vec![Mutation::update(&deploy).unwrap()])
        .await
        .unwrap();
    let rows = store.load_all().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(decode::<Role>(&rows[0].value).unwrap(), deploy);

    // Deleting by a differently cased name finds the row: keys are lowercased.
    store
        .apply(vec![Mutation::delete::<Role>(Role::storage_key(
            ACCOUNT, "DEPLOY",
        ))])
        .await
        .unwrap();
    assert!(store.load_all().await.unwrap().is_empty());
}

pub(crate) async fn put_creates_then_replaces(store: &dyn Store) {
    let mut key = ring_key(3, None);
    store
        .apply(vec![Mutation::put(&key).unwrap()])
        .await
        .unwrap();
    key.retired_at = Some(1_800_000_000);
    store
        .apply(vec![Mutation::put(&key).unwrap()])
        .await
        .unwrap();
    let rows = store.load_all().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(decode::<RingKey>(&rows[0].value).unwrap(), key);
}

pub(crate) async fn a_failing_batch_changes_nothing_and_keeps_the_generation(store: &dyn Store) {
    let alice = user(ACCOUNT, "alice", "/", "AIDA1");
    store
        .apply(vec![Mutation::insert(&alice).unwrap()])
        .await
        .unwrap();
    let before_rows = store.load_all().await.unwrap();
    let before_generation = store.generation().await.unwrap();

    let mut changed = alice.clone();
    changed.path = "/changed/".to_owned();
    let batches = vec![
        // fails on the last mutation: duplicate insert
        vec![
            Mutation::insert(&role(ACCOUNT, "new", "/", "AROAN")).unwrap(),
            Mutation::update(&changed).unwrap(),
            Mutation::insert(&alice).unwrap(),
        ],
        // fails on update of a missing entity after a successful delete
        vec![
            Mutation::delete::<User>(alice.key()),
            Mutation::update(&role(ACCOUNT, "ghost", "/", "AROAG")).unwrap(),
        ],
        // fails on delete of a missing entity after a put
        vec![
            Mutation::put(&ring_key(1, None)).unwrap(),
            Mutation::delete::<Revocation>("ASIAMISSING"),
        ],
    ];
    for batch in batches {
        assert!(store.apply(batch).await.is_err());
        assert_eq!(store.load_all().await.unwrap(), before_rows);
        assert_eq!(store.generation().await.unwrap(), before_generation);
    }
}

pub(crate) async fn each_batch_bumps_the_generation_once(store: &dyn Store) {
    let start = store.generation().await.unwrap();
    let first = store.apply(one_of_each()).await.unwrap();
    assert_eq!(first, start + 1);
    assert_eq!(store.generation().await.unwrap(), first);
    let second = store
        .apply(vec![Mutation::delete::<RingKey>(RingKey::storage_key(1))])
        .await
        .unwrap();
    assert_eq!(second, first + 1);
    assert_eq!(store.generation().await.unwrap(), second);
}

pub(crate) async fn a_batch_may_rename_by_delete_and_insert(store: &dyn Store) {
    let old = user(ACCOUNT, "alice", "/", "AIDA1");
    store
        .apply(vec![Mutation::insert(&old).unwrap()])
        .await
        .unwrap();
    let mut renamed = old.clone();
    renamed.name = "Alicia".to_owned();
    store
        .apply(vec![
            Mutation::delete::<User>(old.key()),
            Mutation::insert(&renamed).unwrap(),
        ])
        .await
        .unwrap();
    let rows = store.load_all().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, "000000000000/alicia");
}

pub(crate) async fn a_one_time_value_is_accepted_once_until_it_expires(store: &dyn Store) {
    let idp = "arn:aws:iam::000000000000:saml-provider/Idp";
    let generation = store.generation().await.unwrap();
    assert!(store.record_first_use(idp, "_a", 300, 100).await.unwrap());
    assert!(!store.record_first_use(idp, "_a", 300, 200).await.unwrap());
    assert!(!store.record_first_use(idp, "_a", 300, 300).await.unwrap());
    // The same value in another scope is another value.
    let other = "arn:aws:iam::000000000000:saml-provider/Other";
    assert!(store.record_first_use(other, "_a", 300, 200).await.unwrap());
    // Expired, the record may be taken over (and then holds again).
    assert!(store.record_first_use(idp, "_a", 900, 301).await.unwrap());
    assert!(!store.record_first_use(idp, "_a", 900, 302).await.unwrap());
    // Uses are not configuration: the generation stays.
    assert_eq!(store.generation().await.unwrap(), generation);
    assert!(store.load_all().await.unwrap().is_empty());
}

pub(crate) async fn expired_one_time_uses_are_pruned_and_live_ones_kept(store: &dyn Store) {
    // Enough uses for any pruning to run; even ones expire at 1000, odd
    // ones live until 5000.
    for i in 0..2100u64 {
        let expires_at = if i % 2 == 0 { 1000 } else { 5000 };
        let id = format!("id-{i}");
        assert!(
            store
                .record_first_use("s", &id, expires_at, 900)
                .await
                .unwrap()
        );
    }
    for i in 0..2100u64 {
        let id = format!("id-{i}");
        let first = store.record_first_use("s", &id, 5000, 2000).await.unwrap();
        assert_eq!(first, i % 2 == 0, "{id}");
    }
}

pub(crate) async fn the_first_key_check_claimed_is_kept(store: &dyn Store) {
    assert_eq!(store.key_check().await.unwrap(), None);
    let first = vec![1, 0, 2, 255, 3];
    assert_eq!(store.claim_key_check(&first).await.unwrap(), first);
    assert_eq!(store.key_check().await.unwrap(), Some(first.clone()));
    // A later claim with other bytes learns the first value, and changes
    // nothing.
    assert_eq!(store.claim_key_check(&[9; 45]).await.unwrap(), first);
    assert_eq!(store.claim_key_check(&first).await.unwrap(), first);
    assert_eq!(store.key_check().await.unwrap(), Some(first));
    // The key check is not configuration: no generation, no entity.
    assert_eq!(store.generation().await.unwrap(), 0);
    assert!(store.load_all().await.unwrap().is_empty());
}

pub(crate) async fn the_key_check_outlives_configuration_writes(store: &dyn Store) {
    let sealed = vec![7; 45];
    store.apply(one_of_each()).await.unwrap();
    assert_eq!(store.key_check().await.unwrap(), None);
    assert_eq!(store.claim_key_check(&sealed).await.unwrap(), sealed);
    store
        .apply(vec![Mutation::delete::<RingKey>(RingKey::storage_key(1))])
        .await
        .unwrap();
    assert_eq!(store.key_check().await.unwrap(), Some(sealed));
}

pub(crate) async fn a_key_check_swap_applies_its_mutations_and_moves_the_generation(
    store: &dyn Store,
) {
    let old = vec![1; 45];
    let new = vec![2; 45];
    store.apply(one_of_each()).await.unwrap();
    assert_eq!(store.claim_key_check(&old).await.unwrap(), old);
    let before = store.generation().await.unwrap();
    let resealed = RingKey {
        material_sealed: vec![43; 60],
        ..ring_key(1, None)
    };
    let generation = store
        .apply_with_key_check(
            vec![Mutation::update(&resealed).unwrap()],
            before,
            &old,
            &new,
        )
        .await
        .unwrap();
    assert_eq!(generation, before + 1);
    assert_eq!(store.generation().await.unwrap(), generation);
    assert_eq!(store.key_check().await.unwrap(), Some(new.clone()));
    round_trips(&store.load_all().await.unwrap(), &resealed);
    // The swapped value is what a later claim learns.
    assert_eq!(store.claim_key_check(&old).await.unwrap(), new);
}

pub(crate) async fn a_key_check_swap_expecting_another_value_or_generation_changes_nothing(
    store: &dyn Store,
) {
    let recorded = vec![1; 45];
    store.apply(one_of_each()).await.unwrap();
    let resealed = RingKey {
        material_sealed: vec![43; 60],
        ..ring_key(1, None)
    };
    let batch = || vec![Mutation::update(&resealed).unwrap()];
    // No key check recorded yet: nothing to swap.
    let before_rows = store.load_all().await.unwrap();
    let before_generation = store.generation().await.unwrap();
    assert!(matches!(
        store
            .apply_with_key_check(batch(), before_generation, &recorded, &[2; 45])
            .await,
        Err(StoreError::KeyCheckChanged)
    ));
    assert_eq!(store.key_check().await.unwrap(), None);
    assert_eq!(store.load_all().await.unwrap(), before_rows);
    assert_eq!(store.generation().await.unwrap(), before_generation);
    // Another value recorded: the swap is refused and changes nothing.
    store.claim_key_check(&recorded).await.unwrap();
    assert!(matches!(
        store
            .apply_with_key_check(batch(), before_generation, &[3; 45], &[2; 45])
            .await,
        Err(StoreError::KeyCheckChanged)
    ));
    assert_eq!(store.key_check().await.unwrap(), Some(recorded.clone()));
    assert_eq!(store.load_all().await.unwrap(), before_rows);
    assert_eq!(store.generation().await.unwrap(), before_generation);
    // A failing mutation keeps the old key check too.
    let ghost = Mutation::update(&ring_key(9, None)).unwrap();
    assert!(matches!(
        store
            .apply_with_key_check(vec![ghost], before_generation, &recorded, &[2; 45])
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.key_check().await.unwrap(), Some(recorded.clone()));
    assert_eq!(store.load_all().await.unwrap(), before_rows);
    assert_eq!(store.generation().await.unwrap(), before_generation);
    // A batch applied since the rows were read: refused, so a rotation
    // never overwrites a change it did not see.
    let moved = store
        .apply(vec![Mutation::put(&ring_key(2, None)).unwrap()])
        .await
        .unwrap();
    let moved_rows = store.load_all().await.unwrap();
    assert!(matches!(
        store
            .apply_with_key_check(batch(), before_generation, &recorded, &[2; 45])
            .await,
        Err(StoreError::GenerationChanged)
    ));
    assert_eq!(store.key_check().await.unwrap(), Some(recorded));
    assert_eq!(store.load_all().await.unwrap(), moved_rows);
    assert_eq!(store.generation().await.unwrap(), moved);
}

/// Runs every conformance function on a fresh store from `open`.
macro_rules! store_conformance_tests {
    ($open:expr) => {
        $crate::conformance::store_conformance_tests!(@each $open;
            loads_back_every_model_type_as_written,
            load_all_orders_rows_by_kind_then_key,
            insert_of_an_existing_key_fails_with_already_exists,
            insert_collides_with_a_name_differing_only_in_case,
            same_key_in_different_kinds_does_not_collide,
            same_name_in_different_accounts_does_not_collide,
            update_of_a_missing_entity_fails_with_not_found,
            delete_of_a_missing_entity_fails_with_not_found,
            update_replaces_and_delete_removes,
            put_creates_then_replaces,
            a_failing_batch_changes_nothing_and_keeps_the_generation,
            each_batch_bumps_the_generation_once,
            a_batch_may_rename_by_delete_and_insert,
            a_one_time_value_is_accepted_once_until_it_expires,
            expired_one_time_uses_are_pruned_and_live_ones_kept,
            the_first_key_check_claimed_is_kept,
            the_key_check_outlives_configuration_writes,
            a_key_check_swap_applies_its_mutations_and_moves_the_generation,
            a_key_check_swap_expecting_another_value_or_generation_changes_nothing,
        );
    };
    (@each $open:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, _guard) = $open.await;
                crate::conformance::$name(&store).await;
            }
        )+
    };
}
pub(crate) use store_conformance_tests;
