//! A node whose configuration view is stale refuses requests instead of
//! serving old permissions: the real in-memory SQLite store behind a
//! wrapper that, when told to, fails `generation()` and `load_all()` as an
//! unreachable or unreadable database does, and a clock the test moves past
//! `CoreConfig::max_view_age`.
//!
//! What it shows: a failed refresh within the maximum age keeps serving (a
//! store hiccup refuses nothing); past it every front end that
//! authenticates with the view (the query protocol, Roles Anywhere, IoT and
//! the gateway API the S3 gateway and the authorizer use) answers 503
//! `ServiceUnavailable`; one successful refresh serves again.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{
    HookedStore, Key, MovableClock, ReadHooks, SOURCE_IP, code_of, initialized_store, master_key,
    send,
};
use mayfly_core::audit::{AuditOutcome, MemoryAuditSink};
use mayfly_core::iot::IotCredentialsRequest;
use mayfly_core::{ApiRequest, ApiResponse, Core, CoreConfig, GatewayRequest};
use mayfly_sigv4::{Payload, SigV4Error, UriEncoding};
use mayfly_store::Store;
use mayfly_store::{StoreError, StoreFuture, StoredRow};

/// 2023-11-14T22:13:20Z.
const START: u64 = 1_700_000_000;

/// The maximum view age the test cores run with.
const MAX_AGE: u64 = 10;

const GET_CALLER_IDENTITY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// Switches that make reading the configuration fail as a dropped or
/// unreachable database does: `failing` fails both `generation()` and
/// `load_all()`, `loads_failing` only `load_all()` (the change is seen but
/// its rows cannot be read, as after a master-key rotation this node's key
/// cannot open).
#[derive(Debug, Default)]
struct Faults {
    failing: AtomicBool,
    loads_failing: AtomicBool,
}

/// The real store with [`Faults`] around its reads.
type FaultyStore = HookedStore<Faults>;

fn fault(switch: &AtomicBool) -> Result<(), StoreError> {
    if switch.load(Ordering::SeqCst) {
        Err(StoreError::Database(
            "injected: the database cannot be reached".to_owned(),
        ))
    } else {
        Ok(())
    }
}

impl ReadHooks for Faults {
    fn before_generation(&self) -> Result<(), StoreError> {
        fault(&self.failing)
    }

    fn after_load_all<'a>(
        &'a self,
        _inner: &'a dyn Store,
        _rows: &'a [StoredRow],
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            fault(&self.failing)?;
            fault(&self.loads_failing)
        })
    }
}

impl FaultyStore {
    fn set_failing(&self, failing: bool) {
        self.hooks.failing.store(failing, Ordering::SeqCst);
    }

    fn set_loads_failing(&self, failing: bool) {
        self.hooks.loads_failing.store(failing, Ordering::SeqCst);
    }
}

struct Fixture {
    clock: Arc<MovableClock>,
    store: Arc<FaultyStore>,
    audit: Arc<MemoryAuditSink>,
    core: Core,
}

async fn fixture() -> Fixture {
    let clock = MovableClock::at(START);
    let store = Arc::new(FaultyStore {
        inner: initialized_store(START).await,
        hooks: Faults::default(),
    });
    let audit = Arc::new(MemoryAuditSink::default());
    let core = Core::new(
        Arc::clone(&store) as Arc<dyn Store>,
        master_key(),
        Arc::clone(&clock) as Arc<dyn mayfly_core::Clock>,
        Arc::clone(&audit) as Arc<dyn mayfly_core::audit::AuditSink>,
        CoreConfig {
            max_view_age: Duration::from_secs(MAX_AGE),
            ..CoreConfig::default()
        },
    )
    .await
    .unwrap();
    Fixture {
        clock,
        store,
        audit,
        core,
    }
}

async fn get_caller_identity(core: &Core) -> ApiResponse {
    send(core, "sts", &Key::root(), GET_CALLER_IDENTITY).await
}

fn assert_served(response: &ApiResponse) {
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response.body.contains("<GetCallerIdentityResult>"));
}

fn assert_unavailable(response: &ApiResponse) {
    assert_eq!(response.status, 503, "{}", response.body);
    assert_eq!(code_of(response), "ServiceUnavailable");
}

/// An unsigned S3-style request (anonymous), as the gateway sees it.
fn anonymous_gateway_request(core: &Core) -> Result<(), SigV4Error> {
    let headers: [(&str, &[u8]); 1] = [("host", b"127.0.0.1:7401")];
    core.authenticate_sigv4(
        &GatewayRequest {
            method: "GET",
            path: "/bucket/key",
            query: "",
            headers: &headers,
            source_ip: SOURCE_IP,
            secure_transport: false,
        },
        "s3",
        Payload::Deferred,
        UriEncoding::Single,
    )
    .map(|_| ())
}

