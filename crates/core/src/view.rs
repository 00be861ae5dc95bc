//! The configuration as one request sees it: the store's snapshot plus what
//! is derived from it once per change instead of once per request —
//! decrypted long-term secrets, the opened key ring, parsed policies.

use std::collections::HashMap;
use std::sync::Arc;

use mayfly_policy::{Policy, PolicyKind};
use mayfly_store::{AccessKeyStatus, Entity, Role, Snapshot, Store};
use mayfly_token::{KeyRing, MasterKey, RingKey, SecretKey};

use crate::admin::{AdminError, access_key_label, ring_key_label};

/// An immutable view of the configuration, swapped atomically on change.
#[derive(Debug)]
pub(crate) struct View {
    /// The store generation this view was built from.
    pub generation: u64,
    /// Every entity, indexed.
    pub snapshot: Snapshot,
    /// The key ring that seals and opens session tokens.
    pub key_ring: KeyRing,
    /// Long-term secret access keys by access key id (active keys only).
    secrets: HashMap<String, SecretKey>,
    /// Parsed identity-kind policy documents by text.
    identity_policies: HashMap<String, Arc<Policy>>,
    /// Parsed trust policies (as evaluated) by role key.
    trust_policies: HashMap<String, Arc<Policy>>,
}

impl View {
    /// Read the whole configuration and derive the view.
    pub async fn load(store: &dyn Store, master_key: &MasterKey) -> Result<Self, AdminError> {
        // Generation first: a write racing with load_all is picked up by the next refresh.
        let generation = store.generation().await?;
        let rows = store.load_all().await?;
        let snapshot = Snapshot::from_rows(generation, rows);

        let mut ring_keys = Vec::new();
        let mut active = None;
        for stored in snapshot.ring_keys() {
            let material = master_key
                .open(&stored.material_sealed, &ring_key_label(stored.key_id))
                .map_err(|_| AdminError::MasterKeyMismatch)?;
            let key = RingKey::from_slice(
                stored.key_id,
                &material,
                stored.created_at,
                stored.retired_at.is_some(),
            )
            .map_err(AdminError::Token)?;
            if stored.retired_at.is_none() && active.is_none_or(|id| stored.key_id > id) {
                active = Some(stored.key_id);
            }
            ring_keys.push(key);
        }
        let active = active.ok_or(AdminError::NotInitialized)?;
        let key_ring = KeyRing::new(ring_keys, active).map_err(AdminError::Token)?;

        let mut secrets = HashMap::new();
        for key in snapshot.access_keys() {
            if key.status != AccessKeyStatus::Active {
                continue;
            }
            match master_key.open(&key.secret_sealed, &access_key_label(&key.access_key_id)) {
                Ok(secret) => match String::from_utf8(secret.to_vec()) {
                    Ok(text) => {
                        secrets.insert(key.access_key_id.clone(), SecretKey::new(text));
                    }
                    Err(_) => {
                        tracing::warn!(access_key_id = %key.access_key_id, "stored secret is not text; key disabled")
                    }
                },
                Err(_) => {
                    tracing::warn!(access_key_id = %key.access_key_id, "stored secret does not open under the master key; key disabled");
                }
            }
        }

        let mut identity_policies = HashMap::new();
        let mut trust_policies = HashMap::new();
        let add = |text: &str, kind: PolicyKind, map: &mut HashMap<String, Arc<Policy>>| {
            if map.contains_key(text) {
                return;
            }
            match Policy::parse(text, kind) {
                Ok(policy) => {
                    map.insert(text.to_owned(), Arc::new(policy));
                }
                Err(error) => {
                    tracing::warn!(%error, "a stored policy no longer parses; it is ignored")
                }
            }
        };
        for user in snapshot.users() {
            for doc in user.inline_policies.values() {
                add(doc, PolicyKind::Identity, &mut identity_policies);
            }
        }
        // Trust policies by text first (roles often share one), then by
        // role, as evaluated: bound principals by their unique ids.
        let mut trust_by_text = HashMap::new();
        for role in snapshot.roles() {
            for doc in role.inline_policies.values() {
                add(doc, PolicyKind::Identity, &mut identity_policies);
            }
            let text = crate::trust_binding::evaluated_text(role);
            add(&text, PolicyKind::Trust, &mut trust_by_text);
            if let Some(policy) = trust_by_text.get(text.as_ref()) {
                trust_policies.insert(role.key(), Arc::clone(policy));
            }
        }
        for policy in snapshot.managed_policies() {
            for version in &policy.versions {
                add(
                    &version.document,
                    PolicyKind::Identity,
                    &mut identity_policies,
                );
            }
        }

        Ok(Self {
            generation,
            snapshot,
            key_ring,
            secrets,
            identity_policies,
            trust_policies,
        })
    }

    /// The secret of an active long-term access key.
    pub fn long_term_secret(&self, access_key_id: &str) -> Option<&SecretKey> {
        self.secrets.get(access_key_id)
    }

    /// A parsed identity (or boundary/session-usable) policy for stored text.
    pub fn identity_policy(&self, text: &str) -> Option<Arc<Policy>> {
        self.identity_policies.get(text).cloned()
    }

    /// The parsed trust policy of `role` as evaluated: its bound principals
    /// by unique id ([`crate::trust_binding::evaluated_text`]).
    pub fn trust_policy(&self, role: &Role) -> Option<Arc<Policy>> {
        self.trust_policies.get(&role.key()).cloned()
    }
}
