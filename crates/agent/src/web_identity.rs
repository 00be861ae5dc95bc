//! `--source web-identity`: STS AssumeRoleWithWebIdentity (unsigned query
//! protocol, sts-api.md 9.2) with a JWT read from a file on every fetch, as
//! the SDKs' web-identity provider does (workload-credentials.md 5).

use std::path::PathBuf;

use crate::refresh::Cached;

/// What to ask STS for.
#[derive(Debug, Clone)]
pub struct WebIdentitySource {
    /// STS base URL, e.g. `http://127.0.0.1:7400`.
    pub endpoint: String,
    /// The JWT file (re-read each time; a trailing newline is ignored).
    pub token_file: PathBuf,
    /// The role.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// `DurationSeconds`, if set.
    pub duration_seconds: Option<u32>,
}

impl WebIdentitySource {
    /// Read the token and call AssumeRoleWithWebIdentity.
    pub async fn fetch(&self) -> Result<Cached, String> {
        let token = std::fs::read_to_string(&self.token_file)
            .map_err(|e| format!("reading {}: {e}", self.token_file.display()))?;
        let token = token.trim_end_matches(['\n', '\r']);
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", "AssumeRoleWithWebIdentity")
                .append_pair("Version", "2011-06-15")
                .append_pair("RoleArn", &self.role_arn)
                .append_pair("RoleSessionName", &self.session_name)
                .append_pair("WebIdentityToken", token);
            if let Some(d) = self.duration_seconds {
                form.append_pair("DurationSeconds", &d.to_string());
            }
            form.finish()
        };
        crate::sts_client::call(&self.endpoint, "AssumeRoleWithWebIdentity", body, None).await
    }
}
