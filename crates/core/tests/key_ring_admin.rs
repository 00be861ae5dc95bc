//! `mayfly keys rotate` and `mayfly keys destroy` on a store, with the
//! times passed in (no sleeping): retired keys are purged once nothing they
//! sealed can still be valid, and only a retired key can be destroyed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use mayfly_core::admin::{
    AdminError, RETIRED_KEY_LIFETIME_SECONDS, destroy_key, list_keys, rotate_keys,
};

const START: u64 = 1_700_000_000;

async fn ids(store: &dyn mayfly_store::Store) -> Vec<(u32, bool, Option<u64>)> {
    list_keys(store)
        .await
        .unwrap()
        .into_iter()
        .map(|key| (key.key_id, key.active, key.retired_at))
        .collect()
}

#[tokio::test]
async fn a_rotation_purges_keys_retired_longer_than_the_longest_session() {
    let store = common::initialized_store(START).await;
    let master_key = common::master_key();
    assert_eq!(
        rotate_keys(store.as_ref(), &master_key, START + 10)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        ids(store.as_ref()).await,
        [(1, false, Some(START + 10)), (2, true, None)]
    );

    // Exactly the lifetime after its retirement, key 1 may still open a
    // token it sealed: it stays.
    let at_limit = START + 10 + RETIRED_KEY_LIFETIME_SECONDS;
    assert_eq!(
        rotate_keys(store.as_ref(), &master_key, at_limit)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        ids(store.as_ref()).await,
        [
            (1, false, Some(START + 10)),
            (2, false, Some(at_limit)),
            (3, true, None)
        ]
    );

    // A second later it goes, and the others stay.
    assert_eq!(
        rotate_keys(store.as_ref(), &master_key, at_limit + 1)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        ids(store.as_ref()).await,
        [
            (2, false, Some(at_limit)),
            (3, false, Some(at_limit + 1)),
            (4, true, None)
        ]
    );
}

#[tokio::test]
async fn only_a_retired_key_that_exists_can_be_destroyed() {
    let store = common::initialized_store(START).await;
    let master_key = common::master_key();
    assert!(matches!(
        destroy_key(store.as_ref(), 1).await,
        Err(AdminError::ActiveKey(1))
    ));
    assert!(matches!(
        destroy_key(store.as_ref(), 2).await,
        Err(AdminError::NoSuchKey(2))
    ));
    rotate_keys(store.as_ref(), &master_key, START + 1)
        .await
        .unwrap();
    destroy_key(store.as_ref(), 1).await.unwrap();
    assert_eq!(ids(store.as_ref()).await, [(2, true, None)]);
    assert!(matches!(
        destroy_key(store.as_ref(), 1).await,
        Err(AdminError::NoSuchKey(1))
    ));
    // The next rotation numbers on from the newest key.
    assert_eq!(
        rotate_keys(store.as_ref(), &master_key, START + 2)
            .await
            .unwrap(),
        3
    );
}
