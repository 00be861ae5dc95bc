//! The STS actions (sts-api.md 9): GetCallerIdentity, GetSessionToken,
//! AssumeRole, GetFederationToken, GetAccessKeyInfo,
//! DecodeAuthorizationMessage.

use mayfly_token::{IssuedCredentials, SessionClaims, SessionPrincipal};
use mayfly_wire::{AwsError, Pattern, QueryParams, STS_NAMESPACE, ValidationErrors, XmlWriter};

use crate::arn;
use crate::audit::AuditIssued;
use crate::auth::{Caller, CallerKind};
use crate::authz::{self, AssumeRequest};
use crate::clock::from_unix;
use crate::role_session::{self, RoleSessionRequest};
use crate::session;
use crate::{ActionContext, ActionResult};

/// Route an STS action.
pub(crate) async fn dispatch(
    ctx: &mut ActionContext<'_>,
    action: &str,
    params: &mut QueryParams,
) -> ActionResult {
    match action {
        "GetCallerIdentity" => get_caller_identity(ctx, params),
        "GetSessionToken" => get_session_token(ctx, params).await,
        "AssumeRole" => assume_role(ctx, params).await,
        "GetFederationToken" => get_federation_token(ctx, params),
        "GetAccessKeyInfo" => get_access_key_info(ctx, params),
        "DecodeAuthorizationMessage" => decode_authorization_message(ctx, params),
        "AssumeRoleWithWebIdentity" => {
            crate::web_identity::assume_role_with_web_identity(ctx, params).await
        }
        "AssumeRoleWithSAML" => crate::saml::assume_role_with_saml(ctx, params).await,
        other => Err(AwsError::invalid_action(
            crate::truncate(other, 128),
            mayfly_wire::STS_VERSION,
        )),
    }
}

fn caller<'c>(ctx: &'c ActionContext<'_>) -> Result<&'c Caller, AwsError> {
    ctx.caller
        .as_deref()
        .ok_or_else(AwsError::missing_authentication_token)
}

/// The caller, shared: for actions that hold it while they change `ctx`.
fn caller_arc(ctx: &ActionContext<'_>) -> Result<std::sync::Arc<Caller>, AwsError> {
    ctx.caller
        .clone()
        .ok_or_else(AwsError::missing_authentication_token)
}

/// GetCallerIdentity (9.6): never subject to authorization.
fn get_caller_identity(ctx: &mut ActionContext<'_>, params: &mut QueryParams) -> ActionResult {
    params.finish_unknown()?;
    let caller = caller(ctx)?;
    let mut w = XmlWriter::response("GetCallerIdentity", STS_NAMESPACE);
    w.text("UserId", &caller.user_id);
    w.text("Account", &caller.account_id);
    w.text("Arn", &caller.arn);
    Ok(w.finish(ctx.request_id))
}

/// GetSessionToken (9.4).
async fn get_session_token(ctx: &mut ActionContext<'_>, params: &mut QueryParams) -> ActionResult {
    let mut v = ValidationErrors::new();
    let duration = params.integer("DurationSeconds", &mut v);
    let serial = params.string("SerialNumber");
    let code = params.string("TokenCode");
    if let Some(d) = duration {
        v.range("DurationSeconds", d, 900, 129_600);
    }
    check_mfa_parameters(&mut v, serial.as_deref(), code.as_deref());
    params.finish_unknown()?;
    v.into_result()?;
    let caller = caller_arc(ctx)?;
    let now = ctx.core.clock.unix_now();
    let (principal, duration) = match &caller.kind {
        CallerKind::Session(_) => {
            return Err(AwsError::access_denied(
                "Cannot call GetSessionToken with session credentials",
            ));
        }
        // Root: default 3600, larger values silently clamped (9.4).
        CallerKind::Root => (
            SessionPrincipal::Root,
            duration.map_or(3600, |d| d.min(3600)),
        ),
        CallerKind::User { user_name } => (
            SessionPrincipal::User {
                user_arn: caller.arn.clone(),
                user_id: caller.user_id.clone(),
                user_name: user_name.clone(),
            },
            duration.unwrap_or(43_200),
        ),
    };
    let mfa_authenticated_at = verify_mfa(ctx, &caller, serial.as_deref(), code.as_deref()).await?;
    let claims = SessionClaims {
        account_id: caller.account_id.clone(),
        principal,
        issued_at: now,
        expires_at: now + duration_secs(duration),
        session_policy: None,
        policy_arns: Vec::new(),
        tags: Vec::new(),
        source_identity: None,
        mfa_authenticated_at,
        role_chained: false,
        federated_provider: None,
        parent_access_key_id: Some(caller.access_key_id.clone()),
        context_keys: Default::default(),
    };
    let issued = issue(ctx, &claims)?;
    let mut w = XmlWriter::response("GetSessionToken", STS_NAMESPACE);
    write_credentials(&mut w, &issued);
    Ok(w.finish(ctx.request_id))
}

