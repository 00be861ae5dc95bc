//! The AWS IoT credentials provider (workload-credentials.md 7): a device
//! proves possession of its X.509 certificate in a mutual-TLS handshake and
//! trades it for a role session with `GET /role-aliases/{alias}/credentials`.
//!
//! The listener (crates/server) owns the TLS; this module decides. Trust
//! comes from the enabled Roles Anywhere trust anchors of every account
//! (certificate-bundle source) with their enabled CRLs ([`IotTrust`]); the
//! same validation runs at the handshake and again on every request, so a
//! keep-alive connection stops minting the moment its anchor is disabled or
//! a CRL revokes it. Both go through the chain cache CreateSession uses
//! (`ChainCache`): a device presenting the same chain again is answered
//! from it while every certificate it offered is valid and the anchors and
//! CRLs are unchanged, so the repeat costs no signature check.
//!
//! Choices where the reference leaves one (documented in docs/SECURITY.md):
//! - The alias is looked up in the accounts owning an anchor the chain
//!   validates to; found in two of them, the request is refused (403)
//!   rather than one account chosen silently.
//! - Mayfly has no IoT thing registry: `x-amzn-iot-thingname` is accepted
//!   only when it equals the certificate's subject CN (the usual
//!   provisioning convention), else 403 "Invalid thing name passed".
//! - No IoT policy (`iot:AssumeRoleWithCertificate`) is consulted: the trust
//!   anchor, the alias and the role's trust policy decide.
//! - The session name is the certificate id (64 lowercase hex characters of
//!   SHA-256 over the DER leaf; reference: unverified), and the duration the
//!   alias's, at most the role's `MaxSessionDuration` and the certificate's
//!   remaining validity.
//! - The trust policy sees `aws:SourceArn` (the alias ARN),
//!   `aws:SourceAccount` (its owner) and the `credentials-iot:*` keys.

mod role_alias;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use mayfly_federation::x509::{Certificate, X509Error, parse_certificate};
use mayfly_store::IotRoleAlias;
use mayfly_wire::AwsError;
use serde_json::json;

pub use self::role_alias::{
    DEFAULT_CREDENTIAL_DURATION_SECONDS, MAX_CREDENTIAL_DURATION_SECONDS,
    MIN_CREDENTIAL_DURATION_SECONDS, NewRoleAlias, RoleAliasError, create_role_alias,
    delete_role_alias, is_valid_alias, list_role_aliases, validate_new_alias,
};
use crate::audit::{AuditEvent, AuditOutcome};
use crate::role_session::{self, RoleSessionRequest};
use crate::rolesanywhere::Loaded;
use crate::rolesanywhere::session::verify_chain_cached;
use crate::rolesanywhere::state::ChainCache;
use crate::session::SessionPolicies;
use crate::{ActionContext, ApiRequest, Core};

/// The service principal role trust policies must allow.
pub const SERVICE_PRINCIPAL: &str = "credentials.iot.amazonaws.com";
/// The policy variable holding the `x-amzn-iot-thingname` of the request.
pub const THING_NAME_KEY: &str = "credentials-iot:ThingName";
/// The policy variable holding the certificate id.
pub const CERTIFICATE_ID_KEY: &str = "credentials-iot:AwsCertificateId";

/// The certificate trust of the IoT listener at one store generation: every
/// enabled `CERTIFICATE_BUNDLE` trust anchor of every account, each with its
/// enabled CRLs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct IotTrust {
    loaded: Arc<Loaded>,
}

/// A client certificate chain that validates to at least one enabled anchor.
#[derive(Debug, Clone)]
pub struct TrustedCertificate {
    /// The parsed leaf (shared with the chain cache).
    pub leaf: Arc<Certificate>,
    /// The accounts owning an anchor the chain validates to, in order,
    /// without repeats.
    pub accounts: Vec<String>,
}

impl IotTrust {
    /// The store generation this trust was loaded at.
    pub fn generation(&self) -> u64 {
        self.loaded.generation
    }

