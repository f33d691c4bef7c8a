#!/bin/bash
# Certificate renewal against the real `mini8s server`: a serving or admin certificate on disk
# that comes within 90 days of expiry is reissued from the same CA while the server runs (new
# connections get the new serving certificate, the kubeconfig gets the new admin certificate),
# and `mini8s certificate check|rotate` with the server stopped. The server's renewal interval is
# shortened with the hidden --cert-check-interval flag.
#
# Usage: cert_rotation_test.sh PATH/TO/mini8s
# Exit 0 pass, 1 fail, 77 skipped (no curl or openssl).
set -u

MINI8S=${1:?usage: $0 PATH/TO/mini8s}
command -v curl > /dev/null || { echo "SKIP: curl not found"; exit 77; }
command -v openssl > /dev/null || { echo "SKIP: openssl not found"; exit 77; }

WORK=$(mktemp -d /tmp/mini8s-cert-rotation.XXXXXX)
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
  fi
}
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT

FAILURES=0
fail() {
  echo "FAIL: $*"
  FAILURES=$((FAILURES + 1))
}

DATA="$WORK/data"
TLS="$DATA/server/tls"
KUBECONFIG_FILE="$WORK/kubeconfig"
start_server() {
  : > "$WORK/server.log"
  "$MINI8S" server --data-dir "$DATA" --bind-address 127.0.0.1 --https-listen-port 0 \
    --write-kubeconfig "$KUBECONFIG_FILE" --disable-agent --disable-controller-manager \
    --disable-scheduler --cert-check-interval 300ms > "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 1 200); do
    PORT=$(grep -o 'ready: https://127.0.0.1:[0-9]*' "$WORK/server.log" 2>/dev/null | sed 's/.*://')
    [ -n "$PORT" ] && break
    sleep 0.05
  done
  if [ -z "$PORT" ]; then
    echo "FAIL: server did not become ready"
    cat "$WORK/server.log"
    exit 1
  fi
}

# The serial of the certificate a new TLS connection is served.
served_serial() {
  echo | timeout 5 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null
}
file_serial() { openssl x509 -noout -serial -in "$1"; }
days_left() {
  local end
  end=$(date -d "$(openssl x509 -noout -enddate -in "$1" | cut -d= -f2)" +%s)
  echo $(((end - $(date +%s)) / 86400))
}

# Replaces <name>.crt with a certificate for the same key, names and usages that expires in
# $2 days, signed by CA $3 (what the file would look like that many days before expiry).
age_cert() {
  local name=$1 days=$2 ca=$3
  openssl x509 -x509toreq -in "$TLS/$name.crt" -signkey "$TLS/$name.key" -copy_extensions copy \
    -out "$WORK/$name.csr" 2>/dev/null || fail "x509toreq $name"
  openssl x509 -req -in "$WORK/$name.csr" -CA "$TLS/$ca.crt" -CAkey "$TLS/$ca.key" \
    -CAcreateserial -CAserial "$WORK/ca.srl" -days "$days" -copy_extensions copy \
    -out "$WORK/$name.aged" 2>/dev/null || fail "signing aged $name"
  # Atomic, as the server writes: a renewal pass must never read a half-written file.
  cp "$WORK/$name.aged" "$TLS/$name.crt.new" && mv "$TLS/$name.crt.new" "$TLS/$name.crt"
}

# Waits (bounded) until `served_serial` differs from $1; prints the new one.
wait_served_change() {
  local old=$1 now=""
  for _ in $(seq 1 60); do
    now=$(served_serial)
    if [ -n "$now" ] && [ "$now" != "$old" ]; then
      echo "$now"
      return 0
    fi
    sleep 0.1
  done
  echo "$now"
  return 1
}

start_server
CA_BEFORE=$(sha256sum "$TLS/server-ca.crt" "$TLS/server-ca.key" "$TLS/client-ca.crt")
S0=$(served_serial)
[ -n "$S0" ] || fail "no serving certificate on a new connection"
[ "$S0" = "$(file_serial "$TLS/serving-kube-apiserver.crt")" ] || fail "served cert is not the file"
D0=$(days_left "$TLS/serving-kube-apiserver.crt")
[ "$D0" -ge 364 ] && [ "$D0" -le 365 ] || fail "serving cert lives $D0 days, want 365"
[ "$(days_left "$TLS/server-ca.crt")" -ge 3649 ] || fail "server CA does not live 10 years"

# 120 days left: not renewed. The running server loads the file as it is.
age_cert serving-kube-apiserver 120 server-ca
S120=$(file_serial "$TLS/serving-kube-apiserver.crt")
S=$(wait_served_change "$S0") || fail "the server did not load the 120-day certificate"
[ "$S" = "$S120" ] || fail "a 120-day certificate was reissued ($S, want $S120)"

# 30 days left: reissued from the same CA and served to new connections without a restart.
age_cert serving-kube-apiserver 30 server-ca
S30=$(file_serial "$TLS/serving-kube-apiserver.crt")
S=$(wait_served_change "$S120") || fail "the server kept serving the 120-day certificate"
for _ in $(seq 1 40); do
  [ "$S" != "$S30" ] && break
  sleep 0.1
  S=$(served_serial)
