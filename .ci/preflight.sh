#!/usr/bin/env bash
# The first step of tests/run-all.sh: checks, in seconds and before any long step, that this
# machine can run the whole suite, installs what it can and says how to fix what it cannot:
#   1. apt-get and dpkg (Debian or Ubuntu), and root or sudo: every later step installs Debian
#      packages;
#   2. the Debian packages the scripts and the build need themselves: ca-certificates (cargo
#      and npm over HTTPS), openssl (the cluster tests' certificates), python3-venv (the moto and
#      chart-tool venvs), nodejs and npm (NuGet.exe, Azurite, Helm come from npm), gcc and
#      libc6-dev (the linker, and aws-lc-sys, the TLS library of kube and reqwest, compiles C),
#      procps (tests stop servers with kill);
#   3. Rust: cargo and rustc no older than the workspace's rust-version, and the rustfmt and clippy
#      components (`rustup component add` when rustup manages the toolchain).
# cargo-nextest is optional: tests/run-all.sh falls back to `cargo test` without it.
# Idempotent and quiet: one line when everything is there, one more per install.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${NUGET_CI_CACHE:-$REPO/.ci/cache}"

fail() {
  printf 'preflight: %s\n' "$1" >&2
  exit 1
}
installing() { echo "==> preflight: installing $*"; }

# ---------------------------------------------------------------- 1. apt and root
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  fail "apt-get and dpkg-query not found: the test run installs its tools as Debian packages, so it needs Debian or Ubuntu (README: Prerequisites)."
fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
  fail "not root and no sudo: the test run installs Debian packages; run it as root or install sudo."
fi
mkdir -p "$CACHE"
# shellcheck disable=SC1091 # (shellcheck checks debian.sh on its own)
source "$REPO/.ci/debian.sh"

# ---------------------------------------------------------------- 2. Debian packages
missing=()
# Adds Debian package $1 to the missing ones unless the check ($2...) passes.
want() {
  local package="$1"
  shift
  "$@" >/dev/null 2>&1 || missing+=("$package")
}
on_path() { type -P "$1"; }
want ca-certificates test -s /etc/ssl/certs/ca-certificates.crt
want openssl on_path openssl
want python3-venv find_venv_python
want nodejs on_path node
want npm on_path npm
want gcc on_path cc
want libc6-dev test -e /usr/include/stdio.h
want procps on_path kill
if [ ${#missing[@]} -gt 0 ]; then
  installing "Debian packages: ${missing[*]}"
  apt_install "$CACHE/apt-preflight.log" "${missing[@]}"
fi

# ---------------------------------------------------------------- 3. Rust
rust_version="$(awk -F'"' '/^rust-version *=/ { print $2; exit }' "$REPO/Cargo.toml")"
[ -n "$rust_version" ] || fail "no rust-version in $REPO/Cargo.toml"
if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
  if [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
    fail "cargo is in ${CARGO_HOME:-$HOME/.cargo}/bin but not on PATH: run \`. \"${CARGO_HOME:-$HOME/.cargo}/env\"\` first."
  fi
  fail "cargo not found: install Rust $rust_version or newer with rustup (Debian's rustc is older), then run again."
fi
have_version="$(rustc --version | awk '{ print $2 }')"
if ! printf '%s\n%s\n' "$rust_version" "${have_version%%-*}" | sort -V -C; then
  fail "Rust $have_version is older than the workspace's rust-version $rust_version: run \`rustup update stable\` (or install a newer Rust), then run again."
fi
components_work() { cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; }
if ! components_work; then
  command -v rustup >/dev/null 2>&1 \
    || fail "\`cargo fmt\` or \`cargo clippy\` does not run, and there is no rustup to add them: install rustfmt and clippy for Rust $have_version."
  installing "rustfmt and clippy (rustup component add)"
  rustup component add rustfmt clippy >"$CACHE/rustup-components.log" 2>&1 \
    || { tail -n 20 "$CACHE/rustup-components.log" >&2; fail "rustup could not add rustfmt and clippy (log: $CACHE/rustup-components.log)."; }
  components_work || fail "rustup added rustfmt and clippy, yet \`cargo fmt --version\` or \`cargo clippy --version\` fails."
fi

echo "==> preflight: Debian packages, Rust $have_version (rustfmt, clippy): ready"
