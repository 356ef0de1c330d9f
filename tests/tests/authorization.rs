//! Authorization of every route against every kind of caller, as one table.
//!
//! The users are signed in and enrolled once per test. Each row then gets fresh
//! credentials of its caller kind (a new session or ticket), so routes that end a session
//! (sign-out, switch, refresh) do not disturb later rows. A row whose success adds or
//! removes the caller's own factor (confirm, disable) runs as a new user of the same kind,
//! so later rows still see the state the caller kind promises.

use std::fmt;

use mfa_shared::domain::totp::TotpSecret;
use mfa_tests::{secret_from_base32, tokens, Harness, Reply};
use serde_json::{json, Value};

const ACME_MEMBER: &[(&str, &str)] = &[("acme", "member")];
const ACME_ADMIN: &[(&str, &str)] = &[("acme", "admin")];
const ACME_OWNER: &[(&str, &str)] = &[("acme", "owner")];
const OTHER_OWNER: &[(&str, &str)] = &[("other", "owner")];
const STRICT_OWNER: &[(&str, &str)] = &[("strict", "owner")];
const STRICT_MEMBER: &[(&str, &str)] = &[("strict", "member")];

/// A well-formed MFA ticket that the service never issued.
const UNKNOWN_TICKET: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// A well-formed refresh token that the service never issued.
const UNKNOWN_REFRESH_TOKEN: &str =
    "00000000000000000000000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// A well-formed enrollment id that the service never issued.
const UNKNOWN_ENROLLMENT_ID: &str = "00000000000000000000000000000000";
/// A well-formed code sent by callers who have no factor to take a code from.
const PLACEHOLDER_CODE: &str = "000000";

/// Who sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// No `Authorization` header and no credential in the body.
    Anonymous,
    /// A challenge ticket of an enrolled member of `acme`, sent as the bearer token.
    Ticket,
    /// An enrolled member of `acme` signed in with SAML, so the session has `aal` 1.
    Aal1,
    /// An enrolled member of `acme` who answered a TOTP challenge, so `aal` 2.
    Aal2,
    /// A member of `acme` without a factor, with an `aal` 1 session.
    Member,
    /// An enrolled admin of `acme` at `aal` 2.
    Admin,
    /// An enrolled owner of `acme` at `aal` 2.
    Owner,
    /// An enrolled owner of `other` at `aal` 2, whose session is for `other`.
    OtherAccount,
    /// A member of `strict`, which requires MFA, holding the enrollment ticket that
    /// sign-in returned and sending it in the `mfa_ticket` field.
    ForcedEnrollee,
    /// The same enrollment ticket, sent as the bearer token.
    EnrollmentTicketAsBearer,
    /// A challenge ticket sent in the `mfa_ticket` field of the enrollment routes.
    ChallengeTicketInBody,
    /// The access and refresh tokens of an `aal` 2 session that was signed out.
    SignedOut,
}

/// The caller kinds every route is tested against, in the order of the table's columns.
const CALLERS: [Caller; 8] = [
    Caller::Anonymous,
    Caller::Ticket,
    Caller::Aal1,
    Caller::Aal2,
    Caller::Member,
    Caller::Admin,
    Caller::Owner,
    Caller::OtherAccount,
];

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let description = match self {
            Self::Anonymous => "anonymous",
            Self::Ticket => "MFA ticket as bearer",
            Self::Aal1 => "aal 1 session (SAML, enrolled member)",
            Self::Aal2 => "aal 2 session (enrolled member)",
            Self::Member => "plain member (no factor, aal 1)",
            Self::Admin => "admin of acme (aal 2)",
            Self::Owner => "owner of acme (aal 2)",
            Self::OtherAccount => "owner of account other (session for other)",
            Self::ForcedEnrollee => "enrollment ticket in the body",
            Self::EnrollmentTicketAsBearer => "enrollment ticket as bearer",
            Self::ChallengeTicketInBody => "challenge ticket in the body",
            Self::SignedOut => "signed-out aal 2 session",
        };
        f.write_str(description)
    }
}

