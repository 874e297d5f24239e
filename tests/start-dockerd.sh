#!/usr/bin/env bash
# Starts dockerd if no engine answers (CI machines have none running): on its unix socket, and on
# tcp://127.0.0.1:2376 with mutual TLS (--tlsverify) for the WORKER_DOCKER_CERT_PATH tests. With
# --live-restore, so the containers of tests that run on keep running when dockerd-watchdog.sh
# restarts a deadlocked one; in a session of its own, so a signal to the test run's process group
# (a timeout, ^C) does not stop it.
set -euo pipefail
tls="${WORKER_TEST_DOCKER_TLS:-/var/lib/worker-tests/docker-tls}"
"$(dirname "$0")/make-docker-tls.sh" "$tls"
if docker info >/dev/null 2>&1; then exit 0; fi
setsid nohup dockerd --live-restore -H unix:///var/run/docker.sock -H tcp://127.0.0.1:2376 \
  --tlsverify --tlscacert "$tls/ca.pem" --tlscert "$tls/server-cert.pem" --tlskey "$tls/server-key.pem" \
  >>/var/log/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "dockerd did not start; see /var/log/dockerd.log" >&2
exit 1
