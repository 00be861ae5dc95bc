//! Mayfly's S3-compatible gateway: the S3 REST front end over the built-in
//! object store, authenticated and authorized by [`mayfly_core::Core`].
//!
//! One request's way: resolve bucket and key (path-style or
//! virtual-host-style, [`request`]) → classify the operation → authenticate
//! (SigV4 with S3's rules through [`mayfly_core::Core::authenticate_sigv4`],
//! or anonymous) → authorize (the `s3:` action and ARN with identity,
//! session, boundary and bucket policies) → read the body as it streams,
//! checking every declared hash, checksum and chunk signature ([`body`],
//! [`chunked`]) → commit atomically ([`store`]) → answer in S3's REST-XML.

pub mod body;
pub mod buffers;
pub mod checksum;
pub mod chunked;
pub mod error;
mod fuzz;
mod gateway;
mod key_index;
pub mod object_cache;
mod part_pins;
pub mod request;
pub mod response;
pub mod sink;
mod stage;
pub mod store;
pub mod upstream;
pub mod xml;

pub use error::S3Error;
pub use fuzz::fuzz_one;
pub use gateway::{S3Config, S3Gateway};
pub use upstream::UpstreamConfig;