/// An operation of the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
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

const ADMIN_ROUTES: [Route; 4] = [
    Route::ReadEnforcement,
    Route::ChangeEnforcement,
    Route::ListMembers,
    Route::ResetMemberMfa,
];

const SESSION_ROUTES: [Route; 11] = [
    Route::SwitchAccount,
    Route::SignOut,
    Route::MfaStatus,
    Route::StartEnrollment,
    Route::ConfirmEnrollment,
    Route::RegenerateBackupCodes,
    Route::DisableMfa,
    Route::ReadEnforcement,
    Route::ChangeEnforcement,
    Route::ListMembers,
    Route::ResetMemberMfa,
];

impl Route {
    fn method(self) -> &'static str {
        match self {
            Self::Jwks | Self::MfaStatus | Self::ReadEnforcement | Self::ListMembers => "GET",
            Self::SignOut | Self::DisableMfa | Self::ResetMemberMfa => "DELETE",
            Self::ChangeEnforcement => "PUT",
            _ => "POST",
        }
    }

    /// Returns the path, with `slug` for the account and `user_id` for the reset target.
    fn path(self, slug: &str, user_id: &str) -> String {
        match self {
            Self::Jwks => "/.well-known/jwks.json".to_owned(),
            Self::SignIn => "/v1/sessions".to_owned(),
            Self::AnswerChallenge => "/v1/sessions/mfa".to_owned(),
            Self::Refresh => "/v1/sessions/refresh".to_owned(),
            Self::SwitchAccount => "/v1/sessions/switch".to_owned(),
            Self::SignOut => "/v1/sessions/current".to_owned(),
            Self::MfaStatus | Self::DisableMfa => "/v1/me/mfa".to_owned(),
            Self::StartEnrollment => "/v1/me/mfa/enrollment".to_owned(),
            Self::ConfirmEnrollment => "/v1/me/mfa/enrollment/confirm".to_owned(),
            Self::RegenerateBackupCodes => "/v1/me/mfa/backup-codes".to_owned(),
            Self::ReadEnforcement | Self::ChangeEnforcement => {
                format!("/v1/accounts/{slug}/settings/security")
            }
            Self::ListMembers => format!("/v1/accounts/{slug}/members"),
            Self::ResetMemberMfa => format!("/v1/accounts/{slug}/members/{user_id}/mfa"),
        }
    }

    /// Reports whether success adds or removes the caller's own factor.
    fn changes_own_factor(self) -> bool {
        matches!(self, Self::ConfirmEnrollment | Self::DisableMfa)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method(), self.path("{slug}", "{user_id}"))
    }
}

/// The expected outcome of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A success with this status.
    Success(u16),
    /// An error with this status and `error.code`.
    Error(u16, &'static str),
}

impl Expect {
    fn is_success(self) -> bool {
        matches!(self, Self::Success(_))
    }

    fn matches(self, reply: &Reply) -> bool {
        match self {
            Self::Success(status) => reply.status == status,
            Self::Error(status, code) => reply.status == status && reply.error_code() == code,
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Success(status) => write!(f, "{status}"),
            Self::Error(status, code) => write!(f, "{status} {code}"),
        }
    }
}

const OK: Expect = Expect::Success(200);
const NO_CONTENT: Expect = Expect::Success(204);
const UNAUTHENTICATED: Expect = Expect::Error(401, "unauthenticated");
const INVALID_TICKET: Expect = Expect::Error(401, "invalid_ticket");
const INVALID_CODE: Expect = Expect::Error(401, "invalid_code");
const FORBIDDEN: Expect = Expect::Error(403, "forbidden");
const ALREADY_ENROLLED: Expect = Expect::Error(409, "already_enrolled");

