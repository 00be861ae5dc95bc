//! Properties of the decision algorithm (policy-evaluation.md §8) over
//! random policy sets, principals and request contexts:
//!
//! - adding an explicit `Deny` anywhere never turns a deny into an allow
//!   (§8.2 step 1);
//! - a session policy or a permissions boundary never widens what is
//!   allowed (§8.2 steps 6–7, §8.5);
//! - the decision does not depend on the order of statements in a policy,
//!   nor on the order of the identity and session policies (§8.1).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests: a generated policy that does not parse is a generator bug and should fail loudly"
)]

use mayfly_policy::{
    Decision, NamedPolicy, Outcome, Policy, PolicyKind, PolicySet, PrincipalInfo, RequestContext,
    evaluate,
};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Map, Value, json};

const ACCT: &str = "111122223333";
const OTHER: &str = "444455556666";

/// One generated statement, rendered to JSON for the policy kind it goes in.
#[derive(Debug, Clone)]
struct Stmt {
    allow: bool,
    not_action: bool,
    actions: Vec<&'static str>,
    not_resource: bool,
    resources: Vec<&'static str>,
    /// Used only in resource policies.
    principal: Value,
    conditions: Vec<(&'static str, &'static str, Value)>,
}

impl Stmt {
    fn render(&self, with_principal: bool) -> Value {
        let mut s = Map::new();
        s.insert(
            "Effect".into(),
            json!(if self.allow { "Allow" } else { "Deny" }),
        );
        s.insert(
            if self.not_action {
                "NotAction"
            } else {
                "Action"
            }
            .into(),
            json!(self.actions),
        );
        s.insert(
            if self.not_resource {
                "NotResource"
            } else {
                "Resource"
            }
            .into(),
            json!(self.resources),
        );
        if with_principal {
            s.insert("Principal".into(), self.principal.clone());
        }
        if !self.conditions.is_empty() {
            let mut ops = Map::new();
            for (op, key, value) in &self.conditions {
                let keys = ops
                    .entry(op.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(keys) = keys {
                    keys.insert(key.to_string(), value.clone());
                }
            }
            s.insert("Condition".into(), Value::Object(ops));
        }
        Value::Object(s)
    }
}

type Doc = Vec<Stmt>;

fn render(doc: &[Stmt], kind: PolicyKind) -> String {
    let statements: Vec<Value> = doc
        .iter()
        .map(|s| s.render(kind == PolicyKind::Resource))
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn conditions() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("StringEquals", "aws:PrincipalTag/team", json!("a")),
        (
            "StringNotEquals",
            "aws:PrincipalTag/team",
            json!(["a", "c"]),
        ),
        ("StringLikeIfExists", "aws:PrincipalTag/team", json!("b*")),
        (
            "StringEquals",
            "aws:username",
            json!("${aws:PrincipalTag/team}"),
        ),
        ("ForAllValues:StringEquals", "aws:TagKeys", json!(["a"])),
        ("ForAnyValue:StringEquals", "aws:TagKeys", json!(["b"])),
        ("IpAddress", "aws:SourceIp", json!(["203.0.113.0/24"])),
        ("NotIpAddress", "aws:SourceIp", json!("2001:db8::/32")),
        ("NumericLessThan", "aws:MultiFactorAuthAge", json!(3600)),
        (
            "DateLessThan",
            "aws:TokenIssueTime",
            json!("2025-03-01T12:00:00Z"),
        ),
        ("BoolIfExists", "aws:MultiFactorAuthPresent", json!("true")),
        ("Null", "aws:PrincipalTag/team", json!("true")),
        (
            "ArnLike",
            "aws:PrincipalArn",
            json!("arn:aws:iam::*:role/*"),
        ),
    ]
}

