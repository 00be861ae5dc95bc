//! Administrative changes shared by `mayfly serve` (first start) and the
//! admin subcommands (`mayfly account create`, `mayfly keys rotate|list`):
//! they act on the store directly, with or without a running server, and a
//! running server picks them up through its refresher.

use aws_lc_rs::rand::SystemRandom;
use mayfly_store::{
    AccessKey, AccessKeyStatus, Account, Entity, MfaDevice, Mutation, Revocation,
    RingKey as StoredRingKey, Role, SamlProvider, Snapshot, Store, StoreError, StoredRow, decode,
};
use mayfly_token::{KeyRing, MasterKey, SecretKey, TokenError};

/// How long a retired ring key keeps opening tokens: the longest session
/// (36 h, GetSessionToken/GetFederationToken) must be able to finish.
pub const RETIRED_KEY_LIFETIME_SECONDS: u64 = 129_600;

/// Why an administrative change failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The storage engine failed or refused the change.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key generation or sealing failed.
    #[error("key ring: {0}")]
    Token(TokenError),
    /// The store has no key ring yet: `mayfly serve` initializes it at first start.
    #[error("the data directory is not initialized; start `mayfly serve` once first")]
    NotInitialized,
    /// Stored keys do not open under the master key given.
    #[error(
        "stored keys do not open under this master key (wrong MAYFLY_MASTER_KEY or master.key?)"
    )]
    MasterKeyMismatch,
    /// The account already exists.
    #[error("account `{0}` already exists")]
    AccountExists(String),
    /// The account id is not twelve digits.
    #[error("account id `{0}` is not twelve decimal digits")]
    InvalidAccountId(String),
    /// Not a temporary access key id.
    #[error(
        "`{0}` is not a temporary access key id (ASIA + 16 characters); deactivate long-term keys with iam update-access-key"
    )]
    NotTemporaryKey(String),
    /// No role of that name in the account.
    #[error("the role `{role}` does not exist in account `{account}`")]
    NoSuchRole {
        /// The account searched.
        account: String,
        /// The role name given.
        role: String,
    },
    /// The root key given through the environment is malformed.
    #[error("invalid root key: {0}")]
    InvalidRootKey(String),
    /// No ring key has that id.
    #[error("the key ring has no key {0} (`mayfly keys list` shows the ring)")]
    NoSuchKey(u32),
    /// The active ring key cannot be destroyed: nothing would seal.
    #[error("key {0} is the active key; run `mayfly keys rotate` first, then destroy it")]
    ActiveKey(u32),
    /// A master-key rotation met a sealed item the current master key does
    /// not open (a damaged row, or one sealed under yet another key):
    /// nothing was rotated.
    #[error("the {kind} `{key}` does not open under the current master key; nothing was rotated")]
    SealedItemDoesNotOpen {
        /// What the item is, e.g. `ring key`.
        kind: &'static str,
        /// Its storage key.
        key: String,
    },
    /// A master-key rotation met sealed data it does not know how to
    /// reseal (a SAML provider's private decryption keys: nothing writes
    /// them yet): nothing was rotated.
    #[error("the {kind} `{key}` holds sealed data this version cannot reseal; nothing was rotated")]
    CannotReseal {
        /// What the item is.
        kind: &'static str,
        /// Its storage key.
        key: String,
    },
    /// A stored row does not decode as its kind.
    #[error("the stored {kind} `{key}` does not decode: {reason}")]
    Corrupt {
        /// The row's kind.
        kind: String,
        /// The row's storage key.
        key: String,
        /// Where decoding failed (never the value).
        reason: String,
    },
}

impl From<TokenError> for AdminError {
    fn from(error: TokenError) -> Self {
        AdminError::Token(error)
    }
}

/// The label binding a sealed ring key to its id.
pub fn ring_key_label(key_id: u32) -> String {
    format!("mayfly/ring-key/{key_id}")
}

/// The label binding a sealed secret access key to its access key id.
pub fn access_key_label(access_key_id: &str) -> String {
    format!("mayfly/access-key/{access_key_id}")
}

/// The key check's plaintext: fixed and public. Every store records it
/// sealed under its master key ([`Store::claim_key_check`], replaced only
/// by [`rotate_master_key`]); a node whose master key does not open it back
/// to these bytes is refused at every open.
pub const KEY_CHECK_PLAINTEXT: &[u8] = b"mayfly master key check v1";
/// The label the key check is sealed under (no other blob uses it).
pub const KEY_CHECK_LABEL: &str = "mayfly/key-check";

