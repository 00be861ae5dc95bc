//! Fixture generators for Mayfly's tests. Each signer here is written apart
//! from the verifier it feeds, so a test passes only when two independent
//! implementations agree.

pub mod jwt;
pub mod pki;
pub mod saml;
pub mod totp;
