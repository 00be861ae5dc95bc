//! `mayfly agent`: keeps a workload's credentials fresh from a source
//! (`--source roles-anywhere` with a certificate, or `--source
//! web-identity` with a token file) and serves them where SDKs look —
//! IMDSv2 (`--imds-listen`) and the container credentials endpoint
//! (`--container-listen`, bearer token from `--auth-token-file`). Prints
//! `mayfly agent imds=http://ADDR` / `container=http://ADDR` when listening.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use mayfly_agent::SessionParams;
use mayfly_agent::refresh::{CredentialCache, RolesAnywhereSource, Source, start};
use mayfly_agent::serve::{Endpoint, Served, spawn};
use mayfly_agent::sts_client::{AssumeRoleSource, profile_credentials};
use mayfly_agent::web_identity::WebIdentitySource;

/// Flags of `mayfly agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Where credentials come from: `roles-anywhere`, `web-identity` or
    /// `assume-role`.
    #[arg(long, default_value = "roles-anywhere")]
    source: String,
    /// The role whose credentials are served.
    #[arg(long)]
    role_arn: String,
    /// roles-anywhere: the end-entity certificate (PEM or DER).
    #[arg(long)]
    certificate: Option<PathBuf>,
    /// roles-anywhere: its private key (PEM: PKCS#8, SEC1 or PKCS#1).
    #[arg(long)]
    private_key: Option<PathBuf>,
    /// roles-anywhere: intermediate CA certificates to send (PEM bundle).
    #[arg(long)]
    intermediates: Option<PathBuf>,
    /// roles-anywhere: the trust anchor ARN.
    #[arg(long)]
    trust_anchor_arn: Option<String>,
    /// roles-anywhere: the profile ARN.
    #[arg(long)]
    profile_arn: Option<String>,
    /// web-identity: the ID token file (re-read on every refresh).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// assume-role: the base profile in the shared credentials file.
    #[arg(long)]
    profile: Option<String>,
    /// assume-role: the shared credentials file [default:
    /// $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials].
    #[arg(long)]
    credentials_file: Option<PathBuf>,
    /// Base URL of the Roles Anywhere endpoint or (web-identity) of STS.
    #[arg(long)]
    endpoint: Option<String>,
    /// Session duration in seconds (900-43200).
    #[arg(long, value_parser = clap::value_parser!(u32).range(900..=43200))]
    session_duration: Option<u32>,
    /// The signing region [roles-anywhere default: the trust anchor ARN's;
    /// assume-role default: us-east-1].
    #[arg(long)]
    region: Option<String>,
    /// The role session name (roles-anywhere: the profile must accept one;
    /// web-identity: default `mayfly-agent`).
    #[arg(long)]
    role_session_name: Option<String>,
    /// Serve IMDSv2 on this address (loopback or link-local only).
    #[arg(long)]
    imds_listen: Option<SocketAddr>,
    /// Serve the container credentials endpoint on this address (loopback or
    /// link-local only).
    #[arg(long)]
    container_listen: Option<SocketAddr>,
    /// The bearer token the container endpoint requires (the file's whole
    /// content; a trailing newline is ignored).
    #[arg(long)]
    auth_token_file: Option<PathBuf>,
}

fn required<T: Clone>(value: &Option<T>, flag: &str, source: &str) -> Result<T> {
    match value {
        Some(v) => Ok(v.clone()),
        None => bail!("--source {source} needs {flag}"),
    }
}

