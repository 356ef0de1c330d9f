//! Checks `template.yaml`, the SAM deployment, against the code. The template must have
//! one function and one route per operation and per crate under `functions/`, the routes
//! of [`ROUTES`], and every configuration variable that the functions read. Each
//! function's policy must grant exactly the IAM actions of the DynamoDB and KMS calls that
//! `docs/aws-operations.json` records for it (the `aws_service` test keeps that file in
//! step with the code).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use mfa_shared::http::routes::ROUTES;
use mfa_shared::Operation;
use serde_yaml_ng::Value;

/// The recorded DynamoDB and KMS calls of every function, by operation name.
const OPERATIONS_FILE: &str = "docs/aws-operations.json";

/// SDK calls that IAM does not authorize as themselves: a transaction is authorized per
/// item, as the actions in the record's `transaction_items`.
const TRANSACTION_CALLS: [&str; 1] = ["dynamodb:TransactWriteItems"];

/// Operations that hash or verify backup codes with Argon2id (m = 19456 KiB, t = 2, p = 1,
/// as `BackupHasher` sets).
const ARGON2_OPERATIONS: [Operation; 3] = [
    Operation::AnswerChallenge,
    Operation::ConfirmEnrollment,
    Operation::RegenerateBackupCodes,
];

/// Minimum memory, in MB, of a function that runs Argon2id. Lambda allocates CPU in
/// proportion to memory, and confirming an enrollment hashes ten codes.
// NOTE: an estimate, not measured on Lambda; tune it with the functions' REPORT durations.
const ARGON2_MIN_MEMORY_MB: u64 = 512;

/// Source files whose configuration variables every function reads at cold start.
const CONFIG_SOURCES: [&str; 2] = ["shared/src/config.rs", "aws/src/settings.rs"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the repository root")
        .to_path_buf()
}

fn crate_name(operation: Operation) -> String {
    operation.name().replace('_', "-")
}

fn template() -> Value {
    let path = repo_root().join("template.yaml");
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not valid YAML: {error}", path.display()))
}

fn resources(template: &Value) -> &serde_yaml_ng::Mapping {
    template["Resources"]
        .as_mapping()
        .expect("template has a Resources map")
}

/// Reads an intrinsic function in short (`!Ref X`, `!GetAtt X.Arn`) or long form
/// (`Ref: X`, `Fn::GetAtt: [X, Arn]`) as its name and argument, e.g. `("GetAtt", "X.Arn")`.
fn intrinsic(value: &Value) -> Option<(String, String)> {
    match value {
        Value::Tagged(tagged) => {
            let name = tagged.tag.to_string().trim_start_matches('!').to_owned();
            let argument = match &tagged.value {
                Value::String(text) => text.clone(),
                Value::Sequence(parts) => parts
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("."),
                _ => return None,
            };
            Some((name, argument))
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, argument) = map.iter().next()?;
            let name = key.as_str()?.trim_start_matches("Fn::").to_owned();
            let argument = match argument {
                Value::String(text) => text.clone(),
                Value::Sequence(parts) => parts
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("."),
                _ => return None,
            };
            Some((name, argument))
        }
        _ => None,
    }
}

/// An `AWS::Serverless::Function` resource as the checks see it.
#[derive(Debug)]
struct Function<'a> {
    logical_id: String,
    binary: String,
    resource: &'a Value,
}

fn functions(template: &Value) -> Vec<Function<'_>> {
    resources(template)
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, resource)| {
            let logical_id = id.as_str().expect("logical ids are strings").to_owned();
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{logical_id} has no Metadata.BuildProperties.Binary"))
                .to_owned();
            Function {
                logical_id,
                binary,
                resource,
            }
        })
        .collect()
}

fn function_for<'a>(functions: &'a [Function<'a>], operation: Operation) -> &'a Function<'a> {
    let name = crate_name(operation);
    let matching: Vec<_> = functions
        .iter()
        .filter(|function| function.binary == name)
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "template functions building binary `{name}`: {matching:?}"
    );
    matching[0]
}

