//! Every test vector of sigv4.md §14 (V1-V9) and AWS's published S3 examples.

use super::*;
use crate::*;

const V1_BODY: &[u8] = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fdemo&RoleSessionName=alice+session&DurationSeconds=900";
pub(crate) const V1_SIGNATURE: &str =
    "f9386e025bd38292517950198fbdfe33e2682526cbde7cd8b5be6393b4d691d0";

/// V1 — STS `AssumeRole`, query protocol, temporary credentials, as sent by botocore.
pub(crate) fn v1() -> Req {
    Req::new(
        "POST",
        "/",
        &[
            ("Host", "sts.us-east-1.amazonaws.com"),
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("X-Amz-Date", AMZ_DATE),
            ("X-Amz-Security-Token", TOKEN),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEY000001/20240115/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=f9386e025bd38292517950198fbdfe33e2682526cbde7cd8b5be6393b4d691d0",
            ),
            (
                "amz-sdk-invocation-id",
                "2d7e8f1c-0000-4000-8000-000000000000",
            ),
            ("amz-sdk-request", "attempt=1"),
            ("User-Agent", "Botocore/1.43.11"),
            ("Content-Length", "142"),
        ],
        V1_BODY,
    )
}

/// The signing key of V1-V7 for `service`.
pub(crate) fn key(service: &str) -> SigningKey {
    derive_signing_key(
        SECRET,
        &CredentialScope::new("20240115", "us-east-1", service).unwrap(),
    )
}

fn authorization(akid: &str, service: &str, signed: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={akid}/20240115/us-east-1/{service}/aws4_request, SignedHeaders={signed}, Signature={signature}"
    )
}

/// Rebuilds the canonical request of a parsed request from the public building blocks.
fn rebuild(
    req: &Req,
    encoding: UriEncoding,
    form: AuthForm,
    signed: &str,
    payload: &str,
) -> String {
    req.with(|parts| {
        let names: Vec<&str> = signed.split(';').collect();
        let headers = canonical_headers(parts.headers, &names).unwrap();
        String::from_utf8(canonical_request(
            parts.method,
            &canonical_uri(parts.path, encoding),
            &canonical_query_string(parts.query, form),
            &headers,
            signed,
            payload,
        ))
        .unwrap()
    })
}

fn hash_line(sts: &str) -> &str {
    sts.rsplit('\n').next().unwrap()
}

#[test]
fn v1_sts_assume_role_builds_the_reference_canonical_request_and_signature() {
    let req = v1();
    let creq = rebuild(
        &req,
        UriEncoding::Double,
        AuthForm::Header,
        "content-type;host;x-amz-date;x-amz-security-token",
        &sha256_hex(V1_BODY),
    );
    assert_eq!(
        creq,
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\nhost:sts.us-east-1.amazonaws.com\nx-amz-date:20240115T120000Z\nx-amz-security-token:IQoJb3JpZ2luX2VjEXAMPLE//TOKEN+with/odd=chars\n\ncontent-type;host;x-amz-date;x-amz-security-token\n1f2c666f3b9f9a99e3e5b158c92ddbcade6f1f774d5dd9fa514950f048efbebf"
    );
    let scope = CredentialScope::new("20240115", "us-east-1", "sts").unwrap();
    let sts = string_to_sign(AMZ_DATE, &scope, creq.as_bytes());
    assert_eq!(
        sts,
        "AWS4-HMAC-SHA256\n20240115T120000Z\n20240115/us-east-1/sts/aws4_request\n1bc6dd13399463abf692fb478262022aee25f4e21b86e24087a08253526fcb88"
    );
    assert_eq!(signature(&key("sts"), &sts), V1_SIGNATURE);
}

