#!/usr/bin/python3
"""Checks the bodies protobuf_capture_test.sh captured from kubectl 1.32.

Usage: protobuf_capture_check.py DECODE_TOOL OUT_DIR KUBECTL_LOG [JSON_OUT_DIR]
Each capture must be protobuf, must decode without error or unknown fields, and must hold the
values the command line asked for. With JSON_OUT_DIR (the same commands captured from
kubectl 1.31, which sends JSON), each decoded object must equal 1.31's JSON body once nulls
(Go's zero Time) are dropped.
"""

import base64
import json
import subprocess
import sys

DECODE, OUT_DIR, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
JSON_DIR = sys.argv[4] if len(sys.argv) > 4 else None

# (path fragment, kind, {dotted path: expected value}); None means "must be absent".
EXPECT = [
    ("/api/v1/namespaces?", "Namespace",
     {"": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foo"}, "spec": {},
           "status": {}}}),
    ("/configmaps?", "ConfigMap",
     {"": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
           "data": {"a": "b", "empty": ""}}}),
    ("/secrets?", "Secret",
     {"metadata.name": "s", "data": {"password": base64.b64encode(b"s3cr3t").decode()}}),
    ("/deployments?", "Deployment",
     {"metadata.name": "web", "metadata.labels": {"app": "web"}, "spec.replicas": 3,
      "spec.selector.matchLabels": {"app": "web"},
      "spec.template.metadata.labels": {"app": "web"},
      "spec.template.spec.containers.0.name": "nginx",
      "spec.template.spec.containers.0.image": "nginx:1.27",
      "spec.template.spec.containers.0.ports.0.containerPort": 8080,
      "spec.template.spec.containers.0.ports.0.hostPort": None,
      "spec.minReadySeconds": None, "spec.paused": None,
      "metadata.creationTimestamp": None, "metadata.generation": None}),
    # replicas is a *int32: an explicit 0 must survive.
    ("/deployments?", "Deployment", {"metadata.name": "zero", "spec.replicas": 0}),
    ("/services?", "Service",
     {"metadata.name": "svc", "spec.type": "ClusterIP", "spec.selector": {"app": "svc"},
      "spec.ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}]}),
    ("/serviceaccounts/sa/token?", "TokenRequest", {"spec.expirationSeconds": 3600}),
    ("/jobs?", "Job",
     {"metadata.name": "j", "spec.template.spec.containers.0.image": "busybox",
      "spec.template.spec.containers.0.command": ["echo", "hi"],
      "spec.template.spec.restartPolicy": "Never"}),
    ("/cronjobs?", "CronJob",
     {"metadata.name": "cj", "spec.schedule": "*/5 * * * *",
      "spec.jobTemplate.spec.template.spec.containers.0.image": "busybox",
      "spec.jobTemplate.spec.template.spec.containers.0.command": ["echo", "hi"]}),
    ("/roles?", "Role",
     {"metadata.name": "r",
      "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]}),
    ("/rolebindings?", "RoleBinding",
     {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
      "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}]}),
    ("/resourcequotas?", "ResourceQuota", {"spec.hard": {"cpu": "1", "pods": "2"}}),
    ("/priorityclasses?", "PriorityClass",
     {"metadata.name": "pc", "value": 1000, "globalDefault": None}),
    ("/poddisruptionbudgets?", "PodDisruptionBudget",
     {"spec.minAvailable": 1, "spec.selector.matchLabels": {"app": "web"}}),
    # IngressRule embeds IngressRuleValue inline: "http" sits beside "host".
    ("/ingresses?", "Ingress",
     {"spec.rules.0.host": "foo.com", "spec.rules.0.http.paths.0.path": "/bar",
      "spec.rules.0.http.paths.0.pathType": "Exact",
      "spec.rules.0.http.paths.0.backend.service": {"name": "svc", "port": {"number": 80}}}),
    ("/serviceaccounts?", "ServiceAccount", {"metadata.name": "sa"}),
    ("/selfsubjectaccessreviews?", "SelfSubjectAccessReview",
     {"spec.resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"},
      "status.allowed": False}),
    ("/selfsubjectaccessreviews?", "SelfSubjectAccessReview",
     {"spec.resourceAttributes": {"namespace": "kube-system", "verb": "create", "group": "apps",
                                  "resource": "deployments", "subresource": "scale"}}),
]

MISSING = object()


def lookup(obj, dotted):
    if dotted == "":
        return obj
    for part in dotted.split("."):
        if isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return MISSING
    return obj


def drop_nulls(o):
    if isinstance(o, dict):
        return {k: drop_nulls(v) for k, v in o.items() if v is not None}
    if isinstance(o, list):
        return [drop_nulls(v) for v in o]
    return o


def main():
    failures = []
    with open(f"{OUT_DIR}/index.jsonl") as f:
        index = [json.loads(line) for line in f]
    json_index = []
    if JSON_DIR:
        with open(f"{JSON_DIR}/index.jsonl") as f:
            json_index = [json.loads(line) for line in f]
        if len(json_index) != len(EXPECT):
            failures.append(f"kubectl 1.31: captured {len(json_index)} requests, "
                            f"expected {len(EXPECT)}")
    if len(index) != len(EXPECT):
        failures.append(f"captured {len(index)} requests, expected {len(EXPECT)}")
    for i, (fragment, kind, checks) in enumerate(EXPECT):
        if i >= len(index):
            break
        entry = index[i]
        where = f"capture {i + 1} ({entry['path']})"
        if fragment not in entry["path"]:
            failures.append(f"{where}: expected a POST to ...{fragment}")
            continue
        if entry["content_type"] != "application/vnd.kubernetes.protobuf":
            failures.append(f"{where}: content type {entry['content_type']}, not protobuf")
            continue
        run = subprocess.run([DECODE, f"{OUT_DIR}/{entry['file']}"], capture_output=True,
                             text=True, timeout=30)
        if run.returncode != 0 or run.stderr:
            failures.append(f"{where}: decoder said: {run.stderr.strip()}")
            if run.returncode != 0:
                continue
        obj = json.loads(run.stdout)
        if obj.get("kind") != kind:
            failures.append(f"{where}: kind {obj.get('kind')}, expected {kind}")
        for dotted, want in checks.items():
            got = lookup(obj, dotted)
            if want is None:
                if got is not MISSING:
                    failures.append(f"{where}: {dotted or '.'} should be absent, is {got!r}")
            elif got is MISSING or got != want:
                failures.append(f"{where}: {dotted or '.'} is "
                                f"{'absent' if got is MISSING else repr(got)}, expected {want!r}")
        if i < len(json_index):
            j = json_index[i]
            if not j["content_type"].startswith("application/json"):
                failures.append(f"{where}: kubectl 1.31 sent {j['content_type']}, not JSON")
            else:
                with open(f"{JSON_DIR}/{j['file']}") as f:
                    want = drop_nulls(json.load(f))
                if obj != want:
                    failures.append(f"{where}: differs from kubectl 1.31's JSON\n"
                                    f"    decoded: {json.dumps(obj, sort_keys=True)}\n"
                                    f"    1.31:    {json.dumps(want, sort_keys=True)}")
        print(f"ok {i + 1:2} {kind}: {json.dumps(obj, sort_keys=True)}")
    if failures:
        print("FAIL:")
        for line in failures:
            print("  " + line)
        with open(LOG) as f:
            print("kubectl log:\n" + f.read())
        return 1
    print(f"PASS: {len(index)} kubectl 1.32 protobuf bodies decoded as expected"
          + (", each equal to kubectl 1.31's JSON body" if JSON_DIR else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
