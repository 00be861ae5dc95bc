//! The harness the core integration tests share: a store initialized as
//! `mayfly serve` does at first start (in-memory SQLite, a fixed master key
//! and root key), a `Core` over it with the clock and audit sink a test
//! chooses, a clock the test moves, and requests signed with
//! `mayfly_sigv4` and sent through `Core::handle`.

#![allow(
    dead_code,
    reason = "each test file is its own crate and uses only part of the harness"
)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use mayfly_core::audit::MemoryAuditSink;
use mayfly_core::clock::{Clock, from_unix};
use mayfly_core::{ApiRequest, ApiResponse, Core, CoreConfig};
use mayfly_sigv4::{Credentials, SignableBody, SigningParams, UriEncoding};
use mayfly_store::{Mutation, SqliteStore, Store, StoreError, StoreFuture, StoredRow};
use mayfly_token::{MasterKey, SecretKey};

pub const ACCOUNT: &str = "000000000000";
pub const ROOT_KEY_ID: &str = "AKIAMAYFLYTESTROOT01";
pub const ROOT_SECRET: &str = "mayfly-test-root-secret-abcdefghijklmnop";
pub const MASTER_KEY_HEX: &str = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";
pub const HOST: &str = "127.0.0.1:7400";
pub const SOURCE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
/// The content type of Query API requests.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The master key every test core uses.
pub fn master_key() -> MasterKey {
    MasterKey::from_encoded(MASTER_KEY_HEX).unwrap()
}

/// A store initialized as `mayfly serve` does at first start, at
/// `created_at` (unix seconds), with the fixed root key.
pub async fn initialized_store(created_at: u64) -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let root = mayfly_core::admin::initialize(
        store.as_ref(),
        &master_key(),
        created_at,
        ACCOUNT,
        Some((
            ROOT_KEY_ID.to_owned(),
            SecretKey::new(ROOT_SECRET.to_owned()),
        )),
    )
    .await
    .unwrap();
    // The root key is the one given (returned for the caller to announce).
    assert_eq!(root.unwrap().access_key_id, ROOT_KEY_ID);
    store
}

/// A node over `store` reading `clock`, its audit events going to `audit`.
pub async fn core_over(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: Arc<MemoryAuditSink>,
) -> Core {
    // These cores run no refresher while their clocks jump minutes to
    // days, so their views never age out (stale_view.rs shows they would).
    let config = CoreConfig {
        max_view_age: Duration::MAX,
        ..CoreConfig::default()
    };
    Core::new(store, master_key(), clock, audit, config)
        .await
        .unwrap()
}

/// A clock the test moves (unix seconds).
#[derive(Debug)]
pub struct MovableClock(AtomicU64);

impl MovableClock {
    pub fn at(unix: u64) -> Arc<MovableClock> {
        Arc::new(MovableClock(AtomicU64::new(unix)))
    }

    pub fn unix(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn set(&self, unix: u64) {
        self.0.store(unix, Ordering::SeqCst);
    }
}

impl Clock for MovableClock {
    fn now(&self) -> SystemTime {
        from_unix(self.unix())
    }
}

/// A key pair (and session token) to sign with.
#[derive(Clone)]
pub struct Key {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl Key {
    pub fn root() -> Key {
        Key {
            id: ROOT_KEY_ID.to_owned(),
            secret: ROOT_SECRET.to_owned(),
            token: None,
        }
    }

