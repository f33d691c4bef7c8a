#!/usr/bin/env bash
# Image store end to end against real registries: Debian's docker-registry on 127.0.0.1 (plain
# HTTP, htpasswd basic auth, TLS with a test CA), holding a busybox image built here from
# busybox-static with umoci and pushed with skopeo (single-arch, a multi-arch index, a zstd layer).
# Usage: image_e2e.sh /path/to/mini8s. Exits 77 when a tool is missing or not root.
set -euo pipefail
M8=$(realpath "${1:?usage: image_e2e.sh MINI8S}")
for t in docker-registry skopeo umoci busybox htpasswd openssl python3 zstd; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (whiteouts are device nodes)"; exit 77; }
BUSYBOX=$(command -v busybox)
file -L "$BUSYBOX" 2>/dev/null | grep -q dynamic && { echo "SKIP: busybox is not static"; exit 77; }

W=$(mktemp -d /tmp/mini8s-image-e2e.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  umount "$W/ctr/rootfs" 2>/dev/null || true
  # The container's cgroup parent (see below); rmdir only removes it once empty.
  rmdir /sys/fs/cgroup/*/mini8s-e2e-$$ /sys/fs/cgroup/mini8s-e2e-$$ 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
PASS=0
ok() { PASS=$((PASS + 1)); echo "ok $PASS - $*"; }
fail() { echo "FAIL: $*"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "registry on port $1 did not start"
}
# start_registry NAME PORT [extra yaml under http/auth]
start_registry() {
  local name=$1 port=$2
  mkdir -p "$W/$name"
  {
    echo "version: 0.1"
    echo "log: {level: info, accesslog: {disabled: false}}"
    echo "storage: {filesystem: {rootdirectory: $W/$name/data}, delete: {enabled: true}}"
    echo "http:"
    echo "  addr: 127.0.0.1:$port"
    [ -n "${TLS:-}" ] && { echo "  tls:"; echo "    certificate: $W/server.crt"; echo "    key: $W/server.key"; }
    [ -n "${AUTH:-}" ] && { echo "auth:"; echo "  htpasswd: {realm: mini8s-test, path: $W/htpasswd}"; }
    true
  } >"$W/$name/config.yml"
  docker-registry serve "$W/$name/config.yml" >"$W/$name/log" 2>&1 &
  PIDS+=($!)
  wait_port "$port"
}

# --- Build busybox with umoci: layer 1 busybox + a file, layer 2 deletes it (a whiteout). ---
cd "$W"
umoci init --layout oci >/dev/null
umoci new --image oci:1 >/dev/null
umoci unpack --image oci:1 bundle >/dev/null
mkdir -p bundle/rootfs/bin bundle/rootfs/etc bundle/rootfs/tmp
cp "$BUSYBOX" bundle/rootfs/bin/busybox
for a in sh echo cat ls; do ln -s busybox "bundle/rootfs/bin/$a"; done
echo gone >bundle/rootfs/etc/removed-later
echo kept >bundle/rootfs/etc/kept
ln bundle/rootfs/etc/kept bundle/rootfs/etc/kept-hardlink
umoci repack --image oci:1 bundle >/dev/null
# repack diffs against the manifest the bundle came from: unpack again for the second layer.
rm -rf bundle
umoci unpack --image oci:1 bundle >/dev/null
rm bundle/rootfs/etc/removed-later
echo 'hello from layer 2' >bundle/rootfs/etc/motd
umoci repack --image oci:1 bundle >/dev/null
umoci config --image oci:1 --os linux --architecture amd64 --config.cmd /bin/sh \
  --config.env PATH=/bin >/dev/null
umoci gc --layout oci
# An arm64 twin (same layers, another config) and an index naming both.
skopeo copy -q oci:oci:1 oci:oci:arm
umoci config --image oci:arm --architecture arm64 >/dev/null
python3 - "$W/oci" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
idx = json.load(open(f"{root}/index.json"))
def by_tag(t):
    return next(m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == t)
ms = []
for tag, arch in (("arm", "arm64"), ("1", "amd64")):
    d = dict(by_tag(tag)); d.pop("annotations", None)
    d["platform"] = {"os": "linux", "architecture": arch}
    ms.append(d)
body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": ms}).encode()
h = hashlib.sha256(body).hexdigest()
open(f"{root}/blobs/sha256/{h}", "wb").write(body)
idx["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + h,
                         "size": len(body), "annotations": {"org.opencontainers.image.ref.name": "multi"}})
json.dump(idx, open(f"{root}/index.json", "w"))
PY

# --- Registries: plain, htpasswd, TLS with a test CA. ---
P1=$(free_port); start_registry plain "$P1"
htpasswd -Bbn tester s3cret >"$W/htpasswd" 2>/dev/null
P2=$(free_port); AUTH=1 start_registry auth "$P2"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mini8s-test-ca -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt 2>/dev/null
P3=$(free_port); TLS=1 start_registry tls "$P3"

R1=127.0.0.1:$P1
skopeo copy -q oci:oci:1 "docker://$R1/busybox:1" --dest-tls-verify=false
skopeo copy -q --all oci:oci:multi "docker://$R1/busybox:multi" --dest-tls-verify=false
# Recompressed locally first: a push to a registry that has the gzip blobs would reuse them.
skopeo copy -q --dest-compress-format zstd oci:oci:1 oci:oci-zstd:1
skopeo copy -q oci:oci-zstd:1 "docker://$R1/busybox:zstd" --dest-tls-verify=false
skopeo copy -q oci:oci:1 "docker://127.0.0.1:$P2/busybox:1" --dest-tls-verify=false --dest-creds tester:s3cret
skopeo copy -q oci:oci:1 "docker://127.0.0.1:$P3/busybox:1" --dest-cert-dir "$W/nocerts" --dest-tls-verify=false

D=$W/data
mkdir -p "$D/agent/etc"
cat >"$D/agent/etc/registries.yaml" <<YAML
mirrors:
  "127.0.0.1:$P1":
    endpoint: ["http://127.0.0.1:$P1"]
  "127.0.0.1:$P2":
    endpoint: ["http://127.0.0.1:$P2"]
configs:
  "127.0.0.1:$P2":
    auth: {username: tester, password: s3cret}
  "127.0.0.1:$P3":
    tls: {ca_file: $W/ca.crt}
YAML
S=$D/agent/image-store
img() { "$M8" image --data-dir "$D" "$@"; }
# A fresh data dir with the same registries.yaml.
newdata() { mkdir -p "$1/agent/etc"; cp "$D/agent/etc/registries.yaml" "$1/agent/etc/"; }

# --- Pull over plain HTTP; layers unpacked with whiteouts and hard links. ---
img pull "$R1/busybox:1" >out 2>err || { cat err; fail "pull plain"; }
grep -q "$R1/busybox:1 sha256:" out || fail "pull output: $(cat out)"
ok "pull from a plain-HTTP registry listed in registries.yaml"
mapfile -t LOWERS < <(img rootfs "$R1/busybox:1")
[ "${#LOWERS[@]}" = 2 ] || fail "expected 2 layer dirs, got ${#LOWERS[@]}"
[ -x "${LOWERS[1]}/bin/busybox" ] || fail "busybox missing from base layer"
[ "$(stat -c %t:%T:%F "${LOWERS[0]}/etc/removed-later")" = "0:0:character special file" ] || fail "whiteout not converted"
[ "$(stat -c %h "${LOWERS[1]}/etc/kept")" = 2 ] || fail "hard link lost"
[ "$(cat "${LOWERS[0]}/etc/motd")" = "hello from layer 2" ] || fail "top layer content"
ok "layers unpacked: whiteout became a 0:0 device, hard link kept, top first"
img ls | grep -q "busybox:1" || fail "ls"
img inspect "$R1/busybox:1" | grep -q '"architecture": "amd64"' || fail "inspect"
ok "ls and inspect"

# --- A second pull is de-duplicated: nothing downloaded again. ---
BEFORE=$(ls "$S/content/blobs/sha256" | wc -l)
img pull "$R1/busybox:1" >/dev/null || fail "re-pull"
[ "$(ls "$S/content/blobs/sha256" | wc -l)" = "$BEFORE" ] || fail "re-pull changed the store"
ok "re-pull is de-duplicated"

# --- Multi-arch index: the amd64 manifest is chosen; arm64 on request. ---
img pull "$R1/busybox:multi" >/dev/null || fail "pull multi"
img inspect "$R1/busybox:multi" | grep -q '"index": "sha256:' || fail "index not recorded"
img pull --platform linux/arm64 "$R1/busybox:multi" >/dev/null || fail "pull arm64"
img inspect "$R1/busybox:multi" | grep -q '"architecture": "arm64"' || fail "arm64 not selected"
img pull --platform linux/s390x "$R1/busybox:multi" 2>err >/dev/null && fail "s390x should fail"
grep -q "no manifest for platform linux/s390x" err || fail "platform error: $(cat err)"
ok "multi-arch index with platform selection"

# --- zstd layer. ---
img pull "$R1/busybox:zstd" >/dev/null 2>err || { cat err; fail "pull zstd"; }
img inspect "$R1/busybox:zstd" | grep -q 'tar+zstd' || fail "zstd media type"
[ -x "$(img rootfs "$R1/busybox:zstd" | tail -1)/bin/busybox" ] || fail "zstd unpack"
ok "zstd-compressed layers"

# --- htpasswd (basic) auth: refused without credentials, accepted with them. ---
img pull "127.0.0.1:$P2/busybox:1" >/dev/null 2>err || { cat err; fail "pull auth"; }
img pull --creds tester:wrong "127.0.0.1:$P2/busybox:1" >/dev/null 2>err && fail "bad creds accepted"
grep -qi "refused\|credentials" err || fail "auth error: $(cat err)"
ok "basic auth from registries.yaml; wrong credentials refused clearly"

# --- TLS with a test CA from registries.yaml; without it verification fails. ---
img pull "127.0.0.1:$P3/busybox:1" >/dev/null 2>err || { cat err; fail "pull tls"; }
D2=$W/data-noca
"$M8" image --data-dir "$D2" pull "127.0.0.1:$P3/busybox:1" >/dev/null 2>err && fail "TLS without CA accepted"
ok "TLS with a custom CA; unknown CA rejected ($(head -c 80 err))"

# --- Interrupted pull resumes from the .partial file. ---
D3=$W/data-resume
newdata "$D3"
"$M8" image --data-dir "$D3" pull --abort-after-bytes 100000 "$R1/busybox:1" >/dev/null 2>err && fail "abort hook"
PART=$(ls "$D3"/agent/image-store/content/blobs/sha256/*.partial)
[ "$(stat -c %s "$PART")" = 100000 ] || fail "partial size $(stat -c %s "$PART")"
"$M8" image --data-dir "$D3" pull "$R1/busybox:1" >/dev/null 2>err || { cat err; fail "resume"; }
grep -q 'http.response.status=206' "$W/plain/log" || fail "no ranged (206) response in the registry log"
ls "$D3"/agent/image-store/content/blobs/sha256/*.partial 2>/dev/null && fail "partial left"
ok "interrupted pull resumed with a Range request"

# --- Digest mismatch: corrupt a layer blob inside the registry's storage. ---
LAYER=$(img inspect "$R1/busybox:1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"][7:])')
BLOB="$W/plain/data/docker/registry/v2/blobs/sha256/${LAYER:0:2}/$LAYER/data"
SIZE=$(stat -c %s "$BLOB")
python3 - "$BLOB" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b)//2] ^= 0xff; open(p, "wb").write(b)
PY
D4=$W/data-mismatch
newdata "$D4"
"$M8" image --data-dir "$D4" pull "$R1/busybox:1" >/dev/null 2>err && fail "corrupt blob accepted"
grep -q "digest mismatch" err || fail "mismatch error: $(cat err)"
[ ! -e "$D4/agent/image-store/content/blobs/sha256/$LAYER" ] || fail "corrupt blob stored"
ls "$D4"/agent/image-store/content/blobs/sha256/ | grep -q partial && fail "partial left after mismatch"
"$M8" image --data-dir "$D4" ls -q | grep -q . && fail "image recorded after mismatch"
ok "digest mismatch detected ($SIZE-byte layer), nothing left behind"

# --- Air-gapped import: docker-archive from skopeo, an OCI layout tarball, and a drop dir. ---
D5=$W/data-import
skopeo copy -q oci:oci:1 "docker-archive:$W/bb-docker.tar:busybox:imported"
"$M8" image --data-dir "$D5" import "$W/bb-docker.tar" >out 2>err || { cat err; fail "import docker-archive"; }
grep -q "docker.io/library/busybox:imported" out || fail "import name: $(cat out)"
[ -x "$("$M8" image --data-dir "$D5" rootfs busybox:imported | tail -1)/bin/busybox" ] || fail "import unpack"
ok "import of a skopeo docker-archive tarball"
tar -C "$W/oci" -cf - . | zstd -q >"$W/bb-oci.tar.zst"
"$M8" image --data-dir "$D5" import --name example.com/bb:oci "$W/bb-oci.tar.zst" >out 2>err || { cat err; fail "import oci"; }
grep -q "example.com/bb:oci" out || fail "oci import name"
ok "import of a zstd-compressed OCI layout tarball"
ls "$D5/agent/image-store/tmp" | grep -q . && fail "import left temp files"
mkdir -p "$D5/agent/images"
skopeo copy -q oci:oci:1 "docker-archive:$D5/agent/images/dropped.tar:example.com/dropped:1"
"$M8" image --data-dir "$D5" import >out 2>err || { cat err; fail "drop dir import"; }
grep -q "example.com/dropped:1" out || fail "drop dir: $(cat out)"
"$M8" image --data-dir "$D5" import >out 2>err || fail "drop dir re-import"
[ ! -s out ] || fail "a dropped file was imported twice"
ok "files dropped in <data-dir>/agent/images imported once"

# --- Bad input: unparsable reference, garbage registry. ---
D6=$W/data-bad
"$M8" image --data-dir "$D6" pull 'UPPER/Case:@@' 2>err && fail "bad ref accepted"
grep -q "invalid image reference" err || fail "bad ref message"
[ ! -e "$D6" ] || fail "bad ref created the data dir"
mkdir -p "$W/garbage/v2/busybox/manifests"
head -c 3000 /dev/urandom >"$W/garbage/v2/busybox/manifests/1"
PG=$(free_port)
(cd "$W/garbage" && exec python3 -m http.server --bind 127.0.0.1 "$PG" >/dev/null 2>&1) &
PIDS+=($!)
wait_port "$PG"
mkdir -p "$D6/agent/etc"
printf 'mirrors:\n  "127.0.0.1:%s":\n    endpoint: ["http://127.0.0.1:%s"]\n' "$PG" "$PG" >"$D6/agent/etc/registries.yaml"
"$M8" image --data-dir "$D6" pull "127.0.0.1:$PG/busybox:1" 2>err && fail "garbage accepted"
grep -q "malformed manifest" err || fail "garbage message: $(cat err)"
[ -z "$(ls "$D6/agent/image-store/content/blobs/sha256")" ] || fail "garbage left blobs"
ok "bad reference and garbage registry: clear errors, nothing left behind"

# --- rm + gc. ---
img rm "$R1/busybox:zstd" >/dev/null
img gc >out
grep -q "removed [1-9]" out || fail "gc removed nothing: $(cat out)"
[ -x "$(img rootfs "$R1/busybox:1" | tail -1)/bin/busybox" ] || fail "gc removed a live layer"
ok "rm and gc ($(cat out))"

# --- Run a container from the pulled image with mini8s runtime on an overlayfs snapshot. ---
if "$M8" runtime --help >/dev/null 2>&1; then
  img mount "$R1/busybox:1" "$W/ctr" >/dev/null || fail "mount"
  (cd "$W/ctr" && "$M8" runtime spec --bundle "$W/ctr" /bin/cat /etc/motd >/dev/null)
  # A cgroup parent of the test's own, so that no empty /mini8s parent outlives the test.
  sed -i "s|\"linux\":{|\"linux\":{\"cgroupsPath\":\"/mini8s-e2e-$$/ctr\",|" "$W/ctr/config.json"
  OUT=$("$M8" runtime --root "$W/rt" run --bundle "$W/ctr" e2e-img-$$ 2>"$W/rt.err") || { cat "$W/rt.err"; fail "runtime run"; }
  [ "$OUT" = "hello from layer 2" ] || fail "container output: $OUT"
  umount "$W/ctr/rootfs"
  ok "container run from the pulled image's overlayfs snapshot"
fi
echo "PASS: $PASS checks"
