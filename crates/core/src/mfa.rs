//! Virtual MFA devices as STS and IAM both use them: the seed sealed under
//! the master key, used codes remembered across nodes, and the sign-in
//! check of GetSessionToken and AssumeRole (sts-api.md 8).
//!
//! Seeds and codes never reach a log, an error message or an audit event:
//! failures are logged with the device's serial number and the reason only.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use mayfly_store::MfaDevice;
use mayfly_token::totp::{self, TotpSeed};
use mayfly_wire::AwsError;

use crate::auth::Caller;
use crate::iam::common::Owner;
use crate::{ActionContext, Core};

/// The `Store::record_first_use` scope of used TOTP steps.
const USED_CODE_SCOPE: &str = "mfa";

/// The label binding a sealed seed to its device's serial number.
pub(crate) fn seed_label(serial_number: &str) -> String {
    format!("mayfly/mfa-seed/{serial_number}")
}

/// Seal a seed's base32 text for the device `serial_number`.
pub(crate) fn seal_seed(
    core: &Core,
    serial_number: &str,
    seed: &TotpSeed,
) -> Result<Vec<u8>, AwsError> {
    core.master_key
        .seal(
            seed.to_base32().as_bytes(),
            &seed_label(serial_number),
            &core.rng,
        )
        .map_err(|error| {
            tracing::error!(%error, serial_number, "sealing an MFA seed failed");
            AwsError::internal()
        })
}

/// Open the seed of `device`. A seed that does not open (another master
/// key, a damaged row) is an internal failure, logged without the seed.
pub(crate) fn open_seed(core: &Core, device: &MfaDevice) -> Result<TotpSeed, AwsError> {
    let serial_number = device.serial_number();
    let text = core
        .master_key
        .open(&device.seed_sealed, &seed_label(&serial_number))
        .map_err(|error| {
            tracing::error!(%error, %serial_number, "a stored MFA seed does not open under the master key");
            AwsError::internal()
        })?;
    let text = std::str::from_utf8(&text).map_err(|_| {
        tracing::error!(%serial_number, "a stored MFA seed is not text");
        AwsError::internal()
    })?;
    TotpSeed::from_base32(text).map_err(|error| {
        tracing::error!(%error, %serial_number, "a stored MFA seed is not base32");
        AwsError::internal()
    })
}

/// Remember that the code of `step` of `device` was used at `now`;
/// `false` when it was used before (a replay). Shared by every node through
/// the store, and kept until no window could accept it again. The id names
/// the device's creation time too, so a device re-created under the same
/// name starts with no used codes.
pub(crate) async fn first_use(
    core: &Core,
    device: &MfaDevice,
    step: u64,
    now: u64,
) -> Result<bool, AwsError> {
    let id = format!("{}#{}#{step}", device.serial_number(), device.created_at);
    core.store
        .record_first_use(USED_CODE_SCOPE, &id, totp::replay_horizon(now), now)
        .await
        .map_err(|error| {
            tracing::error!(%error, "recording an MFA code's use failed");
            AwsError::service_failure()
        })
}

/// Whether `device` is assigned to `owner`, a user compared
/// case-insensitively. A root owner holds no device: EnableMFADevice
/// assigns devices to users only.
pub(crate) fn is_held_by(device: &MfaDevice, owner: &Owner) -> bool {
    device
        .assignment
        .as_ref()
        .is_some_and(|a| owner.is(&device.account_id, a.user_name.as_deref()))
}

/// Wrong codes a device may take within [`WRONG_CODE_WINDOW_SECONDS`] of the
/// first; after that its sign-ins are refused, right codes included, until
/// the window ends. (An attempt counts from the moment it is admitted, so
/// a right code sent while wrong ones are being checked may be refused.) One guess matches with a chance of 3 in a million
/// (three steps are accepted), so a thief holding a user's key, without
/// the device, gets about 1,440 guesses a day per node instead of as many
/// as the server can answer.
pub(crate) const MAX_WRONG_CODES: u32 = 5;
/// See [`MAX_WRONG_CODES`].
pub(crate) const WRONG_CODE_WINDOW_SECONDS: u64 = 300;
/// Devices tracked before windows that ended are dropped.
const TRACKED_DEVICES: usize = 10_000;

/// This node's count of recent wrong codes per device (by serial number
/// and creation time). Kept in memory: each node limits the guesses it
/// answers, and a restart forgets (SECURITY.md).
#[derive(Debug, Default)]
pub(crate) struct WrongCodes {
    /// The window's start and the wrong codes in it.
    by_device: Mutex<HashMap<String, (u64, u32)>>,
}

