//! AssumeRoleWithWebIdentity end to end (sts-api.md 9.2; issue 4): IAM OIDC
//! providers through aws-sdk-iam, ID tokens from an independent signer
//! (`mayfly_testkit::jwt`, jsonwebtoken) whose discovery document and JWKS
//! are served over HTTPS by a local server under a test CA that the
//! spawned `mayfly serve` trusts through `SSL_CERT_FILE`, and
//! `assume_role_with_web_identity` through aws-sdk-sts. Each attack of the
//! corpus is its own test asserting the exact AWS error code.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use mayfly_e2e::{ACCOUNT, Server, ServerOptions, error_code, error_message, session_credentials};
use mayfly_testkit::jwt::{self, IssuerServer, SigningKey, TestCa};
use serde_json::{Value, json};

const CLIENT: &str = "mayfly-e2e-client";
const SUBJECT: &str = "repo:acme/app:ref:refs/heads/main";

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A Mayfly server, an HTTPS identity provider it trusts, the provider
/// registered in IAM and a role trusting it.
struct Fixture {
    server: Server,
    idp: IssuerServer,
    key: SigningKey,
    role_arn: String,
    provider_arn: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Result<Self> {
        Self::with_args(Vec::new(), None).await
    }

    async fn with_args(args: Vec<String>, trust: Option<&str>) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let ca = TestCa::new().map_err(|e| anyhow::anyhow!("{e}"))?;
        let ca_path = ca
            .write_ca(dir.path())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let key = SigningKey::rsa("key-1", "RS256").map_err(|e| anyhow::anyhow!("{e}"))?;
        let idp = IssuerServer::https(&ca, jwt::jwks(&[&key]).map_err(|e| anyhow::anyhow!("{e}"))?)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let server = Server::start_with(ServerOptions {
            args,
            env: vec![("SSL_CERT_FILE".into(), ca_path.display().to_string())],
            ..ServerOptions::default()
        })?;
        let iam = server.iam(server.root());
        let provider_arn = iam
            .create_open_id_connect_provider()
            .url(idp.url())
            .client_id_list(CLIENT)
            .send()
            .await?
            .open_id_connect_provider_arn()
            .expect("provider ARN")
            .to_owned();
        let prefix = idp.issuer().trim_start_matches("https://").to_owned();
        let trust = match trust {
            Some(t) => t
                .replace("PROVIDER", &provider_arn)
                .replace("PREFIX", &prefix),
            None => format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider_arn}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{prefix}:aud":"{CLIENT}","{prefix}:sub":"{SUBJECT}"}}}}}}]}}"#
            ),
        };
        let role_arn = iam
            .create_role()
            .role_name("web-deployer")
            .assume_role_policy_document(trust)
            .max_session_duration(7200)
            .send()
            .await?
            .role()
            .expect("role")
            .arn()
            .to_owned();
        Ok(Self {
            server,
            idp,
            key,
            role_arn,
            provider_arn,
            _dir: dir,
        })
    }

    fn claims(&self) -> Value {
        jwt::claims(self.idp.issuer(), CLIENT, SUBJECT, now() - 5, 300)
    }

    fn token(&self) -> String {
        self.key.sign(&self.claims()).unwrap()
    }

    async fn assume(
        &self,
        token: &str,
    ) -> Result<
        aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityOutput,
        aws_sdk_sts::error::SdkError<
            aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError,
        >,
    > {
        self.server
            .sts(self.server.root())
            .assume_role_with_web_identity()
            .role_arn(&self.role_arn)
            .role_session_name("ci-run")
            .web_identity_token(token)
            .send()
            .await
    }

    /// The AWS error code for `token`.
    async fn refused(&self, token: &str) -> String {
        let error = self
            .assume(token)
            .await
            .expect_err("the token must be refused");
        error_code(&error).unwrap_or_else(|| panic!("no service error: {error:?}"))
    }
}

#[tokio::test]
async fn a_web_identity_token_becomes_a_role_session() -> Result<()> {
    let f = Fixture::new().await?;
    let out = f.assume(&f.token()).await?;
    assert_eq!(out.subject_from_web_identity_token(), Some(SUBJECT));
    assert_eq!(out.audience(), Some(CLIENT));
    assert_eq!(out.provider(), Some(f.idp.issuer()));
    let user = out.assumed_role_user().expect("assumed role user");
    assert_eq!(
        user.arn(),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/web-deployer/ci-run")
    );
    assert!(user.assumed_role_id().starts_with("AROA"));
    let credentials = out.credentials().expect("credentials");
    assert!(credentials.access_key_id().starts_with("ASIA"));

    // The issued credentials work.
    let identity = f
        .server
        .sts(session_credentials(credentials))
        .get_caller_identity()
        .send()
        .await?;
    assert_eq!(identity.arn(), Some(user.arn()));
    assert_eq!(identity.account(), Some(ACCOUNT));
    Ok(())
}

