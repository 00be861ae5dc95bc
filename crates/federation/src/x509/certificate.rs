//! The end-entity certificate's fields that Roles Anywhere uses.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use super::X509Error;

/// The public key's type, with what the signature check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA; the bytes are the PKCS#1 `RSAPublicKey` DER.
    Rsa,
    /// ECDSA on P-256; the bytes are the uncompressed point.
    EcP256,
    /// ECDSA on P-384.
    EcP384,
    /// ECDSA on P-521.
    EcP521,
}

/// One attribute of a distinguished name, with its short name (`CN`, `OU`,
/// …) or, for unnamed types, the dotted OID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rdn {
    /// `CN`, `O`, `OU`, `C`, `ST`, `L`, `UID`, `DC`, `emailAddress`,
    /// `serialNumber` or the dotted OID.
    pub name: String,
    /// The value as text (attributes that are not strings are skipped).
    pub value: String,
}

/// A parsed certificate, owned.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// The DER it was parsed from.
    pub der: Vec<u8>,
    /// The serial number, big-endian, without a sign-padding zero byte.
    pub serial: Vec<u8>,
    /// The subject as `C=US, O=Example, CN=…`.
    pub subject_dn: String,
    /// The issuer, same form.
    pub issuer_dn: String,
    /// The subject's attributes in order.
    pub subject: Vec<Rdn>,
    /// The issuer's attributes in order.
    pub issuer: Vec<Rdn>,
    /// The first DNS SAN.
    pub san_dns: Option<String>,
    /// The first URI SAN.
    pub san_uri: Option<String>,
    /// The attributes of the first directoryName SAN.
    pub san_directory_name: Vec<Rdn>,
    /// The public key type.
    pub key_kind: KeyKind,
    /// The public key bytes (see [`KeyKind`]).
    pub public_key: Vec<u8>,
    /// `basicConstraints CA:TRUE`.
    pub is_ca: bool,
    /// Whether `keyUsage` is present and has `digitalSignature`;
    /// `None` when the extension is absent.
    pub digital_signature: Option<bool>,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

impl Certificate {
    /// The serial in decimal (the `Credential=` component of SigV4-X509).
    pub fn serial_decimal(&self) -> String {
        decimal(&self.serial)
    }

    /// The serial as lowercase byte-wise hex (the role session name, 1.2).
    pub fn serial_hex(&self) -> String {
        let mut out = String::with_capacity(self.serial.len() * 2);
        for b in &self.serial {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// The first `CN` of the subject.
    pub fn subject_cn(&self) -> Option<&str> {
        self.subject
            .iter()
            .find(|r| r.name == "CN")
            .map(|r| r.value.as_str())
    }
}

/// Parse a DER certificate. Trailing bytes are refused.
pub fn parse_certificate(der: &[u8]) -> Result<Certificate, X509Error> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|_| X509Error::Malformed("not a DER certificate"))?;
    if !rest.is_empty() {
        return Err(X509Error::Malformed("trailing bytes after the certificate"));
    }
    let mut serial = cert.tbs_certificate.raw_serial();
    while serial.len() > 1 && serial.first() == Some(&0) {
        serial = serial.get(1..).unwrap_or_default();
    }
    let (mut san_dns, mut san_uri, mut san_directory_name) = (None, None, Vec::new());
    let mut have_dir = false;
    let sans = cert
        .subject_alternative_name()
        .map_err(|_| X509Error::Malformed("subjectAltName"))?;
    if let Some(sans) = sans {
        for name in &sans.value.general_names {
            match name {
                GeneralName::DNSName(v) if san_dns.is_none() => san_dns = Some((*v).to_owned()),
                GeneralName::URI(v) if san_uri.is_none() => san_uri = Some((*v).to_owned()),
                GeneralName::DirectoryName(n) if !have_dir => {
                    have_dir = true;
                    san_directory_name = rdns(n);
                }
                _ => {}
            }
        }
    }
    let key_usage = cert
        .key_usage()
        .map_err(|_| X509Error::Malformed("keyUsage"))?;
    let basic = cert
        .basic_constraints()
        .map_err(|_| X509Error::Malformed("basicConstraints"))?;
    let spki = cert.public_key();
    let algorithm = spki.algorithm.algorithm.to_id_string();
    let key_kind = match algorithm.as_str() {
        "1.2.840.113549.1.1.1" => KeyKind::Rsa,
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => KeyKind::EcP256,
                Some("1.3.132.0.34") => KeyKind::EcP384,
                Some("1.3.132.0.35") => KeyKind::EcP521,
                _ => return Err(X509Error::UnsupportedKey),
            }
        }
        _ => return Err(X509Error::UnsupportedKey),
    };
    Ok(Certificate {
        der: der.to_vec(),
        serial: serial.to_vec(),
        subject_dn: cert.subject().to_string(),
        issuer_dn: cert.issuer().to_string(),
        subject: rdns(cert.subject()),
        issuer: rdns(cert.issuer()),
        san_dns,
        san_uri,
        san_directory_name,
        key_kind,
        public_key: spki.subject_public_key.data.to_vec(),
        is_ca: basic.is_some_and(|b| b.value.ca),
        digital_signature: key_usage.map(|k| k.value.digital_signature()),
        not_before: time_of(cert.validity().not_before.timestamp()),
        not_after: time_of(cert.validity().not_after.timestamp()),
    })
}

