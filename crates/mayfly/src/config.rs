//! `mayfly serve` settings: flags and environment variables override the
//! TOML config file (`--config`), which overrides the defaults of DESIGN.md's
//! external contract.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use mayfly_token::SecretKey;
use serde::Deserialize;

/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./mayfly-data";
/// The default API listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7400";
/// The default S3 gateway listen address.
pub const DEFAULT_S3_LISTEN: &str = "127.0.0.1:7401";
/// The default account.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// The default request body cap (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// The default oldest configuration view served from, in seconds (see
/// `mayfly_core::CoreConfig::max_view_age`).
pub const DEFAULT_MAX_VIEW_AGE_SECONDS: u64 = 10;

/// Where the store is (admin commands).
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The data directory (SQLite database and keys).
    #[arg(long, env = "MAYFLY_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// The store shared by several nodes: a `postgres://` or
    /// `postgresql://` URL [default: SQLite in the data directory]. The
    /// master key still comes from MAYFLY_MASTER_KEY or the data directory.
    #[arg(long, env = "MAYFLY_STORE_URL", hide_env_values = true)]
    store_url: Option<RawStoreUrl>,
}

impl StoreArgs {
    /// Open the store these flags name (admin commands never create a
    /// data directory).
    pub async fn open(&self) -> Result<crate::data_dir::Opened> {
        let store_url = self.store_url.as_ref().map(StoreUrl::parse).transpose()?;
        crate::data_dir::open_existing(&self.data_dir, store_url.as_ref()).await
    }
}

/// A store URL as given (flag, env or config file), not yet checked: any
/// text is taken, so that neither clap nor serde echoes a bad one (and
/// its password) in an error; `Debug` masks the password.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct RawStoreUrl(String);

impl std::str::FromStr for RawStoreUrl {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(RawStoreUrl(text.to_owned()))
    }
}

impl std::fmt::Debug for RawStoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawStoreUrl({})", mayfly_store::redact_url(&self.0))
    }
}

/// A `--store-url`: a PostgreSQL URL, validated; shown only with its
/// password masked.
#[derive(Clone)]
pub struct StoreUrl(String);

impl StoreUrl {
    /// Accept `postgres://` and `postgresql://` URLs; anything else is an
    /// error naming the scheme (never the URL's secrets).
    pub fn parse(raw: &RawStoreUrl) -> Result<Self> {
        let text = raw.0.as_str();
        match text.split_once("://") {
            Some(_) if mayfly_store::is_postgres_url(text) => Ok(StoreUrl(text.to_owned())),
            Some((scheme, _)) => bail!(
                "--store-url: scheme `{scheme}` is not supported; give a postgres:// or postgresql:// URL, or omit the flag for SQLite in the data directory"
            ),
            None => bail!(
                "--store-url is not a URL; give a postgres:// or postgresql:// URL, or omit the flag for SQLite in the data directory"
            ),
        }
    }

    /// The URL itself, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&mayfly_store::redact_url(&self.0))
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreUrl({self})")
    }
}

