//! `mayfly master-key rotate` on a store: every secret at rest (ring keys,
//! long-term secrets, MFA seeds) and the key check are resealed under the
//! new master key in one write; a node with the new key serves the same
//! credentials and the sessions issued before, a node with the old key no
//! longer loads, a rotation that meets a sealed item it cannot open, or is
//! given the wrong current key, writes nothing, and one that races with a
//! write reads again instead of overwriting it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use common::{Key, MovableClock, form, issued_key};
use mayfly_core::admin::{
    AdminError, access_key_label, opens_key_check, ring_key_label, rotate_keys, rotate_master_key,
};
use mayfly_core::audit::MemoryAuditSink;
use mayfly_core::clock::Clock;
use mayfly_core::{ApiResponse, Core, CoreConfig};
use mayfly_store::{
    AccessKey, AccessKeyStatus, Entity, MfaDevice, Mutation, RingKey, Store, StoreError,
    StoreFuture, StoredRow, decode,
};
use mayfly_token::MasterKey;

const START: u64 = 1_700_000_000;

async fn core_with(store: &Arc<dyn Store>, key: MasterKey) -> Result<Core, AdminError> {
    Core::new(
        Arc::clone(store),
        key,
        MovableClock::at(START + 100) as Arc<dyn Clock>,
        Arc::new(MemoryAuditSink::default()),
        CoreConfig::default(),
    )
    .await
}

async fn call(core: &Core, service: &str, key: &Key, pairs: &[(&str, &str)]) -> ApiResponse {
    common::send(core, service, key, &form(pairs)).await
}

async fn caller_arn(core: &Core, key: &Key) -> String {
    let response = call(
        core,
        "sts",
        key,
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    common::between(&response.body, "<Arn>", "</Arn>").to_owned()
}

/// A store holding one of each sealed kind: two ring keys (one retired),
/// the root key and a user's key (one inactive), an MFA device. Returns
/// the store, a session issued by the root and the user's key.
async fn populated_store() -> (Arc<dyn Store>, Key, Key) {
    let store = common::initialized_store(START).await;
    rotate_keys(store.as_ref(), &common::master_key(), START + 10)
        .await
        .unwrap();
    let core = core_with(&store, common::master_key()).await.unwrap();
    let iam = |action: &'static str, pairs: Vec<(&'static str, &'static str)>| {
        let mut all = vec![("Action", action), ("Version", "2010-05-08")];
        all.extend(pairs);
        all
    };
    for pairs in [
        iam("CreateUser", vec![("UserName", "alice")]),
        iam(
            "CreateVirtualMFADevice",
            vec![("VirtualMFADeviceName", "phone")],
        ),
    ] {
        let response = call(&core, "iam", &Key::root(), &pairs).await;
        assert_eq!(response.status, 200, "{}", response.body);
    }
    let created = call(
        &core,
        "iam",
        &Key::root(),
        &iam("CreateAccessKey", vec![("UserName", "alice")]),
    )
    .await;
    let alice = issued_key(&created);
    let second = issued_key(
        &call(
            &core,
            "iam",
            &Key::root(),
            &iam("CreateAccessKey", vec![("UserName", "alice")]),
        )
        .await,
    );
    let deactivate = call(
        &core,
        "iam",
        &Key::root(),
        &[
            ("Action", "UpdateAccessKey"),
            ("Version", "2010-05-08"),
            ("UserName", "alice"),
            ("AccessKeyId", &second.id),
            ("Status", "Inactive"),
        ],
    )
    .await;
    assert_eq!(deactivate.status, 200, "{}", deactivate.body);
    let session = issued_key(
        &call(
            &core,
            "sts",
            &Key::root(),
            &[("Action", "GetSessionToken"), ("Version", "2011-06-15")],
        )
        .await,
    );
    (store, session, alice)
}

fn new_key() -> MasterKey {
    MasterKey::generate(&SystemRandom::new()).unwrap()
}

fn rows_of<E: Entity>(rows: &[StoredRow]) -> Vec<E> {
    rows.iter()
        .filter(|row| row.kind == E::KIND)
        .map(|row| decode(&row.value).unwrap())
        .collect()
}

/// Whether every sealed item in `rows` opens under `key`, and whether none
/// does: (all, none).
fn opens(rows: &[StoredRow], key: &MasterKey) -> (bool, bool) {
    let mut results = Vec::new();
    for ring_key in rows_of::<RingKey>(rows) {
        results.push(
            key.open(&ring_key.material_sealed, &ring_key_label(ring_key.key_id))
                .is_ok(),
        );
    }
    for access_key in rows_of::<AccessKey>(rows) {
        results.push(
            key.open(
                &access_key.secret_sealed,
                &access_key_label(&access_key.access_key_id),
            )
            .is_ok(),
        );
    }
    for device in rows_of::<MfaDevice>(rows) {
        let label = format!("mayfly/mfa-seed/{}", device.serial_number());
        results.push(key.open(&device.seed_sealed, &label).is_ok());
    }
    (
        results.iter().all(|opened| *opened),
        results.iter().all(|opened| !*opened),
    )
}

