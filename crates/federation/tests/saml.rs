//! The SAML verifier against responses signed by xmlsec1
//! (`crates/testkit/saml/generate.py`), and the attack corpus: each attack
//! is its own test asserting the precise failure and its AWS error code.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests"
)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mayfly_federation::saml::{
    IdpMetadata, MetadataError, RolePair, SamlError, SamlErrorCode, SignedElement,
    VerifiedAssertion, VerifyOptions, verify_response, verify_response_xml,
};

/// 2026-01-01T00:01:00Z, inside every unit fixture's window.
const NOW: i64 = 1_767_225_660;
const ROLE: &str = "arn:aws:iam::000000000000:role/SamlRole";
const PROVIDER: &str = "arn:aws:iam::000000000000:saml-provider/MayflyTestIdP";

fn fixture(name: &str) -> String {
    let path = format!("{}/testdata/saml/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn metadata() -> IdpMetadata {
    IdpMetadata::parse(&fixture("metadata.xml")).unwrap()
}

fn verify_with(
    name: &str,
    options: &VerifyOptions,
    now: i64,
) -> Result<VerifiedAssertion, SamlError> {
    verify_response(&STANDARD.encode(fixture(name)), &metadata(), options, now)
}

fn verify(name: &str) -> Result<VerifiedAssertion, SamlError> {
    verify_with(name, &VerifyOptions::default(), NOW)
}

fn refused(name: &str, expected: &SamlError, code: SamlErrorCode) {
    let error = verify(name).expect_err(name);
    assert_eq!(&error, expected, "{name}");
    assert_eq!(error.code(), code, "{name}");
}

fn invalid(name: &str, expected: &SamlError) {
    refused(name, expected, SamlErrorCode::InvalidIdentityToken);
}

// ---- accepted responses ----

#[test]
fn a_signed_response_yields_its_claims() {
    let verified = verify("response-signed.xml").unwrap();
    assert_eq!(verified.signed_element, SignedElement::Response);
    assert_eq!(verified.assertion_id, "_a1");
    assert_eq!(verified.issuer, "https://idp.example.test/");
    assert_eq!(verified.subject, "alice@example.test");
    assert_eq!(verified.subject_type(), "persistent");
    assert_eq!(verified.recipient, "https://signin.aws.amazon.com/saml");
    assert_eq!(verified.audiences, ["https://signin.aws.amazon.com/saml"]);
    assert_eq!(verified.role_session_name, "alice");
    assert_eq!(verified.session_duration, Some(1800));
    assert_eq!(
        verified.principal_tags,
        [("Department".to_owned(), "Engineering".to_owned())]
    );
    // NotOnOrAfter 00:05:00 plus the 60 s skew.
    assert_eq!(verified.replay_expires_at, NOW + 240 + 60);
    assert_eq!(
        verified.session_not_on_or_after,
        Some(1_767_225_600 + 8 * 3600)
    );
    assert!(verified.grants(ROLE, PROVIDER));
    assert!(!verified.grants(ROLE, "arn:aws:iam::000000000000:saml-provider/Other"));
}

#[test]
fn a_response_with_only_the_assertion_signed_is_accepted() {
    let verified = verify("assertion-signed.xml").unwrap();
    assert_eq!(verified.signed_element, SignedElement::Assertion);
    assert_eq!(verified.subject, "alice@example.test");
}

#[test]
fn an_inclusive_namespaces_prefix_list_is_honoured() {
    assert_eq!(
        verify("assertion-signed-prefix-list.xml").unwrap().subject,
        "alice@example.test"
    );
}

#[test]
fn a_response_with_both_signatures_is_accepted() {
    assert_eq!(
        verify("both-signed.xml").unwrap().signed_element,
        SignedElement::Response
    );
}

#[test]
fn an_ecdsa_p256_sha256_signature_verifies_with_the_ec_metadata_key() {
    assert_eq!(
        verify("ecdsa-sha256.xml").unwrap().subject,
        "alice@example.test"
    );
}

#[test]
fn rsa_sha512_with_a_sha512_digest_verifies() {
    assert!(verify("rsa-sha512.xml").is_ok());
}

#[test]
fn the_role_pair_is_accepted_in_either_order() {
    assert!(
        verify("provider-first-role.xml")
            .unwrap()
            .grants(ROLE, PROVIDER)
    );
    assert_eq!(
        RolePair::parse(&format!("{PROVIDER}, {ROLE}")).unwrap(),
        RolePair {
            role_arn: ROLE.into(),
            provider_arn: PROVIDER.into()
        }
    );
    assert!(RolePair::parse(ROLE).is_none());
}

#[test]
fn saml_condition_keys_follow_the_reference() {
    let verified = verify("response-signed.xml").unwrap();
    let keys = verified.condition_keys("000000000000", "MayflyTestIdP");
    let get = |key: &str| {
        keys.iter()
            .find(|(name, _)| name == key)
            .map(|(_, values)| values.clone())
    };
    assert_eq!(
        get("saml:aud").unwrap(),
        ["https://signin.aws.amazon.com/saml"]
    );
    assert_eq!(get("saml:iss").unwrap(), ["https://idp.example.test/"]);
    assert_eq!(get("saml:sub").unwrap(), ["alice@example.test"]);
    assert_eq!(get("saml:sub_type").unwrap(), ["persistent"]);
    assert_eq!(get("saml:doc").unwrap(), ["000000000000/MayflyTestIdP"]);
    assert_eq!(
        get("saml:namequalifier").unwrap(),
        [mayfly_federation::saml::name_qualifier(
            "https://idp.example.test/",
            "000000000000",
            "MayflyTestIdP"
        )]
    );
    assert_eq!(
        get("saml:edupersonaffiliation").unwrap(),
        ["member", "staff"]
    );
}

// ---- metadata ----

#[test]
fn metadata_keys_come_from_signing_and_unspecified_key_descriptors_only() {
    let metadata = metadata();
    assert_eq!(metadata.entity_id, "https://idp.example.test/");
    assert_eq!(
        metadata.signing_keys.len(),
        2,
        "the use=\"encryption\" certificate is not a signing key"
    );
}

#[test]
fn metadata_with_a_doctype_is_refused() {
    let text = fixture("metadata.xml").replacen(
        "<md:EntityDescriptor",
        "<!DOCTYPE x []><md:EntityDescriptor",
        1,
    );
    assert_eq!(IdpMetadata::parse(&text), Err(MetadataError::Doctype));
}

#[test]
fn metadata_without_signing_certificates_is_refused() {
    let text = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><md:IDPSSODescriptor/></md:EntityDescriptor>"#;
    assert_eq!(IdpMetadata::parse(text), Err(MetadataError::NoSigningKey));
}

// ---- attacks and failures ----

#[test]
fn an_unsigned_response_is_refused() {
    invalid("unsigned.xml", &SamlError::Unsigned);
}

#[test]
fn a_response_altered_after_signing_is_refused() {
    invalid("tampered.xml", &SamlError::DigestMismatch);
}

#[test]
fn a_signature_by_a_key_outside_the_metadata_is_refused_even_with_its_certificate_in_key_info() {
    invalid("signed-by-attacker.xml", &SamlError::BadSignature);
}

#[test]
fn a_signature_by_the_metadata_encryption_key_is_refused() {
    invalid("signed-by-encryption-key.xml", &SamlError::BadSignature);
}

#[test]
fn a_signature_over_a_different_element_is_refused() {
    invalid(
        "signature-over-other-element.xml",
        &SamlError::ReferenceNotParent,
    );
}

#[test]
fn xsw1_evil_response_with_the_original_inside_the_signature_is_refused() {
    invalid("xsw1.xml", &SamlError::AssertionCount { found: 2 });
}

#[test]
fn xsw2_evil_response_with_the_original_beside_a_detached_signature_is_refused() {
    invalid("xsw2.xml", &SamlError::AssertionCount { found: 2 });
}

#[test]
fn xsw3_evil_assertion_before_the_signed_one_is_refused() {
    invalid("xsw3.xml", &SamlError::AssertionCount { found: 2 });
}

#[test]
fn xsw4_signed_assertion_wrapped_inside_the_evil_one_is_refused() {
    invalid("xsw4.xml", &SamlError::AssertionCount { found: 2 });
}

#[test]
fn xsw5_evil_assertion_carrying_the_signature_is_refused() {
    invalid("xsw5.xml", &SamlError::AssertionCount { found: 2 });
}

#[test]
fn xsw6_original_inside_the_evil_assertions_signature_is_refused() {
    invalid("xsw6.xml", &SamlError::AssertionCount { found: 2 });
}

#[test]
fn xsw7_signed_assertion_hidden_in_extensions_is_refused() {
    invalid("xsw7.xml", &SamlError::AssertionCount { found: 2 });
}

#[test]
fn xsw8_original_inside_a_signature_object_is_refused() {
    invalid("xsw8.xml", &SamlError::AssertionCount { found: 2 });
}

#[test]
fn xsw_with_a_single_assertion_still_fails_on_the_signature_reference() {
    // XSW5 without the appended original: one Assertion, carrying a
    // signature whose Reference names an element that no longer exists.
    let text = fixture("xsw5.xml");
    let start = text.rfind("<saml:Assertion ID=\"_a1\"").unwrap();
    let end = text.rfind("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let single = format!("{}{}", &text[..start], &text[end..]);
    let error = verify_response_xml(
        single.as_bytes(),
        &metadata(),
        &VerifyOptions::default(),
        NOW,
    )
    .unwrap_err();
    assert_eq!(error, SamlError::ReferenceNotParent);
    assert_eq!(error.code(), SamlErrorCode::InvalidIdentityToken);
}

#[test]
fn a_comment_inside_the_name_id_does_not_truncate_the_subject() {
    let verified = verify("comment-in-name-id.xml").unwrap();
    assert_eq!(verified.subject, "alice@example.test.evil.test");
}

#[test]
fn a_second_assertion_is_refused() {
    invalid(
        "second-assertion.xml",
        &SamlError::AssertionCount { found: 2 },
    );
}

#[test]
fn an_expired_assertion_answers_expired_token_exception() {
    let error =
        verify_with("response-signed.xml", &VerifyOptions::default(), NOW + 3600).unwrap_err();
    assert_eq!(error, SamlError::Expired);
    assert_eq!(error.code(), SamlErrorCode::ExpiredToken);
    assert_eq!(error.code().as_str(), "ExpiredTokenException");
}

#[test]
fn expiry_allows_the_configured_clock_skew_and_no_more() {
    let options = VerifyOptions {
        clock_skew_seconds: 60,
        ..VerifyOptions::default()
    };
    // NotOnOrAfter is 00:05:00; at 00:05:59 the skew still covers it.
    assert!(verify_with("response-signed.xml", &options, 1_767_225_600 + 359).is_ok());
    assert_eq!(
        verify_with("response-signed.xml", &options, 1_767_225_600 + 360).unwrap_err(),
        SamlError::Expired
    );
}

#[test]
fn a_not_yet_valid_assertion_is_refused() {
    let error = verify_with(
        "response-signed.xml",
        &VerifyOptions::default(),
        1_767_225_600 - 3600,
    )
    .unwrap_err();
    assert_eq!(error, SamlError::NotYetValid);
    assert_eq!(error.code(), SamlErrorCode::InvalidIdentityToken);
}

#[test]
fn a_wrong_audience_is_refused() {
    invalid("wrong-audience.xml", &SamlError::AudienceMismatch);
}

#[test]
fn a_configured_audience_is_accepted() {
    let options = VerifyOptions {
        audiences: vec!["https://other.example.test/".into()],
        ..VerifyOptions::default()
    };
    assert!(verify_with("wrong-audience.xml", &options, NOW).is_ok());
    assert_eq!(
        verify_with("response-signed.xml", &options, NOW).unwrap_err(),
        SamlError::AudienceMismatch
    );
}

#[test]
fn a_wrong_recipient_is_refused() {
    invalid("wrong-recipient.xml", &SamlError::RecipientMismatch);
}

#[test]
fn a_wrong_destination_is_refused() {
    invalid("wrong-destination.xml", &SamlError::DestinationMismatch);
}

#[test]
fn an_issuer_other_than_the_metadata_entity_id_is_refused() {
    invalid("wrong-issuer.xml", &SamlError::IssuerMismatch);
}

#[test]
fn a_failure_status_from_the_idp_answers_idp_rejected_claim() {
    refused(
        "status-requester.xml",
        &SamlError::StatusNotSuccess {
            status: "urn:oasis:names:tc:SAML:2.0:status:Requester".into(),
        },
        SamlErrorCode::IdpRejectedClaim,
    );
}

#[test]
fn an_invalid_role_session_name_is_refused_with_the_aws_message() {
    invalid("bad-session-name.xml", &SamlError::RoleSessionName);
    assert_eq!(
        SamlError::RoleSessionName.to_string(),
        "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"
    );
}

#[test]
fn rsa_sha1_is_refused_without_the_opt_in() {
    invalid("rsa-sha1.xml", &SamlError::Sha1Refused);
}

#[test]
fn a_sha1_digest_is_refused_without_the_opt_in() {
    invalid("sha1-digest.xml", &SamlError::Sha1Refused);
}

#[test]
fn rsa_sha1_verifies_when_the_provider_opts_in() {
    let options = VerifyOptions {
        allow_sha1: true,
        ..VerifyOptions::default()
    };
    assert!(verify_with("rsa-sha1.xml", &options, NOW).is_ok());
    assert!(verify_with("sha1-digest.xml", &options, NOW).is_ok());
}

#[test]
fn an_entity_expansion_bomb_is_refused_before_expansion() {
    let mut bomb =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for level in 1..10 {
        let previous = if level == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", level - 1)
        };
        bomb.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">\n",
            format!("&{previous};").repeat(10)
        ));
    }
    bomb.push_str("]>\n<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">&lol9;</samlp:Response>");
    let started = std::time::Instant::now();
    let error = verify_response(
        &STANDARD.encode(&bomb),
        &metadata(),
        &VerifyOptions::default(),
        NOW,
    )
    .unwrap_err();
    assert_eq!(error, SamlError::Doctype);
    assert_eq!(error.code(), SamlErrorCode::InvalidIdentityToken);
    assert!(started.elapsed().as_millis() < 500);
}

