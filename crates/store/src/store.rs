//! The storage engine interface. Engines hold rows of `(kind, key, JSON)`
//! and a generation counter; the typed view is the `Snapshot`.

use std::future::Future;
use std::pin::Pin;

use crate::entity::{Mutation, StoredRow};
use crate::error::StoreError;

/// A boxed `Send` future, so `Store` stays object-safe (`Arc<dyn Store>`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A storage engine (SQLite and PostgreSQL; one conformance suite for both).
///
/// Every engine keeps the same contract: a batch is applied in one transaction
/// and bumps the generation exactly once; a failing batch changes nothing.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Every entity row (kind, key, json), for building a snapshot, ordered
    /// by kind then key.
    fn load_all(&self) -> StoreFuture<'_, Result<Vec<StoredRow>, StoreError>>;

    /// Apply `mutations` atomically and bump the generation; returns the new
    /// generation. `Insert` fails with `StoreError::AlreadyExists` if the row
    /// exists, `Update` and `Delete` with `StoreError::NotFound` if it does
    /// not, `Put` upserts. On any failure nothing is written and the
    /// generation is unchanged. An empty batch still bumps the generation.
    fn apply(&self, mutations: Vec<Mutation>) -> StoreFuture<'_, Result<u64, StoreError>>;

    /// The current generation (cheap), for change polling.
    fn generation(&self) -> StoreFuture<'_, Result<u64, StoreError>>;

    /// Record a use of the one-time value `id` within `scope` (a SAML
    /// assertion ID of one identity provider), remembered until
    /// `expires_at` (Unix seconds); `true` when no unexpired use was
    /// recorded before (`now` decides what has expired), `false` for a
    /// repeat. Atomic across every node sharing the store, and durable
    /// across restarts. Not part of the configuration: the generation does
    /// not move, so no node reloads anything. Expired records are pruned
    /// from time to time.
    fn record_first_use(
        &self,
        scope: &str,
        id: &str,
        expires_at: u64,
        now: u64,
    ) -> StoreFuture<'_, Result<bool, StoreError>>;

    /// The key check: a fixed value sealed under the master key of the
    /// node that first opened the store, so a node holding another master
    /// key is refused at start instead of failing later on each sealed
    /// secret. `None` until [`Store::claim_key_check`] records one. Not
    /// part of the configuration, like one-time uses.
    fn key_check(&self) -> StoreFuture<'_, Result<Option<Vec<u8>>, StoreError>>;

    /// Record `sealed` as the key check unless one is recorded already, and
    /// return the value recorded now: `sealed`, or what another node (or an
    /// earlier claim) recorded first. Atomic across every node sharing the
    /// store: of several nodes claiming at once, all learn the one winner.
    /// The key check is never replaced here (only by
    /// [`Store::apply_with_key_check`]), and the generation does not move.
    fn claim_key_check(&self, sealed: &[u8]) -> StoreFuture<'_, Result<Vec<u8>, StoreError>>;

    /// Apply `mutations` as [`Store::apply`] does and, in the same
    /// transaction, replace the key check with `new_key_check`, provided the
    /// recorded one is `expected_key_check` (compare and swap) and the
    /// generation is still `expected_generation` (no batch was applied
    /// since the caller read the rows it rewrites); returns the new
    /// generation. A master-key rotation uses it: every secret resealed
    /// under the new key and the key check sealed under it are written
    /// together, or nothing is. A recorded key check other than `expected`
    /// (or none) fails with [`StoreError::KeyCheckChanged`], a moved
    /// generation with [`StoreError::GenerationChanged`]; any failure
    /// writes nothing and leaves the generation as it was.
    fn apply_with_key_check(
        &self,
        mutations: Vec<Mutation>,
        expected_generation: u64,
        expected_key_check: &[u8],
        new_key_check: &[u8],
    ) -> StoreFuture<'_, Result<u64, StoreError>>;
}

/// Commit on success, roll back on failure (returning the original error):
/// how every SQL engine ends a transaction.
pub(crate) async fn finish<DB: sqlx::Database, T>(
    tx: sqlx::Transaction<'_, DB>,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(error)
        }
    }
}

/// `generation` (what a batch just bumped the generation to) when the
/// batch followed `expected` directly, else [`StoreError::GenerationChanged`]
/// (the transaction is then rolled back).
pub(crate) fn check_follows(generation: u64, expected: u64) -> Result<u64, StoreError> {
    if expected.checked_add(1) == Some(generation) {
        Ok(generation)
    } else {
        Err(StoreError::GenerationChanged)
    }
}

/// A generation as stored (a signed SQL integer) as the trait's `u64`.
pub(crate) fn generation_from(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Database("negative generation".to_owned()))
}

/// An engine's SQL for the four mutations, each binding the kind, the key
/// and (but `delete`) the value as its first, second and third parameter.
pub(crate) struct EntityStatements {
    pub insert: &'static str,
    pub update: &'static str,
    pub put: &'static str,
    pub delete: &'static str,
}

/// One mutation as an engine runs it: its statement, what to bind, and
/// the error when it changed no row.
pub(crate) struct EntityStatement<'a> {
    pub sql: &'static str,
    pub kind: &'a str,
    pub key: &'a str,
    pub value: Option<&'a str>,
    mutation: &'a Mutation,
}

impl EntityStatements {
    /// How to run `mutation`.
    pub(crate) fn of<'a>(&self, mutation: &'a Mutation) -> EntityStatement<'a> {
        let (sql, kind, key, value) = match mutation {
            Mutation::Insert { kind, key, value } => (self.insert, kind, key, Some(value)),
            Mutation::Update { kind, key, value } => (self.update, kind, key, Some(value)),
            Mutation::Put { kind, key, value } => (self.put, kind, key, Some(value)),
            Mutation::Delete { kind, key } => (self.delete, kind, key, None),
        };
        EntityStatement {
            sql,
            kind,
            key,
            value: value.map(String::as_str),
            mutation,
        }
    }
}

impl EntityStatement<'_> {
    /// The trait's contract on the rows the statement changed: `Insert`
    /// of an existing row is `AlreadyExists`, `Update` or `Delete` of a
    /// missing one `NotFound` (`Insert` runs as `ON CONFLICT DO NOTHING`).
    pub(crate) fn check(&self, rows_affected: u64) -> Result<(), StoreError> {
        if rows_affected > 0 {
            return Ok(());
        }
        let (kind, key) = (self.kind.to_owned(), self.key.to_owned());
        match self.mutation {
            Mutation::Insert { .. } => Err(StoreError::AlreadyExists { kind, key }),
            Mutation::Update { .. } | Mutation::Delete { .. } => {
                Err(StoreError::NotFound { kind, key })
            }
            Mutation::Put { .. } => Ok(()),
        }
    }
}
