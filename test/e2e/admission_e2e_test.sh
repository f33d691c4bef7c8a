#!/bin/bash
# Admission plug-ins end to end: the real `mini8s server` and the real kubectl. PodSecurity
# (enforce refuses, warn prints Warning:), LimitRanger defaults and bounds, ResourceQuota
# exhaustion and used counts (also under concurrent creates), Priority classes, and the
# NamespaceLifecycle guard on default. Messages are checked as kubectl prints them.
#
# Usage: admission_e2e_test.sh PATH/TO/mini8s
# Exit 0 pass, 1 fail, 77 skipped (no kubectl).
set -u

MINI8S=${1:?usage: $0 PATH/TO/mini8s}
KUBECTL=$(command -v "${KUBECTL:-kubectl}" || true)
if [ -z "$KUBECTL" ]; then
  echo "SKIP: kubectl not found"
  exit 77
fi

WORK=$(mktemp -d /tmp/mini8s-admission-e2e.XXXXXX)
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
# k ARGS...: one bounded kubectl run; stdout+stderr in $OUT, exit code in $RC.
k() {
  OUT=$(timeout 30 "$KUBECTL" --kubeconfig="$WORK/kubeconfig" --cache-dir="$WORK/cache" "$@" 2>&1)
  RC=$?
  { echo "+ kubectl $*"; echo "$OUT"; } >> "$WORK/kubectl.log"
}
# expect WANT_RC PATTERN ARGS...: runs kubectl and checks the exit code and a regex (grep -E)
# on the combined output.
expect() {
  local want_rc=$1 pattern=$2
  shift 2
  k "$@"
  if [ "$RC" != "$want_rc" ]; then
    fail "kubectl $* exited $RC (want $want_rc): $OUT"
  elif ! grep -Eq -- "$pattern" <<< "$OUT"; then
    fail "kubectl $*: output does not match /$pattern/: $OUT"
  fi
}
# expect_fixed WANT_RC TEXT ARGS...: as expect, with a fixed string.
expect_fixed() {
  local want_rc=$1 text=$2
  shift 2
  k "$@"
  if [ "$RC" != "$want_rc" ]; then
    fail "kubectl $* exited $RC (want $want_rc): $OUT"
  elif ! grep -Fq -- "$text" <<< "$OUT"; then
    fail "kubectl $*: output does not contain '$text': $OUT"
  fi
}
# eventually SECONDS PATTERN ARGS...: retries `expect 0` until it matches (controller work).
eventually() {
  local secs=$1 pattern=$2
  shift 2
  for _ in $(seq 1 $((secs * 5))); do
    k "$@"
    if [ "$RC" = 0 ] && grep -Eq -- "$pattern" <<< "$OUT"; then return 0; fi
    sleep 0.2
  done
  fail "kubectl $*: never matched /$pattern/: $OUT"
}

"$MINI8S" server --data-dir "$WORK/data" --bind-address 127.0.0.1 --https-listen-port 0 \
  --write-kubeconfig "$WORK/kubeconfig" --disable-agent > "$WORK/server.log" 2>&1 &
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

pod_yaml() {  # NAME NAMESPACE [extra container lines...]
  local name=$1 ns=$2
  shift 2
  printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  containers:\n  - name: c\n    image: busybox\n' "$name" "$ns"
  for line in "$@"; do printf '    %s\n' "$line"; done
}

# --- NamespaceLifecycle ---------------------------------------------------------------------
expect_fixed 1 'Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted' \
  delete ns default
expect 0 'kube-system' get ns kube-system

# --- PodSecurity ----------------------------------------------------------------------------
expect 0 'namespace/locked created' create ns locked
expect 0 'namespace/locked labeled' label ns locked pod-security.kubernetes.io/enforce=restricted
pod_yaml priv locked 'securityContext:' '  privileged: true' > "$WORK/priv.yaml"
expect_fixed 1 'pods "priv" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")' \
  apply -f "$WORK/priv.yaml"
pod_yaml good locked 'securityContext:' '  allowPrivilegeEscalation: false' '  runAsNonRoot: true' \
  '  seccompProfile: {type: RuntimeDefault}' '  capabilities: {drop: [ALL]}' > "$WORK/good.yaml"
expect 0 'pod/good created' apply -f "$WORK/good.yaml"

expect 0 'namespace/warned created' create ns warned
expect 0 'labeled' label ns warned pod-security.kubernetes.io/warn=baseline
pod_yaml hostnet warned > "$WORK/hostnet.yaml"
sed -i 's/^spec:$/spec:\n  hostNetwork: true/' "$WORK/hostnet.yaml"
expect 0 'Warning: would violate PodSecurity "baseline:latest": host namespaces \(hostNetwork=true\)' \
  apply -f "$WORK/hostnet.yaml"
grep -q 'pod/hostnet created' <<< "$OUT" || fail "warned pod not created: $OUT"
# Tightening enforce warns about the pods already there.
expect 0 'Warning: existing pods in namespace "warned" violate the new PodSecurity enforce level "baseline:latest"' \
  label ns warned pod-security.kubernetes.io/enforce=baseline
