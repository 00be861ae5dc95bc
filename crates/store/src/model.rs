//! The IAM configuration (iam-admin-api.md): accounts, users, groups, roles,
//! access keys, managed policies, MFA devices, OIDC and SAML providers, plus
//! the key ring and the per-key revocation list (DESIGN.md "Revocation").
//!
//! Times are unix seconds supplied by the caller. Secrets are stored sealed
//! (encrypted by the layer above) as opaque bytes and never appear in `Debug`.
//! Policy documents are kept as the text submitted: AWS returns the stored
//! text as it was written (iam-admin-api.md 1.4).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::entity::Entity;

/// The partition in every ARN Mayfly issues (sts-api.md 1.1).
pub const PARTITION: &str = "aws";

/// `MaxSessionDuration` of a role when none is given: 3600 s (iam-admin-api.md 1.1).
pub const DEFAULT_MAX_SESSION_DURATION: u32 = 3600;

/// Storage key of an account-scoped name that IAM treats case-insensitively:
/// `{account}/{lowercased name}`.
pub fn scoped_key(account_id: &str, name: &str) -> String {
    // Built by hand: this runs for every lookup on the request path.
    let mut key = String::with_capacity(account_id.len() + 1 + name.len());
    key.push_str(account_id);
    key.push('/');
    if name.is_ascii() {
        key.extend(name.chars().map(|c| c.to_ascii_lowercase()));
    } else {
        key.push_str(&name.to_lowercase());
    }
    key
}

/// `arn:aws:iam::{account}:{resource}`: IAM ARNs have no region.
fn iam_arn(account_id: &str, resource: &str) -> String {
    iam_arn_of(account_id, &[resource])
}

/// `arn:aws:iam::{account}:` followed by `parts`, in one allocation (ARNs are
/// built on every request).
fn iam_arn_of(account_id: &str, parts: &[&str]) -> String {
    const PREFIX: &str = ":iam::";
    let len = 4 + PARTITION.len() + PREFIX.len() + account_id.len() + 1;
    let mut arn = String::with_capacity(len + parts.iter().map(|p| p.len()).sum::<usize>());
    arn.push_str("arn:");
    arn.push_str(PARTITION);
    arn.push_str(PREFIX);
    arn.push_str(account_id);
    arn.push(':');
    for part in parts {
        arn.push_str(part);
    }
    arn
}

/// A tag on a user, role, policy, provider or MFA device (iam-admin-api.md 1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// 1–128 characters, not starting with `aws:`.
    pub key: String,
    /// 0–256 characters.
    pub value: String,
}

/// An AWS account: twelve decimal digits (sts-api.md 1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Twelve decimal digits, e.g. `000000000000`.
    pub id: String,
    /// Unix seconds.
    pub created_at: u64,
    /// The account alias (`ListAccountAliases`); AWS allows at most one.
    #[serde(default)]
    pub alias: Option<String>,
}

impl Account {
    /// `arn:aws:iam::{account}:root`: the root user, and in a `Principal` the whole account.
    pub fn root_arn(&self) -> String {
        iam_arn(&self.id, "root")
    }
}

impl Entity for Account {
    const KIND: &'static str = "account";
    fn key(&self) -> String {
        self.id.clone()
    }
}

/// An IAM user (iam-admin-api.md 2). Names are unique per account case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Owning account.
    pub account_id: String,
    /// User name as created (display case).
    pub name: String,
    /// `/` or `/…/`.
    pub path: String,
    /// Unique id, `AIDA…`.
    pub user_id: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Tags; keys are case-insensitive for users.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Managed policy ARN used as permissions boundary.
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    /// Inline policies: name → document text as submitted.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// Attached managed policy ARNs, in attachment order.
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

impl User {
    /// `arn:aws:iam::{account}:user{path}{name}`.
    pub fn arn(&self) -> String {
        iam_arn_of(&self.account_id, &["user", &self.path, &self.name])
    }

    /// The storage key of the user `name` in `account_id` (lowercased name).
    pub fn storage_key(account_id: &str, name: &str) -> String {
        scoped_key(account_id, name)
    }
}

impl Entity for User {
    const KIND: &'static str = "user";
    fn key(&self) -> String {
        Self::storage_key(&self.account_id, &self.name)
    }
}

