//! Roles Anywhere CreateSession through `Core::handle`, with a clock the
//! test moves: requests signed by the independent signer of
//! `mayfly_testkit::pki`, the admin and IAM APIs signed with
//! `mayfly_sigv4`, an in-memory SQLite store whose generation counts the
//! writes.
//!
//! What only a movable clock shows: a subject is written at once when it is
//! new or shows a new certificate serial, and otherwise at most once a
//! minute however its attempts vary; a chain remembered as verified is
//! refused once a certificate of it expires; a CRL imported after a chain
//! was remembered still revokes. And the role's trust policy sees the same
//! keys as for any service principal (`aws:ResourceTag/*`,
//! `aws:UserAgent`) plus Roles Anywhere's own.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]

mod common;

use std::sync::Arc;

use base64::Engine as _;
use common::{
    ACCOUNT, FORM_CONTENT_TYPE, HOST, Key, MovableClock, SOURCE_IP, Unsigned, core_over,
    initialized_store, send_signed,
};
use mayfly_core::audit::MemoryAuditSink;
use mayfly_core::clock::Clock;
use mayfly_core::{ApiRequest, ApiResponse, Core};
use mayfly_store::Store;
use mayfly_testkit::pki::{Leaf, SessionRequest, TestPki, sign_create_session};
use serde_json::{Value, json};

/// 2026-06-01T00:00:00Z: inside every test certificate's validity.
const START: u64 = 1_780_272_000;

struct Fixture {
    core: Core,
    store: Arc<dyn Store>,
    clock: Arc<MovableClock>,
    pki: TestPki,
    anchor_arn: String,
    profile_arn: String,
    disabled_profile_arn: String,
    role_arn: String,
}

impl Fixture {
    async fn new() -> Fixture {
        let store = initialized_store(START).await;
        let clock = MovableClock::at(START);
        let core = core_over(
            Arc::clone(&store),
            Arc::clone(&clock) as Arc<dyn Clock>,
            Arc::new(MemoryAuditSink::default()),
        )
        .await;
        let pki = TestPki::generate().unwrap();
        let mut f = Fixture {
            core,
            store,
            clock,
            pki,
            anchor_arn: String::new(),
            profile_arn: String::new(),
            disabled_profile_arn: String::new(),
            role_arn: String::new(),
        };
        let (status, anchor) = f
            .admin(
                "POST",
                "/trustanchors",
                &json!({"name": "ca", "enabled": true, "source": {"sourceType": "CERTIFICATE_BUNDLE",
                    "sourceData": {"x509CertificateData": f.pki.root.cert_pem}}}),
            )
            .await;
        assert_eq!(status, 201, "{anchor}");
        f.anchor_arn = anchor["trustAnchor"]["trustAnchorArn"]
            .as_str()
            .unwrap()
            .to_owned();
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "rolesanywhere.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}]});
        let created = f
            .iam(&[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", "demo"),
                ("AssumeRolePolicyDocument", &trust.to_string()),
            ])
            .await;
        assert_eq!(created.status, 200, "{}", created.body);
        f.role_arn = format!("arn:aws:iam::{ACCOUNT}:role/demo");
        for (enabled, name) in [(true, "on"), (false, "off")] {
            let (status, profile) = f
                .admin(
                    "POST",
                    "/profiles",
                    &json!({"name": name, "enabled": enabled, "roleArns": [f.role_arn]}),
                )
                .await;
            assert_eq!(status, 201, "{profile}");
            let arn = profile["profile"]["profileArn"]
                .as_str()
                .unwrap()
                .to_owned();
            if enabled {
                f.profile_arn = arn;
            } else {
                f.disabled_profile_arn = arn;
            }
        }
        f
    }

    /// A request to `core` signed as the root.
    async fn signed(&self, service: &str, request: Unsigned<'_>) -> ApiResponse {
        send_signed(&self.core, service, &Key::root(), request).await
    }