/// `mayfly serve` flags. Every flag is optional so that an unset flag falls
/// back to the config file, then to the default.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML config file; its keys are the long flag names with `_` for `-`.
    #[arg(long, env = "MAYFLY_CONFIG")]
    config: Option<PathBuf>,
    /// The data directory [default: ./mayfly-data].
    #[arg(long, env = "MAYFLY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The store shared by several nodes: a `postgres://` or
    /// `postgresql://` URL [default: SQLite in the data directory]. Keys
    /// and the S3 built-in store stay in the data directory.
    #[arg(long, env = "MAYFLY_STORE_URL", hide_env_values = true)]
    store_url: Option<RawStoreUrl>,
    /// API listen address: STS and IAM [default: 127.0.0.1:7400].
    #[arg(long, env = "MAYFLY_LISTEN")]
    listen: Option<SocketAddr>,
    /// PEM certificate chain for HTTPS on the API listener.
    #[arg(long, env = "MAYFLY_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS on the API listener.
    #[arg(long, env = "MAYFLY_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address.
    #[arg(long, env = "MAYFLY_INSECURE_HTTP")]
    insecure_http: bool,
    /// Also append every audit event as a CloudTrail record (JSON lines) to
    /// this file, created owner-only (0600) if missing.
    #[arg(long, env = "MAYFLY_AUDIT_LOG")]
    audit_log: Option<PathBuf>,
    /// The default account id [default: 000000000000].
    #[arg(long, env = "MAYFLY_ACCOUNT_ID")]
    account_id: Option<String>,
    /// Largest accepted request body in bytes [default: 1048576].
    #[arg(long, env = "MAYFLY_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Regions accepted in signing scopes, comma-separated [default: any].
    #[arg(long, env = "MAYFLY_REGIONS", value_delimiter = ',')]
    regions: Option<Vec<String>>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "MAYFLY_LOG_FORMAT")]
    log_format: Option<String>,
    /// Development only: also accept `http://` OIDC issuers on loopback
    /// hosts (their discovery document and JWKS are then fetched in the clear).
    #[arg(long, env = "MAYFLY_ALLOW_HTTP_ISSUER", value_parser = clap::builder::FalseyValueParser::new())]
    allow_http_issuer: bool,
    /// Least time between two fetches of one OIDC issuer's keys, in seconds
    /// (an unknown `kid` triggers a refetch) [default: 10].
    #[arg(long, env = "MAYFLY_OIDC_MIN_REFETCH_SECONDS")]
    oidc_min_refetch_seconds: Option<u64>,
    /// Refuse every request (503, and 503 on `/healthz`) once the
    /// configuration view has not been confirmed current for this many
    /// seconds (the store cannot be read), rather than serve possibly
    /// revoked credentials; at least 1 [default: 10].
    #[arg(long, env = "MAYFLY_MAX_VIEW_AGE_SECONDS")]
    max_view_age_seconds: Option<u64>,
    /// An `Audience` SAML assertions may name (repeatable; replaces the
    /// default `https://signin.aws.amazon.com/saml`).
    #[arg(
        long = "saml-audience",
        env = "MAYFLY_SAML_AUDIENCES",
        value_delimiter = ','
    )]
    saml_audiences: Vec<String>,
    /// A `Recipient`/`Destination` SAML responses may name (repeatable;
    /// replaces the default AWS sign-in endpoints).
    #[arg(
        long = "saml-recipient",
        env = "MAYFLY_SAML_RECIPIENTS",
        value_delimiter = ','
    )]
    saml_recipients: Vec<String>,
    /// A SAML provider ARN whose responses may use SHA-1 (repeatable; SHA-1
    /// is refused for every other provider).
    #[arg(
        long = "saml-sha1-provider",
        env = "MAYFLY_SAML_SHA1_PROVIDERS",
        value_delimiter = ','
    )]
    saml_sha1_providers: Vec<String>,
    /// S3 gateway listen address (built-in store under the data directory)
    /// [default: 127.0.0.1:7401]; TLS as the API listener.
    #[arg(long, env = "MAYFLY_S3_LISTEN")]
    s3_listen: Option<SocketAddr>,
    /// Domain for virtual-host-style S3 addressing: `BUCKET.DOMAIN` names
    /// the bucket [default: path-style only].
    #[arg(long, env = "MAYFLY_S3_DOMAIN")]
    s3_domain: Option<String>,
    /// Upstream mode: forward verified, authorized S3 requests to this
    /// S3-compatible endpoint (path-style) instead of the built-in store.
    #[arg(long, env = "MAYFLY_S3_UPSTREAM", requires_all = ["s3_upstream_access_key_id", "s3_upstream_secret_access_key"])]
    s3_upstream: Option<String>,
    /// The access key id Mayfly signs upstream requests with.
    #[arg(long, env = "MAYFLY_S3_UPSTREAM_ACCESS_KEY_ID")]
    s3_upstream_access_key_id: Option<String>,
    /// Its secret (prefer the environment variable to the flag).
    #[arg(
        long,
        env = "MAYFLY_S3_UPSTREAM_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    s3_upstream_secret_access_key: Option<String>,
    /// The region upstream requests are signed for [default: us-east-1].
    #[arg(long, env = "MAYFLY_S3_UPSTREAM_REGION")]
    s3_upstream_region: Option<String>,
    /// IoT credentials provider listen address (mutual TLS: clients must
    /// present a certificate chaining to an enabled trust anchor) [default: off].
    #[arg(long, env = "MAYFLY_IOT_LISTEN")]
    iot_listen: Option<SocketAddr>,
    /// PEM certificate chain the IoT listener presents.
    #[arg(long, env = "MAYFLY_IOT_TLS_CERT")]
    iot_tls_cert: Option<PathBuf>,
    /// PEM private key of the IoT listener.
    #[arg(long, env = "MAYFLY_IOT_TLS_KEY")]
    iot_tls_key: Option<PathBuf>,
}

