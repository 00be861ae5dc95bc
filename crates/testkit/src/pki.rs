//! A test PKI for Roles Anywhere, made with rcgen at run time (nothing is
//! committed but this generator): a root CA (the trust anchor), an
//! intermediate CA, RSA-2048, EC P-256 and EC P-384 leaves, an expired leaf,
//! a revoked leaf with the intermediate's CRL listing it, a leaf without
//! `digitalSignature`, and a second, unrelated root with its own leaf.
//!
//! Also the client half of CreateSession: [`sign_create_session`] signs a
//! request the way the real clients do (roles-anywhere.md 3.2). It builds its
//! canonical request by itself, with no code shared with Mayfly's verifier
//! (`mayfly_sigv4::x509`), so a test passes only when both agree.
//!
//! Every certificate is valid from 2024-01-01 to 2034-01-01 except the
//! expired leaf (2024-01-01 to 2024-06-01); tests pick a time inside.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SanType, SerialNumber, SignatureAlgorithm, date_time_ymd,
};

/// Why a fixture could not be made.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The kind of a leaf's key, which decides the signature primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA-2048, RSASSA-PKCS1-v1_5 with SHA-256.
    Rsa,
    /// ECDSA P-256 with SHA-256.
    EcP256,
    /// ECDSA P-384. aws-lc-rs cannot sign SHA-256 over P-384, so this
    /// signer uses SHA-384 and the `AWS4-X509-ECDSA-SHA384` label, as
    /// `iam-rolesanywhere-session` labels a P-384 leaf signed with SHA-384.
    EcP384,
}

/// A certificate with its private key.
pub struct Leaf {
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 DER.
    pub key_pkcs8_der: Vec<u8>,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The key kind.
    pub kind: KeyKind,
    /// The serial number, big-endian bytes as encoded.
    pub serial: Vec<u8>,
}

impl std::fmt::Debug for Leaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leaf")
            .field("kind", &self.kind)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl Leaf {
    /// The serial as lowercase byte-wise hex (the Roles Anywhere session name).
    pub fn serial_hex(&self) -> String {
        hex_lower(&self.serial)
    }

    /// Lowercase hex SHA-256 of the DER certificate: the AWS IoT
    /// certificate id (the IoT credentials provider's session name).
    pub fn certificate_id(&self) -> String {
        hex_lower(digest(&SHA256, &self.cert_der).as_ref())
    }
}

/// A CA certificate.
#[derive(Debug, Clone)]
pub struct CaCert {
    /// DER.
    pub cert_der: Vec<u8>,
    /// PEM.
    pub cert_pem: String,
}

/// The whole test PKI.
#[derive(Debug)]
pub struct TestPki {
    /// The root CA: the trust anchor.
    pub root: CaCert,
    /// The intermediate CA, signed by the root; it issues every leaf.
    pub intermediate: CaCert,
    /// EC P-256 leaf `C=US, O=Example, OU=Dev, CN=workload-ec` with SANs
    /// `DNS:host1.example.com` and `URI:spiffe://example.com/ns/a/sa/b`.
    pub ec_p256: Leaf,
    /// A renewal of [`TestPki::ec_p256`]: the same subject DN and SANs, another
    /// serial and key.
    pub ec_p256_renewed: Leaf,
    /// EC P-384 leaf, `CN=workload-p384`.
    pub ec_p384: Leaf,
    /// RSA-2048 leaf, `CN=workload-rsa`.
    pub rsa: Leaf,
    /// P-256 leaf valid only 2024-01-01 to 2024-06-01.
    pub expired: Leaf,
    /// P-256 leaf listed in [`TestPki::crl_der`].
    pub revoked: Leaf,
    /// P-256 leaf whose key usage lacks `digitalSignature` (only `keyEncipherment`).
    pub no_digital_signature: Leaf,
    /// The intermediate's CRL listing the revoked leaf, DER.
    pub crl_der: Vec<u8>,
    /// The same CRL, PEM (what ImportCrl carries, base64-encoded again).
    pub crl_pem: String,
    /// An unrelated root CA (for wrong-anchor tests).
    pub other_root: CaCert,
    /// A P-256 leaf issued directly by `other_root`.
    pub other_leaf: Leaf,
}

fn name(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (ty, value) in parts {
        dn.push(ty.clone(), *value);
    }
    dn
}

