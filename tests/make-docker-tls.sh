#!/usr/bin/env bash
# Makes (once) the TLS material of the test engine's tcp://127.0.0.1:2376 listener in DIR: a CA,
# the engine's certificate for localhost and 127.0.0.1, and a client certificate in DIR/client
# (ca.pem, cert.pem, key.pem: a DOCKER_CERT_PATH directory, as WORKER_DOCKER_CERT_PATH takes).
set -euo pipefail
dir="${1:?usage: make-docker-tls.sh DIR}"
[[ -f "$dir/client/key.pem" ]] && exit 0
mkdir -p "$dir/client"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=worker-test-docker-ca \
  -keyout ca-key.pem -out ca.pem 2>/dev/null
issue() { # NAME SUBJECT EXTENSIONS KEY_OUT CERT_OUT
  openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$4" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
    -extfile "$1.ext" -out "$5" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
issue server /CN=localhost "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth" server-key.pem server-cert.pem
issue client /CN=worker-test-client "extendedKeyUsage=clientAuth" client/key.pem client/cert.pem
cp ca.pem client/ca.pem
chmod 600 ca-key.pem server-key.pem client/key.pem
