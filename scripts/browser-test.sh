#!/usr/bin/env bash
# The dashboard in a real browser (run by scripts/test.sh after the Swift tests): a demo region on
# its own database of the test cluster ($REGIO_TEST_DATABASE_URL), both services on free ports and
# each path logged in as its deployed role (regio_ingest, regio_query, …),
# then Tests/browser/check_pages.py signs in as each demo user with headless Chromium and opens
# every page the role can reach. Screenshots go to .regio/browser/<role>/.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${REGIO_TEST_DATABASE_URL:?run me from scripts/test.sh, which starts the test cluster}"
scripts/browser-deps.sh
swift build --product regio

state=$(mktemp -d /tmp/regio-browser.XXXXXX)
server=${REGIO_TEST_DATABASE_URL%/*}
psql "$REGIO_TEST_DATABASE_URL" -qAtc "DROP DATABASE IF EXISTS regio_browser" -c "CREATE DATABASE regio_browser" >/dev/null
demo_pid=""
finish() {
    [ -n "$demo_pid" ] && kill "$demo_pid" 2>/dev/null && wait "$demo_pid" 2>/dev/null
    # The demo's services logged (standard error) at info level: scripts/test.sh searches them with
    # the rest. Its banner (standard output) prints tokens and passwords on purpose, and is not a log.
    [ -n "${REGIO_TEST_LOG:-}" ] && [ -f "$state/demo.log" ] && cat "$state/demo.log" >>"$REGIO_TEST_LOG"
    rm -rf "$state"
}
trap finish EXIT

REGIO_DATABASE_URL="$server/regio_browser" REGIO_INGEST_PORT=0 REGIO_QUERY_PORT=0 REGIO_LOG_LEVEL=info \
    .build/debug/regio demo --service-roles --state-directory "$state" --ready-file "$state/ready.json" >"$state/demo.out" 2>"$state/demo.log" &
demo_pid=$!
for _ in $(seq 1 900); do
    [ -f "$state/ready.json" ] && break
    kill -0 "$demo_pid" 2>/dev/null || { tail -50 "$state/demo.log" >&2; echo "the demo stopped before it was ready" >&2; exit 1; }
    sleep 1
done
[ -f "$state/ready.json" ] || { tail -50 "$state/demo.log" >&2; echo "the demo was not ready within 15 minutes" >&2; exit 1; }

# What each role must not reach (403), and what an alliance user must never see: the other alliance.
python3 - "$state/ready.json" "$state/users.json" <<'PY'
import json, sys
ready = json.load(open(sys.argv[1]))
forbidden = {
    "facility": ["/reports/primary-care-share", "/reports/price-comparison", "/admin/users", "/steward/reviews"],
    "alliance": ["/reports/primary-care-share", "/uploads", "/lookup", "/admin/thresholds", "/reports/price-comparison?alliance=NS-YGT"],
    "bureau": ["/lookup", "/admin/users", "/admin/tokens", "/steward/reviews", "/steward/codes"],
    "steward": ["/admin/users", "/lookup"],
    "admin": ["/lookup", "/steward/reviews"],
}
for user in ready["users"]:
    user["forbidden"] = forbidden[user["role"]]
    user["must_not_contain"] = ["NS-YGT"] if user["role"] == "alliance" else []
json.dump(ready, open(sys.argv[2], "w"))
PY
rm -rf .regio/browser
python3 Tests/browser/check_pages.py --users "$state/users.json" --artifacts .regio/browser --max-pages-per-role 40
