//! What AssumeRole, GetFederationToken (and later the federation actions)
//! share: session policies and their packed size, session tags, source
//! identity, durations (sts-api.md 4-7).

use std::sync::Arc;

use mayfly_policy::{Policy, PolicyError, PolicyKind};
use mayfly_token::SessionTag;
use mayfly_wire::{AwsError, Pattern, QueryParams, ValidationErrors};

use crate::view::View;

/// The budget a packed session policy or tag set is measured against; AWS's
/// packing is proprietary (sts-api.md 5), so Mayfly reports the share of
/// this many bytes used by the whitespace-free policy text plus the ARNs,
/// and separately by the tags' keys and values.
pub(crate) const PACKED_BUDGET_BYTES: usize = 2048;

/// Session policies given with a request, validated.
#[derive(Debug, Default)]
pub(crate) struct SessionPolicies {
    /// The inline `Policy` text as given.
    pub inline: Option<String>,
    /// `PolicyArns.member.N.arn`.
    pub arns: Vec<String>,
}

/// Read `Policy` and `PolicyArns` (not validated against the store yet).
pub(crate) fn read_session_policies(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
    inline_max: usize,
) -> Result<SessionPolicies, AwsError> {
    let inline = params.string("Policy");
    if let Some(text) = &inline {
        v.length("Policy", text, 1, inline_max);
        v.pattern("Policy", text, Pattern::PolicyDocument);
    }
    let mut arns = Vec::new();
    if let Some(items) = params.struct_list("PolicyArns", &["arn"])? {
        v.list_length("PolicyArns", items.len(), 0, 10);
        for (i, item) in items.into_iter().enumerate() {
            let arn = item.into_iter().next().flatten();
            let path = mayfly_wire::list_member_path("PolicyArns", i + 1, Some("arn"));
            match arn {
                Some(arn) => {
                    v.length(&path, &arn, 20, 2048);
                    arns.push(arn);
                }
                None => {
                    v.required::<()>(&path, None);
                }
            }
        }
    }
    Ok(SessionPolicies { inline, arns })
}

impl SessionPolicies {
    /// Whether any session policy was given.
    pub fn is_empty(&self) -> bool {
        self.inline.is_none() && self.arns.is_empty()
    }

    /// Parse the inline policy (MalformedPolicyDocument) and check that each
    /// ARN names a managed policy of `account_id`.
    pub fn validate(&self, view: &View, account_id: &str) -> Result<(), AwsError> {
        if let Some(text) = &self.inline {
            Policy::parse(text, PolicyKind::Session).map_err(|e| session_policy_error(&e, text))?;
        }
        for arn in &self.arns {
            let found = view
                .snapshot
                .policy(arn)
                .is_some_and(|p| p.account_id == account_id);
            if !found {
                return Err(AwsError::validation_message(format!(
                    "Policy {} does not exist or is not attachable.",
                    crate::truncate(arn, 2048)
                )));
            }
        }
        Ok(())
    }

    /// The packed-policy percentage (sts-api.md 5, [choice]).
    pub fn packed_percent(&self) -> usize {
        let policy_bytes = self.inline.as_deref().map_or(0, |t| {
            t.chars()
                .filter(|c| !c.is_whitespace())
                .map(char::len_utf8)
                .sum()
        });
        let arn_bytes: usize = self.arns.iter().map(String::len).sum();
        percent(policy_bytes + arn_bytes)
    }
}

/// A session policy that cannot be used (sts-api.md 5): over 2,048
/// characters (white space not counted) is a 400 `ValidationError` on member
/// `policy`; bad characters likewise (the model pattern); anything else is
/// `MalformedPolicyDocument` naming the offending element.
fn session_policy_error(error: &PolicyError, text: &str) -> AwsError {
    match error {
        PolicyError::Malformed { .. } => AwsError::malformed_policy_document(error.wire_message()),
        PolicyError::TooLarge { limit, .. } => {
            let mut v = ValidationErrors::new();
            v.length("Policy", text, 1, *limit);
            if v.is_empty() {
                // Longer than the limit only without its white space removed
                // cannot happen (removal only shortens); stay on the safe side.
                return AwsError::validation_message(format!(
                    "Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to {limit}"
                ));
            }
            AwsError::validation(&v)
        }
        PolicyError::InvalidCharacter { .. } => {
            let mut v = ValidationErrors::new();
            v.pattern("Policy", text, Pattern::PolicyDocument);
            if v.is_empty() {
                return AwsError::validation_message(error.to_string());
            }
            AwsError::validation(&v)
        }
    }
}

fn percent(bytes: usize) -> usize {
    (bytes * 100).div_ceil(PACKED_BUDGET_BYTES)
}

/// Session tags and transitive keys as given in a request.
#[derive(Debug, Default)]
pub(crate) struct RequestTags {
    pub tags: Vec<SessionTag>,
    /// Whether `Tags` or `TransitiveTagKeys` were present at all.
    pub given: bool,
}

