//! The data directory: the SQLite database, the master key file and the
//! generated root credentials — created at first start with owner-only
//! permissions. With a store URL the configuration lives in PostgreSQL
//! instead, shared by several nodes; the data directory keeps the rest.
//! Every open checks the master key against the key check the store's
//! first open recorded, so a node with another key stops at start.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::rand::SystemRandom;
use mayfly_core::admin::{
    MasterKeyRotation, RootCredentials, opens_key_check, ring_key_label, seal_key_check,
};
use mayfly_store::{PostgresStore, Snapshot, SqliteStore, Store};
use mayfly_token::MasterKey;

use crate::config::StoreUrl;

const DATABASE: &str = "mayfly.db";
const MASTER_KEY_FILE: &str = "master.key";
/// Where `mayfly master-key rotate` writes the new key before the store is
/// rotated, renamed over `master.key` once it is.
const NEW_MASTER_KEY_FILE: &str = "master.key.new";
const ROOT_CREDENTIALS_FILE: &str = "root-credentials";

/// An opened data directory.
#[derive(Debug)]
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub master_key: MasterKey,
    /// The `master.key` the key was read from (or written to), `None` when
    /// it came from MAYFLY_MASTER_KEY.
    pub key_file: Option<PathBuf>,
}

/// Where this node's master key came from, for messages (never the key).
#[derive(Debug)]
enum KeySource {
    /// `MAYFLY_MASTER_KEY`.
    Environment,
    /// An existing `master.key`.
    File(PathBuf),
    /// A `master.key` written by this very open.
    Generated(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Environment => f.write_str("MAYFLY_MASTER_KEY"),
            KeySource::File(path) => write!(f, "{}", path.display()),
            KeySource::Generated(path) => write!(f, "{} (generated now)", path.display()),
        }
    }
}

/// Open the data directory, creating it, the database and the master key
/// at first start (`mayfly serve`). With `store_url` the store is that
/// PostgreSQL database (its schema created at first connection) and no
/// SQLite file is made. The master key must open the store's key check
/// (recorded by the first open), else nothing is started.
pub async fn open_or_create(dir: &Path, store_url: Option<&StoreUrl>) -> Result<Opened> {
    open_or_create_with(dir, store_url, master_key_from_env()?).await
}

/// [`open_or_create`] with the key `MAYFLY_MASTER_KEY` gave, if any.
async fn open_or_create_with(
    dir: &Path,
    store_url: Option<&StoreUrl>,
    env_key: Option<MasterKey>,
) -> Result<Opened> {
    create_private_dir(dir)?;
    let (store, store_name) = match store_url {
        Some(url) => (open_postgres(url).await?, url.to_string()),
        None => {
            let database = dir.join(DATABASE);
            if !database.exists() {
                // Sealed secrets live in it: owner-only from the first byte.
                write_private(&database, b"")?;
            }
            let store = SqliteStore::open(&database)
                .await
                .with_context(|| format!("opening the database in {}", dir.display()))?;
            let store: Arc<dyn Store> = Arc::new(store);
            (store, database.display().to_string())
        }
    };
    take_master_key(dir, store, &store_name, env_key).await
}

