//! Trust anchors, profiles and CRLs: loaded from the store once per
//! generation (the snapshot does not index these kinds), with each trust
//! anchor's bundle and CRLs parsed once. The IoT role aliases ride along:
//! the IoT listener trusts the same anchors, so one load serves both.
//! Subjects too (CreateSession's records), and the chains CreateSession
//! verified, remembered while the anchors and CRLs stay the same
//! ([`ChainCache`]).
//!
//! A subject write moves the store generation but changes no other
//! entity, so the generation it makes shares the entities (CRLs, parsed
//! bundles and all, [`Entities`]) and the subject map ([`Subjects`]) of the
//! one before, and adds the subject to that map in place: recording a
//! subject copies nothing ([`State::put_subject`]).

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use mayfly_federation::x509::{AnchorBundle, Certificate, parse_crl};
use mayfly_store::{
    Entity, IotRoleAlias, Mutation, RaCrl, RaProfile, RaSubject, RaTrustAnchor, StoredRow,
};
use mayfly_wire::AwsError;

use crate::Core;

/// The cache of [`Loaded`].
#[derive(Debug, Default)]
pub(crate) struct State {
    loaded: ArcSwapOption<Loaded>,
}

/// Every Roles Anywhere entity of one store generation. It reads as its
/// [`Entities`] (`loaded.anchors`, `loaded.crls_by_anchor`, …).
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub generation: u64,
    /// Shared with the generations [`State::put_subject`] makes from this one.
    entities: Arc<Entities>,
    /// Roles Anywhere subjects, shared likewise.
    pub subjects: Arc<Subjects>,
}

impl Deref for Loaded {
    type Target = Entities;

    fn deref(&self) -> &Entities {
        &self.entities
    }
}

/// The entities of a generation that only a reload changes: everything but
/// the subjects.
#[derive(Debug, Default)]
pub(crate) struct Entities {
    /// By `{account}/{id}`.
    pub anchors: BTreeMap<String, RaTrustAnchor>,
    pub profiles: BTreeMap<String, RaProfile>,
    pub crls: BTreeMap<String, RaCrl>,
    /// Parsed bundles by anchor key (anchors whose bundle parses).
    pub bundles: BTreeMap<String, AnchorBundle>,
    /// DER of enabled, parseable CRLs by trust anchor ARN.
    pub crls_by_anchor: BTreeMap<String, Vec<Vec<u8>>>,
    /// Chains verified against these anchors and CRLs.
    pub chains: Arc<ChainCache>,
    /// IoT role aliases by `{account}/{alias}`.
    pub role_aliases: BTreeMap<String, IotRoleAlias>,
}

/// Roles Anywhere subjects by `{account}/{id}`.
///
/// INVARIANT: one map belongs to the generation a reload built it for and
/// to the generations [`State::put_subject`] made from that one by writing
/// nothing but a subject, each adding its subject here. So a holder of an
/// older of those generations may see subjects written after it: records
/// newer than its generation, never older.
#[derive(Debug, Default)]
pub(crate) struct Subjects {
    by_key: RwLock<BTreeMap<String, Arc<RaSubject>>>,
}

impl Subjects {
    /// The subject stored under `key`.
    pub fn get(&self, key: &str) -> Option<Arc<RaSubject>> {
        self.read().get(key).cloned()
    }

    /// Every subject by key, for listing; hold it briefly (a subject write
    /// waits for it).
    pub fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Arc<RaSubject>>> {
        // A panic while holding the lock cannot leave the map half-changed
        // (one insert), so a poisoned lock is used as it is.
        self.by_key.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(&self, key: String, subject: Arc<RaSubject>) {
        self.by_key
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, subject);
    }
}

/// Most chains a [`ChainCache`] holds; when full it starts over.
const MAX_CACHED_CHAINS: usize = 10_000;

/// Chains (leaf and `X-Amz-X509-Chain` pool, to one trust anchor) that
/// verified, with the time window in which every certificate offered is
/// valid: within it the same inputs verify again, because nothing else the
/// verification reads depends on the time (webpki does not check a trust
/// anchor's own validity). Verifying a depth-2 chain costs two signature
/// checks, most of a CreateSession; a device presents the same chain on
/// every call. The leaves of those chains are kept parsed, by the SHA-256
/// of their DER, so such a device's certificate is not parsed again either.
///
/// INVARIANT: a cache belongs to one set of trust anchors and CRLs; it is
/// carried to a new generation only when both are unchanged, so an anchor
/// edit or a CRL change empties it.
#[derive(Debug, Default)]
pub(crate) struct ChainCache {
    verified: Mutex<HashMap<[u8; 32], ValidityWindow>>,
    leaves: Mutex<HashMap<[u8; 32], Arc<Certificate>>>,
}