fn stmt(effect: impl Strategy<Value = bool>) -> impl Strategy<Value = Stmt> {
    (
        effect,
        any::<bool>(),
        subsequence(
            vec![
                "s3:GetObject",
                "s3:Get*",
                "s3:*",
                "iam:*",
                "*",
                "s3:PutObject",
            ],
            1..=2,
        ),
        prop::bool::weighted(0.2),
        subsequence(
            vec![
                "*",
                "arn:aws:s3:::bucket/*",
                "arn:aws:s3:::other/*",
                "arn:aws:s3:::bucket/${aws:username}/*",
            ],
            1..=2,
        ),
        select(vec![
            json!("*"),
            json!({"AWS": ACCT}),
            json!({"AWS": OTHER}),
            json!({"AWS": "arn:aws:iam::111122223333:user/alice"}),
            json!({"AWS": "arn:aws:iam::111122223333:role/R"}),
            json!({"AWS": "arn:aws:sts::111122223333:assumed-role/R/s1"}),
            json!({"AWS": "arn:aws:sts::111122223333:federated-user/fed"}),
            json!({"AWS": "arn:aws:iam::444455556666:user/carol"}),
        ]),
        subsequence(conditions(), 0..=2),
    )
        .prop_map(
            |(allow, not_action, actions, not_resource, resources, principal, conditions)| Stmt {
                allow,
                // NotAction mostly with Deny, as people write it.
                not_action: not_action && !allow,
                actions,
                not_resource,
                resources,
                principal,
                conditions,
            },
        )
}

fn doc() -> impl Strategy<Value = Doc> {
    prop::collection::vec(stmt(prop::bool::weighted(0.8)), 1..=4)
}

/// The policies of one request, as statement lists (rendered per kind).
#[derive(Debug, Clone)]
struct Set {
    identity: Vec<Doc>,
    resource: Option<Doc>,
    cross_account: bool,
    boundary: Option<Doc>,
    session: Option<Vec<Doc>>,
}

fn set() -> impl Strategy<Value = Set> {
    (
        prop::collection::vec(doc(), 0..=3),
        prop::option::weighted(0.5, doc()),
        prop::bool::weighted(0.25),
        prop::option::weighted(0.4, doc()),
        prop::option::weighted(0.5, prop::collection::vec(doc(), 1..=2)),
    )
        .prop_map(
            |(identity, resource, cross_account, boundary, session)| Set {
                identity,
                resource,
                cross_account,
                boundary,
                session,
            },
        )
}

#[derive(Debug, Clone)]
struct Request {
    principal: &'static str,
    action: &'static str,
    resource: &'static str,
    keys: Vec<(&'static str, Value)>,
}

fn request() -> impl Strategy<Value = Request> {
    (
        select(vec!["alice", "session", "fed", "root", "carol"]),
        select(vec!["s3:GetObject", "s3:PutObject", "iam:CreateUser"]),
        select(vec![
            "arn:aws:s3:::bucket/alice/k",
            "arn:aws:s3:::other/k",
            "*",
        ]),
        subsequence(
            vec![
                ("aws:PrincipalTag/team", json!("a")),
                ("aws:PrincipalTag/team", json!("b")),
                ("aws:username", json!("a")),
                ("aws:TagKeys", json!([])),
                ("aws:TagKeys", json!(["a", "b"])),
                ("aws:SourceIp", json!("203.0.113.5")),
                ("aws:SourceIp", json!("2001:db8::1")),
                ("aws:MultiFactorAuthAge", json!("100")),
                ("aws:MultiFactorAuthPresent", json!("false")),
                ("aws:TokenIssueTime", json!("2025-03-01T11:00:00Z")),
                (
                    "aws:PrincipalArn",
                    json!("arn:aws:iam::111122223333:role/R"),
                ),
            ],
            0..=5,
        ),
    )
        .prop_map(|(principal, action, resource, keys)| Request {
            principal,
            action,
            resource,
            keys,
        })
}

fn context(req: &Request) -> RequestContext {
    let who = match req.principal {
        "alice" => PrincipalInfo::user(
            "arn:aws:iam::111122223333:user/alice",
            ACCT,
            "AIDAALICEEXAMPLE0001",
        ),
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
        "root" => PrincipalInfo::root("aws", ACCT),
        _ => PrincipalInfo::user(
            "arn:aws:iam::444455556666:user/carol",
            OTHER,
            "AIDACAROLEXAMPLE0001",
        ),
    };
    let mut ctx = RequestContext::new(who, req.action, req.resource);
    for (key, value) in &req.keys {
        match value {
            Value::Array(items) => ctx.set_multi(
                key,
                items
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect(),
            ),
            other => ctx.set(key, other.as_str().unwrap()),
        }
    }
    ctx
}

fn parse_all(docs: &[Doc], kind: PolicyKind) -> Vec<Policy> {
    docs.iter()
        .map(|d| {
            let text = render(d, kind);
            Policy::parse(&text, kind).unwrap_or_else(|e| panic_parse(&text, &e))
        })
        .collect()
}

#[allow(clippy::panic, reason = "a generator bug should fail the test loudly")]
fn panic_parse(text: &str, error: &mayfly_policy::PolicyError) -> Policy {
    panic!("generated policy does not parse ({error:?}): {text}")
}

fn named(policies: &[Policy], kind: PolicyKind) -> Vec<NamedPolicy<'_>> {
    policies
        .iter()
        .map(|policy| NamedPolicy {
            id: "p",
            policy,
            kind,
        })
        .collect()
}