#[tokio::test]
async fn after_a_rotation_every_secret_opens_under_the_new_key_only() {
    let (store, session, alice) = populated_store().await;
    let old = common::master_key();
    let new = new_key();
    let before = store.load_all().await.unwrap();
    assert_eq!(opens(&before, &old), (true, false));
    let generation = store.generation().await.unwrap();

    let rotation = rotate_master_key(store.as_ref(), &old, &new).await.unwrap();
    assert_eq!(rotation.ring_keys, 2);
    assert_eq!(rotation.access_keys, 3);
    assert_eq!(rotation.mfa_seeds, 1);
    assert_eq!(rotation.generation, generation + 1);
    assert_eq!(store.generation().await.unwrap(), generation + 1);

    let after = store.load_all().await.unwrap();
    assert_eq!(opens(&after, &new), (true, false));
    assert_eq!(opens(&after, &old), (false, true));
    let key_check = store.key_check().await.unwrap().unwrap();
    assert!(opens_key_check(&new, &key_check));
    assert!(!opens_key_check(&old, &key_check));
    // Only the sealed fields changed: the same rows, the same plaintexts.
    assert_eq!(
        before.iter().map(|r| (&r.kind, &r.key)).collect::<Vec<_>>(),
        after.iter().map(|r| (&r.kind, &r.key)).collect::<Vec<_>>()
    );
    for (was, is) in rows_of::<RingKey>(&before)
        .iter()
        .zip(rows_of::<RingKey>(&after))
    {
        let label = ring_key_label(was.key_id);
        assert_eq!(
            old.open(&was.material_sealed, &label).unwrap().as_slice(),
            new.open(&is.material_sealed, &label).unwrap().as_slice()
        );
        assert_eq!(was.retired_at, is.retired_at);
    }

    // A node with the new key serves the same root key, the user's key and
    // the session issued before the rotation (its ring key is unchanged).
    let core = core_with(&store, new).await.unwrap();
    let root_arn = caller_arn(&core, &Key::root()).await;
    assert_eq!(root_arn, format!("arn:aws:iam::{}:root", common::ACCOUNT));
    assert_eq!(caller_arn(&core, &session).await, root_arn);
    assert_eq!(
        caller_arn(&core, &alice).await,
        format!("arn:aws:iam::{}:user/alice", common::ACCOUNT)
    );

    // A node with the old key no longer loads.
    assert!(matches!(
        core_with(&store, old).await,
        Err(AdminError::MasterKeyMismatch)
    ));
}

#[tokio::test]
async fn a_sealed_item_that_does_not_open_stops_the_rotation_before_any_write() {
    let (store, _, alice) = populated_store().await;
    let old = common::master_key();
    // Alice's secret damaged: it no longer opens under any key.
    let rows = store.load_all().await.unwrap();
    let mut damaged = rows_of::<AccessKey>(&rows)
        .into_iter()
        .find(|key| key.access_key_id == alice.id)
        .unwrap();
    damaged.secret_sealed[20] ^= 1;
    store
        .apply(vec![Mutation::update(&damaged).unwrap()])
        .await
        .unwrap();
    let key_check = store.key_check().await.unwrap();
    let rows = store.load_all().await.unwrap();
    let generation = store.generation().await.unwrap();

    let error = rotate_master_key(store.as_ref(), &old, &new_key())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdminError::SealedItemDoesNotOpen { kind: "access key", key } if *key == alice.id),
        "{error}"
    );
    assert_eq!(store.load_all().await.unwrap(), rows);
    assert_eq!(store.generation().await.unwrap(), generation);
    assert_eq!(store.key_check().await.unwrap(), key_check);
    core_with(&store, old).await.unwrap();
}

#[tokio::test]
async fn a_rotation_from_the_wrong_key_writes_nothing() {
    let (store, _, _) = populated_store().await;
    let old = common::master_key();
    let new = new_key();
    rotate_master_key(store.as_ref(), &old, &new).await.unwrap();
    let rows = store.load_all().await.unwrap();
    let key_check = store.key_check().await.unwrap();
    let generation = store.generation().await.unwrap();

    // The old key again (a second operator who missed the first
    // rotation): refused on the key check.
    assert!(matches!(
        rotate_master_key(store.as_ref(), &old, &new_key()).await,
        Err(AdminError::MasterKeyMismatch)
    ));
    assert_eq!(store.load_all().await.unwrap(), rows);
    assert_eq!(store.generation().await.unwrap(), generation);
    assert_eq!(store.key_check().await.unwrap(), key_check);
    // The current key rotates on.
    let newer = new_key();
    rotate_master_key(store.as_ref(), &new, &newer)
        .await
        .unwrap();
    core_with(&store, newer).await.unwrap();
}

/// Another node deactivating an access key right after the first read of
/// every row: as a running server writing during a rotation.
#[derive(Debug)]
struct WrittenMeanwhile {
    deactivate: String,
    written: std::sync::atomic::AtomicBool,
}

impl common::ReadHooks for WrittenMeanwhile {
    fn after_load_all<'a>(
        &'a self,
        inner: &'a dyn Store,
        rows: &'a [StoredRow],
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if !self.written.swap(true, std::sync::atomic::Ordering::SeqCst) {
                let mut key = rows_of::<AccessKey>(rows)
                    .into_iter()
                    .find(|key| key.access_key_id == self.deactivate)
                    .unwrap();
                key.status = AccessKeyStatus::Inactive;
                inner.apply(vec![Mutation::update(&key)?]).await?;
            }
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_change_written_during_a_rotation_is_kept_and_resealed() {
    let (store, _, alice) = populated_store().await;
    let new = new_key();
    let racing = common::HookedStore {
        inner: Arc::clone(&store),
        hooks: WrittenMeanwhile {
            deactivate: alice.id.clone(),
            written: std::sync::atomic::AtomicBool::new(false),
        },
    };
    rotate_master_key(&racing, &common::master_key(), &new)
        .await
        .unwrap();
    let rows = store.load_all().await.unwrap();
    let key = rows_of::<AccessKey>(&rows)
        .into_iter()
        .find(|key| key.access_key_id == alice.id)
        .unwrap();
    // The deactivation is not overwritten by the rows read before it.
    assert_eq!(key.status, AccessKeyStatus::Inactive);
    assert_eq!(opens(&rows, &new), (true, false));
}