/// When every certificate of a verified chain is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ValidityWindow {
    /// The latest `notBefore`.
    pub not_before: SystemTime,
    /// The earliest `notAfter`.
    pub not_after: SystemTime,
}

impl ChainCache {
    /// The SHA-256 of a leaf's DER, its key among the parsed leaves.
    pub fn leaf_digest(leaf_der: &[u8]) -> [u8; 32] {
        let mut digest = [0u8; 32];
        digest.copy_from_slice(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, leaf_der).as_ref(),
        );
        digest
    }

    /// The cache key of a chain: SHA-256 over the anchor key, the leaf's
    /// digest and the pool, each length-prefixed.
    pub fn key(anchor_key: &str, leaf_digest: &[u8; 32], pool: &[Vec<u8>]) -> [u8; 32] {
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for part in std::iter::once(anchor_key.as_bytes())
            .chain(std::iter::once(leaf_digest.as_slice()))
            .chain(pool.iter().map(Vec::as_slice))
        {
            context.update(&u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
            context.update(part);
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(context.finish().as_ref());
        key
    }

    /// Whether the chain under `key` verified and `now` is inside its window.
    pub fn verified_at(&self, key: &[u8; 32], now: SystemTime) -> bool {
        let Ok(verified) = self.verified.lock() else {
            return false;
        };
        verified
            .get(key)
            .is_some_and(|w| w.not_before <= now && now <= w.not_after)
    }

    /// The parsed leaf whose DER has `leaf_digest`, if a chain of it verified.
    pub fn leaf(&self, leaf_digest: &[u8; 32]) -> Option<Arc<Certificate>> {
        self.leaves.lock().ok()?.get(leaf_digest).cloned()
    }

    /// Remember that the chain under `key` verified, and its parsed leaf.
    pub fn insert(
        &self,
        key: [u8; 32],
        window: ValidityWindow,
        leaf_digest: [u8; 32],
        leaf: Arc<Certificate>,
    ) {
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= MAX_CACHED_CHAINS {
                verified.clear();
            }
            verified.insert(key, window);
        }
        if let Ok(mut leaves) = self.leaves.lock() {
            if leaves.len() >= MAX_CACHED_CHAINS {
                leaves.clear();
            }
            leaves.insert(leaf_digest, leaf);
        }
    }
}

fn decode<E: Entity>(row: &StoredRow) -> Option<E> {
    match mayfly_store::decode::<E>(&row.value) {
        Ok(e) => Some(e),
        Err(_) => {
            tracing::warn!(kind = %row.kind, key = %row.key, "skipping unparseable Roles Anywhere entity");
            None
        }
    }
}

impl Loaded {
    /// The entities of `rows`; `previous` lends its chain cache when its
    /// anchors and CRLs are the same.
    fn from_rows(generation: u64, rows: &[StoredRow], previous: Option<&Loaded>) -> Self {
        let mut loaded = Entities::default();
        let mut subjects = BTreeMap::new();
        for row in rows {
            match row.kind.as_str() {
                RaTrustAnchor::KIND => {
                    if let Some(e) = decode::<RaTrustAnchor>(row) {
                        if e.source_type == "CERTIFICATE_BUNDLE" {
                            match AnchorBundle::from_pem(&e.source_data) {
                                Ok(bundle) => {
                                    loaded.bundles.insert(row.key.clone(), bundle);
                                }
                                Err(error) => {
                                    tracing::warn!(key = %row.key, %error, "trust anchor bundle does not parse")
                                }
                            }
                        }
                        loaded.anchors.insert(row.key.clone(), e);
                    }
                }
                RaProfile::KIND => {
                    if let Some(e) = decode::<RaProfile>(row) {
                        loaded.profiles.insert(row.key.clone(), e);
                    }
                }
                RaCrl::KIND => {
                    if let Some(e) = decode::<RaCrl>(row) {
                        if e.enabled {
                            match parse_crl(&e.crl_data) {
                                Ok(der) => loaded
                                    .crls_by_anchor
                                    .entry(e.trust_anchor_arn.clone())
                                    .or_default()
                                    .push(der),
                                Err(error) => {
                                    tracing::warn!(key = %row.key, %error, "stored CRL does not parse")
                                }
                            }
                        }
                        loaded.crls.insert(row.key.clone(), e);
                    }
                }
                RaSubject::KIND => {
                    if let Some(e) = decode::<RaSubject>(row) {
                        subjects.insert(row.key.clone(), Arc::new(e));
                    }
                }
                IotRoleAlias::KIND => {
                    if let Some(e) = decode::<IotRoleAlias>(row) {
                        loaded.role_aliases.insert(row.key.clone(), e);
                    }
                }
                _ => {}
            }
        }
        if let Some(previous) = previous
            && previous.anchors == loaded.anchors
            && previous.crls == loaded.crls
        {
            loaded.chains = Arc::clone(&previous.chains);
        }
        Loaded {
            generation,
            entities: Arc::new(loaded),
            subjects: Arc::new(Subjects {
                by_key: RwLock::new(subjects),
            }),
        }
    }
}

