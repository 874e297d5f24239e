#!/usr/bin/env bash
# Builds the images the tests and benchmarks use, without any image registry:
# debootstrap a minimal Debian into a folder, then `docker import` it. Each image is
# cached by tag, so a second run costs nothing.
#   worker-job-base:bookworm   bash-capable job image (the Docker backend's default)
#   worker-rabbitmq:bookworm   RabbitMQ for Testcontainers.RabbitMq, with the rabbitmq_sharding plugin
#                              enabled (the exchange type x-modulus-hash of WORKER_RABBITMQ_SHARDING)
set -euo pipefail

mirror="${DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  mirror="$(grep -hoP '^URIs:\s*\K\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)"
fi
if [[ -z "$mirror" ]]; then
  mirror="$(grep -hoP '^deb\s+\K\S+' /etc/apt/sources.list 2>/dev/null | head -n1 || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

# An image is cached by its tag and, when given, a label KEY=VALUE: one built by an older version
# of this script (without what the label says it has) is built again.
have_image() {
  local tag="$1" label="${2:-}"
  docker image inspect "$tag" >/dev/null 2>&1 || return 1
  [[ -z "$label" ]] && return 0
  [[ "$(docker image inspect -f "{{index .Config.Labels \"${label%%=*}\"}}" "$tag")" == "${label#*=}" ]]
}

# build_rootfs_image TAG PACKAGES LABEL SETUP [docker import options...]
# SETUP (may be empty) is a command run with the root folder as its argument before the import.
build_rootfs_image() {
  local tag="$1"; shift
  local include="$1"; shift
  local label="$1"; shift
  local setup="$1"; shift
  if have_image "$tag" "$label"; then echo "image $tag: cached"; return; fi
  local dir; dir="$(mktemp -d /var/tmp/rootfs.XXXXXX)"
  echo "image $tag: debootstrap from $mirror"
  debootstrap --variant=minbase ${include:+--include="$include"} bookworm "$dir" "$mirror" >/dev/null
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  [[ -z "$setup" ]] || "$setup" "$dir"
  [[ -z "$label" ]] || set -- "$@" -c "LABEL $label"
  tar -C "$dir" -c . | docker import "$@" - "$tag" >/dev/null
  rm -rf "$dir"
  echo "image $tag: built"
}

# Enabled offline (the file rabbitmq-plugins writes), so the broker starts with it: the sharding
# tests need x-modulus-hash, and a test whose broker lacks it fails saying so.
enable_rabbitmq_plugins() {
  printf '[rabbitmq_sharding].\n' >"$1/etc/rabbitmq/enabled_plugins"
}

build_rootfs_image worker-job-base:bookworm "ca-certificates,procps" "" "" \
  -c 'CMD ["/bin/bash"]'
build_rootfs_image worker-rabbitmq:bookworm "rabbitmq-server" "worker.test.rabbitmq-plugins=rabbitmq_sharding" enable_rabbitmq_plugins \
  -c 'CMD ["rabbitmq-server"]' -c 'ENV RABBITMQ_LOGS=-' -c 'EXPOSE 5672'
