//! SAML providers (iam-admin-api.md 9): Create/Get/List/Update/Delete
//! SAMLProvider and their tags. The metadata document is parsed strictly
//! ([`mayfly_federation::saml::IdpMetadata`]) before it is stored, so a
//! provider always has an entityID and at least one signing certificate.
//!
//! Encrypted assertions are not supported: `AssertionEncryptionMode=Required`
//! and `AddPrivateKey` are refused with `InvalidInput` rather than stored
//! and silently ignored.

use mayfly_federation::saml::{IdpMetadata, MetadataError};
use mayfly_store::{SamlProvider, Snapshot, Tag};
use mayfly_wire::{AwsError, IAM_NAMESPACE, Pattern, QueryParams, ValidationErrors, XmlWriter};

use super::common;
use super::policies::{
    Target, authorize, change, encoding_failed, list_target_tags, load, no_output, remove,
    request_tag_keys, required, tag_target, untag_target,
};
use crate::arn::Arn;
use crate::clock::from_unix;
use crate::{ActionContext, ActionResult};

/// SAML providers per account (iam-admin-api.md 14).
const MAX_PROVIDERS: usize = 100;

impl Target for SamlProvider {
    const TYPE: &'static str = "saml-provider";
    const ID_MEMBER: &'static str = "SAMLProviderArn";
    const CASE_INSENSITIVE_TAGS: bool = false;

    fn read_id(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
        read_provider_arn(params, v)
    }

    fn find<'s>(snapshot: &'s Snapshot, account_id: &str, id: &str) -> Option<&'s Self> {
        snapshot
            .saml_provider(id)
            .filter(|p| p.account_id == account_id)
    }

    fn target_arn(&self) -> String {
        self.arn()
    }

    fn missing_arn(_account_id: &str, id: &str) -> String {
        id.to_owned()
    }

    /// AWS: "Manifest not found for arn {arn}"; `InvalidInput` for text
    /// that is not a SAML provider ARN.
    fn not_found(id: &str) -> AwsError {
        let is_provider_arn = Arn::parse(id)
            .is_some_and(|a| a.service == "iam" && a.resource.starts_with("saml-provider/"));
        if is_provider_arn {
            common::no_such_entity(format!("Manifest not found for arn {id}"))
        } else {
            AwsError::invalid_input(format!("ARN {} is not valid.", crate::truncate(id, 2048)))
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }

    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        &mut self.tags
    }
}

fn read_provider_arn(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
    let arn = v.required("SAMLProviderArn", params.string("SAMLProviderArn"));
    if let Some(a) = &arn {
        v.length("SAMLProviderArn", a, 20, 2048);
    }
    arn
}

fn read_metadata(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
    required: bool,
) -> Option<String> {
    let document = params.string("SAMLMetadataDocument");
    let document = if required {
        v.required("SAMLMetadataDocument", document)
    } else {
        document
    };
    if let Some(d) = &document {
        // Length only: the document is the IdP's, and never echoed in errors.
        v.sensitive_length("SAMLMetadataDocument", d, 1000, 10_000_000);
    }
    document
}

/// Parse the metadata; `InvalidInput` with the reason when it cannot serve.
fn parse_metadata(document: &str) -> Result<IdpMetadata, AwsError> {
    IdpMetadata::parse(document).map_err(|error: MetadataError| {
        AwsError::invalid_input(format!("Could not parse metadata: {error}"))
    })
}

/// Refuse what would ask for encrypted assertions, which Mayfly cannot decrypt.
fn check_encryption_options(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
) -> Result<Option<String>, AwsError> {
    let mode = params.string("AssertionEncryptionMode");
    if let Some(m) = &mode {
        v.enum_value("AssertionEncryptionMode", m, &["Required", "Allowed"]);
    }
    let add_key = params.string("AddPrivateKey");
    let remove_key = params.string("RemovePrivateKey");
    if mode.as_deref() == Some("Required") || add_key.is_some() || remove_key.is_some() {
        return Err(AwsError::invalid_input(
            "Encrypted SAML assertions are not supported by this server: omit AddPrivateKey/RemovePrivateKey and use AssertionEncryptionMode=Allowed (or leave it unset), and have the IdP send signed, unencrypted assertions.",
        ));
    }
    Ok(mode)
}

fn valid_until(metadata: &IdpMetadata) -> Option<u64> {
    metadata.valid_until.and_then(|t| u64::try_from(t).ok())
}

