#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
//! Roles Anywhere end to end: the admin API signed with the official
//! `aws-sigv4` signer, CreateSession signed by the independent test signer
//! in `mayfly_testkit::pki` (valid and refused requests, each with its AWS
//! error), and `mayfly credential-process` run by aws-config's
//! credential_process provider, then GetCallerIdentity.

use std::time::SystemTime;

use anyhow::Result;
use mayfly_e2e::{RawResponse, Server, send_raw};
use mayfly_testkit::pki::{Leaf, SessionRequest, TestPki, sign_create_session};
use serde_json::{Value, json};

/// A REST-JSON request to the admin API, signed for service `rolesanywhere`.
fn admin(
    server: &Server,
    method: &str,
    path_and_query: &str,
    body: Option<&Value>,
) -> Result<(u16, Value)> {
    admin_as(server, server.root(), method, path_and_query, body)
}

/// [`admin`] signed with `credentials`.
fn admin_as(
    server: &Server,
    credentials: aws_credential_types::Credentials,
    method: &str,
    path_and_query: &str,
    body: Option<&Value>,
) -> Result<(u16, Value)> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let host = server.endpoint.trim_start_matches("http://").to_owned();
    let uri = format!("{}{path_and_query}", server.endpoint);
    let body = body.map(Value::to_string).unwrap_or_default();
    let identity: aws_smithy_runtime_api::client::identity::Identity = credentials.into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("rolesanywhere")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let headers = [
        ("host".to_owned(), host),
        ("content-type".to_owned(), "application/json".to_owned()),
    ];
    let signable = SignableRequest::new(
        method,
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let mut request = http::Request::builder().method(method).uri(&uri);
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    let mut request = request.body(())?;
    instructions.apply_to_request_http1x(&mut request);
    let all: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let response = send_raw(
        &server.endpoint,
        method,
        path_and_query,
        &all,
        body.as_bytes(),
    )?;
    let value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    Ok((response.status, value))
}

fn encode(text: &str) -> String {
    mayfly_sigv4::uri_encode(text.as_bytes(), false)
}

/// Which parts of a CreateSession request to send where.
struct Call<'a> {
    leaf: &'a Leaf,
    anchor: &'a str,
    profile: &'a str,
    role: &'a str,
    /// ARNs in the query string (the Go helper) or in the body (the Python client).
    in_query: bool,
    chain: Vec<&'a [u8]>,
    extra_body: Value,
    tamper: bool,
    /// Sign with this `X-Amz-Date` instead of now.
    amz_date: Option<String>,
}

fn create_session(server: &Server, call: &Call<'_>) -> Result<RawResponse> {
    let host = server.endpoint.trim_start_matches("http://").to_owned();
    let mut body = json!({"durationSeconds": 3600});
    let query = if call.in_query {
        format!(
            "profileArn={}&roleArn={}&trustAnchorArn={}",
            encode(call.profile),
            encode(call.role),
            encode(call.anchor)
        )
    } else {
        let map = body.as_object_mut().unwrap();
        map.insert("profileArn".into(), call.profile.into());
        map.insert("roleArn".into(), call.role.into());
        map.insert("trustAnchorArn".into(), call.anchor.into());
        String::new()
    };
    if let (Some(map), Some(extra)) = (body.as_object_mut(), call.extra_body.as_object()) {
        for (k, v) in extra {
            map.insert(k.clone(), v.clone());
        }
    }
    let body = body.to_string();
    let content_type = if call.in_query {
        "application/json"
    } else {
        "application/x-amz-json-1.0"
    };
    let amz_date = call
        .amz_date
        .clone()
        .unwrap_or_else(|| mayfly_sigv4::format_amz_date(SystemTime::now()));
    let mut headers = sign_create_session(
        call.leaf,
        &SessionRequest {
            host: &host,
            query: &query,
            content_type,
            body: body.as_bytes(),
            amz_date: &amz_date,
            region: "us-east-1",
            chain: &call.chain,
        },
    )
    .unwrap();
    headers.push(("host".into(), host));
    let body = if call.tamper {
        body.replace("3600", "3601")
    } else {
        body
    };
    let path = if query.is_empty() {
        "/sessions".to_owned()
    } else {
        format!("/sessions?{query}")
    };
    send_raw(&server.endpoint, "POST", &path, &headers, body.as_bytes())
}

fn error_type(response: &RawResponse) -> String {
    let body: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    body["__type"].as_str().unwrap_or("").to_owned()
}

fn assert_denied(response: &RawResponse, what: &str) {
    assert_eq!(response.status, 403, "{what}: {}", response.body);
    assert_eq!(
        error_type(response),
        "AccessDeniedException",
        "{what}: {}",
        response.body
    );
}

struct Setup {
    server: Server,
    pki: TestPki,
    anchor_arn: String,
    profile_arn: String,
    disabled_profile_arn: String,
    crl_id: String,
    role_arn: String,
    untrusting_role_arn: String,
    outside_role_arn: String,
}

