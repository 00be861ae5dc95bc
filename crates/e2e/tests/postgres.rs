//! Several nodes on one PostgreSQL store (DESIGN.md "Storage and scale"):
//! two `mayfly serve` processes with their own data directories and the
//! same `--store-url` see each other's changes within one second.
//!
//! Each test gets a database of its own on the server named by
//! `MAYFLY_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped at the end; without
//! a reachable server the tests fail, they never pass silently.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Result;
use mayfly_e2e::{Server, ServerOptions, admin, error_code, key_credentials};
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

/// The server the tests use.
fn server_url() -> String {
    std::env::var("MAYFLY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database of this test's own, dropped (with its connections) at the end.
#[derive(Debug)]
struct Database {
    name: String,
    /// Its URL, for `--store-url`.
    url: String,
}

impl Database {
    async fn create() -> Self {
        let base = server_url();
        let mut admin = PgConnectOptions::from_str(&base)
            .unwrap()
            .connect()
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "PostgreSQL is unreachable at {} ({error}): these tests need it; start it or set MAYFLY_TEST_POSTGRES_URL",
                    mayfly_store::redact_url(&base)
                )
            });
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("mayfly_e2e_{}_{nanos}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap();
        sqlx::Connection::close(admin).await.unwrap();
        Database {
            url: with_database(&base, &name),
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let base = server_url();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime: a thread with a runtime of
        // its own does the async work.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime
                .block_on(async move {
                    let mut admin = PgConnectOptions::from_str(&base)?.connect().await?;
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await?;
                    sqlx::Connection::close(admin).await
                })
                .map_err(std::io::Error::other)
        })
        .join();
    }
}

/// `url` naming database `name` instead (the path replaced, the query kept).
fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let authority_start = head.find("://").map_or(0, |i| i + 3);
    let server = match head[authority_start..].find('/') {
        Some(slash) => &head[..authority_start + slash],
        None => head,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

fn node(database: &Database) -> Result<Server> {
    Server::start_with(ServerOptions {
        args: vec!["--store-url".to_owned(), database.url.clone()],
        ..ServerOptions::default()
    })
}

/// Retry `check` every 20 ms until it answers `true`; the time it took,
/// failing after a second.
async fn within_a_second<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{what}: not seen by the other node within one second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_user_made_on_one_node_signs_in_on_the_other_until_its_key_is_deleted() -> Result<()> {
    let database = Database::create().await;
    let a = node(&database)?;
    let b = node(&database)?;
    assert_ne!(a.data_dir, b.data_dir);

    let iam = a.iam(a.root());
    iam.create_user().user_name("alice").send().await?;
    let key = iam.create_access_key().user_name("alice").send().await?;
    let alice = key_credentials(key.access_key().expect("key"));

    let sts_b = b.sts(alice.clone());
    within_a_second("the new user and key", || {
        let sts = sts_b.clone();
        async move {
            match sts.get_caller_identity().send().await {
                Ok(identity) => {
                    assert_eq!(identity.arn(), Some("arn:aws:iam::000000000000:user/alice"));
                    true
                }
                Err(_) => false,
            }
        }
    })
    .await;

    iam.delete_access_key()
        .user_name("alice")
        .access_key_id(alice.access_key_id())
        .send()
        .await?;
    within_a_second("the deleted key", || {
        let sts = sts_b.clone();
        async move {
            match sts.get_caller_identity().send().await {
                Ok(_) => false,
                Err(error) => {
                    assert_eq!(error_code(&error).as_deref(), Some("InvalidClientTokenId"));
                    true
                }
            }
        }
    })
    .await;
    Ok(())
}

#[tokio::test]
async fn an_admin_command_with_the_store_url_acts_on_the_shared_store() -> Result<()> {
    let database = Database::create().await;
    let a = node(&database)?;
    let b = node(&database)?;
    // The admin command has a data directory of its own (the master key
    // comes from MAYFLY_MASTER_KEY).
    let elsewhere = tempfile::tempdir()?;
    let output = admin(
        elsewhere.path(),
        &["keys", "rotate", "--store-url", &database.url],
    )?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed = |server: &Server| {
        let output = admin(
            &server.data_dir,
            &["keys", "list", "--store-url", &database.url],
        )
        .unwrap();
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let list = listed(&a);
    assert_eq!(list.lines().count(), 3, "{list}");
    assert_eq!(list, listed(&b));
    // Both nodes keep answering with the new active key.
    for server in [&a, &b] {
        within_a_second("the rotated key", || {
            let sts = server.sts(server.root());
            async move { sts.get_session_token().send().await.is_ok() }
        })
        .await;
    }
    Ok(())
}

#[tokio::test]
async fn store_url_errors_name_the_problem_but_never_the_password() -> Result<()> {
    let elsewhere = tempfile::tempdir()?;
    // Nothing listens on port 1.
    let output = admin(
        elsewhere.path(),
        &[
            "keys",
            "list",
            "--store-url",
            "postgres://mayfly:hunter2-secret@127.0.0.1:1/iam",
        ],
    )?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("postgres://mayfly:***@127.0.0.1:1/iam"),
        "{stderr}"
    );
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    let output = admin(
        elsewhere.path(),
        &[
            "keys",
            "list",
            "--store-url",
            "mysql://root:hunter2-secret@db/iam",
        ],
    )?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("scheme `mysql` is not supported"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn serve_logs_the_store_url_without_its_password() -> Result<()> {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Command;

    let database = Database::create().await;
    // A URL with a password: the one given, or one the (trusting) test
    // server ignores.
    let (url, secret) = with_password(&database.url);
    let data = tempfile::tempdir()?;
    let mut child = mayfly_e2e::serve_command(data.path())?
        .env("MAYFLY_STORE_URL", &url)
        .env("MAYFLY_MASTER_KEY", mayfly_e2e::MASTER_KEY)
        .env("MAYFLY_LOG", "info")
        .spawn()?;
    let stdout = child.stdout.take().expect("stdout");
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.starts_with("mayfly listening s3="));
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready, "mayfly serve did not become ready");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)?;
    assert!(stderr.contains(":***@"), "{stderr}");
    assert!(!stderr.contains(&secret), "{stderr}");

    // `--help` never shows the variable's value.
    let help = Command::new(mayfly_e2e::mayfly_binary()?)
        .args(["keys", "list", "--help"])
        .env("MAYFLY_STORE_URL", &url)
        .output()?;
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--store-url"), "{help}");
    assert!(!help.contains(&secret), "{help}");
    Ok(())
}

