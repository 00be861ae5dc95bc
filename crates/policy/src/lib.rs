//! The IAM policy language for Mayfly: parse and validate policy documents
//! (`MalformedPolicyDocument`), and evaluate a request against identity,
//! resource/trust, permissions-boundary and session policies.
//!
//! Implements `reference/policy-evaluation.md`: grammar and validation
//! (§1, §2, §9), action/resource/principal matching (§3–§5), conditions
//! (§6), policy variables (§7) and the decision algorithm (§8).
//!
//! Pure: no I/O and no clock. `aws:CurrentTime`, `aws:EpochTime` and
//! `aws:TokenIssueTime` come in through the [`RequestContext`] like every
//! other condition key, which is how "revoke active sessions" (§11) works.
//!
//! ```
//! use mayfly_policy::{evaluate, NamedPolicy, Policy, PolicyKind, PolicySet, PrincipalInfo, RequestContext};
//!
//! let policy = Policy::parse(
//!     r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}"#,
//!     PolicyKind::Identity,
//! )?;
//! let alice = PrincipalInfo::user("arn:aws:iam::111122223333:user/alice", "111122223333", "AIDAEXAMPLEEXAMPLE01");
//! let ctx = RequestContext::new(alice, "s3:GetObject", "arn:aws:s3:::bucket/key");
//! let set = PolicySet {
//!     identity: vec![NamedPolicy { id: "inline:user/alice/read", policy: &policy, kind: PolicyKind::Identity }],
//!     ..PolicySet::default()
//! };
//! assert!(evaluate(&ctx, &set).is_allowed());
//! # Ok::<(), mayfly_policy::PolicyError>(())
//! ```

mod condition;
mod context;
mod decision;
mod document;
mod error;
mod json;
mod pattern;
mod principal;

pub use context::{PrincipalInfo, PrincipalKind, RequestContext};
pub use decision::{
    CallerPolicies, Decision, DenyReason, MatchedStatement, NamedPolicy, Outcome, PolicySet,
    evaluate, evaluate_trust,
};
pub use document::{
    DOCUMENT_PARAMETER_LIMIT, Effect, MANAGED_POLICY_LIMIT, Policy, PolicyKind, PolicyVersion,
};
pub use error::{PolicyElement, PolicyError};
pub use principal::PrincipalGrant;

const ALL_KINDS: [PolicyKind; 5] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::Trust,
    PolicyKind::Session,
    PolicyKind::Boundary,
];

/// Fuzzing entry point: parse `data` as every [`PolicyKind`] and evaluate
/// each policy that parses, in every position of a [`PolicySet`], against
/// a fixed context with variables and multi-valued keys. Never panics.
pub fn fuzz_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let policies: Vec<(PolicyKind, Policy)> = ALL_KINDS
        .iter()
        .filter_map(|kind| Policy::parse(&text, *kind).ok().map(|p| (*kind, p)))
        .collect();
    let _ = Policy::parse_managed(&text);
    if policies.is_empty() {
        return;
    }
    let session = PrincipalInfo::assumed_role(
        "arn:aws:sts::111122223333:assumed-role/R/s1",
        "arn:aws:iam::111122223333:role/R",
        "111122223333",
        "AROAEXAMPLEEXAMPLE01",
    );
    let mut ctx = RequestContext::new(
        session,
        "sts:AssumeRole",
        "arn:aws:iam::111122223333:role/R",
    );
    ctx.set("aws:username", "alice");
    ctx.set("aws:PrincipalTag/team", "a*b");
    ctx.set("aws:TokenIssueTime", "2025-03-01T12:00:00Z");
    ctx.set("aws:EpochTime", "1740830400");
    ctx.set("aws:SourceIp", "203.0.113.7");
    ctx.set("aws:MultiFactorAuthPresent", "true");
    ctx.set_multi("aws:TagKeys", vec!["team".to_owned(), String::new()]);
    for (kind, policy) in &policies {
        let named = NamedPolicy {
            id: "fuzz",
            policy,
            kind: *kind,
        };
        let sets = [
            PolicySet {
                identity: vec![named],
                ..PolicySet::default()
            },
            PolicySet {
                resource: Some(named),
                resource_account: Some("444455556666"),
                ..PolicySet::default()
            },
            PolicySet {
                identity: vec![named],
                resource: Some(named),
                boundary: Some(named),
                session: Some(vec![named]),
                ..PolicySet::default()
            },
        ];
        for set in &sets {
            let _ = evaluate(&ctx, set).reason_phrase();
        }
        let caller = CallerPolicies {
            identity: vec![named],
            ..CallerPolicies::default()
        };
        let _ = evaluate_trust(&ctx, named, "111122223333", &caller, &["sts:TagSession"]);
    }
}
