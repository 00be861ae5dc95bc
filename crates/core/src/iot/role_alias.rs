//! IoT role aliases (workload-credentials.md 7.2): validation and the
//! administrative changes behind `mayfly iot role-alias create|list|delete`.
//! Like the other admin commands they act on the store directly, with or
//! without a running server, which sees the change within one second.

use mayfly_store::{Entity, IotRoleAlias, Mutation, Snapshot, Store, StoreError};

/// `credentialDurationSeconds` when none is given.
pub const DEFAULT_CREDENTIAL_DURATION_SECONDS: u32 = 3600;
/// The least `credentialDurationSeconds`.
pub const MIN_CREDENTIAL_DURATION_SECONDS: u32 = 900;
/// The greatest `credentialDurationSeconds`.
pub const MAX_CREDENTIAL_DURATION_SECONDS: u32 = 43_200;

/// Why a role alias could not be created, found or deleted.
#[derive(Debug, thiserror::Error)]
pub enum RoleAliasError {
    /// The name breaks `[\w=,@-]+`, 1–128 characters.
    #[error("role alias `{0}` is invalid: use 1-128 characters of letters, digits and `_=,@-`")]
    InvalidAlias(String),
    /// The region is not a region name.
    #[error("region `{0}` is invalid: use 1-32 characters of lowercase letters, digits and `-`")]
    InvalidRegion(String),
    /// The account id is not twelve digits.
    #[error("account id `{0}` is not twelve decimal digits")]
    InvalidAccountId(String),
    /// No such account in the store.
    #[error("account `{0}` does not exist")]
    NoSuchAccount(String),
    /// Not a role ARN of the alias's account.
    #[error("`{arn}` is not the ARN of a role in account `{account}`")]
    InvalidRoleArn {
        /// The ARN given.
        arn: String,
        /// The alias's account.
        account: String,
    },
    /// A role ARN of the right shape, but no such role.
    #[error("the role `{0}` does not exist")]
    NoSuchRole(String),
    /// Outside 900–43200.
    #[error("credential duration {0} s is outside 900-43200 seconds")]
    DurationOutOfRange(u32),
    /// Longer than the role allows.
    #[error(
        "credential duration {duration} s exceeds the MaxSessionDuration ({max} s) of role `{role}`"
    )]
    DurationExceedsRole {
        /// The duration asked for.
        duration: u32,
        /// The role's `MaxSessionDuration`.
        max: u32,
        /// The role's ARN.
        role: String,
    },
    /// The alias exists already.
    #[error("role alias `{alias}` already exists in account `{account}`")]
    AlreadyExists {
        /// The alias.
        alias: String,
        /// Its account.
        account: String,
    },
    /// No such alias.
    #[error("role alias `{alias}` does not exist in account `{account}`")]
    NotFound {
        /// The alias.
        alias: String,
        /// The account searched.
        account: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `alias` matches `[\w=,@-]+` (`\w` being ASCII letters, digits and
/// `_`, as in AWS's Java patterns) and has 1–128 characters.
pub fn is_valid_alias(alias: &str) -> bool {
    (1..=128).contains(&alias.len())
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'=' | b',' | b'@' | b'-'))
}

