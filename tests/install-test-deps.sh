#!/usr/bin/env bash
# Installs and starts what the tests need on a fresh Debian machine (idempotent):
# Debian's docker.io, rabbitmq-server, openssh-server, debootstrap, docker-registry, prometheus (the scraper of the
# /metrics test, started by the test itself); dockerd; the locally built images (no registry is reachable); nodejs
# and npm, then @cdktf/hcl2json to parse the Terraform files.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in docker.io rabbitmq-server openssh-server debootstrap docker-registry openssl sudo procps iproute2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# By command, not package: a node from elsewhere (e.g. nodesource, which bundles npm) will do.
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  apt-get update -qq -o Acquire::Retries=3
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 "${need[@]}" >/dev/null
fi
# Without its recommends: the node exporter is not needed.
if ! dpkg -s prometheus >/dev/null 2>&1; then
  echo "installing: prometheus"
  apt-get update -qq -o Acquire::Retries=3
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends prometheus >/dev/null
fi
# The Debian packages start a broker and a Prometheus on boot-less machines only sometimes; tests use their own.
service rabbitmq-server stop >/dev/null 2>&1 || true
service prometheus stop >/dev/null 2>&1 || true
service docker-registry stop >/dev/null 2>&1 || true

tests/start-dockerd.sh
docker/build-local-images.sh

if [[ -f package.json ]] && [[ ! -d node_modules/@cdktf/hcl2json ]]; then
  npm ci --no-audit --no-fund --silent
fi
