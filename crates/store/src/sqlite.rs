//! The embedded engine: one SQLite file in the data directory, WAL mode, so a
//! CLI admin command and a running server can write the same database
//! (DESIGN.md "Storage and scale").

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::entity::{Mutation, StoredRow};
use crate::error::StoreError;
use crate::sqlite_uses::{self, UseRequest};
use crate::store::{EntityStatements, Store, StoreFuture, check_follows, finish, generation_from};

/// How long a writer waits for another process's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema migrations, applied in order at open; `meta.schema_version` counts
/// the ones applied. Plain SQL kept close to what PostgreSQL accepts:
/// `crate::postgres::MIGRATIONS` ports each step. Never edit a released
/// step: append, in both engines.
pub(crate) const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE IF NOT EXISTS entities (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    )",
        "INSERT INTO meta (name, value) VALUES ('generation', 0) ON CONFLICT (name) DO NOTHING",
    ],
    &[
        "CREATE TABLE IF NOT EXISTS one_time_uses (
        scope TEXT NOT NULL,
        id TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (scope, id)
    )",
        "CREATE INDEX IF NOT EXISTS one_time_uses_expiry ON one_time_uses (expires_at)",
    ],
    &["CREATE TABLE IF NOT EXISTS key_check (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        sealed BLOB NOT NULL
    )"],
];

/// The SQLite `Store`.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One-time uses go to the task recording them ([`crate::sqlite_uses`]).
    uses: mpsc::Sender<UseRequest>,
}

impl SqliteStore {
    /// Open (creating the file and its parent directory if missing) the
    /// database at `path`, in WAL mode with a 5 s busy timeout, and bring its
    /// schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await.map_err(|error| {
                StoreError::Database(format!(
                    "cannot create directory `{}`: {error}",
                    parent.display()
                ))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await?;
        // One connection: the recording task is the only user.
        let uses_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.synchronous(SqliteSynchronous::Normal))
            .await?;
        let store = SqliteStore {
            pool,
            uses: sqlite_uses::start(uses_pool)?,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// A private in-memory database (one connection, kept for the store's
    /// life), for tests.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new().busy_timeout(BUSY_TIMEOUT);
        // INVARIANT: an in-memory database lives only as long as its one
        // connection, so the pool must never close or recycle it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        let store = SqliteStore {
            uses: sqlite_uses::start(pool.clone())?,
            pool,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Close the pool (waits for connections in use to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // BEGIN IMMEDIATE takes the write lock up front so two processes
        // opening a fresh database wait for each other (busy timeout) instead
        // of both applying the same step.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let result = migrate_in(&mut tx).await;
        finish(tx, result).await
    }

    async fn apply_batch(&self, mutations: Vec<Mutation>) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let result = apply_in(&mut tx, &mutations).await;
        finish(tx, result).await
    }

    async fn apply_batch_with_key_check(
        &self,
        mutations: Vec<Mutation>,
        expected_generation: u64,
        expected: Vec<u8>,
        new: Vec<u8>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let result = match swap_key_check_in(&mut tx, &expected, &new).await {
            Ok(()) => apply_in(&mut tx, &mutations)
                .await
                .and_then(|generation| check_follows(generation, expected_generation)),
            Err(error) => Err(error),
        };
        finish(tx, result).await
    }

    async fn read_all(&self) -> Result<Vec<StoredRow>, StoreError> {
        let rows = sqlx::query("SELECT kind, key, value FROM entities ORDER BY kind, key")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(StoredRow {
                    kind: row.try_get("kind")?,
                    key: row.try_get("key")?,
                    value: row.try_get("value")?,
                })
            })
            .collect()
    }

    async fn first_use(
        &self,
        scope: String,
        id: String,
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        let request = UseRequest {
            scope,
            id,
            expires_at: i64::try_from(expires_at).unwrap_or(i64::MAX),
            now: i64::try_from(now).unwrap_or(i64::MAX),
            reply,
        };
        let stopped = || StoreError::Database("the use recorder stopped".to_owned());
        self.uses.send(request).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn read_key_check(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT sealed FROM key_check WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn insert_key_check(&self, sealed: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        // SQLite serializes writers, and the row is never deleted once
        // written (only a rotation's swap replaces it): whichever claim was
        // written first (this one or another process's), or what a later
        // rotation put in its place, is what the read finds.
        sqlx::query(
            "INSERT INTO key_check (id, sealed) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING",
        )
        .bind(sealed)
        .execute(&self.pool)
        .await?;
        self.read_key_check().await?.ok_or_else(|| {
            StoreError::Database("the key check vanished after it was recorded".to_owned())
        })
    }

    async fn read_generation(&self) -> Result<u64, StoreError> {
        let value: i64 = sqlx::query_scalar("SELECT value FROM meta WHERE name = 'generation'")
            .fetch_one(&self.pool)
            .await?;
        generation_from(value)
    }
}

impl Store for SqliteStore {
    fn load_all(&self) -> StoreFuture<'_, Result<Vec<StoredRow>, StoreError>> {
        Box::pin(self.read_all())
    }

    fn apply(&self, mutations: Vec<Mutation>) -> StoreFuture<'_, Result<u64, StoreError>> {
        Box::pin(self.apply_batch(mutations))
    }

    fn generation(&self) -> StoreFuture<'_, Result<u64, StoreError>> {
        Box::pin(self.read_generation())
    }

    fn record_first_use(
        &self,
        scope: &str,
        id: &str,
        expires_at: u64,
        now: u64,
    ) -> StoreFuture<'_, Result<bool, StoreError>> {
        Box::pin(self.first_use(scope.to_owned(), id.to_owned(), expires_at, now))
    }

    fn key_check(&self) -> StoreFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(self.read_key_check())
    }

    fn claim_key_check(&self, sealed: &[u8]) -> StoreFuture<'_, Result<Vec<u8>, StoreError>> {
        Box::pin(self.insert_key_check(sealed.to_vec()))
    }

    fn apply_with_key_check(
        &self,
        mutations: Vec<Mutation>,
        expected_generation: u64,
        expected_key_check: &[u8],
        new_key_check: &[u8],
    ) -> StoreFuture<'_, Result<u64, StoreError>> {
        Box::pin(self.apply_batch_with_key_check(
            mutations,
            expected_generation,
            expected_key_check.to_vec(),
            new_key_check.to_vec(),
        ))
    }
}

