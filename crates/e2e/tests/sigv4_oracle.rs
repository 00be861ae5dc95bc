//! The official `aws-sigv4` signer as an oracle for Mayfly's verifier
//! (issue: "any request it signs verifies, and any single change to a
//! signed part fails").

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use mayfly_sigv4::{Payload, RequestParts, UriEncoding};
use proptest::prelude::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// A request as the oracle signs it: method, path, query pairs, extra headers, body.
#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    time: SystemTime,
    region: String,
    token: Option<String>,
}

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

/// Sign `case` with aws-sigv4; returns (raw path, raw query, headers).
fn oracle_sign(case: &Case) -> (String, String, Vec<(String, Vec<u8>)>) {
    let query = case
        .query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let uri = if query.is_empty() {
        format!("https://sts.example.test{}", case.path)
    } else {
        format!("https://sts.example.test{}?{query}", case.path)
    };
    let mut headers: Vec<(String, String)> = vec![("host".into(), "sts.example.test".into())];
    headers.extend(case.headers.iter().cloned());
    let identity: Identity =
        Credentials::new("AKIDEXAMPLE", SECRET, case.token.clone(), None, "oracle").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&case.region)
        .name("sts")
        .time(case.time)
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let signable = SignableRequest::new(
        case.method,
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&case.body),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut request = http::Request::builder().method(case.method).uri(&uri);
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    let mut request = request.body(()).expect("request");
    instructions.apply_to_request_http1x(&mut request);
    let out_headers = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    (
        request.uri().path().to_owned(),
        request.uri().query().unwrap_or("").to_owned(),
        out_headers,
    )
}

fn verify(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    now: SystemTime,
) -> Result<(), String> {
    let headers: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let parts = RequestParts {
        method,
        path,
        query,
        headers: &headers,
    };
    let auth = mayfly_sigv4::authenticate(&parts, now).map_err(|e| e.code().to_owned())?;
    let key = mayfly_sigv4::derive_signing_key(SECRET, auth.scope());
    auth.verify(&parts, Payload::Bytes(body), UriEncoding::Double, &key)
        .map_err(|e| e.code().to_owned())
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let method = prop_oneof![Just("GET"), Just("POST")];
    let segment = "[a-zA-Z0-9._~-]{1,8}";
    let path = proptest::collection::vec(segment, 0..3).prop_map(|s| format!("/{}", s.join("/")));
    let query = proptest::collection::vec(("[A-Za-z][A-Za-z0-9.]{0,8}", "[ -~]{0,12}"), 0..4);
    let header = ("x-custom-[a-z]{1,6}", "[!-~]([ -~]{0,10}[!-~])?");
    let headers = proptest::collection::vec(header, 0..3);
    let body = proptest::collection::vec(any::<u8>(), 0..64);
    let time = (1_600_000_000u64..1_900_000_000).prop_map(|s| UNIX_EPOCH + Duration::from_secs(s));
    let region = prop_oneof![Just("us-east-1".to_owned()), Just("eu-west-3".to_owned())];
    let token = proptest::option::of("[A-Za-z0-9+/=]{10,40}");
    (method, path, query, headers, body, time, region, token).prop_map(
        |(method, path, mut query, mut headers, body, time, region, token)| {
            query.sort();
            query.dedup_by(|a, b| a.0 == b.0);
            headers.sort();
            headers.dedup_by(|a, b| a.0 == b.0);
            Case {
                method,
                path,
                query,
                headers,
                body,
                time,
                region,
                token,
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_request_the_official_signer_signs_verifies(case in case_strategy()) {
        let (path, query, headers) = oracle_sign(&case);
        prop_assert_eq!(verify(case.method, &path, &query, &headers, &case.body, case.time), Ok(()));
    }

    #[test]
    fn any_single_change_to_a_signed_part_fails(case in case_strategy(), which in 0usize..5, pick in any::<usize>()) {
        let (path, query, mut headers) = oracle_sign(&case);
        let mut method = case.method.to_owned();
        let mut path = path;
        let mut query = query;
        let mut body = case.body.clone();
        match which {
            0 => method = if method == "GET" { "POST".into() } else { "GET".into() },
            1 => path.push('x'),
            2 => query = if query.is_empty() { "a=b".into() } else { format!("{query}&zz=1") },
            3 => {
                // Change the value of a signed header other than authorization.
                let signed: Vec<usize> = headers
                    .iter()
                    .enumerate()
                    .filter(|(_, (k, _))| k != "authorization")
                    .map(|(i, _)| i)
                    .collect();
                let i = signed[pick % signed.len()];
                headers[i].1.push(b'x');
            }
            _ => body.push(0x41),
        }
        prop_assert!(verify(&method, &path, &query, &headers, &body, case.time).is_err());
    }
}
