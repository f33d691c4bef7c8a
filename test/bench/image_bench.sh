#!/usr/bin/env bash
# Image pull bench: pull + unpack of a 50 MiB image from Debian's docker-registry on 127.0.0.1 with
# `mini8s image pull`, next to `skopeo copy` of the same image into an OCI directory (download
# only) and skopeo + `umoci unpack` (download and unpack). Best of N runs; never fails on timing.
# Usage: image_bench.sh MINI8S [RUNS]
set -euo pipefail
M8=$(realpath "${1:?usage: image_bench.sh MINI8S [RUNS]}")
RUNS=${2:-3}
for t in docker-registry skopeo umoci busybox python3; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
W=$(mktemp -d /tmp/mini8s-image-bench.XXXXXX)
REG=
cleanup() {
  if [ -n "$REG" ]; then kill "$REG" 2>/dev/null || true; wait "$REG" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
cd "$W"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s/reg}}\nhttp: {addr: "127.0.0.1:%s"}\n' "$W" "$PORT" >reg.yml
docker-registry serve reg.yml >reg.log 2>&1 &
REG=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
  sleep 0.1
done
umoci init --layout oci >/dev/null
umoci new --image oci:big >/dev/null
umoci unpack --image oci:big bundle >/dev/null
mkdir -p bundle/rootfs/bin bundle/rootfs/data
cp "$(command -v busybox)" bundle/rootfs/bin/busybox
# 50 MiB: half incompressible, half text-like, in 200 files.
for i in $(seq 100); do head -c 262144 /dev/urandom >"bundle/rootfs/data/r$i"; done
for i in $(seq 100); do { yes "mini8s image bench line $i" || true; } | head -c 262144 >"bundle/rootfs/data/t$i"; done
umoci repack --image oci:big bundle >/dev/null
skopeo copy -q oci:oci:big "docker://127.0.0.1:$PORT/big:1" --dest-tls-verify=false
SIZE=$(du -sb bundle/rootfs | cut -f1)

now() { date +%s.%N; }
best() { python3 -c 'import sys; print("%.3f" % min(float(x) for x in sys.argv[1:]))' "$@"; }
mkdir -p d/agent/etc
printf 'mirrors:\n  "127.0.0.1:%s":\n    endpoint: ["http://127.0.0.1:%s"]\n' "$PORT" "$PORT" >d/agent/etc/registries.yaml
T1=(); T2=(); T3=(); T4=()
for r in $(seq "$RUNS"); do
  rm -rf d/agent/image-store out-oci out-bundle
  s=$(now); "$M8" image --data-dir d pull "127.0.0.1:$PORT/big:1" >/dev/null; e=$(now)
  T1+=("$(python3 -c "print($e-$s)")")
  s=$(now); skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$PORT/big:1" oci:out-oci:big; e=$(now)
  T2+=("$(python3 -c "print($e-$s)")")
  s=$(now); umoci unpack --image out-oci:big out-bundle >/dev/null; e=$(now)
  T3+=("$(python3 -c "print(($e-$s)+${T2[-1]})")")
  rm -rf d/agent/image-store
  s=$(now); "$M8" image --data-dir d import --name bench/big:1 out-oci >/dev/null; e=$(now)
  T4+=("$(python3 -c "print($e-$s)")")
done
printf 'image: %.1f MiB unpacked, %d runs, best time\n' "$(python3 -c "print($SIZE/1048576)")" "$RUNS"
printf '  %-48s %8s s\n' "mini8s image pull (download+verify+unpack)" "$(best "${T1[@]}")"
printf '  %-48s %8s s\n' "skopeo copy -> oci dir (download only)" "$(best "${T2[@]}")"
printf '  %-48s %8s s\n' "skopeo copy + umoci unpack" "$(best "${T3[@]}")"
printf '  %-48s %8s s\n' "mini8s image import of that dir (verify+unpack)" "$(best "${T4[@]}")"
