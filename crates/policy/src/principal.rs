//! `Principal`/`NotPrincipal`: what entries may say and whom they name
//! (policy-evaluation.md §5, §8.3).

use crate::context::{PrincipalInfo, PrincipalKind};
use crate::error::{PolicyElement, PolicyError, SYNTAX_ERRORS};
use crate::json::Json;

/// How a resource (or trust) policy statement named the caller; decides
/// which implicit denies can still limit its grant (§8.3, §8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalGrant {
    /// `"*"` / `{"AWS": "*"}` (or an `Allow` with `NotPrincipal` not listing
    /// the caller \[choice]): same-account callers need nothing else (§8.3).
    Anyone,
    /// The account (`"ACCT"` or `arn:aws:iam::ACCT:root`): a delegation, the
    /// caller's identity policies must allow too (§5, §8.3).
    Account,
    /// The IAM user ARN (or `AIDA…` id), request by that user: not limited
    /// by identity policies or the boundary (§8.3).
    User,
    /// The exact session ARN (`assumed-role/R/s`, `federated-user/n`): not
    /// limited by anything but explicit denies (§8.3, §8.5).
    SessionArn,
    /// The role ARN (or `AROA…` id), request by a session of that role:
    /// replaces the identity allow but the boundary and session policies
    /// still limit it (§8.3).
    RoleArn,
    /// The user ARN, request by a GetFederationToken session of that user:
    /// limited by the boundary and session policies (§8.3).
    UserOfFederatedSession,
    /// The identity provider (`Federated`) during AssumeRoleWithWebIdentity/SAML.
    Federated,
    /// A service principal (`Service`).
    Service,
}

impl PrincipalGrant {
    /// Whether this grant alone allows a same-account request (§8.2 step 4):
    /// no identity, boundary or session policy needs to allow.
    pub fn is_direct(self) -> bool {
        matches!(
            self,
            Self::Anyone | Self::User | Self::SessionArn | Self::Federated | Self::Service
        )
    }

    /// Whether this grant stands in for the identity-policy allow in the same
    /// account (everything but the account delegation).
    pub fn replaces_identity_allow(self) -> bool {
        self != Self::Account
    }

    /// Preference when several statements grant: direct, then limited, then
    /// delegation; within a class the more specific name first, so the grant
    /// reported never depends on statement or entry order (a total order).
    pub(crate) fn strength(self) -> u8 {
        let class = if self.is_direct() {
            2
        } else if self.replaces_identity_allow() {
            1
        } else {
            0
        };
        let specificity = match self {
            Self::SessionArn => 5,
            Self::User => 4,
            Self::Federated => 3,
            Self::Service => 2,
            Self::RoleArn | Self::UserOfFederatedSession => 1,
            Self::Anyone | Self::Account => 0,
        };
        class * 8 + specificity
    }
}

/// One compiled principal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Anyone,
    Account(String),
    User(String),
    Role(String),
    Session(String),
    UniqueId(String),
    Federated(String),
    Service(String),
    CanonicalUser(String),
}

/// A compiled `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principals {
    entries: Vec<Entry>,
}

impl Principals {
    /// Parse the element's JSON value (§1 grammar, §5 rules).
    pub(crate) fn parse(value: &Json, element: PolicyElement) -> Result<Principals, PolicyError> {
        let mut entries = Vec::new();
        match value {
            Json::String(s) if s == "*" => entries.push(Entry::Anyone),
            Json::Object(members) if !members.is_empty() => {
                for (kind, values) in members {
                    for text in string_list(values, element)? {
                        entries.push(parse_entry(kind, text, element)?);
                    }
                }
            }
            other => {
                return Err(PolicyError::syntax(
                    element,
                    format!(
                        "`{element}` must be \"*\" or an object of principal lists, not a {}",
                        other.type_name()
                    ),
                ));
            }
        }
        Ok(Principals { entries })
    }

    /// The strongest way any entry names `p`, `None` if none does.
    pub(crate) fn grant_for(&self, p: &PrincipalInfo) -> Option<PrincipalGrant> {
        self.entries
            .iter()
            .filter_map(|entry| entry_grant(entry, p))
            .max_by_key(|g| g.strength())
    }
}

