//! Authorization: which policies apply to a caller, the request context
//! (policy-evaluation.md 10), and the one place a denial becomes an AWS
//! `AccessDenied` with its sealed explanation for DecodeAuthorizationMessage.

use std::sync::{Arc, LazyLock};

use mayfly_policy::{
    CallerPolicies, Decision, NamedPolicy, Policy, PolicyKind, PolicySet, PrincipalInfo,
    RequestContext,
};
use mayfly_store::{ManagedPolicy, Role, Tag, User};
use mayfly_token::{SessionClaims, SessionPrincipal, SessionTag};
use mayfly_wire::AwsError;

use crate::ActionContext;
use crate::arn::{self, PARTITION};
use crate::auth::{Caller, CallerKind};
use crate::session::{parse_session_policy, same_key};
use crate::view::View;

/// A policy document the caller's permissions are made of, with the name
/// explanations use.
struct OwnedPolicy {
    id: String,
    policy: Arc<Policy>,
    kind: PolicyKind,
}

impl OwnedPolicy {
    fn named(&self) -> NamedPolicy<'_> {
        NamedPolicy {
            id: &self.id,
            policy: &self.policy,
            kind: self.kind,
        }
    }
}

/// The caller's identity policies, boundary and session policies.
#[derive(Default)]
struct CallerPolicyDocs {
    identity: Vec<OwnedPolicy>,
    boundary: Option<OwnedPolicy>,
    session: Option<Vec<OwnedPolicy>>,
}

impl CallerPolicyDocs {
    fn caller_policies(&self) -> CallerPolicies<'_> {
        CallerPolicies {
            identity: self.identity.iter().map(OwnedPolicy::named).collect(),
            boundary: self.boundary.as_ref().map(OwnedPolicy::named),
            session: self
                .session
                .as_ref()
                .map(|s| s.iter().map(OwnedPolicy::named).collect()),
        }
    }
}

/// Root's own permissions, for root's GetFederationToken sessions (whose
/// permissions are root's ∩ the session policies).
static ALLOW_ALL: LazyLock<Option<Arc<Policy>>> = LazyLock::new(|| {
    Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyKind::Identity,
    )
    .ok()
    .map(Arc::new)
});

fn managed(view: &View, arn: &str, kind: PolicyKind) -> Option<OwnedPolicy> {
    let policy: &ManagedPolicy = view.snapshot.policy(arn)?;
    let document = policy.default_document()?;
    Some(OwnedPolicy {
        id: arn.to_owned(),
        policy: view.identity_policy(document)?,
        kind,
    })
}

fn entity_policies(
    view: &View,
    owner: &str,
    inline: &std::collections::BTreeMap<String, String>,
    attached: &[String],
    out: &mut Vec<OwnedPolicy>,
) {
    for (name, document) in inline {
        if let Some(policy) = view.identity_policy(document) {
            out.push(OwnedPolicy {
                id: format!("inline:{owner}/{name}"),
                policy,
                kind: PolicyKind::Identity,
            });
        }
    }
    for arn in attached {
        out.extend(managed(view, arn, PolicyKind::Identity));
    }
}

fn user_policies(view: &View, account_id: &str, user: &User, docs: &mut CallerPolicyDocs) {
    entity_policies(
        view,
        &format!("user/{}", user.name),
        &user.inline_policies,
        &user.attached_policies,
        &mut docs.identity,
    );
    for group in view.snapshot.groups_for_user(account_id, &user.name) {
        entity_policies(
            view,
            &format!("group/{}", group.name),
            &group.inline_policies,
            &group.attached_policies,
            &mut docs.identity,
        );
    }
    docs.boundary = user
        .permissions_boundary
        .as_deref()
        .and_then(|arn| managed(view, arn, PolicyKind::Boundary));
}

fn session_policies(view: &View, claims: &SessionClaims) -> Option<Vec<OwnedPolicy>> {
    if claims.session_policy.is_none() && claims.policy_arns.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    if let Some(text) = &claims.session_policy {
        // Validated at issue; a policy that no longer parses grants nothing (fail closed).
        if let Some(policy) = parse_session_policy(text) {
            out.push(OwnedPolicy {
                id: "session:inline".to_owned(),
                policy,
                kind: PolicyKind::Session,
            });
        }
    }
    for arn in &claims.policy_arns {
        out.extend(managed(view, arn, PolicyKind::Session));
    }
    Some(out)
}

