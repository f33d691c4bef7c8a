#!/bin/bash
# The control plane end to end: the real `mini8s server` (controllers and scheduler in process)
# plus `mini8s agent --simulate 3` (hollow nodes that "run" bound pods), driven by the real
# kubectl: deployments (create, scale, set image, rollout status/history/undo/restart), a
# DaemonSet on every node, a StatefulSet in order with bound PVCs, a Job and a CronJob, services
# with endpoints, garbage collection, namespace deletion, and a stopped node whose pods move.
#
# Usage: [KUBECTL=kubectl.1.27] controllers_e2e_test.sh PATH/TO/mini8s
# Exit 0 pass, 1 fail, 77 skipped (no kubectl).
set -u

MINI8S=${1:?usage: $0 PATH/TO/mini8s}
KUBECTL=$(command -v "${KUBECTL:-kubectl}" || true)
if [ -z "$KUBECTL" ]; then
  echo "SKIP: kubectl not found"
  exit 77
fi

WORK=$(mktemp -d /tmp/mini8s-ctrl-e2e.XXXXXX)
SERVER_PID=""
AGENT_PID=""
AGENT2_PID=""
cleanup() {
  for p in "$AGENT_PID" "$AGENT2_PID" "$SERVER_PID"; do
    [ -n "$p" ] && kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  if [ "${FAILURES:-0}" != 0 ]; then
    echo "--- server log (tail)"; tail -40 "$WORK/server.log"
    echo "--- agent log (tail)"; tail -20 "$WORK/agent.log"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

FAILURES=0
fail() {
  echo "FAIL: $*"
  FAILURES=$((FAILURES + 1))
}
# matches PATTERN: $OUT matches line by line, or as one line (patterns that span lines).
matches() {
  grep -Eq -- "$1" <<< "$OUT" || grep -Eq -- "$1" <<< "$(tr '\n' ' ' <<< "$OUT")"
}
k() {
  OUT=$(timeout 60 "$KUBECTL" --kubeconfig="$WORK/kubeconfig" --cache-dir="$WORK/cache" "$@" 2>&1)
  RC=$?
  { echo "+ kubectl $*"; echo "$OUT"; } >> "$WORK/kubectl.log"
}
expect() {
  local want_rc=$1 pattern=$2
  shift 2
  k "$@"
  if [ "$RC" != "$want_rc" ]; then
    fail "kubectl $* exited $RC (want $want_rc): $OUT"
  elif ! matches "$pattern"; then
    fail "kubectl $*: output does not match /$pattern/: $OUT"
  fi
}
# eventually SECONDS PATTERN ARGS...: re-runs kubectl until its output matches (bounded).
eventually() {
  local secs=$1 pattern=$2
  shift 2
  local end=$((SECONDS + secs))
  while :; do
    k "$@"
    if [ "$RC" = 0 ] && matches "$pattern"; then return 0; fi
    if [ $SECONDS -ge $end ]; then
      fail "kubectl $*: no /$pattern/ within ${secs}s: $OUT"
      return 1
    fi
    sleep 0.5
  done
}

"$MINI8S" server --data-dir "$WORK/data" --bind-address 127.0.0.1 --https-listen-port 0 \
  --write-kubeconfig "$WORK/kubeconfig" --disable-agent \
  --node-monitor-grace-period 20s --default-unreachable-toleration-seconds 2 \
  > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 200); do
  PORT=$(grep -o 'ready: https://127.0.0.1:[0-9]*' "$WORK/server.log" 2>/dev/null | sed 's/.*://')
  [ -n "$PORT" ] && break
  sleep 0.05
done
if [ -z "$PORT" ]; then
  echo "FAIL: server did not become ready"; cat "$WORK/server.log"; exit 1
fi
URL="https://127.0.0.1:$PORT"
TOKEN=$(cat "$WORK/data/server/node-token")

"$MINI8S" agent --simulate 3 --server "$URL" --token "$TOKEN" --node-name sim \
  --data-dir "$WORK/agent" > "$WORK/agent.log" 2>&1 &
AGENT_PID=$!
eventually 20 '(sim-[0-9]+ +Ready.*){3}' get nodes --no-headers

echo "== core objects every namespace gets"
eventually 10 'default' get serviceaccount default -o name
eventually 10 'kube-root-ca.crt' get configmap kube-root-ca.crt -n kube-public -o name
expect 0 '10\.43\.0\.1' get service kubernetes
eventually 10 "127.0.0.1:$PORT" get endpoints kubernetes
expect 0 'local-path \(default\)' get storageclass

echo "== deployment: create, scale, set image, rollout"
expect 0 'created' create deployment web --image=nginx:1.26 --replicas=4 --port=80
k rollout status deployment/web --timeout=30s
[ "$RC" = 0 ] && grep -q 'successfully rolled out' <<< "$OUT" || fail "rollout status: $OUT"
expect 0 '4/4' get deployment web
expect 0 '^4$' get pods -l app=web --field-selector=status.phase=Running -o go-template='{{len .items}}'
expect 0 'scaled' scale deployment web --replicas=6
eventually 20 '6/6' get deployment web
expect 0 'image updated' set image deployment/web nginx=nginx:1.27
k rollout status deployment/web --timeout=30s
[ "$RC" = 0 ] || fail "rollout status after set image: $OUT"
expect 0 'nginx:1.27' get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}'
expect 0 '^2$' get rs -l app=web --no-headers -o go-template='{{len .items}}'
expect 0 '1 +<none>' rollout history deployment/web
expect 0 '2 +<none>' rollout history deployment/web
expect 0 'rolled back' rollout undo deployment/web
k rollout status deployment/web --timeout=30s
[ "$RC" = 0 ] || fail "rollout status after undo: $OUT"
expect 0 'nginx:1.26' get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}'
expect 0 '3' get deployment web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}'
expect 0 'restarted' rollout restart deployment/web
k rollout status deployment/web --timeout=30s
[ "$RC" = 0 ] || fail "rollout status after restart: $OUT"
expect 0 'ScalingReplicaSet' describe deployment web
expect 0 'Successfully assigned default/web-' get events --field-selector reason=Scheduled

