//! Subjects (roles-anywhere.md 1, 3.3 step 10): what CreateSession records
//! about each certificate subject it authenticated, and the
//! `SubjectSummary`/`SubjectDetail` shapes ListSubjects and GetSubject
//! answer.
//!
//! Only certificates whose signature and chain to an enabled trust anchor
//! verified are recorded, so an unauthenticated caller cannot write. A
//! subject is one per account and subject DN; its id is derived from both,
//! so the ARN CreateSession answers needs no lookup.
//!
//! Bounds and write rate. Every store write moves the generation, and every
//! node then reloads, so neither a device calling every hour nor one
//! varying its requests on purpose may grow its record or cost a store
//! write per call:
//! - `credentials` keeps one entry per certificate serial, updated in place,
//!   the [`MAX_CREDENTIALS`] most recently seen;
//! - `instanceProperties` keeps one entry per distinct property set sent,
//!   updated in place, the [`MAX_INSTANCE_PROPERTIES`] most recently seen
//!   (requests without `instanceProperties` add none);
//! - an attempt is written at once only when it shows something new that
//!   an administrator looks for: the subject's first sighting, or a
//!   certificate serial the subject does not list (a renewed certificate,
//!   or a second one with the same subject). Anything else (the times, a
//!   new `instanceProperties` set, a success after a failure or the
//!   reverse) is written only by the first attempt at least
//!   [`WRITE_INTERVAL_MILLIS`] after the subject's last write
//!   (`updatedAt`); the attempts in between are not recorded. So
//!   `lastSeenAt`, `seenAt`, `instanceProperties` and the `failed` flags
//!   show the subject as of an attempt less than that interval before its
//!   latest one, and a subject costs at most one store write per interval
//!   plus one per certificate serial its CA issued.
//!
//! A write copies and reloads nothing when no other write came between
//! ([`super::state::State::put_subject`]); every node's configuration view
//! is rebuilt by its refresher, once a tick at most.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mayfly_federation::x509::Certificate;
use mayfly_store::{RaInstanceProperties, RaSubject, RaSubjectCredential};
use serde_json::{Value, json};

use super::state::Loaded;
use super::{timestamp, uuid_text};
use crate::Core;

/// Certificates kept per subject.
pub(super) const MAX_CREDENTIALS: usize = 10;
/// Instance property sets kept per subject.
pub(super) const MAX_INSTANCE_PROPERTIES: usize = 10;
/// How long after a subject's last write an attempt that brings no new
/// certificate serial may write it again. Without it a device with a valid
/// certificate could force a store write, and a reload on every node, per
/// request by varying `instanceProperties` or alternating success and
/// failure; a minute keeps `lastSeenAt` useful for finding idle devices.
pub(super) const WRITE_INTERVAL_MILLIS: u64 = 60_000;

/// What one authenticated CreateSession attempt tells about its subject.
#[derive(Debug)]
pub(super) struct Sighting<'a> {
    /// The trust anchor's account.
    pub account_id: &'a str,
    /// The trust anchor's region (the ARN's, for a new subject).
    pub region: &'a str,
    /// The verified end-entity certificate.
    pub leaf: &'a Certificate,
    /// `instanceProperties` of the request, if it sent any.
    pub instance_properties: Option<&'a BTreeMap<String, String>>,
    /// Whether the attempt was refused after the certificate verified.
    pub failed: bool,
    /// Unix milliseconds of the attempt.
    pub now: u64,
}

/// The subject id of `subject_dn` in `account_id`: a UUID made from the
/// first 16 bytes of SHA-256 over both, so one subject always has one ARN.
pub(super) fn subject_id(account_id: &str, subject_dn: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{account_id}\n{subject_dn}").as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(digest.as_ref().get(..16).unwrap_or(&[0u8; 16]));
    uuid_text(bytes)
}

/// Whether `sighting` is written now (see the module documentation): at
/// once for a new subject or a certificate serial `existing` does not
/// list, otherwise only once [`WRITE_INTERVAL_MILLIS`] have passed since
/// `existing` was last written.
fn writes_now(existing: Option<&RaSubject>, sighting: &Sighting<'_>) -> bool {
    let Some(existing) = existing else {
        return true;
    };
    let serial = sighting.leaf.serial_hex();
    !existing
        .credentials
        .iter()
        .any(|c| c.serial_number == serial)
        || sighting.now.saturating_sub(existing.updated_at) >= WRITE_INTERVAL_MILLIS
}

