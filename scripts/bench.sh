#!/usr/bin/env bash
# Run every benchmark; results land in benchmarks/results/. Timings are reported, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
# s3fs, gcsfs and adlfs pin what the workspace cannot take (aiobotocore's older botocore), so
# the fsspec benchmark runs them from an overlay on top of the workspace.
FSSPEC_PEERS=(--with s3fs==2026.9.0 --with gcsfs==2026.10.1 --with adlfs==2026.8.0)
for b in benchmarks/bench_*.py; do
  echo "== $b"
  case "$b" in
    */bench_fsspec.py) $UV run --no-sync "${FSSPEC_PEERS[@]}" python "$b" ;;
    *) $UV run --no-sync python "$b" ;;
  esac
done
