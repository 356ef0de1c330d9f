//! The operations of the HTTP API, one handler each, written against the ports.
//! Every handler reads as: parse, authorize, act, respond.

mod admin;
mod auth;
mod codes;
mod enrollment;
mod sessions;
mod time;

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::backup::BackupHasher;
use crate::error::ApiError;
use crate::http::{self, PathParams, Request, RequestContext, Response};
use crate::ports::{SecretCipher, Store, TokenSigner};
use crate::random::Random;
use crate::tokens::access::AccessTokens;
use crate::tokens::assertion::AssertionVerifier;
use crate::tokens::jwt::{EcJwk, JwkSet};

pub use time::rfc3339;

/// Everything the handlers use: the ports and the verifiers built from configuration.
#[derive(Debug, Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub cipher: Arc<dyn SecretCipher>,
    pub signer: Arc<dyn TokenSigner>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub hasher: BackupHasher,
    pub assertions: AssertionVerifier,
    pub access: AccessTokens,
    /// Issuer label shown in authenticator apps.
    pub totp_issuer: String,
}

/// The parts an [`App`] is built from.
#[derive(Debug)]
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub cipher: Arc<dyn SecretCipher>,
    pub signer: Arc<dyn TokenSigner>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
}

impl App {
    /// Builds the application from its ports and the configuration.
    pub fn new(parts: Parts, config: &crate::config::Config) -> Self {
        let access = AccessTokens {
            issuer: config.token_issuer.clone(),
            audience: config.token_audience.clone(),
            keys: crate::tokens::jwt::KeySet::single(
                parts.signer.key_id(),
                *parts.signer.verifying_key(),
            ),
        };
        Self {
            store: parts.store,
            cipher: parts.cipher,
            signer: parts.signer,
            clock: parts.clock,
            random: parts.random,
            hasher: BackupHasher::new(),
            assertions: AssertionVerifier {
                keys: config.login_keys.clone(),
                issuer: config.login_issuer.clone(),
                audience: config.login_audience.clone(),
            },
            access,
            totp_issuer: config.totp_issuer.clone(),
        }
    }

    /// Returns the JWKS document of the access-token signing key.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![EcJwk::from_key(
                self.signer.verifying_key(),
                self.signer.key_id(),
            )],
        }
    }
}

/// One operation of the HTTP API; each is one Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Jwks,
    SignIn,
    AnswerChallenge,
    Refresh,
    SwitchAccount,
    SignOut,
    MfaStatus,
    StartEnrollment,
    ConfirmEnrollment,
    RegenerateBackupCodes,
    DisableMfa,
    ReadEnforcement,
    ChangeEnforcement,
    ListMembers,
    ResetMemberMfa,
}

impl Operation {
    /// Every operation, in the order of the route table.
    pub const ALL: [Operation; 15] = [
        Self::Jwks,
        Self::SignIn,
        Self::AnswerChallenge,
        Self::Refresh,
        Self::SwitchAccount,
        Self::SignOut,
        Self::MfaStatus,
        Self::StartEnrollment,
        Self::ConfirmEnrollment,
        Self::RegenerateBackupCodes,
        Self::DisableMfa,
        Self::ReadEnforcement,
        Self::ChangeEnforcement,
        Self::ListMembers,
        Self::ResetMemberMfa,
    ];

    /// Returns the operation's name, as logged and as its function crate is named
    /// (with `-` for `_`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Jwks => "jwks",
            Self::SignIn => "sign_in",
            Self::AnswerChallenge => "answer_challenge",
            Self::Refresh => "refresh",
            Self::SwitchAccount => "switch_account",
            Self::SignOut => "sign_out",
            Self::MfaStatus => "mfa_status",
            Self::StartEnrollment => "start_enrollment",
            Self::ConfirmEnrollment => "confirm_enrollment",
            Self::RegenerateBackupCodes => "regenerate_backup_codes",
            Self::DisableMfa => "disable_mfa",
            Self::ReadEnforcement => "read_enforcement",
            Self::ChangeEnforcement => "change_enforcement",
            Self::ListMembers => "list_members",
            Self::ResetMemberMfa => "reset_member_mfa",
        }
    }
}

/// Runs the handler of `operation`.
///
/// # Errors
/// Whatever the handler fails with; [`http::serve`] turns it into a response.
pub async fn dispatch(
    app: &App,
    operation: Operation,
    params: &PathParams,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    match operation {
        Operation::Jwks => {
            let mut response = http::json_response(200, &app.jwks());
            response.headers_mut().insert(
                ::http::header::CACHE_CONTROL,
                ::http::HeaderValue::from_static("public, max-age=300"),
            );
            Ok(response)
        }
        Operation::SignIn => sessions::sign_in(app, request, context).await,
        Operation::AnswerChallenge => sessions::answer_challenge(app, request, context).await,
        Operation::Refresh => sessions::refresh(app, request, context).await,
        Operation::SwitchAccount => sessions::switch_account(app, request, context).await,
        Operation::SignOut => sessions::sign_out(app, request, context).await,
        Operation::MfaStatus => enrollment::status(app, request, context).await,
        Operation::StartEnrollment => enrollment::start(app, request, context).await,
        Operation::ConfirmEnrollment => enrollment::confirm(app, request, context).await,
        Operation::RegenerateBackupCodes => {
            enrollment::regenerate_backup_codes(app, request, context).await
        }
        Operation::DisableMfa => enrollment::disable(app, request, context).await,
        Operation::ReadEnforcement => admin::read_enforcement(app, params, request, context).await,
        Operation::ChangeEnforcement => {
            admin::change_enforcement(app, params, request, context).await
        }
        Operation::ListMembers => admin::list_members(app, params, request, context).await,
        Operation::ResetMemberMfa => admin::reset_member(app, params, request, context).await,
    }
}
