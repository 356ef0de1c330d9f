//! The AWS resource names, read once per cold start from environment variables.

use mfa_shared::config::ConfigError;

/// The DynamoDB table and KMS keys that the adapters use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// DynamoDB table name (`MFA_TABLE`, default `mfa`).
    pub table: String,
    /// Symmetric KMS key for TOTP secrets: key id, ARN or alias (`MFA_SECRETS_KEY_ID`,
    /// default `alias/mfa-secrets`).
    pub secrets_key_id: String,
    /// Asymmetric P-256 KMS key for access tokens: key id, ARN or alias
    /// (`MFA_SIGNING_KEY_ID`, default `alias/mfa-signing`).
    pub signing_key_id: String,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            table: "mfa".to_owned(),
            secrets_key_id: "alias/mfa-secrets".to_owned(),
            signing_key_id: "alias/mfa-signing".to_owned(),
        }
    }
}

impl AwsSettings {
    /// Reads the settings through `lookup` (usually `std::env::var`). Unset variables take
    /// their defaults.
    ///
    /// # Errors
    /// Returns [`ConfigError`] naming the first variable whose value is invalid.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let table = match lookup("MFA_TABLE") {
            Some(value) => check_table_name(value.trim())?,
            None => defaults.table,
        };
        let secrets_key_id = match lookup("MFA_SECRETS_KEY_ID") {
            Some(value) => check_key_id("MFA_SECRETS_KEY_ID", value.trim())?,
            None => defaults.secrets_key_id,
        };
        let signing_key_id = match lookup("MFA_SIGNING_KEY_ID") {
            Some(value) => check_key_id("MFA_SIGNING_KEY_ID", value.trim())?,
            None => defaults.signing_key_id,
        };
        Ok(Self {
            table,
            secrets_key_id,
            signing_key_id,
        })
    }

    /// Reads the settings from the process environment.
    ///
    /// # Errors
    /// Returns [`ConfigError`] naming the first variable whose value is invalid.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Checks DynamoDB's table-name rule: 3 to 255 characters of `a-z A-Z 0-9 _ - .`.
fn check_table_name(value: &str) -> Result<String, ConfigError> {
    let valid_chars = value
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"_-.".contains(&byte));
    if value.len() < 3 || value.len() > 255 || !valid_chars {
        return Err(ConfigError {
            variable: "MFA_TABLE",
            problem: "must be a DynamoDB table name: 3 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.'".to_owned(),
        });
    }
    Ok(value.to_owned())
}

/// Checks that a KMS key reference is a key id, key ARN, alias name or alias ARN.
/// KMS accepts at most 2048 characters. This check rejects empty values and whitespace early.
fn check_key_id(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let printable = value.chars().all(|c| c.is_ascii_graphic());
    if value.is_empty() || value.len() > 2048 || !printable {
        return Err(ConfigError {
            variable,
            problem: "must be a KMS key id, key ARN, alias name (alias/...) or alias ARN"
                .to_owned(),
        });
    }
    if value.starts_with("alias/") && value.len() == "alias/".len() {
        return Err(ConfigError {
            variable,
            problem: "names no alias after `alias/`".to_owned(),
        });
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings_from(pairs: &[(&str, &str)]) -> Result<AwsSettings, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        AwsSettings::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn unset_variables_take_defaults() {
        let settings = settings_from(&[]).expect("defaults are valid");
        assert_eq!(settings.table, "mfa");
        assert_eq!(settings.secrets_key_id, "alias/mfa-secrets");
        assert_eq!(settings.signing_key_id, "alias/mfa-signing");
    }

    #[test]
    fn set_variables_are_used() {
        let settings = settings_from(&[
            ("MFA_TABLE", "mfa-prod"),
            (
                "MFA_SECRETS_KEY_ID",
                "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ),
            ("MFA_SIGNING_KEY_ID", "alias/other-signing"),
        ])
        .expect("valid settings");
        assert_eq!(settings.table, "mfa-prod");
        assert!(settings.secrets_key_id.ends_with("1234567890ab"));
        assert_eq!(settings.signing_key_id, "alias/other-signing");
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let cases = [
            ("MFA_TABLE", "ab"),
            ("MFA_TABLE", "has space"),
            ("MFA_TABLE", ""),
            ("MFA_SECRETS_KEY_ID", ""),
            ("MFA_SECRETS_KEY_ID", "alias/"),
            ("MFA_SIGNING_KEY_ID", "key with space"),
        ];
        for (variable, value) in cases {
            let error = settings_from(&[(variable, value)]).expect_err("invalid value");
            assert_eq!(error.variable, variable, "value {value:?}");
            assert!(!error.problem.is_empty(), "value {value:?}");
        }
    }
}
