//! Model constraint checks with AWS's `ValidationError` wording.
//!
//! AWS reports every violated constraint of a request at once, in one 400
//! `ValidationError` (`sts-api.md` §2.3):
//!
//! ```text
//! 1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2
//! 2 validation errors detected: Value 'x' at 'roleSessionName' failed to …; Value '5' at 'durationSeconds' failed to …
//! ```
//!
//! [`ValidationErrors`] collects the violations in the order the action checks
//! them; [`Pattern`] holds the STS/IAM model patterns, matched without a regex
//! engine and printed with the exact pattern text AWS shows.

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::error::AwsError;

/// How the offending value appears in a message.
enum Shown<'a> {
    /// `Value '{value}' at …`
    Value(&'a str),
    /// `Value null at …` (required member missing).
    Null,
    /// `Value at …`: the value is not echoed (sensitive members, whole lists),
    /// the form AWS uses for members marked sensitive.
    Hidden,
}

/// The constraint violations of one request, in AWS's wording.
///
/// `member` arguments are model member names or paths; each `.`-separated
/// segment gets a lower-case first letter, so `RoleSessionName` and
/// `roleSessionName` both print as `roleSessionName`, and `Tags.1.member.Key`
/// as `tags.1.member.key` (see [`list_member_path`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    messages: Vec<String>,
    /// Members whose value did not even parse as the member's type; a later
    /// `required` check on them is not reported a second time.
    unparsable: Vec<String>,
}

impl ValidationErrors {
    /// No violations yet.
    pub fn new() -> Self {
        ValidationErrors::default()
    }

