//! Managed policies (iam-admin-api.md 6), and what users, roles and
//! policies share: finding and authorizing the entity an action names,
//! tags (1.3), inline policies (5), attachments (6) and permissions
//! boundaries (7). Users and roles implement [`PolicyHolder`], so each rule
//! is written once.

use std::collections::BTreeMap;

use mayfly_policy::{Policy, PolicyError, PolicyKind};
use mayfly_store::{Entity, ManagedPolicy, Mutation, PolicyUsage, PolicyVersion, Snapshot, Tag};
use mayfly_wire::{AwsError, IAM_NAMESPACE, Pattern, QueryParams, ValidationErrors, XmlWriter};

use super::common;
use crate::arn::Arn;
use crate::authz::ContextBuilder;
use crate::clock::from_unix;
use crate::view::View;
use crate::{ActionContext, ActionResult};

/// Versions a managed policy may have (iam-admin-api.md 14).
const MAX_POLICY_VERSIONS: usize = 5;
/// Managed policies attached to one user or role (iam-admin-api.md 14).
const MAX_ATTACHED_POLICIES: usize = 10;

/// The entity an action names: a user or role (by name) or a customer
/// managed policy (by ARN).
pub(super) trait Target: Entity + Clone + PartialEq {
    /// `user`, `role` or `policy`: the ARN resource type and the word in messages.
    const TYPE: &'static str;
    /// The request member that names it and that Get*Policy echoes.
    const ID_MEMBER: &'static str;
    /// Whether tag keys compare case-insensitively: users and roles yes,
    /// managed policies no (1.3).
    const CASE_INSENSITIVE_TAGS: bool;

    /// Read and validate [`Target::ID_MEMBER`] (required).
    fn read_id(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String>;
    /// The entity `id` names in `account_id` (names case-insensitively).
    fn find<'s>(snapshot: &'s Snapshot, account_id: &str, id: &str) -> Option<&'s Self>;
    /// Its ARN: the resource actions on it are authorized against.
    fn target_arn(&self) -> String;
    /// The ARN to authorize against when `id` names nothing.
    fn missing_arn(account_id: &str, id: &str) -> String;
    /// The error for an `id` that names nothing (`NoSuchEntity` in AWS's words).
    fn not_found(id: &str) -> AwsError;
    /// Its tags.
    fn tags(&self) -> &[Tag];
    /// Its tags, to change.
    fn tags_mut(&mut self) -> &mut Vec<Tag>;
}

/// A user or role: holds inline policies, attached managed policies and a
/// permissions boundary.
pub(super) trait PolicyHolder: Target {
    /// The aggregate size quota of its inline policies: user 2,048, role
    /// 10,240 (iam-admin-api.md 1.4).
    const INLINE_QUOTA: usize;
    /// The quota named when too many policies are attached:
    /// `PoliciesPerUser`, `PoliciesPerRole`.
    const ATTACHED_QUOTA: &'static str;

    /// Its name (display case).
    fn name(&self) -> &str;
    /// Inline policies: name → document text.
    fn inline_policies(&self) -> &BTreeMap<String, String>;
    /// Inline policies, to change.
    fn inline_policies_mut(&mut self) -> &mut BTreeMap<String, String>;
    /// Attached managed policy ARNs, in attachment order.
    fn attached_policies(&self) -> &[String];
    /// Attached policies, to change.
    fn attached_policies_mut(&mut self) -> &mut Vec<String>;
    /// The permissions boundary ARN.
    fn permissions_boundary(&self) -> Option<&str>;
    /// The permissions boundary, to change.
    fn permissions_boundary_mut(&mut self) -> &mut Option<String>;
}

/// A member `ValidationErrors::required` checked: present once
/// `into_result` passed.
pub(super) fn required<T>(value: Option<T>) -> Result<T, AwsError> {
    value.ok_or_else(AwsError::internal)
}

/// The response of an action without output shape.
pub(super) fn no_output(ctx: &ActionContext<'_>, action: &str) -> ActionResult {
    Ok(XmlWriter::response_without_result(action, IAM_NAMESPACE).finish(ctx.request_id))
}

/// Authorize `iam:{action}` on `resource`, with the resource's tags as
/// `iam:ResourceTag/*` and `aws:ResourceTag/*` and the action's own keys
/// (`iam:PolicyARN`, `iam:PermissionsBoundary`, `aws:RequestTag/*`,
/// `aws:TagKeys`; policy-evaluation.md 10.3).
pub(super) fn authorize(
    ctx: &ActionContext<'_>,
    action: &str,
    resource: &str,
    resource_tags: &[Tag],
    keys: impl Fn(&mut ContextBuilder),
) -> Result<(), AwsError> {
    let caller = common::caller(ctx)?;
    crate::authz::authorize_caller(ctx, caller, &format!("iam:{action}"), resource, |rc| {
        for tag in resource_tags {
            rc.set(&format!("iam:ResourceTag/{}", tag.key), tag.value.clone());
            rc.set(&format!("aws:ResourceTag/{}", tag.key), tag.value.clone());
        }
        keys(rc);
    })
}

/// `aws:RequestTag/*` and `aws:TagKeys` for tags a request sets.
pub(super) fn request_tag_keys(rc: &mut ContextBuilder, tags: &[Tag]) {
    for tag in tags {
        rc.set(&format!("aws:RequestTag/{}", tag.key), tag.value.clone());
    }
    if !tags.is_empty() {
        rc.set_multi("aws:TagKeys", tags.iter().map(|t| t.key.clone()).collect());
    }
}