impl WrongCodes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, u32)>> {
        self.by_device
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Admit one attempt at `device` at `now`: `false` when the window
    /// open at `now` already holds [`MAX_WRONG_CODES`] attempts. Each
    /// attempt is counted as wrong here, under the same lock as the check,
    /// so that guesses sent together cannot all pass before any is
    /// counted; a right code then clears the count ([`WrongCodes::clear`]).
    fn admit(&self, device: &str, now: u64) -> bool {
        let mut by_device = self.lock();
        if by_device.len() >= TRACKED_DEVICES {
            by_device
                .retain(|_, &mut (start, _)| now < start.saturating_add(WRONG_CODE_WINDOW_SECONDS));
        }
        let entry = by_device.entry(device.to_owned()).or_insert((now, 0));
        if now >= entry.0.saturating_add(WRONG_CODE_WINDOW_SECONDS) {
            *entry = (now, 0);
        }
        if entry.1 >= MAX_WRONG_CODES {
            return false;
        }
        entry.1 = entry.1.saturating_add(1);
        true
    }

    /// A right code: the count starts over.
    fn clear(&self, device: &str) {
        self.lock().remove(device);
    }
}

/// Why an MFA sign-in was refused; the one place these become AWS errors
/// (sts-api.md 8: 403 `AccessDenied` with AWS's two messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignInRefusal {
    /// The caller is not an IAM user (or its session), or no device with
    /// this serial number is assigned to it.
    NotAssociated,
    /// The code is not the device's code for any step of the window.
    WrongCode,
    /// The code was right but already used for this device.
    Replayed,
    /// The device took [`MAX_WRONG_CODES`] wrong codes in the current window.
    TooManyWrongCodes,
}

impl SignInRefusal {
    fn reason(self) -> &'static str {
        match self {
            SignInRefusal::NotAssociated => "no such device is assigned to the caller",
            SignInRefusal::WrongCode => "the code matches no step of the window",
            SignInRefusal::Replayed => "the code was already used",
            SignInRefusal::TooManyWrongCodes => "too many wrong codes for the device",
        }
    }
}

impl From<SignInRefusal> for AwsError {
    fn from(refusal: SignInRefusal) -> Self {
        match refusal {
            SignInRefusal::NotAssociated => AwsError::access_denied(
                "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user.",
            ),
            SignInRefusal::WrongCode
            | SignInRefusal::Replayed
            | SignInRefusal::TooManyWrongCodes => AwsError::access_denied(
                "MultiFactorAuthentication failed with invalid MFA one time pass code.",
            ),
        }
    }
}

/// The MFA check of GetSessionToken and AssumeRole: `serial_number` must
/// be a device assigned to the caller (an IAM user or its GetSessionToken
/// session; no device is ever assigned to the root, which is refused as not
/// associated), `code` its code for the previous, current or next step
/// (shifted by the device's drift), not used before. Returns the time MFA
/// was authenticated (now, unix seconds).
pub(crate) async fn verify_sign_in(
    ctx: &ActionContext<'_>,
    caller: &Caller,
    serial_number: &str,
    code: &str,
) -> Result<u64, AwsError> {
    let now = ctx.core.clock.unix_now();
    let refused = |refusal: SignInRefusal| {
        tracing::info!(
            serial_number = %crate::truncate(serial_number, 256),
            caller = %caller.arn,
            reason = refusal.reason(),
            "MFA sign-in refused"
        );
        AwsError::from(refusal)
    };
    let device = caller.user_name().and_then(|user_name| {
        let owner = Owner {
            account_id: caller.account_id.clone(),
            user_name: Some(user_name.to_owned()),
        };
        ctx.view
            .snapshot
            .mfa_device(serial_number)
            .filter(|d| is_held_by(d, &owner))
    });
    let Some(device) = device else {
        return Err(refused(SignInRefusal::NotAssociated));
    };
    let tracked = format!("{}#{}", device.serial_number(), device.created_at);
    let wrong_codes = &ctx.core.mfa_wrong_codes;
    if !wrong_codes.admit(&tracked, now) {
        return Err(refused(SignInRefusal::TooManyWrongCodes));
    }
    let seed = open_seed(ctx.core, device)?;
    let Some(step) = seed.verify(code, now, device.drift_steps) else {
        return Err(refused(SignInRefusal::WrongCode));
    };
    if !first_use(ctx.core, device, step, now).await? {
        return Err(refused(SignInRefusal::Replayed));
    }
    // Only a sign-in starts the count over (a replay counts as wrong).
    wrong_codes.clear(&tracked);
    Ok(now)
}