async fn setup() -> Result<Setup> {
    let server = Server::start()?;
    let pki = TestPki::generate().unwrap();

    let (status, anchor) = admin(
        &server,
        "POST",
        "/trustanchors",
        Some(&json!({
            "name": "test-ca",
            "enabled": true,
            "source": {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": pki.root.cert_pem}},
            "tags": [{"key": "team", "value": "infra"}],
        })),
    )?;
    assert_eq!(status, 201, "{anchor}");
    let anchor_arn = anchor["trustAnchor"]["trustAnchorArn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(anchor_arn.starts_with("arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/"));
    assert_eq!(anchor["trustAnchor"]["enabled"], true);
    assert_eq!(
        anchor["trustAnchor"]["source"]["sourceType"],
        "CERTIFICATE_BUNDLE"
    );

    let iam = server.iam(server.root());
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "rolesanywhere.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            "Condition": {
                "ArnEquals": {"aws:SourceArn": anchor_arn},
                "StringEquals": {"aws:PrincipalTag/x509Issuer/CN": "Example Issuing CA"}
            }
        }]
    });
    let role = iam
        .create_role()
        .role_name("demo")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await?;
    let role_arn = role.role().unwrap().arn().to_owned();
    let untrusting = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}]
    });
    let role = iam
        .create_role()
        .role_name("untrusting")
        .assume_role_policy_document(untrusting.to_string())
        .send()
        .await?;
    let untrusting_role_arn = role.role().unwrap().arn().to_owned();
    let role = iam
        .create_role()
        .role_name("outside")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await?;
    let outside_role_arn = role.role().unwrap().arn().to_owned();

    let (status, profile) = admin(
        &server,
        "POST",
        "/profiles",
        Some(
            &json!({"name": "workloads", "enabled": true, "roleArns": [role_arn, untrusting_role_arn], "durationSeconds": 3600}),
        ),
    )?;
    assert_eq!(status, 201, "{profile}");
    let profile_arn = profile["profile"]["profileArn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        profile["profile"]["attributeMappings"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let (status, disabled) = admin(
        &server,
        "POST",
        "/profiles",
        Some(&json!({"name": "off", "roleArns": [role_arn]})),
    )?;
    assert_eq!(status, 201);
    assert_eq!(
        disabled["profile"]["enabled"], false,
        "profiles are created disabled unless asked"
    );
    let disabled_profile_arn = disabled["profile"]["profileArn"]
        .as_str()
        .unwrap()
        .to_owned();

    use base64::Engine as _;
    let crl_data = base64::engine::general_purpose::STANDARD.encode(pki.crl_pem.as_bytes());
    let (status, crl) = admin(
        &server,
        "POST",
        "/crls",
        Some(
            &json!({"name": "issuing-crl", "crlData": crl_data, "trustAnchorArn": anchor_arn, "enabled": true}),
        ),
    )?;
    assert_eq!(status, 201, "{crl}");
    let crl_id = crl["crl"]["crlId"].as_str().unwrap().to_owned();
    Ok(Setup {
        server,
        pki,
        anchor_arn,
        profile_arn,
        disabled_profile_arn,
        crl_id,
        role_arn,
        untrusting_role_arn,
        outside_role_arn,
    })
}

impl Setup {
    fn call<'a>(&'a self, leaf: &'a Leaf) -> Call<'a> {
        Call {
            leaf,
            anchor: &self.anchor_arn,
            profile: &self.profile_arn,
            role: &self.role_arn,
            in_query: true,
            chain: vec![self.pki.intermediate.cert_der.as_slice()],
            extra_body: json!({}),
            tamper: false,
            amz_date: None,
        }
    }
}

#[tokio::test]
async fn create_session_issues_working_credentials_for_every_key_type() -> Result<()> {
    let s = setup().await?;
    let response = create_session(&s.server, &s.call(&s.pki.ec_p256))?;
    assert_eq!(response.status, 201, "{}", response.body);
    let body: Value = serde_json::from_str(&response.body)?;
    let set = body["credentialSet"].as_array().unwrap();
    assert_eq!(set.len(), 1);
    let first = &set[0];
    assert_eq!(
        first["assumedRoleUser"]["arn"],
        "arn:aws:sts::000000000000:assumed-role/demo/0badc0ffee"
    );
    assert!(
        first["assumedRoleUser"]["assumedRoleId"]
            .as_str()
            .unwrap()
            .ends_with(":0badc0ffee")
    );
    assert_eq!(first["roleArn"], s.role_arn.as_str());
    assert_eq!(first["sourceIdentity"], "CN=workload-ec");
    assert!(first["packedPolicySize"].as_u64().is_some());
    let expiration = first["credentials"]["expiration"].as_str().unwrap();
    assert_eq!(
        expiration.len(),
        20,
        "RFC 3339 UTC without fraction: {expiration}"
    );
    assert!(expiration.ends_with('Z'));
    assert!(
        body["subjectArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:rolesanywhere:us-east-1:000000000000:subject/")
    );

    let credentials = aws_credential_types::Credentials::new(
        first["credentials"]["accessKeyId"].as_str().unwrap(),
        first["credentials"]["secretAccessKey"].as_str().unwrap(),
        first["credentials"]["sessionToken"]
            .as_str()
            .map(str::to_owned),
        None,
        "roles-anywhere",
    );
    let identity = s
        .server
        .sts(credentials)
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(
        identity.arn(),
        Some("arn:aws:sts::000000000000:assumed-role/demo/0badc0ffee")
    );

    // The Python client's form: ARNs in the body, application/x-amz-json-1.0.
    for leaf in [&s.pki.rsa, &s.pki.ec_p384] {
        let mut call = s.call(leaf);
        call.in_query = false;
        let response = create_session(&s.server, &call)?;
        assert_eq!(response.status, 201, "{:?}: {}", leaf.kind, response.body);
        let body: Value = serde_json::from_str(&response.body)?;
        let arn = body["credentialSet"][0]["assumedRoleUser"]["arn"]
            .as_str()
            .unwrap();
        assert!(arn.ends_with(&format!("/{}", leaf.serial_hex())), "{arn}");
    }
    Ok(())
}