/// The entity `id` names, once `iam:{action}` on it is authorized. A
/// missing entity is authorized against the ARN it would have, so a caller
/// without permission gets `AccessDenied`, never a hint that it is missing.
pub(super) fn load<T: Target>(
    ctx: &ActionContext<'_>,
    action: &str,
    id: &str,
    keys: impl Fn(&mut ContextBuilder),
) -> Result<T, AwsError> {
    let account_id = common::account_id(ctx)?;
    let found = T::find(&ctx.view.snapshot, &account_id, id).cloned();
    match &found {
        Some(target) => authorize(ctx, action, &target.target_arn(), target.tags(), keys)?,
        None => authorize(ctx, action, &T::missing_arn(&account_id, id), &[], keys)?,
    }
    found.ok_or_else(|| T::not_found(id))
}

/// Change the entity `id` names under the write lock: `edit` gets the
/// freshest copy (`NoSuchEntity` if it is gone meanwhile); the entity is
/// stored only if `edit` changed it.
pub(super) async fn change<T: Target, R>(
    ctx: &ActionContext<'_>,
    id: &str,
    edit: impl FnOnce(&View, &mut T) -> Result<R, AwsError>,
) -> Result<R, AwsError> {
    let account_id = common::account_id(ctx)?;
    ctx.core
        .commit(|view| {
            let current =
                T::find(&view.snapshot, &account_id, id).ok_or_else(|| T::not_found(id))?;
            let mut next = current.clone();
            let out = edit(view, &mut next)?;
            let mutations = if next == *current {
                Vec::new()
            } else {
                vec![Mutation::update(&next).map_err(encoding_failed)?]
            };
            Ok((mutations, out))
        })
        .await
}

/// Delete the entity `id` names under the write lock, once `check` (the
/// `DeleteConflict` rules) passed on the freshest view.
pub(super) async fn remove<T: Target>(
    ctx: &ActionContext<'_>,
    id: &str,
    check: impl FnOnce(&Snapshot, &T) -> Result<(), AwsError>,
) -> Result<(), AwsError> {
    let account_id = common::account_id(ctx)?;
    ctx.core
        .commit(|view| {
            let current =
                T::find(&view.snapshot, &account_id, id).ok_or_else(|| T::not_found(id))?;
            check(&view.snapshot, current)?;
            Ok((vec![Mutation::delete::<T>(current.key())], ()))
        })
        .await
}

/// Building a mutation failed: the entity did not encode (never expected).
pub(super) fn encoding_failed(error: mayfly_store::StoreError) -> AwsError {
    tracing::error!(%error, "encoding an entity for the store failed");
    AwsError::internal()
}

/// `DeleteConflict` "Cannot delete entity, must {what} first." (2, 4).
pub(super) fn must_first(what: &str) -> AwsError {
    common::delete_conflict(format!("Cannot delete entity, must {what} first."))
}

/// Delete{User,Role} is refused while inline policies remain or managed
/// policies are attached.
pub(super) fn check_no_policies<T: PolicyHolder>(target: &T) -> Result<(), AwsError> {
    if !target.inline_policies().is_empty() {
        return Err(must_first("delete policies"));
    }
    if !target.attached_policies().is_empty() {
        return Err(must_first("detach all policies"));
    }
    Ok(())
}

/// Items of a list kept in its own order (tags, attachments, versions)
/// with their positions as sort keys, for `common::paginate`.
pub(super) fn in_order<T>(items: impl Iterator<Item = T>) -> Vec<(String, T)> {
    items
        .enumerate()
        .map(|(i, item)| (format!("{i:06}"), item))
        .collect()
}

/// Read an optional enum member, checked against the model's values.
pub(super) fn read_enum(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
    member: &str,
    allowed: &[&str],
) -> Option<String> {
    let value = params.string(member);
    if let Some(text) = &value {
        v.enum_value(member, text, allowed);
    }
    value
}

/// `i64` for a count in XML.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// ---- Tags (1.3): TagUser/TagRole/TagPolicy and their Untag/List ----

/// Tag{User,Role,Policy}: add or replace tags; more than 50 in all is `LimitExceeded`.
pub(super) async fn tag_target<T: Target>(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let id = T::read_id(params, &mut v);
    let tags = common::read_tags(params, &mut v, T::CASE_INSENSITIVE_TAGS)?;
    let tags = v.required("Tags", tags);
    params.finish_unknown()?;
    v.into_result()?;
    let (id, tags) = (required(id)?, required(tags)?);
    load::<T>(ctx, action, &id, |rc| request_tag_keys(rc, &tags))?;
    change::<T, _>(ctx, &id, |_, target| {
        common::merge_tags(target.tags_mut(), tags, T::CASE_INSENSITIVE_TAGS)
    })
    .await?;
    no_output(ctx, action)
}

/// Untag{User,Role,Policy}: a key that is not present is not an error (1.3 [choice]).
pub(super) async fn untag_target<T: Target>(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let id = T::read_id(params, &mut v);
    let keys = common::read_tag_keys(params, &mut v)?;
    params.finish_unknown()?;
    v.into_result()?;
    let id = required(id)?;
    load::<T>(ctx, action, &id, |rc| {
        rc.set_multi("aws:TagKeys", keys.clone())
    })?;
    change::<T, _>(ctx, &id, |_, target| {
        target.tags_mut().retain(|tag| {
            !keys
                .iter()
                .any(|k| common::same_tag_key(k, &tag.key, T::CASE_INSENSITIVE_TAGS))
        });
        Ok(())
    })
    .await?;
    no_output(ctx, action)
}

