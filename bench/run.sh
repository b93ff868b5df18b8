#!/usr/bin/env bash
# pg2lite benchmark: pg2lite against the source limit, the shell pipeline, sqlite3 .import,
# the SQLite write limit and DuckDB, on a generated multi-tenant database, at two sizes.
# See bench/README.md. Not a test: CI never runs it at full size.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/run.sh [--rows N[,N2...]] [--runs R] [--url URL] [--out FILE]
                    [--bin PATH] [--no-duckdb] [--only ID[,ID...]]

  --rows N,N2   event rows per size (notes = N/4, tenants = 100); default 200000,2000000
  --runs R      rounds per size, commands alternating within each round; default 3
  --url URL     use this PostgreSQL database instead of a throwaway cluster (also BENCH_URL).
                It must be dedicated to the benchmark: tables tenants, events and notes are
                dropped and created again in it.
  --out FILE    also write the markdown report there (default: a new file in $TMPDIR)
  --bin PATH    use this pg2lite binary instead of `cargo build --release` (also PG2LITE_BIN)
  --no-duckdb   do not install or run the DuckDB comparison
  --only IDS    run only these commands (ids: source pipeline csvimport writelimit hashlimit
                duckdb export export_jobs import migrate_fast migrate tenant redact each_tenant)
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
SIZES=200000,2000000
RUNS=3
URL=${BENCH_URL:-}
OUT=
BIN=${PG2LITE_BIN:-}
DUCKDB=1
ONLY=
TABLES=(tenants events notes)

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
        --rows) SIZES=${2:?--rows needs a value}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
        --url) URL=${2:?--url needs a value}; shift 2 ;;
        --out) OUT=${2:?--out needs a value}; shift 2 ;;
        --bin) BIN=${2:?--bin needs a value}; shift 2 ;;
        --no-duckdb) DUCKDB=0; shift ;;
        --only) ONLY=${2:?--only needs a value}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, not '$RUNS'"
