//! Whole-service tests on the AWS adapters: every request goes through
//! `mfa_shared::http::serve`, as in the Lambda functions, on a DynamoDB table and KMS keys
//! in moto's server.
//!
//! - [`faults`]: a DynamoDB or KMS error or timeout at any SDK call of any operation gives
//!   503 `unavailable`, leaves no half-done change, and the request can be retried.
//! - [`operations`]: the DynamoDB and KMS operations that each function makes, held against
//!   `docs/aws-operations.json`.
//! - [`concurrency`]: single-use codes and the failure count under parallel requests.
//!
//! They need moto's server: run `bash scripts/moto.sh start` and set
//! `MFA_TEST_AWS_ENDPOINT=http://127.0.0.1:5055`. Without that variable the tests print that
//! they were skipped and pass, unless `MFA_REQUIRE_AWS=1`.

mod concurrency;
mod faults;
mod operations;
mod probe;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, Once};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use mfa_aws::faults::FailNth;
use mfa_aws::{create_resources_with, AwsClients, AwsSettings, DynamoStore, KmsCipher, KmsSigner};
use mfa_shared::random::{random_id, OsRandom};
use mfa_shared::service::{App, Parts};
use mfa_tests::{Harness, Reply};
use serde_json::Value;

use probe::Probe;

const ENDPOINT_VARIABLE: &str = "MFA_TEST_AWS_ENDPOINT";
const REQUIRE_VARIABLE: &str = "MFA_REQUIRE_AWS";

/// Prints once per test binary that the tests are skipped. It writes to the stderr handle
/// rather than through `eprintln!`, which the test harness captures.
fn report_skip(test: &str) {
    static REPORTED: Once = Once::new();
    REPORTED.call_once(|| {
        let line = format!(
            "aws_service: skipped the whole-service tests on DynamoDB and KMS ({test} and the rest of this binary): {ENDPOINT_VARIABLE} is not set\n"
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    });
}

/// Returns moto's endpoint, or `None` after reporting that `test` is skipped.
///
/// # Panics
/// When the endpoint is unset and `MFA_REQUIRE_AWS=1`, or when it is not on loopback.
fn aws_endpoint(test: &str) -> Option<String> {
    let endpoint = std::env::var(ENDPOINT_VARIABLE).unwrap_or_default();
    let endpoint = endpoint.trim();
    if endpoint.is_empty() {
        assert!(
            std::env::var(REQUIRE_VARIABLE).as_deref() != Ok("1"),
            "{test}: {ENDPOINT_VARIABLE} is not set but {REQUIRE_VARIABLE}=1: run `scripts/moto.sh start` and set {ENDPOINT_VARIABLE}=http://127.0.0.1:5055"
        );
        report_skip(test);
        return None;
    }
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
        .iter()
        .any(|prefix| endpoint.starts_with(prefix));
    assert!(
        loopback,
        "{ENDPOINT_VARIABLE} must be an http://127.0.0.1:<port> address, because the tests create and write tables"
    );
    Some(endpoint.to_owned())
}

/// Returns an SDK configuration for moto with static credentials from `AWS_ACCESS_KEY_ID`
/// and `AWS_SECRET_ACCESS_KEY` (default `test`) and `AWS_REGION` (default `us-east-1`), so
/// no credential or region lookup leaves the machine.
async fn sdk_config(endpoint: &str, timeouts: TimeoutConfig, max_attempts: u32) -> SdkConfig {
    let variable =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let credentials = Credentials::new(
        variable("AWS_ACCESS_KEY_ID", "test"),
        variable("AWS_SECRET_ACCESS_KEY", "test"),
        None,
        None,
        "mfa-service-tests",
    );
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(variable("AWS_REGION", "us-east-1")))
        .credentials_provider(credentials)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(max_attempts))
        .load()
        .await
}

/// Returns the configuration of tests without injected faults. moto serves one request at
/// a time, so under parallel load an attempt gets 20 seconds.
async fn moto_config(endpoint: &str) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(20))
        .build();
    sdk_config(endpoint, timeouts, 3).await
}

/// Returns a name that no other test uses, for a table or a key alias.
fn unique_name(label: &str) -> String {
    let suffix = &random_id(&OsRandom)[..12];
    format!("mfa-service-{label}-{suffix}")
}

/// The KMS keys of one test and the clients that created them.
#[derive(Debug, Clone)]
struct Keys {
    settings: AwsSettings,
    clients: AwsClients,
}