async fn migrate_in(tx: &mut Transaction<'static, Sqlite>) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)",
    )
    .execute(&mut **tx)
    .await?;
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT value FROM meta WHERE name = 'schema_version'")
            .fetch_optional(&mut **tx)
            .await?;
    let applied = usize::try_from(applied.unwrap_or(0))
        .map_err(|_| StoreError::Database("negative schema version".to_owned()))?;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "database schema version {applied} is newer than this binary supports ({})",
            MIGRATIONS.len()
        )));
    }
    for step in MIGRATIONS.iter().skip(applied) {
        for statement in *step {
            sqlx::query(*statement).execute(&mut **tx).await?;
        }
    }
    let version = i64::try_from(MIGRATIONS.len())
        .map_err(|_| StoreError::Database("too many migrations".to_owned()))?;
    sqlx::query(
        "INSERT INTO meta (name, value) VALUES ('schema_version', ?1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The entity statements (kind, key, value bound in that order).
const ENTITY_STATEMENTS: EntityStatements = EntityStatements {
    insert: "INSERT INTO entities (kind, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (kind, key) DO NOTHING",
    update: "UPDATE entities SET value = ?3 WHERE kind = ?1 AND key = ?2",
    put: "INSERT INTO entities (kind, key, value) VALUES (?1, ?2, ?3)
          ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
    delete: "DELETE FROM entities WHERE kind = ?1 AND key = ?2",
};

/// Replace the key check with `new` if it is `expected`, in `tx`.
async fn swap_key_check_in(
    tx: &mut Transaction<'static, Sqlite>,
    expected: &[u8],
    new: &[u8],
) -> Result<(), StoreError> {
    // BEGIN IMMEDIATE holds the write lock: no claim or other swap runs
    // between this statement and the commit.
    let swapped = sqlx::query("UPDATE key_check SET sealed = ?1 WHERE id = 1 AND sealed = ?2")
        .bind(new)
        .bind(expected)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if swapped == 0 {
        return Err(StoreError::KeyCheckChanged);
    }
    Ok(())
}

async fn apply_in(
    tx: &mut Transaction<'static, Sqlite>,
    mutations: &[Mutation],
) -> Result<u64, StoreError> {
    for mutation in mutations {
        let statement = ENTITY_STATEMENTS.of(mutation);
        let mut query = sqlx::query(statement.sql)
            .bind(statement.kind)
            .bind(statement.key);
        if let Some(value) = statement.value {
            query = query.bind(value);
        }
        statement.check(query.execute(&mut **tx).await?.rows_affected())?;
    }
    let generation: i64 = sqlx::query_scalar(
        "UPDATE meta SET value = value + 1 WHERE name = 'generation' RETURNING value",
    )
    .fetch_one(&mut **tx)
    .await?;
    generation_from(generation)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::conformance::{self, ACCOUNT};
    use crate::model::User;
    use crate::snapshot::SnapshotCell;

    async fn in_memory() -> (SqliteStore, ()) {
        (SqliteStore::open_in_memory().await.unwrap(), ())
    }

    async fn temp_file() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("mayfly.db"))
            .await
            .unwrap();
        (store, dir)
    }

    mod in_memory_engine {
        use super::*;
        conformance::store_conformance_tests!(in_memory());
    }

    mod file_engine {
        use super::*;
        conformance::store_conformance_tests!(temp_file());
    }

    #[tokio::test]
    async fn expired_one_time_uses_are_deleted_every_so_often() {
        let (store, _dir) = temp_file().await;
        use crate::sqlite_uses::PRUNE_EVERY;
        for i in 0..PRUNE_EVERY - 1 {
            assert!(
                store
                    .record_first_use("s", &i.to_string(), 10, 5)
                    .await
                    .unwrap()
            );
        }
        let count = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM one_time_uses")
                .fetch_one(&store.pool)
                .await
                .unwrap()
        };
        assert_eq!(count().await, i64::try_from(PRUNE_EVERY - 1).unwrap());
        // The next use, at time 11, finds every earlier one expired.
        assert!(store.record_first_use("s", "last", 20, 11).await.unwrap());
        assert_eq!(count().await, 1);
    }

    #[tokio::test]
    async fn two_handles_on_one_database_accept_a_value_once() {
        let (first, dir) = temp_file().await;
        let second = SqliteStore::open(&dir.path().join("mayfly.db"))
            .await
            .unwrap();
        let (a, b, c) = tokio::join!(
            first.record_first_use("idp", "_x", 100, 1),
            second.record_first_use("idp", "_x", 100, 1),
            // The same handle twice at once: likely in one transaction.
            second.record_first_use("idp", "_x", 100, 1),
        );
        let firsts = [a.unwrap(), b.unwrap(), c.unwrap()];
        assert_eq!(firsts.iter().filter(|first| **first).count(), 1);
        assert!(!first.record_first_use("idp", "_x", 100, 2).await.unwrap());
    }

    #[tokio::test]
    async fn two_handles_claiming_the_key_check_at_once_learn_one_winner() {
        let (first, dir) = temp_file().await;
        let second = SqliteStore::open(&dir.path().join("mayfly.db"))
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            first.claim_key_check(&[1; 45]),
            second.claim_key_check(&[2; 45]),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a, b);
        assert!(a == [1; 45] || a == [2; 45], "{a:?}");
        assert_eq!(first.key_check().await.unwrap(), Some(a));
    }

    #[tokio::test]
    async fn a_database_of_an_older_schema_gains_an_empty_key_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mayfly.db");
        let store = SqliteStore::open(&path).await.unwrap();
        store.apply(conformance::one_of_each()).await.unwrap();
        // As a binary before the key check left it.
        sqlx::query("DROP TABLE key_check")
            .execute(&store.pool)
            .await
            .unwrap();
        sqlx::query("UPDATE meta SET value = 2 WHERE name = 'schema_version'")
            .execute(&store.pool)
            .await
            .unwrap();
        store.close().await;
        let reopened = SqliteStore::open(&path).await.unwrap();
        assert_eq!(reopened.key_check().await.unwrap(), None);
        assert_eq!(reopened.generation().await.unwrap(), 1);
        assert_eq!(reopened.claim_key_check(&[3; 45]).await.unwrap(), [3; 45]);
    }

    #[tokio::test]
    async fn open_creates_the_file_and_missing_parent_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("nested").join("mayfly.db");
        let store = SqliteStore::open(&path).await.unwrap();
        assert!(path.is_file());
        assert_eq!(store.generation().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn reopening_keeps_entities_and_generation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mayfly.db");
        let store = SqliteStore::open(&path).await.unwrap();
        store.apply(conformance::one_of_each()).await.unwrap();
        let rows = store.load_all().await.unwrap();
        store.close().await;

        let reopened = SqliteStore::open(&path).await.unwrap();
        assert_eq!(reopened.generation().await.unwrap(), 1);
        assert_eq!(reopened.load_all().await.unwrap(), rows);
    }

    #[tokio::test]
    async fn the_database_is_in_wal_mode() {
        let (store, _dir) = temp_file().await;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn open_refuses_a_schema_newer_than_this_binary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mayfly.db");
        let store = SqliteStore::open(&path).await.unwrap();
        sqlx::query("UPDATE meta SET value = 99 WHERE name = 'schema_version'")
            .execute(&store.pool)
            .await
            .unwrap();
        store.close().await;
        let error = SqliteStore::open(&path).await.unwrap_err();
        assert!(error.to_string().contains("schema version 99"), "{error}");
    }

    #[tokio::test]
    async fn open_fails_when_the_path_is_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let error = SqliteStore::open(dir.path()).await.unwrap_err();
        assert!(matches!(error, StoreError::Database(_)), "{error:?}");
    }

    #[tokio::test]
    async fn in_memory_stores_are_independent() {
        let a = SqliteStore::open_in_memory().await.unwrap();
        let b = SqliteStore::open_in_memory().await.unwrap();
        a.apply(conformance::one_of_each()).await.unwrap();
        assert!(b.load_all().await.unwrap().is_empty());
        assert_eq!(b.generation().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn two_handles_on_one_file_both_write_and_the_watcher_sees_the_other_within_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mayfly.db");
        // The server and an admin CLI command, each with its own pool.
        let server: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
        let cli = SqliteStore::open(&path).await.unwrap();

        let cell = Arc::new(SnapshotCell::load_from(server.as_ref()).await.unwrap());
        let watcher = cell.spawn_watcher(Arc::clone(&server), Duration::from_millis(50));

        server
            .apply(vec![
                Mutation::insert(&conformance::user(ACCOUNT, "alice", "/", "AIDA1")).unwrap(),
            ])
            .await
            .unwrap();
        let written = Instant::now();
        cli.apply(vec![
            Mutation::insert(&conformance::user(ACCOUNT, "bob", "/", "AIDA2")).unwrap(),
        ])
        .await
        .unwrap();
        // A concurrent burst from both sides must serialise, not fail.
        let (a, b) = tokio::join!(
            server.apply(vec![
                Mutation::put(&conformance::ring_key(1, None)).unwrap()
            ]),
            cli.apply(vec![
                Mutation::put(&conformance::ring_key(2, None)).unwrap()
            ]),
        );
        a.unwrap();
        b.unwrap();

        loop {
            let snapshot = cell.load_full();
            if snapshot.generation() == 4 {
                assert!(snapshot.user(ACCOUNT, "Alice").is_some());
                assert!(snapshot.user(ACCOUNT, "BOB").is_some());
                assert_eq!(snapshot.ring_keys().count(), 2);
                break;
            }
            assert!(
                written.elapsed() < Duration::from_secs(1),
                "the watcher did not see the CLI's change within one second"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        watcher.abort();
        let users: Vec<String> = cell
            .load()
            .users_in(ACCOUNT)
            .map(|u: &User| u.name.clone())
            .collect();
        assert_eq!(users, ["alice", "bob"]);
    }
}
