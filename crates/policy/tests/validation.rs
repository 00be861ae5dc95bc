//! Each invalid element gives `MalformedPolicyDocument` with AWS's message
//! and names the element (policy-evaluation.md §1, §2, §9).

#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test harness helpers: a broken expectation or fixture should fail the test loudly"
)]

use mayfly_policy::{Policy, PolicyElement, PolicyError, PolicyKind, PolicyVersion};

const SYNTAX: &str = "Syntax errors in policy.";
const LEGACY: &str = "The policy failed legacy parsing";

fn statement(body: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{body}]}}"#)
}

#[track_caller]
fn rejects(kind: PolicyKind, text: &str, element: PolicyElement, message: &str) {
    match Policy::parse(text, kind) {
        Ok(_) => panic!("accepted as {kind:?}: {text}"),
        Err(err) => {
            assert_eq!(err.to_string(), message, "{text}");
            assert_eq!(err.element(), element, "{text}");
            assert_eq!(err.aws_code(), "MalformedPolicyDocument");
            assert!(!err.detail().is_empty());
        }
    }
}

#[track_caller]
fn rejects_identity_statement(body: &str, element: PolicyElement, message: &str) {
    rejects(PolicyKind::Identity, &statement(body), element, message);
}

#[test]
fn accepts_a_minimal_identity_policy_and_a_single_statement_object() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"A1","Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    assert_eq!(p.version(), PolicyVersion::V2012_10_17);
    assert_eq!(p.statement_count(), 1);
    let p = Policy::parse(
        r#"{"Statement":[{"Effect":"Deny","NotAction":"iam:*","NotResource":"*"}]}"#,
        PolicyKind::Identity,
    )
    .unwrap();
    assert_eq!(p.version(), PolicyVersion::V2008_10_17);
}

#[test]
fn rejects_documents_that_are_not_json_objects() {
    for text in [
        "",
        "nope",
        "[]",
        "\"x\"",
        "{\"Statement\":[]",
        r#"{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}"#,
    ] {
        rejects(PolicyKind::Identity, text, PolicyElement::Document, SYNTAX);
    }
}

#[test]
fn rejects_unknown_top_level_and_statement_elements() {
    rejects(
        PolicyKind::Identity,
        r#"{"Statement":[],"Extra":1}"#,
        PolicyElement::Document,
        SYNTAX,
    );
    rejects_identity_statement(
        r#"{"Effect":"Allow","Action":"*","Resource":"*","effect":"Allow"}"#,
        PolicyElement::Statement,
        SYNTAX,
    );
}

#[test]
fn rejects_a_repeated_element_in_a_statement() {
    rejects_identity_statement(
        r#"{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}"#,
        PolicyElement::Document,
        SYNTAX,
    );
}

#[test]
fn rejects_bad_version() {
    rejects(
        PolicyKind::Identity,
        r#"{"Version":"2012-10-18","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyElement::Version,
        SYNTAX,
    );
    rejects(
        PolicyKind::Identity,
        r#"{"Version":2012,"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyElement::Version,
        SYNTAX,
    );
}

#[test]
fn managed_policies_and_boundaries_require_version_2012() {
    let old =
        r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let err = Policy::parse_managed(old).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Policy document must be version 2012-10-17 or greater."
    );
    assert_eq!(err.element(), PolicyElement::Version);
    rejects(
        PolicyKind::Boundary,
        old,
        PolicyElement::Version,
        "Policy document must be version 2012-10-17 or greater.",
    );
    assert!(Policy::parse(old, PolicyKind::Identity).is_ok());
    assert!(Policy::parse_managed(&old.replace("2008", "2012")).is_ok());
}

#[test]
fn rejects_bad_id() {
    rejects(
        PolicyKind::Identity,
        r#"{"Id":1,"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyElement::Id,
        SYNTAX,
    );
}

#[test]
fn rejects_missing_empty_or_mistyped_statement() {
    rejects(
        PolicyKind::Identity,
        r#"{"Version":"2012-10-17"}"#,
        PolicyElement::Statement,
        SYNTAX,
    );
    rejects(
        PolicyKind::Identity,
        r#"{"Statement":[]}"#,
        PolicyElement::Statement,
        SYNTAX,
    );
    rejects(
        PolicyKind::Identity,
        r#"{"Statement":"x"}"#,
        PolicyElement::Statement,
        SYNTAX,
    );
    rejects(
        PolicyKind::Identity,
        r#"{"Statement":["x"]}"#,
        PolicyElement::Statement,
        SYNTAX,
    );
}

