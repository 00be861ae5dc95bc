//! IAM roles (iam-admin-api.md 4): the role and its trust policy, tags,
//! permissions boundary, and its inline and attached policies (5, 6, 7;
//! the rules shared with users live in `policies`).

use std::collections::BTreeMap;

use mayfly_policy::PolicyKind;
use mayfly_store::{DEFAULT_MAX_SESSION_DURATION, Mutation, Role, Snapshot, Tag};
use mayfly_wire::{AwsError, IAM_NAMESPACE, Pattern, QueryParams, ValidationErrors, XmlWriter};

use super::common;
use super::policies::{self, PolicyHolder, Target, encoding_failed, required};
use crate::arn::Arn;
use crate::clock::from_unix;
use crate::trust_binding;
use crate::{ActionContext, ActionResult};

/// `MaxSessionDuration` bounds in seconds (1.1).
const MIN_SESSION_DURATION: i64 = 3600;
const MAX_SESSION_DURATION: i64 = 43_200;

impl Target for Role {
    const TYPE: &'static str = "role";
    const ID_MEMBER: &'static str = "RoleName";
    const CASE_INSENSITIVE_TAGS: bool = true;

    /// `roleNameType`: up to 64 characters.
    fn read_id(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
        common::read_name(params, v, "RoleName", 64)
    }

    fn find<'s>(snapshot: &'s Snapshot, account_id: &str, id: &str) -> Option<&'s Self> {
        snapshot.role(account_id, id)
    }

    fn target_arn(&self) -> String {
        self.arn()
    }

    fn missing_arn(account_id: &str, id: &str) -> String {
        crate::arn::iam_arn(account_id, "role", "/", id)
    }

    fn not_found(id: &str) -> AwsError {
        common::no_such_entity(format!("The role with name {id} cannot be found."))
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }

    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        &mut self.tags
    }
}

impl PolicyHolder for Role {
    const INLINE_QUOTA: usize = 10_240;
    const ATTACHED_QUOTA: &'static str = "PoliciesPerRole";

    fn name(&self) -> &str {
        &self.name
    }

    fn inline_policies(&self) -> &BTreeMap<String, String> {
        &self.inline_policies
    }

    fn inline_policies_mut(&mut self) -> &mut BTreeMap<String, String> {
        &mut self.inline_policies
    }

    fn attached_policies(&self) -> &[String] {
        &self.attached_policies
    }

    fn attached_policies_mut(&mut self) -> &mut Vec<String> {
        &mut self.attached_policies
    }

    fn permissions_boundary(&self) -> Option<&str> {
        self.permissions_boundary.as_deref()
    }

    fn permissions_boundary_mut(&mut self) -> &mut Option<String> {
        &mut self.permissions_boundary
    }
}

/// How much of a `Role` a response carries (1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoleDetail {
    /// ListRoles: no boundary, tags or last use.
    Listed,
    /// CreateRole: boundary and tags, no last use.
    Created,
    /// GetRole, UpdateRoleDescription: everything, `<RoleLastUsed/>` when unused.
    Full,
}

/// Write a `Role` structure; its trust policy as IAM shows it, bound
/// principals by their current ARN or, once deleted, their unique id
/// (`snapshot` tells which).
fn write_role(
    w: &mut XmlWriter,
    element: &str,
    snapshot: &Snapshot,
    role: &Role,
    detail: RoleDetail,
) {
    w.start(element);
    w.text("Path", &role.path);
    w.text("RoleName", &role.name);
    w.text("RoleId", &role.role_id);
    w.text("Arn", &role.arn());
    w.timestamp("CreateDate", from_unix(role.created_at));
    w.policy_document(
        "AssumeRolePolicyDocument",
        &trust_binding::rendered_text(snapshot, role),
    );
    w.text_opt("Description", role.description.as_deref());
    w.number("MaxSessionDuration", i64::from(role.max_session_duration));
    if detail != RoleDetail::Listed {
        policies::write_boundary(w, role.permissions_boundary.as_deref());
        if !role.tags.is_empty() {
            common::write_tags(w, &role.tags);
        }
    }
    if detail == RoleDetail::Full {
        match &role.last_used {
            None => w.empty("RoleLastUsed"),
            Some(last_used) => {
                w.start("RoleLastUsed");
                w.timestamp("LastUsedDate", from_unix(last_used.at));
                w.text_opt("Region", last_used.region.as_deref());
                w.end("RoleLastUsed");
            }
        }
    }
    w.end(element);
}

