//! CloudTrail records: one [`AuditEvent`] rendered as the JSON object AWS
//! CloudTrail would deliver for the call (`eventVersion` 1.11), so that
//! existing CloudTrail tooling and the trace-back of a temporary key to its
//! issuer (audit-and-cognito.md A.5) work on Mayfly's audit log.
//!
//! What the records hold, and where they deliberately differ from AWS:
//!
//! * `userIdentity` is the caller of *this* request (A.2): `Root`,
//!   `IAMUser` (long-term key; or a GetSessionToken key with a
//!   `sessionContext` whose `sessionIssuer` is `{}`), `AssumedRole`,
//!   `FederatedUser`; for the unsigned federation calls `WebIdentityUser`
//!   or `SAMLUser` (members left out while the token or assertion is not
//!   verified); `{"type": "Unknown"}` for other unauthenticated requests.
//! * `responseElements.credentials` holds `accessKeyId`, `expiration` and
//!   `sessionTokenSha256` (lowercase hex SHA-256 of the token) instead of the
//!   session token itself: with the token, a log reader who also obtained
//!   the secret could use the session. The secret access key is never
//!   rendered; neither are the parameters [`crate::audit`] treats as secret.
//! * `expiration` (and every other time) is ISO 8601 UTC with whole seconds,
//!   `2025-10-27T00:16:57Z`, not AWS's `Oct 27, 2025, 12:16:57 AM`.
//! * `eventTime` is when the request was received (the core's clock), not
//!   when it completed; `eventID` is unique per record but not a random
//!   GUID (the request-id generator: a random per-process prefix and a
//!   counter).
//! * `awsRegion` is the request's signing region, `us-east-1` for unsigned
//!   requests.

use serde_json::{Map, Value, json};

use crate::audit::{
    AuditEvent, AuditIssued, AuditIssuedKind, AuditOutcome, AuditPrincipal, AuditSession,
    ExternalIdentityKind, is_secret_parameter,
};
use mayfly_token::SessionPrincipal;

/// The `eventVersion` Mayfly writes.
pub const EVENT_VERSION: &str = "1.11";

/// `awsRegion` when the request named none (the global STS endpoint's).
pub const DEFAULT_REGION: &str = "us-east-1";

/// Render `event` as one CloudTrail record.
pub fn render(event: &AuditEvent) -> Value {
    let failed = matches!(event.outcome, AuditOutcome::Error { .. });
    let mut record = Map::new();
    record.insert("eventVersion".into(), json!(EVENT_VERSION));
    record.insert("userIdentity".into(), user_identity(event));
    record.insert("eventTime".into(), json!(mayfly_wire::iso8601(event.time)));
    record.insert("eventSource".into(), json!(event_source(event.service)));
    record.insert("eventName".into(), json!(event.action));
    record.insert(
        "awsRegion".into(),
        json!(event.region.as_deref().unwrap_or(DEFAULT_REGION)),
    );
    record.insert("sourceIPAddress".into(), json!(event.source_ip.to_string()));
    if let Some(agent) = &event.user_agent {
        record.insert("userAgent".into(), json!(agent));
    }
    if let AuditOutcome::Error { code } = &event.outcome {
        record.insert("errorCode".into(), json!(code));
        record.insert(
            "errorMessage".into(),
            json!(event.error_message.as_deref().unwrap_or_default()),
        );
    }
    record.insert("requestParameters".into(), request_parameters(event));
    record.insert(
        "responseElements".into(),
        if failed {
            Value::Null
        } else {
            response_elements(event)
        },
    );
    record.insert("requestID".into(), json!(event.request_id));
    record.insert("eventID".into(), json!(event.event_id));
    record.insert("readOnly".into(), json!(read_only(event)));
    if let Some(resources) = resources(event) {
        record.insert("resources".into(), resources);
    }
    record.insert("eventType".into(), json!("AwsApiCall"));
    let data_event = event.service == "s3";
    record.insert("managementEvent".into(), json!(!data_event));
    record.insert(
        "eventCategory".into(),
        json!(if data_event { "Data" } else { "Management" }),
    );
    if let Some(account) = recipient_account(event) {
        record.insert("recipientAccountId".into(), json!(account));
    }
    Value::Object(record)
}

