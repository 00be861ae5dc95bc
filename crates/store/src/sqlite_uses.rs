//! One-time uses in SQLite ([`crate::Store::record_first_use`]), recorded
//! with group commit.
//!
//! A commit per use held AssumeRoleWithSAML to a tenth of AssumeRole's
//! rate: SQLite takes one writer at a time, and each commit appends to the
//! WAL and takes and releases its locks. So one task per store records
//! every use: the uses that arrive while a statement runs go together in
//! the next one, a single multi-row upsert that returns the rows it
//! inserted. Its connection has `synchronous = NORMAL`: a recorded
//! use survives the process crashing, but an OS crash or a power loss may
//! forget the uses recorded since the WAL was last synced, so an assertion
//! used just before could be used once more.

use std::collections::HashSet;

use sqlx::{Row, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;

/// Every this many recorded uses, the expired ones are deleted.
pub(crate) const PRUNE_EVERY: u64 = 1024;

/// Most uses recorded in one transaction.
const USES_PER_COMMIT: usize = 256;

/// A use to record, and where to answer whether it was the first.
#[derive(Debug)]
pub(crate) struct UseRequest {
    pub(crate) scope: String,
    pub(crate) id: String,
    pub(crate) expires_at: i64,
    pub(crate) now: i64,
    pub(crate) reply: oneshot::Sender<Result<bool, StoreError>>,
}

/// Start the task recording the uses sent to the returned sender, on the
/// current Tokio runtime; it ends when every sender is gone.
pub(crate) fn start(pool: SqlitePool) -> Result<mpsc::Sender<UseRequest>, StoreError> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| StoreError::Database("the store needs a Tokio runtime".to_owned()))?;
    let (requests, queue) = mpsc::channel(4 * USES_PER_COMMIT);
    runtime.spawn(record_uses(pool, queue));
    Ok(requests)
}

async fn record_uses(pool: SqlitePool, mut queue: mpsc::Receiver<UseRequest>) {
    let mut recorded: u64 = 0;
    let mut batch = Vec::with_capacity(USES_PER_COMMIT);
    while queue.recv_many(&mut batch, USES_PER_COMMIT).await > 0 {
        let count = batch.len() as u64;
        // Crossing a multiple of PRUNE_EVERY: prune, as of the earliest
        // `now` in the batch (so nothing live is deleted).
        let prune = (recorded % PRUNE_EVERY + count >= PRUNE_EVERY)
            .then(|| batch.iter().map(|use_| use_.now).min())
            .flatten();
        recorded = recorded.wrapping_add(count);
        match record_batch(&pool, &batch, prune).await {
            Ok(firsts) => {
                for (use_, first) in batch.drain(..).zip(firsts) {
                    let _ = use_.reply.send(Ok(first));
                }
            }
            Err(error) => {
                let message = error.to_string();
                for use_ in batch.drain(..) {
                    let _ = use_.reply.send(Err(StoreError::Database(message.clone())));
                }
            }
        }
    }
}

/// Record `batch` with one statement; whether each use was the first. A
/// value twice in the batch: its later uses are repeats of the first.
async fn record_batch(
    pool: &SqlitePool,
    batch: &[UseRequest],
    prune_before: Option<i64>,
) -> Result<Vec<bool>, StoreError> {
    let mut distinct: Vec<&UseRequest> = Vec::with_capacity(batch.len());
    let mut seen = HashSet::with_capacity(batch.len());
    for use_ in batch {
        if seen.insert((use_.scope.as_str(), use_.id.as_str())) {
            distinct.push(use_);
        }
    }
    // Expired as of the earliest `now`: a record some request of the batch
    // still counts as live is kept.
    let now = batch.iter().map(|use_| use_.now).min().unwrap_or(0);
    let mut sql = String::from("INSERT INTO one_time_uses (scope, id, expires_at) VALUES ");
    for i in 0..distinct.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?)");
    }
    // Inserted, or an expired record taken over: returned. A live record:
    // the WHERE keeps it, and it is not returned.
    sql.push_str(
        " ON CONFLICT (scope, id) DO UPDATE SET expires_at = excluded.expires_at
          WHERE one_time_uses.expires_at < ? RETURNING scope, id",
    );
    if let Some(now) = prune_before {
        sqlx::query("DELETE FROM one_time_uses WHERE expires_at < ?1")
            .bind(now)
            .execute(pool)
            .await?;
    }
    // One statement, atomic on its own: no BEGIN and COMMIT round trips.
    // Built from placeholders only: every value is bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
    for use_ in &distinct {
        query = query
            .bind(use_.scope.as_str())
            .bind(use_.id.as_str())
            .bind(use_.expires_at);
    }
    let rows = query.bind(now).fetch_all(pool).await?;
    let mut firsts = HashSet::with_capacity(rows.len());
    for row in rows {
        firsts.insert((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
    }
    // The first occurrence of each value takes the answer; later ones are
    // repeats.
    Ok(batch
        .iter()
        .map(|use_| firsts.remove(&(use_.scope.clone(), use_.id.clone())))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::SqliteStore;

    fn use_(id: &str, expires_at: i64, now: i64) -> UseRequest {
        UseRequest {
            scope: "idp".to_owned(),
            id: id.to_owned(),
            expires_at,
            now,
            reply: oneshot::channel().0,
        }
    }

    #[tokio::test]
    async fn a_batch_answers_each_use_and_a_repeat_within_it_is_a_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mayfly.db");
        drop(SqliteStore::open(&path).await.unwrap());
        let pool = SqlitePool::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let batch = [use_("a", 100, 1), use_("a", 100, 1), use_("b", 100, 1)];
        let firsts = record_batch(&pool, &batch, None).await.unwrap();
        assert_eq!(firsts, [true, false, true]);
        // Live records refuse; an expired one (as of the earliest `now`) is
        // taken over.
        let batch = [use_("b", 100, 2), use_("c", 500, 150), use_("a", 500, 101)];
        let firsts = record_batch(&pool, &batch, None).await.unwrap();
        assert_eq!(firsts, [false, true, false]);
        let batch = [use_("a", 500, 101)];
        assert_eq!(
            record_batch(&pool, &batch, Some(101)).await.unwrap(),
            [true]
        );
    }
}
