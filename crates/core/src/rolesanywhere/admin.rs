//! The Roles Anywhere admin API (roles-anywhere.md 2): trust anchors,
//! profiles, attribute mappings, CRLs and tags, authorized like IAM
//! actions (`rolesanywhere:<Operation>` on the object's ARN).
//!
//! Choices where the reference leaves one: `enabled` defaults to `false`
//! when omitted on create (fail closed); list pages hold 50 items unless
//! `pageSize` (1–1000) says otherwise, and `nextToken` is the last id
//! returned. Subjects are read-only (ListSubjects, GetSubject): CreateSession
//! writes them ([`super::subject`]). Notification settings are not served.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mayfly_federation::x509::{AnchorBundle, default_mappings, parse_crl};
use mayfly_store::{Mutation, RaAttributeMapping, RaCrl, RaProfile, RaTrustAnchor, Tag};
use mayfly_wire::AwsError;
use serde_json::{Map, Value, json};

use super::subject::{detail_json, summary_json};
use super::{Reply, denied, invalid, new_uuid, not_found, now_millis, parse_ra_arn, timestamp};
use crate::ActionContext;
use crate::auth::Caller;

const DEFAULT_PAGE: usize = 50;
const MAX_TAGS: usize = 200;

/// Route an admin request by method and path; `action` receives the
/// operation name for the audit event.
pub(super) async fn dispatch(
    ctx: &mut ActionContext<'_>,
    action: &mut String,
) -> Result<Reply, AwsError> {
    let request = ctx.request;
    let path = request.path.trim_end_matches('/');
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let operation = match (request.method, segments.as_slice()) {
        ("POST", ["trustanchors"]) => Op::CreateTrustAnchor,
        ("GET", ["trustanchors"]) => Op::ListTrustAnchors,
        ("GET", ["trustanchor", id]) => Op::GetTrustAnchor(id),
        ("PATCH", ["trustanchor", id]) => Op::UpdateTrustAnchor(id),
        ("DELETE", ["trustanchor", id]) => Op::DeleteTrustAnchor(id),
        ("POST", ["trustanchor", id, "enable"]) => Op::SetTrustAnchor(id, true),
        ("POST", ["trustanchor", id, "disable"]) => Op::SetTrustAnchor(id, false),
        ("POST", ["profiles"]) => Op::CreateProfile,
        ("GET", ["profiles"]) => Op::ListProfiles,
        ("GET", ["profile", id]) => Op::GetProfile(id),
        ("PATCH", ["profile", id]) => Op::UpdateProfile(id),
        ("DELETE", ["profile", id]) => Op::DeleteProfile(id),
        ("POST", ["profile", id, "enable"]) => Op::SetProfile(id, true),
        ("POST", ["profile", id, "disable"]) => Op::SetProfile(id, false),
        ("PUT", ["profiles", id, "mappings"]) => Op::PutAttributeMapping(id),
        ("DELETE", ["profiles", id, "mappings"]) => Op::DeleteAttributeMapping(id),
        ("POST", ["crls"]) => Op::ImportCrl,
        ("GET", ["crls"]) => Op::ListCrls,
        ("GET", ["crl", id]) => Op::GetCrl(id),
        ("PATCH", ["crl", id]) => Op::UpdateCrl(id),
        ("DELETE", ["crl", id]) => Op::DeleteCrl(id),
        ("POST", ["crl", id, "enable"]) => Op::SetCrl(id, true),
        ("POST", ["crl", id, "disable"]) => Op::SetCrl(id, false),
        ("GET", ["subjects"]) => Op::ListSubjects,
        ("GET", ["subject", id]) => Op::GetSubject(id),
        ("POST", ["TagResource"]) => Op::TagResource,
        ("POST", ["UntagResource"]) => Op::UntagResource,
        ("GET", ["ListTagsForResource"]) => Op::ListTagsForResource,
        _ => {
            return Err(AwsError::new(
                "UnknownOperationException",
                404,
                "The requested operation is not supported",
            ));
        }
    };
    action.push_str(operation.name());
    let (caller, service) = crate::auth::authenticate(ctx).await?;
    ctx.caller = Some(std::sync::Arc::new(caller.clone()));
    if service != crate::Service::RolesAnywhere {
        return Err(denied(
            "The credential scope must name service rolesanywhere",
        ));
    }
    let body = if request.body.is_empty() {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(request.body) {
            Ok(Value::Object(map)) => map,
            _ => return Err(invalid("The request body is not a JSON object")),
        }
    };
    let input = Input { body, caller };
    operation.run(ctx, &input).await
}

