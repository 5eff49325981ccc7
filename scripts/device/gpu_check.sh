#!/usr/bin/env bash
# The one device check of this repo: run on a lent NVIDIA machine by the `device` tool, with
# .whl (portacloud, portacloud-conformance and their pure dependencies built for Python 3.12)
# carried along. Results land in $OUT: gpu_proof.json, the jobs conformance report, nvidia-smi.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site PORTACLOUD_HOME=/tmp/pchome PYTHONUNBUFFERED=1
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
python3 scripts/device/gpu_proof.py "$OUT" 2>&1 | tee "$OUT/gpu_proof.log"
proof=${PIPESTATUS[0]}
# The portable job suite against the real inventory (1 GPU): the same tests CI runs on fake GPUs.
python3 -m pytest --pyargs portacloud_conformance.jobs --portacloud-jobs local://gpu-suite \
  --portacloud-report "$OUT/conformance-jobs-local-gpu.json" -q -p no:cacheprovider 2>&1 | tail -15
exit $proof
