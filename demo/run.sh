#!/usr/bin/env bash
# pg2lite in one command, for a newcomer on a fresh clone:
#
#   demo/run.sh
#
# 1. starts a throwaway PostgreSQL (a temporary directory and a free port on 127.0.0.1;
#    stopped and removed when the script ends, however it ends),
# 2. loads Pagila, the DVD-rental sample database vendored in tests/fixtures/pagila,
# 3. builds pg2lite (cargo build --release),
# 4. runs the demo: export Pagila, then check the export with `pg2lite verify` and with
#    `sha256sum -c` alone, as an auditor would.
#
# What it produces stays in ./demo-output/ (ignored by git). Needs: cargo, the PostgreSQL
# server binaries (on PATH or in /usr/lib/postgresql/*/bin), psql, sqlite3, gzip, sha256sum;
# as root, runuser and an OS user `postgres` for the server to run as. What is missing it
# installs with apt-get when it runs as root on Debian or Ubuntu; otherwise it prints the one
# command that installs it, and stops.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/demo-output"
pagila="$root/tests/fixtures/pagila"
# The demo decides where everything connects: nothing from the caller's environment.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGDATABASE PGSSLMODE PGSERVICE PGOPTIONS \
  PGDATA DATABASE_URL

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# --- a throwaway PostgreSQL ------------------------------------------------------------------

# A directory holding initdb, pg_ctl and postgres: PATH first, then the highest version
# installed under /usr/lib/postgresql (the same search as tests/support/pg.rs).
pg_bin_dir() {
  local dir
  for dir in $(tr ':' '\n' <<<"$PATH") $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null \
    | sort -t/ -k5 -V -r); do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
      echo "$dir"
      return
    fi
  done
  return 1
}

# Runs a server program as `postgres` when we are root (initdb and postgres refuse root), from
# the cluster's directory (the caller's may be closed to that user).
as_owner() {
  if [[ "$(id -u)" -eq 0 ]]; then
    (cd "$tmp" && runuser -u postgres -- "$@")
  else
    (cd "$tmp" && "$@")
  fi
}

# A port nothing on 127.0.0.1 answers on (pg_ctl start is retried if one is taken meanwhile).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

stop_postgres() {
  if [[ -f "$tmp/data/postmaster.pid" ]]; then
    as_owner "$bin/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  cp "$tmp/server.log" "$out/postgres.log" 2>/dev/null || true
  rm -rf "$tmp"
}