/// Evaluate `set` for `req`.
fn decide(set: &Set, req: &Request) -> Decision {
    let identity = parse_all(&set.identity, PolicyKind::Identity);
    let resource = parse_all(set.resource.as_slice(), PolicyKind::Resource);
    let boundary = parse_all(set.boundary.as_slice(), PolicyKind::Boundary);
    let session = set
        .session
        .as_ref()
        .map(|s| parse_all(s, PolicyKind::Session));
    let policy_set = PolicySet {
        identity: named(&identity, PolicyKind::Identity),
        resource: named(&resource, PolicyKind::Resource).into_iter().next(),
        resource_account: Some(if set.cross_account { OTHER } else { ACCT }),
        boundary: named(&boundary, PolicyKind::Boundary).into_iter().next(),
        session: session.as_deref().map(|s| named(s, PolicyKind::Session)),
    };
    evaluate(&context(req), &policy_set)
}

/// Where an extra `Deny` statement goes.
#[derive(Debug, Clone, Copy)]
enum Place {
    Identity,
    Resource,
    Boundary,
    Session,
}

fn with_deny(set: &Set, place: Place, deny: Stmt, at: usize) -> Set {
    let mut set = set.clone();
    let insert = |doc: &mut Doc| {
        let i = at % (doc.len() + 1);
        doc.insert(i, deny.clone());
    };
    match place {
        Place::Identity => match set.identity.first_mut() {
            Some(doc) => insert(doc),
            None => set.identity.push(vec![deny.clone()]),
        },
        Place::Resource => insert(set.resource.get_or_insert_with(Vec::new)),
        Place::Boundary => insert(set.boundary.get_or_insert_with(Vec::new)),
        Place::Session => match set.session.as_mut().and_then(|s| s.first_mut()) {
            Some(doc) => insert(doc),
            None => set.session = Some(vec![vec![deny.clone()]]),
        },
    }
    set
}

/// A permutation of `items` driven by `seed` (Fisher–Yates with a tiny LCG).
fn shuffle<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    let mut state = seed | 1;
    for i in (1..out.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = usize::try_from(state >> 33).unwrap() % (i + 1);
        out.swap(i, j);
    }
    out
}

fn shuffled(set: &Set, seed: u64) -> Set {
    let docs = |docs: &[Doc], salt: u64| -> Vec<Doc> {
        let inner: Vec<Doc> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| shuffle(d, seed ^ (salt + i as u64)))
            .collect();
        shuffle(&inner, seed.rotate_left(7) ^ salt)
    };
    Set {
        identity: docs(&set.identity, 11),
        resource: set.resource.as_ref().map(|d| shuffle(d, seed ^ 23)),
        cross_account: set.cross_account,
        boundary: set.boundary.as_ref().map(|d| shuffle(d, seed ^ 37)),
        session: set.session.as_ref().map(|s| docs(s, 53)),
    }
}