fn ca_params(dn: DistinguishedName, serial: &[u8]) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = date_time_ymd(2024, 1, 1);
    params.not_after = date_time_ymd(2034, 1, 1);
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.key_identifier_method = KeyIdMethod::Sha256;
    params.use_authority_key_identifier_extension = true;
    params
}

fn key_for(kind: KeyKind) -> Result<KeyPair, Error> {
    Ok(match kind {
        KeyKind::Rsa => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)?
        }
        KeyKind::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
        KeyKind::EcP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)?,
    })
}

struct LeafSpec<'a> {
    kind: KeyKind,
    serial: &'a [u8],
    dn: DistinguishedName,
    sans: Vec<SanType>,
    usages: Vec<KeyUsagePurpose>,
    not_after: (i32, u8, u8),
}

fn leaf(spec: LeafSpec<'_>, issuer: &Issuer<'_, KeyPair>) -> Result<Leaf, Error> {
    let key = key_for(spec.kind)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = spec.dn;
    params.subject_alt_names = spec.sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = spec.usages;
    params.not_before = date_time_ymd(2024, 1, 1);
    let (y, m, d) = spec.not_after;
    params.not_after = date_time_ymd(y, m, d);
    params.serial_number = Some(SerialNumber::from_slice(spec.serial));
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer)?;
    Ok(Leaf {
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key_pkcs8_der: key.serialize_der(),
        key_pem: key.serialize_pem(),
        kind: spec.kind,
        serial: spec.serial.to_vec(),
    })
}

fn workload(cn: &str) -> DistinguishedName {
    name(&[
        (DnType::CountryName, "US"),
        (DnType::OrganizationName, "Example"),
        (DnType::OrganizationalUnitName, "Dev"),
        (DnType::CommonName, cn),
    ])
}

fn sign_alg(kind: KeyKind) -> &'static SignatureAlgorithm {
    match kind {
        KeyKind::Rsa => &rcgen::PKCS_RSA_SHA256,
        KeyKind::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyKind::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
    }
}

impl TestPki {
    /// Generate a fresh PKI (a few milliseconds; RSA key generation dominates).
    pub fn generate() -> Result<Self, Error> {
        let root_key = KeyPair::generate_for(sign_alg(KeyKind::EcP256))?;
        let root_params = ca_params(
            name(&[
                (DnType::CountryName, "US"),
                (DnType::OrganizationName, "Example"),
                (DnType::CommonName, "Example Root CA"),
            ]),
            &[0x01],
        );
        let root_cert = root_params.self_signed(&root_key)?;
        let root_issuer = Issuer::new(root_params, root_key);

        let int_key = KeyPair::generate_for(sign_alg(KeyKind::EcP256))?;
        let int_params = ca_params(
            name(&[
                (DnType::CountryName, "US"),
                (DnType::OrganizationName, "Example"),
                (DnType::CommonName, "Example Issuing CA"),
            ]),
            &[0x02],
        );
        let int_cert = int_params.signed_by(&int_key, &root_issuer)?;
        let int_issuer = Issuer::new(int_params, int_key);

        let signing = vec![KeyUsagePurpose::DigitalSignature];
        let ec_p256 = leaf(
            LeafSpec {
                kind: KeyKind::EcP256,
                serial: &[0x0b, 0xad, 0xc0, 0xff, 0xee],
                dn: workload("workload-ec"),
                sans: vec![
                    SanType::DnsName("host1.example.com".try_into()?),
                    SanType::URI("spiffe://example.com/ns/a/sa/b".try_into()?),
                ],
                usages: signing.clone(),
                not_after: (2034, 1, 1),
            },
            &int_issuer,
        )?;
        let ec_p256_renewed = leaf(
            LeafSpec {
                kind: KeyKind::EcP256,
                serial: &[0x0b, 0xad, 0xc0, 0xff, 0xef],
                dn: workload("workload-ec"),
                sans: vec![
                    SanType::DnsName("host1.example.com".try_into()?),
                    SanType::URI("spiffe://example.com/ns/a/sa/b".try_into()?),
                ],
                usages: signing.clone(),
                not_after: (2034, 1, 1),
            },
            &int_issuer,
        )?;
        let ec_p384 = leaf(
            LeafSpec {
                kind: KeyKind::EcP384,
                serial: &[0x38, 0x40, 0x01],
                dn: workload("workload-p384"),
                sans: vec![],
                usages: signing.clone(),
                not_after: (2034, 1, 1),
            },
            &int_issuer,
        )?;
        let rsa = leaf(
            LeafSpec {
                kind: KeyKind::Rsa,
                serial: &[0x52, 0x53, 0x41, 0x01],
                dn: workload("workload-rsa"),
                sans: vec![],
                usages: vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ],
                not_after: (2034, 1, 1),
            },
            &int_issuer,
        )?;
        let expired = leaf(
            LeafSpec {
                kind: KeyKind::EcP256,
                serial: &[0x0e, 0x0e, 0x01],
                dn: workload("workload-expired"),
                sans: vec![],
                usages: signing.clone(),
                not_after: (2024, 6, 1),
            },
            &int_issuer,
        )?;
        let revoked_serial = [0x7e, 0x70, 0x01];
        let revoked = leaf(
            LeafSpec {
                kind: KeyKind::EcP256,
                serial: &revoked_serial,
                dn: workload("workload-revoked"),
                sans: vec![],
                usages: signing.clone(),
                not_after: (2034, 1, 1),
            },
            &int_issuer,
        )?;
        let no_digital_signature = leaf(
            LeafSpec {
                kind: KeyKind::EcP256,
                serial: &[0x4e, 0x05, 0x01],
                dn: workload("workload-nods"),
                sans: vec![],
                usages: vec![KeyUsagePurpose::KeyAgreement],
                not_after: (2034, 1, 1),
            },
            &int_issuer,
        )?;