/// List{User,Role,Policy}Tags: `Tags` (always present), paginated.
pub(super) fn list_target_tags<T: Target>(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let id = T::read_id(params, &mut v);
    let page = common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let target = load::<T>(ctx, action, &required(id)?, |_| {})?;
    let items = in_order(target.tags().iter().cloned());
    let (tags, next) = common::paginate(items, &page)?;
    let mut w = XmlWriter::response(action, IAM_NAMESPACE);
    common::write_tags(&mut w, &tags);
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}

// ---- Permissions boundaries (7) ----

/// Write `PermissionsBoundary` {`PermissionsBoundaryType`, `PermissionsBoundaryArn`} when set.
pub(super) fn write_boundary(w: &mut XmlWriter, boundary: Option<&str>) {
    if let Some(arn) = boundary {
        w.start("PermissionsBoundary");
        w.text("PermissionsBoundaryType", "PermissionsBoundaryPolicy");
        w.text("PermissionsBoundaryArn", arn);
        w.end("PermissionsBoundary");
    }
}

/// Read an optional `PermissionsBoundary` ARN (20–2048).
pub(super) fn read_boundary(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
    let boundary = params.string("PermissionsBoundary");
    if let Some(b) = &boundary {
        v.length("PermissionsBoundary", b, 20, 2048);
    }
    boundary
}

/// The managed policy `arn` if it can be attached (or used as a boundary)
/// in `account_id`: a customer managed policy of that account. Mayfly has
/// no AWS managed policies, so `arn:aws:iam::aws:policy/…` is never found.
pub(super) fn attachable<'s>(
    snapshot: &'s Snapshot,
    account_id: &str,
    arn: &str,
) -> Result<&'s ManagedPolicy, AwsError> {
    snapshot
        .policy(arn)
        .filter(|p| p.account_id == account_id)
        .ok_or_else(|| {
            common::no_such_entity(format!("Policy {arn} does not exist or is not attachable."))
        })
}

/// Put{User,Role}PermissionsBoundary: set or replace the boundary.
pub(super) async fn put_boundary<T: PolicyHolder>(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let id = T::read_id(params, &mut v);
    let boundary = read_boundary(params, &mut v);
    let boundary = v.required("PermissionsBoundary", boundary);
    params.finish_unknown()?;
    v.into_result()?;
    let (id, boundary) = (required(id)?, required(boundary)?);
    let account_id = common::account_id(ctx)?;
    load::<T>(ctx, action, &id, |rc| {
        rc.set("iam:PermissionsBoundary", boundary.clone())
    })?;
    change::<T, _>(ctx, &id, |view, target| {
        attachable(&view.snapshot, &account_id, &boundary)?;
        *target.permissions_boundary_mut() = Some(boundary.clone());
        Ok(())
    })
    .await?;
    no_output(ctx, action)
}