    /// Validate `chain` (the leaf first, then the intermediates the client
    /// sent) at `now` against every enabled anchor: validity, key usage,
    /// signatures and the anchor's enabled CRLs (`verify_chain`, answered
    /// from the chain cache CreateSession shares when the same chain to the
    /// same anchor verified before and `now` is inside the validity of
    /// every certificate offered; the cache is emptied when an anchor or a
    /// CRL changes). When no anchor accepts it, the most telling refusal is
    /// returned: revoked, then expired, then key usage, then untrusted.
    pub fn verify(
        &self,
        chain: &[&[u8]],
        now: SystemTime,
    ) -> Result<TrustedCertificate, X509Error> {
        let (leaf_der, intermediates) = chain
            .split_first()
            .ok_or(X509Error::Malformed("no client certificate"))?;
        let loaded = self.loaded.as_ref();
        // A leaf whose chain verified before is kept parsed.
        let leaf_digest = ChainCache::leaf_digest(leaf_der);
        let leaf = match loaded.chains.leaf(&leaf_digest) {
            Some(leaf) => leaf,
            None => Arc::new(parse_certificate(leaf_der)?),
        };
        let pool: Vec<Vec<u8>> = intermediates.iter().map(|c| c.to_vec()).collect();
        let mut accounts: Vec<String> = Vec::new();
        let mut refusal: Option<X509Error> = None;
        for (key, anchor) in &loaded.anchors {
            if !anchor.enabled {
                continue;
            }
            let Some(bundle) = loaded.bundles.get(key) else {
                continue;
            };
            // INVARIANT: these are the CRLs CreateSession verifies this
            // anchor's chains with (it looks them up by the ARN it was
            // given, which names this anchor exactly), so whichever of the
            // two cached a chain, it verified against the same bundle and
            // CRLs.
            let crls = loaded
                .crls_by_anchor
                .get(&anchor.arn())
                .map(Vec::as_slice)
                .unwrap_or_default();
            match verify_chain_cached(loaded, key, (&leaf, leaf_digest), &pool, bundle, crls, now) {
                Ok(()) => {
                    if !accounts.contains(&anchor.account_id) {
                        accounts.push(anchor.account_id.clone());
                    }
                }
                Err(error) => {
                    if refusal
                        .as_ref()
                        .is_none_or(|seen| refusal_rank(&error) > refusal_rank(seen))
                    {
                        refusal = Some(error);
                    }
                }
            }
        }
        if accounts.is_empty() {
            return Err(refusal
                .unwrap_or_else(|| X509Error::Untrusted("no enabled trust anchor".to_owned())));
        }
        Ok(TrustedCertificate { leaf, accounts })
    }
}

fn refusal_rank(error: &X509Error) -> u8 {
    match error {
        X509Error::Revoked => 3,
        X509Error::Expired => 2,
        X509Error::KeyUsage(_) => 1,
        _ => 0,
    }
}

/// The IoT certificate id: lowercase hex SHA-256 of the DER certificate.
pub fn certificate_id(der: &[u8]) -> String {
    mayfly_sigv4::sha256_hex(der)
}

/// `x-amzn-iot-thingname`: `[a-zA-Z0-9:_-]+`, 1–128 characters.
fn is_valid_thing_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'))
}

/// One credentials request, as the listener saw it.
#[derive(Debug, Clone, Copy)]
pub struct IotCredentialsRequest<'a> {
    /// The `{alias}` path segment, percent-decoded.
    pub role_alias: &'a str,
    /// The `x-amzn-iot-thingname` header value, if sent.
    pub thing_name: Option<&'a [u8]>,
    /// The chain the client presented in the mutual-TLS handshake, leaf
    /// first; the handshake proved possession of the leaf's private key.
    pub certificate_chain: &'a [&'a [u8]],
    /// The peer address (`aws:SourceIp`).
    pub source_ip: IpAddr,
    /// The `User-Agent` header (`aws:UserAgent`).
    pub user_agent: Option<&'a str>,
}

/// The answer: a status and a JSON body.
#[derive(Debug, Clone)]
pub struct IotResponse {
    /// 200, 400, 403, 404 or 500.
    pub status: u16,
    /// `{"credentials":{…}}` or `{"message":"…"}`.
    pub body: String,
    /// Sent as `x-amzn-RequestId`.
    pub request_id: String,
}

/// The error body every refusal uses (workload-credentials.md 7.1).
pub fn error_body(message: &str) -> String {
    json!({ "message": message }).to_string()
}

impl Core {
    /// The IoT listener's certificate trust as of the current view, loaded
    /// from the store when the view is newer than what this node holds.
    pub async fn iot_trust(&self) -> Result<IotTrust, AwsError> {
        self.iot_trust_at(self.view.load().generation).await
    }

    /// The certificate trust for a view of `generation`: the entities
    /// loaded for it, or for a newer generation when this node already
    /// holds one (the Roles Anywhere state keeps only its newest load, as
    /// CreateSession sees it); never an older one.
    async fn iot_trust_at(&self, generation: u64) -> Result<IotTrust, AwsError> {
        let loaded = self.rolesanywhere.current(self, generation).await?;
        Ok(IotTrust { loaded })
    }

    /// The newest certificate trust this node holds, without reading the
    /// store: changes made through this node are in it at once, changes
    /// made elsewhere once [`Core::iot_trust`] (or any Roles Anywhere
    /// request) has run after the view saw them. `None` before the first
    /// load.
    pub fn iot_trust_loaded(&self) -> Option<IotTrust> {
        self.rolesanywhere
            .latest()
            .map(|loaded| IotTrust { loaded })
    }

