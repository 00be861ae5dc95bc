//! How long one `Core::handle` takes in-process, without the network: the
//! part of a request Mayfly adds on top of the listener stack
//! (docs/PERFORMANCE.md). Measures GetCallerIdentity (signed by the root) and
//! AssumeRole (signed by an IAM user whom the role's trust policy names), and
//! Roles Anywhere CreateSession (an ECDSA P-256 leaf under an intermediate
//! under the trust anchor, signed by `mayfly_testkit::pki`; the chain is
//! verified once and then remembered, the request signature every time).
//!
//! `cargo run --release -p mayfly-core --example handle_cost [GetCallerIdentity|AssumeRole|CreateSession]`
//! (an argument times only that action, e.g. under `perf record`).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use mayfly_core::audit::TracingAuditSink;
use mayfly_core::{ApiRequest, Core, CoreConfig, SystemClock};
use mayfly_sigv4::{Credentials, SignableBody, SigningParams, UriEncoding};
use mayfly_store::SqliteStore;
use mayfly_token::{MasterKey, SecretKey};

// The allocator `mayfly serve` uses, so the figures match the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type BoxError = Box<dyn std::error::Error>;

const KEY_ID: &str = "AKIAMAYFLYBENCHROOT1";
const SECRET: &str = "mayfly-bench-root-secret-0123456789abcde";

type Headers = Vec<(String, Vec<u8>)>;

/// A signed POST of `body` for `service` with the given key.
fn signed(body: &str, service: &str, key_id: &str, secret: &str) -> Result<Headers, BoxError> {
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
            access_key_id: key_id,
            secret_access_key: secret,
            session_token: None,
        },
        region: "us-east-1",
        service,
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

fn borrow(headers: &Headers) -> Vec<(&str, &[u8])> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect()
}

fn request<'a>(headers: &'a [(&'a str, &'a [u8])], body: &'a str) -> ApiRequest<'a> {
    ApiRequest {
        method: "POST",
        path: "/",
        query: "",
        headers,
        body: body.as_bytes(),
        source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        secure_transport: false,
    }
}

/// Send one signed request and return the response body, failing on non-200.
async fn call(
    core: &Core,
    body: &str,
    service: &str,
    key_id: &str,
    secret: &str,
) -> Result<String, BoxError> {
    let headers = signed(body, service, key_id, secret)?;
    let borrowed = borrow(&headers);
    let answer = core.handle(request(&borrowed, body)).await;
    if answer.status != 200 {
        return Err(format!("unexpected answer: {}", answer.body).into());
    }
    Ok(answer.body.to_string())
}

/// The text of the first `<tag>...</tag>` in `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Result<&'a str, BoxError> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open).ok_or("missing element")? + open.len();
    let len = xml[start..].find(&close).ok_or("unclosed element")?;
    Ok(&xml[start..start + len])
}

/// RFC 3986 percent-encoding of a form value (unreserved characters kept).
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Time `n` calls of one pre-signed request.
async fn time(
    core: &Core,
    label: &str,
    body: &str,
    headers: &Headers,
    n: u32,
) -> Result<(), BoxError> {
    let only = std::env::args().nth(1);
    let n = if only.as_deref().is_none_or(|only| only == label) {
        n
    } else {
        1
    };
    let borrowed = borrow(headers);
    let req = request(&borrowed, body);
    let first = core.handle(req).await;
    if first.status != 200 {
        return Err(format!("unexpected answer: {}", first.body).into());
    }
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(core.handle(req).await);
    }
    let per = start.elapsed() / n;
    if n == 1 {
        return Ok(());
    }
    println!("{label}: {per:?} per Core::handle");
    Ok(())
}

fn main() -> Result<(), BoxError> {
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

        let gci = "Action=GetCallerIdentity&Version=2011-06-15";
        let headers = signed(gci, "sts", KEY_ID, SECRET)?;
        time(&core, "GetCallerIdentity", gci, &headers, 200_000).await?;

        // A user with an access key, and a role whose trust policy names it.
        call(&core, "Action=CreateUser&UserName=bench&Version=2010-05-08", "iam", KEY_ID, SECRET).await?;
        let key = call(&core, "Action=CreateAccessKey&UserName=bench&Version=2010-05-08", "iam", KEY_ID, SECRET).await?;
        let user_key_id = element(&key, "AccessKeyId")?.to_owned();
        let user_secret = element(&key, "SecretAccessKey")?.to_owned();
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/bench"},"Action":"sts:AssumeRole"}]}"#;
        let trust = percent_encode(trust);
        let create_role = format!("Action=CreateRole&RoleName=bench-role&AssumeRolePolicyDocument={trust}&Version=2010-05-08");
        call(&core, &create_role, "iam", KEY_ID, SECRET).await?;

        let assume = "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fbench-role&RoleSessionName=bench&Version=2011-06-15";
        let headers = signed(assume, "sts", &user_key_id, &user_secret)?;
        time(&core, "AssumeRole", assume, &headers, 50_000).await?;

        create_session_cost(&core).await?;
        Ok::<(), BoxError>(())
    })
}