/// The role a role session was issued for, as the view has it now: `None`
/// once it is deleted, also when a role of the same name was created since
/// (its unique id differs), so a session never gains a re-created role's
/// policies or tags (AWS ties sessions to the role's unique id).
fn session_role<'v>(view: &'v View, claims: &SessionClaims) -> Option<&'v Role> {
    let SessionPrincipal::AssumedRole {
        role_arn, role_id, ..
    } = &claims.principal
    else {
        return None;
    };
    view.snapshot
        .role_by_arn(role_arn)
        .filter(|role| role.role_id == *role_id)
}

/// The IAM user behind a GetSessionToken or GetFederationToken session, as
/// the view has it now: `None` once deleted, also when a user of the same
/// name was created since (as [`session_role`]), and for the root.
fn session_user<'v>(view: &'v View, claims: &SessionClaims) -> Option<&'v User> {
    let (user_arn, user_id) = match &claims.principal {
        SessionPrincipal::User {
            user_arn, user_id, ..
        }
        | SessionPrincipal::FederatedUser {
            user_arn, user_id, ..
        } => (user_arn, user_id),
        SessionPrincipal::AssumedRole { .. } | SessionPrincipal::Root => return None,
    };
    view.snapshot
        .user_by_arn(user_arn)
        .filter(|user| user.user_id == *user_id)
}

fn caller_policy_docs(view: &View, caller: &Caller) -> CallerPolicyDocs {
    let mut docs = CallerPolicyDocs::default();
    match &caller.kind {
        CallerKind::Root => {}
        CallerKind::User { user_name } => {
            if let Some(user) = view.snapshot.user(&caller.account_id, user_name) {
                user_policies(view, &caller.account_id, user, &mut docs);
            }
        }
        CallerKind::Session(claims) => match &claims.principal {
            SessionPrincipal::Root => {}
            SessionPrincipal::User { .. } => {
                if let Some(user) = session_user(view, claims) {
                    user_policies(view, &caller.account_id, user, &mut docs);
                }
            }
            SessionPrincipal::AssumedRole { .. } => {
                if let Some(role) = session_role(view, claims) {
                    entity_policies(
                        view,
                        &format!("role/{}", role.name),
                        &role.inline_policies,
                        &role.attached_policies,
                        &mut docs.identity,
                    );
                    docs.boundary = role
                        .permissions_boundary
                        .as_deref()
                        .and_then(|arn| managed(view, arn, PolicyKind::Boundary));
                }
                docs.session = session_policies(view, claims);
            }
            SessionPrincipal::FederatedUser { user_arn, .. } => {
                if *user_arn == arn::root_arn(&claims.account_id) {
                    if let Some(all) = ALLOW_ALL.as_ref() {
                        docs.identity.push(OwnedPolicy {
                            id: "root".to_owned(),
                            policy: Arc::clone(all),
                            kind: PolicyKind::Identity,
                        });
                    }
                } else if let Some(user) = session_user(view, claims) {
                    user_policies(view, &caller.account_id, user, &mut docs);
                }
                // No session policy ⇒ no identity permissions (8.5): Some(empty) denies.
                docs.session = Some(session_policies(view, claims).unwrap_or_default());
            }
        },
    }
    docs
}

/// The policy engine's view of the caller.
fn principal_info(caller: &Caller) -> PrincipalInfo {
    match &caller.kind {
        CallerKind::Root => PrincipalInfo::root(PARTITION, &caller.account_id),
        CallerKind::User { .. } => {
            PrincipalInfo::user(&caller.arn, &caller.account_id, &caller.user_id)
        }
        CallerKind::Session(claims) => match &claims.principal {
            SessionPrincipal::Root => PrincipalInfo::root(PARTITION, &caller.account_id),
            SessionPrincipal::User {
                user_arn, user_id, ..
            } => PrincipalInfo::user(user_arn, &caller.account_id, user_id),
            SessionPrincipal::AssumedRole {
                role_arn, role_id, ..
            } => PrincipalInfo::assumed_role(&caller.arn, role_arn, &caller.account_id, role_id),
            SessionPrincipal::FederatedUser {
                user_arn, user_id, ..
            } => PrincipalInfo::federated_user(&caller.arn, user_arn, &caller.account_id, user_id),
        },
    }
}

