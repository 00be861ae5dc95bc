//! The IAM policy simulator: `SimulateCustomPolicy` and
//! `SimulatePrincipalPolicy` (issue "policy language", item 7).
//!
//! Both evaluate every `ActionNames` × `ResourceArns` pair with the policy
//! engine ([`mayfly_policy::evaluate`]) against the identity policies,
//! permissions boundary and optional resource policy given, with the
//! condition keys of `ContextEntries` only: like AWS, the simulator does not
//! fill in global keys (`aws:SourceIp`, `aws:CurrentTime`, …) on its own.
//!
//! Choices where AWS's behaviour is not documented \[unverified]:
//! - one `EvaluationResult` per (action, resource) pair, in request order,
//!   without `ResourceSpecificResults`; `ResourceHandlingOption` is accepted
//!   and ignored;
//! - `MissingContextValues` lists every condition key used anywhere in the
//!   simulated policies that `ContextEntries` does not supply (as first
//!   written in a policy), whether or not its statement applies;
//! - `MatchedStatements` of an input policy have `SourcePolicyType`
//!   `IAM Policy` (what AWS answers, outside the model's enum) and
//!   `SourcePolicyId` `PolicyInputList.N` /
//!   `PermissionsBoundaryPolicyInputList.N`; stored inline policies are
//!   named by their name with type `user`/`group`/`role`, managed policies
//!   by their name with type `user-managed` (`aws-managed` for
//!   `arn:aws:iam::aws:policy/…`), the resource policy `ResourcePolicy`
//!   with type `resource`;
//! - the simulated caller is `CallerArn` when given, else the principal of
//!   `PolicySourceArn`, else a user `simulated-user` in the caller's
//!   account (never the root user, whose identity side is always allowed).

use std::collections::BTreeMap;
use std::sync::Arc;

use mayfly_policy::{
    DOCUMENT_PARAMETER_LIMIT, Decision, NamedPolicy, Outcome, Policy, PolicyError, PolicyKind,
    PolicySet, PrincipalInfo, RequestContext,
};
use mayfly_wire::{AwsError, IAM_NAMESPACE, Pattern, QueryParams, ValidationErrors, XmlWriter};

use super::common::{self, Page};
use crate::arn::{Arn, PARTITION};
use crate::{ActionContext, ActionResult};

/// `SourcePolicyType` of policies passed in the request.
const INPUT_POLICY_TYPE: &str = "IAM Policy";

/// The context key types of the model's `ContextKeyTypeEnum`.
const CONTEXT_KEY_TYPES: [&str; 12] = [
    "string",
    "stringList",
    "numeric",
    "numericList",
    "boolean",
    "booleanList",
    "ip",
    "ipList",
    "binary",
    "binaryList",
    "date",
    "dateList",
];

/// A policy taking part in the simulation, with the names the result uses.
struct SimPolicy {
    id: String,
    source_type: &'static str,
    kind: PolicyKind,
    text: String,
    policy: Arc<Policy>,
}

impl SimPolicy {
    fn named(&self) -> NamedPolicy<'_> {
        NamedPolicy {
            id: &self.id,
            policy: &self.policy,
            kind: self.kind,
        }
    }
}

/// One `ContextEntries` member.
struct ContextEntry {
    name: String,
    values: Vec<String>,
    list: bool,
}

/// What both actions read besides their policy source.
struct Request {
    identity: Vec<SimPolicy>,
    boundary: Vec<SimPolicy>,
    resource_policy: Option<SimPolicy>,
    actions: Vec<String>,
    resources: Vec<String>,
    resource_owner: Option<String>,
    caller_arn: Option<String>,
    context: Vec<ContextEntry>,
    page: Page,
}

/// SimulateCustomPolicy: `iam:SimulateCustomPolicy` on `*`.
pub(crate) fn simulate_custom_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let input = v.required("PolicyInputList", params.list("PolicyInputList")?);
    let mut request = read_request(params, &mut v)?;
    params.finish_unknown()?;
    v.into_result()?;
    common::authorize(ctx, "iam:SimulateCustomPolicy", "*")?;
    request.identity = parse_inputs("PolicyInputList", &input.unwrap_or_default())?;
    let account_id = common::account_id(ctx)?;
    let principal = simulated_caller(ctx, request.caller_arn.as_deref(), &account_id, None);
    respond(ctx, "SimulateCustomPolicy", &request, &principal)
}

