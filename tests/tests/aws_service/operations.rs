//! The DynamoDB and KMS operations that each function makes, recorded by walking every
//! operation of the API through the handlers on the AWS adapters, and held against
//! `docs/aws-operations.json`.
//!
//! The file maps each operation (`Operation::name`) to two sorted lists:
//! - `calls`: the SDK calls its function makes, as `service:Operation`. This includes the
//!   calls of every cold start (`mfa_aws::build_parts`) and `dynamodb:TransactWriteItems`.
//! - `transaction_items`: the writes inside its `TransactWriteItems` calls, as the IAM
//!   actions that authorize them. IAM has no `TransactWriteItems` action: it authorizes
//!   each write of a transaction as `PutItem`, `UpdateItem`, `DeleteItem` or
//!   `ConditionCheckItem`.
//!
//! A function's IAM policy needs `calls` without `dynamodb:TransactWriteItems`, plus
//! `transaction_items`. The walk covers the success paths and the main failure paths:
//! wrong code, lockout, replay, forced enrollment, refresh with reuse, reset, and switching
//! to an account that requires MFA.
//!
//! When the recorded operations differ from the file, the test fails. Run it with
//! `MFA_UPDATE_AWS_OPERATIONS=1` to rewrite the file, and review the change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use http::Method;
use mfa_aws::build_parts_with;
use mfa_shared::domain::totp::TotpSecret;
use mfa_shared::http::routes::resolve;
use mfa_shared::Operation;
use mfa_tests::{secret_from_base32, Harness, Reply};
use serde_json::{json, Value};

use super::{aws_endpoint, moto_config, Keys, Request, World};

const UPDATE_VARIABLE: &str = "MFA_UPDATE_AWS_OPERATIONS";

const ANA: &str = "ana@acme.test";
const BOB: &str = "bob@acme.test";
const CAROL: &str = "carol@acme.test";
const DAVE: &str = "dave@acme.test";
const ANA_ACCOUNTS: &[(&str, &str)] = &[("acme", "owner"), ("beta", "member")];
const BOB_ACCOUNTS: &[(&str, &str)] = &[("acme", "member")];
const CAROL_ACCOUNTS: &[(&str, &str)] = &[("acme", "member")];
const DAVE_ACCOUNTS: &[(&str, &str)] = &[("acme", "member"), ("beta", "member")];

/// The AWS calls of one function.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Record {
    calls: BTreeSet<String>,
    transaction_items: BTreeSet<String>,
}

impl Record {
    fn to_json(&self) -> Value {
        json!({ "calls": self.calls, "transaction_items": self.transaction_items })
    }

    /// Reads the entry of `operation` in the file's JSON, naming what is missing.
    fn from_json(operation: &str, document: &Value) -> Self {
        let list = |field: &str| -> BTreeSet<String> {
            document[operation][field]
                .as_array()
                .unwrap_or_else(|| {
                    panic!("docs/aws-operations.json has no list {operation}.{field}: run this test with {UPDATE_VARIABLE}=1")
                })
                .iter()
                .map(|entry| entry.as_str().expect("entries are strings").to_owned())
                .collect()
        };
        Self {
            calls: list("calls"),
            transaction_items: list("transaction_items"),
        }
    }
}

/// A walk through the API that records, per operation, the calls of each request.
#[derive(Debug)]
struct Walk {
    world: World,
    records: BTreeMap<&'static str, Record>,
}

impl Walk {
    fn harness(&self) -> &Harness {
        &self.world.harness
    }

    /// Sends `request`, records its calls under its operation, and checks its status.
    async fn send(&mut self, request: Request, expected_status: u16, step: &str) -> Reply {
        self.world.disarm();
        let reply = self.world.send(&request).await;
        let method = Method::from_bytes(request.method.as_bytes()).expect("valid method");
        let (operation, _) = resolve(&method, &request.path).expect("a route of the API");
        let record = self.records.entry(operation.name()).or_default();
        record.calls.extend(self.world.probe.calls());
        record
            .transaction_items
            .extend(self.world.probe.transaction_items());
        assert_eq!(reply.status, expected_status, "{step}: {}", reply.json);
        reply
    }

