#!/usr/bin/env bash
# Installs the external tools the feed-server tests drive for real:
#   Debian: mono-complete (runs NuGet.exe), nginx-light (e2e proxy), wrk (load),
#           nuget (NuGet 2.8.7, a V2-only client), chromium (the web pages' browser test)
#   npm:    nuget-in-path@2.0.1 (NuGet.exe 4.0.0), nuget-exe@5.8.0 (NuGet.exe 5.8.0),
#           azurite@3.35.0 (Azure Blob emulator), playwright-core@1.65.2 (drives chromium),
#           axe-core@4.14.1 (accessibility checks in the browser)
#   PyPI:   moto[server]==5.2.5 (S3 emulator)
# npm and PyPI tools go into a project-local, git-ignored cache (.ci/cache/ by default,
# override with NUGET_CI_CACHE). Idempotent: a second run only checks and prints.
# Non-interactive; needs root (or sudo) for apt-get only when a Debian package is missing, and
# npm (Debian's nodejs and npm, which .ci/preflight.sh installs).
#
# Afterwards `source .ci/cache/env.sh` exports NUGET_EXE, NUGET_EXE_58, NUGET_V2, MONO,
# AZURITE_BLOB, MOTO_SERVER, CHROMIUM, PLAYWRIGHT_CORE, AXE_CORE.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${NUGET_CI_CACHE:-$REPO/.ci/cache}"
NPM_PREFIX="$CACHE/npm"
VENV="$CACHE/venv"

NUGET_IN_PATH_VERSION=2.0.1
NUGET_EXE_58_VERSION=5.8.0
AZURITE_VERSION=3.35.0
MOTO_VERSION=5.2.5
PLAYWRIGHT_CORE_VERSION=1.65.2
AXE_CORE_VERSION=4.14.1
# Debian's chromium: playwright's own browser downloads are not reachable here. Its fonts give
# the screenshots readable text.
APT_PACKAGES=(mono-complete nginx-light wrk nuget chromium fonts-liberation)

mkdir -p "$CACHE"

now() { date +%s.%N; }
T_ALL=$(now)
step_start() { T_STEP=$(now); echo "==> $1"; }
step_end() { awk -v a="$T_STEP" -v b="$(now)" -v n="$1" 'BEGIN { printf "    %s: %.1f s\n", n, b - a }'; }

# shellcheck disable=SC1091 # (shellcheck checks debian.sh on its own)
source "$REPO/.ci/debian.sh"

command -v npm >/dev/null 2>&1 \
  || { echo "npm not found: run .ci/preflight.sh first (it installs Debian's nodejs and npm)" >&2; exit 1; }

# ---------------------------------------------------------------- Debian packages
step_start "Debian packages: ${APT_PACKAGES[*]}"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  deb_installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "    installing: ${missing[*]}"
  apt_install "$CACHE/apt-install.log" "${missing[@]}"
else
  echo "    already installed"
fi
step_end "debian"