/// Read an optional role `Description` (0–1000, printable Latin-1).
fn read_description(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
    let description = params.string("Description");
    if let Some(d) = &description {
        v.length("Description", d, 0, 1000);
        v.pattern("Description", d, Pattern::Description);
    }
    description
}

/// An empty description clears it, so responses omit the member ([choice]).
fn stored_description(description: String) -> Option<String> {
    Some(description).filter(|d| !d.is_empty())
}

/// Read an optional `MaxSessionDuration` (3600–43200).
fn read_max_session_duration(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<u32> {
    let seconds = params.integer("MaxSessionDuration", v)?;
    v.range(
        "MaxSessionDuration",
        seconds,
        MIN_SESSION_DURATION,
        MAX_SESSION_DURATION,
    );
    u32::try_from(seconds).ok()
}

/// Validate a trust policy's grammar (`PolicyKind::Trust`) and size: over
/// 2,048 characters is `LimitExceeded` "Cannot exceed quota for
/// ACLSizePerRole: 2048" (1.4).
fn parse_trust_policy(text: &str) -> Result<(), AwsError> {
    policies::parse_document(text, PolicyKind::Trust, || {
        common::limit_exceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {}",
            PolicyKind::Trust.size_limit()
        ))
    })
    .map(|_| ())
}

/// Every `AWS` principal of a (valid) trust policy that names a user or
/// role ARN in an account Mayfly serves must exist, else
/// `MalformedPolicyDocument` `Invalid principal in policy: "AWS":"{arn}"`
/// (1.4). The caller binds the existing ones to their unique ids
/// ([`trust_binding::bind`]).
fn check_trust_principals(snapshot: &Snapshot, text: &str) -> Result<(), AwsError> {
    match trust_binding::aws_principal_values(text).find(|p| !principal_exists(snapshot, p)) {
        Some(missing) => Err(AwsError::malformed_policy_document(format!(
            "Invalid principal in policy: \"AWS\":\"{missing}\""
        ))),
        None => Ok(()),
    }
}

/// Whether an `AWS` principal names something that exists: user and role
/// ARNs of accounts Mayfly serves are looked up (name case-insensitively,
/// path exactly); everything else (accounts, sessions, unique ids, other
/// accounts) is taken as written.
fn principal_exists(snapshot: &Snapshot, principal: &str) -> bool {
    let Some(arn) = Arn::parse(principal) else {
        return true;
    };
    if arn.service != "iam" || snapshot.account(arn.account).is_none() {
        return true;
    }
    let path = arn.path();
    match arn.typed_name() {
        Some(("user", name)) => snapshot
            .user(arn.account, name)
            .is_some_and(|u| Some(u.path.as_str()) == path),
        Some(("role", name)) => snapshot
            .role(arn.account, name)
            .is_some_and(|r| Some(r.path.as_str()) == path),
        _ => true,
    }
}

/// CreateRole.
pub(crate) async fn create_role(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = common::read_name(params, &mut v, "RoleName", 64);
    let path = common::read_path(params, &mut v, "Path");
    let document = common::read_policy_document(params, &mut v, "AssumeRolePolicyDocument");
    let description = read_description(params, &mut v);
    let max_session_duration = read_max_session_duration(params, &mut v);
    let boundary = policies::read_boundary(params, &mut v);
    let tags = common::read_tags(params, &mut v, true)?.unwrap_or_default();
    params.finish_unknown()?;
    v.into_result()?;
    let (name, document) = (required(name)?, required(document)?);
    let account_id = common::account_id(ctx)?;
    let arn = crate::arn::iam_arn(&account_id, "role", &path, &name);
    policies::authorize(ctx, "CreateRole", &arn, &[], |rc| {
        if let Some(b) = &boundary {
            rc.set("iam:PermissionsBoundary", b.clone());
        }
        policies::request_tag_keys(rc, &tags);
    })?;
    parse_trust_policy(&document)?;
    let role_id =
        mayfly_token::unique_id("AROA", &ctx.core.rng).map_err(|_| AwsError::internal())?;
    let now = common::now(ctx);
    let role = ctx
        .core
        .commit(|view| {
            if view.snapshot.role(&account_id, &name).is_some() {
                return Err(common::already_exists(format!(
                    "Role with name {name} already exists."
                )));
            }
            check_trust_principals(&view.snapshot, &document)?;
            if let Some(b) = &boundary {
                policies::attachable(&view.snapshot, &account_id, b)?;
            }
            let role = Role {
                account_id: account_id.clone(),
                name: name.clone(),
                path: path.clone(),
                role_id,
                created_at: now,
                trust_principal_ids: trust_binding::bind(&view.snapshot, &document),
                assume_role_policy: document,
                description: description.and_then(stored_description),
                max_session_duration: max_session_duration.unwrap_or(DEFAULT_MAX_SESSION_DURATION),
                tags,
                permissions_boundary: boundary.clone(),
                inline_policies: BTreeMap::new(),
                attached_policies: Vec::new(),
                last_used: None,
            };
            Ok((
                vec![Mutation::insert(&role).map_err(encoding_failed)?],
                role,
            ))
        })
        .await?;
    let mut w = XmlWriter::response("CreateRole", IAM_NAMESPACE);
    write_role(
        &mut w,
        "Role",
        &ctx.view.snapshot,
        &role,
        RoleDetail::Created,
    );
    Ok(w.finish(ctx.request_id))
}

