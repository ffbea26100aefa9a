#!/usr/bin/env bash
# The whole test suite, as the README's quick start runs it and as CI runs it (.ci/run):
# checks the machine and installs what the scripts and the build need (.ci/preflight.sh, in
# seconds when all is there), installs the real tools the tests drive (NuGet.exe on mono, moto,
# Azurite, nginx, a kube-apiserver + etcd control plane, Helm and manifest validators), checks
# formatting and lints, then runs every test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

.ci/preflight.sh
.ci/install-deps.sh
# shellcheck disable=SC1091
source .ci/cache/env.sh
# Helm 3 CLI, Helm v4 SDK, kubernetes-validate, kubectl, shellcheck (tests/tests/chart*.rs).
.ci/install-chart-tools.sh
# shellcheck disable=SC1091
source .ci/cache/chart-env.sh
bash .ci/envtest.sh >/dev/null
export KUBEBUILDER_ASSETS="${KUBEBUILDER_ASSETS:-$PWD/.ci/cache/kubebuilder}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
cargo nextest run --workspace --all-features --locked --no-fail-fast
