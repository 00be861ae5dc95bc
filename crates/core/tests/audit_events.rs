//! The audit seam (issue 2, item 9): exactly one event per request, success
//! or failure, with who, what, the outcome and the issued key — and never a
//! secret.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::SystemTime;

use mayfly_core::audit::{AuditOutcome, MemoryAuditSink};
use mayfly_core::clock::FixedClock;
use mayfly_core::{ApiRequest, Core, CoreConfig};
use mayfly_sigv4::{Credentials, SignableBody, SigningParams, UriEncoding};
use mayfly_store::{SqliteStore, Store};
use mayfly_token::{MasterKey, SecretKey};

const KEY_ID: &str = "AKIAMAYFLYAUDITROOT1";
const SECRET: &str = "mayfly-audit-root-secret-0123456789abcde";

async fn core(store: Arc<dyn Store>, now: SystemTime, audit: Arc<MemoryAuditSink>) -> Core {
    let master = MasterKey::from_encoded(&"04".repeat(32)).unwrap();
    Core::new(
        store,
        master,
        Arc::new(FixedClock(now)),
        audit,
        CoreConfig::default(),
    )
    .await
    .unwrap()
}

async fn store() -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let master = MasterKey::from_encoded(&"04".repeat(32)).unwrap();
    mayfly_core::admin::initialize(
        store.as_ref(),
        &master,
        1_700_000_000,
        "000000000000",
        Some((KEY_ID.to_owned(), SecretKey::new(SECRET.to_owned()))),
    )
    .await
    .unwrap();
    store
}

/// Send `body` to `core`, signed at `time` with the given credentials.
async fn send(
    core: &Core,
    body: &str,
    time: SystemTime,
    key: (&str, &str, Option<&str>),
) -> mayfly_core::ApiResponse {
    let base = [
        ("host", b"127.0.0.1:7400".as_slice()),
        (
            "content-type",
            b"application/x-www-form-urlencoded".as_slice(),
        ),
    ];
    let parts = mayfly_sigv4::RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &base,
    };
    let params = SigningParams {
        credentials: Credentials {
            access_key_id: key.0,
            secret_access_key: key.1,
            session_token: key.2,
        },
        region: "us-east-1",
        service: "sts",
        time,
        encoding: UriEncoding::Double,
        body: SignableBody::Bytes(body.as_bytes()),
        content_sha256_header: false,
    };
    let signature = mayfly_sigv4::sign_headers(&parts, &params).unwrap();
    let mut headers: Vec<(&str, &[u8])> = base.to_vec();
    for (name, value) in &signature.headers {
        headers.push((name, value.as_bytes()));
    }
    core.handle(ApiRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
        source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        secure_transport: false,
    })
    .await
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let i = text.find(start).unwrap() + start.len();
    let j = text[i..].find(end).unwrap() + i;
    &text[i..j]
}

#[tokio::test]
async fn every_request_yields_exactly_one_event_without_secrets() {
    let now = SystemTime::now();
    let audit = Arc::new(MemoryAuditSink::default());
    let core = core(store().await, now, Arc::clone(&audit)).await;
    let root = (KEY_ID, SECRET, None);

    // Success, issuing credentials.
    let ok = send(
        &core,
        "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=900",
        now,
        root,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let issued_id = between(&ok.body, "<AccessKeyId>", "<").to_owned();
    let issued_secret = between(&ok.body, "<SecretAccessKey>", "<").to_owned();
    let issued_token = between(&ok.body, "<SessionToken>", "<").to_owned();

    // Failures: unknown action, MFA parameters (secret code), bad signature.
    let unknown = send(&core, "Action=Frobnicate&Version=2011-06-15", now, root).await;
    assert_eq!(unknown.status, 400);
    let mfa = send(
        &core,
        "Action=GetSessionToken&Version=2011-06-15&SerialNumber=arn%3Aaws%3Aiam%3A%3A000000000000%3Amfa%2Fx&TokenCode=123456",
        now,
        root,
    )
    .await;
    assert_eq!(mfa.status, 403, "{}", mfa.body);
    let forged = send(
        &core,
        "Action=GetCallerIdentity&Version=2011-06-15",
        now,
        (KEY_ID, "not-the-secret-not-the-secret-not-the-se", None),
    )
    .await;
    assert_eq!(forged.status, 403);

    let events = audit.events();
    assert_eq!(events.len(), 4, "one event per request");
    assert_eq!(events[0].action, "GetSessionToken");
    assert_eq!(events[0].outcome, AuditOutcome::Success);
    assert_eq!(events[0].service, "sts");
    assert_eq!(
        events[0].issued_access_key_id.as_deref(),
        Some(issued_id.as_str())
    );
    let caller = events[0].caller.as_ref().unwrap();
    assert_eq!(caller.arn, "arn:aws:iam::000000000000:root");
    assert_eq!(caller.access_key_id, KEY_ID);
    assert_eq!(
        events[1].outcome,
        AuditOutcome::Error {
            code: "InvalidAction".into()
        }
    );
    assert_eq!(
        events[2].outcome,
        AuditOutcome::Error {
            code: "AccessDenied".into()
        }
    );
    assert!(
        events[2]
            .parameters
            .iter()
            .any(|(k, v)| k == "TokenCode" && v == "<redacted>"),
        "{:?}",
        events[2].parameters
    );
    assert_eq!(
        events[3].outcome,
        AuditOutcome::Error {
            code: "SignatureDoesNotMatch".into()
        }
    );
    assert!(
        events[3].caller.is_none(),
        "an unauthenticated request names no caller"
    );

    let all = format!("{events:?}");
    for secret in [
        SECRET,
        issued_secret.as_str(),
        issued_token.as_str(),
        "123456",
    ] {
        assert!(!all.contains(secret), "a secret reached an audit event");
    }
}

#[tokio::test]
async fn a_token_is_refused_as_expired_once_the_injected_clock_passes_its_expiry() {
    let store = store().await;
    let issued_at = SystemTime::now();
    let early = core(
        Arc::clone(&store),
        issued_at,
        Arc::new(MemoryAuditSink::default()),
    )
    .await;
    let ok = send(
        &early,
        "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=900",
        issued_at,
        (KEY_ID, SECRET, None),
    )
    .await;
    let id = between(&ok.body, "<AccessKeyId>", "<").to_owned();
    let secret = between(&ok.body, "<SecretAccessKey>", "<").to_owned();
    let token = between(&ok.body, "<SessionToken>", "<").to_owned();
    let session = (id.as_str(), secret.as_str(), Some(token.as_str()));

    let before = issued_at + std::time::Duration::from_secs(899);
    let still = core(
        Arc::clone(&store),
        before,
        Arc::new(MemoryAuditSink::default()),
    )
    .await;
    let r = send(
        &still,
        "Action=GetCallerIdentity&Version=2011-06-15",
        before,
        session,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let after = issued_at + std::time::Duration::from_secs(900);
    let late = core(store, after, Arc::new(MemoryAuditSink::default())).await;
    let r = send(
        &late,
        "Action=GetCallerIdentity&Version=2011-06-15",
        after,
        session,
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("<Code>ExpiredToken</Code>"), "{}", r.body);
}
