//! Generic entity storage: every model type is a JSON value under a
//! `(kind, key)` pair, so each engine needs one table and four operations.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;

/// A model type stored as one row of the `entities` table.
///
/// `key` is unique within `KIND`. For IAM names that AWS treats as unique
/// case-insensitively (users, roles, groups, managed policies, …) the key
/// holds the lowercased name, so an insert of `Alice` collides with `alice`
/// while the value keeps the display case.
pub trait Entity: Serialize + DeserializeOwned {
    /// The `kind` column, e.g. `user`.
    const KIND: &'static str;
    /// The `key` column for this value.
    fn key(&self) -> String;
}

/// One stored row, as `Store::load_all` returns it.
///
/// `Debug` omits the value: it may hold sealed secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredRow {
    /// Entity kind (`Entity::KIND`).
    pub kind: String,
    /// Entity key (`Entity::key`).
    pub key: String,
    /// The entity as JSON.
    pub value: String,
}

impl fmt::Debug for StoredRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredRow")
            .field("kind", &self.kind)
            .field("key", &self.key)
            .field("value_len", &self.value.len())
            .finish()
    }
}

/// One change in a `Store::apply` batch. A batch is applied atomically.
///
/// Build them with the typed constructors (`Mutation::insert(&user)?`,
/// `Mutation::delete::<User>(key)`); `Debug` omits values.
#[derive(Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Create; fails with `StoreError::AlreadyExists` if `(kind, key)` exists.
    Insert {
        /// Entity kind.
        kind: String,
        /// Entity key.
        key: String,
        /// JSON value.
        value: String,
    },
    /// Replace; fails with `StoreError::NotFound` if `(kind, key)` is absent.
    Update {
        /// Entity kind.
        kind: String,
        /// Entity key.
        key: String,
        /// JSON value.
        value: String,
    },
    /// Create or replace.
    Put {
        /// Entity kind.
        kind: String,
        /// Entity key.
        key: String,
        /// JSON value.
        value: String,
    },
    /// Remove; fails with `StoreError::NotFound` if `(kind, key)` is absent.
    Delete {
        /// Entity kind.
        kind: String,
        /// Entity key.
        key: String,
    },
}

impl Mutation {
    /// Insert `entity` under its key.
    pub fn insert<E: Entity>(entity: &E) -> Result<Self, StoreError> {
        let (kind, key, value) = encode(entity)?;
        Ok(Mutation::Insert { kind, key, value })
    }

    /// Replace the stored `entity` (same key).
    pub fn update<E: Entity>(entity: &E) -> Result<Self, StoreError> {
        let (kind, key, value) = encode(entity)?;
        Ok(Mutation::Update { kind, key, value })
    }

    /// Create or replace `entity`.
    pub fn put<E: Entity>(entity: &E) -> Result<Self, StoreError> {
        let (kind, key, value) = encode(entity)?;
        Ok(Mutation::Put { kind, key, value })
    }

    /// Delete the entity of type `E` stored under `key` (as `E::key` makes it,
    /// e.g. `User::storage_key(account, name)`).
    pub fn delete<E: Entity>(key: impl Into<String>) -> Self {
        Mutation::Delete {
            kind: E::KIND.to_owned(),
            key: key.into(),
        }
    }

    /// The entity kind this mutation touches.
    pub fn kind(&self) -> &str {
        match self {
            Mutation::Insert { kind, .. }
            | Mutation::Update { kind, .. }
            | Mutation::Put { kind, .. }
            | Mutation::Delete { kind, .. } => kind,
        }
    }

    /// The entity key this mutation touches.
    pub fn key(&self) -> &str {
        match self {
            Mutation::Insert { key, .. }
            | Mutation::Update { key, .. }
            | Mutation::Put { key, .. }
            | Mutation::Delete { key, .. } => key,
        }
    }

    fn operation(&self) -> &'static str {
        match self {
            Mutation::Insert { .. } => "Insert",
            Mutation::Update { .. } => "Update",
            Mutation::Put { .. } => "Put",
            Mutation::Delete { .. } => "Delete",
        }
    }
}

impl fmt::Debug for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.operation())
            .field("kind", &self.kind())
            .field("key", &self.key())
            .finish_non_exhaustive()
    }
}

fn encode<E: Entity>(entity: &E) -> Result<(String, String, String), StoreError> {
    let key = entity.key();
    match serde_json::to_string(entity) {
        Ok(value) => Ok((E::KIND.to_owned(), key, value)),
        Err(error) => Err(StoreError::Encoding {
            kind: E::KIND.to_owned(),
            key,
            reason: error.to_string(),
        }),
    }
}

/// Decode a stored JSON value as `E`.
pub fn decode<E: Entity>(value: &str) -> Result<E, serde_json::Error> {
    serde_json::from_str(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;
    use crate::model::User;

    #[test]
    fn typed_constructors_fill_kind_key_and_value() {
        let alice = conformance::user("000000000000", "Alice", "/", "AIDA1");
        let insert = Mutation::insert(&alice).unwrap();
        assert_eq!(insert.kind(), "user");
        assert_eq!(insert.key(), "000000000000/alice");
        match &insert {
            Mutation::Insert { value, .. } => {
                assert_eq!(decode::<User>(value).unwrap(), alice);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Mutation::update(&alice).unwrap(),
            Mutation::Update { .. }
        ));
        assert!(matches!(
            Mutation::put(&alice).unwrap(),
            Mutation::Put { .. }
        ));
        let delete = Mutation::delete::<User>("000000000000/alice");
        assert_eq!(
            (delete.kind(), delete.key()),
            ("user", "000000000000/alice")
        );
    }

    #[test]
    fn debug_of_rows_and_mutations_omits_values() {
        let key = conformance::access_key("AKIAEXAMPLE000000001", None, 1);
        let mutation = Mutation::put(&key).unwrap();
        let text = format!("{mutation:?}");
        assert!(text.starts_with("Put"), "{text}");
        assert!(!text.contains("secret_sealed"), "{text}");
        let row = StoredRow {
            kind: "access_key".to_owned(),
            key: "AKIAEXAMPLE000000001".to_owned(),
            value: "{\"secret_sealed\":\"AAEC\"}".to_owned(),
        };
        let text = format!("{row:?}");
        assert!(
            !text.contains("AAEC") && text.contains("value_len"),
            "{text}"
        );
    }
}
