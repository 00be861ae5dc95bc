//! The immutable, indexed view of the whole IAM configuration, and the cell
//! that swaps it atomically on change (DESIGN.md principle 3: one snapshot,
//! lock-free reads).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::entity::{Entity, StoredRow};
use crate::error::StoreError;
use crate::model::{
    AccessKey, Account, Group, ManagedPolicy, MfaDevice, OidcProvider, Revocation, RingKey, Role,
    SamlProvider, User, scoped_key,
};
use crate::store::Store;

/// How often `SnapshotCell::spawn_watcher` polls the generation by default;
/// well inside the one second in which every node must see a change.
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// How many entities use a managed policy (`AttachmentCount`,
/// `PermissionsBoundaryUsageCount`; DeletePolicy's `DeleteConflict`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyUsage {
    /// Users, groups and roles it is attached to as a permissions policy.
    pub attachment_count: usize,
    /// Users and roles using it as permissions boundary.
    pub boundary_count: usize,
}

/// The owner of access keys or MFA devices: an account and a lowercased user
/// name, `None` for the root.
type OwnerKey = (String, Option<String>);

/// The whole IAM configuration at one generation, fully indexed.
///
/// Account-scoped collections iterate in storage-key order: by account, then
/// by lowercased name, so `List*` pagination is stable.
#[derive(Default)]
pub struct Snapshot {
    generation: u64,
    accounts: BTreeMap<String, Account>,
    users: BTreeMap<String, User>,
    user_ids: BTreeMap<String, String>,
    user_arns: BTreeMap<String, String>,
    groups: BTreeMap<String, Group>,
    groups_by_member: BTreeMap<String, Vec<String>>,
    roles: BTreeMap<String, Role>,
    role_ids: BTreeMap<String, String>,
    role_arns: BTreeMap<String, String>,
    access_keys: BTreeMap<String, AccessKey>,
    access_keys_by_owner: BTreeMap<OwnerKey, Vec<String>>,
    policies: BTreeMap<String, ManagedPolicy>,
    policy_arns: BTreeMap<String, String>,
    policy_usage: BTreeMap<String, PolicyUsage>,
    mfa_devices: BTreeMap<String, MfaDevice>,
    mfa_serials: BTreeMap<String, String>,
    mfa_by_owner: BTreeMap<OwnerKey, Vec<String>>,
    oidc_providers: BTreeMap<String, OidcProvider>,
    oidc_arns: BTreeMap<String, String>,
    saml_providers: BTreeMap<String, SamlProvider>,
    saml_arns: BTreeMap<String, String>,
    ring_keys: BTreeMap<u32, RingKey>,
    revocations: BTreeMap<String, Revocation>,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("generation", &self.generation)
            .field("accounts", &self.accounts.len())
            .field("users", &self.users.len())
            .field("groups", &self.groups.len())
            .field("roles", &self.roles.len())
            .field("access_keys", &self.access_keys.len())
            .field("policies", &self.policies.len())
            .field("mfa_devices", &self.mfa_devices.len())
            .field("oidc_providers", &self.oidc_providers.len())
            .field("saml_providers", &self.saml_providers.len())
            .field("ring_keys", &self.ring_keys.len())
            .field("revocations", &self.revocations.len())
            .finish()
    }
}

/// Decode one row as `E`; `None` (with a warning naming kind and key, never
/// the value) if it does not parse or its key is not the one its value makes.
fn decode_row<E: Entity>(row: &StoredRow) -> Option<E> {
    match serde_json::from_str::<E>(&row.value) {
        Ok(entity) => {
            let expected = entity.key();
            if expected == row.key {
                Some(entity)
            } else {
                tracing::warn!(kind = %row.kind, key = %row.key, expected_key = %expected,
                    "skipping stored entity whose key does not match its value");
                None
            }
        }
        Err(error) => {
            // serde_json messages can quote the value, so only its position goes to the log.
            tracing::warn!(kind = %row.kind, key = %row.key, category = ?error.classify(),
                line = error.line(), column = error.column(), "skipping unparseable stored entity");
            None
        }
    }
}

/// Iterate `map` entries whose key starts with `{account}/`, after `after`
/// (a name, compared lowercased) if given.
fn scoped_values<'a, V>(
    map: &'a BTreeMap<String, V>,
    account_id: &str,
    after: Option<&str>,
) -> impl Iterator<Item = &'a V> + 'a {
    let prefix = format!("{account_id}/");
    let start = match after {
        Some(name) => Bound::Excluded(scoped_key(account_id, name)),
        None => Bound::Included(prefix.clone()),
    };
    map.range((start, Bound::Unbounded))
        .take_while(move |(key, _)| key.starts_with(&prefix))
        .map(|(_, value)| value)
}