/// An IAM group. Groups are not used by the STS paths yet; they exist so
/// `ListGroupsForUser` and later group actions have a home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Owning account.
    pub account_id: String,
    /// Group name (display case); unique case-insensitively.
    pub name: String,
    /// `/` or `/…/`.
    pub path: String,
    /// Unique id, `AGPA…`.
    pub group_id: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Member user names (display case).
    #[serde(default)]
    pub members: Vec<String>,
    /// Inline policies: name → document text.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

impl Group {
    /// `arn:aws:iam::{account}:group{path}{name}`.
    pub fn arn(&self) -> String {
        iam_arn_of(&self.account_id, &["group", &self.path, &self.name])
    }

    /// The storage key of the group `name` in `account_id`.
    pub fn storage_key(account_id: &str, name: &str) -> String {
        scoped_key(account_id, name)
    }
}

impl Entity for Group {
    const KIND: &'static str = "group";
    fn key(&self) -> String {
        Self::storage_key(&self.account_id, &self.name)
    }
}

/// When a role was last assumed (`RoleLastUsed` in GetRole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleLastUsed {
    /// Unix seconds.
    pub at: u64,
    /// Region of the request, if regional.
    #[serde(default)]
    pub region: Option<String>,
}

/// An IAM role (iam-admin-api.md 4). Names are unique per account case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Owning account.
    pub account_id: String,
    /// Role name as created (display case).
    pub name: String,
    /// `/` or `/…/`.
    pub path: String,
    /// Unique id, `AROA…`.
    pub role_id: String,
    /// Unix seconds.
    pub created_at: u64,
    /// The trust policy text as stored.
    pub assume_role_policy: String,
    /// The user and role ARNs of the trust policy's `AWS` principals that
    /// existed when it was stored, each with that principal's unique id
    /// (`AIDA…`/`AROA…`): they name that principal only, never one
    /// re-created with the same name (iam-admin-api.md 1.4 principal
    /// binding). Empty for roles stored before principals were bound,
    /// whose principals stay matched by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trust_principal_ids: BTreeMap<String, String>,
    /// 0–1000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Upper bound of `DurationSeconds` for AssumeRole*, 3600–43200.
    #[serde(default = "default_max_session_duration")]
    pub max_session_duration: u32,
    /// Tags; keys are case-insensitive for roles.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Managed policy ARN used as permissions boundary.
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    /// Inline policies: name → document text as submitted.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// Attached managed policy ARNs, in attachment order.
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Last AssumeRole* use.
    #[serde(default)]
    pub last_used: Option<RoleLastUsed>,
}

fn default_max_session_duration() -> u32 {
    DEFAULT_MAX_SESSION_DURATION
}

impl Role {
    /// `arn:aws:iam::{account}:role{path}{name}` (the path is kept here; the
    /// assumed-role session ARN drops it).
    pub fn arn(&self) -> String {
        iam_arn_of(&self.account_id, &["role", &self.path, &self.name])
    }

    /// The storage key of the role `name` in `account_id`.
    pub fn storage_key(account_id: &str, name: &str) -> String {
        scoped_key(account_id, name)
    }
}

impl Entity for Role {
    const KIND: &'static str = "role";
    fn key(&self) -> String {
        Self::storage_key(&self.account_id, &self.name)
    }
}

/// Status of a long-term access key (iam-admin-api.md 3). An `Inactive` key
/// fails authentication with `InvalidClientTokenId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessKeyStatus {
    /// Usable.
    Active,
    /// Kept but refused.
    Inactive,
}

impl AccessKeyStatus {
    /// The wire value, `Active` or `Inactive`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Inactive => "Inactive",
        }
    }
}

/// `GetAccessKeyLastUsed` data; AWS records it at most every 15 minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyLastUsed {
    /// Unix seconds.
    pub at: u64,
    /// Service namespace, e.g. `sts`, `iam`, `s3`.
    pub service: String,
    /// Region from the signing scope, if regional.
    #[serde(default)]
    pub region: Option<String>,
}