    /// `GET /role-aliases/{alias}/credentials`: validate the presented chain
    /// against the current trust, resolve the alias, authorize the role's
    /// trust policy for `credentials.iot.amazonaws.com` and mint a role
    /// session. One audit event, service `iot`, action
    /// `AssumeRoleWithCertificate`.
    pub async fn iot_credentials(&self, request: IotCredentialsRequest<'_>) -> IotResponse {
        let now = self.clock.now();
        let request_id = self.request_id();
        let path = format!("/role-aliases/{}/credentials", request.role_alias);
        let user_agent: Vec<(&str, &[u8])> = request
            .user_agent
            .map(|agent| ("user-agent", agent.as_bytes()))
            .into_iter()
            .collect();
        let api_request = ApiRequest {
            method: "GET",
            path: &path,
            query: "",
            headers: &user_agent,
            body: &[],
            source_ip: request.source_ip,
            secure_transport: true,
        };
        // A stale view is refused before anything reads it
        // (Core::current_view).
        let (view, refused) = match self.current_view() {
            Ok(view) => (view, None),
            Err(error) => (self.view.load_full(), Some(error)),
        };
        let mut ctx = ActionContext {
            core: self,
            view,
            caller: None,
            request: &api_request,
            now,
            request_id: &request_id,
            issued_access_key_id: None,
            audit_facts: crate::audit::AuditFacts::default(),
        };
        let mut parameters = vec![(
            "roleAlias".to_owned(),
            crate::truncate(request.role_alias, 128).to_owned(),
        )];
        let result = match refused {
            Some(error) => Err(error),
            None => credentials(&mut ctx, &request, &mut parameters).await,
        };
        let mut error_message = None;
        let (status, body, outcome) = match result {
            Ok(body) => (200, body, AuditOutcome::Success),
            Err(error) => {
                error_message = self
                    .audit
                    .enabled()
                    .then(|| crate::audit::error_message(&error.message));
                // 503: a stale view, logged once when refusing starts.
                if error.status >= 500 && error.status != 503 {
                    tracing::error!(code = %error.code, message = %error.message, %request_id, "iot credentials request failed");
                } else {
                    tracing::debug!(code = %error.code, message = %error.message, %request_id, "iot credentials request refused");
                }
                let code = error.code.to_string();
                (
                    error.status,
                    error_body(&error.message),
                    AuditOutcome::Error { code },
                )
            }
        };
        if self.audit.enabled() {
            self.audit.record(AuditEvent {
                time: now,
                request_id: request_id.clone(),
                service: "iot",
                action: "AssumeRoleWithCertificate".to_owned(),
                caller: None,
                source_ip: request.source_ip,
                parameters,
                outcome,
                issued_access_key_id: ctx.issued_access_key_id.take(),
                event_id: self.request_id(),
                user_agent: request.user_agent.map(str::to_owned),
                region: None,
                error_message,
                issued: ctx.audit_facts.issued.take(),
                external_identity: None,
            });
        }
        IotResponse {
            status,
            body,
            request_id,
        }
    }
}

/// 400 (malformed request).
fn malformed(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidRequestException", 400, message)
}

/// 403 (authentication or authorization failure).
fn forbidden(message: impl Into<String>) -> AwsError {
    AwsError::new("ForbiddenException", 403, message)
}

