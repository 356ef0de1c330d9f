//! End-to-end test of the `mfa-local` binary over real HTTP.
//!
//! The test starts the binary on a free port of 127.0.0.1 and uses only independent
//! clients: `curl` for HTTP, `zbarimg` to read the enrollment QR code and `oathtool` as the
//! authenticator app. No code of this workspace computes a TOTP code or decodes a QR image
//! here, so a bug shared by the service and its own helpers cannot hide.
//!
//! Environment:
//! - `MFA_E2E_ARGS`: extra arguments for `mfa-local`, separated by spaces (default none),
//!   for example `--aws` to run against a DynamoDB and KMS endpoint.
//! - `MFA_E2E_ENV`: extra `NAME=VALUE` pairs for the server's environment, separated by
//!   spaces. The server also inherits the test's own environment.
//!
//! A TOTP step can be spent once per user, and the service accepts the current step and one
//! step either side. Each part of the walk therefore uses its own users, and no user needs
//! more than two codes, so the walk never waits for the next 30-second step.

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use data_encoding::{BASE64, BASE64URL_NOPAD};
use serde_json::{json, Value};

/// TOTP time step in seconds (RFC 6238 §4, and the service's setting).
const STEP_SECONDS: u64 = 30;

/// Maximum wait for the server's first response. It is long because, with `--aws`,
/// start-up may first have to reach a DynamoDB and KMS endpoint.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Time limit of one HTTP request, in seconds, passed to `curl --max-time`.
const REQUEST_TIMEOUT_SECONDS: &str = "30";

#[test]
fn service_walk_over_http() {
    let started = Instant::now();
    require_tool("curl", "curl");
    require_tool("zbarimg", "zbar-tools");
    require_tool("oathtool", "oathtool");

    let server = Server::start();
    let run = RunNames::new();
    eprintln!("e2e: accounts {} and {}", run.acme, run.other);

    let owner = enroll_and_answer_challenge(&server, &run);
    let member_id = backup_codes_and_regeneration(&server, &run, &owner);
    saml_sign_in_skips_challenge(&server, &run);
    let early_session = sign_in_before_enforcement(&server, &run);
    turn_enforcement_on(&server, &run, &owner, &early_session);
    enforcement_at_sign_in_and_refresh(&server, &run, &early_session);
    let forced = forced_enrollment(&server, &run);
    admin_reset(&server, &run, &owner, &forced);
    isolation_between_accounts(&server, &run, &owner, &member_id);
    server_log_has_no_secrets(&server);

    report(&format!(
        "e2e: walk passed on {} in {:.1} s",
        server.backend,
        started.elapsed().as_secs_f64()
    ));
}

/// Writes a line to stderr past the test harness's output capture, so that it shows even
/// when the test passes. Progress lines use `eprintln!` and show only on failure.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Names unique to this run, so that the walk can repeat against a persistent store (a
/// DynamoDB table that outlives the test) without meeting its own earlier data.
struct RunNames {
    /// The account the walk enforces MFA on.
    acme: String,
    /// A second account whose admin must not reach `acme`.
    other: String,
    suffix: String,
}

impl RunNames {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let suffix = format!("{:x}-{}", nanos & 0xffff_ffff_ffff, std::process::id());
        Self {
            acme: format!("acme-{suffix}"),
            other: format!("other-{suffix}"),
            suffix,
        }
    }

    /// Returns a run-unique email address for `name`.
    fn email(&self, name: &str) -> String {
        format!("{name}+{}@e2e.test", self.suffix)
    }
}

// ---------------------------------------------------------------------------------------
// The walk
// ---------------------------------------------------------------------------------------

/// The owner of `acme` after the first part: enrolled, with an `aal` 2 session.
struct Owner {
    session: Tokens,
    /// Body of the 401 for a wrong code, which every rejected code must match byte for byte.
    wrong_code_body: String,
}

