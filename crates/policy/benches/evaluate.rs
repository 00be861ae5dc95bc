//! Evaluation speed (issue 3 targets): one request against (a) a
//! 10-statement policy with conditions and policy variables, < 2 µs, and
//! (b) a principal with 100 attached policies, < 20 µs.
//!
//! `cargo bench -p mayfly-policy --bench evaluate`; figures in docs/PERFORMANCE.md.

#![allow(
    clippy::expect_used,
    reason = "benchmark fixtures: a policy that does not parse should stop the run"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mayfly_policy::{
    NamedPolicy, Policy, PolicyKind, PolicySet, PrincipalInfo, RequestContext, evaluate,
};

/// Ten statements exercising the common shapes: wildcard actions, resource
/// patterns with `${aws:username}` and `${aws:PrincipalTag/team}`, String,
/// Ip, Date, Bool, Numeric and set operators, IfExists, NotAction and a Deny.
const TEN_STATEMENTS: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "HomeRead", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
     "Resource": "arn:aws:s3:::home-bucket/${aws:username}/*"},
    {"Sid": "HomeWrite", "Effect": "Allow", "Action": "s3:PutObject",
     "Resource": "arn:aws:s3:::home-bucket/${aws:username}/*",
     "Condition": {"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
    {"Sid": "TeamShare", "Effect": "Allow", "Action": "s3:*",
     "Resource": "arn:aws:s3:::team-${aws:PrincipalTag/team, 'none'}/*",
     "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}}},
    {"Sid": "ListHome", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::home-bucket",
     "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*", "shared/*"]}}},
    {"Sid": "Office", "Effect": "Allow", "Action": ["ec2:Describe*", "cloudwatch:Get*"], "Resource": "*",
     "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"},
                   "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}},
    {"Sid": "Mfa", "Effect": "Allow", "Action": "iam:*AccessKey*",
     "Resource": "arn:aws:iam::111122223333:user/${aws:username}",
     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"},
                   "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}},
    {"Sid": "Tagging", "Effect": "Allow", "Action": ["iam:TagUser", "iam:UntagUser"], "Resource": "*",
     "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost-center"]},
                   "StringEqualsIfExists": {"aws:RequestTag/team": "${aws:PrincipalTag/team}"}}},
    {"Sid": "Region", "Effect": "Allow", "Action": "dynamodb:*",
     "Resource": "arn:aws:dynamodb:*:111122223333:table/${aws:PrincipalTag/team}-*",
     "Condition": {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}},
    {"Sid": "DenyInsecure", "Effect": "Deny", "Action": "s3:*", "Resource": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "DenyOutsideIam", "Effect": "Deny", "NotAction": ["iam:*", "sts:*", "s3:*", "ec2:*", "cloudwatch:*", "dynamodb:*"],
     "Resource": "*",
     "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/admin-*"}}}
  ]
}"#;

fn alice(action: &str, resource: &str) -> RequestContext {
    let principal = PrincipalInfo::user(
        "arn:aws:iam::111122223333:user/alice",
        "111122223333",
        "AIDAALICEEXAMPLE0001",
    );
    let mut ctx = RequestContext::new(principal, action, resource);
    // The keys a front end fills for a signed request (policy-evaluation.md §10).
    ctx.set("aws:PrincipalArn", "arn:aws:iam::111122223333:user/alice");
    ctx.set("aws:PrincipalAccount", "111122223333");
    ctx.set("aws:PrincipalType", "User");
    ctx.set("aws:userid", "AIDAALICEEXAMPLE0001");
    ctx.set("aws:username", "alice");
    ctx.set("aws:PrincipalTag/team", "blue");
    ctx.set("aws:SourceIp", "203.0.113.42");
    ctx.set("aws:SecureTransport", "true");
    ctx.set("aws:CurrentTime", "2025-03-01T12:00:00Z");
    ctx.set("aws:EpochTime", "1740830400");
    ctx.set("aws:RequestedRegion", "us-east-1");
    ctx.set("aws:UserAgent", "aws-sdk-rust/1.0");
    ctx.set("aws:ViaAWSService", "false");
    ctx.set("aws:PrincipalIsAWSService", "false");
    ctx
}

fn ten_statements(c: &mut Criterion) {
    let policy =
        Policy::parse(TEN_STATEMENTS, PolicyKind::Identity).expect("the benchmark policy parses");
    let ctx = alice("s3:PutObject", "arn:aws:s3:::team-blue/reports/2025/q1.csv");
    let set = PolicySet {
        identity: vec![NamedPolicy {
            id: "arn:aws:iam::111122223333:policy/ten",
            policy: &policy,
            kind: PolicyKind::Identity,
        }],
        ..PolicySet::default()
    };
    assert!(
        evaluate(&ctx, &set).is_allowed(),
        "TeamShare allows the request"
    );
    c.bench_function("evaluate/one_policy_10_statements", |b| {
        b.iter(|| evaluate(black_box(&ctx), black_box(&set)))
    });
}

/// Policy `i` of the 100: two statements on a bucket of its own with a
/// variable and a condition, like per-project policies attached to a role.
fn project_policy(i: usize) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Sid":"Read{i}","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],
            "Resource":["arn:aws:s3:::project-{i}","arn:aws:s3:::project-{i}/${{aws:username}}/*"],
            "Condition":{{"StringEquals":{{"aws:PrincipalTag/team":["blue","green"]}}}}}},
          {{"Sid":"Write{i}","Effect":"Allow","Action":"s3:PutObject",
            "Resource":"arn:aws:s3:::project-{i}/*",
            "Condition":{{"IpAddress":{{"aws:SourceIp":"203.0.113.0/24"}},"Bool":{{"aws:SecureTransport":"true"}}}}}}
        ]}}"#
    )
}

fn hundred_policies(c: &mut Criterion) {
    let policies: Vec<(String, Policy)> = (0..100)
        .map(|i| {
            let policy = Policy::parse(&project_policy(i), PolicyKind::Identity)
                .expect("project policy parses");
            (
                format!("arn:aws:iam::111122223333:policy/project-{i}"),
                policy,
            )
        })
        .collect();
    let set = PolicySet {
        identity: policies
            .iter()
            .map(|(id, policy)| NamedPolicy {
                id,
                policy,
                kind: PolicyKind::Identity,
            })
            .collect(),
        ..PolicySet::default()
    };
    // Matches only the last policy: every statement is examined.
    let ctx = alice("s3:PutObject", "arn:aws:s3:::project-99/alice/x");
    assert!(
        evaluate(&ctx, &set).is_allowed(),
        "Write99 allows the request"
    );
    c.bench_function("evaluate/principal_with_100_policies", |b| {
        b.iter(|| evaluate(black_box(&ctx), black_box(&set)))
    });
}

criterion_group!(benches, ten_statements, hundred_policies);
criterion_main!(benches);