/// The steps of [`Core::iot_credentials`]; the body on success.
async fn credentials(
    ctx: &mut ActionContext<'_>,
    request: &IotCredentialsRequest<'_>,
    parameters: &mut Vec<(String, String)>,
) -> Result<String, AwsError> {
    if !is_valid_alias(request.role_alias) {
        return Err(malformed(
            "The role alias must be 1-128 characters of letters, digits and _=,@-",
        ));
    }
    let thing_name = match request.thing_name {
        None => None,
        Some(raw) => match std::str::from_utf8(raw) {
            Ok(name) if is_valid_thing_name(name) => Some(name),
            _ => {
                return Err(malformed(
                    "x-amzn-iot-thingname must be 1-128 characters of letters, digits and :_-",
                ));
            }
        },
    };
    if let Some(name) = thing_name {
        parameters.push(("thingName".to_owned(), name.to_owned()));
    }

    // The chain, against the trust of this request's view (not the
    // handshake's, nor a view the core installed since the request began).
    let trust = ctx.core.iot_trust_at(ctx.view.generation).await?;
    let trusted = trust
        .verify(request.certificate_chain, ctx.now)
        .map_err(|error| {
            tracing::debug!(%error, "iot client certificate refused");
            match error {
                X509Error::Revoked => forbidden("Certificate revoked"),
                X509Error::Expired => forbidden("Certificate expired or not yet valid"),
                _ => forbidden("Certificate is not trusted"),
            }
        })?;
    let certificate_id = certificate_id(&trusted.leaf.der);
    parameters.push(("certificateId".to_owned(), certificate_id.clone()));

    // No thing registry: the thing is the certificate's subject CN.
    if let Some(name) = thing_name
        && trusted.leaf.subject_cn() != Some(name)
    {
        return Err(forbidden("Invalid thing name passed"));
    }

    let alias = resolve_alias(&trust, &trusted.accounts, request.role_alias)?;
    let view = Arc::clone(&ctx.view);
    let unable = || {
        forbidden(format!(
            "The role of role alias {} cannot be assumed by {SERVICE_PRINCIPAL}",
            alias.alias
        ))
    };
    let role = view
        .snapshot
        .role_by_arn(&alias.role_arn)
        .filter(|r| r.account_id == alias.account_id)
        .ok_or_else(unable)?;

    let mut context_keys = BTreeMap::new();
    context_keys.insert(CERTIFICATE_ID_KEY.to_owned(), certificate_id.clone());
    if let Some(name) = thing_name {
        context_keys.insert(THING_NAME_KEY.to_owned(), name.to_owned());
    }
    let alias_arn = alias.arn();
    crate::authz::authorize_service_assume(ctx, SERVICE_PRINCIPAL, role, &certificate_id, |rc| {
        rc.set("aws:SourceArn", alias_arn.clone());
        rc.set("aws:SourceAccount", alias.account_id.clone());
        for (key, value) in &context_keys {
            rc.set(key, value.clone());
        }
    })
    .map_err(|decision| {
        match decision {
            Some(decision) => tracing::info!(role = %alias.role_arn, alias = %alias_arn,
                reason = %decision.reason_phrase(), "iot role session refused by the trust policy"),
            None => {
                tracing::warn!(role = %alias.role_arn, "the role's trust policy does not parse")
            }
        }
        unable()
    })?;

    let mut duration =
        u64::from(alias.credential_duration_seconds).min(u64::from(role.max_session_duration));
    if let Ok(not_after) = trusted.leaf.not_after.duration_since(std::time::UNIX_EPOCH) {
        duration = duration.min(
            not_after
                .as_secs()
                .saturating_sub(ctx.core.clock.unix_now()),
        );
    }
    if duration == 0 {
        return Err(forbidden("Certificate expired or not yet valid"));
    }
    let session = role_session::mint(
        ctx,
        RoleSessionRequest {
            role,
            session_name: &certificate_id,
            duration,
            policies: &SessionPolicies::default(),
            tags: Vec::new(),
            source_identity: None,
            mfa_authenticated_at: None,
            role_chained: false,
            federated_provider: None,
            parent_access_key_id: None,
            context_keys,
        },
    )?;
    Ok(json!({
        "credentials": {
            "accessKeyId": session.issued.access_key_id,
            "secretAccessKey": session.issued.secret_access_key.as_str(),
            "sessionToken": session.issued.session_token,
            "expiration": mayfly_wire::iso8601(crate::clock::from_unix(session.issued.expires_at)),
        }
    })
    .to_string())
}