#[tokio::test]
async fn create_session_refusals_carry_aws_errors() -> Result<()> {
    let s = setup().await?;

    let response = create_session(&s.server, &s.call(&s.pki.expired))?;
    assert_denied(&response, "expired leaf");

    let response = create_session(&s.server, &s.call(&s.pki.revoked))?;
    assert_denied(&response, "revoked leaf");

    let mut call = s.call(&s.pki.other_leaf);
    call.chain = vec![];
    let response = create_session(&s.server, &call)?;
    assert_denied(&response, "leaf of another CA");
    assert!(
        response.body.contains("Untrusted Signing Certificate"),
        "{}",
        response.body
    );

    let mut call = s.call(&s.pki.ec_p256);
    call.chain = vec![];
    assert_denied(&create_session(&s.server, &call)?, "no intermediate");

    let mut call = s.call(&s.pki.ec_p256);
    call.profile = &s.disabled_profile_arn;
    assert_denied(&create_session(&s.server, &call)?, "disabled profile");

    let mut call = s.call(&s.pki.ec_p256);
    call.tamper = true;
    assert_denied(&create_session(&s.server, &call)?, "tampered body");

    let mut call = s.call(&s.pki.ec_p256);
    call.role = &s.untrusting_role_arn;
    assert_denied(
        &create_session(&s.server, &call)?,
        "role whose trust policy does not name rolesanywhere",
    );

    let mut call = s.call(&s.pki.ec_p256);
    call.role = &s.outside_role_arn;
    assert_denied(
        &create_session(&s.server, &call)?,
        "role not in the profile",
    );

    let mut call = s.call(&s.pki.ec_p256);
    call.extra_body = json!({"roleSessionName": "chosen"});
    let response = create_session(&s.server, &call)?;
    assert_denied(&response, "roleSessionName without acceptRoleSessionName");
    assert!(
        response
            .body
            .contains("Not authorized to set roleSessionName.")
    );

    let mut call = s.call(&s.pki.ec_p256);
    call.extra_body = json!({"durationSeconds": 60});
    let response = create_session(&s.server, &call)?;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(error_type(&response), "ValidationException");

    // ARNs: in both places they must agree; one missing is a validation error.
    let mut call = s.call(&s.pki.ec_p256);
    call.extra_body = json!({"profileArn": s.disabled_profile_arn});
    let response = create_session(&s.server, &call)?;
    assert_eq!(
        (response.status, error_type(&response).as_str()),
        (400, "ValidationException"),
        "{}",
        response.body
    );
    let mut call = s.call(&s.pki.ec_p256);
    call.in_query = false;
    call.extra_body = json!({"roleArn": null});
    let response = create_session(&s.server, &call)?;
    assert_eq!(
        (response.status, error_type(&response).as_str()),
        (400, "ValidationException"),
        "{}",
        response.body
    );

    // A request signed 20 minutes ago is refused.
    let mut call = s.call(&s.pki.ec_p256);
    call.amz_date = Some(mayfly_sigv4::format_amz_date(
        SystemTime::now() - std::time::Duration::from_secs(1200),
    ));
    assert_denied(&create_session(&s.server, &call)?, "skewed X-Amz-Date");

    // A certificate without digitalSignature cannot sign sessions.
    assert_denied(
        &create_session(&s.server, &s.call(&s.pki.no_digital_signature))?,
        "no digitalSignature",
    );

    // Disabling the CRL lets the revoked leaf in; re-enabling shuts it out.
    let (status, crl) = admin(
        &s.server,
        "POST",
        &format!("/crl/{}/disable", s.crl_id),
        None,
    )?;
    assert_eq!(status, 200, "{crl}");
    assert_eq!(crl["crl"]["enabled"], false);
    assert_eq!(
        create_session(&s.server, &s.call(&s.pki.revoked))?.status,
        201
    );
    admin(
        &s.server,
        "POST",
        &format!("/crl/{}/enable", s.crl_id),
        None,
    )?;
    assert_denied(
        &create_session(&s.server, &s.call(&s.pki.revoked))?,
        "revoked leaf again",
    );

    // A disabled trust anchor trusts nothing.
    let anchor_id = s.anchor_arn.rsplit('/').next().unwrap();
    let (status, _) = admin(
        &s.server,
        "POST",
        &format!("/trustanchor/{anchor_id}/disable"),
        None,
    )?;
    assert_eq!(status, 200);
    assert_denied(
        &create_session(&s.server, &s.call(&s.pki.ec_p256))?,
        "disabled trust anchor",
    );
    Ok(())
}

#[tokio::test]
async fn the_admin_api_lists_updates_tags_and_answers_aws_errors() -> Result<()> {
    let s = setup().await?;
    let (status, list) = admin(&s.server, "GET", "/profiles?pageSize=1", None)?;
    assert_eq!(status, 200);
    assert_eq!(list["profiles"].as_array().unwrap().len(), 1);
    let token = list["nextToken"].as_str().unwrap().to_owned();
    let (_, next) = admin(
        &s.server,
        "GET",
        &format!("/profiles?pageSize=1&nextToken={token}"),
        None,
    )?;
    assert_eq!(next["profiles"].as_array().unwrap().len(), 1);
    assert!(next.get("nextToken").is_none());

    let profile_id = s.profile_arn.rsplit('/').next().unwrap();
    let (status, updated) = admin(
        &s.server,
        "PATCH",
        &format!("/profile/{profile_id}"),
        Some(&json!({"durationSeconds": 900, "acceptRoleSessionName": true})),
    )?;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["profile"]["durationSeconds"], 900);
    let mut call = s.call(&s.pki.ec_p256);
    call.extra_body = json!({"roleSessionName": "chosen-name"});
    let response = create_session(&s.server, &call)?;
    assert_eq!(response.status, 201, "{}", response.body);
    assert!(response.body.contains("assumed-role/demo/chosen-name"));

    let (status, _) = admin(
        &s.server,
        "PUT",
        &format!("/profiles/{profile_id}/mappings"),
        Some(&json!({"certificateField": "x509Subject", "mappingRules": [{"specifier": "CN"}]})),
    )?;
    assert_eq!(status, 200);
    let (_, got) = admin(&s.server, "GET", &format!("/profile/{profile_id}"), None)?;
    let subject = got["profile"]["attributeMappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["certificateField"] == "x509Subject")
        .unwrap()
        .clone();
    assert_eq!(subject["mappingRules"], json!([{"specifier": "CN"}]));

    let (status, _) = admin(
        &s.server,
        "POST",
        "/TagResource",
        Some(&json!({"resourceArn": s.profile_arn, "tags": [{"key": "env", "value": "test"}]})),
    )?;
    assert_eq!(status, 201);
    let (status, tags) = admin(
        &s.server,
        "GET",
        &format!(
            "/ListTagsForResource?resourceArn={}",
            encode(&s.profile_arn)
        ),
        None,
    )?;
    assert_eq!(status, 200);
    assert_eq!(tags["tags"], json!([{"key": "env", "value": "test"}]));

    let (status, missing) = admin(
        &s.server,
        "GET",
        "/profile/00000000-0000-4000-8000-000000000000",
        None,
    )?;
    assert_eq!(status, 404);
    assert_eq!(missing["__type"], "ResourceNotFoundException");
    let (status, invalid) = admin(
        &s.server,
        "POST",
        "/profiles",
        Some(&json!({"name": "bad/name", "roleArns": []})),
    )?;
    assert_eq!(status, 400);
    assert_eq!(invalid["__type"], "ValidationException");

    // An IAM user without rolesanywhere permissions is refused.
    let nobody = s.server.user_with_key("nobody", None).await?;
    let (status, refused) = admin_as(
        &s.server,
        nobody,
        "GET",
        &format!("/profile/{profile_id}"),
        None,
    )?;
    assert_eq!(status, 403);
    assert_eq!(refused["__type"], "AccessDeniedException");
    let reader = s
        .server
        .user_with_key(
            "reader",
            Some(&mayfly_e2e::allow("rolesanywhere:GetProfile", "*")),
        )
        .await?;
    let (status, _) = admin_as(
        &s.server,
        reader,
        "GET",
        &format!("/profile/{profile_id}"),
        None,
    )?;
    assert_eq!(status, 200);
    let (status, _) = admin(&s.server, "DELETE", &format!("/profile/{profile_id}"), None)?;
    assert_eq!(status, 200);
    let (status, _) = admin(&s.server, "GET", &format!("/profile/{profile_id}"), None)?;
    assert_eq!(status, 404);
    Ok(())
}