/// The request context under construction (a thin wrapper so that every
/// key goes through one place).
pub(crate) struct ContextBuilder {
    context: RequestContext,
}

impl ContextBuilder {
    fn new(principal: PrincipalInfo, action: &str, resource: &str) -> Self {
        Self {
            context: RequestContext::new(principal, action, resource),
        }
    }

    /// Set a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.context.set(key, value);
    }

    /// Set a multi-valued key.
    pub fn set_multi(&mut self, key: &str, values: Vec<String>) {
        self.context.set_multi(key, values);
    }
}

/// The value of request header `name` (lowercase), if present and UTF-8.
fn header(ctx: &ActionContext<'_>, name: &str) -> Option<String> {
    ctx.request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| std::str::from_utf8(value).ok())
        .map(str::to_owned)
}

/// The keys every request carries whoever sent it: where from, over what,
/// and when (policy-evaluation.md 10.1). Also for unsigned and anonymous
/// requests.
fn request_context(
    ctx: &ActionContext<'_>,
    principal: PrincipalInfo,
    action: &str,
    resource: &str,
) -> ContextBuilder {
    let mut rc = ContextBuilder::new(principal, action, resource);
    rc.set("aws:SourceIp", ctx.request.source_ip.to_string());
    rc.set(
        "aws:SecureTransport",
        ctx.request.secure_transport.to_string(),
    );
    rc.set("aws:CurrentTime", mayfly_wire::iso8601(ctx.now));
    rc.set("aws:EpochTime", ctx.core.clock.unix_now().to_string());
    if let Some(agent) = header(ctx, "user-agent") {
        rc.set("aws:UserAgent", agent);
    }
    rc
}

/// The global keys every request carries (policy-evaluation.md 10.1).
fn global_context(
    ctx: &ActionContext<'_>,
    caller: &Caller,
    action: &str,
    resource: &str,
) -> ContextBuilder {
    let mut rc = request_context(ctx, principal_info(caller), action, resource);
    let now = ctx.core.clock.unix_now();
    rc.set("aws:PrincipalArn", caller.principal_arn());
    rc.set("aws:PrincipalAccount", caller.account_id.clone());
    rc.set("aws:PrincipalType", caller.principal_type());
    rc.set("aws:userid", caller.user_id.clone());
    if let Some(name) = caller.user_name() {
        rc.set("aws:username", name.to_owned());
    }
    rc.set("aws:RequestedRegion", caller.region.clone());
    rc.set("aws:ViaAWSService", "false");
    rc.set("aws:PrincipalIsAWSService", "false");
    let view = &ctx.view;
    let mut tags: Vec<(String, String)> = Vec::new();
    let add_tags = |entity_tags: &[Tag], tags: &mut Vec<(String, String)>| {
        for t in entity_tags {
            if !tags.iter().any(|(k, _)| same_key(k, &t.key)) {
                tags.push((t.key.clone(), t.value.clone()));
            }
        }
    };
    if let Some(claims) = caller.claims() {
        rc.set(
            "aws:TokenIssueTime",
            mayfly_wire::iso8601(crate::clock::from_unix(claims.issued_at)),
        );
        match claims.mfa_authenticated_at {
            Some(at) => {
                rc.set("aws:MultiFactorAuthPresent", "true");
                rc.set("aws:MultiFactorAuthAge", now.saturating_sub(at).to_string());
            }
            None => rc.set("aws:MultiFactorAuthPresent", "false"),
        }
        if let Some(si) = &claims.source_identity {
            rc.set("aws:SourceIdentity", si.clone());
        }
        if let Some(provider) = &claims.federated_provider {
            rc.set("aws:FederatedProvider", provider.clone());
        }
        // INVARIANT: only the core's issuers fill `context_keys`, with
        // service-prefixed keys (`credentials-iot:*`), never `aws:` ones.
        for (key, value) in &claims.context_keys {
            rc.set(key, value.clone());
        }
        // Session tags first: they override the entity's own tags (sts-api.md 6).
        for t in &claims.tags {
            tags.push((t.key.clone(), t.value.clone()));
        }
        if let Some(role) = session_role(view, claims) {
            add_tags(&role.tags, &mut tags);
        } else if let Some(user) = session_user(view, claims) {
            add_tags(&user.tags, &mut tags);
        }
    } else if let CallerKind::User { user_name } = &caller.kind
        && let Some(user) = view.snapshot.user(&caller.account_id, user_name)
    {
        add_tags(&user.tags, &mut tags);
    }
    for (key, value) in tags {
        rc.set(&format!("aws:PrincipalTag/{key}"), value);
    }
    rc
}