#[test]
fn v1_sts_assume_role_authenticates_and_verifies() {
    let req = v1();
    req.with(|parts| {
        let auth = authenticate(parts, at(AMZ_DATE)).unwrap();
        assert_eq!(auth.access_key_id(), ASIA);
        assert_eq!(auth.security_token(), Some(TOKEN));
        assert_eq!(auth.form(), AuthForm::Header);
        assert_eq!(
            auth.scope().to_string(),
            "20240115/us-east-1/sts/aws4_request"
        );
        assert_eq!(auth.request_time(), at(AMZ_DATE));
        assert_eq!(auth.presign_expires_at(), None);
        assert_eq!(auth.seed_signature(), V1_SIGNATURE);
        auth.require_service("sts").unwrap();
        auth.require_region(|_| true).unwrap();
        auth.verify(
            parts,
            Payload::Bytes(V1_BODY),
            UriEncoding::Double,
            &key("sts"),
        )
        .unwrap();
        let digest: [u8; 32] = hex::decode(sha256_hex(V1_BODY))
            .unwrap()
            .try_into()
            .unwrap();
        auth.verify(
            parts,
            Payload::Sha256(digest),
            UriEncoding::Double,
            &key("sts"),
        )
        .unwrap();
    });
}

#[test]
fn v1_is_reproduced_by_sign_headers() {
    let req = Req::new(
        "POST",
        "/",
        &[
            ("Host", "sts.us-east-1.amazonaws.com"),
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("User-Agent", "Botocore/1.43.11"),
        ],
        V1_BODY,
    );
    let signed = req.with(|parts| {
        sign_headers(
            parts,
            &SigningParams {
                credentials: Credentials {
                    access_key_id: ASIA,
                    secret_access_key: SECRET,
                    session_token: Some(TOKEN),
                },
                region: "us-east-1",
                service: "sts",
                time: at(AMZ_DATE),
                encoding: UriEncoding::Double,
                body: SignableBody::Bytes(V1_BODY),
                content_sha256_header: false,
            },
        )
        .unwrap()
    });
    assert_eq!(signed.signature, V1_SIGNATURE);
    let expected_authorization = v1()
        .headers
        .into_iter()
        .find(|(n, _)| n == "Authorization")
        .map(|(_, v)| String::from_utf8(v).unwrap())
        .unwrap();
    assert_eq!(
        signed.headers,
        vec![
            ("x-amz-date", AMZ_DATE.to_owned()),
            ("x-amz-security-token", TOKEN.to_owned()),
            ("authorization", expected_authorization),
        ]
    );
}

#[test]
fn v2_lambda_invoke_double_encodes_the_path() {
    let path = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A111122223333%3Afunction%3Amy-fn/invocations";
    let body = br#"{"k": "v"}"#;
    let signed = "host;x-amz-date;x-amz-security-token";
    let sig = "d7a98ebba3718180e4c3cc6e21fa1b06ed5cff75eb9fa46bf601e6112f9188f3";
    let req = Req::new(
        "POST",
        path,
        &[
            ("Host", "lambda.us-east-1.amazonaws.com"),
            ("X-Amz-Date", AMZ_DATE),
            ("X-Amz-Security-Token", TOKEN),
            ("Authorization", &authorization(ASIA, "lambda", signed, sig)),
        ],
        body,
    );
    let creq = rebuild(
        &req,
        UriEncoding::Double,
        AuthForm::Header,
        signed,
        &sha256_hex(body),
    );
    assert_eq!(
        creq,
        "POST\n/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A111122223333%253Afunction%253Amy-fn/invocations\n\nhost:lambda.us-east-1.amazonaws.com\nx-amz-date:20240115T120000Z\nx-amz-security-token:IQoJb3JpZ2luX2VjEXAMPLE//TOKEN+with/odd=chars\n\nhost;x-amz-date;x-amz-security-token\n4be281edc378f1c5e5eb9c15f9dbf5a80da2977981850f93553d5d70b75f1626"
    );
    let scope = CredentialScope::new("20240115", "us-east-1", "lambda").unwrap();
    let sts = string_to_sign(AMZ_DATE, &scope, creq.as_bytes());
    assert_eq!(
        hash_line(&sts),
        "8b9c2a6fac0664c85e986fc3ae9ce61e123ebfc2ec1a64f68d4c20aeb944deda"
    );
    req.with(|parts| {
        let auth = authenticate(parts, at(AMZ_DATE)).unwrap();
        auth.verify(
            parts,
            Payload::Bytes(body),
            UriEncoding::Double,
            &key("lambda"),
        )
        .unwrap();
    });
}