/// The config file: the same settings as the flags; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    data_dir: Option<PathBuf>,
    store_url: Option<RawStoreUrl>,
    listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    insecure_http: Option<bool>,
    audit_log: Option<PathBuf>,
    account_id: Option<String>,
    max_body_bytes: Option<usize>,
    regions: Option<Vec<String>>,
    log_format: Option<String>,
    allow_http_issuer: Option<bool>,
    oidc_min_refetch_seconds: Option<u64>,
    max_view_age_seconds: Option<u64>,
    saml_audiences: Option<Vec<String>>,
    saml_recipients: Option<Vec<String>>,
    saml_sha1_providers: Option<Vec<String>>,
    s3_listen: Option<SocketAddr>,
    s3_domain: Option<String>,
    iot_listen: Option<SocketAddr>,
    iot_tls_cert: Option<PathBuf>,
    iot_tls_key: Option<PathBuf>,
}

/// The root key from `MAYFLY_ROOT_ACCESS_KEY_ID` / `MAYFLY_ROOT_SECRET_ACCESS_KEY`.
#[derive(Debug, Default)]
pub struct RootKeyEnv {
    pair: Option<(String, SecretKey)>,
    given: bool,
}

impl RootKeyEnv {
    /// Take the pair (once) for first-start initialization.
    pub fn take_pair(&mut self) -> Option<(String, SecretKey)> {
        self.pair.take()
    }

    /// Whether the environment named a root key.
    pub fn was_given(&self) -> bool {
        self.given
    }
}

/// Resolved `mayfly serve` settings.
#[derive(Debug)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// The shared PostgreSQL store; `None`: SQLite in the data directory.
    pub store_url: Option<StoreUrl>,
    pub listen: SocketAddr,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The CloudTrail audit log file, when configured.
    pub audit_log: Option<PathBuf>,
    pub account_id: String,
    pub max_body_bytes: usize,
    pub regions: Option<Vec<String>>,
    pub log_format: String,
    pub root_key: RootKeyEnv,
    /// `MAYFLY_TEST_CLOCK_OFFSET_SECONDS`: shifts the server clock, for
    /// end-to-end expiry tests only.
    pub clock_offset_seconds: i64,
    /// Accept `http://` OIDC issuers on loopback hosts.
    pub allow_http_issuer: bool,
    /// Least time between two fetches of one OIDC issuer's keys.
    pub oidc_min_refetch: std::time::Duration,
    /// The oldest configuration view requests are served from.
    pub max_view_age: std::time::Duration,
    /// AssumeRoleWithSAML: accepted audiences and recipients, SHA-1 opt-ins.
    pub saml: mayfly_core::SamlSettings,
    /// The S3 gateway listen address.
    pub s3_listen: SocketAddr,
    /// The virtual-host-style S3 domain.
    pub s3_domain: Option<String>,
    /// Upstream mode: endpoint, access key id, secret, region.
    pub s3_upstream: Option<(String, String, SecretKey, String)>,
    /// The IoT credentials listener, when configured.
    pub iot: Option<IotSettings>,
}

