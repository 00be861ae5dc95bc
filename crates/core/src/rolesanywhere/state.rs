//! Trust anchors, profiles and CRLs: loaded from the store once per
//! generation (the snapshot does not index these kinds), with each trust
//! anchor's bundle and CRLs parsed once.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use mayfly_federation::x509::{AnchorBundle, parse_crl};
use mayfly_store::{Entity, Mutation, RaCrl, RaProfile, RaTrustAnchor, StoredRow};
use mayfly_wire::AwsError;

use crate::Core;

/// The cache of [`Loaded`].
#[derive(Debug, Default)]
pub(crate) struct State {
    loaded: ArcSwapOption<Loaded>,
}

/// Every Roles Anywhere entity of one store generation.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub generation: u64,
    /// By `{account}/{id}`.
    pub anchors: BTreeMap<String, RaTrustAnchor>,
    pub profiles: BTreeMap<String, RaProfile>,
    pub crls: BTreeMap<String, RaCrl>,
    /// Parsed bundles by anchor key (anchors whose bundle parses).
    pub bundles: BTreeMap<String, AnchorBundle>,
    /// DER of enabled, parseable CRLs by trust anchor ARN.
    pub crls_by_anchor: BTreeMap<String, Vec<Vec<u8>>>,
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
    fn from_rows(generation: u64, rows: &[StoredRow]) -> Self {
        let mut loaded = Loaded {
            generation,
            ..Loaded::default()
        };
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
                _ => {}
            }
        }
        loaded
    }
}

/// Read every row and keep the Roles Anywhere ones.
async fn load(core: &Core) -> Result<Loaded, AwsError> {
    let failure = |error: mayfly_store::StoreError| {
        tracing::error!(%error, "loading Roles Anywhere entities failed");
        AwsError::service_failure()
    };
    let generation = core.store.generation().await.map_err(failure)?;
    let rows = core.store.load_all().await.map_err(failure)?;
    Ok(Loaded::from_rows(generation, &rows))
}

impl State {
    /// The entities at least as new as `generation` (the request's view).
    pub async fn current(&self, core: &Core, generation: u64) -> Result<Arc<Loaded>, AwsError> {
        if let Some(loaded) = self.loaded.load_full()
            && loaded.generation >= generation
        {
            return Ok(loaded);
        }
        let loaded = Arc::new(load(core).await?);
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
        let loaded = load(core).await?;
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
            self.loaded.store(Some(Arc::new(load(core).await?)));
            if let Err(error) = core.reload().await {
                tracing::error!(%error, "configuration refresh failed");
            }
        }
        Ok(value)
    }
}
