#!/usr/bin/env bash
# Runs the sign-in, start-enrollment, confirm-enrollment and answer-challenge Lambda
# functions under cargo-lambda's emulator (`cargo lambda watch`) on DynamoDB and KMS at
# moto's server, and walks one user through MFA with API Gateway HTTP API (payload 2.0)
# events sent by `cargo lambda invoke`. It checks the status code and body fields of every
# response, and exits non-zero with the field that differed.
#
#   bash scripts/lambda-emulator.sh
#
# The walk: sign in (a session), start enrollment (secret and otpauth URI), confirm it
# (backup codes), sign in again (mfa_required with a ticket), answer the challenge with a
# fresh code (a session with aal 2), then sign in once more and answer with the code just
# used (401 invalid_code).
#
# It needs moto's server at MFA_TEST_AWS_ENDPOINT (default http://127.0.0.1:$MOTO_PORT,
# with MOTO_PORT 5055 by default), which `scripts/moto.sh start` starts, and python3 in
# .venv, which that command creates. It also needs oathtool and setsid (util-linux). It
# installs cargo-lambda from PyPI into .venv when it is missing or at another version.
# `cargo lambda watch` builds and runs the functions with plain `cargo run` for the host,
# so zig is not needed here. The functions, mfa-local and mfa-demo-login are built in the
# workspace's target directory with the dev profile.
#
# Each run creates its own DynamoDB table and KMS keys in moto, so runs never share data.
# The emulator listens on a free port of 127.0.0.1 and is stopped on exit, also on failure.
# On failure, the events, responses and logs stay in .tmp/lambda-emulator.*.
set -euo pipefail

# The version that scripts/build.sh pins, so that both scripts use one install.
CARGO_LAMBDA_VERSION="1.9.2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="$VENV/bin/python"
FIXTURES="$ROOT/lambda/tests/fixtures"
ENDPOINT="${MFA_TEST_AWS_ENDPOINT:-http://127.0.0.1:${MOTO_PORT:-5055}}"
FUNCTIONS=(sign-in start-enrollment confirm-enrollment answer-challenge)
# Maximum time of one `cargo lambda invoke`, in seconds. The first call of a function
# includes `cargo run` checking the build, and the function's cold start on moto.
INVOKE_TIMEOUT=180
# TOTP time step in seconds (RFC 6238 §4, and the service's setting).
STEP_SECONDS=30
STARTED=$SECONDS

WORK_DIR=""
WATCH_PID=""
WATCH_LOG=""

fail() {
    echo "error: $*" >&2
    exit 1
}

# Stops the emulator and the functions it started (they share its process group), and
# prints the end of its log when the script failed.
cleanup() {
    local status=$?
    if [[ -n "$WATCH_PID" ]] && kill -0 "$WATCH_PID" 2>/dev/null; then
        kill -- "-$WATCH_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$WATCH_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$WATCH_PID" 2>/dev/null || true
        echo "cargo lambda watch stopped (pid $WATCH_PID)"
    fi
    if [[ $status -ne 0 && -n "$WATCH_LOG" && -s "$WATCH_LOG" ]]; then
        echo "the log of cargo lambda watch ($WATCH_LOG) ends with:" >&2
        tail -n 40 "$WATCH_LOG" >&2
    fi
    if [[ -n "$WORK_DIR" ]]; then
        if [[ $status -eq 0 ]]; then
            rm -rf "$WORK_DIR"
        else
            echo "events, responses and logs are kept in $WORK_DIR" >&2
        fi
    fi
    exit "$status"
}
trap cleanup EXIT

installed_version() {
    "$PYTHON" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'
}

install_cargo_lambda() {
    [[ -x "$PYTHON" ]] || fail "$PYTHON not found: run \`bash scripts/moto.sh start\` first"
    if [[ "$(installed_version cargo-lambda)" != "$CARGO_LAMBDA_VERSION" ]]; then
        echo "installing cargo-lambda==$CARGO_LAMBDA_VERSION into $VENV"
        "$PYTHON" -m pip install --quiet --disable-pip-version-check \
            "cargo-lambda==$CARGO_LAMBDA_VERSION"
    fi
}

