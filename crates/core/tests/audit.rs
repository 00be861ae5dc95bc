//! The audit seam through the public API: a `Core` over an in-memory SQLite
//! store, a `MemoryAuditSink`, requests signed with `mayfly_sigv4` and sent
//! through `Core::handle`. Every request — success, unknown action, bad
//! signature, unknown key, AccessDenied, unsigned federation call — yields
//! exactly one event naming the action, the service, the outcome (the AWS
//! error code), the caller when authenticated and the key an action issued;
//! no event ever carries a secret key, a session token, an MFA code or a
//! web identity token. Expiry is proven with injected clocks, never sleeping.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    ACCOUNT, HOST, Key, ROOT_KEY_ID, ROOT_SECRET, SOURCE_IP, between, code_of, core_over, form,
    initialized_store, issued_key, send, signing_params,
};
use mayfly_core::audit::{AuditEvent, AuditOutcome, MemoryAuditSink};
use mayfly_core::clock::{Clock, FixedClock, from_unix};
use mayfly_core::{ApiRequest, ApiResponse, Core, SystemClock};

/// When the store was initialized (unix seconds).
const INITIALIZED_AT: u64 = 1_700_000_000;

/// POST `body` without any signature (the unsigned federation actions).
async fn send_unsigned(core: &Core, body: &str) -> ApiResponse {
    let headers: [(&str, &[u8]); 2] = [
        ("host", HOST.as_bytes()),
        (
            "content-type",
            b"application/x-www-form-urlencoded".as_slice(),
        ),
    ];
    core.handle(ApiRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
        source_ip: SOURCE_IP,
        secure_transport: false,
    })
    .await
}

/// GET a presigned `query` (session token and signature in the URL).
async fn send_presigned(core: &Core, key: &Key, query: &str) -> ApiResponse {
    let time = core.clock().now();
    let base = [("host", HOST.as_bytes())];
    let parts = mayfly_sigv4::RequestParts {
        method: "GET",
        path: "/",
        query,
        headers: &base,
    };
    let presigned =
        mayfly_sigv4::presign(&parts, &signing_params(key, "sts", time, b""), 300).unwrap();
    core.handle(ApiRequest {
        method: "GET",
        path: "/",
        query: &presigned.query,
        headers: &base,
        body: b"",
        source_ip: SOURCE_IP,
        secure_transport: false,
    })
    .await
}

/// Send one request and return it with the one event it produced.
struct Recorder {
    core: Core,
    audit: Arc<MemoryAuditSink>,
}

impl Recorder {
    async fn new(clock: Arc<dyn Clock>) -> Recorder {
        let audit = Arc::new(MemoryAuditSink::default());
        let core = core_over(
            initialized_store(INITIALIZED_AT).await,
            clock,
            Arc::clone(&audit),
        )
        .await;
        Recorder { core, audit }
    }

    /// The single event the last request added; fails unless it added exactly one.
    fn only_new_event(&self, before: usize, response: &ApiResponse) -> AuditEvent {
        let events = self.audit.events();
        assert_eq!(
            events.len(),
            before + 1,
            "exactly one audit event per request; response was {}",
            response.body
        );
        let event = events.last().unwrap().clone();
        assert_eq!(event.request_id, response.request_id);
        assert_eq!(event.source_ip, SOURCE_IP);
        event
    }

    async fn signed(&self, service: &str, key: &Key, body: &str) -> (ApiResponse, AuditEvent) {
        let before = self.audit.events().len();
        let response = send(&self.core, service, key, body).await;
        let event = self.only_new_event(before, &response);
        (response, event)
    }

    async fn unsigned(&self, body: &str) -> (ApiResponse, AuditEvent) {
        let before = self.audit.events().len();
        let response = send_unsigned(&self.core, body).await;
        let event = self.only_new_event(before, &response);
        (response, event)
    }