/// SimulatePrincipalPolicy: `iam:SimulatePrincipalPolicy` on the
/// `PolicySourceArn` (a user, group or role of the caller's account); its
/// inline and attached policies (a user's groups' too) and its boundary,
/// plus any `PolicyInputList`.
pub(crate) fn simulate_principal_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let source = v.required("PolicySourceArn", params.string("PolicySourceArn"));
    if let Some(s) = &source {
        v.length("PolicySourceArn", s, 20, 2048);
    }
    let input = params.list("PolicyInputList")?;
    let mut request = read_request(params, &mut v)?;
    params.finish_unknown()?;
    v.into_result()?;
    let source = source.unwrap_or_default();
    common::authorize(ctx, "iam:SimulatePrincipalPolicy", &source)?;
    let account_id = common::account_id(ctx)?;
    let not_found = || {
        common::no_such_entity(format!(
            "The entity with ARN {} cannot be found.",
            crate::truncate(&source, 2048)
        ))
    };
    let arn = Arn::parse(&source).ok_or_else(not_found)?;
    if arn.service != "iam" || arn.account != account_id {
        return Err(not_found());
    }
    let (kind, _) = arn.typed_name().ok_or_else(not_found)?;
    let snapshot = &ctx.view.snapshot;
    let mut stored = Vec::new();
    let mut boundary_arn = None;
    let principal;
    match kind {
        "user" => {
            let user = snapshot.user_by_arn(&source).ok_or_else(not_found)?;
            holder_policies(
                ctx,
                "user",
                &user.inline_policies,
                &user.attached_policies,
                &mut stored,
            );
            for group in snapshot.groups_for_user(&account_id, &user.name) {
                holder_policies(
                    ctx,
                    "group",
                    &group.inline_policies,
                    &group.attached_policies,
                    &mut stored,
                );
            }
            boundary_arn = user.permissions_boundary.clone();
            principal = PrincipalInfo::user(&source, &account_id, &user.user_id);
        }
        "role" => {
            let role = snapshot.role_by_arn(&source).ok_or_else(not_found)?;
            holder_policies(
                ctx,
                "role",
                &role.inline_policies,
                &role.attached_policies,
                &mut stored,
            );
            boundary_arn = role.permissions_boundary.clone();
            principal = PrincipalInfo::assumed_role(
                &crate::arn::assumed_role_arn(&account_id, &role.name, "simulated-session"),
                &source,
                &account_id,
                &role.role_id,
            );
        }
        "group" => {
            let group = snapshot
                .groups_in(&account_id)
                .find(|g| g.arn() == source)
                .ok_or_else(not_found)?;
            holder_policies(
                ctx,
                "group",
                &group.inline_policies,
                &group.attached_policies,
                &mut stored,
            );
            principal = simulated_caller(ctx, None, &account_id, None);
        }
        _ => return Err(not_found()),
    }
    let principal = match request.caller_arn.as_deref() {
        Some(caller) => simulated_caller(ctx, Some(caller), &account_id, Some(principal)),
        None => principal,
    };
    let inputs = parse_inputs("PolicyInputList", &input.unwrap_or_default())?;
    stored.extend(inputs);
    request.identity = stored;
    if request.boundary.is_empty()
        && let Some(arn) = boundary_arn
        && let Some(boundary) = managed_policy(ctx, &arn, PolicyKind::Boundary)
    {
        request.boundary.push(boundary);
    }
    respond(ctx, "SimulatePrincipalPolicy", &request, &principal)
}

