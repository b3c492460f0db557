#!/usr/bin/env bash
# run.sh - runs every test suite (unit, integration, interop) and ends with one line
# "N passed, M failed" over all of them; exits non-zero when anything failed.
# Each suite starts the private servers it needs on free loopback ports and stops them.
set -u
cd "$(dirname "$0")/.."
PASSED=0
FAILED=0
BUILD=${BULLC_BUILD:-build}
LOG=$BUILD/test-logs
mkdir -p "$LOG"

# Sanitizer builds: every instrumented process (workers, tools, unit tests) writes its reports to
# files here, and each report counts as a failure at the end, whatever the test itself checked.
SANDIR=""
if [ -n "${BULLC_SANITIZER:-}" ]; then
    SANDIR=$(cd "$LOG" && pwd)/sanitizer
    rm -rf "$SANDIR"
    mkdir -p "$SANDIR"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$SANDIR/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$SANDIR/ubsan"
    export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}log_path=$SANDIR/tsan"
fi

count() { # suite-name passed failed
    echo "== $1: $2 passed, $3 failed"
    PASSED=$((PASSED + $2))
    FAILED=$((FAILED + $3))
}

# --- cmocka unit tests (no server) ---
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    out="$LOG/$name.log"
    "$t" >"$out" 2>&1
    rc=$?
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
    p=${p:-0}; f=${f:-0}
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    [ "$f" -ne 0 ] && cat "$out"
    count "unit/$name" "$p" "$f"
done

# --- interop tests against the real bullmq (node --test, one file at a time) ---
ONLY=${BULLC_TESTS:-}
for f in tests/interop/*.test.js; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .test.js)
    if [ -n "$ONLY" ] && ! echo " $ONLY " | grep -q " $name "; then continue; fi
    out="$LOG/interop-$name.log"
    start=$(date +%s)
    (cd tests/interop && timeout 600 node --test --test-reporter=tap --test-timeout=300000 \
        "$(basename "$f")") >"$out" 2>&1
    rc=$?
    p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out" | tail -1)
    fl=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out" | tail -1)
    p=${p:-0}; fl=${fl:-0}
    if [ $rc -ne 0 ] && [ "$fl" -eq 0 ]; then fl=1; fi
    if [ "$fl" -ne 0 ]; then
        echo "---- $out (failures) ----"
        grep -B2 -A30 '^not ok\|^    not ok\|^# Subtest' "$out" | grep -v '^# Subtest' | head -150
    fi
    count "interop/$name ($(( $(date +%s) - start ))s)" "$p" "$fl"
done

# --- libFuzzer targets: a bounded run of each from its committed seeds (tests/fuzz/README.md) ---
if [ -z "$ONLY" ] || echo " $ONLY " | grep -q " fuzz "; then
    out="$LOG/fuzz.log"
    start=$(date +%s)
    bash tests/fuzz/run.sh >"$out" 2>&1
    rc=$?
    p=$(grep -c '^fuzz/.*: ok$' "$out")
    f=$(grep -c '^fuzz/.*: FAILED' "$out")
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    [ "$f" -ne 0 ] && cat "$out"
    count "fuzz ($(( $(date +%s) - start ))s)" "$p" "$f"
fi

if [ -n "$SANDIR" ]; then
    reports=$(find "$SANDIR" -type f | wc -l)
    if [ "$reports" -gt 0 ]; then
        for r in $(find "$SANDIR" -type f | head -5); do
            echo "---- $r ----"
            head -40 "$r"
        done
    fi
    count "sanitizer reports (${BULLC_SANITIZER})" 0 "$reports"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