IFS=, read -r -a ROWS <<<"$SIZES"
[ ${#ROWS[@]} -ge 1 ] || die "--rows needs at least one size"
for n in "${ROWS[@]}"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "--rows takes positive integers separated by commas, not '$SIZES'"
done

for tool in psql sqlite3 python3; do
    command -v "$tool" >/dev/null || die "$tool is required but not on PATH"
done
[ -x /usr/bin/time ] || die "/usr/bin/time is required (Debian/Ubuntu: apt-get install time)"
sqlite3 :memory: '.help import' 2>&1 | grep -q -- '--csv' \
    || die "sqlite3 is too old: .import --csv needs SQLite 3.32 or later"

# --- work directory and cleanup -------------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pg2lite-bench.XXXXXX")
chmod 711 "$WORK"
PGDIR=
PGBIN=
AS_PG=()

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$PGDIR" ] && [ -f "$PGDIR/data/postmaster.pid" ]; then
        log "stopping the throwaway PostgreSQL"
        "${AS_PG[@]}" "$PGBIN/pg_ctl" stop -D "$PGDIR/data" -m immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# Even a killed run (SIGKILL, a closed terminal) leaves no server or files behind: this
# watchdog stops the cluster and removes the work directory once this script is gone.
watchdog() {
    trap '' INT TERM HUP
    while kill -0 "$1" 2>/dev/null && [ -d "$WORK" ]; do sleep 2; done
    if [ -f "$WORK/pg/data/postmaster.pid" ]; then
        local ctl
        ctl=$(cat "$WORK/pg_ctl_path" 2>/dev/null) || ctl=pg_ctl
        "${AS_PG[@]}" "$ctl" stop -D "$WORK/pg/data" -m immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}

# --- PostgreSQL ---------------------------------------------------------------------------

find_pgbin() {
    local dir
    dir=$(dirname "$(command -v initdb 2>/dev/null || true)")
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return; fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return; fi
    done
    die "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin; \
install them (Debian: apt-get install postgresql) or pass --url"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts a cluster tuned for a throwaway benchmark (no fsync, no autovacuum: the data is
# static, frozen and analyzed by the generator) and sets URL.
start_postgres() {
    PGBIN=$(find_pgbin)
    PGDIR=$WORK/pg
    mkdir -p "$PGDIR"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root needs the OS user 'postgres' for initdb"
        chown postgres: "$PGDIR"
        AS_PG=(runuser -u postgres --)
    fi
    echo "$PGBIN/pg_ctl" >"$WORK/pg_ctl_path"
    watchdog $$ </dev/null >/dev/null 2>&1 &
    disown
    log "starting a throwaway PostgreSQL from $PGBIN in $PGDIR"
    "${AS_PG[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --locale=C \
        --no-sync >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
    local port opts
    port=$(free_port)
    opts="-c listen_addresses=127.0.0.1 -p $port -k $PGDIR -c fsync=off -c full_page_writes=off"
    opts+=" -c synchronous_commit=off -c autovacuum=off -c shared_buffers=512MB"
    opts+=" -c max_wal_size=8GB -c checkpoint_timeout=1h -c max_connections=50"
    if ! "${AS_PG[@]}" "$PGBIN/pg_ctl" start -D "$PGDIR/data" -w -t 60 -l "$PGDIR/server.log" \
        -o "$opts" >/dev/null; then
        tail -20 "$PGDIR/server.log" >&2 || true
        die "PostgreSQL did not start (log above)"
    fi
    URL="postgresql://postgres@127.0.0.1:$port/postgres"
    psql -X -q -v ON_ERROR_STOP=1 -d "$URL" -c 'CREATE DATABASE bench' >/dev/null
    URL="postgresql://postgres@127.0.0.1:$port/bench"
}

# CPU seconds of the server's exited children (backends, parallel workers): the postmaster
# reaps them, so its cutime+cstime grows by what each finished connection used.
pg_cpu() {
    [ -n "$PGDIR" ] || { echo NA; return; }
    local pid
    pid=$(head -1 "$PGDIR/data/postmaster.pid")
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($14 + $15) / hz }' \
        "/proc/$pid/stat"
}

psql_q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$URL" "$@"; }

# --- pg2lite ----------------------------------------------------------------------------

build_pg2lite() {
    if [ -n "$BIN" ]; then
        [ -x "$BIN" ] || die "--bin $BIN is not an executable file"
        BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
        return
    fi
    command -v cargo >/dev/null || die "cargo is required to build pg2lite (or pass --bin PATH)"
    log "building pg2lite (cargo build --release)"
    if ! (cd "$ROOT" && cargo build --release) >"$WORK/build.log" 2>&1; then
        tail -30 "$WORK/build.log" >&2
        die "cargo build --release failed (output above); --bin PATH measures another binary"
    fi
    BIN=$ROOT/target/release/pg2lite
}

has_import() { "$BIN" help import >/dev/null 2>&1; }
has_migrate() { "$BIN" help migrate >/dev/null 2>&1; }
has_skip_validate() { has_migrate && "$BIN" migrate --help 2>/dev/null | grep -q -- --skip-validate; }
has_tenant() { "$BIN" export --help 2>/dev/null | grep -q -- --tenant-column; }
has_each_tenant() { "$BIN" migrate --help 2>/dev/null | grep -q -- --each-tenant; }
has_redact() { "$BIN" export --help 2>/dev/null | grep -q -- --redact; }
# The default of `export --jobs`, read from its help, so that the second export case is the
# other setting whatever the default becomes.
default_jobs() {
    "$BIN" export --help 2>/dev/null | tr '\n' ' ' \
        | sed -n 's/.*--jobs[^[]*\[default: \([0-9]*\)\].*/\1/p'
}

# --- DuckDB -------------------------------------------------------------------------------

DUCK_PY=
DUCK_VERSION=
setup_duckdb() {
    [ "$DUCKDB" = 1 ] || { DUCK_SKIP="disabled with --no-duckdb"; return; }
    local venv=${XDG_CACHE_HOME:-$HOME/.cache}/pg2lite-bench/duckdb-1.4.4
    local probe='import os, duckdb, duckdb_ext
ext = os.path.join(list(duckdb_ext.__path__)[0], "extensions")
con = duckdb.connect(config={"extension_directory": ext, "autoinstall_known_extensions": False})
con.execute("LOAD postgres"); con.execute("LOAD sqlite")
print(duckdb.__version__)'
    if ! DUCK_VERSION=$("$venv/bin/python" -c "$probe" 2>/dev/null); then
        log "installing DuckDB 1.4.4 and its postgres/sqlite extensions into $venv"
        if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check \
            duckdb==1.4.4 duckdb-ext-postgres duckdb-ext-sqlite; } >"$WORK/pip.log" 2>&1; then
            DUCK_SKIP="pip install duckdb==1.4.4 duckdb-ext-postgres duckdb-ext-sqlite failed \
($(tail -1 "$WORK/pip.log"))"
            return
        fi
        DUCK_VERSION=$("$venv/bin/python" -c "$probe" 2>/dev/null) \
            || { DUCK_SKIP="DuckDB or its extensions do not load after installing them"; return; }
    fi
    DUCK_PY=$venv/bin/python
}
DUCK_SKIP=

# --- the commands -------------------------------------------------------------------------
# Each command is a script in $WORK/cmd/<id>.sh, run with the current directory set to a fresh,
# empty run directory (so default folders such as migration_data/ and backups/ land there and
# are removed after each run). They read B_URL, B_BIN, B_WORK, B_DATA and B_EXPORT.

# shellcheck disable=SC2016 # the scripts expand their variables when they run
write_scripts() {
    mkdir -p "$WORK/cmd"
    cat >"$WORK/sqlite_tables.sql" <<'EOF'
-- The benchmark's tables in SQLite, with DESIGN.md's type mapping, keys and foreign keys.
CREATE TABLE tenants (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    settings TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    uid TEXT NOT NULL,
    payload TEXT,
    amount REAL,
    score REAL,
    flag INTEGER,
    at TEXT NOT NULL,
    day TEXT NOT NULL,
    tags TEXT
);
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id),
    event_id INTEGER REFERENCES events (id),
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
EOF
    # Unique and secondary indexes, built after the load (the fastest order).
    cat >"$WORK/sqlite_indexes.sql" <<'EOF'
CREATE UNIQUE INDEX tenants_email_key ON tenants (email);
CREATE UNIQUE INDEX events_uid_key ON events (uid);
CREATE INDEX events_tenant_id_idx ON events (tenant_id);
CREATE INDEX notes_tenant_id_idx ON notes (tenant_id);
CREATE INDEX notes_event_id_idx ON notes (event_id);
EOF
    cat >"$WORK/cmd/source.sh" <<'EOF'
set -euo pipefail
for t in tenants events notes; do
    psql -X -q -v ON_ERROR_STOP=1 -d "$B_URL" -c "\copy (select * from $t) to '/dev/null' (format binary)"
done
EOF
    cat >"$WORK/cmd/pipeline.sh" <<'EOF'
set -euo pipefail
for t in tenants events notes; do
    psql -X -q -v ON_ERROR_STOP=1 -d "$B_URL" -c "\copy (select * from $t) to stdout (format csv)" \
        | sqlite3 -bail target.db ".import --csv /dev/stdin $t"
done
sqlite3 -bail target.db <"$B_WORK/sqlite_indexes.sql"
EOF
    cat >"$WORK/cmd/csvimport.sh" <<'EOF'
set -euo pipefail
sqlite3 -bail target.db ".import --csv $B_DATA/tenants.csv tenants" \
    ".import --csv $B_DATA/events.csv events" ".import --csv $B_DATA/notes.csv notes" \
    ".read $B_WORK/sqlite_indexes.sql"
EOF
    cat >"$WORK/cmd/writelimit.sh" <<'EOF'
set -euo pipefail
sqlite3 -bail target.db <<SQL
PRAGMA journal_mode = OFF;
ATTACH '$B_DATA/typed.db' AS src;
BEGIN;
INSERT INTO main.tenants (id, name, email, settings, created_at)
    SELECT id, name, email, settings, created_at FROM src.tenants;
INSERT INTO main.events (id, tenant_id, uid, payload, amount, score, flag, at, day, tags)
    SELECT id, tenant_id, uid, payload, amount, score, flag, at, day, tags FROM src.events;
INSERT INTO main.notes (id, tenant_id, event_id, body, created_at)
    SELECT id, tenant_id, event_id, body, created_at FROM src.notes;
.read $B_WORK/sqlite_indexes.sql
COMMIT;
SQL
EOF
    # One pass of SHA-256 over the export's table files, read from the page cache: the least
    # that writing a checksummed file of those bytes costs (one copy through the page cache,
    # one hash of every byte), whatever program writes it. OpenSSL, not sha256sum: coreutils'
    # generic SHA-256 is 4-5 times slower than OpenSSL's, which uses the CPU's SHA extensions.
    echo 'exec openssl dgst -sha256 "$B_EXPORT"/tables/*.ndjson >/dev/null' >"$WORK/cmd/hashlimit.sh"
    cat >"$WORK/cmd/duck_ctas.py" <<'EOF'
import os, sys
import duckdb, duckdb_ext

def literal(s):
    return "'" + s.replace("'", "''") + "'"

ext = os.path.join(list(duckdb_ext.__path__)[0], "extensions")
con = duckdb.connect(config={"extension_directory": ext, "autoinstall_known_extensions": False})
con.execute("LOAD postgres")
con.execute("LOAD sqlite")
con.execute(f"ATTACH {literal(os.environ['B_URL'])} AS p (TYPE postgres, READ_ONLY)")
con.execute("ATTACH 'target.db' AS s (TYPE sqlite)")
for t in ("tenants", "events", "notes"):
    con.execute(f"CREATE TABLE s.{t} AS SELECT * FROM p.public.{t}")
EOF
    echo "exec \"\$B_DUCK_PY\" \"\$B_WORK/cmd/duck_ctas.py\"" >"$WORK/cmd/duckdb.sh"
    echo 'exec "$B_BIN" export --source "$B_URL" --out out -q' >"$WORK/cmd/export.sh"
    echo 'exec "$B_BIN" export --source "$B_URL" --out out -q --jobs "$B_JOBS"' \
        >"$WORK/cmd/export_jobs.sh"
    echo 'exec "$B_BIN" import --from "$B_EXPORT" --target target.db --yes -q' >"$WORK/cmd/import.sh"
    echo 'exec "$B_BIN" migrate --source "$B_URL" --target target.db --yes -q --skip-validate' \
        >"$WORK/cmd/migrate_fast.sh"
    echo 'exec "$B_BIN" migrate --source "$B_URL" --target target.db --yes -q' >"$WORK/cmd/migrate.sh"
    echo 'exec "$B_BIN" export --source "$B_URL" --out out -q --tenant-column tenant_id --tenant 1' \
        >"$WORK/cmd/tenant.sh"
    # Every tenant (100) to its own file, against `migrate` of the whole database.
    printf '%s\n' 'exec "$B_BIN" migrate --source "$B_URL" -q --tenant-column tenant_id --each-tenant --target-dir tenants' \
        >"$WORK/cmd/each_tenant.sh"
    # One hashed column on events (uid: its text is hashed, written back as a UUID), to set
    # against `export`, which is the same command without --redact.
    printf '%s\n' 'exec "$B_BIN" export --source "$B_URL" --out out -q --redact events.uid=hash' \
        >"$WORK/cmd/redact.sh"
}

label() {
    case $1 in
        source) echo 'source limit: psql \copy (select *) binary to /dev/null' ;;
        pipeline) echo 'shell pipeline: psql \copy csv | sqlite3 .import' ;;
        csvimport) echo 'sqlite3 .import --csv of local CSV files' ;;
        writelimit) echo 'SQLite write limit: INSERT … SELECT between files, journal off' ;;
        hashlimit) echo "checksum limit: openssl dgst -sha256 of the export's table files" ;;
        duckdb) echo "DuckDB $DUCK_VERSION: CREATE TABLE s.t AS SELECT * FROM p.t (no keys)" ;;
        export) echo "pg2lite export (default, --jobs ${DEFAULT_JOBS:-?})" ;;
        export_jobs) echo "pg2lite export --jobs $B_JOBS" ;;
        import) echo 'pg2lite import' ;;
        migrate_fast) echo 'pg2lite migrate --skip-validate' ;;
        migrate) echo 'pg2lite migrate (with validation)' ;;
        tenant) echo 'pg2lite export --tenant-column tenant_id --tenant 1' ;;
        redact) echo 'pg2lite export --redact events.uid=hash (one hashed column)' ;;
        each_tenant) echo 'pg2lite migrate --each-tenant (every tenant to its own file, validated)' ;;
    esac
}

