#!/usr/bin/env bash
# Runs every test: installs and starts what the tests need, then unit and integration tests of
# every project. Ends with one line "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."

tests/install-test-deps.sh || { echo "test set-up failed"; echo "0 passed, 1 failed"; exit 1; }

# Debian's Docker is Engine 20.10 (API 1.41); Testcontainers' reaper image can't be pulled here,
# and test traffic stays on loopback.
export DOCKER_API_VERSION=1.41
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1
export WORKER_TEST_IMAGE=worker-job-base:bookworm
export WORKER_TEST_RABBITMQ_IMAGE=worker-rabbitmq:bookworm
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

results=TestResults
rm -rf "$results"
dotnet build Worker.sln -c Release -v q -nologo 2>&1 | grep -E "error|Warn|Build succeeded" | sort -u
build=${PIPESTATUS[0]}
if [[ $build -ne 0 ]]; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi
# The worker image the container tests run (built offline on the local Debian base).
if ! docker/build-worker-image.sh >/tmp/worker-image-build.log 2>&1; then
  tail -n 30 /tmp/worker-image-build.log
  echo "worker image build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# Debian's dockerd 20.10.24 can deadlock under the tests' churn of containers (see the script); the
# watchdog restarts it when it does, and the tests that failed meanwhile run once more below.
deadlocks=/tmp/worker-dockerd-deadlocks.log
: >"$deadlocks"
tests/dockerd-watchdog.sh "$deadlocks" &
watchdog=$!
trap 'kill "$watchdog" 2>/dev/null' EXIT
deadlocked() { grep -c deadlocked "$deadlocks"; }

dotnet test Worker.sln -c Release --no-build --logger "trx" --results-directory "$results" -- RunConfiguration.TreatNoTestsAsError=false 2>&1 \
  | grep -vE "^\s*$|Build succeeded|warn" | tail -n 200
status=${PIPESTATUS[0]}

# Only failures every one of which a test's result names: a crashed test host is not run again.
if [[ $status -ne 0 && $(deadlocked) -gt 0 ]] && node tests/trx-outcomes.mjs failed "$results" >/tmp/worker-rerun.txt; then
  cat "$deadlocks"
  echo "running again, once, the $(wc -l </tmp/worker-rerun.txt) test(s) that failed while dockerd was deadlocked or restarting:"
  status=0
  for assembly in $(cut -f1 /tmp/worker-rerun.txt | sort -u); do
    filter="$(awk -F'\t' -v a="$assembly" '$1 == a { printf "%sFullyQualifiedName=%s", (n++ ? "|" : ""), $2 }' /tmp/worker-rerun.txt)"
    dotnet test "$assembly" --logger "trx" --results-directory "$results/rerun" --filter "$filter" 2>&1 \
      | grep -E "Passed!|Failed!|^\s+Failed " | tail -n 40
    [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
  done
fi

# The chaos suite, reduced (under 5 minutes): each scenario counts as one test.
before=$(deadlocked)
CHAOS_NO_BUILD=1 tests/chaos/run.sh --short 2>&1 | grep -v "testcontainers.org" | tee /tmp/worker-chaos-short.log | tail -n 20
chaos_status=${PIPESTATUS[0]}
if [[ $chaos_status -ne 0 && $(deadlocked) -gt $before ]]; then
  tail -n +$((before + 1)) "$deadlocks"
  echo "running the chaos suite again, once: dockerd deadlocked while it ran"
  CHAOS_NO_BUILD=1 tests/chaos/run.sh --short 2>&1 | grep -v "testcontainers.org" | tee /tmp/worker-chaos-short.log | tail -n 20
  chaos_status=${PIPESTATUS[0]}
fi
chaos_passed=$(grep -c '^chaos: .*: passed$' /tmp/worker-chaos-short.log)
chaos_failed=$(grep -c '^chaos: .*: failed$' /tmp/worker-chaos-short.log)
if [[ $chaos_status -ne 0 && $chaos_failed -eq 0 ]]; then chaos_failed=1; fi

summary="$(node tests/trx-outcomes.mjs summary "$results")"
passed=$(( $(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$summary") + chaos_passed ))
failed=$(( $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$summary") + chaos_failed ))
skipped=$(grep -oP '[0-9]+(?= skipped)' <<<"$summary" || true)
if [[ $(deadlocked) -gt 0 ]]; then
  echo "dockerd deadlocked $(deadlocked) time(s) and was restarted (see $deadlocks)"
fi
# A failed run whose dockerd hangs another way: where its goroutines wait, for the next look.
if [[ "$failed" != "0" ]] && ! timeout 30 docker run --rm "$WORKER_TEST_IMAGE" true >/dev/null 2>&1; then
  echo "dockerd did not run a container within 30 s"
  tests/dockerd-watchdog.sh --report
fi
echo "$passed passed, $failed failed${skipped:+, $skipped skipped}"
if [[ $status -ne 0 || "$failed" != "0" ]]; then exit 1; fi
