//! Backup codes: generation, parsing as typed, and Argon2id hashing.
//!
//! A code is 12 characters of Crockford Base32 (60 random bits), shown as `xxxx-xxxx-xxxx`.
//! Its first two characters are a selector, unique within the member's set and stored in
//! plain text, so checking a typed code costs one Argon2id evaluation: the selector picks
//! the one stored hash to verify. The other 50 bits are secret and exist only as the hash.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::random::Random;

/// Codes in a set.
pub const CODES_PER_SET: usize = 10;
/// Characters in a code, after normalisation.
pub const CODE_LENGTH: usize = 12;
/// Leading characters that select the stored hash.
pub const SELECTOR_LENGTH: usize = 2;
/// Crockford's Base32 alphabet, lower case: no `i`, `l`, `o` or `u` to misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A backup code in normal form: 12 lower-case Crockford Base32 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupCode(Zeroizing<String>);

impl BackupCode {
    /// Draws a code whose selector is not in `taken`.
    fn generate(random: &dyn Random, taken: &[String]) -> Self {
        loop {
            let mut bytes = Zeroizing::new([0u8; CODE_LENGTH]);
            random.fill(&mut bytes[..]);
            let code: String = bytes
                .iter()
                .map(|byte| char::from(ALPHABET[usize::from(byte & 31)]))
                .collect();
            let code = Self(Zeroizing::new(code));
            if !taken.iter().any(|selector| selector == code.selector()) {
                return code;
            }
        }
    }

    /// Parses a code as typed: case is ignored, spaces and dashes are removed, and the
    /// Crockford look-alikes `i`/`l` (read as `1`) and `o` (read as `0`) are accepted.
    ///
    /// # Errors
    /// Returns [`InvalidBackupCode`] unless 12 alphabet characters remain.
    pub fn parse(input: &str) -> Result<Self, InvalidBackupCode> {
        let mut normal = Zeroizing::new(String::with_capacity(CODE_LENGTH));
        for c in input.chars() {
            let c = match c.to_ascii_lowercase() {
                ' ' | '-' => continue,
                'i' | 'l' => '1',
                'o' => '0',
                other => other,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || normal.len() == CODE_LENGTH {
                return Err(InvalidBackupCode);
            }
            normal.push(c);
        }
        if normal.len() != CODE_LENGTH {
            return Err(InvalidBackupCode);
        }
        Ok(Self(normal))
    }

    /// Returns the selector: the first two characters, which are not secret.
    pub fn selector(&self) -> &str {
        &self.0[..SELECTOR_LENGTH]
    }

    /// Returns the code grouped for display: `xxxx-xxxx-xxxx`.
    pub fn display(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{}-{}-{}",
            &self.0[0..4],
            &self.0[4..8],
            &self.0[8..12]
        ))
    }
}

impl fmt::Debug for BackupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupCode(<redacted>)")
    }
}

/// The input is not a backup code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be 12 letters and digits, as printed")]
pub struct InvalidBackupCode;

/// One stored code: its selector, its Argon2id PHC string and when it was spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBackupCode {
    pub selector: String,
    pub phc: String,
    pub used_at: Option<u64>,
}

/// Argon2id with the OWASP minimum for password storage (m = 19456 KiB, t = 2, p = 1),
/// counting every evaluation so tests can show that one attempt costs one evaluation.
#[derive(Debug, Clone)]
pub struct BackupHasher {
    params: Params,
    evaluations: Arc<AtomicU64>,
}

/// The hash an unknown selector is checked against, so it costs one evaluation like a known
/// one. It was made once with the parameters below from a random code that was discarded;
/// a match is ignored anyway.
const DECOY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$+sO29G9PgVcc/bMNDmdNJA$ylI2lat9yTo7phZbir9WYLLQwqoMblcvnr5diFRRBaY";

impl Default for BackupHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl BackupHasher {
    /// Memory cost in KiB.
    pub const MEMORY_KIB: u32 = 19_456;
    /// Iterations.
    pub const ITERATIONS: u32 = 2;
    /// Lanes.
    pub const PARALLELISM: u32 = 1;

