//! The OIDC verifier against tokens from an independent signer
//! (`mayfly_testkit::jwt`, which signs with jsonwebtoken), including the
//! attack corpus of issue 4: each case asserts the exact refusal and the
//! AWS error it maps to.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use mayfly_federation::oidc::{
    self, Expectations, JwkSet, OidcError, OidcErrorCode, UnverifiedToken, VerifiedClaims,
};
use mayfly_testkit::jwt::{self, SigningKey};
use serde_json::{Value, json};

const ISSUER: &str = "https://idp.example.com";
const CLIENT: &str = "mayfly-client";
const NOW: i64 = 1_800_000_000;

fn client_ids() -> Vec<String> {
    vec![CLIENT.to_owned(), "other-client".to_owned()]
}

fn claims() -> Value {
    jwt::claims(ISSUER, CLIENT, "user-123", NOW - 10, 600)
}

fn keyset(keys: &[&SigningKey]) -> JwkSet {
    JwkSet::parse(jwt::jwks(keys).unwrap().as_bytes()).unwrap()
}

fn check(token: &str, keys: &JwkSet) -> Result<VerifiedClaims, OidcError> {
    check_at(token, keys, NOW)
}

fn check_at(token: &str, keys: &JwkSet, now: i64) -> Result<VerifiedClaims, OidcError> {
    let ids = client_ids();
    let token = UnverifiedToken::parse(token)?;
    oidc::verify(
        &token,
        keys,
        &Expectations {
            issuer: ISSUER,
            client_ids: &ids,
            now,
            leeway_seconds: oidc::DEFAULT_LEEWAY_SECONDS,
        },
    )
}

fn invalid(result: Result<VerifiedClaims, OidcError>) -> OidcError {
    let error = result.expect_err("the token must be refused");
    assert_eq!(error.code(), OidcErrorCode::InvalidIdentityToken, "{error}");
    error
}

#[test]
fn every_supported_algorithm_verifies() {
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        let key = SigningKey::rsa("k1", alg).unwrap();
        let verified = check(&key.sign(&claims()).unwrap(), &keyset(&[&key])).unwrap();
        assert_eq!(verified.algorithm.name(), alg);
        assert_eq!(verified.subject, "user-123");
        assert_eq!(verified.audience, CLIENT);
    }
    for alg in ["ES256", "ES384"] {
        let key = SigningKey::ec("e1", alg).unwrap();
        let verified = check(&key.sign(&claims()).unwrap(), &keyset(&[&key])).unwrap();
        assert_eq!(verified.algorithm.name(), alg);
    }
}

#[test]
fn key_is_picked_by_kid_among_several() {
    let a = SigningKey::rsa("a", "RS256").unwrap();
    let b = SigningKey::ec("b", "ES256").unwrap();
    let keys = keyset(&[&a, &b]);
    assert!(check(&a.sign(&claims()).unwrap(), &keys).is_ok());
    assert!(check(&b.sign(&claims()).unwrap(), &keys).is_ok());
}

#[test]
fn attack_alg_none_without_signature_is_refused() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let token = jwt::unsigned_token("k1", &claims(), "");
    let error = invalid(check(&token, &keyset(&[&key])));
    assert!(matches!(error, OidcError::Malformed { .. }), "{error}");
}

#[test]
fn attack_alg_none_with_a_signature_is_refused() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let token = jwt::unsigned_token("k1", &claims(), "c2ln");
    let error = invalid(check(&token, &keyset(&[&key])));
    assert!(
        matches!(error, OidcError::ForbiddenAlgorithm { .. }),
        "{error}"
    );
}

#[test]
fn attack_hs256_signed_with_the_rsa_public_key_is_refused() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let keys = keyset(&[&key]);
    let forged = jwt::hs256_token(key.public_key_der(), "k1", &claims()).unwrap();
    let error = invalid(check(&forged, &keys));
    assert!(
        matches!(error, OidcError::ForbiddenAlgorithm { .. }),
        "{error}"
    );
    // The same with the JWK's own bytes as the HMAC secret.
    let jwk = key.jwk().unwrap().to_string();
    let forged = jwt::hs256_token(jwk.as_bytes(), "k1", &claims()).unwrap();
    invalid(check(&forged, &keys));
}

#[test]
fn attack_unknown_kid_is_refused() {
    let known = SigningKey::rsa("known", "RS256").unwrap();
    let other = SigningKey::rsa("unknown", "RS256").unwrap();
    let error = invalid(check(&other.sign(&claims()).unwrap(), &keyset(&[&known])));
    assert!(matches!(error, OidcError::UnknownKid { .. }), "{error}");
}

