//! IAM users (iam-admin-api.md 2): the user itself, its tags, permissions
//! boundary and groups, and its inline and attached policies (5, 6, 7;
//! the rules shared with roles live in `policies`).

use std::collections::BTreeMap;

use mayfly_store::{Entity, Group, Mutation, Snapshot, Tag, User};
use mayfly_wire::{AwsError, IAM_NAMESPACE, Pattern, QueryParams, ValidationErrors, XmlWriter};

use super::common::{self, Page};
use super::policies::{self, PolicyHolder, Target, encoding_failed, required};
use crate::ActionContext;
use crate::ActionResult;

impl Target for User {
    const TYPE: &'static str = "user";
    const ID_MEMBER: &'static str = "UserName";
    const CASE_INSENSITIVE_TAGS: bool = true;

    /// `existingUserNameType`: up to 128 characters.
    fn read_id(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
        common::read_name(params, v, "UserName", 128)
    }

    fn find<'s>(snapshot: &'s Snapshot, account_id: &str, id: &str) -> Option<&'s Self> {
        snapshot.user(account_id, id)
    }

    fn target_arn(&self) -> String {
        self.arn()
    }

    fn missing_arn(account_id: &str, id: &str) -> String {
        crate::arn::iam_arn(account_id, "user", "/", id)
    }

    fn not_found(id: &str) -> AwsError {
        common::no_such_entity(format!("The user with name {id} cannot be found."))
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }

    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        &mut self.tags
    }
}