/// This node's master key for `store` (named `store_name` in messages):
/// `env_key`, else `DIR/master.key`, else a new one written there unless
/// the store already holds data or a key check; then checked against the
/// store's key check. A key generated here is removed again when the check
/// refuses it (another node claimed the store first), so a retry does not
/// keep a losing key.
async fn take_master_key(
    dir: &Path,
    store: Arc<dyn Store>,
    store_name: &str,
    env_key: Option<MasterKey>,
) -> Result<Opened> {
    let (master_key, source) = match env_key {
        Some(key) => (key, KeySource::Environment),
        None => {
            let path = dir.join(MASTER_KEY_FILE);
            if path.exists() {
                (read_master_key(&path)?, KeySource::File(path))
            } else {
                // A new key for a store another node (or an earlier start)
                // already sealed secrets in could open none of them.
                if store.generation().await? > 0 || store.key_check().await?.is_some() {
                    bail!(
                        "the store {store_name} already holds data sealed under a master key this node does not have; give this node the same MAYFLY_MASTER_KEY, or copy master.key from the first node's data directory into {}",
                        dir.display()
                    );
                }
                let key = MasterKey::generate(&SystemRandom::new())
                    .map_err(|e| anyhow!("generating the master key: {e}"))?;
                write_private(&path, key.to_encoded().as_bytes())?;
                tracing::info!(path = %path.display(), "generated the master key");
                (key, KeySource::Generated(path))
            }
        }
    };
    if let Err(error) = check_master_key(store.as_ref(), &master_key, &source, store_name).await {
        // Another node claimed the store first: a retry must not keep
        // this node's losing key.
        if let KeySource::Generated(path) = &source
            && let Err(remove) = std::fs::remove_file(path)
        {
            tracing::warn!(path = %path.display(), error = %remove, "could not remove the generated master key");
        }
        return Err(error);
    }
    let key_file = match source {
        KeySource::Environment => None,
        KeySource::File(path) | KeySource::Generated(path) => Some(path),
    };
    Ok(Opened {
        store,
        master_key,
        key_file,
    })
}

/// Open an initialized data directory (admin commands); never creates one.
/// With `store_url` the store is that PostgreSQL database and the
/// directory only provides the master key (unless MAYFLY_MASTER_KEY does).
/// The master key must open the store's key check.
pub async fn open_existing(dir: &Path, store_url: Option<&StoreUrl>) -> Result<Opened> {
    open_existing_with(dir, store_url, master_key_from_env()?).await
}

/// [`open_existing`] with the key `MAYFLY_MASTER_KEY` gave, if any.
async fn open_existing_with(
    dir: &Path,
    store_url: Option<&StoreUrl>,
    env_key: Option<MasterKey>,
) -> Result<Opened> {
    let key_file = dir.join(MASTER_KEY_FILE);
    let (store, store_name, master_key, source) = match store_url {
        Some(url) => {
            let (master_key, source) = match env_key {
                Some(key) => (key, KeySource::Environment),
                None => (read_master_key(&key_file)?, KeySource::File(key_file)),
            };
            let store = open_postgres(url).await?;
            (store, url.to_string(), master_key, source)
        }
        None => {
            let database = dir.join(DATABASE);
            if !database.exists() {
                bail!(
                    "{} is not a Mayfly data directory (no {DATABASE}); run `mayfly serve --data-dir {}` once first",
                    dir.display(),
                    dir.display()
                );
            }
            let (master_key, source) = match env_key {
                Some(key) => (key, KeySource::Environment),
                None => (read_master_key(&key_file)?, KeySource::File(key_file)),
            };
            let store = SqliteStore::open(&database)
                .await
                .with_context(|| format!("opening {}", database.display()))?;
            let store: Arc<dyn Store> = Arc::new(store);
            (store, database.display().to_string(), master_key, source)
        }
    };
    check_master_key(store.as_ref(), &master_key, &source, &store_name).await?;
    let key_file = match source {
        KeySource::File(path) => Some(path),
        KeySource::Environment | KeySource::Generated(_) => None,
    };
    Ok(Opened {
        store,
        master_key,
        key_file,
    })
}

/// Where `mayfly master-key rotate` left the new master key.
#[derive(Debug)]
pub enum NewMasterKey {
    /// Written over this `master.key` (after the store was rotated).
    File(PathBuf),
    /// The key came from MAYFLY_MASTER_KEY: the new one is only here, for
    /// the caller to show the operator once; nothing was written to disk.
    Environment(MasterKey),
}

