//! Opaque tokens: MFA tickets and refresh tokens. The client keeps 256 random bits, and the
//! store keeps only their SHA-256, so a leaked table does not leak usable tokens.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::random::{random_id, random_token, Random};

/// Length of a 256-bit secret in unpadded Base64url.
const SECRET_CHARS: usize = 43;
/// Length of a session id (128 bits in hex).
const SESSION_ID_CHARS: usize = 32;

/// Returns the hex SHA-256 of a token secret: the form in which it is stored.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn is_secret(value: &str) -> bool {
    value.len() == SECRET_CHARS
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// A new MFA ticket: the token for the client and the hash to store.
#[derive(Debug)]
pub struct NewTicket {
    pub token: Zeroizing<String>,
    pub hash: String,
}

/// Draws a new ticket.
pub fn new_ticket(random: &dyn Random) -> NewTicket {
    let token = Zeroizing::new(random_token(random, 32));
    let hash = hash_secret(&token);
    NewTicket { token, hash }
}

/// Checks a ticket's form and returns its hash, before any lookup.
///
/// # Errors
/// Returns `Err(())` when the value cannot be a ticket.
#[allow(clippy::result_unit_err)]
pub fn ticket_hash(token: &str) -> Result<String, ()> {
    if is_secret(token) {
        Ok(hash_secret(token))
    } else {
        Err(())
    }
}

/// A new refresh token: `<session id>.<secret>`.
#[derive(Debug)]
pub struct NewRefreshToken {
    pub token: Zeroizing<String>,
    pub hash: String,
}

/// Draws a refresh token for `session_id`.
pub fn new_refresh_token(random: &dyn Random, session_id: &str) -> NewRefreshToken {
    let secret = Zeroizing::new(random_token(random, 32));
    NewRefreshToken {
        hash: hash_secret(&secret),
        token: Zeroizing::new(format!("{session_id}.{}", secret.as_str())),
    }
}

/// Draws a session id.
pub fn new_session_id(random: &dyn Random) -> String {
    random_id(random)
}

/// Splits a refresh token into its session id and the hash of its secret.
///
/// # Errors
/// Returns `Err(())` when the value cannot be a refresh token.
#[allow(clippy::result_unit_err)]
pub fn parse_refresh_token(token: &str) -> Result<(String, String), ()> {
    let (session_id, secret) = token.split_once('.').ok_or(())?;
    let valid_id = session_id.len() == SESSION_ID_CHARS
        && session_id
            .bytes()
            .all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase());
    if !valid_id || !is_secret(secret) {
        return Err(());
    }
    Ok((session_id.to_owned(), hash_secret(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    #[test]
    fn ticket_round_trip() {
        let ticket = new_ticket(&OsRandom);
        assert_eq!(ticket.token.len(), 43);
        assert_eq!(ticket_hash(&ticket.token), Ok(ticket.hash.clone()));
        assert_ne!(ticket.hash, ticket.token.as_str());
        assert!(ticket_hash("short").is_err());
        assert!(ticket_hash(&"+".repeat(43)).is_err());
    }

    #[test]
    fn refresh_round_trip() {
        let session_id = new_session_id(&OsRandom);
        let refresh = new_refresh_token(&OsRandom, &session_id);
        let (parsed_id, hash) = parse_refresh_token(&refresh.token).expect("valid token");
        assert_eq!(parsed_id, session_id);
        assert_eq!(hash, refresh.hash);
        assert!(parse_refresh_token("nodot").is_err());
        assert!(parse_refresh_token(&format!("{}.x", session_id)).is_err());
        assert!(parse_refresh_token(&format!("ZZ.{}", "a".repeat(43))).is_err());
    }
}
