#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, ASan + UBSan, tree build-fuzz) and runs
# each for SECONDS (default 60) from its seed corpus, two at a time. Fails if any target
# crashes, leaks, times out (-timeout=10 per input) or goes over -rss_limit_mb=2048.
#
#   scripts/fuzz.sh [--merge] [SECONDS] [TARGET...]
#
# TARGET: resp config numbers glob http http_socket dump metrics listpack zset hll prefix rdb
# exporter_info exporter_memstats exporter_malloc exporter_proxy exporter_target (default: all).
# The corpus is copied to a scratch directory, so the tree's corpus is not touched;
# --merge adds the new inputs that reach new coverage back to tests/fuzz/corpus/<target>/
# (minimized with libFuzzer's -merge=1).
# Crash inputs land in build-fuzz/artifacts/; see tests/fuzz/README.md to reproduce one.
# FUZZ_JOBS (default 2) targets run at once.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

merge=0
if [ "${1:-}" = "--merge" ]; then
    merge=1
    shift
fi
seconds=60
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi
all=(resp config numbers glob http http_socket dump metrics listpack zset hll prefix rdb exporter_info
     exporter_memstats exporter_malloc exporter_proxy exporter_target)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
for t in "${targets[@]}"; do
    [ -d "tests/fuzz/corpus/$t" ] || { echo "unknown fuzz target: $t (have: ${all[*]})" >&2; exit 2; }
done

need_packages "${BUILD_PACKAGES[@]}" "${FUZZ_PACKAGES[@]}"
CC=clang build_tree build-fuzz -DMEMKV_FUZZ=ON -DMEMKV_WERROR=ON --target fuzz

out=build-fuzz/fuzz-run
arts=build-fuzz/artifacts
rm -rf "$out"
mkdir -p "$out" "$arts"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_one() {
    local t=$1 dir="$out/$1"
    mkdir -p "$dir/corpus"
    cp -r "tests/fuzz/corpus/$t/." "$dir/corpus/"
    if [ -d "tests/fuzz/regressions/$t" ]; then cp -r "tests/fuzz/regressions/$t/." "$dir/corpus/"; fi
    local dict=()
    [ -f "tests/fuzz/dict/$t.dict" ] && dict=("-dict=tests/fuzz/dict/$t.dict")
    local rc=0
    "build-fuzz/tests/fuzz/fuzz_$t" "$dir/corpus" "${dict[@]}" -max_total_time="$seconds" \
        -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$arts/$t-" >"$dir/log" 2>&1 || rc=$?
    echo "$rc" >"$dir/rc"
}

# At most FUZZ_JOBS at once.
jobs_max=${FUZZ_JOBS:-2}
start=$(date +%s)
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
    echo "== fuzz $t (${seconds}s)"
    run_one "$t" &
done
wait

failed=0
printf '%-10s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
    dir="$out/$t"
    rc=$(cat "$dir/rc")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    per=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
    files=$(find "$dir/corpus" -type f | wc -l)
    result=ok
    if [ "$rc" != 0 ]; then
        result="FAILED (exit $rc)"
        failed=1
    fi
    printf '%-10s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${per:-?}" "$files" "$result"
    if [ "$rc" != 0 ]; then
        echo "---- $t: libFuzzer's report (full log: $dir/log)"
        grep -E -A30 '^==[0-9]+==|invariant failed|runtime error|^SUMMARY' "$dir/log" | head -60 || true
        ls "$arts/$t-"* 2>/dev/null || true
    fi
done
echo "fuzz wall time: $(($(date +%s) - start)) s"

if [ "$merge" = 1 ] && [ "$failed" = 0 ]; then
    for t in "${targets[@]}"; do
        before=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
        "build-fuzz/tests/fuzz/fuzz_$t" -merge=1 -max_len=4096 "tests/fuzz/corpus/$t" \
            "$out/$t/corpus" >"$out/$t/merge.log" 2>&1
        after=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
        echo "merged $t: $before -> $after files"
    done
fi
exit "$failed"