/// `mayfly master-key rotate` on an opened store: a new master key, every
/// secret resealed under it in one transaction. With a key file, the new
/// key is written to `master.key.new` (0600) before the store changes and
/// renamed over `master.key` after, so an interruption leaves either the
/// old key with the old store, or the new store with its key in
/// `master.key.new` (which the refusal at the next open points to).
pub async fn rotate_master_key(opened: &Opened) -> Result<(MasterKeyRotation, NewMasterKey)> {
    let new_key = MasterKey::generate(&SystemRandom::new())
        .map_err(|e| anyhow!("generating the master key: {e}"))?;
    let Some(key_file) = &opened.key_file else {
        return match mayfly_core::admin::rotate_master_key(
            opened.store.as_ref(),
            &opened.master_key,
            &new_key,
        )
        .await
        {
            Ok(rotation) => Ok((rotation, NewMasterKey::Environment(new_key))),
            Err(error) if still_sealed_under(opened).await => Err(anyhow::Error::new(error)
                .context(
                    "rotating the master key (nothing changed: MAYFLY_MASTER_KEY is still the key)",
                )),
            Err(error) => {
                // The commit may have happened (its answer was lost): the
                // new key must not be lost with it.
                println!("{}", new_key.to_encoded());
                Err(anyhow::Error::new(error).context(
                    "rotating the master key: the store may now be sealed under the new key printed above; if MAYFLY_MASTER_KEY is refused, use that one",
                ))
            }
        };
    };
    let staged = key_file.with_file_name(NEW_MASTER_KEY_FILE);
    // A leftover from an interrupted rotation that never reached the store
    // (the store just opened under master.key): replaced.
    write_private(&staged, new_key.to_encoded().as_bytes())?;
    let rotation = match mayfly_core::admin::rotate_master_key(
        opened.store.as_ref(),
        &opened.master_key,
        &new_key,
    )
    .await
    {
        Ok(rotation) => rotation,
        Err(error) if still_sealed_under(opened).await => {
            // The store is still under the old key: the staged key is void.
            if let Err(remove) = std::fs::remove_file(&staged) {
                tracing::warn!(path = %staged.display(), error = %remove, "could not remove the unused new master key");
            }
            return Err(anyhow::Error::new(error).context(format!(
                "rotating the master key (nothing changed: {} is still the key)",
                key_file.display()
            )));
        }
        Err(error) => {
            // The commit may have happened (its answer was lost): the
            // staged key is kept.
            return Err(anyhow::Error::new(error).context(format!(
                "rotating the master key: the store may now be sealed under the new key in {}; if {} is refused, move it over that file",
                staged.display(),
                key_file.display()
            )));
        }
    };
    std::fs::rename(&staged, key_file)
        .and_then(|()| sync_parent(key_file))
        .with_context(|| {
            format!(
                "the store is now sealed under the new master key in {}, but it could not be moved over {}: move it there before starting any node",
                staged.display(),
                key_file.display()
            )
        })?;
    Ok((rotation, NewMasterKey::File(key_file.clone())))
}

/// Whether the store's key check still opens under the opened (old) key:
/// after a failed rotation, proof that it changed nothing. `false` when the
/// store cannot tell.
async fn still_sealed_under(opened: &Opened) -> bool {
    matches!(
        opened.store.key_check().await,
        Ok(Some(sealed)) if opens_key_check(&opened.master_key, &sealed)
    )
}

/// Make a rename in `path`'s directory durable.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// For a refused `master.key`: a pointer to the `master.key.new` an
/// interrupted `mayfly master-key rotate` left next to it, if any.
fn interrupted_rotation_hint(source: &KeySource) -> String {
    match source {
        KeySource::File(path) => {
            let staged = path.with_file_name(NEW_MASTER_KEY_FILE);
            if staged.exists() {
                format!(
                    "; {} is left from an interrupted `mayfly master-key rotate`: if the store was rotated, it holds the key, so move it over {}",
                    staged.display(),
                    path.display()
                )
            } else {
                String::new()
            }
        }
        KeySource::Environment | KeySource::Generated(_) => String::new(),
    }
}

