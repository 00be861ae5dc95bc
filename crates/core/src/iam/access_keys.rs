//! Long-term access keys (`AKIA…`) of IAM users and of the account root
//! (iam-admin-api.md 3). The secret is returned by CreateAccessKey only and
//! stored sealed under the master key.

use mayfly_store::{AccessKey, AccessKeyStatus, Mutation, User};
use mayfly_token::SecretKey;
use mayfly_wire::{AwsError, IAM_NAMESPACE, Pattern, QueryParams, ValidationErrors, XmlWriter};

use super::common::{self, Owner};
use super::policies::{self, Target, encoding_failed, required};
use crate::clock::from_unix;
use crate::{ActionContext, ActionResult};

/// Access keys per user, and for the root (iam-admin-api.md 14).
const MAX_KEYS_PER_OWNER: usize = 2;

/// Read the required `AccessKeyId` (16–128, `[\w]+`).
fn read_access_key_id(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
    let id = v.required("AccessKeyId", params.string("AccessKeyId"));
    if let Some(i) = &id {
        v.length("AccessKeyId", i, 16, 128);
        v.pattern("AccessKeyId", i, Pattern::AccessKeyId);
    }
    id
}

fn key_not_found(access_key_id: &str) -> AwsError {
    common::no_such_entity(format!(
        "The Access Key with id {access_key_id} cannot be found"
    ))
}

/// The key `access_key_id` of `owner` in the freshest view, or `NoSuchEntity`.
fn owned_key<'s>(
    snapshot: &'s mayfly_store::Snapshot,
    owner: &Owner,
    access_key_id: &str,
) -> Result<&'s AccessKey, AwsError> {
    snapshot
        .access_key(access_key_id)
        .filter(|key| owner.is(&key.account_id, key.user_name.as_deref()))
        .ok_or_else(|| key_not_found(access_key_id))
}

/// CreateAccessKey: at most 2 keys per user and for the root ("Cannot
/// exceed quota for AccessKeysPerUser: 2"). A root caller without
/// `UserName` gets a new root key; root keys are answered without
/// `UserName` ([unverified]: what AWS puts there for the root).
pub(crate) async fn create_access_key(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let user_name = common::read_optional_user_name(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let owner = common::owner(ctx, "CreateAccessKey", user_name)?;
    let access_key_id = mayfly_token::long_term_access_key_id(&owner.account_id, &ctx.core.rng)
        .map_err(|_| AwsError::internal())?;
    let secret = SecretKey::generate(&ctx.core.rng).map_err(|_| AwsError::internal())?;
    let now = common::now(ctx);
    let key = crate::admin::seal_access_key(
        &ctx.core.master_key,
        &access_key_id,
        &owner.account_id,
        owner.user_name.as_deref(),
        &secret,
        now,
        &ctx.core.rng,
    )
    .map_err(|error| {
        tracing::error!(%error, "sealing a new access key failed");
        AwsError::internal()
    })?;
    ctx.core
        .commit(|view| {
            let snapshot = &view.snapshot;
            if let Some(name) = &owner.user_name
                && snapshot.user(&owner.account_id, name).is_none()
            {
                return Err(User::not_found(name));
            }
            if snapshot
                .access_keys_of(&owner.account_id, owner.user_name.as_deref())
                .count()
                >= MAX_KEYS_PER_OWNER
            {
                return Err(common::limit_exceeded(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_OWNER}"
                )));
            }
            Ok((vec![Mutation::insert(&key).map_err(encoding_failed)?], ()))
        })
        .await?;
    ctx.issued_access_key_id = Some(access_key_id.clone());
    let mut w = XmlWriter::response("CreateAccessKey", IAM_NAMESPACE);
    w.start("AccessKey");
    w.text_opt("UserName", owner.user_name.as_deref());
    w.text("AccessKeyId", &access_key_id);
    w.text("Status", AccessKeyStatus::Active.as_str());
    w.text("SecretAccessKey", secret.as_str());
    w.timestamp("CreateDate", from_unix(now));
    w.end("AccessKey");
    Ok(w.finish(ctx.request_id))
}

