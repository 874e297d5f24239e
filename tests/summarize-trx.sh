#!/usr/bin/env bash
# Adds up the counters of every .trx file under $1: prints "N passed, N failed[, N skipped]".
set -euo pipefail
dir="${1:-TestResults}"
passed=0 failed=0 skipped=0
shopt -s nullglob globstar
for f in "$dir"/**/*.trx; do
  line="$(grep -o '<Counters [^>]*>' "$f" | head -n1)"
  get() { grep -oP "\b$1=\"\K[0-9]+" <<<"$line" || echo 0; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done
if ((skipped > 0)); then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
