//! The request context a policy is evaluated against (policy-evaluation.md
//! §8.1, §10): who asks, for which action on which resource, and the
//! condition keys.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::pattern::ArnColons;

/// What kind of caller a request comes from; decides which principal
/// entries name it (§5) and how session policies apply (§8.2 step 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// The account root user (`arn:aws:iam::ACCT:root`).
    Root,
    /// An IAM user, with long-term keys or GetSessionToken credentials.
    User,
    /// A role session (AssumeRole, AssumeRoleWithSAML/WebIdentity, Roles Anywhere).
    AssumedRole,
    /// A GetFederationToken session.
    FederatedUser,
    /// The unsigned caller of AssumeRoleWithWebIdentity/AssumeRoleWithSAML,
    /// known only by its identity provider (`Principal: {"Federated": …}`).
    WebIdentity,
    /// A service principal (`Principal: {"Service": …}`), if Mayfly models one.
    Service,
    /// An unauthenticated caller.
    Anonymous,
}

/// A principal as the policy engine sees it, for `Principal`/`NotPrincipal`
/// matching in resource and trust policies (§5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalInfo {
    /// What kind of caller this is.
    pub kind: PrincipalKind,
    /// The caller's own ARN: user ARN, `arn:aws:iam::ACCT:root`, or for
    /// sessions the session ARN (`arn:aws:sts::ACCT:assumed-role/R/s`,
    /// `arn:aws:sts::ACCT:federated-user/name`). Empty for web-identity,
    /// service and anonymous callers.
    pub arn: String,
    /// The account the caller belongs to (`anonymous` for anonymous callers,
    /// empty for web-identity and service callers).
    pub account_id: String,
    /// For assumed-role sessions: the role ARN with its path (matches a
    /// `Principal` naming the role, §5).
    pub role_arn: Option<String>,
    /// For federated-user sessions: the ARN of the IAM user that called
    /// GetFederationToken (matches a `Principal` naming that user, §8.3).
    pub user_arn: Option<String>,
    /// The unique id of the user (`AIDA…`, for users and their federated
    /// sessions) or of the role (`AROA…`, for role sessions): matches
    /// `Principal` entries stored as unique ids (§5).
    pub unique_id: Option<String>,
    /// For [`PrincipalKind::WebIdentity`] callers: the provider ARN
    /// (`arn:aws:iam::ACCT:oidc-provider/host`, `…:saml-provider/name`) or
    /// built-in provider host (`accounts.google.com`).
    pub federated_provider: Option<String>,
    /// For [`PrincipalKind::Service`] callers: `svc.amazonaws.com`.
    pub service: Option<String>,
}

impl PrincipalInfo {
    fn base(kind: PrincipalKind, arn: String, account_id: String) -> Self {
        Self {
            kind,
            arn,
            account_id,
            role_arn: None,
            user_arn: None,
            unique_id: None,
            federated_provider: None,
            service: None,
        }
    }

    /// The root user of `account_id`.
    pub fn root(partition: &str, account_id: &str) -> Self {
        Self::base(
            PrincipalKind::Root,
            format!("arn:{partition}:iam::{account_id}:root"),
            account_id.to_owned(),
        )
    }

    /// An IAM user (long-term keys or GetSessionToken credentials).
    pub fn user(user_arn: &str, account_id: &str, user_id: &str) -> Self {
        let mut p = Self::base(
            PrincipalKind::User,
            user_arn.to_owned(),
            account_id.to_owned(),
        );
        p.unique_id = Some(user_id.to_owned());
        p
    }

    /// A role session: `session_arn` is `arn:aws:sts::ACCT:assumed-role/R/s`,
    /// `role_arn` the role's ARN with path, `role_id` its `AROA…` id.
    pub fn assumed_role(
        session_arn: &str,
        role_arn: &str,
        account_id: &str,
        role_id: &str,
    ) -> Self {
        let mut p = Self::base(
            PrincipalKind::AssumedRole,
            session_arn.to_owned(),
            account_id.to_owned(),
        );
        p.role_arn = Some(role_arn.to_owned());
        p.unique_id = Some(role_id.to_owned());
        p
    }

    /// A GetFederationToken session created by the user `user_arn`/`user_id`.
    pub fn federated_user(
        session_arn: &str,
        user_arn: &str,
        account_id: &str,
        user_id: &str,
    ) -> Self {
        let mut p = Self::base(
            PrincipalKind::FederatedUser,
            session_arn.to_owned(),
            account_id.to_owned(),
        );
        p.user_arn = Some(user_arn.to_owned());
        p.unique_id = Some(user_id.to_owned());
        p
    }

    /// The caller of AssumeRoleWithWebIdentity/AssumeRoleWithSAML, known by
    /// its provider (ARN of an IAM OIDC/SAML provider or a built-in host).
    pub fn web_identity(provider: &str) -> Self {
        let mut p = Self::base(PrincipalKind::WebIdentity, String::new(), String::new());
        p.federated_provider = Some(provider.to_owned());
        p
    }

    /// A service principal such as `ec2.amazonaws.com`.
    pub fn service(name: &str) -> Self {
        let mut p = Self::base(PrincipalKind::Service, String::new(), String::new());
        p.service = Some(name.to_owned());
        p
    }

    /// An unauthenticated caller (matches only `"*"` principals).
    pub fn anonymous() -> Self {
        Self::base(
            PrincipalKind::Anonymous,
            String::new(),
            "anonymous".to_owned(),
        )
    }

