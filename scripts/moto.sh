#!/usr/bin/env bash
# Starts or stops moto's server, the local DynamoDB and KMS endpoint that the AWS adapter
# tests and `mfa-local --aws` run against. It listens on 127.0.0.1 only.
#
#   scripts/moto.sh start   # install moto into .venv if needed, start it, wait until it responds
#   scripts/moto.sh stop    # stop the server started by `start`
#
# Variables:
#   MOTO_PORT   port to listen on (default 5055)
#
# Clients then need fake credentials and the endpoint, for example:
#   export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
#   export AWS_ENDPOINT_URL=http://127.0.0.1:5055         # for mfa-local --aws
#   export MFA_TEST_AWS_ENDPOINT=http://127.0.0.1:5055    # for cargo test -p mfa-aws
set -euo pipefail

MOTO_VERSION="5.2.5"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
RUN_DIR="$ROOT/.tmp"
PORT="${MOTO_PORT:-5055}"
# One pid and log file per port, so servers on different ports are started and stopped
# independently.
PID_FILE="$RUN_DIR/moto-$PORT.pid"
LOG_FILE="$RUN_DIR/moto-$PORT.log"
HOST="127.0.0.1"

install_moto() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "creating $VENV"
        python3 -m venv "$VENV"
    fi
    local installed
    installed="$("$VENV/bin/python" -m pip show moto 2>/dev/null || true)"
    if ! grep -qx "Version: $MOTO_VERSION" <<<"$installed"; then
        echo "installing moto[server]==$MOTO_VERSION into $VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
    fi
}

running_pid() {
    if [[ -f "$PID_FILE" ]]; then
        local pid
        pid="$(cat "$PID_FILE")"
        if kill -0 "$pid" 2>/dev/null; then
            echo "$pid"
            return 0
        fi
    fi
    return 1
}

responds() {
    "$VENV/bin/python" - "$HOST" "$PORT" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/moto-api/", timeout=1)
except Exception:
    sys.exit(1)
PY
}

start() {
    if pid="$(running_pid)"; then
        echo "moto is already running (pid $pid) on $HOST:$PORT"
        return 0
    fi
    install_moto
    mkdir -p "$RUN_DIR"
    # moto_serial.py runs moto_server with one request at a time, for the reason given there.
    "$VENV/bin/python" "$ROOT/scripts/moto_serial.py" -H "$HOST" -p "$PORT" >"$LOG_FILE" 2>&1 &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 100); do
        if responds; then
            echo "moto $MOTO_VERSION is running (pid $(cat "$PID_FILE")) on http://$HOST:$PORT"
            return 0
        fi
        if ! running_pid >/dev/null; then
            echo "moto failed to start; its log ($LOG_FILE) ends with:" >&2
            tail -n 20 "$LOG_FILE" >&2
            rm -f "$PID_FILE"
            return 1
        fi
        sleep 0.2
    done
    echo "moto did not respond on $HOST:$PORT within 20 seconds; see $LOG_FILE" >&2
    return 1
}

stop() {
    if pid="$(running_pid)"; then
        kill "$pid"
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        echo "moto stopped (pid $pid)"
    else
        echo "moto is not running"
    fi
    rm -f "$PID_FILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
