//! What a session token carries (DESIGN.md "Session tokens") and the identity
//! values derived from it (sts-api.md 1.1, 1.3).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::access_key_id::parse_account_id;
use crate::error::TokenError;

/// Everything a session token carries, sealed under the key ring (DESIGN.md
/// "Session tokens"). The format version, key id and access key id live in
/// the token envelope, not here. Times are unix seconds.
///
/// Serialized as JSON inside the token; absent options, empty lists and
/// `false` flags are omitted to keep tokens small.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The 12-digit account that owns the principal (`aws:PrincipalAccount`).
    pub account_id: String,
    /// Who the session is for.
    pub principal: SessionPrincipal,
    /// Issue time, unix seconds (`aws:TokenIssueTime`, used by "revoke active
    /// sessions" deny statements).
    pub issued_at: u64,
    /// Expiry, unix seconds; the session is expired when `now >= expires_at`.
    pub expires_at: u64,
    /// The inline session policy JSON exactly as the caller passed it (`Policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    /// Managed session policy ARNs (`PolicyArns`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_arns: Vec<String>,
    /// Session tags (sts-api.md 6), transitive ones marked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<SessionTag>,
    /// `SourceIdentity` (sts-api.md 7), sticky across role chaining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// When MFA was presented, unix seconds (`aws:MultiFactorAuthPresent`,
    /// `aws:MultiFactorAuthAge`); `None` without MFA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_authenticated_at: Option<u64>,
    /// Whether these credentials came from role chaining (assuming a role
    /// with role-session credentials), which caps the duration at one hour.
    #[serde(default, skip_serializing_if = "is_false")]
    pub role_chained: bool,
    /// The OIDC issuer or SAML provider ARN for web-identity / SAML sessions
    /// (`aws:FederatedProvider`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_provider: Option<String>,
    /// The long-term access key id that started the chain, if any (audit only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_access_key_id: Option<String>,
    /// Request-context keys the issuer fixed for the session's lifetime,
    /// set on every request the session signs so that policies can use
    /// them as variables: the IoT credentials provider's
    /// `credentials-iot:ThingName` and `credentials-iot:AwsCertificateId`
    /// (workload-credentials.md 7.3). Not passed on by role chaining.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context_keys: BTreeMap<String, String>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The principal a session stands for (sts-api.md 1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum SessionPrincipal {
    /// A role session from AssumeRole, AssumeRoleWithWebIdentity or AssumeRoleWithSAML.
    AssumedRole {
        /// The role's IAM ARN, with its path (`aws:PrincipalArn`).
        role_arn: String,
        /// The role's unique id (`AROA…`).
        role_id: String,
        /// The bare role name (the path is dropped in the session ARN).
        role_name: String,
        /// `RoleSessionName`.
        session_name: String,
    },
    /// A federated-user session from GetFederationToken.
    FederatedUser {
        /// The `Name` request parameter.
        name: String,
        /// ARN of the IAM user (or root) who called GetFederationToken.
        user_arn: String,
        /// Unique id of that caller (`AIDA…`, or the account id for root).
        user_id: String,
    },
    /// An IAM user's GetSessionToken session.
    User {
        /// The user's ARN, with its path.
        user_arn: String,
        /// The user's unique id (`AIDA…`).
        user_id: String,
        /// The user name (`aws:username`).
        user_name: String,
    },
    /// The account root's GetSessionToken session.
    Root,
}

/// A session tag (sts-api.md 6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTag {
    /// Tag key, case preserved.
    pub key: String,
    /// Tag value.
    pub value: String,
    /// Whether the tag passes on to chained role sessions (`TransitiveTagKeys`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub transitive: bool,
}

impl SessionClaims {
    /// The session's ARN as GetCallerIdentity reports it (sts-api.md 1.1, 1.3):
    /// `arn:aws:sts::ACCT:assumed-role/{roleName}/{sessionName}` (role path
    /// dropped), `arn:aws:sts::ACCT:federated-user/{Name}`, the user ARN for
    /// a user's GetSessionToken session, `arn:aws:iam::ACCT:root` for root.
    /// The partition is taken from the role or user ARN (default `aws`).
    pub fn arn(&self) -> String {
        let account = &self.account_id;
        match &self.principal {
            SessionPrincipal::AssumedRole {
                role_arn,
                role_name,
                session_name,
                ..
            } => format!(
                "arn:{}:sts::{account}:assumed-role/{role_name}/{session_name}",
                partition_of(role_arn)
            ),
            SessionPrincipal::FederatedUser { name, user_arn, .. } => format!(
                "arn:{}:sts::{account}:federated-user/{name}",
                partition_of(user_arn)
            ),
            SessionPrincipal::User { user_arn, .. } => user_arn.clone(),
            SessionPrincipal::Root => format!("arn:aws:iam::{account}:root"),
        }
    }