    /// Records `Value null at '{member}' failed to satisfy constraint: Member
    /// must not be null` when `value` is `None`; passes `value` through.
    ///
    /// A member whose value was present but unparsable (see
    /// [`crate::QueryParams::integer`]) is not reported again as null.
    pub fn required<T>(&mut self, member: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            let path = member_path(member);
            if !self.unparsable.contains(&path) {
                self.push(&path, Shown::Null, "Member must not be null");
            }
        }
        value
    }

    /// Checks `min <= length(value) <= max`, printing `Member must have length
    /// greater than or equal to {min}` / `less than or equal to {max}`.
    ///
    /// Length is counted in UTF-16 code units, as Java's `String.length()`
    /// that AWS's validators use [choice]; for the BMP it equals the number of
    /// characters.
    pub fn length(&mut self, member: &str, value: &str, min: usize, max: usize) {
        self.check_length(member, Shown::Value(value), value, min, max);
    }

    /// Like [`ValidationErrors::length`] for sensitive members
    /// (`WebIdentityToken`, `SAMLAssertion`, secrets): the message omits the
    /// value (`Value at 'webIdentityToken' failed to satisfy constraint: …`).
    pub fn sensitive_length(&mut self, member: &str, value: &str, min: usize, max: usize) {
        self.check_length(member, Shown::Hidden, value, min, max);
    }

    /// Checks a list's item count (`Tags` ≤ 50, `PolicyArns` ≤ 10, …) with
    /// `Member must have length less than or equal to {max}`. The items are
    /// not echoed: `Value at 'tags' failed to satisfy constraint: …` [choice].
    pub fn list_length(&mut self, member: &str, len: usize, min: usize, max: usize) {
        if len < min {
            let constraint = format!("Member must have length greater than or equal to {min}");
            self.push(&member_path(member), Shown::Hidden, &constraint);
        } else if len > max {
            let constraint = format!("Member must have length less than or equal to {max}");
            self.push(&member_path(member), Shown::Hidden, &constraint);
        }
    }

    /// Checks `min <= value <= max`, printing `Member must have value greater
    /// than or equal to {min}` / `less than or equal to {max}`.
    pub fn range(&mut self, member: &str, value: i64, min: i64, max: i64) {
        let constraint = if value < min {
            format!("Member must have value greater than or equal to {min}")
        } else if value > max {
            format!("Member must have value less than or equal to {max}")
        } else {
            return;
        };
        let text = value.to_string();
        self.push(&member_path(member), Shown::Value(&text), &constraint);
    }

    /// Checks that the whole of `value` matches the model pattern, printing
    /// `Member must satisfy regular expression pattern: {pattern text}`.
    pub fn pattern(&mut self, member: &str, value: &str, pattern: Pattern) {
        self.check_pattern(member, value, Shown::Value(value), pattern);
    }

    /// Like [`ValidationErrors::pattern`] for sensitive members (MFA codes):
    /// the message omits the value.
    pub fn sensitive_pattern(&mut self, member: &str, value: &str, pattern: Pattern) {
        self.check_pattern(member, value, Shown::Hidden, pattern);
    }

    fn check_pattern(&mut self, member: &str, value: &str, shown: Shown<'_>, pattern: Pattern) {
        if !pattern.matches(value) {
            let constraint = format!(
                "Member must satisfy regular expression pattern: {}",
                pattern.text()
            );
            self.push(&member_path(member), shown, &constraint);
        }
    }

    /// Checks that `value` is one of the model's enum values, printing
    /// `Member must satisfy enum value set: [A, B]`.
    pub fn enum_value(&mut self, member: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            let constraint = format!(
                "Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            );
            self.push(&member_path(member), Shown::Value(value), &constraint);
        }
    }

    /// Records that `value` given for `member` does not parse as the member's
    /// type (`constraint` says which, e.g. `Member must be an integer`).
    pub(crate) fn unparsable(&mut self, member: &str, value: &str, constraint: &str) {
        let path = member_path(member);
        self.push(&path, Shown::Value(value), constraint);
        self.unparsable.push(path);
    }

    /// Whether no violation was recorded.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Number of violations recorded.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// The individual violations (`Value '…' at '…' failed to satisfy constraint: …`).
    pub fn violations(&self) -> &[String] {
        &self.messages
    }

    /// The full AWS message: `1 validation error detected: …` or
    /// `N validation errors detected: …; …`.
    pub fn message(&self) -> String {
        let count = self.messages.len();
        let noun = if count == 1 { "error" } else { "errors" };
        format!(
            "{count} validation {noun} detected: {}",
            self.messages.join("; ")
        )
    }

    /// `Ok(())` when empty, else the 400 `ValidationError` to return.
    pub fn into_result(self) -> Result<(), AwsError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(AwsError::validation(&self))
        }
    }

    fn check_length(
        &mut self,
        member: &str,
        shown: Shown<'_>,
        value: &str,
        min: usize,
        max: usize,
    ) {
        let len = value.encode_utf16().count();
        let constraint = if len < min {
            format!("Member must have length greater than or equal to {min}")
        } else if len > max {
            format!("Member must have length less than or equal to {max}")
        } else {
            return;
        };
        self.push(&member_path(member), shown, &constraint);
    }

    fn push(&mut self, path: &str, shown: Shown<'_>, constraint: &str) {
        let message = match shown {
            Shown::Value(value) => {
                format!("Value '{value}' at '{path}' failed to satisfy constraint: {constraint}")
            }
            Shown::Null => {
                format!("Value null at '{path}' failed to satisfy constraint: {constraint}")
            }
            Shown::Hidden => {
                format!("Value at '{path}' failed to satisfy constraint: {constraint}")
            }
        };
        self.messages.push(message);
    }
}