/// `existing` (or a new subject) with `sighting` recorded.
fn merged(existing: Option<&RaSubject>, sighting: &Sighting<'_>) -> RaSubject {
    let leaf = sighting.leaf;
    let mut subject = existing.cloned().unwrap_or_else(|| RaSubject {
        account_id: sighting.account_id.to_owned(),
        region: sighting.region.to_owned(),
        id: subject_id(sighting.account_id, &leaf.subject_dn),
        x509_subject: leaf.subject_dn.clone(),
        // AWS has no API that changes a subject's `enabled`.
        enabled: true,
        last_seen_at: sighting.now,
        created_at: sighting.now,
        updated_at: sighting.now,
        credentials: Vec::new(),
        instance_properties: Vec::new(),
    });
    subject.last_seen_at = subject.last_seen_at.max(sighting.now);
    subject.updated_at = subject.updated_at.max(sighting.now);

    let serial = leaf.serial_hex();
    subject.credentials.retain(|c| c.serial_number != serial);
    subject.credentials.insert(
        0,
        RaSubjectCredential {
            seen_at: sighting.now,
            serial_number: serial,
            issuer: leaf.issuer_dn.clone(),
            enabled: true,
            certificate_der: leaf.der.clone(),
            failed: sighting.failed,
        },
    );
    subject.credentials.truncate(MAX_CREDENTIALS);

    if let Some(properties) = sighting.instance_properties {
        subject
            .instance_properties
            .retain(|p| &p.properties != properties);
        subject.instance_properties.insert(
            0,
            RaInstanceProperties {
                seen_at: sighting.now,
                properties: properties.clone(),
                failed: sighting.failed,
            },
        );
        subject
            .instance_properties
            .truncate(MAX_INSTANCE_PROPERTIES);
    }
    subject
}

/// Record `sighting` on its subject and answer the subject's ARN.
///
/// At most one store write, none when the sighting can wait (see the
/// module documentation). A failed write is logged and does not fail the
/// request: the record is bookkeeping, not a security decision.
pub(super) async fn record(core: &Core, loaded: &Loaded, sighting: &Sighting<'_>) -> String {
    let id = subject_id(sighting.account_id, &sighting.leaf.subject_dn);
    let key = RaSubject::storage_key(sighting.account_id, &id);
    let fallback_arn =
        || mayfly_store::rolesanywhere_arn(sighting.region, sighting.account_id, "subject", &id);
    let state = &core.rolesanywhere;
    // The subject's ARN when the sighting need not be written now.
    let can_wait = |loaded: &Loaded| {
        loaded
            .subjects
            .get(&key)
            .filter(|existing| !writes_now(Some(existing.as_ref()), sighting))
            .map(|existing| existing.arn())
    };
    if let Some(arn) = can_wait(loaded) {
        return arn;
    }
    // Decided again under the write lock: another request of this node may
    // have just written the subject.
    let mut settled = None;
    let written = state
        .put_subject(core, |loaded| {
            settled = can_wait(loaded);
            if settled.is_some() {
                return None;
            }
            let existing = loaded.subjects.get(&key);
            Some(merged(existing.as_deref(), sighting))
        })
        .await;
    match written {
        Ok(Some(subject)) => subject.arn(),
        Ok(None) => settled.unwrap_or_else(fallback_arn),
        Err(error) => {
            tracing::error!(code = %error.code, message = %error.message, "recording a Roles Anywhere subject failed");
            fallback_arn()
        }
    }
}

/// `SubjectSummary`.
pub(super) fn summary_json(s: &RaSubject) -> Value {
    json!({
        "subjectArn": s.arn(),
        "subjectId": s.id,
        "enabled": s.enabled,
        "x509Subject": s.x509_subject,
        "lastSeenAt": timestamp(s.last_seen_at),
        "createdAt": timestamp(s.created_at),
        "updatedAt": timestamp(s.updated_at),
    })
}

