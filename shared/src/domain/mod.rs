//! Pure domain rules. Nothing here does I/O: time and state come in as arguments.

pub mod backup;
pub mod lockout;
pub mod model;
pub mod policy;
pub mod totp;