impl PolicyHolder for User {
    const INLINE_QUOTA: usize = 2048;
    const ATTACHED_QUOTA: &'static str = "PoliciesPerUser";

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

/// Write a `User` structure; `full` adds the members ListUsers omits.
pub(crate) fn write_user(w: &mut XmlWriter, name: &str, user: &User, full: bool) {
    w.start(name);
    w.text("Path", &user.path);
    w.text("UserName", &user.name);
    w.text("UserId", &user.user_id);
    w.text("Arn", &user.arn());
    w.timestamp("CreateDate", crate::clock::from_unix(user.created_at));
    if full {
        policies::write_boundary(w, user.permissions_boundary.as_deref());
        if !user.tags.is_empty() {
            common::write_tags(w, &user.tags);
        }
    }
    w.end(name);
}

/// CreateUser.
pub(crate) async fn create_user(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = common::read_name(params, &mut v, "UserName", 64);
    let path = common::read_path(params, &mut v, "Path");
    let boundary = policies::read_boundary(params, &mut v);
    let tags = common::read_tags(params, &mut v, true)?.unwrap_or_default();
    params.finish_unknown()?;
    v.into_result()?;
    let name = required(name)?;
    let arn = common::arn_in_caller_account(ctx, "user", &path, &name)?;
    policies::authorize(ctx, "CreateUser", &arn, &[], |rc| {
        if let Some(b) = &boundary {
            rc.set("iam:PermissionsBoundary", b.clone());
        }
        policies::request_tag_keys(rc, &tags);
    })?;
    let account_id = common::account_id(ctx)?;
    let user_id =
        mayfly_token::unique_id("AIDA", &ctx.core.rng).map_err(|_| AwsError::internal())?;
    let now = common::now(ctx);
    let user = ctx
        .core
        .commit(|view| {
            if view.snapshot.user(&account_id, &name).is_some() {
                return Err(common::already_exists(format!(
                    "User with name {name} already exists."
                )));
            }
            if let Some(b) = &boundary {
                policies::attachable(&view.snapshot, &account_id, b)?;
            }
            let user = User {
                account_id: account_id.clone(),
                name: name.clone(),
                path: path.clone(),
                user_id,
                created_at: now,
                tags,
                permissions_boundary: boundary.clone(),
                inline_policies: BTreeMap::new(),
                attached_policies: Vec::new(),
            };
            Ok((
                vec![Mutation::insert(&user).map_err(encoding_failed)?],
                user,
            ))
        })
        .await?;
    let mut w = XmlWriter::response("CreateUser", IAM_NAMESPACE);
    write_user(&mut w, "User", &user, true);
    Ok(w.finish(ctx.request_id))
}

/// GetUser: `UserName` omitted means the caller.
pub(crate) fn get_user(ctx: &mut ActionContext<'_>, params: &mut QueryParams) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = params.string("UserName");
    if let Some(n) = &name {
        v.length("UserName", n, 1, 128);
        v.pattern("UserName", n, Pattern::Name);
    }
    params.finish_unknown()?;
    v.into_result()?;
    let caller = common::caller(ctx)?.clone();
    let account_id = caller.account_id.clone();
    let name = match name {
        Some(name) => name,
        None => match caller.user_name() {
            Some(n) => n.to_owned(),
            None if caller.is_root() => {
                // The root identity (2, [unverified] exact fields).
                let mut w = XmlWriter::response("GetUser", IAM_NAMESPACE);
                w.start("User");
                w.text("UserId", &account_id);
                w.text("Arn", &caller.arn);
                let created = ctx
                    .view
                    .snapshot
                    .account(&account_id)
                    .map_or(0, |a| a.created_at);
                w.timestamp("CreateDate", crate::clock::from_unix(created));
                w.end("User");
                return Ok(w.finish(ctx.request_id));
            }
            None => {
                return Err(AwsError::validation_message(
                    "Must specify userName when calling with non-User credentials",
                ));
            }
        },
    };
    let user = policies::load::<User>(ctx, "GetUser", &name, |_| {})?;
    let mut w = XmlWriter::response("GetUser", IAM_NAMESPACE);
    write_user(&mut w, "User", &user, true);
    Ok(w.finish(ctx.request_id))
}

/// ListUsers.
pub(crate) fn list_users(ctx: &mut ActionContext<'_>, params: &mut QueryParams) -> ActionResult {
    let mut v = ValidationErrors::new();
    let prefix = common::read_path_prefix(params, &mut v);
    let page: Page = common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let account_id = common::account_id(ctx)?;
    common::authorize(
        ctx,
        "iam:ListUsers",
        &format!("arn:aws:iam::{account_id}:user/"),
    )?;
    let items: Vec<(String, User)> = ctx
        .view
        .snapshot
        .users_in(&account_id)
        .filter(|u| u.path.starts_with(&prefix))
        .map(|u| (u.name.to_lowercase(), u.clone()))
        .collect();
    let (users, next) = common::paginate(items, &page)?;
    let mut w = XmlWriter::response("ListUsers", IAM_NAMESPACE);
    policies::write_members(&mut w, "Users", &users, |w, user| {
        write_user(w, "member", user, false)
    });
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}

/// UpdateUser: rename (`NewUserName`) and/or move (`NewPath`). A rename
/// needs `iam:UpdateUser` on the new ARN as well, must not collide with
/// another user (case-insensitively), and carries the user's access keys,
/// group memberships and MFA assignments along.
pub(crate) async fn update_user(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = User::read_id(params, &mut v);
    let new_name = params.string("NewUserName");
    if let Some(n) = &new_name {
        v.length("NewUserName", n, 1, 64);
        v.pattern("NewUserName", n, Pattern::Name);
    }
    let new_path = params.string("NewPath");
    if let Some(p) = &new_path {
        v.length("NewPath", p, 1, 512);
        v.pattern("NewPath", p, Pattern::Path);
    }
    params.finish_unknown()?;
    v.into_result()?;
    let name = required(name)?;
    let user = policies::load::<User>(ctx, "UpdateUser", &name, |_| {})?;
    let new_name = new_name.unwrap_or_else(|| user.name.clone());
    let new_path = new_path.unwrap_or_else(|| user.path.clone());
    let new_arn = crate::arn::iam_arn(&user.account_id, "user", &new_path, &new_name);
    if new_arn != user.arn() {
        policies::authorize(ctx, "UpdateUser", &new_arn, &user.tags, |_| {})?;
    }
    let account_id = user.account_id;
    ctx.core
        .commit(|view| {
            let snapshot = &view.snapshot;
            let current = snapshot
                .user(&account_id, &name)
                .ok_or_else(|| User::not_found(&name))?;
            let updated = User {
                name: new_name.clone(),
                path: new_path.clone(),
                ..current.clone()
            };
            if updated == *current {
                return Ok((Vec::new(), ()));
            }
            let mut mutations = Vec::new();
            if updated.key() == current.key() {
                mutations.push(Mutation::update(&updated).map_err(encoding_failed)?);
            } else {
                if snapshot.user(&account_id, &new_name).is_some() {
                    return Err(common::already_exists(format!(
                        "User with name {new_name} already exists."
                    )));
                }
                mutations.push(Mutation::delete::<User>(current.key()));
                mutations.push(Mutation::insert(&updated).map_err(encoding_failed)?);
            }
            if current.name != new_name {
                mutations.extend(renamed_references(snapshot, current, &new_name)?);
            }
            Ok((mutations, ()))
        })
        .await?;
    policies::no_output(ctx, "UpdateUser")
}

/// The updates a rename needs beyond the user: access keys, group members
/// and MFA assignments name the user in display case.
fn renamed_references(
    snapshot: &Snapshot,
    user: &User,
    new_name: &str,
) -> Result<Vec<Mutation>, AwsError> {
    let mut mutations = Vec::new();
    for key in snapshot.access_keys_of(&user.account_id, Some(&user.name)) {
        let mut key = key.clone();
        key.user_name = Some(new_name.to_owned());
        mutations.push(Mutation::update(&key).map_err(encoding_failed)?);
    }
    let old_name = user.name.to_lowercase();
    for group in snapshot.groups_for_user(&user.account_id, &user.name) {
        let mut group = group.clone();
        for member in &mut group.members {
            if member.to_lowercase() == old_name {
                new_name.clone_into(member);
            }
        }
        mutations.push(Mutation::update(&group).map_err(encoding_failed)?);
    }
    for device in snapshot.mfa_devices_of(&user.account_id, Some(&user.name)) {
        let mut device = device.clone();
        if let Some(assignment) = &mut device.assignment {
            assignment.user_name = Some(new_name.to_owned());
        }
        mutations.push(Mutation::update(&device).map_err(encoding_failed)?);
    }
    Ok(mutations)
}

/// DeleteUser: refused while the user still has access keys, MFA devices,
/// inline or attached policies, or group memberships (2). Mayfly has no
/// login profiles, signing certificates, SSH keys or service-specific
/// credentials, so those rules never apply.
pub(crate) async fn delete_user(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = User::read_id(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let name = required(name)?;
    policies::load::<User>(ctx, "DeleteUser", &name, |_| {})?;
    policies::remove::<User>(ctx, &name, |snapshot, user| {
        let account_id = &user.account_id;
        if snapshot
            .access_keys_of(account_id, Some(&user.name))
            .next()
            .is_some()
        {
            return Err(policies::must_first("delete access keys"));
        }
        if snapshot
            .mfa_devices_of(account_id, Some(&user.name))
            .next()
            .is_some()
        {
            return Err(policies::must_first("delete MFA device"));
        }
        policies::check_no_policies(user)?;
        if !snapshot.groups_for_user(account_id, &user.name).is_empty() {
            return Err(policies::must_first("remove users from group"));
        }
        Ok(())
    })
    .await?;
    policies::no_output(ctx, "DeleteUser")
}

/// TagUser (keys case-insensitive).
pub(crate) async fn tag_user(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::tag_target::<User>(ctx, params, "TagUser").await
}

/// UntagUser.
pub(crate) async fn untag_user(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::untag_target::<User>(ctx, params, "UntagUser").await
}

/// ListUserTags.
pub(crate) fn list_user_tags(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::list_target_tags::<User>(ctx, params, "ListUserTags")
}

/// PutUserPermissionsBoundary.
pub(crate) async fn put_user_permissions_boundary(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::put_boundary::<User>(ctx, params, "PutUserPermissionsBoundary").await
}

/// DeleteUserPermissionsBoundary.
pub(crate) async fn delete_user_permissions_boundary(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::delete_boundary::<User>(ctx, params, "DeleteUserPermissionsBoundary").await
}

/// ListGroupsForUser: Terraform calls it on every user delete (2).
pub(crate) fn list_groups_for_user(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = User::read_id(params, &mut v);
    let page = common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let user = policies::load::<User>(ctx, "ListGroupsForUser", &required(name)?, |_| {})?;
    let mut items: Vec<(String, Group)> = ctx
        .view
        .snapshot
        .groups_for_user(&user.account_id, &user.name)
        .into_iter()
        .map(|g| (g.name.to_lowercase(), g.clone()))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let (groups, next) = common::paginate(items, &page)?;
    let mut w = XmlWriter::response("ListGroupsForUser", IAM_NAMESPACE);
    policies::write_members(&mut w, "Groups", &groups, |w, group| {
        w.start("member");
        w.text("Path", &group.path);
        w.text("GroupName", &group.name);
        w.text("GroupId", &group.group_id);
        w.text("Arn", &group.arn());
        w.timestamp("CreateDate", crate::clock::from_unix(group.created_at));
        w.end("member");
    });
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}

/// PutUserPolicy (aggregate inline quota 2,048).
pub(crate) async fn put_user_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::put_inline_policy::<User>(ctx, params, "PutUserPolicy").await
}

/// GetUserPolicy.
pub(crate) fn get_user_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::get_inline_policy::<User>(ctx, params, "GetUserPolicy")
}

/// ListUserPolicies.
pub(crate) fn list_user_policies(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::list_inline_policies::<User>(ctx, params, "ListUserPolicies")
}

/// DeleteUserPolicy.
pub(crate) async fn delete_user_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::delete_inline_policy::<User>(ctx, params, "DeleteUserPolicy").await
}

/// AttachUserPolicy.
pub(crate) async fn attach_user_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::attach_policy::<User>(ctx, params, "AttachUserPolicy").await
}

/// DetachUserPolicy.
pub(crate) async fn detach_user_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::detach_policy::<User>(ctx, params, "DetachUserPolicy").await
}

/// ListAttachedUserPolicies.
pub(crate) fn list_attached_user_policies(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::list_attached_policies::<User>(ctx, params, "ListAttachedUserPolicies")
}
