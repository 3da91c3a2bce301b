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
source scripts/demo-region.sh
finish() {
    stop_demo_region
    # The demo's services logged (standard error) at info level: scripts/test.sh searches them with
    # the rest. Its banner (standard output) prints tokens and passwords on purpose, and is not a log.
    [ -n "${REGIO_TEST_LOG:-}" ] && [ -f "$state/demo.log" ] && cat "$state/demo.log" >>"$REGIO_TEST_LOG"
    rm -rf "$state"
}
trap finish EXIT
start_demo_region regio_browser "$state"

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
