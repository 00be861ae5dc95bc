//! `mayfly presign s3://BUCKET/KEY`: a presigned S3 URL (GET or PUT) for the
//! gateway, signed with the credentials an AWS SDK would find — the
//! environment, then the shared credentials file, then the profile's
//! `credential_process` — like `aws s3 presign`, but SigV4 always (sigv4.md 9).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use mayfly_agent::sts_client::{profile_credentials, profile_value};
use mayfly_sigv4::{
    Credentials, RequestParts, SignableBody, SigningParams, UriEncoding, presign, uri_encode,
};

/// The gateway's default address (DESIGN.md `--s3-listen`).
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:7401";

/// Flags of `mayfly presign`.
#[derive(Debug, Clone, clap::Args)]
pub struct PresignArgs {
    /// The object, `s3://BUCKET/KEY`.
    pub target: String,
    /// Seconds the URL stays valid (1–604800; never past the expiry of
    /// temporary credentials, which the gateway enforces).
    #[arg(long, default_value_t = 3600)]
    pub expires_in: u32,
    /// The method the URL allows.
    #[arg(long, default_value = "GET", value_parser = ["GET", "PUT"])]
    pub method: String,
    /// The S3 gateway [default: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`,
    /// then http://127.0.0.1:7401].
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// The profile to read [default: `AWS_PROFILE`, then `default`]; when
    /// given, the environment's keys are not used.
    #[arg(long)]
    pub profile: Option<String>,
    /// The signing region [default: `AWS_REGION`, `AWS_DEFAULT_REGION`, the
    /// profile's `region`, then us-east-1].
    #[arg(long)]
    pub region: Option<String>,
}

/// Keys found by [`resolve_credentials`].
#[derive(Debug, PartialEq, Eq)]
struct FoundCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

/// Print the presigned URL.
pub fn run(args: PresignArgs) -> Result<()> {
    println!("{}", presigned_url(&args, SystemTime::now())?);
    Ok(())
}

fn presigned_url(args: &PresignArgs, now: SystemTime) -> Result<String> {
    let (bucket, key) = parse_target(&args.target)?;
    let endpoint = args
        .endpoint_url
        .clone()
        .or_else(|| env("AWS_ENDPOINT_URL_S3"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    let endpoint = endpoint.trim_end_matches('/');
    let authority = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .with_context(|| {
            format!("--endpoint-url `{endpoint}` must start with http:// or https://")
        })?;
    if authority.is_empty() || authority.contains('/') {
        bail!("--endpoint-url `{endpoint}` must be a scheme and a host[:port], without a path");
    }
    let profile = args
        .profile
        .clone()
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_owned());
    let config = read_optional(config_path("AWS_CONFIG_FILE", "config"))?;
    let credentials = resolve_credentials(args.profile.is_some(), &profile, &config)?;
    let region = args
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| profile_value(&config, &profile, "region"))
        .unwrap_or_else(|| "us-east-1".to_owned());

    let path = format!("/{bucket}/{}", uri_encode(key.as_bytes(), true));
    let headers = [("host", authority.as_bytes())];
    let parts = RequestParts {
        method: &args.method,
        path: &path,
        query: "",
        headers: &headers,
    };
    let params = SigningParams {
        credentials: Credentials {
            access_key_id: &credentials.access_key_id,
            secret_access_key: &credentials.secret_access_key,
            session_token: credentials.session_token.as_deref(),
        },
        region: &region,
        service: "s3",
        time: now,
        encoding: UriEncoding::Single,
        body: SignableBody::Unsigned,
        content_sha256_header: false,
    };
    let signed = presign(&parts, &params, args.expires_in).context("presigning the request")?;
    Ok(format!("{endpoint}{path}?{}", signed.query))
}

/// `s3://BUCKET/KEY` into its bucket and (non-empty) key.
fn parse_target(target: &str) -> Result<(&str, &str)> {
    let rest = target
        .strip_prefix("s3://")
        .with_context(|| format!("`{target}` is not of the form s3://BUCKET/KEY"))?;
    match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok((bucket, key)),
        _ => bail!("`{target}` is not of the form s3://BUCKET/KEY"),
    }
}

/// The SDK's order: the environment's keys (unless a profile was named on
/// the command line), the profile's keys in the credentials file or the
/// config file, then the profile's `credential_process`.
fn resolve_credentials(
    profile_named: bool,
    profile: &str,
    config: &str,
) -> Result<FoundCredentials> {
    if !profile_named
        && let (Some(access_key_id), Some(secret_access_key)) =
            (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
    {
        return Ok(FoundCredentials {
            access_key_id,
            secret_access_key,
            session_token: env("AWS_SESSION_TOKEN"),
        });
    }
    let shared = read_optional(config_path("AWS_SHARED_CREDENTIALS_FILE", "credentials"))?;
    for text in [&shared, config] {
        if let Some(found) = profile_credentials(text, profile) {
            return Ok(FoundCredentials {
                access_key_id: found.access_key_id,
                secret_access_key: found.secret_access_key,
                session_token: found.session_token,
            });
        }
    }
    if let Some(command) = profile_value(config, profile, "credential_process") {
        return run_credential_process(&command);
    }
    bail!(
        "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile `{profile}` keys or a credential_process"
    )
}

/// Run a `credential_process` command and read its Version 1 document
/// (workload-credentials.md 4). Its output is never printed.
fn run_credential_process(command: &str) -> Result<FoundCredentials> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running the profile's credential_process")?;
    if !output.status.success() {
        bail!(
            "the profile's credential_process failed ({})",
            output.status
        );
    }
    let document: serde_json::Value = serde_json::from_slice(&output.stdout)
        .context("the credential_process output is not JSON")?;
    if document.get("Version").and_then(serde_json::Value::as_u64) != Some(1) {
        bail!("the credential_process output is not Version 1");
    }
    let field = |name: &str| {
        document
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let (Some(access_key_id), Some(secret_access_key)) =
        (field("AccessKeyId"), field("SecretAccessKey"))
    else {
        bail!("the credential_process output lacks AccessKeyId or SecretAccessKey");
    };
    Ok(FoundCredentials {
        access_key_id,
        secret_access_key,
        session_token: field("SessionToken"),
    })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `$VAR`, else `~/.aws/NAME`.
fn config_path(var: &str, name: &str) -> Option<PathBuf> {
    env(var)
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".aws").join(name)))
}

fn read_optional(path: Option<PathBuf>) -> Result<String> {
    let Some(path) = path else {
        return Ok(String::new());
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_need_a_bucket_and_a_key() {
        assert_eq!(parse_target("s3://b/a/b c").unwrap(), ("b", "a/b c"));
        for bad in ["b/k", "s3://b", "s3://b/", "s3:///k", "http://b/k"] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_values_are_read_from_the_named_profile_only() {
        let text = "[default]\nregion = eu-west-1\n[profile ci]\nregion = us-west-2\ncredential_process = echo hi\n";
        assert_eq!(
            profile_value(text, "default", "region").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            profile_value(text, "ci", "region").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            profile_value(text, "ci", "credential_process").as_deref(),
            Some("echo hi")
        );
        assert_eq!(profile_value(text, "other", "region"), None);
    }
}