fn string_list(value: &Json, element: PolicyElement) -> Result<Vec<&str>, PolicyError> {
    let bad = || {
        PolicyError::syntax(
            element,
            format!("`{element}` values must be a string or a non-empty list of strings"),
        )
    };
    match value {
        Json::String(s) => Ok(vec![s.as_str()]),
        Json::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Json::String(s) => Ok(s.as_str()),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

fn invalid(kind: &str, text: &str, element: PolicyElement, why: &str) -> PolicyError {
    PolicyError::malformed(
        element,
        &format!("Invalid principal in policy: \"{kind}\":\"{text}\""),
        format!("`{element}` entry `{kind}`: `{text}` {why}"),
    )
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_unique_id(s: &str) -> bool {
    (s.starts_with("AIDA") || s.starts_with("AROA"))
        && s.len() >= 16
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn parse_entry(kind: &str, text: &str, element: PolicyElement) -> Result<Entry, PolicyError> {
    let wildcard = text != "*" && text.contains('*');
    if wildcard {
        return Err(invalid(kind, text, element, "has a partial wildcard"));
    }
    match kind {
        "AWS" => {
            parse_aws_entry(text).ok_or_else(|| invalid(kind, text, element, "is not a principal"))
        }
        "Federated" | "Service" | "CanonicalUser" if text.is_empty() || text == "*" => {
            Err(invalid(kind, text, element, "is not a principal"))
        }
        "Federated" => Ok(Entry::Federated(text.to_owned())),
        "Service" => Ok(Entry::Service(text.to_owned())),
        "CanonicalUser" => Ok(Entry::CanonicalUser(text.to_owned())),
        other => Err(PolicyError::malformed(
            element,
            SYNTAX_ERRORS,
            format!("`{element}` has unknown principal type `{other}`"),
        )),
    }
}

fn parse_aws_entry(text: &str) -> Option<Entry> {
    if text == "*" {
        return Some(Entry::Anyone);
    }
    if is_account_id(text) {
        return Some(Entry::Account(text.to_owned()));
    }
    if is_unique_id(text) {
        return Some(Entry::UniqueId(text.to_owned()));
    }
    let mut parts = text.splitn(6, ':');
    let (arn, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if arn != "arn" || partition.is_empty() || !region.is_empty() || !is_account_id(account) {
        return None;
    }
    let named = |prefix: &str| {
        resource
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty())
    };
    match service {
        "iam" if resource == "root" => Some(Entry::Account(account.to_owned())),
        "iam" if named("user/") => Some(Entry::User(text.to_owned())),
        "iam" if named("role/") => Some(Entry::Role(text.to_owned())),
        "sts"
            if resource.strip_prefix("assumed-role/").is_some_and(|rest| {
                rest.split('/').count() == 2 && !rest.split('/').any(str::is_empty)
            }) =>
        {
            Some(Entry::Session(text.to_owned()))
        }
        "sts" if named("federated-user/") => Some(Entry::Session(text.to_owned())),
        _ => None,
    }
}

fn entry_grant(entry: &Entry, p: &PrincipalInfo) -> Option<PrincipalGrant> {
    let kind = p.kind;
    let grant = match entry {
        Entry::Anyone => PrincipalGrant::Anyone,
        Entry::Account(a) if p.is_iam_identity() && p.account_id == *a => PrincipalGrant::Account,
        Entry::User(arn) if kind == PrincipalKind::User && p.arn == *arn => PrincipalGrant::User,
        Entry::User(arn)
            if kind == PrincipalKind::FederatedUser && p.user_arn.as_deref() == Some(arn) =>
        {
            PrincipalGrant::UserOfFederatedSession
        }
        Entry::Role(arn)
            if kind == PrincipalKind::AssumedRole && p.role_arn.as_deref() == Some(arn) =>
        {
            PrincipalGrant::RoleArn
        }
        Entry::Session(arn) if p.is_session() && p.arn == *arn => PrincipalGrant::SessionArn,
        Entry::UniqueId(id) if p.unique_id.as_deref() == Some(id) => match kind {
            PrincipalKind::User => PrincipalGrant::User,
            PrincipalKind::FederatedUser => PrincipalGrant::UserOfFederatedSession,
            PrincipalKind::AssumedRole => PrincipalGrant::RoleArn,
            _ => return None,
        },
        Entry::Federated(x)
            if kind == PrincipalKind::WebIdentity && p.federated_provider.as_deref() == Some(x) =>
        {
            PrincipalGrant::Federated
        }
        Entry::Service(x) if kind == PrincipalKind::Service && p.service.as_deref() == Some(x) => {
            PrincipalGrant::Service
        }
        // S3 canonical users are not modelled: such entries name nobody.
        _ => return None,
    };
    Some(grant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Principals, PolicyError> {
        Principals::parse(&Json::parse(text).unwrap(), PolicyElement::Principal)
    }

    const ACCT: &str = "111122223333";

    fn session() -> PrincipalInfo {
        PrincipalInfo::assumed_role(
            "arn:aws:sts::111122223333:assumed-role/R/s1",
            "arn:aws:iam::111122223333:role/path/R",
            ACCT,
            "AROAEXAMPLEEXAMPLE01",
        )
    }

    #[test]
    fn role_arn_names_every_session_of_the_role() {
        let p = parse(r#"{"AWS":"arn:aws:iam::111122223333:role/path/R"}"#).unwrap();
        assert_eq!(p.grant_for(&session()), Some(PrincipalGrant::RoleArn));
        let p = parse(r#"{"AWS":"AROAEXAMPLEEXAMPLE01"}"#).unwrap();
        assert_eq!(p.grant_for(&session()), Some(PrincipalGrant::RoleArn));
    }

    #[test]
    fn session_arn_names_only_that_session() {
        let p = parse(r#"{"AWS":["arn:aws:sts::111122223333:assumed-role/R/s2"]}"#).unwrap();
        assert_eq!(p.grant_for(&session()), None);
        let p = parse(r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/R/s1"}"#).unwrap();
        assert_eq!(p.grant_for(&session()), Some(PrincipalGrant::SessionArn));
    }

    #[test]
    fn strongest_grant_wins_among_several_entries() {
        let p = parse(r#"{"AWS":["111122223333","arn:aws:sts::111122223333:assumed-role/R/s1"]}"#)
            .unwrap();
        assert_eq!(p.grant_for(&session()), Some(PrincipalGrant::SessionArn));
    }

    #[test]
    fn equally_strong_grants_report_the_more_specific_one_in_any_order() {
        for text in [
            r#"{"AWS":["*","arn:aws:sts::111122223333:assumed-role/R/s1"]}"#,
            r#"{"AWS":["arn:aws:sts::111122223333:assumed-role/R/s1","*"]}"#,
        ] {
            let p = parse(text).unwrap();
            assert_eq!(p.grant_for(&session()), Some(PrincipalGrant::SessionArn));
        }
        assert!(PrincipalGrant::User.strength() > PrincipalGrant::Anyone.strength());
        assert!(PrincipalGrant::Anyone.strength() > PrincipalGrant::RoleArn.strength());
        assert!(PrincipalGrant::RoleArn.strength() > PrincipalGrant::Account.strength());
    }

    #[test]
    fn account_and_root_arn_name_the_account_but_not_anonymous_callers() {
        let p = parse(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#).unwrap();
        assert_eq!(p.grant_for(&session()), Some(PrincipalGrant::Account));
        assert_eq!(p.grant_for(&PrincipalInfo::anonymous()), None);
        assert_eq!(
            parse(r#""*""#)
                .unwrap()
                .grant_for(&PrincipalInfo::anonymous()),
            Some(PrincipalGrant::Anyone)
        );
    }

    #[test]
    fn rejects_partial_wildcards_and_unknown_forms() {
        for bad in [
            r#"{"AWS":"arn:aws:iam::111122223333:user/*"}"#,
            r#"{"AWS":"arn:aws:iam::111122223333:group/g"}"#,
            r#"{"AWS":"alice"}"#,
            r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/R"}"#,
            r#"{"Federated":""}"#,
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("Invalid principal in policy: \""),
                "{bad}: {err}"
            );
        }
        for bad in [
            r#"{"Bogus":"x"}"#,
            r#"{}"#,
            r#""alice""#,
            r#"{"AWS":[]}"#,
            r#"{"AWS":1}"#,
        ] {
            assert_eq!(parse(bad).unwrap_err().to_string(), SYNTAX_ERRORS, "{bad}");
        }
    }
}
