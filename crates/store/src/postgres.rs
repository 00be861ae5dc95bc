//! The engine for several nodes: one PostgreSQL database with the same
//! schema as SQLite's, every node stateless apart from its snapshot
//! (DESIGN.md "Storage and scale").
//!
//! Writers on several nodes serialize on one row lock: each `apply`
//! transaction first bumps `meta.generation` (`UPDATE … RETURNING`), so
//! concurrent batches run one after another and each gets its own
//! generation, as SQLite's `BEGIN IMMEDIATE` does for processes sharing a
//! file. One-time uses are a single `INSERT … ON CONFLICT DO UPDATE … WHERE`
//! statement, atomic across nodes.
//!
//! Change propagation: DESIGN.md names LISTEN/NOTIFY; Mayfly polls instead.
//! Every node's refresher reads `generation()` (one primary-key row) every
//! 250 ms, as it does for SQLite, which meets the rule that every node sees
//! a change within one second, needs no dedicated listening connection to
//! re-establish after a failover, and works behind transaction-pooling
//! proxies that cannot LISTEN.
//!
//! The store URL may carry a password: it never appears in a message or a
//! log; [`redact_url`] masks it wherever the URL is shown.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Postgres, Row, Transaction};

use crate::entity::{Mutation, StoredRow};
use crate::error::StoreError;
use crate::store::{EntityStatements, Store, StoreFuture, check_follows, finish, generation_from};

/// Schema migrations, the PostgreSQL spelling of SQLite's, step for step
/// (`meta.schema_version` counts the steps applied). Keys are `COLLATE "C"`
/// so rows sort bytewise, as SQLite's `BINARY` does. Never edit a released
/// step: append, in both engines.
pub(crate) const MIGRATIONS: &[&[&str]] = &[
    &[
        r#"CREATE TABLE IF NOT EXISTS entities (
        kind TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    )"#,
        "INSERT INTO meta (name, value) VALUES ('generation', 0) ON CONFLICT (name) DO NOTHING",
    ],
    &[
        r#"CREATE TABLE IF NOT EXISTS one_time_uses (
        scope TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (scope, id)
    )"#,
        "CREATE INDEX IF NOT EXISTS one_time_uses_expiry ON one_time_uses (expires_at)",
    ],
    &["CREATE TABLE IF NOT EXISTS key_check (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        sealed BYTEA NOT NULL
    )"],
];

/// Every this many uses recorded through one handle, the expired ones are
/// deleted (by a task of their own, so that use does not wait for it).
pub(crate) const PRUNE_EVERY: u64 = 1024;

/// Connections per node.
const MAX_CONNECTIONS: u32 = 8;

