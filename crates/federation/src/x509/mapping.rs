//! Certificate fields to session tags (roles-anywhere.md 1.1): each mapped
//! attribute becomes a tag `<field>/<specifier>`, e.g. `x509Subject/CN`,
//! `x509SAN/DNS`, `x509SAN/Name/CN`. A value that cannot be a session tag
//! fails the mapping (fail closed, as AWS does) instead of being dropped.
//! Repeated RDNs map their first occurrence only.

use super::{Certificate, Rdn};

/// The RDNs `*` stands for (the published list is not complete; these are
/// the ones AWS names plus `DC` and `emailAddress`).
const RECOGNISED_RDNS: &[&str] = &["CN", "OU", "O", "C", "ST", "L", "UID", "DC", "emailAddress"];
/// STS session tag limits.
const MAX_TAGS: usize = 50;
const MAX_KEY_LEN: usize = 128;
const MAX_VALUE_LEN: usize = 256;

/// One `attributeMappings` entry of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMapping {
    /// `x509Subject`, `x509Issuer` or `x509SAN`.
    pub certificate_field: String,
    /// The `mappingRules[].specifier` values.
    pub specifiers: Vec<String>,
}

/// The mappings a new profile gets.
pub fn default_mappings() -> Vec<AttributeMapping> {
    let mapping = |field: &str, specifiers: &[&str]| AttributeMapping {
        certificate_field: field.to_owned(),
        specifiers: specifiers.iter().map(|s| (*s).to_owned()).collect(),
    };
    vec![
        mapping("x509Issuer", &["*"]),
        mapping("x509SAN", &["DNS", "URI", "Name/*"]),
        mapping("x509Subject", &["*"]),
    ]
}

/// Attributes that could not become tags, by field, for AWS's message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingError {
    /// Failed issuer specifiers.
    pub issuer: Vec<String>,
    /// Failed subject specifiers.
    pub subject: Vec<String>,
    /// Failed SAN specifiers.
    pub san: Vec<String>,
    /// More than 50 tags would result.
    pub too_many: bool,
}

impl MappingError {
    fn is_empty(&self) -> bool {
        self.issuer.is_empty() && self.subject.is_empty() && self.san.is_empty() && !self.too_many
    }

    /// AWS's text: `Issuer: [ … ]; Subject: [ … ]; SAN: [ … ]`.
    pub fn describe(&self) -> String {
        format!(
            "Issuer: [ {} ]; Subject: [ {} ]; SAN: [ {} ]",
            self.issuer.join(", "),
            self.subject.join(", "),
            self.san.join(", ")
        )
    }
}

fn valid_tag(key: &str, value: &str) -> bool {
    let allowed = |c: char| {
        c.is_alphanumeric()
            || c.is_whitespace()
            || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
    };
    !key.is_empty()
        && key.chars().count() <= MAX_KEY_LEN
        && value.chars().count() <= MAX_VALUE_LEN
        && key.chars().all(allowed)
        && value.chars().all(allowed)
}

fn first<'a>(rdns: &'a [Rdn], name: &str) -> Option<&'a str> {
    rdns.iter()
        .find(|r| r.name == name)
        .map(|r| r.value.as_str())
}

/// Expand a name specifier (`*` or one RDN short name) against `rdns`.
fn name_pairs<'a>(rdns: &'a [Rdn], specifier: &'a str) -> Vec<(&'a str, &'a str)> {
    if specifier == "*" {
        RECOGNISED_RDNS
            .iter()
            .filter_map(|name| first(rdns, name).map(|v| (*name, v)))
            .collect()
    } else {
        first(rdns, specifier)
            .map(|v| vec![(specifier, v)])
            .unwrap_or_default()
    }
}

/// The session tags `mappings` derive from `certificate`, in mapping order.
pub fn principal_tags(
    certificate: &Certificate,
    mappings: &[AttributeMapping],
) -> Result<Vec<(String, String)>, MappingError> {
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut failed = MappingError::default();
    let push = |tags: &mut Vec<(String, String)>,
                failures: &mut Vec<String>,
                key: String,
                value: &str,
                label: String| {
        if tags.iter().any(|(k, _)| *k == key) {
            return;
        }
        if valid_tag(&key, value) {
            tags.push((key, value.to_owned()));
        } else {
            failures.push(label);
        }
    };
    for mapping in mappings {
        let field = mapping.certificate_field.as_str();
        for specifier in &mapping.specifiers {
            match field {
                "x509Subject" | "x509Issuer" => {
                    let (rdns, failures) = if field == "x509Subject" {
                        (&certificate.subject, &mut failed.subject)
                    } else {
                        (&certificate.issuer, &mut failed.issuer)
                    };
                    for (name, value) in name_pairs(rdns, specifier) {
                        push(
                            &mut tags,
                            failures,
                            format!("{field}/{name}"),
                            value,
                            name.to_owned(),
                        );
                    }
                }
                "x509SAN" => match specifier.as_str() {
                    "DNS" | "URI" => {
                        let value = if specifier == "DNS" {
                            certificate.san_dns.as_deref()
                        } else {
                            certificate.san_uri.as_deref()
                        };
                        if let Some(value) = value {
                            push(
                                &mut tags,
                                &mut failed.san,
                                format!("x509SAN/{specifier}"),
                                value,
                                specifier.clone(),
                            );
                        }
                    }
                    other => {
                        let rest = match other {
                            "Name" | "Name/" => Some("*"),
                            _ => other.strip_prefix("Name/"),
                        };
                        if let Some(rest) = rest {
                            for (name, value) in name_pairs(&certificate.san_directory_name, rest) {
                                push(
                                    &mut tags,
                                    &mut failed.san,
                                    format!("x509SAN/Name/{name}"),
                                    value,
                                    format!("Name/{name}"),
                                );
                            }
                        }
                    }
                },
                _ => {}
            }
        }
    }
    if tags.len() > MAX_TAGS {
        failed.too_many = true;
    }
    if failed.is_empty() {
        Ok(tags)
    } else {
        Err(failed)
    }
}
