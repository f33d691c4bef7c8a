#!/bin/bash
# Authentication beyond certificates against the real `mini8s server`, with the real kubectl and
# curl: `kubectl create token` (TokenRequest JWTs, --duration, --audience, pod binding), service
# account tokens on the wire (401/403/200), legacy token Secrets, `kubectl auth whoami`
# (SelfSubjectReview), TokenReview, impersonation (--as), and bootstrap tokens through
# `mini8s token create/list/delete/generate`.
#
# Usage: tokens_e2e_test.sh PATH/TO/mini8s. Exit 0 pass, 1 fail, 77 skipped (no kubectl/curl).
set -u

MINI8S=${1:?usage: $0 PATH/TO/mini8s}
KUBECTL=$(command -v kubectl || true)
if [ -z "$KUBECTL" ] || ! command -v curl > /dev/null; then
  echo "SKIP: kubectl or curl not found"
  exit 77
fi

WORK=$(mktemp -d /tmp/mini8s-tokens-e2e.XXXXXX)
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

# k ARGS...: kubectl as the admin; stdout+stderr in $OUT, exit code in $RC.
k() {
  OUT=$(timeout 30 "$KUBECTL" --kubeconfig="$WORK/kubeconfig" --cache-dir="$WORK/cache" "$@" 2>&1)
  RC=$?
  { echo "+ kubectl $*"; echo "$OUT"; } >> "$WORK/kubectl.log"
}
# kt TOKEN ARGS...: kubectl with only a bearer token (no client certificate).
kt() {
  local token=$1
  shift
  OUT=$(timeout 30 "$KUBECTL" --kubeconfig=/dev/null --cache-dir="$WORK/cache" \
    --server "https://127.0.0.1:$PORT" --certificate-authority "$WORK/data/server/tls/server-ca.crt" \
    --token "$token" "$@" 2>&1)
  RC=$?
  { echo "+ kubectl --token ... $*"; echo "$OUT"; } >> "$WORK/kubectl.log"
}
# expect_out WANT_RC PATTERN: checks the last k/kt run.
expect_out() {
  if [ "$RC" != "$1" ]; then
    fail "${3:-kubectl} exited $RC (want $1): $OUT"
  elif ! grep -Eq -- "$2" <<< "$OUT"; then
    fail "${3:-kubectl}: output does not match /$2/: $OUT"
  fi
}
# code TOKEN PATH [CURL ARGS...]: the HTTP status of a request with a bearer token; body in $BODY.
code() {
  local token=$1 path=$2
  shift 2
  local auth=()
  [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
  BODY=$(curl -s --max-time 10 --cacert "$WORK/data/server/tls/server-ca.crt" "${auth[@]}" "$@" \
    -w '\n%{http_code}' "https://127.0.0.1:$PORT$path")
  CODE=${BODY##*$'\n'}
  BODY=${BODY%$'\n'*}
}
# want_code WANT TOKEN PATH [CURL ARGS...]
want_code() {
  local want=$1
  shift
  code "$@"
  [ "$CODE" = "$want" ] || fail "GET $2 -> $CODE (want $want): $BODY"
}

"$MINI8S" server --data-dir "$WORK/data" --bind-address 127.0.0.1 --https-listen-port 0 \
  --write-kubeconfig "$WORK/kubeconfig" --write-kubeconfig-mode 0600 --disable-agent \
  > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 200); do
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
[ -f "$WORK/data/server/tls/service.key" ] || fail "no service account key in the data dir"
[ "$(stat -c %a "$WORK/data/server/tls/service.key")" = 600 ] || fail "service.key mode"

# The service account controller creates "default" shortly after start.
for _ in $(seq 1 100); do
  k get serviceaccount default -o name
  [ "$RC" = 0 ] && break
  sleep 0.1
done
# RBAC may or may not be wired in this build (its bootstrap policy creates cluster-admin): with
# it, grant the SA read access to pods.
k get clusterrole cluster-admin -o name
RBAC=0
if [ "$RC" = 0 ]; then
  RBAC=1
  k create rolebinding sa-view --clusterrole=view --serviceaccount=default:default
  expect_out 0 'created'
fi

# --- TokenRequest tokens on the wire.
k create token default --duration 15m
expect_out 0 '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "create token"
SA_TOKEN=$OUT
want_code 200 "$SA_TOKEN" /api
if [ "$RBAC" = 1 ]; then
  want_code 200 "$SA_TOKEN" /api/v1/namespaces/default/pods
else
  want_code 403 "$SA_TOKEN" /api/v1/namespaces/default/pods
  grep -q 'User \\"system:serviceaccount:default:default\\" cannot list resource \\"pods\\"' <<< "$BODY" ||
    fail "403 message: $BODY"
fi
want_code 403 "$SA_TOKEN" /api/v1/namespaces/kube-system/secrets
want_code 401 "not-a-token" /api
grep -q '"reason":"Unauthorized"' <<< "$BODY" || fail "401 body: $BODY"
want_code 401 "${SA_TOKEN}x" /api
want_code 401 "" /api/v1/pods
want_code 200 "" /version
k create token default --duration 1m
expect_out 1 'may not specify a duration less than 10 minutes' "create token --duration 1m"
k create token nobody
expect_out 1 'serviceaccounts "nobody" not found' "create token nobody"

# A token for another audience is not valid for the API server.
k create token default --audience vault
expect_out 0 '\.' "create token --audience"
VAULT_TOKEN=$OUT
want_code 401 "$VAULT_TOKEN" /api
# ... but a TokenReview for that audience accepts it.
cat > "$WORK/review.json" <<EOF
{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview",
 "spec":{"token":"$VAULT_TOKEN","audiences":["vault"]}}
EOF
k create -f "$WORK/review.json" -o jsonpath='{.status.authenticated} {.status.user.username}'
expect_out 0 '^true system:serviceaccount:default:default$' "TokenReview"

# --- A token bound to a pod dies with the pod; pods get the projected token volume.
k run p1 --image=busybox --restart=Never
expect_out 0 'created'
k get pod p1 -o jsonpath='{.spec.volumes[0].name} {.spec.containers[0].volumeMounts[0].mountPath}'
expect_out 0 '^kube-api-access-[a-z0-9]{5} /var/run/secrets/kubernetes.io/serviceaccount$' \
  "pod token volume"
k create token default --bound-object-kind Pod --bound-object-name p1
expect_out 0 '\.' "create token --bound-object-kind Pod"
POD_TOKEN=$OUT
want_code 200 "$POD_TOKEN" /api
k delete pod p1 --grace-period=0 --force --wait=true
for _ in $(seq 1 50); do
  k get pod p1 -o name
  [ "$RC" != 0 ] && break
  sleep 0.1
done
want_code 401 "$POD_TOKEN" /api
want_code 200 "$SA_TOKEN" /api

# --- Legacy token Secrets are filled in and valid while the Secret exists.
cat > "$WORK/legacy.yaml" <<'EOF'
apiVersion: v1
kind: Secret
metadata:
  name: legacy-token
  annotations: {kubernetes.io/service-account.name: default}
type: kubernetes.io/service-account-token
EOF
k create -f "$WORK/legacy.yaml"
expect_out 0 'created'
k get secret legacy-token -o jsonpath='{.data.token}'
LEGACY_TOKEN=$(base64 -d <<< "$OUT" 2>/dev/null)
want_code 200 "$LEGACY_TOKEN" /api
k delete secret legacy-token
want_code 401 "$LEGACY_TOKEN" /api

# --- whoami (SelfSubjectReview).
k auth whoami
expect_out 0 'Username +system:admin' "auth whoami"
grep -q 'system:masters' <<< "$OUT" || fail "whoami groups: $OUT"
kt "$SA_TOKEN" auth whoami
if [ "$RBAC" = 1 ]; then
  expect_out 0 'system:serviceaccount:default:default' "whoami (SA token)"
  grep -q 'system:serviceaccounts:default' <<< "$OUT" || fail "whoami SA groups: $OUT"
else
  expect_out 1 'do not have permission to call it' "whoami (SA token, no RBAC)"
fi

# --- Impersonation.
k auth whoami --as jane --as-group system:masters
expect_out 0 'Username +jane' "whoami --as"
grep -Eq 'Groups +\[system:masters system:authenticated\]' <<< "$OUT" || fail "--as groups: $OUT"
k get pods --as jane
expect_out 1 'User "jane" cannot list resource "pods" in API group "" in the namespace "default"' \
  "get pods --as jane"
k get pods --as system:serviceaccount:default:default -o name
if [ "$RBAC" = 1 ]; then expect_out 0 '' "get pods --as SA"; else expect_out 1 'forbidden' "get pods --as SA"; fi
if [ "$RBAC" = 1 ]; then
  k auth can-i list pods --as jane
  expect_out 1 '^no' "auth can-i --as jane"
fi
want_code 403 "$SA_TOKEN" /api -H "Impersonate-User: admin"
grep -q 'users \\"admin\\" is forbidden: User \\"system:serviceaccount:default:default\\" cannot impersonate resource \\"users\\" in API group \\"\\" at the cluster scope' <<< "$BODY" ||
  fail "impersonation 403 message: $BODY"

# --- Bootstrap tokens.
GEN=$("$MINI8S" token generate)
grep -Eq '^[a-z0-9]{6}\.[a-z0-9]{16}$' <<< "$GEN" || fail "token generate: $GEN"
BT=$("$MINI8S" token create --kubeconfig "$WORK/kubeconfig" --ttl 1h --description e2e \
  --groups system:bootstrappers:e2e 2>&1)
grep -Eq '^[a-z0-9]{6}\.[a-z0-9]{16}$' <<< "$BT" || fail "token create: $BT"
BT_ID=${BT%%.*}
LIST=$("$MINI8S" token list --data-dir "$WORK/data" --server "https://127.0.0.1:$PORT" 2>&1)
grep -Eq "^$BT +(59m|1h) .* authentication,signing +e2e +system:bootstrappers:e2e$" <<< "$LIST" ||
  fail "token list: $LIST"
k get secret -n kube-system "bootstrap-token-$BT_ID" -o jsonpath='{.type}'
expect_out 0 '^bootstrap.kubernetes.io/token$' "bootstrap secret type"
want_code 200 "$BT" /api
want_code 403 "$BT" /api/v1/namespaces/default/pods
grep -q 'User \\"system:bootstrap:'"$BT_ID"'\\"' <<< "$BODY" || fail "bootstrap user: $BODY"
cat > "$WORK/review2.json" <<EOF
{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"$BT"}}
EOF
k create -f "$WORK/review2.json" -o jsonpath='{.status.user.groups}'
expect_out 0 'system:bootstrappers:e2e' "TokenReview (bootstrap)"
# The join endpoints take it too (an agent with K10<hash>::<id>.<secret> sends node:<id>.<secret>).
want_code 200 "" /v1-mini8s/config -u "node:$BT"
want_code 401 "" /v1-mini8s/config -u "node:${BT_ID}.0000000000000000"
OUT=$("$MINI8S" token delete --kubeconfig "$WORK/kubeconfig" "$BT_ID" 2>&1)
grep -q "bootstrap token \"$BT_ID\" deleted" <<< "$OUT" || fail "token delete: $OUT"
want_code 401 "$BT" /api
want_code 401 "" /v1-mini8s/config -u "node:$BT"
"$MINI8S" token create --kubeconfig "$WORK/kubeconfig" --usages root > /dev/null 2>&1 &&
  fail "token create accepted an unknown usage"

# --- The signing key survives a restart: tokens issued before stay valid. This time with
# --anonymous-auth: requests without credentials are system:anonymous, and the authorizer decides.
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
"$MINI8S" server --data-dir "$WORK/data" --bind-address 127.0.0.1 --https-listen-port "$PORT" \
  --write-kubeconfig "$WORK/kubeconfig" --disable-agent --anonymous-auth \
  >> "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do
  curl -sk --max-time 2 "https://127.0.0.1:$PORT/readyz" | grep -q '^ok$' && break
  sleep 0.05
done
want_code 200 "$SA_TOKEN" /api
want_code 403 "" /api/v1/namespaces/default/pods
grep -q 'User \\"system:anonymous\\" cannot list resource \\"pods\\"' <<< "$BODY" ||
  fail "anonymous 403: $BODY"
want_code 401 "bad-token" /api/v1/namespaces/default/pods

if [ "$FAILURES" -gt 0 ]; then
  echo "---- kubectl log"
  tail -60 "$WORK/kubectl.log"
  echo "---- server log"
  tail -30 "$WORK/server.log"
  echo "$FAILURES failure(s)"
  exit 1
fi
echo "PASS"
exit 0
