#!/usr/bin/env bash
# Makes sure the test suite has a PostgreSQL to talk to, and prints the URL to use.
#   1. HALLMARK_TEST_DATABASE_URL when set (nothing else is done);
#   2. the server on 127.0.0.1:5432 (trust auth, database `test`) when it answers;
#   3. a Debian cluster that is installed but down: started;
#   4. none at all: the `postgresql` package installed, and a role for this user with a database
#      `hallmark_test`, reached over the local socket (peer authentication; pg_hba.conf is left alone).
set -euo pipefail

if [ -n "${HALLMARK_TEST_DATABASE_URL:-}" ]; then echo "$HALLMARK_TEST_DATABASE_URL"; exit 0; fi
default_url="postgres://postgres@127.0.0.1:5432/test"
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then echo "$default_url"; exit 0; fi

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
wait_ready() { for _ in $(seq 1 60); do pg_isready -q "$@" && return 0; sleep 1; done; return 1; }

if [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
  version="$(ls /etc/postgresql | sort -n | tail -n1)"
  echo "test-database: starting PostgreSQL $version" >&2
  "${as_root[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  if wait_ready -h 127.0.0.1 -p 5432; then echo "$default_url"; exit 0; fi
fi

if [ ! -d /etc/postgresql ] || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  echo "test-database: no PostgreSQL here; installing the postgresql package" >&2
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq postgresql >/dev/null
  version="$(ls /etc/postgresql | sort -n | tail -n1)"
  "${as_root[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
fi
wait_ready -h /var/run/postgresql || { echo "test-database: PostgreSQL did not come up; set HALLMARK_TEST_DATABASE_URL to a server (trust or a password in the URL)" >&2; exit 1; }
user="$(id -un)"
as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sudo -u postgres sh -c "$*"; fi; }
as_postgres "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname = '$user'\"" | grep -q 1 || as_postgres "createuser --superuser '$user'"
as_postgres "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'hallmark_test'\"" | grep -q 1 || as_postgres "createdb --owner='$user' hallmark_test"
echo "postgres://$user@/hallmark_test?host=/var/run/postgresql"