/// The alias named `name` in the accounts the certificate is trusted by:
/// 404 when none has it, 403 when several do.
fn resolve_alias<'t>(
    trust: &'t IotTrust,
    accounts: &[String],
    name: &str,
) -> Result<&'t IotRoleAlias, AwsError> {
    let mut found = accounts.iter().filter_map(|account| {
        trust
            .loaded
            .role_aliases
            .get(&IotRoleAlias::storage_key(account, name))
    });
    let alias = found.next().ok_or_else(|| {
        AwsError::new(
            "ResourceNotFoundException",
            404,
            "Role alias does not exist",
        )
    })?;
    if found.next().is_some() {
        tracing::warn!(alias = %name, "role alias defined in several accounts that trust the certificate");
        return Err(forbidden(
            "The role alias is defined in several accounts that trust this certificate",
        ));
    }
    Ok(alias)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use std::net::Ipv4Addr;
    use std::time::Duration;

    use mayfly_store::{Account, Mutation, RaCrl, RaTrustAnchor, Role, SqliteStore, Store};
    use mayfly_testkit::pki::{Leaf, TestPki};
    use mayfly_token::MasterKey;
    use serde_json::Value;

    use super::*;
    use crate::CoreConfig;
    use crate::audit::MemoryAuditSink;
    use crate::clock::FixedClock;

    const ACCOUNT: &str = "000000000000";
    const OTHER_ACCOUNT: &str = "111122223333";
    const MASTER: &str = "4242424242424242424242424242424242424242424242424242424242424242";
    /// 2030-01-01, inside the test PKI's validity.
    const NOW: u64 = 1_893_456_000;
    const IOT_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"credentials.iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

    fn role(account: &str, name: &str, trust: &str, max: u32) -> Role {
        Role {
            account_id: account.into(),
            name: name.into(),
            path: "/".into(),
            role_id: format!("AROA{:0>17}", name.to_uppercase()),
            created_at: 1,
            assume_role_policy: trust.into(),
            trust_principal_ids: Default::default(),
            description: None,
            max_session_duration: max,
            tags: Vec::new(),
            permissions_boundary: None,
            inline_policies: Default::default(),
            attached_policies: Vec::new(),
            last_used: None,
        }
    }

    fn anchor(account: &str, id: &str, pem: &str, enabled: bool) -> RaTrustAnchor {
        RaTrustAnchor {
            account_id: account.into(),
            region: "us-east-1".into(),
            id: id.into(),
            name: "devices".into(),
            source_type: "CERTIFICATE_BUNDLE".into(),
            source_data: pem.into(),
            enabled,
            notification_settings: Vec::new(),
            created_at: 1,
            updated_at: 1,
            tags: Vec::new(),
        }
    }

    fn alias(account: &str, name: &str, role_arn: &str, duration: u32) -> IotRoleAlias {
        IotRoleAlias {
            account_id: account.into(),
            region: "us-east-1".into(),
            alias: name.into(),
            role_arn: role_arn.into(),
            credential_duration_seconds: duration,
            created_at: 1,
            updated_at: 1,
        }
    }

    const ANCHOR_ID: &str = "4579702c-9abb-47c2-88b2-c734e0b29539";

    struct Fixture {
        core: Core,
        pki: TestPki,
        audit: Arc<MemoryAuditSink>,
        store: Arc<dyn Store>,
    }

    /// A core over a store with an enabled anchor for the test root in the
    /// default account, roles `device` (trusts the IoT service, 2 h) and
    /// `closed` (trusts nobody), and aliases `cams` (7200 s) and `closed`.
    async fn fixture() -> Fixture {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
        let master = MasterKey::from_encoded(MASTER).unwrap();
        crate::admin::initialize(store.as_ref(), &master, NOW, ACCOUNT, None)
            .await
            .unwrap();
        let pki = TestPki::generate().unwrap();
        let device = role(ACCOUNT, "device", IOT_TRUST, 7200);
        let closed = role(
            ACCOUNT,
            "closed",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"rolesanywhere.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            3600,
        );
        store
            .apply(vec![
                Mutation::insert(&anchor(ACCOUNT, ANCHOR_ID, &pki.root.cert_pem, true)).unwrap(),
                Mutation::insert(&alias(ACCOUNT, "cams", &device.arn(), 7200)).unwrap(),
                Mutation::insert(&alias(ACCOUNT, "closed", &closed.arn(), 3600)).unwrap(),
                Mutation::insert(&device).unwrap(),
                Mutation::insert(&closed).unwrap(),
            ])
            .await
            .unwrap();
        let audit = Arc::new(MemoryAuditSink::default());
        let core = Core::new(
            Arc::clone(&store),
            master,
            Arc::new(FixedClock(crate::clock::from_unix(NOW))),
            Arc::clone(&audit) as Arc<dyn crate::audit::AuditSink>,
            CoreConfig::default(),
        )
        .await
        .unwrap();
        Fixture {
            core,
            pki,
            audit,
            store,
        }
    }

    impl Fixture {
        async fn ask(&self, leaf: &Leaf, role_alias: &str, thing: Option<&str>) -> IotResponse {
            let chain = [
                leaf.cert_der.as_slice(),
                self.pki.intermediate.cert_der.as_slice(),
            ];
            self.ask_with_chain(&chain, role_alias, thing).await
        }

        async fn ask_with_chain(
            &self,
            chain: &[&[u8]],
            role_alias: &str,
            thing: Option<&str>,
        ) -> IotResponse {
            self.core
                .iot_credentials(IotCredentialsRequest {
                    role_alias,
                    thing_name: thing.map(str::as_bytes),
                    certificate_chain: chain,
                    source_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
                    user_agent: Some("test-device"),
                })
                .await
        }

        async fn write(&self, mutations: Vec<Mutation>) {
            self.store.apply(mutations).await.unwrap();
            self.core.refresh().await.unwrap();
        }

        /// The claims sealed into a 200 answer.
        fn claims(&self, response: &IotResponse) -> mayfly_token::SessionClaims {
            assert_eq!(response.status, 200, "{}", response.body);
            let body: Value = serde_json::from_str(&response.body).unwrap();
            let c = &body["credentials"];
            self.core
                .view
                .load()
                .key_ring
                .open(
                    c["sessionToken"].as_str().unwrap(),
                    c["accessKeyId"].as_str().unwrap(),
                    NOW,
                )
                .unwrap()
                .claims
        }
    }

    /// The test CA's CRL (it revokes `pki.revoked`), enabled, for the anchor.
    fn issuing_crl(pki: &TestPki) -> RaCrl {
        RaCrl {
            account_id: ACCOUNT.into(),
            region: "us-east-1".into(),
            id: "9f0e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b".into(),
            name: "issuing".into(),
            crl_data: pki.crl_pem.as_bytes().to_vec(),
            trust_anchor_arn: anchor(ACCOUNT, ANCHOR_ID, "", true).arn(),
            enabled: true,
            created_at: 1,
            updated_at: 1,
            tags: Vec::new(),
        }
    }

    /// `leaf` and the test intermediate, as a device sends them.
    fn device_chain<'a>(pki: &'a TestPki, leaf: &'a Leaf) -> [&'a [u8]; 2] {
        [
            leaf.cert_der.as_slice(),
            pki.intermediate.cert_der.as_slice(),
        ]
    }

    /// Whether `trust`'s chain cache holds `leaf`'s chain to the fixture's
    /// anchor as verified at `NOW`.
    fn cached(trust: &IotTrust, pki: &TestPki, leaf: &Leaf) -> bool {
        let key = ChainCache::key(
            &format!("{ACCOUNT}/{ANCHOR_ID}"),
            &ChainCache::leaf_digest(&leaf.cert_der),
            std::slice::from_ref(&pki.intermediate.cert_der),
        );
        trust
            .loaded
            .chains
            .verified_at(&key, crate::clock::from_unix(NOW))
    }

    fn refusal(response: &IotResponse) -> (u16, String) {
        let body: Value = serde_json::from_str(&response.body).unwrap();
        (
            response.status,
            body["message"].as_str().unwrap_or_default().to_owned(),
        )
    }

    #[test]
    fn the_certificate_id_is_the_sha256_of_the_der() {
        // SHA-256 of the empty input.
        assert_eq!(
            certificate_id(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn thing_names_follow_the_iot_pattern() {
        assert!(is_valid_thing_name("cam-01:front_door"));
        assert!(!is_valid_thing_name(""));
        assert!(!is_valid_thing_name("has space"));
        assert!(!is_valid_thing_name(&"t".repeat(129)));
    }

    #[tokio::test]
    async fn a_trusted_certificate_gets_a_role_session_named_by_its_id() {
        let f = fixture().await;
        let leaf = &f.pki.ec_p256;
        let response = f.ask(leaf, "cams", Some("workload-ec")).await;
        let claims = f.claims(&response);
        let id = leaf.certificate_id();
        assert_eq!(
            claims.arn(),
            format!("arn:aws:sts::000000000000:assumed-role/device/{id}")
        );
        assert_eq!(claims.expires_at - claims.issued_at, 7200);
        assert_eq!(
            claims.context_keys,
            BTreeMap::from([
                (CERTIFICATE_ID_KEY.to_owned(), id.clone()),
                (THING_NAME_KEY.to_owned(), "workload-ec".to_owned()),
            ])
        );
        let body: Value = serde_json::from_str(&response.body).unwrap();
        assert_eq!(
            body["credentials"]["expiration"],
            mayfly_wire::iso8601(crate::clock::from_unix(NOW + 7200))
        );

        // Without the header only the certificate id is carried.
        let claims = f.claims(&f.ask(leaf, "cams", None).await);
        assert_eq!(
            claims.context_keys,
            BTreeMap::from([(CERTIFICATE_ID_KEY.to_owned(), id.clone())])
        );

        let events = f.audit.events();
        let event = events.first().unwrap();
        assert_eq!(
            (event.service, event.action.as_str()),
            ("iot", "AssumeRoleWithCertificate")
        );
        assert_eq!(event.outcome, AuditOutcome::Success);
        assert!(
            event
                .issued_access_key_id
                .as_deref()
                .unwrap()
                .starts_with("ASIA")
        );
        assert_eq!(
            event.parameters,
            vec![
                ("roleAlias".to_owned(), "cams".to_owned()),
                ("thingName".to_owned(), "workload-ec".to_owned()),
                ("certificateId".to_owned(), id),
            ]
        );
        assert!(
            !format!("{event:?}")
                .contains(body["credentials"]["secretAccessKey"].as_str().unwrap())
        );
    }

    #[tokio::test]
    async fn the_duration_is_capped_by_the_role_and_the_certificate() {
        let f = fixture().await;
        // The role's maximum was lowered after the alias was made.
        let mut device = f
            .core
            .view
            .load()
            .snapshot
            .role_by_arn("arn:aws:iam::000000000000:role/device")
            .cloned()
            .unwrap();
        device.max_session_duration = 3600;
        f.write(vec![Mutation::update(&device).unwrap()]).await;
        let claims = f.claims(&f.ask(&f.pki.ec_p256, "cams", None).await);
        assert_eq!(claims.expires_at - claims.issued_at, 3600);

        // Ten minutes before the leaf expires (2034-01-01), ten minutes.
        let leaf = parse_certificate(&f.pki.ec_p256.cert_der).unwrap();
        let end = leaf
            .not_after
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let late = Core::new(
            Arc::clone(&f.store),
            MasterKey::from_encoded(MASTER).unwrap(),
            Arc::new(FixedClock(
                std::time::UNIX_EPOCH + end - Duration::from_secs(600),
            )),
            Arc::new(MemoryAuditSink::default()),
            CoreConfig::default(),
        )
        .await
        .unwrap();
        let chain = [
            f.pki.ec_p256.cert_der.as_slice(),
            f.pki.intermediate.cert_der.as_slice(),
        ];
        let response = late
            .iot_credentials(IotCredentialsRequest {
                role_alias: "cams",
                thing_name: None,
                certificate_chain: &chain,
                source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                user_agent: None,
            })
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
        let body: Value = serde_json::from_str(&response.body).unwrap();
        assert_eq!(
            body["credentials"]["expiration"],
            mayfly_wire::iso8601(std::time::UNIX_EPOCH + end)
        );
    }

    #[tokio::test]
    async fn refused_requests_get_their_status_and_an_audit_event() {
        let f = fixture().await;
        let leaf = &f.pki.ec_p256;
        assert_eq!(
            refusal(&f.ask(leaf, "nope", None).await),
            (404, "Role alias does not exist".to_owned())
        );
        assert_eq!(
            refusal(&f.ask(leaf, "closed", None).await),
            (
                403,
                "The role of role alias closed cannot be assumed by credentials.iot.amazonaws.com"
                    .to_owned()
            )
        );
        assert_eq!(
            refusal(&f.ask(leaf, "cams", Some("workload-rsa")).await),
            (403, "Invalid thing name passed".to_owned())
        );
        assert_eq!(refusal(&f.ask(leaf, "cams", Some("bad name")).await).0, 400);
        assert_eq!(refusal(&f.ask(leaf, "bad/alias", None).await).0, 400);
        assert_eq!(
            refusal(&f.ask(&f.pki.other_leaf, "cams", None).await),
            (403, "Certificate is not trusted".to_owned())
        );
        assert_eq!(
            refusal(&f.ask(&f.pki.expired, "cams", None).await),
            (403, "Certificate expired or not yet valid".to_owned())
        );
        assert_eq!(
            refusal(
                &f.ask_with_chain(&[leaf.cert_der.as_slice()], "cams", None)
                    .await
            ),
            (403, "Certificate is not trusted".to_owned())
        );
        assert_eq!(refusal(&f.ask_with_chain(&[], "cams", None).await).0, 403);
        let codes: Vec<String> = f
            .audit
            .events()
            .into_iter()
            .map(|e| match e.outcome {
                AuditOutcome::Error { code } => code,
                AuditOutcome::Success => "Success".to_owned(),
            })
            .collect();
        assert_eq!(
            codes,
            [
                "ResourceNotFoundException",
                "ForbiddenException",
                "ForbiddenException",
                "InvalidRequestException",
                "InvalidRequestException",
                "ForbiddenException",
                "ForbiddenException",
                "ForbiddenException",
                "ForbiddenException",
            ]
        );
    }

    #[tokio::test]
    async fn crls_and_disabled_anchors_take_effect_on_the_next_request() {
        let f = fixture().await;
        let revoked = &f.pki.revoked;
        assert_eq!(f.ask(revoked, "cams", None).await.status, 200);
        f.write(vec![Mutation::insert(&issuing_crl(&f.pki)).unwrap()])
            .await;
        assert_eq!(
            refusal(&f.ask(revoked, "cams", None).await),
            (403, "Certificate revoked".to_owned())
        );
        let trust = f.core.iot_trust().await.unwrap();
        let chain = [
            revoked.cert_der.as_slice(),
            f.pki.intermediate.cert_der.as_slice(),
        ];
        assert_eq!(
            trust
                .verify(&chain, crate::clock::from_unix(NOW))
                .unwrap_err(),
            X509Error::Revoked
        );

        let disabled = anchor(ACCOUNT, ANCHOR_ID, &f.pki.root.cert_pem, false);
        f.write(vec![Mutation::update(&disabled).unwrap()]).await;
        assert_eq!(
            refusal(&f.ask(&f.pki.ec_p256, "cams", None).await),
            (403, "Certificate is not trusted".to_owned())
        );
        assert!(f.core.iot_trust().await.unwrap().generation() > trust.generation());
    }

    #[tokio::test]
    async fn an_alias_is_looked_up_in_the_accounts_whose_anchors_trust_the_chain() {
        let f = fixture().await;
        let other_device = role(OTHER_ACCOUNT, "device", IOT_TRUST, 3600);
        f.write(vec![
            Mutation::insert(&Account {
                id: OTHER_ACCOUNT.into(),
                created_at: 1,
                alias: None,
            })
            .unwrap(),
            Mutation::insert(&other_device).unwrap(),
            Mutation::insert(&alias(
                OTHER_ACCOUNT,
                "other-only",
                &other_device.arn(),
                900,
            ))
            .unwrap(),
        ])
        .await;
        // The other account's alias is unknown to certificates it does not trust.
        assert_eq!(f.ask(&f.pki.ec_p256, "other-only", None).await.status, 404);

        // Once it trusts the same root, its alias is found …
        let second = anchor(
            OTHER_ACCOUNT,
            "0d1c2b3a-4f5e-4d6c-8b7a-968574635241",
            &f.pki.root.cert_pem,
            true,
        );
        f.write(vec![Mutation::insert(&second).unwrap()]).await;
        let claims = f.claims(&f.ask(&f.pki.ec_p256, "other-only", None).await);
        assert_eq!(claims.account_id, OTHER_ACCOUNT);
        assert_eq!(claims.expires_at - claims.issued_at, 900);

        // … and a name both accounts define is ambiguous: refused.
        f.write(vec![
            Mutation::insert(&alias(OTHER_ACCOUNT, "cams", &other_device.arn(), 900)).unwrap(),
        ])
        .await;
        assert_eq!(
            refusal(&f.ask(&f.pki.ec_p256, "cams", None).await),
            (
                403,
                "The role alias is defined in several accounts that trust this certificate"
                    .to_owned()
            )
        );
    }

    #[tokio::test]
    async fn a_cached_chain_is_refused_once_expired_revoked_or_its_anchor_is_gone() {
        let f = fixture().await;
        let now = crate::clock::from_unix(NOW);
        let (good, revoked) = (&f.pki.ec_p256, &f.pki.revoked);
        let good_chain = device_chain(&f.pki, good);
        let revoked_chain = device_chain(&f.pki, revoked);

        // Verified once, then answered from the cache CreateSession shares,
        // at the handshake (`iot_trust_loaded`) and per request alike.
        for leaf in [good, revoked] {
            assert_eq!(f.ask(leaf, "cams", None).await.status, 200);
        }
        let trust = f.core.iot_trust_loaded().unwrap();
        assert!(cached(&trust, &f.pki, good) && cached(&trust, &f.pki, revoked));
        assert_eq!(trust.verify(&good_chain, now).unwrap().accounts, [ACCOUNT]);
        assert_eq!(f.ask(good, "cams", None).await.status, 200);

        // Outside the leaf's validity the cache does not answer: expired,
        // or not yet valid, both with the same error as uncached.
        let leaf = parse_certificate(&good.cert_der).unwrap();
        for at in [
            leaf.not_after + Duration::from_secs(1),
            leaf.not_before - Duration::from_secs(1),
        ] {
            assert_eq!(
                trust.verify(&good_chain, at).unwrap_err(),
                X509Error::Expired
            );
        }

        // A CRL empties the cache: the revoked chain, cached a moment ago,
        // is refused at the request and at the handshake.
        f.write(vec![Mutation::insert(&issuing_crl(&f.pki)).unwrap()])
            .await;
        assert_eq!(
            refusal(&f.ask(revoked, "cams", None).await),
            (403, "Certificate revoked".to_owned())
        );
        let trust = f.core.iot_trust_loaded().unwrap();
        assert!(!cached(&trust, &f.pki, revoked));
        assert_eq!(
            trust.verify(&revoked_chain, now).unwrap_err(),
            X509Error::Revoked
        );
        assert_eq!(f.ask(good, "cams", None).await.status, 200);
        assert!(cached(&trust, &f.pki, good));

        // The anchor deleted: the cached chain trusts nothing.
        f.write(vec![Mutation::delete::<RaTrustAnchor>(format!(
            "{ACCOUNT}/{ANCHOR_ID}"
        ))])
        .await;
        assert_eq!(
            refusal(&f.ask(good, "cams", None).await),
            (403, "Certificate is not trusted".to_owned())
        );
        assert!(matches!(
            f.core.iot_trust_loaded().unwrap().verify(&good_chain, now),
            Err(X509Error::Untrusted(_))
        ));
    }

    #[tokio::test]
    async fn a_request_is_judged_by_the_trust_of_its_own_view() {
        let f = fixture().await;
        let leaf = &f.pki.ec_p256;
        assert_eq!(f.ask(leaf, "cams", None).await.status, 200);

        // A request takes its view; the anchor is disabled and the core
        // installs a newer view before the request checks the chain.
        let view = f.core.view.load_full();
        let disabled = anchor(ACCOUNT, ANCHOR_ID, &f.pki.root.cert_pem, false);
        f.write(vec![Mutation::update(&disabled).unwrap()]).await;
        assert!(f.core.view.load().generation > view.generation);

        // The request is judged by the trust of its own view, consistent
        // with the roles and keys it reads from that view …
        let chain = device_chain(&f.pki, leaf);
        let request = IotCredentialsRequest {
            role_alias: "cams",
            thing_name: None,
            certificate_chain: &chain,
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            user_agent: None,
        };
        let api_request = ApiRequest {
            method: "GET",
            path: "/role-aliases/cams/credentials",
            query: "",
            headers: &[],
            body: &[],
            source_ip: request.source_ip,
            secure_transport: true,
        };
        let mut ctx = ActionContext {
            core: &f.core,
            view,
            caller: None,
            request: &api_request,
            now: crate::clock::from_unix(NOW),
            request_id: "iot-test",
            issued_access_key_id: None,
            audit_facts: crate::audit::AuditFacts::default(),
        };
        let answer = credentials(&mut ctx, &request, &mut Vec::new()).await;
        assert!(answer.is_ok(), "{answer:?}");

        // … and the next request by the new one.
        assert_eq!(
            refusal(&f.ask(leaf, "cams", None).await),
            (403, "Certificate is not trusted".to_owned())
        );
    }
}