/// Every route against the caller kinds of [`CALLERS`], in that column order: anonymous,
/// ticket, aal 1, aal 2, member, admin, owner, other account.
const TABLE: [(Route, [Expect; 8]); 15] = [
    (Route::Jwks, [OK; 8]),
    // The bearer is ignored because the login assertion in the body is the credential.
    (Route::SignIn, [OK; 8]),
    // Only the ticket holder has a ticket to send. The others send an unknown one, with
    // a current code when they have a factor.
    (
        Route::AnswerChallenge,
        [
            INVALID_CODE,
            OK,
            INVALID_CODE,
            INVALID_CODE,
            INVALID_CODE,
            INVALID_CODE,
            INVALID_CODE,
            INVALID_CODE,
        ],
    ),
    // The refresh token in the body is the credential. The ticket holder sends its
    // ticket there and anonymous sends an unknown token.
    (
        Route::Refresh,
        [UNAUTHENTICATED, UNAUTHENTICATED, OK, OK, OK, OK, OK, OK],
    ),
    // Everyone switches to `acme`, which the owner of `other` does not belong to.
    (
        Route::SwitchAccount,
        [
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            OK,
            OK,
            OK,
            OK,
            OK,
            FORBIDDEN,
        ],
    ),
    (
        Route::SignOut,
        [
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            NO_CONTENT,
            NO_CONTENT,
            NO_CONTENT,
            NO_CONTENT,
            NO_CONTENT,
            NO_CONTENT,
        ],
    ),
    (
        Route::MfaStatus,
        [UNAUTHENTICATED, UNAUTHENTICATED, OK, OK, OK, OK, OK, OK],
    ),
    (
        Route::StartEnrollment,
        [
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            ALREADY_ENROLLED,
            ALREADY_ENROLLED,
            OK,
            ALREADY_ENROLLED,
            ALREADY_ENROLLED,
            ALREADY_ENROLLED,
        ],
    ),
    (
        Route::ConfirmEnrollment,
        [
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            ALREADY_ENROLLED,
            ALREADY_ENROLLED,
            OK,
            ALREADY_ENROLLED,
            ALREADY_ENROLLED,
            ALREADY_ENROLLED,
        ],
    ),
    // Needs `aal` 2, so the SAML session is rejected although its member has a factor.
    (
        Route::RegenerateBackupCodes,
        [
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            FORBIDDEN,
            OK,
            FORBIDDEN,
            OK,
            OK,
            OK,
        ],
    ),
    (
        Route::DisableMfa,
        [
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            FORBIDDEN,
            NO_CONTENT,
            FORBIDDEN,
            NO_CONTENT,
            NO_CONTENT,
            NO_CONTENT,
        ],
    ),
    // Owners and admins of the path's account only.
    (
        Route::ReadEnforcement,
        [
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            FORBIDDEN,
            OK,
            OK,
            FORBIDDEN,
        ],
    ),
    (
        Route::ChangeEnforcement,
        [
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            FORBIDDEN,
            OK,
            OK,
            FORBIDDEN,
        ],
    ),
    (
        Route::ListMembers,
        [
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            FORBIDDEN,
            OK,
            OK,
            FORBIDDEN,
        ],
    ),
    (
        Route::ResetMemberMfa,
        [
            UNAUTHENTICATED,
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            FORBIDDEN,
            NO_CONTENT,
            NO_CONTENT,
            FORBIDDEN,
        ],
    ),
];

/// A row outside the main table: a special caller, or a path slug other than `acme`.
struct ExtraRow {
    description: &'static str,
    route: Route,
    caller: Caller,
    slug: &'static str,
    expected: Expect,
}