/// The key check sealed under `master_key`.
pub fn seal_key_check(master_key: &MasterKey, rng: &SystemRandom) -> Result<Vec<u8>, AdminError> {
    Ok(master_key.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK_LABEL, rng)?)
}

/// Whether `sealed` is the key check sealed under `master_key`.
pub fn opens_key_check(master_key: &MasterKey, sealed: &[u8]) -> bool {
    master_key
        .open(sealed, KEY_CHECK_LABEL)
        .is_ok_and(|plaintext| plaintext.as_slice() == KEY_CHECK_PLAINTEXT)
}

/// A root key pair, printed or written once and never stored in the clear.
#[derive(Debug)]
pub struct RootCredentials {
    /// The account the key belongs to.
    pub account_id: String,
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret (redacting `Debug`).
    pub secret_access_key: SecretKey,
}

impl RootCredentials {
    /// The pair in aws credentials-file form under `[profile]`.
    pub fn to_credentials_file(&self, profile: &str) -> String {
        format!(
            "[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            self.access_key_id,
            self.secret_access_key.as_str()
        )
    }
}

/// A ring key as `mayfly keys list` shows it (never the material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id carried in every token it sealed.
    pub key_id: u32,
    /// Unix seconds.
    pub created_at: u64,
    /// When it stopped sealing, if it has.
    pub retired_at: Option<u64>,
    /// Whether it seals new tokens.
    pub active: bool,
}

/// First start: create the key ring, the default account and its root key
/// when missing. Returns the root credentials when this call generated them
/// (the caller writes them to `DATA_DIR/root-credentials`).
pub async fn initialize(
    store: &dyn Store,
    master_key: &MasterKey,
    now: u64,
    default_account: &str,
    root_key: Option<(String, SecretKey)>,
) -> Result<Option<RootCredentials>, AdminError> {
    if !crate::arn::is_account_id(default_account) {
        return Err(AdminError::InvalidAccountId(default_account.to_owned()));
    }
    let rng = SystemRandom::new();
    let snapshot = Snapshot::from_rows(0, store.load_all().await?);
    let mut mutations = Vec::new();
    if snapshot.ring_keys().next().is_none() {
        mutations.push(Mutation::insert(&seal_ring_key(master_key, 1, now, &rng)?)?);
    }
    let mut generated = None;
    if snapshot.account(default_account).is_none() {
        mutations.push(Mutation::insert(&Account {
            id: default_account.to_owned(),
            created_at: now,
            alias: None,
        })?);
    }
    let has_root_key = snapshot
        .access_keys()
        .any(|k| k.account_id == default_account && k.user_name.is_none());
    if !has_root_key {
        let (access_key_id, secret) = match root_key {
            Some((id, secret)) => {
                validate_root_key(&id, &secret)?;
                (id, secret)
            }
            None => {
                let id = mayfly_token::long_term_access_key_id(default_account, &rng)?;
                let secret = SecretKey::generate(&rng)?;
                (id, secret)
            }
        };
        mutations.push(Mutation::insert(&seal_access_key(
            master_key,
            &access_key_id,
            default_account,
            None,
            &secret,
            now,
            &rng,
        )?)?);
        generated = Some(RootCredentials {
            account_id: default_account.to_owned(),
            access_key_id,
            secret_access_key: secret,
        });
    } else if root_key.is_some() {
        tracing::info!(
            "the default account already has a root key; MAYFLY_ROOT_ACCESS_KEY_ID applies only at first start"
        );
    }
    if !mutations.is_empty() {
        store.apply(mutations).await?;
    }
    Ok(generated)
}

fn validate_root_key(id: &str, secret: &SecretKey) -> Result<(), AdminError> {
    if id.len() < 16 || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AdminError::InvalidRootKey(
            "MAYFLY_ROOT_ACCESS_KEY_ID must be 16-128 letters and digits".into(),
        ));
    }
    if id.starts_with("ASIA") {
        return Err(AdminError::InvalidRootKey(
            "MAYFLY_ROOT_ACCESS_KEY_ID must not start with ASIA (reserved for temporary keys)"
                .into(),
        ));
    }
    if secret.as_str().len() < 16 {
        return Err(AdminError::InvalidRootKey(
            "MAYFLY_ROOT_SECRET_ACCESS_KEY must be at least 16 characters".into(),
        ));
    }
    Ok(())
}