/// GetRole: with `RoleLastUsed` (empty when never assumed).
pub(crate) fn get_role(ctx: &mut ActionContext<'_>, params: &mut QueryParams) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = Role::read_id(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let role = policies::load::<Role>(ctx, "GetRole", &required(name)?, |_| {})?;
    let mut w = XmlWriter::response("GetRole", IAM_NAMESPACE);
    write_role(&mut w, "Role", &ctx.view.snapshot, &role, RoleDetail::Full);
    Ok(w.finish(ctx.request_id))
}

/// ListRoles: by lowercased name, without tags, boundary and last use.
pub(crate) fn list_roles(ctx: &mut ActionContext<'_>, params: &mut QueryParams) -> ActionResult {
    let mut v = ValidationErrors::new();
    let prefix = common::read_path_prefix(params, &mut v);
    let page = common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let account_id = common::account_id(ctx)?;
    common::authorize(
        ctx,
        "iam:ListRoles",
        &crate::arn::iam_arn(&account_id, "role", "/", ""),
    )?;
    let items: Vec<(String, Role)> = ctx
        .view
        .snapshot
        .roles_in(&account_id)
        .filter(|r| r.path.starts_with(&prefix))
        .map(|r| (r.name.to_lowercase(), r.clone()))
        .collect();
    let (roles, next) = common::paginate(items, &page)?;
    let mut w = XmlWriter::response("ListRoles", IAM_NAMESPACE);
    let snapshot = &ctx.view.snapshot;
    policies::write_members(&mut w, "Roles", &roles, |w, role| {
        write_role(w, "member", snapshot, role, RoleDetail::Listed);
    });
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}

/// UpdateRole: `Description` and/or `MaxSessionDuration`; answers with an
/// empty `UpdateRoleResult` (aws-query-protocol.md 3.1).
pub(crate) async fn update_role(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = Role::read_id(params, &mut v);
    let description = read_description(params, &mut v);
    let max_session_duration = read_max_session_duration(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let name = required(name)?;
    policies::load::<Role>(ctx, "UpdateRole", &name, |_| {})?;
    policies::change::<Role, _>(ctx, &name, |_, role| {
        if let Some(d) = description {
            role.description = stored_description(d);
        }
        if let Some(seconds) = max_session_duration {
            role.max_session_duration = seconds;
        }
        Ok(())
    })
    .await?;
    Ok(XmlWriter::response("UpdateRole", IAM_NAMESPACE).finish(ctx.request_id))
}

/// UpdateRoleDescription: returns the updated `Role`.
pub(crate) async fn update_role_description(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = Role::read_id(params, &mut v);
    let description = read_description(params, &mut v);
    let description = v.required("Description", description);
    params.finish_unknown()?;
    v.into_result()?;
    let (name, description) = (required(name)?, required(description)?);
    policies::load::<Role>(ctx, "UpdateRoleDescription", &name, |_| {})?;
    let role = policies::change::<Role, _>(ctx, &name, |_, role| {
        role.description = stored_description(description);
        Ok(role.clone())
    })
    .await?;
    let mut w = XmlWriter::response("UpdateRoleDescription", IAM_NAMESPACE);
    write_role(&mut w, "Role", &ctx.view.snapshot, &role, RoleDetail::Full);
    Ok(w.finish(ctx.request_id))
}

/// UpdateAssumeRolePolicy: replace the trust policy (same checks as
/// CreateRole); its principals are bound anew, so a re-created principal
/// is trusted again only once the policy is saved again (1.4).
pub(crate) async fn update_assume_role_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = Role::read_id(params, &mut v);
    let document = common::read_policy_document(params, &mut v, "PolicyDocument");
    params.finish_unknown()?;
    v.into_result()?;
    let (name, document) = (required(name)?, required(document)?);
    policies::load::<Role>(ctx, "UpdateAssumeRolePolicy", &name, |_| {})?;
    parse_trust_policy(&document)?;
    policies::change::<Role, _>(ctx, &name, |view, role| {
        check_trust_principals(&view.snapshot, &document)?;
        role.trust_principal_ids = trust_binding::bind(&view.snapshot, &document);
        role.assume_role_policy = document;
        Ok(())
    })
    .await?;
    policies::no_output(ctx, "UpdateAssumeRolePolicy")
}

