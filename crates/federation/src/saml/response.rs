//! Verification of a `samlp:Response`: structure rules that defeat signature
//! wrapping, the signature(s), then the assertion's conditions and claims,
//! read only from the element a verified signature covers.

use roxmltree::Node;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::dsig::{signature_child, verify_enveloped};
use super::error::SamlError;
use super::metadata::IdpMetadata;
use super::xml::{
    NS_ASSERTION, NS_DSIG, NS_PROTOCOL, children_named, elements, has_duplicate_ids, is,
    only_child, text_content,
};
use super::{RolePair, SignedElement, VerifiedAssertion, VerifyOptions};

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const ATTRIBUTE_PREFIX: &str = "https://aws.amazon.com/SAML/Attributes/";

/// Runs every check on a parsed response document.
pub(crate) fn verify_document(
    document: &roxmltree::Document<'_>,
    metadata: &IdpMetadata,
    options: &VerifyOptions,
    now: i64,
) -> Result<VerifiedAssertion, SamlError> {
    let response = document.root_element();
    if !is(response, NS_PROTOCOL, "Response") || response.attribute("Version") != Some("2.0") {
        return Err(SamlError::NotAResponse);
    }

    // Wrapping defences: unique IDs, a single Assertion placed as a child of
    // Response, and signatures only directly inside those two elements.
    if has_duplicate_ids(document) {
        return Err(SamlError::DuplicateId);
    }
    if document
        .descendants()
        .any(|node| is(node, NS_ASSERTION, "EncryptedAssertion"))
    {
        return Err(SamlError::EncryptedAssertion);
    }
    let assertions: Vec<Node<'_, '_>> = document
        .descendants()
        .filter(|node| is(*node, NS_ASSERTION, "Assertion"))
        .collect();
    let [assertion] = assertions.as_slice() else {
        return Err(SamlError::AssertionCount {
            found: assertions.len(),
        });
    };
    let assertion = *assertion;
    if assertion.parent_element() != Some(response) {
        return Err(SamlError::AssertionCount { found: 1 });
    }
    let response_signature = signature_child(response)?;
    let assertion_signature = signature_child(assertion)?;
    let allowed_signatures =
        usize::from(response_signature.is_some()) + usize::from(assertion_signature.is_some());
    let all_signatures = document
        .descendants()
        .filter(|node| is(*node, NS_DSIG, "Signature"))
        .count();
    if all_signatures != allowed_signatures {
        return Err(SamlError::MisplacedSignature);
    }

    // Signatures: at least one, every one present must verify.
    let signed_element = match (response_signature, assertion_signature) {
        (None, None) => return Err(SamlError::Unsigned),
        (Some(signature), assertion_signature) => {
            // INVARIANT: verify_enveloped returns the signature's parent, here the Response.
            verify_enveloped(signature, &metadata.signing_keys, options.allow_sha1)?;
            if let Some(signature) = assertion_signature {
                verify_enveloped(signature, &metadata.signing_keys, options.allow_sha1)?;
            }
            SignedElement::Response
        }
        (None, Some(signature)) => {
            verify_enveloped(signature, &metadata.signing_keys, options.allow_sha1)?;
            SignedElement::Assertion
        }
    };
    // From here on claims come from `assertion`, which the signature covers
    // (directly, or as the only Assertion inside the signed Response).

    check_status(response)?;
    if let Some(destination) = response.attribute("Destination")
        && !options
            .recipients
            .iter()
            .any(|accepted| accepted == destination)
    {
        return Err(SamlError::DestinationMismatch);
    }
    if let Some(issuer) = only_child(response, NS_ASSERTION, "Issuer")
        && text_content(issuer).trim() != metadata.entity_id
    {
        return Err(SamlError::IssuerMismatch);
    }
    let issuer = only_child(assertion, NS_ASSERTION, "Issuer")
        .ok_or(SamlError::Missing { element: "Issuer" })?;
    let issuer = text_content(issuer).trim().to_owned();
    if issuer != metadata.entity_id {
        return Err(SamlError::IssuerMismatch);
    }
    let assertion_id = assertion
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or(SamlError::Missing {
            element: "Assertion ID",
        })?
        .to_owned();

    let skew = options.clock_skew_seconds;
    let conditions =
        only_child(assertion, NS_ASSERTION, "Conditions").ok_or(SamlError::Missing {
            element: "Conditions",
        })?;
    if let Some(not_before) = time_attribute(conditions, "NotBefore")?
        && now + skew < not_before
    {
        return Err(SamlError::NotYetValid);
    }
    let conditions_not_on_or_after = time_attribute(conditions, "NotOnOrAfter")?;
    if let Some(limit) = conditions_not_on_or_after
        && now - skew >= limit
    {
        return Err(SamlError::Expired);
    }
    let audiences = check_audiences(conditions, options)?;

    let subject = only_child(assertion, NS_ASSERTION, "Subject")
        .ok_or(SamlError::Missing { element: "Subject" })?;
    let name_id = only_child(subject, NS_ASSERTION, "NameID").ok_or(SamlError::Missing {
        element: "Subject/NameID",
    })?;
    let subject_value = text_content(name_id).trim().to_owned();
    if subject_value.is_empty() {
        return Err(SamlError::Missing {
            element: "Subject/NameID",
        });
    }
    let subject_format = name_id.attribute("Format").map(str::to_owned);
    let (recipient, confirmation_not_on_or_after) =
        check_subject_confirmation(subject, options, now)?;

    let session_not_on_or_after = children_named(assertion, NS_ASSERTION, "AuthnStatement")
        .map(|statement| time_attribute(statement, "SessionNotOnOrAfter"))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .min();
    if let Some(limit) = session_not_on_or_after
        && now - skew >= limit
    {
        return Err(SamlError::Expired);
    }

    let attributes = read_attributes(assertion);
    let claims = AwsClaims::from_attributes(&attributes)?;

    // The assertion is accepted until the earliest NotOnOrAfter plus the
    // skew, so its ID must be remembered that long.
    let replay_expires_at = conditions_not_on_or_after
        .map_or(confirmation_not_on_or_after, |limit| {
            limit.min(confirmation_not_on_or_after)
        })
        .saturating_add(skew);
    Ok(VerifiedAssertion {
        signed_element,
        assertion_id,
        issuer,
        subject: subject_value,
        subject_format,
        recipient,
        audiences,
        replay_expires_at,
        session_not_on_or_after,
        roles: claims.roles,
        role_session_name: claims.role_session_name,
        session_duration: claims.session_duration,
        principal_tags: claims.principal_tags,
        transitive_tag_keys: claims.transitive_tag_keys,
        source_identity: claims.source_identity,
        attributes,
    })
}

