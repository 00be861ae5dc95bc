//! IAM OpenID Connect providers (iam-admin-api.md 8): the issuers whose ID
//! tokens AssumeRoleWithWebIdentity accepts, their client ids (audiences)
//! and certificate thumbprints.
//!
//! The provider is named by its ARN,
//! `arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH`; its URL is stored without
//! `https://`, host lowercased, as GetOpenIDConnectProvider returns it.

use mayfly_store::{Mutation, OidcProvider, Snapshot, Tag};
use mayfly_wire::{AwsError, IAM_NAMESPACE, QueryParams, ValidationErrors, XmlWriter};

use super::common;
use super::policies::{self, Target, encoding_failed, no_output, required};
use crate::clock::from_unix;
use crate::web_identity::is_loopback_authority;
use crate::{ActionContext, ActionResult};

/// OIDC providers per account (iam-admin-api.md 14).
const MAX_PROVIDERS: usize = 100;
/// Client ids per provider (iam-admin-api.md 14).
const MAX_CLIENT_IDS: usize = 100;
/// Thumbprints per provider (iam-admin-api.md 8).
const MAX_THUMBPRINTS: usize = 5;
/// The ARN member every action but Create and List takes.
const ARN_MEMBER: &str = "OpenIDConnectProviderArn";

impl Target for OidcProvider {
    const TYPE: &'static str = "oidc-provider";
    const ID_MEMBER: &'static str = ARN_MEMBER;
    /// Provider tag keys are case-sensitive (iam-admin-api.md 1.3).
    const CASE_INSENSITIVE_TAGS: bool = false;

    fn read_id(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
        let arn = v.required(ARN_MEMBER, params.string(ARN_MEMBER));
        if let Some(a) = &arn {
            v.length(ARN_MEMBER, a, 20, 2048);
        }
        arn
    }

    fn find<'s>(snapshot: &'s Snapshot, account_id: &str, id: &str) -> Option<&'s Self> {
        snapshot
            .oidc_provider(id)
            .filter(|p| p.account_id == account_id)
    }

    fn target_arn(&self) -> String {
        self.arn()
    }

    fn missing_arn(_account_id: &str, id: &str) -> String {
        id.to_owned()
    }

    fn not_found(id: &str) -> AwsError {
        common::no_such_entity(format!(
            "OpenIDConnect Provider not found for arn {}",
            crate::truncate(id, 2048)
        ))
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }

    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        &mut self.tags
    }
}

/// The stored form of a provider `Url`: `https://host[/path]` without the
/// scheme, host lowercased. No port, query or fragment; a port is accepted
/// on loopback hosts only (test issuers), and `http://` only on loopback
/// hosts when `allow_http` (`--allow-http-issuer`).
fn stored_url(url: &str, allow_http: bool) -> Result<String, AwsError> {
    let invalid = || {
        AwsError::invalid_input(format!(
            "Invalid OpenID Connect provider URL `{}`: it must be https://HOST or https://HOST/PATH, without port, query or fragment.",
            crate::truncate(url, 255)
        ))
    };
    let (rest, http) = match url.strip_prefix("https://") {
        Some(rest) => (rest, false),
        None => (url.strip_prefix("http://").ok_or_else(invalid)?, true),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let loopback = is_loopback_authority(authority);
    if http && !(allow_http && loopback) {
        return Err(invalid());
    }
    let host_chars_ok = |h: &str| {
        !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    let authority_ok = if loopback {
        !authority.is_empty()
            && authority
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    } else {
        host_chars_ok(authority)
    };
    let path_ok = path
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '?' | '#'));
    if !authority_ok || !path_ok || path.contains("//") {
        return Err(invalid());
    }
    let host = authority.to_ascii_lowercase();
    Ok(if path.is_empty() {
        host
    } else {
        format!("{host}/{path}")
    })
}

