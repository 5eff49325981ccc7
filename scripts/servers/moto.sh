#!/usr/bin/env bash
# moto server (AWS S3 and EC2 semantics, in memory, no authentication) on 127.0.0.1:19000, for
# tests/integration/test_s3.py, tests/integration/test_ec2.py and the conformance suites.
#   scripts/servers/moto.sh start|stop   (normally through scripts/services.sh)
# Writes $LAB/moto.env with PORTACLOUD_TEST_MOTO_ENDPOINT (tests/integration),
# PORTACLOUD_CONFORMANCE_MOTO (the default engine, obstore; _MOTO_SDK: boto3) naming a bucket this script creates, PORTACLOUD_COMPUTE_TARGET_MOTO
# (the compute suite's aws:// URL) plus the AWS_* identity boto3 needs
# (scripts/conformance_targets.py); moto accepts any credentials.
#
# EC2 runs as AWS does in the two ways the compute tests rely on:
# - MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true: an unknown instance type is refused, as on
#   AWS, instead of launching;
# - moto's bundled public images stop at Ubuntu 16.04, so the server is given stand-in records
#   of Canonical's 22.04 and 24.04 images (Canonical's owner id and naming scheme, ids of our
#   own) before any region loads the list. aws:// resolves the portable names ubuntu-22.04 and
#   ubuntu-24.04 through describe_images exactly as it does on AWS. The bundled images and each
#   region's latest ones stay as moto ships them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=_lib.sh
source "$here/_lib.sh"
LAB=${LAB:-${PORTACLOUD_LAB:-$(cd "$here/../.." && pwd)/.lab}}
VENV=${VENV:-$(cd "$here/../.." && pwd)/.venv}
CONFORMANCE_BUCKET=conformance
mkdir -p "$LAB"

# A SigV4-signed CreateBucket; 409 means the bucket is there already.
create_conformance_bucket() {
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X PUT \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user testing:testing \
    "http://127.0.0.1:$PORT/$CONFORMANCE_BUCKET")
  [ "$status" = 200 ] || [ "$status" = 409 ]
}

PORT=${MOTO_PORT:-19000}
PIDFILE="$LAB/moto.pid"
BIN="$VENV/bin/moto_server"
PYTHON="$VENV/bin/python"

# Runs moto_server's own main() after adding the stand-in Ubuntu images (see the header).
read -r -d '' SERVE <<'PY' || true
import sys

from moto.ec2.models import amis

for ami_id, release, codename, volume in (
    ("ami-0ca7e0fa2204a0001", "22.04", "jammy", "hvm-ssd"),
    ("ami-0ca7e0fa2404a0001", "24.04", "noble", "hvm-ssd-gp3"),
):
    amis.AMIS.append({
        "ami_id": ami_id,
        "name": f"ubuntu/images/{volume}/ubuntu-{codename}-{release}-amd64-server-20250101",
        "description": f"Canonical, Ubuntu, {release} LTS, amd64 {codename} (moto stand-in)",
        "owner_id": "099720109477",
        "public": True,
        "state": "available",
        "architecture": "x86_64",
        "virtualization_type": "hvm",
        "hypervisor": "xen",
        "image_type": "machine",
        "platform": None,
        "root_device_type": "ebs",
        "root_device_name": "/dev/sda1",
        "sriov": "simple",
        "creation_date": "2025-01-01T00:00:00.000Z",
    })

from moto.server import main

sys.exit(main(sys.argv[1:]))
PY

write_env() {
  {
    echo "export PORTACLOUD_TEST_MOTO_ENDPOINT=http://127.0.0.1:$PORT"
    echo "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
    echo "export PORTACLOUD_COMPUTE_TARGET_MOTO='aws://us-east-1?endpoint_url=http://127.0.0.1:$PORT'"
    echo "export PORTACLOUD_COMPUTE_TARGET_LIBCLOUD_EC2='libcloud+ec2://us-east-1?host=127.0.0.1&port=$PORT&secure=false'"
    if create_conformance_bucket; then
      echo "export PORTACLOUD_CONFORMANCE_MOTO='s3://$CONFORMANCE_BUCKET?endpoint_url=http://127.0.0.1:$PORT'"
      echo "export PORTACLOUD_CONFORMANCE_MOTO_SDK='s3://$CONFORMANCE_BUCKET?endpoint_url=http://127.0.0.1:$PORT&engine=sdk'"
    else
      echo "could not create the conformance bucket" >&2
    fi
  } >"$LAB/moto.env"
}

start() {
  if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "moto already running (pid $(cat "$PIDFILE"))"
    write_env
    return 0
  fi
  if [ ! -x "$BIN" ]; then
    echo "$BIN is missing: run 'uv sync' (moto[server] is in the servers dependency group)" >&2
    return 1
  fi
  port_free "$PORT"
  MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true \
    "$PYTHON" -c "$SERVE" -H 127.0.0.1 -p "$PORT" >"$LAB/moto.log" 2>&1 &
  echo $! >"$PIDFILE"
  if ! wait_http "http://127.0.0.1:$PORT/moto-api/" 30; then
    tail -n 20 "$LAB/moto.log" >&2 || true
    stop_pid "$PIDFILE"
    return 1
  fi
  write_env
  echo "moto listening on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
}

stop() {
  stop_pid "$PIDFILE"
  rm -f "$LAB/moto.env"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