    pub fn credentials(&self) -> Credentials<'_> {
        Credentials {
            access_key_id: &self.id,
            secret_access_key: &self.secret,
            session_token: self.token.as_deref(),
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    fn encode(text: &str) -> String {
        let mut out = String::new();
        for b in text.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn signing_params<'a>(
    key: &'a Key,
    service: &'a str,
    time: SystemTime,
    body: &'a [u8],
) -> SigningParams<'a> {
    SigningParams {
        credentials: key.credentials(),
        region: "us-east-1",
        service,
        time,
        encoding: UriEncoding::Double,
        body: SignableBody::Bytes(body),
        content_sha256_header: false,
    }
}

/// What a signed request carries besides the host and its signature.
pub struct Unsigned<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub content_type: &'a str,
    pub body: &'a [u8],
}

/// `request` sent to `core`, signed with `key` for `service` at the
/// core's time.
pub async fn send_signed(
    core: &Core,
    service: &str,
    key: &Key,
    request: Unsigned<'_>,
) -> ApiResponse {
    let Unsigned {
        method,
        path,
        query,
        content_type,
        body,
    } = request;
    let time = core.clock().now();
    let base = [
        ("host", HOST.as_bytes()),
        ("content-type", content_type.as_bytes()),
    ];
    let parts = mayfly_sigv4::RequestParts {
        method,
        path,
        query,
        headers: &base,
    };
    let signature =
        mayfly_sigv4::sign_headers(&parts, &signing_params(key, service, time, body)).unwrap();
    let mut headers: Vec<(&str, &[u8])> = base.to_vec();
    for (name, value) in &signature.headers {
        headers.push((name, value.as_bytes()));
    }
    core.handle(ApiRequest {
        method,
        path,
        query,
        headers: &headers,
        body,
        source_ip: SOURCE_IP,
        secure_transport: false,
    })
    .await
}

/// POST the form `body` to `core`, signed with `key` for `service` at the
/// core's time.
pub async fn send(core: &Core, service: &str, key: &Key, body: &str) -> ApiResponse {
    let request = Unsigned {
        method: "POST",
        path: "/",
        query: "",
        content_type: FORM_CONTENT_TYPE,
        body: body.as_bytes(),
    };
    send_signed(core, service, key, request).await
}

pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let i = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {text}"))
        + start.len();
    let j = text[i..].find(end).unwrap() + i;
    &text[i..j]
}

pub fn code_of(response: &ApiResponse) -> &str {
    between(&response.body, "<Code>", "</Code>")
}

/// The credentials in a GetSessionToken/AssumeRole/CreateAccessKey answer.
pub fn issued_key(response: &ApiResponse) -> Key {
    assert_eq!(response.status, 200, "{}", response.body);
    Key {
        id: between(&response.body, "<AccessKeyId>", "</AccessKeyId>").to_owned(),
        secret: between(&response.body, "<SecretAccessKey>", "</SecretAccessKey>").to_owned(),
        token: response
            .body
            .contains("<SessionToken>")
            .then(|| between(&response.body, "<SessionToken>", "</SessionToken>").to_owned()),
    }
}

/// What a test does around the reads of a [`HookedStore`]: make them fail
/// as an unreachable database does, or write as another node would between
/// a read and the caller's write. Both default to nothing.
pub trait ReadHooks: Send + Sync + std::fmt::Debug {
    /// Before `generation()` reads the store.
    fn before_generation(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// After `load_all()` read `rows` from `inner`, before they are returned.
    fn after_load_all<'a>(
        &'a self,
        _inner: &'a dyn Store,
        _rows: &'a [StoredRow],
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A real store with a test's [`ReadHooks`] around its reads; everything
/// else is delegated unchanged (fault injection, not a stand-in).
#[derive(Debug)]
pub struct HookedStore<H> {
    pub inner: Arc<dyn Store>,
    pub hooks: H,
}

impl<H: ReadHooks> Store for HookedStore<H> {
    fn load_all(&self) -> StoreFuture<'_, Result<Vec<StoredRow>, StoreError>> {
        Box::pin(async move {
            let rows = self.inner.load_all().await?;
            self.hooks
                .after_load_all(self.inner.as_ref(), &rows)
                .await?;
            Ok(rows)
        })
    }

    fn apply(&self, mutations: Vec<Mutation>) -> StoreFuture<'_, Result<u64, StoreError>> {
        self.inner.apply(mutations)
    }

    fn generation(&self) -> StoreFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            self.hooks.before_generation()?;
            self.inner.generation().await
        })
    }

    fn record_first_use(
        &self,
        scope: &str,
        id: &str,
        expires_at: u64,
        now: u64,
    ) -> StoreFuture<'_, Result<bool, StoreError>> {
        self.inner.record_first_use(scope, id, expires_at, now)
    }

    fn key_check(&self) -> StoreFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
        self.inner.key_check()
    }

    fn claim_key_check(&self, sealed: &[u8]) -> StoreFuture<'_, Result<Vec<u8>, StoreError>> {
        self.inner.claim_key_check(sealed)
    }

    fn apply_with_key_check(
        &self,
        mutations: Vec<Mutation>,
        expected_generation: u64,
        expected_key_check: &[u8],
        new_key_check: &[u8],
    ) -> StoreFuture<'_, Result<u64, StoreError>> {
        self.inner.apply_with_key_check(
            mutations,
            expected_generation,
            expected_key_check,
            new_key_check,
        )
    }
}