/// `ClientIDList.member.N` (each 1–255, at most 100), duplicates dropped.
fn read_client_ids(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
) -> Result<Vec<String>, AwsError> {
    let ids = params.list("ClientIDList")?.unwrap_or_default();
    for (i, id) in ids.iter().enumerate() {
        v.length(&format!("clientIDList.{}.member", i + 1), id, 1, 255);
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    if out.len() > MAX_CLIENT_IDS {
        return Err(client_id_quota());
    }
    Ok(out)
}

fn client_id_quota() -> AwsError {
    common::limit_exceeded("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100")
}

/// `ThumbprintList.member.N`: 0–5, each 40 hexadecimal characters
/// (stored lowercase).
fn read_thumbprints(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
) -> Result<Option<Vec<String>>, AwsError> {
    let Some(list) = params.list("ThumbprintList")? else {
        return Ok(None);
    };
    for (i, t) in list.iter().enumerate() {
        v.length(&format!("thumbprintList.{}.member", i + 1), t, 40, 40);
    }
    if list.len() > MAX_THUMBPRINTS {
        return Err(AwsError::invalid_input(
            "Thumbprint list must contain fewer than 5 entries.",
        ));
    }
    if !v.is_empty() {
        return Ok(Some(list));
    }
    if let Some(bad) = list
        .iter()
        .find(|t| !t.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(AwsError::invalid_input(format!(
            "Thumbprint `{}` is not 40 hexadecimal characters (the SHA-1 fingerprint of the certificate).",
            crate::truncate(bad, 64)
        )));
    }
    Ok(Some(list.iter().map(|t| t.to_ascii_lowercase()).collect()))
}

/// CreateOpenIDConnectProvider.
pub(crate) async fn create_open_id_connect_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let url = v.required("Url", params.string("Url"));
    if let Some(u) = &url {
        v.length("Url", u, 1, 255);
    }
    let client_ids = read_client_ids(params, &mut v)?;
    let thumbprints = read_thumbprints(params, &mut v)?.unwrap_or_default();
    let tags = common::read_tags(params, &mut v, false)?.unwrap_or_default();
    params.finish_unknown()?;
    v.into_result()?;
    let url = stored_url(&required(url)?, ctx.core.config.allow_http_issuer)?;
    let account_id = common::account_id(ctx)?;
    let arn = OidcProvider::arn_for(&account_id, &url);
    policies::authorize(ctx, "CreateOpenIDConnectProvider", &arn, &[], |rc| {
        policies::request_tag_keys(rc, &tags);
    })?;
    let now = common::now(ctx);
    let provider = ctx
        .core
        .commit(|view| {
            if view
                .snapshot
                .oidc_provider_by_url(&account_id, &url)
                .is_some()
            {
                return Err(common::already_exists(format!(
                    "Provider with url https://{url} already exists."
                )));
            }
            if view.snapshot.oidc_providers_in(&account_id).count() >= MAX_PROVIDERS {
                return Err(common::limit_exceeded(
                    "Cannot exceed quota for OpenIdConnectProvidersPerAccount: 100",
                ));
            }
            let provider = OidcProvider {
                account_id: account_id.clone(),
                url: url.clone(),
                client_ids,
                thumbprints,
                created_at: now,
                tags,
            };
            Ok((
                vec![Mutation::insert(&provider).map_err(encoding_failed)?],
                provider,
            ))
        })
        .await?;
    let mut w = XmlWriter::response("CreateOpenIDConnectProvider", IAM_NAMESPACE);
    w.text("OpenIDConnectProviderArn", &provider.arn());
    if !provider.tags.is_empty() {
        common::write_tags(&mut w, &provider.tags);
    }
    Ok(w.finish(ctx.request_id))
}

/// GetOpenIDConnectProvider: `Url` without `https://`.
pub(crate) fn get_open_id_connect_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = OidcProvider::read_id(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let provider =
        policies::load::<OidcProvider>(ctx, "GetOpenIDConnectProvider", &required(arn)?, |_| {})?;
    let mut w = XmlWriter::response("GetOpenIDConnectProvider", IAM_NAMESPACE);
    w.text("Url", &provider.url);
    w.string_list("ClientIDList", &provider.client_ids);
    w.string_list("ThumbprintList", &provider.thumbprints);
    w.timestamp("CreateDate", from_unix(provider.created_at));
    common::write_tags(&mut w, &provider.tags);
    Ok(w.finish(ctx.request_id))
}

/// ListOpenIDConnectProviders: every provider of the account (not paginated).
pub(crate) fn list_open_id_connect_providers(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    params.finish_unknown()?;
    let account_id = common::account_id(ctx)?;
    common::authorize(
        ctx,
        "iam:ListOpenIDConnectProviders",
        &crate::arn::iam_arn(&account_id, "oidc-provider", "/", "*"),
    )?;
    let mut w = XmlWriter::response("ListOpenIDConnectProviders", IAM_NAMESPACE);
    let providers: Vec<String> = ctx
        .view
        .snapshot
        .oidc_providers_in(&account_id)
        .map(OidcProvider::arn)
        .collect();
    if providers.is_empty() {
        w.empty_list("OpenIDConnectProviderList");
    } else {
        w.start("OpenIDConnectProviderList");
        for arn in &providers {
            w.start("member");
            w.text("Arn", arn);
            w.end("member");
        }
        w.end("OpenIDConnectProviderList");
    }
    Ok(w.finish(ctx.request_id))
}

/// DeleteOpenIDConnectProvider: deleting a provider that does not exist
/// succeeds (iam-admin-api.md 8); a malformed ARN is `InvalidInput`.
pub(crate) async fn delete_open_id_connect_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = OidcProvider::read_id(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let arn = required(arn)?;
    check_arn_shape(&arn)?;
    let action = "DeleteOpenIDConnectProvider";
    match policies::load::<OidcProvider>(ctx, action, &arn, |_| {}) {
        Ok(_) => {}
        Err(error) if error.code == "NoSuchEntity" => return no_output(ctx, action),
        Err(error) => return Err(error),
    }
    let account_id = common::account_id(ctx)?;
    ctx.core
        .commit(|view| {
            let mutations = match OidcProvider::find(&view.snapshot, &account_id, &arn) {
                Some(current) => vec![Mutation::delete::<OidcProvider>(current_key(current))],
                None => Vec::new(),
            };
            Ok((mutations, ()))
        })
        .await?;
    no_output(ctx, action)
}