fn owner_key(account_id: &str, user_name: Option<&str>) -> OwnerKey {
    (account_id.to_owned(), user_name.map(str::to_lowercase))
}

impl Snapshot {
    /// Build the snapshot of `generation` from stored rows. Rows of unknown
    /// kinds (written by a newer version) and rows that do not parse are
    /// skipped with a log line naming their kind and key.
    pub fn from_rows(generation: u64, rows: impl IntoIterator<Item = StoredRow>) -> Self {
        let mut snapshot = Snapshot {
            generation,
            ..Snapshot::default()
        };
        for row in rows {
            snapshot.add_row(&row);
        }
        snapshot.index();
        snapshot
    }

    fn add_row(&mut self, row: &StoredRow) {
        let key = row.key.clone();
        match row.kind.as_str() {
            Account::KIND => {
                if let Some(e) = decode_row::<Account>(row) {
                    self.accounts.insert(key, e);
                }
            }
            User::KIND => {
                if let Some(e) = decode_row::<User>(row) {
                    self.users.insert(key, e);
                }
            }
            Group::KIND => {
                if let Some(e) = decode_row::<Group>(row) {
                    self.groups.insert(key, e);
                }
            }
            Role::KIND => {
                if let Some(e) = decode_row::<Role>(row) {
                    self.roles.insert(key, e);
                }
            }
            AccessKey::KIND => {
                if let Some(e) = decode_row::<AccessKey>(row) {
                    self.access_keys.insert(key, e);
                }
            }
            ManagedPolicy::KIND => {
                if let Some(e) = decode_row::<ManagedPolicy>(row) {
                    self.policies.insert(key, e);
                }
            }
            MfaDevice::KIND => {
                if let Some(e) = decode_row::<MfaDevice>(row) {
                    self.mfa_devices.insert(key, e);
                }
            }
            OidcProvider::KIND => {
                if let Some(e) = decode_row::<OidcProvider>(row) {
                    self.oidc_providers.insert(key, e);
                }
            }
            SamlProvider::KIND => {
                if let Some(e) = decode_row::<SamlProvider>(row) {
                    self.saml_providers.insert(key, e);
                }
            }
            RingKey::KIND => {
                if let Some(e) = decode_row::<RingKey>(row) {
                    self.ring_keys.insert(e.key_id, e);
                }
            }
            Revocation::KIND => {
                if let Some(e) = decode_row::<Revocation>(row) {
                    self.revocations.insert(key, e);
                }
            }
            _ => {
                tracing::debug!(kind = %row.kind, key = %row.key, "skipping stored entity of unknown kind");
            }
        }
    }

    /// Build the secondary indexes once every row is in.
    fn index(&mut self) {
        for (key, user) in &self.users {
            self.user_ids.insert(user.user_id.clone(), key.clone());
            self.user_arns.insert(user.arn(), key.clone());
        }
        for (key, role) in &self.roles {
            self.role_ids.insert(role.role_id.clone(), key.clone());
            self.role_arns.insert(role.arn(), key.clone());
        }
        for (key, policy) in &self.policies {
            self.policy_arns.insert(policy.arn.clone(), key.clone());
        }
        for (key, group) in &self.groups {
            for member in &group.members {
                self.groups_by_member
                    .entry(User::storage_key(&group.account_id, member))
                    .or_default()
                    .push(key.clone());
            }
        }
        let mut keys: Vec<&AccessKey> = self.access_keys.values().collect();
        keys.sort_by(|a, b| {
            (a.created_at, &a.access_key_id).cmp(&(b.created_at, &b.access_key_id))
        });
        for access_key in keys {
            self.access_keys_by_owner
                .entry(owner_key(
                    &access_key.account_id,
                    access_key.user_name.as_deref(),
                ))
                .or_default()
                .push(access_key.access_key_id.clone());
        }
        for (key, device) in &self.mfa_devices {
            self.mfa_serials.insert(device.serial_number(), key.clone());
            if let Some(assignment) = &device.assignment {
                self.mfa_by_owner
                    .entry(owner_key(
                        &device.account_id,
                        assignment.user_name.as_deref(),
                    ))
                    .or_default()
                    .push(key.clone());
            }
        }
        for (key, provider) in &self.oidc_providers {
            self.oidc_arns.insert(provider.arn(), key.clone());
        }
        for (key, provider) in &self.saml_providers {
            self.saml_arns.insert(provider.arn(), key.clone());
        }
        let attachments = self
            .users
            .values()
            .flat_map(|u| &u.attached_policies)
            .chain(self.roles.values().flat_map(|r| &r.attached_policies))
            .chain(self.groups.values().flat_map(|g| &g.attached_policies));
        for arn in attachments {
            self.policy_usage
                .entry(arn.clone())
                .or_default()
                .attachment_count += 1;
        }
        let boundaries = self
            .users
            .values()
            .filter_map(|u| u.permissions_boundary.as_ref())
            .chain(
                self.roles
                    .values()
                    .filter_map(|r| r.permissions_boundary.as_ref()),
            );
        for arn in boundaries {
            self.policy_usage
                .entry(arn.clone())
                .or_default()
                .boundary_count += 1;
        }
    }