/// Enrolls the owner with a session, then signs in again and passes the challenge with a
/// TOTP code. Checks that the confirming code, a reused code and a spent ticket all get the
/// wrong-code body.
fn enroll_and_answer_challenge(server: &Server, run: &RunNames) -> Owner {
    let member = Member::new(run, "olivia", &[(&run.acme, "owner")]);
    let reply = member.sign_in(server, "email", &run.acme);
    let session = expect_session(&reply, "owner's first sign-in");
    let claims = jwt_claims(&session.access);
    assert_eq!(claims["aal"], 1, "first sign-in is one factor: {claims}");
    assert_eq!(claims["amr"], json!(["email"]), "claims: {claims}");

    let mut app = enroll_with_session(server, &session.access, &member.email);
    let confirming_code = app.last_code.clone();

    let ticket = member.challenge(server, &run.acme);
    let wrong = answer_code(server, &ticket, &wrong_code(&app));
    assert_eq!(wrong.status, 401, "wrong code: {}", wrong.body);
    assert_eq!(
        wrong.error_code(),
        "invalid_code",
        "wrong code: {}",
        wrong.body
    );
    let reply = answer_code(server, &ticket, &confirming_code);
    assert_eq!(
        reply.body, wrong.body,
        "the code that confirmed enrollment must be spent"
    );

    let code = app.next_code();
    let reply = answer_code(server, &ticket, &code);
    let session = expect_session(&reply, "challenge answered with a TOTP code");
    let claims = jwt_claims(&session.access);
    assert_eq!(claims["aal"], 2, "claims: {claims}");
    assert_eq!(
        claims["amr"],
        json!(["email", "totp", "mfa"]),
        "claims: {claims}"
    );
    let reply = answer_backup_code(server, &ticket, &app.backup_codes[0]);
    assert_eq!(
        reply.body, wrong.body,
        "a spent ticket must get the same body as a wrong code"
    );

    let ticket = member.challenge(server, &run.acme);
    let reused = answer_code(server, &ticket, &code);
    assert_eq!(reused.status, 401, "reused code: {}", reused.body);
    assert_eq!(
        reused.body, wrong.body,
        "a reused code must get the same body as a wrong one"
    );

    eprintln!("e2e: ok enrollment, QR code, TOTP challenge, reused code rejected");
    Owner {
        session,
        wrong_code_body: wrong.body,
    }
}

/// Signs a member in with a backup code, then regenerates the set and checks that old
/// codes stop working and new ones work. Returns the member's user id.
fn backup_codes_and_regeneration(server: &Server, run: &RunNames, owner: &Owner) -> String {
    let member = Member::new(run, "bruno", &[(&run.acme, "member")]);
    let reply = member.sign_in(server, "email", &run.acme);
    let session = expect_session(&reply, "member's first sign-in");
    let user_id = subject(&session.access);
    let mut app = enroll_with_session(server, &session.access, &member.email);
    let old_codes = app.backup_codes.clone();

    let ticket = member.challenge(server, &run.acme);
    // Backup codes are typed case-insensitively, with spaces and dashes ignored.
    let typed = old_codes[0].to_uppercase().replace('-', " ");
    let reply = answer_backup_code(server, &ticket, &typed);
    let session = expect_session(&reply, "challenge answered with a backup code");
    let claims = jwt_claims(&session.access);
    assert_eq!(claims["aal"], 2, "claims: {claims}");
    assert_eq!(
        claims["amr"],
        json!(["email", "backup_code", "mfa"]),
        "claims: {claims}"
    );
    let status = server.call("GET", "/v1/me/mfa", Some(&session.access), None);
    assert_eq!(status.status, 200, "MFA status: {}", status.body);
    assert_eq!(status.json["backup_codes_remaining"], 9, "{}", status.body);

    let ticket = member.challenge(server, &run.acme);
    let reply = answer_backup_code(server, &ticket, &old_codes[0]);
    assert_eq!(
        reply.body, owner.wrong_code_body,
        "a spent backup code must get the same body as a wrong code"
    );

    let body = json!({ "code": app.next_code() });
    let reply = server.call(
        "POST",
        "/v1/me/mfa/backup-codes",
        Some(&session.access),
        Some(&body),
    );
    assert_eq!(reply.status, 200, "regenerate backup codes: {}", reply.body);
    let new_codes = string_list(&reply.json["backup_codes"]);
    assert_eq!(new_codes.len(), 10, "{}", reply.body);
    for code in &new_codes {
        assert!(!old_codes.contains(code), "regenerated code {code} is old");
    }

    let reply = answer_backup_code(server, &ticket, &old_codes[1]);
    assert_eq!(
        reply.body, owner.wrong_code_body,
        "an unused code of the replaced set must be rejected like a wrong code"
    );
    let reply = answer_backup_code(server, &ticket, &new_codes[0]);
    expect_session(&reply, "challenge answered with a regenerated backup code");

    eprintln!("e2e: ok backup code sign-in, spent code rejected, regeneration");
    user_id
}

/// Checks that an enrolled member who signs in through SAML gets a session at once.
fn saml_sign_in_skips_challenge(server: &Server, run: &RunNames) {
    let member = Member::new(run, "sami", &[(&run.acme, "member")]);
    let reply = member.sign_in(server, "email", &run.acme);
    let session = expect_session(&reply, "member's first sign-in");
    enroll_with_session(server, &session.access, &member.email);

    let reply = member.sign_in(server, "saml", &run.acme);
    let session = expect_session(&reply, "SAML sign-in of an enrolled member");
    let claims = jwt_claims(&session.access);
    assert_eq!(claims["aal"], 1, "claims: {claims}");
    assert_eq!(claims["amr"], json!(["saml"]), "claims: {claims}");

    eprintln!("e2e: ok SAML sign-in of an enrolled member skips the challenge");
}