    async fn sign_in(
        &mut self,
        email: &str,
        method: &str,
        accounts: &[(&str, &str)],
        account: &str,
        expected: &str,
    ) -> Reply {
        let assertion = self.harness().assertion(email, method, accounts).await;
        let body = json!({ "login_assertion": assertion, "account": account });
        let step = format!("sign in {email} to {account}");
        let reply = self
            .send(Request::new("POST", "/v1/sessions").body(body), 200, &step)
            .await;
        assert_eq!(reply.json["status"], expected, "{step}: {}", reply.json);
        reply
    }

    async fn answer(&mut self, ticket: &str, field: &str, code: &str, status: u16) -> Reply {
        let body = json!({ "mfa_ticket": ticket, field: code });
        let request = Request::new("POST", "/v1/sessions/mfa").body(body);
        self.send(request, status, &format!("answer with {field}"))
            .await
    }

    /// Starts and confirms an enrollment, first with a wrong code. Returns the secret and
    /// the confirm reply.
    async fn enroll(&mut self, access: Option<&str>, ticket: Option<&str>) -> (TotpSecret, Reply) {
        let mut start = Request::new("POST", "/v1/me/mfa/enrollment");
        if let Some(access) = access {
            start = start.bearer(access);
        }
        if let Some(ticket) = ticket {
            start = start.body(json!({ "mfa_ticket": ticket }));
        }
        let started = self.send(start, 200, "start enrollment").await;
        let secret = secret_from_base32(&started.text("/secret"));

        let mut confirm = Request::new("POST", "/v1/me/mfa/enrollment/confirm");
        if let Some(access) = access {
            confirm = confirm.bearer(access);
        }
        let mut body = json!({ "enrollment_id": started.text("/enrollment_id") });
        if let Some(ticket) = ticket {
            body["mfa_ticket"] = json!(ticket);
        }
        body["code"] = json!(self.harness().code(&secret, 5));
        self.send(
            confirm.clone().body(body.clone()),
            401,
            "confirm with a wrong code",
        )
        .await;
        body["code"] = json!(self.harness().code(&secret, 0));
        let confirmed = self.send(confirm.body(body), 200, "confirm").await;
        (secret, confirmed)
    }

    /// Signs in a member with a factor and answers the challenge at the next step.
    /// Returns the access token.
    async fn second_factor(
        &mut self,
        email: &str,
        accounts: &[(&str, &str)],
        secret: &TotpSecret,
    ) -> String {
        self.world.harness.next_step();
        let ticket = self
            .sign_in(email, "email", accounts, "acme", "mfa_required")
            .await
            .text("/mfa_ticket");
        let code = self.harness().code(secret, 0);
        self.answer(&ticket, "code", &code, 200)
            .await
            .text("/session/access_token")
    }