#[tokio::test]
async fn every_signing_algorithm_is_accepted() -> Result<()> {
    let f = Fixture::new().await?;
    let keys = [
        SigningKey::rsa("rs512", "RS512").unwrap(),
        SigningKey::rsa("ps256", "PS256").unwrap(),
        SigningKey::ec("es256", "ES256").unwrap(),
        SigningKey::ec("es384", "ES384").unwrap(),
    ];
    f.idp
        .set_jwks(jwt::jwks(&[&keys[0], &keys[1], &keys[2], &keys[3]]).unwrap());
    for key in &keys {
        let out = f.assume(&key.sign(&f.claims()).unwrap()).await;
        assert!(out.is_ok(), "{}: {out:?}", key.kid());
    }
    Ok(())
}

#[tokio::test]
async fn the_session_may_outlive_the_id_token() -> Result<()> {
    let f = Fixture::new().await?;
    // The token expires in two minutes; the role allows two hours.
    let token = f
        .key
        .sign(&jwt::claims(f.idp.issuer(), CLIENT, SUBJECT, now(), 120))
        .unwrap();
    let out = f
        .server
        .sts(f.server.root())
        .assume_role_with_web_identity()
        .role_arn(&f.role_arn)
        .role_session_name("long")
        .web_identity_token(token)
        .duration_seconds(7200)
        .send()
        .await?;
    let expiration = out.credentials().unwrap().expiration().secs();
    assert!(
        expiration >= now() + 7100,
        "expiration {expiration} is capped"
    );
    // Beyond the role's MaxSessionDuration: ValidationError.
    let token = f.token();
    let error = f
        .server
        .sts(f.server.root())
        .assume_role_with_web_identity()
        .role_arn(&f.role_arn)
        .role_session_name("too-long")
        .web_identity_token(token)
        .duration_seconds(7201)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&error).as_deref(), Some("ValidationError"));
    Ok(())
}

#[tokio::test]
async fn attack_alg_none_is_invalid_identity_token() -> Result<()> {
    let f = Fixture::new().await?;
    for signature in ["", "c2lnbmF0dXJl"] {
        let token = jwt::unsigned_token("key-1", &f.claims(), signature);
        assert_eq!(f.refused(&token).await, "InvalidIdentityToken");
    }
    Ok(())
}

#[tokio::test]
async fn attack_hs256_signed_with_the_rsa_public_key_is_invalid_identity_token() -> Result<()> {
    let f = Fixture::new().await?;
    let forged = jwt::hs256_token(f.key.public_key_der(), "key-1", &f.claims()).unwrap();
    assert_eq!(f.refused(&forged).await, "InvalidIdentityToken");
    let jwks = jwt::jwks(&[&f.key]).unwrap();
    let forged = jwt::hs256_token(jwks.as_bytes(), "key-1", &f.claims()).unwrap();
    assert_eq!(f.refused(&forged).await, "InvalidIdentityToken");
    Ok(())
}

#[tokio::test]
async fn attack_unknown_kid_is_invalid_identity_token() -> Result<()> {
    let f = Fixture::new().await?;
    let stranger = SigningKey::rsa("key-2", "RS256").unwrap();
    let token = stranger.sign(&f.claims()).unwrap();
    assert_eq!(f.refused(&token).await, "InvalidIdentityToken");
    Ok(())
}