/// `url` with a password in its user info, and that password.
fn with_password(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, _)) if user_info.contains(':') => {
            let password = user_info.split_once(':').expect("a password").1;
            (url.to_owned(), password.to_owned())
        }
        Some((user, host)) => (
            format!("{scheme}://{user}:hunter2-secret@{host}{tail}"),
            "hunter2-secret".to_owned(),
        ),
        None => (
            format!("{scheme}://postgres:hunter2-secret@{authority}{tail}"),
            "hunter2-secret".to_owned(),
        ),
    }
}

#[tokio::test]
async fn a_node_without_the_shared_master_key_refuses_to_start() -> Result<()> {
    use std::process::Stdio;

    let database = Database::create().await;
    let _first = node(&database)?;
    let data = tempfile::tempdir()?;
    let mut second = mayfly_e2e::serve_command(data.path())?
        .args(["--store-url", &database.url])
        .env_remove("MAYFLY_MASTER_KEY")
        .stdout(Stdio::null())
        .spawn()?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait()? {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = second.kill();
            panic!("a node without the master key started");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().expect("stderr"), &mut stderr)?;
    assert!(stderr.contains("same MAYFLY_MASTER_KEY"), "{stderr}");
    assert!(!data.path().join("master.key").exists());
    Ok(())
}

/// Another valid master key than `mayfly_e2e::MASTER_KEY`.
const OTHER_MASTER_KEY: &str = "0202020202020202020202020202020202020202020202020202020202020202";

/// A `mayfly serve` on `database` with data directory `data` and master
/// key `key` (`None`: none given, so the node reads or generates
/// `master.key`); stdout and stderr piped.
fn spawn_node(database: &Database, data: &std::path::Path, key: Option<&str>) -> Result<Child> {
    let mut command = mayfly_e2e::serve_command(data)?;
    command
        .args(["--store-url", &database.url])
        .env("MAYFLY_LOG", "warn");
    match key {
        Some(key) => command.env("MAYFLY_MASTER_KEY", key),
        None => command.env_remove("MAYFLY_MASTER_KEY"),
    };
    Ok(command.spawn()?)
}

/// A node that came up, killed on drop.
#[derive(Debug)]
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How a spawned node's start ended.
#[derive(Debug)]
enum Started {
    /// It printed its listening lines (and runs until this is dropped).
    Up { _node: Running },
    /// It exited unsuccessfully, with this on stderr.
    Refused(String),
}

