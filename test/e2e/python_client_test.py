#!/usr/bin/python3
"""The official Python client (Debian python3-kubernetes) against the real `mini8s server`.

Starts the server on a free loopback port with a private data dir and kubeconfig, loads that
kubeconfig with kubernetes.config.load_kube_config, and drives ConfigMaps, Deployments and a
Namespace through create, get, list with label selectors, watch, strategic/merge/JSON patch,
replace and delete, including the 404 and 409 errors.

Usage: /usr/bin/python3 python_client_test.py PATH/TO/mini8s
Exit 0 pass, 1 fail, 77 skipped (the kubernetes module is not installed).
"""

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

try:
    from kubernetes import client, config, watch
    from kubernetes.client.rest import ApiException
except ImportError:
    print("SKIP: the kubernetes Python module is not installed (Debian python3-kubernetes)")
    sys.exit(77)

NS = "py-e2e"
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL: " + what, flush=True)


def start_server(mini8s, work):
    log = open(os.path.join(work, "server.log"), "wb")
    proc = subprocess.Popen(
        [mini8s, "server", "--data-dir", os.path.join(work, "data"),
         "--bind-address", "127.0.0.1", "--https-listen-port", "0",
         "--write-kubeconfig", os.path.join(work, "kubeconfig"), "--disable-agent"],
        stdout=log, stderr=subprocess.STDOUT)
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        with open(os.path.join(work, "server.log"), "rb") as f:
            m = re.search(rb"ready: https://127\.0\.0\.1:(\d+)", f.read())
        if m:
            url = "https://127.0.0.1:%s/readyz" % m.group(1).decode()
            try:
                with urllib.request.urlopen(url, context=insecure, timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return proc
            except OSError:
                pass
        time.sleep(0.05)
    stop_and_fail(proc, work)


def stop_and_fail(proc, work):
    stop_server(proc)
    with open(os.path.join(work, "server.log"), "rb") as f:
        sys.stdout.write(f.read().decode(errors="replace"))
    raise RuntimeError("server did not become ready")


def stop_server(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def api_error(fn, *args, **kwargs):
    """Runs fn, returns the ApiException it raises (None if it succeeds)."""
    try:
        fn(*args, **kwargs)
    except ApiException as e:
        return e
    return None


def check_error(e, status, reason, what):
    if e is None:
        check(False, "%s: no ApiException" % what)
        return
    check(e.status == status, "%s: status %s, want %s" % (what, e.status, status))
    body = json.loads(e.body) if e.body else {}
    check(body.get("kind") == "Status" and body.get("reason") == reason,
          "%s: body reason %r, want %r" % (what, body.get("reason"), reason))


def rv(obj):
    return int(obj.metadata.resource_version)


def merge_patch_client():
    """An ApiClient whose patch calls send application/merge-patch+json.

    The generated patch methods of this client release pick the body type from the body alone
    (a list is a JSON patch, anything else a strategic merge patch); choosing the content type is
    the client's documented way to send a JSON merge patch through the same methods.
    """
    c = client.ApiClient()
    c.select_header_content_type = lambda types: "application/merge-patch+json"
    return c


class Watcher:
    """Collects (type, name, resourceVersion) of ConfigMap events in NS from a resourceVersion."""

    def __init__(self, core, resource_version):
        self.events = []
        self.error = None
        self.w = watch.Watch()
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, args=(core, resource_version))
        self.thread.start()

    def _run(self, core, resource_version):
        try:
            for ev in self.w.stream(core.list_namespaced_config_map, NS,
                                    resource_version=resource_version, timeout_seconds=20,
                                    _request_timeout=30):
                obj = ev["object"]
                with self.cond:
                    self.events.append((ev["type"], obj.metadata.name,
                                        int(obj.metadata.resource_version)))
                    self.cond.notify_all()
        except Exception as e:  # reported by the main thread
            self.error = e
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, typ, name, timeout=10):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if any(e[0] == typ and e[1] == name for e in self.events):
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or not self.thread.is_alive():
                    return False
                self.cond.wait(left)

    def stop(self, wake):
        """Stops the stream; wake() makes the event the stream needs to notice the stop."""
        self.w.stop()
        wake()
        self.thread.join(timeout=30)