fn check_status(response: Node<'_, '_>) -> Result<(), SamlError> {
    let status = only_child(response, NS_PROTOCOL, "Status")
        .ok_or(SamlError::Missing { element: "Status" })?;
    let code = only_child(status, NS_PROTOCOL, "StatusCode")
        .and_then(|code| code.attribute("Value"))
        .ok_or(SamlError::Missing {
            element: "Status/StatusCode",
        })?;
    if code != SUCCESS {
        return Err(SamlError::StatusNotSuccess {
            status: code.chars().take(100).collect(),
        });
    }
    Ok(())
}

fn time_attribute(node: Node<'_, '_>, name: &'static str) -> Result<Option<i64>, SamlError> {
    node.attribute(name)
        .map(|value| {
            if !value.ends_with('Z') {
                return Err(SamlError::InvalidTime { field: name });
            }
            OffsetDateTime::parse(value, &Rfc3339)
                .map(OffsetDateTime::unix_timestamp)
                .map_err(|_| SamlError::InvalidTime { field: name })
        })
        .transpose()
}

/// Every `AudienceRestriction` must name an accepted audience (SAML core
/// 2.5.1.4), and there must be at least one.
fn check_audiences(
    conditions: Node<'_, '_>,
    options: &VerifyOptions,
) -> Result<Vec<String>, SamlError> {
    let mut audiences = Vec::new();
    let mut restrictions = 0;
    for restriction in children_named(conditions, NS_ASSERTION, "AudienceRestriction") {
        restrictions += 1;
        let listed: Vec<String> = children_named(restriction, NS_ASSERTION, "Audience")
            .map(|audience| text_content(audience).trim().to_owned())
            .collect();
        if !listed
            .iter()
            .any(|audience| options.audiences.contains(audience))
        {
            return Err(SamlError::AudienceMismatch);
        }
        audiences.extend(listed);
    }
    if restrictions == 0 {
        return Err(SamlError::AudienceMismatch);
    }
    Ok(audiences)
}