#[test]
fn an_external_entity_is_refused() {
    let xxe = "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>";
    assert_eq!(
        verify_response_xml(xxe.as_bytes(), &metadata(), &VerifyOptions::default(), NOW)
            .unwrap_err(),
        SamlError::Doctype
    );
}

#[test]
fn a_ten_megabyte_document_is_refused_without_parsing() {
    let mut huge = fixture("response-signed.xml");
    huge.push_str(&" ".repeat(10 * 1024 * 1024));
    let encoded = STANDARD.encode(&huge);
    let started = std::time::Instant::now();
    let error = verify_response(&encoded, &metadata(), &VerifyOptions::default(), NOW).unwrap_err();
    assert_eq!(error, SamlError::TooLarge { limit: 256 * 1024 });
    assert_eq!(error.code(), SamlErrorCode::InvalidIdentityToken);
    assert!(started.elapsed().as_millis() < 500);
    let error = verify_response_xml(huge.as_bytes(), &metadata(), &VerifyOptions::default(), NOW)
        .unwrap_err();
    assert_eq!(error, SamlError::TooLarge { limit: 256 * 1024 });
}

#[test]
fn text_that_is_not_base64_is_refused() {
    let error =
        verify_response("not base64!", &metadata(), &VerifyOptions::default(), NOW).unwrap_err();
    assert_eq!(error, SamlError::NotBase64);
}

