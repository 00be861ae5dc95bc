//! Mayfly's actions: the STS and IAM query-protocol front end over a
//! [`mayfly_store::Store`], a [`Clock`] and the key ring. No HTTP types: the
//! server hands in an [`ApiRequest`] and sends back the [`ApiResponse`].
//!
//! One request's way through: decode parameters → authenticate (SigV4 and
//! key lookup or token unseal) → authorize (policy) → execute (store, token)
//! → encode the response → one audit event.

pub mod admin;
pub mod arn;
pub mod audit;
mod auth;
mod authz;
pub mod clock;
pub mod cloudtrail;
mod gateway;
mod iam;
pub mod iot;
mod mfa;
mod role_session;
mod rolesanywhere;
mod saml;
mod session;
mod sts;
mod trust_binding;
mod view;
mod web_identity;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use mayfly_sigv4::SigningKeyCache;
use mayfly_store::Store;
use mayfly_token::MasterKey;
use mayfly_wire::{AwsError, QueryParams};

pub use crate::admin::AdminError;
use crate::audit::{AuditCaller, AuditEvent, AuditOutcome, AuditSink};
use crate::auth::Caller;
pub use crate::clock::{Clock, SystemClock};
pub use crate::gateway::{GatewayAudit, GatewayRequest, Principal, ResourcePolicy, Verified};
pub use crate::saml::SamlSettings;
pub use crate::trust_binding::fuzz_trust_policy;
use crate::view::View;
pub use crate::web_identity::{NoOidcKeySource, OidcKeyError, OidcKeySource, SigningKeysFuture};

/// Settings of the API front end.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Regions accepted in signing scopes; `None` accepts any (DESIGN.md).
    pub regions: Option<Vec<String>>,
    /// Lifetime of the encoded authorization message in AccessDenied errors.
    pub authorization_message_ttl: Duration,
    /// Also accept `http://` OIDC issuers on loopback hosts (development
    /// only: `--allow-http-issuer`, DESIGN.md).
    pub allow_http_issuer: bool,
    /// AssumeRoleWithSAML: accepted audiences and recipients, SHA-1 opt-ins.
    pub saml: SamlSettings,
    /// How long the view may go unconfirmed (no successful refresh) before
    /// every request is refused with 503 `ServiceUnavailable` instead of
    /// being answered from it (`--max-view-age-seconds`): a node that cannot
    /// read its store would otherwise keep honouring revoked keys, sessions
    /// and old policies. The default, 10 s, is forty refresher polls (250 ms),
    /// so a brief store hiccup never refuses a request, yet it bounds how
    /// long a revocation can be missed (DESIGN.md promises one second when
    /// the store is reachable).
    pub max_view_age: Duration,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            regions: None,
            authorization_message_ttl: Duration::from_secs(3600),
            allow_http_issuer: false,
            saml: SamlSettings::default(),
            max_view_age: Duration::from_secs(10),
        }
    }
}

/// One HTTP request, reduced to what the API needs.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The raw path, still percent-encoded.
    pub path: &'a str,
    /// The raw query string without `?`.
    pub query: &'a str,
    /// Header names and values in arrival order.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The whole body (the server enforces the size cap).
    pub body: &'a [u8],
    /// The peer address (`aws:SourceIp`).
    pub source_ip: IpAddr,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
}

/// The answer to an [`ApiRequest`].
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// The body: XML for the query protocol, JSON for REST-JSON services.
    pub body: String,
    /// Sent as `x-amzn-RequestId`.
    pub request_id: String,
    /// `Content-Type` of `body`.
    pub content_type: &'static str,
    /// Sent as `x-amzn-ErrorType` (REST-JSON errors), where SDKs of JSON
    /// services read the error code.
    pub error_type: Option<String>,
}

/// Which query-protocol service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Sts,
    Iam,
    /// Roles Anywhere's admin API (REST-JSON, routed before the query protocol).
    RolesAnywhere,
}

