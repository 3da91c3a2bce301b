#!/usr/bin/env bash
# Fuzzes what reads a hospital's file — the GB18030/GBK decoder, the CSV reader, the row validator
# (Sources/regio-fuzz) — with libFuzzer, for SECONDS seconds (default 60), seeded with the
# hostile-input corpus. `make test` runs it for 60 s; run it longer by hand:
#     scripts/fuzz.sh 3600
# The inputs it finds interesting stay in .build-fuzz/corpus for the next run; an input that
# fails is written to .build-fuzz/crashes/ and the script fails. Replay one without libFuzzer:
#     swift build --product regio-fuzz && .build/debug/regio-fuzz .build-fuzz/crashes/<file>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

# Its own scratch path: every module is built with the fuzzer's coverage instrumentation.
mkdir -p .build-fuzz/corpus .build-fuzz/crashes
swift build --sanitize=fuzzer -Xswiftc -DREGIO_FUZZ --product regio-fuzz --scratch-path .build-fuzz >.build-fuzz/build.log 2>&1 \
    || { tail -30 .build-fuzz/build.log >&2; echo "the fuzzer did not build" >&2; exit 1; }

# An input's first byte picks the kind, the encoding and the cut (ExtractFuzzer): each corpus
# file is a patients file sent as UTF-8 (octal 000), GB18030 (014) and GBK (022).
for file in Tests/corpus/patients/*.csv; do
    for selector in 000 014 022; do
        { printf "\\$selector"; cat "$file"; } >".build-fuzz/corpus/seed-$selector-$(basename "$file")"
    done
done

set +e
# libFuzzer, not the Swift runtime, handles a trap: it writes the failing input.
SWIFT_BACKTRACE=enable=no .build-fuzz/debug/regio-fuzz -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=.build-fuzz/crashes/ .build-fuzz/corpus >.build-fuzz/fuzz.log 2>&1
status=$?
set -e
grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|artifact_prefix|Test unit written)|Precondition|Fatal error' .build-fuzz/fuzz.log || true
if [ "$status" -eq 0 ]; then
    echo "fuzzing: no failure in $seconds s"
else
    echo "fuzzing found a failing input (exit $status): see .build-fuzz/crashes/ and .build-fuzz/fuzz.log" >&2
fi
exit "$status"