fn extra_rows() -> Vec<ExtraRow> {
    let mut rows = Vec::new();
    for route in ADMIN_ROUTES {
        for caller in [Caller::Admin, Caller::Owner] {
            rows.push(ExtraRow {
                description: "path slug differs from the session's account",
                route,
                caller,
                slug: "other",
                expected: FORBIDDEN,
            });
        }
    }
    for route in SESSION_ROUTES {
        rows.push(ExtraRow {
            description: "an enrollment ticket is no session",
            route,
            caller: Caller::EnrollmentTicketAsBearer,
            slug: "acme",
            expected: UNAUTHENTICATED,
        });
    }
    for route in SESSION_ROUTES.into_iter().chain([Route::Refresh]) {
        rows.push(ExtraRow {
            description: "a signed-out session's tokens stop working",
            route,
            caller: Caller::SignedOut,
            slug: "acme",
            expected: UNAUTHENTICATED,
        });
    }
    let forced = [
        (
            "forced enrollment starts with the ticket",
            Route::StartEnrollment,
            Caller::ForcedEnrollee,
            OK,
        ),
        (
            "forced enrollment confirms with the ticket",
            Route::ConfirmEnrollment,
            Caller::ForcedEnrollee,
            OK,
        ),
        (
            "an enrollment ticket cannot answer a challenge",
            Route::AnswerChallenge,
            Caller::ForcedEnrollee,
            INVALID_CODE,
        ),
        (
            "an enrollment ticket is no refresh token",
            Route::Refresh,
            Caller::ForcedEnrollee,
            UNAUTHENTICATED,
        ),
        (
            "a challenge ticket cannot start an enrollment",
            Route::StartEnrollment,
            Caller::ChallengeTicketInBody,
            INVALID_TICKET,
        ),
        (
            "a challenge ticket cannot confirm an enrollment",
            Route::ConfirmEnrollment,
            Caller::ChallengeTicketInBody,
            INVALID_TICKET,
        ),
    ];
    for (description, route, caller, expected) in forced {
        rows.push(ExtraRow {
            description,
            route,
            caller,
            slug: "acme",
            expected,
        });
    }
    rows
}

/// A user that callers are minted from.
struct User {
    email: String,
    accounts: &'static [(&'static str, &'static str)],
    account: &'static str,
    /// `saml` or `email`: how this user's sessions are signed in.
    method: &'static str,
    secret: Option<TotpSecret>,
}

/// Where a caller puts its MFA ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TicketPlacement {
    Bearer,
    Body,
}

/// What a caller presents: a bearer token, a refresh token, a ticket, and the secret
/// to take current codes from.
#[derive(Default)]
struct Credentials {
    bearer: Option<String>,
    refresh: Option<String>,
    ticket: Option<(String, TicketPlacement)>,
    secret: Option<TotpSecret>,
}

/// The users of one test, and the harness they live in.
struct World {
    harness: Harness,
    ticket_holder: User,
    aal1: User,
    aal2: User,
    member: User,
    admin: User,
    owner: User,
    other_owner: User,
    /// The member of `acme` whom admins reset.
    reset_target: String,
    /// Counter for the emails of users made for one row.
    new_users: usize,
}

impl World {
    async fn new() -> Self {
        let harness = Harness::new();
        let mut world = Self {
            harness,
            ticket_holder: user("tia@acme.test", ACME_MEMBER, "email"),
            aal1: user("sam@acme.test", ACME_MEMBER, "saml"),
            aal2: user("mia@acme.test", ACME_MEMBER, "email"),
            member: user("una@acme.test", ACME_MEMBER, "email"),
            admin: user("adam@acme.test", ACME_ADMIN, "email"),
            owner: user("olga@acme.test", ACME_OWNER, "email"),
            other_owner: user("otto@other.test", OTHER_OWNER, "email"),
            reset_target: Harness::user_id("tess@acme.test").to_string(),
            new_users: 0,
        };
        world.ticket_holder.secret = Some(world.enroll(&world.ticket_holder).await);
        world.aal1.secret = Some(world.enroll(&world.aal1).await);
        world.aal2.secret = Some(world.enroll(&world.aal2).await);
        world.admin.secret = Some(world.enroll(&world.admin).await);
        world.owner.secret = Some(world.enroll(&world.owner).await);
        world.other_owner.secret = Some(world.enroll(&world.other_owner).await);

        // The reset target becomes a member of `acme` by signing in once.
        world
            .harness
            .session("tess@acme.test", "email", ACME_MEMBER, "acme")
            .await;

        // `strict` requires MFA, so its unenrolled members get enrollment tickets.
        let strict_owner = user("stella@strict.test", STRICT_OWNER, "email");
        let (_, access) = world.enroll_with_session(&strict_owner).await;
        let body = json!({ "require_mfa": true });
        let reply = world
            .harness
            .call(
                "PUT",
                "/v1/accounts/strict/settings/security",
                Some(&access),
                Some(body),
            )
            .await;
        assert_eq!(reply.status, 200, "require MFA for strict: {}", reply.json);
        world
    }

