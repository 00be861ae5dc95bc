//! The decision algorithm across policy types (policy-evaluation.md §8):
//! explicit deny wins, then the resource policy's direct grants, then the
//! identity policies, the permissions boundary and the session policies
//! must each allow; otherwise the default deny.

use crate::context::{PrincipalKind, RequestContext};
use crate::document::{Applies, Effect, Policy, PolicyKind};
use crate::principal::PrincipalGrant;

/// A policy with the name explanations use.
#[derive(Debug, Clone, Copy)]
pub struct NamedPolicy<'a> {
    /// E.g. a managed policy ARN or `inline:user/alice/name`.
    pub id: &'a str,
    /// The parsed policy.
    pub policy: &'a Policy,
    /// The role the policy plays (a `Trust` kind in [`PolicySet::resource`]
    /// makes the resource policy mandatory, §8.6).
    pub kind: PolicyKind,
}

/// The policies that apply to one request, by type (§8.1). SCPs and RCPs are
/// not modelled (Mayfly has no Organizations).
#[derive(Debug, Clone, Default)]
pub struct PolicySet<'a> {
    /// The caller's identity-based policies (user + its groups, or the role).
    /// Ignored for the root user, which is allowed in its own account (§8.2).
    pub identity: Vec<NamedPolicy<'a>>,
    /// The resource's policy (bucket policy, or the role's trust policy).
    pub resource: Option<NamedPolicy<'a>>,
    /// The account owning the resource; `None` = the caller's account.
    /// Differing from the caller's account makes the request cross-account (§8.4).
    pub resource_account: Option<&'a str>,
    /// The caller's permissions boundary, if it has one.
    pub boundary: Option<NamedPolicy<'a>>,
    /// `None`: the session has no session policies. `Some`: its session
    /// policies (inline `Policy` and `PolicyArns`); the union of their allows
    /// filters the identity side ("none allows → DENY", §8.2 step 7).
    /// `Some(empty)` denies (fail closed).
    pub session: Option<Vec<NamedPolicy<'a>>>,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Allowed.
    Allow,
    /// A `Deny` statement applied.
    ExplicitDeny,
    /// No sufficient `Allow` (the default deny).
    ImplicitDeny,
}

/// Why a request was denied: which policy type denied or lacked an allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// A `Deny` statement applied in a policy of this kind (§8.2 step 1).
    ExplicitDeny {
        /// The kind of the first policy whose deny applied.
        kind: PolicyKind,
    },
    /// No identity-based policy allows (§8.2 step 5, §8.4 account A side).
    NoIdentityAllow,
    /// The resource policy does not allow: cross-account (§8.4), trust
    /// policies (§8.6), or callers without identity policies.
    NoResourceAllow,
    /// The permissions boundary does not allow (§8.2 step 6).
    NoBoundaryAllow,
    /// No session policy allows, or a federated-user session has none (§8.2 step 7, §8.5).
    NoSessionAllow,
}

/// A statement that took part in a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    /// [`NamedPolicy::id`] of its policy.
    pub policy_id: String,
    /// [`NamedPolicy::kind`] of its policy.
    pub policy_kind: PolicyKind,
    /// Index of the statement in the policy (0-based).
    pub statement_index: usize,
    /// Its `Sid`, if any.
    pub sid: Option<String>,
    /// Its effect.
    pub effect: Effect,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allow, explicit deny or implicit deny.
    pub outcome: Outcome,
    /// For denies: why. `None` when allowed.
    pub reason: Option<DenyReason>,
    /// The action evaluated (for trust evaluation: the one that decided).
    pub action: String,
    /// How the resource policy's applicable `Allow` named the caller (the
    /// strongest form), `None` if it did not allow.
    pub resource_grant: Option<PrincipalGrant>,
    /// Explicit deny: every applicable `Deny`. Otherwise the applicable
    /// `Allow` statements that decided (direct resource grant: only those).
    pub matched: Vec<MatchedStatement>,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }

    /// The reason AWS appends to an `AccessDenied` message (aws-query-protocol.md
    /// §4.3 \[obs]): "with an explicit deny in an identity-based policy",
    /// "because no identity-based policy allows the sts:AssumeRole action", …
    /// Empty when allowed.
    pub fn reason_phrase(&self) -> String {
        let action = &self.action;
        match self.reason {
            None => String::new(),
            Some(DenyReason::ExplicitDeny { kind }) => {
                let place = match kind {
                    PolicyKind::Identity => "an identity-based policy",
                    PolicyKind::Resource | PolicyKind::Trust => "a resource-based policy",
                    PolicyKind::Session => "a session policy",
                    PolicyKind::Boundary => "a permissions boundary",
                };
                format!("with an explicit deny in {place}")
            }
            Some(DenyReason::NoIdentityAllow) => {
                format!("because no identity-based policy allows the {action} action")
            }
            Some(DenyReason::NoResourceAllow) => {
                format!("because no resource-based policy allows the {action} action")
            }
            Some(DenyReason::NoBoundaryAllow) => {
                format!("because no permissions boundary allows the {action} action")
            }
            Some(DenyReason::NoSessionAllow) => {
                format!("because no session policy allows the {action} action")
            }
        }
    }
}