#[test]
fn attack_kid_path_tricks_are_refused() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let keys = keyset(&[&key]);
    for kid in [
        "../k1",
        "k1/../k1",
        "./k1",
        "k1\u{0}",
        "K1",
        " k1",
        "/etc/passwd",
        "k1%00",
    ] {
        let mut header = jwt::jsonwebtoken::Header::new(jwt::jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let token = key.sign_with_header(&header, &claims()).unwrap();
        let error = invalid(check(&token, &keys));
        assert!(
            matches!(error, OidcError::UnknownKid { .. }),
            "{kid:?}: {error}"
        );
    }
}

#[test]
fn attack_missing_kid_is_refused() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let header = jwt::jsonwebtoken::Header::new(jwt::jsonwebtoken::Algorithm::RS256);
    let token = key.sign_with_header(&header, &claims()).unwrap();
    let error = invalid(check(&token, &keyset(&[&key])));
    assert_eq!(error, OidcError::MissingKid);
}

#[test]
fn attack_expired_token_is_expired_token_exception() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let token = key
        .sign(&jwt::claims(ISSUER, CLIENT, "u", NOW - 4000, 3600))
        .unwrap();
    let error = check(&token, &keyset(&[&key])).unwrap_err();
    assert!(matches!(error, OidcError::Expired { .. }), "{error}");
    assert_eq!(error.code(), OidcErrorCode::ExpiredToken);
}

#[test]
fn expiry_tolerates_five_minutes_of_skew_and_no_more() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let keys = keyset(&[&key]);
    let token = key
        .sign(&jwt::claims(ISSUER, CLIENT, "u", NOW - 100, 60))
        .unwrap();
    // exp = NOW - 40: inside the leeway.
    assert!(check(&token, &keys).is_ok());
    assert!(matches!(
        check_at(&token, &keys, NOW - 40 + 301),
        Err(OidcError::Expired { .. })
    ));
}

#[test]
fn attack_not_yet_valid_token_is_refused() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let mut c = claims();
    c["nbf"] = json!(NOW + 3600);
    let error = invalid(check(&key.sign(&c).unwrap(), &keyset(&[&key])));
    assert!(matches!(error, OidcError::NotYetValid { .. }), "{error}");
}

#[test]
fn token_issued_in_the_future_is_refused() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let mut c = claims();
    c["iat"] = json!(NOW + 3600);
    c["exp"] = json!(NOW + 7200);
    let error = invalid(check(&key.sign(&c).unwrap(), &keyset(&[&key])));
    assert!(matches!(error, OidcError::IssuedInFuture { .. }), "{error}");
}

#[test]
fn attack_wrong_issuer_is_refused() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let token = key
        .sign(&jwt::claims(
            "https://evil.example.com",
            CLIENT,
            "u",
            NOW,
            600,
        ))
        .unwrap();
    let error = invalid(check(&token, &keyset(&[&key])));
    assert!(matches!(error, OidcError::IssuerMismatch { .. }), "{error}");
}

#[test]
fn attack_wrong_audience_is_refused() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let token = key
        .sign(&jwt::claims(ISSUER, "someone-else", "u", NOW, 600))
        .unwrap();
    let error = invalid(check(&token, &keyset(&[&key])));
    assert!(
        matches!(error, OidcError::AudienceMismatch { .. }),
        "{error}"
    );
    assert!(error.to_string().starts_with("Incorrect token audience"));
}

#[test]
fn audience_array_matches_any_registered_client_id() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let mut c = claims();
    c["aud"] = json!(["someone-else", "other-client"]);
    let verified = check(&key.sign(&c).unwrap(), &keyset(&[&key])).unwrap();
    assert_eq!(verified.audience, "other-client");
    assert_eq!(verified.audiences.len(), 2);
}

#[test]
fn attack_tampered_payload_is_refused() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let token = key.sign(&claims()).unwrap();
    let mut c = claims();
    c["sub"] = json!("admin");
    let error = invalid(check(&jwt::with_payload(&token, &c), &keyset(&[&key])));
    assert!(matches!(error, OidcError::BadSignature { .. }), "{error}");
}