start_postgres() {
  bin="$(pg_bin_dir)" || die "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found \
on PATH or in /usr/lib/postgresql/*/bin; install them (Debian: apt-get install postgresql)"
  if [[ "$(id -u)" -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs an OS user named postgres"
    command -v runuser >/dev/null || die "running as root needs runuser (util-linux)"
  fi
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/pg2lite-demo.XXXXXX")"
  trap stop_postgres EXIT
  trap 'exit 130' INT TERM
  if [[ "$(id -u)" -eq 0 ]]; then
    chown postgres: "$tmp"
  fi
  say "starting a throwaway PostgreSQL ($("$bin/postgres" --version)) in $tmp"
  as_owner "$bin/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
    >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; die "initdb failed"; }
  cat >>"$tmp/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$tmp'
fsync = off
CONF
  local attempt
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    if as_owner "$bin/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 -o "-p $port" \
      start >/dev/null; then
      return
    fi
  done
  tail -n 20 "$tmp/server.log" >&2
  die "PostgreSQL did not start (log above)"
}

# --- what the demo needs ---------------------------------------------------------------------

# The Debian packages for what is missing, one per line.
missing_packages() {
  pg_bin_dir >/dev/null || echo postgresql
  command -v psql >/dev/null || echo postgresql-client
  command -v sqlite3 >/dev/null || echo sqlite3
  command -v gzip >/dev/null || echo gzip
  command -v sha256sum >/dev/null || echo coreutils
  if [[ "$(id -u)" -eq 0 ]]; then command -v runuser >/dev/null || echo util-linux; fi
}

# Installs what is missing (root on Debian: apt-get), or says the one command to run.
install_missing() {
  local packages
  packages="$(missing_packages | sort -u | tr '\n' ' ')"
  packages="${packages% }"
  if [[ -n "$packages" ]]; then
    if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null; then
      printf 'demo: missing: %s. Install them, then run demo/run.sh again:\n' "$packages" >&2
      if command -v apt-get >/dev/null; then
        printf '    sudo apt-get install -y %s\n' "$packages" >&2
      else
        printf '    (with your system'"'"'s package manager: the PostgreSQL server and client,' >&2
        printf ' sqlite3, gzip)\n' >&2
      fi
      exit 2
    fi
    say "installing what the demo needs: $packages (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages
  fi
  # As root, the server runs as `postgres`: Debian's package makes that user; a server built
  # by hand may come without it.
  if [[ "$(id -u)" -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    say "creating the OS user postgres for the server to run as"
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  fi
}

# --- Pagila ----------------------------------------------------------------------------------

psql_cmd() {
  if [[ -x "$bin/psql" ]]; then "$bin/psql" "$@"; else psql "$@"; fi
}

load_pagila() {
  say "loading Pagila into database pagila"
  psql_cmd -X -q -v ON_ERROR_STOP=1 -d "$admin_url" -c "CREATE DATABASE pagila"
  { cat "$pagila/pagila-schema.sql"; gzip -dc "$pagila/pagila-data.sql.gz"; } \
    | psql_cmd -X -q -v ON_ERROR_STOP=1 -d "$url" -f - >/dev/null
  psql_cmd -X -q -At -d "$url" -c "SELECT format('%s tables (payment''s partitions included), %s films, %s rentals, %s payments',
      (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'),
      (SELECT count(*) FROM film), (SELECT count(*) FROM rental), (SELECT count(*) FROM payment))"
}

# --- run -------------------------------------------------------------------------------------

install_missing
rm -rf "$out"
mkdir -p "$out"
start_postgres
admin_url="postgresql://postgres@127.0.0.1:$port/postgres"
url="postgresql://postgres@127.0.0.1:$port/pagila"
load_pagila

say "building pg2lite (cargo build --release)"
(cd "$root" && cargo build --release)
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" == /* ]] || target_dir="$root/$target_dir"
pg2lite="$target_dir/release/pg2lite"

cd "$out"

# =============================================================================================
# THE DEMO
# =============================================================================================
say "pg2lite migrate --source $url --target pagila.db"
"$pg2lite" migrate --source "$url" --target pagila.db

say "sqlite3 pagila.db: the five customers who rented most (a plain SQLite file now)"
sqlite3 -header -column pagila.db "
  SELECT c.first_name || ' ' || c.last_name AS customer, count(*) AS rentals,
         printf('%.2f', sum(p.amount)) AS paid
    FROM rental r JOIN customer c USING (customer_id)
    LEFT JOIN payment p USING (rental_id)
   GROUP BY c.customer_id ORDER BY rentals DESC, customer LIMIT 5"

shopt -s nullglob
exports=(migration_data/pagila-*/)
export_dir="${exports[0]%/}"
say "an auditor checks the export with pg2lite verify, and with sha256sum -c alone"
"$pg2lite" verify "$export_dir"
(cd "$export_dir" && sha256sum -c --quiet SHA256SUMS && echo "sha256sum: every checksum matches")

say "one user leaves a shared, multi-tenant database: their rows only, in a file of their own"
psql_cmd -X -q -v ON_ERROR_STOP=1 -d "$admin_url" -c "CREATE DATABASE astro"
psql_cmd -X -q -v ON_ERROR_STOP=1 -d "${admin_url%/postgres}/astro" \
  -f "$root/tests/fixtures/tenants.sql" >/dev/null
"$pg2lite" migrate --source "${admin_url%/postgres}/astro" --target alice.db \
  --tenant-column user_id --tenant-key email=user2@example.com
say "sqlite3 alice.db: her settings (app_config) and her clients; no user_id column anywhere"
sqlite3 -header -column alice.db "SELECT email, display_name, plan FROM app_config;
  SELECT name, email, fee FROM clients ORDER BY name LIMIT 3;"
# =============================================================================================

say "done: pagila.db and alice.db, their exports in migration_data/ and validation reports"
echo "everything is in $out; the server log is $out/postgres.log (the server is stopped and removed)"