/// The member path AWS prints: each `.`-separated segment with a lower-case
/// first letter (`RoleSessionName` → `roleSessionName`,
/// `Tags.1.member.Key` → `tags.1.member.key`).
pub fn member_path(member: &str) -> String {
    let mut out = String::with_capacity(member.len());
    for (i, segment) in member.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        let mut chars = segment.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_lowercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// The path AWS prints for an item of a list (1-based `index`):
/// `tags.1.member.key` for a structure field, `transitiveTagKeys.1.member`
/// for a plain item (`sts-api.md` §2.3).
pub fn list_member_path(list: &str, index: usize, field: Option<&str>) -> String {
    match field {
        Some(field) => member_path(&format!("{list}.{index}.member.{field}")),
        None => member_path(&format!("{list}.{index}.member")),
    }
}

/// The character-class patterns of the STS and IAM models, matched against
/// the whole value without a regex engine.
///
/// `\w` is ASCII `[A-Za-z0-9_]` and `\d` ASCII `[0-9]` (Java's defaults,
/// `sts-api.md` §2.3); `\p{L}`, `\p{Z}`, `\p{N}` are the Unicode general
/// category groups Letter, Separator and Number. Patterns ending in `*`
/// accept the empty string (the length check rejects it where needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// `[\w+=,.@-]*`: STS `RoleSessionName`, `SourceIdentity`, and
    /// `GetFederationToken` `Name`.
    RoleSessionName,
    /// `[\w+=,.@:\/-]*`: STS `ExternalId`.
    ExternalId,
    /// `[\w+=/:,.@-]*`: STS/IAM MFA `SerialNumber`.
    SerialNumber,
    /// `[\d]*`: STS `TokenCode`.
    TokenCode,
    /// `[\w+=/:,.@-]+`: IAM MFA `SerialNumber` (non-empty, unlike STS's).
    IamSerialNumber,
    /// `[\d]+`: IAM `AuthenticationCode1`/`AuthenticationCode2`.
    AuthenticationCode,
    /// `[\w]*`: STS `GetAccessKeyInfo` `AccessKeyId`.
    StsAccessKeyId,
    /// `[\w]+`: IAM access key ids and unique ids (`AIDA…`, `AROA…`).
    AccessKeyId,
    /// `[\w+=,.@-]+`: IAM user, role, group, policy, instance-profile and
    /// inline-policy names.
    Name,
    /// `[\w._-]+`: IAM SAML provider `Name`.
    SamlProviderName,
    /// `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`: IAM user/role/group/MFA/
    /// instance-profile `Path`.
    Path,
    /// `((/[A-Za-z0-9\.,\+@=_-]+)*)/`: IAM managed policy `Path`.
    PolicyPath,
    /// `\u002F[\u0021-\u007F]*`: IAM `PathPrefix` filters of `List*` actions.
    PathPrefix,
    /// `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`: tag keys (STS session tags, IAM tags,
    /// `TransitiveTagKeys`, `TagKeys`).
    TagKey,
    /// `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`: tag values.
    TagValue,
    /// `[\u0009\u000A\u000D\u0020-\u00FF]+`: IAM `PolicyDocument` and STS
    /// session `Policy`.
    PolicyDocument,
    /// `[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*`: IAM role and policy
    /// `Description`.
    Description,
    /// `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`: IAM policy `VersionId`.
    PolicyVersionId,
}