/// Render `event` as one line of JSON (no trailing newline).
pub fn render_line(event: &AuditEvent) -> String {
    render(event).to_string()
}

/// `eventSource`: the service's host without region.
fn event_source(service: &str) -> String {
    match service {
        "iot" => "credentials.iot.amazonaws.com".to_owned(),
        other => format!("{other}.amazonaws.com"),
    }
}

/// `userIdentity` (A.2).
fn user_identity(event: &AuditEvent) -> Value {
    let Some(caller) = &event.caller else {
        return unauthenticated_identity(event);
    };
    let mut identity = Map::new();
    let account = caller.account_id.as_str();
    match &caller.principal {
        AuditPrincipal::Root => {
            identity.insert("type".into(), json!("Root"));
            identity.insert("principalId".into(), json!(account));
        }
        AuditPrincipal::User { user_name, user_id } => {
            identity.insert("type".into(), json!("IAMUser"));
            identity.insert("principalId".into(), json!(user_id));
            identity.insert("userName".into(), json!(user_name));
        }
        AuditPrincipal::Session(session) => {
            let issuer = match &session.principal {
                SessionPrincipal::AssumedRole {
                    role_arn,
                    role_id,
                    role_name,
                    session_name,
                } => {
                    identity.insert("type".into(), json!("AssumedRole"));
                    identity.insert(
                        "principalId".into(),
                        json!(format!("{role_id}:{session_name}")),
                    );
                    json!({
                        "type": "Role",
                        "principalId": role_id,
                        "arn": role_arn,
                        "accountId": account,
                        "userName": role_name,
                    })
                }
                SessionPrincipal::FederatedUser {
                    name,
                    user_arn,
                    user_id,
                } => {
                    identity.insert("type".into(), json!("FederatedUser"));
                    identity.insert("principalId".into(), json!(format!("{account}:{name}")));
                    let mut issuer = Map::new();
                    if user_arn.ends_with(":root") {
                        issuer.insert("type".into(), json!("Root"));
                    } else {
                        issuer.insert("type".into(), json!("IAMUser"));
                    }
                    issuer.insert("principalId".into(), json!(user_id));
                    issuer.insert("arn".into(), json!(user_arn));
                    issuer.insert("accountId".into(), json!(account));
                    if !user_arn.ends_with(":root")
                        && let Some(name) = user_arn.rsplit('/').next()
                    {
                        issuer.insert("userName".into(), json!(name));
                    }
                    Value::Object(issuer)
                }
                SessionPrincipal::User {
                    user_id, user_name, ..
                } => {
                    identity.insert("type".into(), json!("IAMUser"));
                    identity.insert("principalId".into(), json!(user_id));
                    identity.insert("userName".into(), json!(user_name));
                    json!({})
                }
                SessionPrincipal::Root => {
                    identity.insert("type".into(), json!("Root"));
                    identity.insert("principalId".into(), json!(account));
                    json!({})
                }
            };
            identity.insert("sessionContext".into(), session_context(session, issuer));
        }
    }
    identity.insert("arn".into(), json!(caller.arn));
    identity.insert("accountId".into(), json!(account));
    identity.insert("accessKeyId".into(), json!(caller.access_key_id));
    Value::Object(identity)
}

/// `sessionContext` of a request signed with temporary credentials.
fn session_context(session: &AuditSession, issuer: Value) -> Value {
    let mut context = Map::new();
    context.insert("sessionIssuer".into(), issuer);
    if matches!(session.principal, SessionPrincipal::AssumedRole { .. }) {
        let federation = match &session.federated_provider {
            Some(provider) if provider.contains(":oidc-provider/") => {
                json!({"federatedProvider": provider})
            }
            _ => json!({}),
        };
        context.insert("webIdFederationData".into(), federation);
    }
    context.insert(
        "attributes".into(),
        json!({
            "creationDate": mayfly_wire::iso8601(session.issued_at),
            "mfaAuthenticated": if session.mfa_authenticated { "true" } else { "false" },
        }),
    );
    if let Some(source_identity) = &session.source_identity {
        context.insert("sourceIdentity".into(), json!(source_identity));
    }
    Value::Object(context)
}