/// `mayfly account create --id ID`: a new account with its own root key.
pub async fn create_account(
    store: &dyn Store,
    master_key: &MasterKey,
    account_id: &str,
    now: u64,
) -> Result<RootCredentials, AdminError> {
    if !crate::arn::is_account_id(account_id) {
        return Err(AdminError::InvalidAccountId(account_id.to_owned()));
    }
    let rng = SystemRandom::new();
    let access_key_id = mayfly_token::long_term_access_key_id(account_id, &rng)?;
    let secret = SecretKey::generate(&rng)?;
    let account = Account {
        id: account_id.to_owned(),
        created_at: now,
        alias: None,
    };
    let key = seal_access_key(
        master_key,
        &access_key_id,
        account_id,
        None,
        &secret,
        now,
        &rng,
    )?;
    match store
        .apply(vec![Mutation::insert(&account)?, Mutation::insert(&key)?])
        .await
    {
        Ok(_) => Ok(RootCredentials {
            account_id: account_id.to_owned(),
            access_key_id,
            secret_access_key: secret,
        }),
        Err(StoreError::AlreadyExists { .. }) => {
            Err(AdminError::AccountExists(account_id.to_owned()))
        }
        Err(error) => Err(error.into()),
    }
}

/// `mayfly keys rotate`: a new active ring key; the previous active key is
/// retired (it still opens its tokens), and keys retired longer than the
/// longest session are destroyed. Returns the new key id.
pub async fn rotate_keys(
    store: &dyn Store,
    master_key: &MasterKey,
    now: u64,
) -> Result<u32, AdminError> {
    let rng = SystemRandom::new();
    let snapshot = Snapshot::from_rows(0, store.load_all().await?);
    let mut mutations = Vec::new();
    let mut next_id = 1;
    for key in snapshot.ring_keys() {
        next_id = next_id.max(key.key_id.saturating_add(1));
        match key.retired_at {
            None => {
                let mut retired = key.clone();
                retired.retired_at = Some(now);
                mutations.push(Mutation::update(&retired)?);
            }
            Some(at) if now.saturating_sub(at) > RETIRED_KEY_LIFETIME_SECONDS => {
                mutations.push(Mutation::delete::<StoredRingKey>(
                    StoredRingKey::storage_key(key.key_id),
                ));
            }
            Some(_) => {}
        }
    }
    mutations.push(Mutation::insert(&seal_ring_key(
        master_key, next_id, now, &rng,
    )?)?);
    store.apply(mutations).await?;
    Ok(next_id)
}

/// `mayfly keys destroy ID`: remove ring key `key_id` now, an emergency
/// revocation of everything it sealed (DESIGN.md "Revocation"): its
/// session tokens no longer open, so every request signed with their
/// credentials (presigned URLs included) is refused as an invalid token, on
/// every node once it sees the change. The active key is refused (rotate
/// first, which makes it a retired key), so the ring always has a key to
/// seal with.
pub async fn destroy_key(store: &dyn Store, key_id: u32) -> Result<(), AdminError> {
    let snapshot = Snapshot::from_rows(0, store.load_all().await?);
    let active = active_key_id(&snapshot);
    if !snapshot.ring_keys().any(|key| key.key_id == key_id) {
        return Err(AdminError::NoSuchKey(key_id));
    }
    if active == Some(key_id) {
        return Err(AdminError::ActiveKey(key_id));
    }
    match store
        .apply(vec![Mutation::delete::<StoredRingKey>(
            StoredRingKey::storage_key(key_id),
        )])
        .await
    {
        Ok(_) => Ok(()),
        // Destroyed meanwhile (by another `destroy` or a rotation's purge).
        Err(StoreError::NotFound { .. }) => Err(AdminError::NoSuchKey(key_id)),
        Err(error) => Err(error.into()),
    }
}

/// The key that seals: the newest key not retired.
fn active_key_id(snapshot: &Snapshot) -> Option<u32> {
    snapshot
        .ring_keys()
        .filter(|k| k.retired_at.is_none())
        .map(|k| k.key_id)
        .max()
}

/// The inline policy name AWS's "revoke active sessions" writes.
pub const REVOKE_POLICY_NAME: &str = "AWSRevokeOlderSessions";

/// `mayfly revoke-sessions --role NAME`: AWS's "revoke active sessions"
/// (policy-evaluation.md 11) — an inline `AWSRevokeOlderSessions` policy
/// denying everything to sessions whose `aws:TokenIssueTime` is before the
/// cutoff. Tokens carry whole seconds, so the cutoff is the start of the
/// next second: every session issued up to and including the revocation
/// instant is refused, and sessions issued from the next second on work.
/// Returns the cutoff (ISO 8601).
pub async fn revoke_sessions(
    store: &dyn Store,
    account_id: &str,
    role_name: &str,
    now: std::time::SystemTime,
) -> Result<String, AdminError> {
    let snapshot = Snapshot::from_rows(0, store.load_all().await?);
    let mut role: Role = snapshot
        .role(account_id, role_name)
        .cloned()
        .ok_or_else(|| AdminError::NoSuchRole {
            account: account_id.to_owned(),
            role: role_name.to_owned(),
        })?;
    let next_second = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().saturating_add(1));
    let cutoff = mayfly_wire::iso8601(crate::clock::from_unix(next_second));
    let document = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{cutoff}"}}}}}}]}}"#
    );
    role.inline_policies
        .insert(REVOKE_POLICY_NAME.to_owned(), document);
    store.apply(vec![Mutation::update(&role)?]).await?;
    Ok(cutoff)
}