/// Delete{User,Role}PermissionsBoundary: removing an absent boundary succeeds.
pub(super) async fn delete_boundary<T: PolicyHolder>(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let id = T::read_id(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let id = required(id)?;
    let account_id = common::account_id(ctx)?;
    let current = T::find(&ctx.view.snapshot, &account_id, &id)
        .and_then(|t| t.permissions_boundary().map(str::to_owned));
    load::<T>(ctx, action, &id, |rc| {
        if let Some(arn) = &current {
            rc.set("iam:PermissionsBoundary", arn.clone());
        }
    })?;
    change::<T, _>(ctx, &id, |_, target| {
        *target.permissions_boundary_mut() = None;
        Ok(())
    })
    .await?;
    no_output(ctx, action)
}

// ---- Policy documents ----

/// Validate a policy document for storage as `kind`. A document over the
/// size quota is `too_large()` (409 `LimitExceeded` with the quota's own
/// message); any other fault is `MalformedPolicyDocument`. Sizes are
/// counted as the policy crate counts them, JSON white space outside
/// strings left out (policy-evaluation.md 2 [choice]).
pub(super) fn parse_document(
    text: &str,
    kind: PolicyKind,
    too_large: impl FnOnce() -> AwsError,
) -> Result<Policy, AwsError> {
    Policy::parse(text, kind).map_err(|error| document_error(error, too_large))
}

/// Validate a managed policy version: identity grammar, `Version`
/// 2012-10-17, at most 6,144 characters ("Cannot exceed quota for
/// PolicySize: 6144").
fn parse_managed(text: &str) -> Result<Policy, AwsError> {
    Policy::parse_managed(text).map_err(|error| {
        document_error(error, || {
            common::limit_exceeded(format!(
                "Cannot exceed quota for PolicySize: {}",
                mayfly_policy::MANAGED_POLICY_LIMIT
            ))
        })
    })
}

fn document_error(error: PolicyError, too_large: impl FnOnce() -> AwsError) -> AwsError {
    match error {
        PolicyError::TooLarge { .. } => too_large(),
        // read_policy_document's pattern check normally catches these first.
        PolicyError::InvalidCharacter { .. } => AwsError::validation_message(error.to_string()),
        // AWS's text, then the offending element (policy-evaluation.md 9).
        PolicyError::Malformed { .. } => AwsError::malformed_policy_document(error.wire_message()),
    }
}

// ---- Inline policies (5) ----

/// `LimitExceeded` for the aggregate inline size of a user or role.
fn inline_too_large<T: PolicyHolder>(name: &str) -> AwsError {
    common::limit_exceeded(format!(
        "Maximum policy size of {} bytes exceeded for {} {name}",
        T::INLINE_QUOTA,
        T::TYPE
    ))
}

fn inline_not_found<T: PolicyHolder>(policy_name: &str) -> AwsError {
    common::no_such_entity(format!(
        "The {} policy with name {policy_name} cannot be found.",
        T::TYPE
    ))
}

/// The quota size of a stored inline policy; the raw length for a document
/// that no longer parses (it cannot be measured better).
fn stored_size(view: &View, text: &str) -> usize {
    view.identity_policy(text).map_or(text.len(), |p| p.size())
}

/// Put{User,Role}Policy: create or replace an inline policy; the sum of the
/// entity's inline policies must stay within its quota. Inline policy names
/// compare exactly ([choice]: AWS does not say whether they are
/// case-insensitive).
pub(super) async fn put_inline_policy<T: PolicyHolder>(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let id = T::read_id(params, &mut v);
    let policy_name = common::read_name(params, &mut v, "PolicyName", 128);
    let document = common::read_policy_document(params, &mut v, "PolicyDocument");
    params.finish_unknown()?;
    v.into_result()?;
    let (id, policy_name, document) = (required(id)?, required(policy_name)?, required(document)?);
    let target = load::<T>(ctx, action, &id, |_| {})?;
    let size = parse_document(&document, PolicyKind::Identity, || {
        inline_too_large::<T>(target.name())
    })?
    .size();
    change::<T, _>(ctx, &id, |view, target| {
        let others: usize = target
            .inline_policies()
            .iter()
            .filter(|(name, _)| **name != policy_name)
            .map(|(_, doc)| stored_size(view, doc))
            .sum();
        if others.saturating_add(size) > T::INLINE_QUOTA {
            return Err(inline_too_large::<T>(target.name()));
        }
        target.inline_policies_mut().insert(policy_name, document);
        Ok(())
    })
    .await?;
    no_output(ctx, action)
}

/// Get{User,Role}Policy: the document percent-encoded as stored.
pub(super) fn get_inline_policy<T: PolicyHolder>(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let id = T::read_id(params, &mut v);
    let policy_name = common::read_name(params, &mut v, "PolicyName", 128);
    params.finish_unknown()?;
    v.into_result()?;
    let (id, policy_name) = (required(id)?, required(policy_name)?);
    let target = load::<T>(ctx, action, &id, |_| {})?;
    let document = target
        .inline_policies()
        .get(&policy_name)
        .ok_or_else(|| inline_not_found::<T>(&policy_name))?;
    let mut w = XmlWriter::response(action, IAM_NAMESPACE);
    w.text(T::ID_MEMBER, target.name());
    w.text("PolicyName", &policy_name);
    w.policy_document("PolicyDocument", document);
    Ok(w.finish(ctx.request_id))
}

/// List{User,Role}Policies: `PolicyNames` in name order, paginated.
pub(super) fn list_inline_policies<T: PolicyHolder>(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let id = T::read_id(params, &mut v);
    let page = common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let target = load::<T>(ctx, action, &required(id)?, |_| {})?;
    let items = target
        .inline_policies()
        .keys()
        .map(|name| (name.clone(), name.clone()))
        .collect();
    let (names, next) = common::paginate(items, &page)?;
    let mut w = XmlWriter::response(action, IAM_NAMESPACE);
    w.string_list("PolicyNames", &names);
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}

/// Delete{User,Role}Policy.
pub(super) async fn delete_inline_policy<T: PolicyHolder>(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let id = T::read_id(params, &mut v);
    let policy_name = common::read_name(params, &mut v, "PolicyName", 128);
    params.finish_unknown()?;
    v.into_result()?;
    let (id, policy_name) = (required(id)?, required(policy_name)?);
    load::<T>(ctx, action, &id, |_| {})?;
    change::<T, _>(ctx, &id, |_, target| {
        target
            .inline_policies_mut()
            .remove(&policy_name)
            .map(|_| ())
            .ok_or_else(|| inline_not_found::<T>(&policy_name))
    })
    .await?;
    no_output(ctx, action)
}

// ---- Attached managed policies (6) ----

/// Read the required `PolicyArn` (20–2048).
fn read_policy_arn(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
    let arn = v.required("PolicyArn", params.string("PolicyArn"));
    if let Some(a) = &arn {
        v.length("PolicyArn", a, 20, 2048);
    }
    arn
}

/// Read a `PathPrefix` of managed-policy paths (`policyPathType`, default `/`).
fn read_policy_path_prefix(params: &mut QueryParams, v: &mut ValidationErrors) -> String {
    let prefix = params
        .string("PathPrefix")
        .unwrap_or_else(|| "/".to_owned());
    v.length("PathPrefix", &prefix, 1, 512);
    v.pattern("PathPrefix", &prefix, Pattern::PolicyPath);
    prefix
}

/// Write a list of structures (`<list><member>…</member>…</list>`, or
/// `<list/>` when empty); `write` writes one whole member element.
pub(super) fn write_members<I>(
    w: &mut XmlWriter,
    list: &str,
    items: &[I],
    mut write: impl FnMut(&mut XmlWriter, &I),
) {
    if items.is_empty() {
        w.empty_list(list);
        return;
    }
    w.start(list);
    for item in items {
        write(w, item);
    }
    w.end(list);
}

/// Attach{User,Role}Policy: attaching an attached policy again is a no-op;
/// at most 10 per entity.
pub(super) async fn attach_policy<T: PolicyHolder>(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let id = T::read_id(params, &mut v);
    let policy_arn = read_policy_arn(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let (id, policy_arn) = (required(id)?, required(policy_arn)?);
    let account_id = common::account_id(ctx)?;
    load::<T>(ctx, action, &id, |rc| {
        rc.set("iam:PolicyARN", policy_arn.clone())
    })?;
    change::<T, _>(ctx, &id, |view, target| {
        attachable(&view.snapshot, &account_id, &policy_arn)?;
        let attached = target.attached_policies_mut();
        if attached.contains(&policy_arn) {
            return Ok(());
        }
        if attached.len() >= MAX_ATTACHED_POLICIES {
            return Err(common::limit_exceeded(format!(
                "Cannot exceed quota for {}: {MAX_ATTACHED_POLICIES}",
                T::ATTACHED_QUOTA
            )));
        }
        attached.push(policy_arn);
        Ok(())
    })
    .await?;
    no_output(ctx, action)
}

/// Detach{User,Role}Policy: `NoSuchEntity` when the policy is not attached.
pub(super) async fn detach_policy<T: PolicyHolder>(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let id = T::read_id(params, &mut v);
    let policy_arn = read_policy_arn(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let (id, policy_arn) = (required(id)?, required(policy_arn)?);
    load::<T>(ctx, action, &id, |rc| {
        rc.set("iam:PolicyARN", policy_arn.clone())
    })?;
    change::<T, _>(ctx, &id, |_, target| {
        let attached = target.attached_policies_mut();
        let i = attached
            .iter()
            .position(|a| *a == policy_arn)
            .ok_or_else(|| common::no_such_entity(format!("Policy {policy_arn} was not found.")))?;
        attached.remove(i);
        Ok(())
    })
    .await?;
    no_output(ctx, action)
}

/// ListAttached{User,Role}Policies: `AttachedPolicies` [{`PolicyName`,
/// `PolicyArn`}] in attachment order, filtered by policy path.
pub(super) fn list_attached_policies<T: PolicyHolder>(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let id = T::read_id(params, &mut v);
    let prefix = read_policy_path_prefix(params, &mut v);
    let page = common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let target = load::<T>(ctx, action, &required(id)?, |_| {})?;
    let snapshot = &ctx.view.snapshot;
    let items = target
        .attached_policies()
        .iter()
        .filter_map(|arn| {
            let (name, path) = match snapshot.policy(arn) {
                Some(p) => (p.name.clone(), p.path.clone()),
                None => {
                    let parsed = Arn::parse(arn)?;
                    (parsed.typed_name()?.1.to_owned(), parsed.path()?.to_owned())
                }
            };
            path.starts_with(&prefix).then(|| (name, arn.clone()))
        })
        .collect::<Vec<_>>();
    let items = in_order(items.into_iter());
    let (policies, next) = common::paginate(items, &page)?;
    let mut w = XmlWriter::response(action, IAM_NAMESPACE);
    write_members(&mut w, "AttachedPolicies", &policies, |w, (name, arn)| {
        w.start("member");
        w.text("PolicyName", name);
        w.text("PolicyArn", arn);
        w.end("member");
    });
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}

// ---- Customer managed policies (6) ----

impl Target for ManagedPolicy {
    const TYPE: &'static str = "policy";
    const ID_MEMBER: &'static str = "PolicyArn";
    const CASE_INSENSITIVE_TAGS: bool = false;

    fn read_id(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
        read_policy_arn(params, v)
    }

    fn find<'s>(snapshot: &'s Snapshot, account_id: &str, id: &str) -> Option<&'s Self> {
        snapshot.policy(id).filter(|p| p.account_id == account_id)
    }

    fn target_arn(&self) -> String {
        self.arn.clone()
    }

    fn missing_arn(_account_id: &str, id: &str) -> String {
        id.to_owned()
    }

    /// "Policy {arn} was not found.", or `InvalidInput` "ARN {arn} is not
    /// valid." for text that is not an IAM policy ARN.
    fn not_found(id: &str) -> AwsError {
        let is_policy_arn =
            Arn::parse(id).is_some_and(|a| a.service == "iam" && a.resource.starts_with("policy/"));
        if is_policy_arn {
            common::no_such_entity(format!("Policy {id} was not found."))
        } else {
            AwsError::new("InvalidInput", 400, format!("ARN {id} is not valid."))
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }

    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        &mut self.tags
    }
}

/// Write a `Policy` structure; `full` (CreatePolicy, GetPolicy) adds the
/// `Description` and `Tags` ListPolicies leaves out.
fn write_policy(
    w: &mut XmlWriter,
    element: &str,
    policy: &ManagedPolicy,
    usage: PolicyUsage,
    full: bool,
) {
    w.start(element);
    w.text("PolicyName", &policy.name);
    w.text("PolicyId", &policy.policy_id);
    w.text("Arn", &policy.arn);
    w.text("Path", &policy.path);
    w.text("DefaultVersionId", &policy.default_version_id);
    w.number("AttachmentCount", count(usage.attachment_count));
    w.number("PermissionsBoundaryUsageCount", count(usage.boundary_count));
    w.boolean("IsAttachable", true);
    if full {
        w.text_opt("Description", policy.description.as_deref());
    }
    w.timestamp("CreateDate", from_unix(policy.created_at));
    w.timestamp("UpdateDate", from_unix(policy.updated_at));
    if full && !policy.tags.is_empty() {
        common::write_tags(w, &policy.tags);
    }
    w.end(element);
}

/// Write a `PolicyVersion`; only GetPolicyVersion carries the `Document`.
fn write_version(
    w: &mut XmlWriter,
    element: &str,
    policy: &ManagedPolicy,
    version: &PolicyVersion,
    document: bool,
) {
    w.start(element);
    if document {
        w.policy_document("Document", &version.document);
    }
    w.text("VersionId", &version.version_id);
    w.boolean(
        "IsDefaultVersion",
        version.version_id == policy.default_version_id,
    );
    w.timestamp("CreateDate", from_unix(version.created_at));
    w.end(element);
}

fn version_not_found(arn: &str, version_id: &str) -> AwsError {
    common::no_such_entity(format!(
        "Policy {arn} version {version_id} does not exist or is not attachable."
    ))
}

/// Read the optional `PolicyUsageFilter`.
fn read_usage_filter(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
    read_enum(
        params,
        v,
        "PolicyUsageFilter",
        &["PermissionsPolicy", "PermissionsBoundary"],
    )
}

/// Read the required `VersionId` (`v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`).
fn read_version_id(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
    let id = v.required("VersionId", params.string("VersionId"));
    if let Some(i) = &id {
        v.pattern("VersionId", i, Pattern::PolicyVersionId);
    }
    id
}

/// CreatePolicy: version `v1` is the default; the description cannot be
/// changed later (1.1).
pub(crate) async fn create_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = common::read_name(params, &mut v, "PolicyName", 128);
    let path = params.string("Path").unwrap_or_else(|| "/".to_owned());
    v.length("Path", &path, 1, 512);
    v.pattern("Path", &path, Pattern::PolicyPath);
    let document = common::read_policy_document(params, &mut v, "PolicyDocument");
    let description = params.string("Description");
    if let Some(d) = &description {
        v.length("Description", d, 0, 1000);
    }
    let tags = common::read_tags(params, &mut v, false)?.unwrap_or_default();
    params.finish_unknown()?;
    v.into_result()?;
    let (name, document) = (required(name)?, required(document)?);
    let account_id = common::account_id(ctx)?;
    let arn = ManagedPolicy::arn_for(&account_id, &path, &name);
    authorize(ctx, "CreatePolicy", &arn, &[], |rc| {
        request_tag_keys(rc, &tags)
    })?;
    parse_managed(&document)?;
    let policy_id =
        mayfly_token::unique_id("ANPA", &ctx.core.rng).map_err(|_| AwsError::internal())?;
    let now = common::now(ctx);
    let policy = ctx
        .core
        .commit(|view| {
            if view.snapshot.policy_by_name(&account_id, &name).is_some() {
                return Err(common::already_exists(format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                )));
            }
            let policy = ManagedPolicy {
                account_id: account_id.clone(),
                name: name.clone(),
                path: path.clone(),
                policy_id,
                arn: arn.clone(),
                description: description.filter(|d| !d.is_empty()),
                created_at: now,
                updated_at: now,
                default_version_id: "v1".to_owned(),
                versions: vec![PolicyVersion {
                    version_id: "v1".to_owned(),
                    document,
                    created_at: now,
                }],
                next_version: 2,
                tags,
            };
            Ok((
                vec![Mutation::insert(&policy).map_err(encoding_failed)?],
                policy,
            ))
        })
        .await?;
    let mut w = XmlWriter::response("CreatePolicy", IAM_NAMESPACE);
    write_policy(&mut w, "Policy", &policy, PolicyUsage::default(), true);
    Ok(w.finish(ctx.request_id))
}

