//! The one failure family of the store.

/// Why a store operation failed.
///
/// Messages name the entity kind and key, never the stored value: values may
/// hold sealed secrets (access key secrets, key-ring material, MFA seeds).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An insert hit an existing entity. IAM maps this to `EntityAlreadyExists`
    /// (409); keys of case-insensitive names are lowercased, so `Alice` and
    /// `alice` collide as they do in AWS.
    #[error("{kind} `{key}` already exists")]
    AlreadyExists {
        /// Entity kind, e.g. `user`.
        kind: String,
        /// Storage key, e.g. `000000000000/alice`.
        key: String,
    },
    /// An update or delete named an entity that is not there (IAM `NoSuchEntity`, 404).
    #[error("{kind} `{key}` not found")]
    NotFound {
        /// Entity kind, e.g. `role`.
        kind: String,
        /// Storage key.
        key: String,
    },
    /// An entity could not be encoded as JSON (does not happen with the model
    /// types; kept so no encoding failure can panic).
    #[error("{kind} `{key}` could not be encoded: {reason}")]
    Encoding {
        /// Entity kind.
        kind: String,
        /// Storage key.
        key: String,
        /// The encoder's message (it never quotes the value).
        reason: String,
    },
    /// A key-check swap found another key check than the one it expected
    /// (or none): the master key was changed meanwhile, by another
    /// rotation. Nothing was written.
    #[error("the key check changed meanwhile (another master-key rotation?): nothing was written")]
    KeyCheckChanged,
    /// A write that must follow the rows it read found that another batch
    /// was applied since (the generation moved). Nothing was written; read
    /// again and retry.
    #[error("the store changed meanwhile: nothing was written; try again")]
    GenerationChanged,
    /// The database failed (I/O, locking past the busy timeout, corruption).
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}
