#!/usr/bin/env bash
# Installs what is missing, then builds and tests memkv in three trees: the normal build
# (jemalloc), the AddressSanitizer + UndefinedBehaviorSanitizer build (libc malloc), and the
# UBSan-only build (jemalloc kept: the heap profiler runs under a sanitizer); then memcheck over
# the profiler and endpoint tests in the normal tree, and the libFuzzer targets
# for a minute each (scripts/fuzz.sh). Warnings are errors. Each stage's wall
# time is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${FUZZ_PACKAGES[@]}"
need_node

STAGE_TIMES=()
# stage NAME COMMAND...: runs it, and notes its wall time.
stage() {
    local name=$1 t0=$SECONDS
    shift
    echo "== $name"
    "$@"
    STAGE_TIMES+=("$(printf '%-36s %4d s' "$name" $((SECONDS - t0)))")
}
trap 'printf "== stage times\n"; printf "%s\n" "${STAGE_TIMES[@]}"' EXIT

stage "clang-format check" bash -c "git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'exporter/*.c' 'exporter/*.h' | xargs -r clang-format --dry-run --Werror"
stage "pyflakes check" bash -c "git ls-files '*.py' | xargs -r /usr/bin/python3 -m pyflakes"

stage "normal build" build_tree build -DMEMKV_WERROR=ON -DMEMKV_VALGRIND=ON
stage "normal tests" bash -c "cd build && ctest --output-on-failure -j2 -LE valgrind"

stage "sanitizer build (address,undefined)" build_tree build-asan -DMEMKV_WERROR=ON -DMEMKV_SANITIZE=address,undefined
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
stage "sanitizer tests (address,undefined)" bash -c "cd build-asan && ctest --output-on-failure -j2"

# UBSan alone does not replace the allocator: jemalloc stays, and with it the profiler's worker,
# symbolizer, frame-pointer unwinder and dump encoders, which the ASan tree never runs.
stage "UBSan build (undefined, jemalloc)" build_tree build-ubsan -DMEMKV_WERROR=ON -DMEMKV_SANITIZE=undefined
stage "UBSan tests (undefined, jemalloc)" bash -c "cd build-ubsan && ctest --output-on-failure -j2"

# memcheck (jemalloc kept) over the profiler and endpoint tests; -V shows pytest's skip reasons.
stage "valgrind tests (memcheck, jemalloc)" bash -c "cd build && ctest -V -j2 -L valgrind"

stage "fuzz (libFuzzer, ASan + UBSan, 60 s a target, two at a time)" bash scripts/fuzz.sh 60