/// Refuse a master key other than the one the store's secrets are sealed
/// under. The store's key check must open ([`opens_key_check`]) to the
/// fixed plaintext; a store without one (new, or written before
/// key checks existed) gets one sealed under `master_key`, once that key
/// opens every ring key the store already holds. Of nodes claiming at
/// once, the first claim wins and the others are refused. Messages name
/// the store (`store_name`, a URL shown without its password) and where
/// the key came from (and any `master.key.new` an interrupted rotation
/// left), never key material.
async fn check_master_key(
    store: &dyn Store,
    master_key: &MasterKey,
    source: &KeySource,
    store_name: &str,
) -> Result<()> {
    const REMEDY: &str =
        "give every node the same MAYFLY_MASTER_KEY (or the first node's master.key)";
    let recorded = store
        .key_check()
        .await
        .with_context(|| format!("reading the key check of the store {store_name}"))?;
    let recorded = match recorded {
        Some(recorded) => recorded,
        None => {
            if !opens_every_ring_key(store, master_key)
                .await
                .with_context(|| format!("reading the store {store_name}"))?
            {
                bail!(
                    "the master key from {source} does not match the one that sealed the secrets of the store {store_name}: it does not open the stored key ring; {REMEDY}"
                );
            }
            let sealed = seal_key_check(master_key, &SystemRandom::new())
                .map_err(|e| anyhow!("sealing the key check: {e}"))?;
            let claimed = store
                .claim_key_check(&sealed)
                .await
                .with_context(|| format!("recording the key check in the store {store_name}"))?;
            if !opens_key_check(master_key, &claimed) {
                bail!(
                    "the master key from {source} does not match the one that sealed the secrets of the store {store_name}: another node with another master key claimed the store first; {REMEDY}"
                );
            }
            return Ok(());
        }
    };
    if !opens_key_check(master_key, &recorded) {
        bail!(
            "the master key from {source} does not match the one that sealed the secrets of the store {store_name}; {REMEDY}{}",
            interrupted_rotation_hint(source)
        );
    }
    Ok(())
}

/// Whether `master_key` opens every ring key in `store` (true for a store
/// with none): the check for a store sealed before key checks existed.
async fn opens_every_ring_key(store: &dyn Store, master_key: &MasterKey) -> Result<bool> {
    let snapshot = Snapshot::from_rows(0, store.load_all().await?);
    Ok(snapshot.ring_keys().all(|ring_key| {
        master_key
            .open(&ring_key.material_sealed, &ring_key_label(ring_key.key_id))
            .is_ok()
    }))
}

/// Connect to the PostgreSQL store; messages show the URL without its
/// password.
async fn open_postgres(url: &StoreUrl) -> Result<Arc<dyn Store>> {
    let store = PostgresStore::connect(url.expose())
        .await
        .with_context(|| format!("opening the store {url}"))?;
    Ok(Arc::new(store))
}

/// Write the generated root key to `DATA_DIR/root-credentials` (0600,
/// profile `mayfly-root`).
pub fn write_root_credentials(dir: &Path, credentials: &RootCredentials) -> Result<PathBuf> {
    let path = dir.join(ROOT_CREDENTIALS_FILE);
    write_private(
        &path,
        credentials.to_credentials_file("mayfly-root").as_bytes(),
    )?;
    Ok(path)
}

fn master_key_from_env() -> Result<Option<MasterKey>> {
    match std::env::var("MAYFLY_MASTER_KEY") {
        Ok(text) => MasterKey::from_encoded(text.trim())
            .map(Some)
            .map_err(|e| anyhow::anyhow!("MAYFLY_MASTER_KEY: {e}")),
        Err(_) => Ok(None),
    }
}

fn read_master_key(path: &Path) -> Result<MasterKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the master key {}", path.display()))?;
    MasterKey::from_encoded(text.trim())
        .map_err(|e| anyhow::anyhow!("master key {}: {e}", path.display()))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
    }
}

