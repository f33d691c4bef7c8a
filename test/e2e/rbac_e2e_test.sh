#!/bin/bash
# RBAC with the real kubectl against the real `mini8s server` (docs/design/rbac.md): users from a
# --token-auth-file bound to view, edit, admin and a namespaced Role; `kubectl auth can-i` answers
# both ways, `auth can-i --list`, a verbatim 403, escalation refused with upstream's message, a
# ServiceAccount user (static token), a SubjectAccessReview, and the Node authorizer with a
# kubelet certificate (another node's pod's secret and status refused).
#
# Usage: rbac_e2e_test.sh PATH/TO/mini8s      Exit 0 pass, 1 fail, 77 skipped (no kubectl).
set -u

MINI8S=${1:?usage: $0 PATH/TO/mini8s}
KUBECTL=$(command -v "${KUBECTL:-kubectl}" || true)
if [ -z "$KUBECTL" ]; then
  echo "SKIP: kubectl not found"
  exit 77
fi

WORK=$(mktemp -d /tmp/mini8s-rbac-e2e.XXXXXX)
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

cat > "$WORK/tokens.csv" <<'CSV'
viewer-token,viewer,u1,"devs"
editor-token,editor,u2,"devs"
nsuser-token,nsuser,u3,""
nsadmin-token,nsadmin,u4,""
robot-token,system:serviceaccount:team:robot,u5,"system:serviceaccounts,system:serviceaccounts:team"
CSV

"$MINI8S" server --data-dir "$WORK/data" --bind-address 127.0.0.1 --https-listen-port 0 \
  --write-kubeconfig "$WORK/admin.kubeconfig" --write-kubeconfig-mode 0600 --disable-agent \
  --token-auth-file "$WORK/tokens.csv" > "$WORK/server.log" 2>&1 &
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