/// The IoT credentials listener: where, and its server certificate.
#[derive(Debug, Clone)]
pub struct IotSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// PEM certificate chain.
    pub tls_cert: PathBuf,
    /// PEM private key.
    pub tls_key: PathBuf,
}

impl ServeArgs {
    /// Merge flags, environment, config file and defaults; refuse unsafe combinations.
    pub fn resolve(self) -> Result<Settings> {
        let file = match &self.config {
            Some(path) => read_config(path)?,
            None => ConfigFile::default(),
        };
        let listen = match self.listen.or(file.listen) {
            Some(addr) => addr,
            None => DEFAULT_LISTEN.parse().context("default listen address")?,
        };
        let tls_cert = self.tls_cert.or(file.tls_cert);
        let tls_key = self.tls_key.or(file.tls_key);
        if tls_cert.is_some() != tls_key.is_some() {
            bail!("--tls-cert and --tls-key go together");
        }
        let insecure_http = self.insecure_http || file.insecure_http.unwrap_or(false);
        if tls_cert.is_none() && !listen.ip().is_loopback() && !insecure_http {
            bail!(
                "refusing to serve plain HTTP on non-loopback address {listen}: credentials would cross the network in the clear; give --tls-cert and --tls-key, or --insecure-http to accept the risk"
            );
        }
        let s3_listen = match self.s3_listen.or(file.s3_listen) {
            Some(addr) => addr,
            None => DEFAULT_S3_LISTEN
                .parse()
                .context("default s3 listen address")?,
        };
        if tls_cert.is_none() && !s3_listen.ip().is_loopback() && !insecure_http {
            bail!(
                "refusing to serve plain HTTP on non-loopback s3 address {s3_listen}: credentials would cross the network in the clear; give --tls-cert and --tls-key, or --insecure-http to accept the risk"
            );
        }
        let s3_domain = self.s3_domain.or(file.s3_domain);
        let s3_upstream = match (
            self.s3_upstream,
            self.s3_upstream_access_key_id,
            self.s3_upstream_secret_access_key,
        ) {
            (Some(url), Some(id), Some(secret)) => Some((
                url,
                id,
                SecretKey::new(secret),
                self.s3_upstream_region
                    .unwrap_or_else(|| "us-east-1".to_owned()),
            )),
            (None, _, _) => None,
            _ => bail!(
                "--s3-upstream needs --s3-upstream-access-key-id and --s3-upstream-secret-access-key"
            ),
        };
        let iot = match (
            self.iot_listen.or(file.iot_listen),
            self.iot_tls_cert.or(file.iot_tls_cert),
            self.iot_tls_key.or(file.iot_tls_key),
        ) {
            (Some(listen), Some(tls_cert), Some(tls_key)) => Some(IotSettings {
                listen,
                tls_cert,
                tls_key,
            }),
            (None, None, None) => None,
            _ => bail!(
                "--iot-listen, --iot-tls-cert and --iot-tls-key go together: the IoT listener always uses mutual TLS"
            ),
        };
        let account_id = self
            .account_id
            .or(file.account_id)
            .unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_owned());
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            bail!("account id `{account_id}` is not twelve decimal digits");
        }
        let log_format = self
            .log_format
            .or(file.log_format)
            .unwrap_or_else(|| "text".to_owned());
        if !matches!(log_format.as_str(), "text" | "json") {
            bail!("log format `{log_format}` is neither text nor json");
        }
        let store_url = self
            .store_url
            .or(file.store_url)
            .as_ref()
            .map(StoreUrl::parse)
            .transpose()?;
        let max_view_age_seconds = self
            .max_view_age_seconds
            .or(file.max_view_age_seconds)
            .unwrap_or(DEFAULT_MAX_VIEW_AGE_SECONDS);
        if max_view_age_seconds == 0 {
            bail!("the max view age must be at least 1 second");
        }
        let root_key = root_key_from_env()?;
        let clock_offset_seconds = match std::env::var("MAYFLY_TEST_CLOCK_OFFSET_SECONDS") {
            Ok(text) => text
                .parse()
                .context("MAYFLY_TEST_CLOCK_OFFSET_SECONDS is not a whole number")?,
            Err(_) => 0,
        };
        Ok(Settings {
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            store_url,
            listen,
            tls_cert,
            tls_key,
            audit_log: self.audit_log.or(file.audit_log),
            account_id,
            max_body_bytes: self
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(DEFAULT_MAX_BODY_BYTES),
            regions: self.regions.or(file.regions),
            log_format,
            root_key,
            clock_offset_seconds,
            allow_http_issuer: self.allow_http_issuer || file.allow_http_issuer.unwrap_or(false),
            oidc_min_refetch: std::time::Duration::from_secs(
                self.oidc_min_refetch_seconds
                    .or(file.oidc_min_refetch_seconds)
                    .unwrap_or(10),
            ),
            max_view_age: std::time::Duration::from_secs(max_view_age_seconds),
            saml: saml_settings(
                non_empty(self.saml_audiences).or(file.saml_audiences),
                non_empty(self.saml_recipients).or(file.saml_recipients),
                non_empty(self.saml_sha1_providers).or(file.saml_sha1_providers),
            ),
            s3_listen,
            s3_domain,
            s3_upstream,
            iot,
        })
    }
}

