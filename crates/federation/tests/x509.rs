#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
//! X.509 checks for Roles Anywhere against the test PKI from
//! `mayfly_testkit::pki` (generated with rcgen, independent of the parser).

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mayfly_federation::x509::{
    AnchorBundle, AttributeMapping, KeyKind, X509Error, default_mappings, parse_certificate,
    parse_crl, principal_tags, verify_chain,
};
use mayfly_testkit::pki::TestPki;

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate().unwrap())
}

/// 2026-01-01T00:00:00Z, inside every certificate but the expired one.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

fn anchors() -> AnchorBundle {
    AnchorBundle::from_pem(&pki().root.cert_pem).unwrap()
}

fn check(leaf_der: &[u8], pool: &[Vec<u8>], crls: &[Vec<u8>]) -> Result<(), X509Error> {
    let leaf = parse_certificate(leaf_der).unwrap();
    verify_chain(&leaf, pool, &anchors(), crls, now())
}

fn pool() -> Vec<Vec<u8>> {
    vec![pki().intermediate.cert_der.clone()]
}

#[test]
fn fields_are_extracted() {
    let cert = parse_certificate(&pki().ec_p256.cert_der).unwrap();
    assert_eq!(cert.serial_hex(), "0badc0ffee");
    assert_eq!(cert.serial_decimal(), "50159747054");
    assert_eq!(cert.subject_dn, "C=US, O=Example, OU=Dev, CN=workload-ec");
    assert_eq!(cert.issuer_dn, "C=US, O=Example, CN=Example Issuing CA");
    assert_eq!(cert.subject_cn(), Some("workload-ec"));
    assert_eq!(cert.san_dns.as_deref(), Some("host1.example.com"));
    assert_eq!(
        cert.san_uri.as_deref(),
        Some("spiffe://example.com/ns/a/sa/b")
    );
    assert_eq!(cert.key_kind, KeyKind::EcP256);
    assert_eq!(cert.digital_signature, Some(true));
    assert!(!cert.is_ca);
    assert_eq!(
        parse_certificate(&pki().rsa.cert_der).unwrap().key_kind,
        KeyKind::Rsa
    );
    assert_eq!(
        parse_certificate(&pki().ec_p384.cert_der).unwrap().key_kind,
        KeyKind::EcP384
    );
}

#[test]
fn garbage_and_trailing_bytes_are_malformed() {
    assert!(matches!(
        parse_certificate(b"not a cert"),
        Err(X509Error::Malformed(_))
    ));
    let mut der = pki().ec_p256.cert_der.clone();
    der.push(0);
    assert!(matches!(
        parse_certificate(&der),
        Err(X509Error::Malformed(_))
    ));
}

#[test]
fn valid_leaves_chain_through_the_intermediate() {
    let crl = parse_crl(pki().crl_pem.as_bytes()).unwrap();
    for leaf in [&pki().ec_p256, &pki().ec_p384, &pki().rsa] {
        check(&leaf.cert_der, &pool(), &[]).unwrap();
        check(&leaf.cert_der, &pool(), std::slice::from_ref(&crl)).unwrap();
    }
}

#[test]
fn without_the_intermediate_there_is_no_path() {
    assert!(matches!(
        check(&pki().ec_p256.cert_der, &[], &[]),
        Err(X509Error::Untrusted(_))
    ));
}

#[test]
fn the_anchor_itself_in_the_pool_is_ignored_and_harmless() {
    let pool = vec![
        pki().root.cert_der.clone(),
        pki().intermediate.cert_der.clone(),
        pki().ec_p256.cert_der.clone(),
    ];
    check(&pki().ec_p256.cert_der, &pool, &[]).unwrap();
}

#[test]
fn a_leaf_of_another_root_is_untrusted() {
    let pool = vec![pki().other_root.cert_der.clone()];
    assert!(matches!(
        check(&pki().other_leaf.cert_der, &pool, &[]),
        Err(X509Error::Untrusted(_))
    ));
}

