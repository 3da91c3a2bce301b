# Sourced by scripts/browser-test.sh and scripts/api-fuzz.sh: a demo region on a database of its
# own in the test cluster ($REGIO_TEST_DATABASE_URL), both services on free ports and each path
# logged in as its deployed role. The demo's banner (standard output, $state/demo.out) prints
# tokens and passwords on purpose; its services' log goes to $state/demo.log.
#   start_demo_region DATABASE STATE [VARIABLE=VALUE …]   starts it (the variables go to the
#       demo's environment) and waits until it writes STATE/ready.json (at most 15 minutes);
#       sets demo_pid
#   stop_demo_region   stops it: a stop waits for the batches being decided, and a decision that
#       hung would hang the script too, so the demo gets 30 s before it is killed

demo_pid=""

start_demo_region() {
    local database=$1 state=$2
    shift 2
    psql "$REGIO_TEST_DATABASE_URL" -qAtc "DROP DATABASE IF EXISTS $database" -c "CREATE DATABASE $database" >/dev/null
    env "$@" REGIO_DATABASE_URL="${REGIO_TEST_DATABASE_URL%/*}/$database" REGIO_INGEST_PORT=0 REGIO_QUERY_PORT=0 \
        REGIO_LOG_LEVEL=info .build/debug/regio demo --service-roles --state-directory "$state" \
        --ready-file "$state/ready.json" >"$state/demo.out" 2>"$state/demo.log" &
    demo_pid=$!
    for _ in $(seq 1 900); do
        [ -f "$state/ready.json" ] && return 0
        kill -0 "$demo_pid" 2>/dev/null || { tail -50 "$state/demo.log" >&2; echo "the demo stopped before it was ready" >&2; return 1; }
        sleep 1
    done
    tail -50 "$state/demo.log" >&2
    echo "the demo was not ready within 15 minutes" >&2
    return 1
}

stop_demo_region() {
    [ -n "$demo_pid" ] && kill "$demo_pid" 2>/dev/null || return 0
    for _ in $(seq 1 30); do kill -0 "$demo_pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
}