#[test]
fn error_messages_never_quote_the_assertion() {
    for name in [
        "tampered.xml",
        "wrong-audience.xml",
        "xsw3.xml",
        "bad-session-name.xml",
    ] {
        let message = verify(name).unwrap_err().to_string();
        assert!(!message.contains("alice"), "{name}: {message}");
        assert!(!message.contains("example.test"), "{name}: {message}");
    }
}

#[test]
fn canonicalization_corner_cases_agree_with_xmlsec1() {
    let verified = verify("c14n-corner-cases.xml").unwrap();
    let (_, values) = verified
        .attributes
        .iter()
        .find(|(name, _)| name == "urn:mayfly:stress")
        .unwrap();
    assert!(values[0].starts_with("a & b < c > d \"q\" 's'"));
}

fn verify_text(text: &str) -> Result<VerifiedAssertion, SamlError> {
    verify_response_xml(text.as_bytes(), &metadata(), &VerifyOptions::default(), NOW)
}

#[test]
fn an_element_reusing_the_assertion_id_is_refused() {
    let text = fixture("response-signed.xml").replacen(
        "<samlp:Status>",
        "<samlp:Extensions ID=\"_a1\"/><samlp:Status>",
        1,
    );
    assert_eq!(verify_text(&text).unwrap_err(), SamlError::DuplicateId);
}

#[test]
fn a_signature_outside_the_response_and_assertion_is_refused() {
    let text = fixture("assertion-signed.xml");
    let start = text.find("<ds:Signature").unwrap();
    let end = text.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let copy = text[start..end].to_owned();
    let moved = text.replacen("<samlp:Status>", &format!("<samlp:Status>{copy}"), 1);
    assert_eq!(
        verify_text(&moved).unwrap_err(),
        SamlError::MisplacedSignature
    );
}

#[test]
fn a_signature_carrying_an_object_is_refused() {
    let text = fixture("response-signed.xml").replacen(
        "</ds:Signature>",
        "<ds:Object/></ds:Signature>",
        1,
    );
    assert!(matches!(
        verify_text(&text).unwrap_err(),
        SamlError::SignatureStructure { .. }
    ));
}

#[test]
fn an_unsupported_transform_is_refused() {
    let text = fixture("response-signed.xml").replacen(
        "http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/></ds:Transforms>",
        1,
    );
    assert_eq!(
        verify_text(&text).unwrap_err(),
        SamlError::UnsupportedAlgorithm {
            algorithm: "http://www.w3.org/TR/2001/REC-xml-c14n-20010315".into()
        }
    );
}