#[tokio::test]
#[allow(
    deprecated,
    reason = "ProfileFiles is aws-config's re-export; its replacement lives in aws-runtime, not a dependency here"
)]
async fn credential_process_feeds_the_sdk_provider() -> Result<()> {
    let s = setup().await?;
    let dir = tempfile::tempdir()?;
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let cert = write("leaf.pem", &s.pki.ec_p256.cert_pem);
    let key = write("leaf.key", &s.pki.ec_p256.key_pem);
    let chain = write("chain.pem", &s.pki.intermediate.cert_pem);
    let binary = mayfly_e2e::mayfly_binary()?;
    let command = format!(
        "{} credential-process --certificate {} --private-key {} --intermediates {} --trust-anchor-arn {} --profile-arn {} --role-arn {} --endpoint {} --session-duration 900",
        binary.display(),
        cert.display(),
        key.display(),
        chain.display(),
        s.anchor_arn,
        s.profile_arn,
        s.role_arn,
        s.server.endpoint
    );

    // The exact document, from the command itself.
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .output()?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout)?;
    let document: Value = serde_json::from_str(&stdout)?;
    assert_eq!(document["Version"], json!(1));
    let keys: Vec<&str> = document
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "Version",
            "AccessKeyId",
            "SecretAccessKey",
            "SessionToken",
            "Expiration"
        ]
    );

    // The SDK's own credential_process provider, from a config profile.
    let config = write(
        "config",
        &format!("[profile ra]\ncredential_process = {command}\n"),
    );
    let files = aws_config::profile::profile_file::ProfileFiles::builder()
        .with_file(
            aws_config::profile::profile_file::ProfileFileKind::Config,
            &config,
        )
        .build();
    let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
        .profile_files(files)
        .profile_name("ra")
        .build();
    let sts_config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(&s.server.endpoint)
        .credentials_provider(provider)
        .build();
    let identity = aws_sdk_sts::Client::from_conf(sts_config)
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(
        identity.arn(),
        Some("arn:aws:sts::000000000000:assumed-role/demo/0badc0ffee")
    );

    // A refused session makes the command fail with the service's error on stderr.
    let bad = command.replace(&s.profile_arn, &s.disabled_profile_arn);
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(&bad)
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("AccessDeniedException"), "{stderr}");
    assert!(output.stdout.is_empty());
    Ok(())
}

#[tokio::test]
async fn the_profile_session_policy_narrows_the_role() -> Result<()> {
    let s = setup().await?;
    let iam = s.server.iam(s.server.root());
    iam.put_role_policy()
        .role_name("demo")
        .policy_name("list")
        .policy_document(mayfly_e2e::allow("iam:List*", "*"))
        .send()
        .await?;
    let session_iam = |response: &RawResponse| {
        let body: Value = serde_json::from_str(&response.body).unwrap();
        let c = &body["credentialSet"][0]["credentials"];
        s.server.iam(aws_credential_types::Credentials::new(
            c["accessKeyId"].as_str().unwrap(),
            c["secretAccessKey"].as_str().unwrap(),
            c["sessionToken"].as_str().map(str::to_owned),
            None,
            "roles-anywhere",
        ))
    };
    let response = create_session(&s.server, &s.call(&s.pki.ec_p256))?;
    assert_eq!(response.status, 201, "{}", response.body);
    session_iam(&response).list_roles().send().await?;
    session_iam(&response).list_users().send().await?;

    let profile_id = s.profile_arn.rsplit('/').next().unwrap();
    let (status, updated) = admin(
        &s.server,
        "PATCH",
        &format!("/profile/{profile_id}"),
        Some(&json!({"sessionPolicy": mayfly_e2e::allow("iam:ListRoles", "*")})),
    )?;
    assert_eq!(status, 200, "{updated}");
    let response = create_session(&s.server, &s.call(&s.pki.ec_p256))?;
    assert_eq!(response.status, 201, "{}", response.body);
    let body: Value = serde_json::from_str(&response.body)?;
    assert!(
        body["credentialSet"][0]["packedPolicySize"]
            .as_u64()
            .unwrap()
            > 0
    );
    session_iam(&response).list_roles().send().await?;
    let refused = session_iam(&response)
        .list_users()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused
            .as_service_error()
            .and_then(|e| aws_smithy_types::error::metadata::ProvideErrorMetadata::code(e)),
        Some("AccessDenied")
    );
    Ok(())
}