def run(kubeconfig):
    config.load_kube_config(config_file=kubeconfig)
    core = client.CoreV1Api()
    apps = client.AppsV1Api()
    core_merge = client.CoreV1Api(merge_patch_client())
    apps_merge = client.AppsV1Api(merge_patch_client())

    # Namespace.
    ns = core.create_namespace({"metadata": {"name": NS, "labels": {"suite": "py"}}})
    check(ns.metadata.name == NS and ns.metadata.uid, "namespace created with a uid")
    check(core.read_namespace(NS).status.phase == "Active", "namespace is Active")
    names = [n.metadata.name for n in core.list_namespace(label_selector="suite=py").items]
    check(names == [NS], "namespace list by label: %s" % names)
    check_error(api_error(core.create_namespace, {"metadata": {"name": NS}}), 409,
                "AlreadyExists", "second namespace create")

    # ConfigMaps: create, get, list with selectors; resourceVersions grow with each write.
    last = 0
    created = {}
    for name, labels in [("cm-a", {"app": "a", "tier": "x"}), ("cm-b", {"app": "b"}),
                         ("cm-c", {"app": "c", "tier": "x"})]:
        cm = core.create_namespaced_config_map(
            NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels),
                                   data={"k": name}))
        check(rv(cm) > last, "create %s: resourceVersion %d after %d" % (name, rv(cm), last))
        last = rv(cm)
        created[name] = cm
    got = core.read_namespaced_config_map("cm-a", NS)
    check(got.data == {"k": "cm-a"} and got.metadata.labels["app"] == "a", "get cm-a")
    check(got.metadata.resource_version == created["cm-a"].metadata.resource_version,
          "get returns the created resourceVersion")

    # Only this test's maps: every namespace also holds kube-root-ca.crt (the root CA publisher).
    def listed(selector):
        return sorted(c.metadata.name
                      for c in core.list_namespaced_config_map(NS, label_selector=selector).items
                      if c.metadata.name.startswith("cm-"))

    check(listed("app=a") == ["cm-a"], "app=a: %s" % listed("app=a"))
    check(listed("app!=a") == ["cm-b", "cm-c"], "app!=a: %s" % listed("app!=a"))
    check(listed("app in (a,b)") == ["cm-a", "cm-b"], "app in (a,b): %s" % listed("app in (a,b)"))
    check(listed("tier") == ["cm-a", "cm-c"], "tier: %s" % listed("tier"))
    check(listed("!tier") == ["cm-b"], "!tier: %s" % listed("!tier"))
    check(listed("tier=x,app=c") == ["cm-c"], "tier=x,app=c: %s" % listed("tier=x,app=c"))
    lst = core.list_namespaced_config_map(NS)
    check(int(lst.metadata.resource_version) >= last, "list resourceVersion is current")

    check_error(api_error(core.read_namespaced_config_map, "nope", NS), 404, "NotFound",
                "get missing configmap")
    check_error(api_error(core.create_namespaced_config_map, NS,
                          {"metadata": {"name": "cm-a"}, "data": {}}),
                409, "AlreadyExists", "second configmap create")
    e = api_error(core.read_namespaced_config_map, "nope", NS)
    check(e is not None and e.reason == "Not Found", "404 reason phrase: %r" % getattr(e, "reason", None))

    # Watch from the list's resourceVersion, then change objects.
    watcher = Watcher(core, lst.metadata.resource_version)
    cm_d = core.create_namespaced_config_map(NS, {"metadata": {"name": "cm-d"}, "data": {"x": "1"}})
    check(rv(cm_d) > last, "create cm-d resourceVersion grows")
    last = rv(cm_d)

    # Strategic merge patch (a dict body): maps merge.
    p = core.patch_namespaced_config_map("cm-a", NS, {"data": {"added": "yes"}})
    check(p.data == {"k": "cm-a", "added": "yes"}, "strategic patch of cm-a: %s" % p.data)
    check(rv(p) > last, "strategic patch resourceVersion grows")
    last = rv(p)
    # JSON merge patch: null removes a key.
    p = core_merge.patch_namespaced_config_map("cm-a", NS,
                                               {"data": {"added": None, "m": "1"},
                                                "metadata": {"labels": {"merged": "true"}}})
    check(p.data == {"k": "cm-a", "m": "1"}, "merge patch of cm-a: %s" % p.data)
    check(p.metadata.labels.get("merged") == "true", "merge patch label")
    check(rv(p) > last, "merge patch resourceVersion grows")
    last = rv(p)
    # JSON patch (a list body).
    p = core.patch_namespaced_config_map("cm-a", NS,
                                         [{"op": "add", "path": "/data/j", "value": "2"}])
    check(p.data.get("j") == "2", "json patch of cm-a: %s" % p.data)
    last = rv(p)

    # Replace with the current resourceVersion, then a stale one is a 409 Conflict.
    cur = core.read_namespaced_config_map("cm-b", NS)
    cur.data = {"k": "replaced"}
    rep = core.replace_namespaced_config_map("cm-b", NS, cur)
    check(rep.data == {"k": "replaced"}, "replace cm-b")
    check(rv(rep) > last, "replace resourceVersion grows")
    last = rv(rep)
    cur.data = {"k": "stale"}
    check_error(api_error(core.replace_namespaced_config_map, "cm-b", NS, cur), 409, "Conflict",
                "replace with a stale resourceVersion")
    check_error(api_error(core.replace_namespaced_config_map, "nope", NS,
                          {"metadata": {"name": "nope", "resourceVersion": "1"}, "data": {}}),
                404, "NotFound", "replace a missing configmap")

    st = core.delete_namespaced_config_map("cm-c", NS)
    check(st is not None, "delete cm-c")
    check_error(api_error(core.read_namespaced_config_map, "cm-c", NS), 404, "NotFound",
                "get deleted configmap")
    check_error(api_error(core.delete_namespaced_config_map, "cm-c", NS), 404, "NotFound",
                "delete a missing configmap")
    check_error(api_error(core_merge.patch_namespaced_config_map, "cm-c", NS, {"data": {}}),
                404, "NotFound", "patch a missing configmap")

    for typ, name in [("ADDED", "cm-d"), ("MODIFIED", "cm-a"), ("MODIFIED", "cm-b"),
                      ("DELETED", "cm-c")]:
        check(watcher.wait_for(typ, name), "watch saw %s %s" % (typ, name))
    watcher.stop(lambda: core.delete_namespaced_config_map("cm-d", NS))
    check(watcher.error is None, "watch stream error: %r" % watcher.error)
    evs = watcher.events
    check(not any(e[0] == "ADDED" and e[1] in ("cm-a", "cm-b", "cm-c") for e in evs),
          "watch from the list's resourceVersion replays no older objects: %s" % evs)
    rvs = [e[2] for e in evs]
    check(rvs == sorted(rvs) and len(set(rvs)) == len(rvs),
          "watch resourceVersions strictly increase: %s" % rvs)
    check(sum(1 for e in evs if e[:2] == ("MODIFIED", "cm-a")) == 3,
          "three MODIFIED events for cm-a's three patches: %s" % evs)

    # Deployments (AppsV1Api).
    dep = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}},
        },
    }
    d = apps.create_namespaced_deployment(NS, dep)
    check(d.metadata.generation == 1, "deployment generation 1")
    check(d.spec.strategy.type == "RollingUpdate", "deployment defaults applied")
    check(rv(d) > last, "deployment create resourceVersion grows")
    last = rv(d)
    check_error(api_error(apps.create_namespaced_deployment, NS, dep), 409, "AlreadyExists",
                "second deployment create")
    bad = json.loads(json.dumps(dep))
    bad["metadata"]["name"] = "bad"
    bad["spec"]["replicas"] = -1
    check_error(api_error(apps.create_namespaced_deployment, NS, bad), 422, "Invalid",
                "invalid deployment")
    names = [x.metadata.name
             for x in apps.list_namespaced_deployment(NS, label_selector="app=web").items]
    check(names == ["web"], "deployments by label: %s" % names)
    check(apps.list_namespaced_deployment(NS, label_selector="app=other").items == [],
          "no deployments for app=other")

    # Strategic merge patch merges the containers list by name (a merge patch would replace it).
    d = apps.patch_namespaced_deployment("web", NS, {"spec": {"template": {"spec": {
        "containers": [{"name": "side", "image": "busybox"}]}}}})
    images = sorted((c.name, c.image) for c in d.spec.template.spec.containers)
    check(images == [("c", "nginx:1.25"), ("side", "busybox")],
          "strategic patch merged containers: %s" % images)
    check(d.metadata.generation == 2, "generation after spec patch: %s" % d.metadata.generation)
    check(rv(d) > last, "deployment patch resourceVersion grows")
    last = rv(d)
    d = apps_merge.patch_namespaced_deployment("web", NS, {"spec": {"replicas": 3, "template": {
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}})
    images = [(c.name, c.image) for c in d.spec.template.spec.containers]
    check(images == [("c", "nginx:1.27")], "merge patch replaced containers: %s" % images)
    check(d.spec.replicas == 3, "merge patch replicas")
    check(rv(d) > last, "deployment merge patch resourceVersion grows")
    last = rv(d)
    sc = apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 4}})
    check(sc.spec.replicas == 4, "scale subresource patch")
    # The deployment controller writes status meanwhile, so a read-modify-replace may meet a 409
    # and is retried, as client-go's RetryOnConflict does.
    for attempt in range(10):
        d = apps.read_namespaced_deployment("web", NS)
        check(d.spec.replicas == 4, "replicas after scale: %s" % d.spec.replicas)
        d.spec.replicas = 2
        try:
            d2 = apps.replace_namespaced_deployment("web", NS, d)
            break
        except ApiException as e:
            if e.status != 409 or attempt == 9:
                raise
            time.sleep(0.1)
    check(d2.spec.replicas == 2 and rv(d2) > rv(d), "deployment replace")
    check_error(api_error(apps.replace_namespaced_deployment, "web", NS, d), 409, "Conflict",
                "deployment replace with a stale resourceVersion")
    check_error(api_error(apps.read_namespaced_deployment, "nope", NS), 404, "NotFound",
                "get missing deployment")
    apps.delete_namespaced_deployment("web", NS)
    check_error(api_error(apps.read_namespaced_deployment, "web", NS), 404, "NotFound",
                "get deleted deployment")

    # Namespace delete: gone (its contents with it) within a bounded time.
    core.delete_namespace(NS)
    deadline = time.monotonic() + 30
    e = None
    while time.monotonic() < deadline:
        e = api_error(core.read_namespace, NS)
        if e is not None:
            break
        time.sleep(0.1)
    check_error(e, 404, "NotFound", "namespace gone after delete")
    check_error(api_error(core.read_namespaced_config_map, "cm-a", NS), 404, "NotFound",
                "configmap gone with its namespace")


def main():
    if len(sys.argv) != 2:
        print("usage: python_client_test.py PATH/TO/mini8s")
        return 2
    work = tempfile.mkdtemp(prefix="mini8s-py-e2e.")
    proc = None
    try:
        proc = start_server(sys.argv[1], work)
        run(os.path.join(work, "kubeconfig"))
    except Exception as e:  # an unexpected error is a failure with its trace
        import traceback
        traceback.print_exc()
        FAILURES.append("unexpected %r" % e)
    finally:
        if proc is not None:
            stop_server(proc)
        if FAILURES:
            with open(os.path.join(work, "server.log"), "rb") as f:
                print("---- server log (tail)")
                print(b"\n".join(f.read().splitlines()[-30:]).decode(errors="replace"))
        shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
