#!/bin/bash
# The real `mini8s server` binary and the real kubectl: start on a free port with a private data
# dir and kubeconfig, wait for /readyz, then run the everyday kubectl commands and check their
# output. kubectl runs with its default --validate=strict (served through /openapi/v3).
#
# Usage: [KUBECTL=kubectl.1.27] kubectl_basic_test.sh PATH/TO/mini8s
# KUBECTL names the client to drive (a path or a name on PATH, or beside the kubectl
# dispatcher); default: kubectl.
# Exit 0 pass, 1 fail, 77 skipped (that kubectl is not on this machine).
set -u

MINI8S=${1:?usage: $0 PATH/TO/mini8s}
KUBECTL_NAME=${KUBECTL:-kubectl}
KUBECTL=$(command -v "$KUBECTL_NAME" || true)
if [ -z "$KUBECTL" ] && command -v kubectl > /dev/null; then
  # Versioned binaries (kubectl.1.27, ...) live beside the real kubectl, not on PATH.
  KUBECTL_DIR=$(dirname "$(readlink -f "$(command -v kubectl)")")
  [ -x "$KUBECTL_DIR/$KUBECTL_NAME" ] && KUBECTL="$KUBECTL_DIR/$KUBECTL_NAME"
fi
if [ -z "$KUBECTL" ]; then
  echo "SKIP: $KUBECTL_NAME not found"
  exit 77
fi
# Client minor version, for the few outputs that legitimately differ between releases.
KMINOR=$("$KUBECTL" version --client -o json 2>/dev/null |
  sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | head -1)
echo "client: $KUBECTL (1.${KMINOR:-?})"