/// A REST-JSON admin call for Roles Anywhere, signed by the root; the JSON answer.
async fn admin(
    core: &Core,
    path: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value, BoxError> {
    let body = body.to_string();
    let headers = [
        ("host", b"127.0.0.1:7400".as_slice()),
        ("content-type", b"application/json".as_slice()),
    ];
    let parts = mayfly_sigv4::RequestParts {
        method: "POST",
        path,
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
        service: "rolesanywhere",
        time: SystemTime::now(),
        encoding: UriEncoding::Double,
        body: SignableBody::Bytes(body.as_bytes()),
        content_sha256_header: false,
    };
    let signature = mayfly_sigv4::sign_headers(&parts, &params)?;
    let mut all: Vec<(&str, &[u8])> = headers.to_vec();
    for (name, value) in &signature.headers {
        all.push((name, value.as_bytes()));
    }
    let answer = core
        .handle(ApiRequest {
            method: "POST",
            path,
            query: "",
            headers: &all,
            body: body.as_bytes(),
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            secure_transport: false,
        })
        .await;
    if answer.status != 201 {
        return Err(format!("unexpected answer: {}", answer.body).into());
    }
    Ok(serde_json::from_str(&answer.body)?)
}

/// Time CreateSession: the anchor (the test root), a role trusting the
/// service, a profile, then one signed request replayed (CreateSession keeps
/// no replay record; every call verifies its signature).
async fn create_session_cost(core: &Core) -> Result<(), BoxError> {
    use mayfly_testkit::pki::{SessionRequest, TestPki, sign_create_session};
    use serde_json::json;

    let pki = TestPki::generate().map_err(|e| e.to_string())?;
    let anchor = admin(
        core,
        "/trustanchors",
        &json!({"name": "bench", "enabled": true, "source": {"sourceType": "CERTIFICATE_BUNDLE",
            "sourceData": {"x509CertificateData": pki.root.cert_pem}}}),
    )
    .await?;
    let anchor_arn = anchor["trustAnchor"]["trustAnchorArn"]
        .as_str()
        .ok_or("no anchor ARN")?
        .to_owned();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"rolesanywhere.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}]}"#;
    let create_role = format!(
        "Action=CreateRole&RoleName=ra-role&AssumeRolePolicyDocument={}&Version=2010-05-08",
        percent_encode(trust)
    );
    call(core, &create_role, "iam", KEY_ID, SECRET).await?;
    let role_arn = "arn:aws:iam::000000000000:role/ra-role";
    let profile = admin(
        core,
        "/profiles",
        &json!({"name": "bench", "enabled": true, "roleArns": [role_arn]}),
    )
    .await?;
    let profile_arn = profile["profile"]["profileArn"]
        .as_str()
        .ok_or("no profile ARN")?;
    let body = json!({"durationSeconds": 3600, "profileArn": profile_arn, "roleArn": role_arn,
        "trustAnchorArn": anchor_arn})
    .to_string();
    let amz_date = mayfly_sigv4::format_amz_date(SystemTime::now());
    let chain = [pki.intermediate.cert_der.as_slice()];
    let signed = sign_create_session(
        &pki.ec_p256,
        &SessionRequest {
            host: "127.0.0.1:7400",
            query: "",
            content_type: "application/x-amz-json-1.0",
            body: body.as_bytes(),
            amz_date: &amz_date,
            region: "us-east-1",
            chain: &chain,
        },
    )
    .map_err(|e| e.to_string())?;
    let mut headers: Vec<(&str, &[u8])> = vec![("host", b"127.0.0.1:7400".as_slice())];
    for (name, value) in &signed {
        headers.push((name, value.as_bytes()));
    }
    let req = ApiRequest {
        method: "POST",
        path: "/sessions",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
        source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        secure_transport: false,
    };
    let first = core.handle(req).await;
    if first.status != 201 {
        return Err(format!("unexpected answer: {}", first.body).into());
    }
    let only = std::env::args().nth(1);
    if only.as_deref().is_some_and(|only| only != "CreateSession") {
        return Ok(());
    }
    let n = 20_000u32;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(core.handle(req).await);
    }
    println!("CreateSession: {:?} per Core::handle", start.elapsed() / n);
    Ok(())
}