/// Exactly one bearer confirmation, with an accepted Recipient and a
/// NotOnOrAfter still in the future (sts-api.md 9.3).
fn check_subject_confirmation(
    subject: Node<'_, '_>,
    options: &VerifyOptions,
    now: i64,
) -> Result<(String, i64), SamlError> {
    let confirmations: Vec<Node<'_, '_>> =
        children_named(subject, NS_ASSERTION, "SubjectConfirmation").collect();
    let [confirmation] = confirmations.as_slice() else {
        return Err(SamlError::SubjectConfirmation);
    };
    if confirmation.attribute("Method") != Some(BEARER) {
        return Err(SamlError::SubjectConfirmation);
    }
    let data = only_child(*confirmation, NS_ASSERTION, "SubjectConfirmationData")
        .ok_or(SamlError::SubjectConfirmation)?;
    let recipient = data
        .attribute("Recipient")
        .ok_or(SamlError::SubjectConfirmation)?;
    let not_on_or_after =
        time_attribute(data, "NotOnOrAfter")?.ok_or(SamlError::SubjectConfirmation)?;
    if let Some(not_before) = time_attribute(data, "NotBefore")?
        && now + options.clock_skew_seconds < not_before
    {
        return Err(SamlError::NotYetValid);
    }
    if now - options.clock_skew_seconds >= not_on_or_after {
        return Err(SamlError::Expired);
    }
    if !options
        .recipients
        .iter()
        .any(|accepted| accepted == recipient)
    {
        return Err(SamlError::RecipientMismatch);
    }
    Ok((recipient.to_owned(), not_on_or_after))
}

/// `(Name, values)` of every Attribute in the assertion's AttributeStatements.
fn read_attributes(assertion: Node<'_, '_>) -> Vec<(String, Vec<String>)> {
    children_named(assertion, NS_ASSERTION, "AttributeStatement")
        .flat_map(|statement| children_named(statement, NS_ASSERTION, "Attribute"))
        .filter_map(|attribute| {
            let name = attribute.attribute("Name")?;
            let values = elements(attribute)
                .filter(|value| is(*value, NS_ASSERTION, "AttributeValue"))
                .map(|value| text_content(value).trim().to_owned())
                .collect();
            Some((name.to_owned(), values))
        })
        .collect()
}

struct AwsClaims {
    roles: Vec<RolePair>,
    role_session_name: String,
    session_duration: Option<u32>,
    principal_tags: Vec<(String, String)>,
    transitive_tag_keys: Vec<String>,
    source_identity: Option<String>,
}

