//! A SAML identity provider made at run time, for tests and benchmarks that
//! need many fresh assertions (each is accepted once): an RSA-2048 or ECDSA
//! P-256 key and self-signed certificate from rcgen, metadata naming it, and
//! signed `samlp:Response` documents.
//!
//! The signer shares no code with Mayfly's verifier: it canonicalizes
//! nothing, but writes the signed Assertion and the SignedInfo directly in
//! their exclusive-C14N form (attributes sorted, explicit end tags, each
//! namespace declared on the element that uses it first), so the bytes it
//! hashes and signs are the bytes a conforming canonicalizer produces. The
//! committed fixtures of `crates/federation/testdata/saml` come from xmlsec1
//! (`crates/testkit/saml/generate.py`); this signer is for volume.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, date_time_ymd};

/// Why the IdP could not be made or could not sign.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// What one assertion says. Times are xs:dateTime in UTC (`…Z`).
#[derive(Debug, Clone)]
pub struct AssertionSpec<'a> {
    /// `Assertion/@ID` (unique per assertion; the Response gets `R` + this).
    pub id: &'a str,
    /// `IssueInstant` and `Conditions/@NotBefore`.
    pub issue_instant: &'a str,
    /// `Conditions/@NotOnOrAfter` and `SubjectConfirmationData/@NotOnOrAfter`.
    pub not_on_or_after: &'a str,
    /// `Subject/NameID` (persistent format).
    pub subject: &'a str,
    /// `Audience`.
    pub audience: &'a str,
    /// `Recipient` and `Response/@Destination`.
    pub recipient: &'a str,
    /// The role of the Role attribute's pair.
    pub role_arn: &'a str,
    /// The provider of the Role attribute's pair.
    pub provider_arn: &'a str,
    /// The RoleSessionName attribute.
    pub role_session_name: &'a str,
}

/// The IdP's key type, which decides the signature method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdpKey {
    /// RSA-2048, `rsa-sha256` (what most IdPs use).
    Rsa,
    /// ECDSA P-256, `ecdsa-sha256`.
    EcP256,
}

enum SigningKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// An IdP with its signing key.
pub struct SamlIdp {
    entity_id: String,
    cert_der: Vec<u8>,
    key: SigningKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for SamlIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlIdp")
            .field("entity_id", &self.entity_id)
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl SamlIdp {
    /// A new IdP named `entity_id` with a fresh key of type `kind`.
    ///
    /// # Errors
    /// When rcgen or aws-lc-rs fail.
    pub fn generate(entity_id: &str, kind: IdpKey) -> Result<Self, Error> {
        let key_pair = match kind {
            IdpKey::Rsa => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)?
            }
            IdpKey::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
        };
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "Mayfly test SAML IdP");
        params.distinguished_name = name;
        params.not_before = date_time_ymd(2024, 1, 1);
        params.not_after = date_time_ymd(2100, 1, 1);
        let cert = params.self_signed(&key_pair)?;
        let pkcs8 = key_pair.serialize_der();
        let key = match kind {
            IdpKey::Rsa => {
                SigningKey::Rsa(RsaKeyPair::from_pkcs8(&pkcs8).map_err(|e| format!("key: {e}"))?)
            }
            IdpKey::EcP256 => SigningKey::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
                    .map_err(|e| format!("key: {e}"))?,
            ),
        };
        Ok(Self {
            entity_id: entity_id.to_owned(),
            cert_der: cert.der().to_vec(),
            key,
            rng: SystemRandom::new(),
        })
    }

    /// The IdP's entityID (the assertions' Issuer).
    #[must_use]
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// Metadata with the signing certificate, for CreateSAMLProvider.
    #[must_use]
    pub fn metadata(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"{NS_DSIG}\" entityID=\"{}\">\n\
             <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n\
             <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n\
             <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n\
             <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>\n\
             <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp.example.test/sso\"/>\n\
             </md:IDPSSODescriptor>\n</md:EntityDescriptor>\n",
            attribute(&self.entity_id),
            STANDARD.encode(&self.cert_der)
        )
    }

    /// A `samlp:Response` whose Assertion is signed (RSA-SHA256 or
    /// ECDSA-SHA256, after the key).
    ///
    /// # Errors
    /// When signing fails.
    pub fn response(&self, spec: &AssertionSpec<'_>) -> Result<String, Error> {
        let unsigned = assertion(&self.entity_id, spec, "");
        let digest_value = STANDARD.encode(digest(&SHA256, unsigned.as_bytes()));
        let signed_info = format!(
            "<ds:SignedInfo xmlns:ds=\"{NS_DSIG}\">\
             <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:CanonicalizationMethod>\
             <ds:SignatureMethod Algorithm=\"{method}\"></ds:SignatureMethod>\
             <ds:Reference URI=\"#{}\"><ds:Transforms>\
             <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></ds:Transform>\
             <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>\
             </ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"></ds:DigestMethod>\
             <ds:DigestValue>{digest_value}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
            attribute(spec.id),
            method = match self.key {
                SigningKey::Rsa(_) => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                SigningKey::Ec(_) => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            },
        );
        let signature = match &self.key {
            SigningKey::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(
                    &RSA_PKCS1_SHA256,
                    &self.rng,
                    signed_info.as_bytes(),
                    &mut signature,
                )
                .map_err(|e| format!("sign: {e}"))?;
                signature
            }
            SigningKey::Ec(key) => key
                .sign(&self.rng, signed_info.as_bytes())
                .map_err(|e| format!("sign: {e}"))?
                .as_ref()
                .to_vec(),
        };
        let signature_element = format!(
            "<ds:Signature xmlns:ds=\"{NS_DSIG}\">{signed_info}<ds:SignatureValue>{}</ds:SignatureValue></ds:Signature>",
            STANDARD.encode(&signature)
        );
        Ok(format!(
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" Destination=\"{}\" ID=\"R{}\" IssueInstant=\"{}\" Version=\"2.0\">\
             <samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"></samlp:StatusCode></samlp:Status>{}</samlp:Response>",
            attribute(spec.recipient),
            attribute(spec.id),
            attribute(spec.issue_instant),
            assertion(&self.entity_id, spec, &signature_element)
        ))
    }
}