/// A long-term access key (`AKIA…`) of a user or of the account root.
///
/// `Debug` shows only the length of the sealed secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    /// `AKIA…`, 20 characters; case-sensitive key.
    pub access_key_id: String,
    /// Owning account.
    pub account_id: String,
    /// The owning user (display case); `None` for the account root.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The secret access key, encrypted by the caller under the master key.
    #[serde(with = "sealed_bytes")]
    pub secret_sealed: Vec<u8>,
    /// `Active` or `Inactive`.
    pub status: AccessKeyStatus,
    /// Unix seconds.
    pub created_at: u64,
    /// Last authenticated use.
    #[serde(default)]
    pub last_used: Option<AccessKeyLastUsed>,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("user_name", &self.user_name)
            .field("secret_sealed", &Redacted(self.secret_sealed.len()))
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .field("last_used", &self.last_used)
            .finish()
    }
}

impl Entity for AccessKey {
    const KIND: &'static str = "access_key";
    fn key(&self) -> String {
        self.access_key_id.clone()
    }
}

/// One version of a managed policy (`v1`, `v2`, …; numbers are never reused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// `v{n}`.
    pub version_id: String,
    /// The document text as submitted.
    pub document: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// A customer managed policy (iam-admin-api.md 6). Names are unique per
/// account case-insensitively, whatever the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    /// Owning account.
    pub account_id: String,
    /// Policy name (display case).
    pub name: String,
    /// `/` or `/…/`.
    pub path: String,
    /// Unique id, `ANPA…`.
    pub policy_id: String,
    /// `arn:aws:iam::{account}:policy{path}{name}` (see `ManagedPolicy::arn_for`).
    pub arn: String,
    /// Immutable after CreatePolicy.
    #[serde(default)]
    pub description: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; changes with the default version.
    pub updated_at: u64,
    /// The version in force, e.g. `v1`.
    pub default_version_id: String,
    /// At most five versions, oldest first.
    pub versions: Vec<PolicyVersion>,
    /// The number the next `CreatePolicyVersion` gets (`v{next_version}`).
    pub next_version: u32,
    /// Tags; keys are case-sensitive for policies.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl ManagedPolicy {
    /// `arn:aws:iam::{account}:policy{path}{name}`.
    pub fn arn_for(account_id: &str, path: &str, name: &str) -> String {
        iam_arn_of(account_id, &["policy", path, name])
    }

    /// The storage key of the policy `name` in `account_id`.
    pub fn storage_key(account_id: &str, name: &str) -> String {
        scoped_key(account_id, name)
    }

    /// The version `version_id`, if present.
    pub fn version(&self, version_id: &str) -> Option<&PolicyVersion> {
        self.versions.iter().find(|v| v.version_id == version_id)
    }

    /// The default version's document text, if the default version exists.
    pub fn default_document(&self) -> Option<&str> {
        self.version(&self.default_version_id)
            .map(|v| v.document.as_str())
    }
}

impl Entity for ManagedPolicy {
    const KIND: &'static str = "managed_policy";
    fn key(&self) -> String {
        Self::storage_key(&self.account_id, &self.name)
    }
}

/// To whom an MFA device is assigned (`EnableMFADevice`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaAssignment {
    /// The user (display case); `None` for the account root.
    #[serde(default)]
    pub user_name: Option<String>,
    /// Unix seconds (`EnableDate`).
    pub enabled_at: u64,
}

/// A virtual (TOTP) MFA device (iam-admin-api.md 10).
///
/// `Debug` shows only the length of the sealed seed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaDevice {
    /// Owning account.
    pub account_id: String,
    /// Device name (display case).
    pub name: String,
    /// `/` or `/…/`.
    pub path: String,
    /// The base32 TOTP seed text, sealed by the layer above (label
    /// `mayfly/mfa-seed/{serial number}`).
    #[serde(with = "sealed_bytes")]
    pub seed_sealed: Vec<u8>,
    /// Unix seconds.
    pub created_at: u64,
    /// Set while the device is enabled for a user or the root.
    #[serde(default)]
    pub assignment: Option<MfaAssignment>,
    /// How many 30-second steps the device's clock runs ahead of the
    /// server's (negative: behind), as learnt by `ResyncMFADevice`; 0 until
    /// then. Used codes are remembered through `Store::record_first_use`,
    /// not here, so signing in writes no configuration.
    #[serde(default)]
    pub drift_steps: i64,
    /// Tags; keys are case-sensitive for MFA devices.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl MfaDevice {
    /// `arn:aws:iam::{account}:mfa{path}{name}`: the `SerialNumber` clients send.
    pub fn serial_number(&self) -> String {
        Self::serial_number_for(&self.account_id, &self.path, &self.name)
    }

    /// The serial number (ARN) of device `name` under `path`.
    pub fn serial_number_for(account_id: &str, path: &str, name: &str) -> String {
        iam_arn(account_id, &format!("mfa{path}{name}"))
    }

    /// The storage key `{account}{path}{name}`, lowercased after the account
    /// (\[choice\]: AWS says only "same path and name").
    pub fn storage_key(account_id: &str, path: &str, name: &str) -> String {
        format!("{account_id}{}", format!("{path}{name}").to_lowercase())
    }
}