struct Input {
    body: Map<String, Value>,
    caller: Caller,
}

#[derive(Debug, Clone, Copy)]
enum Op<'a> {
    CreateTrustAnchor,
    ListTrustAnchors,
    GetTrustAnchor(&'a str),
    UpdateTrustAnchor(&'a str),
    DeleteTrustAnchor(&'a str),
    SetTrustAnchor(&'a str, bool),
    CreateProfile,
    ListProfiles,
    GetProfile(&'a str),
    UpdateProfile(&'a str),
    DeleteProfile(&'a str),
    SetProfile(&'a str, bool),
    PutAttributeMapping(&'a str),
    DeleteAttributeMapping(&'a str),
    ImportCrl,
    ListCrls,
    GetCrl(&'a str),
    UpdateCrl(&'a str),
    DeleteCrl(&'a str),
    SetCrl(&'a str, bool),
    ListSubjects,
    GetSubject(&'a str),
    TagResource,
    UntagResource,
    ListTagsForResource,
}

impl Op<'_> {
    fn name(self) -> &'static str {
        match self {
            Op::CreateTrustAnchor => "CreateTrustAnchor",
            Op::ListTrustAnchors => "ListTrustAnchors",
            Op::GetTrustAnchor(_) => "GetTrustAnchor",
            Op::UpdateTrustAnchor(_) => "UpdateTrustAnchor",
            Op::DeleteTrustAnchor(_) => "DeleteTrustAnchor",
            Op::SetTrustAnchor(_, true) => "EnableTrustAnchor",
            Op::SetTrustAnchor(_, false) => "DisableTrustAnchor",
            Op::CreateProfile => "CreateProfile",
            Op::ListProfiles => "ListProfiles",
            Op::GetProfile(_) => "GetProfile",
            Op::UpdateProfile(_) => "UpdateProfile",
            Op::DeleteProfile(_) => "DeleteProfile",
            Op::SetProfile(_, true) => "EnableProfile",
            Op::SetProfile(_, false) => "DisableProfile",
            Op::PutAttributeMapping(_) => "PutAttributeMapping",
            Op::DeleteAttributeMapping(_) => "DeleteAttributeMapping",
            Op::ImportCrl => "ImportCrl",
            Op::ListCrls => "ListCrls",
            Op::GetCrl(_) => "GetCrl",
            Op::UpdateCrl(_) => "UpdateCrl",
            Op::DeleteCrl(_) => "DeleteCrl",
            Op::SetCrl(_, true) => "EnableCrl",
            Op::SetCrl(_, false) => "DisableCrl",
            Op::ListSubjects => "ListSubjects",
            Op::GetSubject(_) => "GetSubject",
            Op::TagResource => "TagResource",
            Op::UntagResource => "UntagResource",
            Op::ListTagsForResource => "ListTagsForResource",
        }
    }

    async fn run(self, ctx: &mut ActionContext<'_>, input: &Input) -> Result<Reply, AwsError> {
        let caller = &input.caller;
        let account = caller.account_id.clone();
        let region = caller.region.clone();
        let arn_of =
            |kind: &str, id: &str| mayfly_store::rolesanywhere_arn(&region, &account, kind, id);
        let authorize = |ctx: &ActionContext<'_>, resource: &str| {
            crate::authz::authorize_caller(
                ctx,
                caller,
                &format!("rolesanywhere:{}", self.name()),
                resource,
                |_| {},
            )
        };
        let state = &ctx.core.rolesanywhere;
        let key = |id: &str| format!("{account}/{id}");
        match self {
            Op::CreateTrustAnchor => {
                authorize(ctx, &arn_of("trust-anchor", "*"))?;
                let name = name_field(&input.body, true)?.unwrap_or_default();
                let (source_type, source_data) =
                    source_field(&input.body)?.ok_or_else(|| invalid("source is required"))?;
                let tags = tags_field(&input.body)?;
                let enabled = bool_field(&input.body, "enabled")?.unwrap_or(false);
                let id = new_uuid(ctx)?;
                let now = now_millis(ctx);
                let anchor = RaTrustAnchor {
                    account_id: account.clone(),
                    region: region.clone(),
                    id,
                    name,
                    source_type,
                    source_data,
                    enabled,
                    notification_settings: Vec::new(),
                    created_at: now,
                    updated_at: now,
                    tags,
                };
                let mutation = Mutation::insert(&anchor).map_err(store_error)?;
                state.commit(ctx.core, |_| Ok((vec![mutation], ()))).await?;
                Ok(Reply::created(json!({"trustAnchor": anchor_json(&anchor)})))
            }
            Op::ListTrustAnchors => {
                authorize(ctx, "*")?;
                let loaded = state.current(ctx.core, ctx.view.generation).await?;
                let (items, next) = page(ctx, &account, &loaded.anchors, |a| a.id.as_str())?;
                Ok(Reply::ok(with_token(
                    json!({"trustAnchors": items.iter().map(|a| anchor_json(a)).collect::<Vec<_>>()}),
                    next,
                )))
            }
            Op::GetTrustAnchor(id) => {
                authorize(ctx, &arn_of("trust-anchor", id))?;
                let loaded = state.current(ctx.core, ctx.view.generation).await?;
                let anchor = loaded
                    .anchors
                    .get(&key(id))
                    .ok_or_else(|| not_found("Trust anchor"))?;
                Ok(Reply::ok(json!({"trustAnchor": anchor_json(anchor)})))
            }
            Op::UpdateTrustAnchor(id) | Op::DeleteTrustAnchor(id) | Op::SetTrustAnchor(id, _) => {
                authorize(ctx, &arn_of("trust-anchor", id))?;
                let name = name_field(&input.body, false)?;
                let source = source_field(&input.body)?;
                let now = now_millis(ctx);
                let anchor = state
                    .commit(ctx.core, |loaded| {
                        let mut anchor = loaded
                            .anchors
                            .get(&key(id))
                            .cloned()
                            .ok_or_else(|| not_found("Trust anchor"))?;
                        let mutation = match self {
                            Op::DeleteTrustAnchor(_) => Mutation::delete::<RaTrustAnchor>(key(id)),
                            _ => {
                                if let Op::SetTrustAnchor(_, enabled) = self {
                                    anchor.enabled = enabled;
                                }
                                if let Some(name) = name {
                                    anchor.name = name;
                                }
                                if let Some((source_type, source_data)) = source {
                                    anchor.source_type = source_type;
                                    anchor.source_data = source_data;
                                }
                                anchor.updated_at = now;
                                Mutation::update(&anchor).map_err(store_error)?
                            }
                        };
                        Ok((vec![mutation], anchor))
                    })
                    .await?;
                Ok(Reply::ok(json!({"trustAnchor": anchor_json(&anchor)})))
            }
            Op::CreateProfile => {
                authorize(ctx, &arn_of("profile", "*"))?;
                let body = &input.body;
                let name = name_field(body, true)?.unwrap_or_default();
                let role_arns = string_list(body, "roleArns", 250)?
                    .ok_or_else(|| invalid("roleArns is required"))?;
                let now = now_millis(ctx);
                let profile = RaProfile {
                    account_id: account.clone(),
                    region: region.clone(),
                    id: new_uuid(ctx)?,
                    name,
                    role_arns,
                    managed_policy_arns: string_list(body, "managedPolicyArns", 50)?
                        .unwrap_or_default(),
                    session_policy: session_policy_field(body)?,
                    duration_seconds: duration_field(body)?.unwrap_or(3600),
                    require_instance_properties: bool_field(body, "requireInstanceProperties")?
                        .unwrap_or(false),
                    accept_role_session_name: bool_field(body, "acceptRoleSessionName")?
                        .unwrap_or(false),
                    attribute_mappings: default_mappings()
                        .into_iter()
                        .map(|m| RaAttributeMapping {
                            certificate_field: m.certificate_field,
                            specifiers: m.specifiers,
                        })
                        .collect(),
                    enabled: bool_field(body, "enabled")?.unwrap_or(false),
                    created_by: caller.arn.clone(),
                    created_at: now,
                    updated_at: now,
                    tags: tags_field(body)?,
                };
                let mutation = Mutation::insert(&profile).map_err(store_error)?;
                state.commit(ctx.core, |_| Ok((vec![mutation], ()))).await?;
                Ok(Reply::created(json!({"profile": profile_json(&profile)})))
            }
            Op::ListProfiles => {
                authorize(ctx, "*")?;
                let loaded = state.current(ctx.core, ctx.view.generation).await?;
                let (items, next) = page(ctx, &account, &loaded.profiles, |p| p.id.as_str())?;
                Ok(Reply::ok(with_token(
                    json!({"profiles": items.iter().map(|p| profile_json(p)).collect::<Vec<_>>()}),
                    next,
                )))
            }
            Op::GetProfile(id) => {
                authorize(ctx, &arn_of("profile", id))?;
                let loaded = state.current(ctx.core, ctx.view.generation).await?;
                let profile = loaded
                    .profiles
                    .get(&key(id))
                    .ok_or_else(|| not_found("Profile"))?;
                Ok(Reply::ok(json!({"profile": profile_json(profile)})))
            }
            Op::UpdateProfile(id)
            | Op::DeleteProfile(id)
            | Op::SetProfile(id, _)
            | Op::PutAttributeMapping(id)
            | Op::DeleteAttributeMapping(id) => {
                authorize(ctx, &arn_of("profile", id))?;
                let body = &input.body;
                let name = name_field(body, false)?;
                let role_arns = string_list(body, "roleArns", 250)?;
                let managed = string_list(body, "managedPolicyArns", 50)?;
                let session_policy = session_policy_field(body)?;
                let duration = duration_field(body)?;
                let accept = bool_field(body, "acceptRoleSessionName")?;
                let mapping = match self {
                    Op::PutAttributeMapping(_) => Some(mapping_field(body)?),
                    _ => None,
                };
                let removal = match self {
                    Op::DeleteAttributeMapping(_) => Some(mapping_removal(ctx.request.query)?),
                    _ => None,
                };
                let now = now_millis(ctx);
                let profile = state
                    .commit(ctx.core, |loaded| {
                        let mut p = loaded
                            .profiles
                            .get(&key(id))
                            .cloned()
                            .ok_or_else(|| not_found("Profile"))?;
                        if let Op::DeleteProfile(_) = self {
                            return Ok((vec![Mutation::delete::<RaProfile>(key(id))], p));
                        }
                        if let Op::SetProfile(_, enabled) = self {
                            p.enabled = enabled;
                        }
                        if let Some(v) = name {
                            p.name = v;
                        }
                        if let Some(v) = role_arns {
                            p.role_arns = v;
                        }
                        if let Some(v) = managed {
                            p.managed_policy_arns = v;
                        }
                        if let Some(v) = session_policy {
                            p.session_policy = Some(v);
                        }
                        if let Some(v) = duration {
                            p.duration_seconds = v;
                        }
                        if let Some(v) = accept {
                            p.accept_role_session_name = v;
                        }
                        if let Some(m) = mapping {
                            match p
                                .attribute_mappings
                                .iter_mut()
                                .find(|e| e.certificate_field == m.certificate_field)
                            {
                                Some(existing) => existing.specifiers = m.specifiers,
                                None => p.attribute_mappings.push(m),
                            }
                        }
                        if let Some((field, specifiers)) = removal {
                            if specifiers.is_empty() {
                                p.attribute_mappings
                                    .retain(|e| e.certificate_field != field);
                            } else if let Some(e) = p
                                .attribute_mappings
                                .iter_mut()
                                .find(|e| e.certificate_field == field)
                            {
                                e.specifiers.retain(|s| !specifiers.contains(s));
                            }
                        }
                        p.updated_at = now;
                        Ok((vec![Mutation::update(&p).map_err(store_error)?], p))
                    })
                    .await?;
                Ok(Reply::ok(json!({"profile": profile_json(&profile)})))
            }
            Op::ImportCrl => {
                authorize(ctx, &arn_of("crl", "*"))?;
                let body = &input.body;
                let name = name_field(body, true)?.unwrap_or_default();
                let crl_data = crl_field(body)?.ok_or_else(|| invalid("crlData is required"))?;
                let trust_anchor_arn = str_field(body, "trustAnchorArn")?
                    .ok_or_else(|| invalid("trustAnchorArn is required"))?
                    .to_owned();
                let anchor = parse_ra_arn(&trust_anchor_arn)
                    .filter(|a| a.kind == "trust-anchor")
                    .ok_or_else(|| invalid("trustAnchorArn is not a trust anchor ARN"))?;
                let anchor_key = format!("{}/{}", anchor.account_id, anchor.id);
                if anchor.account_id != account {
                    return Err(not_found("Trust anchor"));
                }
                let now = now_millis(ctx);
                let crl = RaCrl {
                    account_id: account.clone(),
                    region: region.clone(),
                    id: new_uuid(ctx)?,
                    name,
                    crl_data,
                    trust_anchor_arn,
                    enabled: bool_field(body, "enabled")?.unwrap_or(false),
                    created_at: now,
                    updated_at: now,
                    tags: tags_field(body)?,
                };
                let mutation = Mutation::insert(&crl).map_err(store_error)?;
                state
                    .commit(ctx.core, |loaded| {
                        if !loaded.anchors.contains_key(&anchor_key) {
                            return Err(not_found("Trust anchor"));
                        }
                        Ok((vec![mutation], ()))
                    })
                    .await?;
                Ok(Reply::created(json!({"crl": crl_json(&crl)})))
            }
            Op::ListCrls => {
                authorize(ctx, "*")?;
                let loaded = state.current(ctx.core, ctx.view.generation).await?;
                let (items, next) = page(ctx, &account, &loaded.crls, |c| c.id.as_str())?;
                Ok(Reply::ok(with_token(
                    json!({"crls": items.iter().map(|c| crl_json(c)).collect::<Vec<_>>()}),
                    next,
                )))
            }
            Op::GetCrl(id) => {
                authorize(ctx, &arn_of("crl", id))?;
                let loaded = state.current(ctx.core, ctx.view.generation).await?;
                let crl = loaded.crls.get(&key(id)).ok_or_else(|| not_found("CRL"))?;
                Ok(Reply::ok(json!({"crl": crl_json(crl)})))
            }
            Op::UpdateCrl(id) | Op::DeleteCrl(id) | Op::SetCrl(id, _) => {
                authorize(ctx, &arn_of("crl", id))?;
                let name = name_field(&input.body, false)?;
                let data = crl_field(&input.body)?;
                let now = now_millis(ctx);
                let crl = state
                    .commit(ctx.core, |loaded| {
                        let mut crl = loaded
                            .crls
                            .get(&key(id))
                            .cloned()
                            .ok_or_else(|| not_found("CRL"))?;
                        if let Op::DeleteCrl(_) = self {
                            return Ok((vec![Mutation::delete::<RaCrl>(key(id))], crl));
                        }
                        if let Op::SetCrl(_, enabled) = self {
                            crl.enabled = enabled;
                        }
                        if let Some(v) = name {
                            crl.name = v;
                        }
                        if let Some(v) = data {
                            crl.crl_data = v;
                        }
                        crl.updated_at = now;
                        Ok((vec![Mutation::update(&crl).map_err(store_error)?], crl))
                    })
                    .await?;
                Ok(Reply::ok(json!({"crl": crl_json(&crl)})))
            }
            Op::ListSubjects => {
                authorize(ctx, "*")?;
                let loaded = state.current(ctx.core, ctx.view.generation).await?;
                let subjects = loaded.subjects.read();
                let (items, next) = page(ctx, &account, &subjects, |s| s.id.as_str())?;
                Ok(Reply::ok(with_token(
                    json!({"subjects": items.iter().map(|s| summary_json(s)).collect::<Vec<_>>()}),
                    next,
                )))
            }
            Op::GetSubject(id) => {
                authorize(ctx, &arn_of("subject", id))?;
                let loaded = state.current(ctx.core, ctx.view.generation).await?;
                let subject = loaded
                    .subjects
                    .get(&key(id))
                    .ok_or_else(|| not_found("Subject"))?;
                Ok(Reply::ok(json!({"subject": detail_json(&subject)})))
            }
            Op::TagResource | Op::UntagResource | Op::ListTagsForResource => {
                let resource_arn = match self {
                    Op::ListTagsForResource => query_value(ctx.request.query, "resourceArn"),
                    _ => str_field(&input.body, "resourceArn")?.map(str::to_owned),
                }
                .ok_or_else(|| invalid("resourceArn is required"))?;
                authorize(ctx, &resource_arn)?;
                let target = parse_ra_arn(&resource_arn)
                    .ok_or_else(|| invalid("resourceArn is not a Roles Anywhere ARN"))?;
                if target.account_id != account {
                    return Err(not_found("Resource"));
                }
                let target_key = format!("{}/{}", target.account_id, target.id);
                let kind = target.kind.to_owned();
                if let Op::ListTagsForResource = self {
                    let loaded = state.current(ctx.core, ctx.view.generation).await?;
                    let tags = match kind.as_str() {
                        "trust-anchor" => loaded.anchors.get(&target_key).map(|e| e.tags.clone()),
                        "profile" => loaded.profiles.get(&target_key).map(|e| e.tags.clone()),
                        "crl" => loaded.crls.get(&target_key).map(|e| e.tags.clone()),
                        _ => None,
                    }
                    .ok_or_else(|| not_found("Resource"))?;
                    return Ok(Reply::ok(json!({"tags": tags_json(&tags)})));
                }
                let add = match self {
                    Op::TagResource => {
                        let tags = tags_field(&input.body)?;
                        if tags.is_empty() {
                            return Err(invalid("tags is required"));
                        }
                        tags
                    }
                    _ => Vec::new(),
                };
                let remove = match self {
                    Op::UntagResource => string_list(&input.body, "tagKeys", 200)?
                        .ok_or_else(|| invalid("tagKeys is required"))?,
                    _ => Vec::new(),
                };
                let edit = |tags: &mut Vec<Tag>| -> Result<(), AwsError> {
                    tags.retain(|t| !remove.contains(&t.key));
                    for tag in &add {
                        match tags.iter_mut().find(|t| t.key == tag.key) {
                            Some(existing) => existing.value.clone_from(&tag.value),
                            None => tags.push(tag.clone()),
                        }
                    }
                    if tags.len() > MAX_TAGS {
                        return Err(AwsError::new("TooManyTagsException", 400, "Too many tags"));
                    }
                    Ok(())
                };
                state
                    .commit(ctx.core, |loaded| {
                        let mutation = match kind.as_str() {
                            "trust-anchor" => {
                                let mut e = loaded
                                    .anchors
                                    .get(&target_key)
                                    .cloned()
                                    .ok_or_else(|| not_found("Resource"))?;
                                edit(&mut e.tags)?;
                                Mutation::update(&e)
                            }
                            "profile" => {
                                let mut e = loaded
                                    .profiles
                                    .get(&target_key)
                                    .cloned()
                                    .ok_or_else(|| not_found("Resource"))?;
                                edit(&mut e.tags)?;
                                Mutation::update(&e)
                            }
                            "crl" => {
                                let mut e = loaded
                                    .crls
                                    .get(&target_key)
                                    .cloned()
                                    .ok_or_else(|| not_found("Resource"))?;
                                edit(&mut e.tags)?;
                                Mutation::update(&e)
                            }
                            _ => return Err(not_found("Resource")),
                        };
                        Ok((vec![mutation.map_err(store_error)?], ()))
                    })
                    .await?;
                let status = if let Op::TagResource = self { 201 } else { 200 };
                Ok(Reply {
                    status,
                    body: json!({}),
                })
            }
        }
    }
}

fn store_error(error: mayfly_store::StoreError) -> AwsError {
    tracing::error!(%error, "encoding an entity failed");
    AwsError::service_failure()
}

fn str_field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, AwsError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(invalid(format!("{name} must be a string"))),
    }
}

fn bool_field(body: &Map<String, Value>, name: &str) -> Result<Option<bool>, AwsError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(format!("{name} must be a boolean"))),
    }
}

fn string_list(
    body: &Map<String, Value>,
    name: &str,
    max: usize,
) -> Result<Option<Vec<String>>, AwsError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            if items.len() > max {
                return Err(invalid(format!("{name} has more than {max} items")));
            }
            items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| invalid(format!("{name} must hold strings")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        }
        Some(_) => Err(invalid(format!("{name} must be a list"))),
    }
}

fn name_field(body: &Map<String, Value>, required: bool) -> Result<Option<String>, AwsError> {
    let Some(name) = str_field(body, "name")? else {
        return if required {
            Err(invalid("name is required"))
        } else {
            Ok(None)
        };
    };
    let ok = (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'-' | b'_'));
    if !ok {
        return Err(invalid("name must be 1-255 characters of [ a-zA-Z0-9-_]"));
    }
    Ok(Some(name.to_owned()))
}

fn source_field(body: &Map<String, Value>) -> Result<Option<(String, String)>, AwsError> {
    let Some(source) = body.get("source") else {
        return Ok(None);
    };
    let source_type = source
        .get("sourceType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let data = source.get("sourceData");
    match source_type {
        "CERTIFICATE_BUNDLE" => {
            let pem = data
                .and_then(|d| d.get("x509CertificateData"))
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("sourceData.x509CertificateData is required"))?;
            if pem.len() > 16_000 {
                return Err(invalid(
                    "x509CertificateData is longer than 16000 characters",
                ));
            }
            AnchorBundle::from_pem(pem)
                .map_err(|_| invalid("x509CertificateData is not a valid certificate bundle"))?;
            Ok(Some((source_type.to_owned(), pem.to_owned())))
        }
        "AWS_ACM_PCA" | "SELF_SIGNED_REPOSITORY" => Err(invalid(format!(
            "sourceType {source_type} is not supported by this server"
        ))),
        _ => Err(invalid("source.sourceType must be CERTIFICATE_BUNDLE")),
    }
}

fn session_policy_field(body: &Map<String, Value>) -> Result<Option<String>, AwsError> {
    let Some(text) = str_field(body, "sessionPolicy")? else {
        return Ok(None);
    };
    if text.len() > 100_000 {
        return Err(invalid("sessionPolicy is too long"));
    }
    mayfly_policy::Policy::parse(text, mayfly_policy::PolicyKind::Session)
        .map_err(|_| invalid("sessionPolicy is not a valid policy document"))?;
    Ok(Some(text.to_owned()))
}

fn duration_field(body: &Map<String, Value>) -> Result<Option<u32>, AwsError> {
    match body.get("durationSeconds") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|d| (900..=43_200).contains(d))
            .and_then(|d| u32::try_from(d).ok())
            .map(Some)
            .ok_or_else(|| invalid("durationSeconds must be between 900 and 43200")),
    }
}

fn tags_field(body: &Map<String, Value>) -> Result<Vec<Tag>, AwsError> {
    let Some(items) = body.get("tags") else {
        return Ok(Vec::new());
    };
    let items = items
        .as_array()
        .ok_or_else(|| invalid("tags must be a list"))?;
    if items.len() > MAX_TAGS {
        return Err(AwsError::new("TooManyTagsException", 400, "Too many tags"));
    }
    let allowed = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" _.:/=+@-".contains(&b))
    };
    items
        .iter()
        .map(|item| {
            let key = item.get("key").and_then(Value::as_str).unwrap_or("");
            let value = item.get("value").and_then(Value::as_str).unwrap_or("");
            if key.is_empty()
                || key.len() > 128
                || value.len() > 256
                || !allowed(key)
                || !allowed(value)
            {
                return Err(invalid(
                    "tag keys are 1-128 and values 0-256 characters of [ a-zA-Z0-9_.:/=+@-]",
                ));
            }
            Ok(Tag {
                key: key.to_owned(),
                value: value.to_owned(),
            })
        })
        .collect()
}

