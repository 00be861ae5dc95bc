//! The data directory: the SQLite database, the master key file and the
//! generated root credentials — created at first start with owner-only
//! permissions. With a store URL the configuration lives in PostgreSQL
//! instead, shared by several nodes; the data directory keeps the rest.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use aws_lc_rs::rand::SystemRandom;
use mayfly_core::admin::RootCredentials;
use mayfly_store::{PostgresStore, SqliteStore, Store};
use mayfly_token::MasterKey;

use crate::config::StoreUrl;

const DATABASE: &str = "mayfly.db";
const MASTER_KEY_FILE: &str = "master.key";
const ROOT_CREDENTIALS_FILE: &str = "root-credentials";

/// An opened data directory.
#[derive(Debug)]
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub master_key: MasterKey,
}

/// Open the data directory, creating it, the database and the master key
/// at first start (`mayfly serve`). With `store_url` the store is that
/// PostgreSQL database (its schema created at first connection) and no
/// SQLite file is made.
pub async fn open_or_create(dir: &Path, store_url: Option<&StoreUrl>) -> Result<Opened> {
    create_private_dir(dir)?;
    let shared = match store_url {
        Some(url) => Some((open_postgres(url).await?, url)),
        None => None,
    };
    let master_key = match master_key_from_env()? {
        Some(key) => key,
        None => {
            let path = dir.join(MASTER_KEY_FILE);
            if path.exists() {
                read_master_key(&path)?
            } else {
                // A new key for a shared store another node already
                // initialized could open none of its sealed secrets.
                if let Some((store, url)) = &shared
                    && store.generation().await? > 0
                {
                    bail!(
                        "the store {url} already holds data sealed under another node's master key; give this node the same MAYFLY_MASTER_KEY, or copy master.key from the first node's data directory into {}",
                        dir.display()
                    );
                }
                let key = MasterKey::generate(&SystemRandom::new())
                    .map_err(|e| anyhow::anyhow!("generating the master key: {e}"))?;
                write_private(&path, key.to_encoded().as_bytes())?;
                tracing::info!(path = %path.display(), "generated the master key");
                key
            }
        }
    };
    if let Some((store, _)) = shared {
        return Ok(Opened { store, master_key });
    }
    let database = dir.join(DATABASE);
    if !database.exists() {
        // Sealed secrets live in it: owner-only from the first byte.
        write_private(&database, b"")?;
    }
    let store = SqliteStore::open(&database)
        .await
        .with_context(|| format!("opening the database in {}", dir.display()))?;
    Ok(Opened {
        store: Arc::new(store),
        master_key,
    })
}

/// Open an initialized data directory (admin commands); never creates one.
/// With `store_url` the store is that PostgreSQL database and the
/// directory only provides the master key (unless MAYFLY_MASTER_KEY does).
pub async fn open_existing(dir: &Path, store_url: Option<&StoreUrl>) -> Result<Opened> {
    if let Some(url) = store_url {
        let master_key = match master_key_from_env()? {
            Some(key) => key,
            None => read_master_key(&dir.join(MASTER_KEY_FILE))?,
        };
        return Ok(Opened {
            store: open_postgres(url).await?,
            master_key,
        });
    }
    let database = dir.join(DATABASE);
    if !database.exists() {
        bail!(
            "{} is not a Mayfly data directory (no {DATABASE}); run `mayfly serve --data-dir {}` once first",
            dir.display(),
            dir.display()
        );
    }
    let master_key = match master_key_from_env()? {
        Some(key) => key,
        None => read_master_key(&dir.join(MASTER_KEY_FILE))?,
    };
    let store = SqliteStore::open(&database)
        .await
        .with_context(|| format!("opening {}", database.display()))?;
    Ok(Opened {
        store: Arc::new(store),
        master_key,
    })
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
fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
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
