//! The randomness port: every secret, code, token and id is drawn from here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;

/// A cryptographically secure random source.
pub trait Random: Send + Sync + std::fmt::Debug {
    /// Fills `buffer` with random bytes.
    fn fill(&self, buffer: &mut [u8]);
}

/// The operating system's random source (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buffer: &mut [u8]) {
        OsRng.fill_bytes(buffer);
    }
}

/// Returns `bytes` random bytes encoded as unpadded URL-safe Base64.
pub fn random_token(random: &dyn Random, bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    random.fill(&mut buffer);
    let token = URL_SAFE_NO_PAD.encode(&buffer);
    zeroize::Zeroize::zeroize(&mut buffer);
    token
}

/// Returns a random identifier: 128 bits as 32 lower-case hex digits.
pub fn random_id(random: &dyn Random) -> String {
    let mut buffer = [0u8; 16];
    random.fill(&mut buffer);
    buffer.iter().map(|byte| format!("{byte:02x}")).collect()
}