impl Service {
    fn namespace(self) -> &'static str {
        match self {
            Service::Sts => mayfly_wire::STS_NAMESPACE,
            Service::Iam => mayfly_wire::IAM_NAMESPACE,
            Service::RolesAnywhere => mayfly_wire::IAM_NAMESPACE,
        }
    }

    fn version(self) -> &'static str {
        match self {
            Service::Sts => mayfly_wire::STS_VERSION,
            Service::Iam => mayfly_wire::IAM_VERSION,
            Service::RolesAnywhere => "2018-05-10",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::Sts => "sts",
            Service::Iam => "iam",
            Service::RolesAnywhere => "rolesanywhere",
        }
    }
}

/// What one action handler gets: the request, its caller and the view of
/// the configuration it was authenticated against.
pub(crate) struct ActionContext<'a> {
    pub core: &'a Core,
    pub view: Arc<View>,
    pub caller: Option<Arc<Caller>>,
    pub request: &'a ApiRequest<'a>,
    pub now: SystemTime,
    pub request_id: &'a str,
    /// Set by actions that mint credentials, for the audit event.
    pub issued_access_key_id: Option<String>,
    /// The rest of what the audit event records about the action.
    pub audit_facts: audit::AuditFacts,
}

/// The result of an action: the XML body of a 200 response.
pub(crate) type ActionResult = Result<String, AwsError>;

/// The API: owns the configuration view and everything an action needs.
#[derive(Debug)]
pub struct Core {
    store: Arc<dyn Store>,
    pub(crate) master_key: MasterKey,
    view: ArcSwap<View>,
    /// The newest generation a view was installed for, announced on every
    /// install ([`Core::view_changes`]).
    view_installed: tokio::sync::watch::Sender<u64>,
    /// When the view was last confirmed current (a successful refresh or
    /// reload), in milliseconds since the epoch of the core's clock.
    view_confirmed_ms: AtomicU64,
    /// Whether this node is refusing requests for a stale view, so the
    /// change is logged once each way rather than per request.
    view_stale: AtomicBool,
    clock: Arc<dyn Clock>,
    pub(crate) rng: SystemRandom,
    signing_keys: SigningKeyCache,
    audit: Arc<dyn AuditSink>,
    config: CoreConfig,
    request_counter: AtomicU64,
    request_id_prefix: [u8; 8],
    /// Serializes read-modify-write changes made through this node.
    write_lock: tokio::sync::Mutex<()>,
    /// Where OIDC issuers' signing keys come from (AssumeRoleWithWebIdentity).
    pub(crate) oidc_keys: Arc<dyn OidcKeySource>,
    /// AssumeRoleWithSAML: parsed metadata and this node's assertion uses.
    pub(crate) saml: saml::SamlState,
    /// Roles Anywhere trust anchors, profiles and CRLs.
    pub(crate) rolesanywhere: rolesanywhere::State,
    /// Recent wrong MFA codes per device (this node's).
    pub(crate) mfa_wrong_codes: mfa::WrongCodes,
}

impl Core {
    /// Load the configuration from `store` and build the API over it.
    pub async fn new(
        store: Arc<dyn Store>,
        master_key: MasterKey,
        clock: Arc<dyn Clock>,
        audit: Arc<dyn AuditSink>,
        config: CoreConfig,
    ) -> Result<Self, AdminError> {
        let loaded_at = clock.now();
        let view = View::load(store.as_ref(), &master_key).await?;
        let rng = SystemRandom::new();
        let mut prefix = [0u8; 8];
        rng.fill(&mut prefix)
            .map_err(|_| AdminError::Token(mayfly_token::TokenError::Rng))?;
        let request_id_prefix = prefix;
        let view_installed = tokio::sync::watch::Sender::new(view.generation);
        Ok(Self {
            store,
            master_key,
            view: ArcSwap::from_pointee(view),
            view_installed,
            view_confirmed_ms: AtomicU64::new(unix_millis(loaded_at)),
            view_stale: AtomicBool::new(false),
            clock,
            rng,
            signing_keys: SigningKeyCache::new(10_000),
            audit,
            config,
            request_counter: AtomicU64::new(0),
            request_id_prefix,
            write_lock: tokio::sync::Mutex::new(()),
            oidc_keys: Arc::new(NoOidcKeySource),
            saml: saml::SamlState::default(),
            mfa_wrong_codes: mfa::WrongCodes::default(),
            rolesanywhere: rolesanywhere::State::default(),
        })
    }