/// Signs in an unenrolled member and refreshes the session while `acme` does not require
/// MFA yet. Returns the refreshed session.
fn sign_in_before_enforcement(server: &Server, run: &RunNames) -> Tokens {
    let member = Member::new(run, "dora", &[(&run.acme, "member")]);
    let reply = member.sign_in(server, "email", &run.acme);
    let session = expect_session(&reply, "unenrolled member before enforcement");

    let reply = refresh(server, &session.refresh);
    expect_session(&reply, "refresh before enforcement")
}

/// Turns `require_mfa` on for `acme` as the owner, after checking that a plain member
/// cannot read the setting.
fn turn_enforcement_on(server: &Server, run: &RunNames, owner: &Owner, member: &Tokens) {
    let path = format!("/v1/accounts/{}/settings/security", run.acme);
    let reply = server.call("GET", &path, Some(&member.access), None);
    assert_eq!(
        reply.status, 403,
        "member reads enforcement: {}",
        reply.body
    );
    assert_eq!(reply.error_code(), "forbidden", "{}", reply.body);

    let body = json!({ "require_mfa": true });
    let reply = server.call("PUT", &path, Some(&owner.session.access), Some(&body));
    assert_eq!(
        reply.status, 200,
        "owner turns enforcement on: {}",
        reply.body
    );
    assert_eq!(reply.json["require_mfa"], true, "{}", reply.body);
    let owner_id = subject(&owner.session.access);
    assert_eq!(reply.json["updated_by"], owner_id, "{}", reply.body);

    let reply = server.call("GET", &path, Some(&owner.session.access), None);
    assert_eq!(reply.status, 200, "owner reads enforcement: {}", reply.body);
    assert_eq!(reply.json["require_mfa"], true, "{}", reply.body);

    eprintln!("e2e: ok owner turned require_mfa on; a member may not read it");
}

/// Checks that, with enforcement on, an unenrolled member gets `enrollment_required` at
/// sign-in and at the refresh of an older session, and that SAML sign-ins stay exempt.
fn enforcement_at_sign_in_and_refresh(server: &Server, run: &RunNames, early: &Tokens) {
    let member = Member::new(run, "emil", &[(&run.acme, "member")]);
    let reply = member.sign_in(server, "email", &run.acme);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json["status"], "enrollment_required",
        "{}",
        reply.body
    );
    assert!(reply.json["mfa_ticket"].is_string(), "{}", reply.body);
    assert!(reply.json.get("session").is_none(), "{}", reply.body);

    let reply = refresh(server, &early.refresh);
    assert_eq!(
        reply.status, 200,
        "refresh after enforcement: {}",
        reply.body
    );
    assert_eq!(
        reply.json["status"], "enrollment_required",
        "{}",
        reply.body
    );
    assert!(reply.json["mfa_ticket"].is_string(), "{}", reply.body);
    let reply = refresh(server, &early.refresh);
    assert_eq!(
        reply.status, 401,
        "refresh of the ended session: {}",
        reply.body
    );

    let member = Member::new(run, "sasha", &[(&run.acme, "member")]);
    let reply = member.sign_in(server, "saml", &run.acme);
    expect_session(
        &reply,
        "SAML sign-in of an unenrolled member under enforcement",
    );

    eprintln!("e2e: ok enforcement at sign-in and at refresh; SAML sign-in exempt");
}

/// Enrolls a member with the `enrollment_required` ticket and checks that this ends in an
/// `aal` 2 session. Returns the member and that session.
fn forced_enrollment(server: &Server, run: &RunNames) -> (Member, Tokens) {
    let member = Member::new(run, "farah", &[(&run.acme, "member")]);
    let reply = member.sign_in(server, "email", &run.acme);
    assert_eq!(
        reply.json["status"], "enrollment_required",
        "{}",
        reply.body
    );
    let ticket = reply.text("/mfa_ticket");
    let reply = server.call("GET", "/v1/me/mfa", Some(&ticket), None);
    assert_eq!(
        reply.status, 401,
        "a ticket is not a session: {}",
        reply.body
    );

    let body = json!({ "mfa_ticket": ticket });
    let started = server.call("POST", "/v1/me/mfa/enrollment", None, Some(&body));
    let mut app = check_enrollment_start(&started, &member.email);
    let body = json!({
        "enrollment_id": started.text("/enrollment_id"),
        "code": app.next_code(),
        "mfa_ticket": ticket,
    });
    let reply = server.call("POST", "/v1/me/mfa/enrollment/confirm", None, Some(&body));
    assert_eq!(reply.status, 200, "forced confirm: {}", reply.body);
    assert_eq!(reply.json["enrolled"], true, "{}", reply.body);
    assert_eq!(string_list(&reply.json["backup_codes"]).len(), 10);
    let session = Tokens {
        access: reply.text("/session/access_token"),
        refresh: reply.text("/session/refresh_token"),
    };
    let claims = jwt_claims(&session.access);
    assert_eq!(claims["aal"], 2, "forced enrollment session: {claims}");
    assert_eq!(
        claims["amr"],
        json!(["email", "totp", "mfa"]),
        "claims: {claims}"
    );

    let status = server.call("GET", "/v1/me/mfa", Some(&session.access), None);
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.json["enrolled"], true, "{}", status.body);
    assert_eq!(status.json["required_by_account"], true, "{}", status.body);

    eprintln!("e2e: ok forced enrollment with the ticket ends in an aal 2 session");
    (member, session)
}