fn time_of(unix: i64) -> SystemTime {
    match u64::try_from(unix) {
        Ok(secs) => UNIX_EPOCH + Duration::from_secs(secs),
        Err(_) => UNIX_EPOCH,
    }
}

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "serialNumber",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return None,
    })
}

fn rdns(name: &X509Name<'_>) -> Vec<Rdn> {
    let mut out = Vec::new();
    for rdn in name.iter_rdn() {
        for attribute in rdn.iter() {
            let oid = attribute.attr_type().to_id_string();
            let Ok(value) = attribute.as_str() else {
                continue;
            };
            let name = short_name(&oid).map_or(oid, str::to_owned);
            out.push(Rdn {
                name,
                value: value.to_owned(),
            });
        }
    }
    out
}

/// Decimal digits of a big-endian unsigned integer.
fn decimal(bytes: &[u8]) -> String {
    // Big-endian base-2^32 limbs, divided by 10^9 until zero: nine digits a
    // pass (a 20-byte serial takes six passes of five divisions; this runs
    // for every CreateSession).
    const CHUNK: u64 = 1_000_000_000;
    let mut limbs: Vec<u32> = Vec::with_capacity(bytes.len() / 4 + 1);
    let head = bytes.len() % 4;
    if head > 0 {
        limbs.push(
            bytes
                .iter()
                .take(head)
                .fold(0, |n, b| (n << 8) | u32::from(*b)),
        );
    }
    for word in bytes.get(head..).unwrap_or_default().chunks_exact(4) {
        limbs.push(word.iter().fold(0, |n, b| (n << 8) | u32::from(*b)));
    }
    let mut chunks: Vec<u32> = Vec::new();
    while limbs.iter().any(|l| *l != 0) {
        let mut remainder = 0u64;
        for limb in &mut limbs {
            let value = (remainder << 32) | u64::from(*limb);
            *limb = u32::try_from(value / CHUNK).unwrap_or(0);
            remainder = value % CHUNK;
        }
        chunks.push(u32::try_from(remainder).unwrap_or(0));
    }
    let Some((most, rest)) = chunks.split_last() else {
        return "0".to_owned();
    };
    let mut out = most.to_string();
    for chunk in rest.iter().rev() {
        out.push_str(&format!("{chunk:09}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimal_agrees_with_u128_formatting() {
        // Mixed 128-bit values, each also shifted down to every length.
        let mut mixed: u128 = 0x0123_4567_89ab_cdef;
        for _ in 0..200 {
            mixed = mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) ^ (mixed >> 61);
            for shift in 0..128 {
                let value = mixed >> shift;
                let bytes = value.to_be_bytes();
                let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
                assert_eq!(decimal(&bytes[first..]), value.to_string(), "{value:#x}");
                assert_eq!(decimal(&bytes), value.to_string(), "leading zeros");
            }
        }
    }

    #[test]
    fn decimal_serials() {
        assert_eq!(decimal(&[0x0b, 0xad, 0xc0, 0xff, 0xee]), "50159747054");
        assert_eq!(decimal(&[]), "0");
        assert_eq!(
            decimal(&[0xff; 20]),
            "1461501637330902918203684832716283019655932542975"
        );
        assert_eq!(decimal(&[0x00]), "0");
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        assert_eq!(decimal(&[0x3b, 0x9a, 0xca, 0x00]), "1000000000");
        assert_eq!(decimal(&[0x3b, 0x9a, 0xc9, 0xff]), "999999999");
        // 2^64 + 5: a zero chunk in the middle keeps its nine digits.
        assert_eq!(
            decimal(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0x05]),
            "18446744073709551621"
        );
        assert_eq!(
            decimal(&[0x0d, 0xe0, 0xb6, 0xb3, 0xa7, 0x64, 0x00, 0x00]),
            "1000000000000000000"
        );
    }
}
