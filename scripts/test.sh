#!/usr/bin/env bash
# Runs every check of the project: formatting, clippy and the whole test suite.
#
#   bash scripts/test.sh
#
# It installs the command-line tools the end-to-end test drives (curl, oathtool, zbarimg),
# with apt-get, when one is missing. This needs root or sudo and Debian's package
# repositories. It also starts moto's server (scripts/moto.sh, which needs python3 and
# PyPI on first use) for the DynamoDB and KMS tests, and stops it on exit. Rust (cargo
# with rustfmt and clippy) must already be installed.
# CI runs this same script (.ci/run). It exits non-zero when any step fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STARTED=$SECONDS

step() {
    echo
    echo "==> $*"
}

# Tools of the end-to-end test (local/tests/e2e.rs), each with its Debian package.
install_test_tools() {
    local missing=()
    command -v curl >/dev/null || missing+=(curl)
    command -v oathtool >/dev/null || missing+=(oathtool)
    command -v zbarimg >/dev/null || missing+=(zbar-tools)
    if [[ ${#missing[@]} -eq 0 ]]; then
        echo "curl, oathtool and zbarimg are installed"
        return
    fi

    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        if ! command -v sudo >/dev/null; then
            echo "error: missing Debian packages ${missing[*]}, and this is not root:" \
                "run as root or install them with apt-get" >&2
            exit 1
        fi
        sudo=(sudo)
    fi
    echo "installing missing Debian packages: ${missing[*]}"
    echo "+ apt-get update"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    echo "+ apt-get install -y --no-install-recommends ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
}

require_rust() {
    if ! command -v cargo >/dev/null; then
        echo "error: cargo not found: install Rust (https://rustup.rs) and retry" >&2
        exit 1
    fi
    for component in fmt clippy; do
        if ! cargo "$component" --version >/dev/null 2>&1; then
            echo "error: cargo $component not found: run \`rustup component add" \
                "$([[ $component == fmt ]] && echo rustfmt || echo clippy)\`" >&2
            exit 1
        fi
    done
    cargo --version
}

step "checking test tools"
install_test_tools
require_rust

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# The SAM template: `sam validate --lint` and `cfn-lint` with no findings (installed into
# .venv from PyPI on first use). tests/tests/template.rs checks it against the code.
step "template checks: sam validate --lint, cfn-lint"
bash scripts/template-check.sh

# --- moto: local DynamoDB and KMS -------------------------------------------------------
# The AWS adapter tests and the end-to-end walk on `mfa-local --aws` run against moto's
# server on 127.0.0.1 (scripts/moto.sh installs it into .venv from PyPI on first use).
# MFA_REQUIRE_AWS=1 makes those tests fail, not skip, when the endpoint is missing. The trap
# stops moto on every exit, including a failed step.
export MOTO_PORT="${MOTO_PORT:-5055}"
step "starting moto on 127.0.0.1:$MOTO_PORT"
trap 'bash scripts/moto.sh stop' EXIT
bash scripts/moto.sh start
export MFA_TEST_AWS_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
export MFA_REQUIRE_AWS=1
# Fake credentials, so that no test can reach a real AWS account with real ones.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE

# Four Lambda functions under cargo-lambda's emulator, on moto, driven by API Gateway
# events: sign-in, enrollment and the TOTP challenge. scripts/lambda-emulator.sh installs
# cargo-lambda into .venv from PyPI on first use.
step "Lambda functions under cargo lambda watch (moto)"
bash scripts/lambda-emulator.sh
# -----------------------------------------------------------------------------------------

# --no-fail-fast runs every test binary, so one run reports all failures; the exit code
# is still non-zero when any test fails.
step "cargo test --workspace --no-fail-fast"
cargo test --workspace --no-fail-fast

# The same walk as in `cargo test`, now on the AWS adapters: mfa-local creates the table
# and keys in moto when they are missing. `--workspace --test e2e` selects the same test
# binary; `-p mfa-local` would resolve features for that crate alone and rebuild the
# dependencies (minutes on 2 cores).
step "end-to-end walk on mfa-local --aws (moto)"
AWS_ENDPOINT_URL="$MFA_TEST_AWS_ENDPOINT" MFA_E2E_ARGS="--aws --create-resources" \
    cargo test --workspace --test e2e

echo
echo "all checks passed in $((SECONDS - STARTED)) s"