impl Pattern {
    /// The pattern exactly as AWS prints it in validation messages.
    pub fn text(self) -> &'static str {
        match self {
            Pattern::RoleSessionName => r"[\w+=,.@-]*",
            Pattern::ExternalId => r"[\w+=,.@:\/-]*",
            Pattern::SerialNumber => r"[\w+=/:,.@-]*",
            Pattern::TokenCode => r"[\d]*",
            Pattern::IamSerialNumber => r"[\w+=/:,.@-]+",
            Pattern::AuthenticationCode => r"[\d]+",
            Pattern::StsAccessKeyId => r"[\w]*",
            Pattern::AccessKeyId => r"[\w]+",
            Pattern::Name => r"[\w+=,.@-]+",
            Pattern::SamlProviderName => r"[\w._-]+",
            Pattern::Path => r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
            Pattern::PolicyPath => r"((/[A-Za-z0-9\.,\+@=_-]+)*)/",
            Pattern::PathPrefix => r"\u002F[\u0021-\u007F]*",
            Pattern::TagKey => r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+",
            Pattern::TagValue => r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*",
            Pattern::PolicyDocument => r"[\u0009\u000A\u000D\u0020-\u00FF]+",
            Pattern::Description => r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*",
            Pattern::PolicyVersionId => r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?",
        }
    }

    /// Whether the whole of `value` matches the pattern.
    pub fn matches(self, value: &str) -> bool {
        match self {
            Pattern::RoleSessionName => all(value, |c| word(c) || "+=,.@-".contains(c)),
            Pattern::ExternalId => all(value, |c| word(c) || "+=,.@:/-".contains(c)),
            Pattern::SerialNumber => all(value, |c| word(c) || "+=/:,.@-".contains(c)),
            Pattern::TokenCode => all(value, |c| c.is_ascii_digit()),
            Pattern::IamSerialNumber => {
                !value.is_empty() && all(value, |c| word(c) || "+=/:,.@-".contains(c))
            }
            Pattern::AuthenticationCode => !value.is_empty() && all(value, |c| c.is_ascii_digit()),
            Pattern::StsAccessKeyId => all(value, word),
            Pattern::AccessKeyId => !value.is_empty() && all(value, word),
            Pattern::Name => !value.is_empty() && all(value, |c| word(c) || "+=,.@-".contains(c)),
            Pattern::SamlProviderName => {
                !value.is_empty() && all(value, |c| word(c) || "._-".contains(c))
            }
            Pattern::Path => matches_path(value),
            Pattern::PolicyPath => matches_policy_path(value),
            Pattern::PathPrefix => value
                .strip_prefix('/')
                .is_some_and(|rest| all(rest, |c| ('\u{21}'..='\u{7F}').contains(&c))),
            Pattern::TagKey => !value.is_empty() && all(value, tag_char),
            Pattern::TagValue => all(value, tag_char),
            Pattern::PolicyDocument => {
                !value.is_empty()
                    && all(value, |c| {
                        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FF}')
                    })
            }
            Pattern::Description => all(
                value,
                |c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{A1}'..='\u{FF}'),
            ),
            Pattern::PolicyVersionId => matches_policy_version_id(value),
        }
    }
}

fn all(value: &str, accept: impl Fn(char) -> bool) -> bool {
    value.chars().all(accept)
}

/// `\w` in AWS patterns: ASCII letters, digits and `_`.
fn word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// One character of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn tag_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || "_.:/=+-@ ".contains(c);
    }
    matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter
            | GeneralCategoryGroup::Number
            | GeneralCategoryGroup::Separator
    )
}

/// `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`.
fn matches_path(value: &str) -> bool {
    if value == "/" {
        return true;
    }
    value
        .strip_prefix('/')
        .and_then(|rest| rest.strip_suffix('/'))
        .is_some_and(|middle| {
            !middle.is_empty() && all(middle, |c| ('\u{21}'..='\u{7E}').contains(&c))
        })
}

/// `((/[A-Za-z0-9\.,\+@=_-]+)*)/`: `/`, or `/seg/…/seg/` with non-empty segments.
fn matches_policy_path(value: &str) -> bool {
    let Some(body) = value.strip_suffix('/') else {
        return false;
    };
    if body.is_empty() {
        return true;
    }
    let Some(segments) = body.strip_prefix('/') else {
        return false;
    };
    segments.split('/').all(|segment| {
        !segment.is_empty()
            && all(segment, |c| {
                c.is_ascii_alphanumeric() || ".,+@=_-".contains(c)
            })
    })
}