ALL_IDS=(source pipeline csvimport writelimit hashlimit duckdb export export_jobs import migrate_fast
    migrate tenant redact each_tenant)
SKIPPED=()

# The commands to measure: everything available (and selected with --only).
choose_commands() {
    IDS=()
    local id
    for id in "${ALL_IDS[@]}"; do
        if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$id,"* ]]; then continue; fi
        case $id in
            hashlimit) command -v openssl >/dev/null \
                || { SKIPPED+=("checksum limit skipped: openssl is not on PATH"); continue; } ;;
            duckdb) [ -n "$DUCK_PY" ] || { SKIPPED+=("DuckDB comparison skipped: $DUCK_SKIP"); continue; } ;;
            import) has_import || { SKIPPED+=("skipped: pg2lite import not available yet"); continue; } ;;
            migrate) has_migrate || { SKIPPED+=("skipped: pg2lite migrate not available yet"); continue; } ;;
            migrate_fast) has_skip_validate \
                || { SKIPPED+=("skipped: pg2lite migrate --skip-validate not available yet"); continue; } ;;
            tenant) has_tenant \
                || { SKIPPED+=("skipped: pg2lite export --tenant-column not available yet"); continue; } ;;
            redact) has_redact \
                || { SKIPPED+=("skipped: pg2lite export --redact not available yet"); continue; } ;;
            each_tenant) has_each_tenant \
                || { SKIPPED+=("skipped: pg2lite migrate --each-tenant not available yet"); continue; } ;;
        esac
        IDS+=("$id")
    done
    local s
    for s in "${SKIPPED[@]}"; do log "$s"; done
}

