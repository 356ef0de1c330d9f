//! Bad input on every route that takes input: malformed and mistyped JSON, missing and
//! unknown fields, unknown enum values, invalid codes, oversized bodies, wrong content
//! types, wrong methods, unknown paths, broken percent-escapes and odd `Authorization`
//! headers.
//!
//! Every row names its status and error code, and most name a word that the message must
//! contain (usually the field at fault). For every row the test also checks that the
//! status is below 500 and that the response contains none of the codes and tokens that
//! the request carried. A few rows expect success, to show that the same request with the
//! fault removed gets through.

use std::sync::Arc;

use bytes::Bytes;
use data_encoding::BASE64URL_NOPAD;
use http::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method};
use mfa_shared::clock::Clock;
use mfa_shared::domain::totp::TotpSecret;
use mfa_shared::embedded::demo_login::{DEMO_LOGIN_AUDIENCE, DEMO_LOGIN_ISSUER};
use mfa_shared::embedded::LocalSigner;
use mfa_shared::http::MAX_BODY_BYTES;
use mfa_shared::ports::TokenSigner;
use mfa_shared::random::OsRandom;
use mfa_shared::tokens::assertion::{AssertionClaims, Audience};
use mfa_shared::tokens::jwt::{self, EcJwk, JwkSet, KeySet};
use mfa_tests::{tokens, Harness, Reply, Tokens};
use serde_json::Value;

const OWNER_EMAIL: &str = "ana@acme.test";
const OWNER_ACCOUNTS: &[(&str, &str)] = &[("acme", "owner"), ("beta", "owner")];

const OK: (u16, &str) = (200, "");
const INVALID_REQUEST: (u16, &str) = (400, "invalid_request");
const UNAUTHENTICATED: (u16, &str) = (401, "unauthenticated");
const INVALID_CODE: (u16, &str) = (401, "invalid_code");
const ALREADY_ENROLLED: (u16, &str) = (409, "already_enrolled");
const NOT_FOUND: (u16, &str) = (404, "not_found");
const METHOD_NOT_ALLOWED: (u16, &str) = (405, "method_not_allowed");
const PAYLOAD_TOO_LARGE: (u16, &str) = (413, "payload_too_large");
const UNSUPPORTED_MEDIA_TYPE: (u16, &str) = (415, "unsupported_media_type");

/// Request fields whose values are codes or tokens, which no response may repeat.
const SECRET_FIELDS: [&str; 5] = [
    "login_assertion",
    "mfa_ticket",
    "refresh_token",
    "code",
    "backup_code",
];

/// Codes that are not 6 ASCII digits after removing ASCII spaces.
const INVALID_CODES: [(&str, &str); 14] = [
    ("5 digits", "12345"),
    ("7 digits", "1234567"),
    ("full-width digits", "１２３４５６"),
    ("one full-width digit", "12345６"),
    ("Arabic-Indic digits", "١٢٣٤٥٦"),
    ("plus sign", "+12345"),
    ("minus sign", "-12345"),
    ("letter", "12345a"),
    ("letters only", "abcdef"),
    ("tab inside", "123\t456"),
    ("no-break space inside", "123\u{a0}456"),
    ("dash inside", "123-456"),
    ("empty", ""),
    ("spaces only", "      "),
];

/// Backup codes that are not 12 alphabet characters after removing spaces and dashes.
const INVALID_BACKUP_CODES: [(&str, &str); 5] = [
    ("11 characters", "ab12-cd34-ef5"),
    ("13 characters", "ab12-cd34-ef567"),
    ("underscores", "ab12_cd34_ef56"),
    ("non-ASCII letter", "äb12-cd34-ef56"),
    ("letter outside the alphabet", "ab12-cd34-ef5u"),
];

/// Who a row authenticates as.
#[derive(Debug, Clone)]
enum Auth {
    /// No `Authorization` header.
    Anonymous,
    /// `Bearer` and a fresh `aal` 2 access token of the owner.
    Owner,
    /// This exact header value, in which `{access}`, `{ticket}` and `{refresh}` are replaced.
    Header(Vec<u8>),
}

/// One row: a request and what must come back.
#[derive(Debug, Clone)]
struct Case {
    description: String,
    method: &'static str,
    path: String,
    auth: Auth,
    content_type: Option<&'static str>,
    /// The body. `{assertion}`, `{ticket}`, `{refresh}`, `{code}` and `{code_spaced}` are
    /// replaced by fresh values for the owner.
    body: Vec<u8>,
    /// Length to pad the body to with trailing spaces, after replacement.
    pad_to: Option<usize>,
    expected: (u16, &'static str),
    /// Text the error message must contain, such as the field at fault.
    mentions: Option<&'static str>,
    /// Methods the `Allow` header of a 405 must list, in any order.
    allow: Option<&'static [&'static str]>,
}

fn case(description: impl Into<String>, method: &'static str, path: impl Into<String>) -> Case {
    Case {
        description: description.into(),
        method,
        path: path.into(),
        auth: Auth::Anonymous,
        content_type: Some("application/json"),
        body: Vec::new(),
        pad_to: None,
        expected: (0, "unset"),
        mentions: None,
        allow: None,
    }
}

