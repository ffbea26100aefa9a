#!/usr/bin/env bash
# The whole test suite, as the README's quick start runs it and as CI runs it (.ci/run):
# checks the machine and installs what the scripts and the build need (.ci/preflight.sh, in
# seconds when all is there), installs the real tools the tests drive (NuGet.exe on mono, moto,
# Azurite, nginx, a kube-apiserver + etcd control plane, Helm and manifest validators), checks
# formatting and lints, then runs every test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The installers' cache folder (NUGET_CI_CACHE overrides it for all of them).
cache="${NUGET_CI_CACHE:-.ci/cache}"
.ci/preflight.sh
.ci/install-deps.sh
# shellcheck disable=SC1091
source "$cache/env.sh"
# Helm 3 CLI, Helm v4 SDK, kubernetes-validate, kubectl, shellcheck (tests/tests/chart*.rs).
.ci/install-chart-tools.sh
# shellcheck disable=SC1091
source "$cache/chart-env.sh"
bash .ci/envtest.sh >/dev/null
export KUBEBUILDER_ASSETS="${KUBEBUILDER_ASSETS:-$PWD/.ci/cache/kubebuilder}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

# Every test, with cargo-nextest when it is installed. Without it, cargo test with the same flags
# and the same tests (--tests: no doctests, as nextest): building cargo-nextest costs about 11
# CPU-minutes, more than it saves on CI's 2 cores. cargo test reports each test binary apart, so
# its counts are summed into one closing line, like nextest's.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --locked --no-fail-fast
else
  echo "==> cargo-nextest is not installed: running the tests with cargo test"
  log="$(mktemp)"
  status=0
  cargo test --workspace --all-features --locked --no-fail-fast --tests 2>&1 | tee "$log" || status=$?
  if [ "$status" != 0 ]; then
    echo "cargo test failed (exit $status); a test binary that crashed is not in the counts" >&2
  fi
  # "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 3.1s"
  awk '/^test result:/ { passed += $4; failed += $6; ignored += $8 }
    END { printf "Summary: %d tests run: %d passed, %d failed, %d ignored (cargo test)\n",
          passed + failed, passed, failed, ignored }' "$log"
  rm -f "$log"
  exit "$status"
fi
