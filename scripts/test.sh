#!/usr/bin/env bash
# The test command (`make test`): installs PostgreSQL (and the browser tests' Chromium) when
# missing, starts a throwaway cluster on a free loopback port, runs the whole Swift test suite
# against it, and removes the cluster after.
# The suites that time the service under load, or run PostgreSQL servers of their own ($timed), run
# alone, after the others: beside them the machine's cores are shared, and their timings would
# measure the neighbours.
# Then the dashboard in a real browser (scripts/browser-test.sh) and two minutes of fuzzing both
# services' APIs against their OpenAPI documents, once per role (scripts/api-fuzz.sh), against the
# same cluster; a minute of fuzzing the file reader (scripts/fuzz.sh); and a search of everything
# the run logged for what logs must never carry (scripts/check-logs.sh).
# Extra arguments go to one `swift test` instead (e.g. `scripts/test.sh --filter Migrations`).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-postgres.sh
bin=$(dirname "$(readlink -f "$(command -v initdb || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")")

cluster=$(mktemp -d /tmp/regio-test-pg.XXXXXX)
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL will not run as root: the cluster belongs to Debian's `postgres` user.
    chown postgres "$cluster"
    as_owner=(runuser -u postgres --)
fi

port=""
for candidate in $(seq 25432 25532); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[ -n "$port" ] || { echo "no free port for the test cluster" >&2; exit 1; }

stop() {
    "${as_owner[@]}" "$bin/pg_ctl" -D "$cluster/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$cluster"
}
trap stop EXIT

"${as_owner[@]}" "$bin/initdb" -D "$cluster/data" -U regio --auth=trust --encoding=UTF8 --locale=C.UTF-8 --lc-collate=C --no-sync >/dev/null
# Durability is irrelevant for a throwaway cluster; connections must cover parallel tests (each
# holds a pool of its own: a hundred tests at once hold about 400, and a pool refused connections
# stalls its test), and so must prepared transactions (a batch's merge prepares one beside its
# main transaction).
"${as_owner[@]}" "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/postgres.log" -w -t 60 start -o \
    "-p $port -c listen_addresses=127.0.0.1 -k $cluster -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=1000 -c max_prepared_transactions=100" >/dev/null

export REGIO_TEST_DATABASE_URL="postgres://regio@127.0.0.1:$port/postgres"
echo "test cluster: $REGIO_TEST_DATABASE_URL" >&2
if [ $# -gt 0 ]; then
    swift test "$@"
    exit
fi
timed="HostileLoadTests|DatabaseRestartTests|BackupRestoreTests|DatabaseTLSTests|ConcurrencyTests"
status=0
# Everything the run prints, the services' logs included, is kept to be searched at the end
# (scripts/check-logs.sh: no tokens, ID numbers or phone numbers), in .regio/test-run.log.
mkdir -p .regio
export REGIO_TEST_LOG="$PWD/.regio/test-run.log"
: >"$REGIO_TEST_LOG"
swift test --skip "$timed|CrashTests" 2>&1 | tee -a "$REGIO_TEST_LOG" || status=$?
swift test --filter "$timed" 2>&1 | tee -a "$REGIO_TEST_LOG" || status=$?
# The crash drills, twenty-six at once, each with its services and PostgreSQL servers: beside
# anything else they starve it, and beside the timed suites they would skew their timings.
swift test --filter CrashTests 2>&1 | tee -a "$REGIO_TEST_LOG" || status=$?
scripts/browser-test.sh 2>&1 | tee -a "$REGIO_TEST_LOG" || status=$?
scripts/api-fuzz.sh 120 2>&1 | tee -a "$REGIO_TEST_LOG" || status=$?
scripts/fuzz.sh 60 2>&1 | tee -a "$REGIO_TEST_LOG" || status=$?
scripts/check-logs.sh "$REGIO_TEST_LOG" || status=$?
exit $status
