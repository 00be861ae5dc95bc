//! What every IAM action shares: who may call IAM at all, authorization of
//! `iam:*` on a target ARN, pagination, tags, and the XML of the common
//! structures.

use mayfly_store::Tag;
use mayfly_wire::{AwsError, Pattern, QueryParams, ValidationErrors, XmlWriter};

use crate::ActionContext;
use crate::auth::Caller;
use crate::authz;

/// The caller of an IAM action (always authenticated: IAM has no unsigned actions).
pub(crate) fn caller<'c>(ctx: &'c ActionContext<'_>) -> Result<&'c Caller, AwsError> {
    ctx.caller
        .as_deref()
        .ok_or_else(AwsError::missing_authentication_token)
}

/// Credentials that may not call IAM at all (sts-api.md 9.4, 9.5):
/// GetSessionToken credentials without MFA get `InvalidClientTokenId`
/// (AWS's quirk), GetFederationToken credentials `AccessDenied`.
pub(crate) fn check_iam_caller(ctx: &ActionContext<'_>) -> Result<(), AwsError> {
    let caller = caller(ctx)?;
    if let Some(claims) = caller.claims() {
        match &claims.principal {
            mayfly_token::SessionPrincipal::User { .. } | mayfly_token::SessionPrincipal::Root
                if claims.mfa_authenticated_at.is_none() =>
            {
                return Err(AwsError::new(
                    "InvalidClientTokenId",
                    403,
                    "The security token included in the request is invalid",
                ));
            }
            mayfly_token::SessionPrincipal::FederatedUser { .. } => {
                return Err(AwsError::access_denied(format!(
                    "User: {} is not authorized to call IAM with federated-user credentials",
                    caller.arn
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Authorize `action` (e.g. `iam:CreateUser`) on `resource` for the caller;
/// AccessDenied in AWS's words otherwise.
pub(crate) fn authorize(
    ctx: &ActionContext<'_>,
    action: &str,
    resource: &str,
) -> Result<(), AwsError> {
    let caller = caller(ctx)?;
    authz::authorize_caller(ctx, caller, action, resource, |_| {})
}

/// `arn:aws:iam::{account}:{kind}{path}{name}` in the caller's account.
pub(crate) fn arn_in_caller_account(
    ctx: &ActionContext<'_>,
    kind: &str,
    path: &str,
    name: &str,
) -> Result<String, AwsError> {
    Ok(crate::arn::iam_arn(
        &caller(ctx)?.account_id,
        kind,
        path,
        name,
    ))
}

/// The account every IAM action of this request acts in.
pub(crate) fn account_id(ctx: &ActionContext<'_>) -> Result<String, AwsError> {
    Ok(caller(ctx)?.account_id.clone())
}

/// Whose credentials an action is about (access keys, MFA devices): an
/// IAM user or the account root.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    pub account_id: String,
    /// The user (display case); `None` for the account root.
    pub user_name: Option<String>,
}

impl Owner {
    /// Whether the credential of `account_id` held by `user_name` (`None`:
    /// the root) is this owner's; user names compare case-insensitively.
    pub(crate) fn is(&self, account_id: &str, user_name: Option<&str>) -> bool {
        self.account_id == account_id
            && match (&self.user_name, user_name) {
                (None, None) => true,
                (Some(a), Some(b)) => a.to_lowercase() == b.to_lowercase(),
                _ => false,
            }
    }
}

/// Read the optional `UserName` (`existingUserNameType`: 1–128).
pub(crate) fn read_optional_user_name(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
) -> Option<String> {
    let name = params.string("UserName");
    if let Some(n) = &name {
        v.length("UserName", n, 1, 128);
        v.pattern("UserName", n, Pattern::Name);
    }
    name
}

/// The owner `UserName` names, or when omitted the caller: an IAM user (or
/// its session) acts on its own credentials, the root on the root's; other
/// callers must name the user ("Must specify userName when calling with
/// non-User credentials", as GetUser). `iam:{action}` is authorized on the
/// owner's ARN; a named user that does not exist is `NoSuchEntity`.
pub(crate) fn owner(
    ctx: &ActionContext<'_>,
    action: &str,
    user_name: Option<String>,
) -> Result<Owner, AwsError> {
    let caller = caller(ctx)?;
    let account_id = caller.account_id.clone();
    let name = match user_name {
        Some(name) => name,
        None => match caller.user_name() {
            Some(name) => name.to_owned(),
            None if caller.is_root() => {
                super::policies::authorize(
                    ctx,
                    action,
                    &crate::arn::root_arn(&account_id),
                    &[],
                    |_| {},
                )?;
                return Ok(Owner {
                    account_id,
                    user_name: None,
                });
            }
            None => {
                return Err(AwsError::validation_message(
                    "Must specify userName when calling with non-User credentials",
                ));
            }
        },
    };
    let user = super::policies::load::<mayfly_store::User>(ctx, action, &name, |_| {})?;
    Ok(Owner {
        account_id,
        user_name: Some(user.name),
    })
}

/// `Marker` / `MaxItems` (iam-admin-api.md 1.2).
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// Where to resume: the sort key of the first item to return.
    pub marker: Option<String>,
    /// How many items at most (1–1000, default 100).
    pub max_items: usize,
}

/// Read `Marker` and `MaxItems`.
pub(crate) fn read_page(params: &mut QueryParams, v: &mut ValidationErrors) -> Page {
    let marker = params.string("Marker");
    if let Some(m) = &marker {
        v.length("Marker", m, 1, 320);
    }
    let max = params.integer("MaxItems", v);
    if let Some(n) = max {
        v.range("MaxItems", n, 1, 1000);
    }
    Page {
        marker,
        max_items: max
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(100)
            .clamp(1, 1000),
    }
}

/// One page of `items` (already in sort order, with their sort keys):
/// returns the page and the marker of the next page when truncated.
/// The marker is the next item's sort key, hex-encoded so it is opaque and
/// safe in XML; an unknown or malformed marker is `ValidationError`
/// "Invalid Marker." (1.2 [choice]).
pub(crate) fn paginate<T>(
    items: Vec<(String, T)>,
    page: &Page,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let start = match &page.marker {
        None => 0,
        Some(marker) => {
            let key = decode_marker(marker).ok_or_else(invalid_marker)?;
            items
                .iter()
                .position(|(k, _)| *k >= key)
                .unwrap_or(items.len())
        }
    };
    let mut rest = items.into_iter().skip(start);
    let mut out = Vec::new();
    for _ in 0..page.max_items {
        match rest.next() {
            Some((_, item)) => out.push(item),
            None => return Ok((out, None)),
        }
    }
    Ok((out, rest.next().map(|(key, _)| encode_marker(&key))))
}

fn invalid_marker() -> AwsError {
    AwsError::validation_message("Invalid Marker.")
}

fn encode_marker(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_marker(marker: &str) -> Option<String> {
    if !marker.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..marker.len())
        .step_by(2)
        .map(|i| {
            marker
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    String::from_utf8(bytes?).ok()
}

/// Write `IsTruncated` and `Marker`.
pub(crate) fn write_page_end(w: &mut XmlWriter, next: Option<&str>) {
    w.boolean("IsTruncated", next.is_some());
    w.text_opt("Marker", next);
}

/// Read `PathPrefix` (default `/`).
pub(crate) fn read_path_prefix(params: &mut QueryParams, v: &mut ValidationErrors) -> String {
    let prefix = params
        .string("PathPrefix")
        .unwrap_or_else(|| "/".to_owned());
    v.length("PathPrefix", &prefix, 1, 512);
    v.pattern("PathPrefix", &prefix, Pattern::PathPrefix);
    prefix
}

/// Read IAM `Tags.member.N.Key/Value` (1.3): ≤ 50, formats, no `aws:` prefix,
/// no duplicate keys (case-insensitive when `case_insensitive`).
pub(crate) fn read_tags(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
    case_insensitive: bool,
) -> Result<Option<Vec<Tag>>, AwsError> {
    let Some(items) = params.struct_list("Tags", &["Key", "Value"])? else {
        return Ok(None);
    };
    v.list_length("Tags", items.len(), 0, 50);
    let mut tags = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let mut fields = item.into_iter();
        let key_path = mayfly_wire::list_member_path("Tags", i + 1, Some("Key"));
        let value_path = mayfly_wire::list_member_path("Tags", i + 1, Some("Value"));
        let key = v.required(&key_path, fields.next().flatten());
        let value = v.required(&value_path, fields.next().flatten());
        let (Some(key), Some(value)) = (key, value) else {
            continue;
        };
        v.length(&key_path, &key, 1, 128);
        v.pattern(&key_path, &key, Pattern::TagKey);
        v.length(&value_path, &value, 0, 256);
        v.pattern(&value_path, &value, Pattern::TagValue);
        tags.push(Tag { key, value });
    }
    for (i, tag) in tags.iter().enumerate() {
        if tag
            .key
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
        {
            return Err(AwsError::new(
                "InvalidInput",
                400,
                "Tag keys cannot begin with the reserved prefix `aws:`.",
            ));
        }
        if tags[..i]
            .iter()
            .any(|t| same_tag_key(&t.key, &tag.key, case_insensitive))
        {
            return Err(AwsError::new(
                "InvalidInput",
                400,
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(Some(tags))
}

/// Whether two tag keys are the same key.
pub(crate) fn same_tag_key(a: &str, b: &str, case_insensitive: bool) -> bool {
    if case_insensitive {
        a.to_lowercase() == b.to_lowercase()
    } else {
        a == b
    }
}

/// Merge `new` tags into `existing` (a new value replaces an old one with
/// the same key); more than 50 in all is `LimitExceeded`.
pub(crate) fn merge_tags(
    existing: &mut Vec<Tag>,
    new: Vec<Tag>,
    case_insensitive: bool,
) -> Result<(), AwsError> {
    for tag in new {
        match existing
            .iter_mut()
            .find(|t| same_tag_key(&t.key, &tag.key, case_insensitive))
        {
            Some(old) => *old = tag,
            None => existing.push(tag),
        }
    }
    if existing.len() > 50 {
        return Err(AwsError::new(
            "LimitExceeded",
            409,
            "The number of tags has reached the maximum limit of 50.",
        ));
    }
    Ok(())
}

/// Read `TagKeys.member.N` for Untag* actions.
pub(crate) fn read_tag_keys(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
) -> Result<Vec<String>, AwsError> {
    let keys = v
        .required("TagKeys", params.list("TagKeys")?)
        .unwrap_or_default();
    v.list_length("TagKeys", keys.len(), 0, 50);
    for (i, key) in keys.iter().enumerate() {
        let path = format!("tagKeys.{}.member", i + 1);
        v.length(&path, key, 1, 128);
        v.pattern(&path, key, Pattern::TagKey);
    }
    Ok(keys)
}

/// Write `<Tags>` with one member per tag (an empty element when none).
pub(crate) fn write_tags(w: &mut XmlWriter, tags: &[Tag]) {
    if tags.is_empty() {
        w.empty_list("Tags");
        return;
    }
    w.start("Tags");
    for tag in tags {
        w.start("member");
        w.text("Key", &tag.key);
        w.text("Value", &tag.value);
        w.end("member");
    }
    w.end("Tags");
}

/// Validate an entity name parameter (1.1): required, 1–`max`, `[\w+=,.@-]+`.
pub(crate) fn read_name(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
    member: &str,
    max: usize,
) -> Option<String> {
    let name = v.required(member, params.string(member));
    if let Some(n) = &name {
        v.length(member, n, 1, max);
        v.pattern(member, n, Pattern::Name);
    }
    name
}

/// Validate an entity `Path` (users/roles), default `/`.
pub(crate) fn read_path(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
    member: &str,
) -> String {
    let path = params.string(member).unwrap_or_else(|| "/".to_owned());
    v.length(member, &path, 1, 512);
    v.pattern(member, &path, Pattern::Path);
    path
}

/// `NoSuchEntity` (404) with AWS's message.
pub(crate) fn no_such_entity(message: impl Into<String>) -> AwsError {
    AwsError::new("NoSuchEntity", 404, message)
}

/// `EntityAlreadyExists` (409).
pub(crate) fn already_exists(message: impl Into<String>) -> AwsError {
    AwsError::new("EntityAlreadyExists", 409, message)
}

/// `DeleteConflict` (409).
pub(crate) fn delete_conflict(message: impl Into<String>) -> AwsError {
    AwsError::new("DeleteConflict", 409, message)
}

/// `LimitExceeded` (409) — never `LimitExceededException`, which SDKs retry.
pub(crate) fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::new("LimitExceeded", 409, message)
}

/// A policy document parameter (1.4): required, 1–131072 chars, the
/// allowed character set, then the grammar for `kind` (MalformedPolicyDocument).
pub(crate) fn read_policy_document(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
    member: &str,
) -> Option<String> {
    let doc = v.required(member, params.string(member));
    if let Some(d) = &doc {
        v.length(member, d, 1, 131_072);
        v.pattern(member, d, Pattern::PolicyDocument);
    }
    doc
}

/// The current unix time from the core clock.
pub(crate) fn now(ctx: &ActionContext<'_>) -> u64 {
    ctx.core.clock.unix_now()
}
