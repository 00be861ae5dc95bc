//! The credential scope `date8/region/service/aws4_request` (§3).

use std::fmt;
use std::time::SystemTime;

use crate::timestamp::{format_amz_date, is_valid_date8};

/// The scope terminator, the fifth part of every SigV4 credential (§3).
pub const SCOPE_TERMINATOR: &str = "aws4_request";

/// A credential scope: the date, region and service a signature is bound to (§3).
///
/// Displays as `20240115/us-east-1/sts/aws4_request`, the `CredentialScope` line of the string to
/// sign (§6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialScope {
    date: String,
    region: String,
    service: String,
}

/// A credential scope part was empty or had a character the grammar of §2 excludes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "credential scope `{date}/{region}/{service}` is invalid: the date must be a real `YYYYMMDD` \
     date, region and service non-empty without `/`, `,` or whitespace"
)]
pub struct InvalidCredentialScope {
    /// The date as given.
    pub date: String,
    /// The region as given.
    pub region: String,
    /// The service as given.
    pub service: String,
}

impl CredentialScope {
    /// A scope from its parts; the date must be a real `YYYYMMDD` date and region and service must
    /// be non-empty without `/`, `,` or whitespace (§2 `region`, `service`).
    pub fn new(date: &str, region: &str, service: &str) -> Result<Self, InvalidCredentialScope> {
        if is_valid_date8(date) && is_scope_word(region) && is_scope_word(service) {
            Ok(Self {
                date: date.to_owned(),
                region: region.to_owned(),
                service: service.to_owned(),
            })
        } else {
            Err(InvalidCredentialScope {
                date: date.to_owned(),
                region: region.to_owned(),
                service: service.to_owned(),
            })
        }
    }

    /// The scope a signer uses at `time`: the date is the UTC day of `time` (§3, §7).
    pub fn for_time(
        time: SystemTime,
        region: &str,
        service: &str,
    ) -> Result<Self, InvalidCredentialScope> {
        let stamp = format_amz_date(time);
        Self::new(stamp.get(..8).unwrap_or(""), region, service)
    }

    /// The scope date, `YYYYMMDD`.
    pub fn date(&self) -> &str {
        &self.date
    }

    /// The region the client signed for, e.g. `us-east-1`.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service the client signed for, e.g. `sts` or `s3`.
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl fmt::Display for CredentialScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{SCOPE_TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// `1*( any char except "/" , "," , WSP )` (§2 `region`, `service`).
pub(crate) fn is_scope_word(value: &str) -> bool {
    !value.is_empty()
        && !value
            .chars()
            .any(|c| c == '/' || c == ',' || c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_the_string_to_sign_line() {
        let scope = CredentialScope::new("20240115", "us-east-1", "sts").unwrap();
        assert_eq!(scope.to_string(), "20240115/us-east-1/sts/aws4_request");
        assert_eq!(
            (scope.date(), scope.region(), scope.service()),
            ("20240115", "us-east-1", "sts")
        );
    }

    #[test]
    fn rejects_invalid_scope_parts() {
        assert!(CredentialScope::new("20240132", "us-east-1", "sts").is_err());
        assert!(CredentialScope::new("20240115", "", "sts").is_err());
        assert!(CredentialScope::new("20240115", "us east", "sts").is_err());
        assert!(CredentialScope::new("20240115", "us-east-1", "s/3").is_err());
        assert!(CredentialScope::new("20240115", "us-east-1", "s,3").is_err());
    }

    #[test]
    fn takes_the_utc_day_of_the_signing_time() {
        let t = crate::parse_amz_date("20240115T235959Z").unwrap();
        let scope = CredentialScope::for_time(t, "eu-west-1", "iam").unwrap();
        assert_eq!(scope.date(), "20240115");
    }
}
