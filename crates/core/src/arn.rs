//! ARNs of the IAM and STS entities (sts-api.md 1.1).

/// The partition Mayfly names itself with.
pub const PARTITION: &str = "aws";

/// The parts of an ARN: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`.
    pub partition: &'a str,
    /// `iam`, `sts`, `s3`, ...
    pub service: &'a str,
    /// Empty for IAM and STS.
    pub region: &'a str,
    /// Twelve digits, `aws` for AWS-managed policies, or empty.
    pub account: &'a str,
    /// Everything after the fifth colon, e.g. `role/path/name`.
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Split an ARN into its parts; `None` unless it has six colon-separated fields starting with `arn`.
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let arn = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        if arn.partition.is_empty() || arn.service.is_empty() {
            return None;
        }
        Some(arn)
    }

    /// For `role/path/name` (or `user/...`, `policy/...`): the entity type and
    /// the name after its path.
    pub fn typed_name(&self) -> Option<(&'a str, &'a str)> {
        let (kind, rest) = self.resource.split_once('/')?;
        let name = rest.rsplit('/').next()?;
        Some((kind, name))
    }

    /// For `role/path/name`: the path including both slashes (`/path/`), `/` when none.
    pub fn path(&self) -> Option<&'a str> {
        let (_, rest) = self.resource.split_once('/')?;
        match rest.rfind('/') {
            None => Some("/"),
            // INVARIANT: the resource starts with "kind/", so the slash before
            // `rest` is at index `kind.len()`.
            Some(end) => self
                .resource
                .get(self.resource.len() - rest.len() - 1..=self.resource.len() - rest.len() + end),
        }
    }
}

/// Whether `account` is twelve ASCII digits.
pub fn is_account_id(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:aws:iam::ACCOUNT:root`.
pub fn root_arn(account: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:root")
}

/// `arn:aws:iam::ACCOUNT:KIND{path}{name}` for users, roles, policies, groups.
pub fn iam_arn(account: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:{PARTITION}:iam::{account}:{kind}{path}{name}")
}

/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` (the role's path is dropped).
pub fn assumed_role_arn(account: &str, role_name: &str, session_name: &str) -> String {
    format!("arn:{PARTITION}:sts::{account}:assumed-role/{role_name}/{session_name}")
}

/// `arn:aws:sts::ACCOUNT:federated-user/NAME`.
pub fn federated_user_arn(account: &str, name: &str) -> String {
    format!("arn:{PARTITION}:sts::{account}:federated-user/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_role_arn_with_a_path() {
        let arn = Arn::parse("arn:aws:iam::123456789012:role/service-role/deploy").unwrap();
        assert_eq!(arn.account, "123456789012");
        assert_eq!(arn.typed_name(), Some(("role", "deploy")));
        assert_eq!(arn.path(), Some("/service-role/"));
    }

    #[test]
    fn a_role_arn_without_a_path_has_the_root_path() {
        let arn = Arn::parse("arn:aws:iam::123456789012:role/deploy").unwrap();
        assert_eq!(arn.path(), Some("/"));
    }

    #[test]
    fn rejects_text_that_is_not_an_arn() {
        assert!(Arn::parse("arn:aws:iam").is_none());
        assert!(Arn::parse("urn:aws:iam::1:role/x").is_none());
        assert!(Arn::parse("arn::iam::1:role/x").is_none());
    }
}
