#!/usr/bin/python3
"""A recording API server for the protobuf capture test.

Serves just enough for kubectl's typed `create` and `auth can-i` commands (version, legacy
discovery for core/v1 and apps/v1), answers every POST with 201 and a small JSON echo of the
object's apiVersion, kind and name, and writes each POST body to OUT_DIR/NNN.bin with a line in
OUT_DIR/index.jsonl ({"file", "path", "content_type"}).

Usage: protobuf_capture_server.py OUT_DIR PORT_FILE
Binds 127.0.0.1 on an ephemeral port and writes the port number to PORT_FILE.
"""

import http.server
import json
import os
import sys

OUT_DIR, PORT_FILE = sys.argv[1], sys.argv[2]
COUNTER = [0]

CORE_V1 = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
    {"name": n, "singularName": s, "namespaced": ns, "kind": k,
     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
    for n, s, ns, k in [("pods", "pod", True, "Pod"), ("configmaps", "configmap", True, "ConfigMap"),
                        ("secrets", "secret", True, "Secret"),
                        ("namespaces", "namespace", False, "Namespace"),
                        ("services", "service", True, "Service"),
                        ("serviceaccounts", "serviceaccount", True, "ServiceAccount")]]}
APPS_V1 = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1",
           "resources": [{"name": "deployments", "singularName": "deployment", "namespaced": True,
                          "kind": "Deployment", "verbs": ["create", "get", "list"]}]}
GETS = {
    "/version": {"major": "1", "minor": "32", "gitVersion": "v1.32.4", "platform": "linux/amd64"},
    "/api": {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                             "serverAddress": "127.0.0.1"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]},
    "/api/v1": CORE_V1,
    "/apis/apps/v1": APPS_V1,
}


def fields(data):
    """(number, wire type, value) of a protobuf message; just enough for the echo."""
    i = 0
    out = []

    def varint():
        nonlocal i
        v, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    while i < len(data):
        key = varint()
        number, wt = key >> 3, key & 7
        if wt == 0:
            out.append((number, wt, varint()))
        elif wt == 2:
            n = varint()
            out.append((number, wt, data[i:i + n]))
            i += n
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        else:
            break
    return out


def echo(body):
    """The object's apiVersion, kind and metadata name/namespace, read off the envelope."""
    obj = {}
    try:
        if not body.startswith(b"k8s\x00"):
            return json.loads(body)
        raw = b""
        for number, _, value in fields(body[4:]):
            if number == 1:
                for n2, _, v2 in fields(value):
                    obj["apiVersion" if n2 == 1 else "kind"] = v2.decode()
            elif number == 2:
                raw = value
        meta = {}
        for number, _, value in fields(raw):
            if number == 1:
                for n2, _, v2 in fields(value):
                    if n2 == 1 and v2:
                        meta["name"] = v2.decode()
                    elif n2 == 3 and v2:
                        meta["namespace"] = v2.decode()
        obj["metadata"] = meta
    except (IndexError, UnicodeDecodeError, ValueError):
        pass
    kind = obj.get("kind")
    if kind in ("SelfSubjectAccessReview", "SubjectAccessReview"):
        obj["status"] = {"allowed": True}
    elif kind == "SelfSubjectRulesReview":
        obj["status"] = {"resourceRules": [], "nonResourceRules": [], "incomplete": False}
    elif kind == "TokenRequest":
        obj["status"] = {"token": "captured-token", "expirationTimestamp": "2030-01-01T00:00:00Z"}
    return obj


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep the test output quiet
        pass

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in GETS:
            self.reply(200, GETS[path])
        else:
            self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                             "reason": "NotFound", "code": 404})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        COUNTER[0] += 1
        name = "%03d.bin" % COUNTER[0]
        with open(os.path.join(OUT_DIR, name), "wb") as f:
            f.write(body)
        with open(os.path.join(OUT_DIR, "index.jsonl"), "a") as f:
            f.write(json.dumps({"file": name, "path": self.path,
                                "content_type": self.headers.get("Content-Type", "")}) + "\n")
        self.reply(201, echo(body))


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(PORT_FILE + ".tmp", PORT_FILE)
    server.serve_forever()


if __name__ == "__main__":
    main()
