//! Federation verifiers for Mayfly: the pure half of AssumeRoleWithWebIdentity
//! and AssumeRoleWithSAML.
//!
//! Nothing here does I/O or reads the system clock: OIDC discovery documents and
//! JWKS arrive through the caller, and every check takes the current time as an
//! argument. The actions that use these verifiers live in `mayfly-core`.

pub mod oidc;
pub mod saml;
pub mod x509;
