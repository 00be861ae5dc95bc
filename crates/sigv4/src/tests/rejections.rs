//! Every error path of authentication and verification.

use super::vectors::{V1_SIGNATURE, key, v1, v3, v5, v6};
use super::*;
use crate::*;

const V1_AUTH: &str = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEY000001/20240115/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=f9386e025bd38292517950198fbdfe33e2682526cbde7cd8b5be6393b4d691d0";

fn authenticate_at(req: &Req, now: SystemTime) -> Result<Authentication, SigV4Error> {
    req.with(|parts| authenticate(parts, now))
}

/// Authenticates at the vectors' time and verifies as STS does.
fn sts_outcome(req: &Req, key: &SigningKey) -> Result<(), SigV4Error> {
    req.with(|parts| {
        authenticate(parts, at(AMZ_DATE))?.verify(
            parts,
            Payload::Bytes(&req.body),
            UriEncoding::Double,
            key,
        )
    })
}

fn s3_outcome(req: &Req, payload: Payload<'_>, now: SystemTime) -> Result<(), SigV4Error> {
    req.with(|parts| {
        authenticate(parts, now)?.verify(parts, payload, UriEncoding::Single, &key("s3"))
    })
}

fn with_authorization(value: &str) -> Req {
    v1().replace("Authorization", value)
}

/// Signs `req` (which has no authentication yet) for S3 at the vectors' time.
fn s3_signed(req: Req, body: SignableBody<'_>) -> Req {
    let signed = req.with(|parts| {
        sign_headers(
            parts,
            &SigningParams {
                credentials: Credentials {
                    access_key_id: ASIA,
                    secret_access_key: SECRET,
                    session_token: None,
                },
                region: "us-east-1",
                service: "s3",
                time: at(AMZ_DATE),
                encoding: UriEncoding::Single,
                body,
                content_sha256_header: true,
            },
        )
        .unwrap()
    });
    signed.headers.iter().fold(req, |r, (n, v)| r.header(n, v))
}