/// Read `Tags` and (when `transitive_allowed`) `TransitiveTagKeys` with AWS's checks (sts-api.md 6).
pub(crate) fn read_tags(
    params: &mut QueryParams,
    v: &mut ValidationErrors,
    transitive_allowed: bool,
) -> Result<RequestTags, AwsError> {
    let mut out = RequestTags::default();
    let items = params.struct_list("Tags", &["Key", "Value"])?;
    let transitive = if transitive_allowed {
        params.list("TransitiveTagKeys")?
    } else {
        None
    };
    out.given = items.is_some() || transitive.is_some();
    let items = items.unwrap_or_default();
    v.list_length("Tags", items.len(), 0, 50);
    for (i, item) in items.into_iter().enumerate() {
        let mut fields = item.into_iter();
        let key = fields.next().flatten();
        let value = fields.next().flatten();
        let key_path = mayfly_wire::list_member_path("Tags", i + 1, Some("Key"));
        let value_path = mayfly_wire::list_member_path("Tags", i + 1, Some("Value"));
        let Some(key) = v.required(&key_path, key) else {
            continue;
        };
        let Some(value) = v.required(&value_path, value) else {
            continue;
        };
        v.length(&key_path, &key, 1, 128);
        v.pattern(&key_path, &key, Pattern::TagKey);
        v.length(&value_path, &value, 0, 256);
        v.pattern(&value_path, &value, Pattern::TagValue);
        out.tags.push(SessionTag {
            key,
            value,
            transitive: false,
        });
    }
    let transitive = transitive.unwrap_or_default();
    v.list_length("TransitiveTagKeys", transitive.len(), 0, 50);
    for (i, key) in transitive.iter().enumerate() {
        let path = format!("transitiveTagKeys.{}.member", i + 1);
        v.length(&path, key, 1, 128);
        v.pattern(&path, key, Pattern::TagKey);
    }
    if !v.is_empty() {
        return Ok(out);
    }
    for (i, tag) in out.tags.iter().enumerate() {
        if starts_with_aws(&tag.key) || starts_with_aws(&tag.value) {
            return Err(AwsError::invalid_parameter_value(
                "Tag keys and values cannot begin with the reserved prefix `aws:`.",
            ));
        }
        if out.tags[..i].iter().any(|t| same_key(&t.key, &tag.key)) {
            return Err(AwsError::invalid_parameter_value(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    for key in &transitive {
        match out.tags.iter_mut().find(|t| same_key(&t.key, key)) {
            Some(tag) => tag.transitive = true,
            None => {
                return Err(AwsError::invalid_parameter_value(format!(
                    "The transitive tag key `{}` is not among the session tags of the request.",
                    crate::truncate(key, 128)
                )));
            }
        }
    }
    Ok(out)
}

/// Merge the tags inherited from a calling session (its transitive tags)
/// with those of the request; a request tag may not restate an inherited key.
pub(crate) fn merge_inherited(
    inherited: &[SessionTag],
    requested: Vec<SessionTag>,
) -> Result<Vec<SessionTag>, AwsError> {
    let mut merged: Vec<SessionTag> = inherited.iter().filter(|t| t.transitive).cloned().collect();
    for tag in requested {
        if merged.iter().any(|t| same_key(&t.key, &tag.key)) {
            return Err(AwsError::invalid_parameter_value(format!(
                "The session tag `{}` conflicts with a transitive tag inherited from the calling session.",
                crate::truncate(&tag.key, 128)
            )));
        }
        merged.push(tag);
    }
    Ok(merged)
}

/// The packed-size percentage of a tag set.
pub(crate) fn tags_packed_percent(tags: &[SessionTag]) -> usize {
    percent(tags.iter().map(|t| t.key.len() + t.value.len()).sum())
}

/// Tag keys compare case-insensitively (sts-api.md 6).
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

fn starts_with_aws(text: &str) -> bool {
    text.get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

/// Check `SourceIdentity` (sts-api.md 7).
pub(crate) fn validate_source_identity(v: &mut ValidationErrors, value: &str) {
    v.length("SourceIdentity", value, 2, 64);
    v.pattern("SourceIdentity", value, Pattern::RoleSessionName);
}

/// Whether a source identity uses the reserved prefix.
pub(crate) fn source_identity_reserved(value: &str) -> bool {
    starts_with_aws(value)
}

/// Parse a stored session policy (from a token) for evaluation.
pub(crate) fn parse_session_policy(text: &str) -> Option<Arc<Policy>> {
    Policy::parse(text, PolicyKind::Session).ok().map(Arc::new)
}

/// Enforce PackedPolicySize ≤ 100 % and return the reported value.
pub(crate) fn packed_size(
    policies: &SessionPolicies,
    tags: &[SessionTag],
) -> Result<usize, AwsError> {
    let policy = policies.packed_percent();
    if policy > 100 {
        return Err(AwsError::packed_policy_too_large(format!(
            "Packed policy consumes {policy}% of allotted space, please use smaller policy."
        )));
    }
    let tags = tags_packed_percent(tags);
    if tags > 100 {
        return Err(AwsError::packed_policy_too_large(format!(
            "Packed size of session tags consumes {tags}% of allotted space."
        )));
    }
    Ok(policy.max(tags))
}