/// A running `mayfly agent`, killed on drop.
struct Agent {
    child: std::process::Child,
    imds: String,
    container: String,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_agent(s: &Setup, dir: &std::path::Path, token: &str) -> Result<Agent> {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let cert = write("leaf.pem", &s.pki.ec_p256.cert_pem);
    let key = write("leaf.key", &s.pki.ec_p256.key_pem);
    let chain = write("chain.pem", &s.pki.intermediate.cert_pem);
    let token_file = write("token", &format!("{token}\n"));
    let mut command = std::process::Command::new(mayfly_e2e::mayfly_binary()?);
    command
        .arg("agent")
        .args(["--certificate".as_ref(), cert.as_os_str()])
        .args(["--private-key".as_ref(), key.as_os_str()])
        .args(["--intermediates".as_ref(), chain.as_os_str()])
        .args([
            "--trust-anchor-arn",
            &s.anchor_arn,
            "--profile-arn",
            &s.profile_arn,
            "--role-arn",
            &s.role_arn,
        ])
        .args(["--endpoint", &s.server.endpoint])
        .args([
            "--imds-listen",
            "127.0.0.1:0",
            "--container-listen",
            "127.0.0.1:0",
        ])
        .args(["--auth-token-file".as_ref(), token_file.as_os_str()]);
    spawn_agent(command, true)
}

/// Start `command` (a `mayfly agent` invocation) and wait for its addresses.
fn spawn_agent(mut command: std::process::Command, with_container: bool) -> Result<Agent> {
    use std::io::BufRead as _;
    let mut child = command
        .env("MAYFLY_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let (mut imds, mut container) = (None, None);
    while imds.is_none() || (with_container && container.is_none()) {
        let line = rx.recv_timeout(std::time::Duration::from_secs(30))?;
        if let Some(a) = line.strip_prefix("mayfly agent imds=") {
            imds = Some(a.to_owned());
        }
        if let Some(a) = line.strip_prefix("mayfly agent container=") {
            container = Some(a.to_owned());
        }
    }
    Ok(Agent {
        child,
        imds: imds.unwrap(),
        container: container.unwrap_or_default(),
    })
}

#[tokio::test]
async fn the_agent_serves_imds_and_container_credentials_to_the_sdk() -> Result<()> {
    let s = setup().await?;
    let dir = tempfile::tempdir()?;
    let token = "container-bearer-token-0123456789";
    let agent = start_agent(&s, dir.path(), token)?;
    let expected = "arn:aws:sts::000000000000:assumed-role/demo/0badc0ffee";

    // IMDSv2 through aws-config's own provider.
    let imds = aws_config::imds::Client::builder()
        .endpoint(&agent.imds)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .build();
    let provider = aws_config::imds::credentials::ImdsCredentialsProvider::builder()
        .imds_client(imds)
        .build();
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(&s.server.endpoint)
        .credentials_provider(provider)
        .build();
    let identity = aws_sdk_sts::Client::from_conf(config)
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(identity.arn(), Some(expected));

    // IMDS details, byte for byte.
    let put = |headers: &[(&str, &str)]| {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        send_raw(&agent.imds, "PUT", "/latest/api/token", &headers, b"").unwrap()
    };
    let ok = put(&[("x-aws-ec2-metadata-token-ttl-seconds", "300")]);
    assert_eq!(ok.status, 200);
    assert!(!ok.body.is_empty() && !ok.body.ends_with('\n'));
    assert!(
        ok.head
            .to_ascii_lowercase()
            .contains("x-aws-ec2-metadata-token-ttl-seconds: 300"),
        "{}",
        ok.head
    );
    assert_eq!(put(&[]).status, 400);
    assert_eq!(
        put(&[("x-aws-ec2-metadata-token-ttl-seconds", "21601")]).status,
        400
    );
    assert_eq!(
        put(&[
            ("x-aws-ec2-metadata-token-ttl-seconds", "300"),
            ("x-forwarded-for", "10.0.0.1")
        ])
        .status,
        400
    );
    let get = |path: &str, token: Option<&str>| {
        let headers: Vec<(String, String)> = token
            .map(|t| vec![("x-aws-ec2-metadata-token".to_owned(), t.to_owned())])
            .unwrap_or_default();
        send_raw(&agent.imds, "GET", path, &headers, b"").unwrap()
    };
    assert_eq!(
        get("/latest/meta-data/iam/security-credentials/", None).status,
        401
    );
    assert_eq!(
        get(
            "/latest/meta-data/iam/security-credentials/",
            Some("forged")
        )
        .status,
        401
    );
    let listing = get(
        "/latest/meta-data/iam/security-credentials/",
        Some(&ok.body),
    );
    assert_eq!((listing.status, listing.body.as_str()), (200, "demo"));
    let document = get(
        "/latest/meta-data/iam/security-credentials-extended/demo",
        Some(&ok.body),
    );
    assert_eq!(document.status, 200);
    let document: Value = serde_json::from_str(&document.body)?;
    assert_eq!(document["Code"], "Success");
    assert_eq!(document["Type"], "AWS-HMAC");
    assert_eq!(document["AccountId"], "000000000000");
    let expiration = document["Expiration"].as_str().unwrap();
    assert!(
        expiration.len() == 20 && expiration.ends_with('Z'),
        "{expiration}"
    );
    assert_eq!(
        get(
            "/latest/meta-data/iam/security-credentials/other",
            Some(&ok.body)
        )
        .status,
        404
    );

    // The container endpoint: the bearer token is required.
    let container = |auth: Option<&str>| {
        let headers: Vec<(String, String)> = auth
            .map(|a| vec![("authorization".to_owned(), a.to_owned())])
            .unwrap_or_default();
        send_raw(&agent.container, "GET", "/v1/credentials", &headers, b"").unwrap()
    };
    assert_eq!(container(None).status, 401);
    assert_eq!(
        container(Some("container-bearer-token-012345678")).status,
        401
    );
    let answer = container(Some(token));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let document: Value = serde_json::from_str(&answer.body)?;
    assert_eq!(document["RoleArn"], s.role_arn.as_str());
    assert_eq!(document["AccountId"], "000000000000");

    // aws-config's ECS provider reads only the process environment, so it
    // runs in a child test process with the variables set.
    let token_file = dir.path().join("sdk-token");
    std::fs::write(&token_file, token)?;
    let output = std::process::Command::new(std::env::current_exe()?)
        .args(["ecs_provider_child", "--exact", "--ignored", "--nocapture"])
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/v1/credentials", agent.container),
        )
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file)
        .env("MAYFLY_E2E_STS_ENDPOINT", &s.server.endpoint)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
    Ok(())
}