/// Resets a member as the owner and checks that the factor is gone and that the member's
/// tokens stop working.
fn admin_reset(server: &Server, run: &RunNames, owner: &Owner, target: &(Member, Tokens)) {
    let (member, session) = target;
    let user_id = subject(&session.access);
    let entry = member_entry(server, &run.acme, &owner.session, &user_id);
    assert_eq!(entry["mfa_enrolled"], true, "{entry}");
    assert_eq!(entry["role"], "member", "{entry}");
    assert_eq!(entry["email"], member.email, "{entry}");

    let path = format!("/v1/accounts/{}/members/{user_id}/mfa", run.acme);
    let reply = server.call("DELETE", &path, Some(&owner.session.access), None);
    assert_eq!(reply.status, 204, "reset: {}", reply.body);
    assert_eq!(reply.body, "", "a 204 has no body");

    let entry = member_entry(server, &run.acme, &owner.session, &user_id);
    assert_eq!(entry["mfa_enrolled"], false, "{entry}");
    assert_eq!(entry["enrolled_at"], Value::Null, "{entry}");
    let reply = refresh(server, &session.refresh);
    assert_eq!(reply.status, 401, "refresh after reset: {}", reply.body);
    assert_eq!(reply.error_code(), "unauthenticated", "{}", reply.body);
    let reply = server.call("GET", "/v1/me/mfa", Some(&session.access), None);
    assert_eq!(
        reply.status, 401,
        "access token after reset: {}",
        reply.body
    );

    let reply = member.sign_in(server, "email", &run.acme);
    assert_eq!(
        reply.json["status"], "enrollment_required",
        "sign-in after reset: {}",
        reply.body
    );

    eprintln!("e2e: ok admin reset removed the factor and revoked the refresh token");
}

/// Checks that an admin of `other` reaches nothing of `acme`, and that resetting an `acme`
/// member from `other` returns the same bytes as resetting an unknown user. The reverse
/// direction is checked too.
fn isolation_between_accounts(
    server: &Server,
    run: &RunNames,
    owner: &Owner,
    acme_member_id: &str,
) {
    let admin = Member::new(run, "xavier", &[(&run.other, "admin")]);
    let reply = admin.sign_in(server, "email", &run.other);
    let session = expect_session(&reply, "admin of other");
    let admin_id = subject(&session.access);

    let reply = admin.sign_in(server, "email", &run.acme);
    assert_eq!(
        reply.status, 403,
        "sign-in to a foreign account: {}",
        reply.body
    );
    let foreign_paths = [
        (
            "GET",
            format!("/v1/accounts/{}/settings/security", run.acme),
        ),
        (
            "PUT",
            format!("/v1/accounts/{}/settings/security", run.acme),
        ),
        ("GET", format!("/v1/accounts/{}/members", run.acme)),
        (
            "DELETE",
            format!("/v1/accounts/{}/members/{acme_member_id}/mfa", run.acme),
        ),
    ];
    for (method, path) in &foreign_paths {
        let body = (*method == "PUT").then(|| json!({ "require_mfa": false }));
        let reply = server.call(method, path, Some(&session.access), body.as_ref());
        // The session names account `other`, so every `acme` path is forbidden to it.
        assert_eq!(
            reply.status, 403,
            "{method} {path} by an admin of other: {}",
            reply.body
        );
        assert_eq!(reply.error_code(), "forbidden", "{}", reply.body);
    }

    let unknown_id = format!("u-unknown-{}", run.suffix);
    let reset = |account: &str, user_id: &str, access: &str| {
        let path = format!("/v1/accounts/{account}/members/{user_id}/mfa");
        server.call("DELETE", &path, Some(access), None)
    };
    let foreign = reset(&run.other, acme_member_id, &session.access);
    let unknown = reset(&run.other, &unknown_id, &session.access);
    assert_eq!(
        foreign.status, 404,
        "reset of a foreign user: {}",
        foreign.body
    );
    assert_eq!(
        unknown.status, 404,
        "reset of an unknown user: {}",
        unknown.body
    );
    assert_eq!(
        foreign.body, unknown.body,
        "a foreign user must look like an unknown one"
    );
    let foreign = reset(&run.acme, &admin_id, &owner.session.access);
    let unknown = reset(&run.acme, &unknown_id, &owner.session.access);
    assert_eq!(
        foreign.status, 404,
        "reset of a foreign user: {}",
        foreign.body
    );
    assert_eq!(
        foreign.body, unknown.body,
        "a foreign user must look like an unknown one"
    );

    let entry = member_entry(server, &run.acme, &owner.session, acme_member_id);
    assert_eq!(
        entry["mfa_enrolled"], true,
        "foreign reset changed nothing: {entry}"
    );
    let path = format!("/v1/accounts/{}/settings/security", run.acme);
    let reply = server.call("GET", &path, Some(&owner.session.access), None);
    assert_eq!(reply.json["require_mfa"], true, "{}", reply.body);
    let path = format!("/v1/accounts/{}/members", run.other);
    let reply = server.call("GET", &path, Some(&session.access), None);
    assert_eq!(reply.status, 200, "members of other: {}", reply.body);
    let listed: Vec<&Value> = reply.json["members"]
        .as_array()
        .expect("members array")
        .iter()
        .map(|member| &member["user_id"])
        .collect();
    assert_eq!(listed, [&Value::from(admin_id)], "{}", reply.body);

    eprintln!("e2e: ok isolation between accounts; foreign and unknown resets look alike");
}

