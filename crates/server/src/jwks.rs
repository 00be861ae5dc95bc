//! OIDC signing keys over HTTPS: discovery at
//! `{issuer}/.well-known/openid-configuration`, then its `jwks_uri`, with a
//! cache per issuer ([`mayfly_core::OidcKeySource`]).
//!
//! The fetch is HTTPS only, with one timeout over the whole exchange, a
//! body cap, and redirects followed only to the same scheme, host and port.
//! Trust roots are the system's plus `SSL_CERT_FILE`. With
//! `allow_http_loopback` (`--allow-http-issuer`) an `http://` issuer or
//! `jwks_uri` on a loopback host is also accepted, for development.
//!
//! The cache answers from memory while the issuer's keys are fresh and hold
//! the asked `kid`. An unknown `kid` (key rotation) or an old entry causes
//! a refetch, at most one per issuer per `min_refetch_interval`; a failed
//! refetch keeps serving the previous keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mayfly_core::{OidcKeyError, OidcKeySource, SigningKeysFuture};
use mayfly_federation::oidc::{
    DISCOVERY_SIZE_LIMIT, DiscoveryDocument, JWKS_SIZE_LIMIT, JwkSet, discovery_url,
};

/// How the fetcher behaves.
#[derive(Debug, Clone)]
pub struct JwksConfig {
    /// Limit on one whole fetch (connect, TLS, request, body).
    pub timeout: Duration,
    /// Keys older than this are refetched (the old ones serve if that fails).
    pub max_age: Duration,
    /// At most one fetch per issuer in this interval.
    pub min_refetch_interval: Duration,
    /// Accept `http://` URLs whose host is a loopback address.
    pub allow_http_loopback: bool,
}

impl Default for JwksConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            max_age: Duration::from_secs(3600),
            min_refetch_interval: Duration::from_secs(10),
            allow_http_loopback: false,
        }
    }
}

/// Why building the fetcher failed.
#[derive(Debug, thiserror::Error)]
pub enum JwksSetupError {
    /// rustls refused the configuration.
    #[error("TLS configuration for OIDC discovery failed: {0}")]
    Tls(#[from] rustls::Error),
}

#[derive(Debug)]
struct CacheEntry {
    keys: Option<Arc<JwkSet>>,
    fetched_at: Option<Instant>,
    last_attempt: Instant,
}

/// The HTTPS [`OidcKeySource`] with its per-issuer cache.
pub struct HttpsJwksFetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    config: JwksConfig,
    cache: Mutex<HashMap<String, CacheEntry>>,
    /// Serializes fetches per issuer so a burst of tokens causes one fetch.
    fetch_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for HttpsJwksFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsJwksFetcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The system's trust roots plus those in `SSL_CERT_FILE` (and
/// `SSL_CERT_DIR`). `rustls-native-certs` reads only the variables when they
/// are set, so the system bundle is added from its usual places then.
fn trust_roots() -> Result<rustls::RootCertStore, JwksSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    for error in &loaded.errors {
        tracing::warn!(%error, "a trust root could not be loaded");
    }
    let (added, _) = roots.add_parsable_certificates(loaded.certs);
    let mut total = added;
    if std::env::var_os("SSL_CERT_FILE").is_some() || std::env::var_os("SSL_CERT_DIR").is_some() {
        const SYSTEM_BUNDLES: &[&str] = &[
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/ca-bundle.pem",
            "/etc/ssl/cert.pem",
        ];
        if let Some(bundle) = SYSTEM_BUNDLES
            .iter()
            .map(std::path::Path::new)
            .find(|p| p.is_file())
        {
            let system = rustls_native_certs::load_certs_from_paths(Some(bundle), None);
            let (added, _) = roots.add_parsable_certificates(system.certs);
            total += added;
        }
    }
    if total == 0 {
        // Serve anyway: only AssumeRoleWithWebIdentity needs them, and it
        // then answers IDPCommunicationError naming the certificate problem.
        tracing::warn!(
            "no TLS trust roots found for OIDC discovery; set SSL_CERT_FILE to a PEM bundle"
        );
    }
    Ok(roots)
}

