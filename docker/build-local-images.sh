#!/usr/bin/env bash
# Builds the images the tests and benchmarks use, without any image registry:
# debootstrap a minimal Debian into a folder, then `docker import` it. Each image is
# cached by tag, so a second run costs nothing.
#   worker-job-base:bookworm   bash-capable job image (the Docker backend's default)
#   worker-rabbitmq:bookworm   RabbitMQ for Testcontainers.RabbitMq
set -euo pipefail

mirror="${DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  mirror="$(grep -hoP '^URIs:\s*\K\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)"
fi
if [[ -z "$mirror" ]]; then
  mirror="$(grep -hoP '^deb\s+\K\S+' /etc/apt/sources.list 2>/dev/null | head -n1 || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

build_rootfs_image() {
  local tag="$1"; shift
  local include="$1"; shift
  if have_image "$tag"; then echo "image $tag: cached"; return; fi
  local dir; dir="$(mktemp -d /var/tmp/rootfs.XXXXXX)"
  echo "image $tag: debootstrap from $mirror"
  debootstrap --variant=minbase ${include:+--include="$include"} bookworm "$dir" "$mirror" >/dev/null
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | docker import "$@" - "$tag" >/dev/null
  rm -rf "$dir"
  echo "image $tag: built"
}

build_rootfs_image worker-job-base:bookworm "ca-certificates,procps" \
  -c 'CMD ["/bin/bash"]'
build_rootfs_image worker-rabbitmq:bookworm "rabbitmq-server" \
  -c 'CMD ["rabbitmq-server"]' -c 'ENV RABBITMQ_LOGS=-' -c 'EXPOSE 5672'