/// Checks that the server's log (stdout and stderr) contains none of the secrets, backup
/// codes, tickets, tokens and assertions it returned during the walk.
///
/// NOTE: 6-digit TOTP codes are not searched for, because timestamps and latencies in the
/// log contain 6-digit runs by chance. The service only parses them into a redacting type.
fn server_log_has_no_secrets(server: &Server) {
    let log = server.log();
    assert!(
        log.contains(r#""operation":"answer_challenge""#),
        "the server log has no request lines to check:\n{log}"
    );
    let secrets = server.secrets_seen.borrow();
    assert!(secrets.len() > 50, "only {} secrets seen", secrets.len());
    for secret in secrets.iter() {
        assert!(
            !log.contains(secret.as_str()),
            "the server log ({}) contains a value the API returned as secret: {secret:.12}...",
            server.log_path.display()
        );
    }

    report(&format!(
        "e2e: ok the server log contains none of the {} secrets returned",
        secrets.len()
    ));
}

/// Returns the entry of `user_id` in the member list of `account`, read by `manager`.
fn member_entry(server: &Server, account: &str, manager: &Tokens, user_id: &str) -> Value {
    let path = format!("/v1/accounts/{account}/members");
    let reply = server.call("GET", &path, Some(&manager.access), None);
    assert_eq!(reply.status, 200, "list members: {}", reply.body);
    reply.json["members"]
        .as_array()
        .expect("members array")
        .iter()
        .find(|member| member["user_id"] == user_id)
        .unwrap_or_else(|| panic!("{user_id} is not listed: {}", reply.body))
        .clone()
}

// ---------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------

/// Fails the test unless `tool` runs, naming the Debian package that provides it.
fn require_tool(tool: &str, package: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`{tool}` was not found: install the Debian package {package} \
         (apt-get install {package}), or run `bash scripts/test.sh`, which installs it"
    );
}

/// A response as curl received it.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: String,
    json: Value,
}

impl Reply {
    fn error_code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    /// Returns the string at a JSON pointer, failing with the whole body if absent.
    fn text(&self, pointer: &str) -> String {
        self.json
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string at {pointer} in {} {}", self.status, self.body))
            .to_owned()
    }
}

/// The tokens of a session.
#[derive(Debug, Clone)]
struct Tokens {
    access: String,
    refresh: String,
}

/// A running `mfa-local` process, stopped when dropped, also when the test panics.
struct Server {
    child: Child,
    base_url: String,
    log_path: PathBuf,
    /// Which storage and key adapters the server runs, for the test output.
    backend: String,
    /// Every secret, code, ticket, token and assertion the server has returned so far.
    secrets_seen: RefCell<Vec<String>>,
}

impl Server {
    /// Starts the binary on a free port and waits until it responds.
    fn start() -> Self {
        let port = free_port();
        let args = split_words("MFA_E2E_ARGS");
        let extra_env = split_words("MFA_E2E_ENV");
        let log_path =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-mfa-local-{port}.log"));
        let log = File::create(&log_path).expect("create the server log file");

        let mut command = Command::new(env!("CARGO_BIN_EXE_mfa-local"));
        command
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log file handle"))
            .stderr(log);
        for pair in &extra_env {
            let (name, value) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("MFA_E2E_ENV entry `{pair}` is not NAME=VALUE"));
            command.env(name, value);
        }
        let child = command.spawn().expect("start mfa-local");

