#!/usr/bin/env bash
# API fuzzing (run by scripts/test.sh after the browser tests): a demo region on its own database
# of the test cluster ($REGIO_TEST_DATABASE_URL), both services on free ports and each path logged
# in as its deployed role, then schemathesis against each service's own /openapi.yaml once per
# role, with that role's token from the demo's ready file. Every generated request, valid or not,
# must get no 5xx, a status code the document lists for the operation, that response's content
# type, and a body its schema accepts; anything else fails the script.
#   scripts/api-fuzz.sh [SECONDS]   the fuzzing time, shared by the runs (default 120; 3600 for an hour)
# Schemathesis (v4, from PyPI) goes into a venv, .regio/venv-api, when it is not there yet. Its
# reports (JUnit XML and the console output of each run) and the services' logs go to
# .regio/api-fuzz/.
# The services' logs are not appended to the test run's log: they quote the fuzzed paths and
# queries, whose random numbers look like phone and ID numbers to scripts/check-logs.sh. They are
# searched here for tokens instead, and what this script prints has long digit runs masked.
set -euo pipefail
cd "$(dirname "$0")/.."

budget=${1:-120}
[[ "$budget" =~ ^[0-9]+$ ]] && [ "$budget" -ge 10 ] || { echo "usage: scripts/api-fuzz.sh [SECONDS ≥ 10]" >&2; exit 2; }
: "${REGIO_TEST_DATABASE_URL:?run me from scripts/test.sh, which starts the test cluster}"

# Schemathesis, only when missing: Debian's python3-venv when python3 cannot make a venv, then
# pip into .regio/venv-api. Idempotent and quiet; when it is there, one `st --version`.
venv=.regio/venv-api
if ! "$venv/bin/st" --version 2>/dev/null | grep -q 'version 4\.'; then
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        echo "api-fuzz: installing Debian's python3-venv" >&2
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq >/dev/null
        $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    fi
    echo "api-fuzz: installing schemathesis 4 into $venv" >&2
    rm -rf "$venv"
    mkdir -p .regio
    python3 -m venv "$venv"
    PIP_ROOT_USER_ACTION=ignore "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi

swift build --product regio

state=$(mktemp -d /tmp/regio-apifuzz.XXXXXX)
reports=.regio/api-fuzz
rm -rf "$reports"
mkdir -p "$reports"
source scripts/demo-region.sh
finish() {
    stop_demo_region
    [ -f "$state/demo.log" ] && cp "$state/demo.log" "$reports/services.log"
    rm -rf "$state"
}
trap finish EXIT

# Each credential may make 6,000 requests a minute (ten times the default): at the default, most
# operations of a run answered only 429 (documented, and checked like any answer) and their
# handlers went untested.
start_demo_region regio_apifuzz "$state" REGIO_RATE_LIMIT_PER_MINUTE=6000

# One run per service and role: "service role url token" (the tokens stay in this shell).
mapfile -t plan < <(python3 - "$state/ready.json" <<'PY'
import json, sys
ready = json.load(open(sys.argv[1]))
for service, url in (("ingest", ready["ingest_url"]), ("query", ready["base_url"])):
    for token in ready["tokens"]:
        print(service, token["role"], url, token["token"])
PY
)
per_run=$(( budget / ${#plan[@]} > 5 ? budget / ${#plan[@]} : 5 ))
# Schemathesis keeps the crashes it found in a cache folder (for `st replay`): under $reports,
# not in the work tree's root.
printf '[cache]\ndirectory = "%s"\n' "$PWD/$reports/cache" >"$reports/schemathesis.toml"
echo "api-fuzz: ${#plan[@]} runs (each service once per role) of ${per_run} s"

status=0
for entry in "${plan[@]}"; do
    read -r service role url token <<<"$entry"
    run="$service-$role"
    # --output-sanitize (on by default) shows the Authorization header as [Filtered] in every
    # reproduction it prints or writes.
    if "$venv/bin/st" --config-file "$reports/schemathesis.toml" --no-color run "$url/openapi.yaml" \
        --header "Authorization: Bearer $token" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --phases examples,coverage,fuzzing --max-time "$per_run" --max-examples 100 \
        --request-timeout 30 --generation-database none --output-sanitize true \
        --report junit --report-junit-path "$reports/$run.xml" >"$reports/$run.txt" 2>&1 \
        && ! grep -q '^Traceback' "$reports/$run.txt"; then
        # (A worker thread of schemathesis that crashes leaves its operations untested, and the
        # run still exits 0.)
        result=passed
    else
        result=FAILED
        status=1
    fi
    echo "$service $role $result" >>"$state/results"
done
unset token plan

# A summary per service and role: operations, generated test cases, failures (from the JUnit
# report), and the failures themselves — what was checked and how to reproduce it, without the
# response bodies (sample patients' names and addresses) and with digit runs masked.
python3 - "$reports" "$state/results" <<'PY'
import re, sys, xml.etree.ElementTree as ET
reports, results = sys.argv[1], sys.argv[2]
print(f"{'service':8} {'role':9} {'operations':>10} {'cases':>7} {'failing':>8}  result")
for line in open(results):
    service, role, result = line.split()
    run = f"{reports}/{service}-{role}"
    operations = failing = 0
    try:
        for case in ET.parse(run + ".xml").getroot().iter("testcase"):
            operations += 1
            failing += any(child.tag in ("failure", "error") for child in case)
    except (OSError, ET.ParseError):
        pass
    text = open(run + ".txt", errors="replace").read()
    cases = re.search(r"Test cases:\s*([0-9]+) generated", text)
    print(f"{service:8} {role:9} {operations:>10} {cases.group(1) if cases else '?':>7} {failing:>8}  {result}")
for line in open(results):
    service, role, result = line.split()
    if result != "passed":
        text = open(f"{reports}/{service}-{role}.txt", errors="replace").read()
        start = text.find("FAILURES")
        if start < 0:
            start = text.find("Traceback")
        end = text.find("=== WARNINGS", start)
        excerpt = text[max(start, 0):end if end > start else start + 12000]
        # A response's body follows its status line ("[500] Internal Server Error:") up to "Reproduce with:".
        excerpt = re.sub(r"(?ms)^(\[[0-9]{3}\][^\n]*:\n).*?(?=^Reproduce with:)", r"\1\n    (body left out)\n\n", excerpt)
        print(f"\n--- {service} as {role} (whole output in {reports}/{service}-{role}.txt) ---")
        print(re.sub(r"[0-9]{8,}", "<digits>", excerpt))
PY

# No token may reach the services' logs or schemathesis's output, fuzzed as they are.
if grep -aElq 'rg_[A-Za-z0-9_-]{40,}' "$reports"/*.txt "$reports"/*.xml "$state/demo.log"; then
    echo "api-fuzz: a bearer token in $(grep -aEl 'rg_[A-Za-z0-9_-]{40,}' "$reports"/*.txt "$reports"/*.xml "$state/demo.log" | tr '\n' ' ')" >&2
    status=1
fi
[ "$status" -eq 0 ] && echo "api-fuzz: no server errors, every answer as documented" || echo "api-fuzz: failed" >&2
exit "$status"
