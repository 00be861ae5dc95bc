//! Virtual MFA devices end to end (iam-admin-api.md 10, sts-api.md 8):
//! aws-sdk-iam creates and enables a device, aws-sdk-sts signs in with it
//! through GetSessionToken, and the MFA session passes IAM's and a
//! policy's MFA checks. The server's clock is real here: codes come from
//! `mayfly_testkit::totp` (written apart from the server's TOTP) for the
//! seed the SDK returned, and each test waits, at most two seconds, until
//! the current 30-second step has time left before it uses a code.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use aws_sdk_iam::types::AssignmentStatusType;
use mayfly_e2e::{ACCOUNT, Server, error_code, error_message, session_credentials};
use mayfly_testkit::totp;

/// The current time step, once at least `left` of it remains (sleeping
/// into the next step otherwise), so codes computed now stay valid for the
/// calls that follow.
async fn step_with_time_left(left: Duration) -> u64 {
    loop {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let step = Duration::from_secs(totp::STEP_SECONDS);
        let remaining = step - Duration::from_nanos((now.as_nanos() % step.as_nanos()) as u64);
        if remaining >= left {
            return now.as_secs() / totp::STEP_SECONDS;
        }
        tokio::time::sleep(remaining + Duration::from_millis(50)).await;
    }
}

/// A policy allowing `actions` on everything, only with MFA.
fn mfa_only(actions: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*","Condition":{{"Bool":{{"aws:MultiFactorAuthPresent":"true"}}}}}}]}}"#
    )
}

#[tokio::test]
async fn an_mfa_device_signs_in_through_get_session_token_and_a_replayed_code_is_refused()
-> Result<()> {
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let alice = server
        .user_with_key(
            "alice",
            Some(&mfa_only(r#"["iam:ListUsers","iam:GetUser"]"#)),
        )
        .await?;

    // Create: the seed comes back once, as base32 text (the SDK decodes the blob).
    let created = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("alice-phone")
        .send()
        .await?;
    let device = created.virtual_mfa_device().context("no device")?;
    let serial = device.serial_number().to_owned();
    assert_eq!(serial, format!("arn:aws:iam::{ACCOUNT}:mfa/alice-phone"));
    let base32 = String::from_utf8(
        device
            .base32_string_seed()
            .context("no seed")?
            .as_ref()
            .to_vec(),
    )?;
    assert_eq!(base32.len(), 64, "{base32}");
    let png = device.qr_code_png().context("no QR code")?;
    assert!(png.as_ref().starts_with(b"\x89PNG\r\n\x1a\n"));
    let seed = totp::base32_decode(&base32).context("seed is not base32")?;
    let code = |step: u64| totp::code(&seed, step);

    // Enable with two consecutive codes, the previous and the current one.
    let step = step_with_time_left(Duration::from_secs(2)).await;
    iam.enable_mfa_device()
        .user_name("alice")
        .serial_number(&serial)
        .authentication_code1(code(step - 1))
        .authentication_code2(code(step))
        .send()
        .await?;
    let listed = iam.list_mfa_devices().user_name("alice").send().await?;
    let devices: Vec<&str> = listed
        .mfa_devices()
        .iter()
        .map(|d| d.serial_number())
        .collect();
    assert_eq!(devices, [serial.as_str()]);
    let assigned = iam
        .list_virtual_mfa_devices()
        .assignment_status(AssignmentStatusType::Assigned)
        .send()
        .await?;
    let entry = &assigned.virtual_mfa_devices()[0];
    assert_eq!(entry.serial_number(), serial);
    assert_eq!(entry.user().map(|u| u.user_name()), Some("alice"));
    assert!(entry.base32_string_seed().is_none());

    // Sign in with the next code (the enabling codes are used up).
    let token_code = code(step + 1);
    let out = server
        .sts(alice.clone())
        .get_session_token()
        .serial_number(&serial)
        .token_code(&token_code)
        .send()
        .await?;
    let mfa_session = session_credentials(out.credentials().context("no credentials")?);

    // The MFA session may call IAM, and the MFA-only policy allows it.
    let me = server.iam(mfa_session.clone()).get_user().send().await?;
    assert_eq!(me.user().map(|u| u.user_name()), Some("alice"));
    server.iam(mfa_session).list_users().send().await?;
    // The long-term key is refused by the policy's MFA condition; a
    // session without MFA may not call IAM at all.
    let err = server
        .iam(alice.clone())
        .list_users()
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("AccessDenied"));
    let plain = server.sts(alice.clone()).get_session_token().send().await?;
    let plain = session_credentials(plain.credentials().context("no credentials")?);
    let err = server.iam(plain).list_users().send().await.unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("InvalidClientTokenId"));

    // The same code again is refused.
    let err = server
        .sts(alice)
        .get_session_token()
        .serial_number(&serial)
        .token_code(&token_code)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("AccessDenied"));
    assert_eq!(
        error_message(&err).as_deref(),
        Some("MultiFactorAuthentication failed with invalid MFA one time pass code.")
    );
    Ok(())
}

#[tokio::test]
async fn a_device_of_another_user_is_refused_and_an_assigned_device_cannot_be_deleted() -> Result<()>
{
    let server = Server::start()?;
    let iam = server.iam(server.root());
    let alice = server.user_with_key("alice", None).await?;
    server.user_with_key("bob", None).await?;
    let created = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("bob-phone")
        .send()
        .await?;
    let device = created.virtual_mfa_device().context("no device")?;
    let serial = device.serial_number().to_owned();
    let base32 = String::from_utf8(
        device
            .base32_string_seed()
            .context("no seed")?
            .as_ref()
            .to_vec(),
    )?;
    let seed = totp::base32_decode(&base32).context("seed is not base32")?;
    let step = step_with_time_left(Duration::from_secs(2)).await;
    iam.enable_mfa_device()
        .user_name("bob")
        .serial_number(&serial)
        .authentication_code1(totp::code(&seed, step - 1))
        .authentication_code2(totp::code(&seed, step))
        .send()
        .await?;

    // Alice presents Bob's device with a valid code.
    let err = server
        .sts(alice)
        .get_session_token()
        .serial_number(&serial)
        .token_code(totp::code(&seed, step + 1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("AccessDenied"));
    assert!(
        error_message(&err)
            .unwrap_or_default()
            .contains("associated with this user"),
        "{err:?}"
    );

    // Assigned: neither the device nor Bob can be deleted.
    let err = iam
        .delete_virtual_mfa_device()
        .serial_number(&serial)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("DeleteConflict"));
    let keys = iam.list_access_keys().user_name("bob").send().await?;
    for key in keys.access_key_metadata() {
        iam.delete_access_key()
            .user_name("bob")
            .access_key_id(key.access_key_id().unwrap_or_default())
            .send()
            .await?;
    }
    let err = iam.delete_user().user_name("bob").send().await.unwrap_err();
    assert_eq!(error_code(&err).as_deref(), Some("DeleteConflict"));

    iam.deactivate_mfa_device()
        .user_name("bob")
        .serial_number(&serial)
        .send()
        .await?;
    iam.delete_virtual_mfa_device()
        .serial_number(&serial)
        .send()
        .await?;
    iam.delete_user().user_name("bob").send().await?;
    Ok(())
}
