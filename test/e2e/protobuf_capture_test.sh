#!/bin/bash
# The real kubectl 1.32 against a recording HTTP server: captures the protobuf bodies of the
# typed-clientset commands (create <generator>, create token, auth can-i) and checks that
# mini8s's decoder turns each into the expected JSON. When kubectl 1.31 is installed too, the
# same commands are captured from it (it sends JSON) and each decoded object must equal 1.31's.
#
# Usage: protobuf_capture_test.sh PATH/TO/mini8s_protobuf_decode
# Exit 0 pass, 1 fail, 77 skipped (no kubectl on this machine).
set -u

DECODE=${1:?usage: $0 PATH/TO/mini8s_protobuf_decode}
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=/usr/bin/python3

# Prefer the versioned 1.32 binary beside the dispatcher; the dispatcher itself runs its built-in
# 1.32 when the server reports minor "32", which the recording server does.
KUBECTL=""
if [ -x /usr/bin/kubectl ]; then
  dir=$(dirname "$(readlink -f /usr/bin/kubectl)")
  if [ -x "$dir/kubectl.1.32" ]; then KUBECTL="$dir/kubectl.1.32"; else KUBECTL=/usr/bin/kubectl; fi
fi
if [ -z "$KUBECTL" ] || [ ! -x "$PYTHON" ]; then
  echo "SKIP: kubectl or $PYTHON not found"
  exit 77
fi

WORK=$(mktemp -d /tmp/mini8s-protobuf-capture.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# k KUBECTL OUT_DIR ARGS...: one bounded kubectl run; failures show in the log and the checks.
k() {
  local kubectl=$1 out=$2
  shift 2
  echo "+ $(basename "$kubectl") $*" >> "$WORK/kubectl.log"
  timeout 20 "$kubectl" --kubeconfig="$WORK/kubeconfig" --cache-dir="$out.cache" \
    --request-timeout=5s "$@" >> "$WORK/kubectl.log" 2>&1 || echo "  (exit $?)" >> "$WORK/kubectl.log"
}

# run_all KUBECTL OUT_DIR: a fresh recording server, then every command once.
run_all() {
  local kubectl=$1 out=$2
  mkdir -p "$out"
  rm -f "$WORK/port"
  # The server lives at most 60 s even if this script is killed before its trap runs.
  timeout 60 "$PYTHON" "$HERE/protobuf_capture_server.py" "$out" "$WORK/port" &
  SERVER_PID=$!
  for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  if [ ! -s "$WORK/port" ]; then echo "FAIL: the recording server did not start"; exit 1; fi
  local port
  port=$(cat "$WORK/port")
  printf '%s\n' "apiVersion: v1" "kind: Config" "clusters:" \
    "- cluster: {server: \"http://127.0.0.1:$port\"}" "  name: capture" "contexts:" \
    "- context: {cluster: capture, user: capture, namespace: default}" "  name: capture" \
    "current-context: capture" "users:" "- name: capture" "  user: {token: capture}" \
    > "$WORK/kubeconfig"
  # The order matters: protobuf_capture_check.py matches captures by index.
  k "$kubectl" "$out" create namespace foo
  k "$kubectl" "$out" create configmap cm --from-literal=a=b --from-literal=empty=
  k "$kubectl" "$out" create secret generic s --from-literal=password=s3cr3t
  k "$kubectl" "$out" create deployment web --image=nginx:1.27 --replicas=3 --port=8080
  k "$kubectl" "$out" create deployment zero --image=nginx --replicas=0
  k "$kubectl" "$out" create service clusterip svc --tcp=80:8080
  k "$kubectl" "$out" create token sa --duration=1h
  k "$kubectl" "$out" create job j --image=busybox -- echo hi
  k "$kubectl" "$out" create cronjob cj --image=busybox --schedule='*/5 * * * *' -- echo hi
  k "$kubectl" "$out" create role r --verb=get,list --resource=pods
  k "$kubectl" "$out" create rolebinding rb --role=r --user=alice
  k "$kubectl" "$out" create quota q --hard=cpu=1,pods=2
  k "$kubectl" "$out" create priorityclass pc --value=1000
  k "$kubectl" "$out" create poddisruptionbudget pdb --selector=app=web --min-available=1
  k "$kubectl" "$out" create ingress ing --rule='foo.com/bar=svc:80'
  k "$kubectl" "$out" create serviceaccount sa
  k "$kubectl" "$out" auth can-i get pods
  k "$kubectl" "$out" auth can-i create deployments.apps --subresource=scale -n kube-system
  kill "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}

run_all "$KUBECTL" "$WORK/out"
KUBECTL_131="$(dirname "$KUBECTL")/kubectl.1.31"
if [ -x "$KUBECTL_131" ]; then
  run_all "$KUBECTL_131" "$WORK/out131"
  "$PYTHON" "$HERE/protobuf_capture_check.py" "$DECODE" "$WORK/out" "$WORK/kubectl.log" \
    "$WORK/out131"
else
  echo "note: $KUBECTL_131 not found; the comparison with kubectl 1.31's JSON is skipped"
  "$PYTHON" "$HERE/protobuf_capture_check.py" "$DECODE" "$WORK/out" "$WORK/kubectl.log"
fi
