//! An OIDC identity provider for tests: keys, signed ID tokens, the JWKS,
//! and an HTTPS server for discovery and the JWKS under a test CA.
//!
//! Independence from the verifier (`mayfly_federation::oidc`): tokens are
//! encoded and signed by `jsonwebtoken`, and the JWKS is written by
//! `jsonwebtoken::jwk` from the private keys; the keys themselves come from
//! aws-lc-rs key generation. None of Mayfly's parsing code is used here.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The independent signer, for tests that build their own headers.
pub use jsonwebtoken;

/// Why a fixture could not be made.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A signing key of the test issuer, with its `kid` and algorithm.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    /// The public key as SubjectPublicKeyInfo DER (for key-confusion attacks).
    public_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn algorithm(name: &str) -> Result<Algorithm, Error> {
    Ok(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        other => return Err(format!("no test key for algorithm {other}").into()),
    })
}

/// The content of the first DER element of `der` and what follows it.
fn der_element(der: &[u8]) -> Result<(u8, &[u8], &[u8]), Error> {
    let (&tag, rest) = der.split_first().ok_or("truncated DER")?;
    let (&first, rest) = rest.split_first().ok_or("truncated DER")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        let (bytes, rest) = rest.split_at_checked(n).ok_or("truncated DER")?;
        (
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            rest,
        )
    };
    let (content, rest) = rest.split_at_checked(len).ok_or("truncated DER")?;
    Ok((tag, content, rest))
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo`
/// (jsonwebtoken wants PKCS#1 for RSA).
fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> Result<Vec<u8>, Error> {
    let (_, info, _) = der_element(pkcs8)?;
    let (_, _version, rest) = der_element(info)?;
    let (_, _algorithm, rest) = der_element(rest)?;
    let (tag, key, _) = der_element(rest)?;
    if tag != 0x04 {
        return Err("PKCS#8 without an OCTET STRING key".into());
    }
    Ok(key.to_vec())
}

impl SigningKey {
    /// A fresh 2048-bit RSA key for `alg` (`RS256`…`PS512`).
    pub fn rsa(kid: &str, alg: &str) -> Result<Self, Error> {
        Self::rsa_sized(kid, alg, KeySize::Rsa2048)
    }

    /// A fresh RSA key of `size` for `alg`.
    pub fn rsa_sized(kid: &str, alg: &str, size: KeySize) -> Result<Self, Error> {
        let key = RsaKeyPair::generate(size)?;
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key)?;
        let pkcs1 = pkcs1_from_pkcs8(pkcs8.as_ref())?;
        let public_der = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(key.public_key())?
            .as_ref()
            .to_vec();
        Ok(Self {
            kid: kid.to_owned(),
            alg: algorithm(alg)?,
            encoding: EncodingKey::from_rsa_der(&pkcs1),
            public_der,
        })
    }

    /// A fresh EC key: P-256 for `ES256`, P-384 for `ES384`.
    pub fn ec(kid: &str, alg: &str) -> Result<Self, Error> {
        let signing = match alg {
            "ES256" => &ECDSA_P256_SHA256_FIXED_SIGNING,
            "ES384" => &ECDSA_P384_SHA384_FIXED_SIGNING,
            other => return Err(format!("no EC key for {other}").into()),
        };
        let key = EcdsaKeyPair::generate(signing)?;
        let pkcs8 = key.to_pkcs8v1()?;
        let public_der = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(key.public_key())?
            .as_ref()
            .to_vec();
        Ok(Self {
            kid: kid.to_owned(),
            alg: algorithm(alg)?,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            public_der,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as JWK (with `kid`, `alg` and `use: sig`), written by
    /// jsonwebtoken.
    pub fn jwk(&self) -> Result<Value, Error> {
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&self.encoding, self.alg)?;
        jwk.common.key_id = Some(self.kid.clone());
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        Ok(serde_json::to_value(jwk)?)
    }

    /// The public key's SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// A token with this key's `alg` and `kid` over `claims`.
    pub fn sign(&self, claims: &Value) -> Result<String, Error> {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        self.sign_with_header(&header, claims)
    }

    /// A token over `claims` with a header of the caller's choice (its
    /// `alg` must be this key's family).
    pub fn sign_with_header(&self, header: &Header, claims: &Value) -> Result<String, Error> {
        Ok(jsonwebtoken::encode(header, claims, &self.encoding)?)
    }
}

/// A JWKS document holding `keys`.
pub fn jwks(keys: &[&SigningKey]) -> Result<String, Error> {
    let keys = keys
        .iter()
        .map(|k| k.jwk())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "keys": keys }).to_string())
}

/// Claims a provider would issue: `iss`, `aud`, `sub`, `iat = now`,
/// `nbf = now`, `exp = now + lifetime`.
pub fn claims(issuer: &str, audience: &str, subject: &str, now: i64, lifetime: i64) -> Value {
    json!({
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
    })
}

/// An unsecured JWT (`alg: none`) with the given signature part (RFC 7519
/// 6.1 has it empty).
pub fn unsigned_token(kid: &str, claims: &Value, signature: &str) -> String {
    let header = json!({"alg": "none", "kid": kid, "typ": "JWT"}).to_string();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        signature
    )
}

/// An HS256 token whose HMAC key is `secret` (e.g. an RSA public key, the
/// classic key-confusion attack), with `kid`.
pub fn hs256_token(secret: &[u8], kid: &str, claims: &Value) -> Result<String, Error> {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    Ok(jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret),
    )?)
}

/// `token` with its payload replaced by `claims` and the original
/// signature kept (a tampered token).
pub fn with_payload(token: &str, claims: &Value) -> String {
    let mut parts = token.splitn(3, '.');
    let header = parts.next().unwrap_or_default();
    let _ = parts.next();
    let signature = parts.next().unwrap_or_default();
    format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A test certificate authority and a server certificate for `localhost`
/// and `127.0.0.1`, made with rcgen.
#[derive(Debug)]
pub struct TestCa {
    /// The CA certificate, PEM (trust it with `SSL_CERT_FILE`).
    pub ca_pem: String,
    /// The server's certificate chain, DER.
    pub server_chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// The server's private key, PKCS#8 DER.
    pub server_key: Vec<u8>,
}

impl TestCa {
    /// A fresh CA and `localhost` certificate.
    pub fn new() -> Result<Self, Error> {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Mayfly test OIDC CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate()?)?;
        let mut leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?;
        leaf.subject_alt_names
            .push(rcgen::SanType::IpAddress(std::net::IpAddr::from([
                127, 0, 0, 1,
            ])));
        leaf.distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let leaf_key = rcgen::KeyPair::generate()?;
        let leaf_cert = leaf.signed_by(&leaf_key, &ca)?;
        Ok(Self {
            ca_pem: ca.pem(),
            server_chain: vec![leaf_cert.der().clone()],
            server_key: leaf_key.serialize_der(),
        })
    }

    /// Write the CA certificate to `dir/oidc-ca.pem` and return the path.
    pub fn write_ca(&self, dir: &Path) -> Result<PathBuf, Error> {
        let path = dir.join("oidc-ca.pem");
        std::fs::write(&path, &self.ca_pem)?;
        Ok(path)
    }
}

/// What the issuer server serves; changeable while it runs.
#[derive(Debug, Default)]
struct Served {
    discovery: String,
    jwks: String,
}

/// A local OIDC provider over HTTPS (or plain HTTP): discovery at
/// `/.well-known/openid-configuration` and the JWKS at `/jwks`, served
/// until dropped. Counts the JWKS requests.
#[derive(Debug)]
pub struct IssuerServer {
    issuer: String,
    served: Arc<Mutex<Served>>,
    jwks_requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for IssuerServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl IssuerServer {
    /// Serve over HTTPS with `ca`'s `localhost` certificate; the issuer is
    /// `https://localhost:PORT`. Call within a tokio runtime.
    pub async fn https(ca: &TestCa, jwks: String) -> Result<Self, Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ca.server_key.clone().into());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(ca.server_chain.clone(), key)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Self::start(Some(acceptor), "https://localhost", jwks).await
    }

    /// Serve over plain HTTP on 127.0.0.1 (for `--allow-http-issuer`); the
    /// issuer is `http://127.0.0.1:PORT`.
    pub async fn http(jwks: String) -> Result<Self, Error> {
        Self::start(None, "http://127.0.0.1", jwks).await
    }

    async fn start(
        tls: Option<tokio_rustls::TlsAcceptor>,
        base: &str,
        jwks: String,
    ) -> Result<Self, Error> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let port = listener.local_addr()?.port();
        let issuer = format!("{base}:{port}");
        let served = Arc::new(Mutex::new(Served {
            discovery: json!({
                "issuer": issuer,
                "jwks_uri": format!("{issuer}/jwks"),
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            })
            .to_string(),
            jwks,
        }));
        let jwks_requests = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(accept_loop(
            listener,
            tls,
            Arc::clone(&served),
            Arc::clone(&jwks_requests),
        ));
        Ok(Self {
            issuer,
            served,
            jwks_requests,
            task,
        })
    }

    /// The issuer URL (the tokens' `iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The provider URL as IAM's CreateOpenIDConnectProvider takes it.
    pub fn url(&self) -> &str {
        &self.issuer
    }

    /// Replace the served JWKS (key rotation).
    pub fn set_jwks(&self, jwks: String) {
        if let Ok(mut served) = self.served.lock() {
            served.jwks = jwks;
        }
    }

    /// Replace the served discovery document.
    pub fn set_discovery(&self, discovery: String) {
        if let Ok(mut served) = self.served.lock() {
            served.discovery = discovery;
        }
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_requests(&self) -> usize {
        self.jwks_requests.load(Ordering::SeqCst)
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    served: Arc<Mutex<Served>>,
    jwks_requests: Arc<AtomicUsize>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let tls = tls.clone();
        let served = Arc::clone(&served);
        let jwks_requests = Arc::clone(&jwks_requests);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let served = Arc::clone(&served);
                    let jwks_requests = Arc::clone(&jwks_requests);
                    async move {
                        let body = {
                            let served = served.lock().map_err(|_| "poisoned");
                            match (request.uri().path(), served) {
                                ("/.well-known/openid-configuration", Ok(s)) => {
                                    Some(s.discovery.clone())
                                }
                                ("/jwks", Ok(s)) => {
                                    jwks_requests.fetch_add(1, Ordering::SeqCst);
                                    Some(s.jwks.clone())
                                }
                                _ => None,
                            }
                        };
                        let response = match body {
                            Some(body) => http::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(body))),
                            None => http::Response::builder()
                                .status(404)
                                .body(Full::new(Bytes::new())),
                        };
                        Ok::<_, Infallible>(response.unwrap_or_default())
                    }
                },
            );
            let builder = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = builder
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    }
                }
                None => {
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}