/// `userIdentity` of a request nobody signed: the external identity of the
/// federation calls, as far as it is known.
fn unauthenticated_identity(event: &AuditEvent) -> Value {
    let kind = match (&event.external_identity, event.action.as_str()) {
        (Some(external), _) => external.kind,
        (None, "AssumeRoleWithWebIdentity") => ExternalIdentityKind::WebIdentity,
        (None, "AssumeRoleWithSAML") => ExternalIdentityKind::Saml,
        (None, _) => return json!({"type": "Unknown"}),
    };
    let mut identity = Map::new();
    identity.insert(
        "type".into(),
        json!(match kind {
            ExternalIdentityKind::WebIdentity => "WebIdentityUser",
            ExternalIdentityKind::Saml => "SAMLUser",
        }),
    );
    if let Some(external) = &event.external_identity {
        let provider = &external.identity_provider;
        let subject = &external.subject;
        let principal_id = match &external.audience {
            Some(audience) => format!("{provider}:{audience}:{subject}"),
            None => format!("{provider}:{subject}"),
        };
        identity.insert("principalId".into(), json!(principal_id));
        identity.insert("userName".into(), json!(subject));
        identity.insert("identityProvider".into(), json!(provider));
    }
    Value::Object(identity)
}

/// `requestParameters`: the query parameters with lowerCamelCase member
/// names, lists (`Tags.member.1.Key`) as arrays of objects, secrets absent;
/// `null` when there are none.
fn request_parameters(event: &AuditEvent) -> Value {
    let mut root = Map::new();
    for (name, value) in &event.parameters {
        if is_secret_parameter(name) || name.starts_with("X-Amz-") {
            continue;
        }
        let value = match name.as_str() {
            "DurationSeconds" => value
                .parse::<u64>()
                .map_or_else(|_| json!(value), |n| json!(n)),
            _ => json!(value),
        };
        let segments: Vec<&str> = name.split('.').filter(|s| *s != "member").collect();
        if !insert_path(&mut root, &segments, value.clone()) {
            // A shape the nesting cannot hold: keep the flat name.
            root.insert(lower_camel(name), value);
        }
    }
    if root.is_empty() {
        Value::Null
    } else {
        Value::Object(root)
    }
}

/// Insert `value` at `segments` (names, and 1-based list indexes) under
/// `map`; false when the path collides with what is there.
fn insert_path(map: &mut Map<String, Value>, segments: &[&str], value: Value) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return false;
    };
    let key = lower_camel(first);
    if rest.is_empty() {
        if map.contains_key(&key) {
            return false;
        }
        map.insert(key, value);
        return true;
    }
    let slot = map
        .entry(key)
        .or_insert_with(|| match rest[0].parse::<usize>() {
            Ok(_) => Value::Array(Vec::new()),
            Err(_) => Value::Object(Map::new()),
        });
    insert_below(slot, rest, value)
}

/// [`insert_path`] into an array (index segment) or object (name segment).
fn insert_below(slot: &mut Value, segments: &[&str], value: Value) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return false;
    };
    match (slot, first.parse::<usize>()) {
        (Value::Array(items), Ok(index)) if (1..=1000).contains(&index) => {
            if items.len() < index {
                items.resize(index, Value::Null);
            }
            let Some(item) = items.get_mut(index - 1) else {
                return false;
            };
            if rest.is_empty() {
                if !item.is_null() {
                    return false;
                }
                *item = value;
                return true;
            }
            if item.is_null() {
                *item = match rest[0].parse::<usize>() {
                    Ok(_) => Value::Array(Vec::new()),
                    Err(_) => Value::Object(Map::new()),
                };
            }
            insert_below(item, rest, value)
        }
        (Value::Object(map), Err(_)) => insert_path(map, segments, value),
        _ => false,
    }
}