impl Case {
    fn owner(mut self) -> Self {
        self.auth = Auth::Owner;
        self
    }

    fn authorization(mut self, value: impl Into<Vec<u8>>) -> Self {
        self.auth = Auth::Header(value.into());
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn content_type(mut self, content_type: Option<&'static str>) -> Self {
        self.content_type = content_type;
        self
    }

    fn pad_to(mut self, length: usize) -> Self {
        self.pad_to = Some(length);
        self
    }

    fn expect(mut self, expected: (u16, &'static str)) -> Self {
        self.expected = expected;
        self
    }

    fn mentions(mut self, text: &'static str) -> Self {
        self.mentions = Some(text);
        self
    }

    fn allow(mut self, methods: &'static [&'static str]) -> Self {
        self.allow = Some(methods);
        self
    }
}

/// Rows that every JSON body route shares: body shape, size and content type.
/// `valid` is a body that passes, so that each row changes one thing.
fn body_shape_cases(
    route: &str,
    method: &'static str,
    path: &str,
    owner: bool,
    valid: &str,
) -> Vec<Case> {
    let with_auth = |case: Case| if owner { case.owner() } else { case };
    let oversized = format!(r#"{{"padding": "{}"}}"#, "x".repeat(MAX_BODY_BYTES));
    let deep = "[".repeat(10_000);
    let cases = vec![
        case("malformed JSON", method, path)
            .body(r#"{"code": "#)
            .expect(INVALID_REQUEST)
            .mentions("not valid JSON"),
        case("trailing data after the object", method, path)
            .body(format!("{valid} x"))
            .expect(INVALID_REQUEST)
            .mentions("not valid JSON"),
        case("byte order mark before the object", method, path)
            .body(format!("\u{feff}{valid}"))
            .expect(INVALID_REQUEST)
            .mentions("not valid JSON"),
        case("array instead of an object", method, path)
            .body("[]")
            .expect(INVALID_REQUEST)
            .mentions("JSON object"),
        case("string instead of an object", method, path)
            .body(r#""acme""#)
            .expect(INVALID_REQUEST)
            .mentions("JSON object"),
        case("null instead of an object", method, path)
            .body("null")
            .expect(INVALID_REQUEST)
            .mentions("JSON object"),
        case("10000 nested arrays", method, path)
            .body(deep)
            .expect(INVALID_REQUEST)
            .mentions("not valid JSON"),
        case("invalid UTF-8", method, path)
            .body(b"{\"code\": \"\xff\xfe\"}".to_vec())
            .expect(INVALID_REQUEST)
            .mentions("not valid JSON"),
        case("lone surrogate escape", method, path)
            .body(r#"{"code": "\ud800"}"#)
            .expect(INVALID_REQUEST)
            .mentions("not valid JSON"),
        case("number out of range", method, path)
            .body(r#"{"code": 1e999}"#)
            .expect(INVALID_REQUEST)
            .mentions("not valid JSON"),
        case("unknown field", method, path)
            .body(format!(r#"{}, "extra": 1}}"#, valid.trim_end_matches('}')))
            .expect(INVALID_REQUEST)
            .mentions("allowed fields"),
        case("body 1 byte over 16 KiB", method, path)
            .body(valid)
            .pad_to(MAX_BODY_BYTES + 1)
            .expect(PAYLOAD_TOO_LARGE)
            .mentions("16 KiB"),
        case("oversized body that is not JSON", method, path)
            .body(oversized)
            .content_type(Some("text/plain"))
            .expect(PAYLOAD_TOO_LARGE),
        case("text/plain content type", method, path)
            .body(valid)
            .content_type(Some("text/plain"))
            .expect(UNSUPPORTED_MEDIA_TYPE)
            .mentions("application/json"),
        case("no content type", method, path)
            .body(valid)
            .content_type(None)
            .expect(UNSUPPORTED_MEDIA_TYPE)
            .mentions("application/json"),
        case("form content type", method, path)
            .body(valid)
            .content_type(Some("application/x-www-form-urlencoded"))
            .expect(UNSUPPORTED_MEDIA_TYPE),
        case("JSON look-alike content type", method, path)
            .body(valid)
            .content_type(Some("application/jsonx"))
            .expect(UNSUPPORTED_MEDIA_TYPE),
    ];
    cases
        .into_iter()
        .map(|case| {
            let description = format!("{route}: {}", case.description);
            Case {
                description,
                ..with_auth(case)
            }
        })
        .collect()
}

/// Rows for one `code` field that must hold a TOTP code. `template` is a valid body
/// with `{code}` where the code goes.
fn code_cases(
    route: &str,
    method: &'static str,
    path: &str,
    owner: bool,
    template: &str,
) -> Vec<Case> {
    let mut cases = Vec::new();
    for (description, code) in INVALID_CODES {
        let code = serde_json::to_string(code).expect("a string serialises");
        let body = template.replace(r#""{code}""#, &code);
        cases.push(
            case(format!("{route}: code {description}"), method, path)
                .body(body)
                .expect(INVALID_REQUEST)
                .mentions("`code`"),
        );
    }
    let wrong_types = [
        ("number", "123456"),
        ("array", r#"["123456"]"#),
        ("object", r#"{"code": "123456"}"#),
        ("boolean", "true"),
    ];
    for (description, value) in wrong_types {
        cases.push(
            case(format!("{route}: code as {description}"), method, path)
                .body(template.replace(r#""{code}""#, value))
                .expect(INVALID_REQUEST)
                .mentions("`code`"),
        );
    }
    let missing = template
        .replace(r#", "code": "{code}""#, "")
        .replace(r#""code": "{code}", "#, "")
        .replace(r#""code": "{code}""#, "");
    cases.push(
        case(format!("{route}: code missing"), method, path)
            .body(missing)
            .expect(INVALID_REQUEST)
            .mentions("`code`"),
    );
    if owner {
        cases.into_iter().map(Case::owner).collect()
    } else {
        cases
    }
}

fn sign_in_cases() -> Vec<Case> {
    let path = "/v1/sessions";
    let valid = r#"{"login_assertion": "{assertion}", "account": "acme"}"#;
    let mut cases = body_shape_cases("sign in", "POST", path, false, valid);
    let fields = [
        (
            "login_assertion missing",
            r#"{"account": "acme"}"#,
            "`login_assertion`",
        ),
        (
            "account missing",
            r#"{"login_assertion": "{assertion}"}"#,
            "`account`",
        ),
        (
            "login_assertion as number",
            r#"{"login_assertion": 7, "account": "acme"}"#,
            "`login_assertion`",
        ),
        (
            "login_assertion as object",
            r#"{"login_assertion": {}, "account": "acme"}"#,
            "`login_assertion`",
        ),
        (
            "account as number",
            r#"{"login_assertion": "{assertion}", "account": 5}"#,
            "`account`",
        ),
        (
            "account as array",
            r#"{"login_assertion": "{assertion}", "account": ["acme"]}"#,
            "`account`",
        ),
        (
            "account upper case",
            r#"{"login_assertion": "{assertion}", "account": "ACME"}"#,
            "`account`",
        ),
        (
            "account with a slash",
            r#"{"login_assertion": "{assertion}", "account": "ac/me"}"#,
            "`account`",
        ),
        (
            "account with NUL",
            r#"{"login_assertion": "{assertion}", "account": "ac\u0000me"}"#,
            "`account`",
        ),
        (
            "account empty",
            r#"{"login_assertion": "{assertion}", "account": ""}"#,
            "`account`",
        ),
        (
            "account of 64 characters",
            &format!(
                r#"{{"login_assertion": "{{assertion}}", "account": "{}"}}"#,
                "a".repeat(64)
            ),
            "`account`",
        ),
        ("empty object", "{}", "`login_assertion`"),
    ];
    for (description, body, mentions) in fields {
        cases.push(
            case(format!("sign in: {description}"), "POST", path)
                .body(body)
                .expect(INVALID_REQUEST)
                .mentions(mentions),
        );
    }
    cases.extend([
        case("sign in: empty body", "POST", path)
            .expect(INVALID_REQUEST)
            .mentions("missing"),
        case("sign in: empty body without content type", "POST", path)
            .content_type(None)
            .expect(UNSUPPORTED_MEDIA_TYPE),
        case("sign in: assertion is not a JWT", "POST", path)
            .body(r#"{"login_assertion": "not-a-jwt", "account": "acme"}"#)
            .expect(UNAUTHENTICATED)
            .mentions("login assertion"),
        case(
            "sign in: unknown login_method in the assertion",
            "POST",
            path,
        )
        .body(r#"{"login_assertion": "{assertion:login_method=password}", "account": "acme"}"#)
        .expect(UNAUTHENTICATED)
        .mentions("`login_method`"),
        case("sign in: unknown role in the assertion", "POST", path)
            .body(r#"{"login_assertion": "{assertion:role=root}", "account": "acme"}"#)
            .expect(UNAUTHENTICATED)
            .mentions("`accounts`"),
        case("sign in: invalid sub in the assertion", "POST", path)
            .body(r#"{"login_assertion": "{assertion:sub=has space}", "account": "acme"}"#)
            .expect(UNAUTHENTICATED)
            .mentions("`sub`"),
        case("sign in: invalid email in the assertion", "POST", path)
            .body(r#"{"login_assertion": "{assertion:email=nobody}", "account": "acme"}"#)
            .expect(UNAUTHENTICATED)
            .mentions("`email`"),
        case("sign in: valid request", "POST", path)
            .body(valid)
            .expect(OK),
        case("sign in: content type with charset", "POST", path)
            .body(valid)
            .content_type(Some("application/json; charset=utf-8"))
            .expect(OK),
        case("sign in: upper-case content type", "POST", path)
            .body(valid)
            .content_type(Some("APPLICATION/JSON"))
            .expect(OK),
        case("sign in: body of exactly 16 KiB", "POST", path)
            .body(valid)
            .pad_to(MAX_BODY_BYTES)
            .expect(OK),
    ]);
    cases
}

fn answer_challenge_cases() -> Vec<Case> {
    let path = "/v1/sessions/mfa";
    let valid = r#"{"mfa_ticket": "{ticket}", "code": "{code}"}"#;
    let mut cases = body_shape_cases("answer challenge", "POST", path, false, valid);
    cases.extend(
        code_cases("answer challenge", "POST", path, false, valid)
            .into_iter()
            .filter(
                // Without `code`, the message names both fields, so that row is written out below.
                |case| !case.description.ends_with("code missing"),
            ),
    );
    for (description, code) in INVALID_BACKUP_CODES {
        let body = format!(r#"{{"mfa_ticket": "{{ticket}}", "backup_code": "{code}"}}"#);
        cases.push(
            case(
                format!("answer challenge: backup_code {description}"),
                "POST",
                path,
            )
            .body(body)
            .expect(INVALID_REQUEST)
            .mentions("`backup_code`"),
        );
    }
    cases.extend([
        case("answer challenge: backup_code as number", "POST", path)
            .body(r#"{"mfa_ticket": "{ticket}", "backup_code": 123456789012}"#)
            .expect(INVALID_REQUEST)
            .mentions("`backup_code`"),
        case("answer challenge: mfa_ticket missing", "POST", path)
            .body(r#"{"code": "{code}"}"#)
            .expect(INVALID_REQUEST)
            .mentions("`mfa_ticket`"),
        case("answer challenge: mfa_ticket as number", "POST", path)
            .body(r#"{"mfa_ticket": 42, "code": "{code}"}"#)
            .expect(INVALID_REQUEST)
            .mentions("`mfa_ticket`"),
        case(
            "answer challenge: neither code nor backup_code",
            "POST",
            path,
        )
        .body(r#"{"mfa_ticket": "{ticket}"}"#)
        .expect(INVALID_REQUEST)
        .mentions("`backup_code`"),
        case("answer challenge: both code and backup_code", "POST", path)
            .body(
                r#"{"mfa_ticket": "{ticket}", "code": "{code}", "backup_code": "ab12-cd34-ef56"}"#,
            )
            .expect(INVALID_REQUEST)
            .mentions("`backup_code`"),
        case("answer challenge: malformed ticket", "POST", path)
            .body(r#"{"mfa_ticket": "not-a-ticket", "code": "{code}"}"#)
            .expect(INVALID_CODE),
        case("answer challenge: code with spaces", "POST", path)
            .body(r#"{"mfa_ticket": "{ticket}", "code": "{code_spaced}"}"#)
            .expect(OK),
    ]);
    cases
}

fn refresh_cases() -> Vec<Case> {
    let path = "/v1/sessions/refresh";
    let valid = r#"{"refresh_token": "{refresh}"}"#;
    let mut cases = body_shape_cases("refresh", "POST", path, false, valid);
    let fields = [
        ("refresh_token missing", "{}"),
        ("refresh_token as boolean", r#"{"refresh_token": true}"#),
        (
            "refresh_token as array",
            r#"{"refresh_token": ["{refresh}"]}"#,
        ),
    ];
    for (description, body) in fields {
        cases.push(
            case(format!("refresh: {description}"), "POST", path)
                .body(body)
                .expect(INVALID_REQUEST)
                .mentions("`refresh_token`"),
        );
    }
    cases.extend([
        case("refresh: malformed token", "POST", path)
            .body(r#"{"refresh_token": "not-a-token"}"#)
            .expect(UNAUTHENTICATED)
            .mentions("refresh token"),
        case("refresh: upper-case session id", "POST", path)
            .body(r#"{"refresh_token": "ABCDEF00000000000000000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#)
            .expect(UNAUTHENTICATED)
            .mentions("refresh token"),
        case("refresh: valid request", "POST", path)
            .body(valid)
            .expect(OK),
    ]);
    cases
}

fn switch_cases() -> Vec<Case> {
    let path = "/v1/sessions/switch";
    let valid = r#"{"account": "beta"}"#;
    let mut cases = body_shape_cases("switch", "POST", path, true, valid);
    let fields = [
        ("account missing", "{}"),
        ("account as number", r#"{"account": 1}"#),
        ("account as object", r#"{"account": {"slug": "beta"}}"#),
        ("account with a space", r#"{"account": "be ta"}"#),
        ("account ending in a dash", r#"{"account": "beta-"}"#),
    ];
    for (description, body) in fields {
        cases.push(
            case(format!("switch: {description}"), "POST", path)
                .owner()
                .body(body)
                .expect(INVALID_REQUEST)
                .mentions("`account`"),
        );
    }
    cases.push(
        case("switch: valid request", "POST", path)
            .owner()
            .body(valid)
            .expect(OK),
    );
    cases
}

fn enrollment_cases() -> Vec<Case> {
    let start = "/v1/me/mfa/enrollment";
    let confirm = "/v1/me/mfa/enrollment/confirm";
    let valid_start = r#"{"mfa_ticket": null}"#;
    let valid_confirm =
        r#"{"enrollment_id": "00000000000000000000000000000000", "code": "{code}"}"#;
    let mut cases = body_shape_cases("start enrollment", "POST", start, true, valid_start);
    cases.extend([
        case("start enrollment: mfa_ticket as number", "POST", start)
            .owner()
            .body(r#"{"mfa_ticket": 5}"#)
            .expect(INVALID_REQUEST)
            .mentions("`mfa_ticket`"),
        case(
            "start enrollment: empty body without content type",
            "POST",
            start,
        )
        .owner()
        .content_type(None)
        .expect(ALREADY_ENROLLED),
        case("start enrollment: empty JSON object", "POST", start)
            .owner()
            .body("{}")
            .expect(ALREADY_ENROLLED),
    ]);

    cases.extend(body_shape_cases(
        "confirm enrollment",
        "POST",
        confirm,
        true,
        valid_confirm,
    ));
    cases.extend(code_cases(
        "confirm enrollment",
        "POST",
        confirm,
        true,
        valid_confirm,
    ));
    let fields = [
        (
            "enrollment_id missing",
            r#"{"code": "{code}"}"#,
            "`enrollment_id`",
        ),
        (
            "enrollment_id as number",
            r#"{"enrollment_id": 1, "code": "{code}"}"#,
            "`enrollment_id`",
        ),
        (
            "mfa_ticket as boolean",
            r#"{"enrollment_id": "00000000000000000000000000000000", "code": "{code}", "mfa_ticket": false}"#,
            "`mfa_ticket`",
        ),
    ];
    for (description, body, mentions) in fields {
        cases.push(
            case(
                format!("confirm enrollment: {description}"),
                "POST",
                confirm,
            )
            .owner()
            .body(body)
            .expect(INVALID_REQUEST)
            .mentions(mentions),
        );
    }
    cases.push(
        case("confirm enrollment: code with spaces", "POST", confirm)
            .owner()
            .body(
                r#"{"enrollment_id": "00000000000000000000000000000000", "code": "{code_spaced}"}"#,
            )
            .expect(ALREADY_ENROLLED),
    );
    cases
}

fn own_factor_cases() -> Vec<Case> {
    let regenerate = "/v1/me/mfa/backup-codes";
    let disable = "/v1/me/mfa";
    let valid = r#"{"code": "{code}"}"#;
    let mut cases = body_shape_cases("regenerate", "POST", regenerate, true, valid);
    cases.extend(code_cases("regenerate", "POST", regenerate, true, valid));
    cases.extend(body_shape_cases("disable", "DELETE", disable, true, valid));
    cases.extend(code_cases("disable", "DELETE", disable, true, valid));
    cases.push(
        case("regenerate: code with spaces", "POST", regenerate)
            .owner()
            .body(r#"{"code": "{code_spaced}"}"#)
            .expect(OK),
    );
    cases
}

fn enforcement_cases() -> Vec<Case> {
    let path = "/v1/accounts/acme/settings/security";
    let valid = r#"{"require_mfa": false}"#;
    let mut cases = body_shape_cases("change enforcement", "PUT", path, true, valid);
    let values = [
        ("missing", "{}"),
        ("null", r#"{"require_mfa": null}"#),
        ("the string yes", r#"{"require_mfa": "yes"}"#),
        ("the string true", r#"{"require_mfa": "true"}"#),
        ("the number 1", r#"{"require_mfa": 1}"#),
        ("the number 0", r#"{"require_mfa": 0}"#),
        ("an array", r#"{"require_mfa": [true]}"#),
        ("an object", r#"{"require_mfa": {}}"#),
    ];
    for (description, body) in values {
        cases.push(
            case(
                format!("change enforcement: require_mfa {description}"),
                "PUT",
                path,
            )
            .owner()
            .body(body)
            .expect(INVALID_REQUEST)
            .mentions("`require_mfa`"),
        );
    }
    cases.push(
        case("change enforcement: valid request", "PUT", path)
            .owner()
            .body(valid)
            .expect(OK),
    );
    cases
}

fn path_cases() -> Vec<Case> {
    let unknown = [
        "/",
        "/v1",
        "/v1/nope",
        "/v1/sessions/",
        "/v1//sessions",
        "//v1/sessions",
        "/V1/sessions",
        "/v1/me/mfa/",
        "/.well-known/jwks.json/",
        "/v1/accounts//members",
        "/v1/accounts/acme/members/u-1",
        "/v1/accounts/acme/members/u-1/mfa/extra",
        "/v1/accounts/acme/members//mfa",
    ];
    let mut cases: Vec<Case> = unknown
        .into_iter()
        .map(|path| {
            case(format!("unknown path {path}"), "GET", path)
                .expect(NOT_FOUND)
                .mentions("no such route")
        })
        .collect();
    cases.push(
        case(
            "unknown path of 10000 characters",
            "GET",
            format!("/v1/{}", "a".repeat(10_000)),
        )
        .expect(NOT_FOUND),
    );

    // These rows are anonymous, so a path that matches a route gets 401 and only a path that
    // matches none gets 404.
    let broken_escapes = [
        "/v1/accounts/a%zz/members",
        "/v1/accounts/acme%/members",
        "/v1/accounts/acme%4/members",
        "/v1/accounts/%+1/members",
        "/v1/accounts/%-1/members",
        "/v1/accounts/%%41/members",
        "/v1/accounts/acme/members/%G0/mfa",
        "/v1/accounts/acme/members/%e9/mfa",
        "/v1/accounts/acme/members/%C3%28/mfa",
    ];
    for path in broken_escapes {
        cases.push(
            case(format!("broken percent-escape in {path}"), "GET", path)
                .expect(NOT_FOUND)
                .mentions("no such route"),
        );
    }
    // The route matches, but the decoded value is not a valid slug or user id.
    let invalid_values = [
        ("GET", "/v1/accounts/ACME/members"),
        ("GET", "/v1/accounts/ac%2Fme/members"),
        ("GET", "/v1/accounts/acme%00/members"),
        ("DELETE", "/v1/accounts/acme/members/%C3%A9/mfa"),
        ("DELETE", "/v1/accounts/acme/members/a%2Fb/mfa"),
        ("DELETE", "/v1/accounts/acme/members/a%20b/mfa"),
    ];
    for (method, path) in invalid_values {
        cases.push(
            case(format!("invalid decoded value in {path}"), method, path)
                .owner()
                .expect(NOT_FOUND),
        );
    }
    let long_slug = format!("/v1/accounts/{}/members", "a".repeat(64));
    cases.push(
        case("slug of 64 characters", "GET", long_slug)
            .owner()
            .expect(NOT_FOUND),
    );
    cases.push(
        case(
            "percent-encoded valid slug",
            "GET",
            "/v1/accounts/%61cme/members",
        )
        .owner()
        .expect(OK),
    );

    // RFC 9110 section 15.5.6: a 405 lists the methods the path supports in `Allow`.
    let wrong_methods: [(&str, &str, &[&str]); 13] = [
        ("GET", "/v1/sessions", &["POST"]),
        ("PUT", "/v1/sessions", &["POST"]),
        ("OPTIONS", "/v1/sessions", &["POST"]),
        ("FOO", "/v1/sessions", &["POST"]),
        ("DELETE", "/v1/sessions/mfa", &["POST"]),
        ("GET", "/v1/sessions/refresh", &["POST"]),
        ("POST", "/v1/sessions/current", &["DELETE"]),
        ("PATCH", "/v1/me/mfa", &["GET", "DELETE"]),
        ("POST", "/.well-known/jwks.json", &["GET"]),
        ("HEAD", "/.well-known/jwks.json", &["GET"]),
        ("POST", "/v1/accounts/acme/members", &["GET"]),
        (
            "PATCH",
            "/v1/accounts/acme/settings/security",
            &["GET", "PUT"],
        ),
        ("GET", "/v1/accounts/acme/members/u-1/mfa", &["DELETE"]),
    ];
    for (method, path, allowed) in wrong_methods {
        cases.push(
            case(format!("{method} on {path}"), method, path)
                .owner()
                .expect(METHOD_NOT_ALLOWED)
                .mentions("not allowed")
                .allow(allowed),
        );
    }
    cases
}

fn authorization_cases() -> Vec<Case> {
    let path = "/v1/me/mfa";
    let unsigned = {
        let header = BASE64URL_NOPAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = BASE64URL_NOPAD.encode(br#"{"sub":"u-1","sid":"s","aal":2}"#);
        format!("Bearer {header}.{claims}.")
    };
    let odd = [
        ("Basic scheme", "Basic YW5hOnNlY3JldA==".to_owned()),
        ("scheme without token", "Bearer".to_owned()),
        ("scheme and a space", "Bearer ".to_owned()),
        ("scheme and spaces", "Bearer     ".to_owned()),
        ("tab after the scheme", "Bearer\t{access}".to_owned()),
        ("token only", "{access}".to_owned()),
        (
            "token and trailing text",
            "Bearer {access} extra".to_owned(),
        ),
        ("tampered token", "Bearer {access}x".to_owned()),
        ("two tokens", "Bearer {access},Bearer {access}".to_owned()),
        ("refresh token as bearer", "Bearer {refresh}".to_owned()),
        ("ticket as bearer", "Bearer {ticket}".to_owned()),
        ("unsigned token", unsigned),
        ("three dots", "Bearer a.b.c".to_owned()),
        (
            "token of 20000 characters",
            format!("Bearer {}", "a".repeat(20_000)),
        ),
        (
            "token with 100000 extra characters",
            format!("Bearer {{access}}{}", "A".repeat(100_000)),
        ),
    ];
    let mut cases: Vec<Case> = odd
        .into_iter()
        .map(|(description, header)| {
            case(format!("Authorization: {description}"), "GET", path)
                .authorization(header)
                .expect(UNAUTHENTICATED)
        })
        .collect();
    cases.push(
        case("Authorization: bytes that are not ASCII", "GET", path)
            .authorization(b"Bearer \xff\xfe".to_vec())
            .expect(UNAUTHENTICATED)
            .mentions("ASCII"),
    );
    let accepted = [
        ("lower-case scheme", "bearer {access}"),
        ("upper-case scheme", "BEARER {access}"),
        ("two spaces after the scheme", "Bearer  {access}"),
    ];
    for (description, header) in accepted {
        cases.push(
            case(format!("Authorization: {description}"), "GET", path)
                .authorization(header)
                .expect(OK),
        );
    }
    cases
}

/// The harness, a login key whose assertions the test can shape freely, and the owner.
struct World {
    harness: Harness,
    login_key: LocalSigner,
    secret: TotpSecret,
}

impl World {
    async fn new() -> Self {
        let mut harness = Harness::new();

        // Trust a second login key, so that rows can carry assertions with claims that the
        // demo login service would never sign.
        let login_key = LocalSigner::generate(&OsRandom);
        let mut key_set: JwkSet = serde_json::from_str(&harness.login.jwks_json()).expect("JWKS");
        key_set.keys.push(EcJwk::from_key(
            login_key.verifying_key(),
            login_key.key_id(),
        ));
        let key_set = serde_json::to_string(&key_set).expect("JWKS serialises");
        let mut app = (*harness.app).clone();
        app.assertions.keys = KeySet::from_jwks(&key_set).expect("both keys are usable");
        harness.app = Arc::new(app);

        let first = harness
            .session(OWNER_EMAIL, "email", OWNER_ACCOUNTS, "acme")
            .await;
        let secret = harness.enroll(&first.access).await.secret;
        Self {
            harness,
            login_key,
            secret,
        }
    }

    fn fresh_code(&self) -> String {
        self.harness.next_step();
        self.harness.code(&self.secret, 0)
    }

    async fn owner_session(&self) -> Tokens {
        let ticket = self
            .harness
            .challenge(OWNER_EMAIL, OWNER_ACCOUNTS, "acme")
            .await;
        let reply = self.harness.answer(&ticket, &self.fresh_code()).await;
        tokens(&reply)
    }

    /// Signs an assertion for the owner with one claim changed: `sub`, `email`,
    /// `login_method` or `role` (the role in `acme`).
    async fn shaped_assertion(&self, change: &str) -> String {
        let (claim, value) = change.split_once('=').expect("claim=value");
        let now = self.harness.clock.now();
        let mut claims = AssertionClaims {
            iss: DEMO_LOGIN_ISSUER.to_owned(),
            aud: Audience::One(DEMO_LOGIN_AUDIENCE.to_owned()),
            sub: Harness::user_id(OWNER_EMAIL).to_string(),
            email: OWNER_EMAIL.to_owned(),
            login_method: "email".to_owned(),
            accounts: [("acme".to_owned(), "owner".to_owned())].into(),
            iat: now,
            exp: now + 300,
            jti: format!("shaped-{}", mfa_shared::random::random_id(&OsRandom)),
        };
        match claim {
            "sub" => claims.sub = value.to_owned(),
            "email" => claims.email = value.to_owned(),
            "login_method" => claims.login_method = value.to_owned(),
            "role" => {
                claims.accounts.insert("acme".to_owned(), value.to_owned());
            }
            other => panic!("no shaped claim {other}"),
        }
        jwt::sign(&self.login_key, &claims).await.expect("sign")
    }

    /// Replaces the placeholders of `text` with fresh values, and records them in
    /// `secrets`.
    async fn fill(
        &self,
        text: &str,
        session: &Option<Tokens>,
        secrets: &mut Vec<String>,
    ) -> String {
        let mut text = text.to_owned();
        while let Some(start) = text.find("{assertion:") {
            let end = start + text[start..].find('}').expect("closing brace");
            let assertion = self.shaped_assertion(&text[start + 11..end]).await;
            secrets.push(assertion.clone());
            text.replace_range(start..=end, &assertion);
        }
        if text.contains("{assertion}") {
            let assertion = self
                .harness
                .assertion(OWNER_EMAIL, "email", OWNER_ACCOUNTS)
                .await;
            secrets.push(assertion.clone());
            text = text.replace("{assertion}", &assertion);
        }
        if text.contains("{ticket}") {
            let ticket = self
                .harness
                .challenge(OWNER_EMAIL, OWNER_ACCOUNTS, "acme")
                .await;
            secrets.push(ticket.clone());
            text = text.replace("{ticket}", &ticket);
        }
        if let Some(session) = session {
            text = text.replace("{access}", &session.access);
            text = text.replace("{refresh}", &session.refresh);
        }
        if text.contains("{code}") || text.contains("{code_spaced}") {
            let code = self.fresh_code();
            let spaced = format!("{} {} {}", &code[..2], &code[2..4], &code[4..]);
            secrets.push(code.clone());
            text = text
                .replace("{code}", &code)
                .replace("{code_spaced}", &spaced);
        }
        text
    }

    /// Sends a row's request and returns the reply with every secret the request carried.
    async fn send(&self, case: &Case) -> (Reply, Vec<String>) {
        let mut secrets = Vec::new();
        let header_text = match &case.auth {
            Auth::Header(bytes) => String::from_utf8(bytes.clone()).ok(),
            _ => None,
        };
        let body_text = String::from_utf8(case.body.clone()).ok();
        let needs_session = matches!(case.auth, Auth::Owner)
            || [&header_text, &body_text]
                .into_iter()
                .flatten()
                .any(|text| text.contains("{access}") || text.contains("{refresh}"));
        let session = if needs_session {
            Some(self.owner_session().await)
        } else {
            None
        };
        if let Some(session) = &session {
            secrets.push(session.access.clone());
            secrets.push(session.refresh.clone());
        }

        let mut body = match &body_text {
            Some(text) => self.fill(text, &session, &mut secrets).await.into_bytes(),
            None => case.body.clone(),
        };
        if let Some(length) = case.pad_to {
            assert!(
                body.len() <= length,
                "{}: body is already longer",
                case.description
            );
            body.resize(length, b' ');
        }
        secrets.extend(secret_field_values(&body));

        let mut request = http::Request::builder()
            .method(Method::from_bytes(case.method.as_bytes()).expect("valid method"))
            .uri(case.path.as_str());
        if let Some(content_type) = case.content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        match &case.auth {
            Auth::Anonymous => {}
            Auth::Owner => {
                let access = &session.as_ref().expect("owner session").access;
                request = request.header(AUTHORIZATION, format!("Bearer {access}"));
            }
            Auth::Header(bytes) => {
                let value = match &header_text {
                    Some(text) => {
                        let filled = self.fill(text, &session, &mut secrets).await;
                        if let Some((_, token)) = filled.split_once(' ') {
                            secrets.push(token.trim().to_owned());
                        }
                        HeaderValue::from_str(&filled).expect("header value")
                    }
                    None => HeaderValue::from_bytes(bytes).expect("header bytes"),
                };
                request = request.header(AUTHORIZATION, value);
            }
        }
        let request = request.body(Bytes::from(body)).expect("valid request");
        (self.harness.send(request).await, secrets)
    }
}

/// Returns the string and number values of [`SECRET_FIELDS`] in a JSON body, if it parses.
fn secret_field_values(body: &[u8]) -> Vec<String> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    SECRET_FIELDS
        .iter()
        .filter_map(|name| match fields.get(*name) {
            Some(Value::String(value)) => Some(value.clone()),
            Some(Value::Number(value)) => Some(value.to_string()),
            _ => None,
        })
        .collect()
}

/// Checks one reply against its row and returns a message for each failed condition.
fn check(case: &Case, reply: &Reply, secrets: &[String]) -> Vec<String> {
    let label = {
        let path: String = case.path.chars().take(80).collect();
        format!("{} ({} {path})", case.description, case.method)
    };
    let reply_text = String::from_utf8_lossy(&reply.body);
    let excerpt: String = reply_text.chars().take(300).collect();
    let mut failures = Vec::new();

    if reply.status >= 500 {
        failures.push(format!("{label}: server error {}: {excerpt}", reply.status));
    }
    let (status, code) = case.expected;
    if reply.status != status {
        failures.push(format!(
            "{label}: expected status {status}, got {}: {excerpt}",
            reply.status
        ));
    }
    if !code.is_empty() && reply.error_code() != code {
        failures.push(format!("{label}: expected error code {code}: {excerpt}"));
    }
    if let Some(expected) = case.allow {
        let mut listed: Vec<&str> = reply
            .headers
            .get(ALLOW)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|method| !method.is_empty())
            .collect();
        listed.sort_unstable();
        let mut expected = expected.to_vec();
        expected.sort_unstable();
        if listed != expected {
            failures.push(format!(
                "{label}: Allow lists {listed:?}, expected {expected:?}"
            ));
        }
    }
    if let Some(text) = case.mentions {
        let message = reply.json["error"]["message"].as_str().unwrap_or("");
        if !message.contains(text) {
            failures.push(format!(
                "{label}: message does not mention {text}: {excerpt}"
            ));
        }
    }
    for secret in secrets {
        if secret.trim().chars().count() < 5 {
            continue;
        }
        // The value as sent, and as a JSON string would escape it.
        let escaped = serde_json::to_string(secret).expect("a string serialises");
        let escaped = &escaped[1..escaped.len() - 1];
        if reply_text.contains(secret.as_str()) || reply_text.contains(escaped) {
            let start: String = secret.chars().take(12).collect();
            failures.push(format!(
                "{label}: the response repeats the submitted value {start:?}"
            ));
        }
    }
    failures
}

#[tokio::test]
async fn bad_input_gets_documented_4xx() {
    let world = World::new().await;
    let cases: Vec<Case> = [
        sign_in_cases(),
        answer_challenge_cases(),
        refresh_cases(),
        switch_cases(),
        enrollment_cases(),
        own_factor_cases(),
        enforcement_cases(),
        path_cases(),
        authorization_cases(),
    ]
    .into_iter()
    .flatten()
    .collect();

    let mut failures = Vec::new();
    for case in &cases {
        assert_ne!(
            case.expected.0, 0,
            "{}: no expectation set",
            case.description
        );
        let (reply, secrets) = world.send(case).await;
        failures.extend(check(case, &reply, &secrets));
    }

    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
