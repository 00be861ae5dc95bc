//! Virtual MFA devices (iam-admin-api.md 10): CreateVirtualMFADevice,
//! EnableMFADevice, ResyncMFADevice, DeactivateMFADevice,
//! DeleteVirtualMFADevice, ListMFADevices, ListVirtualMFADevices,
//! GetMFADevice, and the device tags (1.3, keys case-sensitive).
//!
//! The seed is generated here (40 random bytes, 64 base32 characters),
//! returned by CreateVirtualMFADevice only, and stored sealed under the
//! master key (`crate::mfa`). Actions on a device's use name the user
//! (`iam:EnableMFADevice`, `ResyncMFADevice`, `DeactivateMFADevice`,
//! `ListMFADevices`, `GetMFADevice` are authorized on the user's ARN); the
//! device's own lifecycle (`CreateVirtualMFADevice`,
//! `DeleteVirtualMFADevice`, tags) on the device's ARN, its serial number.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mayfly_store::{Entity, MfaAssignment, MfaDevice, Mutation, Snapshot, Tag, User};
use mayfly_token::totp::{self, TotpSeed};
use mayfly_wire::{AwsError, IAM_NAMESPACE, Pattern, QueryParams, ValidationErrors, XmlWriter};

use super::common::{self, Owner};
use super::mfa_qr;
use super::policies::{self, Target, encoding_failed, required};
use super::users::write_user;
use crate::clock::from_unix;
use crate::mfa;
use crate::{ActionContext, ActionResult};

/// MFA devices in use per user (iam-admin-api.md 14).
const MAX_DEVICES_PER_USER: usize = 8;

/// Why a device action failed; the one place these become AWS errors
/// (iam-admin-api.md 10; the messages are AWS's where known, \[choice\]
/// otherwise).
#[derive(Debug)]
enum DeviceError {
    /// No device with this serial number in the caller's account.
    NoSuchDevice { serial_number: String },
    /// CreateVirtualMFADevice: a device with this path and name exists.
    AlreadyExists,
    /// EnableMFADevice: the device is already assigned (to anyone).
    InUse,
    /// The device is not assigned to the user the request names.
    NotAssignedToUser,
    /// EnableMFADevice: the user already has the maximum of devices.
    TooManyForUser,
    /// Enable/Resync: the codes are not two consecutive codes of the device
    /// now, or were already used.
    InvalidCodes,
    /// DeleteVirtualMFADevice: still assigned.
    StillAssigned,
}

impl From<DeviceError> for AwsError {
    fn from(error: DeviceError) -> Self {
        match error {
            DeviceError::NoSuchDevice { serial_number } => common::no_such_entity(format!(
                "VirtualMFADevice with serial number {} doesn't exist.",
                crate::truncate(&serial_number, 256)
            )),
            DeviceError::AlreadyExists => {
                common::already_exists("MFADevice entity at the same path and name already exists.")
            }
            DeviceError::InUse => common::already_exists("MFA Device is already in use."),
            DeviceError::NotAssignedToUser => {
                common::no_such_entity("MFA Device invalid for user.")
            }
            DeviceError::TooManyForUser => common::limit_exceeded(format!(
                "Cannot exceed quota for MFADevicesPerUser: {MAX_DEVICES_PER_USER}"
            )),
            DeviceError::InvalidCodes => AwsError::invalid_authentication_code(
                "Authentication code for device is not valid.",
            ),
            DeviceError::StillAssigned => {
                common::delete_conflict("MFA VirtualDevice in use. Must deactivate first.")
            }
        }
    }
}

impl Target for MfaDevice {
    const TYPE: &'static str = "mfa";
    const ID_MEMBER: &'static str = "SerialNumber";
    const CASE_INSENSITIVE_TAGS: bool = false;

    fn read_id(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
        read_serial_number(params, v)
    }