impl fmt::Debug for MfaDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaDevice")
            .field("account_id", &self.account_id)
            .field("name", &self.name)
            .field("path", &self.path)
            .field("seed_sealed", &Redacted(self.seed_sealed.len()))
            .field("created_at", &self.created_at)
            .field("assignment", &self.assignment)
            .field("drift_steps", &self.drift_steps)
            .field("tags", &self.tags)
            .finish()
    }
}

impl Entity for MfaDevice {
    const KIND: &'static str = "mfa_device";
    fn key(&self) -> String {
        Self::storage_key(&self.account_id, &self.path, &self.name)
    }
}

/// An OIDC identity provider (iam-admin-api.md 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProvider {
    /// Owning account.
    pub account_id: String,
    /// The issuer URL without `https://` (host and optional path), as
    /// `GetOpenIDConnectProvider` returns it. The layer above lowercases the
    /// host before storing; the key is this text as is.
    pub url: String,
    /// Accepted audiences (`ClientIDList`).
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// SHA-1 certificate thumbprints, 40 hex characters each (0–5).
    #[serde(default)]
    pub thumbprints: Vec<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Tags; keys are case-sensitive for providers.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl OidcProvider {
    /// `arn:aws:iam::{account}:oidc-provider/{url}`.
    pub fn arn(&self) -> String {
        Self::arn_for(&self.account_id, &self.url)
    }

    /// The ARN of the provider for `url` (without `https://`).
    pub fn arn_for(account_id: &str, url: &str) -> String {
        iam_arn(account_id, &format!("oidc-provider/{url}"))
    }

    /// The storage key `{account}/{url}`.
    pub fn storage_key(account_id: &str, url: &str) -> String {
        format!("{account_id}/{url}")
    }
}

impl Entity for OidcProvider {
    const KIND: &'static str = "oidc_provider";
    fn key(&self) -> String {
        Self::storage_key(&self.account_id, &self.url)
    }
}

/// A private key a SAML provider uses to decrypt encrypted assertions.
///
/// `Debug` shows only the length of the sealed key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlPrivateKey {
    /// `KeyId` in `PrivateKeyList`.
    pub key_id: String,
    /// The PEM private key, encrypted by the caller.
    #[serde(with = "sealed_bytes")]
    pub key_sealed: Vec<u8>,
    /// Unix seconds (`Timestamp`).
    pub created_at: u64,
}

impl fmt::Debug for SamlPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SamlPrivateKey")
            .field("key_id", &self.key_id)
            .field("key_sealed", &Redacted(self.key_sealed.len()))
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A SAML identity provider (iam-admin-api.md 9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlProvider {
    /// Owning account.
    pub account_id: String,
    /// 1–128 `[\w._-]+`; unique case-insensitively (\[choice\]).
    pub name: String,
    /// The IdP metadata XML as submitted.
    pub metadata_document: String,
    /// Unix seconds.
    pub created_at: u64,
    /// From the metadata's `validUntil`, if any.
    #[serde(default)]
    pub valid_until: Option<u64>,
    /// `SAMLProviderUUID`.
    pub uuid: String,
    /// `Required` or `Allowed`, if set.
    #[serde(default)]
    pub assertion_encryption_mode: Option<String>,
    /// Decryption keys (at most 2 in AWS).
    #[serde(default)]
    pub private_keys: Vec<SamlPrivateKey>,
    /// Tags; keys are case-sensitive for providers.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl SamlProvider {
    /// `arn:aws:iam::{account}:saml-provider/{name}`.
    pub fn arn(&self) -> String {
        Self::arn_for(&self.account_id, &self.name)
    }

    /// The ARN of provider `name`.
    pub fn arn_for(account_id: &str, name: &str) -> String {
        iam_arn(account_id, &format!("saml-provider/{name}"))
    }

    /// The storage key of provider `name` in `account_id`.
    pub fn storage_key(account_id: &str, name: &str) -> String {
        scoped_key(account_id, name)
    }
}

impl Entity for SamlProvider {
    const KIND: &'static str = "saml_provider";
    fn key(&self) -> String {
        Self::storage_key(&self.account_id, &self.name)
    }
}

/// One key of the session-token key ring (DESIGN.md "Session tokens").
///
/// `Debug` shows only the length of the sealed material.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingKey {
    /// The id sealed tokens carry.
    pub key_id: u32,
    /// The key material, encrypted by the caller under the master key.
    #[serde(with = "sealed_bytes")]
    pub material_sealed: Vec<u8>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; a retired key opens nothing.
    #[serde(default)]
    pub retired_at: Option<u64>,
}

