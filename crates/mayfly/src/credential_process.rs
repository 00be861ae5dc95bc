//! `mayfly credential-process`: a Roles Anywhere signing helper for an AWS
//! config profile's `credential_process` (roles-anywhere.md 6.2,
//! workload-credentials.md 4). Prints one credential_process document
//! (Version 1) on stdout; any failure goes to stderr with a non-zero exit.

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, Result};
use mayfly_agent::{Material, SessionParams, create_session, credential_process_json};

/// Flags of `mayfly credential-process` (those of the official helper).
#[derive(Debug, Clone, clap::Args)]
pub struct CredentialProcessArgs {
    /// The end-entity certificate (PEM or DER).
    #[arg(long)]
    pub certificate: PathBuf,
    /// Its private key (PEM: PKCS#8, SEC1 or PKCS#1).
    #[arg(long)]
    pub private_key: PathBuf,
    /// Intermediate CA certificates to send (PEM bundle).
    #[arg(long)]
    pub intermediates: Option<PathBuf>,
    /// The trust anchor ARN.
    #[arg(long)]
    pub trust_anchor_arn: String,
    /// The profile ARN.
    #[arg(long)]
    pub profile_arn: String,
    /// The role ARN.
    #[arg(long)]
    pub role_arn: String,
    /// Base URL of the Roles Anywhere endpoint [default:
    /// https://rolesanywhere.<region>.amazonaws.com].
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Session duration in seconds (900-43200).
    #[arg(long, value_parser = clap::value_parser!(u32).range(900..=43200))]
    pub session_duration: Option<u32>,
    /// The signing region [default: the trust anchor ARN's].
    #[arg(long)]
    pub region: Option<String>,
    /// Ask for this role session name (the profile must accept one).
    #[arg(long)]
    pub role_session_name: Option<String>,
}

impl CredentialProcessArgs {
    /// The CreateSession parameters these flags name.
    pub fn params(&self) -> SessionParams {
        let args = self.clone();
        SessionParams {
            endpoint: args.endpoint,
            region: args.region,
            trust_anchor_arn: args.trust_anchor_arn,
            profile_arn: args.profile_arn,
            role_arn: args.role_arn,
            session_duration: args.session_duration,
            role_session_name: args.role_session_name,
        }
    }
}

/// Run the helper.
pub async fn run(args: CredentialProcessArgs) -> Result<()> {
    let material = Material::load(
        &args.certificate,
        &args.private_key,
        args.intermediates.as_deref(),
    )
    .context("loading the certificate and key")?;
    let params = args.params();
    let credentials = create_session(&material, &params, SystemTime::now()).await?;
    println!("{}", credential_process_json(&credentials));
    Ok(())
}