        let backend = if args.iter().any(|arg| arg == "--aws") {
            let endpoint = std::env::var("AWS_ENDPOINT_URL")
                .unwrap_or_else(|_| "the default AWS configuration".to_owned());
            format!("AWS adapters (DynamoDB and KMS at {endpoint})")
        } else {
            "embedded adapters (in memory)".to_owned()
        };
        let mut server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log_path,
            backend,
            secrets_seen: RefCell::new(Vec::new()),
        };
        let extra_args: String = args.iter().map(|arg| format!(" {arg}")).collect();
        report(&format!(
            "e2e: started mfa-local --addr 127.0.0.1:{port}{extra_args} with {}",
            server.backend
        ));
        server.wait_until_ready();
        server
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll mfa-local") {
                panic!(
                    "mfa-local exited during start-up with {status}; its output:\n{}",
                    self.log()
                );
            }
            if let Some(reply) = self.try_call("GET", "/.well-known/jwks.json", None, None) {
                assert_eq!(reply.status, 200, "JWKS: {}", reply.body);
                assert!(reply.json["keys"].is_array(), "JWKS: {}", reply.body);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mfa-local did not answer within {STARTUP_TIMEOUT:?}; its output:\n{}",
                self.log()
            );
            sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path)
            .unwrap_or_else(|error| format!("(unreadable: {error})"))
    }

    /// Sends a request with curl, failing the test if curl cannot reach the server.
    fn call(&self, method: &str, path: &str, bearer: Option<&str>, body: Option<&Value>) -> Reply {
        self.try_call(method, path, bearer, body)
            .unwrap_or_else(|| panic!("{method} {path}: curl could not reach mfa-local"))
    }

    /// Sends a request with curl. Returns `None` when curl fails to connect.
    fn try_call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> Option<Reply> {
        let mut command = Command::new("curl");
        command
            .args(["--silent", "--show-error", "--noproxy", "*"])
            .args(["--max-time", REQUEST_TIMEOUT_SECONDS])
            .args(["--request", method])
            .args(["--write-out", "\n%{http_code}"])
            .arg(format!("{}{path}", self.base_url))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(token) = bearer {
            command.args(["--header", &format!("Authorization: Bearer {token}")]);
        }
        if body.is_some() {
            command
                .args(["--header", "Content-Type: application/json"])
                .args(["--data-binary", "@-"]);
        }
        let mut child = command.spawn().expect("run curl");
        let mut stdin = child.stdin.take().expect("curl stdin");
        if let Some(body) = body {
            stdin
                .write_all(body.to_string().as_bytes())
                .expect("write the request body to curl");
        }
        drop(stdin);
        let output = child.wait_with_output().expect("wait for curl");
        if !output.status.success() {
            // Exit code 7: connection refused, the server is not listening (yet).
            let refused = output.status.code() == Some(7);
            if refused {
                return None;
            }
            panic!(
                "{method} {path}: curl failed with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }

        let text = String::from_utf8(output.stdout).expect("response is UTF-8");
        let (body, status) = text.rsplit_once('\n').expect("curl wrote the status line");
        let status: u16 = status.parse().expect("curl wrote a numeric status");
        let json = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body).unwrap_or_else(|error| {
                panic!("{method} {path}: body is not JSON ({error}): {body}")
            })
        };
        collect_secrets(&json, &mut self.secrets_seen.borrow_mut());
        Some(Reply {
            status,
            body: body.to_owned(),
            json,
        })
    }
}

/// Response fields whose values must never reach a log line.
const SECRET_FIELDS: [&str; 8] = [
    "login_assertion",
    "mfa_ticket",
    "access_token",
    "refresh_token",
    "secret",
    "otpauth_uri",
    "qr_code",
    "backup_codes",
];

/// Adds the values of the [`SECRET_FIELDS`] in `json` to `secrets`. Backup codes are added
/// both as shown and without dashes, the normal form the service parses them into.
fn collect_secrets(json: &Value, secrets: &mut Vec<String>) {
    match json {
        Value::Object(fields) => {
            for (name, value) in fields {
                if SECRET_FIELDS.contains(&name.as_str()) {
                    collect_strings(value, secrets);
                } else {
                    collect_secrets(value, secrets);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_secrets(item, secrets)),
        _ => {}
    }
}

fn collect_strings(value: &Value, secrets: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            secrets.push(text.clone());
            if text.contains('-') && text.len() == 14 {
                secrets.push(text.replace('-', ""));
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, secrets)),
        _ => {}
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "e2e: mfa-local output ({}):\n{}",
                self.log_path.display(),
                self.log()
            );
        }
    }
}

/// Asks the OS for a free port on 127.0.0.1. The port is released before the server binds
/// it, so another process could take it in between. The start-up then fails with the
/// server's own message.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port on 127.0.0.1");
    listener.local_addr().expect("local address").port()
}