impl HttpsJwksFetcher {
    /// A fetcher trusting the system's roots plus `SSL_CERT_FILE`.
    pub fn new(config: JwksConfig) -> Result<Self, JwksSetupError> {
        let roots = trust_roots()?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            client,
            config,
            cache: Mutex::new(HashMap::new()),
            fetch_locks: Mutex::new(HashMap::new()),
        })
    }

    /// The cached keys if they can answer for `kid` without a fetch.
    fn cached(&self, issuer: &str, kid: &str, now: Instant) -> Option<Arc<JwkSet>> {
        let cache = self.cache.lock().ok()?;
        let entry = cache.get(issuer)?;
        let keys = entry.keys.as_ref()?;
        let fresh = entry
            .fetched_at
            .is_some_and(|at| now.duration_since(at) < self.config.max_age);
        (fresh && keys.contains(kid)).then(|| Arc::clone(keys))
    }

    /// Whether a fetch for `issuer` is allowed now (rate limit), and the
    /// keys to fall back on.
    fn may_fetch(&self, issuer: &str, now: Instant) -> (bool, Option<Arc<JwkSet>>) {
        let Ok(cache) = self.cache.lock() else {
            return (true, None);
        };
        match cache.get(issuer) {
            None => (true, None),
            Some(entry) => (
                now.duration_since(entry.last_attempt) >= self.config.min_refetch_interval,
                entry.keys.clone(),
            ),
        }
    }

    fn record(&self, issuer: &str, now: Instant, keys: Option<Arc<JwkSet>>) {
        if let Ok(mut cache) = self.cache.lock() {
            let entry = cache.entry(issuer.to_owned()).or_insert(CacheEntry {
                keys: None,
                fetched_at: None,
                last_attempt: now,
            });
            entry.last_attempt = now;
            if let Some(keys) = keys {
                entry.keys = Some(keys);
                entry.fetched_at = Some(now);
            }
        }
    }

    fn fetch_lock(&self, issuer: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.fetch_locks.lock() {
            Ok(mut locks) => Arc::clone(locks.entry(issuer.to_owned()).or_default()),
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    async fn keys_for(&self, issuer: &str, kid: &str) -> Result<Arc<JwkSet>, OidcKeyError> {
        if let Some(keys) = self.cached(issuer, kid, Instant::now()) {
            return Ok(keys);
        }
        let lock = self.fetch_lock(issuer);
        let _guard = lock.lock().await;
        // Someone else may have fetched while this request waited.
        let now = Instant::now();
        if let Some(keys) = self.cached(issuer, kid, now) {
            return Ok(keys);
        }
        let (allowed, previous) = self.may_fetch(issuer, now);
        if !allowed {
            return previous.ok_or_else(|| {
                OidcKeyError::new(format!(
                    "the last attempt to fetch the keys of {issuer} failed moments ago; retry shortly"
                ))
            });
        }
        match self.fetch(issuer).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                tracing::info!(
                    issuer,
                    keys = keys.keys().len(),
                    "fetched the issuer's signing keys"
                );
                self.record(issuer, now, Some(Arc::clone(&keys)));
                Ok(keys)
            }
            Err(error) => {
                self.record(issuer, now, None);
                match previous {
                    Some(keys) => {
                        tracing::warn!(issuer, %error, "refetching the issuer's keys failed; using the cached ones");
                        Ok(keys)
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// Discovery, then the JWKS.
    async fn fetch(&self, issuer: &str) -> Result<JwkSet, OidcKeyError> {
        let work = async {
            let document = self
                .get(&discovery_url(issuer), DISCOVERY_SIZE_LIMIT)
                .await?;
            let discovery = DiscoveryDocument::parse(&document, issuer)
                .map_err(|e| OidcKeyError::new(format!("discovery for {issuer}: {e}")))?;
            let jwks = self.get(&discovery.jwks_uri, JWKS_SIZE_LIMIT).await?;
            JwkSet::parse(&jwks)
                .map_err(|e| OidcKeyError::new(format!("JWKS at {}: {e}", discovery.jwks_uri)))
        };
        tokio::time::timeout(self.config.timeout, work)
            .await
            .map_err(|_| {
                OidcKeyError::new(format!(
                    "fetching the keys of {issuer} took longer than {} s",
                    self.config.timeout.as_secs_f32()
                ))
            })?
    }

    /// GET `url` (checked against the scheme rules), following at most
    /// three redirects to the same origin, reading at most `limit` bytes.
    async fn get(&self, url: &str, limit: usize) -> Result<Bytes, OidcKeyError> {
        let mut uri = self.checked_uri(url)?;
        for _ in 0..4 {
            let request = http::Request::get(uri.clone())
                .header(http::header::ACCEPT, "application/json")
                .header(http::header::USER_AGENT, "mayfly-oidc/1")
                .body(Empty::<Bytes>::new())
                .map_err(|e| OidcKeyError::new(format!("bad request for {url}: {e}")))?;
            let response =
                self.client.request(request).await.map_err(|e| {
                    OidcKeyError::new(format!("GET {url} failed: {}", error_chain(&e)))
                })?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| {
                        OidcKeyError::new(format!("GET {url}: redirect without Location"))
                    })?;
                let next = resolve(&uri, location)
                    .ok_or_else(|| OidcKeyError::new(format!("GET {url}: bad redirect")))?;
                if next.scheme() != uri.scheme() || next.authority() != uri.authority() {
                    return Err(OidcKeyError::new(format!(
                        "GET {url}: redirect to another host refused"
                    )));
                }
                uri = next;
                continue;
            }
            if !status.is_success() {
                return Err(OidcKeyError::new(format!("GET {url} answered {status}")));
            }
            if response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok())
                .is_some_and(|len| len > limit)
            {
                return Err(OidcKeyError::new(format!(
                    "GET {url}: the document is over the {limit}-byte limit"
                )));
            }
            let body = Limited::new(response.into_body(), limit)
                .collect()
                .await
                .map_err(|_| {
                    OidcKeyError::new(format!(
                        "GET {url}: the document could not be read within the {limit}-byte limit"
                    ))
                })?;
            return Ok(body.to_bytes());
        }
        Err(OidcKeyError::new(format!("GET {url}: too many redirects")))
    }

    fn checked_uri(&self, url: &str) -> Result<http::Uri, OidcKeyError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|_| OidcKeyError::new(format!("`{url}` is not a URL")))?;
        let host = uri.host().unwrap_or_default();
        match uri.scheme_str() {
            Some("https") if !host.is_empty() => Ok(uri),
            Some("http") if self.config.allow_http_loopback && is_loopback_host(host) => Ok(uri),
            Some("http") => Err(OidcKeyError::new(format!(
                "`{url}` is not HTTPS (plain HTTP is accepted only for loopback hosts with --allow-http-issuer)"
            ))),
            _ => Err(OidcKeyError::new(format!("`{url}` is not an HTTPS URL"))),
        }
    }
}