/// Run by `the_agent_serves_imds_and_container_credentials_to_the_sdk` with
/// the container-credential variables set.
#[tokio::test]
#[ignore = "a child process of the_agent_serves_imds_and_container_credentials_to_the_sdk"]
async fn ecs_provider_child() -> Result<()> {
    let endpoint = std::env::var("MAYFLY_E2E_STS_ENDPOINT")?;
    let provider = aws_config::ecs::EcsCredentialsProvider::builder().build();
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(provider)
        .build();
    let identity = aws_sdk_sts::Client::from_conf(config)
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(
        identity.arn(),
        Some("arn:aws:sts::000000000000:assumed-role/demo/0badc0ffee")
    );
    Ok(())
}

/// The IMDS credentials document the agent serves now (role `demo`).
fn imds_document(agent: &Agent) -> Value {
    imds_document_for(agent, "demo")
}

/// The IMDS credentials document of `role` the agent serves now.
fn imds_document_for(agent: &Agent, role: &str) -> Value {
    let token = send_raw(
        &agent.imds,
        "PUT",
        "/latest/api/token",
        &[(
            "x-aws-ec2-metadata-token-ttl-seconds".to_owned(),
            "60".to_owned(),
        )],
        b"",
    )
    .unwrap();
    let document = send_raw(
        &agent.imds,
        "GET",
        &format!("/latest/meta-data/iam/security-credentials/{role}"),
        &[("x-aws-ec2-metadata-token".to_owned(), token.body)],
        b"",
    )
    .unwrap();
    assert_eq!(document.status, 200, "{}", document.body);
    serde_json::from_str(&document.body).unwrap()
}