    /// The store generation this snapshot was built from.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The account `id`.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// Every account, by id.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    /// Every user of every account.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// Every role of every account.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    /// Every access key of every account.
    pub fn access_keys(&self) -> impl Iterator<Item = &AccessKey> {
        self.access_keys.values()
    }

    /// Every customer managed policy of every account.
    pub fn managed_policies(&self) -> impl Iterator<Item = &ManagedPolicy> {
        self.policies.values()
    }

    /// Every group of every account.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// The user `name` of `account_id`; names match case-insensitively as in IAM.
    pub fn user(&self, account_id: &str, name: &str) -> Option<&User> {
        self.users.get(&User::storage_key(account_id, name))
    }

    /// The user whose unique id (`AIDA…`) is `user_id`.
    pub fn user_by_id(&self, user_id: &str) -> Option<&User> {
        self.user_ids.get(user_id).and_then(|k| self.users.get(k))
    }

    /// The user whose ARN (path included) is exactly `arn`.
    pub fn user_by_arn(&self, arn: &str) -> Option<&User> {
        self.user_arns.get(arn).and_then(|k| self.users.get(k))
    }

    /// The users of `account_id`, ordered by lowercased name.
    pub fn users_in(&self, account_id: &str) -> impl Iterator<Item = &User> {
        scoped_values(&self.users, account_id, None)
    }

    /// The users of `account_id` after the one named `after` (a `List*`
    /// marker), ordered by lowercased name.
    pub fn users_in_after(&self, account_id: &str, after: &str) -> impl Iterator<Item = &User> {
        scoped_values(&self.users, account_id, Some(after))
    }

    /// The group `name` of `account_id` (case-insensitive).
    pub fn group(&self, account_id: &str, name: &str) -> Option<&Group> {
        self.groups.get(&Group::storage_key(account_id, name))
    }

    /// The groups of `account_id`, ordered by lowercased name.
    pub fn groups_in(&self, account_id: &str) -> impl Iterator<Item = &Group> {
        scoped_values(&self.groups, account_id, None)
    }

    /// The groups whose members include `user_name` (`ListGroupsForUser`).
    pub fn groups_for_user(&self, account_id: &str, user_name: &str) -> Vec<&Group> {
        self.groups_by_member
            .get(&User::storage_key(account_id, user_name))
            .map(|keys| keys.iter().filter_map(|k| self.groups.get(k)).collect())
            .unwrap_or_default()
    }

    /// The role `name` of `account_id` (case-insensitive).
    pub fn role(&self, account_id: &str, name: &str) -> Option<&Role> {
        self.roles.get(&Role::storage_key(account_id, name))
    }

    /// The role whose unique id (`AROA…`) is `role_id`.
    pub fn role_by_id(&self, role_id: &str) -> Option<&Role> {
        self.role_ids.get(role_id).and_then(|k| self.roles.get(k))
    }

    /// The role whose ARN (path included) is exactly `arn`, as AssumeRole's `RoleArn`.
    pub fn role_by_arn(&self, arn: &str) -> Option<&Role> {
        self.role_arns.get(arn).and_then(|k| self.roles.get(k))
    }

    /// The roles of `account_id`, ordered by lowercased name.
    pub fn roles_in(&self, account_id: &str) -> impl Iterator<Item = &Role> {
        scoped_values(&self.roles, account_id, None)
    }

    /// The roles of `account_id` after the one named `after`.
    pub fn roles_in_after(&self, account_id: &str, after: &str) -> impl Iterator<Item = &Role> {
        scoped_values(&self.roles, account_id, Some(after))
    }

    /// The long-term access key `access_key_id` (case-sensitive).
    pub fn access_key(&self, access_key_id: &str) -> Option<&AccessKey> {
        self.access_keys.get(access_key_id)
    }

