#!/usr/bin/python3
"""Control-plane benchmark: the real `mini8s server` (controllers and scheduler in process) with
`mini8s agent --simulate 100`; creates 30 Deployments x 100 replicas and measures

  - time from the first create to all 3,000 pods Running and Ready,
  - scheduler throughput (pods/binding calls per second, first to last bind),
  - p99 latency of mutating API requests during the run (from the server's own
    apiserver_request_duration_seconds histogram, interpolated within a bucket as Prometheus'
    histogram_quantile does),
  - server and agent RSS at the end.

Goals (issue #4, 2 cores): >= 300 pods scheduled/s, 3,000 pods Running in <= 20 s, mutating p99
<= 100 ms, server RSS <= 150 MiB. Figures are printed; timing never fails the run.

Usage: control_plane_bench.py PATH/TO/mini8s [nodes=100] [deployments=30] [replicas=100]
Use an optimized build (-DCMAKE_BUILD_TYPE=RelWithDebInfo).
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
import time
import urllib.request


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (load-independent figure of the work done)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class Api:
    def __init__(self, url, tls):
        self.url = url
        self.ctx = ssl.create_default_context(cafile=f"{tls}/server-ca.crt")
        self.ctx.load_cert_chain(f"{tls}/client-admin.crt", f"{tls}/client-admin.key")
        self.ctx.check_hostname = False

    def call(self, method, path, body=None, accept="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", accept)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, context=self.ctx, timeout=60) as resp:
            raw = resp.read()
        return raw.decode() if accept == "text/plain" else json.loads(raw)


MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
SAMPLE = re.compile(r'^(\w+)\{([^}]*)\} ([0-9.e+-]+|\+Inf)$')


def scrape(api):
    """Mutating-request histogram (merged over resources) and the pods/binding count."""
    text = api.call("GET", "/metrics", accept="text/plain")
    buckets = {}
    binds = 0.0
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2), float(m.group(3))
        lab = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if name == "apiserver_request_duration_seconds_bucket" and lab.get("verb") in MUTATING:
            le = float("inf") if lab["le"] == "+Inf" else float(lab["le"])
            buckets[le] = buckets.get(le, 0.0) + value
        elif (name == "apiserver_request_total" and lab.get("resource") == "pods"
              and lab.get("subresource") == "binding" and lab.get("code") == "201"):
            binds += value
    return buckets, binds


def quantile(q, before, after):
    les = sorted(after)
    counts = [after[le] - before.get(le, 0.0) for le in les]
    total = counts[-1] if counts else 0
    if total <= 0:
        return 0.0, 0
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in zip(les, counts):
        if c >= rank:
            if le == float("inf"):
                return prev_le, int(total)
            return prev_le + (le - prev_le) * (rank - prev_c) / max(c - prev_c, 1e-9), int(total)
        prev_le, prev_c = le, c
    return les[-1], int(total)


def deployment(name, replicas):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "registry.local/app:1",
                                         "resources": {"requests": {"cpu": "10m",
                                                                    "memory": "16Mi"}}}]},
            },
        },
    }


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    mini8s = os.path.abspath(sys.argv[1])
    nodes = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    n_deploy = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    replicas = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    total = n_deploy * replicas
    work = tempfile.mkdtemp(prefix="mini8s-cp-bench.")
    procs = []
    try:
        slog = open(f"{work}/server.log", "w")
        server = subprocess.Popen(
            [mini8s, "server", "--data-dir", f"{work}/data", "--bind-address", "127.0.0.1",
             "--https-listen-port", "0", "--write-kubeconfig", f"{work}/kubeconfig",
             "--disable-agent"], stdout=slog, stderr=subprocess.STDOUT)
        procs.append(server)
        port = None
        for _ in range(400):
            with open(f"{work}/server.log") as f:
                m = re.search(r"ready: https://127\.0\.0\.1:(\d+)", f.read())
            if m:
                port = m.group(1)
                break
            time.sleep(0.025)
        if not port:
            print("server did not start")
            return 1
        url = f"https://127.0.0.1:{port}"
        api = Api(url, f"{work}/data/server/tls")
        token = open(f"{work}/data/server/node-token").read().strip()
        alog = open(f"{work}/agent.log", "w")
        agent = subprocess.Popen(
            [mini8s, "agent", "--simulate", str(nodes), "--server", url, "--token", token,
             "--node-name", "hollow", "--data-dir", f"{work}/agent"],
            stdout=alog, stderr=subprocess.STDOUT)
        procs.append(agent)
        deadline = time.time() + 120
        while time.time() < deadline:
            items = api.call("GET", "/api/v1/nodes")["items"]
            ready = sum(1 for n in items for c in n.get("status", {}).get("conditions", [])
                        if c["type"] == "Ready" and c["status"] == "True")
            if ready >= nodes:
                break
            time.sleep(0.5)
        else:
            print(f"only {ready}/{nodes} nodes became Ready")
            return 1
        print(f"{nodes} simulated nodes Ready; server RSS {rss_mib(server.pid):.1f} MiB")
        time.sleep(1)
        hist0, binds0 = scrape(api)
        cpu0 = (cpu_seconds(server.pid), cpu_seconds(agent.pid))
        load0 = os.getloadavg()[0]

        t0 = time.monotonic()
        for i in range(n_deploy):
            api.call("POST", "/apis/apps/v1/namespaces/default/deployments",
                     deployment(f"d{i:02d}", replicas))
        t_created = time.monotonic() - t0
        first_bind = last_bind = all_ready = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            _, binds = scrape(api)
            now = time.monotonic() - t0
            bound = binds - binds0
            if bound > 0 and first_bind is None:
                first_bind = now
            if bound >= total and last_bind is None:
                last_bind = now
            deps = api.call("GET", "/apis/apps/v1/namespaces/default/deployments")["items"]
            ready = sum(d.get("status", {}).get("readyReplicas", 0) for d in deps)
            if ready >= total:
                all_ready = now
                break
            time.sleep(0.2)
        # RSS when the pods are all Running, before this script's own LISTs of every pod and
        # event below (their response buffers would be counted otherwise).
        rss_end = (rss_mib(server.pid), rss_mib(agent.pid))
        hist1, binds1 = scrape(api)
        cpu1 = (cpu_seconds(server.pid), cpu_seconds(agent.pid))
        p99, n_mut = quantile(0.99, hist0, hist1)
        p50, _ = quantile(0.50, hist0, hist1)
        running = len(api.call(
            "GET", "/api/v1/pods?fieldSelector=status.phase%3DRunning")["items"])
        events = len(api.call("GET", "/api/v1/namespaces/default/events")["items"])

        print(f"created {n_deploy} Deployments x {replicas} replicas in {t_created:.2f} s")
        if all_ready is None:
            print(f"NOT all ready within 300 s: {ready}/{total} ready, {running} Running")
        else:
            print(f"{total} pods Running and Ready {all_ready:.1f} s after the first create "
                  f"(goal <= 20 s); {running} pods Running")
        if first_bind is not None and last_bind is not None and last_bind > first_bind:
            rate = total / (last_bind - first_bind)
            print(f"scheduler: {int(binds1 - binds0)} binds, {rate:.0f} pods bound/s "
                  f"(first bind {first_bind:.2f} s, last {last_bind:.2f} s; goal >= 300/s; "
                  "sampled every 0.2 s)")
        print(f"mutating API requests during the run: {n_mut}, p50 {p50 * 1000:.1f} ms, "
              f"p99 {p99 * 1000:.1f} ms (goal <= 100 ms)")
        print(f"RSS at the end: server {rss_end[0]:.1f} MiB (goal <= 150 MiB), "
              f"agent ({nodes} hollow nodes) {rss_end[1]:.1f} MiB; after listing every pod "
              f"and event: server {rss_mib(server.pid):.1f} MiB")
        print(f"CPU during the run: server {cpu1[0] - cpu0[0]:.1f} s, agent "
              f"{cpu1[1] - cpu0[1]:.1f} s; {events} Events in default; load average at start "
              f"{load0:.2f}")
        return 0
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
