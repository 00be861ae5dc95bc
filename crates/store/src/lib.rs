//! Mayfly's storage: the IAM model, the `Store` trait every engine
//! implements, the SQLite engine (one node, embedded), the PostgreSQL
//! engine (several nodes) and the lock-free configuration snapshot.
//!
//! Writes go to the store first (`Store::apply`, one transaction, generation
//! bumped); readers use a `Snapshot` rebuilt from `Store::load_all` whenever
//! the generation changes (DESIGN.md principles 2-3). The store never reads
//! the clock: every time is a unix-seconds value given by the caller.

mod entity;
mod error;
pub mod model;
mod postgres;
mod snapshot;
mod sqlite;
mod sqlite_uses;
mod store;

#[cfg(test)]
mod conformance;

pub use entity::{Entity, Mutation, StoredRow, decode};
pub use error::StoreError;
pub use model::*;
pub use postgres::{PostgresStore, is_postgres_url, redact_url};
pub use snapshot::{DEFAULT_WATCH_INTERVAL, PolicyUsage, Snapshot, SnapshotCell};
pub use sqlite::{BUSY_TIMEOUT, SqliteStore};
pub use store::{Store, StoreFuture};
