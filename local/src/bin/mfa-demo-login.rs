//! `mfa-demo-login`: the demo login service of `mfa-local` as a command, for runs where the
//! MFA service is another process, such as the Lambda functions under `cargo lambda watch`.
//! Its P-256 key is kept in a PKCS#8 PEM file, so that every run signs with the same key.
//!
//! ```text
//! mfa-demo-login new-key login.pem
//! mfa-demo-login env login.pem        # MFA_LOGIN_ISSUER=..., MFA_LOGIN_AUDIENCE=..., MFA_LOGIN_JWKS=...
//! mfa-demo-login assertion login.pem --email ana@example.com --account acme=member
//! ```

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mfa_shared::clock::{Clock, SystemClock};
use mfa_shared::domain::model::{AccountSlug, LoginMethod, Role, UserId};
use mfa_shared::embedded::demo_login::{DEMO_LOGIN_AUDIENCE, DEMO_LOGIN_ISSUER};
use mfa_shared::embedded::{DemoIdentity, DemoLogin};
use mfa_shared::random::OsRandom;

/// Signs demo login assertions with a P-256 key kept in a file.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a new P-256 private key as PKCS#8 PEM to KEY_FILE, which must not exist.
    NewKey {
        /// Path of the key file to create.
        key_file: PathBuf,
    },

    /// Print the variables that make the MFA service trust KEY_FILE's assertions, one
    /// NAME=VALUE line each: MFA_LOGIN_ISSUER, MFA_LOGIN_AUDIENCE and MFA_LOGIN_JWKS.
    Env {
        /// P-256 private key in PKCS#8 PEM, as `new-key` writes it.
        key_file: PathBuf,
    },

    /// Print a login assertion signed with KEY_FILE, valid for 5 minutes from now.
    Assertion {
        /// P-256 private key in PKCS#8 PEM, as `new-key` writes it.
        key_file: PathBuf,

        /// Email address of the user (claim `email`).
        #[arg(long)]
        email: String,

        /// Login method of the first sign-in step: email, google or saml.
        #[arg(long, default_value = "email", value_parser = parse_login_method)]
        login_method: LoginMethod,

        /// An account and the user's role in it, as SLUG=ROLE with ROLE one of owner,
        /// admin or member. Repeat the option for more accounts.
        #[arg(long = "account", required = true, value_parser = parse_account)]
        accounts: Vec<(AccountSlug, Role)>,

        /// User id (claim `sub`). The default is derived from the email, as `mfa-local`
        /// derives it for `POST /dev/login`.
        #[arg(long, value_parser = parse_user_id)]
        user_id: Option<UserId>,
    },
}

fn parse_login_method(value: &str) -> Result<LoginMethod, String> {
    LoginMethod::parse(value).map_err(|error| error.to_string())
}

fn parse_user_id(value: &str) -> Result<UserId, String> {
    UserId::parse(value).map_err(|error| error.to_string())
}

fn parse_account(value: &str) -> Result<(AccountSlug, Role), String> {
    let (slug, role) = value
        .split_once('=')
        .ok_or("must be SLUG=ROLE, for example acme=member")?;
    let slug = AccountSlug::parse(slug).map_err(|error| format!("slug {error}"))?;
    let role = Role::parse(role).map_err(|error| format!("role {error}"))?;
    Ok((slug, role))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    match args.command {
        Command::NewKey { key_file } => write_new_key(&key_file),
        Command::Env { key_file } => {
            let login = read_key(&key_file)?;
            println!("MFA_LOGIN_ISSUER={DEMO_LOGIN_ISSUER}");
            println!("MFA_LOGIN_AUDIENCE={DEMO_LOGIN_AUDIENCE}");
            println!("MFA_LOGIN_JWKS={}", login.jwks_json());
            Ok(())
        }
        Command::Assertion {
            key_file,
            email,
            login_method,
            accounts,
            user_id,
        } => {
            let login = read_key(&key_file)?;
            let identity = DemoIdentity {
                email,
                login_method,
                accounts: BTreeMap::from_iter(accounts),
                user_id,
            };
            let assertion = login
                .assertion(&identity, SystemClock.now(), &OsRandom)
                .await?;
            println!("{assertion}");
            Ok(())
        }
    }
}

/// Writes a fresh key, readable only by its owner on Unix. An existing file is kept.
fn write_new_key(path: &Path) -> Result<(), String> {
    let pem = DemoLogin::generate(&OsRandom)
        .to_pkcs8_pem()
        .map_err(|error| format!("failed to encode the new key: {error}"))?;

    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|error| {
        if error.kind() == ErrorKind::AlreadyExists {
            format!(
                "key file {} already exists: remove it or choose another path",
                path.display()
            )
        } else {
            format!("failed to create key file {}: {error}", path.display())
        }
    })?;
    file.write_all(pem.as_bytes())
        .map_err(|error| format!("failed to write key file {}: {error}", path.display()))
}

fn read_key(path: &Path) -> Result<DemoLogin, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|error| format!("failed to read key file {}: {error}", path.display()))?;
    DemoLogin::from_pkcs8_pem(&pem).map_err(|error| {
        format!(
            "key file {} is invalid: expected a P-256 private key in PKCS#8 PEM ({error})",
            path.display()
        )
    })
}