impl RingKey {
    /// The storage key: the id zero-padded to ten digits, so keys sort by id.
    pub fn storage_key(key_id: u32) -> String {
        format!("{key_id:010}")
    }
}

impl fmt::Debug for RingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingKey")
            .field("key_id", &self.key_id)
            .field("material_sealed", &Redacted(self.material_sealed.len()))
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

impl Entity for RingKey {
    const KIND: &'static str = "ring_key";
    fn key(&self) -> String {
        Self::storage_key(self.key_id)
    }
}

/// A per-access-key deny-list entry, kept until the key itself expires
/// (DESIGN.md "Revocation").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The revoked key (`ASIA…` or `AKIA…`).
    pub access_key_id: String,
    /// Unix seconds when it was revoked.
    #[serde(default)]
    pub revoked_at: u64,
    /// Unix seconds after which the entry may be pruned (the key's own expiry).
    pub expires_at: u64,
}

impl Entity for Revocation {
    const KIND: &'static str = "revocation";
    fn key(&self) -> String {
        self.access_key_id.clone()
    }
}

/// The ARN of a Roles Anywhere object: `arn:aws:rolesanywhere:{region}:{account}:{kind}/{id}`.
pub fn rolesanywhere_arn(region: &str, account_id: &str, kind: &str, id: &str) -> String {
    format!("arn:{PARTITION}:rolesanywhere:{region}:{account_id}:{kind}/{id}")
}

/// A Roles Anywhere trust anchor (roles-anywhere.md 1). Stored under
/// `{account}/{id}`; not indexed by the snapshot (the Roles Anywhere front
/// end loads its own kinds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaTrustAnchor {
    /// Owning account.
    pub account_id: String,
    /// The region of its ARN.
    pub region: String,
    /// The UUID.
    pub id: String,
    /// `[ a-zA-Z0-9-_]*`, 1–255.
    pub name: String,
    /// `CERTIFICATE_BUNDLE` (the only type served) or `AWS_ACM_PCA`.
    pub source_type: String,
    /// PEM bundle (`x509CertificateData`) or the ACM PCA ARN.
    pub source_data: String,
    /// Whether sessions may chain to it.
    pub enabled: bool,
    /// `notificationSettings` as given (JSON array).
    #[serde(default)]
    pub notification_settings: Vec<serde_json::Value>,
    /// Unix milliseconds.
    pub created_at: u64,
    /// Unix milliseconds.
    pub updated_at: u64,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl RaTrustAnchor {
    /// Its ARN.
    pub fn arn(&self) -> String {
        rolesanywhere_arn(&self.region, &self.account_id, "trust-anchor", &self.id)
    }
}

impl Entity for RaTrustAnchor {
    const KIND: &'static str = "ra_trust_anchor";
    fn key(&self) -> String {
        format!("{}/{}", self.account_id, self.id)
    }
}

/// One attribute mapping of a Roles Anywhere profile (roles-anywhere.md 1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaAttributeMapping {
    /// `x509Subject`, `x509Issuer` or `x509SAN`.
    pub certificate_field: String,
    /// The rules' specifiers.
    pub specifiers: Vec<String>,
}