/// Read the members both actions share.
fn read_request(params: &mut QueryParams, v: &mut ValidationErrors) -> Result<Request, AwsError> {
    let boundary_texts = params
        .list("PermissionsBoundaryPolicyInputList")?
        .unwrap_or_default();
    let actions = v
        .required("ActionNames", params.list("ActionNames")?)
        .unwrap_or_default();
    for (i, action) in actions.iter().enumerate() {
        v.length(&format!("actionNames.{}.member", i + 1), action, 3, 128);
    }
    let resources = params.list("ResourceArns")?.unwrap_or_default();
    for (i, resource) in resources.iter().enumerate() {
        v.length(&format!("resourceArns.{}.member", i + 1), resource, 1, 2048);
    }
    let resource_policy = params.string("ResourcePolicy");
    if let Some(doc) = &resource_policy {
        v.length("ResourcePolicy", doc, 1, 131_072);
        v.pattern("ResourcePolicy", doc, Pattern::PolicyDocument);
    }
    let resource_owner = params.string("ResourceOwner");
    if let Some(owner) = &resource_owner {
        v.length("ResourceOwner", owner, 1, 2048);
    }
    let caller_arn = params.string("CallerArn");
    if let Some(arn) = &caller_arn {
        v.length("CallerArn", arn, 1, 2048);
    }
    if let Some(option) = params.string("ResourceHandlingOption") {
        v.length("ResourceHandlingOption", &option, 1, 64);
    }
    let context = read_context_entries(params, v)?;
    let page = common::read_page(params, v);
    let resource_policy = match resource_policy {
        Some(text) => Some(parse_policy(
            "ResourcePolicy".to_owned(),
            "resource",
            PolicyKind::Resource,
            text,
        )?),
        None => None,
    };
    let boundary = parse_inputs_as(
        "PermissionsBoundaryPolicyInputList",
        &boundary_texts,
        PolicyKind::Boundary,
    )?;
    Ok(Request {
        identity: Vec::new(),
        boundary,
        resource_policy,
        actions,
        resources: if resources.is_empty() {
            vec!["*".to_owned()]
        } else {
            resources
        },
        resource_owner: resource_owner
            .map(|owner| Arn::parse(&owner).map_or(owner.clone(), |a| a.account.to_owned())),
        caller_arn,
        context,
        page,
    })
}

/// `ContextEntries.member.N.{ContextKeyName, ContextKeyValues.member.M, ContextKeyType}`.
fn read_context_entries(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
) -> Result<Vec<ContextEntry>, AwsError> {
    // `ContextEntries=` is how the SDKs send an empty list.
    let _ = params.string("ContextEntries");
    let mut entries = Vec::new();
    for n in 1usize.. {
        let prefix = format!("ContextEntries.member.{n}");
        let name = params.string(&format!("{prefix}.ContextKeyName"));
        let key_type = params.string(&format!("{prefix}.ContextKeyType"));
        let values = params.list(&format!("{prefix}.ContextKeyValues"))?;
        if name.is_none() && key_type.is_none() && values.is_none() {
            break;
        }
        let name_path = format!("contextEntries.{n}.member.contextKeyName");
        let name = v.required(&name_path, name);
        if let Some(name) = &name {
            v.length(&name_path, name, 5, 256);
        }
        let key_type = v.required(
            &format!("contextEntries.{n}.member.contextKeyType"),
            key_type,
        );
        if let Some(t) = &key_type {
            v.enum_value(
                &format!("contextEntries.{n}.member.contextKeyType"),
                t,
                &CONTEXT_KEY_TYPES,
            );
        }
        if let (Some(name), Some(key_type)) = (name, key_type) {
            entries.push(ContextEntry {
                name,
                values: values.unwrap_or_default(),
                list: key_type.ends_with("List"),
            });
        }
    }
    Ok(entries)
}

fn parse_inputs(member: &str, texts: &[String]) -> Result<Vec<SimPolicy>, AwsError> {
    parse_inputs_as(member, texts, PolicyKind::Identity)
}

fn parse_inputs_as(
    member: &str,
    texts: &[String],
    kind: PolicyKind,
) -> Result<Vec<SimPolicy>, AwsError> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            parse_policy(
                format!("{member}.{}", i + 1),
                INPUT_POLICY_TYPE,
                kind,
                text.clone(),
            )
        })
        .collect()
}

/// Parse a request policy: identity grammar for identity and boundary
/// inputs (without the boundary's `Version` requirement), resource grammar
/// for `ResourcePolicy`; anything wrong is `MalformedPolicyDocument`.
fn parse_policy(
    id: String,
    source_type: &'static str,
    kind: PolicyKind,
    text: String,
) -> Result<SimPolicy, AwsError> {
    let grammar = match kind {
        PolicyKind::Resource => PolicyKind::Resource,
        _ => PolicyKind::Identity,
    };
    let policy =
        Policy::parse_with_limit(&text, grammar, DOCUMENT_PARAMETER_LIMIT).map_err(|error| {
            match error {
                PolicyError::InvalidCharacter { .. } => {
                    AwsError::validation_message(error.to_string())
                }
                other => AwsError::malformed_policy_document(other.wire_message()),
            }
        })?;
    Ok(SimPolicy {
        id,
        source_type,
        kind,
        text,
        policy: Arc::new(policy),
    })
}