CA_DATA=$("$KUBECTL" --kubeconfig="$WORK/admin.kubeconfig" config view --raw \
  -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
# write_kubeconfig NAME USER_YAML: $WORK/NAME.kubeconfig with those credentials.
write_kubeconfig() {
  cat > "$WORK/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mini8s
  cluster: {server: "https://127.0.0.1:$PORT", certificate-authority-data: "$CA_DATA"}
users:
- name: $1
  user: $2
contexts:
- name: $1
  context: {cluster: mini8s, user: $1}
current-context: $1
EOF
}
# A kubeconfig per token user.
for u in viewer editor nsuser nsadmin robot; do
  write_kubeconfig "$u" "{token: \"$u-token\"}"
done

# as USER ARGS...: one bounded kubectl run; output in $OUT, exit code in $RC.
as() {
  local who=$1
  shift
  OUT=$(timeout 30 "$KUBECTL" --kubeconfig="$WORK/$who.kubeconfig" --cache-dir="$WORK/cache-$who" \
    "$@" 2>&1)
  RC=$?
  printf '+ [%s] kubectl %s\n%s\n' "$who" "$*" "$OUT" >> "$WORK/kubectl.log"
}
# can USER yes|no ARGS...: `kubectl auth can-i ARGS` answers yes (exit 0) or no (exit 1).
can() {
  local who=$1 want=$2
  shift 2
  as "$who" auth can-i "$@"
  local want_rc=0
  [ "$want" = no ] && want_rc=1
  if [ "$RC" != "$want_rc" ] || [ "$(tail -1 <<< "$OUT")" != "$want" ]; then
    fail "[$who] auth can-i $* = '$OUT' (exit $RC), want $want"
  fi
}
expect() {  # expect USER WANT_RC PATTERN ARGS...
  local who=$1 want_rc=$2 pattern=$3
  shift 3
  as "$who" "$@"
  if [ "$RC" != "$want_rc" ]; then
    fail "[$who] kubectl $* exited $RC (want $want_rc): $OUT"
  elif ! grep -Eq -- "$pattern" <<< "$OUT"; then
    fail "[$who] kubectl $*: output does not match /$pattern/: $OUT"
  fi
}

# The bootstrap policy and the aggregated roles (filled in by the aggregation controller).
expect admin 0 'cluster-admin' get clusterrole cluster-admin -o name
for _ in $(seq 1 100); do
  as admin get clusterrole admin -o jsonpath='{.rules[*].resources}'
  grep -q deployments <<< "$OUT" && grep -q rolebindings <<< "$OUT" && break
  sleep 0.05
done
grep -q deployments <<< "$OUT" || fail "admin was not aggregated: $OUT"
expect admin 0 'system:masters' get clusterrolebinding cluster-admin -o jsonpath='{.subjects[*].name}'
expect admin 0 'rbac-defaults' get clusterrole view -o jsonpath='{.metadata.labels}'

expect admin 0 'created' create namespace team
expect admin 0 'created' create namespace other
expect admin 0 'created' create clusterrolebinding viewer-view --clusterrole=view --user=viewer
expect admin 0 'created' create rolebinding editor-edit -n team --clusterrole=edit --user=editor
expect admin 0 'created' create rolebinding nsadmin-admin -n team --clusterrole=admin --user=nsadmin
expect admin 0 'created' create role pod-reader -n team --verb=get,list --resource=pods,pods/log
expect admin 0 'created' create role cfg-reader -n team --verb=get --resource=configmaps \
  --resource-name=app-config
expect admin 0 'created' create rolebinding nsuser-pods -n team --role=pod-reader --user=nsuser
expect admin 0 'created' create rolebinding nsuser-cfg -n team --role=cfg-reader --user=nsuser
expect admin 0 'created' create rolebinding robot-pods -n team --role=pod-reader \
  --serviceaccount=team:robot
expect admin 0 'created' create rolebinding team-sas-view -n other --clusterrole=view \
  --group=system:serviceaccounts:team

# view, cluster-wide.
can viewer yes get pods -n team
can viewer yes list deployments.apps --all-namespaces
can viewer yes get pods --subresource=log -n other
can viewer no create pods -n team
can viewer no get secrets -n team
can viewer no delete deployments.apps -n default
can viewer no create clusterroles
# edit, in team only.
can editor yes create deployments.apps -n team
can editor yes get secrets -n team
can editor yes create pods --subresource=exec -n team
can editor yes update deployments.apps --subresource=scale -n team
can editor no create deployments.apps -n default
can editor no create rolebindings.rbac.authorization.k8s.io -n team
can editor no create resourcequotas -n team
# A namespaced Role: verbs, subresources, resourceNames.
can nsuser yes get pods -n team
can nsuser yes list pods -n team
can nsuser yes get pods --subresource=log -n team
can nsuser no delete pods -n team
can nsuser no list pods -n default
can nsuser no get pods --subresource=exec -n team
can nsuser yes get configmaps/app-config -n team
can nsuser no get configmaps/other -n team
can nsuser no list configmaps -n team
# Everyone authenticated: discovery and the self reviews (system:discovery, system:basic-user).
can nsuser yes get /api
can nsuser yes get /healthz
can nsuser no get /metrics
can nsuser yes create selfsubjectrulesreviews.authorization.k8s.io
# A ServiceAccount user: by its own subject, and by its namespace's group.
can robot yes list pods -n team
can robot no list pods -n default
can robot yes list services -n other
can robot no list services -n default

# kubectl auth can-i --list (SelfSubjectRulesReview).
as nsuser auth can-i --list -n team
[ "$RC" = 0 ] || fail "auth can-i --list exited $RC: $OUT"
grep -Eq '^Resources +Non-Resource URLs +Resource Names +Verbs' <<< "$OUT" || fail "--list header: $OUT"
grep -Eq '^pods/log +\[\] +\[\] +\[get list\]' <<< "$OUT" || fail "--list pods/log row: $OUT"
grep -Eq '^configmaps +\[\] +\[app-config\] +\[get\]' <<< "$OUT" || fail "--list configmaps row: $OUT"
grep -Eq '^ +\[/api/\*\] +\[\] +\[get\]' <<< "$OUT" || fail "--list /api/* row: $OUT"
grep -Eq '^selfsubjectaccessreviews.authorization.k8s.io +\[\] +\[\] +\[create\]' <<< "$OUT" ||
  fail "--list selfsubjectaccessreviews row: $OUT"
as nsuser auth can-i --list -n default
grep -q '^pods ' <<< "$OUT" && fail "--list in default shows the team-only pods rule: $OUT"

# A 403 carries upstream's message verbatim.
as viewer create configmap x -n team --from-literal=a=b
[ "$RC" = 1 ] || fail "viewer create configmap exited $RC"
[ "$OUT" = 'error: failed to create configmap: configmaps is forbidden: User "viewer" cannot create resource "configmaps" in API group "" in the namespace "team"' ] ||
  [ "$OUT" = 'Error from server (Forbidden): configmaps is forbidden: User "viewer" cannot create resource "configmaps" in API group "" in the namespace "team"' ] ||
  fail "403 message: $OUT"
as nsuser get pods -n default
[ "$OUT" = 'Error from server (Forbidden): pods is forbidden: User "nsuser" cannot list resource "pods" in API group "" in the namespace "default"' ] ||
  fail "403 list message: $OUT"

# Escalation: nsadmin (admin in team) may grant what it holds, nothing more.
expect nsadmin 0 'created' create role secret-reader -n team --verb=get --resource=secrets
as nsadmin create role node-reader -n team --verb=get --resource=nodes
[ "$RC" = 1 ] || fail "escalating role create exited $RC: $OUT"
OUT=${OUT#error: failed to create role: }
OUT=${OUT#Error from server (Forbidden): }
want='roles.rbac.authorization.k8s.io "node-reader" is forbidden: user "nsadmin" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}'
[ "$OUT" = "$want" ] || fail "role escalation message: $OUT"
as nsadmin create rolebinding grab -n team --clusterrole=cluster-admin --user=nsadmin
[ "$RC" = 1 ] || fail "escalating binding exited $RC: $OUT"
grep -Eq '^(Error from server \(Forbidden\)|error: failed to create rolebinding): rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "nsadmin" \(groups=\["system:authenticated"\]\) is attempting to grant RBAC permissions not currently held:$' <<< "$OUT" ||
  fail "binding escalation message: $OUT"
expect nsadmin 0 'created' create rolebinding share-view -n team --clusterrole=view --user=nsuser
# With `bind` on cluster-admin the same binding passes.
expect admin 0 'created' create role binder -n team --verb=bind \
  --resource=clusterroles.rbac.authorization.k8s.io --resource-name=cluster-admin
expect admin 0 'created' create rolebinding nsadmin-binder -n team --role=binder --user=nsadmin
expect nsadmin 0 'created' create rolebinding grab -n team --clusterrole=cluster-admin --user=nsadmin
can nsadmin yes create roles.rbac.authorization.k8s.io -n team

# SubjectAccessReview by the admin, about viewer.
cat > "$WORK/sar.yaml" <<'YAML'
apiVersion: authorization.k8s.io/v1
kind: SubjectAccessReview
spec:
  user: viewer
  groups: [devs, system:authenticated]
  resourceAttributes: {verb: list, resource: pods, namespace: team}
YAML
expect admin 0 '^true RBAC: allowed by ClusterRoleBinding "viewer-view" of ClusterRole "view" to User "viewer"$' \
  create -f "$WORK/sar.yaml" -o 'jsonpath={.status.allowed} {.status.reason}'
# Creating a SubjectAccessReview is itself authorized: a plain user may not.
as viewer create --validate=false -f "$WORK/sar.yaml" -o name
grep -q 'cannot create resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope' <<< "$OUT" ||
  fail "viewer SubjectAccessReview: $OUT"

# A binding removed is gone from the next decision.
expect admin 0 'deleted' delete rolebinding nsuser-pods share-view -n team
can nsuser no list pods -n team

# The Node authorizer: a kubelet certificate (CN system:node:n1, O system:nodes, signed by the
# client CA as the join endpoint does) reads the secrets and configmaps of pods bound to n1 only,
# and writes the status of its own pods only.
TLS="$WORK/data/server/tls"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$WORK/n1.key" \
  -subj "/O=system:nodes/CN=system:node:n1" -out "$WORK/n1.csr" 2>/dev/null
openssl x509 -req -in "$WORK/n1.csr" -CA "$TLS/client-ca.crt" -CAkey "$TLS/client-ca.key" \
  -CAcreateserial -days 1 -out "$WORK/n1.crt" \
  -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n') \
  2>/dev/null || fail "could not sign a node cert"
write_kubeconfig node1 "{client-certificate: \"$WORK/n1.crt\", client-key: \"$WORK/n1.key\"}"
expect admin 0 'created' create secret generic s-n1 --from-literal=k=v -n team
expect admin 0 'created' create secret generic s-n2 --from-literal=k=v -n team
expect admin 0 'created' create configmap cm-n1 --from-literal=k=v -n team
for n in 1 2; do
  cat > "$WORK/pod-n$n.yaml" <<POD
apiVersion: v1
kind: Pod
metadata: {name: p-n$n, namespace: team}
spec:
  nodeName: n$n
  containers:
  - name: c
    image: busybox
    env: [{name: K, valueFrom: {secretKeyRef: {name: s-n$n, key: k}}}]
    envFrom: [{configMapRef: {name: cm-n$n}}]
POD
  expect admin 0 'created' create -f "$WORK/pod-n$n.yaml"
done
expect node1 0 '^s-n1$' get secret s-n1 -n team -o 'jsonpath={.metadata.name}'
expect node1 0 '^cm-n1$' get configmap cm-n1 -n team -o 'jsonpath={.metadata.name}'
expect node1 1 'secrets "s-n2" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "team"' \
  get secret s-n2 -n team
expect node1 1 'forbidden' get secrets -n team
expect node1 1 'forbidden' get secret unused-secret -n team
expect node1 0 'p-n1' patch pod p-n1 -n team --subresource=status --type=merge \
  -p '{"status":{"message":"seen by n1"}}' -o name
expect node1 1 'forbidden' patch pod p-n2 -n team --subresource=status --type=merge \
  -p '{"status":{"message":"seen by n1"}}'

if [ "$FAILURES" -ne 0 ]; then
  echo "--- kubectl log"; tail -60 "$WORK/kubectl.log"
  echo "--- server log"; tail -30 "$WORK/server.log"
  echo "$FAILURES failure(s)"
  exit 1
fi
echo "PASS"