#[test]
fn attack_tampered_ec_payload_is_refused() {
    let key = SigningKey::ec("e1", "ES256").unwrap();
    let token = key.sign(&claims()).unwrap();
    let mut c = claims();
    c["sub"] = json!("admin");
    let error = invalid(check(&jwt::with_payload(&token, &c), &keyset(&[&key])));
    assert!(matches!(error, OidcError::BadSignature { .. }), "{error}");
}

#[test]
fn attack_key_substituted_under_the_same_kid_is_refused() {
    let published = SigningKey::rsa("k1", "RS256").unwrap();
    let attacker = SigningKey::rsa("k1", "RS256").unwrap();
    let error = invalid(check(
        &attacker.sign(&claims()).unwrap(),
        &keyset(&[&published]),
    ));
    assert!(matches!(error, OidcError::BadSignature { .. }), "{error}");
}

#[test]
fn attack_embedded_jwk_header_is_ignored() {
    let published = SigningKey::rsa("k1", "RS256").unwrap();
    let attacker = SigningKey::rsa("k1", "RS256").unwrap();
    let mut header = jwt::jsonwebtoken::Header::new(jwt::jsonwebtoken::Algorithm::RS256);
    header.kid = Some("k1".to_owned());
    header.jwk = Some(serde_json::from_value(attacker.jwk().unwrap()).unwrap());
    header.jku = Some("https://evil.example.com/jwks".to_owned());
    let token = attacker.sign_with_header(&header, &claims()).unwrap();
    let error = invalid(check(&token, &keyset(&[&published])));
    assert!(matches!(error, OidcError::BadSignature { .. }), "{error}");
}

#[test]
fn attack_algorithm_the_key_does_not_allow_is_refused() {
    // The JWK says RS256; a token claiming RS512 with the same key is refused
    // before its signature is even checked.
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let keys = keyset(&[&key]);
    let mut header = jwt::jsonwebtoken::Header::new(jwt::jsonwebtoken::Algorithm::RS512);
    header.kid = Some("k1".to_owned());
    let error = invalid(check(
        &key.sign_with_header(&header, &claims()).unwrap(),
        &keys,
    ));
    assert!(
        matches!(error, OidcError::AlgorithmMismatch { .. }),
        "{error}"
    );
}

#[test]
fn attack_rsa_algorithm_against_an_ec_key_is_refused() {
    let ec = SigningKey::ec("shared", "ES256").unwrap();
    let rsa = SigningKey::rsa("shared", "RS256").unwrap();
    let error = invalid(check(&rsa.sign(&claims()).unwrap(), &keyset(&[&ec])));
    assert!(
        matches!(error, OidcError::AlgorithmMismatch { .. }),
        "{error}"
    );
}

#[test]
fn missing_subject_or_expiry_is_refused() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let keys = keyset(&[&key]);
    for claim in ["sub", "exp", "aud", "iat", "iss"] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(claim);
        let error = invalid(check(&key.sign(&c).unwrap(), &keys));
        assert!(
            matches!(
                error,
                OidcError::MissingClaim { .. } | OidcError::IssuerMismatch { .. }
            ),
            "{claim}: {error}"
        );
    }
}

#[test]
fn aws_tags_and_source_identity_claims_are_read() {
    let key = SigningKey::rsa("k1", "RS256").unwrap();
    let mut c = claims();
    c["https://aws.amazon.com/tags"] = json!({
        "principal_tags": {"Project": ["Blue"], "Team": ["Ops"]},
        "transitive_tag_keys": ["Team"]
    });
    c["https://aws.amazon.com/source_identity"] = json!("alice");
    c["amr"] = json!(["authenticated", "mfa"]);
    c["azp"] = json!("web-app");
    let verified = check(&key.sign(&c).unwrap(), &keyset(&[&key])).unwrap();
    let tags = verified.session_tags.unwrap();
    assert_eq!(tags.len(), 2);
    assert!(tags.iter().any(|t| t.key == "Team" && t.transitive));
    assert_eq!(verified.source_identity.as_deref(), Some("alice"));
    assert_eq!(verified.amr, ["authenticated", "mfa"]);
    assert_eq!(verified.authorized_party.as_deref(), Some("web-app"));
}

#[test]
fn jwks_written_by_jsonwebtoken_parses_with_every_key() {
    let keys = [
        SigningKey::rsa("r", "PS256").unwrap(),
        SigningKey::ec("e", "ES384").unwrap(),
    ];
    let set = keyset(&[&keys[0], &keys[1]]);
    assert_eq!(set.keys().len(), 2);
    assert!(set.contains("r") && set.contains("e"));
}
