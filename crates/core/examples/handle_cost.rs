//! How long one `Core::handle` takes in-process, without the network: the
//! part of a request Mayfly adds on top of the listener stack
//! (docs/PERFORMANCE.md).
//!
//! `cargo run --release -p mayfly-core --example handle_cost`

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use mayfly_core::audit::TracingAuditSink;
use mayfly_core::{ApiRequest, Core, CoreConfig, SystemClock};
use mayfly_sigv4::{Credentials, SignableBody, SigningParams, UriEncoding};
use mayfly_store::SqliteStore;
use mayfly_token::{MasterKey, SecretKey};

const KEY_ID: &str = "AKIAMAYFLYBENCHROOT1";
const SECRET: &str = "mayfly-bench-root-secret-0123456789abcde";

type Headers = Vec<(String, Vec<u8>)>;

fn signed(body: &str) -> Result<Headers, Box<dyn std::error::Error>> {
    let host = ("host", b"127.0.0.1:7400".as_slice());
    let ct = (
        "content-type",
        b"application/x-www-form-urlencoded".as_slice(),
    );
    let headers = [host, ct];
    let parts = mayfly_sigv4::RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
    };
    let params = SigningParams {
        credentials: Credentials {
            access_key_id: KEY_ID,
            secret_access_key: SECRET,
            session_token: None,
        },
        region: "us-east-1",
        service: "sts",
        time: SystemTime::now(),
        encoding: UriEncoding::Double,
        body: SignableBody::Bytes(body.as_bytes()),
        content_sha256_header: false,
    };
    let signature = mayfly_sigv4::sign_headers(&parts, &params)?;
    let mut out: Headers = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
        .collect();
    out.extend(
        signature
            .headers
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_bytes())),
    );
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store: Arc<dyn mayfly_store::Store> = Arc::new(SqliteStore::open_in_memory().await?);
        let master = MasterKey::from_encoded(&"03".repeat(32))?;
        mayfly_core::admin::initialize(
            store.as_ref(),
            &master,
            1,
            "000000000000",
            Some((KEY_ID.to_owned(), SecretKey::new(SECRET.to_owned()))),
        )
        .await?;
        let core = Core::new(
            store,
            master,
            Arc::new(SystemClock::new()),
            Arc::new(TracingAuditSink),
            CoreConfig::default(),
        )
        .await?;
        let body = "Action=GetCallerIdentity&Version=2011-06-15";
        let headers = signed(body)?;
        let borrowed: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        let request = ApiRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &borrowed,
            body: body.as_bytes(),
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            secure_transport: false,
        };
        let first = core.handle(request).await;
        if first.status != 200 {
            return Err(format!("unexpected answer: {}", first.body).into());
        }
        let n = 200_000;
        let start = Instant::now();
        for _ in 0..n {
            std::hint::black_box(core.handle(request).await);
        }
        let per = start.elapsed() / n;
        println!("GetCallerIdentity: {per:?} per Core::handle");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