/// A Roles Anywhere profile (roles-anywhere.md 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaProfile {
    /// Owning account.
    pub account_id: String,
    /// The region of its ARN.
    pub region: String,
    /// The UUID.
    pub id: String,
    /// The name.
    pub name: String,
    /// Roles sessions may assume.
    pub role_arns: Vec<String>,
    /// Managed session policies.
    #[serde(default)]
    pub managed_policy_arns: Vec<String>,
    /// Inline session policy.
    #[serde(default)]
    pub session_policy: Option<String>,
    /// 900–43200.
    pub duration_seconds: u32,
    /// Reserved by AWS.
    #[serde(default)]
    pub require_instance_properties: bool,
    /// Whether CreateSession may set `roleSessionName`.
    #[serde(default)]
    pub accept_role_session_name: bool,
    /// Certificate field to session tag mappings.
    #[serde(default)]
    pub attribute_mappings: Vec<RaAttributeMapping>,
    /// Whether sessions may use it.
    pub enabled: bool,
    /// The creator's ARN.
    pub created_by: String,
    /// Unix milliseconds.
    pub created_at: u64,
    /// Unix milliseconds.
    pub updated_at: u64,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl RaProfile {
    /// Its ARN.
    pub fn arn(&self) -> String {
        rolesanywhere_arn(&self.region, &self.account_id, "profile", &self.id)
    }
}

impl Entity for RaProfile {
    const KIND: &'static str = "ra_profile";
    fn key(&self) -> String {
        format!("{}/{}", self.account_id, self.id)
    }
}

/// A CRL imported for a trust anchor (roles-anywhere.md 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaCrl {
    /// Owning account.
    pub account_id: String,
    /// The region of its ARN.
    pub region: String,
    /// The UUID.
    pub id: String,
    /// The name.
    pub name: String,
    /// The bytes as imported (PEM or DER), base64 in the stored JSON.
    #[serde(with = "sealed_bytes")]
    pub crl_data: Vec<u8>,
    /// The trust anchor it applies to.
    pub trust_anchor_arn: String,
    /// Whether CreateSession consults it.
    pub enabled: bool,
    /// Unix milliseconds.
    pub created_at: u64,
    /// Unix milliseconds.
    pub updated_at: u64,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl RaCrl {
    /// Its ARN.
    pub fn arn(&self) -> String {
        rolesanywhere_arn(&self.region, &self.account_id, "crl", &self.id)
    }
}

impl Entity for RaCrl {
    const KIND: &'static str = "ra_crl";
    fn key(&self) -> String {
        format!("{}/{}", self.account_id, self.id)
    }
}

/// A certificate subject that CreateSession has seen (roles-anywhere.md 1,
/// 3.3 step 10): one per account and subject DN, written by the service,
/// read through ListSubjects/GetSubject. Stored under `{account}/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaSubject {
    /// Owning account (the trust anchor's).
    pub account_id: String,
    /// The region of its ARN (the trust anchor's when first seen).
    pub region: String,
    /// The UUID.
    pub id: String,
    /// The certificate subject DN (`x509Subject`).
    pub x509_subject: String,
    /// Always true: no API changes it.
    pub enabled: bool,
    /// Unix milliseconds of the latest recorded attempt.
    pub last_seen_at: u64,
    /// Unix milliseconds.
    pub created_at: u64,
    /// Unix milliseconds.
    pub updated_at: u64,
    /// The certificates presented, one per serial, most recently seen first
    /// (bounded by the writer).
    #[serde(default)]
    pub credentials: Vec<RaSubjectCredential>,
    /// The instance properties sent, one per distinct set, most recently
    /// seen first (bounded by the writer).
    #[serde(default)]
    pub instance_properties: Vec<RaInstanceProperties>,
}

impl RaSubject {
    /// The storage key of subject `id` of `account_id`.
    pub fn storage_key(account_id: &str, id: &str) -> String {
        format!("{account_id}/{id}")
    }

    /// Its ARN.
    pub fn arn(&self) -> String {
        rolesanywhere_arn(&self.region, &self.account_id, "subject", &self.id)
    }
}

impl Entity for RaSubject {
    const KIND: &'static str = "ra_subject";
    fn key(&self) -> String {
        Self::storage_key(&self.account_id, &self.id)
    }
}