impl Keys {
    /// Creates a table and the two keys on moto.
    async fn create(label: &str, config: &SdkConfig) -> Self {
        let name = unique_name(label);
        let settings = AwsSettings {
            table: name.clone(),
            secrets_key_id: format!("alias/{name}-secrets"),
            signing_key_id: format!("alias/{name}-signing"),
        };
        let clients = AwsClients::from_sdk_config(config);
        create_resources_with(&settings, &clients)
            .await
            .expect("create the test table and keys on moto");
        Self { settings, clients }
    }
}

/// Builds both SDK clients with `faults` and `probe` attached.
fn clients_with(config: &SdkConfig, faults: &FailNth, probe: &Probe) -> AwsClients {
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(config)
        .interceptor(faults.clone())
        .interceptor(probe.clone())
        .build();
    let kms = aws_sdk_kms::config::Builder::from(config)
        .interceptor(faults.clone())
        .interceptor(probe.clone())
        .build();
    AwsClients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
        kms: aws_sdk_kms::Client::from_conf(kms),
    }
}

/// An app on its own DynamoDB table, with the test's keys, whose clients carry a
/// [`FailNth`] and a [`Probe`].
#[derive(Debug)]
struct World {
    harness: Harness,
    clients: AwsClients,
    /// The same app on clients with other timeouts, made by [`World::with_timeouts`].
    timed: Option<Harness>,
    keys: Keys,
    faults: FailNth,
    probe: Probe,
    table: Table,
}

/// Returns the ports on `table` and the test's keys, on `clients`.
async fn ports(
    keys: &Keys,
    table: &Table,
    clients: &AwsClients,
) -> (DynamoStore, KmsCipher, KmsSigner) {
    let store = DynamoStore::new(clients.dynamodb.clone(), table.name.clone());
    let cipher = KmsCipher::new(clients.kms.clone(), &keys.settings.secrets_key_id);
    let signer = KmsSigner::connect(clients.kms.clone(), &keys.settings.signing_key_id)
        .await
        .expect("the signing key is usable");
    (store, cipher, signer)
}

impl World {
    /// Creates a table named after `label` and builds the app on it with clients made
    /// from `config`.
    async fn new(keys: &Keys, config: &SdkConfig, label: &str) -> Self {
        let table = Table::create(&keys.clients, label).await;
        let faults = FailNth::new();
        let probe = Probe::new();
        let clients = clients_with(config, &faults, &probe);
        let (store, cipher, signer) = ports(keys, &table, &clients).await;
        let harness = Harness::with_adapters(Arc::new(store), Arc::new(cipher), Arc::new(signer));
        Self {
            harness,
            clients,
            timed: None,
            keys: keys.clone(),
            faults,
            probe,
            table,
        }
    }

    /// Adds the same app on clients made from `config`, with the same interceptors, clock
    /// and login service, so that one request can run under other timeouts.
    fn with_timeouts(mut self, config: &SdkConfig) -> Self {
        let clients = clients_with(config, &self.faults, &self.probe);
        let store = DynamoStore::new(clients.dynamodb.clone(), self.table.name.clone());
        let cipher = KmsCipher::new(clients.kms.clone(), &self.keys.settings.secrets_key_id);
        // The public key is already known, so building this app makes no call that its
        // short timeouts could end.
        let known = &self.harness.app.signer;
        let signer = KmsSigner::with_public_key(
            clients.kms.clone(),
            known.key_id().to_owned(),
            *known.verifying_key(),
        );
        let parts = Parts {
            store: Arc::new(store),
            cipher: Arc::new(cipher),
            signer: Arc::new(signer),
            clock: Arc::new(self.harness.clock.clone()),
            random: Arc::new(OsRandom),
        };
        let app = App::new(parts, &self.harness.login.config());
        self.timed = Some(Harness {
            app: Arc::new(app),
            login: self.harness.login.clone(),
            clock: self.harness.clock.clone(),
        });
        self
    }

    /// Disarms both interceptors and clears the calls they counted.
    fn disarm(&self) {
        self.faults.disarm();
        self.probe.reset();
    }

    /// Sends `request` through the whole service.
    async fn send(&self, request: &Request) -> Reply {
        send(&self.harness, request).await
    }

    /// Sends `request` through the app made by [`World::with_timeouts`].
    async fn send_timed(&self, request: &Request) -> Reply {
        let timed = self.timed.as_ref().expect("built with_timeouts");
        send(timed, request).await
    }
}

async fn send(harness: &Harness, request: &Request) -> Reply {
    harness
        .call(
            request.method,
            &request.path,
            request.bearer.as_deref(),
            request.body.clone(),
        )
        .await
}

/// A request as a client sends it.
#[derive(Debug, Clone)]
struct Request {
    method: &'static str,
    path: String,
    bearer: Option<String>,
    body: Option<Value>,
}