fn crl_field(body: &Map<String, Value>) -> Result<Option<Vec<u8>>, AwsError> {
    let Some(encoded) = str_field(body, "crlData")? else {
        return Ok(None);
    };
    let data = STANDARD
        .decode(encoded.as_bytes())
        .map_err(|_| invalid("crlData is not base64"))?;
    if data.len() > 300_000 {
        return Err(invalid("crlData is larger than 300000 bytes"));
    }
    parse_crl(&data).map_err(|_| invalid("crlData is not a valid CRL"))?;
    Ok(Some(data))
}

const FIELDS: &[&str] = &["x509Subject", "x509Issuer", "x509SAN"];

fn mapping_field(body: &Map<String, Value>) -> Result<RaAttributeMapping, AwsError> {
    let field = str_field(body, "certificateField")?
        .ok_or_else(|| invalid("certificateField is required"))?;
    if !FIELDS.contains(&field) {
        return Err(invalid(
            "certificateField must be x509Subject, x509Issuer or x509SAN",
        ));
    }
    let rules = body
        .get("mappingRules")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("mappingRules is required"))?;
    let mut specifiers = Vec::new();
    for rule in rules {
        let specifier = rule
            .get("specifier")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 60)
            .ok_or_else(|| invalid("each mapping rule needs a specifier"))?;
        let specifier = if matches!(specifier, "Name" | "Name/") {
            "Name/*"
        } else {
            specifier
        };
        specifiers.push(specifier.to_owned());
    }
    Ok(RaAttributeMapping {
        certificate_field: field.to_owned(),
        specifiers,
    })
}