# ---------------------------------------------------------------- NuGet.exe builds (npm)
# Only a package's own tarball is needed (the .exe); nuget-in-path's declared dependencies are
# unpinned ('*') helpers for its JS wrapper, so fetch tarballs with `npm pack` and unpack them
# rather than `npm install` (no dependency drift, no install scripts).
# npm_unpack <package@version> <dir> <file in the package>: unpacks the tarball into <dir>
# (replacing it) unless <dir>/<file> is already there.
npm_unpack() {
  local spec="$1" dir="$2" file="$3" tmp
  if [ -s "$dir/$file" ]; then
    echo "    already installed"
    return
  fi
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null 2>"$tmp/npm.err") \
    || { cat "$tmp/npm.err"; exit 1; }
  mkdir -p "$tmp/x"
  tar -xzf "$tmp"/*.tgz -C "$tmp/x"
  test -s "$tmp/x/package/$file" || { echo "$spec tarball has no $file" >&2; exit 1; }
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  mv "$tmp/x/package" "$dir"
  rm -rf "$tmp"
}

step_start "NuGet.exe (npm nuget-in-path@$NUGET_IN_PATH_VERSION)"
NIP_DIR="$NPM_PREFIX/nuget-in-path-$NUGET_IN_PATH_VERSION"
NUGET_EXE="$NIP_DIR/bin/nuget.exe"
npm_unpack "nuget-in-path@$NUGET_IN_PATH_VERSION" "$NIP_DIR" bin/nuget.exe
step_end "nuget.exe"

# The newest official NuGet.exe obtainable.
step_start "NuGet.exe 5.8 (npm nuget-exe@$NUGET_EXE_58_VERSION)"
N58_DIR="$NPM_PREFIX/nuget-exe-$NUGET_EXE_58_VERSION"
NUGET_EXE_58="$N58_DIR/nuget-$NUGET_EXE_58_VERSION.exe"
npm_unpack "nuget-exe@$NUGET_EXE_58_VERSION" "$N58_DIR" "nuget-$NUGET_EXE_58_VERSION.exe"
step_end "nuget.exe 5.8"

# ---------------------------------------------------------------- browser test (npm)
# playwright-core and axe-core have no dependencies: their tarballs are all they need, and
# playwright-core's has no install script (it downloads no browser; tests use Debian's chromium).
step_start "playwright-core@$PLAYWRIGHT_CORE_VERSION, axe-core@$AXE_CORE_VERSION (npm)"
PLAYWRIGHT_CORE="$NPM_PREFIX/playwright-core-$PLAYWRIGHT_CORE_VERSION"
npm_unpack "playwright-core@$PLAYWRIGHT_CORE_VERSION" "$PLAYWRIGHT_CORE" index.mjs
AXE_CORE="$NPM_PREFIX/axe-core-$AXE_CORE_VERSION"
npm_unpack "axe-core@$AXE_CORE_VERSION" "$AXE_CORE" axe.min.js
step_end "playwright-core, axe-core"

# ---------------------------------------------------------------- Azurite (npm)
step_start "Azurite (npm azurite@$AZURITE_VERSION)"
AZ_PREFIX="$NPM_PREFIX/azurite"
AZURITE_BLOB="$AZ_PREFIX/node_modules/.bin/azurite-blob"
az_installed_version() {
  node -e "process.stdout.write(require(process.argv[1]).version)" \
    "$AZ_PREFIX/node_modules/azurite/package.json" 2>/dev/null || true
}
if [ -x "$AZURITE_BLOB" ] && [ "$(az_installed_version)" = "$AZURITE_VERSION" ]; then
  echo "    already installed"
else
  mkdir -p "$AZ_PREFIX"
  # A private package.json keeps npm from walking up into any other project.
  [ -f "$AZ_PREFIX/package.json" ] || echo '{"name":"ci-azurite","private":true}' >"$AZ_PREFIX/package.json"
  (cd "$AZ_PREFIX" && npm install --no-audit --no-fund --no-update-notifier --loglevel=error \
     --save-exact "azurite@$AZURITE_VERSION") >"$CACHE/npm-azurite.log" 2>&1 \
    || { tail -n 40 "$CACHE/npm-azurite.log"; exit 1; }
  test "$(az_installed_version)" = "$AZURITE_VERSION"
fi
step_end "azurite"

# ---------------------------------------------------------------- moto (PyPI, venv)
step_start "moto (PyPI moto[server]==$MOTO_VERSION)"
MOTO_SERVER="$VENV/bin/moto_server"
moto_installed_version() {
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true
}
if [ -x "$MOTO_SERVER" ] && [ "$(moto_installed_version)" = "$MOTO_VERSION" ] \
   && "$VENV/bin/python" -c 'import flask, flask_cors' 2>/dev/null; then
  echo "    already installed"
else
  if [ ! -x "$VENV/bin/python" ]; then
    PY="$(venv_python "$CACHE/apt-python3-venv.log")"
    "$PY" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" >"$CACHE/pip-moto.log" 2>&1 \
    || { tail -n 40 "$CACHE/pip-moto.log"; exit 1; }
  test "$(moto_installed_version)" = "$MOTO_VERSION"
fi
step_end "moto"

# ---------------------------------------------------------------- summary
MONO="$(command -v mono)"
cat >"$CACHE/env.sh" <<EOF
# Written by .ci/install-deps.sh
export MONO="$MONO"
export NUGET_EXE="$NUGET_EXE"
export NUGET_EXE_58="$NUGET_EXE_58"
export NUGET_V2="$(command -v nuget)"
export AZURITE_BLOB="$AZURITE_BLOB"
export MOTO_SERVER="$MOTO_SERVER"
export CHROMIUM="$(command -v chromium)"
export PLAYWRIGHT_CORE="$PLAYWRIGHT_CORE"
export AXE_CORE="$AXE_CORE"
EOF

# Sanity check that mono really runs NuGet.exe, hermetically (NuGet.exe writes a user config and
# a scratch folder; keep both out of the real HOME and /tmp).
sandbox="$(mktemp -d)"
NUGET_VERSION="$(env -i PATH="$PATH" LANG=C.UTF-8 HOME="$sandbox" XDG_CONFIG_HOME="$sandbox/config" \
  XDG_DATA_HOME="$sandbox/data" TMPDIR="$sandbox" "$MONO" "$NUGET_EXE" help 2>&1 | head -n1)" || true
rm -rf "$sandbox"
case "$NUGET_VERSION" in
  "NuGet Version: 4.0.0"*) ;;
  *) echo "mono cannot run $NUGET_EXE: $NUGET_VERSION" >&2; exit 1 ;;
esac

echo "==> tools"
echo "    mono:         $MONO ($(mono --version | head -n1))"
echo "    nuget.exe:    $NUGET_EXE ($NUGET_VERSION)"
echo "    nuget.exe 5.8: $NUGET_EXE_58"
echo "    nuget (V2):   $(command -v nuget) ($(dpkg-query -W -f='${Version}' nuget))"
echo "    azurite-blob: $AZURITE_BLOB (azurite $(az_installed_version))"
echo "    moto_server:  $MOTO_SERVER (moto $(moto_installed_version))"
echo "    nginx:        $(command -v nginx) ($(nginx -v 2>&1))"
echo "    wrk:          $(command -v wrk)"
echo "    chromium:     $(command -v chromium) ($(dpkg-query -W -f='${Version}' chromium))"
echo "    playwright:   $PLAYWRIGHT_CORE"
echo "    axe-core:     $AXE_CORE"
echo "    env file:     $CACHE/env.sh"
printf '==> total: %s s\n' "$(awk -v a="$T_ALL" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')"