/// Splits an environment variable into words. A missing or empty variable gives none.
fn split_words(variable: &str) -> Vec<String> {
    std::env::var(variable)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// A person with a demo login: email, and the accounts with the role in each.
#[derive(Debug, Clone)]
struct Member {
    email: String,
    accounts: Value,
}

impl Member {
    fn new(run: &RunNames, name: &str, accounts: &[(&String, &str)]) -> Self {
        let accounts = accounts
            .iter()
            .map(|(slug, role)| ((*slug).clone(), Value::from(*role)))
            .collect::<serde_json::Map<_, _>>();
        Self {
            email: run.email(name),
            accounts: Value::Object(accounts),
        }
    }

    /// Gets a login assertion from `/dev/login` and posts it to open `account`.
    fn sign_in(&self, server: &Server, login_method: &str, account: &str) -> Reply {
        let body = json!({
            "email": self.email,
            "login_method": login_method,
            "accounts": self.accounts,
        });
        let reply = server.call("POST", "/dev/login", None, Some(&body));
        assert_eq!(reply.status, 200, "/dev/login: {}", reply.body);
        let assertion = reply.text("/login_assertion");

        let body = json!({ "login_assertion": assertion, "account": account });
        server.call("POST", "/v1/sessions", None, Some(&body))
    }

    /// Signs in by email, expects a challenge and returns its ticket.
    fn challenge(&self, server: &Server, account: &str) -> String {
        let reply = self.sign_in(server, "email", account);
        assert_eq!(reply.status, 200, "sign-in: {}", reply.body);
        assert_eq!(
            reply.json["status"], "mfa_required",
            "sign-in: {}",
            reply.body
        );
        assert_eq!(
            reply.json["methods"],
            json!(["totp", "backup_code"]),
            "{}",
            reply.body
        );
        reply.text("/mfa_ticket")
    }
}

/// Returns the session of an `authenticated` reply, failing with `context` otherwise.
fn expect_session(reply: &Reply, context: &str) -> Tokens {
    assert_eq!(reply.status, 200, "{context}: {}", reply.body);
    assert_eq!(
        reply.json["status"], "authenticated",
        "{context}: {}",
        reply.body
    );
    assert_eq!(
        reply.json["session"]["token_type"], "Bearer",
        "{context}: {}",
        reply.body
    );
    Tokens {
        access: reply.text("/session/access_token"),
        refresh: reply.text("/session/refresh_token"),
    }
}

fn answer_code(server: &Server, ticket: &str, code: &str) -> Reply {
    let body = json!({ "mfa_ticket": ticket, "code": code });
    server.call("POST", "/v1/sessions/mfa", None, Some(&body))
}

fn answer_backup_code(server: &Server, ticket: &str, code: &str) -> Reply {
    let body = json!({ "mfa_ticket": ticket, "backup_code": code });
    server.call("POST", "/v1/sessions/mfa", None, Some(&body))
}

fn refresh(server: &Server, refresh_token: &str) -> Reply {
    let body = json!({ "refresh_token": refresh_token });
    server.call("POST", "/v1/sessions/refresh", None, Some(&body))
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array of strings: {value}"))
        .iter()
        .map(|item| item.as_str().expect("a string").to_owned())
        .collect()
}

/// Returns the `sub` claim (the user id) of a JWT.
fn subject(token: &str) -> String {
    let claims = jwt_claims(token);
    claims["sub"]
        .as_str()
        .unwrap_or_else(|| panic!("no sub claim: {claims}"))
        .to_owned()
}

/// Decodes the claims of a JWT without verifying its signature.
fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload part");
    let bytes = BASE64URL_NOPAD
        .decode(payload.as_bytes())
        .expect("the JWT payload is unpadded Base64url");
    serde_json::from_slice(&bytes).expect("the JWT payload is JSON")
}

// ---------------------------------------------------------------------------------------
// Enrollment with the independent authenticator
// ---------------------------------------------------------------------------------------

/// The authenticator app: `oathtool` with the secret read from the `otpauth://` URI, and
/// the backup codes the service returned.
#[derive(Debug)]
struct Authenticator {
    secret: String,
    /// The last step a code was produced for; the service accepts each step once.
    last_step: Option<u64>,
    last_code: String,
    backup_codes: Vec<String>,
}

impl Authenticator {
    /// Returns the code of the earliest step that the service has not seen from this app
    /// and still accepts: the current step, or the next one when the current is spent.
    /// Never a past step, which would be rejected if a step boundary passed meanwhile.
    fn next_code(&mut self) -> String {
        let step = match self.last_step {
            Some(last) => (last + 1).max(current_step()),
            None => current_step(),
        };
        while step > current_step() + 1 {
            sleep(Duration::from_millis(200));
        }
        self.last_step = Some(step);
        self.last_code = oathtool_code(&self.secret, step);
        self.last_code.clone()
    }
}