/// Returns the binary name of a function crate: its `[[bin]]` name, or else its package name.
fn binary_of_crate(directory: &Path) -> String {
    let manifest_path = directory.join("Cargo.toml");
    let text = fs::read_to_string(&manifest_path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", manifest_path.display()));
    let manifest: toml::Table = text
        .parse()
        .unwrap_or_else(|error| panic!("{} is not valid TOML: {error}", manifest_path.display()));
    if let Some(bins) = manifest.get("bin").and_then(toml::Value::as_array) {
        assert_eq!(
            bins.len(),
            1,
            "{} should define exactly one [[bin]]",
            manifest_path.display()
        );
        if let Some(name) = bins[0].get("name").and_then(toml::Value::as_str) {
            return name.to_owned();
        }
    }
    manifest["package"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("{} has no package name", manifest_path.display()))
        .to_owned()
}

/// Returns the (method, path) of every route event of a function.
fn routes_of(function: &Function<'_>) -> Vec<(String, String)> {
    let events = function.resource["Properties"]["Events"]
        .as_mapping()
        .unwrap_or_else(|| panic!("{} has no Events", function.logical_id));
    events
        .values()
        .map(|event| {
            assert_eq!(
                event["Type"].as_str(),
                Some("HttpApi"),
                "{}: event type",
                function.logical_id
            );
            let properties = &event["Properties"];
            assert_eq!(
                intrinsic(&properties["ApiId"]),
                Some(("Ref".to_owned(), "HttpApi".to_owned())),
                "{}: the route must belong to the HttpApi resource",
                function.logical_id
            );
            let method = properties["Method"]
                .as_str()
                .expect("route method")
                .to_uppercase();
            let path = properties["Path"].as_str().expect("route path").to_owned();
            (method, path)
        })
        .collect()
}

/// Returns the template path of a route-table pattern: `{}` becomes `{slug}`, then `{user_id}`.
fn template_path(pattern: &str) -> String {
    pattern
        .replacen("{}", "{slug}", 1)
        .replacen("{}", "{user_id}", 1)
}

/// Returns every policy statement of a function.
fn statements<'a>(function: &'a Function<'a>) -> Vec<&'a Value> {
    let policies = function.resource["Properties"]["Policies"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{} has no Policies list", function.logical_id));
    policies
        .iter()
        .flat_map(|policy| {
            policy["Statement"]
                .as_sequence()
                .unwrap_or_else(|| {
                    panic!(
                        "{}: every policy must be a document with a Statement list",
                        function.logical_id
                    )
                })
                .iter()
        })
        .collect()
}

fn actions_of(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(action) => vec![action.clone()],
        Value::Sequence(actions) => actions
            .iter()
            .map(|action| action.as_str().expect("actions are strings").to_owned())
            .collect(),
        other => panic!("statement Action is neither a string nor a list: {other:?}"),
    }
}

fn resources_of(statement: &Value) -> Vec<&Value> {
    match &statement["Resource"] {
        Value::Sequence(resources) => resources.iter().collect(),
        Value::Null => panic!("statement has no Resource: {statement:?}"),
        resource => vec![resource],
    }
}

fn get_att(target: &str) -> Option<(String, String)> {
    Some(("GetAtt".to_owned(), target.to_owned()))
}

/// Returns the actions (`service:Action`) that a function's policy grants, after checking
/// that each statement allows only named DynamoDB or KMS actions on this stack's table or
/// keys.
fn granted_actions(function: &Function<'_>) -> BTreeSet<String> {
    let id = &function.logical_id;
    let mut granted = BTreeSet::new();
    for statement in statements(function) {
        assert_eq!(
            statement["Effect"].as_str(),
            Some("Allow"),
            "{id}: statement {statement:?}"
        );
        let resources = resources_of(statement);
        for action in actions_of(statement) {
            assert!(!action.contains('*'), "{id}: wildcard action `{action}`");
            let (service, name) = action
                .split_once(':')
                .unwrap_or_else(|| panic!("{id}: action `{action}` has no service prefix"));
            let expected_resource = match (service, name) {
                ("dynamodb", _) => get_att("Table.Arn"),
                ("kms", "Encrypt" | "Decrypt" | "DescribeKey") => get_att("SecretsKey.Arn"),
                ("kms", "Sign" | "GetPublicKey") => get_att("SigningKey.Arn"),
                _ => panic!("{id}: action `{action}` is neither a DynamoDB action nor a KMS action that the service calls (Encrypt, Decrypt, DescribeKey, GetPublicKey, Sign)"),
            };
            for resource in &resources {
                assert!(
                    resource.as_str() != Some("*"),
                    "{id}: `{action}` on every resource"
                );
                assert_eq!(
                    intrinsic(resource),
                    expected_resource,
                    "{id}: resource of `{action}`"
                );
            }
            if matches!(name, "Encrypt" | "Decrypt") {
                let purpose =
                    &statement["Condition"]["StringEquals"]["kms:EncryptionContext:purpose"];
                assert_eq!(
                    purpose.as_str(),
                    Some("totp-secret"),
                    "{id}: `{action}` needs the purpose condition"
                );
            }
            if name == "Sign" {
                let algorithm = &statement["Condition"]["StringEquals"]["kms:SigningAlgorithm"];
                assert_eq!(
                    algorithm.as_str(),
                    Some("ECDSA_SHA_256"),
                    "{id}: `{action}` needs the signing algorithm condition"
                );
            }
            granted.insert(action);
        }
    }
    granted
}

/// Returns the IAM actions of each operation's recorded calls.
fn recorded_actions() -> BTreeMap<String, BTreeSet<String>> {
    let path = repo_root().join(OPERATIONS_FILE);
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let document: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{OPERATIONS_FILE} is not valid JSON: {error}"));
    let strings = |operation: &str, field: &str| -> Vec<String> {
        document[operation][field]
            .as_array()
            .unwrap_or_else(|| panic!("{OPERATIONS_FILE}: {operation}.{field} is not a list"))
            .iter()
            .map(|call| call.as_str().expect("calls are strings").to_owned())
            .collect()
    };

    let mut actions = BTreeMap::new();
    for operation in Operation::ALL {
        let name = operation.name();
        let calls = strings(name, "calls");
        let transaction_items = strings(name, "transaction_items");
        let makes_transactions = calls
            .iter()
            .any(|call| TRANSACTION_CALLS.contains(&call.as_str()));
        assert_eq!(
            makes_transactions,
            !transaction_items.is_empty(),
            "{OPERATIONS_FILE}: {name} should list transaction_items exactly when it calls TransactWriteItems"
        );

        let iam_actions: BTreeSet<String> = calls
            .into_iter()
            .filter(|call| !TRANSACTION_CALLS.contains(&call.as_str()))
            .chain(transaction_items)
            .collect();
        actions.insert(name.to_owned(), iam_actions);
    }
    actions
}

#[test]
fn every_operation_has_one_function() {
    let template = template();
    let functions = functions(&template);
    let binaries: BTreeSet<String> = functions
        .iter()
        .map(|function| function.binary.clone())
        .collect();
    let operations: BTreeSet<String> = Operation::ALL.into_iter().map(crate_name).collect();

    assert_eq!(
        binaries, operations,
        "function binaries in template.yaml against Operation::ALL"
    );
    assert_eq!(
        functions.len(),
        Operation::ALL.len(),
        "one function per operation"
    );
}

#[test]
fn every_function_crate_has_one_function() {
    let template = template();
    let functions = functions(&template);
    let functions_dir = repo_root().join("functions");
    let mut crate_dirs = BTreeMap::new();
    for entry in fs::read_dir(&functions_dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", functions_dir.display()))
    {
        let path = entry.expect("directory entry").path();
        if path.join("Cargo.toml").is_file() {
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .expect("UTF-8 name")
                .to_owned();
            crate_dirs.insert(name, path);
        }
    }

    for (name, directory) in &crate_dirs {
        let code_uri = format!("functions/{name}");
        let matching: Vec<_> = functions
            .iter()
            .filter(|function| {
                function.resource["Properties"]["CodeUri"].as_str() == Some(code_uri.as_str())
            })
            .collect();
        assert_eq!(matching.len(), 1, "functions with CodeUri {code_uri}");
        assert_eq!(
            matching[0].binary,
            binary_of_crate(directory),
            "{}: Binary of {code_uri}",
            matching[0].logical_id
        );
        assert_eq!(
            routes_of(matching[0]).len(),
            1,
            "{}: routes",
            matching[0].logical_id
        );
    }
    for function in &functions {
        let code_uri = function.resource["Properties"]["CodeUri"]
            .as_str()
            .unwrap_or("");
        let directory = code_uri.strip_prefix("functions/").unwrap_or("");
        assert!(
            crate_dirs.contains_key(directory),
            "{}: CodeUri `{code_uri}` is no crate under functions/",
            function.logical_id
        );
    }
}

#[test]
fn routes_match_route_table() {
    let template = template();
    let functions = functions(&template);

    for (method, pattern, operation) in ROUTES {
        let function = function_for(&functions, operation);
        let routes = routes_of(function);
        let expected = vec![(method.to_owned(), template_path(pattern))];
        assert_eq!(
            routes,
            expected,
            "{}: route of {}",
            function.logical_id,
            operation.name()
        );
    }
    let route_count: usize = functions
        .iter()
        .map(|function| routes_of(function).len())
        .sum();
    assert_eq!(route_count, ROUTES.len(), "routes in template.yaml");
}

#[test]
fn no_dev_route() {
    let template = template();
    for function in functions(&template) {
        for (method, path) in routes_of(&function) {
            assert!(
                !path.starts_with("/dev"),
                "{}: {method} {path} is for mfa-local only",
                function.logical_id
            );
        }
    }
}

#[test]
fn iam_actions_match_recorded_calls() {
    let template = template();
    let functions = functions(&template);
    let recorded = recorded_actions();

    for operation in Operation::ALL {
        let function = function_for(&functions, operation);
        let granted = granted_actions(function);
        let expected = &recorded[operation.name()];
        let extra: Vec<_> = granted.difference(expected).collect();
        let missing: Vec<_> = expected.difference(&granted).collect();
        assert!(
            extra.is_empty(),
            "{}: granted but never called: {extra:?}",
            function.logical_id
        );
        assert!(
            missing.is_empty(),
            "{}: called but not granted: {missing:?}",
            function.logical_id
        );
    }
}

#[test]
fn every_config_variable_is_set() {
    let template = template();
    let variables = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .expect("Globals.Function.Environment.Variables");
    let set: BTreeSet<&str> = variables.keys().filter_map(Value::as_str).collect();
    let mut read = BTreeSet::new();
    for source in CONFIG_SOURCES {
        let text = fs::read_to_string(repo_root().join(source))
            .unwrap_or_else(|error| panic!("cannot read {source}: {error}"));
        for piece in text.split('"').skip(1).step_by(2) {
            let is_variable = piece.starts_with("MFA_")
                && piece
                    .bytes()
                    .all(|byte| byte.is_ascii_uppercase() || byte == b'_');
            if is_variable {
                read.insert(piece.to_owned());
            }
        }
    }

    assert!(
        !read.is_empty(),
        "found no MFA_* variable names in {CONFIG_SOURCES:?}"
    );
    for variable in &read {
        assert!(
            set.contains(variable.as_str()),
            "{variable} is read by the functions but not set in Globals"
        );
    }
    for variable in set.iter().filter(|name| name.starts_with("MFA_")) {
        assert!(
            read.contains(*variable),
            "{variable} is set in Globals but never read"
        );
    }
}

#[test]
fn functions_build_with_cargo_lambda_for_arm64() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Handler"].as_str(), Some("bootstrap"));
    assert_eq!(
        globals["Architectures"],
        Value::Sequence(vec![Value::from("arm64")])
    );
    let resources = resources(&template);

    for function in functions(&template) {
        let id = &function.logical_id;
        let properties = &function.resource["Properties"];
        assert_eq!(
            function.resource["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );
        for key in ["Runtime", "Handler", "Architectures"] {
            assert!(
                properties[key].is_null(),
                "{id}: {key} should come from Globals"
            );
        }

        let logging = &properties["LoggingConfig"];
        assert_eq!(
            logging["LogFormat"].as_str(),
            Some("JSON"),
            "{id}: LogFormat"
        );
        let (kind, log_group) =
            intrinsic(&logging["LogGroup"]).unwrap_or_else(|| panic!("{id}: LogGroup is no !Ref"));
        assert_eq!(kind, "Ref", "{id}: LogGroup");
        let log_group = &resources[log_group.as_str()];
        assert_eq!(
            log_group["Type"].as_str(),
            Some("AWS::Logs::LogGroup"),
            "{id}: LogGroup resource"
        );
        assert!(
            !log_group["Properties"]["RetentionInDays"].is_null(),
            "{id}: log retention"
        );
    }
}

#[test]
fn argon2_functions_have_more_memory() {
    let template = template();
    let functions = functions(&template);
    let default_memory = template["Globals"]["Function"]["MemorySize"].as_u64();

    for operation in ARGON2_OPERATIONS {
        let function = function_for(&functions, operation);
        let memory = function.resource["Properties"]["MemorySize"]
            .as_u64()
            .or(default_memory);
        assert!(
            memory.is_some_and(|memory| memory >= ARGON2_MIN_MEMORY_MB),
            "{}: MemorySize {memory:?} is below {ARGON2_MIN_MEMORY_MB} MB",
            function.logical_id
        );
    }
}