    async fn admin(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let response = self
            .signed(
                "rolesanywhere",
                Unsigned {
                    method,
                    path,
                    query,
                    content_type: "application/json",
                    body: body.as_bytes(),
                },
            )
            .await;
        let value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
        (response.status, value)
    }

    async fn iam(&self, pairs: &[(&str, &str)]) -> ApiResponse {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.signed(
            "iam",
            Unsigned {
                method: "POST",
                path: "/",
                query: "",
                content_type: FORM_CONTENT_TYPE,
                body: body.as_bytes(),
            },
        )
        .await
    }

    /// CreateSession with `leaf` (chain: the intermediate) at the clock's time.
    async fn create_session(&self, leaf: &Leaf, profile_arn: &str, extra: Value) -> ApiResponse {
        self.create_session_with_headers(leaf, profile_arn, extra, &[])
            .await
    }

    /// [`Fixture::create_session`] with `unsigned` headers added after signing.
    async fn create_session_with_headers(
        &self,
        leaf: &Leaf,
        profile_arn: &str,
        extra: Value,
        unsigned: &[(&str, &[u8])],
    ) -> ApiResponse {
        let mut body = json!({"durationSeconds": 900, "profileArn": profile_arn,
            "roleArn": self.role_arn, "trustAnchorArn": self.anchor_arn});
        if let (Some(map), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            map.extend(extra.clone());
        }
        let body = body.to_string();
        let amz_date = mayfly_sigv4::format_amz_date(self.clock.now());
        let chain = [self.pki.intermediate.cert_der.as_slice()];
        let signed = sign_create_session(
            leaf,
            &SessionRequest {
                host: HOST,
                query: "",
                content_type: "application/x-amz-json-1.0",
                body: body.as_bytes(),
                amz_date: &amz_date,
                region: "us-east-1",
                chain: &chain,
            },
        )
        .unwrap();
        let mut headers: Vec<(&str, &[u8])> = vec![("host", HOST.as_bytes())];
        for (name, value) in &signed {
            headers.push((name, value.as_bytes()));
        }
        headers.extend_from_slice(unsigned);
        self.core
            .handle(ApiRequest {
                method: "POST",
                path: "/sessions",
                query: "",
                headers: &headers,
                body: body.as_bytes(),
                source_ip: SOURCE_IP,
                secure_transport: false,
            })
            .await
    }

    /// CreateSession with the enabled profile, which must succeed: the
    /// subject id it answers.
    async fn granted(&self, leaf: &Leaf, extra: Value) -> String {
        subject_id(&self.create_session(leaf, &self.profile_arn, extra).await)
    }

    async fn generation(&self) -> u64 {
        self.store.generation().await.unwrap()
    }

    async fn subject(&self, id: &str) -> Value {
        let (status, got) = self
            .admin("GET", &format!("/subject/{id}"), &Value::Null)
            .await;
        assert_eq!(status, 200, "{got}");
        got["subject"].clone()
    }
}