/// How long an operation waits for a connection (or to connect) before
/// failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL `Store`.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The database, for messages: `host:port/database`, never credentials.
    target: String,
    /// Uses recorded through this handle, for pruning every `PRUNE_EVERY`.
    recorded: Arc<AtomicU64>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connect to the database named by `url` (`postgres://` or
    /// `postgresql://`, libpq's URL form: `sslmode`, `sslrootcert`,
    /// `options`, …) and bring its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = connect_options(url)?;
        Self::connect_with(options).await
    }

    /// Connect with ready-made options (tests use them to set a
    /// `search_path`) and bring the schema up to date.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let target = describe(&options);
        let cannot_connect = |reason: String| {
            StoreError::Database(format!(
                "cannot connect to PostgreSQL at {target}: {reason}"
            ))
        };
        // One connection first, on its own: the pool would only report a
        // timeout, this says why (refused, authentication, TLS).
        let mut connection = tokio::time::timeout(ACQUIRE_TIMEOUT, options.connect())
            .await
            .map_err(|_| cannot_connect(format!("no answer within {ACQUIRE_TIMEOUT:?}")))?
            .map_err(|error| cannot_connect(error.to_string()))?;
        let tx = connection.begin().await?;
        migrate(tx).await?;
        connection.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|error| cannot_connect(error.to_string()))?;
        Ok(PostgresStore {
            pool,
            target,
            recorded: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Close the pool (waits for connections in use to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn apply_batch(&self, mutations: Vec<Mutation>) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
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

    async fn read_key_check(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT sealed FROM key_check WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn insert_key_check(&self, sealed: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        // A concurrent claim's insert makes this one wait for its commit
        // (then do nothing), or for its rollback (then insert): either way
        // a committed row exists afterwards, never deleted (only a
        // rotation's swap replaces it), and the read (a statement of its
        // own, so a fresh snapshot) finds it.
        sqlx::query(
            "INSERT INTO key_check (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
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

    async fn first_use(
        &self,
        scope: String,
        id: String,
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let expires_at = i64::try_from(expires_at).unwrap_or(i64::MAX);
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let recorded = self
            .recorded
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        if recorded.is_multiple_of(PRUNE_EVERY) {
            // Behind the sign-in, not in its way: a failed prune only
            // leaves expired rows for the next one.
            let pool = self.pool.clone();
            tokio::spawn(async move {
                let pruned = sqlx::query("DELETE FROM one_time_uses WHERE expires_at < $1")
                    .bind(now)
                    .execute(&pool)
                    .await;
                if let Err(error) = pruned {
                    tracing::warn!(%error, "pruning expired one-time uses failed");
                }
            });
        }
        // Inserted, or an expired record taken over: a row comes back. A
        // live record: the WHERE keeps it and nothing comes back. One
        // statement: a concurrent insert of the same value on another node
        // waits for this one and then sees it as live.
        let row = sqlx::query(
            "INSERT INTO one_time_uses (scope, id, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (scope, id) DO UPDATE SET expires_at = excluded.expires_at
             WHERE one_time_uses.expires_at < $4
             RETURNING 1",
        )
        .bind(scope)
        .bind(id)
        .bind(expires_at)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}

impl Store for PostgresStore {
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

/// Whether `url` names a PostgreSQL database (`postgres://` or
/// `postgresql://`, any case).
pub fn is_postgres_url(url: &str) -> bool {
    url.split_once("://").is_some_and(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql")
    })
}

/// `url` with its password (in the user info or a `password=` query
/// parameter) replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".to_owned();
    };
    // The user info ends at the last `@` anywhere: a password may hold an
    // unencoded `/`, `?` or `#` (masking too much is harmless).
    let (user_info, rest) = match rest.rsplit_once('@') {
        Some((user_info, rest)) => (Some(user_info), rest),
        None => (None, rest),
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(host_end);
    let authority = match user_info {
        Some(user_info) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => host.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((query, fragment)) => (query, Some(fragment)),
                None => (query, None),
            };
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            match fragment {
                Some(fragment) => format!("{path}?{}#{fragment}", pairs.join("&")),
                None => format!("{path}?{}", pairs.join("&")),
            }
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Parse a store URL; messages show it redacted.
fn connect_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    if !is_postgres_url(url) {
        return Err(StoreError::Database(format!(
            "store URL `{}` is not a postgres:// or postgresql:// URL",
            redact_url(url)
        )));
    }
    PgConnectOptions::from_str(url).map_err(|error| {
        StoreError::Database(format!(
            "store URL `{}` is not valid: {error}",
            redact_url(url)
        ))
    })
}

/// `host:port/database` (or the socket path), for messages.
fn describe(options: &PgConnectOptions) -> String {
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    format!("{host}/{}", options.get_database().unwrap_or_default())
}

/// Bring the schema up to date in `tx`, committed on success.
async fn migrate(mut tx: Transaction<'_, Postgres>) -> Result<(), StoreError> {
    let result = migrate_in(&mut tx).await;
    finish(tx, result).await
}

async fn migrate_in(tx: &mut Transaction<'_, Postgres>) -> Result<(), StoreError> {
    // Nodes starting together on a fresh database wait for each other here
    // instead of racing to create the same tables (one lock per schema).
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtext('mayfly-migrate/' || coalesce(current_schema(), '')))",
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS meta (name TEXT COLLATE \"C\" PRIMARY KEY NOT NULL, value BIGINT NOT NULL)",
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
        "INSERT INTO meta (name, value) VALUES ('schema_version', $1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The entity statements (kind, key, value bound in that order).
const ENTITY_STATEMENTS: EntityStatements = EntityStatements {
    insert: "INSERT INTO entities (kind, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (kind, key) DO NOTHING",
    update: "UPDATE entities SET value = $3 WHERE kind = $1 AND key = $2",
    put: "INSERT INTO entities (kind, key, value) VALUES ($1, $2, $3)
          ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
    delete: "DELETE FROM entities WHERE kind = $1 AND key = $2",
};

/// Replace the key check with `new` if it is `expected`, in `tx`.
async fn swap_key_check_in(
    tx: &mut Transaction<'static, Postgres>,
    expected: &[u8],
    new: &[u8],
) -> Result<(), StoreError> {
    // The row lock taken here is held to commit: a concurrent swap waits,
    // then finds the new value and changes nothing.
    let swapped = sqlx::query("UPDATE key_check SET sealed = $1 WHERE id = 1 AND sealed = $2")
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
    tx: &mut Transaction<'static, Postgres>,
    mutations: &[Mutation],
) -> Result<u64, StoreError> {
    // First: the row lock that serializes writers on every node (held to
    // commit or rollback); the new value is seen by others only at commit.
    let generation: i64 = sqlx::query_scalar(
        "UPDATE meta SET value = value + 1 WHERE name = 'generation' RETURNING value",
    )
    .fetch_one(&mut **tx)
    .await?;
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
    generation_from(generation)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::conformance::{self, ACCOUNT};
    use crate::snapshot::SnapshotCell;

    /// The server the tests use.
    fn test_url() -> String {
        std::env::var("MAYFLY_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    }

    /// A schema of its own for one test, dropped (best effort) with it.
    #[derive(Debug)]
    struct Schema {
        name: String,
        options: PgConnectOptions,
    }

    impl Schema {
        async fn create() -> Self {
            let url = test_url();
            let options = PgConnectOptions::from_str(&url).unwrap();
            let mut admin = options.connect().await.unwrap_or_else(|error| {
                    panic!(
                        "PostgreSQL is unreachable at {} ({error}): the PostgreSQL store tests need it; start it or set MAYFLY_TEST_POSTGRES_URL",
                        redact_url(&url)
                    )
                });
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            let name = format!(
                "mayfly_test_{}_{}_{nanos}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
                .execute(&mut admin)
                .await
                .unwrap();
            admin.close().await.unwrap();
            Schema { name, options }
        }

        fn options(&self) -> PgConnectOptions {
            self.options
                .clone()
                .options([("search_path", self.name.as_str())])
        }

        async fn store(&self) -> PostgresStore {
            PostgresStore::connect_with(self.options()).await.unwrap()
        }
    }

    impl Drop for Schema {
        fn drop(&mut self) {
            let options = self.options.clone();
            let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
            // Drop runs inside the test's runtime: a thread of its own with
            // its own runtime does the async work.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime
                    .block_on(async move {
                        let mut admin = options.connect().await?;
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&mut admin)
                            .await?;
                        admin.close().await?;
                        Ok::<_, sqlx::Error>(())
                    })
                    .map_err(std::io::Error::other)
            })
            .join();
        }
    }

    async fn fresh_schema() -> (PostgresStore, Schema) {
        let schema = Schema::create().await;
        (schema.store().await, schema)
    }

    mod postgres_engine {
        use super::*;
        conformance::store_conformance_tests!(fresh_schema());
    }

    #[test]
    fn the_schema_has_as_many_steps_as_sqlites() {
        assert_eq!(MIGRATIONS.len(), crate::sqlite::MIGRATIONS.len());
        for (postgres, sqlite) in MIGRATIONS.iter().zip(crate::sqlite::MIGRATIONS) {
            assert_eq!(postgres.len(), sqlite.len());
        }
    }

    #[test]
    fn redact_url_masks_passwords_and_keeps_the_rest() {
        assert_eq!(
            redact_url("postgres://mayfly:s3cr%40t@db.example:5432/iam?sslmode=require"),
            "postgres://mayfly:***@db.example:5432/iam?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://db/iam?user=m&password=s3cret&sslmode=verify-full"),
            "postgresql://db/iam?user=m&password=***&sslmode=verify-full"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact_url("s3cret"), "<not a URL>");
        // A password with unencoded delimiters is masked whole.
        for url in [
            "postgres://u:pa/ss@db/iam",
            "postgres://u:p?s#w@db/iam?sslmode=require",
        ] {
            let shown = redact_url(url);
            assert!(shown.starts_with("postgres://u:***@db/iam"), "{shown}");
        }
    }

    #[test]
    fn only_postgres_schemes_are_postgres_urls() {
        assert!(is_postgres_url("postgres://h/db"));
        assert!(is_postgres_url("PostgreSQL://h/db"));
        assert!(!is_postgres_url("sqlite://mayfly.db"));
        assert!(!is_postgres_url("mysql://h/db"));
        assert!(!is_postgres_url("postgres:h"));
    }

    #[tokio::test]
    async fn connection_failures_never_show_the_password() {
        // Port 1: nothing listens there.
        let url = "postgres://mayfly:hunter2-secret@127.0.0.1:1/iam?password=hunter3-secret";
        let error = PostgresStore::connect(url).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains("127.0.0.1:1/iam"), "{message}");
        assert!(!message.contains("hunter"), "{message}");
        let error = PostgresStore::connect("mysql://root:hunter2-secret@h/db")
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("mysql://root:***@h/db"), "{message}");
        assert!(!message.contains("hunter"), "{message}");
    }

    #[tokio::test]
    async fn debug_never_shows_the_password() {
        let schema = Schema::create().await;
        let store = PostgresStore::connect_with(schema.options().password("hunter2-secret"))
            .await
            .unwrap();
        let debug = format!("{store:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("PostgresStore"), "{debug}");
    }

    #[tokio::test]
    async fn expired_one_time_uses_are_deleted_every_so_often() {
        let (store, _schema) = fresh_schema().await;
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
        // The next use, at time 11, finds every earlier one expired and
        // deletes them behind it.
        assert!(store.record_first_use("s", "last", 20, 11).await.unwrap());
        for _ in 0..100 {
            if count().await == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(count().await, 1);
    }

    #[tokio::test]
    async fn two_nodes_accept_a_one_time_value_once() {
        let schema = Schema::create().await;
        let (first, second) = (schema.store().await, schema.store().await);
        let (a, b, c) = tokio::join!(
            first.record_first_use("idp", "_x", 100, 1),
            second.record_first_use("idp", "_x", 100, 1),
            second.record_first_use("idp", "_x", 100, 1),
        );
        let firsts = [a.unwrap(), b.unwrap(), c.unwrap()];
        assert_eq!(firsts.iter().filter(|first| **first).count(), 1);
        assert!(!first.record_first_use("idp", "_x", 100, 2).await.unwrap());
    }

    #[tokio::test]
    async fn concurrent_batches_from_two_nodes_each_get_their_own_generation() {
        let schema = Schema::create().await;
        let (first, second) = (schema.store().await, schema.store().await);
        let mut batches = tokio::task::JoinSet::new();
        for i in 0..20u32 {
            let store = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            batches.spawn(async move {
                store
                    .apply(vec![
                        Mutation::put(&conformance::ring_key(i % 3, None)).unwrap(),
                    ])
                    .await
            });
        }
        let mut generations = Vec::new();
        while let Some(generation) = batches.join_next().await {
            generations.push(generation.unwrap().unwrap());
        }
        generations.sort_unstable();
        assert_eq!(generations, (1..=20).collect::<Vec<u64>>());
        assert_eq!(second.generation().await.unwrap(), 20);
    }

    #[tokio::test]
    async fn nodes_starting_together_on_a_fresh_schema_migrate_once() {
        let schema = Schema::create().await;
        let (a, b, c) = tokio::join!(schema.store(), schema.store(), schema.store());
        for store in [&a, &b, &c] {
            assert_eq!(store.generation().await.unwrap(), 0);
        }
    }

    #[tokio::test]
    async fn nodes_claiming_the_key_check_at_once_learn_one_winner() {
        let schema = Schema::create().await;
        let (first, second, third) = tokio::join!(schema.store(), schema.store(), schema.store());
        let (a, b, c) = tokio::join!(
            first.claim_key_check(&[1; 45]),
            second.claim_key_check(&[2; 45]),
            third.claim_key_check(&[3; 45]),
        );
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert!([[1; 45], [2; 45], [3; 45]].contains(&<[u8; 45]>::try_from(a.as_slice()).unwrap()));
        assert_eq!(second.key_check().await.unwrap(), Some(a));
    }

    #[tokio::test]
    async fn connect_refuses_a_schema_newer_than_this_binary() {
        let (store, schema) = fresh_schema().await;
        sqlx::query("UPDATE meta SET value = 99 WHERE name = 'schema_version'")
            .execute(&store.pool)
            .await
            .unwrap();
        store.close().await;
        let error = PostgresStore::connect_with(schema.options())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("schema version 99"), "{error}");
    }

    #[tokio::test]
    async fn another_node_sees_a_change_within_a_second() {
        let schema = Schema::create().await;
        let server: Arc<dyn Store> = Arc::new(schema.store().await);
        let other = schema.store().await;
        let cell = Arc::new(SnapshotCell::load_from(server.as_ref()).await.unwrap());
        let watcher = cell.spawn_watcher(Arc::clone(&server), Duration::from_millis(250));
        other
            .apply(vec![
                Mutation::insert(&conformance::user(ACCOUNT, "alice", "/", "AIDA1")).unwrap(),
            ])
            .await
            .unwrap();
        let written = Instant::now();
        while cell.load().user(ACCOUNT, "alice").is_none() {
            assert!(
                written.elapsed() < Duration::from_secs(1),
                "the watcher did not see the other node's change within one second"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        watcher.abort();
    }
}