/// V3 — S3 `GetObject`, single encoding, path-style.
pub(crate) fn v3() -> Req {
    let signed =
        "host;range;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date;x-amz-security-token";
    let sig = "5fb33289f7f530125a72c4e355b7ef15f82a430695be9f58d1bfb0bffada1ecf";
    Req::new(
        "GET",
        "/examplebucket/dir/a%20b%2Bc%3Dd%E2%82%AC~%281%29.txt",
        &[
            ("Host", "s3.us-east-1.amazonaws.com"),
            ("Range", "bytes=0-9"),
            ("x-amz-checksum-mode", "ENABLED"),
            ("x-amz-content-sha256", EMPTY_SHA256_HEX),
            ("X-Amz-Date", AMZ_DATE),
            ("X-Amz-Security-Token", TOKEN),
            ("Authorization", &authorization(ASIA, "s3", signed, sig)),
        ],
        b"",
    )
}

#[test]
fn v3_s3_get_object_single_encodes_the_path() {
    let req = v3();
    let signed =
        "host;range;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date;x-amz-security-token";
    let creq = rebuild(
        &req,
        UriEncoding::Single,
        AuthForm::Header,
        signed,
        EMPTY_SHA256_HEX,
    );
    assert_eq!(
        creq,
        "GET\n/examplebucket/dir/a%20b%2Bc%3Dd%E2%82%AC~%281%29.txt\n\nhost:s3.us-east-1.amazonaws.com\nrange:bytes=0-9\nx-amz-checksum-mode:ENABLED\nx-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-amz-date:20240115T120000Z\nx-amz-security-token:IQoJb3JpZ2luX2VjEXAMPLE//TOKEN+with/odd=chars\n\nhost;range;x-amz-checksum-mode;x-amz-content-sha256;x-amz-date;x-amz-security-token\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let scope = CredentialScope::new("20240115", "us-east-1", "s3").unwrap();
    assert_eq!(
        hash_line(&string_to_sign(AMZ_DATE, &scope, creq.as_bytes())),
        "3498d407eb28a4fa40ace43d19008ad99267c0bd696e222b376dd14b4d167dc8"
    );
    req.with(|parts| {
        let auth = authenticate(parts, at(AMZ_DATE)).unwrap();
        auth.verify(parts, Payload::Bytes(b""), UriEncoding::Single, &key("s3"))
            .unwrap();
        auth.verify(parts, Payload::Deferred, UriEncoding::Single, &key("s3"))
            .unwrap();
        assert_eq!(
            auth.payload_hash(),
            Some(PayloadHash::Sha256(crate::canonical::sha256(b"")))
        );
    });
}

#[test]
fn v4_s3_list_objects_sorts_the_query() {
    let signed = "host;x-amz-content-sha256;x-amz-date;x-amz-security-token";
    let sig = "5636e8dfe50911fee0e6a8416b8e79f0c13afbd48ea698a047629795cc7ec72d";
    let req = Req::new(
        "GET",
        "/examplebucket?list-type=2&prefix=a%20b%3D%2F&delimiter=%2F&max-keys=2&encoding-type=url",
        &[
            ("Host", "s3.us-east-1.amazonaws.com"),
            ("x-amz-content-sha256", EMPTY_SHA256_HEX),
            ("X-Amz-Date", AMZ_DATE),
            ("X-Amz-Security-Token", TOKEN),
            ("Authorization", &authorization(ASIA, "s3", signed, sig)),
        ],
        b"",
    );
    let creq = rebuild(
        &req,
        UriEncoding::Single,
        AuthForm::Header,
        signed,
        EMPTY_SHA256_HEX,
    );
    assert_eq!(
        creq,
        "GET\n/examplebucket\ndelimiter=%2F&encoding-type=url&list-type=2&max-keys=2&prefix=a%20b%3D%2F\nhost:s3.us-east-1.amazonaws.com\nx-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-amz-date:20240115T120000Z\nx-amz-security-token:IQoJb3JpZ2luX2VjEXAMPLE//TOKEN+with/odd=chars\n\nhost;x-amz-content-sha256;x-amz-date;x-amz-security-token\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let scope = CredentialScope::new("20240115", "us-east-1", "s3").unwrap();
    assert_eq!(
        hash_line(&string_to_sign(AMZ_DATE, &scope, creq.as_bytes())),
        "b43c9645e1edd16517b95de7f2829913d2b54f96afc76255268827cb4c3a3874"
    );
    req.with(|parts| {
        let auth = authenticate(parts, at(AMZ_DATE)).unwrap();
        auth.verify(parts, Payload::Bytes(b""), UriEncoding::Single, &key("s3"))
            .unwrap();
    });
}

/// V5 — S3 `PutObject` over https, `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
pub(crate) fn v5() -> Req {
    let signed = "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-meta-note;x-amz-sdk-checksum-algorithm;x-amz-security-token;x-amz-trailer";
    let sig = "3127010dda35a80dfe1c159d8889269fdf916c49c27459df378ba3c018bd94e6";
    Req::new(
        "PUT",
        "/examplebucket/hello.txt",
        &[
            ("Host", "s3.us-east-1.amazonaws.com"),
            ("x-amz-meta-note", "  two  spaces  "),
            ("Expect", "100-continue"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Encoding", "aws-chunked"),
            ("X-Amz-Trailer", "x-amz-checksum-crc32"),
            ("X-Amz-Decoded-Content-Length", "12"),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
            ("X-Amz-Date", AMZ_DATE),
            ("X-Amz-Security-Token", TOKEN),
            ("X-Amz-Content-SHA256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("Authorization", &authorization(ASIA, "s3", signed, sig)),
        ],
        b"c\r\nhello world\n\r\n0\r\nx-amz-checksum-crc32:rwg7LQ==\r\n\r\n",
    )
}

#[test]
fn v5_s3_streaming_unsigned_trailer_trims_header_values() {
    let req = v5();
    let signed = "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-meta-note;x-amz-sdk-checksum-algorithm;x-amz-security-token;x-amz-trailer";
    let creq = rebuild(
        &req,
        UriEncoding::Single,
        AuthForm::Header,
        signed,
        PayloadHash::STREAMING_UNSIGNED_TRAILER,
    );
    assert_eq!(
        creq,
        "PUT\n/examplebucket/hello.txt\n\ncontent-encoding:aws-chunked\nhost:s3.us-east-1.amazonaws.com\nx-amz-content-sha256:STREAMING-UNSIGNED-PAYLOAD-TRAILER\nx-amz-date:20240115T120000Z\nx-amz-decoded-content-length:12\nx-amz-meta-note:two spaces\nx-amz-sdk-checksum-algorithm:CRC32\nx-amz-security-token:IQoJb3JpZ2luX2VjEXAMPLE//TOKEN+with/odd=chars\nx-amz-trailer:x-amz-checksum-crc32\n\ncontent-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-meta-note;x-amz-sdk-checksum-algorithm;x-amz-security-token;x-amz-trailer\nSTREAMING-UNSIGNED-PAYLOAD-TRAILER"
    );
    let scope = CredentialScope::new("20240115", "us-east-1", "s3").unwrap();
    assert_eq!(
        hash_line(&string_to_sign(AMZ_DATE, &scope, creq.as_bytes())),
        "95a9131fbb6949d62a6202885505ba9b4aa52f6a429ab9d51b596454d515c54b"
    );
    req.with(|parts| {
        let auth = authenticate(parts, at(AMZ_DATE)).unwrap();
        auth.verify(parts, Payload::Deferred, UriEncoding::Single, &key("s3"))
            .unwrap();
        assert_eq!(
            auth.payload_hash(),
            Some(PayloadHash::StreamingUnsignedTrailer)
        );
        assert_eq!(
            auth.seed_signature(),
            "3127010dda35a80dfe1c159d8889269fdf916c49c27459df378ba3c018bd94e6"
        );
    });
}

pub(crate) const V6_URL_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLEKEY000001%2F20240115%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240115T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2F%2FTOKEN%2Bwith%2Fodd%3Dchars&X-Amz-Signature=45a7e0a0d58966c3bc3aaadc2f6b33831545b719a830499bb3512f759e8e5987";

/// V6 — S3 presigned GET with a session token.
pub(crate) fn v6() -> Req {
    Req::new(
        "GET",
        &format!("/examplebucket/dir/a%20b.txt?{V6_URL_QUERY}"),
        &[("Host", "s3.us-east-1.amazonaws.com")],
        b"",
    )
}

fn presign_params<'a>(service: &'a str, encoding: UriEncoding) -> SigningParams<'a> {
    SigningParams {
        credentials: Credentials {
            access_key_id: ASIA,
            secret_access_key: SECRET,
            session_token: Some(TOKEN),
        },
        region: "us-east-1",
        service,
        time: at(AMZ_DATE),
        encoding,
        body: match encoding {
            UriEncoding::Single => SignableBody::Unsigned,
            UriEncoding::Double => SignableBody::Bytes(b""),
        },
        content_sha256_header: false,
    }
}

#[test]
fn v6_s3_presigned_get_keeps_the_token_in_the_canonical_query() {
    let req = v6();
    let creq = rebuild(
        &req,
        UriEncoding::Single,
        AuthForm::Presigned,
        "host",
        "UNSIGNED-PAYLOAD",
    );
    assert_eq!(
        creq,
        "GET\n/examplebucket/dir/a%20b.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLEKEY000001%2F20240115%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240115T120000Z&X-Amz-Expires=3600&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2F%2FTOKEN%2Bwith%2Fodd%3Dchars&X-Amz-SignedHeaders=host\nhost:s3.us-east-1.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
    );
    let scope = CredentialScope::new("20240115", "us-east-1", "s3").unwrap();
    assert_eq!(
        hash_line(&string_to_sign(AMZ_DATE, &scope, creq.as_bytes())),
        "1bebb07925ef43ae720553e259ef1ad16ddd60cbe204cca7e1602b555edf62ee"
    );
    req.with(|parts| {
        let auth = authenticate(parts, plus(at(AMZ_DATE), 1800)).unwrap();
        assert_eq!(auth.form(), AuthForm::Presigned);
        assert_eq!(auth.security_token(), Some(TOKEN));
        assert_eq!(auth.presign_expires_at(), Some(plus(at(AMZ_DATE), 3600)));
        assert_eq!(auth.presign_expires_secs(), Some(3600));
        auth.verify(parts, Payload::Unsigned, UriEncoding::Single, &key("s3"))
            .unwrap();
        auth.verify(parts, Payload::Deferred, UriEncoding::Single, &key("s3"))
            .unwrap();
    });
}

#[test]
fn v6_is_reproduced_by_presign() {
    let req = Req::new(
        "GET",
        "/examplebucket/dir/a%20b.txt",
        &[("Host", "s3.us-east-1.amazonaws.com")],
        b"",
    );
    let presigned = req
        .with(|parts| presign(parts, &presign_params("s3", UriEncoding::Single), 3600))
        .unwrap();
    assert_eq!(presigned.query, V6_URL_QUERY);
}

const V7_URL_QUERY: &str = "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLEKEY000001%2F20240115%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20240115T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2F%2FTOKEN%2Bwith%2Fodd%3Dchars&X-Amz-Signature=92ee996e191aaa197b67c63a54e7ca83d7ddc21dfda1d96b2dcc1eb2338173c2";

#[test]
fn v7_sts_presigned_get_caller_identity_hashes_the_empty_body() {
    let req = Req::new(
        "GET",
        &format!("/?{V7_URL_QUERY}"),
        &[("Host", "sts.us-east-1.amazonaws.com")],
        b"",
    );
    let creq = rebuild(
        &req,
        UriEncoding::Double,
        AuthForm::Presigned,
        "host",
        EMPTY_SHA256_HEX,
    );
    assert_eq!(
        creq,
        "GET\n/\nAction=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLEKEY000001%2F20240115%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20240115T120000Z&X-Amz-Expires=60&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2F%2FTOKEN%2Bwith%2Fodd%3Dchars&X-Amz-SignedHeaders=host\nhost:sts.us-east-1.amazonaws.com\n\nhost\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let scope = CredentialScope::new("20240115", "us-east-1", "sts").unwrap();
    assert_eq!(
        hash_line(&string_to_sign(AMZ_DATE, &scope, creq.as_bytes())),
        "1626c3cc8f0b8aec81ce3e682ab9ada929220ea93f639b0a655b2c91a5cbb4fa"
    );
    req.with(|parts| {
        let auth = authenticate(parts, plus(at(AMZ_DATE), 30)).unwrap();
        auth.verify(parts, Payload::Bytes(b""), UriEncoding::Double, &key("sts"))
            .unwrap();
    });
    let unsigned = Req::new(
        "GET",
        "/?Action=GetCallerIdentity&Version=2011-06-15",
        &[("Host", "sts.us-east-1.amazonaws.com")],
        b"",
    );
    let presigned = unsigned
        .with(|parts| presign(parts, &presign_params("sts", UriEncoding::Double), 60))
        .unwrap();
    assert_eq!(presigned.query, V7_URL_QUERY);
}

#[test]
fn v8_signed_chunked_upload_seed_and_chunk_chain() {
    let signed = "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-trailer";
    let seed = "645b40a7f89bdc014b8fb01b4370a9a7db51e8fd2e006cfd80666ac50210dfeb";
    let req = Req::new(
        "PUT",
        "/examplebucket/hello.txt",
        &[
            ("Host", "localhost:9000"),
            ("Content-Encoding", "aws-chunked"),
            ("Content-Length", "305"),
            (
                "x-amz-content-sha256",
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            ),
            ("x-amz-date", AMZ_DATE),
            ("x-amz-decoded-content-length", "12"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("Authorization", &authorization(AKIA, "s3", signed, seed)),
        ],
        b"",
    );
    let creq = rebuild(
        &req,
        UriEncoding::Single,
        AuthForm::Header,
        signed,
        PayloadHash::STREAMING_SIGNED_TRAILER,
    );
    let scope = CredentialScope::new("20240115", "us-east-1", "s3").unwrap();
    assert!(creq.ends_with("\nSTREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"));
    assert_eq!(
        hash_line(&string_to_sign(AMZ_DATE, &scope, creq.as_bytes())),
        "b08a282fcda7487c6c1d63a52105ebd139721a4886a25823484765d183bd41eb"
    );
    let key = derive_signing_key(SECRET, &scope);
    let auth = req.with(|parts| {
        let auth = authenticate(parts, at(AMZ_DATE)).unwrap();
        auth.verify(parts, Payload::Deferred, UriEncoding::Single, &key)
            .unwrap();
        auth
    });
    assert_eq!(
        auth.payload_hash(),
        Some(PayloadHash::StreamingSignedTrailer)
    );

    let mut previous = auth.seed_signature();
    assert_eq!(previous, seed);
    for (data, expected) in [
        (
            &b"hello world\n"[..],
            "3bde88903729b85844133b051916d3549e015e7383680fe40c309fc72a01fa79",
        ),
        (
            b"",
            "4983f824d0ed185d114d08e91c711c2cd372916b6e2e820d7dddffdce6f0b22f",
        ),
    ] {
        let sts = chunk_string_to_sign(auth.amz_date(), auth.scope(), &previous, data);
        previous = key.sign_hex(sts.as_bytes());
        assert_eq!(previous, expected);
    }
    let trailers = canonical_trailers(&[("x-amz-checksum-crc32", b"rwg7LQ==")]);
    let sts = trailer_string_to_sign(auth.amz_date(), auth.scope(), &previous, &trailers);
    assert_eq!(
        key.sign_hex(sts.as_bytes()),
        "d11b4906736fbdc22c6c56ec7b4ccc8790c93111a00b0113bc6aa3366660e036"
    );
}

#[test]
fn v9_aws_published_chunked_upload_examples() {
    let amz_date = "20130524T000000Z";
    let scope = CredentialScope::new("20130524", "us-east-1", "s3").unwrap();
    let key = derive_signing_key(SECRET, &scope);
    let signed = "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class";
    let seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    let req = Req::new(
        "PUT",
        "/examplebucket/chunkObject.txt",
        &[
            ("Host", "s3.amazonaws.com"),
            ("Content-Encoding", "aws-chunked"),
            ("Content-Length", "66824"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("x-amz-date", amz_date),
            ("x-amz-decoded-content-length", "66560"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "Authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential={AKIA}/20130524/us-east-1/s3/aws4_request, SignedHeaders={signed}, Signature={seed}"
                ),
            ),
        ],
        b"",
    );
    req.with(|parts| {
        let auth = authenticate(parts, at(amz_date)).unwrap();
        auth.verify(parts, Payload::Deferred, UriEncoding::Single, &key)
            .unwrap();
        assert_eq!(auth.payload_hash(), Some(PayloadHash::StreamingSigned));
    });

    let chunks: [&[u8]; 3] = [&[b'a'; 65536], &[b'a'; 1024], b""];
    let chain = |seed: &str, expected: [&str; 3]| -> String {
        let mut previous = seed.to_owned();
        for (data, want) in chunks.iter().zip(expected) {
            previous =
                key.sign_hex(chunk_string_to_sign(amz_date, &scope, &previous, data).as_bytes());
            assert_eq!(previous, want);
        }
        previous
    };
    chain(
        seed,
        [
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
        ],
    );
    let last = chain(
        "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
        [
            "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
            "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
            "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
        ],
    );
    let trailers = canonical_trailers(&[("x-amz-checksum-crc32c", b"sOO8/Q==")]);
    assert_eq!(
        key.sign_hex(trailer_string_to_sign(amz_date, &scope, &last, &trailers).as_bytes()),
        "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
    );
}

#[test]
fn aws_s3_example_get_object_with_range() {
    let signed = "host;range;x-amz-content-sha256;x-amz-date";
    let req = Req::new(
        "GET",
        "/test.txt",
        &[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256_HEX),
            ("x-amz-date", "20130524T000000Z"),
            (
                "Authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential={AKIA}/20130524/us-east-1/s3/aws4_request,SignedHeaders={signed},Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
                ),
            ),
        ],
        b"",
    );
    let scope = CredentialScope::new("20130524", "us-east-1", "s3").unwrap();
    req.with(|parts| {
        let auth = authenticate(parts, at("20130524T000500Z")).unwrap();
        auth.verify(
            parts,
            Payload::Bytes(b""),
            UriEncoding::Single,
            &derive_signing_key(SECRET, &scope),
        )
        .unwrap();
    });
}

#[test]
fn aws_s3_example_put_object_with_a_dollar_in_the_key() {
    let body = b"Welcome to Amazon S3.";
    let signed = "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class";
    let req = Req::new(
        "PUT",
        "/test$file.text",
        &[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", &sha256_hex(body)),
            (
                "Authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential={AKIA}/20130524/us-east-1/s3/aws4_request,SignedHeaders={signed},Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
                ),
            ),
        ],
        body,
    );
    let scope = CredentialScope::new("20130524", "us-east-1", "s3").unwrap();
    req.with(|parts| {
        let auth = authenticate(parts, at("20130524T000000Z")).unwrap();
        auth.verify(
            parts,
            Payload::Bytes(body),
            UriEncoding::Single,
            &derive_signing_key(SECRET, &scope),
        )
        .unwrap();
    });
}

#[test]
fn date_header_is_the_time_source_without_x_amz_date() {
    // Sign with x-amz-date, then move the time to a `Date` header and re-sign by hand.
    let scope = CredentialScope::new("20240115", "us-east-1", "sts").unwrap();
    let signed = "date;host";
    let req = Req::new(
        "GET",
        "/",
        &[
            ("Host", "sts.us-east-1.amazonaws.com"),
            ("Date", "Mon, 15 Jan 2024 12:00:00 GMT"),
        ],
        b"",
    );
    let creq = rebuild(
        &req,
        UriEncoding::Double,
        AuthForm::Header,
        signed,
        EMPTY_SHA256_HEX,
    );
    let sig = signature(
        &key("sts"),
        &string_to_sign(AMZ_DATE, &scope, creq.as_bytes()),
    );
    let req = req.header("Authorization", &authorization(ASIA, "sts", signed, &sig));
    req.with(|parts| {
        let auth = authenticate(parts, at(AMZ_DATE)).unwrap();
        assert_eq!(auth.amz_date(), AMZ_DATE);
        auth.verify(parts, Payload::Bytes(b""), UriEncoding::Double, &key("sts"))
            .unwrap();
    });
}
