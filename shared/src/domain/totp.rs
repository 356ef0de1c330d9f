//! TOTP (RFC 6238) over HOTP (RFC 4226): secrets, code parsing, verification with replay
//! detection, and the provisioning URI and QR code that authenticator apps read.

use std::fmt;

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::random::Random;

/// Code length: 6 digits, the RFC 4226 §5.3 minimum and what every authenticator app shows.
pub const DIGITS: usize = 6;
/// Time step in seconds: the RFC 6238 §5.2 recommendation.
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of the current one, for clock drift (RFC 6238 §5.2).
pub const SKEW_STEPS: u64 = 1;
/// New secrets are 160 bits, the length RFC 4226 §4 recommends.
pub const SECRET_BYTES: usize = 20;
/// Secrets shorter than 128 bits are rejected (RFC 4226 §4, requirement R6).
pub const MIN_SECRET_BYTES: usize = 16;

/// A TOTP shared secret. It zeroizes on drop and never prints its bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    /// Draws a new 160-bit secret from `random`.
    pub fn generate(random: &dyn Random) -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        random.fill(&mut bytes);
        Self(bytes)
    }

    /// Wraps existing secret bytes.
    ///
    /// # Errors
    /// Returns [`SecretTooShort`] when the secret has fewer than 128 bits.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, SecretTooShort> {
        let mut bytes = Zeroizing::new(bytes);
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(SecretTooShort);
        }
        Ok(Self(std::mem::take(&mut *bytes)))
    }

    /// Returns the raw secret bytes, for encryption.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Returns the secret as unpadded upper-case Base32, as the `otpauth://` URI carries it.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(data_encoding::BASE32_NOPAD.encode(&self.0))
    }

    fn totp(&self, issuer: Option<String>, account_name: String) -> TOTP {
        TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            SKEW_STEPS as u8,
            STEP_SECONDS,
            self.0.clone(),
            issuer,
            account_name,
        )
    }

    /// Returns the code for time step `step`.
    pub fn code_at_step(&self, step: u64) -> Zeroizing<String> {
        let totp = self.totp(None, String::new());
        Zeroizing::new(totp.generate(step * STEP_SECONDS))
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// A secret shorter than 128 bits was offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("TOTP secrets must be at least 128 bits")]
pub struct SecretTooShort;

/// A syntactically valid TOTP code: exactly six ASCII digits.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TotpCode([u8; DIGITS]);

impl TotpCode {
    /// Parses a code as typed: ASCII spaces are removed, and what is left must be exactly
    /// six ASCII digits. Full-width digits, signs and letters are rejected.
    ///
    /// # Errors
    /// Returns [`InvalidCodeFormat`] for anything else.
    pub fn parse(input: &str) -> Result<Self, InvalidCodeFormat> {
        let mut digits = [0u8; DIGITS];
        let mut count = 0;
        for byte in input.bytes() {
            if byte == b' ' {
                continue;
            }
            if !byte.is_ascii_digit() || count == DIGITS {
                digits.zeroize();
                return Err(InvalidCodeFormat);
            }
            digits[count] = byte;
            count += 1;
        }
        if count != DIGITS {
            digits.zeroize();
            return Err(InvalidCodeFormat);
        }
        Ok(Self(digits))
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(<redacted>)")
    }
}

/// The code is not six ASCII digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be 6 digits")]
pub struct InvalidCodeFormat;

/// The result of checking a code against a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The code matches `step`, which is later than the last accepted step.
    Accepted { step: u64 },
    /// The code matches a step that was already used: a replay.
    Replayed,
    /// The code matches no step in the window.
    Rejected,
}

/// Returns the time step that contains Unix time `now`.
pub fn step_at(now: u64) -> u64 {
    now / STEP_SECONDS
}

/// Checks `code` against the steps around `now`, comparing in constant time.
///
/// Every step of the window is computed and compared whatever the outcome. A match at a
/// step not later than `last_step` is a replay (RFC 6238 §5.2: a code is accepted once).
pub fn verify(
    secret: &TotpSecret,
    code: &TotpCode,
    now: u64,
    last_step: Option<u64>,
) -> Verification {
    let current = step_at(now);
    let mut accepted: Option<u64> = None;
    let mut replayed = false;
    for step in current.saturating_sub(SKEW_STEPS)..=current + SKEW_STEPS {
        let expected = secret.code_at_step(step);
        let matches: bool = expected.as_bytes().ct_eq(&code.0).into();
        if !matches {
            continue;
        }
        if last_step.is_some_and(|last| step <= last) {
            replayed = true;
        } else {
            accepted = Some(step);
        }
    }
    match (accepted, replayed) {
        (Some(step), _) => Verification::Accepted { step },
        (None, true) => Verification::Replayed,
        (None, false) => Verification::Rejected,
    }
}

