#!/usr/bin/env bash
# Builds the feed server and the benchmark harness in release mode and runs the benchmark
# (README, "Performance"). Arguments go to `nuget-feed-bench run`: e.g. `--quick` for a
# three-minute try, `--sizes 10000,100000` for smaller feeds. Needs wrk and nginx (Debian
# packages `wrk` and `nginx-light`, which .ci/install-deps.sh installs). Generated feeds are
# kept in --work-dir (default target/bench) and reused; results.md and results.json land there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for tool in wrk /usr/sbin/nginx; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$tool is missing: apt-get install wrk nginx-light (or run .ci/install-deps.sh)" >&2
    exit 1
  fi
done
cargo build --release -p nuget-feed-server -p nuget-feed-bench
exec target/release/nuget-feed-bench run "$@"
