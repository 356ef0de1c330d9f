#!/usr/bin/env bash
# Builds every Lambda function of template.yaml for arm64 with `sam build`, then prints
# each function's zipped size.
#
#   bash scripts/build.sh                 # every function
#   bash scripts/build.sh SignInFunction  # one function, by its logical id in the template
#
# MFA_BUILD_DIR sets the output folder (default .aws-sam/build), for example to keep the
# result of another release profile apart. Cargo reads profile overrides from the
# environment, such as CARGO_PROFILE_RELEASE_OPT_LEVEL=s.
#
# SAM runs `cargo lambda build --release --arm64` once per function, which compiles for
# aarch64-unknown-linux-gnu and links with zig. The script installs the AWS SAM CLI,
# cargo-lambda and zig (PyPI's ziglang) into the project venv (.venv) when they are missing
# or at another version, and adds rustup's aarch64-unknown-linux-gnu target when it is
# missing. The build writes to .aws-sam/build. It compiles in its own target directory,
# target/lambda-arm64, so that cargo commands on target/ do not wait for its build lock.
#
# A release build of all functions takes a long time on a small machine: run it under
# `nice -n 19` on a shared one.
set -euo pipefail

SAM_CLI_VERSION="1.170.0"
CARGO_LAMBDA_VERSION="1.9.2"
ZIGLANG_VERSION="0.17.1"
TARGET="aarch64-unknown-linux-gnu"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
BUILD_DIR="${MFA_BUILD_DIR:-$ROOT/.aws-sam/build}"
STARTED=$SECONDS

installed_version() {
    "$VENV/bin/python" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'
}

install_tools() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "creating $VENV"
        python3 -m venv "$VENV"
    fi
    local wanted=()
    [[ "$(installed_version aws-sam-cli)" == "$SAM_CLI_VERSION" ]] || wanted+=("aws-sam-cli==$SAM_CLI_VERSION")
    [[ "$(installed_version cargo-lambda)" == "$CARGO_LAMBDA_VERSION" ]] || wanted+=("cargo-lambda==$CARGO_LAMBDA_VERSION")
    [[ "$(installed_version ziglang)" == "$ZIGLANG_VERSION" ]] || wanted+=("ziglang==$ZIGLANG_VERSION")
    if [[ ${#wanted[@]} -gt 0 ]]; then
        echo "installing ${wanted[*]} into $VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${wanted[@]}"
    fi
}

# Returns success when rustc has the standard library for $TARGET.
has_arm64_std() {
    local libdir
    libdir="$(rustc --print target-libdir --target "$TARGET" 2>/dev/null)" || return 1
    compgen -G "$libdir/libstd-*.rlib" >/dev/null
}

ensure_arm64_std() {
    if has_arm64_std; then
        return
    fi
    echo "+ rustup target add $TARGET"
    if ! rustup target add "$TARGET" || ! has_arm64_std; then
        echo "error: no Rust standard library for $TARGET: install it with" \
            "\`rustup target add $TARGET\` and retry" >&2
        exit 1
    fi
}

# Prints the size of each built bootstrap, and of the same file zipped as `sam package`
# zips it (Python's zipfile, DEFLATED at zlib's default level).
print_sizes() {
    "$VENV/bin/python" - "$BUILD_DIR" <<'PY'
import io, os, sys, zipfile

build_dir = sys.argv[1]
rows = []
for function in sorted(os.listdir(build_dir)):
    bootstrap = os.path.join(build_dir, function, "bootstrap")
    if not os.path.isfile(bootstrap):
        continue
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(bootstrap, "bootstrap")
    rows.append((function, os.path.getsize(bootstrap), buffer.tell()))
if not rows:
    sys.exit(f"error: no bootstrap found under {build_dir}")
print(f"{'function':<32} {'bootstrap bytes':>16} {'zipped bytes':>14}")
for function, raw, zipped in rows:
    print(f"{function:<32} {raw:>16} {zipped:>14}")
PY
}

install_tools
export PATH="$VENV/bin:$PATH"
ensure_arm64_std
export CARGO_TARGET_DIR="$ROOT/target/lambda-arm64"
export SAM_CLI_TELEMETRY=0

cd "$ROOT"
echo "+ sam build --beta-features $*"
sam build --beta-features --template template.yaml --build-dir "$BUILD_DIR" "$@"

echo
print_sizes
echo "built in $((SECONDS - STARTED)) s"