done
[ "$S" != "$S30" ] || fail "a 30-day certificate was not reissued (served $S, 120-day $S120)"
[ "$S" = "$(file_serial "$TLS/serving-kube-apiserver.crt")" ] || fail "served cert is not the renewed file"
D=$(days_left "$TLS/serving-kube-apiserver.crt")
[ "$D" -ge 364 ] || fail "renewed serving cert lives $D days"
openssl verify -CAfile "$TLS/server-ca.crt" "$TLS/serving-kube-apiserver.crt" > /dev/null ||
  fail "renewed serving cert does not verify against the unchanged CA"
curl -sS --max-time 5 --cacert "$TLS/server-ca.crt" --cert "$TLS/client-admin.crt" \
  --key "$TLS/client-admin.key" "https://127.0.0.1:$PORT/api/v1/namespaces/default" \
  -o /dev/null -w '%{http_code}' | grep -q 200 || fail "admin request after serving renewal"

# The admin certificate 30 days before expiry: reissued and the kubeconfig rewritten.
KC_BEFORE=$(grep client-certificate-data "$KUBECONFIG_FILE")
age_cert client-admin 30 client-ca
for _ in $(seq 1 60); do
  [ "$(grep client-certificate-data "$KUBECONFIG_FILE")" != "$KC_BEFORE" ] && break
  sleep 0.1
done
KC_CERT=$(grep client-certificate-data "$KUBECONFIG_FILE" | awk '{print $2}' | base64 -d)
[ "$KC_CERT" = "$(cat "$TLS/client-admin.crt")" ] || fail "kubeconfig does not hold the renewed admin cert"
[ "$(days_left "$TLS/client-admin.crt")" -ge 364 ] || fail "admin cert was not renewed"
grep client-key-data "$KUBECONFIG_FILE" | awk '{print $2}' | base64 -d > "$WORK/kc.key"
echo "$KC_CERT" > "$WORK/kc.crt"
curl -sS --max-time 5 --cacert "$TLS/server-ca.crt" --cert "$WORK/kc.crt" --key "$WORK/kc.key" \
  "https://127.0.0.1:$PORT/api/v1/namespaces/default" -o /dev/null -w '%{http_code}' |
  grep -q 200 || fail "the rewritten kubeconfig's credentials are refused"
[ "$(stat -c %a "$KUBECONFIG_FILE")" = 600 ] || fail "kubeconfig mode changed"
[ "$CA_BEFORE" = "$(sha256sum "$TLS/server-ca.crt" "$TLS/server-ca.key" "$TLS/client-ca.crt")" ] ||
  fail "a CA changed"
stop_server

# certificate check: every file with its expiry, all OK.
OUT=$("$MINI8S" certificate check -d "$DATA") || fail "certificate check exited $?"
echo "$OUT"
[ "$(echo "$OUT" | grep -c '\.crt ')" -ge 5 ] || fail "certificate check lists too few files"
echo "$OUT" | grep 'serving-kube-apiserver.crt' | grep -q 'ServerAuth.* OK$' || fail "check: serving"
echo "$OUT" | grep 'server-ca.crt' | grep -q 'CertSign' || fail "check: CA usages"
# certificate rotate --service api-server: only the serving cert, CAs kept, backup made.
SERVING=$(file_serial "$TLS/serving-kube-apiserver.crt")
ADMIN=$(file_serial "$TLS/client-admin.crt")
"$MINI8S" certificate rotate -d "$DATA" --service api-server || fail "rotate exited $?"
[ "$(file_serial "$TLS/serving-kube-apiserver.crt")" != "$SERVING" ] || fail "rotate: serving kept"
[ "$(file_serial "$TLS/client-admin.crt")" = "$ADMIN" ] || fail "rotate: admin changed"
ls -d "$DATA"/server/tls-* > /dev/null 2>&1 || fail "rotate: no backup"
[ "$CA_BEFORE" = "$(sha256sum "$TLS/server-ca.crt" "$TLS/server-ca.key" "$TLS/client-ca.crt")" ] ||
  fail "rotate changed a CA"
"$MINI8S" certificate rotate -d "$DATA" --service bogus > /dev/null 2>&1
[ $? -eq 2 ] || fail "rotate --service bogus should be a usage error"
"$MINI8S" certificate rotate -d "$DATA" > /dev/null || fail "rotate (all) exited $?"
[ "$(file_serial "$TLS/client-admin.crt")" != "$ADMIN" ] || fail "rotate all: admin kept"

age_cert client-admin 30 client-ca
AGED_ADMIN=$(file_serial "$TLS/client-admin.crt")
"$MINI8S" certificate check -d "$DATA" | grep 'client-admin.crt' | grep -q 'WARNING$' ||
  fail "check: a 30-day admin cert is not flagged"

# A restart serves the rotated certificate, renews the 30-day admin certificate at start and
# writes it to the kubeconfig.
start_server
[ "$(file_serial "$TLS/client-admin.crt")" != "$AGED_ADMIN" ] || fail "start kept a 30-day admin cert"
[ "$(served_serial)" = "$(file_serial "$TLS/serving-kube-apiserver.crt")" ] ||
  fail "restart does not serve the rotated certificate"
KC_CERT=$(grep client-certificate-data "$KUBECONFIG_FILE" | awk '{print $2}' | base64 -d)
[ "$KC_CERT" = "$(cat "$TLS/client-admin.crt")" ] || fail "restart: kubeconfig admin cert"
stop_server

if [ "$FAILURES" -ne 0 ]; then
  echo "$FAILURES failure(s)"
  tail -20 "$WORK/server.log"
  exit 1
fi
echo "PASS"