/// Wait (at most 30 s) until `child` is listening or has exited.
async fn started(mut child: Child) -> Result<Started> {
    let stdout = child.stdout.take().expect("stdout");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ready = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.starts_with("mayfly listening s3="));
        let _ = ready_tx.send(ready);
    });
    let start = Instant::now();
    loop {
        if ready_rx.try_recv() == Ok(true) {
            return Ok(Started::Up {
                _node: Running(child),
            });
        }
        if let Some(status) = child.try_wait()? {
            assert!(!status.success(), "mayfly serve exited successfully");
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut stderr)?;
            return Ok(Started::Refused(stderr));
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("mayfly serve neither came up nor exited within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The refusal of a master key the store's key check does not accept.
fn assert_wrong_key_refusal(stderr: &str, database: &Database) {
    assert!(
        stderr.contains("does not match the one that sealed the secrets of the store"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "give every node the same MAYFLY_MASTER_KEY (or the first node's master.key)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(&mayfly_store::redact_url(&database.url)),
        "{stderr}"
    );
    assert!(!stderr.contains(mayfly_e2e::MASTER_KEY), "{stderr}");
    assert!(!stderr.contains(OTHER_MASTER_KEY), "{stderr}");
}

#[tokio::test]
async fn a_node_with_another_master_key_refuses_to_start() -> Result<()> {
    let database = Database::create().await;
    let first = node(&database)?;
    let data = tempfile::tempdir()?;
    let second = spawn_node(&database, data.path(), Some(OTHER_MASTER_KEY))?;
    match started(second).await? {
        Started::Up { .. } => panic!("a node with another master key started"),
        Started::Refused(stderr) => {
            assert_wrong_key_refusal(&stderr, &database);
            assert!(
                stderr.contains("the master key from MAYFLY_MASTER_KEY"),
                "{stderr}"
            );
        }
    }
    // Admin commands are refused the same way.
    let output = Command::new(mayfly_e2e::mayfly_binary()?)
        .args(["keys", "list", "--store-url", &database.url])
        .arg("--data-dir")
        .arg(data.path())
        .env("MAYFLY_MASTER_KEY", OTHER_MASTER_KEY)
        .stdin(Stdio::null())
        .output()?;
    assert!(!output.status.success());
    assert_wrong_key_refusal(&String::from_utf8_lossy(&output.stderr), &database);
    // The first node is unaffected.
    first.sts(first.root()).get_caller_identity().send().await?;
    Ok(())
}

#[tokio::test]
async fn nodes_started_at_once_on_an_empty_store_never_both_come_up_with_different_keys()
-> Result<()> {
    // Given keys, then generated ones (each node writes its own
    // master.key); several rounds to meet the race in its several shapes.
    for round in 0..4 {
        let keys = if round % 2 == 0 {
            [Some(mayfly_e2e::MASTER_KEY), Some(OTHER_MASTER_KEY)]
        } else {
            [None, None]
        };
        let database = Database::create().await;
        let dirs = [tempfile::tempdir()?, tempfile::tempdir()?];
        let a = spawn_node(&database, dirs[0].path(), keys[0])?;
        let b = spawn_node(&database, dirs[1].path(), keys[1])?;
        let (a, b) = tokio::join!(started(a), started(b));
        let outcomes = [a?, b?];
        let up: Vec<usize> = (0..2)
            .filter(|&i| matches!(outcomes[i], Started::Up { .. }))
            .collect();
        assert_eq!(up.len(), 1, "round {round}: {outcomes:?}");
        let (winner, loser) = (up[0], 1 - up[0]);
        let Started::Refused(stderr) = &outcomes[loser] else {
            unreachable!("one node is up");
        };
        assert!(
            stderr.contains("same MAYFLY_MASTER_KEY"),
            "round {round}: {stderr}"
        );
        assert!(!stderr.contains(mayfly_e2e::MASTER_KEY), "{stderr}");
        assert!(!stderr.contains(OTHER_MASTER_KEY), "{stderr}");
        if keys[0].is_none() {
            // The loser keeps no key of its own: a retry after copying
            // the winner's master.key (or with no file at all) is clean.
            assert!(dirs[winner].path().join("master.key").exists());
            assert!(
                !dirs[loser].path().join("master.key").exists(),
                "round {round}: the refused node kept its generated master.key"
            );
            std::fs::copy(
                dirs[winner].path().join("master.key"),
                dirs[loser].path().join("master.key"),
            )?;
            let retry = spawn_node(&database, dirs[loser].path(), None)?;
            assert!(
                matches!(started(retry).await?, Started::Up { .. }),
                "round {round}: the retry with the winner's key did not come up"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_node_that_cannot_read_its_store_refuses_requests_once_its_view_is_too_old() -> Result<()>
{
    let database = Database::create().await;
    let node = Server::start_with(ServerOptions {
        args: vec![
            "--store-url".to_owned(),
            database.url.clone(),
            "--max-view-age-seconds".to_owned(),
            "1".to_owned(),
        ],
        ..ServerOptions::default()
    })?;
    let sts = node.sts(node.root());
    sts.get_caller_identity().send().await?;
    assert_eq!(healthz(&node)?, 200);

    // The store becomes unreadable: its tables are gone.
    let mut connection = PgConnectOptions::from_str(&database.url)?.connect().await?;
    sqlx::query("DROP SCHEMA public CASCADE")
        .execute(&mut connection)
        .await?;
    sqlx::Connection::close(connection).await?;

    // Served from the last view for at most a second, then refused.
    let start = Instant::now();
    loop {
        match sts.get_caller_identity().send().await {
            Ok(_) => {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "still served from a stale view after {:?}",
                    start.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => {
                assert_eq!(error_code(&error).as_deref(), Some("ServiceUnavailable"));
                break;
            }
        }
    }
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "refused too early"
    );
    assert_eq!(healthz(&node)?, 503);
    Ok(())
}

/// The status `GET /healthz` answers.
fn healthz(node: &Server) -> Result<u16> {
    let host = node.endpoint.trim_start_matches("http://");
    let response = mayfly_e2e::send_raw(
        &node.endpoint,
        "GET",
        "/healthz",
        &[("Host".to_owned(), host.to_owned())],
        b"",
    )?;
    Ok(response.status)
}
