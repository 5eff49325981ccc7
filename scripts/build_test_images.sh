#!/usr/bin/env bash
# Build the container images the job tests pull, push them to REGISTRY, remove them locally.
#   scripts/build_test_images.sh 127.0.0.1:19300   (normally from scripts/servers/registry.sh)
# No public registry is reachable from CI, so both images are built FROM scratch:
#   portacloud/busybox  a static busybox (sh, echo, sleep...): the shell jobs' image;
#   portacloud/python   Debian's python3.11 with its standard library and the shared libraries
#                       it links, busybox for /bin/sh, and examples/image/train.py as
#                       /app/train.py: the portability workload.
# Each tag is a hash of the image's inputs (this script, the package versions, the workload), so
# an image already in the registry (whose blobs survive a stop) is not built again. The local
# copies are removed after the push: every job then pulls, as a cloud node would.
# Prints `export PORTACLOUD_TEST_IMAGE_SHELL=...` and `export PORTACLOUD_TEST_IMAGE_PYTHON=...`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REGISTRY=${1:?usage: $0 REGISTRY_HOST:PORT}
PY=/usr/bin/python3.11
WORKLOAD="$here/../examples/image/train.py"

inputs_hash() {  # inputs_hash NAME: a short hash of everything the image is built from
  {
    echo "$1"
    cat "$0"
    dpkg-query -W busybox-static python3.11-minimal libpython3.11-stdlib 2>/dev/null || true
    uname -m
    [ "$1" = python ] && cat "$WORKLOAD"
  } | sha256sum | cut -c1-12
}

in_registry() {  # in_registry NAME TAG
  curl -sf -o /dev/null --max-time 5 \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/portacloud/$1/manifests/$2"
}

busybox_rootfs() {  # busybox_rootfs DIR
  mkdir -p "$1/bin" "$1/tmp" "$1/app"
  cp /usr/bin/busybox "$1/bin/busybox"
  for applet in $(/usr/bin/busybox --list); do
    [ -e "$1/bin/$applet" ] || ln -s busybox "$1/bin/$applet"
  done
  chmod 1777 "$1/tmp"
}

python_rootfs() {  # python_rootfs DIR: the interpreter, its stdlib and what they link
  busybox_rootfs "$1"
  mkdir -p "$1/usr/bin" "$1/usr/lib"
  cp "$PY" "$1/usr/bin/python3.11"
  ln -s python3.11 "$1/usr/bin/python3"
  ln -s python3.11 "$1/usr/bin/python"
  (cd /usr/lib && tar -cf - --exclude=python3.11/test --exclude=python3.11/idlelib \
    --exclude=python3.11/tkinter --exclude=python3.11/ensurepip --exclude=python3.11/lib2to3 \
    --exclude='__pycache__' python3.11) | tar -xf - -C "$1/usr/lib"
  rm -rf "$1/usr/lib/python3.11/dist-packages" "$1/usr/lib/python3.11/site-packages"
  local lib
  for lib in $( { ldd "$PY"; ldd /usr/lib/python3.11/lib-dynload/*.so; } 2>/dev/null |
    awk '/=> \//{print $3} $1 ~ /^\/.*ld-linux/{print $1}' | sort -u); do
    mkdir -p "$1$(dirname "$lib")"
    cp -L "$lib" "$1$lib"
  done
  cp "$WORKLOAD" "$1/app/train.py"
}

build() {  # build NAME: prints the image's reference
  local name=$1 tag ref dir
  tag=$(inputs_hash "$name")
  ref="$REGISTRY/portacloud/$name:$tag"
  if ! in_registry "$name" "$tag"; then
    dir=$(mktemp -d /tmp/pcimage.XXXX)
    "${name}_rootfs" "$dir/rootfs"
    printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/bin:/bin\nCMD ["/bin/sh"]\n' \
      >"$dir/Containerfile"
    podman build -q -t "$ref" "$dir" >&2
    podman push -q --tls-verify=false "$ref" >&2
    podman rmi -f "$ref" >/dev/null 2>&1 || true
    rm -rf "$dir"
  fi
  echo "$ref"
}

shell_ref=$(build busybox)
python_ref=$(build python)
printf 'export PORTACLOUD_TEST_IMAGE_SHELL=%s\n' "$shell_ref"
printf 'export PORTACLOUD_TEST_IMAGE_PYTHON=%s\n' "$python_ref"