/// Read every row and keep the Roles Anywhere ones.
async fn load(core: &Core, previous: Option<&Loaded>) -> Result<Loaded, AwsError> {
    let failure = |error: mayfly_store::StoreError| {
        tracing::error!(%error, "loading Roles Anywhere entities failed");
        AwsError::service_failure()
    };
    let generation = core.store.generation().await.map_err(failure)?;
    let rows = core.store.load_all().await.map_err(failure)?;
    Ok(Loaded::from_rows(generation, &rows, previous))
}

impl State {
    /// The newest entities this node has loaded, without reading the store
    /// (the IoT listener's TLS handshake cannot wait for it).
    pub fn latest(&self) -> Option<Arc<Loaded>> {
        self.loaded.load_full()
    }

    /// The entities at least as new as `generation` (the request's view).
    pub async fn current(&self, core: &Core, generation: u64) -> Result<Arc<Loaded>, AwsError> {
        if let Some(loaded) = self.loaded.load_full()
            && loaded.generation >= generation
        {
            return Ok(loaded);
        }
        let previous = self.loaded.load_full();
        let loaded = Arc::new(load(core, previous.as_deref()).await?);
        self.loaded.store(Some(Arc::clone(&loaded)));
        Ok(loaded)
    }

    /// Make a change under the node's write lock against freshly loaded
    /// entities, apply it and rebuild the views.
    pub async fn commit<T>(
        &self,
        core: &Core,
        build: impl FnOnce(&Loaded) -> Result<(Vec<Mutation>, T), AwsError>,
    ) -> Result<T, AwsError> {
        let _guard = core.write_lock.lock().await;
        let previous = self.loaded.load_full();
        let loaded = load(core, previous.as_deref()).await?;
        let (mutations, value) = build(&loaded)?;
        if !mutations.is_empty() {
            core.store
                .apply(mutations)
                .await
                .map_err(|error| match error {
                    mayfly_store::StoreError::AlreadyExists { .. }
                    | mayfly_store::StoreError::NotFound { .. } => AwsError::new(
                        "ConflictException",
                        409,
                        "The resource was changed concurrently; retry the request.",
                    ),
                    other => {
                        tracing::error!(error = %other, "store write failed");
                        AwsError::service_failure()
                    }
                })?;
            self.loaded
                .store(Some(Arc::new(load(core, Some(&loaded)).await?)));
            if let Err(error) = core.reload().await {
                tracing::error!(%error, "configuration refresh failed");
            }
        }
        Ok(value)
    }

    /// Record a subject (CreateSession, [`super::subject`]): `build` decides
    /// from the newest entities this node holds, under the write lock and
    /// without a store read, whether and what to write; `None` writes
    /// nothing. One store write. When no other write came between those
    /// entities and this one (the generation moved by exactly one), the new
    /// generation is them plus this subject: it shares their entities and
    /// subject map and adds the subject to that map, copying nothing and
    /// reloading nothing ([`Subjects`]); otherwise it is loaded again. The
    /// configuration view does not hold subjects, so it is left to the
    /// refresher, which rebuilds it at most once a tick however many
    /// subjects were written. Answers the subject written.
    ///
    /// Deciding on this node's entities rather than the store's can lose a
    /// sighting another node recorded on the same subject at the same time;
    /// subjects are records, not security decisions.
    pub async fn put_subject(
        &self,
        core: &Core,
        build: impl FnOnce(&Loaded) -> Option<RaSubject>,
    ) -> Result<Option<Arc<RaSubject>>, AwsError> {
        let _guard = core.write_lock.lock().await;
        let loaded = match self.loaded.load_full() {
            Some(loaded) => loaded,
            None => Arc::new(load(core, None).await?),
        };
        let Some(subject) = build(&loaded) else {
            return Ok(None);
        };
        let mutation = Mutation::put(&subject).map_err(|error| {
            tracing::error!(%error, "encoding a Roles Anywhere subject failed");
            AwsError::service_failure()
        })?;
        let generation = core.store.apply(vec![mutation]).await.map_err(|error| {
            tracing::error!(%error, "store write failed");
            AwsError::service_failure()
        })?;
        let subject = Arc::new(subject);
        let next = if generation == loaded.generation.saturating_add(1) {
            loaded.subjects.insert(subject.key(), Arc::clone(&subject));
            Loaded {
                generation,
                ..Loaded::clone(&loaded)
            }
        } else {
            load(core, Some(&loaded)).await?
        };
        self.loaded.store(Some(Arc::new(next)));
        Ok(Some(subject))
    }
}