/// GetPolicy: with the current attachment and boundary counts.
pub(crate) fn get_policy(ctx: &mut ActionContext<'_>, params: &mut QueryParams) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = read_policy_arn(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let policy = load::<ManagedPolicy>(ctx, "GetPolicy", &required(arn)?, |_| {})?;
    let usage = ctx.view.snapshot.policy_usage(&policy.arn);
    let mut w = XmlWriter::response("GetPolicy", IAM_NAMESPACE);
    write_policy(&mut w, "Policy", &policy, usage, true);
    Ok(w.finish(ctx.request_id))
}

/// ListPolicies. Mayfly has no AWS managed policies, so `Scope=AWS` is
/// empty. `OnlyAttached` keeps policies attached as permissions policies,
/// or with `PolicyUsageFilter=PermissionsBoundary` those used as a
/// boundary; without `OnlyAttached` the filter keeps every customer
/// managed policy, as each can serve both ways ([choice]).
pub(crate) fn list_policies(ctx: &mut ActionContext<'_>, params: &mut QueryParams) -> ActionResult {
    let mut v = ValidationErrors::new();
    let scope = read_enum(params, &mut v, "Scope", &["All", "AWS", "Local"]);
    let only_attached = params.boolean("OnlyAttached", &mut v).unwrap_or(false);
    let prefix = read_policy_path_prefix(params, &mut v);
    let usage_filter = read_usage_filter(params, &mut v);
    let page = common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let account_id = common::account_id(ctx)?;
    authorize(
        ctx,
        "ListPolicies",
        &crate::arn::iam_arn(&account_id, "policy", "/", ""),
        &[],
        |_| {},
    )?;
    let snapshot = &ctx.view.snapshot;
    let as_boundary = usage_filter.as_deref() == Some("PermissionsBoundary");
    let items: Vec<(String, (ManagedPolicy, PolicyUsage))> = if scope.as_deref() == Some("AWS") {
        Vec::new()
    } else {
        snapshot
            .policies_in(&account_id)
            .filter(|p| p.path.starts_with(&prefix))
            .map(|p| (p, snapshot.policy_usage(&p.arn)))
            .filter(|(_, usage)| {
                !only_attached
                    || if as_boundary {
                        usage.boundary_count > 0
                    } else {
                        usage.attachment_count > 0
                    }
            })
            .map(|(p, usage)| (p.name.to_lowercase(), (p.clone(), usage)))
            .collect()
    };
    let (policies, next) = common::paginate(items, &page)?;
    let mut w = XmlWriter::response("ListPolicies", IAM_NAMESPACE);
    write_members(&mut w, "Policies", &policies, |w, (policy, usage)| {
        write_policy(w, "member", policy, *usage, false);
    });
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}