/// The Assertion in exclusive-C14N form, with `signature` after the Issuer.
fn assertion(issuer: &str, spec: &AssertionSpec<'_>, signature: &str) -> String {
    format!(
        "<saml:Assertion xmlns:saml=\"{NS_ASSERTION}\" ID=\"{id}\" IssueInstant=\"{issued}\" Version=\"2.0\">\
         <saml:Issuer>{issuer}</saml:Issuer>{signature}\
         <saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">{subject}</saml:NameID>\
         <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
         <saml:SubjectConfirmationData NotOnOrAfter=\"{expires}\" Recipient=\"{recipient}\"></saml:SubjectConfirmationData>\
         </saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions NotBefore=\"{issued}\" NotOnOrAfter=\"{expires}\"><saml:AudienceRestriction>\
         <saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
         <saml:AttributeStatement>\
         <saml:Attribute Name=\"https://aws.amazon.com/SAML/Attributes/Role\"><saml:AttributeValue>{role},{provider}</saml:AttributeValue></saml:Attribute>\
         <saml:Attribute Name=\"https://aws.amazon.com/SAML/Attributes/RoleSessionName\"><saml:AttributeValue>{session}</saml:AttributeValue></saml:Attribute>\
         </saml:AttributeStatement></saml:Assertion>",
        id = attribute(spec.id),
        issued = attribute(spec.issue_instant),
        issuer = text(issuer),
        subject = text(spec.subject),
        expires = attribute(spec.not_on_or_after),
        recipient = attribute(spec.recipient),
        audience = text(spec.audience),
        role = text(spec.role_arn),
        provider = text(spec.provider_arn),
        session = text(spec.role_session_name),
    )
}

/// Text content as C14N writes it.
fn text(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\r', "&#xD;")
}

/// An attribute value as C14N writes it.
fn attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
        .replace('\t', "&#x9;")
        .replace('\n', "&#xA;")
        .replace('\r', "&#xD;")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use mayfly_federation::saml::{IdpMetadata, SignedElement, VerifyOptions, verify_response_xml};

    fn spec(id: &str) -> AssertionSpec<'_> {
        AssertionSpec {
            id,
            issue_instant: "2026-01-01T00:00:00Z",
            not_on_or_after: "2026-01-01T00:05:00Z",
            subject: "carol@example.test",
            audience: "https://signin.aws.amazon.com/saml",
            recipient: "https://signin.aws.amazon.com/saml",
            role_arn: "arn:aws:iam::000000000000:role/R",
            provider_arn: "arn:aws:iam::000000000000:saml-provider/P",
            role_session_name: "carol",
        }
    }

    #[test]
    fn responses_verify_with_mayflys_verifier_and_tampering_is_caught() {
        for kind in [IdpKey::Rsa, IdpKey::EcP256] {
            check(&SamlIdp::generate("https://idp.example.test/", kind).unwrap());
        }
    }

    fn check(idp: &SamlIdp) {
        let text = idp.metadata();
        assert!(
            text.len() >= 1000,
            "CreateSAMLProvider needs 1,000 characters"
        );
        let metadata = IdpMetadata::parse(&text).unwrap();
        let options = VerifyOptions::default();
        let response = idp.response(&spec("_x1")).unwrap();
        let verified =
            verify_response_xml(response.as_bytes(), &metadata, &options, 1_767_225_660).unwrap();
        assert_eq!(verified.signed_element, SignedElement::Assertion);
        assert_eq!(verified.subject, "carol@example.test");
        assert_eq!(verified.assertion_id, "_x1");
        let tampered = response.replace("carol@example.test", "mallory@example.test");
        assert!(
            verify_response_xml(tampered.as_bytes(), &metadata, &options, 1_767_225_660).is_err()
        );
    }
}