/// The error and its causes on one line (hyper's top-level message alone
/// says little, e.g. "client error (Connect)").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A redirect's `Location`, absolute or absolute-path, against `base`.
fn resolve(base: &http::Uri, location: &str) -> Option<http::Uri> {
    if location.starts_with('/') && !location.starts_with("//") {
        let mut parts = base.clone().into_parts();
        parts.path_and_query = Some(location.parse().ok()?);
        return http::Uri::from_parts(parts).ok();
    }
    location.parse().ok()
}

impl OidcKeySource for HttpsJwksFetcher {
    fn signing_keys<'a>(&'a self, issuer: &'a str, kid: &'a str) -> SigningKeysFuture<'a> {
        Box::pin(self.keys_for(issuer, kid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("[::1]"));
        assert!(is_loopback_host("LOCALHOST"));
        assert!(!is_loopback_host("10.0.0.1"));
        assert!(!is_loopback_host("idp.example"));
    }

    #[test]
    fn redirects_resolve_against_the_base() {
        let base: http::Uri = "https://idp.example/a/b".parse().unwrap();
        assert_eq!(
            resolve(&base, "/keys").unwrap().to_string(),
            "https://idp.example/keys"
        );
        assert_eq!(
            resolve(&base, "https://evil.example/keys").unwrap().host(),
            Some("evil.example")
        );
    }

    #[tokio::test]
    async fn plain_http_is_refused_without_the_flag() {
        let fetcher = HttpsJwksFetcher::new(JwksConfig::default()).unwrap();
        assert!(fetcher.checked_uri("http://127.0.0.1:1/x").is_err());
        assert!(fetcher.checked_uri("https://idp.example/x").is_ok());
        let error = fetcher
            .signing_keys("http://127.0.0.1:1", "k")
            .await
            .unwrap_err();
        assert!(error.message.contains("not HTTPS"), "{}", error.message);
    }

    /// A loopback HTTP server answering every request with what `respond`
    /// returns for its path (`None`: never answer); returns its base URL.
    async fn canned(
        respond: impl Fn(&str, &str) -> Option<String> + Send + Sync + 'static,
    ) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let respond = Arc::new(respond);
        let origin = base.clone();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let respond = Arc::clone(&respond);
                let origin = origin.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                    match respond(&origin, &path) {
                        Some(response) => {
                            let _ = stream.write_all(response.as_bytes()).await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(30)).await,
                    }
                });
            }
        });
        base
    }

    fn ok(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    fn discovery(origin: &str, jwks_uri: &str) -> String {
        ok(&format!(
            r#"{{"issuer":"{origin}","jwks_uri":"{jwks_uri}"}}"#
        ))
    }

    fn fetcher(timeout: Duration) -> HttpsJwksFetcher {
        HttpsJwksFetcher::new(JwksConfig {
            allow_http_loopback: true,
            timeout,
            ..JwksConfig::default()
        })
        .unwrap()
    }

    const ONE_KEY: &str = r#"{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}"#;

    #[tokio::test]
    async fn keys_are_fetched_through_discovery_and_cached() {
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let issuer = canned(move |origin, path| match path {
            "/.well-known/openid-configuration" => {
                Some(discovery(origin, &format!("{origin}/keys")))
            }
            "/keys" => {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Some(ok(ONE_KEY))
            }
            _ => Some("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_owned()),
        })
        .await;
        let f = fetcher(Duration::from_secs(5));
        assert!(f.signing_keys(&issuer, "k1").await.unwrap().contains("k1"));
        assert!(f.signing_keys(&issuer, "k1").await.unwrap().contains("k1"));
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
        // An unknown kid right after a fetch is rate-limited: the cached keys answer.
        let keys = f.signing_keys(&issuer, "k2").await.unwrap();
        assert!(!keys.contains("k2"));
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_jwks_over_the_size_cap_is_refused() {
        let issuer = canned(|origin, path| match path {
            "/.well-known/openid-configuration" => {
                Some(discovery(origin, &format!("{origin}/keys")))
            }
            _ => Some(ok(&format!(
                r#"{{"keys":[],"pad":"{}"}}"#,
                "x".repeat(JWKS_SIZE_LIMIT)
            ))),
        })
        .await;
        let error = fetcher(Duration::from_secs(5))
            .signing_keys(&issuer, "k1")
            .await
            .unwrap_err();
        assert!(error.message.contains("byte limit"), "{}", error.message);
    }

    #[tokio::test]
    async fn a_silent_identity_provider_times_out() {
        let issuer = canned(|_, _| None).await;
        let started = Instant::now();
        let error = fetcher(Duration::from_millis(300))
            .signing_keys(&issuer, "k1")
            .await
            .unwrap_err();
        assert!(error.message.contains("took longer"), "{}", error.message);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_redirect_to_another_host_is_refused() {
        let issuer = canned(|origin, path| match path {
            "/.well-known/openid-configuration" => {
                Some(discovery(origin, &format!("{origin}/keys")))
            }
            _ => Some(
                "HTTP/1.1 302 Found\r\nlocation: http://localhost:9/keys\r\ncontent-length: 0\r\n\r\n"
                    .to_owned(),
            ),
        })
        .await;
        let error = fetcher(Duration::from_secs(5))
            .signing_keys(&issuer, "k1")
            .await
            .unwrap_err();
        assert!(error.message.contains("another host"), "{}", error.message);
    }

    #[tokio::test]
    async fn a_discovery_document_for_another_issuer_is_refused() {
        let issuer = canned(|origin, _| {
            Some(ok(&format!(
                r#"{{"issuer":"https://evil.example","jwks_uri":"{origin}/keys"}}"#
            )))
        })
        .await;
        let error = fetcher(Duration::from_secs(5))
            .signing_keys(&issuer, "k1")
            .await
            .unwrap_err();
        assert!(error.message.contains("evil.example"), "{}", error.message);
    }

    #[tokio::test]
    async fn http_loopback_is_accepted_with_the_flag_but_not_elsewhere() {
        let fetcher = HttpsJwksFetcher::new(JwksConfig {
            allow_http_loopback: true,
            ..JwksConfig::default()
        })
        .unwrap();
        assert!(fetcher.checked_uri("http://127.0.0.1:1/x").is_ok());
        assert!(fetcher.checked_uri("http://idp.example/x").is_err());
    }
}
