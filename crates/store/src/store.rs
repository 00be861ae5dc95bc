//! The storage engine interface. Engines hold rows of `(kind, key, JSON)`
//! and a generation counter; the typed view is the `Snapshot`.

use std::future::Future;
use std::pin::Pin;

use crate::entity::{Mutation, StoredRow};
use crate::error::StoreError;

/// A boxed `Send` future, so `Store` stays object-safe (`Arc<dyn Store>`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A storage engine (SQLite now, PostgreSQL later; one conformance suite for both).
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
}