fn current_key(provider: &OidcProvider) -> String {
    mayfly_store::Entity::key(provider)
}

/// `InvalidInput` unless `arn` reads `arn:PARTITION:iam::ACCOUNT:oidc-provider/…`.
fn check_arn_shape(arn: &str) -> Result<(), AwsError> {
    let ok = crate::arn::Arn::parse(arn).is_some_and(|a| {
        a.service == "iam"
            && crate::arn::is_account_id(a.account)
            && a.resource
                .strip_prefix("oidc-provider/")
                .is_some_and(|rest| !rest.is_empty())
    });
    if ok {
        Ok(())
    } else {
        Err(AwsError::invalid_input(format!(
            "ARN {} is not valid.",
            crate::truncate(arn, 2048)
        )))
    }
}

/// AddClientIDToOpenIDConnectProvider: adding a present id succeeds.
pub(crate) async fn add_client_id_to_open_id_connect_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    client_id_change(ctx, params, "AddClientIDToOpenIDConnectProvider", true).await
}

/// RemoveClientIDFromOpenIDConnectProvider: removing an absent id succeeds.
pub(crate) async fn remove_client_id_from_open_id_connect_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    client_id_change(
        ctx,
        params,
        "RemoveClientIDFromOpenIDConnectProvider",
        false,
    )
    .await
}

async fn client_id_change(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
    action: &str,
    add: bool,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = OidcProvider::read_id(params, &mut v);
    let client_id = v.required("ClientID", params.string("ClientID"));
    if let Some(id) = &client_id {
        v.length("ClientID", id, 1, 255);
    }
    params.finish_unknown()?;
    v.into_result()?;
    let (arn, client_id) = (required(arn)?, required(client_id)?);
    policies::load::<OidcProvider>(ctx, action, &arn, |_| {})?;
    policies::change::<OidcProvider, _>(ctx, &arn, |_, provider| {
        if add {
            if !provider.client_ids.contains(&client_id) {
                if provider.client_ids.len() >= MAX_CLIENT_IDS {
                    return Err(client_id_quota());
                }
                provider.client_ids.push(client_id);
            }
        } else {
            provider.client_ids.retain(|c| *c != client_id);
        }
        Ok(())
    })
    .await?;
    no_output(ctx, action)
}

/// UpdateOpenIDConnectProviderThumbprint: replaces the list.
pub(crate) async fn update_open_id_connect_provider_thumbprint(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let action = "UpdateOpenIDConnectProviderThumbprint";
    let mut v = ValidationErrors::new();
    let arn = OidcProvider::read_id(params, &mut v);
    let thumbprints = read_thumbprints(params, &mut v)?;
    let thumbprints = v.required("ThumbprintList", thumbprints);
    params.finish_unknown()?;
    v.into_result()?;
    let (arn, thumbprints) = (required(arn)?, required(thumbprints)?);
    policies::load::<OidcProvider>(ctx, action, &arn, |_| {})?;
    policies::change::<OidcProvider, _>(ctx, &arn, |_, provider| {
        provider.thumbprints = thumbprints;
        Ok(())
    })
    .await?;
    no_output(ctx, action)
}

/// TagOpenIDConnectProvider.
pub(crate) async fn tag_open_id_connect_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::tag_target::<OidcProvider>(ctx, params, "TagOpenIDConnectProvider").await
}

/// UntagOpenIDConnectProvider.
pub(crate) async fn untag_open_id_connect_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::untag_target::<OidcProvider>(ctx, params, "UntagOpenIDConnectProvider").await
}

/// ListOpenIDConnectProviderTags.
pub(crate) fn list_open_id_connect_provider_tags(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::list_target_tags::<OidcProvider>(ctx, params, "ListOpenIDConnectProviderTags")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_stored_without_scheme_and_with_a_lowercase_host() {
        assert_eq!(
            stored_url("https://Token.Actions.GitHubUserContent.com", false).unwrap(),
            "token.actions.githubusercontent.com"
        );
        assert_eq!(
            stored_url("https://oidc.eks.us-west-2.amazonaws.com/id/ABC", false).unwrap(),
            "oidc.eks.us-west-2.amazonaws.com/id/ABC"
        );
    }

    #[test]
    fn urls_refuse_ports_queries_and_plain_http() {
        for bad in [
            "http://idp.example",
            "https://idp.example:8443",
            "https://idp.example/?q=1",
            "https://idp.example/#f",
            "https://",
            "idp.example",
            "https://user@idp.example",
        ] {
            assert!(stored_url(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_issuers_may_have_a_port_and_http_with_the_flag() {
        assert_eq!(
            stored_url("https://localhost:8443", false).unwrap(),
            "localhost:8443"
        );
        assert!(stored_url("http://127.0.0.1:8080", false).is_err());
        assert_eq!(
            stored_url("http://127.0.0.1:8080", true).unwrap(),
            "127.0.0.1:8080"
        );
        assert!(stored_url("http://idp.example", true).is_err());
    }
}