/// `mayfly revoke-key --access-key-id ASIA…`: DESIGN.md's per-key
/// revocation — a deny-list entry every node checks on each request
/// (`InvalidClientTokenId`), kept until the key could no longer be valid
/// anyway (36 h, the longest session) and pruned after. Entries that have
/// passed their expiry are pruned in the same write.
pub async fn revoke_key(
    store: &dyn Store,
    access_key_id: &str,
    now: u64,
) -> Result<u64, AdminError> {
    if !access_key_id.starts_with("ASIA")
        || access_key_id.len() != 20
        || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(AdminError::NotTemporaryKey(access_key_id.to_owned()));
    }
    let snapshot = Snapshot::from_rows(0, store.load_all().await?);
    let expires_at = now.saturating_add(RETIRED_KEY_LIFETIME_SECONDS);
    let mut mutations: Vec<Mutation> = snapshot
        .expired_revocations(now)
        .map(|r| Mutation::delete::<Revocation>(r.access_key_id.clone()))
        .collect();
    mutations.push(Mutation::put(&Revocation {
        access_key_id: access_key_id.to_owned(),
        revoked_at: now,
        expires_at,
    })?);
    store.apply(mutations).await?;
    Ok(expires_at)
}

/// `mayfly keys list`.
pub async fn list_keys(store: &dyn Store) -> Result<Vec<KeyInfo>, AdminError> {
    let snapshot = Snapshot::from_rows(0, store.load_all().await?);
    let active = active_key_id(&snapshot);
    Ok(snapshot
        .ring_keys()
        .map(|k| KeyInfo {
            key_id: k.key_id,
            created_at: k.created_at,
            retired_at: k.retired_at,
            active: Some(k.key_id) == active,
        })
        .collect())
}

fn seal_ring_key(
    master_key: &MasterKey,
    key_id: u32,
    now: u64,
    rng: &SystemRandom,
) -> Result<StoredRingKey, AdminError> {
    let key = KeyRing::generate_key(key_id, now, rng)?;
    let material_sealed =
        master_key.seal(key.material_for_storage(), &ring_key_label(key_id), rng)?;
    Ok(StoredRingKey {
        key_id,
        material_sealed,
        created_at: now,
        retired_at: None,
    })
}

/// Seal a long-term secret for storage.
pub(crate) fn seal_access_key(
    master_key: &MasterKey,
    access_key_id: &str,
    account_id: &str,
    user_name: Option<&str>,
    secret: &SecretKey,
    now: u64,
    rng: &SystemRandom,
) -> Result<AccessKey, AdminError> {
    let secret_sealed = master_key.seal(
        secret.as_str().as_bytes(),
        &access_key_label(access_key_id),
        rng,
    )?;
    Ok(AccessKey {
        access_key_id: access_key_id.to_owned(),
        account_id: account_id.to_owned(),
        user_name: user_name.map(str::to_owned),
        secret_sealed,
        status: AccessKeyStatus::Active,
        created_at: now,
        last_used: None,
    })
}

/// What `mayfly master-key rotate` resealed (counts only, never material).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasterKeyRotation {
    /// Ring keys (the session-token keys; their material is unchanged).
    pub ring_keys: usize,
    /// Long-term secret access keys, active or not.
    pub access_keys: usize,
    /// Virtual MFA device seeds.
    pub mfa_seeds: usize,
    /// The store generation the rotation wrote.
    pub generation: u64,
}