    /// Creates a hasher with the OWASP parameters.
    pub fn new() -> Self {
        let params = Params::new(Self::MEMORY_KIB, Self::ITERATIONS, Self::PARALLELISM, None)
            .expect("the Argon2id parameters are constants within the allowed ranges");
        Self {
            params,
            evaluations: Arc::new(AtomicU64::new(0)),
        }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Returns how many Argon2id evaluations this hasher (and its clones) has run.
    pub fn evaluations(&self) -> u64 {
        self.evaluations.load(Ordering::SeqCst)
    }

    /// Hashes `code` with a fresh 128-bit salt into a PHC string. Blocking: call it off the
    /// async runtime.
    pub fn hash(&self, random: &dyn Random, code: &BackupCode) -> String {
        let mut salt = [0u8; 16];
        random.fill(&mut salt);
        let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
        self.evaluations.fetch_add(1, Ordering::SeqCst);
        self.argon2()
            .hash_password(code.0.as_bytes(), &salt)
            .expect("hashing a 12-byte input with valid parameters cannot fail")
            .to_string()
    }

    /// Verifies `code` against `phc`, or against a decoy hash when `phc` is `None`, so that
    /// an unknown selector costs the same one evaluation as a known one. Blocking.
    pub fn verify(&self, code: &BackupCode, phc: Option<&str>) -> bool {
        let Ok(parsed) = PasswordHash::new(phc.unwrap_or(DECOY_PHC)) else {
            return false;
        };
        self.evaluations.fetch_add(1, Ordering::SeqCst);
        let matches = self
            .argon2()
            .verify_password(code.0.as_bytes(), &parsed)
            .is_ok();
        phc.is_some() && matches
    }
}

/// A freshly generated set: the codes to show once, and what to store.
pub struct NewBackupSet {
    pub codes: Vec<BackupCode>,
    pub stored: Vec<StoredBackupCode>,
}

impl fmt::Debug for NewBackupSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewBackupSet({} codes, <redacted>)", self.codes.len())
    }
}

/// Generates and hashes a set of [`CODES_PER_SET`] codes with distinct selectors.
/// Blocking (ten Argon2id evaluations): call it off the async runtime.
pub fn generate_set(random: &dyn Random, hasher: &BackupHasher) -> NewBackupSet {
    let mut codes = Vec::with_capacity(CODES_PER_SET);
    let mut selectors: Vec<String> = Vec::with_capacity(CODES_PER_SET);
    for _ in 0..CODES_PER_SET {
        let code = BackupCode::generate(random, &selectors);
        selectors.push(code.selector().to_owned());
        codes.push(code);
    }
    let stored = codes
        .iter()
        .map(|code| StoredBackupCode {
            selector: code.selector().to_owned(),
            phc: hasher.hash(random, code),
            used_at: None,
        })
        .collect();
    NewBackupSet { codes, stored }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    #[test]
    fn parse_normalises_typing() {
        let code = BackupCode::parse("AB12-CD34-EF56").expect("valid code");
        assert_eq!(code.display().as_str(), "ab12-cd34-ef56");
        assert_eq!(BackupCode::parse(" ab12 cd34 ef56 "), Ok(code.clone()));
        assert_eq!(code.selector(), "ab");
        let lookalikes = BackupCode::parse("oIlO-0000-0000").expect("look-alikes");
        assert_eq!(lookalikes.display().as_str(), "0110-0000-0000");
    }

    #[test]
    fn parse_rejects_bad_input() {
        for input in [
            "",
            "ab12-cd34-ef5",
            "ab12-cd34-ef567",
            "ab12-cd34-ef5u",
            "ab12_cd34_ef56",
            "äb12-cd34-ef56",
        ] {
            assert_eq!(
                BackupCode::parse(input),
                Err(InvalidBackupCode),
                "{input:?}"
            );
        }
    }

    #[test]
    fn set_has_ten_distinct_selectors_and_verifies() {
        let hasher = BackupHasher::new();
        let set = generate_set(&OsRandom, &hasher);
        assert_eq!(set.codes.len(), 10);
        let mut selectors: Vec<_> = set.stored.iter().map(|s| s.selector.clone()).collect();
        selectors.sort();
        selectors.dedup();
        assert_eq!(selectors.len(), 10);
        assert_eq!(hasher.evaluations(), 10);

        let stored = &set.stored[3];
        assert!(stored.phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hasher.verify(&set.codes[3], Some(&stored.phc)));
        assert!(!hasher.verify(&set.codes[4], Some(&stored.phc)));
        assert!(!hasher.verify(&set.codes[4], None));
        assert_eq!(hasher.evaluations(), 13);
    }

    #[test]
    fn decoy_uses_the_same_parameters() {
        let decoy = PasswordHash::new(DECOY_PHC).expect("decoy is a PHC string");
        let params = Params::try_from(&decoy).expect("decoy has Argon2 parameters");
        assert_eq!(decoy.algorithm.as_str(), "argon2id");
        assert_eq!(params.m_cost(), BackupHasher::MEMORY_KIB);
        assert_eq!(params.t_cost(), BackupHasher::ITERATIONS);
        assert_eq!(params.p_cost(), BackupHasher::PARALLELISM);
    }

    #[test]
    fn debug_prints_no_code() {
        let code = BackupCode::parse("ab12-cd34-ef56").expect("valid code");
        assert!(!format!("{code:?}").contains("ab12"));
    }
}