    /// Use `source` for OIDC issuers' signing keys; without it every
    /// AssumeRoleWithWebIdentity fails with `IDPCommunicationError`.
    pub fn with_oidc_key_source(mut self, source: Arc<dyn OidcKeySource>) -> Self {
        self.oidc_keys = source;
        self
    }

    /// Rebuild the view if the store changed since it was built (another
    /// node or an admin command wrote). Cheap when nothing changed.
    /// Either way a success confirms the view current as of the call.
    pub async fn refresh(&self) -> Result<(), AdminError> {
        let checked_at = self.clock.now();
        let current = self.store.generation().await?;
        if current == self.view.load().generation {
            self.view_confirmed(checked_at);
            return Ok(());
        }
        self.reload().await
    }

    /// Rebuild the view unconditionally.
    pub(crate) async fn reload(&self) -> Result<(), AdminError> {
        let loaded_at = self.clock.now();
        let view = View::load(self.store.as_ref(), &self.master_key).await?;
        let generation = view.generation;
        self.view.store(Arc::new(view));
        self.view_installed
            .send_modify(|newest| *newest = (*newest).max(generation));
        self.view_confirmed(loaded_at);
        Ok(())
    }

    /// Record that the view was current at `at` (never moving the record
    /// back: a slow refresh may finish after a newer one).
    fn view_confirmed(&self, at: SystemTime) {
        self.view_confirmed_ms
            .fetch_max(unix_millis(at), Ordering::Relaxed);
        if self.view_stale.swap(false, Ordering::Relaxed) {
            tracing::info!("the configuration view is current again; serving requests");
        }
    }