#[tokio::test]
async fn attack_kid_path_tricks_are_invalid_identity_token() -> Result<()> {
    let f = Fixture::new().await?;
    for kid in ["../key-1", "key-1/../key-1", "/jwks", "key-1\u{0}", "KEY-1"] {
        let mut header = jwt::jsonwebtoken::Header::new(jwt::jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let token = f.key.sign_with_header(&header, &f.claims()).unwrap();
        assert_eq!(f.refused(&token).await, "InvalidIdentityToken", "{kid:?}");
    }
    Ok(())
}

#[tokio::test]
async fn attack_expired_token_is_expired_token_exception() -> Result<()> {
    let f = Fixture::new().await?;
    let token = f
        .key
        .sign(&jwt::claims(
            f.idp.issuer(),
            CLIENT,
            SUBJECT,
            now() - 7200,
            3600,
        ))
        .unwrap();
    let error = f.assume(&token).await.unwrap_err();
    assert_eq!(error_code(&error).as_deref(), Some("ExpiredTokenException"));
    assert!(
        error_message(&error)
            .unwrap_or_default()
            .contains("expired")
    );
    Ok(())
}

#[tokio::test]
async fn attack_not_yet_valid_token_is_invalid_identity_token() -> Result<()> {
    let f = Fixture::new().await?;
    let mut claims = f.claims();
    claims["nbf"] = json!(now() + 3600);
    claims["exp"] = json!(now() + 7200);
    let token = f.key.sign(&claims).unwrap();
    assert_eq!(f.refused(&token).await, "InvalidIdentityToken");
    Ok(())
}

#[tokio::test]
async fn attack_wrong_issuer_is_invalid_identity_token() -> Result<()> {
    let f = Fixture::new().await?;
    let token = f
        .key
        .sign(&jwt::claims(
            "https://evil.example.com",
            CLIENT,
            SUBJECT,
            now(),
            300,
        ))
        .unwrap();
    let error = f.assume(&token).await.unwrap_err();
    assert_eq!(error_code(&error).as_deref(), Some("InvalidIdentityToken"));
    assert!(
        error_message(&error).unwrap_or_default().contains(
            "No OpenIDConnect provider found in your account for https://evil.example.com"
        ),
        "{error:?}"
    );
    Ok(())
}

#[tokio::test]
async fn attack_wrong_audience_is_invalid_identity_token() -> Result<()> {
    let f = Fixture::new().await?;
    let token = f
        .key
        .sign(&jwt::claims(
            f.idp.issuer(),
            "another-app",
            SUBJECT,
            now(),
            300,
        ))
        .unwrap();
    let error = f.assume(&token).await.unwrap_err();
    assert_eq!(error_code(&error).as_deref(), Some("InvalidIdentityToken"));
    assert!(
        error_message(&error)
            .unwrap_or_default()
            .contains("Incorrect token audience")
    );
    Ok(())
}

#[tokio::test]
async fn attack_tampered_payload_is_invalid_identity_token() -> Result<()> {
    let f = Fixture::new().await?;
    let token = f.token();
    let mut claims = f.claims();
    claims["sub"] = json!("repo:acme/app:ref:refs/heads/evil");
    assert_eq!(
        f.refused(&jwt::with_payload(&token, &claims)).await,
        "InvalidIdentityToken"
    );
    Ok(())
}

#[tokio::test]
async fn attack_jwks_rotated_mid_run_is_followed_on_unknown_kid() -> Result<()> {
    let f = Fixture::with_args(vec!["--oidc-min-refetch-seconds".into(), "0".into()], None).await?;
    assert!(f.assume(&f.token()).await.is_ok());
    let fetches = f.idp.jwks_requests();
    // The provider rotates: key-1 is retired, key-2 published.
    let next = SigningKey::ec("key-2", "ES256").unwrap();
    f.idp.set_jwks(jwt::jwks(&[&next]).unwrap());
    // The new key is fetched on its first unknown kid...
    assert!(f.assume(&next.sign(&f.claims()).unwrap()).await.is_ok());
    assert_eq!(f.idp.jwks_requests(), fetches + 1);
    // ...and served from the cache afterwards.
    assert!(f.assume(&next.sign(&f.claims()).unwrap()).await.is_ok());
    assert_eq!(f.idp.jwks_requests(), fetches + 1);
    Ok(())
}

#[tokio::test]
async fn refetches_on_unknown_kids_are_rate_limited() -> Result<()> {
    let f = Fixture::new().await?; // default: one fetch per issuer per 10 s
    assert!(f.assume(&f.token()).await.is_ok());
    assert_eq!(f.idp.jwks_requests(), 1);
    for i in 0..5 {
        let stranger = SigningKey::ec(&format!("flood-{i}"), "ES256").unwrap();
        assert_eq!(
            f.refused(&stranger.sign(&f.claims()).unwrap()).await,
            "InvalidIdentityToken"
        );
    }
    assert_eq!(
        f.idp.jwks_requests(),
        1,
        "unknown kids must not hammer the IdP"
    );
    // Cached keys keep working meanwhile.
    assert!(f.assume(&f.token()).await.is_ok());
    Ok(())
}

#[tokio::test]
async fn an_unreachable_identity_provider_is_idp_communication_error() -> Result<()> {
    let f = Fixture::new().await?;
    let token = f.token();
    let Fixture {
        server,
        idp,
        role_arn,
        ..
    } = f;
    drop(idp);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let error = server
        .sts(server.root())
        .assume_role_with_web_identity()
        .role_arn(&role_arn)
        .role_session_name("down")
        .web_identity_token(token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&error).as_deref(), Some("IDPCommunicationError"));
    Ok(())
}

