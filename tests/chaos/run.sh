#!/usr/bin/env bash
# The chaos suite: breaks the worker's world on purpose (kill -9, broker restart, network cut,
# memory alarm, malformed payloads, a full BASE_DIR) on real parts and prints what survived as a
# table. --short runs a reduced version of every scenario (CI); --only TEXT the scenarios whose
# name holds TEXT. Needs root (ip netns, mount), Docker and the local RabbitMQ image.
# Exit code 0 only when every scenario met its goal.
set -uo pipefail
cd "$(dirname "$0")/../.."
export DOCKER_API_VERSION="${DOCKER_API_VERSION:-1.41}"
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1
export WORKER_TEST_RABBITMQ_IMAGE="${WORKER_TEST_RABBITMQ_IMAGE:-worker-rabbitmq:bookworm}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [[ "${CHAOS_NO_BUILD:-}" != 1 ]]; then
  dotnet build tests/Worker.Chaos -c Release -v q -nologo 2>&1 | grep -E " error |rror\(s\)" | sort -u
  [[ ${PIPESTATUS[0]} -eq 0 ]] || { echo "chaos: build: failed"; exit 1; }
fi
exec dotnet tests/Worker.Chaos/bin/Release/net10.0/Worker.Chaos.dll "$@"
