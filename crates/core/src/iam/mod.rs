//! The IAM admin actions (iam-admin-api.md): users, access keys, roles,
//! inline and managed policies, attachments, boundaries, tags, identity
//! providers and virtual MFA devices.
//!
//! Every action follows one shape: read and validate parameters, authorize
//! `iam:{Action}` on the target's ARN in the caller's account, then either
//! answer from the view (reads) or build the store mutations against the
//! freshest view under the write lock and commit them (writes).

mod access_keys;
pub(crate) mod common;
mod mfa_devices;
mod mfa_qr;
mod oidc_providers;
mod policies;
mod roles;
mod saml_providers;
mod simulate;
mod users;

use mayfly_wire::{AwsError, QueryParams};

use crate::{ActionContext, ActionResult};

/// Route an IAM action.
pub(crate) async fn dispatch(
    ctx: &mut ActionContext<'_>,
    action: &str,
    params: &mut QueryParams,
) -> ActionResult {
    common::check_iam_caller(ctx)?;
    match action {
        // Users (2)
        "CreateUser" => users::create_user(ctx, params).await,
        "GetUser" => users::get_user(ctx, params),
        "ListUsers" => users::list_users(ctx, params),
        "UpdateUser" => users::update_user(ctx, params).await,
        "DeleteUser" => users::delete_user(ctx, params).await,
        "TagUser" => users::tag_user(ctx, params).await,
        "UntagUser" => users::untag_user(ctx, params).await,
        "ListUserTags" => users::list_user_tags(ctx, params),
        "PutUserPermissionsBoundary" => users::put_user_permissions_boundary(ctx, params).await,
        "DeleteUserPermissionsBoundary" => {
            users::delete_user_permissions_boundary(ctx, params).await
        }
        "ListGroupsForUser" => users::list_groups_for_user(ctx, params),
        "PutUserPolicy" => users::put_user_policy(ctx, params).await,
        "GetUserPolicy" => users::get_user_policy(ctx, params),
        "ListUserPolicies" => users::list_user_policies(ctx, params),
        "DeleteUserPolicy" => users::delete_user_policy(ctx, params).await,
        "AttachUserPolicy" => users::attach_user_policy(ctx, params).await,
        "DetachUserPolicy" => users::detach_user_policy(ctx, params).await,
        "ListAttachedUserPolicies" => users::list_attached_user_policies(ctx, params),
        // Access keys (3)
        "CreateAccessKey" => access_keys::create_access_key(ctx, params).await,
        "ListAccessKeys" => access_keys::list_access_keys(ctx, params),
        "UpdateAccessKey" => access_keys::update_access_key(ctx, params).await,
        "DeleteAccessKey" => access_keys::delete_access_key(ctx, params).await,
        "GetAccessKeyLastUsed" => access_keys::get_access_key_last_used(ctx, params),
        // Roles (4, 5, 7)
        "CreateRole" => roles::create_role(ctx, params).await,
        "GetRole" => roles::get_role(ctx, params),
        "ListRoles" => roles::list_roles(ctx, params),
        "UpdateRole" => roles::update_role(ctx, params).await,
        "UpdateRoleDescription" => roles::update_role_description(ctx, params).await,
        "UpdateAssumeRolePolicy" => roles::update_assume_role_policy(ctx, params).await,
        "DeleteRole" => roles::delete_role(ctx, params).await,
        "TagRole" => roles::tag_role(ctx, params).await,
        "UntagRole" => roles::untag_role(ctx, params).await,
        "ListRoleTags" => roles::list_role_tags(ctx, params),
        "PutRolePermissionsBoundary" => roles::put_role_permissions_boundary(ctx, params).await,
        "DeleteRolePermissionsBoundary" => {
            roles::delete_role_permissions_boundary(ctx, params).await
        }
        "ListInstanceProfilesForRole" => roles::list_instance_profiles_for_role(ctx, params),
        "PutRolePolicy" => roles::put_role_policy(ctx, params).await,
        "GetRolePolicy" => roles::get_role_policy(ctx, params),
        "ListRolePolicies" => roles::list_role_policies(ctx, params),
        "DeleteRolePolicy" => roles::delete_role_policy(ctx, params).await,
        "AttachRolePolicy" => roles::attach_role_policy(ctx, params).await,
        "DetachRolePolicy" => roles::detach_role_policy(ctx, params).await,
        "ListAttachedRolePolicies" => roles::list_attached_role_policies(ctx, params),
        // Managed policies (6)
        "CreatePolicy" => policies::create_policy(ctx, params).await,
        "GetPolicy" => policies::get_policy(ctx, params),
        "ListPolicies" => policies::list_policies(ctx, params),
        "DeletePolicy" => policies::delete_policy(ctx, params).await,
        "CreatePolicyVersion" => policies::create_policy_version(ctx, params).await,
        "GetPolicyVersion" => policies::get_policy_version(ctx, params),
        "ListPolicyVersions" => policies::list_policy_versions(ctx, params),
        "DeletePolicyVersion" => policies::delete_policy_version(ctx, params).await,
        "SetDefaultPolicyVersion" => policies::set_default_policy_version(ctx, params).await,
        "ListEntitiesForPolicy" => policies::list_entities_for_policy(ctx, params),
        "TagPolicy" => policies::tag_policy(ctx, params).await,
        "UntagPolicy" => policies::untag_policy(ctx, params).await,
        "ListPolicyTags" => policies::list_policy_tags(ctx, params),
        "SimulateCustomPolicy" => simulate::simulate_custom_policy(ctx, params),
        "SimulatePrincipalPolicy" => simulate::simulate_principal_policy(ctx, params),
        // OIDC identity providers (8)
        "CreateOpenIDConnectProvider" => {
            oidc_providers::create_open_id_connect_provider(ctx, params).await
        }
        "GetOpenIDConnectProvider" => oidc_providers::get_open_id_connect_provider(ctx, params),
        "ListOpenIDConnectProviders" => oidc_providers::list_open_id_connect_providers(ctx, params),
        "DeleteOpenIDConnectProvider" => {
            oidc_providers::delete_open_id_connect_provider(ctx, params).await
        }
        "AddClientIDToOpenIDConnectProvider" => {
            oidc_providers::add_client_id_to_open_id_connect_provider(ctx, params).await
        }
        "RemoveClientIDFromOpenIDConnectProvider" => {
            oidc_providers::remove_client_id_from_open_id_connect_provider(ctx, params).await
        }
        "UpdateOpenIDConnectProviderThumbprint" => {
            oidc_providers::update_open_id_connect_provider_thumbprint(ctx, params).await
        }
        "TagOpenIDConnectProvider" => {
            oidc_providers::tag_open_id_connect_provider(ctx, params).await
        }
        "UntagOpenIDConnectProvider" => {
            oidc_providers::untag_open_id_connect_provider(ctx, params).await
        }
        "ListOpenIDConnectProviderTags" => {
            oidc_providers::list_open_id_connect_provider_tags(ctx, params)
        }
        // SAML providers (9)
        "CreateSAMLProvider" => saml_providers::create_saml_provider(ctx, params).await,
        "GetSAMLProvider" => saml_providers::get_saml_provider(ctx, params),
        "ListSAMLProviders" => saml_providers::list_saml_providers(ctx, params),
        "UpdateSAMLProvider" => saml_providers::update_saml_provider(ctx, params).await,
        "DeleteSAMLProvider" => saml_providers::delete_saml_provider(ctx, params).await,
        "TagSAMLProvider" => saml_providers::tag_saml_provider(ctx, params).await,
        "UntagSAMLProvider" => saml_providers::untag_saml_provider(ctx, params).await,
        "ListSAMLProviderTags" => saml_providers::list_saml_provider_tags(ctx, params),
        // Virtual MFA devices (10)
        "CreateVirtualMFADevice" => mfa_devices::create_virtual_mfa_device(ctx, params).await,
        "EnableMFADevice" => mfa_devices::enable_mfa_device(ctx, params).await,
        "ResyncMFADevice" => mfa_devices::resync_mfa_device(ctx, params).await,
        "DeactivateMFADevice" => mfa_devices::deactivate_mfa_device(ctx, params).await,
        "DeleteVirtualMFADevice" => mfa_devices::delete_virtual_mfa_device(ctx, params).await,
        "ListMFADevices" => mfa_devices::list_mfa_devices(ctx, params),
        "ListVirtualMFADevices" => mfa_devices::list_virtual_mfa_devices(ctx, params),
        "GetMFADevice" => mfa_devices::get_mfa_device(ctx, params),
        "TagMFADevice" => mfa_devices::tag_mfa_device(ctx, params).await,
        "UntagMFADevice" => mfa_devices::untag_mfa_device(ctx, params).await,
        "ListMFADeviceTags" => mfa_devices::list_mfa_device_tags(ctx, params),
        other => Err(AwsError::invalid_action(
            crate::truncate(other, 128),
            mayfly_wire::IAM_VERSION,
        )),
    }
}
