//! Core of Dashboard MFA, shared by every Lambda function and by `mfa-local`.
//!
//! - [`domain`]: pure rules (TOTP, backup codes, lockout, sign-in decisions, input types).
//! - [`tokens`]: login assertions, access tokens (ES256 JWTs) and opaque tokens.
//! - [`ports`]: the traits that storage, key management, clock and randomness sit behind.
//! - [`embedded`]: the in-memory store and the local key provider used by `mfa-local`.
//! - [`service`]: one handler per HTTP operation, written against the ports.
//! - [`http`]: routing, JSON bodies, errors and the per-request log line.

pub mod clock;
pub mod config;
pub mod domain;
pub mod embedded;
pub mod error;
pub mod http;
pub mod ports;
pub mod random;
pub mod service;
pub mod telemetry;
pub mod tokens;

pub use error::ApiError;
pub use service::{App, Operation};