impl AwsClaims {
    fn from_attributes(attributes: &[(String, Vec<String>)]) -> Result<Self, SamlError> {
        let named = |suffix: &str| -> Vec<&String> {
            attributes
                .iter()
                .filter(|(name, _)| name.strip_prefix(ATTRIBUTE_PREFIX) == Some(suffix))
                .flat_map(|(_, values)| values)
                .collect()
        };

        let role_values = named("Role");
        if role_values.is_empty() {
            return Err(SamlError::RoleAttribute);
        }
        let roles = role_values
            .into_iter()
            .map(|value| RolePair::parse(value).ok_or(SamlError::RoleAttribute))
            .collect::<Result<Vec<_>, _>>()?;

        let session_names = named("RoleSessionName");
        let [role_session_name] = session_names.as_slice() else {
            return Err(SamlError::RoleSessionName);
        };
        if !(2..=64).contains(&role_session_name.len())
            || !role_session_name.bytes().all(is_name_byte)
        {
            return Err(SamlError::RoleSessionName);
        }

        let session_duration = match named("SessionDuration").as_slice() {
            [] => None,
            [value] => Some(
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|seconds| (900..=43_200).contains(seconds))
                    .ok_or(SamlError::SessionDuration)?,
            ),
            _ => return Err(SamlError::SessionDuration),
        };

        let source_identity = match named("SourceIdentity").as_slice() {
            [] => None,
            [value] => {
                let valid = (2..=64).contains(&value.len())
                    && value.bytes().all(is_name_byte)
                    && !value.to_ascii_lowercase().starts_with("aws:");
                if !valid {
                    return Err(SamlError::SourceIdentity);
                }
                Some((*value).clone())
            }
            _ => return Err(SamlError::SourceIdentity),
        };

        let mut principal_tags: Vec<(String, String)> = Vec::new();
        for (name, values) in attributes {
            let Some(key) = name
                .strip_prefix(ATTRIBUTE_PREFIX)
                .and_then(|rest| rest.strip_prefix("PrincipalTag:"))
            else {
                continue;
            };
            let [value] = values.as_slice() else {
                return Err(SamlError::PrincipalTag {
                    reason: "each tag needs exactly one value",
                });
            };
            if key.is_empty() || key.chars().count() > 128 || !key.chars().all(is_tag_char) {
                return Err(SamlError::PrincipalTag {
                    reason: "keys are 1-128 characters of letters, digits, spaces and _.:/=+-@",
                });
            }
            if value.chars().count() > 256 || !value.chars().all(is_tag_char) {
                return Err(SamlError::PrincipalTag {
                    reason: "values are 0-256 characters of letters, digits, spaces and _.:/=+-@",
                });
            }
            if key.to_ascii_lowercase().starts_with("aws:") {
                return Err(SamlError::PrincipalTag {
                    reason: "keys must not start with aws:",
                });
            }
            if principal_tags
                .iter()
                .any(|(existing, _)| existing.eq_ignore_ascii_case(key))
            {
                return Err(SamlError::PrincipalTag {
                    reason: "tag keys are case-insensitive and must be unique",
                });
            }
            principal_tags.push((key.to_owned(), value.clone()));
        }
        if principal_tags.len() > 50 {
            return Err(SamlError::PrincipalTag {
                reason: "at most 50 tags",
            });
        }

        let transitive_tag_keys: Vec<String> =
            named("TransitiveTagKeys").into_iter().cloned().collect();
        if transitive_tag_keys.iter().any(|key| {
            !principal_tags
                .iter()
                .any(|(tag, _)| tag.eq_ignore_ascii_case(key))
        }) {
            return Err(SamlError::PrincipalTag {
                reason: "every TransitiveTagKeys value must be the key of a PrincipalTag attribute",
            });
        }

        Ok(Self {
            roles,
            role_session_name: (*role_session_name).clone(),
            session_duration,
            principal_tags,
            transitive_tag_keys,
            source_identity,
        })
    }
}

/// `[\w+=,.@-]`: role session names and source identities.
fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'+' | b'=' | b',' | b'.' | b'@' | b'-')
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: tag keys and values.
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric()
        || c == ' '
        || c.is_whitespace() && !c.is_control()
        || "_.:/=+-@".contains(c)
}
