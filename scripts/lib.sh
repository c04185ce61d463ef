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

BUILD_PACKAGES=(gcc make cmake pkg-config libc6-dev libjemalloc-dev libmicrohttpd-dev libhiredis-dev libcmocka-dev libdw-dev zlib1g-dev)
TEST_PACKAGES=(redis-tools redis-server python3 python3-pytest python3-redis python3-hiredis clang-format prometheus-redis-exporter golang-go prometheus python3-yaml systemd curl python3-prometheus-client valgrind libxml2-utils)

# Configure and build one tree. build DIR [cmake args...]
build_tree() {
    local dir=$1
    shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)"
}