# --- per-size preparation (untimed) -------------------------------------------------------

generate() {
    local rows=$1 t0
    log "generating $rows rows (bench/generate.sql)"
    t0=$(date +%s.%N)
    psql -X -q -v ON_ERROR_STOP=1 -v rows="$rows" -d "$URL" -f "$BENCH/generate.sql" >/dev/null \
        || die "bench/generate.sql failed"
    GEN_SECONDS=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}

# The fraction of rows and bytes that tenant 1 owns, and the database's size.
describe_data() {
    local size=$1
    psql_q -F $'\t' >"$WORK/facts.tsv" <<'SQL'
SELECT (SELECT count(*) FROM tenants), (SELECT count(*) FROM events), (SELECT count(*) FROM notes),
       pg_database_size(current_database()),
       (SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY['tenants', 'events', 'notes']::regclass[]) c),
       1 + (SELECT count(*) FROM events WHERE tenant_id = 1) + (SELECT count(*) FROM notes WHERE tenant_id = 1),
       current_setting('server_version');
SQL
    read -r N_TENANTS N_EVENTS N_NOTES DB_BYTES TABLE_BYTES T1_ROWS PG_VERSION <"$WORK/facts.tsv"
    printf 'size\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$N_TENANTS" "$N_EVENTS" "$N_NOTES" \
        "$DB_BYTES" "$TABLE_BYTES" "$T1_ROWS" "$GEN_SECONDS" >>"$META"
}