/// `mayfly master-key rotate`: reseal every secret at rest, and the key
/// check, from `old` to `new`, in one store transaction. Every sealed item
/// is opened under `old` first: one that does not open, or a key check
/// that does not, fails the rotation before anything is written. The write
/// is a compare and swap on the key check (sealed under `old`, claimed once
/// everything opened if the store has none yet), so two rotations at once
/// cannot both win, and on the generation, so a change a running node
/// writes meanwhile is never overwritten (the rows are read again). A
/// failure leaves the store as it was, still under `old`. Nodes that hold
/// `old` in memory can no longer open the key ring after this: every node
/// must restart with `new`.
pub async fn rotate_master_key(
    store: &dyn Store,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<MasterKeyRotation, AdminError> {
    let mut attempts = 0;
    loop {
        match rotate_master_key_once(store, old, new).await {
            // A write by a running node between the read and the swap:
            // read again (a few times) rather than overwrite it.
            Err(AdminError::Store(StoreError::GenerationChanged))
                if attempts < MASTER_KEY_ROTATION_ATTEMPTS =>
            {
                attempts += 1;
            }
            result => return result,
        }
    }
}

/// How many times [`rotate_master_key`] reads again when the store changed
/// under it before it gives up.
const MASTER_KEY_ROTATION_ATTEMPTS: u32 = 5;

/// One attempt of [`rotate_master_key`], on the rows of one generation.
async fn rotate_master_key_once(
    store: &dyn Store,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<MasterKeyRotation, AdminError> {
    let rng = SystemRandom::new();
    let recorded = store.key_check().await?;
    if recorded
        .as_ref()
        .is_some_and(|sealed| !opens_key_check(old, sealed))
    {
        return Err(AdminError::MasterKeyMismatch);
    }
    // Generation first: a write racing with load_all makes the swap fail.
    let generation = store.generation().await?;
    let mut report = MasterKeyRotation {
        ring_keys: 0,
        access_keys: 0,
        mfa_seeds: 0,
        generation: 0,
    };
    let mut mutations = Vec::new();
    for row in store.load_all().await? {
        match row.kind.as_str() {
            StoredRingKey::KIND => {
                let mut key: StoredRingKey = decode_row(&row)?;
                key.material_sealed = reseal(
                    old,
                    new,
                    &key.material_sealed,
                    &ring_key_label(key.key_id),
                    ("ring key", &row.key),
                    &rng,
                )?;
                mutations.push(Mutation::update(&key)?);
                report.ring_keys += 1;
            }
            AccessKey::KIND => {
                let mut key: AccessKey = decode_row(&row)?;
                key.secret_sealed = reseal(
                    old,
                    new,
                    &key.secret_sealed,
                    &access_key_label(&key.access_key_id),
                    ("access key", &row.key),
                    &rng,
                )?;
                mutations.push(Mutation::update(&key)?);
                report.access_keys += 1;
            }
            MfaDevice::KIND => {
                let mut device: MfaDevice = decode_row(&row)?;
                device.seed_sealed = reseal(
                    old,
                    new,
                    &device.seed_sealed,
                    &crate::mfa::seed_label(&device.serial_number()),
                    ("MFA device", &row.key),
                    &rng,
                )?;
                mutations.push(Mutation::update(&device)?);
                report.mfa_seeds += 1;
            }
            SamlProvider::KIND => {
                let provider: SamlProvider = decode_row(&row)?;
                if !provider.private_keys.is_empty() {
                    return Err(AdminError::CannotReseal {
                        kind: "SAML provider",
                        key: row.key,
                    });
                }
            }
            _ => {}
        }
    }
    // A store without a key check yet (written before key checks existed)
    // gets one under `old` now that `old` opened everything, as every
    // open does; then the swap has a value to expect.
    let expected = match recorded {
        Some(recorded) => recorded,
        None => store.claim_key_check(&seal_key_check(old, &rng)?).await?,
    };
    if !opens_key_check(old, &expected) {
        return Err(AdminError::MasterKeyMismatch);
    }
    report.generation = store
        .apply_with_key_check(
            mutations,
            generation,
            &expected,
            &seal_key_check(new, &rng)?,
        )
        .await?;
    Ok(report)
}

/// `sealed` (the item `what`: its kind and storage key) opened under `old`
/// and sealed again under `new` with the same `label`.
fn reseal(
    old: &MasterKey,
    new: &MasterKey,
    sealed: &[u8],
    label: &str,
    what: (&'static str, &str),
    rng: &SystemRandom,
) -> Result<Vec<u8>, AdminError> {
    let plaintext = old
        .open(sealed, label)
        .map_err(|_| AdminError::SealedItemDoesNotOpen {
            kind: what.0,
            key: what.1.to_owned(),
        })?;
    Ok(new.seal(&plaintext, label, rng)?)
}

/// A stored row decoded as its kind.
fn decode_row<E: Entity>(row: &StoredRow) -> Result<E, AdminError> {
    decode(&row.value).map_err(|error| AdminError::Corrupt {
        kind: row.kind.clone(),
        key: row.key.clone(),
        reason: format!(
            "{:?} error at line {} column {}",
            error.classify(),
            error.line(),
            error.column()
        ),
    })
}
