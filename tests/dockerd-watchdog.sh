#!/usr/bin/env bash
# Watches the tests' dockerd for the libnetwork deadlock of Docker 20.10 (Debian bookworm's
# docker.io is 20.10.24): a goroutine in processEndpointDelete holds the controller's lock and waits
# for a network's, while one in getSvcRecords holds that network's and waits for the controller's
# (moby/moby#46661, fixed in 20.10.27 by moby/libnetwork#2679). Rare, with many containers
# stopped and removed at once, as the tests do; from then on every create, start and stop hangs
# for good.
#
#   dockerd-watchdog.sh RECORD        every 10 s, dump dockerd's goroutines (SIGUSR1); when the
#                                     same two goroutines are stuck so in two dumps in a row, add a
#                                     line to RECORD, keep the dump, kill dockerd and start it
#                                     again (start-dockerd.sh: --live-restore, so containers live on).
#                                     The same when a list of its networks (which goes through the
#                                     lock such deadlocks hold) gets no answer within 60 s twice in
#                                     a row: a hang of another kind, whose dump is kept to be read
#   dockerd-watchdog.sh --stuck DUMP  prints "IDS_A|IDS_B" (goroutine ids) when DUMP shows the two
#                                     goroutines stuck, exits 1 when it does not
#   dockerd-watchdog.sh --report      dumps dockerd's goroutines and prints where those that have
#                                     waited a minute or more wait, most first (for a CI log)
#   dockerd-watchdog.sh --waiting DUMP  the same for a dump already written
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

# The goroutine ids in processEndpointDelete and in getSvcRecords that wait on a mutex.
stuck() {
  awk '
    /^goroutine [0-9]+ \[/ {
      id = $2; waiting = ($0 ~ /\[(semacquire|sync\.(RW)?Mutex\.R?Lock)/); next
    }
    /^$/ { id = ""; next }
    id != "" && waiting && /processEndpointDelete/ && !(id in del) { del[id] = 1; dels = dels " " id }
    id != "" && waiting && /getSvcRecords/ && !(id in svc) { svc[id] = 1; svcs = svcs " " id }
    END {
      if (dels == "" || svcs == "") exit 1
      print substr(dels, 2) "|" substr(svcs, 2)
    }' "$1"
}

# Goroutines waiting a minute or more, counted by wait state and first frame outside Go's runtime.
waiting_long() {
  awk '
    /^goroutine [0-9]+ \[/ {
      long = ($0 ~ /minutes?\]:$/); state = $0; sub(/^goroutine [0-9]+ \[/, "", state); sub(/,.*/, "", state); frame = ""; next
    }
    /^$/ { if (long && frame != "") count[state "  " frame]++; long = 0; next }
    long && frame == "" && /^[^\t]/ && !/^(runtime|sync|internal\/|syscall|net\.|io\.|bufio|created by)/ { frame = $0; sub(/\([^()]*\)$/, "", frame) }
    END {
      if (long && frame != "") count[state "  " frame]++ # the last one, when no blank line ends it
      for (k in count) printf "%6d  %s\n", count[k], k
    }' "$1" | sort -rn | head -n 15
}

if [[ "${1:-}" == "--stuck" ]]; then
  stuck "$2"
  exit $?
fi
if [[ "${1:-}" == "--waiting" ]]; then
  waiting_long "$2"
  exit 0
fi

# The tests' dockerd: not the chaos suite's own (tests/Worker.Chaos/SeparateDockerd.cs).
daemon_pid() {
  local pid
  for pid in $(pgrep -x dockerd); do
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q worker-chaos; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}

# Asks dockerd for its goroutines; prints the dump's path once it is written.
dump() {
  local pid="$1" before after
  before="$(ls -1t /var/run/docker/goroutine-stacks-*.log 2>/dev/null | head -n1)"
  kill -USR1 "$pid" 2>/dev/null || return 1
  for _ in $(seq 1 50); do
    sleep 0.1
    after="$(ls -1t /var/run/docker/goroutine-stacks-*.log 2>/dev/null | head -n1)"
    if [[ -n "$after" && "$after" != "$before" ]]; then
      sleep 0.2 # written in one go; let it finish
      echo "$after"
      return 0
    fi
  done
  return 1
}

if [[ "${1:-}" == "--report" ]]; then
  pid="$(daemon_pid)" || { echo "no dockerd runs"; exit 1; }
  file="$(dump "$pid")" || { echo "dockerd (pid $pid) wrote no goroutine dump"; exit 1; }
  echo "dockerd (pid $pid): goroutines waiting a minute or more, by state and where (all in $file):"
  waiting_long "$file"
  exit 0
fi

record="${1:?usage: dockerd-watchdog.sh RECORD | --stuck DUMP | --report}"
interval="${WORKER_TEST_DOCKERD_WATCH_INTERVAL:-10}"

hang_limit="${WORKER_TEST_DOCKERD_HANG_LIMIT:-60}"

# Whether a list of dockerd's networks goes unanswered for the hang limit (an error is an answer).
network_list_hangs() {
  timeout "$hang_limit" docker network ls --quiet >/dev/null 2>&1
  [[ $? -eq 124 ]]
}

previous=""
hangs=0
while sleep "$interval"; do
  pid="$(daemon_pid)" || continue
  file="$(dump "$pid")" || continue
  now="$(stuck "$file" || true)"
  why=""
  if [[ -n "$now" && "$now" == "$previous" ]]; then
    why="deadlocked in libnetwork (goroutines ${now/|/ and }, moby/moby#46661)"
  elif network_list_hangs; then
    hangs=$((hangs + 1))
    if ((hangs >= 2)); then
      rm -f "$file"
      file="$(dump "$pid")" || file="" # after the hang: what waits now
      why="deadlocked: no answer to a list of its networks within ${hang_limit} s, twice in a row"
    fi
  else
    hangs=0
  fi
  if [[ -n "$why" ]]; then
    kept="/tmp/dockerd-deadlock-$(date -u +%Y%m%dT%H%M%SZ).log"
    [[ -n "$file" ]] && mv "$file" "$kept"
    echo "$(date -u +%H:%M:%S) dockerd (pid $pid) $why; stacks in $kept; restarted it" >>"$record"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f /var/run/docker.pid # a new dockerd refuses to start while the killed one's file is there
    "$here/start-dockerd.sh" >>"$record" 2>&1 || echo "$(date -u +%H:%M:%S) dockerd did not start again" >>"$record"
    previous=""
    hangs=0
    continue
  fi
  rm -f "$file"
  previous="$now"
done