fn stronger(
    best: Option<PrincipalGrant>,
    candidate: Option<PrincipalGrant>,
) -> Option<PrincipalGrant> {
    match (best, candidate) {
        (Some(b), Some(c)) if c.strength() > b.strength() => Some(c),
        (None, c) => c,
        (b, _) => b,
    }
}

/// An applicable statement found while scanning.
#[derive(Clone, Copy)]
struct Hit<'s> {
    policy: &'s NamedPolicy<'s>,
    index: usize,
    effect: Effect,
}

/// What one policy type says about the request.
#[derive(Default)]
struct Verdict<'s> {
    allows: Vec<Hit<'s>>,
    denies: Vec<Hit<'s>>,
    /// Strongest principal grant among applicable allows (resource policies).
    grant: Option<PrincipalGrant>,
}

impl<'s> Verdict<'s> {
    fn allows(&self) -> bool {
        !self.allows.is_empty()
    }

    fn scan(&mut self, named: &'s NamedPolicy<'s>, ctx: &RequestContext, action: &str) {
        for (index, statement) in named.policy.statements().iter().enumerate() {
            let Applies::Yes(grant) = statement.applies(ctx, action) else {
                continue;
            };
            let hit = Hit {
                policy: named,
                index,
                effect: statement.effect,
            };
            match statement.effect {
                Effect::Deny => self.denies.push(hit),
                Effect::Allow => {
                    self.allows.push(hit);
                    self.grant = stronger(self.grant, grant);
                }
            }
        }
    }

    fn of(policies: &'s [NamedPolicy<'s>], ctx: &RequestContext, action: &str) -> Self {
        let mut verdict = Verdict::default();
        for named in policies {
            verdict.scan(named, ctx, action);
        }
        verdict
    }
}