/// The data an authenticator app needs to add the factor.
pub struct Provisioning {
    /// The `otpauth://totp/...` Key URI.
    pub uri: Zeroizing<String>,
    /// The secret as unpadded upper-case Base32, for manual entry.
    pub secret_base32: Zeroizing<String>,
    /// The URI drawn as a QR code: a `data:image/png;base64,...` URI, rendered in-process.
    pub qr_code: Zeroizing<String>,
}

impl fmt::Debug for Provisioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Provisioning(<redacted>)")
    }
}

/// Builds the Key URI and QR code for `secret`, labelled `issuer:account_name`.
///
/// # Errors
/// Returns a message when the issuer or account name contains ':' (the Key URI Format
/// separates them with it) or when the QR image cannot be drawn.
pub fn provisioning(
    secret: &TotpSecret,
    issuer: &str,
    account_name: &str,
) -> Result<Provisioning, String> {
    if issuer.contains(':') || account_name.contains(':') {
        return Err("issuer and account name must not contain ':'".to_owned());
    }
    let totp = secret.totp(Some(issuer.to_owned()), account_name.to_owned());
    let uri = Zeroizing::new(totp.get_url());
    let png = Zeroizing::new(totp.get_qr_base64()?);
    Ok(Provisioning {
        uri,
        secret_base32: secret.to_base32(),
        qr_code: Zeroizing::new(format!("data:image/png;base64,{}", png.as_str())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).expect("160-bit secret")
    }

    #[test]
    fn parse_accepts_six_digits_with_spaces() {
        assert!(TotpCode::parse("123456").is_ok());
        assert!(TotpCode::parse("123 456").is_ok());
        assert!(TotpCode::parse(" 1 2 3 4 5 6 ").is_ok());
    }

    #[test]
    fn parse_rejects_everything_else() {
        for input in [
            "",
            "12345",
            "1234567",
            "12345a",
            "+12345",
            "-12345",
            "１２３４５６",
            "12\t3456",
            "123_456",
            "abcdef",
            "12345６",
        ] {
            assert_eq!(
                TotpCode::parse(input).map(|_| ()),
                Err(InvalidCodeFormat),
                "{input:?}"
            );
        }
    }

    #[test]
    fn short_secret_rejected() {
        assert!(TotpSecret::from_bytes(vec![0; 15]).is_err());
        assert!(TotpSecret::from_bytes(vec![0; 16]).is_ok());
    }

    #[test]
    fn generated_secret_is_160_bits() {
        let first = TotpSecret::generate(&OsRandom);
        let second = TotpSecret::generate(&OsRandom);
        assert_eq!(first.expose().len(), 20);
        assert_ne!(first.expose(), second.expose());
    }

    #[test]
    fn window_is_one_step_each_side() {
        let secret = rfc_secret();
        let now = 1_111_111_109;
        let current = step_at(now);
        for (offset, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let step = (current as i64 + offset) as u64;
            let code = TotpCode::parse(&secret.code_at_step(step)).expect("generated code");
            let result = verify(&secret, &code, now, None);
            let expected = if accepted {
                Verification::Accepted { step }
            } else {
                Verification::Rejected
            };
            assert_eq!(result, expected, "offset {offset}");
        }
    }

    #[test]
    fn used_step_is_a_replay() {
        let secret = rfc_secret();
        let now = 1_111_111_109;
        let current = step_at(now);
        let code = TotpCode::parse(&secret.code_at_step(current)).expect("generated code");
        assert_eq!(
            verify(&secret, &code, now, Some(current)),
            Verification::Replayed
        );
        assert_eq!(
            verify(&secret, &code, now, Some(current + 1)),
            Verification::Replayed
        );
        assert_eq!(
            verify(&secret, &code, now, Some(current - 1)),
            Verification::Accepted { step: current }
        );
    }

    #[test]
    fn debug_prints_no_secret() {
        let secret = rfc_secret();
        let code = TotpCode::parse("123456").expect("valid code");
        assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted>)");
        assert!(!format!("{code:?}").contains("123456"));
    }

    #[test]
    fn provisioning_uri_and_secret_agree() {
        let secret = rfc_secret();
        let setup = provisioning(&secret, "Dashboard", "ana@acme.test").expect("provisioning");
        assert_eq!(
            setup.secret_base32.as_str(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(
            setup.uri.as_str(),
            "otpauth://totp/Dashboard:ana%40acme.test?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Dashboard"
        );
        assert!(setup.qr_code.starts_with("data:image/png;base64,iVBOR"));
        assert!(provisioning(&secret, "Dash:board", "ana").is_err());
    }
}