#[tokio::test]
async fn the_trust_policy_sees_the_subject_claim() -> Result<()> {
    let f = Fixture::new().await?;
    let token = f
        .key
        .sign(&jwt::claims(
            f.idp.issuer(),
            CLIENT,
            "repo:acme/other:ref:refs/heads/main",
            now(),
            300,
        ))
        .unwrap();
    let error = f.assume(&token).await.unwrap_err();
    assert_eq!(error_code(&error).as_deref(), Some("AccessDenied"));
    assert_eq!(
        error_message(&error).as_deref(),
        Some("Not authorized to perform sts:AssumeRoleWithWebIdentity")
    );
    Ok(())
}

#[tokio::test]
async fn token_tags_become_session_tags_only_with_tag_session() -> Result<()> {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"PROVIDER"},"Action":["sts:AssumeRoleWithWebIdentity","sts:TagSession"],"Condition":{"StringEquals":{"aws:RequestTag/team":"ops"}}}]}"#;
    let f = Fixture::with_args(Vec::new(), Some(trust)).await?;
    let mut claims = f.claims();
    claims["https://aws.amazon.com/tags"] = json!({
        "principal_tags": {"team": ["ops"], "project": ["blue"]},
        "transitive_tag_keys": ["team"]
    });
    let out = f.assume(&f.key.sign(&claims).unwrap()).await?;
    #[expect(
        deprecated,
        reason = "PackedPolicySize is what shows the tags were packed"
    )]
    let packed = out.packed_policy_size();
    assert!(packed.is_some());
    // A tag the trust policy does not accept.
    claims["https://aws.amazon.com/tags"] = json!({"principal_tags": {"team": ["dev"]}});
    assert_eq!(
        f.refused(&f.key.sign(&claims).unwrap()).await,
        "AccessDenied"
    );

    // The default role (no sts:TagSession) refuses any tags.
    let plain = Fixture::new().await?;
    let mut claims = plain.claims();
    claims["https://aws.amazon.com/tags"] = json!({"principal_tags": {"team": ["ops"]}});
    assert_eq!(
        plain.refused(&plain.key.sign(&claims).unwrap()).await,
        "AccessDenied"
    );
    Ok(())
}

#[tokio::test]
async fn a_deleted_provider_stops_the_role_from_being_assumed() -> Result<()> {
    let f = Fixture::new().await?;
    f.server
        .iam(f.server.root())
        .delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&f.provider_arn)
        .send()
        .await?;
    assert_eq!(f.refused(&f.token()).await, "InvalidIdentityToken");
    Ok(())
}