fn subject_id(response: &ApiResponse) -> String {
    assert_eq!(response.status, 201, "{}", response.body);
    let body: Value = serde_json::from_str(&response.body).unwrap();
    body["subjectArn"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

fn error_code(response: &ApiResponse) -> (u16, String) {
    let body: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (
        response.status,
        body["__type"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn attempts_within_a_minute_of_the_last_write_write_nothing_whatever_they_change() {
    let f = Fixture::new().await;
    let before = f.generation().await;
    let first = json!({"instanceProperties": {"hostname": "edge-0"}});
    let id = f.granted(&f.pki.ec_p256, first).await;
    assert_eq!(
        f.generation().await,
        before + 1,
        "the first sighting is written at once"
    );

    // A device that sends other instance properties every second and
    // alternates success and failure.
    for second in 1..=59u64 {
        f.clock.advance(1);
        let properties = json!({"instanceProperties": {"hostname": format!("edge-{second}")}});
        let (profile, status) = if second % 2 == 0 {
            (&f.profile_arn, 201)
        } else {
            (&f.disabled_profile_arn, 403)
        };
        let response = f.create_session(&f.pki.ec_p256, profile, properties).await;
        assert_eq!(response.status, status, "{}", response.body);
    }
    assert_eq!(
        f.generation().await,
        before + 1,
        "59 attempts within the minute: no write"
    );
    let subject = f.subject(&id).await;
    assert_eq!(subject["lastSeenAt"], "2026-06-01T00:00:00.000Z");
    assert_eq!(subject["credentials"][0]["failed"], false);
    assert_eq!(
        subject["instanceProperties"],
        json!([{"seenAt": "2026-06-01T00:00:00.000Z", "properties": {"hostname": "edge-0"}, "failed": false}])
    );

    // A minute after the last write the next attempt is written, as it was.
    f.clock.advance(1);
    let refused = f
        .create_session(
            &f.pki.ec_p256,
            &f.disabled_profile_arn,
            json!({"instanceProperties": {"hostname": "edge-60"}}),
        )
        .await;
    assert_eq!(
        error_code(&refused),
        (403, "AccessDeniedException".to_owned())
    );
    assert_eq!(f.generation().await, before + 2);
    let subject = f.subject(&id).await;
    assert_eq!(subject["lastSeenAt"], "2026-06-01T00:01:00.000Z");
    assert_eq!(subject["updatedAt"], "2026-06-01T00:01:00.000Z");
    assert_eq!(subject["createdAt"], "2026-06-01T00:00:00.000Z");
    assert_eq!(subject["credentials"].as_array().unwrap().len(), 1);
    assert_eq!(subject["credentials"][0]["failed"], true);
    assert_eq!(
        subject["instanceProperties"][0]["properties"],
        json!({"hostname": "edge-60"})
    );
    assert_eq!(subject["instanceProperties"].as_array().unwrap().len(), 2);

    // The next minute counts from that write; requests without properties
    // add no entry.
    f.clock.advance(59);
    f.granted(&f.pki.ec_p256, json!({})).await;
    assert_eq!(f.generation().await, before + 2);
    f.clock.advance(1);
    f.granted(&f.pki.ec_p256, json!({})).await;
    assert_eq!(f.generation().await, before + 3);
    let subject = f.subject(&id).await;
    assert_eq!(subject["lastSeenAt"], "2026-06-01T00:02:00.000Z");
    assert_eq!(subject["credentials"][0]["failed"], false);
    assert_eq!(subject["instanceProperties"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_new_certificate_serial_of_a_subject_is_written_at_once() {
    let f = Fixture::new().await;
    let before = f.generation().await;
    let id = f.granted(&f.pki.ec_p256, json!({})).await;
    f.clock.advance(1);
    let renewed = f.granted(&f.pki.ec_p256_renewed, json!({})).await;
    assert_eq!(renewed, id, "the same subject DN is the same subject");
    assert_eq!(f.generation().await, before + 2, "a new serial: written");
    let subject = f.subject(&id).await;
    let serials: Vec<&str> = subject["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serialNumber"].as_str().unwrap())
        .collect();
    assert_eq!(
        serials,
        [
            f.pki.ec_p256_renewed.serial_hex(),
            f.pki.ec_p256.serial_hex()
        ]
    );
    assert_eq!(subject["lastSeenAt"], "2026-06-01T00:00:01.000Z");

    // Both serials known: within the minute neither is written again.
    f.clock.advance(1);
    f.granted(&f.pki.ec_p256, json!({})).await;
    f.granted(&f.pki.ec_p256_renewed, json!({})).await;
    assert_eq!(f.generation().await, before + 2);
}

#[tokio::test]
async fn refusals_before_the_chain_verifies_write_nothing() {
    let f = Fixture::new().await;
    let before = f.generation().await;
    // Another CA's leaf, an expired leaf, an empty instance property.
    let mut refused = Vec::new();
    refused.push(
        f.create_session(&f.pki.other_leaf, &f.profile_arn, json!({}))
            .await,
    );
    refused.push(
        f.create_session(&f.pki.expired, &f.profile_arn, json!({}))
            .await,
    );
    refused.push(
        f.create_session(
            &f.pki.ec_p256,
            &f.profile_arn,
            json!({"instanceProperties": {"k": ""}}),
        )
        .await,
    );
    for response in &refused {
        assert!(matches!(response.status, 400 | 403), "{}", response.body);
    }
    assert_eq!(
        error_code(&refused[2]),
        (400, "ValidationException".to_owned())
    );
    assert_eq!(f.generation().await, before, "nothing written");
    let (status, list) = f.admin("GET", "/subjects", &Value::Null).await;
    assert_eq!(status, 200);
    assert_eq!(list["subjects"], json!([]));
}

#[tokio::test]
async fn a_remembered_chain_is_refused_after_a_certificate_of_it_expires() {
    let f = Fixture::new().await;
    let id = f.granted(&f.pki.ec_p256, json!({})).await;
    // Every test certificate ends 2034-01-01; a day later the same chain,
    // verified and remembered, no longer verifies.
    f.clock.set(2_019_772_800);
    let before = f.generation().await;
    let response = f
        .create_session(&f.pki.ec_p256, &f.profile_arn, json!({}))
        .await;
    assert_eq!(
        error_code(&response),
        (403, "AccessDeniedException".to_owned())
    );
    assert!(response.body.contains("expired"), "{}", response.body);
    // Refused at the chain, not later: the attempt is not recorded (a
    // refusal after the chain verified would record a failure).
    assert_eq!(f.generation().await, before);
    assert_eq!(f.subject(&id).await["credentials"][0]["failed"], false);
}

#[tokio::test]
async fn a_crl_imported_after_a_chain_was_remembered_still_revokes() {
    let f = Fixture::new().await;
    f.granted(&f.pki.revoked, json!({})).await;
    f.granted(&f.pki.revoked, json!({})).await;
    let crl = base64::engine::general_purpose::STANDARD.encode(f.pki.crl_pem.as_bytes());
    let (status, imported) = f
        .admin(
            "POST",
            "/crls",
            &json!({"name": "crl", "crlData": crl, "trustAnchorArn": f.anchor_arn, "enabled": true}),
        )
        .await;
    assert_eq!(status, 201, "{imported}");
    let response = f
        .create_session(&f.pki.revoked, &f.profile_arn, json!({}))
        .await;
    assert_eq!(
        error_code(&response),
        (403, "AccessDeniedException".to_owned())
    );
    assert!(response.body.contains("revoked"), "{}", response.body);
    // The other leaves of the same intermediate still pass.
    f.granted(&f.pki.ec_p256, json!({})).await;
}

#[tokio::test]
async fn a_subject_written_after_another_nodes_change_loads_that_change() {
    let mut f = Fixture::new().await;
    f.granted(&f.pki.ec_p256, json!({})).await;

    // A second node over the same store disables the trust anchor.
    let mut other = core_over(
        Arc::clone(&f.store),
        Arc::clone(&f.clock) as Arc<dyn Clock>,
        Arc::new(MemoryAuditSink::default()),
    )
    .await;
    std::mem::swap(&mut f.core, &mut other);
    let anchor_id = f.anchor_arn.rsplit('/').next().unwrap().to_owned();
    let (status, disabled) = f
        .admin(
            "POST",
            &format!("/trustanchor/{anchor_id}/disable"),
            &Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{disabled}");
    std::mem::swap(&mut f.core, &mut other);

    // This node has not seen it yet (no refresher runs here): a new subject
    // still gets a session, and its record is one write after the other
    // node's, so this node loads the entities again rather than adding the
    // subject to the ones it had.
    f.granted(&f.pki.rsa, json!({})).await;
    let refused = f
        .create_session(&f.pki.ec_p256, &f.profile_arn, json!({}))
        .await;
    assert_eq!(
        error_code(&refused),
        (403, "AccessDeniedException".to_owned()),
        "the disabled anchor is seen after the subject write"
    );
}

/// A trust policy allowing Roles Anywhere's three actions when `condition`
/// holds.
fn trust_policy(condition: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "rolesanywhere.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
        "Condition": condition}]})
    .to_string()
}

impl Fixture {
    async fn set_trust_policy(&self, condition: Value) {
        let updated = self
            .iam(&[
                ("Action", "UpdateAssumeRolePolicy"),
                ("Version", "2010-05-08"),
                ("RoleName", "demo"),
                ("PolicyDocument", &trust_policy(condition)),
            ])
            .await;
        assert_eq!(updated.status, 200, "{}", updated.body);
    }
}

/// A refusal by the trust policy: AWS's code and message.
fn assert_refused_by_trust(response: &ApiResponse) {
    assert_eq!(
        error_code(response),
        (403, "AccessDeniedException".to_owned()),
        "{}",
        response.body
    );
    assert!(
        response
            .body
            .contains("not authorized to perform sts:AssumeRole"),
        "{}",
        response.body
    );
}

#[tokio::test]
async fn the_trust_policy_sees_the_roles_tags() {
    let f = Fixture::new().await;
    let tagged = f
        .iam(&[
            ("Action", "TagRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "demo"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "edge"),
        ])
        .await;
    assert_eq!(tagged.status, 200, "{}", tagged.body);

    f.set_trust_policy(json!({"StringEquals": {"aws:ResourceTag/team": "edge"}}))
        .await;
    f.granted(&f.pki.ec_p256, json!({})).await;

    f.set_trust_policy(json!({"StringEquals": {"aws:ResourceTag/team": "core"}}))
        .await;
    let refused = f
        .create_session(&f.pki.ec_p256, &f.profile_arn, json!({}))
        .await;
    assert_refused_by_trust(&refused);
}

#[tokio::test]
async fn the_trust_policy_sees_the_user_agent() {
    let f = Fixture::new().await;
    f.set_trust_policy(json!({"StringLike": {"aws:UserAgent": "edge-agent/*"}}))
        .await;
    let agent: &[u8] = b"edge-agent/1.2 (fleet)";
    let granted = f
        .create_session_with_headers(
            &f.pki.ec_p256,
            &f.profile_arn,
            json!({}),
            &[("user-agent", agent)],
        )
        .await;
    assert_eq!(granted.status, 201, "{}", granted.body);

    let other: &[u8] = b"curl/8.5.0";
    let refused = f
        .create_session_with_headers(
            &f.pki.ec_p256,
            &f.profile_arn,
            json!({}),
            &[("user-agent", other)],
        )
        .await;
    assert_refused_by_trust(&refused);
    let refused = f
        .create_session(&f.pki.ec_p256, &f.profile_arn, json!({}))
        .await;
    assert_refused_by_trust(&refused);
}

#[tokio::test]
async fn the_trust_policy_sees_the_roles_anywhere_keys() {
    let f = Fixture::new().await;
    f.set_trust_policy(json!({
        "ArnEquals": {"aws:SourceArn": f.anchor_arn},
        "StringEquals": {
            "aws:SourceAccount": ACCOUNT,
            "aws:PrincipalIsAWSService": "true",
            "aws:PrincipalTag/x509Subject/CN": "workload-ec",
            "aws:PrincipalTag/x509Issuer/CN": "Example Issuing CA",
            "aws:PrincipalTag/x509SAN/DNS": "host1.example.com",
            "aws:RequestTag/x509Subject/OU": "Dev",
            "sts:SourceIdentity": "CN=workload-ec",
            "sts:RoleSessionName": f.pki.ec_p256.serial_hex(),
            "aws:SourceIp": "192.0.2.9",
        },
        "ForAnyValue:StringEquals": {"aws:TagKeys": "x509Subject/CN"},
    }))
    .await;
    f.granted(&f.pki.ec_p256, json!({})).await;
    // The same policy refuses another certificate of the same CA.
    let refused = f
        .create_session(&f.pki.ec_p384, &f.profile_arn, json!({}))
        .await;
    assert_refused_by_trust(&refused);
}