#[tokio::test]
async fn the_agent_reloads_a_renewed_certificate_and_rides_out_an_sts_outage() -> Result<()> {
    let s = setup().await?;
    let dir = tempfile::tempdir()?;
    let agent = start_agent(&s, dir.path(), "token-for-this-test")?;
    let first = imds_document(&agent)["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();

    // A renewed certificate (here: another leaf and key) is picked up
    // without waiting for the refresh point.
    std::fs::write(dir.path().join("leaf.key"), &s.pki.rsa.key_pem)?;
    std::fs::write(dir.path().join("leaf.pem"), &s.pki.rsa.cert_pem)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let renewed = loop {
        let document = imds_document(&agent);
        if document["AccessKeyId"] != first.as_str() {
            break document;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent did not reload the certificate"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    let credentials = aws_credential_types::Credentials::new(
        renewed["AccessKeyId"].as_str().unwrap(),
        renewed["SecretAccessKey"].as_str().unwrap(),
        renewed["Token"].as_str().map(str::to_owned),
        None,
        "agent",
    );
    let identity = s
        .server
        .sts(credentials)
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(
        identity.arn().map(str::to_owned),
        Some(format!(
            "arn:aws:sts::000000000000:assumed-role/demo/{}",
            s.pki.rsa.serial_hex()
        ))
    );

    // With the STS gone, a refresh fails and the still-valid credentials
    // keep being served.
    let Setup { server, pki, .. } = s;
    server.terminate()?;
    std::fs::write(dir.path().join("leaf.key"), &pki.ec_p256.key_pem)?;
    std::fs::write(dir.path().join("leaf.pem"), &pki.ec_p256.cert_pem)?;
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(imds_document(&agent)["AccessKeyId"], renewed["AccessKeyId"]);
    Ok(())
}

// Multi-threaded: the identity provider runs on this runtime while the
// test thread blocks waiting for the agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_serves_web_identity_credentials() -> Result<()> {
    use mayfly_testkit::jwt::{self, IssuerServer, SigningKey, TestCa};
    let dir = tempfile::tempdir()?;
    let ca = TestCa::new().map_err(|e| anyhow::anyhow!("{e}"))?;
    let ca_path = ca
        .write_ca(dir.path())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = SigningKey::rsa("key-1", "RS256").map_err(|e| anyhow::anyhow!("{e}"))?;
    let idp = IssuerServer::https(&ca, jwt::jwks(&[&key]).map_err(|e| anyhow::anyhow!("{e}"))?)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let server = Server::start_with(mayfly_e2e::ServerOptions {
        env: vec![("SSL_CERT_FILE".into(), ca_path.display().to_string())],
        ..mayfly_e2e::ServerOptions::default()
    })?;
    let iam = server.iam(server.root());
    let provider_arn = iam
        .create_open_id_connect_provider()
        .url(idp.url())
        .client_id_list("agent-client")
        .send()
        .await?
        .open_id_connect_provider_arn()
        .unwrap()
        .to_owned();
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity"}]});
    let role_arn = iam
        .create_role()
        .role_name("wi-role")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await?
        .role()
        .unwrap()
        .arn()
        .to_owned();
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)?
            .as_secs(),
    )?;
    let token = key
        .sign(&jwt::claims(
            idp.issuer(),
            "agent-client",
            "workload-1",
            now - 5,
            3600,
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let token_file = dir.path().join("token.jwt");
    std::fs::write(&token_file, format!("{token}\n"))?;

    let mut command = std::process::Command::new(mayfly_e2e::mayfly_binary()?);
    command
        .args(["agent", "--source", "web-identity", "--role-arn", &role_arn])
        .args(["--token-file".as_ref(), token_file.as_os_str()])
        .args([
            "--endpoint",
            &server.endpoint,
            "--role-session-name",
            "wi-agent",
        ])
        .args(["--imds-listen", "127.0.0.1:0"]);
    let agent = spawn_agent(command, false)?;
    let imds = aws_config::imds::Client::builder()
        .endpoint(&agent.imds)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .build();
    let provider = aws_config::imds::credentials::ImdsCredentialsProvider::builder()
        .imds_client(imds)
        .build();
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(provider)
        .build();
    let identity = aws_sdk_sts::Client::from_conf(config)
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(
        identity.arn(),
        Some("arn:aws:sts::000000000000:assumed-role/wi-role/wi-agent")
    );

    // A token the STS refuses makes the agent fail at start, loudly.
    std::fs::write(&token_file, "not-a-jwt")?;
    let output = std::process::Command::new(mayfly_e2e::mayfly_binary()?)
        .args(["agent", "--source", "web-identity", "--role-arn", &role_arn])
        .args(["--token-file".as_ref(), token_file.as_os_str()])
        .args([
            "--endpoint",
            &server.endpoint,
            "--imds-listen",
            "127.0.0.1:0",
        ])
        .env("MAYFLY_LOG", "off")
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("InvalidIdentityToken"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn the_agent_serves_assume_role_credentials_from_a_base_profile() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let base = server
        .user_with_key("base-user", Some(&mayfly_e2e::allow("sts:AssumeRole", "*")))
        .await?;
    let trust = mayfly_e2e::trust_policy("arn:aws:iam::000000000000:user/base-user");
    let role_arn = iam
        .create_role()
        .role_name("ar-role")
        .assume_role_policy_document(trust)
        .send()
        .await?
        .role()
        .unwrap()
        .arn()
        .to_owned();
    let dir = tempfile::tempdir()?;
    let credentials_file = dir.path().join("credentials");
    std::fs::write(
        &credentials_file,
        format!(
            "[default]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = wrong\n\n[base]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            base.access_key_id(),
            base.secret_access_key()
        ),
    )?;
    let mut command = std::process::Command::new(mayfly_e2e::mayfly_binary()?);
    command
        .args([
            "agent",
            "--source",
            "assume-role",
            "--profile",
            "base",
            "--role-arn",
            &role_arn,
        ])
        .args(["--credentials-file".as_ref(), credentials_file.as_os_str()])
        .args([
            "--endpoint",
            &server.endpoint,
            "--role-session-name",
            "ar-agent",
        ])
        .args(["--imds-listen", "127.0.0.1:0"]);
    let agent = spawn_agent(command, false)?;
    let document = imds_document_for(&agent, "ar-role");
    let credentials = aws_credential_types::Credentials::new(
        document["AccessKeyId"].as_str().unwrap(),
        document["SecretAccessKey"].as_str().unwrap(),
        document["Token"].as_str().map(str::to_owned),
        None,
        "agent",
    );
    let identity = server.sts(credentials).get_caller_identity().send().await?;
    assert_eq!(
        identity.arn(),
        Some("arn:aws:sts::000000000000:assumed-role/ar-role/ar-agent")
    );

    // The default profile's keys are refused by STS, and the agent says so.
    let output = std::process::Command::new(mayfly_e2e::mayfly_binary()?)
        .args([
            "agent",
            "--source",
            "assume-role",
            "--profile",
            "default",
            "--role-arn",
            &role_arn,
        ])
        .args(["--credentials-file".as_ref(), credentials_file.as_os_str()])
        .args([
            "--endpoint",
            &server.endpoint,
            "--imds-listen",
            "127.0.0.1:0",
        ])
        .env("MAYFLY_LOG", "off")
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("InvalidClientTokenId"), "{stderr}");
    Ok(())
}

fn without_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[tokio::test]
async fn create_session_records_subjects_for_list_and_get_subject() -> Result<()> {
    let s = setup().await?;
    let (status, empty) = admin(&s.server, "GET", "/subjects", None)?;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["subjects"], json!([]));

    // A session with instance properties: a successful attempt.
    let mut call = s.call(&s.pki.ec_p256);
    call.extra_body = json!({"instanceProperties": {"hostname": "edge-01", "site": "lab"}});
    let response = create_session(&s.server, &call)?;
    assert_eq!(response.status, 201, "{}", response.body);
    let body: Value = serde_json::from_str(&response.body)?;
    let subject_arn = body["subjectArn"].as_str().unwrap().to_owned();
    let subject_id = subject_arn.rsplit('/').next().unwrap().to_owned();

    // The RSA leaf verifies but the profile is disabled: a failed attempt.
    let mut call = s.call(&s.pki.rsa);
    call.profile = &s.disabled_profile_arn;
    assert_denied(&create_session(&s.server, &call)?, "disabled profile");
    // Unauthenticated attempts record nothing: a leaf of another CA, a
    // tampered signature, an expired certificate.
    let mut call = s.call(&s.pki.other_leaf);
    call.chain = vec![];
    assert_denied(&create_session(&s.server, &call)?, "leaf of another CA");
    let mut call = s.call(&s.pki.ec_p384);
    call.tamper = true;
    assert_denied(&create_session(&s.server, &call)?, "tampered body");
    assert_denied(
        &create_session(&s.server, &s.call(&s.pki.expired))?,
        "expired leaf",
    );
    // Instance properties are a map of 1-200 character strings.
    let mut call = s.call(&s.pki.ec_p256);
    call.extra_body = json!({"instanceProperties": {"hostname": 7}});
    let response = create_session(&s.server, &call)?;
    assert_eq!(
        (response.status, error_type(&response).as_str()),
        (400, "ValidationException"),
        "{}",
        response.body
    );

    let (status, list) = admin(&s.server, "GET", "/subjects", None)?;
    assert_eq!(status, 200, "{list}");
    let subjects = list["subjects"].as_array().unwrap();
    assert_eq!(subjects.len(), 2, "{list}");
    assert!(list.get("nextToken").is_none());
    let ec = subjects
        .iter()
        .find(|v| v["subjectArn"] == subject_arn.as_str())
        .expect("the session's subject is listed");
    assert_eq!(ec["subjectId"], subject_id.as_str());
    assert_eq!(ec["enabled"], true);
    assert!(
        ec["x509Subject"]
            .as_str()
            .unwrap()
            .ends_with("CN=workload-ec"),
        "{ec}"
    );
    for field in ["lastSeenAt", "createdAt", "updatedAt"] {
        let time = ec[field].as_str().unwrap();
        assert!(time.len() == 24 && time.ends_with('Z'), "{field}: {time}");
    }
    assert!(ec.get("credentials").is_none(), "a summary: {ec}");

    let (status, page) = admin(&s.server, "GET", "/subjects?pageSize=1", None)?;
    assert_eq!(status, 200);
    assert_eq!(page["subjects"].as_array().unwrap().len(), 1);
    let token = page["nextToken"].as_str().unwrap().to_owned();
    let (_, next) = admin(
        &s.server,
        "GET",
        &format!("/subjects?pageSize=1&nextToken={token}"),
        None,
    )?;
    assert_eq!(next["subjects"].as_array().unwrap().len(), 1);
    assert_ne!(
        next["subjects"][0]["subjectId"],
        page["subjects"][0]["subjectId"]
    );
    assert!(next.get("nextToken").is_none());

    let (status, got) = admin(&s.server, "GET", &format!("/subject/{subject_id}"), None)?;
    assert_eq!(status, 200, "{got}");
    let subject = &got["subject"];
    assert_eq!(subject["subjectArn"], subject_arn.as_str());
    let credentials = subject["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 1, "{subject}");
    assert_eq!(credentials[0]["serialNumber"], "0badc0ffee");
    assert_eq!(credentials[0]["failed"], false);
    assert_eq!(credentials[0]["enabled"], true);
    assert!(
        credentials[0]["issuer"]
            .as_str()
            .unwrap()
            .contains("CN=Example Issuing CA"),
        "{subject}"
    );
    assert_eq!(
        without_whitespace(credentials[0]["x509CertificateData"].as_str().unwrap()),
        without_whitespace(&s.pki.ec_p256.cert_pem)
    );
    assert_eq!(
        subject["instanceProperties"],
        json!([{
            "seenAt": credentials[0]["seenAt"],
            "properties": {"hostname": "edge-01", "site": "lab"},
            "failed": false
        }])
    );

    let rsa = subjects
        .iter()
        .find(|v| v["subjectArn"] != subject_arn.as_str())
        .unwrap();
    let rsa_id = rsa["subjectId"].as_str().unwrap();
    let (_, got) = admin(&s.server, "GET", &format!("/subject/{rsa_id}"), None)?;
    assert_eq!(
        got["subject"]["credentials"][0]["serialNumber"],
        s.pki.rsa.serial_hex().as_str()
    );
    assert_eq!(got["subject"]["credentials"][0]["failed"], true);
    assert_eq!(got["subject"]["instanceProperties"], json!([]));

    let (status, missing) = admin(
        &s.server,
        "GET",
        "/subject/00000000-0000-4000-8000-000000000000",
        None,
    )?;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["__type"], "ResourceNotFoundException");
    Ok(())
}