#[test]
fn an_expired_leaf_is_refused_and_valid_in_its_window() {
    assert_eq!(
        check(&pki().expired.cert_der, &pool(), &[]),
        Err(X509Error::Expired)
    );
    let leaf = parse_certificate(&pki().expired.cert_der).unwrap();
    // 2024-03-01: inside the expired leaf's window.
    let then = UNIX_EPOCH + Duration::from_secs(1_709_251_200);
    verify_chain(&leaf, &pool(), &anchors(), &[], then).unwrap();
}

#[test]
fn before_not_before_is_refused() {
    let leaf = parse_certificate(&pki().ec_p256.cert_der).unwrap();
    let early = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    assert_eq!(
        verify_chain(&leaf, &pool(), &anchors(), &[], early),
        Err(X509Error::Expired)
    );
}

#[test]
fn a_revoked_leaf_is_refused_only_with_the_crl() {
    let crl = parse_crl(pki().crl_pem.as_bytes()).unwrap();
    assert_eq!(crl, pki().crl_der);
    check(&pki().revoked.cert_der, &pool(), &[]).unwrap();
    assert_eq!(
        check(&pki().revoked.cert_der, &pool(), &[crl]),
        Err(X509Error::Revoked)
    );
}

#[test]
fn a_leaf_without_digital_signature_is_refused() {
    assert!(matches!(
        check(&pki().no_digital_signature.cert_der, &pool(), &[]),
        Err(X509Error::KeyUsage(_))
    ));
}

#[test]
fn a_ca_certificate_cannot_sign_requests() {
    let err = check(&pki().intermediate.cert_der, &[], &[]).unwrap_err();
    assert!(matches!(err, X509Error::KeyUsage(_)));
}

#[test]
fn bad_bundles_and_crls_are_malformed_input() {
    assert!(matches!(
        AnchorBundle::from_pem(""),
        Err(X509Error::MalformedInput(_))
    ));
    assert!(matches!(
        AnchorBundle::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        Err(X509Error::MalformedInput(_))
    ));
    assert!(matches!(
        parse_crl(b"garbage"),
        Err(X509Error::MalformedInput(_))
    ));
    let bundle = format!("{}{}", pki().root.cert_pem, pki().other_root.cert_pem);
    let both = AnchorBundle::from_pem(&bundle).unwrap();
    let leaf = parse_certificate(&pki().other_leaf.cert_der).unwrap();
    verify_chain(&leaf, &[], &both, &[], now()).unwrap();
}

#[test]
fn default_mappings_make_aws_tags() {
    let cert = parse_certificate(&pki().ec_p256.cert_der).unwrap();
    let tags = principal_tags(&cert, &default_mappings()).unwrap();
    let get = |k: &str| {
        tags.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("x509Issuer/CN"), Some("Example Issuing CA"));
    assert_eq!(get("x509Issuer/O"), Some("Example"));
    assert_eq!(get("x509Subject/CN"), Some("workload-ec"));
    assert_eq!(get("x509Subject/OU"), Some("Dev"));
    assert_eq!(get("x509Subject/C"), Some("US"));
    assert_eq!(get("x509SAN/DNS"), Some("host1.example.com"));
    assert_eq!(get("x509SAN/URI"), Some("spiffe://example.com/ns/a/sa/b"));
    assert_eq!(tags.len(), 9);
}

#[test]
fn specific_specifiers_and_unmappable_values() {
    let cert = parse_certificate(&pki().ec_p256.cert_der).unwrap();
    let only_cn = [AttributeMapping {
        certificate_field: "x509Subject".into(),
        specifiers: vec!["CN".into()],
    }];
    assert_eq!(
        principal_tags(&cert, &only_cn).unwrap(),
        vec![("x509Subject/CN".to_owned(), "workload-ec".to_owned())]
    );
    let mut odd = cert.clone();
    odd.san_dns = Some("bad value!*".into());
    let err = principal_tags(&odd, &default_mappings()).unwrap_err();
    assert_eq!(err.san, vec!["DNS".to_owned()]);
    assert_eq!(err.describe(), "Issuer: [  ]; Subject: [  ]; SAN: [ DNS ]");
}
