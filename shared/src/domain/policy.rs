//! When a sign-in, refresh or account switch needs a second factor.

use super::model::LoginMethod;

/// Authenticator assurance level of a session (NIST SP 800-63B): 1 for one factor, 2 after a
/// second factor.
pub type Aal = u8;

/// The outcome of a sign-in, refresh or account switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Issue a session at this assurance level.
    Authenticated { aal: Aal },
    /// Ask for a TOTP or backup code first.
    MfaRequired,
    /// Make the member enroll a factor first.
    EnrollmentRequired,
}

/// Decides the first sign-in step.
///
/// SAML sign-ins never get a prompt, because the identity provider handles MFA. A member
/// with a factor is always challenged. A member without one must enroll when the account
/// requires MFA. Everyone else gets a session at once.
pub fn decide_sign_in(method: LoginMethod, has_factor: bool, require_mfa: bool) -> Decision {
    match (method, has_factor, require_mfa) {
        (LoginMethod::Saml, _, _) => Decision::Authenticated { aal: 1 },
        (_, true, _) => Decision::MfaRequired,
        (_, false, true) => Decision::EnrollmentRequired,
        (_, false, false) => Decision::Authenticated { aal: 1 },
    }
}

/// Decides whether an existing session may go on (at refresh, or when switching to another
/// account), re-reading the factor and the account's enforcement.
///
/// The assurance level never rises here: an `aal` 1 session of a member who now has a
/// factor must answer a challenge, which issues a new session.
pub fn decide_continuation(
    method: LoginMethod,
    session_aal: Aal,
    has_factor: bool,
    require_mfa: bool,
) -> Decision {
    match (method, has_factor, require_mfa) {
        (LoginMethod::Saml, _, _) => Decision::Authenticated { aal: session_aal },
        (_, true, _) if session_aal >= 2 => Decision::Authenticated { aal: session_aal },
        (_, true, _) => Decision::MfaRequired,
        (_, false, true) => Decision::EnrollmentRequired,
        (_, false, false) => Decision::Authenticated { aal: session_aal },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LoginMethod::{Email, Google, Saml};

    #[test]
    fn sign_in_table() {
        let cases = [
            (Saml, true, true, Decision::Authenticated { aal: 1 }),
            (Saml, false, true, Decision::Authenticated { aal: 1 }),
            (Email, true, false, Decision::MfaRequired),
            (Google, true, true, Decision::MfaRequired),
            (Email, false, true, Decision::EnrollmentRequired),
            (Google, false, false, Decision::Authenticated { aal: 1 }),
        ];
        for (method, factor, required, expected) in cases {
            assert_eq!(
                decide_sign_in(method, factor, required),
                expected,
                "{method:?} factor={factor} required={required}"
            );
        }
    }

    #[test]
    fn continuation_table() {
        let cases = [
            (Saml, 1, false, true, Decision::Authenticated { aal: 1 }),
            (Email, 2, true, true, Decision::Authenticated { aal: 2 }),
            (Email, 1, true, false, Decision::MfaRequired),
            (Email, 1, false, true, Decision::EnrollmentRequired),
            (Email, 2, false, true, Decision::EnrollmentRequired),
            (Google, 1, false, false, Decision::Authenticated { aal: 1 }),
            (Google, 2, false, false, Decision::Authenticated { aal: 2 }),
        ];
        for (method, aal, factor, required, expected) in cases {
            assert_eq!(
                decide_continuation(method, aal, factor, required),
                expected,
                "{method:?} aal={aal} factor={factor} required={required}"
            );
        }
    }
}
