#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for tests and print its DATABASE_URL.
# Usage: eval "$(bash scripts/postgres.sh start)"; ...; bash scripts/postgres.sh stop
set -euo pipefail

DATA_DIR="${PG_TEST_DIR:-/tmp/image-ranking-pg}"
PORT="${PG_TEST_PORT:-54329}"
DB_NAME="${PG_TEST_DB:-image_ranking}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"

as_pg() {
    if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
start)
    if [ -z "$BIN" ]; then
        echo "PostgreSQL is not installed (apt-get install -y postgresql)." >&2
        exit 1
    fi
    if [ ! -f "$DATA_DIR/PG_VERSION" ]; then
        mkdir -p "$DATA_DIR"
        [ "$(id -u)" = "0" ] && chown postgres "$DATA_DIR"
        as_pg "$BIN/initdb" -D "$DATA_DIR" -U postgres -A trust >/dev/null
    fi
    if ! as_pg "$BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1; then
        as_pg "$BIN/pg_ctl" -D "$DATA_DIR" -l "$DATA_DIR/server.log" -w \
            -o "-h 127.0.0.1 -p $PORT -k $DATA_DIR -F" start >/dev/null
    fi
    # The database the printed URL names must exist (initdb only makes "postgres").
    # (psql interpolates :'name' read from stdin, never inside -c.)
    if [ -z "$(echo "SELECT 1 FROM pg_database WHERE datname = :'name'" |
        as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tA -v name="$DB_NAME")" ]; then
        as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB_NAME"
    fi
    echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/$DB_NAME"
    ;;
stop)
    as_pg "$BIN/pg_ctl" -D "$DATA_DIR" -m fast stop >/dev/null 2>&1 || true
    ;;
esac