/// `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`.
fn matches_policy_version_id(value: &str) -> bool {
    let Some(rest) = value.strip_prefix('v') else {
        return false;
    };
    let (number, suffix) = match rest.split_once('.') {
        Some((number, suffix)) => (number, Some(suffix)),
        None => (rest, None),
    };
    let number_ok = number.starts_with(|c: char| ('1'..='9').contains(&c))
        && all(number, |c| c.is_ascii_digit());
    let suffix_ok = suffix.is_none_or(|s| all(s, |c| c.is_ascii_alphanumeric() || c == '-'));
    number_ok && suffix_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_length_error_reads_as_the_reference_example() {
        let mut v = ValidationErrors::new();
        v.length("RoleSessionName", "x", 2, 64);
        assert_eq!(
            v.message(),
            "1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy \
             constraint: Member must have length greater than or equal to 2"
        );
    }

    #[test]
    fn too_long_value_reports_the_maximum() {
        let mut v = ValidationErrors::new();
        let long = "a".repeat(65);
        v.length("roleSessionName", &long, 2, 64);
        assert_eq!(
            v.violations(),
            [format!(
                "Value '{long}' at 'roleSessionName' failed to satisfy constraint: \
                 Member must have length less than or equal to 64"
            )]
        );
    }

    #[test]
    fn lengths_at_the_bounds_pass() {
        let mut v = ValidationErrors::new();
        v.length("RoleSessionName", "ab", 2, 64);
        v.length("RoleSessionName", &"a".repeat(64), 2, 64);
        v.length("TagValue", "", 0, 256);
        assert!(v.is_empty());
        assert_eq!(v.into_result(), Ok(()));
    }

    #[test]
    fn length_counts_utf16_units_like_java() {
        let mut v = ValidationErrors::new();
        // U+1F600 is two UTF-16 units: 2 characters of length 4 > 3.
        v.length("Key", "\u{1F600}\u{1F600}", 1, 3);
        assert_eq!(v.len(), 1);
        let mut ok = ValidationErrors::new();
        ok.length("Key", "ééé", 1, 3);
        assert!(ok.is_empty());
    }

    #[test]
    fn required_missing_reads_value_null() {
        let mut v = ValidationErrors::new();
        let got: Option<String> = v.required("RoleArn", None);
        assert_eq!(got, None);
        assert_eq!(
            v.message(),
            "1 validation error detected: Value null at 'roleArn' failed to satisfy \
             constraint: Member must not be null"
        );
    }

    #[test]
    fn required_present_passes_the_value_through() {
        let mut v = ValidationErrors::new();
        assert_eq!(v.required("RoleArn", Some(5)), Some(5));
        assert!(v.is_empty());
    }

    #[test]
    fn range_errors_name_both_bounds() {
        let mut v = ValidationErrors::new();
        v.range("DurationSeconds", 899, 900, 43200);
        v.range("DurationSeconds", 43201, 900, 43200);
        v.range("DurationSeconds", 900, 900, 43200);
        v.range("DurationSeconds", 43200, 900, 43200);
        assert_eq!(
            v.violations(),
            [
                "Value '899' at 'durationSeconds' failed to satisfy constraint: \
                 Member must have value greater than or equal to 900",
                "Value '43201' at 'durationSeconds' failed to satisfy constraint: \
                 Member must have value less than or equal to 43200",
            ]
        );
    }

    #[test]
    fn several_errors_are_counted_and_joined_with_semicolons() {
        let mut v = ValidationErrors::new();
        v.length("RoleSessionName", "a b", 2, 64);
        v.pattern("RoleSessionName", "a b", Pattern::RoleSessionName);
        v.range("DurationSeconds", 60, 900, 43200);
        let _: Option<&str> = v.required("RoleArn", None);
        assert_eq!(
            v.message(),
            "3 validation errors detected: \
             Value 'a b' at 'roleSessionName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\w+=,.@-]*; \
             Value '60' at 'durationSeconds' failed to satisfy constraint: \
             Member must have value greater than or equal to 900; \
             Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
        );
        let err = v.into_result().unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert_eq!(err.status, 400);
        assert!(err.message.starts_with("3 validation errors detected: "));
    }

    #[test]
    fn pattern_message_prints_the_exact_aws_pattern_text() {
        let mut v = ValidationErrors::new();
        v.pattern("Policy", "\u{100}", Pattern::PolicyDocument);
        assert_eq!(
            v.violations(),
            [
                "Value '\u{100}' at 'policy' failed to satisfy constraint: Member must satisfy \
              regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
            ]
        );
    }

    #[test]
    fn sensitive_pattern_does_not_echo_the_value() {
        let mut v = ValidationErrors::new();
        v.sensitive_pattern("AuthenticationCode1", "12a456", Pattern::AuthenticationCode);
        assert_eq!(
            v.message(),
            "1 validation error detected: Value at 'authenticationCode1' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\d]+"
        );
        v.sensitive_pattern("AuthenticationCode2", "123456", Pattern::AuthenticationCode);
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn sensitive_length_does_not_echo_the_value() {
        let mut v = ValidationErrors::new();
        v.sensitive_length("WebIdentityToken", "abc", 4, 20000);
        assert_eq!(
            v.violations(),
            ["Value at 'webIdentityToken' failed to satisfy constraint: \
              Member must have length greater than or equal to 4"]
        );
        assert!(!v.message().contains("abc"));
    }

    #[test]
    fn list_length_checks_item_counts() {
        let mut v = ValidationErrors::new();
        v.list_length("Tags", 51, 0, 50);
        v.list_length("ProvidedContexts", 0, 1, 5);
        v.list_length("Tags", 50, 0, 50);
        assert_eq!(
            v.violations(),
            [
                "Value at 'tags' failed to satisfy constraint: \
                 Member must have length less than or equal to 50",
                "Value at 'providedContexts' failed to satisfy constraint: \
                 Member must have length greater than or equal to 1",
            ]
        );
    }

    #[test]
    fn enum_values_list_the_allowed_set() {
        let mut v = ValidationErrors::new();
        v.enum_value(
            "AssertionEncryptionMode",
            "Required",
            &["Required", "Allowed"],
        );
        assert!(v.is_empty());
        v.enum_value("AssertionEncryptionMode", "nope", &["Required", "Allowed"]);
        assert_eq!(
            v.violations(),
            [
                "Value 'nope' at 'assertionEncryptionMode' failed to satisfy constraint: \
              Member must satisfy enum value set: [Required, Allowed]"
            ]
        );
    }

    #[test]
    fn unparsable_members_are_not_reported_null_again() {
        let mut v = ValidationErrors::new();
        v.unparsable("DurationSeconds", "abc", "Member must be an integer");
        let _: Option<i64> = v.required("DurationSeconds", None);
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn member_paths_lowercase_each_segment() {
        assert_eq!(member_path("RoleSessionName"), "roleSessionName");
        assert_eq!(member_path("roleArn"), "roleArn");
        assert_eq!(member_path("Tags.1.member.Key"), "tags.1.member.key");
        assert_eq!(member_path(""), "");
        assert_eq!(
            list_member_path("Tags", 3, Some("Value")),
            "tags.3.member.value"
        );
        assert_eq!(
            list_member_path("TransitiveTagKeys", 1, None),
            "transitiveTagKeys.1.member"
        );
        assert_eq!(
            list_member_path("PolicyArns", 2, Some("arn")),
            "policyArns.2.member.arn"
        );
    }

    #[test]
    fn word_patterns_accept_their_punctuation_only() {
        assert!(Pattern::RoleSessionName.matches("ci-run_42+=,.@"));
        assert!(Pattern::RoleSessionName.matches(""));
        assert!(!Pattern::RoleSessionName.matches("a b"));
        assert!(!Pattern::RoleSessionName.matches("a/b"));
        assert!(!Pattern::RoleSessionName.matches("a:b"));
        assert!(!Pattern::RoleSessionName.matches("é"));
        assert!(Pattern::ExternalId.matches("a:b/c-d"));
        assert!(!Pattern::ExternalId.matches("a b"));
        assert!(Pattern::SerialNumber.matches("arn:aws:iam::000000000000:mfa/alice"));
        assert!(Pattern::SerialNumber.matches("GAHT12345678"));
        assert!(!Pattern::SerialNumber.matches("a b"));
        assert!(Pattern::Name.matches("deploy.role@x"));
        assert!(!Pattern::Name.matches(""));
        assert!(!Pattern::Name.matches("a/b"));
        assert!(Pattern::SamlProviderName.matches("my_idp-1.x"));
        assert!(!Pattern::SamlProviderName.matches("a@b"));
        assert!(!Pattern::SamlProviderName.matches(""));
    }

    #[test]
    fn digit_and_id_patterns_are_ascii() {
        assert!(Pattern::TokenCode.matches("123456"));
        assert!(Pattern::TokenCode.matches(""));
        assert!(!Pattern::TokenCode.matches("12345a"));
        assert!(!Pattern::TokenCode.matches("١٢٣"));
        assert!(Pattern::AuthenticationCode.matches("123456"));
        assert!(!Pattern::AuthenticationCode.matches(""));
        assert!(Pattern::IamSerialNumber.matches("arn:aws:iam::000000000000:mfa/phone"));
        assert!(!Pattern::IamSerialNumber.matches(""));
        assert!(Pattern::AccessKeyId.matches("AKIAEXAMPLE_1"));
        assert!(!Pattern::AccessKeyId.matches(""));
        assert!(!Pattern::AccessKeyId.matches("AKIA-1"));
        assert!(Pattern::StsAccessKeyId.matches(""));
        assert!(!Pattern::StsAccessKeyId.matches("a b"));
    }

    #[test]
    fn paths_need_leading_and_trailing_slashes() {
        for ok in ["/", "/a/", "/a/b/", "///", "/~!/"] {
            assert!(Pattern::Path.matches(ok), "{ok}");
        }
        for bad in ["", "//", "a/", "/a", "/a b/", "/é/"] {
            assert!(!Pattern::Path.matches(bad), "{bad}");
        }
        for ok in ["/", "/a/", "/a.b/c+d/"] {
            assert!(Pattern::PolicyPath.matches(ok), "{ok}");
        }
        for bad in ["", "//", "a/", "/a", "/a//b/", "/a~/"] {
            assert!(!Pattern::PolicyPath.matches(bad), "{bad}");
        }
        for ok in ["/", "/a", "/a/b/\u{7F}"] {
            assert!(Pattern::PathPrefix.matches(ok), "{ok}");
        }
        for bad in ["", "a", "/a b"] {
            assert!(!Pattern::PathPrefix.matches(bad), "{bad}");
        }
    }

    #[test]
    fn tag_patterns_use_unicode_letters_numbers_and_separators() {
        for ok in [
            "team",
            "Équipe",
            "キー",
            "a b",
            "a\u{3000}b",
            "x_.:/=+-@",
            "٣",
            "Ⅻ",
        ] {
            assert!(Pattern::TagKey.matches(ok), "{ok}");
        }
        for bad in ["", "a\tb", "a\nb", "a*b", "a#b", "a\u{301}", "😀", "a\u{0}"] {
            assert!(!Pattern::TagKey.matches(bad), "{bad:?}");
        }
        assert!(Pattern::TagValue.matches(""));
        assert!(!Pattern::TagValue.matches("a,b"));
    }

    #[test]
    fn policy_document_and_description_patterns_are_latin1() {
        assert!(Pattern::PolicyDocument.matches("{\"a\":\t\"ÿ\"}\r\n"));
        assert!(!Pattern::PolicyDocument.matches(""));
        assert!(!Pattern::PolicyDocument.matches("\u{100}"));
        assert!(!Pattern::PolicyDocument.matches("\u{1}"));
        assert!(Pattern::Description.matches(""));
        assert!(Pattern::Description.matches("café ¡"));
        assert!(!Pattern::Description.matches("\u{7F}"));
        assert!(!Pattern::Description.matches("\u{A0}"));
    }

    #[test]
    fn policy_version_ids_follow_the_model() {
        for ok in ["v1", "v12", "v1.", "v3.abc-1"] {
            assert!(Pattern::PolicyVersionId.matches(ok), "{ok}");
        }
        for bad in ["", "v", "v0", "v01", "1", "va", "v1.a_b", "v1.a.b"] {
            assert!(!Pattern::PolicyVersionId.matches(bad), "{bad}");
        }
    }

    #[test]
    fn every_pattern_text_is_distinct() {
        let all = [
            Pattern::RoleSessionName,
            Pattern::ExternalId,
            Pattern::SerialNumber,
            Pattern::TokenCode,
            Pattern::IamSerialNumber,
            Pattern::AuthenticationCode,
            Pattern::StsAccessKeyId,
            Pattern::AccessKeyId,
            Pattern::Name,
            Pattern::SamlProviderName,
            Pattern::Path,
            Pattern::PolicyPath,
            Pattern::PathPrefix,
            Pattern::TagKey,
            Pattern::TagValue,
            Pattern::PolicyDocument,
            Pattern::Description,
            Pattern::PolicyVersionId,
        ];
        let mut texts: Vec<_> = all.iter().map(|p| p.text()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), all.len());
    }
}