impl Request {
    fn new(method: &'static str, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            bearer: None,
            body: None,
        }
    }

    fn bearer(mut self, access_token: &str) -> Self {
        self.bearer = Some(access_token.to_owned());
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// One DynamoDB table, read with the test's own client, which has no faults.
#[derive(Debug, Clone)]
struct Table {
    client: aws_sdk_dynamodb::Client,
    name: String,
}

/// Every item of a table, keyed by `(pk, sk)`, each attribute rendered as canonical text.
type Snapshot = BTreeMap<(String, String), BTreeMap<String, String>>;

impl Table {
    async fn create(clients: &AwsClients, label: &str) -> Self {
        let name = unique_name(label);
        DynamoStore::new(clients.dynamodb.clone(), name.clone())
            .ensure_table()
            .await
            .expect("create a test table on moto");
        Self {
            client: clients.dynamodb.clone(),
            name,
        }
    }

    /// Reads every item with strongly consistent `Scan` pages.
    async fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::new();
        let mut start_key = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.name)
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .expect("scan the test table");
            for item in output.items.unwrap_or_default() {
                let key_part = |name: &str| match item.get(name) {
                    Some(AttributeValue::S(value)) => value.clone(),
                    other => panic!("item without a string `{name}`: {other:?}"),
                };
                let key = (key_part("pk"), key_part("sk"));
                let attributes = item
                    .iter()
                    .map(|(name, value)| (name.clone(), render(value)))
                    .collect();
                snapshot.insert(key, attributes);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return snapshot,
            }
        }
    }

    async fn delete(&self) {
        self.client
            .delete_table()
            .table_name(&self.name)
            .send()
            .await
            .expect("delete the test table");
    }
}

/// Renders an attribute value as text that is equal exactly when the values are, with map
/// entries and sets in sorted order.
fn render(value: &AttributeValue) -> String {
    fn sorted(mut parts: Vec<String>) -> String {
        parts.sort();
        parts.join(",")
    }
    match value {
        AttributeValue::S(text) => format!("S({text})"),
        AttributeValue::N(number) => format!("N({number})"),
        AttributeValue::B(bytes) => format!("B({:?})", bytes.as_ref()),
        AttributeValue::Bool(flag) => format!("BOOL({flag})"),
        AttributeValue::Null(_) => "NULL".to_owned(),
        AttributeValue::L(list) => {
            let parts: Vec<String> = list.iter().map(render).collect();
            format!("L[{}]", parts.join(","))
        }
        AttributeValue::M(map) => {
            let parts = map
                .iter()
                .map(|(name, value)| format!("{name}={}", render(value)))
                .collect();
            format!("M{{{}}}", sorted(parts))
        }
        AttributeValue::Ss(set) => format!("SS[{}]", sorted(set.clone())),
        AttributeValue::Ns(set) => format!("NS[{}]", sorted(set.clone())),
        AttributeValue::Bs(set) => {
            let parts = set
                .iter()
                .map(|bytes| format!("{:?}", bytes.as_ref()))
                .collect();
            format!("BS[{}]", sorted(parts))
        }
        other => format!("{other:?}"),
    }
}

/// Returns the kind of the item at `(pk, sk)`: the text before the first `#` of each, as
/// in `USER/FACTOR`, `SESSION/SESSION` or `USER/AUDIT`. An audit event adds its action.
fn item_kind(key: &(String, String), attributes: &BTreeMap<String, String>) -> String {
    let prefix = |part: &str| part.split('#').next().unwrap_or_default().to_owned();
    let kind = format!("{}/{}", prefix(&key.0), prefix(&key.1));
    match attributes.get("action") {
        Some(action) if kind == "USER/AUDIT" => format!("{kind} {action}"),
        _ => kind,
    }
}

/// Describes how `after` differs from `before`, one sorted line per item added, removed
/// or changed, naming the item's kind and the attributes changed. Ids, tokens and hashes
/// drawn at random are left out, so two runs of one request describe alike.
fn changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, attributes) in after {
        match before.get(key) {
            None => lines.push(format!("added {}", item_kind(key, attributes))),
            Some(old) if old != attributes => {
                let mut names: Vec<&str> = attributes
                    .iter()
                    .filter(|(name, value)| old.get(*name) != Some(*value))
                    .map(|(name, _)| name.as_str())
                    .collect();
                names.extend(
                    old.keys()
                        .filter(|name| !attributes.contains_key(*name))
                        .map(String::as_str),
                );
                names.sort_unstable();
                lines.push(format!(
                    "changed {}: {}",
                    item_kind(key, attributes),
                    names.join(", ")
                ));
            }
            Some(_) => {}
        }
    }
    for (key, attributes) in before {
        if !after.contains_key(key) {
            lines.push(format!("removed {}", item_kind(key, attributes)));
        }
    }
    lines.sort();
    lines
}