echo "== service endpoints follow the pods"
expect 0 'exposed' expose deployment web --port 80 --type NodePort
expect 0 '10\.43\.[0-9]+\.[0-9]+ +<none> +80:3[0-9]{4}/TCP' get service web
eventually 10 '(10\.42\.[0-9]+\.[0-9]+:80,?){3}' get endpoints web
eventually 10 'web-' get endpointslices -l kubernetes.io/service-name=web -o name

echo "== daemonset lands on every node"
cat > "$WORK/ds.yaml" <<'YAML'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: busybox}]}
YAML
expect 0 'created' apply -f "$WORK/ds.yaml"
k rollout status daemonset/agent --timeout=30s
[ "$RC" = 0 ] || fail "ds rollout status: $OUT"
expect 0 'sim-0' get pods -l app=agent -o wide
expect 0 'sim-1' get pods -l app=agent -o wide
expect 0 'sim-2' get pods -l app=agent -o wide

echo "== statefulset comes up in order with bound claims"
cat > "$WORK/sts.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: pg, image: postgres, ports: [{containerPort: 5432}]}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
YAML
expect 0 'statefulset.apps/db created' apply -f "$WORK/sts.yaml"
k rollout status statefulset/db --timeout=40s
[ "$RC" = 0 ] || fail "sts rollout status: $OUT"
expect 0 'db-0.*db-1.*db-2' get pods -l app=db --sort-by=.metadata.creationTimestamp -o name
expect 0 '(Bound.*local-path.*){3}' get pvc
expect 0 'data-db-0' get pv
k get events --field-selector involvedObject.name=db,reason=SuccessfulCreate
for i in 0 1 2; do
  grep -q "create Pod db-$i in StatefulSet db successful" <<< "$OUT" || fail "no create event for db-$i: $OUT"
done

echo "== job completes, cronjob fires"
expect 0 'created' create job once --image=busybox -- true
k wait --for=condition=complete job/once --timeout=30s
[ "$RC" = 0 ] || fail "job did not complete: $OUT"
expect 0 '1/1' get job once
expect 0 'created' create cronjob tick --image=busybox --schedule='* * * * *' -- true
# The first run is at the next minute boundary: up to 60 s away.
eventually 75 'tick-[0-9]+' get jobs -o name
eventually 20 'tick-[0-9]+ +Complete' get jobs

echo "== deleting a deployment removes its replicasets and pods"
expect 0 'deleted' delete deployment web --wait=true --timeout=30s
eventually 20 '^0$' get rs,pods -l app=web --no-headers -o go-template='{{len .items}}'

echo "== deleting a namespace removes everything in it"
expect 0 'created' create namespace scratch
expect 0 'created' create deployment tmp --image=busybox --replicas=2 -n scratch
expect 0 'created' create configmap c1 --from-literal=a=b -n scratch
eventually 20 '2/2' get deployment tmp -n scratch
expect 0 'deleted' delete namespace scratch --timeout=60s
k get namespace scratch
[ "$RC" != 0 ] && grep -q 'NotFound' <<< "$OUT" || fail "namespace scratch still there: $OUT"
k get pods,rs,configmaps -n scratch --no-headers
[ -z "$(grep -v 'No resources found' <<< "$OUT")" ] || fail "objects left in scratch: $OUT"

echo "== a stopped node goes NotReady and its pods are replaced elsewhere"
"$MINI8S" agent --simulate 1 --server "$URL" --token "$TOKEN" --node-name lone \
  --data-dir "$WORK/agent2" > "$WORK/agent2.log" 2>&1 &
AGENT2_PID=$!
eventually 20 'lone-0 +Ready' get nodes --no-headers
expect 0 'created' create deployment pinned --image=busybox --replicas=1
expect 0 'patched' patch deployment pinned -p \
  '{"spec":{"template":{"spec":{"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":100,"preference":{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["lone-0"]}]}}]}}}}}}'
eventually 30 'lone-0' get pods -l app=pinned -o wide --field-selector=status.phase=Running
kill -KILL "$AGENT2_PID"; wait "$AGENT2_PID" 2>/dev/null; AGENT2_PID=""
eventually 40 'lone-0 +NotReady' get nodes --no-headers
expect 0 'node.kubernetes.io/unreachable' get node lone-0 -o jsonpath='{.spec.taints}'
eventually 40 'sim-[0-9]' get pods -l app=pinned -o wide --field-selector=status.phase=Running

if [ "$FAILURES" != 0 ]; then
  echo "$FAILURES failure(s); kubectl log:"; tail -60 "$WORK/kubectl.log"
  exit 1
fi
echo "PASS"
