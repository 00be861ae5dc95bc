//! Virtual MFA devices through `Core::handle` (iam-admin-api.md 10,
//! sts-api.md 8): the IAM device actions and their errors, and MFA on
//! GetSessionToken and AssumeRole: the window of accepted codes, replays,
//! devices of other users, and the `aws:MultiFactorAuth*` keys the sessions
//! carry. Codes come from `mayfly_testkit::totp`, written apart from the
//! server's TOTP; time comes from a clock the tests move, never sleeping.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]

mod common;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{
    ACCOUNT, Key, MovableClock, between, code_of, core_over, form, initialized_store, issued_key,
};
use mayfly_core::ApiResponse;
use mayfly_core::Core;
use mayfly_core::audit::MemoryAuditSink;
use mayfly_core::clock::Clock;
use mayfly_testkit::totp;

/// Ten seconds into a 30-second step.
const START: u64 = 1_800_000_010;
const NOT_ASSOCIATED: &str = "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user.";
const INVALID_CODE: &str = "MultiFactorAuthentication failed with invalid MFA one time pass code.";

/// The error message, XML entities decoded.
fn message_of(response: &ApiResponse) -> String {
    between(&response.body, "<Message>", "</Message>")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The HTTP status and AWS error code of a refusal.
fn refusal(response: &ApiResponse) -> (u16, &str) {
    (response.status, code_of(response))
}

/// A device as CreateVirtualMFADevice returned it.
struct Device {
    serial: String,
    /// The seed's base32 text.
    base32: String,
    /// The seed (HMAC key).
    seed: Vec<u8>,
}

struct Harness {
    core: Core,
    clock: Arc<MovableClock>,
    audit: Arc<MemoryAuditSink>,
}

impl Harness {
    async fn new() -> Harness {
        let clock = MovableClock::at(START);
        let audit = Arc::new(MemoryAuditSink::default());
        let core = core_over(
            initialized_store(START - 1000).await,
            Arc::clone(&clock) as Arc<dyn Clock>,
            Arc::clone(&audit),
        )
        .await;
        Harness { core, clock, audit }
    }

    fn now(&self) -> u64 {
        self.clock.unix()
    }

    fn advance(&self, seconds: u64) {
        self.clock.advance(seconds);
    }

    /// The device's code `offset` steps from the current one.
    fn code(&self, device: &Device, offset: i64) -> String {
        let step = totp::step_at(self.now())
            .checked_add_signed(offset)
            .unwrap();
        totp::code(&device.seed, step)
    }

    async fn send(&self, service: &str, key: &Key, pairs: &[(&str, &str)]) -> ApiResponse {
        common::send(&self.core, service, key, &form(pairs)).await
    }

    async fn iam(&self, key: &Key, action: &str, pairs: &[(&str, &str)]) -> ApiResponse {
        let mut all = vec![("Action", action), ("Version", "2010-05-08")];
        all.extend_from_slice(pairs);
        self.send("iam", key, &all).await
    }

    async fn sts(&self, key: &Key, action: &str, pairs: &[(&str, &str)]) -> ApiResponse {
        let mut all = vec![("Action", action), ("Version", "2011-06-15")];
        all.extend_from_slice(pairs);
        self.send("sts", key, &all).await
    }

    /// An IAM call by the root that must succeed; its body.
    async fn admin(&self, action: &str, pairs: &[(&str, &str)]) -> String {
        let response = self.iam(&Key::root(), action, pairs).await;
        assert_eq!(response.status, 200, "{action}: {}", response.body);
        response.body
    }

    /// A user with an access key (and `policy` inline, if any).
    async fn user_with_key(&self, name: &str, policy: Option<&str>) -> Key {
        self.admin("CreateUser", &[("UserName", name)]).await;
        if let Some(policy) = policy {
            self.admin(
                "PutUserPolicy",
                &[
                    ("UserName", name),
                    ("PolicyName", "inline"),
                    ("PolicyDocument", policy),
                ],
            )
            .await;
        }
        let created = self
            .iam(&Key::root(), "CreateAccessKey", &[("UserName", name)])
            .await;
        issued_key(&created)
    }

    async fn create_device(&self, name: &str) -> Device {
        let body = self
            .admin("CreateVirtualMFADevice", &[("VirtualMFADeviceName", name)])
            .await;
        let serial = between(&body, "<SerialNumber>", "</SerialNumber>").to_owned();
        let encoded = between(&body, "<Base32StringSeed>", "</Base32StringSeed>");
        let base32 = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        let seed = totp::base32_decode(&base32).unwrap();
        Device {
            serial,
            base32,
            seed,
        }
    }

    async fn enable_with(&self, user: &str, device: &Device, codes: [&str; 2]) -> ApiResponse {
        self.iam(
            &Key::root(),
            "EnableMFADevice",
            &[
                ("UserName", user),
                ("SerialNumber", &device.serial),
                ("AuthenticationCode1", codes[0]),
                ("AuthenticationCode2", codes[1]),
            ],
        )
        .await
    }

    /// Enable with the previous and the current code, as a person would
    /// (waiting for the next code to appear); then move to the next step,
    /// whose code is still unused.
    async fn enable(&self, user: &str, device: &Device) {
        let (previous, current) = (self.code(device, -1), self.code(device, 0));
        let response = self.enable_with(user, device, [&previous, &current]).await;
        assert_eq!(response.status, 200, "{}", response.body);
        self.advance(totp::STEP_SECONDS);
    }

    async fn session_token(&self, key: &Key, serial: &str, code: &str) -> ApiResponse {
        self.sts(
            key,
            "GetSessionToken",
            &[("SerialNumber", serial), ("TokenCode", code)],
        )
        .await
    }
}

#[tokio::test]
async fn create_virtual_mfa_device_returns_the_seed_once_and_refuses_a_duplicate() {
    let h = Harness::new().await;
    let body = h
        .admin(
            "CreateVirtualMFADevice",
            &[
                ("VirtualMFADeviceName", "phone"),
                ("Path", "/team/"),
                ("Tags.member.1.Key", "owner"),
                ("Tags.member.1.Value", "alice"),
            ],
        )
        .await;
    assert_eq!(
        between(&body, "<SerialNumber>", "</SerialNumber>"),
        format!("arn:aws:iam::{ACCOUNT}:mfa/team/phone")
    );
    // Base32StringSeed is a blob: base64 of 64 base32 characters.
    let encoded = between(&body, "<Base32StringSeed>", "</Base32StringSeed>");
    let base32 = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
    assert_eq!(base32.len(), 64);
    assert_eq!(totp::base32_decode(&base32).unwrap().len(), 40);
    // QRCodePNG is base64 of a PNG.
    let png = STANDARD
        .decode(between(&body, "<QRCodePNG>", "</QRCodePNG>"))
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(body.contains("<Key>owner</Key>"), "{body}");

    // The same path and name (any case) exists already.
    for name in ["phone", "PHONE"] {
        let again = h
            .iam(
                &Key::root(),
                "CreateVirtualMFADevice",
                &[("VirtualMFADeviceName", name), ("Path", "/team/")],
            )
            .await;
        assert_eq!(
            refusal(&again),
            (409, "EntityAlreadyExists"),
            "{}",
            again.body
        );
        assert_eq!(
            message_of(&again),
            "MFADevice entity at the same path and name already exists."
        );
    }
    // Another path is another device.
    h.admin(
        "CreateVirtualMFADevice",
        &[("VirtualMFADeviceName", "phone")],
    )
    .await;

    // Neither list nor the tags show the seed.
    let listed = h.admin("ListVirtualMFADevices", &[]).await;
    assert!(
        !listed.contains(&base32) && !listed.contains(encoded),
        "{listed}"
    );
    assert!(!listed.contains("Base32StringSeed") && !listed.contains("QRCodePNG"));
    assert_eq!(listed.matches("<SerialNumber>").count(), 2, "{listed}");

    // Bad names are validation errors.
    let bad = h
        .iam(
            &Key::root(),
            "CreateVirtualMFADevice",
            &[("VirtualMFADeviceName", "a phone")],
        )
        .await;
    assert_eq!(refusal(&bad), (400, "ValidationError"), "{}", bad.body);
}

#[tokio::test]
async fn create_virtual_mfa_device_needs_permission_on_the_device_arn() {
    let h = Harness::new().await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateVirtualMFADevice","Resource":"arn:aws:iam::000000000000:mfa/${aws:username}"}]}"#;
    let alice = h.user_with_key("alice", Some(policy)).await;
    let own = h
        .iam(
            &alice,
            "CreateVirtualMFADevice",
            &[("VirtualMFADeviceName", "alice")],
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    let other = h
        .iam(
            &alice,
            "CreateVirtualMFADevice",
            &[("VirtualMFADeviceName", "bob")],
        )
        .await;
    assert_eq!(refusal(&other), (403, "AccessDenied"), "{}", other.body);
    assert!(
        message_of(&other).contains(&format!(
            "iam:CreateVirtualMFADevice on resource: arn:aws:iam::{ACCOUNT}:mfa/bob"
        )),
        "{}",
        other.body
    );
}

#[tokio::test]
async fn enable_mfa_device_needs_two_consecutive_current_codes_for_an_existing_user() {
    let h = Harness::new().await;
    h.admin("CreateUser", &[("UserName", "alice")]).await;
    let device = h.create_device("alice").await;
    let code = |offset| h.code(&device, offset);

    let invalid = [
        // Not consecutive, reversed, two steps old, wrong digits.
        [code(-1), code(1)],
        [code(0), code(-1)],
        [code(-3), code(-2)],
        [code(1), code(2)],
        [
            format!("{:06}", (code(-1).parse::<u32>().unwrap() + 1) % 1_000_000),
            code(0),
        ],
    ];
    for codes in &invalid {
        let refused = h
            .enable_with("alice", &device, [&codes[0], &codes[1]])
            .await;
        assert_eq!(
            refusal(&refused),
            (403, "InvalidAuthenticationCode"),
            "{}",
            refused.body
        );
        assert_eq!(
            message_of(&refused),
            "Authentication code for device is not valid."
        );
    }

    // Codes must be six digits; neither is echoed.
    let short = h.enable_with("alice", &device, ["12345", "1234567"]).await;
    assert_eq!(refusal(&short), (400, "ValidationError"), "{}", short.body);
    assert!(!short.body.contains("12345"), "{}", short.body);

    // An unknown user or serial is NoSuchEntity.
    let nobody = h
        .enable_with("nobody", &device, [&code(-1), &code(0)])
        .await;
    assert_eq!(refusal(&nobody), (404, "NoSuchEntity"), "{}", nobody.body);
    let unknown = Device {
        serial: format!("arn:aws:iam::{ACCOUNT}:mfa/none"),
        base32: String::new(),
        seed: Vec::new(),
    };
    let missing = h.enable_with("alice", &unknown, ["123456", "654321"]).await;
    assert_eq!(refusal(&missing), (404, "NoSuchEntity"), "{}", missing.body);
    assert_eq!(
        message_of(&missing),
        format!(
            "VirtualMFADevice with serial number arn:aws:iam::{ACCOUNT}:mfa/none doesn't exist."
        )
    );

    // The current and the next code also form a pair.
    let enabled = h.enable_with("alice", &device, [&code(0), &code(1)]).await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    let listed = h.admin("ListMFADevices", &[("UserName", "alice")]).await;
    assert!(listed.contains(&device.serial), "{listed}");
    assert!(listed.contains("<UserName>alice</UserName>"), "{listed}");
    assert!(
        listed.contains(&format!(
            "<EnableDate>{}</EnableDate>",
            "2027-01-15T08:00:10Z"
        )),
        "{listed}"
    );
}

#[tokio::test]
async fn enable_mfa_device_refuses_an_assigned_device_and_a_ninth_device() {
    let h = Harness::new().await;
    h.admin("CreateUser", &[("UserName", "alice")]).await;
    h.admin("CreateUser", &[("UserName", "bob")]).await;
    let device = h.create_device("shared").await;
    h.enable("alice", &device).await;
    for user in ["alice", "bob"] {
        let again = h
            .enable_with(user, &device, [&h.code(&device, 0), &h.code(&device, 1)])
            .await;
        assert_eq!(
            refusal(&again),
            (409, "EntityAlreadyExists"),
            "{}",
            again.body
        );
        assert_eq!(message_of(&again), "MFA Device is already in use.");
    }

    // Seven more for alice make eight; the ninth is over the quota.
    for i in 0..7 {
        let extra = h.create_device(&format!("extra-{i}")).await;
        h.enable("alice", &extra).await;
    }
    let ninth = h.create_device("ninth").await;
    let refused = h
        .enable_with("alice", &ninth, [&h.code(&ninth, -1), &h.code(&ninth, 0)])
        .await;
    assert_eq!(
        refusal(&refused),
        (409, "LimitExceeded"),
        "{}",
        refused.body
    );
    assert_eq!(
        message_of(&refused),
        "Cannot exceed quota for MFADevicesPerUser: 8"
    );
    // Bob may still have it.
    h.enable("bob", &ninth).await;
}

#[tokio::test]
async fn get_session_token_with_mfa_lets_the_session_call_iam_and_refuses_a_replayed_code() {
    let h = Harness::new().await;
    let alice = h
        .user_with_key(
            "alice",
            Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#),
        )
        .await;
    let device = h.create_device("alice").await;
    h.enable("alice", &device).await;

    // Without MFA, the session cannot call IAM at all.
    let plain = issued_key(&h.sts(&alice, "GetSessionToken", &[]).await);
    let refused = h.iam(&plain, "GetUser", &[]).await;
    assert_eq!(
        refusal(&refused),
        (403, "InvalidClientTokenId"),
        "{}",
        refused.body
    );

    let code = h.code(&device, 0);
    let session = issued_key(&h.session_token(&alice, &device.serial, &code).await);
    let got = h.iam(&session, "GetUser", &[]).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(got.body.contains("<UserName>alice</UserName>"));

    // The same code again, at once or later in its window, is refused.
    for _ in 0..2 {
        let replay = h.session_token(&alice, &device.serial, &code).await;
        assert_eq!(refusal(&replay), (403, "AccessDenied"), "{}", replay.body);
        assert_eq!(message_of(&replay), INVALID_CODE);
        h.advance(totp::STEP_SECONDS);
    }
}

#[tokio::test]
async fn a_code_two_steps_old_or_ahead_is_refused_and_one_step_either_side_is_accepted() {
    let h = Harness::new().await;
    let alice = h.user_with_key("alice", None).await;
    let device = h.create_device("alice").await;
    h.enable("alice", &device).await;
    // Leave the steps the enabling codes used behind.
    h.advance(3 * totp::STEP_SECONDS);
    for offset in [-2, 2] {
        let refused = h
            .session_token(&alice, &device.serial, &h.code(&device, offset))
            .await;
        assert_eq!(
            refusal(&refused),
            (403, "AccessDenied"),
            "{offset}: {}",
            refused.body
        );
        assert_eq!(message_of(&refused), INVALID_CODE);
    }
    for offset in [-1, 0, 1] {
        let accepted = h
            .session_token(&alice, &device.serial, &h.code(&device, offset))
            .await;
        assert_eq!(accepted.status, 200, "{offset}: {}", accepted.body);
    }
    // A wrong code of the right shape.
    let wrong = format!(
        "{:06}",
        (h.code(&device, 0).parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    let refused = h.session_token(&alice, &device.serial, &wrong).await;
    assert_eq!(message_of(&refused), INVALID_CODE, "{}", refused.body);
}

#[tokio::test]
async fn five_wrong_codes_lock_the_device_for_five_minutes_right_codes_included() {
    let h = Harness::new().await;
    let alice = h.user_with_key("alice", None).await;
    let device = h.create_device("alice").await;
    h.enable("alice", &device).await;
    h.advance(3 * totp::STEP_SECONDS);
    let wrong = |h: &Harness| {
        format!(
            "{:06}",
            (h.code(&device, 0).parse::<u32>().unwrap() + 500_000) % 1_000_000
        )
    };
    for _ in 0..5 {
        let refused = h.session_token(&alice, &device.serial, &wrong(&h)).await;
        assert_eq!(message_of(&refused), INVALID_CODE, "{}", refused.body);
    }
    // Locked: the right code is refused alike, and says nothing more.
    let locked = h
        .session_token(&alice, &device.serial, &h.code(&device, 0))
        .await;
    assert_eq!(refusal(&locked), (403, "AccessDenied"), "{}", locked.body);
    assert_eq!(message_of(&locked), INVALID_CODE);
    // Four minutes on: still locked.
    h.advance(240);
    let locked = h
        .session_token(&alice, &device.serial, &h.code(&device, 0))
        .await;
    assert_eq!(message_of(&locked), INVALID_CODE, "{}", locked.body);
    // Five minutes after the first wrong code the window has ended.
    h.advance(61);
    let accepted = h
        .session_token(&alice, &device.serial, &h.code(&device, 0))
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    // A right code starts the count over: four wrong codes, then a right
    // one, then four more still leave the device usable.
    h.advance(totp::STEP_SECONDS);
    for round in 0..2 {
        for _ in 0..4 {
            let refused = h.session_token(&alice, &device.serial, &wrong(&h)).await;
            assert_eq!(message_of(&refused), INVALID_CODE, "{}", refused.body);
        }
        let accepted = h
            .session_token(&alice, &device.serial, &h.code(&device, round))
            .await;
        assert_eq!(accepted.status, 200, "round {round}: {}", accepted.body);
    }
}

#[tokio::test]
async fn a_code_used_to_enable_the_device_cannot_sign_in() {
    let h = Harness::new().await;
    let alice = h.user_with_key("alice", None).await;
    let device = h.create_device("alice").await;
    let (previous, current) = (h.code(&device, -1), h.code(&device, 0));
    let enabled = h.enable_with("alice", &device, [&previous, &current]).await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    for used in [&previous, &current] {
        let refused = h.session_token(&alice, &device.serial, used).await;
        assert_eq!(message_of(&refused), INVALID_CODE, "{}", refused.body);
    }
}

#[tokio::test]
async fn a_serial_of_another_user_or_a_role_session_is_not_associated() {
    let h = Harness::new().await;
    let alice = h.user_with_key("alice", None).await;
    h.user_with_key("bob", None).await;
    let bobs = h.create_device("bob").await;
    h.enable("bob", &bobs).await;
    let unassigned = h.create_device("spare").await;

    // Bob's device, an unassigned device, an unknown serial: all "not
    // associated", even with the device's valid code.
    for (serial, seed) in [(&bobs.serial, &bobs), (&unassigned.serial, &unassigned)] {
        let refused = h.session_token(&alice, serial, &h.code(seed, 0)).await;
        assert_eq!(refusal(&refused), (403, "AccessDenied"), "{}", refused.body);
        assert_eq!(message_of(&refused), NOT_ASSOCIATED);
    }
    let unknown = format!("arn:aws:iam::{ACCOUNT}:mfa/nothing");
    let refused = h.session_token(&alice, &unknown, "123456").await;
    assert_eq!(message_of(&refused), NOT_ASSOCIATED, "{}", refused.body);

    // Bob's code was not consumed by Alice's attempts.
    let bob_key = issued_key(
        &h.iam(&Key::root(), "CreateAccessKey", &[("UserName", "bob")])
            .await,
    );
    let accepted = h
        .session_token(&bob_key, &bobs.serial, &h.code(&bobs, 0))
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);

    // A role session is not an IAM user: its MFA pair is never associated.
    // (MFA is checked before the trust policy, so the chained call needs no trust.)
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/alice"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    h.admin(
        "CreateRole",
        &[("RoleName", "deploy"), ("AssumeRolePolicyDocument", &trust)],
    )
    .await;
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/deploy");
    let assumed = issued_key(
        &h.sts(
            &alice,
            "AssumeRole",
            &[("RoleArn", &role_arn), ("RoleSessionName", "session")],
        )
        .await,
    );
    let chained = h
        .sts(
            &assumed,
            "AssumeRole",
            &[
                ("RoleArn", &role_arn),
                ("RoleSessionName", "chained"),
                ("SerialNumber", &bobs.serial),
                ("TokenCode", &h.code(&bobs, 1)),
            ],
        )
        .await;
    assert_eq!(refusal(&chained), (403, "AccessDenied"), "{}", chained.body);
    assert_eq!(message_of(&chained), NOT_ASSOCIATED);
}

#[tokio::test]
async fn mfa_policy_conditions_see_the_mfa_session_and_its_age() {
    let h = Harness::new().await;
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"iam:ListUsers","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}},
        {"Effect":"Allow","Action":"iam:ListRoles","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}}]}"#;
    let alice = h.user_with_key("alice", Some(policy)).await;
    let device = h.create_device("alice").await;
    h.enable("alice", &device).await;

    // The long-term key has no MFA.
    let refused = h.iam(&alice, "ListUsers", &[]).await;
    assert_eq!(refusal(&refused), (403, "AccessDenied"), "{}", refused.body);

    let mfa = issued_key(
        &h.session_token(&alice, &device.serial, &h.code(&device, 0))
            .await,
    );
    for action in ["ListUsers", "ListRoles"] {
        let allowed = h.iam(&mfa, action, &[]).await;
        assert_eq!(allowed.status, 200, "{action}: {}", allowed.body);
    }
    // Two hours later the session is still valid, but its MFA is too old.
    h.advance(7200);
    assert_eq!(h.iam(&mfa, "ListUsers", &[]).await.status, 200);
    let stale = h.iam(&mfa, "ListRoles", &[]).await;
    assert_eq!(refusal(&stale), (403, "AccessDenied"), "{}", stale.body);
}

#[tokio::test]
async fn assume_role_with_mfa_satisfies_a_trust_policy_requiring_it() {
    let h = Harness::new().await;
    let alice = h.user_with_key("alice", None).await;
    let device = h.create_device("alice").await;
    h.enable("alice", &device).await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/alice"}},"Action":"sts:AssumeRole","Condition":{{"Bool":{{"aws:MultiFactorAuthPresent":"true"}}}}}}]}}"#
    );
    h.admin(
        "CreateRole",
        &[("RoleName", "admin"), ("AssumeRolePolicyDocument", &trust)],
    )
    .await;
    h.admin(
        "PutRolePolicy",
        &[
            ("RoleName", "admin"),
            ("PolicyName", "mfa-only"),
            ("PolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#),
        ],
    )
    .await;
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/admin");
    let without = h
        .sts(
            &alice,
            "AssumeRole",
            &[("RoleArn", &role_arn), ("RoleSessionName", "session")],
        )
        .await;
    assert_eq!(refusal(&without), (403, "AccessDenied"), "{}", without.body);
    let with = h
        .sts(
            &alice,
            "AssumeRole",
            &[
                ("RoleArn", &role_arn),
                ("RoleSessionName", "session"),
                ("SerialNumber", &device.serial),
                ("TokenCode", &h.code(&device, 0)),
            ],
        )
        .await;
    let session = issued_key(&with);
    // The role session carries the MFA state (sts-api.md 8 [choice]).
    let listed = h.iam(&session, "ListUsers", &[]).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
}

#[tokio::test]
async fn delete_user_and_delete_virtual_mfa_device_conflict_while_assigned() {
    let h = Harness::new().await;
    h.admin("CreateUser", &[("UserName", "alice")]).await;
    h.admin("CreateUser", &[("UserName", "bob")]).await;
    let device = h.create_device("alice").await;
    h.enable("alice", &device).await;
    let serial = device.serial.as_str();

    let refused = h
        .iam(&Key::root(), "DeleteUser", &[("UserName", "alice")])
        .await;
    assert_eq!(
        refusal(&refused),
        (409, "DeleteConflict"),
        "{}",
        refused.body
    );
    assert_eq!(
        message_of(&refused),
        "Cannot delete entity, must delete MFA device first."
    );
    let refused = h
        .iam(
            &Key::root(),
            "DeleteVirtualMFADevice",
            &[("SerialNumber", serial)],
        )
        .await;
    assert_eq!(
        refusal(&refused),
        (409, "DeleteConflict"),
        "{}",
        refused.body
    );

    // Deactivating names the user holding it.
    let wrong = h
        .iam(
            &Key::root(),
            "DeactivateMFADevice",
            &[("UserName", "bob"), ("SerialNumber", serial)],
        )
        .await;
    assert_eq!(refusal(&wrong), (404, "NoSuchEntity"), "{}", wrong.body);
    h.admin(
        "DeactivateMFADevice",
        &[("UserName", "alice"), ("SerialNumber", serial)],
    )
    .await;
    let listed = h
        .admin(
            "ListVirtualMFADevices",
            &[("AssignmentStatus", "Unassigned")],
        )
        .await;
    assert!(listed.contains(serial), "{listed}");

    h.admin("DeleteVirtualMFADevice", &[("SerialNumber", serial)])
        .await;
    h.admin("DeleteUser", &[("UserName", "alice")]).await;
    let gone = h
        .iam(
            &Key::root(),
            "DeleteVirtualMFADevice",
            &[("SerialNumber", serial)],
        )
        .await;
    assert_eq!(refusal(&gone), (404, "NoSuchEntity"), "{}", gone.body);
    assert_eq!(
        message_of(&gone),
        format!("VirtualMFADevice with serial number {serial} doesn't exist.")
    );
}

#[tokio::test]
async fn a_deactivated_device_no_longer_signs_in() {
    let h = Harness::new().await;
    let alice = h.user_with_key("alice", None).await;
    let device = h.create_device("alice").await;
    h.enable("alice", &device).await;
    // Alice deactivates her own device (UserName omitted: the caller). She
    // needs the permission on her user.
    h.admin(
        "PutUserPolicy",
        &[
            ("UserName", "alice"),
            ("PolicyName", "own-mfa"),
            ("PolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:DeactivateMFADevice","iam:ListMFADevices"],"Resource":"arn:aws:iam::*:user/${aws:username}"}]}"#),
        ],
    )
    .await;
    let mfa = issued_key(
        &h.session_token(&alice, &device.serial, &h.code(&device, 0))
            .await,
    );
    let own = h.iam(&mfa, "ListMFADevices", &[]).await;
    assert!(own.body.contains(&device.serial), "{}", own.body);
    let done = h
        .iam(
            &mfa,
            "DeactivateMFADevice",
            &[("SerialNumber", &device.serial)],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let refused = h
        .session_token(&alice, &device.serial, &h.code(&device, 1))
        .await;
    assert_eq!(message_of(&refused), NOT_ASSOCIATED, "{}", refused.body);
}

async fn resync(h: &Harness, user: &str, device: &Device, codes: [&str; 2]) -> ApiResponse {
    h.iam(
        &Key::root(),
        "ResyncMFADevice",
        &[
            ("UserName", user),
            ("SerialNumber", &device.serial),
            ("AuthenticationCode1", codes[0]),
            ("AuthenticationCode2", codes[1]),
        ],
    )
    .await
}

#[tokio::test]
async fn resync_mfa_device_learns_how_far_the_device_clock_is_off() {
    let h = Harness::new().await;
    let alice = h.user_with_key("alice", None).await;
    let device = h.create_device("alice").await;
    h.enable("alice", &device).await;
    // The device's clock now runs five steps (2.5 minutes) ahead.
    let ahead = |offset: i64| h.code(&device, 5 + offset);
    let refused = h.session_token(&alice, &device.serial, &ahead(0)).await;
    assert_eq!(message_of(&refused), INVALID_CODE, "{}", refused.body);

    // Not consecutive, and beyond ten steps, are refused.
    let wrong = resync(&h, "alice", &device, [&ahead(-1), &ahead(1)]).await;
    assert_eq!(
        refusal(&wrong),
        (403, "InvalidAuthenticationCode"),
        "{}",
        wrong.body
    );
    let far = resync(
        &h,
        "alice",
        &device,
        [&h.code(&device, 11), &h.code(&device, 12)],
    )
    .await;
    assert_eq!(
        refusal(&far),
        (403, "InvalidAuthenticationCode"),
        "{}",
        far.body
    );

    let done = resync(&h, "alice", &device, [&ahead(-1), &ahead(0)]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    // The resync codes are used up; the device's next code signs in; the
    // server's own current step is now out of the window.
    let used = h.session_token(&alice, &device.serial, &ahead(0)).await;
    assert_eq!(message_of(&used), INVALID_CODE, "{}", used.body);
    let refused = h
        .session_token(&alice, &device.serial, &h.code(&device, 0))
        .await;
    assert_eq!(message_of(&refused), INVALID_CODE, "{}", refused.body);
    let accepted = h.session_token(&alice, &device.serial, &ahead(1)).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);

    // Resync names the user holding the device.
    h.admin("CreateUser", &[("UserName", "bob")]).await;
    let other = resync(&h, "bob", &device, [&ahead(1), &ahead(2)]).await;
    assert_eq!(refusal(&other), (404, "NoSuchEntity"), "{}", other.body);
    assert_eq!(message_of(&other), "MFA Device invalid for user.");
}

/// No API assigns a device to the root: EnableMFADevice needs `UserName`,
/// so the root holds no device, lists none of its own and its MFA sign-in
/// is never associated.
#[tokio::test]
async fn the_root_can_enable_no_device_for_itself_and_its_mfa_sign_in_is_not_associated() {
    let h = Harness::new().await;
    let device = h.create_device("root-phone").await;
    let (previous, current) = (h.code(&device, -1), h.code(&device, 0));
    let without_user = h
        .iam(
            &Key::root(),
            "EnableMFADevice",
            &[
                ("SerialNumber", &device.serial),
                ("AuthenticationCode1", &previous),
                ("AuthenticationCode2", &current),
            ],
        )
        .await;
    assert_eq!(
        refusal(&without_user),
        (400, "ValidationError"),
        "{}",
        without_user.body
    );
    assert!(
        message_of(&without_user).contains("userName"),
        "{}",
        without_user.body
    );
    let unassigned = h
        .admin(
            "ListVirtualMFADevices",
            &[("AssignmentStatus", "Unassigned")],
        )
        .await;
    assert!(unassigned.contains(&device.serial), "{unassigned}");

    // Unassigned, then assigned to a user: never the root's.
    let refused = h
        .session_token(&Key::root(), &device.serial, &current)
        .await;
    assert_eq!(refusal(&refused), (403, "AccessDenied"), "{}", refused.body);
    assert_eq!(message_of(&refused), NOT_ASSOCIATED);
    h.admin("CreateUser", &[("UserName", "alice")]).await;
    h.enable("alice", &device).await;
    let refused = h
        .session_token(&Key::root(), &device.serial, &h.code(&device, 0))
        .await;
    assert_eq!(refusal(&refused), (403, "AccessDenied"), "{}", refused.body);
    assert_eq!(message_of(&refused), NOT_ASSOCIATED);

    // The assigned device is listed with its user; the root's own list is empty.
    let assigned = h
        .admin("ListVirtualMFADevices", &[("AssignmentStatus", "Assigned")])
        .await;
    assert!(
        assigned.contains("<UserName>alice</UserName>")
            && assigned.contains(&format!("<Arn>arn:aws:iam::{ACCOUNT}:user/alice</Arn>"))
            && !assigned.contains(":root"),
        "{assigned}"
    );
    let own = h.admin("ListMFADevices", &[]).await;
    assert!(!own.contains("<SerialNumber>"), "{own}");
}

#[tokio::test]
async fn list_get_and_tag_mfa_devices_never_show_the_seed() {
    let h = Harness::new().await;
    h.admin("CreateUser", &[("UserName", "alice")]).await;
    let first = h.create_device("alice-1").await;
    let second = h.create_device("alice-2").await;
    let spare = h.create_device("spare").await;
    h.enable("alice", &first).await;
    h.enable("alice", &second).await;

    let assigned = h
        .admin("ListVirtualMFADevices", &[("AssignmentStatus", "Assigned")])
        .await;
    assert_eq!(assigned.matches("<SerialNumber>").count(), 2, "{assigned}");
    assert!(
        assigned.contains("<UserName>alice</UserName>"),
        "{assigned}"
    );
    assert!(assigned.contains("<EnableDate>"), "{assigned}");
    let unassigned = h
        .admin(
            "ListVirtualMFADevices",
            &[("AssignmentStatus", "Unassigned")],
        )
        .await;
    assert!(unassigned.contains(&spare.serial) && !unassigned.contains("<User>"));
    let bad = h
        .iam(
            &Key::root(),
            "ListVirtualMFADevices",
            &[("AssignmentStatus", "Some")],
        )
        .await;
    assert_eq!(refusal(&bad), (400, "ValidationError"), "{}", bad.body);

    // Pages of one.
    let page = h
        .admin(
            "ListMFADevices",
            &[("UserName", "alice"), ("MaxItems", "1")],
        )
        .await;
    assert!(
        page.contains(&first.serial) && !page.contains(&second.serial),
        "{page}"
    );
    assert!(page.contains("<IsTruncated>true</IsTruncated>"), "{page}");
    let marker = between(&page, "<Marker>", "</Marker>").to_owned();
    let rest = h
        .admin(
            "ListMFADevices",
            &[("UserName", "alice"), ("Marker", &marker)],
        )
        .await;
    assert!(
        rest.contains(&second.serial) && !rest.contains(&first.serial),
        "{rest}"
    );

    let got = h
        .admin(
            "GetMFADevice",
            &[("UserName", "alice"), ("SerialNumber", &first.serial)],
        )
        .await;
    assert!(
        got.contains(&first.serial) && got.contains("<EnableDate>"),
        "{got}"
    );
    let not_hers = h
        .iam(
            &Key::root(),
            "GetMFADevice",
            &[("UserName", "alice"), ("SerialNumber", &spare.serial)],
        )
        .await;
    assert_eq!(
        refusal(&not_hers),
        (404, "NoSuchEntity"),
        "{}",
        not_hers.body
    );

    // Tags: case-sensitive keys.
    h.admin(
        "TagMFADevice",
        &[
            ("SerialNumber", &spare.serial),
            ("Tags.member.1.Key", "Team"),
            ("Tags.member.1.Value", "a"),
            ("Tags.member.2.Key", "team"),
            ("Tags.member.2.Value", "b"),
        ],
    )
    .await;
    h.admin(
        "UntagMFADevice",
        &[
            ("SerialNumber", &spare.serial),
            ("TagKeys.member.1", "team"),
        ],
    )
    .await;
    let tags = h
        .admin("ListMFADeviceTags", &[("SerialNumber", &spare.serial)])
        .await;
    assert!(
        tags.contains("<Key>Team</Key>") && !tags.contains("<Key>team</Key>"),
        "{tags}"
    );

    for body in [&assigned, &unassigned, &page, &rest, &got, &tags] {
        for device in [&first, &second, &spare] {
            assert!(!body.contains(&device.base32), "{body}");
        }
    }
}

#[tokio::test]
async fn mfa_codes_never_reach_the_audit_events_or_error_messages() {
    let h = Harness::new().await;
    let alice = h.user_with_key("alice", None).await;
    let device = h.create_device("alice").await;
    let (previous, current) = (h.code(&device, -1), h.code(&device, 0));
    let wrong = format!("{:06}", (previous.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = h.enable_with("alice", &device, [&wrong, &current]).await;
    assert_eq!(refused.status, 403);
    h.enable_with("alice", &device, [&previous, &current]).await;
    h.advance(totp::STEP_SECONDS);
    let next = h.code(&device, 0);
    let ok = h.session_token(&alice, &device.serial, &next).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let replay = h.session_token(&alice, &device.serial, &next).await;
    assert_eq!(replay.status, 403);
    let malformed = h.session_token(&alice, &device.serial, "12345a").await;
    assert_eq!(
        refusal(&malformed),
        (400, "ValidationError"),
        "{}",
        malformed.body
    );

    for response in [&refused, &replay, &malformed] {
        for code in [wrong.as_str(), current.as_str(), next.as_str(), "12345a"] {
            assert!(!response.body.contains(code), "{}", response.body);
        }
    }
    let events = h.audit.events();
    let enable = events
        .iter()
        .find(|e| e.action == "EnableMFADevice")
        .unwrap();
    assert!(
        enable
            .parameters
            .iter()
            .any(|(k, v)| k == "AuthenticationCode1" && v == "<redacted>")
            || !enable
                .parameters
                .iter()
                .any(|(k, _)| k == "AuthenticationCode1"),
        "{enable:?}"
    );
    // No parameter of any event holds a code; the seed appears nowhere.
    for event in &events {
        for (name, value) in &event.parameters {
            for code in [&previous, &current, &wrong, &next] {
                assert_ne!(value, code, "{name} of {} holds a code", event.action);
            }
        }
    }
    let shown = format!("{events:?}");
    assert!(!shown.contains(&device.base32), "{shown}");
}