    async fn presigned(&self, key: &Key, query: &str) -> (ApiResponse, AuditEvent) {
        let before = self.audit.events().len();
        let response = send_presigned(&self.core, key, query).await;
        let event = self.only_new_event(before, &response);
        (response, event)
    }
}

fn error(code: &str) -> AuditOutcome {
    AuditOutcome::Error { code: code.into() }
}

fn assert_caller(event: &AuditEvent, arn: &str, access_key_id: &str) {
    let caller = event
        .caller
        .as_ref()
        .unwrap_or_else(|| panic!("no caller in {event:?}"));
    assert_eq!(caller.arn, arn);
    assert_eq!(caller.account_id, ACCOUNT);
    assert_eq!(caller.access_key_id, access_key_id);
}

fn parameter<'e>(event: &'e AuditEvent, name: &str) -> Option<&'e str> {
    event
        .parameters
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// No event, in any field, shows any of `secrets`.
fn assert_no_secret_in(events: &[AuditEvent], secrets: &[&str]) {
    assert!(!events.is_empty());
    for event in events {
        let shown = format!("{event:?}");
        for secret in secrets {
            assert!(!secret.is_empty());
            assert!(
                !shown.contains(secret),
                "a secret reached the audit event of {}: {shown}",
                event.action
            );
        }
    }
}