#[tokio::test]
async fn a_failed_refresh_within_the_maximum_age_keeps_serving() {
    let f = fixture().await;
    assert_served(&get_caller_identity(&f.core).await);

    f.store.set_failing(true);
    f.clock.advance(MAX_AGE - 1);
    assert!(f.core.refresh().await.is_err());
    assert!(f.core.view_is_current());
    assert_served(&get_caller_identity(&f.core).await);
    // Exactly the maximum age is still served.
    f.clock.advance(1);
    assert_served(&get_caller_identity(&f.core).await);

    // A successful refresh confirms the unchanged view: the age starts over.
    f.store.set_failing(false);
    f.core.refresh().await.unwrap();
    f.store.set_failing(true);
    f.clock.advance(MAX_AGE);
    assert!(f.core.refresh().await.is_err());
    assert_served(&get_caller_identity(&f.core).await);
}

#[tokio::test]
async fn a_view_older_than_the_maximum_age_is_refused_until_a_refresh_succeeds() {
    let f = fixture().await;
    assert_served(&get_caller_identity(&f.core).await);
    assert!(matches!(
        anonymous_gateway_request(&f.core),
        Err(SigV4Error::MissingAuthentication)
    ));

    f.store.set_failing(true);
    f.clock.advance(MAX_AGE + 1);
    assert!(f.core.refresh().await.is_err());
    assert!(!f.core.view_is_current());

    // The query protocol (STS and IAM).
    assert_unavailable(&get_caller_identity(&f.core).await);
    assert_unavailable(
        &send(
            &f.core,
            "iam",
            &Key::root(),
            "Action=ListUsers&Version=2010-05-08",
        )
        .await,
    );
    // Unsigned federation reads the view too (trust policies, providers).
    let federation = send(
        &f.core,
        "sts",
        &Key::root(),
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15",
    )
    .await;
    assert_unavailable(&federation);
    // The gateway API (the S3 gateway, the authorizer), anonymous too.
    let error = anonymous_gateway_request(&f.core).unwrap_err();
    assert!(
        matches!(error, SigV4Error::CredentialsUnavailable),
        "{error:?}"
    );
    assert_eq!(
        (error.s3_code(), error.s3_http_status()),
        ("ServiceUnavailable", 503)
    );
    assert_eq!(
        (error.code(), error.http_status()),
        ("ServiceUnavailable", 503)
    );
    // Roles Anywhere (REST-JSON).
    let rolesanywhere = f
        .core
        .handle(ApiRequest {
            method: "POST",
            path: "/sessions",
            query: "",
            headers: &[],
            body: b"{}",
            source_ip: SOURCE_IP,
            secure_transport: true,
        })
        .await;
    assert_eq!(rolesanywhere.status, 503, "{}", rolesanywhere.body);
    assert_eq!(
        rolesanywhere.error_type.as_deref(),
        Some("ServiceUnavailable")
    );
    // IoT credentials.
    let iot = f
        .core
        .iot_credentials(IotCredentialsRequest {
            role_alias: "alias",
            thing_name: None,
            certificate_chain: &[],
            source_ip: SOURCE_IP,
            user_agent: None,
        })
        .await;
    assert_eq!(iot.status, 503, "{}", iot.body);
    // Every refusal is audited with its code.
    let refused = f
        .audit
        .events()
        .iter()
        .filter(|event| {
            matches!(&event.outcome, AuditOutcome::Error { code } if code == "ServiceUnavailable")
        })
        .count();
    assert_eq!(refused, 5);

    // The store works again: the next refresh serves again.
    f.store.set_failing(false);
    assert_unavailable(&get_caller_identity(&f.core).await);
    f.core.refresh().await.unwrap();
    assert!(f.core.view_is_current());
    assert_served(&get_caller_identity(&f.core).await);
    assert!(matches!(
        anonymous_gateway_request(&f.core),
        Err(SigV4Error::MissingAuthentication)
    ));
}

#[tokio::test]
async fn a_change_the_node_cannot_load_makes_its_view_stale() {
    // The generation moves (another node revoked something) but the rows
    // cannot be read: the generation alone must not count as confirmation.
    let f = fixture().await;
    f.store.set_loads_failing(true);
    f.store.inner.apply(Vec::new()).await.unwrap();
    f.clock.advance(MAX_AGE - 1);
    assert!(f.core.refresh().await.is_err());
    assert_served(&get_caller_identity(&f.core).await);
    f.clock.advance(2);
    assert!(f.core.refresh().await.is_err());
    assert_unavailable(&get_caller_identity(&f.core).await);

    f.store.set_loads_failing(false);
    f.core.refresh().await.unwrap();
    assert_served(&get_caller_identity(&f.core).await);
}

#[tokio::test]
async fn without_a_refresh_the_view_ages_out() {
    // Only a successful refresh (or write) confirms the view: time passing
    // with no refresher at all ends in refusal, not in trust.
    let f = fixture().await;
    f.clock.advance(MAX_AGE + 1);
    assert_unavailable(&get_caller_identity(&f.core).await);
    f.core.refresh().await.unwrap();
    assert_served(&get_caller_identity(&f.core).await);
}