/// `aws:RequestTag/*` and `aws:TagKeys` for tags in the request.
pub(crate) fn add_request_tags(rc: &mut ContextBuilder, tags: &[SessionTag]) {
    for t in tags {
        rc.set(&format!("aws:RequestTag/{}", t.key), t.value.clone());
    }
    if !tags.is_empty() {
        rc.set_multi("aws:TagKeys", tags.iter().map(|t| t.key.clone()).collect());
    }
}

/// Authorize `action` on `resource` (in the caller's account) against the
/// caller's identity policies, boundary and session policies.
pub(crate) fn authorize_caller(
    ctx: &ActionContext<'_>,
    caller: &Caller,
    action: &str,
    resource: &str,
    extra: impl Fn(&mut ContextBuilder),
) -> Result<(), AwsError> {
    let full_context = || {
        let mut rc = global_context(ctx, caller, action, resource);
        extra(&mut rc);
        rc
    };
    let docs = caller_policy_docs(&ctx.view, caller);
    let policies = docs.caller_policies();
    let set = PolicySet {
        identity: policies.identity,
        resource: None,
        resource_account: None,
        boundary: policies.boundary,
        session: policies.session,
    };
    let rc = if set.reads_context() {
        full_context()
    } else {
        ContextBuilder::new(principal_info(caller), action, resource)
    };
    let decision = mayfly_policy::evaluate(&rc.context, &set);
    if decision.is_allowed() {
        return Ok(());
    }
    // The explanation lists every key, whether or not a policy read it.
    Err(access_denied(
        ctx,
        caller,
        resource,
        &decision,
        &full_context(),
    ))
}

/// What an AssumeRole request asks for, for its authorization.
pub(crate) struct AssumeRequest<'a> {
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub external_id: Option<&'a str>,
    pub source_identity: Option<&'a str>,
    /// Tags given in this request (not inherited ones).
    pub request_tags: &'a [SessionTag],
    /// Keys of the transitive tags of the new session.
    pub transitive_keys: Vec<&'a str>,
    /// Whether `Tags` or `TransitiveTagKeys` were passed.
    pub tags_given: bool,
    pub mfa_authenticated_at: Option<u64>,
}

/// Authorize AssumeRole (sts-api.md 9.1 steps 2-4, policy-evaluation.md
/// 8.6): the role must exist and its trust policy allow the caller; the
/// caller's identity side must allow unless the trust names it directly in
/// the same account. Returns the role, borrowed from `view` (the view of
/// `ctx`, held by the caller so that `ctx` stays free for minting).
pub(crate) fn authorize_assume_role<'v>(
    ctx: &ActionContext<'_>,
    view: &'v View,
    caller: &Caller,
    request: &AssumeRequest<'_>,
) -> Result<&'v Role, AwsError> {
    let action = "sts:AssumeRole";
    let denied = || {
        AwsError::access_denied(format!(
            "User: {} is not authorized to perform: {action} on resource: {}",
            caller.arn,
            crate::truncate(request.role_arn, 2048)
        ))
    };
    // A missing role is AccessDenied, never NoSuchEntity (no enumeration).
    let role = view
        .snapshot
        .role_by_arn(request.role_arn)
        .ok_or_else(denied)?;
    let trust = view.trust_policy(role).ok_or_else(denied)?;

    let mut additional = Vec::new();
    if request.tags_given {
        additional.push("sts:TagSession");
    }
    if request.source_identity.is_some() {
        additional.push("sts:SetSourceIdentity");
    }
    let docs = caller_policy_docs(view, caller);
    let policies = docs.caller_policies();
    let rc = if trust.reads_context() || policies.reads_context() {
        assume_role_context(ctx, caller, request, role)
    } else {
        ContextBuilder::new(principal_info(caller), action, request.role_arn)
    };
    let decision = evaluate_role_trust(&rc, role, &trust, &policies, &additional);
    if decision.is_allowed() {
        return Ok(role);
    }
    if decision.action == action {
        // A role that does not trust the caller must read exactly like a
        // missing one, or the message enumerates roles: no reason, no sealed
        // explanation. The reason goes to the log for the operator.
        tracing::debug!(role = %request.role_arn, reason = %decision.reason_phrase(), "AssumeRole refused");
        return Err(denied());
    }
    // Trusted for AssumeRole but not for sts:TagSession/SetSourceIdentity:
    // the caller may learn why, with every key of the request.
    let rc = assume_role_context(ctx, caller, request, role);
    Err(access_denied(ctx, caller, request.role_arn, &decision, &rc))
}