    /// The access keys of a user (`Some(name)`, case-insensitive) or of the
    /// account root (`None`), oldest first (credential report: key 1 = older).
    pub fn access_keys_of(
        &self,
        account_id: &str,
        user_name: Option<&str>,
    ) -> impl Iterator<Item = &AccessKey> {
        self.access_keys_by_owner
            .get(&owner_key(account_id, user_name))
            .into_iter()
            .flatten()
            .filter_map(|id| self.access_keys.get(id))
    }

    /// The managed policy whose ARN is exactly `arn`.
    pub fn policy(&self, arn: &str) -> Option<&ManagedPolicy> {
        self.policy_arns.get(arn).and_then(|k| self.policies.get(k))
    }

    /// The managed policy `name` of `account_id` (case-insensitive, any path).
    pub fn policy_by_name(&self, account_id: &str, name: &str) -> Option<&ManagedPolicy> {
        self.policies
            .get(&ManagedPolicy::storage_key(account_id, name))
    }

    /// The managed policies of `account_id`, ordered by lowercased name.
    pub fn policies_in(&self, account_id: &str) -> impl Iterator<Item = &ManagedPolicy> {
        scoped_values(&self.policies, account_id, None)
    }

    /// The managed policies of `account_id` after the one named `after`.
    pub fn policies_in_after(
        &self,
        account_id: &str,
        after: &str,
    ) -> impl Iterator<Item = &ManagedPolicy> {
        scoped_values(&self.policies, account_id, Some(after))
    }

    /// How many users, groups and roles use the policy `arn` (zero if none).
    pub fn policy_usage(&self, arn: &str) -> PolicyUsage {
        self.policy_usage.get(arn).copied().unwrap_or_default()
    }

    /// The MFA device whose serial number (ARN) is exactly `serial_number`.
    pub fn mfa_device(&self, serial_number: &str) -> Option<&MfaDevice> {
        self.mfa_serials
            .get(serial_number)
            .and_then(|k| self.mfa_devices.get(k))
    }

    /// The MFA devices of `account_id`, ordered by lowercased path and name.
    pub fn mfa_devices_in(&self, account_id: &str) -> impl Iterator<Item = &MfaDevice> {
        // MFA keys are `{account}{path}{name}` and paths start with `/`.
        scoped_values(&self.mfa_devices, account_id, None)
    }

    /// The MFA devices assigned to a user (`Some(name)`) or to the root (`None`).
    pub fn mfa_devices_of(
        &self,
        account_id: &str,
        user_name: Option<&str>,
    ) -> impl Iterator<Item = &MfaDevice> {
        self.mfa_by_owner
            .get(&owner_key(account_id, user_name))
            .into_iter()
            .flatten()
            .filter_map(|k| self.mfa_devices.get(k))
    }

    /// The OIDC provider whose ARN is exactly `arn`.
    pub fn oidc_provider(&self, arn: &str) -> Option<&OidcProvider> {
        self.oidc_arns
            .get(arn)
            .and_then(|k| self.oidc_providers.get(k))
    }

    /// The OIDC provider of `account_id` for `url` (without `https://`):
    /// AssumeRoleWithWebIdentity looks the token's `iss` up this way.
    pub fn oidc_provider_by_url(&self, account_id: &str, url: &str) -> Option<&OidcProvider> {
        self.oidc_providers
            .get(&OidcProvider::storage_key(account_id, url))
    }

    /// The OIDC providers of `account_id`, ordered by URL.
    pub fn oidc_providers_in(&self, account_id: &str) -> impl Iterator<Item = &OidcProvider> {
        scoped_values(&self.oidc_providers, account_id, None)
    }

    /// The SAML provider whose ARN is exactly `arn`.
    pub fn saml_provider(&self, arn: &str) -> Option<&SamlProvider> {
        self.saml_arns
            .get(arn)
            .and_then(|k| self.saml_providers.get(k))
    }

    /// The SAML providers of `account_id`, ordered by lowercased name.
    pub fn saml_providers_in(&self, account_id: &str) -> impl Iterator<Item = &SamlProvider> {
        scoped_values(&self.saml_providers, account_id, None)
    }

    /// The key-ring key `key_id`.
    pub fn ring_key(&self, key_id: u32) -> Option<&RingKey> {
        self.ring_keys.get(&key_id)
    }

    /// Every key-ring key, by id.
    pub fn ring_keys(&self) -> impl Iterator<Item = &RingKey> {
        self.ring_keys.values()
    }

    /// The deny-list entry of `access_key_id`, if any.
    pub fn revocation(&self, access_key_id: &str) -> Option<&Revocation> {
        self.revocations.get(access_key_id)
    }

    /// Whether `access_key_id` is on the per-key deny list.
    pub fn is_revoked(&self, access_key_id: &str) -> bool {
        self.revocations.contains_key(access_key_id)
    }