    /// `aws:userid` and GetCallerIdentity `UserId` (sts-api.md 1.3):
    /// `AROA…:{sessionName}` for a role session, `ACCT:{Name}` for a
    /// federated user, the `AIDA…` id for a user, the account id for root.
    pub fn user_id(&self) -> String {
        match &self.principal {
            SessionPrincipal::AssumedRole {
                role_id,
                session_name,
                ..
            } => format!("{role_id}:{session_name}"),
            SessionPrincipal::FederatedUser { name, .. } => {
                format!("{}:{name}", self.account_id)
            }
            SessionPrincipal::User { user_id, .. } => user_id.clone(),
            SessionPrincipal::Root => self.account_id.clone(),
        }
    }

    /// `aws:PrincipalArn` (sts-api.md 1.3): the **role** ARN (with path) for a
    /// role session, otherwise the same as [`SessionClaims::arn`].
    pub fn principal_arn(&self) -> String {
        match &self.principal {
            SessionPrincipal::AssumedRole { role_arn, .. } => role_arn.clone(),
            _ => self.arn(),
        }
    }

    /// `aws:PrincipalType` (sts-api.md 1.3): `AssumedRole`, `FederatedUser`,
    /// `User` or `Account`.
    pub fn principal_type(&self) -> &'static str {
        match &self.principal {
            SessionPrincipal::AssumedRole { .. } => "AssumedRole",
            SessionPrincipal::FederatedUser { .. } => "FederatedUser",
            SessionPrincipal::User { .. } => "User",
            SessionPrincipal::Root => "Account",
        }
    }

    /// `aws:username` (sts-api.md 1.3): present only for an IAM user's session.
    pub fn username(&self) -> Option<&str> {
        match &self.principal {
            SessionPrincipal::User { user_name, .. } => Some(user_name),
            _ => None,
        }
    }

    /// Whether the session is expired at `now` (unix seconds): `now >= expires_at`.
    pub fn is_expired_at(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// Checks what sealing relies on: a 12-digit account and `issued_at < expires_at`.
    pub(crate) fn check_sealable(&self) -> Result<(), TokenError> {
        parse_account_id(&self.account_id)?;
        if self.expires_at <= self.issued_at {
            return Err(TokenError::InvalidClaims {
                reason: "expires_at must be after issued_at",
            });
        }
        Ok(())
    }
}