fn allow_all() -> Doc {
    vec![Stmt {
        allow: true,
        not_action: false,
        actions: vec!["*"],
        not_resource: false,
        resources: vec!["*"],
        principal: json!("*"),
        conditions: Vec::new(),
    }]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// §8.2 step 1: an explicit deny can only take an allow away.
    #[test]
    fn adding_an_explicit_deny_never_turns_a_deny_into_an_allow(
        set in set(),
        req in request(),
        deny in stmt(Just(false)),
        place in select(vec![Place::Identity, Place::Resource, Place::Boundary, Place::Session]),
        at in 0usize..8,
    ) {
        let before = decide(&set, &req);
        let after = decide(&with_deny(&set, place, deny, at), &req);
        if before.outcome != Outcome::Allow {
            prop_assert_ne!(after.outcome, Outcome::Allow, "before: {:?}", before);
        }
        if before.outcome == Outcome::ExplicitDeny {
            prop_assert_eq!(after.outcome, Outcome::ExplicitDeny);
        }
    }

    /// §8.5: session policies only filter. What a session is allowed with
    /// session policies it is also allowed with an allow-everything session
    /// policy, and (role sessions, which keep the role's permissions when
    /// they have none) without session policies.
    #[test]
    fn a_session_policy_never_widens(set in set(), req in request()) {
        prop_assume!(set.session.is_some());
        let with = decide(&set, &req);
        if with.outcome == Outcome::Allow {
            let everything = Set { session: Some(vec![allow_all()]), ..set.clone() };
            prop_assert_eq!(decide(&everything, &req).outcome, Outcome::Allow);
            if req.principal != "fed" {
                let none = Set { session: None, ..set.clone() };
                prop_assert_eq!(decide(&none, &req).outcome, Outcome::Allow);
            }
        }
    }

    /// §8.2 step 6: a permissions boundary only filters.
    #[test]
    fn a_permissions_boundary_never_widens(set in set(), req in request()) {
        prop_assume!(set.boundary.is_some());
        if decide(&set, &req).outcome == Outcome::Allow {
            let none = Set { boundary: None, ..set.clone() };
            prop_assert_eq!(decide(&none, &req).outcome, Outcome::Allow);
        }
    }

    /// §8.1: statements and policies are a set; their order does not matter
    /// for the outcome, the reason, or which statements are reported (as a set).
    #[test]
    fn evaluation_is_independent_of_statement_order(
        set in set(),
        req in request(),
        seed in any::<u64>(),
    ) {
        let a = decide(&set, &req);
        let b = decide(&shuffled(&set, seed), &req);
        prop_assert_eq!(a.outcome, b.outcome);
        prop_assert_eq!(a.reason, b.reason);
        prop_assert_eq!(a.resource_grant, b.resource_grant);
        prop_assert_eq!(a.matched.len(), b.matched.len());
    }

    /// `Policy::reads_context`: when no policy of a request has a condition
    /// or a variable, the condition keys cannot change the decision, so a
    /// caller may skip building them.
    #[test]
    fn policies_that_read_no_context_decide_the_same_without_keys(
        set in set(),
        req in request(),
    ) {
        let docs = set
            .identity
            .iter()
            .chain(&set.resource)
            .chain(&set.boundary)
            .chain(set.session.iter().flatten());
        let reads = docs.clone().any(|d| {
            let text = render(d, PolicyKind::Identity);
            Policy::parse(&text, PolicyKind::Identity)
                .unwrap_or_else(|e| panic_parse(&text, &e))
                .reads_context()
        });
        let written = docs.flatten().any(|s| {
            !s.conditions.is_empty() || s.resources.iter().any(|r| r.contains("${"))
        });
        prop_assert_eq!(reads, written);
        if !reads {
            let bare = Request { keys: Vec::new(), ..req.clone() };
            let (a, b) = (decide(&set, &req), decide(&set, &bare));
            prop_assert_eq!(a.outcome, b.outcome);
            prop_assert_eq!(a.reason, b.reason);
            prop_assert_eq!(a.matched.len(), b.matched.len());
        }
    }
}

/// The generators reach every outcome often enough for the properties
/// above to say something (a generator that only produced denies would
/// make them hold vacuously).
#[test]
fn generated_requests_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = (set(), request());
    let mut counts = [0usize; 3];
    let mut with_session_allowed = 0;
    let mut with_boundary_allowed = 0;
    for _ in 0..2_000 {
        let (set, req) = strategy.new_tree(&mut runner).unwrap().current();
        let outcome = decide(&set, &req).outcome;
        counts[outcome as usize] += 1;
        if outcome == Outcome::Allow {
            with_session_allowed += usize::from(set.session.is_some());
            with_boundary_allowed += usize::from(set.boundary.is_some());
        }
    }
    let [allow, explicit, implicit] = counts;
    assert!(allow >= 100, "{counts:?}");
    assert!(explicit >= 100, "{counts:?}");
    assert!(implicit >= 100, "{counts:?}");
    assert!(with_session_allowed >= 20, "{with_session_allowed}");
    assert!(with_boundary_allowed >= 20, "{with_boundary_allowed}");
}