/// A stored policy text as an identity policy (fail closed: a stored text
/// that no longer parses is left out).
fn stored_policy(
    ctx: &ActionContext<'_>,
    id: String,
    source_type: &'static str,
    kind: PolicyKind,
    text: &str,
) -> Option<SimPolicy> {
    let policy = ctx
        .view
        .identity_policy(text)
        .or_else(|| Policy::parse(text, PolicyKind::Identity).ok().map(Arc::new))?;
    Some(SimPolicy {
        id,
        source_type,
        kind,
        text: text.to_owned(),
        policy,
    })
}

/// The default version of a managed policy, named by its policy name.
fn managed_policy(ctx: &ActionContext<'_>, arn: &str, kind: PolicyKind) -> Option<SimPolicy> {
    let managed = ctx.view.snapshot.policy(arn)?;
    let text = managed.default_document()?;
    let parsed = Arn::parse(arn);
    let name = parsed
        .as_ref()
        .and_then(Arn::typed_name)
        .map_or(arn, |(_, name)| name);
    let source_type = if parsed.is_some_and(|a| a.account == "aws") {
        "aws-managed"
    } else {
        "user-managed"
    };
    stored_policy(ctx, name.to_owned(), source_type, kind, text)
}

fn holder_policies(
    ctx: &ActionContext<'_>,
    source_type: &'static str,
    inline: &BTreeMap<String, String>,
    attached: &[String],
    out: &mut Vec<SimPolicy>,
) {
    for (name, text) in inline {
        out.extend(stored_policy(
            ctx,
            name.clone(),
            source_type,
            PolicyKind::Identity,
            text,
        ));
    }
    for arn in attached {
        out.extend(managed_policy(ctx, arn, PolicyKind::Identity));
    }
}

/// The principal the simulation runs as: `caller_arn` (a user, role,
/// assumed-role or federated-user ARN) when given, else `fallback`, else
/// the user `simulated-user` of `account_id`.
fn simulated_caller(
    ctx: &ActionContext<'_>,
    caller_arn: Option<&str>,
    account_id: &str,
    fallback: Option<PrincipalInfo>,
) -> PrincipalInfo {
    let default_user = || {
        fallback.clone().unwrap_or_else(|| {
            PrincipalInfo::user(
                &crate::arn::iam_arn(account_id, "user", "/", "simulated-user"),
                account_id,
                "AIDASIMULATEDUSER000",
            )
        })
    };
    let Some(caller) = caller_arn else {
        return default_user();
    };
    let Some(arn) = Arn::parse(caller) else {
        return default_user();
    };
    let account = arn.account.to_owned();
    match arn.typed_name() {
        Some(("user", _)) => {
            let id = ctx
                .view
                .snapshot
                .user_by_arn(caller)
                .map_or_else(|| "AIDASIMULATEDUSER000".to_owned(), |u| u.user_id.clone());
            PrincipalInfo::user(caller, &account, &id)
        }
        Some(("role", name)) => {
            let id = ctx
                .view
                .snapshot
                .role_by_arn(caller)
                .map_or_else(|| "AROASIMULATEDROLE000".to_owned(), |r| r.role_id.clone());
            PrincipalInfo::assumed_role(
                &crate::arn::assumed_role_arn(&account, name, "simulated-session"),
                caller,
                &account,
                &id,
            )
        }
        Some(("assumed-role", _)) => {
            let role_name = arn.resource.split('/').nth(1).unwrap_or_default();
            let role_arn = crate::arn::iam_arn(&account, "role", "/", role_name);
            PrincipalInfo::assumed_role(caller, &role_arn, &account, "AROASIMULATEDROLE000")
        }
        _ if arn.resource == "root" => PrincipalInfo::root(PARTITION, &account),
        _ => default_user(),
    }
}

/// Every condition key the policy's text uses (`Condition` → operator → key).
fn condition_keys(text: &str, out: &mut Vec<String>) {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let statements = match json.get("Statement") {
        Some(serde_json::Value::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(single) => vec![single],
        None => Vec::new(),
    };
    for statement in statements {
        let Some(serde_json::Value::Object(operators)) = statement.get("Condition") else {
            continue;
        };
        for block in operators.values() {
            let serde_json::Value::Object(keys) = block else {
                continue;
            };
            for key in keys.keys() {
                if !out.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                    out.push(key.clone());
                }
            }
        }
    }
}