check_moto() {
    "$PYTHON" - "$ENDPOINT" <<'PY' || fail "moto does not respond at $ENDPOINT: start it with \`bash scripts/moto.sh start\` or set MFA_TEST_AWS_ENDPOINT"
import sys, urllib.request
try:
    urllib.request.urlopen(f"{sys.argv[1]}/moto-api/", timeout=5)
except Exception as error:
    sys.exit(f"{sys.argv[1]}/moto-api/: {error}")
PY
}

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs mfa-local --aws --create-resources until it listens, which it does only after it
# created the table and keys named by MFA_TABLE, MFA_SECRETS_KEY_ID and MFA_SIGNING_KEY_ID.
create_resources() {
    local log="$WORK_DIR/create-resources.log"
    "$ROOT/target/debug/mfa-local" --aws --create-resources --addr 127.0.0.1:0 >"$log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 300); do
        if grep -q "listening on" "$log"; then
            kill "$pid"
            wait "$pid" 2>/dev/null || true
            echo "created table $MFA_TABLE and keys $MFA_SECRETS_KEY_ID, $MFA_SIGNING_KEY_ID"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$log" >&2
            fail "mfa-local --aws --create-resources failed (log above)"
        fi
        sleep 0.2
    done
    kill "$pid"
    cat "$log" >&2
    fail "mfa-local --aws --create-resources did not start within 60 seconds (log above)"
}

start_watch() {
    local port
    port="$(free_port)"
    WATCH_LOG="$WORK_DIR/watch.log"
    # setsid gives the emulator a process group of its own, so that cleanup stops the
    # functions it runs too. --ignore-changes keeps it from rebuilding when files change.
    setsid cargo lambda watch --ignore-changes --invoke-address 127.0.0.1 \
        --invoke-port "$port" >"$WATCH_LOG" 2>&1 &
    WATCH_PID=$!
    for _ in $(seq 1 300); do
        if "$PYTHON" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
            "$port" 2>/dev/null; then
            INVOKE_PORT="$port"
            echo "cargo lambda watch is running (pid $WATCH_PID) on 127.0.0.1:$port"
            return 0
        fi
        kill -0 "$WATCH_PID" 2>/dev/null || fail "cargo lambda watch exited at start"
        sleep 0.2
    done
    fail "cargo lambda watch did not listen on 127.0.0.1:$port within 60 seconds"
}

# Writes the fixture lambda/tests/fixtures/FIXTURE.json to OUT with its {{NAME}}
# placeholders replaced, and checks that the result is JSON without placeholders.
#   fill_event FIXTURE OUT NAME=VALUE...
fill_event() {
    "$PYTHON" - "$FIXTURES/$1.json" "$2" "${@:3}" <<'PY'
import json, sys

source, out, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(source).read()
for pair in pairs:
    name, value = pair.split("=", 1)
    text = text.replace("{{" + name + "}}", value)
if "{{" in text:
    sys.exit(f"error: {source} has a placeholder that was not filled in: {text[text.index('{{'):][:40]}")
json.loads(text)
open(out, "w").write(text)
PY
}

# Sends EVENT to FUNCTION through the emulator and writes the API Gateway response to OUT.
#   invoke FUNCTION EVENT OUT
invoke() {
    local function="$1" event="$2" out="$3"
    if ! timeout "$INVOKE_TIMEOUT" cargo lambda invoke --invoke-address 127.0.0.1 \
        --invoke-port "$INVOKE_PORT" --data-file "$event" --output-format json \
        "$function" >"$out" 2>"$out.stderr"; then
        cat "$out.stderr" "$out" >&2
        fail "cargo lambda invoke $function failed or timed out after $INVOKE_TIMEOUT s"
    fi
}

# Checks a response written by `invoke`. DESCRIPTION names the step in messages. Each
# check is PATH=VALUE (equal: VALUE is read as JSON when it parses, else as a string),
# PATH~REGEX (a string that REGEX matches from its start) or !PATH (absent). A PATH is dotted from the
# response: `statusCode`, `headers.content-type`, or `body.…` into the JSON body. The
# segment `#` takes a length and `jwt` the decoded payload of a JWT, for example
# `body.backup_codes.#=10` or `body.session.access_token.jwt.aal=2`.
#   expect DESCRIPTION RESPONSE CHECK...
expect() {
    "$PYTHON" - "$@" <<'PY'
import base64, json, re, sys

description, path, checks = sys.argv[1], sys.argv[2], sys.argv[3:]
response = json.load(open(path))
if isinstance(response.get("body"), str):
    try:
        response["body"] = json.loads(response["body"])
    except ValueError:
        pass

MISSING = object()

def resolve(value, dotted):
    for segment in dotted.split("."):
        if value is MISSING:
            return MISSING
        if segment == "#":
            value = len(value) if isinstance(value, (list, str, dict)) else MISSING
        elif segment == "jwt":
            if not isinstance(value, str) or value.count(".") != 2:
                return MISSING
            payload = value.split(".")[1]
            value = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        elif isinstance(value, dict):
            value = value.get(segment, MISSING)
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return MISSING
    return value

def show(value):
    return "nothing" if value is MISSING else json.dumps(value)

failures = []
for check in checks:
    if check.startswith("!"):
        actual = resolve(response, check[1:])
        if actual is not MISSING:
            failures.append(f"{check[1:]}: expected nothing, got {show(actual)}")
        continue
    parsed = re.fullmatch(r"([\w.#-]+)([=~])(.*)", check, re.S)
    if not parsed:
        sys.exit(f"error: invalid check {check!r}")
    dotted, operator, expected = parsed.groups()
    actual = resolve(response, dotted)
    if operator == "=":
        try:
            expected_value = json.loads(expected)
        except ValueError:
            expected_value = expected
        if actual is MISSING or actual != expected_value:
            failures.append(f"{dotted}: expected {json.dumps(expected_value)}, got {show(actual)}")
    elif not isinstance(actual, str) or not re.match(expected, actual):
        failures.append(f"{dotted}: expected a string matching {expected!r}, got {show(actual)}")

if failures:
    print(f"FAILED {description}:", file=sys.stderr)
    for failure in failures:
        print(f"  {failure}", file=sys.stderr)
    print(f"  response: {json.dumps(response)}", file=sys.stderr)
    sys.exit(1)
print(f"ok {description}")
PY
}

