#!/usr/bin/env bash
# Lints template.yaml, the SAM deployment, with `sam validate --lint` and `cfn-lint`. It
# exits non-zero when either reports a finding of cfn-lint's default rules (errors and
# warnings).
#
#   bash scripts/template-check.sh
#
# It installs the pinned AWS SAM CLI and cfn-lint into the project venv (.venv) when they
# are missing or at another version, which needs PyPI. Neither tool calls AWS here: the
# script sets a region and fake credentials, so no AWS account is needed.
# tests/tests/template.rs checks the template against the code (routes, functions, IAM).
set -euo pipefail

SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
TEMPLATE="$ROOT/template.yaml"
STARTED=$SECONDS

installed_version() {
    "$VENV/bin/python" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'
}

install_tools() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "creating $VENV"
        python3 -m venv "$VENV"
    fi
    if [[ "$(installed_version aws-sam-cli)" != "$SAM_CLI_VERSION" ]] ||
        [[ "$(installed_version cfn-lint)" != "$CFN_LINT_VERSION" ]]; then
        echo "installing aws-sam-cli==$SAM_CLI_VERSION and cfn-lint==$CFN_LINT_VERSION into $VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION"
    fi
}

install_tools

# The tools need a region and credentials to start, but they make no AWS call to lint.
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export SAM_CLI_TELEMETRY=0

cd "$ROOT"
echo "+ sam validate --lint"
"$VENV/bin/sam" validate --lint --template "$TEMPLATE" --region "$AWS_REGION"

echo "+ cfn-lint template.yaml"
"$VENV/bin/cfn-lint" "$TEMPLATE"

echo "template.yaml has no findings ($((SECONDS - STARTED)) s)"