    fn find<'s>(snapshot: &'s Snapshot, account_id: &str, id: &str) -> Option<&'s Self> {
        find_device(snapshot, account_id, id)
    }

    fn target_arn(&self) -> String {
        self.serial_number()
    }

    fn missing_arn(_account_id: &str, id: &str) -> String {
        id.to_owned()
    }

    fn not_found(id: &str) -> AwsError {
        DeviceError::NoSuchDevice {
            serial_number: id.to_owned(),
        }
        .into()
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }

    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        &mut self.tags
    }
}

/// The device `serial_number` names in `account_id`.
fn find_device<'s>(
    snapshot: &'s Snapshot,
    account_id: &str,
    serial_number: &str,
) -> Option<&'s MfaDevice> {
    snapshot
        .mfa_device(serial_number)
        .filter(|d| d.account_id == account_id)
}

fn device_or_error<'s>(
    snapshot: &'s Snapshot,
    account_id: &str,
    serial_number: &str,
) -> Result<&'s MfaDevice, AwsError> {
    find_device(snapshot, account_id, serial_number).ok_or_else(|| {
        DeviceError::NoSuchDevice {
            serial_number: serial_number.to_owned(),
        }
        .into()
    })
}

/// The required `SerialNumber` (`serialNumberType`: 9–256, `[\w+=/:,.@-]+`).
fn read_serial_number(params: &mut QueryParams, v: &mut ValidationErrors) -> Option<String> {
    let serial = v.required("SerialNumber", params.string("SerialNumber"));
    if let Some(s) = &serial {
        v.length("SerialNumber", s, 9, 256);
        v.pattern("SerialNumber", s, Pattern::IamSerialNumber);
    }
    serial
}

/// `AuthenticationCode1` and `AuthenticationCode2`: required, exactly 6
/// digits, never echoed in messages.
fn read_codes(params: &mut QueryParams, v: &mut ValidationErrors) -> [Option<String>; 2] {
    ["AuthenticationCode1", "AuthenticationCode2"].map(|member| {
        let code = v.required(member, params.string(member));
        if let Some(c) = &code {
            v.sensitive_length(member, c, 6, 6);
            v.sensitive_pattern(member, c, Pattern::AuthenticationCode);
        }
        code
    })
}

/// Check two consecutive codes of `device` within `radius` steps of now,
/// and use them up (a code used once is never accepted again, for sign-in
/// either). Returns the step of the second code.
async fn check_and_use_codes(
    ctx: &ActionContext<'_>,
    device: &MfaDevice,
    codes: &[String; 2],
    now: u64,
    radius: u64,
) -> Result<u64, AwsError> {
    let seed = mfa::open_seed(ctx.core, device)?;
    let step = seed
        .find_consecutive(&codes[0], &codes[1], now, radius)
        .ok_or(DeviceError::InvalidCodes)?;
    for used in [step.saturating_sub(1), step] {
        if !mfa::first_use(ctx.core, device, used, now).await? {
            return Err(DeviceError::InvalidCodes.into());
        }
    }
    Ok(step)
}