    /// Walks every operation through its success paths and its main failure paths.
    async fn run(&mut self) {
        self.send(Request::new("GET", "/.well-known/jwks.json"), 200, "jwks")
            .await;

        // Ana signs in without a factor, enrolls, and answers challenges.
        let ana = self
            .sign_in(ANA, "email", ANA_ACCOUNTS, "acme", "authenticated")
            .await
            .text("/session/access_token");
        // Dave's session on `acme` starts before `acme` requires MFA.
        let dave = self
            .sign_in(DAVE, "email", DAVE_ACCOUNTS, "acme", "authenticated")
            .await;
        let status = Request::new("GET", "/v1/me/mfa").bearer(&ana);
        self.send(status, 200, "status without a factor").await;
        let (secret, enrolled) = self.enroll(Some(&ana), None).await;
        let backup_codes: Vec<String> = enrolled.json["backup_codes"]
            .as_array()
            .expect("backup codes")
            .iter()
            .map(|code| code.as_str().expect("a code").to_owned())
            .collect();
        let again = Request::new("POST", "/v1/me/mfa/enrollment").bearer(&ana);
        self.send(again, 409, "start while enrolled").await;

        self.harness().next_step();
        let ticket = self
            .sign_in(ANA, "email", ANA_ACCOUNTS, "acme", "mfa_required")
            .await
            .text("/mfa_ticket");
        let wrong = self.harness().code(&secret, 5);
        self.answer(&ticket, "code", &wrong, 401).await;
        let code = self.harness().code(&secret, 0);
        let reply = self.answer(&ticket, "code", &code, 200).await;
        let ana = reply.text("/session/access_token");
        let ana_refresh = reply.text("/session/refresh_token");
        let ticket = self
            .sign_in(ANA, "email", ANA_ACCOUNTS, "acme", "mfa_required")
            .await
            .text("/mfa_ticket");
        self.answer(&ticket, "code", &code, 401).await;
        self.answer(&ticket, "backup_code", &backup_codes[0], 200)
            .await;
        let ticket = self
            .sign_in(ANA, "email", ANA_ACCOUNTS, "acme", "mfa_required")
            .await
            .text("/mfa_ticket");
        self.answer(&ticket, "backup_code", &backup_codes[0], 401)
            .await;
        let status = Request::new("GET", "/v1/me/mfa").bearer(&ana);
        self.send(status, 200, "status with a factor").await;

        // Regeneration, then its replay.
        self.harness().next_step();
        let code = self.harness().code(&secret, 0);
        let regenerate = Request::new("POST", "/v1/me/mfa/backup-codes")
            .bearer(&ana)
            .body(json!({ "code": code }));
        self.send(regenerate.clone(), 200, "regenerate").await;
        self.send(regenerate, 401, "regenerate with a spent code")
            .await;

        // Refresh, then reuse of the rotated token.
        let refresh = |token: &str| {
            Request::new("POST", "/v1/sessions/refresh").body(json!({ "refresh_token": token }))
        };
        self.send(refresh(&ana_refresh), 200, "refresh").await;
        self.send(refresh(&ana_refresh), 401, "refresh with a rotated token")
            .await;

        // Enforcement.
        let ana = self.second_factor(ANA, ANA_ACCOUNTS, &secret).await;
        let settings = "/v1/accounts/acme/settings/security";
        self.send(
            Request::new("GET", settings).bearer(&ana),
            200,
            "read enforcement",
        )
        .await;
        let enforce = |require_mfa: bool| {
            Request::new("PUT", settings)
                .bearer(&ana)
                .body(json!({ "require_mfa": require_mfa }))
        };
        self.send(enforce(true), 200, "require MFA").await;

        // Bob must enroll at sign-in; Carol signs in with SAML.
        let ticket = self
            .sign_in(BOB, "email", BOB_ACCOUNTS, "acme", "enrollment_required")
            .await
            .text("/mfa_ticket");
        let (bob_secret, _) = self.enroll(None, Some(&ticket)).await;
        let carol = self
            .sign_in(CAROL, "saml", CAROL_ACCOUNTS, "acme", "authenticated")
            .await
            .text("/session/access_token");

        // Dave's refresh now needs enrollment; his switch to `acme` from `beta` too.
        let reply = self
            .send(
                refresh(&dave.text("/session/refresh_token")),
                200,
                "refresh into enrollment",
            )
            .await;
        assert_eq!(
            reply.json["status"], "enrollment_required",
            "{}",
            reply.json
        );
        let dave = self
            .sign_in(DAVE, "email", DAVE_ACCOUNTS, "beta", "authenticated")
            .await
            .text("/session/access_token");
        let switch = |access: &str, account: &str| {
            Request::new("POST", "/v1/sessions/switch")
                .bearer(access)
                .body(json!({ "account": account }))
        };
        let reply = self
            .send(
                switch(&dave, "acme"),
                200,
                "switch to an account that requires MFA",
            )
            .await;
        assert_eq!(
            reply.json["status"], "enrollment_required",
            "{}",
            reply.json
        );
        let ana_to_switch = self.second_factor(ANA, ANA_ACCOUNTS, &secret).await;
        let ana_beta = self
            .send(switch(&ana_to_switch, "beta"), 200, "switch")
            .await
            .text("/session/access_token");

        // Bob locks himself out: ten wrong codes, then even the right one gets 429.
        self.harness().next_step();
        let ticket = self
            .sign_in(BOB, "email", BOB_ACCOUNTS, "acme", "mfa_required")
            .await
            .text("/mfa_ticket");
        let wrong = self.harness().code(&bob_secret, 5);
        for _ in 0..10 {
            self.answer(&ticket, "code", &wrong, 401).await;
        }
        let code = self.harness().code(&bob_secret, 0);
        self.answer(&ticket, "code", &code, 429).await;

        // Ana lists the members, resets Bob and an unknown user.
        let ana = self.second_factor(ANA, ANA_ACCOUNTS, &secret).await;
        let members = Request::new("GET", "/v1/accounts/acme/members").bearer(&ana);
        self.send(members, 200, "list members").await;
        let reset = |user_id: &str| {
            let path = format!("/v1/accounts/acme/members/{user_id}/mfa");
            Request::new("DELETE", path).bearer(&ana)
        };
        let bob_id = Harness::user_id(BOB);
        self.send(reset(bob_id.as_str()), 204, "reset Bob").await;
        self.send(reset("u-unknown"), 404, "reset an unknown user")
            .await;

        // Ana cannot disable while `acme` requires MFA; then she can.
        self.harness().next_step();
        let disable = |code: String| {
            Request::new("DELETE", "/v1/me/mfa")
                .bearer(&ana)
                .body(json!({ "code": code }))
        };
        let code = self.harness().code(&secret, 0);
        self.send(disable(code.clone()), 409, "disable while required")
            .await;
        self.send(enforce(false), 200, "stop requiring MFA").await;
        self.send(disable(code), 204, "disable").await;

        let sign_out = |access: &str| Request::new("DELETE", "/v1/sessions/current").bearer(access);
        self.send(sign_out(&carol), 204, "sign out").await;
        self.send(sign_out(&ana_beta), 204, "sign out after a switch")
            .await;
    }
}