/// DeletePolicy: refused while attached or used as a boundary, or while
/// versions other than the default remain.
pub(crate) async fn delete_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = read_policy_arn(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let arn = required(arn)?;
    load::<ManagedPolicy>(ctx, "DeletePolicy", &arn, |_| {})?;
    remove::<ManagedPolicy>(ctx, &arn, |snapshot, policy| {
        let usage = snapshot.policy_usage(&policy.arn);
        if usage.attachment_count > 0 || usage.boundary_count > 0 {
            return Err(common::delete_conflict("Cannot delete a policy attached to entities."));
        }
        if policy.versions.len() > 1 {
            return Err(common::delete_conflict(
                "This policy has more than one version. Before you delete a policy, you must delete \
                 the policy's versions. The default version is deleted with the policy.",
            ));
        }
        Ok(())
    })
    .await?;
    no_output(ctx, "DeletePolicy")
}

/// CreatePolicyVersion: at most 5 versions; numbers are never reused.
/// `UpdateDate` becomes the new version's date (the model's definition).
pub(crate) async fn create_policy_version(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = read_policy_arn(params, &mut v);
    let document = common::read_policy_document(params, &mut v, "PolicyDocument");
    let set_as_default = params.boolean("SetAsDefault", &mut v).unwrap_or(false);
    params.finish_unknown()?;
    v.into_result()?;
    let (arn, document) = (required(arn)?, required(document)?);
    load::<ManagedPolicy>(ctx, "CreatePolicyVersion", &arn, |_| {})?;
    parse_managed(&document)?;
    let now = common::now(ctx);
    let (policy, version) = change::<ManagedPolicy, _>(ctx, &arn, |_, policy| {
        if policy.versions.len() >= MAX_POLICY_VERSIONS {
            return Err(common::limit_exceeded(
                "A managed policy can have up to 5 versions. Before you create a new version, you \
                 must delete an existing version.",
            ));
        }
        let version = PolicyVersion {
            version_id: format!("v{}", policy.next_version),
            document,
            created_at: now,
        };
        policy.next_version = policy.next_version.saturating_add(1);
        if set_as_default {
            policy.default_version_id.clone_from(&version.version_id);
        }
        policy.updated_at = now;
        policy.versions.push(version.clone());
        Ok((policy.clone(), version))
    })
    .await?;
    let mut w = XmlWriter::response("CreatePolicyVersion", IAM_NAMESPACE);
    write_version(&mut w, "PolicyVersion", &policy, &version, false);
    Ok(w.finish(ctx.request_id))
}

