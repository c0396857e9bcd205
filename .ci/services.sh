# shellcheck shell=bash
# Real servers for the observer tests, on 127.0.0.1 only: PostgreSQL 15 (SqlObserver), moto's S3 server
# (S3Observer) and nx-27017, a MongoDB wire-protocol server (MongoObserver).
#
# Usage (sourced, by .ci/run or by hand):
#     source .ci/services.sh
#     services_start || exit 1        # installs PostgreSQL with apt when initdb is missing
#     trap services_stop EXIT         # stops only what this shell's services_start started, by PID
#     python -m pytest -m service ...
#
# Exports SACREDX_PG_URL, SACREDX_S3_ENDPOINT, SACREDX_MONGO_WIRE_URL, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, and SACREDX_SERVICES_REQUIRED=1 when CI=true (so the test
# fixtures fail instead of skipping). Ports: SACREDX_PG_PORT (55432), SACREDX_S3_PORT (55000),
# SACREDX_MONGO_WIRE_PORT (27117). A port that already answers is reused and never stopped by us: several
# developers on one machine can share one set of servers.

_sx_log() { printf 'services: %s\n' "$*" >&2; }

# _sx_port_open PORT -> 0 when something accepts TCP connections on 127.0.0.1:PORT
_sx_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# _sx_wait_port NAME PORT LOG -> waits up to ~20 s, prints the server's log tail and fails loudly otherwise
_sx_wait_port() {
    local name=$1 port=$2 log=$3 i
    for ((i = 0; i < 400; i++)); do
        _sx_port_open "$port" && return 0
        sleep 0.05
    done
    _sx_log "ERROR: $name did not open 127.0.0.1:$port within 20 s; last lines of $log:"
    tail -n 20 "$log" >&2 2>/dev/null || true
    return 1
}

# _sx_find_initdb -> prints the newest /usr/lib/postgresql/<version>/bin holding initdb, or nothing
_sx_find_initdb() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1) || true
    if [ -n "$bin" ] && [ -x "$bin/initdb" ]; then printf '%s\n' "$bin"; fi
    return 0
}

_sx_start_postgres() {
    local port=$1 bin pgdata
    if _sx_port_open "$port"; then
        _sx_log "PostgreSQL: port $port already answers; reusing it (not ours to stop)"
        return 0
    fi
    bin=$(_sx_find_initdb)
    if [ -z "$bin" ]; then
        _sx_log "PostgreSQL: initdb missing; installing Debian's postgresql with apt"
        apt-get update >&2 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2 ||
            { _sx_log "ERROR: apt-get install postgresql failed"; return 1; }
        bin=$(_sx_find_initdb)
        [ -n "$bin" ] || { _sx_log "ERROR: no initdb after installing postgresql"; return 1; }
    fi
    # PostgreSQL refuses to run as root; the data folder must belong to postgres (700) and its mktemp
    # parent must let postgres through (711).
    chmod 711 "$SACREDX_SERVICES_DIR"
    pgdata="$SACREDX_SERVICES_DIR/pg"
    mkdir -m 700 "$pgdata" && chown postgres:postgres "$pgdata" || return 1
    runuser -u postgres -- "$bin/initdb" -D "$pgdata" -U postgres -A trust --no-sync -E UTF8 \
        >"$SACREDX_SERVICES_DIR/initdb.log" 2>&1 ||
        { _sx_log "ERROR: initdb failed:"; tail -n 20 "$SACREDX_SERVICES_DIR/initdb.log" >&2; return 1; }
    runuser -u postgres -- "$bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 20 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $pgdata -c fsync=off -c max_connections=200" \
        start >/dev/null ||
        { _sx_log "ERROR: pg_ctl start failed:"; tail -n 20 "$pgdata/server.log" >&2; return 1; }
    _sx_wait_port PostgreSQL "$port" "$pgdata/server.log" || return 1
    # The postmaster's PID is the first line of postmaster.pid; services_stop signals it directly.
    head -n 1 "$pgdata/postmaster.pid" >"$SACREDX_SERVICES_DIR/postgres.pid"
    _sx_log "PostgreSQL $(basename "$(dirname "$bin")") on 127.0.0.1:$port (pid $(cat "$SACREDX_SERVICES_DIR/postgres.pid"))"
}