fn is_valid_region(region: &str) -> bool {
    (1..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What `mayfly iot role-alias create` asks for.
#[derive(Debug, Clone)]
pub struct NewRoleAlias<'a> {
    /// The owning account.
    pub account_id: &'a str,
    /// The region of the alias's ARN.
    pub region: &'a str,
    /// The alias.
    pub alias: &'a str,
    /// The role, in the same account.
    pub role_arn: &'a str,
    /// `credentialDurationSeconds`; [`DEFAULT_CREDENTIAL_DURATION_SECONDS`] when `None`.
    pub credential_duration_seconds: Option<u32>,
}

/// Check `new` against the configuration in `snapshot` (the account and
/// role exist, the duration fits the role) and build the entity.
pub fn validate_new_alias(
    snapshot: &Snapshot,
    new: &NewRoleAlias<'_>,
    now: u64,
) -> Result<IotRoleAlias, RoleAliasError> {
    if !is_valid_alias(new.alias) {
        return Err(RoleAliasError::InvalidAlias(
            crate::truncate(new.alias, 160).to_owned(),
        ));
    }
    if !crate::arn::is_account_id(new.account_id) {
        return Err(RoleAliasError::InvalidAccountId(
            crate::truncate(new.account_id, 32).to_owned(),
        ));
    }
    if !is_valid_region(new.region) {
        return Err(RoleAliasError::InvalidRegion(
            crate::truncate(new.region, 64).to_owned(),
        ));
    }
    if snapshot.account(new.account_id).is_none() {
        return Err(RoleAliasError::NoSuchAccount(new.account_id.to_owned()));
    }
    let duration = new
        .credential_duration_seconds
        .unwrap_or(DEFAULT_CREDENTIAL_DURATION_SECONDS);
    if !(MIN_CREDENTIAL_DURATION_SECONDS..=MAX_CREDENTIAL_DURATION_SECONDS).contains(&duration) {
        return Err(RoleAliasError::DurationOutOfRange(duration));
    }
    let arn = crate::arn::Arn::parse(new.role_arn);
    let is_role_of_account = arn.as_ref().is_some_and(|a| {
        a.service == "iam"
            && a.region.is_empty()
            && a.account == new.account_id
            && a.resource.starts_with("role/")
    });
    if !is_role_of_account || !(20..=2048).contains(&new.role_arn.len()) {
        return Err(RoleAliasError::InvalidRoleArn {
            arn: crate::truncate(new.role_arn, 2048).to_owned(),
            account: new.account_id.to_owned(),
        });
    }
    let role = snapshot
        .role_by_arn(new.role_arn)
        .filter(|r| r.account_id == new.account_id)
        .ok_or_else(|| RoleAliasError::NoSuchRole(new.role_arn.to_owned()))?;
    if duration > role.max_session_duration {
        return Err(RoleAliasError::DurationExceedsRole {
            duration,
            max: role.max_session_duration,
            role: role.arn(),
        });
    }
    Ok(IotRoleAlias {
        account_id: new.account_id.to_owned(),
        region: new.region.to_owned(),
        alias: new.alias.to_owned(),
        role_arn: role.arn(),
        credential_duration_seconds: duration,
        created_at: now,
        updated_at: now,
    })
}

/// `mayfly iot role-alias create`: validate and insert; an existing alias
/// of the same name in the account is an error.
pub async fn create_role_alias(
    store: &dyn Store,
    new: &NewRoleAlias<'_>,
    now: u64,
) -> Result<IotRoleAlias, RoleAliasError> {
    let snapshot = Snapshot::from_rows(0, store.load_all().await?);
    let alias = validate_new_alias(&snapshot, new, now)?;
    match store.apply(vec![Mutation::insert(&alias)?]).await {
        Ok(_) => Ok(alias),
        Err(StoreError::AlreadyExists { .. }) => Err(RoleAliasError::AlreadyExists {
            alias: alias.alias,
            account: alias.account_id,
        }),
        Err(error) => Err(error.into()),
    }
}

/// `mayfly iot role-alias list`: the account's aliases, by name.
pub async fn list_role_aliases(
    store: &dyn Store,
    account_id: &str,
) -> Result<Vec<IotRoleAlias>, RoleAliasError> {
    if !crate::arn::is_account_id(account_id) {
        return Err(RoleAliasError::InvalidAccountId(
            crate::truncate(account_id, 32).to_owned(),
        ));
    }
    let mut aliases = Vec::new();
    for row in store.load_all().await? {
        if row.kind != IotRoleAlias::KIND {
            continue;
        }
        match mayfly_store::decode::<IotRoleAlias>(&row.value) {
            Ok(alias) if alias.account_id == account_id => aliases.push(alias),
            Ok(_) => {}
            Err(_) => tracing::warn!(key = %row.key, "skipping an unparseable role alias"),
        }
    }
    aliases.sort_by(|a, b| a.alias.cmp(&b.alias));
    Ok(aliases)
}

/// `mayfly iot role-alias delete`.
pub async fn delete_role_alias(
    store: &dyn Store,
    account_id: &str,
    alias: &str,
) -> Result<(), RoleAliasError> {
    if !is_valid_alias(alias) {
        return Err(RoleAliasError::InvalidAlias(
            crate::truncate(alias, 160).to_owned(),
        ));
    }
    let key = IotRoleAlias::storage_key(account_id, alias);
    match store
        .apply(vec![Mutation::delete::<IotRoleAlias>(key)])
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound { .. }) => Err(RoleAliasError::NotFound {
            alias: alias.to_owned(),
            account: account_id.to_owned(),
        }),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use mayfly_store::{Account, Role, StoredRow};

    use super::*;

    #[test]
    fn alias_names_follow_the_iot_pattern() {
        for good in ["a", "Edge-Cams", "x_y=z,w@v-1", &"a".repeat(128)] {
            assert!(is_valid_alias(good), "{good}");
        }
        for bad in [
            "",
            &"a".repeat(129),
            "has space",
            "slash/name",
            "dot.name",
            "é",
            "a:b",
        ] {
            assert!(!is_valid_alias(bad), "{bad}");
        }
    }

    fn row<E: Entity>(entity: &E) -> StoredRow {
        StoredRow {
            kind: E::KIND.to_owned(),
            key: entity.key(),
            value: serde_json::to_string(entity).unwrap(),
        }
    }

    fn snapshot(max_session_duration: u32) -> Snapshot {
        let role = Role {
            account_id: "111122223333".into(),
            name: "Cams".into(),
            path: "/devices/".into(),
            role_id: "AROAEXAMPLEEXAMPLE001".into(),
            created_at: 1,
            assume_role_policy: "{}".into(),
            trust_principal_ids: Default::default(),
            description: None,
            max_session_duration,
            tags: Vec::new(),
            permissions_boundary: None,
            inline_policies: Default::default(),
            attached_policies: Vec::new(),
            last_used: None,
        };
        let account = Account {
            id: "111122223333".into(),
            created_at: 1,
            alias: None,
        };
        Snapshot::from_rows(1, vec![row(&account), row(&role)])
    }

    fn new<'a>(alias: &'a str, role_arn: &'a str, duration: Option<u32>) -> NewRoleAlias<'a> {
        NewRoleAlias {
            account_id: "111122223333",
            region: "us-east-1",
            alias,
            role_arn,
            credential_duration_seconds: duration,
        }
    }

    const ROLE: &str = "arn:aws:iam::111122223333:role/devices/Cams";

    #[test]
    fn a_valid_alias_gets_the_default_duration_and_its_arn() {
        let alias = validate_new_alias(&snapshot(3600), &new("cams", ROLE, None), 42).unwrap();
        assert_eq!(alias.credential_duration_seconds, 3600);
        assert_eq!(alias.role_arn, ROLE);
        assert_eq!(alias.created_at, 42);
        assert_eq!(
            alias.arn(),
            "arn:aws:iot:us-east-1:111122223333:rolealias/cams"
        );
    }

    #[test]
    fn durations_outside_the_range_or_over_the_role_maximum_are_refused() {
        let s = snapshot(7200);
        assert!(matches!(
            validate_new_alias(&s, &new("cams", ROLE, Some(899)), 0),
            Err(RoleAliasError::DurationOutOfRange(899))
        ));
        assert!(matches!(
            validate_new_alias(&s, &new("cams", ROLE, Some(43_201)), 0),
            Err(RoleAliasError::DurationOutOfRange(43_201))
        ));
        let error = validate_new_alias(&s, &new("cams", ROLE, Some(7201)), 0).unwrap_err();
        assert_eq!(
            error.to_string(),
            "credential duration 7201 s exceeds the MaxSessionDuration (7200 s) of role `arn:aws:iam::111122223333:role/devices/Cams`"
        );
        assert_eq!(
            validate_new_alias(&s, &new("cams", ROLE, Some(7200)), 0)
                .unwrap()
                .credential_duration_seconds,
            7200
        );
        assert!(validate_new_alias(&s, &new("cams", ROLE, Some(900)), 0).is_ok());
    }

    #[test]
    fn the_role_must_exist_in_the_aliases_account() {
        let s = snapshot(3600);
        assert!(matches!(
            validate_new_alias(
                &s,
                &new("cams", "arn:aws:iam::111122223333:role/Nope", None),
                0
            ),
            Err(RoleAliasError::NoSuchRole(_))
        ));
        assert!(matches!(
            validate_new_alias(
                &s,
                &new("cams", "arn:aws:iam::444455556666:role/devices/Cams", None),
                0
            ),
            Err(RoleAliasError::InvalidRoleArn { .. })
        ));
        assert!(matches!(
            validate_new_alias(
                &s,
                &new("cams", "arn:aws:iam::111122223333:user/u", None),
                0
            ),
            Err(RoleAliasError::InvalidRoleArn { .. })
        ));
        let mut other_account = new("cams", ROLE, None);
        other_account.account_id = "999999999999";
        assert!(matches!(
            validate_new_alias(&s, &other_account, 0),
            Err(RoleAliasError::NoSuchAccount(_))
        ));
    }

    #[test]
    fn bad_names_and_regions_are_refused_with_the_rule() {
        let s = snapshot(3600);
        let error = validate_new_alias(&s, &new("no spaces", ROLE, None), 0).unwrap_err();
        assert_eq!(
            error.to_string(),
            "role alias `no spaces` is invalid: use 1-128 characters of letters, digits and `_=,@-`"
        );
        let mut bad_region = new("cams", ROLE, None);
        bad_region.region = "US East";
        assert!(matches!(
            validate_new_alias(&s, &bad_region, 0),
            Err(RoleAliasError::InvalidRegion(_))
        ));
    }
}
