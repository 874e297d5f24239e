#!/usr/bin/env bash
# Starts dockerd if no engine answers (CI machines have none running).
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
nohup dockerd >/var/log/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "dockerd did not start; see /var/log/dockerd.log" >&2
exit 1