/// One simulated (action, resource) pair.
struct EvaluationResult<'r> {
    action: &'r str,
    resource: &'r str,
    decision: Decision,
    allowed_by_boundary: Option<bool>,
}

fn evaluate_all<'r>(request: &'r Request, principal: &PrincipalInfo) -> Vec<EvaluationResult<'r>> {
    let identity: Vec<NamedPolicy<'_>> = request.identity.iter().map(SimPolicy::named).collect();
    let boundary_set: Vec<NamedPolicy<'_>> = request
        .boundary
        .iter()
        .map(|b| NamedPolicy {
            kind: PolicyKind::Identity,
            ..b.named()
        })
        .collect();
    let mut results = Vec::new();
    for action in &request.actions {
        for resource in &request.resources {
            let mut rc = RequestContext::new(principal.clone(), action, resource);
            for entry in &request.context {
                if entry.list {
                    rc.set_multi(&entry.name, entry.values.clone());
                } else if let [single] = entry.values.as_slice() {
                    rc.set(&entry.name, single.clone());
                } else {
                    rc.set_multi(&entry.name, entry.values.clone());
                }
            }
            // Several boundaries: each is evaluated; the first that denies decides.
            let mut decision = None;
            let boundaries: Vec<Option<NamedPolicy<'_>>> = if request.boundary.is_empty() {
                vec![None]
            } else {
                request.boundary.iter().map(|b| Some(b.named())).collect()
            };
            for boundary in boundaries {
                let set = PolicySet {
                    identity: identity.clone(),
                    resource: request.resource_policy.as_ref().map(SimPolicy::named),
                    resource_account: request.resource_owner.as_deref(),
                    boundary,
                    session: None,
                };
                let d = mayfly_policy::evaluate(&rc, &set);
                let stop = !d.is_allowed();
                decision = Some(d);
                if stop {
                    break;
                }
            }
            let Some(decision) = decision else {
                continue;
            };
            let allowed_by_boundary = (!request.boundary.is_empty()).then(|| {
                boundary_set.iter().all(|b| {
                    let set = PolicySet {
                        identity: vec![*b],
                        ..PolicySet::default()
                    };
                    mayfly_policy::evaluate(&rc, &set).is_allowed()
                })
            });
            results.push(EvaluationResult {
                action,
                resource,
                decision,
                allowed_by_boundary,
            });
        }
    }
    results
}

fn decision_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allow => "allowed",
        Outcome::ExplicitDeny => "explicitDeny",
        Outcome::ImplicitDeny => "implicitDeny",
    }
}

fn respond(
    ctx: &ActionContext<'_>,
    action: &str,
    request: &Request,
    principal: &PrincipalInfo,
) -> ActionResult {
    let mut missing = Vec::new();
    let all = request
        .identity
        .iter()
        .chain(&request.boundary)
        .chain(&request.resource_policy);
    for policy in all.clone() {
        condition_keys(&policy.text, &mut missing);
    }
    missing.retain(|key| {
        !request
            .context
            .iter()
            .any(|e| e.name.eq_ignore_ascii_case(key))
    });
    let source_type = |id: &str| {
        all.clone()
            .find(|p| p.id == id)
            .map_or("none", |p| p.source_type)
    };
    let results = evaluate_all(request, principal);
    let items: Vec<(String, EvaluationResult<'_>)> = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| (format!("{i:010}"), r))
        .collect();
    let (page, next) = common::paginate(items, &request.page)?;
    let mut w = XmlWriter::response(action, IAM_NAMESPACE);
    w.start("EvaluationResults");
    for result in &page {
        w.start("member");
        w.text("EvalActionName", result.action);
        w.text("EvalResourceName", result.resource);
        w.text("EvalDecision", decision_name(result.decision.outcome));
        w.start("MatchedStatements");
        for m in &result.decision.matched {
            w.start("member");
            w.text("SourcePolicyId", &m.policy_id);
            w.text("SourcePolicyType", source_type(&m.policy_id));
            w.end("member");
        }
        w.end("MatchedStatements");
        w.string_list("MissingContextValues", &missing);
        if let Some(allowed) = result.allowed_by_boundary {
            w.start("PermissionsBoundaryDecisionDetail");
            w.boolean("AllowedByPermissionsBoundary", allowed);
            w.end("PermissionsBoundaryDecisionDetail");
        }
        w.end("member");
    }
    w.end("EvaluationResults");
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}