#[test]
fn rejects_bad_sids() {
    rejects_identity_statement(
        r#"{"Sid":"has space","Effect":"Allow","Action":"*","Resource":"*"}"#,
        PolicyElement::Sid,
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
    );
    rejects_identity_statement(
        r#"{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}"#,
        PolicyElement::Sid,
        "Statement IDs (SID) in a single policy must be unique.",
    );
    rejects_identity_statement(
        r#"{"Sid":1,"Effect":"Allow","Action":"*","Resource":"*"}"#,
        PolicyElement::Sid,
        SYNTAX,
    );
    // Bucket-style resource policies accept free-text Sids.
    assert!(Policy::parse(
        &statement(r#"{"Sid":"Allow read","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}"#),
        PolicyKind::Resource
    )
    .is_ok());
}

#[test]
fn rejects_bad_effect() {
    rejects_identity_statement(
        r#"{"Action":"*","Resource":"*"}"#,
        PolicyElement::Effect,
        SYNTAX,
    );
    rejects_identity_statement(
        r#"{"Effect":"allow","Action":"*","Resource":"*"}"#,
        PolicyElement::Effect,
        LEGACY,
    );
    rejects_identity_statement(
        r#"{"Effect":true,"Action":"*","Resource":"*"}"#,
        PolicyElement::Effect,
        SYNTAX,
    );
}

#[test]
fn rejects_bad_actions() {
    rejects_identity_statement(
        r#"{"Effect":"Allow","Resource":"*"}"#,
        PolicyElement::Action,
        "Policy statement must contain actions.",
    );
    rejects_identity_statement(
        r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#,
        PolicyElement::Action,
        "Policy statement must contain actions.",
    );
    rejects_identity_statement(
        r#"{"Effect":"Allow","NotAction":[],"Resource":"*"}"#,
        PolicyElement::NotAction,
        "Policy statement must contain actions.",
    );
    rejects_identity_statement(
        r#"{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}"#,
        PolicyElement::Action,
        SYNTAX,
    );
    rejects_identity_statement(
        r#"{"Effect":"Allow","Action":"GetObject","Resource":"*"}"#,
        PolicyElement::Action,
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    );
    rejects_identity_statement(
        r#"{"Effect":"Allow","Action":"s3:Get:Object","Resource":"*"}"#,
        PolicyElement::Action,
        "Actions/Condition can contain only one colon.",
    );
    rejects_identity_statement(
        r#"{"Effect":"Allow","NotAction":"s 3:Get","Resource":"*"}"#,
        PolicyElement::NotAction,
        "Vendor s 3 is not valid",
    );
    rejects_identity_statement(
        r#"{"Effect":"Allow","Action":["s3:*",1],"Resource":"*"}"#,
        PolicyElement::Action,
        SYNTAX,
    );
}

#[test]
fn rejects_bad_resources() {
    let r =
        |resource: &str| format!(r#"{{"Effect":"Allow","Action":"*","Resource":"{resource}"}}"#);
    rejects_identity_statement(
        r#"{"Effect":"Allow","Action":"*"}"#,
        PolicyElement::Resource,
        "Policy statement must contain resources.",
    );
    rejects_identity_statement(
        r#"{"Effect":"Allow","Action":"*","NotResource":[]}"#,
        PolicyElement::NotResource,
        "Policy statement must contain resources.",
    );
    rejects_identity_statement(
        r#"{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}"#,
        PolicyElement::Resource,
        SYNTAX,
    );
    rejects_identity_statement(
        &r("bucket"),
        PolicyElement::Resource,
        "Resource bucket must be in ARN format or \"*\".",
    );
    rejects_identity_statement(
        &r("arn:aws-bogus:s3:::b"),
        PolicyElement::Resource,
        "Partition \"aws-bogus\" is not valid for resource \"arn:aws-bogus:s3:*:*:b\".",
    );
    rejects_identity_statement(&r("arn:aws:s3::b"), PolicyElement::Resource, LEGACY);
    rejects_identity_statement(
        &r("arn:aws:s3*:::b"),
        PolicyElement::Resource,
        "Resource vendor must be fully qualified and cannot contain regexes.",
    );
    rejects_identity_statement(
        &r("arn:aws:iam:us-east-1:111122223333:user/a"),
        PolicyElement::Resource,
        "IAM resource arn:aws:iam:us-east-1:111122223333:user/a cannot contain region information.",
    );
    rejects_identity_statement(
        &r("arn:aws:iam::111122223333:bogus/a"),
        PolicyElement::Resource,
        "IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.",
    );
    rejects_identity_statement(
        r#"{"Effect":"Allow","Action":"*","NotResource":"bucket"}"#,
        PolicyElement::NotResource,
        "Resource bucket must be in ARN format or \"*\".",
    );
    assert!(
        Policy::parse(
            &statement(&r("arn:aws:iam::111122223333:*")),
            PolicyKind::Identity
        )
        .is_ok()
    );
    assert!(Policy::parse(&statement(&r("arn:aws:s3:*")), PolicyKind::Identity).is_ok());
}

#[test]
fn rejects_principals_in_identity_type_policies() {
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Session,
        PolicyKind::Boundary,
    ] {
        rejects(
            kind,
            &statement(r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#),
            PolicyElement::Principal,
            "Policy document should not specify a principal.",
        );
        rejects(
            kind,
            &statement(
                r#"{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"*","Resource":"*"}"#,
            ),
            PolicyElement::NotPrincipal,
            "Policy document should not specify a principal.",
        );
    }
}

#[test]
fn trust_policies_need_a_principal_and_no_resource() {
    rejects(
        PolicyKind::Trust,
        &statement(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#),
        PolicyElement::Principal,
        "Missing required field Principal",
    );
    rejects(
        PolicyKind::Trust,
        &statement(
            r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole","Resource":"*"}"#,
        ),
        PolicyElement::Resource,
        "Has prohibited field Resource.",
    );
    rejects(
        PolicyKind::Trust,
        &statement(
            r#"{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}"#,
        ),
        PolicyElement::NotPrincipal,
        "Has prohibited field NotPrincipal.",
    );
    rejects(
        PolicyKind::Trust,
        &statement(
            r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject"}"#,
        ),
        PolicyElement::Action,
        "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML, and sts:AssumeRoleWithWebIdentity",
    );
    rejects(
        PolicyKind::Resource,
        &statement(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#),
        PolicyElement::Principal,
        "Missing required field Principal",
    );
    assert!(Policy::parse(
        &statement(r#"{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":["sts:AssumeRoleWithWebIdentity","sts:TagSession"]}"#),
        PolicyKind::Trust
    )
    .is_ok());
}

#[test]
fn rejects_invalid_principals_naming_the_entry() {
    rejects(
        PolicyKind::Trust,
        &statement(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/x*"},"Action":"sts:AssumeRole"}"#,
        ),
        PolicyElement::Principal,
        r#"Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:role/x*""#,
    );
    rejects(
        PolicyKind::Resource,
        &statement(r#"{"Effect":"Deny","NotPrincipal":{"AWS":"bob"},"Action":"*","Resource":"*"}"#),
        PolicyElement::NotPrincipal,
        r#"Invalid principal in policy: "AWS":"bob""#,
    );
    rejects(
        PolicyKind::Trust,
        &statement(r#"{"Effect":"Allow","Principal":{"Group":"x"},"Action":"sts:AssumeRole"}"#),
        PolicyElement::Principal,
        SYNTAX,
    );
}

#[test]
fn rejects_bad_conditions() {
    let c = |cond: &str| {
        format!(r#"{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{cond}}}"#)
    };
    for cond in [
        r#""x""#,
        r#"{"StringEquals":"x"}"#,
        r#"{"StringEqualz":{"k":"v"}}"#,
        r#"{"NullIfExists":{"k":"true"}}"#,
        r#"{"ForSomeValues:StringEquals":{"k":"v"}}"#,
        r#"{"StringEquals":{"k":{"a":1}}}"#,
        r#"{"StringEquals":{"k":[null]}}"#,
        r#"{"StringEquals":{"":"v"}}"#,
        r#"{"NumericEquals":{"k":"ten"}}"#,
        r#"{"Bool":{"k":"yes"}}"#,
        r#"{"BinaryEquals":{"k":"not base64!"}}"#,
        r#"{"IpAddress":{"k":"10.0.0.0/33"}}"#,
        r#"{"Null":{"k":"maybe"}}"#,
    ] {
        rejects_identity_statement(&c(cond), PolicyElement::Condition, SYNTAX);
    }
    rejects_identity_statement(
        &c(r#"{"DateLessThan":{"aws:CurrentTime":"yesterday"}}"#),
        PolicyElement::Condition,
        LEGACY,
    );
}

#[test]
fn enforces_size_limits_per_kind_without_counting_white_space() {
    let big_sid = "A".repeat(2_100);
    let text = statement(&format!(
        r#"{{"Sid":"{big_sid}","Effect":"Allow","Action":"*","Resource":"*"}}"#
    ));
    {
        let err = Policy::parse(&text, PolicyKind::Session).unwrap_err();
        assert!(
            matches!(err, PolicyError::TooLarge { limit: 2_048, .. }),
            "{err:?}"
        );
        assert_eq!(err.aws_code(), "LimitExceeded");
    }
    assert!(Policy::parse(&text, PolicyKind::Identity).is_ok());
    let trust = statement(&format!(
        r#"{{"Sid":"{big_sid}","Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}"#
    ));
    assert!(matches!(
        Policy::parse(&trust, PolicyKind::Trust),
        Err(PolicyError::TooLarge { .. })
    ));
    assert!(Policy::parse_with_limit(&trust, PolicyKind::Trust, 4_096).is_ok());
    let padded = format!(
        "{}{}",
        " \n".repeat(5_000),
        statement(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#)
    );
    let p = Policy::parse(&padded, PolicyKind::Session).unwrap();
    assert_eq!(
        p.size(),
        statement(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#).len()
    );
    let managed = statement(&format!(
        r#"{{"Sid":"{}","Effect":"Allow","Action":"*","Resource":"*"}}"#,
        "A".repeat(6_200)
    ));
    assert!(matches!(
        Policy::parse_managed(&managed),
        Err(PolicyError::TooLarge { limit: 6_144, .. })
    ));
}

#[test]
fn rejects_characters_outside_the_model_pattern() {
    let text = statement(r#"{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::bücket/€"}"#);
    let err = Policy::parse(&text, PolicyKind::Identity).unwrap_err();
    assert_eq!(err, PolicyError::InvalidCharacter { character: '€' });
    assert_eq!(err.aws_code(), "ValidationError");
    let latin1 = statement(r#"{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::bücket/x"}"#);
    assert!(Policy::parse(&latin1, PolicyKind::Identity).is_ok());
}

/// IAM and STS return `MalformedPolicyDocument` with AWS's text followed by
/// the offending element and statement (policy-evaluation.md §9), so a
/// caller can find the fault AWS's generic "Syntax errors in policy." hides.
#[test]
fn wire_messages_name_the_offending_element_and_statement() {
    let ok = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;
    let two = |second: &str| statement(&format!("{ok},{second}"));
    let cases: Vec<(PolicyKind, String, &str, &str)> = vec![
        (PolicyKind::Identity, "nope".into(), "Document", SYNTAX),
        (
            PolicyKind::Identity,
            r#"{"Version":"2013-01-01","Statement":[]}"#.into(),
            "Version",
            SYNTAX,
        ),
        (
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17","Statements":[]}"#.into(),
            "Document",
            SYNTAX,
        ),
        (
            PolicyKind::Identity,
            r#"{"Version":"2012-10-17"}"#.into(),
            "Statement",
            SYNTAX,
        ),
        (
            PolicyKind::Identity,
            two(r#"{"Effect":"Allow","Action":"*","Resource":"*","Extra":1}"#),
            "Statement[1]",
            SYNTAX,
        ),
        (
            PolicyKind::Identity,
            two(r#"{"Effect":"allow","Action":"*","Resource":"*"}"#),
            "Statement[1].Effect",
            LEGACY,
        ),
        (
            PolicyKind::Identity,
            two(r#"{"Effect":7,"Action":"*","Resource":"*"}"#),
            "Statement[1].Effect",
            SYNTAX,
        ),
        (
            PolicyKind::Identity,
            statement(r#"{"Effect":"Allow","Resource":"*"}"#),
            "Statement[0].Action",
            "Policy statement must contain actions.",
        ),
        (
            PolicyKind::Identity,
            two(r#"{"Effect":"Allow","NotAction":"s3-x","Resource":"*"}"#),
            "Statement[1].NotAction",
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            PolicyKind::Session,
            two(r#"{"Effect":"Allow","Action":"*"}"#),
            "Statement[1].Resource",
            "Policy statement must contain resources.",
        ),
        (
            PolicyKind::Boundary,
            two(r#"{"Effect":"Allow","Action":"*","NotResource":"bucket"}"#),
            "Statement[1].NotResource",
            "Resource bucket must be in ARN format or \"*\".",
        ),
        (
            PolicyKind::Identity,
            two(r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#),
            "Statement[1].Principal",
            "Policy document should not specify a principal.",
        ),
        (
            PolicyKind::Trust,
            statement(
                r#"{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}"#,
            ),
            "Statement[0].Resource",
            "Has prohibited field Resource.",
        ),
        (
            PolicyKind::Trust,
            statement(
                r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1111:user/*x"},"Action":"sts:AssumeRole"}"#,
            ),
            "Statement[0].Principal",
            "Invalid principal in policy",
        ),
        (
            PolicyKind::Identity,
            two(
                r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"soon"}}}"#,
            ),
            "Statement[1].Condition",
            SYNTAX,
        ),
        (
            PolicyKind::Identity,
            two(
                r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"k":"v"}}}"#,
            ),
            "Statement[1].Condition",
            SYNTAX,
        ),
        (
            PolicyKind::Identity,
            statement(
                r#"{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}"#,
            ),
            "Statement[1].Sid",
            "Statement IDs (SID) in a single policy must be unique.",
        ),
    ];
    for (kind, text, location, aws) in cases {
        let err = Policy::parse(&text, kind).expect_err(&text);
        assert_eq!(err.aws_code(), "MalformedPolicyDocument", "{text}");
        assert_eq!(err.location(), location, "{text}");
        let wire = err.wire_message();
        assert!(wire.starts_with(aws), "{wire}");
        assert!(wire.starts_with(&format!("{err} ({location}: ")), "{wire}");
        assert!(wire.ends_with(')'), "{wire}");
    }
}

#[test]
fn wire_messages_quote_at_most_256_characters_of_the_input() {
    let long = "x".repeat(5_000);
    let text = statement(&format!(
        r#"{{"Effect":"Allow","Action":"*","Resource":"{long}"}}"#
    ));
    let err = Policy::parse(&text, PolicyKind::Identity).unwrap_err();
    let wire = err.wire_message();
    // AWS's own text quotes the whole resource; the detail adds at most 256 more.
    assert!(wire.len() < 5_000 + 400, "{}", wire.len());
    assert!(wire.ends_with("...)"), "{}", &wire[wire.len() - 20..]);
}

#[test]
fn managed_version_errors_name_the_version() {
    let err =
        Policy::parse_managed(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
            .unwrap_err();
    assert_eq!(err.location(), "Version");
    assert!(
        err.wire_message()
            .starts_with("Policy document must be version 2012-10-17 or greater. (Version: ")
    );
}

/// §2: the limit of each kind, white space outside strings not counted.
#[test]
fn each_kind_has_its_size_limit() {
    for (kind, limit) in [
        (PolicyKind::Identity, 10_240),
        (PolicyKind::Resource, 20_480),
        (PolicyKind::Trust, 2_048),
        (PolicyKind::Session, 2_048),
        (PolicyKind::Boundary, 6_144),
    ] {
        assert_eq!(kind.size_limit(), limit, "{kind:?}");
        let body = |size: usize| {
            let base = match kind {
                PolicyKind::Trust => {
                    r#"{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}"#
                }
                PolicyKind::Resource => {
                    r#"{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#
                }
                _ => {
                    r#"{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Allow","Action":"*","Resource":"*"}]}"#
                }
            };
            let sid = "A".repeat(size - base.len());
            base.replacen(r#""Sid":"""#, &format!(r#""Sid":"{sid}""#), 1)
        };
        let at_limit = body(limit);
        let policy = Policy::parse(&at_limit, kind).unwrap();
        assert_eq!(policy.size(), limit);
        // White space outside strings does not count.
        let spaced = at_limit.replace(',', " ,\n\t");
        assert!(Policy::parse(&spaced, kind).is_ok(), "{kind:?}");
        match Policy::parse(&body(limit + 1), kind) {
            Err(PolicyError::TooLarge { size, limit: l, .. }) => {
                assert_eq!((size, l), (limit + 1, limit))
            }
            other => panic!("{kind:?}: {other:?}"),
        }
    }
}
