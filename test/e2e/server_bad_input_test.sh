#!/bin/bash
# Bad input against the real `mini8s server`: malformed JSON, YAML and protobuf bodies,
# oversized bodies, unknown kinds, wrong content types and Accept headers, plain HTTP and random
# bytes on the TLS port, and a connection that sends half a request and stalls. Each must get
# the right 4xx (with a metav1.Status) or a closed connection; afterwards the server still answers.
#
# Usage: server_bad_input_test.sh PATH/TO/mini8s
# Exit 0 pass, 1 fail, 77 skipped (no curl or openssl).
set -u

MINI8S=${1:?usage: $0 PATH/TO/mini8s}
command -v curl > /dev/null || { echo "SKIP: curl not found"; exit 77; }
command -v openssl > /dev/null || { echo "SKIP: openssl not found"; exit 77; }
command -v python3 > /dev/null || { echo "SKIP: python3 not found"; exit 77; }

WORK=$(mktemp -d /tmp/mini8s-bad-input.XXXXXX)
SERVER_PID=""
STALL_PID=""
cleanup() {
  [ -n "$STALL_PID" ] && kill "$STALL_PID" 2>/dev/null
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

FAILURES=0
fail() {
  echo "FAIL: $*"
  FAILURES=$((FAILURES + 1))
}

TOKEN=bad-input-admin-token
echo "$TOKEN,admin,1,system:masters" > "$WORK/tokens.csv"
"$MINI8S" server --data-dir "$WORK/data" --bind-address 127.0.0.1 --https-listen-port 0 \
  --write-kubeconfig "$WORK/kubeconfig" --disable-agent --token-auth-file "$WORK/tokens.csv" \
  > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
  PORT=$(grep -o 'ready: https://127.0.0.1:[0-9]*' "$WORK/server.log" 2>/dev/null | sed 's/.*://')
  if [ -n "$PORT" ] && curl -sk --max-time 2 "https://127.0.0.1:$PORT/readyz" | grep -q '^ok$'; then
    break
  fi
  PORT=""
  sleep 0.05
done
if [ -z "$PORT" ]; then
  echo "FAIL: server did not become ready"
  cat "$WORK/server.log"
  exit 1
fi
BASE="https://127.0.0.1:$PORT"
CMS="$BASE/api/v1/namespaces/default/configmaps"

# req WANT_CODE REASON_REGEX CURL_ARGS...: one bounded authenticated request; checks the status
# code and, when REASON_REGEX is not empty, that the body is a Status matching it.
req() {
  local want=$1 reason=$2
  shift 2
  local code
  code=$(curl -sk --max-time 20 -o "$WORK/body" -w '%{http_code}' \
    -H "Authorization: Bearer $TOKEN" "$@")
  if [ "$code" != "$want" ]; then
    fail "curl $* -> $code (want $want): $(head -c 300 "$WORK/body")"
  elif [ -n "$reason" ] && ! grep -Eq "\"kind\":\"Status\".*$reason" "$WORK/body"; then
    fail "curl $* -> body is not a Status matching /$reason/: $(head -c 300 "$WORK/body")"
  fi
}
alive() {
  curl -sk --max-time 5 "$BASE/readyz" | grep -q '^ok$' || fail "server not ready after: $*"
}

# The half-open connection starts first and stalls in the background for the whole run: other
# requests must be served meanwhile, and the server must close it after its read timeout (30s).
(
  exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 2
  # A TLS ClientHello is not even begun: just the first bytes of a record header.
  printf '\x16\x03\x01' >&3
  start=$(date +%s)
  # read returns at EOF (closed by the server) or after 60s.
  timeout 60 cat <&3 > /dev/null
  echo $(( $(date +%s) - start )) > "$WORK/stall_tls_secs"
) &
STALL_PID=$!
# The same inside TLS: half a request head, then nothing.
# (Python: openssl s_client does not exit on the server's close while its stdin stays open.)
(
  timeout 60 python3 - "$PORT" <<'PY' > "$WORK/stall_head_out" 2>&1
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
conn = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
conn.sendall(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n")
try:
    print("read", conn.recv(100))
except OSError as e:
    print("closed", e)
PY
  echo $? > "$WORK/stall_head_rc"
  date +%s > "$WORK/stall_head_end"
) &
STALL2_PID=$!
STALL_START=$(date +%s)

# Malformed JSON.
req 400 '"reason":"BadRequest"' -X POST -H 'Content-Type: application/json' \
  --data '{"apiVersion":"v1","kind":"ConfigMap",' "$CMS"
req 400 '"reason":"BadRequest"' -X POST -H 'Content-Type: application/json' --data 'null' "$CMS"
req 400 '' -X POST -H 'Content-Type: application/json' --data '[1,2,3]' "$CMS"
# YAML bodies are accepted for create, as upstream does; malformed YAML is a 400.
req 201 '' -X POST -H 'Content-Type: application/yaml' --data-binary $'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n' "$CMS"
grep -q '"name":"from-yaml"' "$WORK/body" || fail "YAML create did not answer the object"
req 400 '"reason":"BadRequest"' -X POST -H 'Content-Type: application/yaml' \
  --data-binary $'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n' "$CMS"
# Protobuf: garbage, a truncated envelope, an envelope with a broken inner message.
printf 'not a protobuf at all' > "$WORK/pb1"
req 400 '' -X POST -H 'Content-Type: application/vnd.kubernetes.protobuf' \
  --data-binary @"$WORK/pb1" "$CMS"
printf 'k8s\x00\x0a\x0f\x0a\x02v1' > "$WORK/pb2"
req 400 '' -X POST -H 'Content-Type: application/vnd.kubernetes.protobuf' \
  --data-binary @"$WORK/pb2" "$CMS"
printf 'k8s\x00\x0a\x0b\x0a\x02v1\x12\x09ConfigMap\x12\x05\xff\xff\xff\xff\xff' > "$WORK/pb3"
req 400 '' -X POST -H 'Content-Type: application/vnd.kubernetes.protobuf' \
  --data-binary @"$WORK/pb3" "$CMS"
# Oversized: 3 MiB + 1 byte of JSON string.
{ printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"';
  head -c $((3 * 1024 * 1024 + 1)) /dev/zero | tr '\0' 'x'; printf '"}}'; } > "$WORK/big.json"
req 413 '' -X POST -H 'Content-Type: application/json' --data-binary @"$WORK/big.json" "$CMS"
alive "oversized body"
# Unknown kinds and resources.
req 404 '"reason":"NotFound"' "$BASE/api/v1/namespaces/default/nosuchthings"
req 404 '"reason":"NotFound"' "$BASE/apis/nosuch.example.com/v1/widgets"
req 404 '' -X POST -H 'Content-Type: application/json' \
  --data '{"apiVersion":"v1","kind":"Widget","metadata":{"name":"w"}}' \
  "$BASE/api/v1/namespaces/default/widgets"
# A body whose kind does not match the resource.
req 400 '"reason":"BadRequest"' -X POST -H 'Content-Type: application/json' \
  --data '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}' "$CMS"
# Wrong content types and Accept.
req 415 '"reason":"UnsupportedMediaType"' -X POST -H 'Content-Type: text/plain' \
  --data 'hello' "$CMS"
req 415 '"reason":"UnsupportedMediaType"' -X PATCH -H 'Content-Type: application/xml' \
  --data '<a/>' "$CMS/from-yaml"
req 406 '"reason":"NotAcceptable"' -H 'Accept: application/xml' "$CMS"
req 406 '' -H 'Accept: text/html' "$CMS/from-yaml"
alive "content types"

# Plain HTTP on the HTTPS port: an answer or a close, never a hang; then the server is fine.
OUT=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")
RC=$?
[ "$RC" = 28 ] && fail "plain HTTP to the TLS port hung"
[ "$OUT" = 200 ] && fail "plain HTTP to the TLS port was served"
alive "plain HTTP"
# Random bytes, then a TLS record that is not a ClientHello: the connection is closed.
head -c 512 /dev/urandom > "$WORK/garbage1"
printf '\x16\x03\x01\x00\x05hello' > "$WORK/garbage2"  # a handshake record, not a ClientHello
printf '\x80\x2e\x01\x00\x02' > "$WORK/garbage3"       # an SSLv2-style hello, cut short
for payload in "$WORK"/garbage[123]; do
  start=$(date +%s%N)
  exec 4<>"/dev/tcp/127.0.0.1/$PORT"
  cat "$payload" >&4
  timeout 15 cat <&4 > /dev/null
  rc=$?
  exec 4<&-
  [ "$rc" = 124 ] && fail "garbage bytes did not get the connection closed"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "garbage closed after ${ms}ms"
  # At worst the TLS handshake timeout (10s) ends it, when the bytes look like a record that
  # is still arriving.
  [ "$ms" -lt 12000 ] || fail "garbage bytes took ${ms}ms to be closed"
done
# A handshake that offers nothing the server accepts.
timeout 15 openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -cipher 'NULL-SHA' \
  < /dev/null > "$WORK/ssl.out" 2>&1
[ $? = 124 ] && fail "a failed handshake hung"
alive "random bytes and broken handshakes"

# While the stalled connections are open, normal requests are served.
req 200 '' "$CMS/from-yaml"
grep -q '"a":"b"' "$WORK/body" || fail "GET after bad input: $(cat "$WORK/body")"

# The stalled connections are closed by the server's read timeout (30s) with the other
# requests unaffected.
wait "$STALL_PID"
STALL_PID=""
wait "$STALL2_PID"
secs=$(cat "$WORK/stall_tls_secs" 2>/dev/null || echo none)
if [ "$secs" = none ] || [ "$secs" -ge 55 ]; then
  fail "a stalled TLS handshake was not closed by the server (${secs}s)"
fi
head_secs=$(( $(cat "$WORK/stall_head_end") - STALL_START ))
if [ "$(cat "$WORK/stall_head_rc")" != 0 ] || [ "$head_secs" -ge 55 ] ||
  ! grep -Eq "read b''|closed" "$WORK/stall_head_out"; then
  fail "a stalled half request was not closed by the server (${head_secs}s)"
fi
echo "stalled handshake closed after ${secs}s, stalled request head after ${head_secs}s"

alive "the end"
# /metrics counted the rejected requests (anonymous scrapes are 401, as upstream).
[ "$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' "$BASE/metrics")" = 401 ] ||
  fail "anonymous /metrics is not 401"
req 200 '' "$BASE/metrics"
grep -Eq '^apiserver_request_total\{verb="POST",group="",version="v1",resource="configmaps",subresource="",scope="namespace",component="apiserver",code="400"\} [0-9]+$' \
  "$WORK/body" || fail "/metrics has no 400s for configmaps: $(grep configmaps "$WORK/body" | head -5)"
grep -Eq '^apiserver_request_total\{verb="POST",.*code="415"\} [0-9]+$' "$WORK/body" ||
  fail "/metrics has no 415s"
grep -Eq '^mini8s_store_db_pages [1-9][0-9]*$' "$WORK/body" || fail "/metrics has no store size"
req 200 '' "$BASE/api/v1/namespaces/default"
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died"

if [ "$FAILURES" -gt 0 ]; then
  echo "---- server log"
  tail -30 "$WORK/server.log"
  echo "$FAILURES failure(s)"
  exit 1
fi
echo "PASS"
exit 0
