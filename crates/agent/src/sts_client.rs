//! The STS query-protocol calls of the agent's other sources:
//! AssumeRoleWithWebIdentity (unsigned) and AssumeRole (SigV4 with base
//! credentials from a profile), answered in XML.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};

use crate::SessionCredentials;
use crate::client::http_client;
use crate::refresh::{Cached, parse_rfc3339};

const MAX_RESPONSE: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(30);

/// Long-term or temporary credentials that sign AssumeRole. `Debug` hides
/// the secret and token.
#[derive(Clone)]
pub struct BaseCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token, for temporary base credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for BaseCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

fn element<'a>(document: &'a roxmltree::Document<'_>, name: &str) -> Option<&'a str> {
    document
        .descendants()
        .find(|n| n.tag_name().name() == name)
        .and_then(|n| n.text())
}

/// POST `form` to STS at `endpoint` (signed with `signer` when given) and
/// read the `Credentials` of the answer.
pub(crate) async fn call(
    endpoint: &str,
    action: &str,
    form: String,
    signer: Option<(&BaseCredentials, &str)>,
) -> Result<Cached, String> {
    let base = endpoint.trim_end_matches('/');
    let uri: http::Uri = format!("{base}/")
        .parse()
        .map_err(|_| format!("invalid endpoint {base}"))?;
    let host = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .ok_or_else(|| format!("endpoint {base} has no host"))?;
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let now = SystemTime::now();
    let mut request = http::Request::builder()
        .method("POST")
        .uri(uri)
        .header("host", &host)
        .header("content-type", content_type);
    if let Some((credentials, region)) = signer {
        let headers: [(&str, &[u8]); 2] = [
            ("host", host.as_bytes()),
            ("content-type", content_type.as_bytes()),
        ];
        let signature = mayfly_sigv4::sign_headers(
            &mayfly_sigv4::RequestParts {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
            },
            &mayfly_sigv4::SigningParams {
                credentials: mayfly_sigv4::Credentials {
                    access_key_id: &credentials.access_key_id,
                    secret_access_key: &credentials.secret_access_key,
                    session_token: credentials.session_token.as_deref(),
                },
                region,
                service: "sts",
                time: now,
                encoding: mayfly_sigv4::UriEncoding::Double,
                body: mayfly_sigv4::SignableBody::Bytes(form.as_bytes()),
                content_sha256_header: false,
            },
        )
        .map_err(|e| format!("signing {action}: {e}"))?;
        for (name, value) in signature.headers {
            request = request.header(name, value);
        }
    }
    let request = request
        .body(Full::new(Bytes::from(form)))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(TIMEOUT, http_client()?.request(request))
        .await
        .map_err(|_| format!("request to {base} timed out"))?
        .map_err(|e| format!("request to {base} failed: {e}"))?;
    let status = response.status();
    let bytes = Limited::new(response.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    let document = roxmltree::Document::parse(&text)
        .map_err(|_| format!("STS answered {status} with a body that is not XML"))?;
    if !status.is_success() {
        return Err(format!(
            "{action} failed with status {}: {}: {}",
            status.as_u16(),
            element(&document, "Code").unwrap_or("Unknown"),
            element(&document, "Message").unwrap_or("")
        ));
    }
    let field = |name: &str| {
        element(&document, name)
            .map(str::to_owned)
            .ok_or_else(|| format!("the STS answer lacks {name}"))
    };
    let credentials = SessionCredentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: field("SecretAccessKey")?,
        session_token: field("SessionToken")?,
        expiration: field("Expiration")?,
    };
    let expires_at = parse_rfc3339(&credentials.expiration)
        .ok_or_else(|| "the Expiration in the STS answer does not parse".to_owned())?;
    Ok(Cached {
        credentials,
        fetched_at: now,
        expires_at,
    })
}

/// The static keys of `profile` in an AWS shared credentials file.
pub fn profile_credentials(text: &str, profile: &str) -> Option<BaseCredentials> {
    Some(BaseCredentials {
        access_key_id: profile_value(text, profile, "aws_access_key_id")?,
        secret_access_key: profile_value(text, profile, "aws_secret_access_key")?,
        session_token: profile_value(text, profile, "aws_session_token"),
    })
}

/// `key` of `profile` in an AWS credentials or config file (`[NAME]` or
/// `[profile NAME]`); the last value wins, comments are skipped.
pub fn profile_value(text: &str, profile: &str, key: &str) -> Option<String> {
    let mut in_section = false;
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            in_section =
                name == profile || name.strip_prefix("profile ").map(str::trim) == Some(profile);
            continue;
        }
        if in_section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            found = Some(v.trim().to_owned());
        }
    }
    found
}

/// `--source assume-role`: AssumeRole signed with a profile's keys.
#[derive(Debug, Clone)]
pub struct AssumeRoleSource {
    /// STS base URL.
    pub endpoint: String,
    /// Signing region.
    pub region: String,
    /// The base credentials.
    pub base: BaseCredentials,
    /// The role.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `DurationSeconds`, if set.
    pub duration_seconds: Option<u32>,
}

impl AssumeRoleSource {
    /// Call AssumeRole.
    pub async fn fetch(&self) -> Result<Cached, String> {
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", "AssumeRole")
                .append_pair("Version", "2011-06-15")
                .append_pair("RoleArn", &self.role_arn)
                .append_pair("RoleSessionName", &self.session_name);
            if let Some(d) = self.duration_seconds {
                form.append_pair("DurationSeconds", &d.to_string());
            }
            form.finish()
        };
        call(
            &self.endpoint,
            "AssumeRole",
            form,
            Some((&self.base, &self.region)),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn profiles_are_read_from_the_credentials_file() {
        let text = "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s1\n\n[base]\n# comment\naws_access_key_id=AKIABASE\naws_secret_access_key=s2\naws_session_token = t2\n";
        let base = profile_credentials(text, "base").unwrap();
        assert_eq!(
            (base.access_key_id.as_str(), base.secret_access_key.as_str()),
            ("AKIABASE", "s2")
        );
        assert_eq!(base.session_token.as_deref(), Some("t2"));
        assert_eq!(
            profile_credentials(text, "default").unwrap().access_key_id,
            "AKIADEFAULT"
        );
        assert!(profile_credentials(text, "missing").is_none());
        assert!(!format!("{base:?}").contains("s2"));
    }
}
