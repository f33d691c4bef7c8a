#!/bin/bash
# The real client against mini8s's generated OpenAPI: serves the documents openapi_dump writes
# (discovery, /openapi/v3, /openapi/v2 protobuf) from a tiny Python HTTP server on 127.0.0.1 and
# runs kubectl explain and kubectl apply against it.
#
#   kubectl_e2e.sh OPENAPI_DUMP
#
# Exit 0 on success, 1 on a failed check, 77 (skipped) without kubectl or python3.
set -u

DUMP="$1"
KUBECTL="$(command -v kubectl || true)"
PYTHON=/usr/bin/python3
if [[ -z "$KUBECTL" || ! -x "$PYTHON" ]]; then
  echo "SKIP: kubectl or /usr/bin/python3 not found" >&2
  exit 77
fi

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }

# A custom resource, to check that CRD documents are generated and explained too.
cat >"$WORK/crd.json" <<'EOF'
{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
 "metadata": {"name": "crontabs.stable.example.com"},
 "spec": {"group": "stable.example.com", "scope": "Namespaced",
  "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "shortNames": ["ct"]},
  "versions": [{"name": "v1", "served": true, "storage": true,
   "schema": {"openAPIV3Schema": {"type": "object", "description": "A periodic job.",
    "properties": {"spec": {"type": "object", "required": ["cronSpec"], "properties": {
      "cronSpec": {"type": "string", "description": "When to run."},
      "replicas": {"type": "integer", "format": "int32"}}}}}}}]}}
EOF

mkdir -p "$WORK/docs"
"$DUMP" "$WORK/docs" "$WORK/crd.json" || { echo "FAIL: openapi_dump" >&2; exit 1; }

# The server: files named after URL paths ('/' -> "__"), the v2 protobuf under its content type,
# 404 Status for objects (so apply creates), 201 echoing the body for writes, every request
# logged. With STRIP_FIELD_VALIDATION=1 the v3 documents lose their fieldValidation parameters,
# which makes kubectl validate client-side against /openapi/v2.
cat >"$WORK/server.py" <<'EOF'
import http.server, json, os, sys
DOCS, LOG, PORT_FILE = sys.argv[1], sys.argv[2], sys.argv[3]
STRIP = os.environ.get("STRIP_FIELD_VALIDATION") == "1"
OBJECTS = {}  # path -> object created by POST