/// ListAccessKeys: `AccessKeyMetadata` oldest first, never secrets.
pub(crate) fn list_access_keys(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let user_name = common::read_optional_user_name(params, &mut v);
    let page = common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let owner = common::owner(ctx, "ListAccessKeys", user_name)?;
    let items = ctx
        .view
        .snapshot
        .access_keys_of(&owner.account_id, owner.user_name.as_deref())
        .cloned();
    let items = policies::in_order(items);
    let (keys, next) = common::paginate(items, &page)?;
    let mut w = XmlWriter::response("ListAccessKeys", IAM_NAMESPACE);
    policies::write_members(&mut w, "AccessKeyMetadata", &keys, |w, key| {
        w.start("member");
        w.text_opt("UserName", key.user_name.as_deref());
        w.text("AccessKeyId", &key.access_key_id);
        w.text("Status", key.status.as_str());
        w.timestamp("CreateDate", from_unix(key.created_at));
        w.end("member");
    });
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}

/// UpdateAccessKey: `Active` or `Inactive` (an inactive key fails
/// authentication with `InvalidClientTokenId`).
pub(crate) async fn update_access_key(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let user_name = common::read_optional_user_name(params, &mut v);
    let access_key_id = read_access_key_id(params, &mut v);
    let status = policies::read_enum(params, &mut v, "Status", &["Active", "Inactive"]);
    let status = v.required("Status", status);
    params.finish_unknown()?;
    v.into_result()?;
    let access_key_id = required(access_key_id)?;
    let status = match required(status)?.as_str() {
        "Active" => AccessKeyStatus::Active,
        _ => AccessKeyStatus::Inactive,
    };
    let owner = common::owner(ctx, "UpdateAccessKey", user_name)?;
    ctx.core
        .commit(|view| {
            let key = owned_key(&view.snapshot, &owner, &access_key_id)?;
            if key.status == status {
                return Ok((Vec::new(), ()));
            }
            let mut key = key.clone();
            key.status = status;
            Ok((vec![Mutation::update(&key).map_err(encoding_failed)?], ()))
        })
        .await?;
    policies::no_output(ctx, "UpdateAccessKey")
}

/// DeleteAccessKey.
pub(crate) async fn delete_access_key(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let user_name = common::read_optional_user_name(params, &mut v);
    let access_key_id = read_access_key_id(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let access_key_id = required(access_key_id)?;
    let owner = common::owner(ctx, "DeleteAccessKey", user_name)?;
    ctx.core
        .commit(|view| {
            let key = owned_key(&view.snapshot, &owner, &access_key_id)?;
            Ok((
                vec![Mutation::delete::<AccessKey>(key.access_key_id.clone())],
                (),
            ))
        })
        .await?;
    policies::no_output(ctx, "DeleteAccessKey")
}

/// GetAccessKeyLastUsed: `ServiceName` and `Region` are `N/A` for a key
/// never used. A key of another account, or none, is `NoSuchEntity`
/// ([choice]; key ids are unguessable, so answering before authorization
/// reveals nothing); otherwise `iam:GetAccessKeyLastUsed` is authorized on
/// the owning user (or the root).
pub(crate) fn get_access_key_last_used(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let access_key_id = read_access_key_id(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let access_key_id = required(access_key_id)?;
    let account_id = common::account_id(ctx)?;
    let key = ctx
        .view
        .snapshot
        .access_key(&access_key_id)
        .filter(|k| k.account_id == account_id)
        .cloned()
        .ok_or_else(|| key_not_found(&access_key_id))?;
    match &key.user_name {
        Some(name) => {
            policies::load::<User>(ctx, "GetAccessKeyLastUsed", name, |_| {})?;
        }
        None => {
            policies::authorize(
                ctx,
                "GetAccessKeyLastUsed",
                &crate::arn::root_arn(&account_id),
                &[],
                |_| {},
            )?;
        }
    }
    let mut w = XmlWriter::response("GetAccessKeyLastUsed", IAM_NAMESPACE);
    w.text_opt("UserName", key.user_name.as_deref());
    w.start("AccessKeyLastUsed");
    match &key.last_used {
        Some(used) => {
            w.timestamp("LastUsedDate", from_unix(used.at));
            w.text("ServiceName", &used.service);
            w.text("Region", used.region.as_deref().unwrap_or("N/A"));
        }
        None => {
            w.text("ServiceName", "N/A");
            w.text("Region", "N/A");
        }
    }
    w.end("AccessKeyLastUsed");
    Ok(w.finish(ctx.request_id))
}