fn current_step() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    now / STEP_SECONDS
}

/// Runs `oathtool --totp` for the start time of `step`.
fn oathtool_code(secret: &str, step: u64) -> String {
    let output = Command::new("oathtool")
        .arg("--totp")
        .arg(format!("--now=@{}", step * STEP_SECONDS))
        .args(["--base32", secret])
        .output()
        .expect("run oathtool");
    assert!(
        output.status.success(),
        "oathtool failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let code = String::from_utf8(output.stdout).expect("oathtool output is UTF-8");
    let code = code.trim().to_owned();
    assert!(
        code.len() == 6 && code.bytes().all(|byte| byte.is_ascii_digit()),
        "oathtool printed `{code}`, not 6 digits"
    );
    code
}

/// Returns a 6-digit code that differs from the codes of the steps near the current one,
/// so the service must reject it.
fn wrong_code(app: &Authenticator) -> String {
    let step = current_step();
    let window: Vec<String> = (step - 2..=step + 2)
        .map(|step| oathtool_code(&app.secret, step))
        .collect();
    (0..)
        .map(|number: u32| format!("{:06}", (number * 7919 + 123_456) % 1_000_000))
        .find(|code| !window.contains(code))
        .expect("some 6-digit code lies outside the window")
}

/// Decodes the QR code of a PNG data URI with `zbarimg`.
fn decode_qr(data_uri: &str) -> String {
    let encoded = data_uri
        .strip_prefix("data:image/png;base64,")
        .unwrap_or_else(|| panic!("qr_code is not a PNG data URI: {:.40}", data_uri));
    let png = BASE64
        .decode(encoded.as_bytes())
        .expect("the qr_code data URI is Base64");
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("e2e-qr-{}.png", std::process::id()));
    std::fs::write(&path, png).expect("write the QR image");

    let output = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&path)
        .output()
        .expect("run zbarimg");
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "zbarimg found no QR code in the PNG ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("the QR code contains UTF-8 text")
        .trim_end_matches('\n')
        .to_owned()
}

/// Returns the `secret` parameter of an `otpauth://` URI.
fn secret_from_uri(uri: &str) -> String {
    let (_, query) = uri
        .split_once('?')
        .unwrap_or_else(|| panic!("no query in {uri}"));
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("secret="))
        .unwrap_or_else(|| panic!("no secret parameter in {uri}"))
        .to_owned()
}

/// Checks an enrollment-start reply the way an authenticator app reads it, and returns
/// the app set up from the QR code.
fn check_enrollment_start(reply: &Reply, email: &str) -> Authenticator {
    assert_eq!(reply.status, 200, "start enrollment: {}", reply.body);
    let uri = reply.text("/otpauth_uri");
    assert!(uri.starts_with("otpauth://totp/"), "otpauth_uri: {uri}");
    assert!(uri.contains("issuer="), "otpauth_uri has no issuer: {uri}");
    let label = email.replace('@', "%40").replace('+', "%2B");
    assert!(
        uri.contains(&label),
        "otpauth_uri does not name {email}: {uri}"
    );

    let scanned = decode_qr(&reply.text("/qr_code"));
    assert_eq!(scanned, uri, "the QR code must hold otpauth_uri");
    let secret = secret_from_uri(&scanned);
    assert_eq!(reply.text("/secret"), secret, "secret must match the URI");

    Authenticator {
        secret,
        last_step: None,
        last_code: String::new(),
        backup_codes: Vec::new(),
    }
}

/// Enrolls with a bearer session: start, scan, confirm with a fresh code.
fn enroll_with_session(server: &Server, access: &str, email: &str) -> Authenticator {
    let started = server.call("POST", "/v1/me/mfa/enrollment", Some(access), None);
    let mut app = check_enrollment_start(&started, email);

    let body = json!({
        "enrollment_id": started.text("/enrollment_id"),
        "code": app.next_code(),
    });
    let reply = server.call(
        "POST",
        "/v1/me/mfa/enrollment/confirm",
        Some(access),
        Some(&body),
    );
    assert_eq!(reply.status, 200, "confirm enrollment: {}", reply.body);
    assert_eq!(reply.json["enrolled"], true, "{}", reply.body);
    assert!(reply.json.get("session").is_none(), "{}", reply.body);
    app.backup_codes = string_list(&reply.json["backup_codes"]);
    assert_eq!(app.backup_codes.len(), 10, "{}", reply.body);

    let status = server.call("GET", "/v1/me/mfa", Some(access), None);
    assert_eq!(status.status, 200, "MFA status: {}", status.body);
    assert_eq!(status.json["enrolled"], true, "{}", status.body);
    assert_eq!(status.json["backup_codes_remaining"], 10, "{}", status.body);
    app
}