    /// Signs `user` in by email without a factor and enrolls them. Returns the secret.
    async fn enroll(&self, user: &User) -> TotpSecret {
        self.enroll_with_session(user).await.0
    }

    /// Like [`World::enroll`], and returns the `aal` 1 access token used to enroll too.
    async fn enroll_with_session(&self, user: &User) -> (TotpSecret, String) {
        let session = self
            .harness
            .session(&user.email, "email", user.accounts, user.account)
            .await;
        let enrollment = self.harness.enroll(&session.access).await;
        (enrollment.secret, session.access)
    }

    /// Returns a code of `secret` at a step that no earlier request used.
    fn fresh_code(&self, secret: &TotpSecret) -> String {
        self.harness.next_step();
        self.harness.code(secret, 0)
    }

    /// Makes a user of the same kind as `template`, enrolled when it is.
    async fn new_user_like(&mut self, template: &User) -> User {
        self.new_users += 1;
        let (local, domain) = template.email.split_once('@').expect("email has @");
        let mut user = user(
            &format!("{local}-{}@{domain}", self.new_users),
            template.accounts,
            template.method,
        );
        user.account = template.account;
        if template.secret.is_some() {
            user.secret = Some(self.enroll(&user).await);
        }
        user
    }

    /// Signs `user` in and returns a session, answering the challenge when one comes.
    async fn session_of(&self, user: &User) -> Credentials {
        let reply = self
            .harness
            .sign_in(&user.email, user.method, user.accounts, user.account)
            .await;
        let reply = if reply.json["status"] == "mfa_required" {
            let secret = user
                .secret
                .as_ref()
                .expect("a challenged user has a secret");
            let code = self.fresh_code(secret);
            self.harness.answer(&reply.text("/mfa_ticket"), &code).await
        } else {
            reply
        };
        let session = tokens(&reply);
        Credentials {
            bearer: Some(session.access),
            refresh: Some(session.refresh),
            ticket: None,
            secret: user.secret.clone(),
        }
    }

    /// Signs `user` in and returns the ticket that sign-in issued.
    async fn ticket_of(&self, user: &User, placement: TicketPlacement) -> Credentials {
        let reply = self
            .harness
            .sign_in(&user.email, user.method, user.accounts, user.account)
            .await;
        assert_eq!(
            reply.status, 200,
            "sign-in of {}: {}",
            user.email, reply.json
        );
        let ticket = reply.text("/mfa_ticket");
        Credentials {
            bearer: (placement == TicketPlacement::Bearer).then(|| ticket.clone()),
            refresh: None,
            ticket: Some((ticket, placement)),
            secret: user.secret.clone(),
        }
    }

