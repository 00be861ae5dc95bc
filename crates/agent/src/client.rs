//! CreateSession over HTTP(S), signed with SigV4-X509 the way the official
//! helper sends it: the ARNs in the query string, `durationSeconds` (and
//! `roleSessionName`) in a JSON body (roles-anywhere.md 3.1, 6.2).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mayfly_sigv4::uri_encode;
use mayfly_sigv4::x509::{X509SignRequest, sign_x509};
use serde_json::{Value, json};

use crate::{Material, SessionCredentials};

/// Largest response body read.
const MAX_RESPONSE: usize = 1 << 20;
/// Overall deadline of one CreateSession call.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What to ask CreateSession for.
#[derive(Debug, Clone)]
pub struct SessionParams {
    /// Base URL, e.g. `https://127.0.0.1:7400`; default
    /// `https://rolesanywhere.<region>.amazonaws.com`.
    pub endpoint: Option<String>,
    /// The signing region; default the trust anchor ARN's.
    pub region: Option<String>,
    /// The trust anchor.
    pub trust_anchor_arn: String,
    /// The profile.
    pub profile_arn: String,
    /// The role.
    pub role_arn: String,
    /// Requested seconds (900–43200).
    pub session_duration: Option<u32>,
    /// Requested session name (the profile must accept one).
    pub role_session_name: Option<String>,
}

/// Why CreateSession failed. Carries the service's message, never secrets.
#[derive(Debug, thiserror::Error)]
pub enum CreateSessionError {
    /// Bad parameters before anything was sent.
    #[error("{0}")]
    Invalid(String),
    /// The request could not be made or the answer not read.
    #[error("request to {endpoint} failed: {reason}")]
    Transport {
        /// The URL.
        endpoint: String,
        /// What happened.
        reason: String,
    },
    /// The service refused.
    #[error("CreateSession failed with status {status}: {code}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The error code (`x-amzn-ErrorType` or `__type`).
        code: String,
        /// The message.
        message: String,
    },
}

fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Call CreateSession with `material` at `now`.
pub async fn create_session(
    material: &Material,
    params: &SessionParams,
    now: SystemTime,
) -> Result<SessionCredentials, CreateSessionError> {
    let region = match &params.region {
        Some(region) => region.clone(),
        None => region_of(&params.trust_anchor_arn)
            .ok_or_else(|| {
                CreateSessionError::Invalid("the trust anchor ARN has no region".into())
            })?
            .to_owned(),
    };
    if region_of(&params.profile_arn) != Some(region.as_str()) {
        return Err(CreateSessionError::Invalid(
            "the profile ARN and the trust anchor ARN must be in the same region".into(),
        ));
    }
    let base = params
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("https://rolesanywhere.{region}.amazonaws.com"));
    let base = base.trim_end_matches('/').to_owned();
    let uri: http::Uri = format!("{base}/sessions")
        .parse()
        .map_err(|_| CreateSessionError::Invalid(format!("invalid endpoint {base}")))?;
    let host = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .ok_or_else(|| CreateSessionError::Invalid(format!("endpoint {base} has no host")))?;
    let query = format!(
        "profileArn={}&roleArn={}&trustAnchorArn={}",
        uri_encode(params.profile_arn.as_bytes(), false),
        uri_encode(params.role_arn.as_bytes(), false),
        uri_encode(params.trust_anchor_arn.as_bytes(), false),
    );
    let mut body = json!({"durationSeconds": params.session_duration.unwrap_or(3600)});
    if let (Some(name), Some(map)) = (&params.role_session_name, body.as_object_mut()) {
        map.insert("roleSessionName".into(), Value::String(name.clone()));
    }
    let body = body.to_string();
    let headers = sign_x509(
        &material.key,
        &X509SignRequest {
            method: "POST",
            path: "/sessions",
            query: &query,
            host: &host,
            content_type: "application/json",
            body: body.as_bytes(),
            time: now,
            region: &region,
            certificate_der: &material.certificate_der,
            chain_der: &material.chain_der,
            serial_decimal: &material.serial_decimal,
        },
    )
    .map_err(|e| CreateSessionError::Invalid(e.to_string()))?;

    let transport = |reason: String| CreateSessionError::Transport {
        endpoint: base.clone(),
        reason,
    };
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("{base}/sessions?{query}"))
        .header("host", &host);
    for (name, value) in &headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| transport(e.to_string()))?;
    let client = http_client().map_err(transport)?;
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .map_err(|_| transport("timed out".into()))?
        .map_err(|e| transport(e.to_string()))?;
    let status = response.status().as_u16();
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or(v).to_owned());
    let bytes = Limited::new(response.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| transport(e.to_string()))?
        .to_bytes();
    let document: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        let text = |key: &str| document.get(key).and_then(Value::as_str).map(str::to_owned);
        return Err(CreateSessionError::Refused {
            status,
            code: error_type
                .or_else(|| text("__type"))
                .or_else(|| text("code"))
                .unwrap_or_else(|| "Unknown".into()),
            message: text("message")
                .or_else(|| text("Message"))
                .unwrap_or_default(),
        });
    }
    let credentials = document
        .get("credentialSet")
        .and_then(|set| set.get(0))
        .and_then(|first| first.get("credentials"))
        .ok_or_else(|| transport("the response holds no credentials".into()))?;
    let field = |key: &str| {
        credentials
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| transport(format!("the response lacks {key}")))
    };
    Ok(SessionCredentials {
        access_key_id: field("accessKeyId")?,
        secret_access_key: field("secretAccessKey")?,
        session_token: field("sessionToken")?,
        expiration: field("expiration")?,
    })
}

pub(crate) type HttpsClient = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// A client for `http://` and `https://` with the platform's roots
/// (`SSL_CERT_FILE` is honoured).
pub(crate) fn http_client() -> Result<HttpsClient, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}