/// AssumeRole (9.1), in the processing order the reference gives.
async fn assume_role(ctx: &mut ActionContext<'_>, params: &mut QueryParams) -> ActionResult {
    // 1. Validate parameters.
    let mut v = ValidationErrors::new();
    let role_arn = v.required("RoleArn", params.string("RoleArn"));
    let session_name = v.required("RoleSessionName", params.string("RoleSessionName"));
    let duration = params.integer("DurationSeconds", &mut v);
    let external_id = params.string("ExternalId");
    let serial = params.string("SerialNumber");
    let code = params.string("TokenCode");
    let source_identity = params.string("SourceIdentity");
    let policies = session::read_session_policies(params, &mut v, usize::MAX)?;
    let tags = session::read_tags(params, &mut v, true)?;
    if params
        .struct_list("ProvidedContexts", &["ProviderArn", "ContextAssertion"])?
        .is_some()
    {
        return Err(AwsError::invalid_parameter_value(
            "ProvidedContexts (trusted identity propagation) is not supported",
        ));
    }
    params.finish_unknown()?;
    if let Some(arn) = &role_arn {
        v.length("RoleArn", arn, 20, 2048);
    }
    if let Some(name) = &session_name {
        v.length("RoleSessionName", name, 2, 64);
        v.pattern("RoleSessionName", name, Pattern::RoleSessionName);
    }
    if let Some(d) = duration {
        v.range("DurationSeconds", d, 900, 43_200);
    }
    if let Some(id) = &external_id {
        v.length("ExternalId", id, 2, 1224);
        v.pattern("ExternalId", id, Pattern::ExternalId);
    }
    if let Some(si) = &source_identity {
        session::validate_source_identity(&mut v, si);
    }
    check_mfa_parameters(&mut v, serial.as_deref(), code.as_deref());
    v.into_result()?;
    let (Some(role_arn), Some(session_name)) = (role_arn, session_name) else {
        return Err(AwsError::internal());
    };
    if source_identity
        .as_deref()
        .is_some_and(session::source_identity_reserved)
    {
        return Err(AwsError::validation_message(
            "SourceIdentity must not begin with the reserved prefix `aws:`.",
        ));
    }

    let caller = caller_arc(ctx)?;
    if caller.is_root() {
        return Err(AwsError::access_denied(
            "Roles may not be assumed by root accounts.",
        ));
    }
    if let Some(SessionPrincipal::FederatedUser { .. }) = caller.claims().map(|c| &c.principal) {
        return Err(AwsError::access_denied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
            caller.arn,
            crate::truncate(&role_arn, 2048)
        )));
    }
    let inherited = caller.claims().map(|c| c.tags.clone()).unwrap_or_default();
    let requested_tags = tags.tags.clone();
    let merged_tags = session::merge_inherited(&inherited, tags.tags)?;
    let inherited_source_identity = caller.claims().and_then(|c| c.source_identity.clone());
    if let (Some(old), Some(new)) = (&inherited_source_identity, &source_identity)
        && old != new
    {
        return Err(AwsError::access_denied(
            "The source identity of a role chain cannot be changed.",
        ));
    }

    // 2-4. Resolve the role (a missing role is AccessDenied, never
    // NoSuchEntity) and authorize against trust and identity policies.
    let mfa_authenticated_at = verify_mfa(ctx, &caller, serial.as_deref(), code.as_deref()).await?;
    let view = std::sync::Arc::clone(&ctx.view);
    let role = authz::authorize_assume_role(
        ctx,
        &view,
        &caller,
        &AssumeRequest {
            role_arn: &role_arn,
            session_name: &session_name,
            external_id: external_id.as_deref(),
            source_identity: source_identity.as_deref(),
            request_tags: &requested_tags,
            transitive_keys: merged_tags
                .iter()
                .filter(|t| t.transitive)
                .map(|t| t.key.as_str())
                .collect(),
            tags_given: tags.given,
            mfa_authenticated_at,
        },
    )?;

    // 6. Durations (4).
    let chained = caller.is_session();
    let duration = role_session::session_duration(role, duration, chained)?;

    // 7-8. Session policies and packing; mint.
    let session = role_session::mint(
        ctx,
        RoleSessionRequest {
            role,
            session_name: &session_name,
            duration,
            policies: &policies,
            tags: merged_tags,
            source_identity: source_identity.or(inherited_source_identity),
            mfa_authenticated_at: mfa_authenticated_at
                .or_else(|| caller.claims().and_then(|c| c.mfa_authenticated_at)),
            role_chained: chained,
            federated_provider: None,
            parent_access_key_id: Some(
                caller
                    .claims()
                    .and_then(|c| c.parent_access_key_id.clone())
                    .unwrap_or_else(|| caller.access_key_id.clone()),
            ),
            context_keys: Default::default(),
        },
    )?;
    let mut w = XmlWriter::response("AssumeRole", STS_NAMESPACE);
    session.write_result(&mut w);
    Ok(w.finish(ctx.request_id))
}