/// `Some(list)` unless `list` is empty (a repeatable flag not given).
fn non_empty(list: Vec<String>) -> Option<Vec<String>> {
    (!list.is_empty()).then_some(list)
}

/// The SAML settings: each list given replaces its default.
fn saml_settings(
    audiences: Option<Vec<String>>,
    recipients: Option<Vec<String>>,
    sha1_providers: Option<Vec<String>>,
) -> mayfly_core::SamlSettings {
    let defaults = mayfly_core::SamlSettings::default();
    mayfly_core::SamlSettings {
        audiences: audiences.unwrap_or(defaults.audiences),
        recipients: recipients.unwrap_or(defaults.recipients),
        sha1_providers: sha1_providers.unwrap_or(defaults.sha1_providers),
    }
}

fn read_config(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

fn root_key_from_env() -> Result<RootKeyEnv> {
    let id = std::env::var("MAYFLY_ROOT_ACCESS_KEY_ID").ok();
    let secret = std::env::var("MAYFLY_ROOT_SECRET_ACCESS_KEY").ok();
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(RootKeyEnv {
            pair: Some((id, SecretKey::new(secret))),
            given: true,
        }),
        (None, None) => Ok(RootKeyEnv::default()),
        _ => bail!(
            "MAYFLY_ROOT_ACCESS_KEY_ID and MAYFLY_ROOT_SECRET_ACCESS_KEY must be set together"
        ),
    }
}