    /// Whether this is an unauthenticated caller.
    pub fn is_anonymous(&self) -> bool {
        self.kind == PrincipalKind::Anonymous
    }

    /// Whether the caller is a session shaped by session policies (§8.2 step 7).
    pub fn is_session(&self) -> bool {
        matches!(
            self.kind,
            PrincipalKind::AssumedRole | PrincipalKind::FederatedUser
        )
    }

    /// Whether the caller is an IAM identity with identity-based policies
    /// (root, user, role session, federated user).
    pub(crate) fn is_iam_identity(&self) -> bool {
        matches!(
            self.kind,
            PrincipalKind::Root
                | PrincipalKind::User
                | PrincipalKind::AssumedRole
                | PrincipalKind::FederatedUser
        )
    }
}

/// Condition keys and their values for one request, plus the principal,
/// action and resource (§8.1, §10).
///
/// Key names are case-insensitive (§6.1): they are stored lowercased. Values
/// are strings; multi-valued keys (`aws:TagKeys`, …, §6.4) hold several.
#[derive(Debug, Clone)]
pub struct RequestContext {
    principal: PrincipalInfo,
    action: String,
    action_lowercase: String,
    resource: String,
    resource_colons: ArnColons,
    /// Lowercased key → (values, set with [`RequestContext::set_multi`]).
    keys: HashMap<String, (Vec<String>, bool), BuildHasherDefault<Fnv1a>>,
}

/// `key` lowercased as policies store condition keys; ASCII (nearly every
/// key) takes the cheap path, which gives the same result.
fn lowercase_key(key: &str) -> String {
    if key.is_ascii() {
        key.to_ascii_lowercase()
    } else {
        key.to_lowercase()
    }
}

/// FNV-1a: a context holds a few dozen server-built keys, so a fast
/// non-keyed hash is enough (no flooding concern at that size).
#[derive(Debug, Clone, Copy)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl RequestContext {
    /// A context for `principal` calling `action` (`service:Operation`) on
    /// `resource` (an ARN, or `*` for actions without a resource, §4).
    pub fn new(principal: PrincipalInfo, action: &str, resource: &str) -> Self {
        Self {
            principal,
            action: action.to_owned(),
            action_lowercase: action.to_ascii_lowercase(),
            resource: resource.to_owned(),
            resource_colons: ArnColons::of(resource),
            // Every request carries some twenty global keys: size the map once
            // instead of growing it four times.
            keys: HashMap::with_capacity_and_hasher(32, BuildHasherDefault::default()),
        }
    }

    /// Set a single-valued key (replacing any previous value).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.keys
            .insert(lowercase_key(key), (vec![value.into()], false));
    }

    /// Set a multi-valued key; an empty list is a present key with an empty
    /// set of values (§6.4).
    pub fn set_multi(&mut self, key: &str, values: Vec<String>) {
        self.keys.insert(lowercase_key(key), (values, true));
    }

    /// Remove a key.
    pub fn remove(&mut self, key: &str) {
        self.keys.remove(&key.to_lowercase());
    }

    /// The values of `key` (any case), `None` if absent.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        if key.chars().any(char::is_uppercase) {
            self.get_lowercase(&key.to_lowercase())
        } else {
            self.get_lowercase(key)
        }
    }

    /// Lookup with a key already lowercased (policies store keys that way).
    pub(crate) fn get_lowercase(&self, key: &str) -> Option<&[String]> {
        self.keys.get(key).map(|(values, _)| values.as_slice())
    }

    /// The value of a single-valued key (lowercased name): what a policy
    /// variable resolves to (§7: "multi-valued keys cannot be variables").
    pub(crate) fn single_value(&self, key: &str) -> Option<&str> {
        match self.keys.get(key) {
            Some((values, false)) => values.first().map(String::as_str),
            _ => None,
        }
    }

    /// Every key (lowercased) with its values, in no particular order: for
    /// explanations such as a decoded authorization message.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.keys
            .iter()
            .map(|(k, (v, _))| (k.as_str(), v.as_slice()))
    }

    /// The caller.
    pub fn principal(&self) -> &PrincipalInfo {
        &self.principal
    }

    /// The action as given.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// Change the action (e.g. to check `sts:TagSession` after `sts:AssumeRole`).
    pub fn set_action(&mut self, action: &str) {
        self.action = action.to_owned();
        self.action_lowercase = action.to_ascii_lowercase();
    }

    pub(crate) fn action_lowercase(&self) -> &str {
        &self.action_lowercase
    }

    /// The resource ARN (or `*`).
    pub fn resource(&self) -> &str {
        &self.resource
    }

    pub(crate) fn resource_colons(&self) -> &ArnColons {
        &self.resource_colons
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_case_insensitive() {
        let mut ctx = RequestContext::new(PrincipalInfo::anonymous(), "s3:GetObject", "*");
        ctx.set("AWS:SourceIp", "10.0.0.1");
        ctx.set_multi("aws:TagKeys", vec!["a".into(), "b".into()]);
        assert_eq!(ctx.get("aws:sourceip"), Some(&["10.0.0.1".to_owned()][..]));
        assert_eq!(ctx.get("AWS:TAGKEYS").map(<[String]>::len), Some(2));
        ctx.remove("aws:SOURCEIP");
        assert_eq!(ctx.get("aws:sourceip"), None);
    }
}