impl AgentArgs {
    fn source(&self) -> Result<Source> {
        Ok(match self.source.as_str() {
            "roles-anywhere" => {
                let need = |v: &Option<PathBuf>, flag| required(v, flag, "roles-anywhere");
                Source::RolesAnywhere(RolesAnywhereSource {
                    certificate: need(&self.certificate, "--certificate")?,
                    private_key: need(&self.private_key, "--private-key")?,
                    intermediates: self.intermediates.clone(),
                    params: SessionParams {
                        endpoint: self.endpoint.clone(),
                        region: self.region.clone(),
                        trust_anchor_arn: required(
                            &self.trust_anchor_arn,
                            "--trust-anchor-arn",
                            "roles-anywhere",
                        )?,
                        profile_arn: required(
                            &self.profile_arn,
                            "--profile-arn",
                            "roles-anywhere",
                        )?,
                        role_arn: self.role_arn.clone(),
                        session_duration: self.session_duration,
                        role_session_name: self.role_session_name.clone(),
                    },
                })
            }
            "web-identity" => Source::WebIdentity(WebIdentitySource {
                endpoint: self
                    .endpoint
                    .clone()
                    .unwrap_or_else(|| "https://sts.amazonaws.com".to_owned()),
                token_file: required(&self.token_file, "--token-file", "web-identity")?,
                role_arn: self.role_arn.clone(),
                session_name: self
                    .role_session_name
                    .clone()
                    .unwrap_or_else(|| "mayfly-agent".to_owned()),
                duration_seconds: self.session_duration,
            }),
            "assume-role" => {
                let profile = required(&self.profile, "--profile", "assume-role")?;
                let file = match &self.credentials_file {
                    Some(path) => path.clone(),
                    None => match std::env::var_os("AWS_SHARED_CREDENTIALS_FILE") {
                        Some(path) => PathBuf::from(path),
                        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?)
                            .join(".aws/credentials"),
                    },
                };
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let base = profile_credentials(&text, &profile).with_context(|| {
                    format!("{} has no keys for profile {profile}", file.display())
                })?;
                Source::AssumeRole(AssumeRoleSource {
                    endpoint: self
                        .endpoint
                        .clone()
                        .unwrap_or_else(|| "https://sts.amazonaws.com".to_owned()),
                    region: self
                        .region
                        .clone()
                        .unwrap_or_else(|| "us-east-1".to_owned()),
                    base,
                    role_arn: self.role_arn.clone(),
                    session_name: self
                        .role_session_name
                        .clone()
                        .unwrap_or_else(|| "mayfly-agent".to_owned()),
                    duration_seconds: self.session_duration,
                })
            }
            other => bail!(
                "--source {other} is not supported; use roles-anywhere, web-identity or assume-role"
            ),
        })
    }
}

/// Run the agent until interrupted.
pub async fn run(args: AgentArgs) -> Result<()> {
    crate::init_logging("text", "info");
    let source = args.source()?;
    if args.imds_listen.is_none() && args.container_listen.is_none() {
        bail!("give --imds-listen and/or --container-listen");
    }
    for addr in [args.imds_listen, args.container_listen]
        .into_iter()
        .flatten()
    {
        if !local_only(addr) {
            bail!(
                "{addr} is reachable from other machines; the agent listens on loopback or link-local addresses only"
            );
        }
    }
    let token = match (&args.container_listen, &args.auth_token_file) {
        (Some(_), None) => bail!("--container-listen needs --auth-token-file"),
        (Some(_), Some(path)) => {
            let mut bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                bytes.pop();
            }
            if bytes.is_empty() {
                bail!("{} is empty", path.display());
            }
            Some(Arc::new(bytes))
        }
        _ => None,
    };
    let cache = Arc::new(CredentialCache::default());
    let refresher = start(source, Arc::clone(&cache))
        .await
        .map_err(|e| anyhow::anyhow!("fetching the first credentials failed: {e}"))?;
    let served = Arc::new(Served {
        cache,
        role_arn: args.role_arn.clone(),
    });
    let mut tasks = vec![refresher];
    if let Some(addr) = args.imds_listen {
        let (local, task) = spawn(addr, Endpoint::Imds, Arc::clone(&served)).await?;
        println!("mayfly agent imds=http://{local}");
        tasks.push(task);
    }
    if let (Some(addr), Some(token)) = (args.container_listen, token) {
        let (local, task) = spawn(addr, Endpoint::Container(token), Arc::clone(&served)).await?;
        println!("mayfly agent container=http://{local}");
        tasks.push(task);
    }
    tokio::signal::ctrl_c().await?;
    for task in tasks {
        task.abort();
    }
    Ok(())
}

/// Loopback or link-local (workload-credentials.md 2.8).
fn local_only(addr: SocketAddr) -> bool {
    match addr.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback() || ip.is_link_local(),
        std::net::IpAddr::V6(ip) => ip.is_loopback() || ip.is_unicast_link_local(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::local_only;

    #[test]
    fn only_loopback_and_link_local_addresses_are_served() {
        for ok in [
            "127.0.0.1:9911",
            "169.254.169.254:80",
            "[::1]:80",
            "[fe80::1]:80",
        ] {
            assert!(local_only(ok.parse().unwrap()), "{ok}");
        }
        for refused in ["0.0.0.0:9911", "10.0.0.1:80", "[::]:80"] {
            assert!(!local_only(refused.parse().unwrap()), "{refused}");
        }
    }
}
