#!/bin/bash
# Fetches the worker's secrets from Secret Manager into an env file only root can read, on tmpfs
# (/run), before the worker container starts (worker.service's ExecStartPre). The instance's
# metadata holds only the secrets' names; their values never touch the disk or the metadata.
#   fetch-secrets.sh LIST OUT
# LIST: one KEY=projects/PROJECT/secrets/NAME a line. OUT: KEY=value lines for `docker run --env-file`.
# Any failure (no token yet, a secret without a version, no access) exits non-zero, so systemd tries
# the unit again after RestartSec.
set -euo pipefail

list="$1"
out="$2"
metadata="${GCE_METADATA_HOST:-metadata.google.internal}"
api="${SECRET_MANAGER_ENDPOINT:-https://secretmanager.googleapis.com}"
umask 077

token_json="$(curl -sSf --retry 3 --retry-connrefused -H 'Metadata-Flavor: Google' \
  "http://${metadata}/computeMetadata/v1/instance/service-accounts/default/token")"
token="$(tr -d ' \n' <<<"$token_json" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
if [[ -z "$token" ]]; then
  echo "fetch-secrets: the metadata server gave no access token" >&2
  exit 1
fi

tmp="$(mktemp "${out}.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
while IFS='=' read -r key name || [[ -n "$key" ]]; do
  [[ -z "$key" || "$key" == \#* ]] && continue
  answer="$(curl -sS --retry 3 --retry-connrefused -w '\n%{http_code}' -H "Authorization: Bearer ${token}" \
    "${api}/v1/${name}/versions/latest:access")"
  status="${answer##*$'\n'}"
  body="${answer%$'\n'*}"
  if [[ "$status" != 200 ]]; then
    echo "fetch-secrets: ${key} from ${name}: HTTP ${status}: $(tr -d '\n' <<<"$body" | head -c 300)" >&2
    exit 1
  fi
  data="$(tr -d ' \n' <<<"$body" | sed -n 's/.*"data":"\([^"]*\)".*/\1/p')"
  # $(...) drops trailing newlines, as `echo "$URI" | gcloud secrets versions add` leaves one.
  value="$(base64 -d <<<"$data")"
  if [[ "$value" == *$'\n'* || "$value" == *$'\r'* ]]; then
    echo "fetch-secrets: ${key} (${name}) spans more than one line, which an env file can't hold" >&2
    exit 1
  fi
  printf '%s=%s\n' "$key" "$value" >>"$tmp"
done <"$list"
chmod 0600 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