/// CreateVirtualMFADevice: a new, unassigned device with a fresh seed,
/// answered with the seed as base32 text and as a QR code PNG (both
/// base64-encoded blobs on the wire); neither is ever returned again.
pub(crate) async fn create_virtual_mfa_device(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let name = common::read_name(params, &mut v, "VirtualMFADeviceName", 226);
    let path = common::read_path(params, &mut v, "Path");
    let tags = common::read_tags(params, &mut v, false)?.unwrap_or_default();
    params.finish_unknown()?;
    v.into_result()?;
    let name = required(name)?;
    let account_id = common::account_id(ctx)?;
    let serial_number = MfaDevice::serial_number_for(&account_id, &path, &name);
    policies::authorize(ctx, "CreateVirtualMFADevice", &serial_number, &[], |rc| {
        policies::request_tag_keys(rc, &tags)
    })?;
    let seed = TotpSeed::generate(&ctx.core.rng).map_err(|_| AwsError::internal())?;
    let base32 = seed.to_base32();
    let qr_code = mfa_qr::qr_code_png(&mfa_qr::otpauth_uri(&name, &account_id, &base32));
    let device = MfaDevice {
        account_id: account_id.clone(),
        name,
        path,
        seed_sealed: mfa::seal_seed(ctx.core, &serial_number, &seed)?,
        created_at: common::now(ctx),
        assignment: None,
        drift_steps: 0,
        tags,
    };
    let key = device.key();
    let device = ctx
        .core
        .commit(|view| {
            if view
                .snapshot
                .mfa_devices_in(&account_id)
                .any(|d| d.key() == key)
            {
                return Err(DeviceError::AlreadyExists.into());
            }
            Ok((
                vec![Mutation::insert(&device).map_err(encoding_failed)?],
                device,
            ))
        })
        .await?;
    let mut w = XmlWriter::response("CreateVirtualMFADevice", IAM_NAMESPACE);
    w.start("VirtualMFADevice");
    w.text("SerialNumber", &serial_number);
    w.text("Base32StringSeed", &STANDARD.encode(base32.as_bytes()));
    if let Some(png) = &qr_code {
        w.text("QRCodePNG", &STANDARD.encode(png));
    }
    if !device.tags.is_empty() {
        common::write_tags(&mut w, &device.tags);
    }
    w.end("VirtualMFADevice");
    Ok(w.finish(ctx.request_id))
}

