//! Configuration read once per cold start from environment variables. A missing or invalid
//! variable stops start-up with a message that names it.

use crate::tokens::jwt::KeySet;

/// A variable is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration variable {variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// Settings every function shares.
#[derive(Debug, Clone)]
pub struct Config {
    /// `iss` of the access tokens this service signs (`MFA_TOKEN_ISSUER`).
    pub token_issuer: String,
    /// `aud` of the access tokens, the dashboard (`MFA_TOKEN_AUDIENCE`).
    pub token_audience: String,
    /// Issuer label shown in authenticator apps (`MFA_TOTP_ISSUER`, default `Dashboard`).
    pub totp_issuer: String,
    /// `iss` that login assertions must carry (`MFA_LOGIN_ISSUER`).
    pub login_issuer: String,
    /// `aud` that login assertions must carry (`MFA_LOGIN_AUDIENCE`).
    pub login_audience: String,
    /// The login service's public keys, a JWKS document (`MFA_LOGIN_JWKS`).
    pub login_keys: KeySet,
}

impl Config {
    /// Reads the configuration through `lookup` (usually `std::env::var`).
    ///
    /// # Errors
    /// Returns [`ConfigError`] naming the first missing or invalid variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |variable: &'static str| -> Result<String, ConfigError> {
            match lookup(variable) {
                Some(value) if !value.trim().is_empty() => Ok(value.trim().to_owned()),
                _ => Err(ConfigError {
                    variable,
                    problem: "is missing: set it in the function's environment".to_owned(),
                }),
            }
        };
        let totp_issuer = lookup("MFA_TOTP_ISSUER").unwrap_or_else(|| "Dashboard".to_owned());
        if totp_issuer.is_empty() || totp_issuer.contains(':') || totp_issuer.len() > 64 {
            return Err(ConfigError {
                variable: "MFA_TOTP_ISSUER",
                problem: "must be 1 to 64 characters without ':'".to_owned(),
            });
        }
        let login_keys =
            KeySet::from_jwks(&required("MFA_LOGIN_JWKS")?).map_err(|problem| ConfigError {
                variable: "MFA_LOGIN_JWKS",
                problem: format!("is invalid: {problem}"),
            })?;
        Ok(Self {
            token_issuer: required("MFA_TOKEN_ISSUER")?,
            token_audience: required("MFA_TOKEN_AUDIENCE")?,
            totp_issuer,
            login_issuer: required("MFA_LOGIN_ISSUER")?,
            login_audience: required("MFA_LOGIN_AUDIENCE")?,
            login_keys,
        })
    }

    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    /// Returns [`ConfigError`] naming the first missing or invalid variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::LocalSigner;
    use crate::ports::TokenSigner;
    use crate::random::OsRandom;
    use crate::tokens::jwt::{EcJwk, JwkSet};
    use std::collections::HashMap;

    fn environment() -> HashMap<&'static str, String> {
        let signer = LocalSigner::generate(&OsRandom);
        let jwks = JwkSet {
            keys: vec![EcJwk::from_key(signer.verifying_key(), "login-1")],
        };
        HashMap::from([
            ("MFA_TOKEN_ISSUER", "https://mfa.test".to_owned()),
            ("MFA_TOKEN_AUDIENCE", "dashboard".to_owned()),
            ("MFA_LOGIN_ISSUER", "https://login.test".to_owned()),
            ("MFA_LOGIN_AUDIENCE", "dashboard-mfa".to_owned()),
            (
                "MFA_LOGIN_JWKS",
                serde_json::to_string(&jwks).expect("serialise"),
            ),
        ])
    }

    #[test]
    fn complete_environment_loads() {
        let env = environment();
        let config = Config::from_lookup(|name| env.get(name).cloned()).expect("valid config");
        assert_eq!(config.totp_issuer, "Dashboard");
        assert_eq!(config.login_issuer, "https://login.test");
    }

    #[test]
    fn each_missing_variable_is_named() {
        for variable in [
            "MFA_TOKEN_ISSUER",
            "MFA_TOKEN_AUDIENCE",
            "MFA_LOGIN_ISSUER",
            "MFA_LOGIN_AUDIENCE",
            "MFA_LOGIN_JWKS",
        ] {
            let mut env = environment();
            env.remove(variable);
            let error =
                Config::from_lookup(|name| env.get(name).cloned()).expect_err("missing variable");
            assert_eq!(error.variable, variable);
        }
    }

    #[test]
    fn invalid_values_are_named() {
        let mut env = environment();
        env.insert("MFA_LOGIN_JWKS", "not json".to_owned());
        let error = Config::from_lookup(|name| env.get(name).cloned()).expect_err("bad JWKS");
        assert_eq!(error.variable, "MFA_LOGIN_JWKS");

        let mut env = environment();
        env.insert("MFA_TOTP_ISSUER", "a:b".to_owned());
        let error = Config::from_lookup(|name| env.get(name).cloned()).expect_err("bad issuer");
        assert_eq!(error.variable, "MFA_TOTP_ISSUER");
    }
}