/// One certificate of a [`RaSubject`] (`CredentialSummary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaSubjectCredential {
    /// Unix milliseconds of the latest attempt with it.
    pub seen_at: u64,
    /// The serial number, lowercase hex (as in the role session name).
    pub serial_number: String,
    /// The issuer DN.
    pub issuer: String,
    /// Always true: no API changes it.
    pub enabled: bool,
    /// The certificate, DER (base64 in the stored JSON).
    #[serde(with = "sealed_bytes")]
    pub certificate_der: Vec<u8>,
    /// Whether that attempt was refused.
    pub failed: bool,
}

/// One set of instance properties of a [`RaSubject`] (`InstanceProperty`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaInstanceProperties {
    /// Unix milliseconds of the latest attempt that sent it.
    pub seen_at: u64,
    /// The properties as sent.
    pub properties: BTreeMap<String, String>,
    /// Whether that attempt was refused.
    pub failed: bool,
}

/// An AWS IoT role alias (workload-credentials.md 7.2): the name a device
/// asks the IoT credentials provider for, standing for a role and a
/// credential lifetime. Stored under `{account}/{alias}` (aliases are
/// case-sensitive); not indexed by the snapshot (the IoT front end loads it
/// with the Roles Anywhere kinds, whose trust anchors it shares).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IotRoleAlias {
    /// Owning account (`owner`).
    pub account_id: String,
    /// The region of its ARN.
    pub region: String,
    /// `[\w=,@-]+`, 1–128 characters.
    pub alias: String,
    /// The role the credentials are for (same account).
    pub role_arn: String,
    /// 900–43200, at most the role's `MaxSessionDuration` when created.
    pub credential_duration_seconds: u32,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub updated_at: u64,
}

impl IotRoleAlias {
    /// `arn:aws:iot:{region}:{account}:rolealias/{alias}`.
    pub fn arn(&self) -> String {
        format!(
            "arn:{PARTITION}:iot:{}:{}:rolealias/{}",
            self.region, self.account_id, self.alias
        )
    }

    /// The storage key of `alias` in `account_id`.
    pub fn storage_key(account_id: &str, alias: &str) -> String {
        format!("{account_id}/{alias}")
    }
}

impl Entity for IotRoleAlias {
    const KIND: &'static str = "iot_role_alias";
    fn key(&self) -> String {
        Self::storage_key(&self.account_id, &self.alias)
    }
}

/// Prints `<redacted N bytes>` in place of sealed material.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} bytes>", self.0)
    }
}

