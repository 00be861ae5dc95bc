//! The gateway in process: a `Core` over an in-memory SQLite store with a
//! fixed clock and a memory audit sink, requests signed with
//! `mayfly_sigv4` and handed to `S3Gateway::handle` — no network. Proves
//! one audit event per request (never a signature or token in it) and the
//! presigned window against the injected clock.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use mayfly_core::audit::{AuditOutcome, MemoryAuditSink};
use mayfly_core::clock::{Clock, FixedClock};
use mayfly_core::{Core, CoreConfig};
use mayfly_s3::{S3Config, S3Gateway};
use mayfly_sigv4::{
    Credentials, RequestParts, SignableBody, SigningParams, UriEncoding, presign, sign_headers,
};
use mayfly_store::{SqliteStore, Store};
use mayfly_token::{MasterKey, SecretKey};

const ACCOUNT: &str = "000000000000";
const ROOT_KEY_ID: &str = "AKIAMAYFLYS3ROOTKEY1";
const ROOT_SECRET: &str = "mayfly-s3-root-secret-abcdefghijklmnopqr";
const MASTER_KEY_HEX: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const HOST: &str = "127.0.0.1:7401";
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
const NOW: u64 = 1_750_000_000;

async fn gateway(at: u64, dir: &std::path::Path, audit: Arc<MemoryAuditSink>) -> S3Gateway {
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.join("mayfly.db"))
            .await
            .expect("sqlite store"),
    );
    let master = MasterKey::from_encoded(MASTER_KEY_HEX).unwrap();
    mayfly_core::admin::initialize(
        store.as_ref(),
        &master,
        NOW - 100,
        ACCOUNT,
        Some((
            ROOT_KEY_ID.to_owned(),
            SecretKey::new(ROOT_SECRET.to_owned()),
        )),
    )
    .await
    .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(mayfly_core::clock::from_unix(at)));
    let core = Core::new(store, master, clock, audit, CoreConfig::default())
        .await
        .unwrap();
    S3Gateway::open(Arc::new(core), dir, S3Config::default())
        .await
        .unwrap()
}

fn credentials() -> Credentials<'static> {
    Credentials {
        access_key_id: ROOT_KEY_ID,
        secret_access_key: ROOT_SECRET,
        session_token: None,
    }
}

/// A header-signed request.
fn signed(method: &str, path: &str, body: &'static [u8], at: u64) -> http::Request<Full<Bytes>> {
    let headers = [("host", HOST.as_bytes())];
    let signature = sign_headers(
        &RequestParts {
            method,
            path,
            query: "",
            headers: &headers,
        },
        &SigningParams {
            credentials: credentials(),
            region: "us-east-1",
            service: "s3",
            time: mayfly_core::clock::from_unix(at),
            encoding: UriEncoding::Single,
            body: SignableBody::Bytes(body),
            content_sha256_header: true,
        },
    )
    .unwrap();
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", HOST);
    for (name, value) in &signature.headers {
        request = request.header(*name, value);
    }
    request.body(Full::new(Bytes::from_static(body))).unwrap()
}

async fn send(gateway: &S3Gateway, request: http::Request<Full<Bytes>>) -> (u16, String) {
    let response = gateway.handle(request, PEER, false).await;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn every_request_yields_one_audit_event_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let audit = Arc::new(MemoryAuditSink::default());
    let gw = gateway(NOW, dir.path(), Arc::clone(&audit)).await;
    assert_eq!(send(&gw, signed("PUT", "/audited", b"", NOW)).await.0, 200);
    assert_eq!(
        send(&gw, signed("PUT", "/audited/a%20key", b"data", NOW))
            .await
            .0,
        200
    );
    let anonymous = http::Request::builder()
        .uri("/audited/a%20key")
        .header("host", HOST)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, body) = send(&gw, anonymous).await;
    assert_eq!(status, 403, "{body}");
    let events = audit.events();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].action, "CreateBucket");
    assert_eq!(events[1].action, "PutObject");
    assert_eq!(events[1].outcome, AuditOutcome::Success);
    let caller = events[1].caller.as_ref().unwrap();
    assert_eq!(caller.arn, format!("arn:aws:iam::{ACCOUNT}:root"));
    assert_eq!(caller.access_key_id, ROOT_KEY_ID);
    assert!(
        events[1]
            .parameters
            .contains(&("key".to_owned(), "a key".to_owned()))
    );
    assert_eq!(events[2].action, "GetObject");
    assert!(events[2].caller.is_none());
    assert_eq!(
        events[2].outcome,
        AuditOutcome::Error {
            code: "AccessDenied".to_owned()
        }
    );
    assert_eq!(events[2].source_ip, PEER);
    let text = format!("{events:?}");
    assert!(!text.contains(ROOT_SECRET));
    assert!(!text.contains("Signature="));
}

#[tokio::test]
async fn a_presigned_url_works_until_its_last_second() {
    let dir = tempfile::tempdir().unwrap();
    let audit = Arc::new(MemoryAuditSink::default());
    {
        let gw = gateway(NOW, dir.path(), Arc::clone(&audit)).await;
        assert_eq!(send(&gw, signed("PUT", "/window", b"", NOW)).await.0, 200);
        assert_eq!(
            send(&gw, signed("PUT", "/window/k", b"v", NOW)).await.0,
            200
        );
    }
    let headers = [("host", HOST.as_bytes())];
    let query = presign(
        &RequestParts {
            method: "GET",
            path: "/window/k",
            query: "",
            headers: &headers,
        },
        &SigningParams {
            credentials: credentials(),
            region: "us-east-1",
            service: "s3",
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
            encoding: UriEncoding::Single,
            body: SignableBody::Unsigned,
            content_sha256_header: false,
        },
        60,
    )
    .unwrap()
    .query;
    let get = || {
        http::Request::builder()
            .uri(format!("/window/k?{query}"))
            .header("host", HOST)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let at_last_second = gateway(NOW + 60, dir.path(), Arc::clone(&audit)).await;
    let (status, body) = send(&at_last_second, get()).await;
    assert_eq!((status, body.as_str()), (200, "v"));
    let after = gateway(NOW + 61, dir.path(), Arc::clone(&audit)).await;
    let (status, body) = send(&after, get()).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(body.contains("Request has expired"), "{body}");
}