# Prints a field of a response's JSON body. PATH is dotted, as `session.access_token`.
#   field RESPONSE PATH
field() {
    "$PYTHON" - "$1" "$2" <<'PY'
import json, sys

response = json.load(open(sys.argv[1]))
value = json.loads(response["body"])
for segment in sys.argv[2].split("."):
    value = value[segment]
print(value)
PY
}

# Prints the TOTP code of STEP for the Base32 SECRET, as an authenticator app shows it.
totp_code() {
    oathtool --totp --base32 "--now=@$(($2 * STEP_SECONDS))" "$1"
}

current_step() {
    echo $(($(date +%s) / STEP_SECONDS))
}

new_assertion() {
    "$ROOT/target/debug/mfa-demo-login" assertion "$WORK_DIR/login.pem" \
        --email "$EMAIL" --login-method email --account "$ACCOUNT=member"
}

# --- set-up ------------------------------------------------------------------------------
cd "$ROOT"
command -v oathtool >/dev/null || fail "oathtool not found: install Debian's oathtool package"
install_cargo_lambda
export PATH="$VENV/bin:$PATH"
check_moto

mkdir -p "$ROOT/.tmp"
WORK_DIR="$(mktemp -d "$ROOT/.tmp/lambda-emulator.XXXXXX")"
RUN_ID="$(basename "$WORK_DIR" | cut -d. -f2 | tr '[:upper:]' '[:lower:]')"

# The same build as `cargo lambda watch` runs (`cargo run --bin NAME` in the workspace), so
# that the emulator finds the functions built.
build_args=(--bin mfa-local --bin mfa-demo-login)
for function in "${FUNCTIONS[@]}"; do
    build_args+=(--bin "$function")
done
echo "+ cargo build ${build_args[*]}"
cargo build "${build_args[@]}"

# Fake credentials and moto's endpoint, so that nothing here reaches a real AWS account.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="$ENDPOINT"
unset AWS_SESSION_TOKEN AWS_PROFILE
export MFA_TABLE="mfa-emulator-$RUN_ID"
export MFA_SECRETS_KEY_ID="alias/mfa-emulator-secrets-$RUN_ID"
export MFA_SIGNING_KEY_ID="alias/mfa-emulator-signing-$RUN_ID"
export MFA_TOKEN_ISSUER="https://mfa.dashboard.local"
export MFA_TOKEN_AUDIENCE="dashboard"
export MFA_TOTP_ISSUER="Dashboard"
create_resources

# The login service's key: the functions trust its JWKS (MFA_LOGIN_JWKS, with
# MFA_LOGIN_ISSUER and MFA_LOGIN_AUDIENCE), and mfa-demo-login signs assertions with it.
"$ROOT/target/debug/mfa-demo-login" new-key "$WORK_DIR/login.pem"
while IFS='=' read -r name value; do
    export "$name=$value"
done < <("$ROOT/target/debug/mfa-demo-login" env "$WORK_DIR/login.pem")
[[ -n "${MFA_LOGIN_JWKS:-}" ]] || fail "mfa-demo-login env printed no MFA_LOGIN_JWKS"

# The functions inherit this environment from cargo lambda watch.
start_watch

EMAIL="ana-$RUN_ID@example.com"
ACCOUNT="acme"
R="$WORK_DIR/responses"
mkdir -p "$R"