/// `RoleArn` → `roleArn`, `SAMLAssertionID` → `sAMLAssertionID` (CloudTrail
/// lowercases only the first letter).
fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `responseElements` of a successful call.
fn response_elements(event: &AuditEvent) -> Value {
    match (&event.issued, &event.issued_access_key_id) {
        (Some(issued), Some(access_key_id)) => issued_elements(issued, access_key_id),
        (None, Some(access_key_id)) => json!({"accessKey": {"accessKeyId": access_key_id}}),
        _ => Value::Null,
    }
}

/// `credentials` and the new session's user of a credential-issuing call.
fn issued_elements(issued: &AuditIssued, access_key_id: &str) -> Value {
    let mut elements = Map::new();
    elements.insert(
        "credentials".into(),
        json!({
            "accessKeyId": access_key_id,
            "expiration": mayfly_wire::iso8601(issued.expiration),
            "sessionTokenSha256": issued.session_token_sha256,
        }),
    );
    match issued.kind {
        AuditIssuedKind::AssumedRole => {
            elements.insert(
                "assumedRoleUser".into(),
                json!({"assumedRoleId": issued.principal_id, "arn": issued.arn}),
            );
        }
        AuditIssuedKind::FederatedUser => {
            elements.insert(
                "federatedUser".into(),
                json!({"federatedUserId": issued.principal_id, "arn": issued.arn}),
            );
        }
        AuditIssuedKind::SessionToken => {}
    }
    if let Some(source_identity) = &issued.source_identity {
        elements.insert("sourceIdentity".into(), json!(source_identity));
    }
    Value::Object(elements)
}

/// `readOnly`: STS calls (credential vending included, as AWS classifies
/// them) and IAM reads.
fn read_only(event: &AuditEvent) -> bool {
    match event.service {
        "sts" | "rolesanywhere" | "iot" if !is_rolesanywhere_write(event) => true,
        _ => ["Get", "List", "Describe", "Simulate"]
            .iter()
            .any(|prefix| event.action.starts_with(prefix)),
    }
}

/// Roles Anywhere administration (anchors, profiles, CRLs) changes state;
/// only `CreateSession` vends credentials.
fn is_rolesanywhere_write(event: &AuditEvent) -> bool {
    event.service == "rolesanywhere" && event.action != "CreateSession"
}

/// `resources`: the role of an `AssumeRole*` call.
fn resources(event: &AuditEvent) -> Option<Value> {
    if !event.action.starts_with("AssumeRole") {
        return None;
    }
    let role_arn = parameter(event, "RoleArn")?;
    let account = crate::arn::Arn::parse(role_arn)?.account.to_owned();
    Some(json!([{"accountId": account, "type": "AWS::IAM::Role", "ARN": role_arn}]))
}

/// `recipientAccountId`: the caller's account, or for unsigned calls the
/// account of the role asked for.
fn recipient_account(event: &AuditEvent) -> Option<String> {
    if let Some(caller) = &event.caller {
        return Some(caller.account_id.clone());
    }
    let role_arn = parameter(event, "RoleArn")?;
    crate::arn::Arn::parse(role_arn)
        .map(|arn| arn.account.to_owned())
        .filter(|account| !account.is_empty())
}

