//! Temporary credentials and the `credential_process` document
//! (workload-credentials.md 4).

use serde_json::{Map, Value};

/// Credentials from CreateSession. `Debug` hides the secret and token.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionCredentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: String,
    /// RFC 3339 UTC, passed through verbatim.
    pub expiration: String,
}

impl std::fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// The document `credential_process` prints: compact JSON, `Version` the
/// number 1, then `AccessKeyId`, `SecretAccessKey`, `SessionToken`,
/// `Expiration` (the order and form of the official helper).
pub fn credential_process_json(credentials: &SessionCredentials) -> String {
    let mut map = Map::new();
    map.insert("Version".into(), Value::from(1));
    map.insert(
        "AccessKeyId".into(),
        Value::from(credentials.access_key_id.clone()),
    );
    map.insert(
        "SecretAccessKey".into(),
        Value::from(credentials.secret_access_key.clone()),
    );
    map.insert(
        "SessionToken".into(),
        Value::from(credentials.session_token.clone()),
    );
    map.insert(
        "Expiration".into(),
        Value::from(credentials.expiration.clone()),
    );
    Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_exact() {
        let credentials = SessionCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: "token".into(),
            expiration: "2024-01-15T13:00:00Z".into(),
        };
        assert_eq!(
            credential_process_json(&credentials),
            r#"{"Version":1,"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"secret","SessionToken":"token","Expiration":"2024-01-15T13:00:00Z"}"#
        );
        assert!(!format!("{credentials:?}").contains("secret"));
    }
}