grep -q 'Warning: hostnet: host namespaces' <<< "$OUT" || fail "no per-pod warning: $OUT"
# Workloads are warned about, never refused.
expect 0 'Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false' \
  create deployment web -n locked --image=busybox

# --- LimitRanger ----------------------------------------------------------------------------
expect 0 'namespace/limits created' create ns limits
cat > "$WORK/lr.yaml" <<'YAML'
apiVersion: v1
kind: LimitRange
metadata:
  name: lr
  namespace: limits
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 100m}
    max: {cpu: "1"}
YAML
expect 0 'limitrange/lr created' apply -f "$WORK/lr.yaml"
pod_yaml plain limits > "$WORK/plain.yaml"
expect 0 'pod/plain created' apply -f "$WORK/plain.yaml"
expect 0 'cpu: 500m' get pod plain -n limits -o yaml
grep -q 'memory: 256Mi' <<< "$OUT" || fail "no default memory limit in: $OUT"
grep -q 'cpu: 100m' <<< "$OUT" || fail "no default cpu request in: $OUT"
grep -q 'qosClass: Burstable' <<< "$OUT" || fail "QoS class does not follow the defaults: $OUT"
expect 0 '^LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c$' \
  get pod plain -n limits -o 'jsonpath={.metadata.annotations.kubernetes\.io/limit-ranger}'
pod_yaml big limits 'resources: {limits: {cpu: "2"}}' > "$WORK/big.yaml"
expect_fixed 1 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2' \
  apply -f "$WORK/big.yaml"

# --- ResourceQuota --------------------------------------------------------------------------
expect 0 'namespace/quota created' create ns quota
expect 0 'resourcequota/q created' create quota q -n quota --hard=pods=2,count/configmaps=3
eventually 10 'pods: 0/2' get quota -n quota
expect 0 'pod/p1 created' run p1 -n quota --image=busybox
expect 0 'pod/p2 created' run p2 -n quota --image=busybox
expect_fixed 1 'pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2' \
  run p3 -n quota --image=busybox
expect 0 'pods: 2/2' get quota q -n quota
expect 0 'pods +2 +2' describe quota q -n quota
# Concurrent creates: exactly the free slots are taken (the root-ca publisher may have made one).
k get configmaps -n quota -o name
BEFORE=$(grep -c '^configmap/' <<< "$OUT")
PIDS=()
for i in 1 2 3 4 5 6; do
  ( timeout 30 "$KUBECTL" --kubeconfig="$WORK/kubeconfig" --cache-dir="$WORK/cache-$i" \
      create configmap "cm$i" -n quota > "$WORK/cm$i.out" 2>&1; echo $? > "$WORK/cm$i.rc" ) &
  PIDS+=($!)
done
wait "${PIDS[@]}"
OK_COUNT=$(cat "$WORK"/cm*.rc | grep -c '^0$')
[ "$OK_COUNT" = $((3 - BEFORE)) ] || fail "concurrent configmaps admitted: $OK_COUNT, want $((3 - BEFORE))"
grep -hq 'exceeded quota: q, requested: count/configmaps=1, used: count/configmaps=3, limited: count/configmaps=3' "$WORK"/cm*.out ||
  fail "no quota refusal among: $(cat "$WORK"/cm*.out)"
# A deleted pod is given back by the quota controller.
expect 0 'pod "p1" deleted' delete pod p1 -n quota
eventually 20 'pods: 1/2' get quota q -n quota

# --- Priority -------------------------------------------------------------------------------
expect 0 'system-node-critical +2000001000 +false' get priorityclass
grep -Eq 'system-cluster-critical +2000000000' <<< "$OUT" || fail "no system-cluster-critical: $OUT"
pod_yaml crit kube-system > "$WORK/crit.yaml"
sed -i 's/^spec:$/spec:\n  priorityClassName: system-cluster-critical/' "$WORK/crit.yaml"
expect 0 'pod/crit created' apply -f "$WORK/crit.yaml"
expect 0 '^2000000000 PreemptLowerPriority$' get pod crit -n kube-system \
  -o 'jsonpath={.spec.priority} {.spec.preemptionPolicy}'
sed -i 's/name: crit/name: gold/; s/system-cluster-critical/gold/' "$WORK/crit.yaml"
expect_fixed 1 'pods "gold" is forbidden: no PriorityClass with name gold was found' \
  apply -f "$WORK/crit.yaml"
expect 0 '^0$' get pod plain -n limits -o 'jsonpath={.spec.priority}'
expect 0 'priorityclass.scheduling.k8s.io/dflt created' create priorityclass dflt --value=7 --global-default
expect 0 'pod/late created' run late -n limits --image=busybox
expect 0 '^7 dflt$' get pod late -n limits -o 'jsonpath={.spec.priority} {.spec.priorityClassName}'
expect_fixed 1 'priorityclasses.scheduling.k8s.io "dflt2" is forbidden: PriorityClass dflt is already marked as default. Only one default can exist' \
  create priorityclass dflt2 --value=8 --global-default

if [ "$FAILURES" -gt 0 ]; then
  echo "---- server log"
  tail -30 "$WORK/server.log"
  echo "$FAILURES failure(s)"
  exit 1
fi
echo "PASS"
exit 0