        let crl = CertificateRevocationListParams {
            this_update: date_time_ymd(2024, 2, 1),
            next_update: date_time_ymd(2034, 1, 1),
            crl_number: SerialNumber::from_slice(&[0x01]),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from_slice(&revoked_serial),
                revocation_time: date_time_ymd(2024, 2, 1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&int_issuer)?;

        let other_key = KeyPair::generate_for(sign_alg(KeyKind::EcP256))?;
        let other_params = ca_params(
            name(&[
                (DnType::OrganizationName, "Elsewhere"),
                (DnType::CommonName, "Unrelated Root CA"),
            ]),
            &[0x03],
        );
        let other_cert = other_params.self_signed(&other_key)?;
        let other_issuer = Issuer::new(other_params, other_key);
        let other_leaf = leaf(
            LeafSpec {
                kind: KeyKind::EcP256,
                serial: &[0x0a, 0x1e, 0x01],
                dn: workload("workload-elsewhere"),
                sans: vec![],
                usages: signing,
                not_after: (2034, 1, 1),
            },
            &other_issuer,
        )?;

        Ok(Self {
            root: CaCert {
                cert_der: root_cert.der().to_vec(),
                cert_pem: root_cert.pem(),
            },
            intermediate: CaCert {
                cert_der: int_cert.der().to_vec(),
                cert_pem: int_cert.pem(),
            },
            ec_p256,
            ec_p256_renewed,
            ec_p384,
            rsa,
            expired,
            revoked,
            no_digital_signature,
            crl_der: crl.der().to_vec(),
            crl_pem: crl.pem()?,
            other_root: CaCert {
                cert_der: other_cert.der().to_vec(),
                cert_pem: other_cert.pem(),
            },
            other_leaf,
        })
    }
}

/// A CreateSession request to sign (roles-anywhere.md 3.1).
#[derive(Debug, Clone)]
pub struct SessionRequest<'a> {
    /// The `Host` header value, port included.
    pub host: &'a str,
    /// The raw query string without `?` (already percent-encoded; may be empty).
    pub query: &'a str,
    /// `Content-Type`.
    pub content_type: &'a str,
    /// The JSON body.
    pub body: &'a [u8],
    /// `X-Amz-Date`, `YYYYMMDDTHHMMSSZ`.
    pub amz_date: &'a str,
    /// The region of the scope.
    pub region: &'a str,
    /// DER certificates for `X-Amz-X509-Chain`, if any.
    pub chain: &'a [&'a [u8]],
}