    /// Every deny-list entry, by access key id.
    pub fn revocations(&self) -> impl Iterator<Item = &Revocation> {
        self.revocations.values()
    }

    /// Deny-list entries whose key has expired by `now` (unix seconds): they
    /// can be deleted, the key is refused for its expiry anyway.
    pub fn expired_revocations(&self, now: u64) -> impl Iterator<Item = &Revocation> {
        self.revocations
            .values()
            .filter(move |r| r.expires_at <= now)
    }
}

/// The current snapshot, swapped atomically; readers never lock.
#[derive(Debug)]
pub struct SnapshotCell {
    current: ArcSwap<Snapshot>,
    // Serialises rebuilds so an older snapshot never replaces a newer one.
    reload_lock: tokio::sync::Mutex<()>,
}

impl SnapshotCell {
    /// A cell holding `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        SnapshotCell {
            current: ArcSwap::from_pointee(snapshot),
            reload_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// A cell holding the store's current configuration.
    pub async fn load_from(store: &dyn Store) -> Result<Self, StoreError> {
        let generation = store.generation().await?;
        let rows = store.load_all().await?;
        Ok(SnapshotCell::new(Snapshot::from_rows(generation, rows)))
    }

    /// The current snapshot, lock-free; hold the guard only briefly (use
    /// `load_full` to keep it across an `.await`).
    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// The current snapshot as an owned `Arc`.
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The generation of the current snapshot.
    pub fn generation(&self) -> u64 {
        self.current.load().generation
    }

    /// Rebuild from `store` if its generation differs from the snapshot's;
    /// returns whether a new snapshot was installed. Call it after every
    /// write so the writer reads its own change.
    pub async fn reload(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let _rebuilding = self.reload_lock.lock().await;
        // INVARIANT: the generation is read before the rows. A write between
        // the two makes the snapshot newer than its label, never older, so
        // the next poll sees a different generation and rebuilds again.
        let generation = store.generation().await?;
        if generation == self.current.load().generation {
            return Ok(false);
        }
        let rows = store.load_all().await?;
        let snapshot = Snapshot::from_rows(generation, rows);
        tracing::debug!(generation, "configuration snapshot rebuilt");
        self.current.store(Arc::new(snapshot));
        Ok(true)
    }

