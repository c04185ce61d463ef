# Shared by the scripts: install the Debian packages that are missing (and only those).
# Usage: . scripts/lib.sh; need_packages pkg...
need_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "Installing: ${missing[*]}"
    $sudo apt-get update -qq
    # The redis-server package must not start a system service on 6379 behind our back.
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

BUILD_PACKAGES=(gcc make cmake pkg-config libc6-dev libjemalloc-dev libmicrohttpd-dev libhiredis-dev libcmocka-dev libdw-dev zlib1g-dev liblzf-dev liblua5.1-0-dev lua-cjson lua-bitop)
# scripts/fuzz.sh: clang and libFuzzer's runtime (Debian's clang 14 ships it apart).
FUZZ_PACKAGES=(clang libclang-rt-14-dev)
TEST_PACKAGES=(redis-tools redis-server python3 python3-pytest python3-pyflakes python3-redis python3-hiredis clang-format prometheus-redis-exporter golang-go prometheus python3-yaml systemd curl python3-prometheus-client valgrind libxml2-utils nutcracker chromium fonts-dejavu-core python3-websocket)

# Node.js and npm for the node-redis test (tests/clients/node). Debian's npm package conflicts
# with a nodejs that bundles its own npm (NodeSource's), so npm is asked for only when the
# command is missing.
need_node() {
    need_packages nodejs
    command -v npm >/dev/null || need_packages npm
}

# Configure and build one tree. build_tree DIR [cmake args...] [--target T]
build_tree() {
    local dir=$1 target=()
    shift
    local args=()
    while [ $# -gt 0 ]; do
        if [ "$1" = "--target" ]; then
            target=(--target "$2")
            shift 2
        else
            args+=("$1")
            shift
        fi
    done
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${args[@]}" >/dev/null
    cmake --build "$dir" -j"$(nproc)" "${target[@]}"
}
