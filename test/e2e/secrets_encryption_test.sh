#!/bin/bash
# Secrets encryption at rest and the audit log, on the real binary with the real kubectl:
#  - a secret created through kubectl is readable through the API but appears in no SQLite file
#    (db, WAL) in plaintext or base64; its row starts with k8s:enc:aesgcm:v1:<key>:
#  - `mini8s secrets-encrypt status|rotate-keys|prepare|rotate|reencrypt` on the running server;
#    after each rotation every row of the secret is under the new key and reads still work
#  - after a restart everything still reads; with an unknown key the read is a 500 "no matching
#    key" (nothing lost: with the key back it reads again)
#  - the audit log has the policy's levels, stages, users and objectRefs, and no secret data.
#
# Usage: secrets_encryption_test.sh PATH/TO/mini8s
# Exit 0 pass, 1 fail, 77 skipped (kubectl or sqlite3 not on this machine).
set -u

MINI8S=${1:?usage: $0 PATH/TO/mini8s}
KUBECTL=$(command -v kubectl || true)
SQLITE=$(command -v sqlite3 || true)
if [ -z "$KUBECTL" ] || [ -z "$SQLITE" ]; then
  echo "SKIP: kubectl or sqlite3 not found"
  exit 77
fi

WORK=$(mktemp -d /tmp/mini8s-secrets-e2e.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  [ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

FAILURES=0
fail() {
  echo "FAIL: $*"
  FAILURES=$((FAILURES + 1))
}

SECRET=SUPERSECRETVALUE
SECRET_B64=$(printf %s "$SECRET" | base64)
DB="$WORK/data/server/db/state.db"
CONFIG="$WORK/data/server/cred/encryption-config.json"
KEY=/registry/core/secrets/default/s

k() {
  OUT=$(timeout 30 "$KUBECTL" --kubeconfig="$WORK/kubeconfig" --cache-dir="$WORK/cache" "$@" 2>&1)
  RC=$?
}
enc() {
  OUT=$(timeout 60 "$MINI8S" secrets-encrypt --kubeconfig "$WORK/kubeconfig" "$@" 2>&1)
  RC=$?
}

cat > "$WORK/policy.yaml" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/openapi*", "/api", "/apis*", "/version"]
  - level: None
    users: ["system:kube-controller-manager", "system:kube-scheduler", "system:mini8s-supervisor"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets"]
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["configmaps"]
  - level: Request
YAML

start_server() {
  "$MINI8S" server --data-dir "$WORK/data" --bind-address 127.0.0.1 --https-listen-port 0 \
    --write-kubeconfig "$WORK/kubeconfig" --write-kubeconfig-mode 0600 --disable-agent \
    --secrets-encryption --audit-log-path "$WORK/audit/audit.log" \
    --audit-policy-file "$WORK/policy.yaml" --audit-log-maxsize 10 --audit-log-maxbackup 2 \
    >> "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 1 200); do
    PORT=$(grep -o 'ready: https://127.0.0.1:[0-9]*' "$WORK/server.log" 2>/dev/null | tail -1 |
      sed 's/.*://')
    if [ -n "$PORT" ] && curl -sk --max-time 2 "https://127.0.0.1:$PORT/readyz" | grep -q '^ok$'; then
      return 0
    fi
    PORT=""
    sleep 0.05
  done
  echo "FAIL: server did not become ready"
  cat "$WORK/server.log"
  exit 1
}
stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID"
  SERVER_PID=""
  : > "$WORK/server.log"
}

# No plaintext and no base64 of the secret in any database file; the secret reads back.
check_files() {
  local when=$1
  for f in "$DB" "$DB-wal"; do
    [ -f "$f" ] || continue
    if grep -aq "$SECRET" "$f"; then fail "$when: $f contains the plaintext"; fi
    if grep -aqF "$SECRET_B64" "$f"; then fail "$when: $f contains the base64 value"; fi
  done
}
check_secret() {
  local when=$1
  check_files "$when"
  k get secret s -o jsonpath='{.data.password}'
  [ "$RC" = 0 ] && [ "$(printf %s "$OUT" | base64 -d 2>/dev/null)" = "$SECRET" ] ||
    fail "$when: kubectl get secret: $OUT"
}
# Every stored row of the secret is encrypted with key $1.
check_rows_key() {
  local when=$1 key=$2 total other
  total=$("$SQLITE" "file:$DB?mode=ro" "SELECT count(*) FROM kine WHERE name='$KEY' AND value IS NOT NULL")
  other=$("$SQLITE" "file:$DB?mode=ro" "SELECT count(*) FROM kine WHERE name='$KEY' AND value IS NOT NULL AND substr(value, 1, length('k8s:enc:aesgcm:v1:$key:')) != CAST('k8s:enc:aesgcm:v1:$key:' AS BLOB)")
  [ "${total:-0}" -ge 1 ] || fail "$when: no stored row for $KEY"
  [ "$other" = 0 ] || fail "$when: $other of $total rows are not under key $key"
}
active_key() {
  enc status -o json
  printf %s "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["keys"][0]["name"])'
}

start_server
[ "$(stat -c %a "$CONFIG")" = 600 ] || fail "encryption config mode is not 600"
grep -q '"kind": "EncryptionConfiguration"' "$CONFIG" || fail "config is not an EncryptionConfiguration"

k create secret generic s --from-literal=password="$SECRET"
[ "$RC" = 0 ] || fail "create secret: $OUT"
k create configmap c --from-literal=colour=blue
[ "$RC" = 0 ] || fail "create configmap: $OUT"
check_secret "after create"
KEY1=$(active_key)
check_rows_key "after create" "$KEY1"
# A configmap is not encrypted.
[ "$("$SQLITE" "file:$DB?mode=ro" "SELECT count(*) FROM kine WHERE name LIKE '/registry/core/configmaps/default/c' AND CAST(value AS TEXT) LIKE '%blue%'")" = 1 ] ||
  fail "configmap is not stored as plaintext"

enc status
[ "$RC" = 0 ] || fail "secrets-encrypt status: $OUT"
grep -q 'Encryption Status: Enabled' <<< "$OUT" || fail "status: $OUT"
grep -q 'Current Rotation Stage: start' <<< "$OUT" || fail "status stage: $OUT"
grep -Eq "^ +\* +AES-GCM +$KEY1 +sha256:[0-9a-f]{16}" <<< "$OUT" || fail "status keys: $OUT"

# One-step rotation: a new key encrypts everything, the old one is gone.
enc rotate-keys
[ "$RC" = 0 ] || fail "rotate-keys: $OUT"
KEY2=$(active_key)
[ -n "$KEY2" ] && [ "$KEY2" != "$KEY1" ] || fail "rotate-keys did not change the key ($KEY1 -> $KEY2)"
enc status
grep -q 'Current Rotation Stage: reencrypt_finished' <<< "$OUT" || fail "stage after rotate-keys: $OUT"
[ "$(grep -c 'AES-GCM' <<< "$OUT")" = 1 ] || fail "old key kept after rotate-keys: $OUT"
# Quoted: a key made in the same second is named "<old>-1", so the bare name is a prefix of it.
grep -q "\"$KEY1\"" "$CONFIG" && fail "old key still in the config file"
check_secret "after rotate-keys"
check_rows_key "after rotate-keys" "$KEY2"

# k3s's three-stage rotation.
enc rotate
[ "$RC" != 0 ] && grep -q 'stage' <<< "$OUT" || fail "rotate before prepare should fail: $OUT"
enc prepare
[ "$RC" = 0 ] || fail "prepare: $OUT"
[ "$(active_key)" = "$KEY2" ] || fail "prepare changed the active key"
enc rotate
[ "$RC" = 0 ] || fail "rotate: $OUT"
KEY3=$(active_key)
[ "$KEY3" != "$KEY2" ] || fail "rotate did not activate the prepared key"
check_secret "after rotate (before reencrypt)"  # old rows still read with the old key
enc reencrypt
[ "$RC" = 0 ] || fail "reencrypt: $OUT"
check_rows_key "after reencrypt" "$KEY3"
check_secret "after reencrypt"

# Only system:masters may use the endpoint.
[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/v1-mini8s/encrypt/status")" = 401 ] ||
  fail "anonymous encrypt status is not 401"

k delete configmap c
timeout 2 "$KUBECTL" --kubeconfig="$WORK/kubeconfig" --cache-dir="$WORK/cache" get configmaps -w \
  > /dev/null 2>&1
k get secret s -o name
k get secrets
stop_server
check_files "stopped"
start_server
check_secret "after restart"
check_rows_key "after restart" "$KEY3"

# An unknown key: reads fail clearly, nothing is lost.
stop_server
cp "$CONFIG" "$WORK/config.saved"
python3 - "$CONFIG" <<'PY'
import base64, json, os, sys
p = sys.argv[1]
c = json.load(open(p))
keys = c["resources"][0]["providers"][0]["aesgcm"]["keys"]
keys[:] = [{"name": "otherkey", "secret": base64.b64encode(os.urandom(32)).decode()}]
json.dump(c, open(p, "w"))
PY
start_server
k get secret s -o jsonpath='{.data.password}'
[ "$RC" != 0 ] && grep -q 'no matching key' <<< "$OUT" || fail "read with an unknown key: $OUT"
stop_server
cp "$WORK/config.saved" "$CONFIG"
start_server
check_secret "with the key restored"

# Audit log.
stop_server  # flushes the writer
LOG="$WORK/audit/audit.log"
[ -s "$LOG" ] || fail "no audit log"
if grep -aq "$SECRET" "$LOG" || grep -aqF "$SECRET_B64" "$LOG"; then
  fail "secret data in the audit log"
fi
python3 - "$LOG" <<'PY' || FAILURES=$((FAILURES + 1))
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
def find(**want):
    for e in events:
        ref = e.get("objectRef", {})
        if all((ref.get(k[4:]) if k.startswith("ref_") else e.get(k)) == v for k, v in want.items()):
            return e
    return None
problems = []
def need(desc, e):
    if e is None:
        problems.append(desc)
    return e or {}
for e in events:
    if e["kind"] != "Event" or e["apiVersion"] != "audit.k8s.io/v1":
        problems.append("bad kind/apiVersion: %r" % e)
    if e["stage"] == "RequestReceived":
        problems.append("RequestReceived is omitted by the policy")
    if e["user"]["username"] in ("system:kube-controller-manager", "system:kube-scheduler"):
        problems.append("controller requests should be level None")
    if e.get("requestURI", "").startswith("/openapi"):
        problems.append("openapi should be level None")
c = need("secret create", find(verb="create", ref_resource="secrets", ref_name="s", stage="ResponseComplete"))
if c:
    if c["level"] != "Metadata": problems.append("secret create level %s" % c["level"])
    if "requestObject" in c or "responseObject" in c: problems.append("secret bodies at Metadata")
    if c["user"]["username"] != "system:admin": problems.append("user %r" % c["user"])
    if "system:masters" not in c["user"].get("groups", []): problems.append("groups %r" % c["user"])
    if c["responseStatus"]["code"] != 201: problems.append("code %r" % c["responseStatus"])
    if c["objectRef"].get("namespace") != "default" or c["objectRef"].get("apiVersion") != "v1":
        problems.append("objectRef %r" % c["objectRef"])
    if c["annotations"].get("authorization.k8s.io/decision") != "allow": problems.append("decision")
    if not c.get("userAgent", "").startswith("kubectl"): problems.append("userAgent %r" % c.get("userAgent"))
    if c.get("sourceIPs") != ["127.0.0.1"]: problems.append("sourceIPs %r" % c.get("sourceIPs"))
    if len(c["auditID"]) != 36: problems.append("auditID")
cm = need("configmap create", find(verb="create", ref_resource="configmaps", ref_name="c"))
if cm:
    if cm["level"] != "RequestResponse": problems.append("configmap level %s" % cm["level"])
    if cm.get("requestObject", {}).get("data", {}).get("colour") != "blue": problems.append("configmap requestObject")
    if cm.get("responseObject", {}).get("metadata", {}).get("name") != "c": problems.append("configmap responseObject")
need("configmap delete", find(verb="delete", ref_resource="configmaps", ref_name="c"))
need("configmap watch started", find(verb="watch", ref_resource="configmaps", stage="ResponseStarted"))
need("secret get", find(verb="get", ref_resource="secrets", ref_name="s"))
need("secret list", find(verb="list", ref_resource="secrets"))
errors = [e for e in events if e.get("objectRef", {}).get("resource") == "secrets"
          and e["responseStatus"]["code"] == 500]
if not errors or "no matching key" not in errors[0]["responseStatus"].get("message", ""):
    problems.append("the 500 for the unknown key is not in the log with its message")
if problems:
    print("FAIL: audit log: " + "; ".join(problems))
    sys.exit(1)
print("audit log: %d events checked" % len(events))
PY

if [ "$FAILURES" -gt 0 ]; then
  echo "$FAILURES failure(s); server log:"
  cat "$WORK/server.log"
  exit 1
fi
echo "PASS"