/// Unix seconds as `YYYY-MM-DDThh:mm:ssZ`.
pub fn format_unix(seconds: u64) -> String {
    mayfly_wire::iso8601(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_rejects_unknown_keys() {
        let error = toml::from_str::<ConfigFile>("listen = \"127.0.0.1:1\"\nlisten_port = 3\n");
        assert!(error.is_err());
    }

    #[test]
    fn config_file_reads_the_iot_listener() {
        let file: ConfigFile = toml::from_str(
            "iot_listen = \"127.0.0.1:8443\"\niot_tls_cert = \"iot.pem\"\niot_tls_key = \"iot.key\"\n",
        )
        .unwrap();
        assert_eq!(file.iot_listen, Some("127.0.0.1:8443".parse().unwrap()));
        assert_eq!(file.iot_tls_cert, Some(PathBuf::from("iot.pem")));
        assert_eq!(file.iot_tls_key, Some(PathBuf::from("iot.key")));
    }

    #[test]
    fn the_audit_log_comes_from_the_flag_or_the_file() {
        #[derive(Debug, clap::Parser)]
        struct Command {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let file: ConfigFile = toml::from_str("audit_log = \"/var/log/mayfly.jsonl\"\n").unwrap();
        assert_eq!(file.audit_log, Some(PathBuf::from("/var/log/mayfly.jsonl")));
        let command =
            <Command as clap::Parser>::try_parse_from(["serve", "--audit-log", "audit.jsonl"])
                .unwrap();
        let settings = command.serve.resolve().unwrap();
        assert_eq!(settings.audit_log, Some(PathBuf::from("audit.jsonl")));
        let command = <Command as clap::Parser>::try_parse_from(["serve"]).unwrap();
        assert_eq!(command.serve.resolve().unwrap().audit_log, None);
    }

    #[test]
    fn the_iot_listener_needs_its_certificate_and_key() {
        #[derive(Debug, clap::Parser)]
        struct Command {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let command =
            <Command as clap::Parser>::try_parse_from(["serve", "--iot-listen", "127.0.0.1:8443"])
                .unwrap();
        assert_eq!(
            command.serve.resolve().unwrap_err().to_string(),
            "--iot-listen, --iot-tls-cert and --iot-tls-key go together: the IoT listener always uses mutual TLS"
        );
    }

    #[test]
    fn store_urls_are_postgres_urls_shown_without_their_password() {
        let raw = |text: &str| text.parse::<RawStoreUrl>().unwrap();
        let given = raw("postgresql://mayfly:hunter2@db:5432/iam");
        assert!(!format!("{given:?}").contains("hunter2"));
        let url = StoreUrl::parse(&given).unwrap();
        assert_eq!(url.to_string(), "postgresql://mayfly:***@db:5432/iam");
        assert!(!format!("{url:?}").contains("hunter2"));
        let error = StoreUrl::parse(&raw("mysql://root:hunter2@db/iam")).unwrap_err();
        assert!(error.to_string().contains("scheme `mysql`"), "{error}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let error = StoreUrl::parse(&raw("hunter2")).unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn config_file_reads_the_store_url() {
        let file: ConfigFile =
            toml::from_str("store_url = \"postgres://mayfly@db/iam\"\n").unwrap();
        let url = StoreUrl::parse(&file.store_url.unwrap()).unwrap();
        assert_eq!(url.expose(), "postgres://mayfly@db/iam");
    }

    #[test]
    fn the_max_view_age_is_read_and_must_be_at_least_a_second() {
        #[derive(Debug, clap::Parser)]
        struct Command {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let resolve = |args: &[&str]| {
            <Command as clap::Parser>::try_parse_from(args)
                .unwrap()
                .serve
                .resolve()
        };
        let default = resolve(&["serve"]).unwrap();
        assert_eq!(default.max_view_age, std::time::Duration::from_secs(10));
        let given = resolve(&["serve", "--max-view-age-seconds", "3"]).unwrap();
        assert_eq!(given.max_view_age, std::time::Duration::from_secs(3));
        assert_eq!(
            resolve(&["serve", "--max-view-age-seconds", "0"])
                .unwrap_err()
                .to_string(),
            "the max view age must be at least 1 second"
        );
        let file: ConfigFile = toml::from_str("max_view_age_seconds = 30\n").unwrap();
        assert_eq!(file.max_view_age_seconds, Some(30));
    }

    #[test]
    fn config_file_reads_known_keys() {
        let file: ConfigFile =
            toml::from_str("listen = \"127.0.0.1:7500\"\naccount_id = \"111111111111\"\n").unwrap();
        assert_eq!(file.listen, Some("127.0.0.1:7500".parse().unwrap()));
        assert_eq!(file.account_id.as_deref(), Some("111111111111"));
    }
}