/// The request context of an AssumeRole (policy-evaluation.md 8.6): the
/// global keys, the `sts:` request keys, request tags and the role's tags
/// (inherited transitive session tags first) as `aws:ResourceTag/*`.
fn assume_role_context(
    ctx: &ActionContext<'_>,
    caller: &Caller,
    request: &AssumeRequest<'_>,
    role: &Role,
) -> ContextBuilder {
    let mut rc = global_context(ctx, caller, "sts:AssumeRole", request.role_arn);
    rc.set("sts:RoleSessionName", request.session_name.to_owned());
    if let Some(id) = request.external_id {
        rc.set("sts:ExternalId", id.to_owned());
    }
    if let Some(si) = request.source_identity {
        rc.set("sts:SourceIdentity", si.to_owned());
    }
    if let Some(at) = request.mfa_authenticated_at {
        rc.set("aws:MultiFactorAuthPresent", "true");
        rc.set(
            "aws:MultiFactorAuthAge",
            ctx.core.clock.unix_now().saturating_sub(at).to_string(),
        );
    }
    add_request_tags(&mut rc, request.request_tags);
    if request.tags_given {
        rc.set_multi(
            "sts:TransitiveTagKeys",
            request
                .transitive_keys
                .iter()
                .map(|k| (*k).to_owned())
                .collect(),
        );
    }
    // The role's tags, with inherited transitive session tags substituted first (8.6).
    let mut resource_tags: Vec<(String, String)> = caller
        .claims()
        .map(|c| {
            c.tags
                .iter()
                .filter(|t| t.transitive)
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    for t in &role.tags {
        if !resource_tags.iter().any(|(k, _)| same_key(k, &t.key)) {
            resource_tags.push((t.key.clone(), t.value.clone()));
        }
    }
    for (k, v) in resource_tags {
        rc.set(&format!("aws:ResourceTag/{k}"), v);
    }
    rc
}

/// What an AssumeRoleWithWebIdentity or AssumeRoleWithSAML request asks
/// for, for its authorization: the caller is known only by its identity
/// provider (`Principal: {"Federated": provider}`).
pub(crate) struct FederatedAssumeRequest<'a> {
    /// `sts:AssumeRoleWithWebIdentity` or `sts:AssumeRoleWithSAML`.
    pub action: &'static str,
    pub role_arn: &'a str,
    /// The provider ARN (`arn:aws:iam::ACCT:oidc-provider/…`, `…:saml-provider/…`).
    pub provider_arn: &'a str,
    pub session_name: &'a str,
    /// The provider's condition keys (`{provider}:sub`, `saml:aud`, …), each
    /// with one value or several for multi-valued keys.
    pub provider_keys: Vec<(String, Vec<String>)>,
    /// The source identity the token or assertion sets.
    pub source_identity: Option<&'a str>,
    /// Session tags the token or assertion carries.
    pub request_tags: &'a [SessionTag],
    /// Whether the token or assertion carried tags or transitive keys.
    pub tags_given: bool,
}

/// Authorize a federated role assumption (policy-evaluation.md 8.6, sts-api.md
/// 9.2/9.3): the role must exist and its trust policy allow the provider for
/// `request.action`, plus `sts:TagSession` when tags are carried and
/// `sts:SetSourceIdentity` when a source identity is. Returns the role. A
/// missing or untrusting role reads the same, so roles are not enumerable.
pub(crate) fn authorize_federated(
    ctx: &ActionContext<'_>,
    request: &FederatedAssumeRequest<'_>,
) -> Result<Role, AwsError> {
    let action = request.action;
    let denied = || AwsError::access_denied(format!("Not authorized to perform {action}"));
    let view = &ctx.view;
    let role = view
        .snapshot
        .role_by_arn(request.role_arn)
        .ok_or_else(denied)?;
    let trust = view.trust_policy(role).ok_or_else(denied)?;
    let mut rc = request_context(
        ctx,
        PrincipalInfo::web_identity(request.provider_arn),
        action,
        request.role_arn,
    );
    rc.set("aws:FederatedProvider", request.provider_arn.to_owned());
    rc.set("sts:RoleSessionName", request.session_name.to_owned());
    if let Some(si) = request.source_identity {
        rc.set("sts:SourceIdentity", si.to_owned());
    }
    for (key, values) in &request.provider_keys {
        rc.set_multi(key, values.clone());
    }
    add_request_tags(&mut rc, request.request_tags);
    if request.tags_given {
        rc.set_multi(
            "sts:TransitiveTagKeys",
            request
                .request_tags
                .iter()
                .filter(|t| t.transitive)
                .map(|t| t.key.clone())
                .collect(),
        );
    }
    for t in &role.tags {
        rc.set(&format!("aws:ResourceTag/{}", t.key), t.value.clone());
    }
    let mut additional = Vec::new();
    if request.tags_given {
        additional.push("sts:TagSession");
    }
    if request.source_identity.is_some() {
        additional.push("sts:SetSourceIdentity");
    }
    let decision = evaluate_role_trust(&rc, role, &trust, &CallerPolicies::default(), &additional);
    if decision.is_allowed() {
        return Ok(role.clone());
    }
    tracing::info!(
        role = %request.role_arn,
        provider = %request.provider_arn,
        denied_action = %decision.action,
        reason = %decision.reason_phrase(),
        "federated role assumption refused by the trust policy"
    );
    if decision.action == action {
        return Err(denied());
    }
    Err(AwsError::access_denied(format!(
        "Not authorized to perform {}: the role's trust policy must also allow it for this provider",
        decision.action
    )))
}

/// Authorize a role assumption by an AWS service principal on behalf of a
/// client the service authenticated itself (the IoT credentials provider,
/// workload-credentials.md 7.1): the role's trust policy alone must allow
/// `service` to `sts:AssumeRole` (policy-evaluation.md 8.6; no identity
/// side). `extra` adds the service's own keys. Returns the refusing
/// decision for the caller to log (`None`: the trust policy does not
/// parse); its message must not tell a missing role from an untrusting one.
pub(crate) fn authorize_service_assume(
    ctx: &ActionContext<'_>,
    service: &str,
    role: &Role,
    session_name: &str,
    extra: impl FnOnce(&mut ContextBuilder),
) -> Result<(), Option<Decision>> {
    authorize_service_assume_with(ctx, service, role, session_name, &[], extra)
}

/// [`authorize_service_assume`] for a session that also needs the
/// `additional` actions of the trust policy: `sts:TagSession` for session
/// tags, `sts:SetSourceIdentity` for a source identity (Roles Anywhere,
/// roles-anywhere.md 3.3 step 9).
pub(crate) fn authorize_service_assume_with(
    ctx: &ActionContext<'_>,
    service: &str,
    role: &Role,
    session_name: &str,
    additional: &[&str],
    extra: impl FnOnce(&mut ContextBuilder),
) -> Result<(), Option<Decision>> {
    let action = "sts:AssumeRole";
    let role_arn = role.arn();
    let trust = ctx.view.trust_policy(role).ok_or(None)?;
    let mut rc = request_context(ctx, PrincipalInfo::service(service), action, &role_arn);
    rc.set("aws:PrincipalIsAWSService", "true");
    rc.set("sts:RoleSessionName", session_name.to_owned());
    for t in &role.tags {
        rc.set(&format!("aws:ResourceTag/{}", t.key), t.value.clone());
    }
    extra(&mut rc);
    let decision = evaluate_role_trust(&rc, role, &trust, &CallerPolicies::default(), additional);
    if decision.is_allowed() {
        Ok(())
    } else {
        Err(Some(decision))
    }
}

/// Evaluate `role`'s trust policy `trust` for the request context `rc`,
/// with the caller's own policies for the identity side (policy-evaluation.md
/// 8.6) and the `additional` actions the request also needs (`sts:TagSession`,
/// `sts:SetSourceIdentity`).
fn evaluate_role_trust(
    rc: &ContextBuilder,
    role: &Role,
    trust: &Policy,
    caller: &CallerPolicies<'_>,
    additional: &[&str],
) -> Decision {
    let trust_id = format!("trust:role/{}", role.name);
    mayfly_policy::evaluate_trust(
        &rc.context,
        NamedPolicy {
            id: &trust_id,
            policy: trust,
            kind: PolicyKind::Trust,
        },
        &role.account_id,
        caller,
        additional,
    )
}

/// The AccessDenied error for a decision: AWS's sentence with the reason,
/// and a sealed explanation DecodeAuthorizationMessage opens.
fn access_denied(
    ctx: &ActionContext<'_>,
    caller: &Caller,
    resource: &str,
    decision: &Decision,
    rc: &ContextBuilder,
) -> AwsError {
    let action = decision.action.as_str();
    let mut message = format!(
        "User: {} is not authorized to perform: {action} on resource: {} {}",
        caller.arn,
        crate::truncate(resource, 2048),
        decision.reason_phrase()
    );
    let explanation = serde_json::json!({
        "allowed": false,
        "explicitDeny": decision.outcome == mayfly_policy::Outcome::ExplicitDeny,
        "matchedStatements": {
            "items": decision.matched.iter().map(|m| serde_json::json!({
                "statementId": m.sid.clone().unwrap_or_default(),
                "effect": format!("{:?}", m.effect),
                "policy": m.policy_id,
                "statementIndex": m.statement_index,
            })).collect::<Vec<_>>()
        },
        "failures": { "items": [decision.reason_phrase()] },
        "context": {
            "principal": {
                "id": caller.user_id,
                "name": caller.user_name(),
                "arn": caller.arn,
            },
            "action": action,
            "resource": resource,
            "conditions": {
                "items": sorted_keys(rc).into_iter().map(|(k, v)| serde_json::json!({
                    "key": k,
                    "values": { "items": v.iter().map(|value| serde_json::json!({"value": value})).collect::<Vec<_>>() }
                })).collect::<Vec<_>>()
            }
        }
    });
    let expires = ctx
        .core
        .clock
        .unix_now()
        .saturating_add(ctx.core.config.authorization_message_ttl.as_secs());
    match ctx
        .view
        .key_ring
        .seal_message(&explanation.to_string(), expires, &ctx.core.rng)
    {
        Ok(sealed) => {
            message.push_str(ENCODED_MESSAGE_PREFIX);
            message.push_str(&sealed);
        }
        Err(error) => tracing::debug!(%error, "authorization message not sealed"),
    }
    AwsError::access_denied(message)
}

/// What precedes the sealed explanation in an AccessDenied message (the
/// audit trail keeps the message without it: [`crate::audit::error_message`]).
pub(crate) const ENCODED_MESSAGE_PREFIX: &str = ". Encoded authorization failure message: ";

/// The context keys in name order, for a stable decoded message.
fn sorted_keys(rc: &ContextBuilder) -> Vec<(&str, &[String])> {
    let mut keys: Vec<_> = rc.context.keys().collect();
    keys.sort_unstable_by_key(|(k, _)| *k);
    keys
}

/// Evaluate `action` on `resource` for `caller` (`None`: anonymous) when the
/// resource has its own policy (an S3 bucket policy) and owner: identity,
/// boundary and session policies as for every action, plus the resource
/// policy, its direct grants and the cross-account rule (policy-evaluation.md
/// 8.3, 8.4). For front ends other than the query protocol (the S3 gateway).
pub(crate) fn evaluate_with_resource_policy(
    ctx: &ActionContext<'_>,
    caller: Option<&Caller>,
    action: &str,
    resource: &str,
    resource_policy: Option<NamedPolicy<'_>>,
    resource_account: &str,
    extra: impl FnOnce(&mut ContextBuilder),
) -> Decision {
    let docs = caller
        .map(|caller| caller_policy_docs(&ctx.view, caller))
        .unwrap_or_default();
    let policies = docs.caller_policies();
    let set = PolicySet {
        identity: policies.identity,
        resource: resource_policy,
        resource_account: Some(resource_account),
        boundary: policies.boundary,
        session: policies.session,
    };
    let rc = if set.reads_context() {
        let mut rc = match caller {
            Some(caller) => global_context(ctx, caller, action, resource),
            None => request_context(ctx, PrincipalInfo::anonymous(), action, resource),
        };
        extra(&mut rc);
        rc
    } else {
        let principal = caller.map_or_else(PrincipalInfo::anonymous, principal_info);
        ContextBuilder::new(principal, action, resource)
    };
    mayfly_policy::evaluate(&rc.context, &set)
}