fn matched(hits: &[&[Hit<'_>]]) -> Vec<MatchedStatement> {
    hits.iter()
        .flat_map(|h| h.iter())
        .map(|hit| MatchedStatement {
            policy_id: hit.policy.id.to_owned(),
            policy_kind: hit.policy.kind,
            statement_index: hit.index,
            sid: hit
                .policy
                .policy
                .statements()
                .get(hit.index)
                .and_then(|s| s.sid.clone()),
            effect: hit.effect,
        })
        .collect()
}

/// Evaluate `ctx` (its principal, action and resource) against `set`
/// (§8.2 single account, §8.3 resource grants, §8.4 cross-account, §8.5
/// sessions and boundaries). A resource policy of kind [`PolicyKind::Trust`]
/// must allow the caller itself (§8.6).
pub fn evaluate(ctx: &RequestContext, set: &PolicySet<'_>) -> Decision {
    decide(ctx, ctx.action(), ctx.action_lowercase(), set)
}

/// The decision algorithm, in the order of policy-evaluation.md §8.2.
fn decide(
    ctx: &RequestContext,
    action: &str,
    action_lowercase: &str,
    set: &PolicySet<'_>,
) -> Decision {
    let principal = ctx.principal();
    let identity = Verdict::of(&set.identity, ctx, action_lowercase);
    let resource = Verdict::of(set.resource.as_slice(), ctx, action_lowercase);
    let boundary = Verdict::of(set.boundary.as_slice(), ctx, action_lowercase);
    let session = Verdict::of(
        set.session.as_deref().unwrap_or_default(),
        ctx,
        action_lowercase,
    );
    let all_allows = [
        identity.allows.as_slice(),
        resource.allows.as_slice(),
        boundary.allows.as_slice(),
        session.allows.as_slice(),
    ];
    let resource_grant = resource.grant;
    let decision =
        |outcome: Outcome, reason: Option<DenyReason>, matched: Vec<MatchedStatement>| Decision {
            outcome,
            reason,
            action: action.to_owned(),
            resource_grant,
            matched,
        };
    let deny =
        |reason: DenyReason| decision(Outcome::ImplicitDeny, Some(reason), matched(&all_allows));
    let allow = |hits: &[&[Hit<'_>]]| decision(Outcome::Allow, None, matched(hits));

    // 1. An applicable Deny in any policy type wins.
    let denies = [
        identity.denies.as_slice(),
        resource.denies.as_slice(),
        boundary.denies.as_slice(),
        session.denies.as_slice(),
    ];
    if let Some(first) = denies.iter().flat_map(|d| d.iter()).next() {
        let kind = first.policy.kind;
        return decision(
            Outcome::ExplicitDeny,
            Some(DenyReason::ExplicitDeny { kind }),
            matched(&denies),
        );
    }
    // 2, 3. SCPs and RCPs: not modelled.

    // Callers without identity policies (anonymous, web identity, service
    // principals): only the resource (trust) policy can allow.
    if !principal.is_iam_identity() {
        return if resource.allows() {
            allow(&[resource.allows.as_slice()])
        } else {
            deny(DenyReason::NoResourceAllow)
        };
    }
    let same_account = set
        .resource_account
        .is_none_or(|account| account == principal.account_id);
    let resource_required =
        set.resource.is_some_and(|r| r.kind == PolicyKind::Trust) || !same_account;
    // §8.6: a trust policy must allow the caller; §8.4: cross-account, the
    // resource account must allow.
    if resource_required && !resource.allows() {
        return deny(DenyReason::NoResourceAllow);
    }
    // 4. Same account: a resource-policy Allow naming the caller directly
    //    (user, session ARN, "*", provider, service) allows on its own (§8.3).
    if same_account && resource_grant.is_some_and(PrincipalGrant::is_direct) {
        return allow(&[resource.allows.as_slice()]);
    }
    // 5. Identity side: an identity-policy Allow, or (same account) a
    //    resource grant to the role ARN or the session's user (§8.3). The
    //    root user is allowed in its own account; cross-account its side is
    //    not restricted by identity policies either.
    let identity_allows = identity.allows()
        || principal.kind == PrincipalKind::Root
        || (same_account && resource_grant.is_some_and(PrincipalGrant::replaces_identity_allow));
    if !identity_allows {
        return deny(DenyReason::NoIdentityAllow);
    }
    // 6. The permissions boundary, if any, must allow.
    if set.boundary.is_some() && !boundary.allows() {
        return deny(DenyReason::NoBoundaryAllow);
    }
    // 7. Session principals: session policies, if any, must allow; a
    //    federated-user session without session policies has no
    //    identity-based permissions (§8.5).
    match (&set.session, principal.kind) {
        (Some(_), _) if !session.allows() => deny(DenyReason::NoSessionAllow),
        (None, PrincipalKind::FederatedUser) => deny(DenyReason::NoSessionAllow),
        _ => allow(&all_allows),
    }
}

/// The caller's own policies, for trust evaluation.
#[derive(Debug, Clone, Default)]
pub struct CallerPolicies<'a> {
    /// The caller's identity-based policies.
    pub identity: Vec<NamedPolicy<'a>>,
    /// The caller's permissions boundary.
    pub boundary: Option<NamedPolicy<'a>>,
    /// The caller's session policies (see [`PolicySet::session`]).
    pub session: Option<Vec<NamedPolicy<'a>>>,
}

impl CallerPolicies<'_> {
    /// Whether any of these policies reads a condition key
    /// ([`Policy::reads_context`]).
    pub fn reads_context(&self) -> bool {
        self.identity
            .iter()
            .chain(&self.boundary)
            .chain(self.session.iter().flatten())
            .any(|named| named.policy.reads_context())
    }
}

impl PolicySet<'_> {
    /// Whether any policy of the set reads a condition key
    /// ([`Policy::reads_context`]): when none does, the request context
    /// needs only its principal, action and resource.
    pub fn reads_context(&self) -> bool {
        self.identity
            .iter()
            .chain(&self.resource)
            .chain(&self.boundary)
            .chain(self.session.iter().flatten())
            .any(|named| named.policy.reads_context())
    }
}

/// Authorize an AssumeRole-family call on a role (§8.6; sts-api.md §9.1 step 4).
///
/// `ctx` carries the caller, the role ARN as resource and the call's action
/// (`sts:AssumeRole`, `sts:AssumeRoleWithSAML`, `sts:AssumeRoleWithWebIdentity`);
/// `additional_actions` are the permission-only actions the call also needs
/// (`sts:TagSession` when tags or transitive keys are passed,
/// `sts:SetSourceIdentity` when a source identity is passed). Each action is
/// evaluated in turn with the trust policy as a mandatory resource policy:
///
/// - the trust policy must allow the caller for that action;
/// - same-account callers it names directly (user ARN, session ARN, `"*"`)
///   need nothing else; named by role ARN, the caller's boundary and session
///   policies must allow; named only via the account, or cross-account, the
///   caller's identity policies must allow too.
///
/// Returns the first denying decision (its `action` says which), otherwise
/// the decision for the primary action; [`Decision::resource_grant`] tells
/// how the trust policy named the caller.
pub fn evaluate_trust(
    ctx: &RequestContext,
    trust: NamedPolicy<'_>,
    role_account: &str,
    caller: &CallerPolicies<'_>,
    additional_actions: &[&str],
) -> Decision {
    let trust = NamedPolicy {
        kind: PolicyKind::Trust,
        ..trust
    };
    let set = PolicySet {
        identity: caller.identity.clone(),
        resource: Some(trust),
        resource_account: Some(role_account),
        boundary: caller.boundary,
        session: caller.session.clone(),
    };
    let primary = decide(ctx, ctx.action(), ctx.action_lowercase(), &set);
    if !primary.is_allowed() {
        return primary;
    }
    for action in additional_actions {
        let decision = decide(ctx, action, &action.to_ascii_lowercase(), &set);
        if !decision.is_allowed() {
            return decision;
        }
    }
    primary
}
