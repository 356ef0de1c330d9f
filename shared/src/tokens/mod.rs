//! Tokens: ES256 JWTs (login assertions in, access tokens out) and opaque tokens
//! (MFA tickets, refresh tokens) stored only as hashes.

pub mod access;
pub mod assertion;
pub mod jwt;
pub mod opaque;