/// Sign `request` with `leaf`: the headers to send (`Content-Type`,
/// `X-Amz-Date`, `X-Amz-X509`, `X-Amz-X509-Chain` when a chain is given,
/// `Authorization`). `Host` is signed but left to the HTTP client.
pub fn sign_create_session(
    leaf: &Leaf,
    request: &SessionRequest<'_>,
) -> Result<Vec<(String, String)>, Error> {
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), request.content_type.to_owned()),
        ("host".into(), request.host.to_owned()),
        ("x-amz-date".into(), request.amz_date.to_owned()),
        ("x-amz-x509".into(), STANDARD.encode(&leaf.cert_der)),
    ];
    if !request.chain.is_empty() {
        let joined: Vec<String> = request.chain.iter().map(|c| STANDARD.encode(c)).collect();
        headers.push(("x-amz-x509-chain".into(), joined.join(",")));
    }
    headers.sort();
    let signed_headers: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let signed_headers = signed_headers.join(";");

    let mut pairs: Vec<(String, String)> = request
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect();
    pairs.sort();
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();

    let mut canonical = String::new();
    canonical.push_str("POST\n/sessions\n");
    canonical.push_str(&query.join("&"));
    canonical.push('\n');
    for (name, value) in &headers {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(value.trim());
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed_headers);
    canonical.push('\n');
    canonical.push_str(&hex_lower(digest(&SHA256, request.body).as_ref()));

    let algorithm = match leaf.kind {
        KeyKind::Rsa => "AWS4-X509-RSA-SHA256",
        KeyKind::EcP256 => "AWS4-X509-ECDSA-SHA256",
        KeyKind::EcP384 => "AWS4-X509-ECDSA-SHA384",
    };
    let date = request.amz_date.get(..8).ok_or("X-Amz-Date too short")?;
    let scope = format!("{date}/{}/rolesanywhere/aws4_request", request.region);
    let string_to_sign = format!(
        "{algorithm}\n{}\n{scope}\n{}",
        request.amz_date,
        hex_lower(digest(&SHA256, canonical.as_bytes()).as_ref())
    );
    let signature = sign_bytes(leaf, string_to_sign.as_bytes())?;

    let mut out: Vec<(String, String)> = headers.into_iter().filter(|(n, _)| n != "host").collect();
    out.push((
        "authorization".into(),
        format!(
            "{algorithm} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={}",
            serial_decimal(&leaf.serial),
            hex_lower(&signature)
        ),
    ));
    Ok(out)
}

/// Sign `message` with the leaf's key, as [`KeyKind`] describes.
pub fn sign_bytes(leaf: &Leaf, message: &[u8]) -> Result<Vec<u8>, Error> {
    let rng = SystemRandom::new();
    Ok(match leaf.kind {
        KeyKind::Rsa => {
            let key = RsaKeyPair::from_pkcs8(&leaf.key_pkcs8_der)?;
            let mut sig = vec![0u8; key.public_modulus_len()];
            key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)?;
            sig
        }
        KeyKind::EcP256 | KeyKind::EcP384 => {
            let alg = if leaf.kind == KeyKind::EcP256 {
                &ECDSA_P256_SHA256_ASN1_SIGNING
            } else {
                &ECDSA_P384_SHA384_ASN1_SIGNING
            };
            let key = EcdsaKeyPair::from_pkcs8(alg, &leaf.key_pkcs8_der)?;
            key.sign(&rng, message)?.as_ref().to_vec()
        }
    })
}

/// The decimal form of a big-endian unsigned integer (the `Credential=` serial).
pub fn serial_decimal(bytes: &[u8]) -> String {
    // Repeated division by 10 over the byte string: slow, obviously right.
    let mut digits = Vec::new();
    let mut number: Vec<u8> = bytes.to_vec();
    while number.iter().any(|b| *b != 0) {
        let mut remainder = 0u32;
        for byte in &mut number {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = u8::try_from(value / 10).unwrap_or(0);
            remainder = value % 10;
        }
        digits.push(char::from(b'0' + u8::try_from(remainder).unwrap_or(0)));
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.iter().rev().collect()
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn serial_prints_in_decimal() {
        assert_eq!(
            serial_decimal(&[0x0b, 0xad, 0xc0, 0xff, 0xee]),
            "50159747054"
        );
        assert_eq!(serial_decimal(&[0x00]), "0");
        assert_eq!(serial_decimal(&[0x01, 0x00]), "256");
    }

    #[test]
    fn the_pki_generates() {
        let pki = TestPki::generate().unwrap();
        assert!(pki.root.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.crl_pem.starts_with("-----BEGIN X509 CRL-----"));
        assert_eq!(pki.ec_p256.serial_hex(), "0badc0ffee");
    }
}