/// GetFederationToken (9.5).
fn get_federation_token(ctx: &mut ActionContext<'_>, params: &mut QueryParams) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = v.required("Name", params.string("Name"));
    let duration = params.integer("DurationSeconds", &mut v);
    let policies = session::read_session_policies(params, &mut v, 2048)?;
    let tags = session::read_tags(params, &mut v, false)?;
    params.finish_unknown()?;
    if let Some(name) = &name {
        v.length("Name", name, 2, 32);
        v.pattern("Name", name, Pattern::RoleSessionName);
    }
    if let Some(d) = duration {
        v.range("DurationSeconds", d, 900, 129_600);
    }
    v.into_result()?;
    let Some(name) = name else {
        return Err(AwsError::internal());
    };
    let caller = caller_arc(ctx)?;
    if caller.is_session() {
        return Err(AwsError::access_denied(
            "Cannot call GetFederationToken with session credentials",
        ));
    }
    let federated_arn = arn::federated_user_arn(&caller.account_id, &name);
    authz::authorize_caller(
        ctx,
        &caller,
        "sts:GetFederationToken",
        &federated_arn,
        |rc| {
            authz::add_request_tags(rc, &tags.tags);
        },
    )?;
    if tags.given {
        authz::authorize_caller(ctx, &caller, "sts:TagSession", &federated_arn, |rc| {
            authz::add_request_tags(rc, &tags.tags);
        })?;
    }
    let duration = match caller.kind {
        CallerKind::Root => duration.map_or(3600, |d| d.min(3600)),
        _ => duration.unwrap_or(43_200),
    };
    let view = std::sync::Arc::clone(&ctx.view);
    policies.validate(&view, &caller.account_id)?;
    let packed = session::packed_size(&policies, &tags.tags)?;
    let (user_arn, user_id) = (caller.arn.clone(), caller.user_id.clone());
    let now = ctx.core.clock.unix_now();
    let claims = SessionClaims {
        account_id: caller.account_id.clone(),
        principal: SessionPrincipal::FederatedUser {
            name: name.clone(),
            user_arn,
            user_id,
        },
        issued_at: now,
        expires_at: now + duration_secs(duration),
        session_policy: policies.inline.clone(),
        policy_arns: policies.arns.clone(),
        tags: tags.tags.clone(),
        source_identity: None,
        mfa_authenticated_at: None,
        role_chained: false,
        federated_provider: None,
        parent_access_key_id: Some(caller.access_key_id.clone()),
        context_keys: Default::default(),
    };
    let issued = issue(ctx, &claims)?;
    let mut w = XmlWriter::response("GetFederationToken", STS_NAMESPACE);
    write_credentials(&mut w, &issued);
    w.start("FederatedUser");
    w.text(
        "FederatedUserId",
        &format!("{}:{}", caller.account_id, name),
    );
    w.text("Arn", &federated_arn);
    w.end("FederatedUser");
    if !policies.is_empty() || !tags.tags.is_empty() {
        w.number("PackedPolicySize", packed_i64(packed));
    }
    Ok(w.finish(ctx.request_id))
}

/// GetAccessKeyInfo (9.7).
fn get_access_key_info(ctx: &mut ActionContext<'_>, params: &mut QueryParams) -> ActionResult {
    let mut v = ValidationErrors::new();
    let key_id = v.required("AccessKeyId", params.string("AccessKeyId"));
    params.finish_unknown()?;
    if let Some(id) = &key_id {
        v.length("AccessKeyId", id, 16, 128);
        v.pattern("AccessKeyId", id, Pattern::StsAccessKeyId);
    }
    v.into_result()?;
    let Some(key_id) = key_id else {
        return Err(AwsError::internal());
    };
    let caller = caller_arc(ctx)?;
    authz::authorize_caller(ctx, &caller, "sts:GetAccessKeyInfo", "*", |_| {})?;
    let account = ctx
        .view
        .snapshot
        .access_key(&key_id)
        .map(|k| k.account_id.clone())
        .or_else(|| mayfly_token::account_from_access_key_id(&key_id))
        .ok_or_else(|| {
            AwsError::invalid_parameter_value(format!(
                "The access key id `{}` does not belong to any account known here.",
                crate::truncate(&key_id, 128)
            ))
        })?;
    let mut w = XmlWriter::response("GetAccessKeyInfo", STS_NAMESPACE);
    w.text("Account", &account);
    Ok(w.finish(ctx.request_id))
}

