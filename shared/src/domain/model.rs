//! Validated input types: account slugs, user ids, roles and login methods.
//!
//! Each `parse` checks the whole value once, at the edge, so the rest of the service only
//! sees values that are safe to use in storage keys, paths and logs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The reason a value was rejected. The message names the rule, never the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub &'static str);

/// An account (tenant) slug such as `acme`: 1 to 63 characters of `a-z`, `0-9` and `-`,
/// starting and ending with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountSlug(String);

impl AccountSlug {
    /// Parses an account slug.
    ///
    /// # Errors
    /// Returns [`InvalidValue`] when the slug is empty, too long or has other characters.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let valid_chars = value
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        let valid_ends = !value.starts_with('-') && !value.ends_with('-');
        if value.is_empty() || value.len() > 63 || !valid_chars || !valid_ends {
            return Err(InvalidValue(
                "must be 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-'",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// Returns the slug as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user id as the login service assigns it: 1 to 128 characters of ASCII letters,
/// digits and `-_.:@+|`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// Parses a user id.
    ///
    /// # Errors
    /// Returns [`InvalidValue`] when the id is empty, too long or has other characters.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let valid_chars = value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:@+|".contains(&byte));
        if value.is_empty() || value.len() > 128 || !valid_chars {
            return Err(InvalidValue(
                "must be 1 to 128 characters of ASCII letters, digits and -_.:@+|",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// Returns the id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks an email address loosely: the login service owns email validation, so this
/// only keeps out values that would break a label or a log line.
///
/// # Errors
/// Returns [`InvalidValue`] for an empty, overlong or control-character address, or one
/// without a single `@` between non-empty parts.
pub fn check_email(value: &str) -> Result<(), InvalidValue> {
    let mut parts = value.split('@');
    let well_formed = matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(local), Some(domain), None) if !local.is_empty() && !domain.is_empty()
    );
    let printable = value.chars().all(|c| !c.is_control() && c != ':');
    if value.len() > 254 || !well_formed || !printable {
        return Err(InvalidValue(
            "must be an email address of at most 254 characters without ':'",
        ));
    }
    Ok(())
}

/// A member's role in an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    /// Parses `owner`, `admin` or `member`.
    ///
    /// # Errors
    /// Returns [`InvalidValue`] for any other value.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        match value {
            "owner" => Ok(Self::Owner),
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            _ => Err(InvalidValue("must be one of owner, admin, member")),
        }
    }

    /// Returns the role's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Reports whether the role may manage the account's security settings and members.
    pub fn is_manager(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

/// The method of the first sign-in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginMethod {
    Email,
    Google,
    Saml,
}

impl LoginMethod {
    /// Parses `email`, `google` or `saml`.
    ///
    /// # Errors
    /// Returns [`InvalidValue`] for any other value.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        match value {
            "email" => Ok(Self::Email),
            "google" => Ok(Self::Google),
            "saml" => Ok(Self::Saml),
            _ => Err(InvalidValue("must be one of email, google, saml")),
        }
    }

    /// Returns the method's wire name, also used as its `amr` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Google => "google",
            Self::Saml => "saml",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_slug_cases() {
        for (input, valid) in [
            ("acme", true),
            ("a", true),
            ("acme-2", true),
            ("", false),
            ("-acme", false),
            ("acme-", false),
            ("Acme", false),
            ("ac me", false),
            ("acme/other", false),
            (&"a".repeat(64), false),
        ] {
            assert_eq!(AccountSlug::parse(input).is_ok(), valid, "slug {input:?}");
        }
    }

    #[test]
    fn user_id_cases() {
        for (input, valid) in [
            ("u-123", true),
            ("google|1234", true),
            ("a@b.c", true),
            ("", false),
            ("has space", false),
            ("slash/", false),
            ("ünï", false),
            (&"a".repeat(129), false),
        ] {
            assert_eq!(UserId::parse(input).is_ok(), valid, "user id {input:?}");
        }
    }

    #[test]
    fn email_cases() {
        assert!(check_email("ana@acme.test").is_ok());
        assert!(check_email("ana").is_err());
        assert!(check_email("@acme.test").is_err());
        assert!(check_email("a@b@c").is_err());
        assert!(check_email("a:b@c").is_err());
        assert!(check_email("a\n@c").is_err());
    }

    #[test]
    fn role_and_method_parse() {
        assert_eq!(Role::parse("admin"), Ok(Role::Admin));
        assert!(Role::parse("Admin").is_err());
        assert_eq!(LoginMethod::parse("saml"), Ok(LoginMethod::Saml));
        assert!(LoginMethod::parse("password").is_err());
    }
}
