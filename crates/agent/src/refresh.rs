//! Keeping a workload's credentials fresh (issue 5 "mayfly agent"): fetch
//! from the source, refresh well before expiry, reload the certificate and
//! key when their files change, and keep serving still-valid credentials
//! with exponential backoff while the source is down.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::{Material, SessionCredentials, SessionParams, create_session};

/// Never serve credentials with less than this left while the source answers.
const MIN_REMAINING: Duration = Duration::from_secs(20 * 60);
/// Longest wait between retries while the source fails.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often file changes and the refresh point are checked.
const TICK: Duration = Duration::from_secs(2);

/// Credentials with the times the refresh rule needs.
#[derive(Debug, Clone)]
pub struct Cached {
    /// The credentials.
    pub credentials: SessionCredentials,
    /// When they were fetched.
    pub fetched_at: SystemTime,
    /// Their expiration.
    pub expires_at: SystemTime,
}

impl Cached {
    /// The refresh point: a quarter of the lifetime before expiry, at least
    /// [`MIN_REMAINING`] before it, at most half the lifetime.
    pub fn refresh_at(&self) -> SystemTime {
        let lifetime = self
            .expires_at
            .duration_since(self.fetched_at)
            .unwrap_or_default();
        let margin = (lifetime / 4).max(MIN_REMAINING).min(lifetime / 2);
        self.expires_at
            .checked_sub(margin)
            .unwrap_or(self.fetched_at)
    }

    /// Whether they are still valid at `now`.
    pub fn valid_at(&self, now: SystemTime) -> bool {
        now < self.expires_at
    }
}

/// The shared cache the endpoints read.
#[derive(Debug, Default)]
pub struct CredentialCache {
    current: RwLock<Option<Cached>>,
}

impl CredentialCache {
    /// The cached credentials, if still valid at `now`.
    pub fn get(&self, now: SystemTime) -> Option<Cached> {
        let guard = self.current.read().ok()?;
        guard.as_ref().filter(|c| c.valid_at(now)).cloned()
    }

    fn set(&self, cached: Cached) {
        if let Ok(mut guard) = self.current.write() {
            *guard = Some(cached);
        }
    }
}

/// Parse `YYYY-MM-DDTHH:MM:SSZ` (optionally with a fraction).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z')?;
    let text = match text.split_once('.') {
        Some((whole, _)) => whole,
        None => text,
    };
    let compact: String = text.chars().filter(|c| *c != '-' && *c != ':').collect();
    mayfly_sigv4::parse_amz_date(&format!("{compact}Z"))
}

/// The Roles Anywhere source: the files are re-read on every fetch.
#[derive(Debug, Clone)]
pub struct RolesAnywhereSource {
    /// Certificate file.
    pub certificate: PathBuf,
    /// Private key file.
    pub private_key: PathBuf,
    /// Intermediates file.
    pub intermediates: Option<PathBuf>,
    /// What to ask for.
    pub params: SessionParams,
}

impl RolesAnywhereSource {
    /// The files' modification times, to notice a renewed certificate.
    fn fingerprint(&self) -> Vec<Option<SystemTime>> {
        let mtime = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let mut out = vec![mtime(&self.certificate), mtime(&self.private_key)];
        if let Some(p) = &self.intermediates {
            out.push(mtime(p));
        }
        out
    }

    /// Load the material and call CreateSession.
    pub async fn fetch(&self) -> Result<Cached, String> {
        let material = Material::load(
            &self.certificate,
            &self.private_key,
            self.intermediates.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        let now = SystemTime::now();
        let credentials = create_session(&material, &self.params, now)
            .await
            .map_err(|e| e.to_string())?;
        let expires_at = parse_rfc3339(&credentials.expiration)
            .ok_or_else(|| "the Expiration in the response does not parse".to_owned())?;
        Ok(Cached {
            credentials,
            fetched_at: now,
            expires_at,
        })
    }
}

/// Where credentials come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Roles Anywhere CreateSession with a certificate.
    RolesAnywhere(RolesAnywhereSource),
    /// STS AssumeRoleWithWebIdentity with a token file.
    WebIdentity(crate::web_identity::WebIdentitySource),
    /// STS AssumeRole with a base profile's keys.
    AssumeRole(crate::sts_client::AssumeRoleSource),
}

impl Source {
    fn fingerprint(&self) -> Vec<Option<SystemTime>> {
        match self {
            Source::RolesAnywhere(s) => s.fingerprint(),
            // The token file is re-read on every fetch; a new token alone
            // does not need a new session.
            Source::WebIdentity(_) | Source::AssumeRole(_) => Vec::new(),
        }
    }

    async fn fetch(&self) -> Result<Cached, String> {
        match self {
            Source::RolesAnywhere(s) => s.fetch().await,
            Source::WebIdentity(s) => s.fetch().await,
            Source::AssumeRole(s) => s.fetch().await,
        }
    }
}

/// Fetch once (so the agent starts with credentials or fails loudly), then
/// keep `cache` fresh in the background.
pub async fn start(
    source: Source,
    cache: Arc<CredentialCache>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let first = source.fetch().await?;
    cache.set(first);
    let mut fingerprint = source.fingerprint();
    Ok(tokio::spawn(async move {
        let mut backoff = Duration::from_secs(1);
        loop {
            tokio::time::sleep(TICK).await;
            let now = SystemTime::now();
            let current = source.fingerprint();
            let changed = current != fingerprint;
            let due = cache
                .current
                .read()
                .ok()
                .and_then(|g| g.as_ref().map(|c| now >= c.refresh_at()))
                .unwrap_or(true);
            if !changed && !due {
                continue;
            }
            match source.fetch().await {
                Ok(cached) => {
                    tracing::info!(changed, "credentials refreshed");
                    cache.set(cached);
                    fingerprint = current;
                    backoff = Duration::from_secs(1);
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "refreshing credentials failed; serving the cached ones while valid");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = parse_rfc3339("2024-01-15T13:00:00Z").unwrap();
        assert_eq!(mayfly_wire::iso8601(t), "2024-01-15T13:00:00Z");
        assert_eq!(parse_rfc3339("2024-01-15T13:00:00.123Z"), Some(t));
        assert_eq!(parse_rfc3339("2024-01-15T13:00:00+00:00"), None);
    }

    #[test]
    fn refresh_leaves_at_least_twenty_minutes_and_at_most_half() {
        let fetched_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let cached = |secs| Cached {
            credentials: SessionCredentials {
                access_key_id: String::new(),
                secret_access_key: String::new(),
                session_token: String::new(),
                expiration: String::new(),
            },
            fetched_at,
            expires_at: fetched_at + Duration::from_secs(secs),
        };
        assert_eq!(
            cached(3600).refresh_at(),
            fetched_at + Duration::from_secs(2400)
        );
        assert_eq!(
            cached(6 * 3600).refresh_at(),
            fetched_at + Duration::from_secs(6 * 2700)
        );
        assert_eq!(
            cached(900).refresh_at(),
            fetched_at + Duration::from_secs(450)
        );
    }
}
