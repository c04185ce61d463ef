#!/usr/bin/env bash
# Installs what is missing, then builds and tests memkv twice: the normal build (jemalloc) and
# the AddressSanitizer + UndefinedBehaviorSanitizer build (libc malloc). Warnings are errors.
# Then the libFuzzer targets for a minute each (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${FUZZ_PACKAGES[@]}"

echo "== clang-format check"
git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'exporter/*.c' 'exporter/*.h' | xargs -r clang-format --dry-run --Werror

echo "== normal build"
build_tree build -DMEMKV_WERROR=ON
(cd build && ctest --output-on-failure -j2)

echo "== sanitizer build (address,undefined)"
build_tree build-asan -DMEMKV_WERROR=ON -DMEMKV_SANITIZE=address,undefined
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j2)

echo "== fuzz (libFuzzer, ASan + UBSan, each target 60 s, two at a time)"
bash scripts/fuzz.sh 60