    /// Returns fresh credentials of `caller`, for a new user of that kind when `new_user`.
    async fn credentials(&mut self, caller: Caller, new_user: bool) -> Credentials {
        let template = match caller {
            Caller::Anonymous => return Credentials::default(),
            Caller::Ticket => {
                return self
                    .ticket_of(&self.ticket_holder, TicketPlacement::Bearer)
                    .await
            }
            Caller::ChallengeTicketInBody => {
                return self
                    .ticket_of(&self.ticket_holder, TicketPlacement::Body)
                    .await
            }
            Caller::ForcedEnrollee | Caller::EnrollmentTicketAsBearer => {
                // Each enrollee is new: once enrolled, sign-in returns a challenge instead.
                self.new_users += 1;
                let newcomer = user(
                    &format!("nick-{}@strict.test", self.new_users),
                    STRICT_MEMBER,
                    "email",
                );
                let placement = if caller == Caller::ForcedEnrollee {
                    TicketPlacement::Body
                } else {
                    TicketPlacement::Bearer
                };
                return self.ticket_of(&newcomer, placement).await;
            }
            Caller::SignedOut => {
                let credentials = self.session_of(&self.aal2).await;
                let reply = self
                    .harness
                    .call(
                        "DELETE",
                        "/v1/sessions/current",
                        credentials.bearer.as_deref(),
                        None,
                    )
                    .await;
                assert_eq!(reply.status, 204, "sign-out: {}", reply.json);
                return credentials;
            }
            Caller::Aal1 => &self.aal1,
            Caller::Aal2 => &self.aal2,
            Caller::Member => &self.member,
            Caller::Admin => &self.admin,
            Caller::Owner => &self.owner,
            Caller::OtherAccount => &self.other_owner,
        };
        if new_user {
            let template = User {
                email: template.email.clone(),
                accounts: template.accounts,
                account: template.account,
                method: template.method,
                secret: template.secret.clone(),
            };
            let user = self.new_user_like(&template).await;
            self.session_of(&user).await
        } else {
            self.session_of(template).await
        }
    }

    /// Sends `route` as `caller` with the account `slug` in the path.
    async fn send(&mut self, route: Route, caller: Caller, slug: &str, expected: Expect) -> Reply {
        let new_user = route.changes_own_factor() && expected.is_success();
        let credentials = self.credentials(caller, new_user).await;
        let path = route.path(slug, &self.reset_target);
        let body = self.body(route, &credentials).await;
        self.harness
            .call(route.method(), &path, credentials.bearer.as_deref(), body)
            .await
    }

    /// Builds a body that is valid for `route`, so only the caller decides the outcome.
    async fn body(&self, route: Route, credentials: &Credentials) -> Option<Value> {
        let code = || match &credentials.secret {
            Some(secret) => self.fresh_code(secret),
            None => PLACEHOLDER_CODE.to_owned(),
        };
        let body_ticket = match &credentials.ticket {
            Some((ticket, TicketPlacement::Body)) => Some(ticket.clone()),
            _ => None,
        };
        let held_ticket = credentials
            .ticket
            .as_ref()
            .map(|(ticket, _)| ticket.clone());
        match route {
            Route::Jwks
            | Route::SignOut
            | Route::MfaStatus
            | Route::ReadEnforcement
            | Route::ListMembers
            | Route::ResetMemberMfa => None,
            Route::SignIn => {
                let assertion = self
                    .harness
                    .assertion("nora@acme.test", "email", ACME_MEMBER)
                    .await;
                Some(json!({ "login_assertion": assertion, "account": "acme" }))
            }
            Route::AnswerChallenge => Some(json!({
                "mfa_ticket": held_ticket.unwrap_or_else(|| UNKNOWN_TICKET.to_owned()),
                "code": code(),
            })),
            Route::Refresh => {
                let token = credentials
                    .refresh
                    .clone()
                    .or(held_ticket)
                    .unwrap_or_else(|| UNKNOWN_REFRESH_TOKEN.to_owned());
                Some(json!({ "refresh_token": token }))
            }
            Route::SwitchAccount => Some(json!({ "account": "acme" })),
            Route::StartEnrollment => body_ticket.map(|ticket| json!({ "mfa_ticket": ticket })),
            Route::ConfirmEnrollment => {
                let (enrollment_id, code) = self.start_enrollment(credentials).await;
                let mut body = json!({ "enrollment_id": enrollment_id, "code": code });
                if let Some(ticket) = body_ticket {
                    body["mfa_ticket"] = Value::from(ticket);
                }
                Some(body)
            }
            Route::RegenerateBackupCodes | Route::DisableMfa => Some(json!({ "code": code() })),
            Route::ChangeEnforcement => Some(json!({ "require_mfa": false })),
        }
    }

