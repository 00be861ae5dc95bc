//! Runs the decision corpus `tests/cases.json`: each case gives policies by
//! type, a principal, an action, a resource and condition keys, the expected
//! outcome and the reference rule it checks (policy-evaluation.md §n).

#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test harness helpers: a broken expectation or fixture should fail the test loudly"
)]

use mayfly_policy::{
    CallerPolicies, Decision, NamedPolicy, Outcome, Policy, PolicyKind, PolicySet, PrincipalInfo,
    RequestContext, evaluate, evaluate_trust,
};
use serde_json::Value;

const ACCT: &str = "111122223333";
const OTHER: &str = "444455556666";

fn principal(spec: &Value) -> PrincipalInfo {
    if let Some(name) = spec.as_str() {
        return match name {
            "alice" => PrincipalInfo::user(
                "arn:aws:iam::111122223333:user/alice",
                ACCT,
                "AIDAALICEEXAMPLE0001",
            ),
            "bob" => PrincipalInfo::user(
                "arn:aws:iam::111122223333:user/bob",
                ACCT,
                "AIDABOBEXAMPLE000001",
            ),
            "root" => PrincipalInfo::root("aws", ACCT),
            "session" => PrincipalInfo::assumed_role(
                "arn:aws:sts::111122223333:assumed-role/R/s1",
                "arn:aws:iam::111122223333:role/R",
                ACCT,
                "AROAROLEEXAMPLE00001",
            ),
            "fed" => PrincipalInfo::federated_user(
                "arn:aws:sts::111122223333:federated-user/fed",
                "arn:aws:iam::111122223333:user/alice",
                ACCT,
                "AIDAALICEEXAMPLE0001",
            ),
            "carol" => PrincipalInfo::user(
                "arn:aws:iam::444455556666:user/carol",
                OTHER,
                "AIDACAROLEXAMPLE0001",
            ),
            "other-session" => PrincipalInfo::assumed_role(
                "arn:aws:sts::444455556666:assumed-role/X/s9",
                "arn:aws:iam::444455556666:role/X",
                OTHER,
                "AROAOTHEREXAMPLE0001",
            ),
            "anonymous" => PrincipalInfo::anonymous(),
            other => {
                if let Some(provider) = other.strip_prefix("web:") {
                    PrincipalInfo::web_identity(provider)
                } else if let Some(service) = other.strip_prefix("service:") {
                    PrincipalInfo::service(service)
                } else {
                    panic!("unknown principal {other}")
                }
            }
        };
    }
    panic!("principal must be a name: {spec}")
}

fn kind(name: &str) -> PolicyKind {
    match name {
        "identity" => PolicyKind::Identity,
        "resource" => PolicyKind::Resource,
        "trust" => PolicyKind::Trust,
        "session" => PolicyKind::Session,
        "boundary" => PolicyKind::Boundary,
        other => panic!("unknown kind {other}"),
    }
}