#[test]
fn rejects_a_tampered_body() {
    let mut req = v1();
    req.body = req.body.replace_range_copy(b"900", b"901");
    assert!(matches!(
        sts_outcome(&req, &key("sts")),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
}

trait ReplaceRange {
    fn replace_range_copy(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceRange for Vec<u8> {
    fn replace_range_copy(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = self.windows(from.len()).position(|w| w == from).unwrap();
        let mut out = self.clone();
        out.splice(at..at + from.len(), to.iter().copied());
        out
    }
}

#[test]
fn rejects_a_tampered_signed_header() {
    let req = v1().replace("Content-Type", "application/json");
    let err = sts_outcome(&req, &key("sts")).unwrap_err();
    assert!(matches!(err, SigV4Error::SignatureMismatch { .. }));
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert_eq!(err.http_status(), 403);
    assert_eq!(
        err.message(),
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    );
    assert!(!err.to_string().contains(V1_SIGNATURE));
}

#[test]
fn accepts_changes_to_unsigned_headers() {
    let req = v1()
        .replace("User-Agent", "something else")
        .replace("amz-sdk-request", "attempt=2");
    sts_outcome(&req, &key("sts")).unwrap();
}

#[test]
fn rejects_a_signature_made_with_the_wrong_secret() {
    let scope = CredentialScope::new("20240115", "us-east-1", "sts").unwrap();
    let wrong = derive_signing_key("not the secret", &scope);
    assert!(matches!(
        sts_outcome(&v1(), &wrong),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
}

#[test]
fn rejects_signature_with_wrong_region() {
    let scope = CredentialScope::new("20240115", "eu-west-1", "sts").unwrap();
    let other_region_key = derive_signing_key(SECRET, &scope);
    assert!(matches!(
        sts_outcome(&v1(), &other_region_key),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
    let auth = authenticate_at(&v1(), at(AMZ_DATE)).unwrap();
    let err = auth.require_region(|r| r == "eu-west-1").unwrap_err();
    assert_eq!(
        err,
        SigV4Error::RegionNotAllowed {
            region: "us-east-1".into(),
            form: AuthForm::Header
        }
    );
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert_eq!(
        err.message(),
        "Credential should be scoped to a valid region, not 'us-east-1'."
    );
    assert_eq!(err.s3_code(), "AuthorizationHeaderMalformed");
}

#[test]
fn rejects_a_scope_for_another_service() {
    let auth = authenticate_at(&v1(), at(AMZ_DATE)).unwrap();
    let err = auth.require_service("iam").unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert_eq!(
        err.message(),
        "Credential should be scoped to correct service: 'iam'."
    );
}

#[test]
fn rejects_header_auth_more_than_15_minutes_old() {
    let t = at(AMZ_DATE);
    authenticate_at(&v1(), plus(t, 900)).unwrap();
    let err = authenticate_at(&v1(), plus(t, 901)).unwrap_err();
    assert!(matches!(err, SigV4Error::SignatureExpired { .. }));
    assert_eq!(
        (err.code(), err.http_status()),
        ("SignatureDoesNotMatch", 403)
    );
    assert_eq!(
        err.message(),
        "Signature expired: 20240115T120000Z is now earlier than 20240115T120001Z (20240115T121501Z - 15 min.)"
    );
    assert_eq!(
        (err.s3_code(), err.s3_http_status()),
        ("RequestTimeTooSkewed", 403)
    );
}

#[test]
fn rejects_header_auth_more_than_15_minutes_ahead() {
    let t = at(AMZ_DATE);
    authenticate_at(&v1(), minus(t, 900)).unwrap();
    let err = authenticate_at(&v1(), minus(t, 901)).unwrap_err();
    assert!(matches!(err, SigV4Error::SignatureNotYetCurrent { .. }));
    assert_eq!(
        err.message(),
        "Signature not yet current: 20240115T120000Z is still later than 20240115T115959Z (20240115T114459Z + 15 min.)"
    );
}

#[test]
fn rejects_an_expired_presigned_url() {
    let t = at(AMZ_DATE);
    authenticate_at(&v6(), plus(t, 3600)).unwrap();
    let err = authenticate_at(&v6(), plus(t, 3601)).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::PresignExpired {
            expires: 3600,
            expires_at: "2024-01-15T13:00:00Z".into(),
            server_time: "2024-01-15T13:00:01Z".into(),
        }
    );
    assert_eq!((err.code(), err.http_status()), ("AccessDenied", 403));
    assert_eq!(err.s3_message(), "Request has expired");
}

#[test]
fn rejects_a_presigned_url_not_yet_valid() {
    let t = at(AMZ_DATE);
    authenticate_at(&v6(), minus(t, 900)).unwrap();
    let err = authenticate_at(&v6(), minus(t, 901)).unwrap_err();
    assert!(matches!(err, SigV4Error::PresignNotYetValid { .. }));
    assert_eq!(err.s3_message(), "Request is not yet valid");
}

fn v6_with_query(from: &str, to: &str) -> Req {
    let mut req = v6();
    assert!(req.query.contains(from));
    req.query = req.query.replace(from, to);
    req
}

#[test]
fn rejects_presign_expires_beyond_a_week_or_not_positive() {
    for bad in ["604801", "0", "-1", "1.5", "", "99999999999", "36OO"] {
        let req = v6_with_query("X-Amz-Expires=3600", &format!("X-Amz-Expires={bad}"));
        let err = authenticate_at(&req, at(AMZ_DATE)).unwrap_err();
        assert_eq!(
            err,
            SigV4Error::InvalidExpires { value: bad.into() },
            "{bad}"
        );
        assert_eq!(err.s3_code(), "AuthorizationQueryParametersError");
    }
    let week = v6_with_query("X-Amz-Expires=3600", "X-Amz-Expires=604800");
    let auth = authenticate_at(&week, at(AMZ_DATE)).unwrap();
    assert_eq!(auth.presign_expires_secs(), Some(604_800));
}

#[test]
fn rejects_duplicate_presigned_query_parameters() {
    for parameter in [
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    ] {
        let mut req = v6();
        let existing = req
            .query
            .split('&')
            .find(|p| p.starts_with(&format!("{parameter}=")))
            .unwrap()
            .to_owned();
        req.query = format!("{}&{existing}", req.query);
        assert_eq!(
            authenticate_at(&req, at(AMZ_DATE)).unwrap_err(),
            SigV4Error::DuplicateQueryParameter { parameter },
        );
    }
}

#[test]
fn rejects_presigned_urls_missing_a_required_parameter() {
    for parameter in [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ] {
        let mut req = v6();
        req.query = req
            .query
            .split('&')
            .filter(|p| !p.starts_with(&format!("{parameter}=")))
            .collect::<Vec<_>>()
            .join("&");
        let err = authenticate_at(&req, at(AMZ_DATE)).unwrap_err();
        assert_eq!(err, SigV4Error::MissingQueryParameter { parameter });
        assert_eq!(err.code(), "IncompleteSignature");
    }
}

#[test]
fn rejects_malformed_presigned_parameters() {
    let cases = [
        (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Algorithm=AWS4-HMAC-SHA1",
            "UnsupportedAlgorithm",
        ),
        (
            "X-Amz-Date=20240115T120000Z",
            "X-Amz-Date=2024-01-15",
            "MalformedDate",
        ),
        (
            "X-Amz-SignedHeaders=host",
            "X-Amz-SignedHeaders=Host",
            "MalformedSignedHeaders",
        ),
        (
            "X-Amz-Signature=45a7",
            "X-Amz-Signature=zz45a7",
            "MalformedSignature",
        ),
        (
            "%2Faws4_request",
            "%2Faws4_request%2Fx",
            "MalformedCredential",
        ),
        (
            "%2Faws4_request",
            "%2Faws5_request",
            "InvalidScopeTerminator",
        ),
        ("%2F20240115%2F", "%2F20240116%2F", "ScopeDateMismatch"),
    ];
    for (from, to, kind) in cases {
        let err = authenticate_at(&v6_with_query(from, to), at(AMZ_DATE)).unwrap_err();
        assert!(format!("{err:?}").starts_with(kind), "{to}: {err:?}");
    }
}

#[test]
fn rejects_malformed_authorization_headers() {
    let sig = format!("Signature={V1_SIGNATURE}");
    let cred = "Credential=ASIAEXAMPLEKEY000001/20240115/us-east-1/sts/aws4_request";
    let signed = "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token";
    let cases: Vec<(String, SigV4Error)> = vec![
        (
            format!("AWS4-HMAC-SHA256 {signed}, {sig}"),
            SigV4Error::MissingAuthorizationParameter {
                parameter: "Credential",
            },
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, {sig}"),
            SigV4Error::MissingAuthorizationParameter {
                parameter: "SignedHeaders",
            },
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, {signed}"),
            SigV4Error::MissingAuthorizationParameter {
                parameter: "Signature",
            },
        ),
        (
            format!("AWS4-HMAC-SHA1 {cred}, {signed}, {sig}"),
            SigV4Error::UnsupportedAlgorithm {
                algorithm: "AWS4-HMAC-SHA1".into(),
                form: AuthForm::Header,
            },
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEY000001/2024-01-15/us-east-1/sts/aws4_request, {signed}, {sig}"
            ),
            SigV4Error::MalformedCredential {
                credential: "ASIAEXAMPLEKEY000001/2024-01-15/us-east-1/sts/aws4_request".into(),
                form: AuthForm::Header,
            },
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEY000001/20240115/us-east-1/sts/aws4_request, {signed}, Signature=abc"
            ),
            SigV4Error::MalformedSignature {
                form: AuthForm::Header,
            },
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, {signed}, Signature={V1_SIGNATURE}00"),
            SigV4Error::MalformedSignature {
                form: AuthForm::Header,
            },
        ),
        (
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host;content-type, {sig}"),
            SigV4Error::MalformedSignedHeaders {
                value: "host;content-type".into(),
                reason: "header names must be sorted and unique",
                form: AuthForm::Header,
            },
        ),
    ];
    for (header, expected) in cases {
        let err = authenticate_at(&with_authorization(&header), at(AMZ_DATE)).unwrap_err();
        assert_eq!(err, expected, "{header}");
    }
    let err = authenticate_at(
        &with_authorization(&format!("AWS4-HMAC-SHA256 {signed}, {sig}")),
        at(AMZ_DATE),
    )
    .unwrap_err();
    assert_eq!(
        (err.code(), err.http_status()),
        ("IncompleteSignature", 400)
    );
    assert_eq!(
        err.message(),
        "Authorization header requires 'Credential' parameter."
    );
    assert_eq!(err.s3_code(), "AuthorizationHeaderMalformed");
}

#[test]
fn accepts_an_uppercase_hex_signature() {
    let req = with_authorization(&V1_AUTH.replace(V1_SIGNATURE, &V1_SIGNATURE.to_uppercase()));
    sts_outcome(&req, &key("sts")).unwrap();
}

#[test]
fn rejects_a_wrong_scope_terminator_and_date() {
    let err = authenticate_at(
        &with_authorization(&V1_AUTH.replace("aws4_request", "aws4_reqest")),
        at(AMZ_DATE),
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_reqest'."
    );
    let err = authenticate_at(
        &with_authorization(&V1_AUTH.replace("/20240115/", "/20240114/")),
        at(AMZ_DATE),
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240114' != '20240115', from '20240115T120000Z'."
    );
    assert_eq!(err.code(), "SignatureDoesNotMatch");
}

#[test]
fn rejects_host_missing_from_signed_headers() {
    let req = with_authorization(
        &V1_AUTH.replace("content-type;host;x-amz-date", "content-type;x-amz-date"),
    );
    let err = sts_outcome(&req, &key("sts")).unwrap_err();
    assert_eq!(err, SigV4Error::HostNotSigned);
    assert_eq!(
        (err.code(), err.http_status()),
        ("IncompleteSignature", 400)
    );
}

#[test]
fn rejects_an_unsigned_timestamp_or_token_header() {
    let req = with_authorization(&V1_AUTH.replace(";x-amz-date;x-amz-security-token", ""));
    assert_eq!(
        sts_outcome(&req, &key("sts")).unwrap_err(),
        SigV4Error::HeadersNotSigned {
            headers: vec!["x-amz-date".into(), "x-amz-security-token".into()]
        }
    );
}

#[test]
fn rejects_a_signed_header_absent_from_the_request() {
    let req = v1().without("Content-Type");
    assert_eq!(
        sts_outcome(&req, &key("sts")).unwrap_err(),
        SigV4Error::SignedHeaderMissing {
            header: "content-type".into()
        }
    );
}

#[test]
fn rejects_unsigned_x_amz_headers_in_s3_mode_only() {
    let req = v3()
        .header("x-amz-tagging", "a=b")
        .header("X-Amz-Meta-S1", "x");
    let err = s3_outcome(&req, Payload::Bytes(b""), at(AMZ_DATE)).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::HeadersNotSigned {
            headers: vec!["x-amz-meta-s1".into(), "x-amz-tagging".into()]
        }
    );
    assert_eq!((err.s3_code(), err.s3_http_status()), ("AccessDenied", 403));
    // x-amz-content-sha256 may stay unsigned (AWS tolerates it).
    let presigned = v6().header("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    s3_outcome(&presigned, Payload::Unsigned, at(AMZ_DATE)).unwrap();
    // Generic mode does not enforce it.
    let sts = v1().header("x-amz-meta-extra", "x");
    sts_outcome(&sts, &key("sts")).unwrap();
}

#[test]
fn rejects_requests_without_authentication() {
    let req = v1().without("Authorization");
    let err = authenticate_at(&req, at(AMZ_DATE)).unwrap_err();
    assert_eq!(err, SigV4Error::MissingAuthentication);
    assert_eq!(
        (err.code(), err.http_status()),
        ("MissingAuthenticationToken", 403)
    );
    assert_eq!(err.message(), "Request is missing Authentication Token");
    assert_eq!(err.s3_code(), "AccessDenied");
}

#[test]
fn rejects_two_authentication_mechanisms() {
    let mut req = v1();
    req.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256".into();
    assert_eq!(
        authenticate_at(&req, at(AMZ_DATE)).unwrap_err(),
        SigV4Error::ConflictingAuthentication
    );
    let req = v1().header("authorization", V1_AUTH);
    assert_eq!(
        authenticate_at(&req, at(AMZ_DATE)).unwrap_err(),
        SigV4Error::MultipleAuthorizationHeaders
    );
}

#[test]
fn rejects_missing_and_malformed_dates() {
    let err = authenticate_at(&v1().without("X-Amz-Date"), at(AMZ_DATE)).unwrap_err();
    assert_eq!(err, SigV4Error::MissingDate);
    assert_eq!(
        err.message(),
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    );
    let err = authenticate_at(
        &v1().replace("X-Amz-Date", "2024-01-15T12:00:00Z"),
        at(AMZ_DATE),
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "Date must be in ISO-8601 'basic format'. Got '2024-01-15T12:00:00Z'."
    );
    let err = authenticate_at(&v1().header("x-amz-date", AMZ_DATE), at(AMZ_DATE)).unwrap_err();
    assert!(matches!(err, SigV4Error::MalformedDate { .. }));
    let err = authenticate_at(
        &v1().without("X-Amz-Date").header("Date", "yesterday"),
        at(AMZ_DATE),
    )
    .unwrap_err();
    assert!(matches!(err, SigV4Error::MalformedDate { .. }));
}

#[test]
fn rejects_a_session_token_given_twice() {
    let mut req = v1();
    req.query = "X-Amz-Security-Token=abc".into();
    let err = authenticate_at(&req, at(AMZ_DATE)).unwrap_err();
    assert_eq!(err, SigV4Error::ConflictingSecurityToken);
    assert_eq!(err.code(), "InvalidClientTokenId");
    let req = v1().header("x-amz-security-token", TOKEN);
    assert_eq!(
        authenticate_at(&req, at(AMZ_DATE)).unwrap_err(),
        SigV4Error::ConflictingSecurityToken
    );
}

#[test]
fn rejects_a_body_that_does_not_match_x_amz_content_sha256() {
    let req = s3_signed(
        Req::new(
            "PUT",
            "/bucket/key",
            &[("Host", "localhost:9000")],
            b"original",
        ),
        SignableBody::Bytes(b"original"),
    );
    s3_outcome(&req, Payload::Bytes(b"original"), at(AMZ_DATE)).unwrap();
    let err = s3_outcome(&req, Payload::Bytes(b"tampered"), at(AMZ_DATE)).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::ContentSha256Mismatch {
            declared: sha256_hex(b"original"),
            computed: sha256_hex(b"tampered"),
        }
    );
    assert_eq!(
        (err.s3_code(), err.s3_http_status()),
        ("XAmzContentSHA256Mismatch", 400)
    );
    // Deferred: the signature is good; the caller compares the body itself.
    s3_outcome(&req, Payload::Deferred, at(AMZ_DATE)).unwrap();
    let auth = authenticate_at(&req, at(AMZ_DATE)).unwrap();
    assert_eq!(
        auth.payload_hash(),
        Some(PayloadHash::Sha256(crate::canonical::sha256(b"original")))
    );
    // A body hash is not acceptable where the payload must be unsigned.
    assert!(matches!(
        s3_outcome(&req, Payload::Unsigned, at(AMZ_DATE)),
        Err(SigV4Error::PayloadHashNotAccepted { .. })
    ));
}

#[test]
fn rejects_unsigned_payload_where_the_body_must_be_signed() {
    let req = s3_signed(
        Req::new("PUT", "/bucket/key", &[("Host", "localhost:9000")], b"x"),
        SignableBody::Unsigned,
    );
    s3_outcome(&req, Payload::Unsigned, at(AMZ_DATE)).unwrap();
    let err = s3_outcome(&req, Payload::Bytes(b"x"), at(AMZ_DATE)).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::PayloadHashNotAccepted {
            value: "UNSIGNED-PAYLOAD".into()
        }
    );
    // The S3 presigned default is UNSIGNED-PAYLOAD too.
    assert!(matches!(
        s3_outcome(&v6(), Payload::Bytes(b""), at(AMZ_DATE)),
        Err(SigV4Error::PayloadHashNotAccepted { .. })
    ));
    // Streaming needs Deferred.
    assert!(matches!(
        s3_outcome(&v5(), Payload::Unsigned, at(AMZ_DATE)),
        Err(SigV4Error::PayloadHashNotAccepted { .. })
    ));
}

#[test]
fn rejects_s3_header_auth_without_x_amz_content_sha256() {
    let req = v3().without("x-amz-content-sha256");
    let err = s3_outcome(&req, Payload::Bytes(b""), at(AMZ_DATE)).unwrap_err();
    assert_eq!(err, SigV4Error::MissingContentSha256);
    assert_eq!(err.s3_code(), "InvalidRequest");
    // Generic mode given no body and nothing declared cannot rebuild the payload hash either.
    let err = v1()
        .with(|parts| {
            authenticate(parts, at(AMZ_DATE))?.verify(
                parts,
                Payload::Deferred,
                UriEncoding::Double,
                &key("sts"),
            )
        })
        .unwrap_err();
    assert_eq!(err, SigV4Error::MissingContentSha256);
}

#[test]
fn rejects_a_malformed_x_amz_content_sha256() {
    for bad in [
        "abc",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "unsigned-payload",
    ] {
        let req = v3().replace("x-amz-content-sha256", bad);
        let err = s3_outcome(&req, Payload::Deferred, at(AMZ_DATE)).unwrap_err();
        assert_eq!(
            err,
            SigV4Error::MalformedContentSha256 { value: bad.into() }
        );
        assert_eq!(err.s3_code(), "InvalidArgument");
    }
}

#[test]
fn server_side_lookup_errors_map_to_aws_codes() {
    let unknown = SigV4Error::UnknownAccessKey {
        access_key_id: "AKIAUNKNOWN".into(),
    };
    assert_eq!(
        (unknown.code(), unknown.http_status()),
        ("InvalidClientTokenId", 403)
    );
    assert_eq!(
        (unknown.s3_code(), unknown.s3_http_status()),
        ("InvalidAccessKeyId", 403)
    );
    let invalid = SigV4Error::InvalidSecurityToken;
    assert_eq!(
        invalid.message(),
        "The security token included in the request is invalid."
    );
    assert_eq!(
        (invalid.s3_code(), invalid.s3_http_status()),
        ("InvalidToken", 400)
    );
    let expired = SigV4Error::ExpiredSecurityToken;
    assert_eq!(
        (expired.code(), expired.http_status()),
        ("ExpiredToken", 403)
    );
    assert_eq!(
        (expired.s3_code(), expired.s3_http_status()),
        ("ExpiredToken", 400)
    );
}

#[test]
fn signature_mismatch_keeps_s3_diagnostics_but_not_the_expected_signature() {
    let req = v3().replace("Range", "bytes=0-10");
    let err = s3_outcome(&req, Payload::Bytes(b""), at(AMZ_DATE)).unwrap_err();
    let SigV4Error::SignatureMismatch {
        canonical_request,
        string_to_sign,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(canonical_request.contains("\nrange:bytes=0-10\n"));
    assert!(string_to_sign.starts_with("AWS4-HMAC-SHA256\n20240115T120000Z\n"));
    let expected = signature(&key("s3"), string_to_sign);
    let debug = format!("{err:?} {err} {}", err.s3_message());
    assert!(!debug.contains(&expected));
    assert!(!debug.contains(SECRET));
}

#[test]
fn authentication_debug_redacts_the_session_token() {
    let auth = authenticate_at(&v1(), at(AMZ_DATE)).unwrap();
    let debug = format!("{auth:?}");
    assert!(!debug.contains(TOKEN));
    assert!(debug.contains("<redacted>"));
    let credentials = Credentials {
        access_key_id: ASIA,
        secret_access_key: SECRET,
        session_token: Some(TOKEN),
    };
    let debug = format!("{credentials:?}");
    assert!(!debug.contains(SECRET) && !debug.contains(TOKEN));
}

#[test]
fn signing_rejects_bad_inputs() {
    let params = SigningParams {
        credentials: Credentials {
            access_key_id: ASIA,
            secret_access_key: SECRET,
            session_token: None,
        },
        region: "us-east-1",
        service: "sts",
        time: at(AMZ_DATE),
        encoding: UriEncoding::Double,
        body: SignableBody::Bytes(b""),
        content_sha256_header: false,
    };
    let no_host = Req::new("GET", "/", &[], b"");
    assert_eq!(
        no_host.with(|p| sign_headers(p, &params)).unwrap_err(),
        SigningError::MissingHost
    );
    assert_eq!(
        no_host.with(|p| presign(p, &params, 60)).unwrap_err(),
        SigningError::MissingHost
    );
    let dated = Req::new("GET", "/", &[("Host", "h"), ("X-Amz-Date", AMZ_DATE)], b"");
    assert_eq!(
        dated.with(|p| sign_headers(p, &params)).unwrap_err(),
        SigningError::HeaderAlreadyPresent { name: "x-amz-date" }
    );
    let host = Req::new("GET", "/", &[("Host", "h")], b"");
    for seconds in [0, 604_801] {
        assert_eq!(
            host.with(|p| presign(p, &params, seconds)).unwrap_err(),
            SigningError::InvalidExpires { seconds }
        );
    }
    let signed = Req::new("GET", "/?X-Amz-Signature=x", &[("Host", "h")], b"");
    assert_eq!(
        signed.with(|p| presign(p, &params, 60)).unwrap_err(),
        SigningError::QueryAlreadySigned
    );
    let bad_region = SigningParams {
        region: "us east",
        ..params
    };
    assert!(matches!(
        host.with(|p| sign_headers(p, &bad_region)).unwrap_err(),
        SigningError::InvalidScope(_)
    ));
}