def strip(doc):
    for item in doc.get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict) and "parameters" in op:
                op["parameters"] = [p for p in op["parameters"] if p.get("name") != "fieldValidation"]
    return doc

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log(self):
        with open(LOG, "a") as f: f.write("%s %s\n" % (self.command, self.path))
    def do_GET(self):
        self.log()
        path = self.path.split("?")[0].strip("/")
        if path == "openapi/v2":
            if "protobuf" not in self.headers.get("Accept", ""):
                return self.send(406, b"{}")
            with open(os.path.join(DOCS, "openapi__v2.pb"), "rb") as f:
                return self.send(200, f.read(), "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        if "/" + path in OBJECTS:
            return self.send(200, json.dumps(OBJECTS["/" + path]).encode())
        name = os.path.join(DOCS, path.replace("/", "__"))
        if os.path.isfile(name):
            with open(name, "rb") as f: body = f.read()
            if STRIP and path.startswith("openapi/v3/"):
                body = json.dumps(strip(json.loads(body))).encode()
            return self.send(200, body)
        self.send(404, json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                   "reason": "NotFound", "code": 404, "message": "not found"}).encode())
    def do_write(self):
        self.log()
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n) or b"{}"
        path = self.path.split("?")[0]
        if self.command == "PATCH":
            # Record the patch; answer with the stored object (no patching needed here).
            with open(LOG, "a") as f:
                f.write("PATCH-BODY %s %s\n" % (self.headers.get("Content-Type"), raw.decode()))
            return self.send(200, json.dumps(OBJECTS.get(path, {})).encode())
        body = json.loads(raw)
        body.setdefault("metadata", {})["uid"] = "00000000-0000-0000-0000-000000000001"
        if self.command == "POST":
            path += "/" + body["metadata"].get("name", "")
        OBJECTS[path] = body
        self.send(201, json.dumps(body).encode())
    do_POST = do_write
    do_PUT = do_write
    do_PATCH = do_write

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORT_FILE + ".tmp", "w") as f: f.write(str(srv.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
EOF

start_server() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  rm -f "$WORK/port" "$WORK/requests"
  : >"$WORK/requests"
  "$PYTHON" "$WORK/server.py" "$WORK/docs" "$WORK/requests" "$WORK/port" &
  SERVER_PID=$!
  for _ in $(seq 100); do [[ -f "$WORK/port" ]] && break; sleep 0.05; done
  [[ -f "$WORK/port" ]] || { echo "FAIL: server did not start" >&2; exit 1; }
  cat >"$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: t, cluster: {server: "http://127.0.0.1:$(cat "$WORK/port")"}}]
users: [{name: t, user: {}}]
contexts: [{name: t, context: {cluster: t, user: t, namespace: default}}]
current-context: t
EOF
}

k() {
  timeout 60 "$KUBECTL" --kubeconfig "$WORK/kubeconfig" --cache-dir "$WORK/cache" "$@"
}

expect() {  # expect NAME OUTPUT PATTERN...: every extended regex must match a line of OUTPUT
  local name="$1" out="$2"
  shift 2
  for pat in "$@"; do
    grep -Eq -- "$pat" <<<"$out" || fail "$name: no line matches /$pat/ in:
$out"
  done
}

start_server

# 1. explain at depth, following $refs into components.schemas.
out="$(k explain pods.spec.containers.resources 2>&1)"
expect "explain pods.spec.containers.resources" "$out" \
  '^KIND: +Pod$' '^VERSION: +v1$' '^FIELD: +resources <ResourceRequirements>$' \
  '^ +limits\s+<map\[string\]Quantity>$' '^ +requests\s+<map\[string\]Quantity>$' \
  '^ +claims\s+<\[\]ResourceClaim>$'

# 2. explain --recursive through an allOf/$ref chain and IntOrString.
out="$(k explain deployment.spec.strategy --recursive 2>&1)"
expect "explain deployment.spec.strategy --recursive" "$out" \
  '^GROUP: +apps$' '^KIND: +Deployment$' '^VERSION: +v1$' '^FIELD: +strategy <DeploymentStrategy>$' \
  '^ +rollingUpdate\s+<RollingUpdateDeployment>$' '^ +maxSurge\s+<IntOrString>$' \
  '^ +maxUnavailable\s+<IntOrString>$' '^ +type\s+<string>$'

# 3. A custom resource's own document and description.
out="$(k explain crontabs.spec 2>&1)"
expect "explain crontabs.spec" "$out" '^KIND: +CronTab$' '^GROUP: +stable.example.com$' \
  '^ +cronSpec\s+<string> -required-$' '^ +replicas\s+<integer>$' 'When to run\.'
grep -q '^GET /openapi/v3/apis/stable.example.com/v1?hash=[0-9A-F]\{128\}' "$WORK/requests" ||
  fail "explain crontabs: the CRD document was not fetched by its hash URL"

# 4. apply with --validate=strict: kubectl finds fieldValidation on the Deployment's patch in
#    /openapi/v3/apis/apps/v1 and leaves validation to the server (fieldValidation=Strict), so
#    it never asks for /openapi/v2.
cat >"$WORK/deploy.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  replicas: 2
  bogusField: 1
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: c, image: nginx}]}
EOF
: >"$WORK/requests"
out="$(k apply -f "$WORK/deploy.yaml" --validate=strict 2>&1)"
expect "apply (v3 fieldValidation probe)" "$out" '^deployment.apps/x created$'
grep -q '^POST /apis/apps/v1/namespaces/default/deployments?.*fieldValidation=Strict' \
  "$WORK/requests" || fail "apply did not send fieldValidation=Strict: $(cat "$WORK/requests")"
grep -q '^GET /openapi/v2' "$WORK/requests" && fail "apply fell back to /openapi/v2"

# 5. apply again with a changed container list: the object exists now, so kubectl computes a
#    strategic merge patch, taking the patch metadata (merge keys) from the Deployment's schema
#    in components.schemas, found by x-kubernetes-group-version-kind.
sed -i 's/image: nginx}/image: nginx:2, env: [{name: A, value: "1"}]}/' "$WORK/deploy.yaml"
: >"$WORK/requests"
out="$(k apply -f "$WORK/deploy.yaml" --validate=strict 2>&1)"
expect "apply (update, strategic merge patch)" "$out" '^deployment.apps/x configured$'
grep -qi 'warning' <<<"$out" && fail "apply update warned: $out"
grep -q '^PATCH-BODY application/strategic-merge-patch+json .*"\$setElementOrder/containers":\[{"name":"c"}\]' \
  "$WORK/requests" || fail "apply update did not send a strategic merge patch: $(cat "$WORK/requests")"
grep -q '^GET /openapi/v2' "$WORK/requests" && fail "apply update fell back to /openapi/v2"

# 6. Without fieldValidation in v3, kubectl validates client-side against the /openapi/v2
#    protobuf: the unknown field is reported and a valid object passes.
STRIP_FIELD_VALIDATION=1 start_server
rm -rf "$WORK/cache"
out="$(k apply -f "$WORK/deploy.yaml" --validate=strict 2>&1)"
expect "apply (client-side v2 validation)" "$out" \
  'ValidationError\(Deployment.spec\): unknown field "bogusField" in io.k8s.api.apps.v1.DeploymentSpec'
grep -q '^GET /openapi/v2' "$WORK/requests" || fail "client-side validation did not use /openapi/v2"
grep -q '^POST ' "$WORK/requests" && fail "an invalid object was sent"
sed -i '/bogusField/d' "$WORK/deploy.yaml"
out="$(k apply -f "$WORK/deploy.yaml" --validate=strict 2>&1)"
expect "apply (client-side v2 validation, valid)" "$out" '^deployment.apps/x created$'

if [[ "$FAILED" -ne 0 ]]; then exit 1; fi
echo "kubectl e2e: all checks passed"