fn operations_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/aws-operations.json")
}

/// Lists the entries of `left` missing from `right`.
fn missing(left: &BTreeSet<String>, right: &BTreeSet<String>) -> Vec<String> {
    left.difference(right).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_operations_match_file() {
    let Some(endpoint) = aws_endpoint("aws_operations_match_file") else {
        return;
    };
    let config = moto_config(&endpoint).await;
    let keys = Keys::create("operations", &config).await;
    let world = World::new(&keys, &config, "operations").await;

    world.disarm();
    let mut settings = keys.settings.clone();
    settings.table = world.table.name.clone();
    build_parts_with(&settings, &world.clients)
        .await
        .expect("build the AWS parts");
    let cold_start = world.probe.calls();

    let mut walk = Walk {
        world,
        records: BTreeMap::new(),
    };
    walk.run().await;
    walk.world.table.delete().await;

    let mut recorded = BTreeMap::new();
    for operation in Operation::ALL {
        let mut record = walk
            .records
            .remove(operation.name())
            .unwrap_or_else(|| panic!("the walk sends no {} request", operation.name()));
        record.calls.extend(cold_start.iter().cloned());
        recorded.insert(operation.name(), record);
    }
    let document: serde_json::Map<String, Value> = recorded
        .iter()
        .map(|(operation, record)| ((*operation).to_owned(), record.to_json()))
        .collect();
    let text = serde_json::to_string_pretty(&document).expect("serialise") + "\n";

    let path = operations_path();
    if std::env::var(UPDATE_VARIABLE).as_deref() == Ok("1") {
        std::fs::write(&path, &text).expect("write docs/aws-operations.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}: run this test with {UPDATE_VARIABLE}=1 to create it",
            path.display()
        )
    });
    let committed_document: Value =
        serde_json::from_str(&committed).expect("docs/aws-operations.json is valid JSON");
    for (operation, record) in &recorded {
        let committed_record = Record::from_json(operation, &committed_document);
        for (field, now, before) in [
            ("calls", &record.calls, &committed_record.calls),
            (
                "transaction_items",
                &record.transaction_items,
                &committed_record.transaction_items,
            ),
        ] {
            assert!(
                now == before,
                "{operation}.{field} differs from docs/aws-operations.json: the code added {:?} and dropped {:?}. Run this test with {UPDATE_VARIABLE}=1 to rewrite the file, and update the IAM policies in template.yaml",
                missing(now, before),
                missing(before, now)
            );
        }
    }
    assert_eq!(
        committed, text,
        "docs/aws-operations.json lists the same operations but is not formatted as this test writes it: run it with {UPDATE_VARIABLE}=1"
    );
}