#[tokio::test]
async fn successes_and_failures_each_yield_one_event_with_action_service_caller_and_code() {
    let r = Recorder::new(Arc::new(SystemClock::new())).await;
    let root = Key::root();
    let root_arn = format!("arn:aws:iam::{ACCOUNT}:root");

    // STS success, authenticated as the root.
    let (ok, event) = r
        .signed("sts", &root, "Action=GetCallerIdentity&Version=2011-06-15")
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(event.action, "GetCallerIdentity");
    assert_eq!(event.service, "sts");
    assert_eq!(event.outcome, AuditOutcome::Success);
    assert_caller(&event, &root_arn, ROOT_KEY_ID);
    assert!(event.issued_access_key_id.is_none());
    assert!(event.parameters.is_empty(), "{:?}", event.parameters);

    // IAM successes: a user and its long-term key (a secret in the answer).
    let (created, event) = r
        .signed(
            "iam",
            &root,
            &form(&[
                ("Action", "CreateUser"),
                ("Version", "2010-05-08"),
                ("UserName", "auditee"),
            ]),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(event.service, "iam");
    assert_eq!(event.action, "CreateUser");
    assert_eq!(parameter(&event, "UserName"), Some("auditee"));
    let (answer, event) = r
        .signed(
            "iam",
            &root,
            "Action=CreateAccessKey&Version=2010-05-08&UserName=auditee",
        )
        .await;
    let user = issued_key(&answer);
    assert!(user.id.starts_with("AKIA"));
    assert_eq!(event.outcome, AuditOutcome::Success);
    assert_eq!(
        event.issued_access_key_id.as_deref(),
        Some(user.id.as_str()),
        "CreateAccessKey records the long-term key id it created"
    );

    // AccessDenied: the user has no policy at all.
    let user_arn = format!("arn:aws:iam::{ACCOUNT}:user/auditee");
    let (denied, event) = r
        .signed("iam", &user, "Action=ListUsers&Version=2010-05-08")
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(code_of(&denied), "AccessDenied");
    assert_eq!(event.action, "ListUsers");
    assert_eq!(event.service, "iam");
    assert_eq!(event.outcome, error("AccessDenied"));
    assert_caller(&event, &user_arn, &user.id);
    assert!(
        !format!("{event:?}").contains("Encoded authorization failure message"),
        "the event records the code, not the sealed explanation"
    );

    // Unknown action: authenticated, then refused.
    let (unknown, event) = r
        .signed("sts", &root, "Action=Frobnicate&Version=2011-06-15")
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(event.action, "Frobnicate");
    assert_eq!(event.outcome, error("InvalidAction"));
    assert_caller(&event, &root_arn, ROOT_KEY_ID);

    // A signature made with the wrong secret names no caller.
    let forged = Key {
        secret: "not-the-root-secret-not-the-root-secret-".to_owned(),
        ..Key::root()
    };
    let (refused, event) = r
        .signed(
            "sts",
            &forged,
            "Action=GetCallerIdentity&Version=2011-06-15",
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(event.action, "GetCallerIdentity");
    assert_eq!(event.service, "sts");
    assert_eq!(event.outcome, error("SignatureDoesNotMatch"));
    assert!(event.caller.is_none(), "{event:?}");

    // An access key nobody knows.
    let stranger = Key {
        id: "AKIAMAYFLYNOBODY0000".to_owned(),
        secret: "whatever-whatever-whatever-whatever-what".to_owned(),
        token: None,
    };
    let (refused, event) = r
        .signed(
            "sts",
            &stranger,
            "Action=GetCallerIdentity&Version=2011-06-15",
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(event.outcome, error("InvalidClientTokenId"));
    assert!(event.caller.is_none());

    // A session token only goes with the temporary key it was issued with.
    let root_with_token = Key {
        token: Some("AQoDYXdzEJr-not-a-real-token".to_owned()),
        ..Key::root()
    };
    let (refused, event) = r
        .signed(
            "sts",
            &root_with_token,
            "Action=GetCallerIdentity&Version=2011-06-15",
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(event.outcome, error("InvalidClientTokenId"));
    assert!(event.caller.is_none());

    // No Action at all: the event has an empty action name.
    let (missing, event) = r.signed("sts", &root, "Version=2011-06-15").await;
    assert_eq!(missing.status, 400);
    assert_eq!(event.action, "");
    assert_eq!(event.outcome, error("MissingAction"));

    // An unknown parameter is refused and still audited, once.
    let (unknown_param, event) = r
        .signed(
            "sts",
            &root,
            "Action=GetCallerIdentity&Version=2011-06-15&Surprise=1",
        )
        .await;
    assert_eq!(unknown_param.status, 400);
    assert_eq!(event.outcome, error("InvalidParameterValue"));
    assert_eq!(parameter(&event, "Surprise"), Some("1"));

    // Unsigned federation: the web identity token is never recorded.
    let web_identity_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhdWRpdGVlIn0.c2lnbmF0dXJlLXNlY3JldA";
    let (unsigned, event) = r
        .unsigned(&form(&[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", "arn:aws:iam::000000000000:role/web"),
            ("RoleSessionName", "web-session"),
            ("WebIdentityToken", web_identity_token),
        ]))
        .await;
    assert_ne!(unsigned.status, 200);
    assert_eq!(event.action, "AssumeRoleWithWebIdentity");
    assert_eq!(event.outcome, error(code_of(&unsigned)));
    assert!(event.caller.is_none());
    assert_eq!(parameter(&event, "RoleSessionName"), Some("web-session"));
    assert!(matches!(
        parameter(&event, "WebIdentityToken"),
        None | Some("<redacted>")
    ));

    let events = r.audit.events();
    assert_eq!(events.len(), 11, "eleven requests, eleven events");
    assert_no_secret_in(&events, &[ROOT_SECRET, &user.secret, web_identity_token]);
}

#[tokio::test]
async fn issuing_actions_record_the_issued_key_and_never_the_secret_or_token() {
    let r = Recorder::new(Arc::new(SystemClock::new())).await;
    let root = Key::root();
    let iam = |pairs: &[(&str, &str)]| {
        let mut all = vec![("Version", "2010-05-08")];
        all.extend_from_slice(pairs);
        form(&all)
    };

    // alice may assume `deploy`; `deploy` may assume `target` (a chain).
    let alice_arn = format!("arn:aws:iam::{ACCOUNT}:user/alice");
    let deploy_arn = format!("arn:aws:iam::{ACCOUNT}:role/deploy");
    let trust = |principal: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}]}}"#
        )
    };
    let allow_assume = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    for body in [
        iam(&[("Action", "CreateUser"), ("UserName", "alice")]),
        iam(&[
            ("Action", "CreateRole"),
            ("RoleName", "deploy"),
            ("AssumeRolePolicyDocument", &trust(&alice_arn)),
        ]),
        iam(&[
            ("Action", "PutRolePolicy"),
            ("RoleName", "deploy"),
            ("PolicyName", "chain"),
            ("PolicyDocument", allow_assume),
        ]),
        iam(&[
            ("Action", "CreateRole"),
            ("RoleName", "target"),
            ("AssumeRolePolicyDocument", &trust(&deploy_arn)),
        ]),
    ] {
        let (answer, event) = r.signed("iam", &root, &body).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(event.outcome, AuditOutcome::Success);
    }
    let (answer, _) = r
        .signed(
            "iam",
            &root,
            &iam(&[("Action", "CreateAccessKey"), ("UserName", "alice")]),
        )
        .await;
    let alice = issued_key(&answer);

    // GetSessionToken as alice.
    let (answer, event) = r
        .signed(
            "sts",
            &alice,
            "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=900",
        )
        .await;
    let alice_session = issued_key(&answer);
    assert!(alice_session.id.starts_with("ASIA"));
    assert_eq!(event.action, "GetSessionToken");
    assert_eq!(event.outcome, AuditOutcome::Success);
    assert_eq!(
        event.issued_access_key_id.as_deref(),
        Some(alice_session.id.as_str())
    );
    assert_caller(&event, &alice_arn, &alice.id);
    assert_eq!(parameter(&event, "DurationSeconds"), Some("900"));

    // AssumeRole as alice.
    let (answer, event) = r
        .signed(
            "sts",
            &alice,
            &form(&[
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", &deploy_arn),
                ("RoleSessionName", "audit-run"),
            ]),
        )
        .await;
    let deploy = issued_key(&answer);
    assert_eq!(event.action, "AssumeRole");
    assert_eq!(
        event.issued_access_key_id.as_deref(),
        Some(deploy.id.as_str())
    );
    assert_caller(&event, &alice_arn, &alice.id);
    assert_eq!(parameter(&event, "RoleArn"), Some(deploy_arn.as_str()));

    // Role chaining: the caller is the assumed-role session.
    let deploy_session_arn = format!("arn:aws:sts::{ACCOUNT}:assumed-role/deploy/audit-run");
    let target_arn = format!("arn:aws:iam::{ACCOUNT}:role/target");
    let (answer, event) = r
        .signed(
            "sts",
            &deploy,
            &form(&[
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", &target_arn),
                ("RoleSessionName", "chained"),
            ]),
        )
        .await;
    let target = issued_key(&answer);
    assert_eq!(
        event.issued_access_key_id.as_deref(),
        Some(target.id.as_str())
    );
    assert_caller(&event, &deploy_session_arn, &deploy.id);

    // A presigned call with the session token in the URL.
    let (answer, event) = r
        .presigned(&target, "Action=GetCallerIdentity&Version=2011-06-15")
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(event.action, "GetCallerIdentity");
    assert_caller(
        &event,
        &format!("arn:aws:sts::{ACCOUNT}:assumed-role/target/chained"),
        &target.id,
    );
    assert!(
        event
            .parameters
            .iter()
            .all(|(k, _)| !k.starts_with("X-Amz-")),
        "{:?}",
        event.parameters
    );

    // Failures of issuing actions issue nothing.
    let (denied, event) = r
        .signed(
            "sts",
            &alice,
            &form(&[
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", &format!("arn:aws:iam::{ACCOUNT}:role/missing")),
                ("RoleSessionName", "audit-run"),
            ]),
        )
        .await;
    assert_eq!(code_of(&denied), "AccessDenied");
    assert_eq!(event.outcome, error("AccessDenied"));
    assert!(event.issued_access_key_id.is_none());
    assert_caller(&event, &alice_arn, &alice.id);

    // A role that exists but does not trust alice: evaluated and denied.
    let (untrusted, event) = r
        .signed(
            "sts",
            &alice,
            &form(&[
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", &target_arn),
                ("RoleSessionName", "audit-run"),
            ]),
        )
        .await;
    assert_eq!(code_of(&untrusted), "AccessDenied");
    assert_eq!(event.outcome, error("AccessDenied"));
    assert!(event.issued_access_key_id.is_none());

    let (refused, event) = r
        .signed(
            "sts",
            &alice_session,
            "Action=GetSessionToken&Version=2011-06-15",
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(event.outcome, error("AccessDenied"));
    assert!(event.issued_access_key_id.is_none());
    assert_caller(&event, &alice_arn, &alice_session.id);

    // An MFA pair: the code is redacted (the serial number is not a secret).
    let mfa_code = "654321";
    let serial = format!("arn:aws:iam::{ACCOUNT}:mfa/alice");
    let (refused, event) = r
        .signed(
            "sts",
            &alice,
            &form(&[
                ("Action", "GetSessionToken"),
                ("Version", "2011-06-15"),
                ("SerialNumber", &serial),
                ("TokenCode", mfa_code),
            ]),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(event.outcome, error("AccessDenied"));
    assert!(event.issued_access_key_id.is_none());
    assert!(matches!(
        parameter(&event, "TokenCode"),
        None | Some("<redacted>")
    ));
    assert_eq!(parameter(&event, "SerialNumber"), Some(serial.as_str()));

    // DecodeAuthorizationMessage's input is a sealed message: not recorded.
    // (An untrusting role answers like a missing one, without a sealed
    // explanation; an identity-policy denial carries one.)
    let (listed, _) = r
        .signed("iam", &alice, "Action=ListUsers&Version=2010-05-08")
        .await;
    assert_eq!(code_of(&listed), "AccessDenied");
    let sealed = between(
        &listed.body,
        "Encoded authorization failure message: ",
        "</Message>",
    );
    let (_, event) = r
        .signed(
            "sts",
            &root,
            &form(&[
                ("Action", "DecodeAuthorizationMessage"),
                ("Version", "2011-06-15"),
                ("EncodedMessage", sealed),
            ]),
        )
        .await;
    assert_eq!(event.action, "DecodeAuthorizationMessage");
    assert!(matches!(
        parameter(&event, "EncodedMessage"),
        None | Some("<redacted>")
    ));

    let events = r.audit.events();
    assert_eq!(events.len(), 15, "fifteen requests, fifteen events");
    let issued: Vec<&str> = events
        .iter()
        .filter_map(|e| e.issued_access_key_id.as_deref())
        .collect();
    assert_eq!(
        issued,
        [
            alice.id.as_str(),
            alice_session.id.as_str(),
            deploy.id.as_str(),
            target.id.as_str()
        ]
    );
    let mut secrets = vec![ROOT_SECRET, alice.secret.as_str(), mfa_code, sealed];
    for session in [&alice_session, &deploy, &target] {
        secrets.push(&session.secret);
        secrets.push(session.token.as_deref().unwrap());
    }
    assert_no_secret_in(&events, &secrets);
}

#[tokio::test]
async fn a_token_issued_at_t_is_expired_for_a_core_whose_clock_reads_t_plus_its_lifetime() {
    let store = initialized_store(INITIALIZED_AT).await;
    let t = from_unix(1_800_000_000);
    let issuing_audit = Arc::new(MemoryAuditSink::default());
    let issuing = core_over(
        Arc::clone(&store),
        Arc::new(FixedClock(t)),
        Arc::clone(&issuing_audit),
    )
    .await;
    // The root's GetSessionToken lasts 3600 seconds by default.
    let answer = send(
        &issuing,
        "sts",
        &Key::root(),
        "Action=GetSessionToken&Version=2011-06-15",
    )
    .await;
    let session = issued_key(&answer);
    assert!(
        answer
            .body
            .contains("<Expiration>2027-01-15T09:00:00Z</Expiration>"),
        "{}",
        answer.body
    );
    let event = issuing_audit.events().pop().unwrap();
    assert_eq!(event.time, t);
    assert_eq!(
        event.issued_access_key_id.as_deref(),
        Some(session.id.as_str())
    );

    // One second before expiry, a second core over the same store accepts it.
    let just_before = t + Duration::from_secs(3599);
    let before_audit = Arc::new(MemoryAuditSink::default());
    let before = core_over(
        Arc::clone(&store),
        Arc::new(FixedClock(just_before)),
        Arc::clone(&before_audit),
    )
    .await;
    let ok = send(
        &before,
        "sts",
        &session,
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        before_audit.events().pop().unwrap().outcome,
        AuditOutcome::Success
    );

    // At T+3600 a third core refuses it with ExpiredToken, and audits that once.
    let at_expiry = t + Duration::from_secs(3600);
    let late_audit = Arc::new(MemoryAuditSink::default());
    let late = core_over(
        store,
        Arc::new(FixedClock(at_expiry)),
        Arc::clone(&late_audit),
    )
    .await;
    let refused = send(
        &late,
        "sts",
        &session,
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(code_of(&refused), "ExpiredToken");
    let events = late_audit.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, error("ExpiredToken"));
    assert_eq!(events[0].time, at_expiry);
    assert!(events[0].caller.is_none());

    // The long-term key that issued it still works at that time.
    let root_ok = send(
        &late,
        "sts",
        &Key::root(),
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(root_ok.status, 200, "{}", root_ok.body);
    assert_no_secret_in(
        &late_audit.events(),
        &[
            &session.secret,
            session.token.as_deref().unwrap(),
            ROOT_SECRET,
        ],
    );
}

/// Role enumeration: AssumeRole must answer a missing role and an existing
/// role that does not trust the caller identically, or the message tells an
/// attacker which role names exist (neither carries a reason nor a sealed
/// explanation).
#[tokio::test]
async fn a_missing_role_and_an_untrusting_role_are_refused_with_the_same_message() {
    let r = Recorder::new(Arc::new(SystemClock::new())).await;
    let root = Key::root();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/someone-else"},"Action":"sts:AssumeRole"}]}"#;
    for body in [
        form(&[
            ("Action", "CreateUser"),
            ("Version", "2010-05-08"),
            ("UserName", "mallory"),
        ]),
        form(&[
            ("Action", "CreateUser"),
            ("Version", "2010-05-08"),
            ("UserName", "someone-else"),
        ]),
        form(&[
            ("Action", "PutUserPolicy"),
            ("Version", "2010-05-08"),
            ("UserName", "mallory"),
            ("PolicyName", "assume"),
            ("PolicyDocument", policy),
        ]),
        form(&[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "exists"),
            ("AssumeRolePolicyDocument", trust),
        ]),
    ] {
        let (answer, _) = r.signed("iam", &root, &body).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let (answer, _) = r
        .signed(
            "iam",
            &root,
            "Action=CreateAccessKey&Version=2010-05-08&UserName=mallory",
        )
        .await;
    let mallory = issued_key(&answer);
    let message_for = |role: &'static str| {
        let mallory = mallory.clone();
        let r = &r;
        async move {
            let (answer, _) = r
                .signed(
                    "sts",
                    &mallory,
                    &form(&[
                        ("Action", "AssumeRole"),
                        ("Version", "2011-06-15"),
                        ("RoleArn", &format!("arn:aws:iam::{ACCOUNT}:role/{role}")),
                        ("RoleSessionName", "probe"),
                    ]),
                )
                .await;
            assert_eq!(code_of(&answer), "AccessDenied");
            between(&answer.body, "<Message>", "</Message>").replace(role, "ROLE")
        }
    };
    assert_eq!(message_for("exists").await, message_for("nosuchrole").await);
}