#[tokio::test]
async fn oidc_providers_through_iam() -> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let created = iam
        .create_open_id_connect_provider()
        .url("https://Token.Actions.GitHubUserContent.com")
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list("6938fd4d98bab03faadb97b34396831e3780aea1")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("Env")
                .value("ci")
                .build()?,
        )
        .send()
        .await?;
    let arn = created.open_id_connect_provider_arn().unwrap().to_owned();
    assert_eq!(
        arn,
        format!("arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com")
    );

    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await?;
    assert_eq!(got.url(), Some("token.actions.githubusercontent.com"));
    assert_eq!(got.client_id_list(), ["sts.amazonaws.com"]);
    assert_eq!(got.thumbprint_list().len(), 1);
    assert_eq!(got.tags().len(), 1);

    let duplicate = iam
        .create_open_id_connect_provider()
        .url("https://token.actions.githubusercontent.com")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        duplicate.as_service_error().and_then(|e| e.meta().code()),
        Some("EntityAlreadyExists")
    );

    for bad in [
        "http://idp.example.com",
        "https://idp.example.com:8443",
        "https://idp.example.com/?x=1",
    ] {
        let error = iam
            .create_open_id_connect_provider()
            .url(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error.as_service_error().and_then(|e| e.meta().code()),
            Some("InvalidInput"),
            "{bad}"
        );
    }
    let six = iam
        .create_open_id_connect_provider()
        .url("https://idp.example.com")
        .set_thumbprint_list(Some(vec!["a".repeat(40); 6]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        six.as_service_error().and_then(|e| e.meta().code()),
        Some("InvalidInput")
    );

    iam.add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("second")
        .send()
        .await?;
    iam.add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("second")
        .send()
        .await?;
    iam.remove_client_id_from_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("sts.amazonaws.com")
        .send()
        .await?;
    iam.update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(&arn)
        .thumbprint_list("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .await?;
    let got = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await?;
    assert_eq!(got.client_id_list(), ["second"]);
    assert_eq!(
        got.thumbprint_list(),
        ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
    );

    iam.tag_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("Owner")
                .value("sec")
                .build()?,
        )
        .send()
        .await?;
    iam.untag_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .tag_keys("Env")
        .send()
        .await?;
    let tags = iam
        .list_open_id_connect_provider_tags()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await?;
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].key(), "Owner");

    let listed = iam.list_open_id_connect_providers().send().await?;
    assert_eq!(listed.open_id_connect_provider_list().len(), 1);
    assert_eq!(
        listed.open_id_connect_provider_list()[0].arn(),
        Some(arn.as_str())
    );

    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await?;
    // Idempotent.
    iam.delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await?;
    let missing = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        missing.as_service_error().and_then(|e| e.meta().code()),
        Some("NoSuchEntity")
    );
    assert!(
        iam.list_open_id_connect_providers()
            .send()
            .await?
            .open_id_connect_provider_list()
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn plain_http_issuers_need_allow_http_issuer_and_loopback() -> Result<()> {
    let key = SigningKey::rsa("k", "RS256").unwrap();
    let idp = IssuerServer::http(jwt::jwks(&[&key]).unwrap())
        .await
        .unwrap();
    // Without the flag IAM refuses the http:// URL.
    let strict = Server::start()?;
    let error = strict
        .iam(strict.root())
        .create_open_id_connect_provider()
        .url(idp.url())
        .client_id_list(CLIENT)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error.as_service_error().and_then(|e| e.meta().code()),
        Some("InvalidInput")
    );

    let server = Server::start_with(ServerOptions {
        env: vec![("MAYFLY_ALLOW_HTTP_ISSUER".into(), "1".into())],
        ..ServerOptions::default()
    })?;
    let iam = server.iam(server.root());
    let provider = iam
        .create_open_id_connect_provider()
        .url(idp.url())
        .client_id_list(CLIENT)
        .send()
        .await?
        .open_id_connect_provider_arn()
        .unwrap()
        .to_owned();
    let role_arn = iam
        .create_role()
        .role_name("dev")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithWebIdentity"}}]}}"#
        ))
        .send()
        .await?
        .role()
        .unwrap()
        .arn()
        .to_owned();
    let token = key
        .sign(&jwt::claims(idp.issuer(), CLIENT, "dev-user", now(), 300))
        .unwrap();
    let out = server
        .sts(server.root())
        .assume_role_with_web_identity()
        .role_arn(role_arn)
        .role_session_name("dev")
        .web_identity_token(token)
        .send()
        .await?;
    assert_eq!(out.subject_from_web_identity_token(), Some("dev-user"));
    Ok(())
}

/// The token-file flow of EKS and GitHub Actions: `AWS_WEB_IDENTITY_TOKEN_FILE`
/// and `AWS_ROLE_ARN` read by aws-config's default credential chain. The
/// environment belongs to a child process (this test binary, running
/// [`web_identity_token_file_child`]), since tests may not change their own.
#[tokio::test]
async fn aws_config_reads_the_web_identity_token_file() -> Result<()> {
    let f = Fixture::new().await?;
    let dir = tempfile::tempdir()?;
    let token_path = dir.path().join("token.jwt");
    std::fs::write(&token_path, f.token())?;
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .args([
            "--ignored",
            "--exact",
            "web_identity_token_file_child",
            "--nocapture",
        ])
        .env("MAYFLY_E2E_TOKEN_FILE_CHILD", "1")
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_path)
        .env("AWS_ROLE_ARN", &f.role_arn)
        .env("AWS_ROLE_SESSION_NAME", "token-file")
        .env("AWS_ENDPOINT_URL", &f.server.endpoint)
        .env("AWS_ENDPOINT_URL_STS", &f.server.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", dir.path().join("no-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.path().join("no-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE");
    // Block on another thread so this runtime keeps serving the IdP.
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "CALLER=arn:aws:sts::{ACCOUNT}:assumed-role/web-deployer/token-file"
        )),
        "{stdout}"
    );
    Ok(())
}

/// Run by [`aws_config_reads_the_web_identity_token_file`] in a child process.
#[tokio::test]
#[ignore = "run in a child process by aws_config_reads_the_web_identity_token_file"]
async fn web_identity_token_file_child() -> Result<()> {
    anyhow::ensure!(
        std::env::var_os("MAYFLY_E2E_TOKEN_FILE_CHILD").is_some(),
        "only meaningful in the child process its parent test starts"
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let identity = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await?;
    println!("CALLER={}", identity.arn().unwrap_or_default());
    Ok(())
}