    /// Whether the view was confirmed current within
    /// [`CoreConfig::max_view_age`]; `false` while the store cannot be read
    /// for longer than that. Requests are refused meanwhile and `/healthz`
    /// answers 503, so a load balancer takes the node out.
    pub fn view_is_current(&self) -> bool {
        let confirmed = self.view_confirmed_ms.load(Ordering::Relaxed);
        let age = unix_millis(self.clock.now()).saturating_sub(confirmed);
        let max = u64::try_from(self.config.max_view_age.as_millis()).unwrap_or(u64::MAX);
        let current = age <= max;
        if !current && !self.view_stale.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                age_ms = age,
                max_view_age_ms = max,
                "the configuration view is too old to trust (the store cannot be read); refusing requests until a refresh succeeds"
            );
        }
        current
    }

    /// The view to authenticate and authorize a request against: the one
    /// place every front end (query protocol, Roles Anywhere, IoT, the
    /// gateway API for S3 and the authorizer) takes it from. 503
    /// `ServiceUnavailable` instead when it is older than
    /// [`CoreConfig::max_view_age`]: answering from it could honour a
    /// revoked key or session or an old policy (fail closed).
    pub(crate) fn current_view(&self) -> Result<Arc<View>, AwsError> {
        if self.view_is_current() {
            Ok(self.view.load_full())
        } else {
            Err(AwsError::service_unavailable())
        }
    }

    /// Woken each time a new view is installed (the refresher saw a change
    /// made elsewhere, or a write through this node), holding the newest
    /// generation installed: for what keeps state derived from the view
    /// (the IoT listener's certificate trust) without polling the store.
    pub fn view_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.view_installed.subscribe()
    }

    /// Poll the store every `interval` and rebuild the view on change, so a
    /// change made elsewhere is seen within one second (DESIGN.md).
    pub fn spawn_refresher(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let core = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(error) = core.refresh().await {
                    tracing::warn!(%error, "refreshing the configuration failed");
                    // Logs the moment the node starts refusing requests,
                    // even before one arrives.
                    core.view_is_current();
                }
            }
        })
    }

    /// Make a change: under this node's write lock, bring the view up to
    /// date, let `build` compute the mutations against it (and the value to
    /// return), apply them atomically, and rebuild the view so the caller's
    /// next request sees its own write.
    pub(crate) async fn commit<T>(
        &self,
        build: impl FnOnce(&View) -> Result<(Vec<mayfly_store::Mutation>, T), AwsError>,
    ) -> Result<T, AwsError> {
        let _guard = self.write_lock.lock().await;
        self.refresh().await.map_err(internal)?;
        let view = self.view.load_full();
        let (mutations, value) = build(&view)?;
        if !mutations.is_empty() {
            self.store
                .apply(mutations)
                .await
                .map_err(|error| match error {
                    mayfly_store::StoreError::AlreadyExists { .. } => AwsError::new(
                        "ConcurrentModification",
                        409,
                        "The entity was created concurrently; retry the request.",
                    ),
                    mayfly_store::StoreError::NotFound { .. } => AwsError::new(
                        "ConcurrentModification",
                        409,
                        "The entity was changed concurrently; retry the request.",
                    ),
                    other => {
                        tracing::error!(error = %other, "store write failed");
                        AwsError::service_failure()
                    }
                })?;
            self.reload().await.map_err(internal)?;
        }
        Ok(value)
    }

    /// The clock every action reads.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Answer the query-protocol request for a body over the size cap.
    pub fn body_too_large(&self, limit: usize) -> ApiResponse {
        let request_id = self.request_id();
        let error = AwsError::new(
            "RequestEntityTooLarge",
            413,
            format!("request body exceeds the {limit}-byte limit"),
        );
        ApiResponse {
            status: error.status,
            body: mayfly_wire::error_xml(Service::Sts.namespace(), &error, &request_id),
            request_id,
            content_type: "text/xml",
            error_type: None,
        }
    }

    /// Serve one query-protocol (STS or IAM) request.
    pub async fn handle(&self, request: ApiRequest<'_>) -> ApiResponse {
        if rolesanywhere::is_rolesanywhere(&request) {
            return rolesanywhere::handle(self, request).await;
        }
        let now = self.clock.now();
        let request_id = self.request_id();
        // A stale view is refused before anything reads it; the context
        // still holds it for the audit event's sake.
        let (view, refused) = match self.current_view() {
            Ok(view) => (view, None),
            Err(error) => (self.view.load_full(), Some(error)),
        };
        let mut ctx = ActionContext {
            core: self,
            view,
            caller: None,
            request: &request,
            now,
            request_id: &request_id,
            issued_access_key_id: None,
            audit_facts: audit::AuditFacts::default(),
        };
        let mut service = Service::Sts;
        let mut action_name = String::new();
        let mut audit_parameters = Vec::new();
        let result = match refused {
            Some(error) => Err(error),
            None => {
                self.dispatch(
                    &mut ctx,
                    &mut service,
                    &mut action_name,
                    &mut audit_parameters,
                )
                .await
            }
        };
        let mut error_message = None;
        let (status, body, outcome) = match result {
            Ok(body) => (200, body, AuditOutcome::Success),
            Err(error) => {
                // 503: a stale view, logged once when refusing starts.
                if error.status >= 500 && error.status != 503 {
                    tracing::error!(code = %error.code, message = %error.message, %request_id, "request failed");
                } else {
                    tracing::debug!(code = %error.code, message = %error.message, %request_id, "request refused");
                }
                let body = mayfly_wire::error_xml(service.namespace(), &error, &request_id);
                let code = error.code.to_string();
                error_message = self
                    .audit
                    .enabled()
                    .then(|| audit::error_message(&error.message));
                (error.status, body, AuditOutcome::Error { code })
            }
        };
        if self.audit.enabled() {
            self.audit.record(AuditEvent {
                time: now,
                request_id: request_id.clone(),
                service: service.name(),
                action: action_name,
                caller: ctx.caller.as_deref().map(AuditCaller::of),
                source_ip: request.source_ip,
                parameters: audit_parameters,
                outcome,
                issued_access_key_id: ctx.issued_access_key_id.take(),
                event_id: self.request_id(),
                user_agent: audit::user_agent(request.headers),
                region: ctx.caller.as_ref().map(|c| c.region.clone()),
                error_message,
                issued: ctx.audit_facts.issued.take(),
                external_identity: ctx.audit_facts.external_identity.take(),
            });
        }
        ApiResponse {
            status,
            body,
            request_id,
            content_type: "text/xml",
            error_type: None,
        }
    }

    async fn dispatch(
        &self,
        ctx: &mut ActionContext<'_>,
        service: &mut Service,
        action_name: &mut String,
        audit_parameters: &mut Vec<(String, String)>,
    ) -> ActionResult {
        let request = ctx.request;
        if request.path != "/" {
            return Err(AwsError::new(
                "InvalidAction",
                404,
                format!("no API is served at path `{}`", truncate(request.path, 128)),
            ));
        }
        if !matches!(request.method, "POST" | "GET") {
            return Err(AwsError::new(
                "InvalidAction",
                405,
                format!(
                    "method `{}` is not supported; use POST or GET",
                    truncate(request.method, 16)
                ),
            ));
        }
        let mut params = QueryParams::parse(request.body, request.query)?;
        if self.audit.enabled() {
            *audit_parameters = params.audit_pairs(audit::is_secret_parameter);
        }
        let action = params.action().map(str::to_owned);
        let version = params.version().map(str::to_owned);
        if let Some(action) = &action {
            action_name.clone_from(action);
        }

        // Errors before authentication still answer in the namespace the
        // client asked for.
        if version.as_deref() == Some(mayfly_wire::IAM_VERSION) {
            *service = Service::Iam;
        }
        // Unsigned federation actions are told apart by Action alone (sts-api.md 2.1).
        let unsigned = matches!(
            action.as_deref(),
            Some("AssumeRoleWithWebIdentity" | "AssumeRoleWithSAML")
        );
        if !unsigned {
            let (caller, signed_service) = auth::authenticate(ctx).await?;
            *service = signed_service;
            ctx.caller = Some(Arc::new(caller));
        }
        let Some(action) = action else {
            return Err(AwsError::new("MissingAction", 400, "Missing Action"));
        };
        match version.as_deref() {
            None => {}
            Some(v) if v == service.version() => {}
            Some(v) => {
                return Err(AwsError::new(
                    "InvalidAction",
                    400,
                    format!(
                        "Could not find operation {} for version {}",
                        truncate(&action, 128),
                        truncate(v, 32)
                    ),
                ));
            }
        }
        match *service {
            Service::Sts => sts::dispatch(ctx, &action, &mut params).await,
            Service::Iam => iam::dispatch(ctx, &action, &mut params).await,
            Service::RolesAnywhere => Err(AwsError::new(
                "InvalidAction",
                400,
                "Roles Anywhere is served over REST-JSON paths, not the query protocol",
            )),
        }
    }

    /// A request id in AWS's UUID shape: a random per-process prefix and a
    /// counter, so ids are unique without a random draw per request. Front
    /// ends outside the core (the authorizer) use it for their answers.
    pub fn request_id(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.request_id_prefix);
        bytes[8..].copy_from_slice(&n.to_be_bytes());
        let mut out = String::with_capacity(36);
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out.push('-');
            }
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        out
    }
}

/// Milliseconds since the epoch (0 before it).
fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn internal(error: AdminError) -> AwsError {
    tracing::error!(%error, "configuration refresh failed");
    AwsError::service_failure()
}

/// At most `max` characters of client input, for error messages.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