/// Create `path` with mode 0600 (replacing it) and write `contents`.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::expect_used,
        clippy::unwrap_used,
        reason = "tests fail loudly on broken fixtures"
    )]

    use super::*;
    use mayfly_core::admin::KEY_CHECK_PLAINTEXT;
    use mayfly_store::StoreError;

    fn key() -> MasterKey {
        MasterKey::generate(&SystemRandom::new()).unwrap()
    }

    fn same(key: &MasterKey) -> MasterKey {
        MasterKey::from_encoded(&key.to_encoded()).unwrap()
    }

    /// `error`'s whole chain, checked to show no key material.
    fn message(error: &anyhow::Error, keys: &[&MasterKey]) -> String {
        let text = format!("{error:#}");
        for key in keys {
            assert!(!text.contains(&key.to_encoded()), "{text}");
        }
        text
    }

    fn refused(text: &str) -> bool {
        text.contains("does not match the one that sealed the secrets of the store")
            && text.contains(
                "give every node the same MAYFLY_MASTER_KEY (or the first node's master.key)",
            )
    }

    #[tokio::test]
    async fn the_first_open_records_a_key_check_that_the_same_key_opens() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let opened = open_or_create_with(&data, None, None).await.unwrap();
        let recorded = opened.store.key_check().await.unwrap().unwrap();
        assert!(opens_key_check(&opened.master_key, &recorded));
        // Sealed, not the plaintext.
        assert!(
            !recorded
                .windows(KEY_CHECK_PLAINTEXT.len())
                .any(|w| w == KEY_CHECK_PLAINTEXT)
        );
        let key_text = std::fs::read_to_string(data.join(MASTER_KEY_FILE)).unwrap();
        drop(opened);

        // The same key, from the file or the environment, opens it again.
        open_or_create_with(&data, None, None).await.unwrap();
        open_existing_with(&data, None, None).await.unwrap();
        let from_env = MasterKey::from_encoded(&key_text).unwrap();
        let again = open_existing_with(&data, None, Some(from_env))
            .await
            .unwrap();
        assert_eq!(again.store.key_check().await.unwrap(), Some(recorded));
    }

    #[tokio::test]
    async fn a_sqlite_data_dir_refuses_another_master_key_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let right = key();
        let opened = open_or_create_with(dir.path(), None, Some(same(&right)))
            .await
            .unwrap();
        mayfly_core::admin::initialize(opened.store.as_ref(), &right, 1, "000000000000", None)
            .await
            .unwrap();
        drop(opened);
        let wrong = key();
        for error in [
            open_existing_with(dir.path(), None, Some(same(&wrong)))
                .await
                .unwrap_err(),
            open_or_create_with(dir.path(), None, Some(same(&wrong)))
                .await
                .unwrap_err(),
        ] {
            let text = message(&error, &[&right, &wrong]);
            assert!(refused(&text), "{text}");
            assert!(text.contains("MAYFLY_MASTER_KEY does not match"), "{text}");
            assert!(text.contains(DATABASE), "{text}");
        }
        open_existing_with(dir.path(), None, Some(right))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_replaced_master_key_file_is_refused_even_before_any_data() {
        let dir = tempfile::tempdir().unwrap();
        let opened = open_or_create_with(dir.path(), None, None).await.unwrap();
        let original = same(&opened.master_key);
        drop(opened);
        let path = dir.path().join(MASTER_KEY_FILE);
        let replacement = key();
        write_private(&path, replacement.to_encoded().as_bytes()).unwrap();
        for error in [
            open_existing_with(dir.path(), None, None)
                .await
                .unwrap_err(),
            open_or_create_with(dir.path(), None, None)
                .await
                .unwrap_err(),
        ] {
            let text = message(&error, &[&original, &replacement]);
            assert!(refused(&text), "{text}");
            assert!(text.contains(&path.display().to_string()), "{text}");
        }
        // The replaced file is the operator's: it is left alone.
        assert!(path.exists());
    }

    #[tokio::test]
    async fn a_missing_master_key_file_is_not_regenerated_for_a_claimed_store() {
        let dir = tempfile::tempdir().unwrap();
        let opened = open_or_create_with(dir.path(), None, None).await.unwrap();
        drop(opened);
        let path = dir.path().join(MASTER_KEY_FILE);
        std::fs::remove_file(&path).unwrap();
        let error = open_or_create_with(dir.path(), None, None)
            .await
            .unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("same MAYFLY_MASTER_KEY"), "{text}");
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn a_store_from_before_key_checks_is_claimed_only_by_the_key_that_opens_its_ring() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join(DATABASE);
        let right = key();
        // A store as an older binary left it: sealed data, no key check.
        let store = SqliteStore::open(&database).await.unwrap();
        mayfly_core::admin::initialize(&store, &right, 1, "000000000000", None)
            .await
            .unwrap();
        assert_eq!(store.key_check().await.unwrap(), None);

        let wrong = key();
        let error = open_existing_with(dir.path(), None, Some(same(&wrong)))
            .await
            .unwrap_err();
        let text = message(&error, &[&right, &wrong]);
        assert!(refused(&text), "{text}");
        assert!(text.contains("does not open the stored key ring"), "{text}");
        assert_eq!(store.key_check().await.unwrap(), None);

        open_or_create_with(dir.path(), None, Some(same(&right)))
            .await
            .unwrap();
        let recorded = store.key_check().await.unwrap().unwrap();
        assert!(opens_key_check(&right, &recorded));
        assert!(!opens_key_check(&wrong, &recorded));
    }

    /// A store another node claims between this node's reads and its
    /// claim: every read of the key check still answers `None`.
    #[derive(Debug)]
    struct ClaimedMeanwhile(SqliteStore);

    impl Store for ClaimedMeanwhile {
        fn load_all(
            &self,
        ) -> mayfly_store::StoreFuture<'_, Result<Vec<mayfly_store::StoredRow>, StoreError>>
        {
            self.0.load_all()
        }

        fn apply(
            &self,
            mutations: Vec<mayfly_store::Mutation>,
        ) -> mayfly_store::StoreFuture<'_, Result<u64, StoreError>> {
            self.0.apply(mutations)
        }

        fn generation(&self) -> mayfly_store::StoreFuture<'_, Result<u64, StoreError>> {
            self.0.generation()
        }

        fn record_first_use(
            &self,
            scope: &str,
            id: &str,
            expires_at: u64,
            now: u64,
        ) -> mayfly_store::StoreFuture<'_, Result<bool, StoreError>> {
            self.0.record_first_use(scope, id, expires_at, now)
        }

        fn key_check(&self) -> mayfly_store::StoreFuture<'_, Result<Option<Vec<u8>>, StoreError>> {
            Box::pin(async { Ok(None) })
        }

        fn claim_key_check(
            &self,
            sealed: &[u8],
        ) -> mayfly_store::StoreFuture<'_, Result<Vec<u8>, StoreError>> {
            self.0.claim_key_check(sealed)
        }

        fn apply_with_key_check(
            &self,
            mutations: Vec<mayfly_store::Mutation>,
            expected_generation: u64,
            expected_key_check: &[u8],
            new_key_check: &[u8],
        ) -> mayfly_store::StoreFuture<'_, Result<u64, StoreError>> {
            self.0.apply_with_key_check(
                mutations,
                expected_generation,
                expected_key_check,
                new_key_check,
            )
        }
    }

    #[tokio::test]
    async fn a_claim_lost_to_another_key_is_refused_and_the_generated_key_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(DATABASE)).await.unwrap();
        let other = key();
        let sealed = seal_key_check(&other, &SystemRandom::new()).unwrap();
        store.claim_key_check(&sealed).await.unwrap();
        let store: Arc<dyn Store> = Arc::new(ClaimedMeanwhile(store));

        let error = take_master_key(dir.path(), store, "postgres://u:***@db/iam", None)
            .await
            .unwrap_err();
        let text = message(&error, &[&other]);
        assert!(refused(&text), "{text}");
        assert!(text.contains("claimed the store first"), "{text}");
        assert!(text.contains("postgres://u:***@db/iam"), "{text}");
        assert!(text.contains("(generated now)"), "{text}");
        assert!(!dir.path().join(MASTER_KEY_FILE).exists());
    }

    #[tokio::test]
    async fn a_claim_lost_to_the_same_key_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(DATABASE)).await.unwrap();
        let shared = key();
        let sealed = seal_key_check(&shared, &SystemRandom::new()).unwrap();
        store.claim_key_check(&sealed).await.unwrap();
        let store: Arc<dyn Store> = Arc::new(ClaimedMeanwhile(store));
        take_master_key(dir.path(), store, "the store", Some(same(&shared)))
            .await
            .unwrap();
    }
}