fn parse(doc: &Value, kind: PolicyKind, case: &str) -> Policy {
    let text = match doc {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Policy::parse(&text, kind)
        .unwrap_or_else(|e| panic!("{case}: policy does not parse: {e:?}\n{text}"))
}

fn run(case: &Value) -> Result<(), String> {
    let name = case["name"].as_str().expect("name");
    let rule = case["rule"].as_str().expect("rule");
    assert!(
        rule.starts_with('\u{a7}'),
        "{name}: rule must cite a section of policy-evaluation.md"
    );
    let policies = &case["policies"];
    let list = |key: &str, k: PolicyKind| -> Vec<Policy> {
        match &policies[key] {
            Value::Null => Vec::new(),
            Value::Array(items) => items.iter().map(|d| parse(d, k, name)).collect(),
            single => vec![parse(single, k, name)],
        }
    };
    let resource_kind = kind(policies["resource_kind"].as_str().unwrap_or("resource"));
    let identity = list("identity", PolicyKind::Identity);
    let resource = list("resource", resource_kind);
    let boundary = list("boundary", PolicyKind::Boundary);
    let session = list("session", PolicyKind::Session);
    let ids: Vec<String> = (0..identity.len())
        .map(|i| format!("identity{i}"))
        .collect();
    let sids: Vec<String> = (0..session.len()).map(|i| format!("session{i}")).collect();
    let identity_named: Vec<NamedPolicy<'_>> = identity
        .iter()
        .zip(&ids)
        .map(|(p, id)| NamedPolicy {
            id,
            policy: p,
            kind: PolicyKind::Identity,
        })
        .collect();
    let session_named: Vec<NamedPolicy<'_>> = session
        .iter()
        .zip(&sids)
        .map(|(p, id)| NamedPolicy {
            id,
            policy: p,
            kind: PolicyKind::Session,
        })
        .collect();
    let resource_named = resource.first().map(|p| NamedPolicy {
        id: "resource",
        policy: p,
        kind: resource_kind,
    });
    let boundary_named = boundary.first().map(|p| NamedPolicy {
        id: "boundary",
        policy: p,
        kind: PolicyKind::Boundary,
    });
    let session_opt = if policies["session"].is_null() {
        None
    } else {
        Some(session_named)
    };

    let who = principal(
        case.get("principal")
            .unwrap_or(&Value::String("alice".into())),
    );
    let action = case["action"].as_str().unwrap_or("s3:GetObject");
    let resource_arn = case["resource"]
        .as_str()
        .unwrap_or("arn:aws:s3:::bucket/key");
    let mut ctx = RequestContext::new(who, action, resource_arn);
    if let Some(keys) = case["context"].as_object() {
        for (k, v) in keys {
            match v {
                Value::String(s) => ctx.set(k, s.clone()),
                Value::Array(items) => ctx.set_multi(
                    k,
                    items
                        .iter()
                        .map(|i| i.as_str().expect("string value").to_owned())
                        .collect(),
                ),
                other => panic!("{name}: bad context value {other}"),
            }
        }
    }
    let resource_account = case["resource_account"].as_str();

    let decision: Decision = if let Some(trust) = case.get("trust") {
        let extra: Vec<&str> = trust["additional_actions"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().expect("action")).collect())
            .unwrap_or_default();
        let caller = CallerPolicies {
            identity: identity_named,
            boundary: boundary_named,
            session: session_opt,
        };
        let trust_policy = resource_named.expect("trust cases need a resource policy");
        evaluate_trust(
            &ctx,
            trust_policy,
            resource_account.unwrap_or(ACCT),
            &caller,
            &extra,
        )
    } else {
        let set = PolicySet {
            identity: identity_named,
            resource: resource_named,
            resource_account,
            boundary: boundary_named,
            session: session_opt,
        };
        evaluate(&ctx, &set)
    };

    let expect = match case["expect"].as_str().expect("expect") {
        "Allow" => Outcome::Allow,
        "ExplicitDeny" => Outcome::ExplicitDeny,
        "ImplicitDeny" => Outcome::ImplicitDeny,
        other => panic!("{name}: bad expect {other}"),
    };
    let mut problems = Vec::new();
    if decision.outcome != expect {
        problems.push(format!(
            "outcome {:?}, expected {expect:?}",
            decision.outcome
        ));
    }
    if let Some(reason) = case["reason"].as_str() {
        let got = decision
            .reason
            .map(|r| format!("{r:?}"))
            .unwrap_or_default();
        if !got.starts_with(reason) {
            problems.push(format!("reason {got}, expected {reason}"));
        }
    }
    let phrase = decision.reason_phrase();
    if let Some(want) = case["phrase"].as_str().filter(|want| *want != phrase) {
        problems.push(format!("phrase `{phrase}`, expected `{want}`"));
    }
    if let Some(grant) = case["grant"].as_str() {
        let got = decision
            .resource_grant
            .map(|g| format!("{g:?}"))
            .unwrap_or("None".into());
        if got != grant {
            problems.push(format!("grant {got}, expected {grant}"));
        }
    }
    if let Some(sids) = case["matched"].as_array() {
        let got: Vec<String> = decision
            .matched
            .iter()
            .map(|m| m.sid.clone().unwrap_or_default())
            .collect();
        let want: Vec<String> = sids
            .iter()
            .map(|s| s.as_str().expect("sid").to_owned())
            .collect();
        if got != want {
            problems.push(format!("matched {got:?}, expected {want:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{name} ({rule}): {}", problems.join("; ")))
    }
}

#[test]
fn decision_corpus_matches_the_reference() {
    let text = include_str!("cases.json");
    let corpus: Value = serde_json::from_str(text).expect("cases.json is JSON");
    let cases = corpus["cases"].as_array().expect("cases");
    assert!(cases.len() >= 300, "corpus has {} cases", cases.len());
    let mut names = std::collections::HashSet::new();
    let failures: Vec<String> = cases
        .iter()
        .inspect(|c| {
            assert!(
                names.insert(c["name"].as_str().unwrap_or_default().to_owned()),
                "duplicate case name {}",
                c["name"]
            )
        })
        .filter_map(|c| run(c).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every condition operator of §6.3 appears in the corpus with its key
/// present (single-valued), missing and multi-valued; every `…IfExists`
/// form with the key missing and present; `ForAllValues`/`ForAnyValue`
/// with the key missing and with an empty set (§6.2, §6.4).
#[test]
fn corpus_covers_every_operator_with_every_key_shape() {
    const OPERATORS: [&str; 26] = [
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
    ];
    let corpus: Value = serde_json::from_str(include_str!("cases.json")).expect("JSON");
    let mut seen = std::collections::HashSet::new();
    for case in corpus["cases"].as_array().expect("cases") {
        let context = case["context"].as_object();
        let shape = |key: &str| -> &'static str {
            let value = context.and_then(|c| {
                c.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            });
            match value {
                None => "missing",
                Some(Value::Array(items)) if items.is_empty() => "empty",
                Some(Value::Array(_)) => "multi",
                Some(_) => "single",
            }
        };
        let policies = case["policies"].as_object().expect("policies");
        let documents = policies
            .iter()
            .filter(|(k, _)| *k != "resource_kind")
            .flat_map(|(_, v)| match v {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            });
        for document in documents {
            let statements = match &document["Statement"] {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            for statement in statements {
                let Some(operators) = statement["Condition"].as_object() else {
                    continue;
                };
                for (operator, keys) in operators {
                    for key in keys.as_object().expect("keys").keys() {
                        seen.insert((operator.clone(), shape(key)));
                    }
                }
            }
        }
    }
    let mut missing = Vec::new();
    let mut need = |operator: String, shape: &'static str| {
        if !seen.contains(&(operator.clone(), shape)) {
            missing.push(format!("{operator} with the key {shape}"));
        }
    };
    for op in OPERATORS {
        for shape in ["single", "missing", "multi"] {
            need(op.to_owned(), shape);
        }
        for shape in ["single", "missing"] {
            need(format!("{op}IfExists"), shape);
        }
    }
    for shape in ["single", "missing", "multi"] {
        need("Null".to_owned(), shape);
    }
    for set in ["ForAllValues", "ForAnyValue"] {
        for op in [
            "StringEquals",
            "StringLike",
            "StringNotEquals",
            "ArnLike",
            "NumericLessThan",
            "IpAddress",
            "DateLessThan",
        ] {
            for shape in ["missing", "empty", "multi"] {
                need(format!("{set}:{op}"), shape);
            }
        }
    }
    assert!(missing.is_empty(), "not covered:\n{}", missing.join("\n"));
}
