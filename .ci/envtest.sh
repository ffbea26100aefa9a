#!/usr/bin/env bash
# Provides an envtest-style control plane (kube-apiserver + etcd) in $KUBEBUILDER_ASSETS, the
# folder controller-runtime's envtest and our cluster tests (operator/tests/cluster.rs) read.
#
# No registry we can reach ships a kube-apiserver binary, so it is built from Debian's own
# `kubernetes` source package (1.20.2) with Debian's Go, after swapping the vendored
# modern-go/reflect2 1.0.1 (crashes on Go >= 1.18 at the first custom-resource create) for
# Debian's 1.0.2. etcd is Debian's `etcd-server`. The cluster tests start both on loopback with
# the flags 1.20 needs (test-support/src/envtest.rs).
#
# Idempotent: when both binaries are already in the folder it does nothing. A cold build takes
# about 4-6 minutes of CPU on 2 cores and 1.5 GB of scratch space (removed afterwards).
#
# Usage: bash .ci/envtest.sh            (prints the assets folder on its last line)
#        KUBEBUILDER_ASSETS=/some/dir bash .ci/envtest.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
assets="${KUBEBUILDER_ASSETS:-$repo/.ci/cache/kubebuilder}"
mkdir -p "$assets"
assets="$(cd "$assets" && pwd)"

have() { [ -x "$assets/kube-apiserver" ] && [ -x "$assets/etcd" ]; }
if have && "$assets/kube-apiserver" --version >/dev/null 2>&1; then
    echo "envtest: kube-apiserver and etcd already in $assets" >&2
    echo "$assets"
    exit 0
fi

log() { echo "envtest: $*" >&2; }
# shellcheck disable=SC1091 # (shellcheck checks debian.sh on its own)
source "$repo/.ci/debian.sh"

# --- Debian packages: etcd, Go, the fixed reflect2, and dpkg-source for `apt-get source`.
need_pkgs=()
for p in etcd-server golang-go golang-github-modern-go-reflect2-dev dpkg-dev make rsync; do
    deb_installed "$p" || need_pkgs+=("$p")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    log "installing ${need_pkgs[*]}"
    cache="${NUGET_CI_CACHE:-$repo/.ci/cache}"
    mkdir -p "$cache"
    apt_install "$cache/apt-envtest.log" "${need_pkgs[@]}"
fi

etcd_bin="$(command -v etcd || true)"
[ -n "$etcd_bin" ] || etcd_bin=/usr/bin/etcd
cp -f "$etcd_bin" "$assets/etcd"

if [ -x "$assets/kube-apiserver" ] && "$assets/kube-apiserver" --version >/dev/null 2>&1; then
    echo "$assets"
    exit 0
fi

# --- Source: a private apt configuration (own sources list, lists and cache folders) so the
# machine's apt state is not touched and no deb-src line has to be added system-wide.
work="$(mktemp -d "${TMPDIR:-/tmp}/envtest-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
cat >"$work/apt/sources.list" <<'EOF'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
EOF
apt_opts=(
    -o "Dir::Etc::SourceList=$work/apt/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/apt/lists"
    -o "Dir::Cache=$work/apt/cache"
    -o "APT::Sandbox::User=root"
)
log "fetching Debian's kubernetes source package"
apt-get "${apt_opts[@]}" update -qq >&2
(cd "$work/src" && apt-get "${apt_opts[@]}" source -qq kubernetes >&2)
src="$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)"
[ -n "$src" ] || { log "apt-get source kubernetes produced no source tree"; exit 1; }

# --- The reflect2 fix (see the header).
fixed=/usr/share/gocode/src/github.com/modern-go/reflect2
vendored="$src/vendor/github.com/modern-go/reflect2"
if [ ! -d "$fixed" ] || [ ! -d "$vendored" ]; then log "reflect2 folders missing ($fixed, $vendored)"; exit 1; fi
rm -f "$vendored"/*.go
cp "$fixed"/*.go "$vendored"/
log "building kube-apiserver (several minutes)"
export GOCACHE="$work/gocache" GOPATH="$work/gopath" GOFLAGS=-mod=vendor GO111MODULE=on
(cd "$src" && nice -n 10 make WHAT=cmd/kube-apiserver >&2)
bin="$(find "$src/_output" -type f -name kube-apiserver -perm -u+x | head -n1)"
[ -n "$bin" ] || { log "build produced no kube-apiserver"; exit 1; }
cp -f "$bin" "$assets/kube-apiserver"
"$assets/kube-apiserver" --version >&2
echo "$assets"