fn mapping_removal(query: &str) -> Result<(String, Vec<String>), AwsError> {
    let mut field = None;
    let mut specifiers = Vec::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "certificateField" => field = Some(v.into_owned()),
            "specifiers" => specifiers.push(v.into_owned()),
            _ => {}
        }
    }
    let field = field
        .filter(|f| FIELDS.contains(&f.as_str()))
        .ok_or_else(|| invalid("certificateField must be x509Subject, x509Issuer or x509SAN"))?;
    Ok((field, specifiers))
}

fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// One page of `map`'s entries of `account`, after `nextToken`.
fn page<'a, T>(
    ctx: &ActionContext<'_>,
    account: &str,
    map: &'a std::collections::BTreeMap<String, T>,
    id: impl Fn(&T) -> &str,
) -> Result<(Vec<&'a T>, Option<String>), AwsError> {
    let size = match query_value(ctx.request.query, "pageSize") {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| invalid("pageSize must be between 1 and 1000"))?,
    };
    let after = query_value(ctx.request.query, "nextToken");
    let prefix = format!("{account}/");
    let mut items: Vec<&T> = map
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(_, v)| v)
        .filter(|v| after.as_deref().is_none_or(|a| id(v) > a))
        .take(size + 1)
        .collect();
    let next = if items.len() > size {
        items.truncate(size);
        items.last().map(|v| id(v).to_owned())
    } else {
        None
    };
    Ok((items, next))
}