/// EnableMFADevice: assign an unassigned device to a user with two
/// consecutive codes of the previous, current or next step; at most 8
/// devices per user.
pub(crate) async fn enable_mfa_device(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let user_name = User::read_id(params, &mut v);
    let serial_number = read_serial_number(params, &mut v);
    let [code1, code2] = read_codes(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let (user_name, serial_number) = (required(user_name)?, required(serial_number)?);
    let codes = [required(code1)?, required(code2)?];
    let user = policies::load::<User>(ctx, "EnableMFADevice", &user_name, |_| {})?;
    let account_id = user.account_id.clone();
    let check = |snapshot: &Snapshot| -> Result<MfaDevice, AwsError> {
        if snapshot.user(&account_id, &user.name).is_none() {
            return Err(User::not_found(&user.name));
        }
        let device = device_or_error(snapshot, &account_id, &serial_number)?;
        if device.assignment.is_some() {
            return Err(DeviceError::InUse.into());
        }
        if snapshot
            .mfa_devices_of(&account_id, Some(&user.name))
            .count()
            >= MAX_DEVICES_PER_USER
        {
            return Err(DeviceError::TooManyForUser.into());
        }
        Ok(device.clone())
    };
    let device = check(&ctx.view.snapshot)?;
    let now = common::now(ctx);
    check_and_use_codes(ctx, &device, &codes, now, totp::ACCEPTED_STEPS_AROUND).await?;
    ctx.core
        .commit(|view| {
            let mut device = check(&view.snapshot)?;
            device.assignment = Some(MfaAssignment {
                user_name: Some(user.name.clone()),
                enabled_at: now,
            });
            device.drift_steps = 0;
            Ok((
                vec![Mutation::update(&device).map_err(encoding_failed)?],
                (),
            ))
        })
        .await?;
    policies::no_output(ctx, "EnableMFADevice")
}

/// ResyncMFADevice: two consecutive codes found within 10 steps (five
/// minutes) either side of now set how far the device's clock is off;
/// sign-in then expects codes around the device's step.
pub(crate) async fn resync_mfa_device(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let user_name = User::read_id(params, &mut v);
    let serial_number = read_serial_number(params, &mut v);
    let [code1, code2] = read_codes(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let (user_name, serial_number) = (required(user_name)?, required(serial_number)?);
    let codes = [required(code1)?, required(code2)?];
    let user = policies::load::<User>(ctx, "ResyncMFADevice", &user_name, |_| {})?;
    let owner = Owner {
        account_id: user.account_id.clone(),
        user_name: Some(user.name.clone()),
    };
    let check = |snapshot: &Snapshot| -> Result<MfaDevice, AwsError> {
        let device = device_or_error(snapshot, &owner.account_id, &serial_number)?;
        if !mfa::is_held_by(device, &owner) {
            return Err(DeviceError::NotAssignedToUser.into());
        }
        Ok(device.clone())
    };
    let device = check(&ctx.view.snapshot)?;
    let now = common::now(ctx);
    let radius = totp::MAX_DRIFT_STEPS.unsigned_abs();
    let step = check_and_use_codes(ctx, &device, &codes, now, radius).await?;
    let drift = i64::try_from(step)
        .ok()
        .zip(i64::try_from(totp::step_at(now)).ok())
        .map_or(0, |(device_step, server_step)| device_step - server_step);
    ctx.core
        .commit(|view| {
            let mut device = check(&view.snapshot)?;
            device.drift_steps = drift;
            Ok((
                vec![Mutation::update(&device).map_err(encoding_failed)?],
                (),
            ))
        })
        .await?;
    policies::no_output(ctx, "ResyncMFADevice")
}

/// DeactivateMFADevice: unassign a device from the user (`UserName`
/// omitted: the caller); the device stays, unassigned, until deleted.
pub(crate) async fn deactivate_mfa_device(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let user_name = common::read_optional_user_name(params, &mut v);
    let serial_number = read_serial_number(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let serial_number = required(serial_number)?;
    let owner = common::owner(ctx, "DeactivateMFADevice", user_name)?;
    ctx.core
        .commit(|view| {
            let device = device_or_error(&view.snapshot, &owner.account_id, &serial_number)?;
            if !mfa::is_held_by(device, &owner) {
                return Err(DeviceError::NotAssignedToUser.into());
            }
            let mut device = device.clone();
            device.assignment = None;
            device.drift_steps = 0;
            Ok((
                vec![Mutation::update(&device).map_err(encoding_failed)?],
                (),
            ))
        })
        .await?;
    policies::no_output(ctx, "DeactivateMFADevice")
}

/// DeleteVirtualMFADevice: refused with `DeleteConflict` while assigned.
pub(crate) async fn delete_virtual_mfa_device(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let serial_number = read_serial_number(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let serial_number = required(serial_number)?;
    policies::load::<MfaDevice>(ctx, "DeleteVirtualMFADevice", &serial_number, |_| {})?;
    policies::remove::<MfaDevice>(ctx, &serial_number, |_, device| {
        if device.assignment.is_some() {
            return Err(DeviceError::StillAssigned.into());
        }
        Ok(())
    })
    .await?;
    policies::no_output(ctx, "DeleteVirtualMFADevice")
}

/// ListMFADevices: the devices assigned to a user (`UserName` omitted: the
/// caller), by path and name.
pub(crate) fn list_mfa_devices(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let user_name = common::read_optional_user_name(params, &mut v);
    let page = common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let owner = common::owner(ctx, "ListMFADevices", user_name)?;
    let mut items: Vec<(String, MfaDevice)> = ctx
        .view
        .snapshot
        .mfa_devices_of(&owner.account_id, owner.user_name.as_deref())
        .map(|d| (d.key(), d.clone()))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let (devices, next) = common::paginate(items, &page)?;
    let mut w = XmlWriter::response("ListMFADevices", IAM_NAMESPACE);
    policies::write_members(&mut w, "MFADevices", &devices, |w, device| {
        w.start("member");
        write_assignment(w, device);
        w.end("member");
    });
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}

/// `UserName` (for a user's device), `SerialNumber`, `EnableDate`.
fn write_assignment(w: &mut XmlWriter, device: &MfaDevice) {
    let assignment = device.assignment.as_ref();
    w.text_opt("UserName", assignment.and_then(|a| a.user_name.as_deref()));
    w.text("SerialNumber", &device.serial_number());
    w.timestamp_opt("EnableDate", assignment.map(|a| from_unix(a.enabled_at)));
}

/// ListVirtualMFADevices: every device of the account, filtered by
/// `AssignmentStatus` (`Assigned`, `Unassigned`, `Any`, default `Any`);
/// never a seed. Authorized on `*` (the action has no resource type).
pub(crate) fn list_virtual_mfa_devices(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let status = policies::read_enum(
        params,
        &mut v,
        "AssignmentStatus",
        &["Assigned", "Unassigned", "Any"],
    );
    let page = common::read_page(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let account_id = common::account_id(ctx)?;
    common::authorize(ctx, "iam:ListVirtualMFADevices", "*")?;
    let wanted = |device: &MfaDevice| match status.as_deref() {
        Some("Assigned") => device.assignment.is_some(),
        Some("Unassigned") => device.assignment.is_none(),
        _ => true,
    };
    let snapshot = &ctx.view.snapshot;
    let items: Vec<(String, MfaDevice)> = snapshot
        .mfa_devices_in(&account_id)
        .filter(|d| wanted(d))
        .map(|d| (d.key(), d.clone()))
        .collect();
    let (devices, next) = common::paginate(items, &page)?;
    let mut w = XmlWriter::response("ListVirtualMFADevices", IAM_NAMESPACE);
    policies::write_members(&mut w, "VirtualMFADevices", &devices, |w, device| {
        w.start("member");
        w.text("SerialNumber", &device.serial_number());
        if let Some(assignment) = &device.assignment {
            // Devices are assigned to users only (EnableMFADevice needs
            // `UserName`), never to the root.
            if let Some(user) = assignment
                .user_name
                .as_deref()
                .and_then(|name| snapshot.user(&device.account_id, name))
            {
                write_user(w, "User", user, false);
            }
            w.timestamp("EnableDate", from_unix(assignment.enabled_at));
        }
        if !device.tags.is_empty() {
            common::write_tags(w, &device.tags);
        }
        w.end("member");
    });
    common::write_page_end(&mut w, next.as_deref());
    Ok(w.finish(ctx.request_id))
}

/// GetMFADevice: a device assigned to the user (`UserName` omitted: the
/// caller). Virtual devices have no FIDO `Certifications`.
pub(crate) fn get_mfa_device(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    let mut v = ValidationErrors::new();
    let serial_number = read_serial_number(params, &mut v);
    let user_name = common::read_optional_user_name(params, &mut v);
    params.finish_unknown()?;
    v.into_result()?;
    let serial_number = required(serial_number)?;
    let owner = common::owner(ctx, "GetMFADevice", user_name)?;
    let device = device_or_error(&ctx.view.snapshot, &owner.account_id, &serial_number)?;
    if !mfa::is_held_by(device, &owner) {
        return Err(DeviceError::NotAssignedToUser.into());
    }
    let mut w = XmlWriter::response("GetMFADevice", IAM_NAMESPACE);
    write_assignment(&mut w, device);
    Ok(w.finish(ctx.request_id))
}

/// TagMFADevice (keys case-sensitive).
pub(crate) async fn tag_mfa_device(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::tag_target::<MfaDevice>(ctx, params, "TagMFADevice").await
}

/// UntagMFADevice.
pub(crate) async fn untag_mfa_device(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::untag_target::<MfaDevice>(ctx, params, "UntagMFADevice").await
}

/// ListMFADeviceTags.
pub(crate) fn list_mfa_device_tags(
    ctx: &mut ActionContext<'_>,
    params: &mut QueryParams,
) -> ActionResult {
    policies::list_target_tags::<MfaDevice>(ctx, params, "ListMFADeviceTags")
}
