#!/usr/bin/env bash
# Everything `make test` runs after lint and type checks: start the real servers, run the
# repo's tests and the conformance suite on every target, stop the servers by PID.
set -uo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
export PORTACLOUD_LAB=${PORTACLOUD_LAB:-$PWD/.lab}
mkdir -p "$PORTACLOUD_LAB" reports
trap 'bash scripts/services.sh stop' EXIT

bash scripts/services.sh start || exit 1
# shellcheck disable=SC1091
[ -f "$PORTACLOUD_LAB/services.env" ] && source "$PORTACLOUD_LAB/services.env"

status=0
$UV run --no-sync pytest tests -q -p no:cacheprovider || status=1
# RELIABILITY.md is regenerated from what tests/faults measured in this very run.
$UV run --no-sync python scripts/reliability_report.py reports/reliability.json RELIABILITY.md || status=1

# The conformance suite on every target whose server is up; CI=true makes a missing one fatal.
$UV run --no-sync python scripts/conformance_targets.py --report-dir reports || status=1
exit $status