/// The partition field of an ARN (`arn:{partition}:…`), `aws` if absent.
fn partition_of(arn: &str) -> &str {
    let mut fields = arn.split(':');
    match (fields.next(), fields.next()) {
        (Some("arn"), Some(partition)) if !partition.is_empty() => partition,
        _ => "aws",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn assumed_role_claims() -> SessionClaims {
        SessionClaims {
            account_id: "123456789012".into(),
            principal: SessionPrincipal::AssumedRole {
                role_arn: "arn:aws:iam::123456789012:role/service-role/Deployer".into(),
                role_id: "AROAEXAMPLEEXAMPLE234".into(),
                role_name: "Deployer".into(),
                session_name: "ci-run-42".into(),
            },
            issued_at: 1_700_000_000,
            expires_at: 1_700_003_600,
            session_policy: Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
            policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
            tags: vec![
                SessionTag {
                    key: "Project".into(),
                    value: "mayfly".into(),
                    transitive: true,
                },
                SessionTag {
                    key: "CostCenter".into(),
                    value: "42".into(),
                    transitive: false,
                },
            ],
            source_identity: Some("alice@example.com".into()),
            mfa_authenticated_at: Some(1_699_999_000),
            role_chained: true,
            federated_provider: Some("token.actions.githubusercontent.com".into()),
            parent_access_key_id: Some("AKIARZPUZDIKAAAAAAAA".into()),
            context_keys: BTreeMap::from([("credentials-iot:ThingName".into(), "thing-1".into())]),
        }
    }

    pub(crate) fn with_principal(principal: SessionPrincipal) -> SessionClaims {
        SessionClaims {
            principal,
            session_policy: None,
            policy_arns: Vec::new(),
            tags: Vec::new(),
            source_identity: None,
            mfa_authenticated_at: None,
            role_chained: false,
            federated_provider: None,
            parent_access_key_id: None,
            context_keys: BTreeMap::new(),
            ..assumed_role_claims()
        }
    }

    pub(crate) fn federated_user_claims() -> SessionClaims {
        with_principal(SessionPrincipal::FederatedUser {
            name: "Bob".into(),
            user_arn: "arn:aws:iam::123456789012:user/ops/alice".into(),
            user_id: "AIDAEXAMPLEEXAMPLE234".into(),
        })
    }

    pub(crate) fn user_claims() -> SessionClaims {
        with_principal(SessionPrincipal::User {
            user_arn: "arn:aws:iam::123456789012:user/ops/alice".into(),
            user_id: "AIDAEXAMPLEEXAMPLE234".into(),
            user_name: "alice".into(),
        })
    }

    pub(crate) fn root_claims() -> SessionClaims {
        with_principal(SessionPrincipal::Root)
    }

    #[test]
    fn assumed_role_identity_drops_the_role_path() {
        let claims = assumed_role_claims();
        assert_eq!(
            claims.arn(),
            "arn:aws:sts::123456789012:assumed-role/Deployer/ci-run-42"
        );
        assert_eq!(claims.user_id(), "AROAEXAMPLEEXAMPLE234:ci-run-42");
        assert_eq!(
            claims.principal_arn(),
            "arn:aws:iam::123456789012:role/service-role/Deployer"
        );
        assert_eq!(claims.principal_type(), "AssumedRole");
        assert_eq!(claims.username(), None);
    }

    #[test]
    fn federated_user_identity_uses_account_and_name() {
        let claims = federated_user_claims();
        assert_eq!(claims.arn(), "arn:aws:sts::123456789012:federated-user/Bob");
        assert_eq!(claims.user_id(), "123456789012:Bob");
        assert_eq!(claims.principal_arn(), claims.arn());
        assert_eq!(claims.principal_type(), "FederatedUser");
    }

    #[test]
    fn user_session_identity_is_the_user() {
        let claims = user_claims();
        assert_eq!(claims.arn(), "arn:aws:iam::123456789012:user/ops/alice");
        assert_eq!(claims.user_id(), "AIDAEXAMPLEEXAMPLE234");
        assert_eq!(claims.principal_type(), "User");
        assert_eq!(claims.username(), Some("alice"));
    }

    #[test]
    fn root_session_identity_is_the_account() {
        let claims = root_claims();
        assert_eq!(claims.arn(), "arn:aws:iam::123456789012:root");
        assert_eq!(claims.user_id(), "123456789012");
        assert_eq!(claims.principal_arn(), "arn:aws:iam::123456789012:root");
        assert_eq!(claims.principal_type(), "Account");
        assert_eq!(claims.username(), None);
    }

    #[test]
    fn session_arn_keeps_the_partition_of_the_role() {
        let mut claims = assumed_role_claims();
        if let SessionPrincipal::AssumedRole { role_arn, .. } = &mut claims.principal {
            *role_arn = "arn:aws-cn:iam::123456789012:role/Deployer".into();
        }
        assert_eq!(
            claims.arn(),
            "arn:aws-cn:sts::123456789012:assumed-role/Deployer/ci-run-42"
        );
        assert_eq!(partition_of("not-an-arn"), "aws");
        assert_eq!(partition_of("arn::iam::1:root"), "aws");
    }

    #[test]
    fn expiry_is_reached_at_exactly_expires_at() {
        let claims = assumed_role_claims();
        assert!(!claims.is_expired_at(claims.expires_at - 1));
        assert!(claims.is_expired_at(claims.expires_at));
    }

    #[test]
    fn check_sealable_rejects_bad_account_and_times() {
        let mut claims = root_claims();
        assert_eq!(claims.check_sealable(), Ok(()));
        claims.expires_at = claims.issued_at;
        assert!(matches!(
            claims.check_sealable(),
            Err(TokenError::InvalidClaims { .. })
        ));
        let mut claims = root_claims();
        claims.account_id = "12345".into();
        assert!(matches!(
            claims.check_sealable(),
            Err(TokenError::InvalidAccountId { .. })
        ));
    }

    #[test]
    fn json_omits_empty_fields_and_round_trips() {
        let claims = root_claims();
        let json = serde_json::to_string(&claims).unwrap();
        assert!(!json.contains("session_policy"), "{json}");
        assert!(!json.contains("role_chained"), "{json}");
        assert_eq!(
            serde_json::from_str::<SessionClaims>(&json).unwrap(),
            claims
        );
        let full = assumed_role_claims();
        let json = serde_json::to_string(&full).unwrap();
        assert_eq!(serde_json::from_str::<SessionClaims>(&json).unwrap(), full);
    }
}
