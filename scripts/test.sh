#!/usr/bin/env bash
# The whole test suite, as README's Quick start and .ci/run call it:
#  1. a throwaway PostgreSQL cluster on loopback (free port, trust auth) for the storage tests,
#     stopped and removed on exit (skipped when JIXIAO_TEST_POSTGRES_URL is already set);
#  2. every test with LLM calls replayed from cassettes/ (network blocked except loopback);
#  3. the few live tests that start the real embedded LLM server.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${JIXIAO_TEST_POSTGRES_URL:-}" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PG_DIR=$(mktemp -d /tmp/jixiao-test-pg.XXXXXX)
  PG_PORT=$(.venv/bin/python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  # initdb refuses root, so as root the cluster runs as the postgres user.
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; fi
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U jixiao >/dev/null
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR" start >/dev/null
  trap 'as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null; rm -rf "$PG_DIR"' EXIT
  as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U jixiao jixiao_test
  export JIXIAO_TEST_POSTGRES_URL="postgresql://jixiao@127.0.0.1:$PG_PORT/jixiao_test"
fi

.venv/bin/python -m pytest "$@"
.venv/bin/python -m pytest -m live