fn with_token(mut body: Value, next: Option<String>) -> Value {
    if let (Some(next), Some(map)) = (next, body.as_object_mut()) {
        map.insert("nextToken".to_owned(), Value::String(next));
    }
    body
}

fn tags_json(tags: &[Tag]) -> Vec<Value> {
    tags.iter()
        .map(|t| json!({"key": t.key, "value": t.value}))
        .collect()
}

fn anchor_json(a: &RaTrustAnchor) -> Value {
    json!({
        "trustAnchorId": a.id,
        "trustAnchorArn": a.arn(),
        "name": a.name,
        "source": {
            "sourceType": a.source_type,
            "sourceData": {"x509CertificateData": a.source_data},
        },
        "enabled": a.enabled,
        "createdAt": timestamp(a.created_at),
        "updatedAt": timestamp(a.updated_at),
        "notificationSettings": a.notification_settings,
    })
}

pub(super) fn profile_json(p: &RaProfile) -> Value {
    let mut v = json!({
        "profileId": p.id,
        "profileArn": p.arn(),
        "name": p.name,
        "requireInstanceProperties": p.require_instance_properties,
        "enabled": p.enabled,
        "createdBy": p.created_by,
        "roleArns": p.role_arns,
        "managedPolicyArns": p.managed_policy_arns,
        "createdAt": timestamp(p.created_at),
        "updatedAt": timestamp(p.updated_at),
        "durationSeconds": p.duration_seconds,
        "acceptRoleSessionName": p.accept_role_session_name,
        "attributeMappings": p.attribute_mappings.iter().map(|m| json!({
            "certificateField": m.certificate_field,
            "mappingRules": m.specifiers.iter().map(|s| json!({"specifier": s})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    if let (Some(policy), Some(map)) = (&p.session_policy, v.as_object_mut()) {
        map.insert("sessionPolicy".to_owned(), Value::String(policy.clone()));
    }
    v
}

fn crl_json(c: &RaCrl) -> Value {
    json!({
        "crlId": c.id,
        "crlArn": c.arn(),
        "name": c.name,
        "enabled": c.enabled,
        "crlData": STANDARD.encode(&c.crl_data),
        "trustAnchorArn": c.trust_anchor_arn,
        "createdAt": timestamp(c.created_at),
        "updatedAt": timestamp(c.updated_at),
    })
}