    /// Poll `store`'s generation every `interval` (`DEFAULT_WATCH_INTERVAL`
    /// normally) and rebuild on change, so a change made by another process
    /// (the CLI) is seen within one second. The task ends when the cell is
    /// dropped or the handle aborted; failures are logged and retried.
    pub fn spawn_watcher(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let cell: Weak<SnapshotCell> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(cell) = cell.upgrade() else {
                    break;
                };
                if let Err(error) = cell.reload(store.as_ref()).await {
                    tracing::warn!(%error, "configuration reload failed");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, ACCOUNT};
    use crate::entity::Mutation;
    use crate::sqlite::SqliteStore;

    const OTHER: &str = "111111111111";

    fn rows_of(mutations: Vec<Mutation>) -> Vec<StoredRow> {
        mutations
            .into_iter()
            .map(|m| match m {
                Mutation::Insert { kind, key, value } | Mutation::Put { kind, key, value } => {
                    StoredRow { kind, key, value }
                }
                other => panic!("not a write: {other:?}"),
            })
            .collect()
    }

    fn sample() -> Snapshot {
        let mut alice = conformance::user(ACCOUNT, "Alice", "/eng/", "AIDAALICE");
        alice.attached_policies = vec![ManagedPolicy::arn_for(ACCOUNT, "/", "ReadOnly")];
        alice.permissions_boundary = Some(ManagedPolicy::arn_for(ACCOUNT, "/", "Boundary"));
        let mut deploy = conformance::role(ACCOUNT, "Deploy", "/ci/", "AROADEPLOY");
        deploy.attached_policies = vec![ManagedPolicy::arn_for(ACCOUNT, "/", "ReadOnly")];
        let mut admins = conformance::group(ACCOUNT, "Admins", &["ALICE"]);
        admins.attached_policies = vec![ManagedPolicy::arn_for(ACCOUNT, "/", "ReadOnly")];
        let mut rows = rows_of(vec![
            Mutation::insert(&conformance::account(ACCOUNT)).unwrap(),
            Mutation::insert(&conformance::account(OTHER)).unwrap(),
            Mutation::insert(&alice).unwrap(),
            Mutation::insert(&conformance::user(ACCOUNT, "bob", "/", "AIDABOB")).unwrap(),
            Mutation::insert(&conformance::user(ACCOUNT, "Carol", "/", "AIDACAROL")).unwrap(),
            Mutation::insert(&conformance::user(OTHER, "aaron", "/", "AIDAAARON")).unwrap(),
            Mutation::insert(&admins).unwrap(),
            Mutation::insert(&conformance::group(ACCOUNT, "Readers", &["bob"])).unwrap(),
            Mutation::insert(&deploy).unwrap(),
            Mutation::insert(&conformance::role(ACCOUNT, "audit", "/", "AROAAUDIT")).unwrap(),
            Mutation::insert(&conformance::access_key(
                "AKIAEXAMPLE000000002",
                Some("Alice"),
                20,
            ))
            .unwrap(),
            Mutation::insert(&conformance::access_key(
                "AKIAEXAMPLE000000001",
                Some("alice"),
                30,
            ))
            .unwrap(),
            Mutation::insert(&conformance::access_key("AKIAEXAMPLEROOT00001", None, 5)).unwrap(),
            Mutation::insert(&conformance::policy(ACCOUNT, "ReadOnly", "/")).unwrap(),
            Mutation::insert(&conformance::policy(ACCOUNT, "Boundary", "/")).unwrap(),
            Mutation::insert(&conformance::policy(ACCOUNT, "Scoped", "/team/")).unwrap(),
            Mutation::insert(&conformance::mfa_device("alice-phone", Some(Some("Alice")))).unwrap(),
            Mutation::insert(&conformance::mfa_device("root-key", Some(None))).unwrap(),
            Mutation::insert(&conformance::mfa_device("spare", None)).unwrap(),
            Mutation::insert(&conformance::oidc_provider(
                "token.actions.githubusercontent.com",
            ))
            .unwrap(),
            Mutation::insert(&conformance::saml_provider("Okta")).unwrap(),
            Mutation::insert(&conformance::ring_key(2, None)).unwrap(),
            Mutation::insert(&conformance::ring_key(1, Some(1_700_100_000))).unwrap(),
            Mutation::insert(&conformance::revocation("ASIAOLD", 100)).unwrap(),
            Mutation::insert(&conformance::revocation("ASIANEW", 200)).unwrap(),
        ]);
        rows.reverse(); // the snapshot must not depend on row order
        Snapshot::from_rows(7, rows)
    }

    #[test]
    fn looks_users_up_by_name_case_insensitively_by_id_and_by_arn() {
        let snapshot = sample();
        assert_eq!(snapshot.generation(), 7);
        assert_eq!(snapshot.user(ACCOUNT, "alice").unwrap().name, "Alice");
        assert_eq!(
            snapshot.user(ACCOUNT, "ALICE").unwrap().user_id,
            "AIDAALICE"
        );
        assert!(snapshot.user(OTHER, "alice").is_none());
        assert_eq!(snapshot.user_by_id("AIDABOB").unwrap().name, "bob");
        assert!(snapshot.user_by_id("AIDANOBODY").is_none());
        let arn = "arn:aws:iam::000000000000:user/eng/Alice";
        assert_eq!(snapshot.user_by_arn(arn).unwrap().name, "Alice");
        assert!(
            snapshot
                .user_by_arn("arn:aws:iam::000000000000:user/Alice")
                .is_none()
        );
    }

    #[test]
    fn lists_users_of_one_account_in_name_order_and_after_a_marker() {
        let snapshot = sample();
        let names: Vec<&str> = snapshot
            .users_in(ACCOUNT)
            .map(|u| u.name.as_str())
            .collect();
        assert_eq!(names, ["Alice", "bob", "Carol"]);
        let names: Vec<&str> = snapshot
            .users_in_after(ACCOUNT, "BOB")
            .map(|u| u.name.as_str())
            .collect();
        assert_eq!(names, ["Carol"]);
        assert_eq!(snapshot.users_in_after(ACCOUNT, "carol").count(), 0);
        let names: Vec<&str> = snapshot.users_in(OTHER).map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["aaron"]);
        assert_eq!(snapshot.users_in("222222222222").count(), 0);
    }

