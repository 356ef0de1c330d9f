//! Embedded adapters: everything `mfa-local` needs to run with nothing else installed.
//! The data lives in memory and is lost when the process stops.

pub mod demo_login;
pub mod local_keys;
pub mod memory;

pub use demo_login::{embedded_app, DemoIdentity, DemoLogin};
pub use local_keys::{LocalCipher, LocalSigner};
pub use memory::MemoryStore;
