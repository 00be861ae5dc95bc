//! The workload side of Mayfly (DESIGN.md `crates/agent`): a Roles Anywhere
//! client that signs CreateSession with a certificate and its key
//! (roles-anywhere.md 3), and the `credential_process` document it prints
//! (workload-credentials.md).

mod client;
mod credentials;
mod material;
pub mod refresh;
pub mod serve;
pub mod sts_client;
pub mod web_identity;

pub use client::{CreateSessionError, SessionParams, create_session};
pub use credentials::{SessionCredentials, credential_process_json};
pub use material::{Material, MaterialError};