WORK=$(mktemp -d /tmp/mini8s-kubectl-e2e.XXXXXX)
SERVER_PID=""
WATCH_PID=""
cleanup() {
  [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null
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

# k ARGS...: one bounded kubectl run; stdout+stderr in $OUT, exit code in $RC.
k() {
  OUT=$(timeout 30 "$KUBECTL" --kubeconfig="$WORK/kubeconfig" --cache-dir="$WORK/cache" "$@" 2>&1)
  RC=$?
  echo "+ kubectl $*" >> "$WORK/kubectl.log"
  echo "$OUT" >> "$WORK/kubectl.log"
}
# expect WANT_RC PATTERN ARGS...: runs kubectl and checks the exit code and a regex on the output.
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

START_NS=$(date +%s%N)
"$MINI8S" server --data-dir "$WORK/data" --bind-address 127.0.0.1 --https-listen-port 0 \
  --write-kubeconfig "$WORK/kubeconfig" --write-kubeconfig-mode 0600 --disable-agent \
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
READY_MS=$(( ($(date +%s%N) - START_NS) / 1000000 ))
RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
echo "ready in ${READY_MS}ms, idle RSS ${RSS_KB}KiB, port $PORT"

# Files and modes of the first start.
[ "$(stat -c %a "$WORK/kubeconfig")" = 600 ] || fail "kubeconfig mode is not 600"
grep -Eq '^K10[0-9a-f]{64}::server:[0-9a-f]+$' "$WORK/data/server/node-token" ||
  fail "node-token format: $(cat "$WORK/data/server/node-token")"
[ -f "$WORK/data/server/db/state.db" ] || fail "no state.db"
[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/api/v1/pods")" = 401 ] ||
  fail "anonymous list is not 401"

if [ "${KMINOR:-0}" -lt 28 ]; then
  # Before 1.28 `kubectl version` prints the whole version.Info struct.
  expect 0 'Server Version: version\.Info\{Major:"1", Minor:"32", GitVersion:"v1\.32\.' version
else
  expect 0 'Server Version: v1\.32\.' version
fi
expect 0 'deployments +deploy +apps/v1 +true +Deployment' api-resources
expect 0 'kube-system' get ns
expect 0 'default' get namespaces -o name

cat > "$WORK/deploy.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: c, image: "nginx:1.25"}
YAML
cat > "$WORK/pod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: p1, labels: {app: web}}
spec:
  containers:
  - {name: c, image: busybox}
YAML
cat > "$WORK/bad.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  replicas: -1
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
      - {name: c, image: nginx}
YAML

expect 0 'deployment.apps/web created' apply -f "$WORK/deploy.yaml"
expect 0 'deployment.apps/web unchanged' apply -f "$WORK/deploy.yaml"
sed -i 's/replicas: 1/replicas: 2/' "$WORK/deploy.yaml"
expect 0 'deployment.apps/web configured' apply -f "$WORK/deploy.yaml"
expect 0 '^2 2$' get deploy web -o 'jsonpath={.spec.replicas} {.metadata.generation}'
expect 0 'pod/p1 created' create -f "$WORK/pod.yaml"
expect 1 'AlreadyExists.*pods "p1" already exists' create -f "$WORK/pod.yaml"
expect 1 'The Deployment "bad" is invalid' create -f "$WORK/bad.yaml"
expect 1 'spec.replicas: Invalid value: -1' create -f "$WORK/bad.yaml"
expect 1 'NotFound.*pods "nope" not found' get pod nope

cat > "$WORK/unknown.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: unk}
bogus: 1
YAML
expect 1 'strict decoding error: unknown field "bogus"' create -f "$WORK/unknown.yaml"
expect 0 'configmap/unk created' create -f "$WORK/unknown.yaml" --validate=false
expect 0 'NAME +READY +STATUS +RESTARTS +AGE' get pods
expect 0 'p1 +0/1 +Pending' get pods
# No nodes in this test: the controllers create the pods, which stay Pending.
expect 0 'web +0/2 +[0-2] +0 .*nginx:1.25 +app=web' get deploy -o wide
expect 0 '^web +0/2 .* +app=web,tier=front$' get deploy web --show-labels
expect 0 'kube-system +Active' get ns
expect 0 'FIELD: +replicas <integer>' explain deployment.spec.replicas
expect 0 'name: p1' get pod p1 -o yaml
expect 0 '"kind": "Pod"' get pod p1 -o json
expect 0 '^pod/p1$' get pods -l app=web -o name
expect 0 '^deployment.apps/web$' get deploy -l tier=front -o name
expect 0 '^pod/p1$' get pods --field-selector metadata.name=p1 -o name
expect 1 'field label not supported: spec.bogus' get pods --field-selector spec.bogus=x

expect 0 'pod/p1 labeled' label pod p1 color=blue
expect 0 '^blue$' get pod p1 -o 'jsonpath={.metadata.labels.color}'
if [ "${KMINOR:-0}" = 27 ]; then
  # kubectl 1.27's own message lacks the "d" (kubernetes/kubectl#1462, fixed in 1.28).
  expect 0 '^pod/p1 annotate$' annotate pod p1 note=hello
else
  expect 0 'pod/p1 annotated' annotate pod p1 note=hello
fi
expect 0 '^hello$' get pod p1 -o 'jsonpath={.metadata.annotations.note}'
expect 0 'deployment.apps/web patched' patch deploy web --type merge -p '{"spec":{"replicas":3}}'
expect 0 'deployment.apps/web patched' patch deploy web --type json \
  -p '[{"op":"replace","path":"/spec/replicas","value":4}]'
expect 0 'deployment.apps/web patched' patch deploy web \
  -p '{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:1.27"}]}}}}'
expect 0 '^4 nginx:1.27$' get deploy web \
  -o 'jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}'
expect 0 'deployment.apps/web scaled' scale deploy web --replicas=5
expect 0 '^5$' get deploy web -o 'jsonpath={.spec.replicas}'

# Server-side apply: created, then a conflict with another manager, then forced.
sed 's/name: web$/name: ssa/' "$WORK/deploy.yaml" > "$WORK/ssa.yaml"
expect 0 'deployment.apps/ssa serverside-applied' apply --server-side -f "$WORK/ssa.yaml"
sed -i 's/replicas: 2/replicas: 6/' "$WORK/ssa.yaml"
expect 1 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas' \
  apply --server-side --field-manager=other -f "$WORK/ssa.yaml"
expect 0 'serverside-applied' apply --server-side --field-manager=other --force-conflicts \
  -f "$WORK/ssa.yaml"
expect 0 '^6$' get deploy ssa -o 'jsonpath={.spec.replicas}'

# replace with a stale resourceVersion is a 409 with upstream's message; a fresh one works.
k get deploy web -o yaml
echo "$OUT" > "$WORK/live.yaml"
expect 0 'deployment.apps/web replaced' replace -f "$WORK/live.yaml"
expect 1 'Conflict.*the object has been modified' replace -f "$WORK/live.yaml"
expect 0 'deployment.apps/web replaced' replace -f "$WORK/deploy.yaml"
expect 0 '^2$' get deploy web -o 'jsonpath={.spec.replicas}'

# Imperative generators send protobuf bodies (kubectl 1.32).
expect 0 'namespace/e2e created' create namespace e2e
expect 0 'configmap/cm1 created' create configmap cm1 -n e2e --from-literal=a=b
expect 0 '^b$' get configmap cm1 -n e2e -o 'jsonpath={.data.a}'
expect 0 'secret/s1 created' create secret generic s1 -n e2e --from-literal=k=v
expect 0 'deployment.apps/d1 created' create deployment d1 -n e2e --image=nginx
expect 0 '^nginx$' get deploy d1 -n e2e -o 'jsonpath={.spec.template.spec.containers[0].image}'

# describe: a few lines of a deployment and a config map.
k describe deploy d1 -n e2e
for want in '^Name: +d1$' '^Namespace: +e2e$' '^Selector: +app=d1$' \
  '^Replicas: +1 desired' '^ +Image: +nginx$'; do
  grep -Eq -- "$want" <<< "$OUT" || fail "describe deploy: no /$want/ in: $OUT"
done
k describe configmap cm1 -n e2e
for want in '^Name: +cm1$' '^Data$' '^a:$' '^b$'; do
  grep -Eq -- "$want" <<< "$OUT" || fail "describe configmap: no /$want/ in: $OUT"
done

# edit through KUBE_EDITOR: a sed script adds a label to the deployment's own labels.
cat > "$WORK/editor.sh" <<'SH'
#!/bin/sh
exec sed -i 's/^    app: d1$/    app: d1\n    edited: "yes"/' "$1"
SH
chmod +x "$WORK/editor.sh"
KUBE_EDITOR="$WORK/editor.sh" expect 0 'deployment.apps/d1 edited' edit deploy d1 -n e2e
expect 0 '^yes$' get deploy d1 -n e2e -o 'jsonpath={.metadata.labels.edited}'

# Every `kubectl create` generator, read back.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=e2e.example \
  -keyout "$WORK/tls.key" -out "$WORK/tls.crt" > /dev/null 2>&1 || fail "openssl req"
expect 0 'secret/tls1 created' create secret tls tls1 -n e2e --cert="$WORK/tls.crt" \
  --key="$WORK/tls.key"
expect 0 '^kubernetes.io/tls$' get secret tls1 -n e2e -o 'jsonpath={.type}'
expect 0 'secret/reg1 created' create secret docker-registry reg1 -n e2e \
  --docker-server=registry.example --docker-username=u --docker-password=p
expect 0 '^kubernetes.io/dockerconfigjson$' get secret reg1 -n e2e -o 'jsonpath={.type}'
expect 0 '^v$' get secret s1 -n e2e -o 'go-template={{.data.k | base64decode}}'
expect 0 'service/svc1 created' create service clusterip svc1 -n e2e --tcp=80:8080
expect 0 '^ClusterIP 80 8080$' get svc svc1 -n e2e \
  -o 'jsonpath={.spec.type} {.spec.ports[0].port} {.spec.ports[0].targetPort}'
expect 0 'service/svc2 created' create service nodeport svc2 -n e2e --tcp=81:8081
expect 0 '^NodePort 81$' get svc svc2 -n e2e -o 'jsonpath={.spec.type} {.spec.ports[0].port}'
expect 0 'serviceaccount/sa1 created' create serviceaccount sa1 -n e2e
expect 0 '^sa1$' get serviceaccount sa1 -n e2e -o 'jsonpath={.metadata.name}'
expect 0 'job.batch/j1 created' create job j1 -n e2e --image=busybox -- true
expect 0 '^busybox$' get job j1 -n e2e -o 'jsonpath={.spec.template.spec.containers[0].image}'
expect 0 'cronjob.batch/cj1 created' create cronjob cj1 -n e2e --image=busybox \
  --schedule='*/5 * * * *'
expect 0 '^\*/5 \* \* \* \*$' get cronjob cj1 -n e2e -o 'jsonpath={.spec.schedule}'
expect 0 'role.rbac.authorization.k8s.io/r1 created' create role r1 -n e2e --verb=get \
  --resource=pods
expect 0 '^get pods$' get role r1 -n e2e -o 'jsonpath={.rules[0].verbs[0]} {.rules[0].resources[0]}'
expect 0 'rolebinding.rbac.authorization.k8s.io/rb1 created' create rolebinding rb1 -n e2e \
  --role=r1 --user=alice
expect 0 '^r1 alice$' get rolebinding rb1 -n e2e -o 'jsonpath={.roleRef.name} {.subjects[0].name}'
expect 0 'clusterrole.rbac.authorization.k8s.io/cr1 created' create clusterrole cr1 --verb=list \
  --resource=nodes
expect 0 '^list nodes$' get clusterrole cr1 \
  -o 'jsonpath={.rules[0].verbs[0]} {.rules[0].resources[0]}'
expect 0 'clusterrolebinding.rbac.authorization.k8s.io/crb1 created' create clusterrolebinding \
  crb1 --clusterrole=cr1 --group=devs
expect 0 '^cr1 devs$' get clusterrolebinding crb1 \
  -o 'jsonpath={.roleRef.name} {.subjects[0].name}'
expect 0 'resourcequota/q1 created' create quota q1 -n e2e --hard=pods=10
expect 0 '^10$' get quota q1 -n e2e -o 'jsonpath={.spec.hard.pods}'
expect 0 'priorityclass.scheduling.k8s.io/pc1 created' create priorityclass pc1 --value=1000
expect 0 '^1000$' get priorityclass pc1 -o 'jsonpath={.value}'
expect 0 'poddisruptionbudget.policy/pdb1 created' create poddisruptionbudget pdb1 -n e2e \
  --selector=app=d1 --min-available=1
expect 0 '^1 d1$' get pdb pdb1 -n e2e \
  -o 'jsonpath={.spec.minAvailable} {.spec.selector.matchLabels.app}'
expect 0 'ingress.networking.k8s.io/ing1 created' create ingress ing1 -n e2e \
  --rule='e2e.example/=svc1:80'
expect 0 '^e2e.example svc1$' get ingress ing1 -n e2e \
  -o 'jsonpath={.spec.rules[0].host} {.spec.rules[0].http.paths[0].backend.service.name}'
# TokenRequest (serviceaccounts/token, protobuf body): kubectl prints the JWT
# (test/e2e/tokens_e2e_test.sh covers using it).
expect 0 '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' create token sa1 -n e2e
grep -qiE 'panic|goroutine' <<< "$OUT" && fail "create token crashed kubectl: $OUT"

# get -w sees an event that arrives after it started.
timeout 20 "$KUBECTL" --kubeconfig="$WORK/kubeconfig" --cache-dir="$WORK/cache" \
  get configmaps -n e2e -w > "$WORK/watch.out" 2>&1 &
WATCH_PID=$!
for _ in $(seq 1 100); do grep -q '^cm1 ' "$WORK/watch.out" 2>/dev/null && break; sleep 0.05; done
expect 0 'configmap/cm2 created' create configmap cm2 -n e2e --from-literal=x=y
for _ in $(seq 1 100); do grep -q '^cm2 ' "$WORK/watch.out" 2>/dev/null && break; sleep 0.05; done
grep -Eq '^cm2 +1 ' "$WORK/watch.out" || fail "get -w did not show cm2: $(cat "$WORK/watch.out")"
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null
WATCH_PID=""

# A CRD is served as soon as it is created.
cat > "$WORK/crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              cronSpec: {type: string}
YAML
cat > "$WORK/cr.yaml" <<'YAML'
apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: c1}
spec: {cronSpec: "* * * * *"}
YAML
expect 0 'customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created' \
  apply -f "$WORK/crd.yaml"
expect 0 'crontab.stable.example.com/c1 created' apply -f "$WORK/cr.yaml"
expect 0 '^c1 ' get ct
expect 0 'crontab.stable.example.com/c1 labeled' label ct c1 x=y
# Deleting the CRD deletes its objects: recreated, it serves an empty collection.
expect 0 'customresourcedefinition.apiextensions.k8s.io "crontabs.stable.example.com" deleted' \
  delete crd crontabs.stable.example.com --wait=true
expect 1 'NotFound' get crd crontabs.stable.example.com
expect 0 'created' apply -f "$WORK/crd.yaml"
for _ in $(seq 1 100); do k get ct; [ "$RC" = 0 ] && break; sleep 0.05; done
expect 0 'No resources found in default namespace' get ct

expect 0 'pod "p1" deleted' delete pod p1 --wait=true
expect 1 'NotFound' get pod p1
expect 0 'deployment.apps "web" deleted' delete -f "$WORK/deploy.yaml"
expect 0 'namespace "e2e" deleted' delete namespace e2e --wait=true
expect 1 'NotFound' get namespace e2e

# Restart on the same data dir: the same CA, the objects survive.
CA_BEFORE=$(sha256sum "$WORK/data/server/tls/server-ca.crt")
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
STOP_RC=$?
[ "$STOP_RC" = 0 ] || fail "server exited $STOP_RC on SIGTERM"
grep -q 'stopped' "$WORK/server.log" || fail "no graceful stop in the log"
"$MINI8S" server --data-dir "$WORK/data" --bind-address 127.0.0.1 --https-listen-port "$PORT" \
  --write-kubeconfig "$WORK/kubeconfig" > "$WORK/server2.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -sk --max-time 2 "https://127.0.0.1:$PORT/readyz" | grep -q '^ok$' && break
  sleep 0.05
done
[ "$(sha256sum "$WORK/data/server/tls/server-ca.crt")" = "$CA_BEFORE" ] || fail "CA changed"
expect 0 'kube-public' get ns

if [ "$FAILURES" -gt 0 ]; then
  echo "---- server log"
  tail -50 "$WORK/server.log"
  echo "$FAILURES failure(s)"
  exit 1
fi
echo "PASS"
exit 0
