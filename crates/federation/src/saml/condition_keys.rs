//! The `saml:*` condition keys of a verified assertion
//! (policy-evaluation.md 10.5) and AWS's NameQualifier.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::VerifiedAssertion;

/// Attribute `Name`s that become `saml:` keys; `true` marks list-typed keys.
const ATTRIBUTE_KEYS: &[(&str, &str, bool)] = &[
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
        "saml:edupersonaffiliation",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.2",
        "saml:edupersonnickname",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.3",
        "saml:edupersonorgdn",
        false,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.4",
        "saml:edupersonorgunitdn",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.5",
        "saml:edupersonprimaryaffiliation",
        false,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
        "saml:edupersonprincipalname",
        false,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.7",
        "saml:edupersonentitlement",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.8",
        "saml:edupersonprimaryorgunitdn",
        false,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.9",
        "saml:edupersonscopedaffiliation",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.10",
        "saml:edupersontargetedid",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.11",
        "saml:edupersonassurance",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.2.1.2",
        "saml:eduorghomepageuri",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.2.1.3",
        "saml:eduorgidentityauthnpolicyuri",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.2.1.4",
        "saml:eduorglegalname",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.2.1.5",
        "saml:eduorgsuperioruri",
        true,
    ),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.2.1.6",
        "saml:eduorgwhitepagesuri",
        true,
    ),
    ("urn:oid:2.5.4.3", "saml:cn", true),
    (
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        "saml:name",
        false,
    ),
    (
        "http://schemas.xmlsoap.org/claims/CommonName",
        "saml:commonName",
        false,
    ),
    (
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
        "saml:givenName",
        false,
    ),
    (
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
        "saml:surname",
        false,
    ),
    (
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "saml:mail",
        false,
    ),
    (
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/primarygroupsid",
        "saml:uid",
        false,
    ),
    ("urn:oid:2.5.4.4", "saml:surname", false),
    ("urn:oid:2.5.4.42", "saml:givenName", false),
    ("urn:oid:2.5.4.45", "saml:x500UniqueIdentifier", false),
    ("urn:oid:0.9.2342.19200300.100.1.1", "saml:uid", false),
    ("urn:oid:0.9.2342.19200300.100.1.3", "saml:mail", false),
    (
        "urn:oid:0.9.2342.19200300.100.1.45",
        "saml:organizationStatus",
        false,
    ),
    (
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/groupsid",
        "saml:primaryGroupSID",
        true,
    ),
];

/// The prefix AWS strips from a NameID `Format` to make `SubjectType`.
const NAME_ID_FORMAT_PREFIX: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:";
/// The NameID format when the element has none (SAML core 8.3.1).
const UNSPECIFIED_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

/// `base64(SHA1(issuer + account_id + "/" + provider_name))`, the
/// `NameQualifier` of AssumeRoleWithSAML and `saml:namequalifier`
/// (sts-api.md 9.3, following the STS API reference's pseudocode).
#[must_use]
pub fn name_qualifier(issuer: &str, account_id: &str, provider_name: &str) -> String {
    let input = format!("{issuer}{account_id}/{provider_name}");
    STANDARD.encode(digest::digest(
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
        input.as_bytes(),
    ))
}

impl VerifiedAssertion {
    /// `SubjectType`: the NameID Format with the SAML 2.0 nameid-format
    /// prefix removed (`persistent`, `transient`, …); other URIs unchanged.
    #[must_use]
    pub fn subject_type(&self) -> String {
        let format = self.subject_format.as_deref().unwrap_or(UNSPECIFIED_FORMAT);
        format
            .strip_prefix(NAME_ID_FORMAT_PREFIX)
            .unwrap_or(format)
            .to_owned()
    }

    /// The `saml:*` keys for the trust policy, names in their documented
    /// case (condition key names compare case-insensitively). Each key
    /// takes the first attribute that maps to it, as AWS maps only one
    /// claim per key.
    #[must_use]
    pub fn condition_keys(
        &self,
        account_id: &str,
        provider_name: &str,
    ) -> Vec<(String, Vec<String>)> {
        let mut keys: Vec<(String, Vec<String>)> = vec![
            ("saml:aud".to_owned(), vec![self.recipient.clone()]),
            ("saml:iss".to_owned(), vec![self.issuer.clone()]),
            ("saml:sub".to_owned(), vec![self.subject.clone()]),
            ("saml:sub_type".to_owned(), vec![self.subject_type()]),
            (
                "saml:namequalifier".to_owned(),
                vec![name_qualifier(&self.issuer, account_id, provider_name)],
            ),
            (
                "saml:doc".to_owned(),
                vec![format!("{account_id}/{provider_name}")],
            ),
        ];
        for (attribute, key, list) in ATTRIBUTE_KEYS {
            if keys.iter().any(|(existing, _)| existing == key) {
                continue;
            }
            let Some((_, values)) = self.attributes.iter().find(|(name, _)| name == attribute)
            else {
                continue;
            };
            let values: Vec<String> = if *list {
                values.clone()
            } else {
                values.iter().take(1).cloned().collect()
            };
            if !values.is_empty() {
                keys.push(((*key).to_owned(), values));
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_qualifier_is_28_characters_of_base64_sha1() {
        let qualifier = name_qualifier("https://idp.example/", "000000000000", "Okta");
        assert_eq!(qualifier.len(), 28);
        let expected = STANDARD.encode(digest::digest(
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            b"https://idp.example/000000000000/Okta",
        ));
        assert_eq!(qualifier, expected);
    }
}