fn new_uuid(ctx: &ActionContext<'_>) -> Result<String, AwsError> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    ctx.core
        .rng
        .fill(&mut bytes)
        .map_err(|_| AwsError::internal())?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// CreateSAMLProvider.
pub(crate) async fn create_saml_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = v.required("Name", params.string("Name"));
    if let Some(n) = &name {
        v.length("Name", n, 1, 128);
        v.pattern("Name", n, Pattern::SamlProviderName);
    }
    let document = read_metadata(params, &mut v, true);
    let tags = common::read_tags(params, &mut v, false)?.unwrap_or_default();
    let mode = check_encryption_options(params, &mut v)?;
    params.finish_unknown()?;
    v.into_result()?;
    let (name, document) = (required(name)?, required(document)?);
    let account_id = common::account_id(ctx)?;
    let arn = SamlProvider::arn_for(&account_id, &name);
    authorize(ctx, "CreateSAMLProvider", &arn, &[], |rc| {
        request_tag_keys(rc, &tags)
    })?;
    let metadata = parse_metadata(&document)?;
    let uuid = new_uuid(ctx)?;
    let now = common::now(ctx);
    let provider = ctx
        .core
        .commit(|view| {
            let existing: Vec<&SamlProvider> =
                view.snapshot.saml_providers_in(&account_id).collect();
            if existing.iter().any(|p| p.name.eq_ignore_ascii_case(&name)) {
                return Err(common::already_exists(format!(
                    "SAMLProvider {name} already exists."
                )));
            }
            if existing.len() >= MAX_PROVIDERS {
                return Err(common::limit_exceeded(format!(
                    "Cannot exceed quota for SAMLProvidersPerAccount: {MAX_PROVIDERS}"
                )));
            }
            let provider = SamlProvider {
                account_id: account_id.clone(),
                name: name.clone(),
                metadata_document: document,
                created_at: now,
                valid_until: valid_until(&metadata),
                uuid,
                assertion_encryption_mode: mode,
                private_keys: Vec::new(),
                tags,
            };
            Ok((
                vec![mayfly_store::Mutation::insert(&provider).map_err(encoding_failed)?],
                provider,
            ))
        })
        .await?;
    let mut w = XmlWriter::response("CreateSAMLProvider", IAM_NAMESPACE);
    w.text("SAMLProviderArn", &provider.arn());
    common::write_tags(&mut w, &provider.tags);
    Ok(w.finish(ctx.request_id))
}

/// GetSAMLProvider.
pub(crate) fn get_saml_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = read_provider_arn(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let provider = load::<SamlProvider>(ctx, "GetSAMLProvider", &required(arn)?, |_| {})?;
    let mut w = XmlWriter::response("GetSAMLProvider", IAM_NAMESPACE);
    w.text("SAMLProviderUUID", &provider.uuid);
    w.text("SAMLMetadataDocument", &provider.metadata_document);
    w.timestamp("CreateDate", from_unix(provider.created_at));
    w.timestamp_opt("ValidUntil", provider.valid_until.map(from_unix));
    common::write_tags(&mut w, &provider.tags);
    w.text_opt(
        "AssertionEncryptionMode",
        provider.assertion_encryption_mode.as_deref(),
    );
    w.empty_list("PrivateKeyList");
    Ok(w.finish(ctx.request_id))
}

/// ListSAMLProviders (not paginated).
pub(crate) fn list_saml_providers(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    params.finish_unknown()?;
    let account_id = common::account_id(ctx)?;
    common::authorize(ctx, "iam:ListSAMLProviders", "*")?;
    let mut providers: Vec<&SamlProvider> =
        ctx.view.snapshot.saml_providers_in(&account_id).collect();
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    let mut w = XmlWriter::response("ListSAMLProviders", IAM_NAMESPACE);
    if providers.is_empty() {
        w.empty_list("SAMLProviderList");
    } else {
        w.start("SAMLProviderList");
        for provider in providers {
            w.start("member");
            w.text("Arn", &provider.arn());
            w.timestamp_opt("ValidUntil", provider.valid_until.map(from_unix));
            w.timestamp("CreateDate", from_unix(provider.created_at));
            w.end("member");
        }
        w.end("SAMLProviderList");
    }
    Ok(w.finish(ctx.request_id))
}

/// UpdateSAMLProvider: replace the metadata document (and the encryption mode).
pub(crate) async fn update_saml_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = read_provider_arn(params, &mut v);
    let document = read_metadata(params, &mut v, false);
    let mode = check_encryption_options(params, &mut v)?;
    params.finish_unknown()?;
    v.into_result()?;
    let arn = required(arn)?;
    load::<SamlProvider>(ctx, "UpdateSAMLProvider", &arn, |_| {})?;
    let metadata = document.as_deref().map(parse_metadata).transpose()?;
    change::<SamlProvider, _>(ctx, &arn, |_, provider| {
        if let (Some(document), Some(metadata)) = (document, metadata) {
            provider.metadata_document = document;
            provider.valid_until = valid_until(&metadata);
        }
        if mode.is_some() {
            provider.assertion_encryption_mode = mode;
        }
        Ok(())
    })
    .await?;
    let mut w = XmlWriter::response("UpdateSAMLProvider", IAM_NAMESPACE);
    w.text("SAMLProviderArn", &arn);
    Ok(w.finish(ctx.request_id))
}

/// DeleteSAMLProvider.
pub(crate) async fn delete_saml_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let arn = read_provider_arn(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let arn = required(arn)?;
    load::<SamlProvider>(ctx, "DeleteSAMLProvider", &arn, |_| {})?;
    remove::<SamlProvider>(ctx, &arn, |_, _| Ok(())).await?;
    no_output(ctx, "DeleteSAMLProvider")
}

/// TagSAMLProvider (keys case-sensitive).
pub(crate) async fn tag_saml_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    tag_target::<SamlProvider>(ctx, params, "TagSAMLProvider").await
}

/// UntagSAMLProvider.
pub(crate) async fn untag_saml_provider(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    untag_target::<SamlProvider>(ctx, params, "UntagSAMLProvider").await
}

/// ListSAMLProviderTags.
pub(crate) fn list_saml_provider_tags(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    list_target_tags::<SamlProvider>(ctx, params, "ListSAMLProviderTags")
}