# --- the walk ----------------------------------------------------------------------------
fill_event sign-in "$R/1-sign-in.json" "LOGIN_ASSERTION=$(new_assertion)" "ACCOUNT=$ACCOUNT"
invoke sign-in "$R/1-sign-in.json" "$R/1.out"
expect "sign-in without a factor returns a session" "$R/1.out" \
    statusCode=200 \
    'headers.content-type~application/json' \
    body.status=authenticated \
    'body.session.access_token~[\w-]+\.[\w-]+\.[\w-]+$' \
    'body.session.refresh_token~.+' \
    body.session.token_type=Bearer \
    body.session.expires_in=900 \
    body.session.access_token.jwt.aal=1 \
    'body.session.access_token.jwt.amr=["email"]' \
    "body.session.access_token.jwt.account=$ACCOUNT"
ACCESS_TOKEN="$(field "$R/1.out" session.access_token)"

fill_event start-enrollment "$R/2-start.json" "ACCESS_TOKEN=$ACCESS_TOKEN"
invoke start-enrollment "$R/2-start.json" "$R/2.out"
expect "start-enrollment returns a secret and an otpauth URI" "$R/2.out" \
    statusCode=200 \
    'body.enrollment_id~.+' \
    'body.secret~[A-Z2-7]{32}$' \
    'body.otpauth_uri~otpauth://totp/Dashboard:' \
    'body.qr_code~data:image/png;base64,' \
    'body.expires_at~.+'
ENROLLMENT_ID="$(field "$R/2.out" enrollment_id)"
SECRET="$(field "$R/2.out" secret)"
expect "the otpauth URI contains the secret and the issuer" "$R/2.out" \
    "body.otpauth_uri~otpauth://totp/[^?]+\?(.*&)?secret=$SECRET(&|$)" \
    'body.otpauth_uri~otpauth://totp/[^?]+\?(.*&)?issuer=Dashboard(&|$)'

# The confirming code's step is spent, so the challenge below uses the next step, which
# the service accepts as one step either side of the current one.
CONFIRM_STEP="$(current_step)"
fill_event confirm-enrollment "$R/3-confirm.json" "ACCESS_TOKEN=$ACCESS_TOKEN" \
    "ENROLLMENT_ID=$ENROLLMENT_ID" "CODE=$(totp_code "$SECRET" "$CONFIRM_STEP")"
invoke confirm-enrollment "$R/3-confirm.json" "$R/3.out"
expect "confirm-enrollment returns 10 backup codes" "$R/3.out" \
    statusCode=200 \
    body.enrolled=true \
    'body.backup_codes.#=10' \
    'body.backup_codes.0~\S+'

fill_event sign-in "$R/4-sign-in.json" "LOGIN_ASSERTION=$(new_assertion)" "ACCOUNT=$ACCOUNT"
invoke sign-in "$R/4-sign-in.json" "$R/4.out"
expect "sign-in with a factor returns mfa_required" "$R/4.out" \
    statusCode=200 \
    body.status=mfa_required \
    'body.mfa_ticket~.+' \
    'body.methods=["totp", "backup_code"]' \
    body.expires_in=300
TICKET="$(field "$R/4.out" mfa_ticket)"

ANSWER_STEP=$((CONFIRM_STEP + 1))
if [[ $(current_step) -gt $ANSWER_STEP ]]; then
    ANSWER_STEP="$(current_step)"
fi
ANSWER_CODE="$(totp_code "$SECRET" "$ANSWER_STEP")"
fill_event answer-challenge "$R/5-answer.json" "MFA_TICKET=$TICKET" "CODE=$ANSWER_CODE"
invoke answer-challenge "$R/5-answer.json" "$R/5.out"
expect "answer-challenge with a fresh code returns an aal 2 session" "$R/5.out" \
    statusCode=200 \
    body.status=authenticated \
    'body.session.access_token~[\w-]+\.[\w-]+\.[\w-]+$' \
    body.session.access_token.jwt.aal=2 \
    'body.session.access_token.jwt.amr=["email", "totp", "mfa"]'

# A fresh ticket, so that only the code is at fault.
fill_event sign-in "$R/6-sign-in.json" "LOGIN_ASSERTION=$(new_assertion)" "ACCOUNT=$ACCOUNT"
invoke sign-in "$R/6-sign-in.json" "$R/6.out"
expect "sign-in for the replay returns mfa_required" "$R/6.out" \
    statusCode=200 \
    body.status=mfa_required
TICKET="$(field "$R/6.out" mfa_ticket)"

fill_event answer-challenge "$R/7-replay.json" "MFA_TICKET=$TICKET" "CODE=$ANSWER_CODE"
invoke answer-challenge "$R/7-replay.json" "$R/7.out"
expect "answer-challenge with a replayed code returns invalid_code" "$R/7.out" \
    statusCode=401 \
    body.error.code=invalid_code \
    '!body.session'

echo "lambda emulator walk passed in $((SECONDS - STARTED)) s"