fn parameter<'e>(event: &'e AuditEvent, name: &str) -> Option<&'e str> {
    event
        .parameters
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::audit::{AuditCaller, AuditExternalIdentity};
    use crate::clock::from_unix;

    const ACCOUNT: &str = "123456789012";
    /// 2023-11-14T22:13:20Z.
    const NOW: u64 = 1_700_000_000;
    const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLETOKENTEXT0123456789";
    const WEB_IDENTITY_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    const SAML_ASSERTION: &str = "PHNhbWxwOlJlc3BvbnNlPg==";
    const TOKEN_CODE: &str = "917355";

    /// A successful AssumeRole by `caller`, with secret-bearing parameters.
    fn event(caller: Option<AuditCaller>, action: &str) -> AuditEvent {
        AuditEvent {
            time: from_unix(NOW),
            request_id: "7f250d7e-d459-4c33-b232-6c5bbbd8cc08".into(),
            service: "sts",
            action: action.into(),
            caller,
            source_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 44)),
            parameters: vec![
                (
                    "RoleArn".into(),
                    format!("arn:aws:iam::{ACCOUNT}:role/Deploy"),
                ),
                ("RoleSessionName".into(), "ci".into()),
                ("DurationSeconds".into(), "900".into()),
                ("Tags.member.1.Key".into(), "team".into()),
                ("Tags.member.1.Value".into(), "blue".into()),
                (
                    "PolicyArns.member.1.arn".into(),
                    "arn:aws:iam::aws:policy/ReadOnly".into(),
                ),
                (
                    "SerialNumber".into(),
                    "arn:aws:iam::123456789012:mfa/ci".into(),
                ),
                // Raw, as if redaction upstream had been forgotten: the
                // renderer leaves them out by name as well.
                ("TokenCode".into(), TOKEN_CODE.into()),
                ("WebIdentityToken".into(), WEB_IDENTITY_TOKEN.into()),
                ("SAMLAssertion".into(), SAML_ASSERTION.into()),
                ("X-Amz-Security-Token".into(), SESSION_TOKEN.into()),
                (
                    "ProvidedContexts.member.1.ContextAssertion".into(),
                    "<redacted>".into(),
                ),
            ],
            outcome: AuditOutcome::Success,
            issued_access_key_id: Some("ASIAISSUEDKEY0000001".into()),
            event_id: "00000000-0000-0000-0000-000000000001".into(),
            user_agent: Some("aws-cli/2.13.0".into()),
            region: Some("eu-west-1".into()),
            error_message: None,
            issued: Some(AuditIssued::new(&role_claims(), SESSION_TOKEN)),
            external_identity: None,
        }
    }

    fn role_claims() -> mayfly_token::SessionClaims {
        mayfly_token::SessionClaims {
            account_id: ACCOUNT.into(),
            principal: SessionPrincipal::AssumedRole {
                role_arn: format!("arn:aws:iam::{ACCOUNT}:role/Deploy"),
                role_id: "AROAEXAMPLEROLEID".into(),
                role_name: "Deploy".into(),
                session_name: "ci".into(),
            },
            issued_at: NOW,
            expires_at: NOW + 900,
            session_policy: None,
            policy_arns: Vec::new(),
            tags: Vec::new(),
            source_identity: Some("alice".into()),
            mfa_authenticated_at: None,
            role_chained: false,
            federated_provider: None,
            parent_access_key_id: None,
            context_keys: Default::default(),
        }
    }

    fn caller(arn: &str, access_key_id: &str, principal: AuditPrincipal) -> Option<AuditCaller> {
        Some(AuditCaller {
            arn: arn.into(),
            account_id: ACCOUNT.into(),
            access_key_id: access_key_id.into(),
            principal,
        })
    }

    fn session(principal: SessionPrincipal, mfa: bool) -> AuditPrincipal {
        AuditPrincipal::Session(Box::new(AuditSession {
            principal,
            issued_at: from_unix(NOW - 60),
            mfa_authenticated: mfa,
            source_identity: None,
            federated_provider: None,
        }))
    }

    /// Render, and check what every record must hold and must not.
    fn rendered(event: &AuditEvent) -> Value {
        let line = render_line(event);
        for secret in [
            SECRET_KEY,
            SESSION_TOKEN,
            WEB_IDENTITY_TOKEN,
            SAML_ASSERTION,
            TOKEN_CODE,
            "<redacted>",
            "secretAccessKey",
            "sessionToken\"",
            "tokenCode",
            "webIdentityToken",
            "sAMLAssertion\"",
        ] {
            assert!(!line.contains(secret), "`{secret}` in {line}");
        }
        assert!(!line.contains('\n'), "one line: {line}");
        let record: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(record["eventVersion"], "1.11");
        assert_eq!(record["eventTime"], "2023-11-14T22:13:20Z");
        assert_eq!(record["eventType"], "AwsApiCall");
        assert_eq!(record["managementEvent"], true);
        assert_eq!(record["eventCategory"], "Management");
        assert_eq!(record["requestID"], event.request_id);
        assert_eq!(record["eventID"], event.event_id);
        assert_eq!(record["sourceIPAddress"], "192.0.2.44");
        record
    }

    #[test]
    fn root_assume_role_record() {
        let e = event(
            caller(
                &format!("arn:aws:iam::{ACCOUNT}:root"),
                "AKIAROOTKEY000000001",
                AuditPrincipal::Root,
            ),
            "AssumeRole",
        );
        let r = rendered(&e);
        assert_eq!(
            r["userIdentity"],
            json!({"type": "Root", "principalId": ACCOUNT, "arn": "arn:aws:iam::123456789012:root",
                   "accountId": ACCOUNT, "accessKeyId": "AKIAROOTKEY000000001"})
        );
        assert_eq!(r["eventSource"], "sts.amazonaws.com");
        assert_eq!(r["eventName"], "AssumeRole");
        assert_eq!(r["awsRegion"], "eu-west-1");
        assert_eq!(r["userAgent"], "aws-cli/2.13.0");
        assert_eq!(r["readOnly"], true);
        assert_eq!(r["recipientAccountId"], ACCOUNT);
        assert_eq!(
            r["requestParameters"],
            json!({
                "roleArn": "arn:aws:iam::123456789012:role/Deploy",
                "roleSessionName": "ci",
                "durationSeconds": 900,
                "tags": [{"key": "team", "value": "blue"}],
                "policyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnly"}],
                "serialNumber": "arn:aws:iam::123456789012:mfa/ci",
            })
        );
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, SESSION_TOKEN.as_bytes());
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            r["responseElements"],
            json!({
                "credentials": {
                    "accessKeyId": "ASIAISSUEDKEY0000001",
                    "expiration": "2023-11-14T22:28:20Z",
                    "sessionTokenSha256": hex,
                },
                "assumedRoleUser": {
                    "assumedRoleId": "AROAEXAMPLEROLEID:ci",
                    "arn": "arn:aws:sts::123456789012:assumed-role/Deploy/ci",
                },
                "sourceIdentity": "alice",
            })
        );
        assert_eq!(
            r["resources"],
            json!([{"accountId": ACCOUNT, "type": "AWS::IAM::Role",
                    "ARN": "arn:aws:iam::123456789012:role/Deploy"}])
        );
        assert!(r.get("errorCode").is_none());
    }

    #[test]
    fn iam_user_with_a_long_term_key() {
        let mut e = event(
            caller(
                &format!("arn:aws:iam::{ACCOUNT}:user/Alice"),
                "AKIAIOSFODNN7EXAMPLE",
                AuditPrincipal::User {
                    user_name: "Alice".into(),
                    user_id: "AIDAJ45Q7YFFAREXAMPLE".into(),
                },
            ),
            "ListUsers",
        );
        e.service = "iam";
        e.parameters.clear();
        e.issued = None;
        e.issued_access_key_id = None;
        let r = rendered(&e);
        assert_eq!(
            r["userIdentity"],
            json!({"type": "IAMUser", "principalId": "AIDAJ45Q7YFFAREXAMPLE",
                   "arn": "arn:aws:iam::123456789012:user/Alice", "accountId": ACCOUNT,
                   "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": "Alice"})
        );
        assert_eq!(r["eventSource"], "iam.amazonaws.com");
        assert_eq!(r["readOnly"], true);
        assert_eq!(r["requestParameters"], Value::Null);
        assert_eq!(r["responseElements"], Value::Null);
    }

    #[test]
    fn iam_user_with_a_get_session_token_key() {
        let e = event(
            caller(
                &format!("arn:aws:iam::{ACCOUNT}:user/Alice"),
                "ASIAUSERSESSION00001",
                session(
                    SessionPrincipal::User {
                        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/Alice"),
                        user_id: "AIDAJ45Q7YFFAREXAMPLE".into(),
                        user_name: "Alice".into(),
                    },
                    true,
                ),
            ),
            "GetCallerIdentity",
        );
        let r = rendered(&e);
        let identity = &r["userIdentity"];
        assert_eq!(identity["type"], "IAMUser");
        assert_eq!(identity["principalId"], "AIDAJ45Q7YFFAREXAMPLE");
        assert_eq!(identity["userName"], "Alice");
        assert_eq!(identity["accessKeyId"], "ASIAUSERSESSION00001");
        assert_eq!(
            identity["sessionContext"],
            json!({"sessionIssuer": {},
                   "attributes": {"creationDate": "2023-11-14T22:12:20Z", "mfaAuthenticated": "true"}})
        );
    }

    #[test]
    fn assumed_role_caller() {
        let mut principal = session(role_claims().principal, false);
        if let AuditPrincipal::Session(s) = &mut principal {
            s.source_identity = Some("alice".into());
            s.federated_provider = Some(
                "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
                    .into(),
            );
        }
        let e = event(
            caller(
                "arn:aws:sts::123456789012:assumed-role/Deploy/ci",
                "ASIAROLESESSION00001",
                principal,
            ),
            "GetCallerIdentity",
        );
        let r = rendered(&e);
        assert_eq!(
            r["userIdentity"],
            json!({
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLEROLEID:ci",
                "arn": "arn:aws:sts::123456789012:assumed-role/Deploy/ci",
                "accountId": ACCOUNT,
                "accessKeyId": "ASIAROLESESSION00001",
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLEID",
                                      "arn": "arn:aws:iam::123456789012:role/Deploy",
                                      "accountId": ACCOUNT, "userName": "Deploy"},
                    "webIdFederationData": {"federatedProvider":
                        "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
                    "attributes": {"creationDate": "2023-11-14T22:12:20Z", "mfaAuthenticated": "false"},
                    "sourceIdentity": "alice",
                }
            })
        );
    }

    #[test]
    fn federated_user_caller() {
        let e = event(
            caller(
                "arn:aws:sts::123456789012:federated-user/bob",
                "ASIAFEDERATED0000001",
                session(
                    SessionPrincipal::FederatedUser {
                        name: "bob".into(),
                        user_arn: format!("arn:aws:iam::{ACCOUNT}:user/Alice"),
                        user_id: "AIDAJ45Q7YFFAREXAMPLE".into(),
                    },
                    false,
                ),
            ),
            "GetCallerIdentity",
        );
        let r = rendered(&e);
        let identity = &r["userIdentity"];
        assert_eq!(identity["type"], "FederatedUser");
        assert_eq!(identity["principalId"], "123456789012:bob");
        assert_eq!(
            identity["arn"],
            "arn:aws:sts::123456789012:federated-user/bob"
        );
        assert_eq!(
            identity["sessionContext"]["sessionIssuer"],
            json!({"type": "IAMUser", "principalId": "AIDAJ45Q7YFFAREXAMPLE",
                   "arn": "arn:aws:iam::123456789012:user/Alice", "accountId": ACCOUNT,
                   "userName": "Alice"})
        );
        assert!(
            identity["sessionContext"]
                .get("webIdFederationData")
                .is_none()
        );
    }

    #[test]
    fn web_identity_and_saml_users() {
        let mut e = event(None, "AssumeRoleWithWebIdentity");
        e.region = None;
        e.external_identity = Some(AuditExternalIdentity {
            kind: ExternalIdentityKind::WebIdentity,
            identity_provider: "arn:aws:iam::123456789012:oidc-provider/idp.example".into(),
            audience: Some("sts.amazonaws.com".into()),
            subject: "repo:org/app".into(),
        });
        let r = rendered(&e);
        assert_eq!(
            r["userIdentity"],
            json!({"type": "WebIdentityUser",
                   "principalId": "arn:aws:iam::123456789012:oidc-provider/idp.example:sts.amazonaws.com:repo:org/app",
                   "userName": "repo:org/app",
                   "identityProvider": "arn:aws:iam::123456789012:oidc-provider/idp.example"})
        );
        assert_eq!(r["awsRegion"], "us-east-1");
        assert!(r.get("userIdentity").unwrap().get("accessKeyId").is_none());
        // The unsigned call belongs to the role's account.
        assert_eq!(r["recipientAccountId"], ACCOUNT);

        let mut e = event(None, "AssumeRoleWithSAML");
        e.external_identity = Some(AuditExternalIdentity {
            kind: ExternalIdentityKind::Saml,
            identity_provider: "kYdyQ7ZqrMRh3ZA0Ow2LN5nzXHg=".into(),
            audience: None,
            subject: "alice@example.com".into(),
        });
        let r = rendered(&e);
        assert_eq!(
            r["userIdentity"],
            json!({"type": "SAMLUser", "principalId": "kYdyQ7ZqrMRh3ZA0Ow2LN5nzXHg=:alice@example.com",
                   "userName": "alice@example.com", "identityProvider": "kYdyQ7ZqrMRh3ZA0Ow2LN5nzXHg="})
        );

        // Before the token verified, only the type is known.
        let mut e = event(None, "AssumeRoleWithWebIdentity");
        e.outcome = AuditOutcome::Error {
            code: "InvalidIdentityToken".into(),
        };
        e.error_message = Some("the token is expired".into());
        let r = rendered(&e);
        assert_eq!(r["userIdentity"], json!({"type": "WebIdentityUser"}));
    }

    #[test]
    fn failure_record() {
        let mut e = event(
            caller(
                &format!("arn:aws:iam::{ACCOUNT}:user/Alice"),
                "AKIAIOSFODNN7EXAMPLE",
                AuditPrincipal::User {
                    user_name: "Alice".into(),
                    user_id: "AIDAJ45Q7YFFAREXAMPLE".into(),
                },
            ),
            "AssumeRole",
        );
        e.outcome = AuditOutcome::Error {
            code: "AccessDenied".into(),
        };
        e.error_message = Some(
            "User: arn:aws:iam::123456789012:user/Alice is not authorized to perform: sts:AssumeRole".into(),
        );
        e.issued = None;
        e.issued_access_key_id = None;
        let r = rendered(&e);
        assert_eq!(r["errorCode"], "AccessDenied");
        assert_eq!(
            r["errorMessage"],
            "User: arn:aws:iam::123456789012:user/Alice is not authorized to perform: sts:AssumeRole"
        );
        assert!(r.get("responseElements").unwrap().is_null());
        assert_eq!(
            r["requestParameters"]["roleArn"],
            "arn:aws:iam::123456789012:role/Deploy"
        );

        // Even if something had been issued, a failed call shows nothing.
        let mut e = e.clone();
        e.issued = Some(AuditIssued::new(&role_claims(), SESSION_TOKEN));
        e.issued_access_key_id = Some("ASIAISSUEDKEY0000001".into());
        let r = rendered(&e);
        assert!(r["responseElements"].is_null());
    }

    #[test]
    fn unknown_callers_and_odd_parameters() {
        let mut e = event(None, "GetCallerIdentity");
        e.parameters = vec![
            ("A".into(), "1".into()),
            ("A.member.1".into(), "2".into()),
            (
                "X-Amz-Credential".into(),
                "AKIAX/20231114/us-east-1/sts/aws4_request".into(),
            ),
        ];
        e.outcome = AuditOutcome::Error {
            code: "MissingAuthenticationToken".into(),
        };
        let r = rendered(&e);
        assert_eq!(r["userIdentity"], json!({"type": "Unknown"}));
        // A collision keeps the flat name; presign parameters stay out.
        assert_eq!(r["requestParameters"], json!({"a": "1", "a.member.1": "2"}));
        assert!(r.get("recipientAccountId").is_none());
    }
}