/// GetPolicyVersion: the `Document` percent-encoded as stored.
pub(crate) fn get_policy_version(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = read_policy_arn(params, &mut v);
    let version_id = read_version_id(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let (arn, version_id) = (required(arn)?, required(version_id)?);
    let policy = load::<ManagedPolicy>(ctx, "GetPolicyVersion", &arn, |_| {})?;
    let version = policy
        .version(&version_id)
        .ok_or_else(|| version_not_found(&arn, &version_id))?;
    let mut w = XmlWriter::response("GetPolicyVersion", IAM_NAMESPACE);
    write_version(&mut w, "PolicyVersion", &policy, version, true);
    Ok(w.finish(ctx.request_id))
}

/// ListPolicyVersions: newest first, as AWS lists them; no `Document`.
pub(crate) fn list_policy_versions(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = read_policy_arn(params, &mut v);
    let page = common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let policy = load::<ManagedPolicy>(ctx, "ListPolicyVersions", &required(arn)?, |_| {})?;
    let items = in_order(policy.versions.iter().rev().cloned());
    let (versions, next) = common::paginate(items, &page)?;
    let mut w = XmlWriter::response("ListPolicyVersions", IAM_NAMESPACE);
    write_members(&mut w, "Versions", &versions, |w, version| {
        write_version(w, "member", &policy, version, false);
    });
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}

/// DeletePolicyVersion: never the default version.
pub(crate) async fn delete_policy_version(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = read_policy_arn(params, &mut v);
    let version_id = read_version_id(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let (arn, version_id) = (required(arn)?, required(version_id)?);
    load::<ManagedPolicy>(ctx, "DeletePolicyVersion", &arn, |_| {})?;
    change::<ManagedPolicy, _>(ctx, &arn, |_, policy| {
        let i = policy
            .versions
            .iter()
            .position(|version| version.version_id == version_id)
            .ok_or_else(|| version_not_found(&arn, &version_id))?;
        if policy.default_version_id == version_id {
            return Err(common::delete_conflict(
                "Cannot delete the default version of a policy.",
            ));
        }
        policy.versions.remove(i);
        Ok(())
    })
    .await?;
    no_output(ctx, "DeletePolicyVersion")
}

/// SetDefaultPolicyVersion: the version in force for every attachment.
pub(crate) async fn set_default_policy_version(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = read_policy_arn(params, &mut v);
    let version_id = read_version_id(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let (arn, version_id) = (required(arn)?, required(version_id)?);
    load::<ManagedPolicy>(ctx, "SetDefaultPolicyVersion", &arn, |_| {})?;
    let now = common::now(ctx);
    change::<ManagedPolicy, _>(ctx, &arn, |_, policy| {
        if policy.version(&version_id).is_none() {
            return Err(version_not_found(&arn, &version_id));
        }
        if policy.default_version_id != version_id {
            policy.default_version_id = version_id;
            policy.updated_at = now;
        }
        Ok(())
    })
    .await?;
    no_output(ctx, "SetDefaultPolicyVersion")
}

/// The three lists of ListEntitiesForPolicy: list element, name and id members.
const POLICY_ENTITY_LISTS: [(&str, &str, &str); 3] = [
    ("PolicyGroups", "GroupName", "GroupId"),
    ("PolicyUsers", "UserName", "UserId"),
    ("PolicyRoles", "RoleName", "RoleId"),
];

/// ListEntitiesForPolicy: groups, users and roles using the policy as a
/// permissions policy and/or (users, roles) as boundary, by
/// `PolicyUsageFilter`; `EntityFilter` `LocalManagedPolicy` and
/// `AWSManagedPolicy` match no entity. Pages run over groups, then users,
/// then roles, each by name.
pub(crate) fn list_entities_for_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = read_policy_arn(params, &mut v);
    let entity_filter = read_enum(
        params,
        &mut v,
        "EntityFilter",
        &[
            "User",
            "Role",
            "Group",
            "LocalManagedPolicy",
            "AWSManagedPolicy",
        ],
    );
    let prefix = common::read_path_prefix(params, &mut v);
    let usage_filter = read_usage_filter(params, &mut v);
    let page = common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let policy = load::<ManagedPolicy>(ctx, "ListEntitiesForPolicy", &required(arn)?, |_| {})?;
    let snapshot = &ctx.view.snapshot;
    let wants = |kind: &str| entity_filter.as_deref().is_none_or(|f| f == kind);
    let as_permissions = usage_filter.as_deref() != Some("PermissionsBoundary");
    let as_boundary = usage_filter.as_deref() != Some("PermissionsPolicy");
    let uses = |attached: &[String], boundary: Option<&str>| {
        (as_permissions && attached.contains(&policy.arn))
            || (as_boundary && boundary == Some(policy.arn.as_str()))
    };
    // (index into POLICY_ENTITY_LISTS, name, unique id)
    let mut entities: Vec<(usize, String, String)> = Vec::new();
    if wants("Group") {
        entities.extend(
            snapshot
                .groups_in(&policy.account_id)
                .filter(|g| g.path.starts_with(&prefix) && uses(&g.attached_policies, None))
                .map(|g| (0, g.name.clone(), g.group_id.clone())),
        );
    }
    if wants("User") {
        entities.extend(
            snapshot
                .users_in(&policy.account_id)
                .filter(|u| {
                    u.path.starts_with(&prefix)
                        && uses(&u.attached_policies, u.permissions_boundary.as_deref())
                })
                .map(|u| (1, u.name.clone(), u.user_id.clone())),
        );
    }
    if wants("Role") {
        entities.extend(
            snapshot
                .roles_in(&policy.account_id)
                .filter(|r| {
                    r.path.starts_with(&prefix)
                        && uses(&r.attached_policies, r.permissions_boundary.as_deref())
                })
                .map(|r| (2, r.name.clone(), r.role_id.clone())),
        );
    }
    let items = in_order(entities.into_iter());
    let (entities, next) = common::paginate(items, &page)?;
    let mut w = XmlWriter::response("ListEntitiesForPolicy", IAM_NAMESPACE);
    for (kind, (list, name_member, id_member)) in POLICY_ENTITY_LISTS.iter().enumerate() {
        let of_kind: Vec<&(usize, String, String)> =
            entities.iter().filter(|e| e.0 == kind).collect();
        write_members(&mut w, list, &of_kind, |w, (_, name, id)| {
            w.start("member");
            w.text(name_member, name);
            w.text(id_member, id);
            w.end("member");
        });
    }
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}

/// TagPolicy (keys case-sensitive).
pub(crate) async fn tag_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    tag_target::<ManagedPolicy>(ctx, params, "TagPolicy").await
}

/// UntagPolicy.
pub(crate) async fn untag_policy(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    untag_target::<ManagedPolicy>(ctx, params, "UntagPolicy").await
}

/// ListPolicyTags.
pub(crate) fn list_policy_tags(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    list_target_tags::<ManagedPolicy>(ctx, params, "ListPolicyTags")
}