/// DecodeAuthorizationMessage (9.8).
fn decode_authorization_message(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let message = v.required("EncodedMessage", params.string("EncodedMessage"));
    params.finish_unknown()?;
    if let Some(m) = &message {
        v.sensitive_length("EncodedMessage", m, 1, 10_240);
    }
    v.into_result()?;
    let Some(message) = message else {
        return Err(AwsError::internal());
    };
    let caller = caller_arc(ctx)?;
    authz::authorize_caller(ctx, &caller, "sts:DecodeAuthorizationMessage", "*", |_| {})?;
    if message.contains(['\n', '\r']) {
        return Err(invalid_message());
    }
    let decoded = ctx
        .view
        .key_ring
        .open_message(&message, ctx.core.clock.unix_now())
        .map_err(|_| invalid_message())?;
    let mut w = XmlWriter::response("DecodeAuthorizationMessage", STS_NAMESPACE);
    w.text("DecodedMessage", &decoded);
    Ok(w.finish(ctx.request_id))
}

fn invalid_message() -> AwsError {
    AwsError::new(
        "InvalidAuthorizationMessageException",
        400,
        "The encoded authorization message is invalid or has expired.",
    )
}

/// Both MFA parameters or neither (8, [choice]), each in its format; the
/// code is never echoed in the message.
fn check_mfa_parameters(v: &mut ValidationErrors, serial: Option<&str>, code: Option<&str>) {
    if let Some(serial) = serial {
        v.length("SerialNumber", serial, 9, 256);
        v.pattern("SerialNumber", serial, Pattern::SerialNumber);
    }
    if let Some(code) = code {
        v.sensitive_length("TokenCode", code, 6, 6);
        v.sensitive_pattern("TokenCode", code, Pattern::TokenCode);
    }
    match (serial, code) {
        (Some(_), None) => {
            v.required::<()>("TokenCode", None);
        }
        (None, Some(_)) => {
            v.required::<()>("SerialNumber", None);
        }
        _ => {}
    }
}

/// Check an MFA code (8): returns when MFA was authenticated (now), or
/// `None` without MFA parameters. The device must be assigned to the
/// caller, the code valid now and not used before (`crate::mfa`).
async fn verify_mfa(
    ctx: &ActionContext<'_>,
    caller: &Caller,
    serial: Option<&str>,
    code: Option<&str>,
) -> Result<Option<u64>, AwsError> {
    match (serial, code) {
        (Some(serial), Some(code)) => crate::mfa::verify_sign_in(ctx, caller, serial, code)
            .await
            .map(Some),
        _ => Ok(None),
    }
}

fn duration_secs(duration: i64) -> u64 {
    u64::try_from(duration).unwrap_or(0)
}

fn packed_i64(packed: usize) -> i64 {
    i64::try_from(packed).unwrap_or(i64::MAX)
}

/// Seal the claims into credentials and remember the key id for the audit event.
pub(crate) fn issue(
    ctx: &mut ActionContext<'_>,
    claims: &SessionClaims,
) -> Result<IssuedCredentials, AwsError> {
    let issued = ctx
        .view
        .key_ring
        .issue(claims, &mayfly_token::PublicRandom)
        .map_err(|error| {
            tracing::error!(%error, "sealing a session token failed");
            AwsError::internal()
        })?;
    ctx.issued_access_key_id = Some(issued.access_key_id.clone());
    if ctx.core.audit.enabled() {
        ctx.audit_facts.issued = Some(AuditIssued::new(claims, &issued.session_token));
    }
    Ok(issued)
}

pub(crate) fn write_credentials(w: &mut XmlWriter, issued: &IssuedCredentials) {
    w.start("Credentials");
    w.text("AccessKeyId", &issued.access_key_id);
    w.text("SecretAccessKey", issued.secret_access_key.as_str());
    w.text("SessionToken", &issued.session_token);
    w.timestamp("Expiration", from_unix(issued.expires_at));
    w.end("Credentials");
    write_token_usage(w, issued);
}

/// `SessionTokenSize` and `SessionTokenUtilization` (the current STS model's
/// successors of PackedPolicySize): the token's length in bytes and its
/// share, in percent, of the largest token Mayfly issues.
fn write_token_usage(w: &mut XmlWriter, issued: &IssuedCredentials) {
    let size = issued.session_token.len();
    let percent = (size * 100)
        .div_ceil(mayfly_token::MAX_SESSION_TOKEN_LEN)
        .min(100);
    w.number("SessionTokenSize", i64::try_from(size).unwrap_or(i64::MAX));
    w.number(
        "SessionTokenUtilization",
        i64::try_from(percent).unwrap_or(100),
    );
}