    /// Starts an enrollment with `credentials` and returns its id and a current code.
    /// When the caller may not start one, returns an unknown id and a placeholder code,
    /// so that confirming fails on the caller alone.
    async fn start_enrollment(&self, credentials: &Credentials) -> (String, String) {
        let body = match &credentials.ticket {
            Some((ticket, TicketPlacement::Body)) => Some(json!({ "mfa_ticket": ticket })),
            _ => None,
        };
        let started = self
            .harness
            .call(
                "POST",
                "/v1/me/mfa/enrollment",
                credentials.bearer.as_deref(),
                body,
            )
            .await;
        if started.status != 200 {
            return (
                UNKNOWN_ENROLLMENT_ID.to_owned(),
                PLACEHOLDER_CODE.to_owned(),
            );
        }
        let secret = secret_from_base32(&started.text("/secret"));
        (
            started.text("/enrollment_id"),
            self.harness.code(&secret, 0),
        )
    }
}

fn user(
    email: &str,
    accounts: &'static [(&'static str, &'static str)],
    method: &'static str,
) -> User {
    User {
        email: email.to_owned(),
        accounts,
        account: accounts[0].0,
        method,
        secret: None,
    }
}

/// Checks a reply against a row and returns the failure message, if any.
fn check(row: &str, expected: Expect, reply: &Reply) -> Option<String> {
    if reply.status >= 500 {
        return Some(format!(
            "{row}: server error {} {}",
            reply.status, reply.json
        ));
    }
    if expected.matches(reply) {
        return None;
    }
    Some(format!(
        "{row}: expected {expected}, got {} {}",
        reply.status, reply.json
    ))
}

#[tokio::test]
async fn every_route_every_caller() {
    let mut world = World::new().await;
    let mut failures = Vec::new();

    for (route, expectations) in TABLE {
        for (caller, expected) in CALLERS.into_iter().zip(expectations) {
            let reply = world.send(route, caller, "acme", expected).await;
            let row = format!("{route} as {caller}");
            failures.extend(check(&row, expected, &reply));
        }
    }
    for extra in extra_rows() {
        let reply = world
            .send(extra.route, extra.caller, extra.slug, extra.expected)
            .await;
        let row = format!(
            "{} as {} with slug {} ({})",
            extra.route, extra.caller, extra.slug, extra.description
        );
        failures.extend(check(&row, extra.expected, &reply));
    }

    // Resetting a member of another account, an unknown user or an impossible user id
    // must be indistinguishable.
    let owner = world.session_of(&world.owner).await;
    let owner_access = owner.bearer.as_deref();
    let foreign = Harness::user_id(&world.other_owner.email).to_string();
    let mut not_found = Vec::new();
    for (description, target) in [
        ("member of another account", foreign.as_str()),
        ("unknown user", "u-0000000000000000"),
        ("invalid user id", "has%20space"),
    ] {
        let path = format!("/v1/accounts/acme/members/{target}/mfa");
        let reply = world
            .harness
            .call("DELETE", &path, owner_access, None)
            .await;
        let row = format!("DELETE {path} as owner of acme ({description})");
        failures.extend(check(&row, Expect::Error(404, "not_found"), &reply));
        not_found.push((description, reply));
    }
    for (description, reply) in &not_found[1..] {
        if reply.body != not_found[0].1.body {
            failures.push(format!(
                "reset of {description} differs from reset of {}: {:?} vs {:?}",
                not_found[0].0, reply.body, not_found[0].1.body
            ));
        }
    }

    // The failed reset left the other account's owner enrolled.
    let other = world.session_of(&world.other_owner).await;
    let status = world
        .harness
        .call("GET", "/v1/me/mfa", other.bearer.as_deref(), None)
        .await;
    if status.json["enrolled"] != true {
        failures.push(format!(
            "foreign reset changed the target's factor: {}",
            status.json
        ));
    }

    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