/// DeleteRole: refused while inline or attached policies remain. Mayfly has
/// no instance profiles, so "must remove roles from instance profile first"
/// never applies.
pub(crate) async fn delete_role(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = Role::read_id(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let name = required(name)?;
    policies::load::<Role>(ctx, "DeleteRole", &name, |_| {})?;
    policies::remove::<Role>(ctx, &name, |_, role| policies::check_no_policies(role)).await?;
    policies::no_output(ctx, "DeleteRole")
}

/// TagRole (keys case-insensitive).
pub(crate) async fn tag_role(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::tag_target::<Role>(ctx, params, "TagRole").await
}

/// UntagRole.
pub(crate) async fn untag_role(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::untag_target::<Role>(ctx, params, "UntagRole").await
}

/// ListRoleTags.
pub(crate) fn list_role_tags(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::list_target_tags::<Role>(ctx, params, "ListRoleTags")
}

/// PutRolePermissionsBoundary.
pub(crate) async fn put_role_permissions_boundary(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::put_boundary::<Role>(ctx, params, "PutRolePermissionsBoundary").await
}

/// DeleteRolePermissionsBoundary.
pub(crate) async fn delete_role_permissions_boundary(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::delete_boundary::<Role>(ctx, params, "DeleteRolePermissionsBoundary").await
}

/// ListInstanceProfilesForRole: Mayfly has no instance profiles, so the
/// list is empty for an existing role (Terraform calls it on every role
/// delete, 4).
pub(crate) fn list_instance_profiles_for_role(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = Role::read_id(params, &mut v);
    common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    policies::load::<Role>(ctx, "ListInstanceProfilesForRole", &required(name)?, |_| {})?;
    let mut w = XmlWriter::response("ListInstanceProfilesForRole", IAM_NAMESPACE);
    w.empty_list("InstanceProfiles");
    common::write_page_end(&mut w, None);
    Ok(w.finish(ctx.request_id))
}

/// PutRolePolicy (aggregate inline quota 10,240).
pub(crate) async fn put_role_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::put_inline_policy::<Role>(ctx, params, "PutRolePolicy").await
}

/// GetRolePolicy.
pub(crate) fn get_role_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::get_inline_policy::<Role>(ctx, params, "GetRolePolicy")
}

/// ListRolePolicies.
pub(crate) fn list_role_policies(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::list_inline_policies::<Role>(ctx, params, "ListRolePolicies")
}

/// DeleteRolePolicy.
pub(crate) async fn delete_role_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::delete_inline_policy::<Role>(ctx, params, "DeleteRolePolicy").await
}

/// AttachRolePolicy.
pub(crate) async fn attach_role_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::attach_policy::<Role>(ctx, params, "AttachRolePolicy").await
}

/// DetachRolePolicy.
pub(crate) async fn detach_role_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::detach_policy::<Role>(ctx, params, "DetachRolePolicy").await
}

/// ListAttachedRolePolicies.
pub(crate) fn list_attached_role_policies(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::list_attached_policies::<Role>(ctx, params, "ListAttachedRolePolicies")
}
