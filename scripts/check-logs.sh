#!/usr/bin/env bash
# Fails when a log holds what logs must never carry: a bearer token, a resident ID number (18
# characters, GB 11643 shape) or a mobile phone number. scripts/test.sh runs it over the output
# of the whole test run, services' logs included (the demo's too), where the sample extracts'
# ID numbers and phones pass through every path, errors included.
#   check-logs.sh LOG…
set -euo pipefail
patterns=(
    'rg_[A-Za-z0-9_-]{40,}'
    '(^|[^0-9A-Za-z])[1-9][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]([^0-9A-Za-z]|$)'
    '(^|[^0-9A-Za-z])1[3-9][0-9]{9}([^0-9A-Za-z]|$)'
)
names=("a bearer token" "a resident ID number" "a mobile phone number")
found=0
for i in "${!patterns[@]}"; do
    if hits=$(grep -aEHn "${patterns[$i]}" "$@"); then
        # Where, not what: file and line only, so this output does not repeat the leak.
        echo "check-logs: ${names[$i]} in the logs, at:" >&2
        echo "$hits" | cut -d: -f1,2 | head -5 | sed 's/^/  /' >&2
        found=1
    fi
done
[ "$found" -eq 0 ] && echo "check-logs: no tokens, ID numbers or phone numbers in $(cat "$@" | wc -l) log lines" >&2
exit "$found"