_sx_start_moto() {
    local port=$1 log="$SACREDX_SERVICES_DIR/moto.log"
    if _sx_port_open "$port"; then
        _sx_log "moto S3: port $port already answers; reusing it (not ours to stop)"
        return 0
    fi
    command -v moto_server >/dev/null ||
        { _sx_log "ERROR: moto_server missing; run: pip install -e '.[test]'"; return 1; }
    moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    echo $! >"$SACREDX_SERVICES_DIR/moto.pid"
    _sx_wait_port "moto S3" "$port" "$log" || return 1
    _sx_log "moto S3 on 127.0.0.1:$port (pid $(cat "$SACREDX_SERVICES_DIR/moto.pid"))"
}

_sx_start_mongo_wire() {
    local port=$1 log="$SACREDX_SERVICES_DIR/nx-27017.log"
    if _sx_port_open "$port"; then
        _sx_log "nx-27017: port $port already answers; reusing it (not ours to stop)"
        return 0
    fi
    command -v nx-27017 >/dev/null ||
        { _sx_log "ERROR: nx-27017 missing; run: pip install -e '.[test]'"; return 1; }
    nx-27017 --host 127.0.0.1 -p "$port" --db memory --log-file "$log" \
        --pid-file "$SACREDX_SERVICES_DIR/nx-27017.own.pid" >"$log.out" 2>&1 &
    echo $! >"$SACREDX_SERVICES_DIR/nx-27017.pid"
    _sx_wait_port nx-27017 "$port" "$log.out" || return 1
    _sx_log "nx-27017 (MongoDB wire protocol) on 127.0.0.1:$port (pid $(cat "$SACREDX_SERVICES_DIR/nx-27017.pid"))"
}

services_start() {
    local pg_port=${SACREDX_PG_PORT:-55432} s3_port=${SACREDX_S3_PORT:-55000}
    local mongo_port=${SACREDX_MONGO_WIRE_PORT:-27117}
    if [ -n "${SACREDX_SERVICES_DIR:-}" ] && [ -d "$SACREDX_SERVICES_DIR" ]; then
        _sx_log "already started (state in $SACREDX_SERVICES_DIR)"
        return 0
    fi
    SACREDX_SERVICES_DIR=$(mktemp -d /tmp/sacredx-services.XXXXXX) || return 1
    export SACREDX_SERVICES_DIR
    # Not exported: a child shell that inherits SACREDX_SERVICES_DIR reuses the servers but never stops
    # them; only the shell that started them does.
    _SX_OWN_DIR=$SACREDX_SERVICES_DIR
    _sx_start_postgres "$pg_port" &&
        _sx_start_moto "$s3_port" &&
        _sx_start_mongo_wire "$mongo_port" ||
        { _sx_log "ERROR: could not start the services; stopping what was started"; services_stop; return 1; }

    export SACREDX_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$pg_port/postgres"
    export SACREDX_S3_ENDPOINT="http://127.0.0.1:$s3_port"
    export SACREDX_MONGO_WIRE_URL="mongodb://127.0.0.1:$mongo_port"
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
    if [ "${CI:-}" = "true" ]; then
        export SACREDX_SERVICES_REQUIRED=1
    fi
}

# _sx_stop_pid NAME PIDFILE SIGNAL -> signal the PID, wait up to ~10 s, then SIGKILL
_sx_stop_pid() {
    local name=$1 pidfile=$2 sig=$3 pid i
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    rm -f "$pidfile"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || { _sx_log "stopped $name (pid $pid)"; return 0; }
        sleep 0.05
    done
    _sx_log "$name (pid $pid) ignored SIG$sig; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

services_stop() {
    local dir=${SACREDX_SERVICES_DIR:-}
    [ -n "$dir" ] && [ -d "$dir" ] && [ "${_SX_OWN_DIR:-}" = "$dir" ] || return 0
    _sx_stop_pid moto "$dir/moto.pid" TERM
    _sx_stop_pid nx-27017 "$dir/nx-27017.pid" TERM
    # SIGINT is PostgreSQL's "fast shutdown": roll back sessions, then exit cleanly.
    _sx_stop_pid PostgreSQL "$dir/postgres.pid" INT
    rm -rf "$dir"
    unset SACREDX_SERVICES_DIR _SX_OWN_DIR
}