prepare_size() {
    local size=$1
    B_DATA=$WORK/data-$size
    rm -rf "$WORK"/data-*
    mkdir -p "$B_DATA"
    export B_DATA
    if need csvimport writelimit; then
        log "dumping CSV files for sqlite3 .import (untimed)"
        local t
        for t in "${TABLES[@]}"; do
            psql -X -q -v ON_ERROR_STOP=1 -d "$URL" \
                -c "\copy (select * from $t) to '$B_DATA/$t.csv' (format csv)"
        done
    fi
    if need import writelimit hashlimit; then
        log "exporting once with pg2lite (untimed input of import and the limits)"
        (cd "$B_DATA" && "$BIN" export --source "$URL" --out export -q) >"$WORK/prep.log" 2>&1 \
            || { cat "$WORK/prep.log" >&2; die "pg2lite export failed while preparing"; }
        B_EXPORT=$(dirname "$(find "$B_DATA/export" -name manifest.json | head -1)")
        [ -f "$B_EXPORT/manifest.json" ] || die "pg2lite export left no manifest.json in $B_DATA/export"
        export B_EXPORT
    fi
    if need writelimit; then
        # The source of the write limit holds the rows typed as pg2lite would type them; until
        # pg2lite import exists (or if it fails), sqlite3 .import of the CSV files stands in.
        TYPED_BY='pg2lite import'
        if ! has_import || ! (cd "$B_DATA" && "$BIN" import --from "$B_EXPORT" --target typed.db \
            --yes -q >"$WORK/prep.log" 2>&1) || ! check_target "$B_DATA/typed.db" >/dev/null; then
            if has_import; then
                log "pg2lite import failed while preparing the write limit's source; using sqlite3 .import"
                TYPED_BY='sqlite3 .import (pg2lite import failed)'
            else
                TYPED_BY='sqlite3 .import (pg2lite import not available yet)'
            fi
            rm -f "$B_DATA"/typed.db*
            sqlite3 -bail "$B_DATA/typed.db" ".read $WORK/sqlite_tables.sql" \
                ".import --csv $B_DATA/tenants.csv tenants" ".import --csv $B_DATA/events.csv events" \
                ".import --csv $B_DATA/notes.csv notes"
        fi
        printf 'typed_by\t%s\t%s\n' "$size" "$TYPED_BY" >>"$META"
    fi
}

