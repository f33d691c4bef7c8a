#!/bin/bash
# Runs the curl examples of the README (between <!-- curl-examples --> and
# <!-- /curl-examples -->) as written, against the real `mini8s server` on a free port with a
# private data dir: only the default data dir (/var/lib/mini8s) and address (127.0.0.1:6443)
# are replaced by the test server's. Each command's response is checked.
#
# Usage: readme_curl_test.sh PATH/TO/mini8s PATH/TO/README.md
# Exit 0 pass, 1 fail, 77 skipped (no curl).
set -u

MINI8S=${1:?usage: $0 PATH/TO/mini8s PATH/TO/README.md}
README=${2:?usage: $0 PATH/TO/mini8s PATH/TO/README.md}
CURL=$(command -v curl) || { echo "SKIP: curl not found"; exit 77; }

WORK=$(mktemp -d /tmp/mini8s-readme-curl.XXXXXX)
SERVER_PID=""
cleanup() {
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

# The block between the markers, without the code fences, continuation lines joined, comments
# and blank lines dropped: one command per line.
sed -n '/<!-- curl-examples -->/,/<!-- \/curl-examples -->/p' "$README" |
  grep -v -e '^<!--' -e '^```' | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' |
  grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' > "$WORK/commands"
grep -q '/var/lib/mini8s/server/tls' "$WORK/commands" ||
  { echo "FAIL: the examples do not use the default data dir"; exit 1; }
grep -q '127.0.0.1:6443' "$WORK/commands" ||
  { echo "FAIL: the examples do not use the default address"; exit 1; }

"$MINI8S" server --data-dir "$WORK/data" --bind-address 127.0.0.1 --https-listen-port 0 \
  --write-kubeconfig "$WORK/kubeconfig" --disable-agent > "$WORK/server.log" 2>&1 &
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

sed -i -e "s#/var/lib/mini8s#$WORK/data#g" -e "s#127\.0\.0\.1:6443#127.0.0.1:$PORT#g" \
  "$WORK/commands"
mapfile -t CMDS < "$WORK/commands"

# What each command's response must contain, in README order (a new example needs a new line).
WANT=(
  ''
  '"kind": ?"NamespaceList".*"name": ?"kube-system"'
  '"kind": ?"ConfigMap".*"name": ?"hello".*"a": ?"1"'
  '"a": ?"1", ?"b": ?"2"'
  '"type": ?"ADDED".*"name": ?"hello"'
  '"status": ?"Success"|"name": ?"hello"'
)
if [ "${#CMDS[@]}" != "${#WANT[@]}" ]; then
  fail "README has ${#CMDS[@]} commands, the test knows ${#WANT[@]}"
fi

# Bounded even if an example forgets its own limit.
curl() { timeout 30 "$CURL" "$@"; }
for i in "${!CMDS[@]}"; do
  cmd=${CMDS[$i]}
  echo "+ $cmd"
  START=$(date +%s)
  # Not in a subshell: a `cd` in the examples holds for the commands after it.
  eval "$cmd" > "$WORK/out" 2>&1
  RC=$?
  OUT=$(cat "$WORK/out")
  echo "$OUT" | head -c 600
  echo
  if [ "$RC" != 0 ]; then
    fail "command $((i + 1)) exited $RC: $cmd"
  elif grep -q '"status": *"Failure"' <<< "$OUT"; then
    fail "command $((i + 1)) got a Failure status: $OUT"
  elif [ -n "${WANT[$i]:-}" ] && ! tr -d '\n' <<< "$OUT" | grep -Eq -- "${WANT[$i]}"; then
    fail "command $((i + 1)): response does not match /${WANT[$i]}/"
  fi
  case $cmd in
    *watch=1*)
      # The watch is a stream that the server ends at timeoutSeconds, not at once.
      [ $(($(date +%s) - START)) -ge 3 ] || fail "the watch ended before its timeout"
      [ "$(grep -c '"type"' <<< "$OUT")" -ge 1 ] || fail "no watch events" ;;
  esac
done

# The examples leave the objects they touch as they found them.
TLS="$WORK/data/server/tls"
CODE=$("$CURL" -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$TLS/server-ca.crt" \
  --cert "$TLS/client-admin.crt" --key "$TLS/client-admin.key" \
  "https://127.0.0.1:$PORT/api/v1/namespaces/default/configmaps/hello")
[ "$CODE" = 404 ] || fail "configmap hello still there after the delete example ($CODE)"

if [ "$FAILURES" -gt 0 ]; then
  echo "---- server log"
  tail -30 "$WORK/server.log"
  echo "$FAILURES failure(s)"
  exit 1
fi
echo "PASS (${#CMDS[@]} commands)"
exit 0
