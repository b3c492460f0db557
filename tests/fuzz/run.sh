#!/usr/bin/env bash
# run.sh - builds (unless BULLC_FUZZ_BUILD=0) and runs every libFuzzer target of tests/fuzz/ for
# a bounded number of inputs, starting from its committed seed corpus.
#
# Prints exactly one line per target, in name order:
#     fuzz/<name>: ok
#     fuzz/<name>: FAILED (<reason>)
# followed, for a failure, by a few lines of detail indented by four spaces (crash input, log,
# the report's first lines). Exits non-zero when a target failed: a failed check, a sanitizer
# report, a crash, a leak, a timeout, or a build that did not succeed.
#
# Environment:
#   BULLC_FUZZ_RUNS      inputs per target (default 250000; -1: until BULLC_FUZZ_MAX_TIME)
#   BULLC_FUZZ_SEED      libFuzzer's random seed (default 1, so runs repeat; 0 = a new one)
#   BULLC_FUZZ_MAX_TIME  seconds per target at most, whatever the runs (default 60)
#   BULLC_FUZZ_JOBS      targets run at the same time (default 2)
#   BULLC_FUZZ_BUILD     1 (default): `make fuzz` first; 0: use what is built
#   BULLC_FUZZ_KEEP      1: keep the corpus grown by earlier runs (default: start from the seeds)
#   BULLC_FUZZ_TARGETS   space-separated names to run (default: all)
# Files: build/fuzz/logs/<name>.log (libFuzzer's output), build/fuzz/crashes/<name>-crash-*
# (inputs that failed; rerun one with build/fuzz/bin/<name> FILE), build/fuzz/corpus/<name>/
# (inputs found during the run; the committed seeds are never written).
set -u
cd "$(dirname "$0")/../.."

FB=build/fuzz
RUNS=${BULLC_FUZZ_RUNS:-250000}
SEED=${BULLC_FUZZ_SEED:-1}
MAX_TIME=${BULLC_FUZZ_MAX_TIME:-60}
JOBS=${BULLC_FUZZ_JOBS:-2}
LOGS=$FB/logs
CRASHES=$FB/crashes
WORK=$FB/corpus
mkdir -p "$LOGS" "$CRASHES" "$WORK"

names=()
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    if [ -n "${BULLC_FUZZ_TARGETS:-}" ] && ! echo " $BULLC_FUZZ_TARGETS " | grep -q " $name "; then
        continue
    fi
    names+=("$name")
done

# --- build ---
build_failed=0
if [ "${BULLC_FUZZ_BUILD:-1}" != 0 ]; then
    # fuzz.mk guards against a second inclusion, so this works with or without the Makefile
    # including it
    make -j"$JOBS" -f Makefile -f tests/fuzz/fuzz.mk fuzz >"$LOGS/build.log" 2>&1 || build_failed=1
fi

# --- run ---
# libFuzzer reports through the sanitizers; options inherited from a sanitizer test run (log
# files elsewhere) would hide the reports from the logs read here
unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_one() { # name
    local name=$1 bin=$FB/bin/$1 seeds=tests/fuzz/corpus/$1 dict=tests/fuzz/$1.dict
    local args=(-runs="$RUNS" -seed="$SEED" -max_total_time="$MAX_TIME" -timeout=10
                -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$CRASHES/$name-")
    [ -f "$dict" ] && args+=(-dict="$dict")
    [ "${BULLC_FUZZ_KEEP:-0}" = 1 ] || rm -rf "${WORK:?}/$name"
    mkdir -p "$WORK/$name"
    local dirs=("$WORK/$name")
    [ -d "$seeds" ] && dirs+=("$seeds")
    "$bin" "${args[@]}" "${dirs[@]}" >"$LOGS/$name.log" 2>&1
    echo $? >"$LOGS/$name.rc"
}

if [ "$build_failed" = 0 ]; then
    for name in "${names[@]}"; do
        rm -f "$LOGS/$name.rc"
        [ -x "$FB/bin/$name" ] || continue
        while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
            wait -n
        done
        run_one "$name" &
    done
    wait
fi

# --- report ---
failed=0
# what marks a report in a log; the reason shown for it; lines left out of the excerpt
SAN_RE='FUZZ CHECK FAILED|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:'
SAN_RE+='|ERROR: libFuzzer|==ERROR|SUMMARY: '
REASON_RE='FUZZ CHECK FAILED .*|ERROR: [A-Za-z]+Sanitizer: [a-z -]+|runtime error: .*'
REASON_RE+='|ERROR: libFuzzer: [a-z -]*'
NOISE_RE='^(INFO|MS:|base unit|0x|artifact_prefix|Base64|NOTE:|stat::)|Combine libFuzzer|fuzzer::'
NOISE_RE+='|__sanitizer_print_stack|libc\.so|nptl/|raise\.c|abort\.c|libc-start|in main |in _start '
NOISE_RE+='|^\[|^$'
for name in "${names[@]}"; do
    log=$LOGS/$name.log
    if [ "$build_failed" = 1 ]; then
        echo "fuzz/$name: FAILED (build failed)"
        echo "    build log: $LOGS/build.log"
        grep -E 'error:|Error [0-9]' "$LOGS/build.log" | head -5 | sed 's/^/    /'
        failed=1
        continue
    fi
    if [ ! -x "$FB/bin/$name" ]; then
        echo "fuzz/$name: FAILED (not built: $FB/bin/$name)"
        failed=1
        continue
    fi
    rc=$(cat "$LOGS/$name.rc" 2>/dev/null || echo 1)
    if [ "$rc" = 0 ] && ! grep -qE "$SAN_RE" "$log" && grep -q '^Done [0-9]* runs' "$log"; then
        echo "fuzz/$name: ok"
        continue
    fi
    failed=1
    reason=$(grep -m1 -oE "$REASON_RE" "$log" | sed 's/[[:space:]]*$//')
    [ -n "$reason" ] || reason="exit status $rc"
    echo "fuzz/$name: FAILED ($reason)"
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | head -1)
    [ -n "$input" ] && echo "    input: $input (rerun: $FB/bin/$name $input)"
    echo "    log: $log"
    # the report with the two lines before it (a target's own notes), without the frames of
    # libFuzzer and libc
    grep -E -m1 -B2 -A40 "$SAN_RE" "$log" | sed '/^SUMMARY: /q' |
        grep -vE "$NOISE_RE" |
        sed 's/ (BuildId: [0-9a-f]*)//' | head -14 | sed 's/^/    /'
done
exit $failed