need() {
    local id
    for id in "$@"; do
        [[ " ${IDS[*]} " == *" $id "* ]] && return 0
    done
    return 1
}

# --- measuring ----------------------------------------------------------------------------

# Checks that a SQLite target holds every row, so that a command that "succeeded" without
# loading anything cannot look fast.
check_target() {
    local db=$1 t got want
    [ -f "$db" ] || { echo "it left no SQLite file"; return 1; }
    for t in "${TABLES[@]}"; do
        case $t in tenants) want=$N_TENANTS ;; events) want=$N_EVENTS ;; notes) want=$N_NOTES ;; esac
        got=$(sqlite3 "$db" "SELECT count(*) FROM \"$t\"" 2>&1) \
            || { echo "cannot count $t in its SQLite file: $got"; return 1; }
        [ "$got" = "$want" ] || { echo "$t has $got rows in SQLite, PostgreSQL has $want"; return 1; }
    done
}

is_pg2lite() { [[ " export export_jobs import migrate_fast migrate tenant redact each_tenant " == *" $1 "* ]]; }

# A baseline that fails means the machine cannot run the benchmark: stop. A pg2lite command
# that fails is a finding: report it, leave it out of the remaining rounds, and go on.
declare -A FAILED=()
failed() {
    local id=$1 size=$2 why=$3
    if ! is_pg2lite "$id"; then die "$(label "$id") at $size rows: $why"; fi
    log "FAILED: $(label "$id") at $size rows: $why; it is left out from now on"
    FAILED[$id]=1
    SKIPPED+=("FAILED: $(label "$id") at $size rows: $why")
}