    #[test]
    fn looks_roles_up_by_name_id_and_arn_with_path() {
        let snapshot = sample();
        assert_eq!(
            snapshot.role(ACCOUNT, "deploy").unwrap().role_id,
            "AROADEPLOY"
        );
        assert_eq!(snapshot.role_by_id("AROAAUDIT").unwrap().name, "audit");
        let deploy = snapshot
            .role_by_arn("arn:aws:iam::000000000000:role/ci/Deploy")
            .unwrap();
        assert_eq!(deploy.max_session_duration, 7200);
        assert!(
            snapshot
                .role_by_arn("arn:aws:iam::000000000000:role/Deploy")
                .is_none()
        );
        let names: Vec<&str> = snapshot
            .roles_in(ACCOUNT)
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["audit", "Deploy"]);
        let names: Vec<&str> = snapshot
            .roles_in_after(ACCOUNT, "audit")
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["Deploy"]);
    }

    #[test]
    fn lists_access_keys_of_a_user_or_the_root_oldest_first() {
        let snapshot = sample();
        let ids: Vec<&str> = snapshot
            .access_keys_of(ACCOUNT, Some("ALICE"))
            .map(|k| k.access_key_id.as_str())
            .collect();
        assert_eq!(ids, ["AKIAEXAMPLE000000002", "AKIAEXAMPLE000000001"]);
        let root: Vec<&str> = snapshot
            .access_keys_of(ACCOUNT, None)
            .map(|k| k.access_key_id.as_str())
            .collect();
        assert_eq!(root, ["AKIAEXAMPLEROOT00001"]);
        assert_eq!(snapshot.access_keys_of(ACCOUNT, Some("bob")).count(), 0);
        assert!(snapshot.access_key("AKIAEXAMPLE000000001").is_some());
        assert!(snapshot.access_key("akiaexample000000001").is_none());
    }

    #[test]
    fn finds_policies_by_arn_and_name_and_counts_their_usage() {
        let snapshot = sample();
        let read_only = ManagedPolicy::arn_for(ACCOUNT, "/", "ReadOnly");
        assert_eq!(snapshot.policy(&read_only).unwrap().name, "ReadOnly");
        assert_eq!(
            snapshot.policy_by_name(ACCOUNT, "scoped").unwrap().arn,
            "arn:aws:iam::000000000000:policy/team/Scoped"
        );
        assert!(
            snapshot
                .policy("arn:aws:iam::000000000000:policy/Scoped")
                .is_none()
        );
        assert_eq!(
            snapshot.policy_usage(&read_only),
            PolicyUsage {
                attachment_count: 3,
                boundary_count: 0
            }
        );
        assert_eq!(
            snapshot.policy_usage(&ManagedPolicy::arn_for(ACCOUNT, "/", "Boundary")),
            PolicyUsage {
                attachment_count: 0,
                boundary_count: 1
            }
        );
        assert_eq!(
            snapshot.policy_usage("arn:aws:iam::000000000000:policy/team/Scoped"),
            PolicyUsage::default()
        );
        let names: Vec<&str> = snapshot
            .policies_in(ACCOUNT)
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["Boundary", "ReadOnly", "Scoped"]);
        assert_eq!(snapshot.policies_in_after(ACCOUNT, "readonly").count(), 1);
    }

    #[test]
    fn finds_groups_of_a_user_case_insensitively() {
        let snapshot = sample();
        let groups: Vec<&str> = snapshot
            .groups_for_user(ACCOUNT, "alice")
            .into_iter()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(groups, ["Admins"]);
        assert!(snapshot.groups_for_user(ACCOUNT, "Carol").is_empty());
        assert!(snapshot.group(ACCOUNT, "readers").is_some());
        assert_eq!(snapshot.groups_in(ACCOUNT).count(), 2);
    }

    #[test]
    fn finds_mfa_devices_by_serial_and_by_owner() {
        let snapshot = sample();
        let device = snapshot
            .mfa_device("arn:aws:iam::000000000000:mfa/alice-phone")
            .unwrap();
        assert_eq!(device.name, "alice-phone");
        let of_alice: Vec<&str> = snapshot
            .mfa_devices_of(ACCOUNT, Some("alice"))
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(of_alice, ["alice-phone"]);
        let of_root: Vec<&str> = snapshot
            .mfa_devices_of(ACCOUNT, None)
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(of_root, ["root-key"]);
        assert_eq!(snapshot.mfa_devices_in(ACCOUNT).count(), 3);
        assert!(
            snapshot
                .mfa_device("arn:aws:iam::000000000000:mfa/none")
                .is_none()
        );
    }

    #[test]
    fn finds_providers_ring_keys_accounts_and_revocations() {
        let snapshot = sample();
        let github = "arn:aws:iam::000000000000:oidc-provider/token.actions.githubusercontent.com";
        assert_eq!(
            snapshot.oidc_provider(github).unwrap().client_ids,
            ["sts.amazonaws.com"]
        );
        assert!(
            snapshot
                .oidc_provider_by_url(ACCOUNT, "token.actions.githubusercontent.com")
                .is_some()
        );
        assert!(
            snapshot
                .oidc_provider_by_url(OTHER, "token.actions.githubusercontent.com")
                .is_none()
        );
        assert_eq!(snapshot.oidc_providers_in(ACCOUNT).count(), 1);
        assert_eq!(
            snapshot
                .saml_provider("arn:aws:iam::000000000000:saml-provider/Okta")
                .unwrap()
                .uuid,
            "6f8a1d2c-0000-4000-8000-000000000000"
        );
        assert_eq!(snapshot.saml_providers_in(ACCOUNT).count(), 1);

        let ids: Vec<u32> = snapshot.ring_keys().map(|k| k.key_id).collect();
        assert_eq!(ids, [1, 2]);
        assert_eq!(
            snapshot.ring_key(1).unwrap().retired_at,
            Some(1_700_100_000)
        );
        assert!(snapshot.ring_key(3).is_none());

        let accounts: Vec<&str> = snapshot.accounts().map(|a| a.id.as_str()).collect();
        assert_eq!(accounts, [ACCOUNT, OTHER]);
        assert!(snapshot.account("222222222222").is_none());

        assert!(snapshot.is_revoked("ASIAOLD"));
        assert!(!snapshot.is_revoked("ASIAOTHER"));
        assert_eq!(snapshot.revocation("ASIANEW").unwrap().expires_at, 200);
        assert_eq!(snapshot.revocations().count(), 2);
        let expired: Vec<&str> = snapshot
            .expired_revocations(150)
            .map(|r| r.access_key_id.as_str())
            .collect();
        assert_eq!(expired, ["ASIAOLD"]);
    }

    #[test]
    fn skips_unparseable_rows_rows_under_the_wrong_key_and_unknown_kinds() {
        let good = conformance::user(ACCOUNT, "alice", "/", "AIDA1");
        let mut rows = rows_of(vec![Mutation::insert(&good).unwrap()]);
        rows.push(StoredRow {
            kind: "user".to_owned(),
            key: "000000000000/broken".to_owned(),
            value: "{not json".to_owned(),
        });
        rows.push(StoredRow {
            kind: "user".to_owned(),
            key: "000000000000/misfiled".to_owned(),
            value: serde_json::to_string(&conformance::user(ACCOUNT, "other", "/", "AIDA2"))
                .unwrap(),
        });
        rows.push(StoredRow {
            kind: "role".to_owned(),
            key: "000000000000/typo".to_owned(),
            value: r#"{"account_id":"000000000000"}"#.to_owned(),
        });
        rows.push(StoredRow {
            kind: "trust_anchor".to_owned(),
            key: "x".to_owned(),
            value: "{}".to_owned(),
        });
        let snapshot = Snapshot::from_rows(1, rows);
        assert_eq!(snapshot.users_in(ACCOUNT).count(), 1);
        assert!(snapshot.user_by_id("AIDA2").is_none());
        assert_eq!(snapshot.roles_in(ACCOUNT).count(), 0);
    }

    #[test]
    fn debug_shows_counts_not_entities() {
        let text = format!("{:?}", sample());
        assert!(text.contains("users: 4"), "{text}");
        assert!(!text.contains("AIDAALICE"), "{text}");
    }

    #[tokio::test]
    async fn reload_rebuilds_only_when_the_generation_changed() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        let cell = SnapshotCell::load_from(&store).await.unwrap();
        assert_eq!(cell.generation(), 0);
        assert!(!cell.reload(&store).await.unwrap());

        store.apply(conformance::one_of_each()).await.unwrap();
        let before = cell.load_full();
        assert!(before.user(ACCOUNT, "alice").is_none());
        assert!(cell.reload(&store).await.unwrap());
        assert_eq!(cell.generation(), 1);
        assert!(cell.load().user(ACCOUNT, "alice").is_some());
        // A reader holding the old snapshot keeps a consistent view.
        assert!(before.user(ACCOUNT, "alice").is_none());
        assert!(!cell.reload(&store).await.unwrap());
    }

    #[tokio::test]
    async fn reload_reports_store_failures() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        let cell = SnapshotCell::load_from(&store).await.unwrap();
        store.close().await;
        let error = cell.reload(&store).await.unwrap_err();
        assert!(matches!(error, StoreError::Database(_)), "{error:?}");
    }

    #[tokio::test]
    async fn the_watcher_stops_when_the_cell_is_dropped() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
        let cell = Arc::new(SnapshotCell::load_from(store.as_ref()).await.unwrap());
        let watcher = cell.spawn_watcher(Arc::clone(&store), Duration::from_millis(5));
        drop(cell);
        tokio::time::timeout(Duration::from_secs(1), watcher)
            .await
            .unwrap()
            .unwrap();
    }
}