/// `SubjectDetail`: the summary with `credentials` and `instanceProperties`.
pub(super) fn detail_json(s: &RaSubject) -> Value {
    let mut value = summary_json(s);
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "credentials".to_owned(),
            s.credentials
                .iter()
                .map(|c| {
                    json!({
                        "seenAt": timestamp(c.seen_at),
                        "serialNumber": c.serial_number,
                        "issuer": c.issuer,
                        "enabled": c.enabled,
                        "x509CertificateData": certificate_pem(&c.certificate_der),
                        "failed": c.failed,
                    })
                })
                .collect(),
        );
        map.insert(
            "instanceProperties".to_owned(),
            s.instance_properties
                .iter()
                .map(|p| {
                    json!({
                        "seenAt": timestamp(p.seen_at),
                        "properties": p.properties,
                        "failed": p.failed,
                    })
                })
                .collect(),
        );
    }
    value
}

/// `der` as a PEM certificate block, 64 base64 characters a line
/// (`x509CertificateData` is "the PEM-encoded data of the certificate").
fn certificate_pem(der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut pem = String::with_capacity(encoded.len() + encoded.len() / 64 + 60);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;
    use mayfly_federation::x509::KeyKind;

    fn leaf(serial: &[u8], subject_dn: &str) -> Certificate {
        Certificate {
            der: vec![0x30, 0x03, 0x02, 0x01, serial.first().copied().unwrap_or(0)],
            serial: serial.to_vec(),
            subject_dn: subject_dn.to_owned(),
            issuer_dn: "C=US, O=Example, CN=Example Issuing CA".to_owned(),
            subject: Vec::new(),
            issuer: Vec::new(),
            san_dns: None,
            san_uri: None,
            san_directory_name: Vec::new(),
            key_kind: KeyKind::EcP256,
            public_key: Vec::new(),
            is_ca: false,
            digital_signature: Some(true),
            not_before: std::time::UNIX_EPOCH,
            not_after: std::time::UNIX_EPOCH,
        }
    }

    fn sighting<'a>(
        leaf: &'a Certificate,
        properties: Option<&'a BTreeMap<String, String>>,
        failed: bool,
        now: u64,
    ) -> Sighting<'a> {
        Sighting {
            account_id: "111122223333",
            region: "us-east-1",
            leaf,
            instance_properties: properties,
            failed,
            now,
        }
    }

    const DN: &str = "C=US, O=Example, OU=Dev, CN=workload-ec";

    #[test]
    fn a_new_subject_records_the_certificate_and_its_times() {
        let cert = leaf(&[0x0b, 0xad, 0xc0, 0xff, 0xee], DN);
        let s = merged(None, &sighting(&cert, None, false, 1_000));
        assert_eq!(s.id, subject_id("111122223333", DN));
        assert_eq!(
            s.arn(),
            format!(
                "arn:aws:rolesanywhere:us-east-1:111122223333:subject/{}",
                s.id
            )
        );
        assert_eq!(s.x509_subject, DN);
        assert!(s.enabled);
        assert_eq!(
            (s.created_at, s.updated_at, s.last_seen_at),
            (1_000, 1_000, 1_000)
        );
        assert_eq!(s.credentials.len(), 1);
        let c = &s.credentials[0];
        assert_eq!(c.serial_number, "0badc0ffee");
        assert_eq!(c.issuer, "C=US, O=Example, CN=Example Issuing CA");
        assert!(c.enabled && !c.failed);
        assert!(s.instance_properties.is_empty());
    }

    #[test]
    fn subject_ids_differ_by_account_and_dn_and_are_uuids() {
        let a = subject_id("111122223333", DN);
        assert_eq!(a, subject_id("111122223333", DN));
        assert_ne!(a, subject_id("444455556666", DN));
        assert_ne!(a, subject_id("111122223333", "CN=other"));
        assert!(super::super::is_uuid(&a), "{a}");
    }

    #[test]
    fn one_credential_per_serial_updated_in_place_and_bounded() {
        let first = leaf(&[1], DN);
        let mut s = merged(None, &sighting(&first, None, false, 1_000));
        s = merged(Some(&s), &sighting(&first, None, true, 2_000));
        assert_eq!(s.credentials.len(), 1, "same serial, same entry");
        assert!(s.credentials[0].failed);
        assert_eq!(s.credentials[0].seen_at, 2_000);
        assert_eq!((s.created_at, s.last_seen_at), (1_000, 2_000));
        for serial in 2..=30u8 {
            let cert = leaf(&[serial], DN);
            s = merged(
                Some(&s),
                &sighting(&cert, None, false, 2_000 + u64::from(serial)),
            );
        }
        assert_eq!(s.credentials.len(), MAX_CREDENTIALS);
        assert_eq!(s.credentials[0].serial_number, "1e", "the newest first");
        assert_eq!(s.credentials[MAX_CREDENTIALS - 1].serial_number, "15");
    }

    #[test]
    fn instance_properties_one_entry_per_set_and_bounded() {
        let cert = leaf(&[1], DN);
        let props = |n: u32| BTreeMap::from([("host".to_owned(), format!("h{n}"))]);
        let one = props(1);
        let mut s = merged(None, &sighting(&cert, Some(&one), false, 1_000));
        s = merged(Some(&s), &sighting(&cert, Some(&one), false, 5_000));
        assert_eq!(s.instance_properties.len(), 1);
        assert_eq!(s.instance_properties[0].seen_at, 5_000);
        s = merged(Some(&s), &sighting(&cert, None, false, 6_000));
        assert_eq!(s.instance_properties.len(), 1, "no properties, no entry");
        for n in 2..=25 {
            let p = props(n);
            s = merged(
                Some(&s),
                &sighting(&cert, Some(&p), true, 6_000 + u64::from(n)),
            );
        }
        assert_eq!(s.instance_properties.len(), MAX_INSTANCE_PROPERTIES);
        assert_eq!(s.instance_properties[0].properties, props(25));
        assert!(s.instance_properties[0].failed);
    }

    #[test]
    fn within_the_interval_only_a_new_subject_or_serial_is_written() {
        let cert = leaf(&[1], DN);
        let one = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
        let two = BTreeMap::from([("k".to_owned(), "w".to_owned())]);
        assert!(writes_now(None, &sighting(&cert, None, false, 100_000)));
        let s = merged(None, &sighting(&cert, Some(&one), false, 100_000));
        for (properties, failed) in [(None, false), (Some(&two), false), (Some(&one), true)] {
            assert!(
                !writes_now(Some(&s), &sighting(&cert, properties, failed, 159_999)),
                "{properties:?} {failed}: waits for the interval"
            );
        }
        let other = leaf(&[2], DN);
        assert!(
            writes_now(Some(&s), &sighting(&other, None, false, 100_001)),
            "a new serial is written at once"
        );
        assert!(
            writes_now(Some(&s), &sighting(&cert, None, false, 160_000)),
            "a minute after the last write anything is written"
        );
        assert!(
            !writes_now(Some(&s), &sighting(&cert, None, true, 99_000)),
            "a clock behind the last write waits"
        );
    }

    #[test]
    fn detail_has_aws_field_names_and_pem() {
        let cert = leaf(&[0x0b, 0xad], DN);
        let props = BTreeMap::from([("region".to_owned(), "edge-1".to_owned())]);
        let s = merged(
            None,
            &sighting(&cert, Some(&props), false, 1_705_320_000_123),
        );
        let v = detail_json(&s);
        assert_eq!(v["subjectId"], s.id.as_str());
        assert_eq!(v["x509Subject"], DN);
        assert_eq!(v["enabled"], true);
        assert_eq!(v["lastSeenAt"], "2024-01-15T12:00:00.123Z");
        assert_eq!(v["createdAt"], "2024-01-15T12:00:00.123Z");
        assert_eq!(v["credentials"][0]["serialNumber"], "0bad");
        assert_eq!(v["credentials"][0]["failed"], false);
        assert_eq!(v["credentials"][0]["enabled"], true);
        assert_eq!(
            v["credentials"][0]["x509CertificateData"],
            "-----BEGIN CERTIFICATE-----\nMAMCAQs=\n-----END CERTIFICATE-----\n"
        );
        assert_eq!(
            v["instanceProperties"][0],
            json!({"seenAt": "2024-01-15T12:00:00.123Z", "properties": {"region": "edge-1"}, "failed": false})
        );
        let summary = summary_json(&s);
        assert!(summary.get("credentials").is_none());
        assert_eq!(summary["subjectArn"], s.arn().as_str());
    }

    #[test]
    fn pem_lines_are_64_characters() {
        // 100 bytes: 136 base64 characters, lines of 64, 64 and 8.
        let pem = certificate_pem(&[7u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(
            (lines[1].len(), lines[2].len(), lines[3].len()),
            (64, 64, 8)
        );
        assert_eq!(lines[4], "-----END CERTIFICATE-----");
        assert_eq!(
            STANDARD.decode(lines[1..4].concat()).unwrap(),
            vec![7u8; 100]
        );
    }
}
