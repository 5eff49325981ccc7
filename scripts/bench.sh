#!/usr/bin/env bash
# Run every benchmark; results land in benchmarks/results/. Timings are reported, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
for b in benchmarks/bench_*.py; do
  echo "== $b"
  $UV run --no-sync python "$b"
done