/// Sealed bytes as standard base64 in the JSON value (a number array would
/// be four times larger).
mod sealed_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("sealed bytes are not valid base64"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    #[test]
    fn arns_include_the_path_and_have_no_region() {
        let user = conformance::user("123456789012", "alice", "/div/team/", "AIDA1");
        assert_eq!(user.arn(), "arn:aws:iam::123456789012:user/div/team/alice");
        let role = conformance::role("123456789012", "MyRole", "/service-role/", "AROA1");
        assert_eq!(
            role.arn(),
            "arn:aws:iam::123456789012:role/service-role/MyRole"
        );
        let group = conformance::group("123456789012", "Admins", &[]);
        assert_eq!(group.arn(), "arn:aws:iam::123456789012:group/Admins");
        assert_eq!(
            ManagedPolicy::arn_for("123456789012", "/", "ReadOnly"),
            "arn:aws:iam::123456789012:policy/ReadOnly"
        );
        assert_eq!(
            conformance::account("123456789012").root_arn(),
            "arn:aws:iam::123456789012:root"
        );
        assert_eq!(
            conformance::mfa_device("alice-phone", None).serial_number(),
            "arn:aws:iam::000000000000:mfa/alice-phone"
        );
        assert_eq!(
            OidcProvider::arn_for("123456789012", "oidc.eks.us-west-2.amazonaws.com/id/ABC"),
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC"
        );
        assert_eq!(
            conformance::saml_provider("Okta").arn(),
            "arn:aws:iam::000000000000:saml-provider/Okta"
        );
    }

    #[test]
    fn role_aliases_have_iot_arns_and_case_sensitive_keys() {
        let alias = IotRoleAlias {
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            alias: "Edge-Cams".into(),
            role_arn: "arn:aws:iam::123456789012:role/cams".into(),
            credential_duration_seconds: 3600,
            created_at: 1,
            updated_at: 1,
        };
        assert_eq!(
            alias.arn(),
            "arn:aws:iot:eu-west-1:123456789012:rolealias/Edge-Cams"
        );
        assert_eq!(alias.key(), "123456789012/Edge-Cams");
    }

    #[test]
    fn keys_lowercase_case_insensitive_names_only() {
        assert_eq!(
            conformance::user("000000000000", "Alice", "/x/", "AIDA1").key(),
            "000000000000/alice"
        );
        assert_eq!(
            conformance::mfa_device("Phone", None).key(),
            "000000000000/phone"
        );
        assert_eq!(
            conformance::access_key("AKIAEXAMPLE000000001", None, 1).key(),
            "AKIAEXAMPLE000000001"
        );
        assert_eq!(conformance::ring_key(42, None).key(), "0000000042");
        assert!(RingKey::storage_key(9) < RingKey::storage_key(10));
    }

    #[test]
    fn a_role_without_max_session_duration_gets_one_hour() {
        let json = r#"{"account_id":"000000000000","name":"r","path":"/","role_id":"AROA1",
            "created_at":1,"assume_role_policy":"{}"}"#;
        let role: Role = serde_json::from_str(json).unwrap();
        assert_eq!(role.max_session_duration, DEFAULT_MAX_SESSION_DURATION);
        assert!(role.inline_policies.is_empty() && role.tags.is_empty());
    }

    #[test]
    fn a_role_stored_before_principal_binding_loads_unbound_and_saves_the_same() {
        let json = r#"{"account_id":"000000000000","name":"r","path":"/","role_id":"AROA1",
            "created_at":1,"assume_role_policy":"{}"}"#;
        let role: Role = serde_json::from_str(json).unwrap();
        assert!(role.trust_principal_ids.is_empty());
        let saved = serde_json::to_value(&role).unwrap();
        assert!(saved.get("trust_principal_ids").is_none(), "{saved}");
        let mut bound = role.clone();
        bound
            .trust_principal_ids
            .insert("arn:aws:iam::000000000000:user/u".into(), "AIDA1".into());
        let reloaded: Role = serde_json::from_value(serde_json::to_value(&bound).unwrap()).unwrap();
        assert_eq!(reloaded, bound);
    }

    #[test]
    fn sealed_bytes_are_stored_as_base64_and_bad_base64_is_rejected() {
        let key = conformance::access_key("AKIAEXAMPLE000000001", None, 1);
        let json = serde_json::to_value(&key).unwrap();
        assert_eq!(json["secret_sealed"], "AAEC+vv8");
        assert_eq!(json["status"], "Active");
        let mut broken = json.clone();
        broken["secret_sealed"] = "not base64!".into();
        let error = serde_json::from_value::<AccessKey>(broken).unwrap_err();
        assert!(error.to_string().contains("not valid base64"), "{error}");
    }

    #[test]
    fn debug_redacts_sealed_material() {
        let texts = [
            format!(
                "{:?}",
                conformance::access_key("AKIAEXAMPLE000000001", None, 1)
            ),
            format!("{:?}", conformance::ring_key(1, None)),
            format!("{:?}", conformance::mfa_device("phone", None)),
            format!("{:?}", conformance::saml_provider("Okta")),
        ];
        for text in texts {
            assert!(text.contains("<redacted"), "{text}");
            assert!(
                !text.contains("[0, 1, 2") && !text.contains("42, 42") && !text.contains("9, 9"),
                "{text}"
            );
        }
    }

    #[test]
    fn policy_versions_are_found_by_id() {
        let policy = conformance::policy("000000000000", "p", "/");
        assert_eq!(
            policy.default_document(),
            Some(policy.versions[1].document.as_str())
        );
        assert!(policy.version("v1").is_some());
        assert!(policy.version("v9").is_none());
        let mut missing_default = policy.clone();
        missing_default.default_version_id = "v7".to_owned();
        assert_eq!(missing_default.default_document(), None);
    }

    #[test]
    fn access_key_status_has_its_wire_names() {
        assert_eq!(AccessKeyStatus::Active.as_str(), "Active");
        assert_eq!(AccessKeyStatus::Inactive.as_str(), "Inactive");
    }
}