#[tokio::test]
async fn subjects_are_read_only_with_rolesanywhere_permissions() -> Result<()> {
    let s = setup().await?;
    let response = create_session(&s.server, &s.call(&s.pki.ec_p256))?;
    assert_eq!(response.status, 201, "{}", response.body);
    let body: Value = serde_json::from_str(&response.body)?;
    let subject_arn = body["subjectArn"].as_str().unwrap().to_owned();
    let subject_id = subject_arn.rsplit('/').next().unwrap().to_owned();

    let nobody = s.server.user_with_key("nobody", None).await?;
    for path in ["/subjects".to_owned(), format!("/subject/{subject_id}")] {
        let (status, refused) = admin_as(&s.server, nobody.clone(), "GET", &path, None)?;
        assert_eq!(status, 403, "{path}: {refused}");
        assert_eq!(refused["__type"], "AccessDeniedException");
    }

    // rolesanywhere:GetSubject on this subject's ARN allows GetSubject only.
    let reader = s
        .server
        .user_with_key(
            "subject-reader",
            Some(&mayfly_e2e::allow("rolesanywhere:GetSubject", &subject_arn)),
        )
        .await?;
    let (status, got) = admin_as(
        &s.server,
        reader.clone(),
        "GET",
        &format!("/subject/{subject_id}"),
        None,
    )?;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["subject"]["subjectId"], subject_id.as_str());
    let (status, refused) = admin_as(&s.server, reader, "GET", "/subjects", None)?;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["__type"], "AccessDeniedException");

    let lister = s
        .server
        .user_with_key(
            "subject-lister",
            Some(&mayfly_e2e::allow("rolesanywhere:ListSubjects", "*")),
        )
        .await?;
    let (status, list) = admin_as(&s.server, lister, "GET", "/subjects", None)?;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["subjects"][0]["subjectArn"], subject_arn.as_str());

    // There is no API that writes a subject.
    let (status, _) = admin(&s.server, "DELETE", &format!("/subject/{subject_id}"), None)?;
    assert_eq!(status, 404);
    Ok(())
}