run_one() {
    local size=$1 round=$2 id=$3 dir=$WORK/run
    [ -z "${FAILED[$id]:-}" ] || return 0
    rm -rf "$dir"
    mkdir -p "$dir"
    case $id in
        pipeline | csvimport | writelimit) sqlite3 -bail "$dir/target.db" <"$WORK/sqlite_tables.sql" ;;
    esac
    sync
    local cpu0 cpu1 status=0 why
    cpu0=$(pg_cpu)
    (cd "$dir" && /usr/bin/time -f '%e %U %S %M' -o "$WORK/time.out" \
        bash "$WORK/cmd/$id.sh" >"$WORK/cmd.log" 2>&1) || status=$?
    if [ "$status" != 0 ]; then
        tail -20 "$WORK/cmd.log" >&2
        failed "$id" "$size" "exit status $status ($(grep -v '^\s*$' "$WORK/cmd.log" | tail -1))"
        rm -rf "$dir"
        return 0
    fi
    sleep 0.3 # let the postmaster reap the last backend before reading its children's CPU
    cpu1=$(pg_cpu)
    local wall user sys rss pgcpu=NA
    read -r wall user sys rss < <(tail -1 "$WORK/time.out")
    [ "$cpu0" = NA ] || pgcpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
    case $id in
        pipeline | csvimport | writelimit | duckdb | import | migrate_fast | migrate)
            if ! why=$(check_target "$dir/target.db"); then
                failed "$id" "$size" "$why"
                rm -rf "$dir"
                return 0
            fi ;;
    esac
    local extra=
    case $id in
        export | export_jobs | tenant | redact) extra=$(du -sb "$dir"/out/*/tables 2>/dev/null | cut -f1) ;;
    esac
    printf 'run\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$id" "$round" "$wall" \
        "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" "$rss" "$pgcpu" \
        "${extra:-NA}" >>"$META"
    log "  $size rows, round $round: $(label "$id"): ${wall}s, peak RSS $((rss / 1024)) MB"
    rm -rf "$dir"
}

# --- main ---------------------------------------------------------------------------------

META=$WORK/results.tsv
: >"$META"
build_pg2lite
DEFAULT_JOBS=$(default_jobs)
if [ "${DEFAULT_JOBS:-}" = 1 ]; then B_JOBS=2; else B_JOBS=1; fi
export B_BIN=$BIN B_WORK=$WORK B_JOBS
setup_duckdb
export B_DUCK_PY=$DUCK_PY
choose_commands
[ ${#IDS[@]} -gt 0 ] || die "no command left to measure (--only $ONLY)"
write_scripts
if [ -z "$URL" ]; then
    start_postgres
else
    log "using the PostgreSQL given with --url/BENCH_URL (its tables tenants, events, notes are replaced)"
    psql_q -c 'SELECT 1' >/dev/null || die "cannot connect to the --url database"
fi
export B_URL=$URL

STARTED=$(date +%s)
for size in "${ROWS[@]}"; do
    generate "$size"
    describe_data "$size"
    prepare_size "$size"
    for ((round = 1; round <= RUNS; round++)); do
        # Round-robin, and each round starts one command later, so that neither noise nor
        # the order (a warm cache after a given command) favours any command.
        n=${#IDS[@]}
        for ((k = 0; k < n; k++)); do
            run_one "$size" "$round" "${IDS[$(((k + round - 1) % n))]}"
        done
    done
done

{
    printf 'info\tdate\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'info\tmachine\t%s cores, %s GiB memory, %s\n' "$(nproc)" \
        "$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" "$(uname -sr)"
    printf 'info\tpostgres\tPostgreSQL %s%s\n' "$PG_VERSION" \
        "$([ -n "$PGDIR" ] && echo ' (throwaway cluster on this machine, fsync off)' || echo ' (--url)')"
    printf 'info\tsqlite3\tsqlite3 %s\n' "$(sqlite3 --version | cut -d' ' -f1)"
    printf 'info\tpg2lite\t%s (%s)\n' "$("$BIN" --version)" \
        "$(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo 'no git')"
    printf 'info\tduckdb\t%s\n' "${DUCK_VERSION:-none}"
    printf 'info\tcores\t%s\n' "$(nproc)"
    printf 'info\truns\t%s\n' "$RUNS"
    printf 'info\tlocal\t%s\n' "$([ -n "$PGDIR" ] && echo 1 || echo 0)"
    printf 'info\tminutes\t%s\n' "$((($(date +%s) - STARTED + 59) / 60))"
    for s in "${SKIPPED[@]}"; do printf 'skipped\t%s\n' "$s"; done
    for id in "${IDS[@]}"; do printf 'label\t%s\t%s\n' "$id" "$(label "$id")"; done
} >>"$META"

if [ -z "$OUT" ]; then OUT=$(mktemp "${TMPDIR:-/tmp}/pg2lite-bench-XXXXXX.md"); fi
python3 "$BENCH/report.py" "$META" | tee "$OUT"
log "report written to $OUT"
