#!/usr/bin/env bash
# Runs test binaries inside a small qemu guest booted from Debian 12's stock kernel
# (linux-image-amd64), with a pure cgroup v2 hierarchy and no disk and no network. See
# docs/design/vm-tests.md.
#
# Usage: run-vm-tests.sh --build-dir DIR [options] TEST...
#   --catch PATH        a Catch2 binary: each test case runs in a process of its own, as under
#                       ctest; exit 77 means skipped (STYLE §3.8)
#   --filter SPEC       Catch2 test spec for the preceding --catch (default: every test case)
#   --cmd "PATH ARGS"   a command; exit 0 passes, 77 skips (ARGS split on spaces). A script
#                       runs under the guest's busybox: use #!/bin/sh
#   --file PATH         copy a file or directory into the guest at the same path
#   --modules "M ..."   kernel modules to load (with their dependencies); default: see below
#   --timeout SECS      bound on the whole VM run (default 600)
#   --case-timeout SECS bound on each test process in the guest (default 300)
#   --memory MIB        guest memory (default 2048)
#   --cpus N            guest vCPUs (default 2)
#   --accel auto|tcg|kvm  auto: KVM only if a short boot probe under KVM succeeds (the result is
#                       cached per host kernel and qemu version), TCG otherwise
#   --test-cgroup PATH  cgroup v2 path the tests run in ("/" for the root; default /mini8s-vm.scope)
#   --cache DIR         kernel cache (default $MINI8S_VM_CACHE, else $XDG_CACHE_HOME/mini8s-vm,
#                       else ~/.cache/mini8s-vm)
#   --list-only         build the initramfs and print what would run; do not boot
# Environment: MINI8S_VM_ACCEL (default of --accel), MINI8S_VM_CACHE (of --cache), MINI8S_VM_QEMU
# (the qemu binary, default qemu-system-x86_64).
# Binaries and --file paths keep their absolute host paths inside the guest, so tests that find
# the mini8s binary or test data by absolute path work unchanged. Shared libraries come from ldd.
#
# Exit: 0 when every test passed (and at least one ran), 1 when any failed, the VM timed out or
# crashed, 77 (skipped) only when this host cannot run the VM at all (no qemu, no kernel package
# reachable and none cached), with the reason on stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build_dir=$PWD
vm_timeout=600
case_timeout=300
memory=2048
cpus=2
accel=${MINI8S_VM_ACCEL:-auto}
test_cgroup=/mini8s-vm.scope
cache=${MINI8S_VM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/mini8s-vm}
list_only=0
# What the runtime and network root tests use: overlay rootfs, veth/bridge/vxlan pod networking,
# nftables services and masquerade. crc32c_generic first: libcrc32c (nf_tables) asks the crypto API
# for it at load time.
modules="crc32c_generic overlay veth bridge br_netfilter vxlan dummy tun nf_tables nft_chain_nat
  nft_nat nft_masq nft_ct nft_numgen nft_fib_inet nft_fib_ipv4 nft_fib_ipv6 nft_reject_inet
  nft_compat nf_conntrack nf_nat nfnetlink"
tests=()  # "catch<TAB>path<TAB>filter" or "cmd<TAB>path<TAB>args"
files=()

die() { echo "run-vm-tests: $*" >&2; exit 1; }
skip() { echo "run-vm-tests: SKIPPED: $*" >&2; exit 77; }
log() { echo "run-vm-tests: $*" >&2; }

while (($#)); do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --catch) tests+=("catch	$2	"); shift 2 ;;
    --filter)
      if ((${#tests[@]} == 0)) || [[ ${tests[-1]} != catch* ]]; then die "--filter must follow --catch"; fi
      tests[-1]="${tests[-1]}$2"; shift 2 ;;
    --cmd) read -r p a <<<"$2"; tests+=("cmd	$p	${a:-}"); shift 2 ;;
    --file) files+=("$2"); shift 2 ;;
    --modules) modules=$2; shift 2 ;;
    --timeout) vm_timeout=$2; shift 2 ;;
    --case-timeout) case_timeout=$2; shift 2 ;;
    --memory) memory=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --accel) accel=$2; shift 2 ;;
    --test-cgroup) test_cgroup=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --list-only) list_only=1; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
((${#tests[@]})) || die "no tests given (--catch or --cmd)"
build_dir=$(realpath "$build_dir")
t_start=$(date +%s.%N)
elapsed() { awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- What the host must have. Missing pieces skip rather than fail: the test cannot say anything
# about mini8s on such a host. ----
qemu=${MINI8S_VM_QEMU:-qemu-system-x86_64}
for tool in "$qemu" cpio dpkg-deb ldd timeout flock readelf; do
  command -v "$tool" >/dev/null || skip "$tool not found (packaging/install-deps.sh installs it)"
done
busybox=$(command -v busybox || true)
# ldd fails on a static binary; the guest has no libc for a dynamic one.
if [[ -z $busybox ]] || ldd "$busybox" >/dev/null 2>&1; then
  skip "a statically linked busybox is needed (Debian's busybox-static)"
fi

# ---- The kernel: Debian's linux-image-amd64 resolved to the real image package, downloaded once
# and unpacked into the cache, keyed by package and version. ----
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9  # concurrent runs share one download
resolve_kernel_pkg() {
  local meta pkg ver
  meta=$(timeout 60 apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
  [[ -n $meta ]] || return 1
  ver=$(timeout 60 apt-cache policy "$meta" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')
  [[ -n $ver && $ver != "(none)" ]] || return 1
  pkg=$meta
  echo "${pkg}_${ver}"
}
# apt-cache takes seconds: reuse the last answer while the apt lists are unchanged.
lists_sig=$(stat -c '%n %Y %s' /var/lib/apt/lists/*Packages* 2>/dev/null | md5sum | cut -c1-16)
key=""
if [[ -f $cache/resolved ]] && [[ $(head -1 "$cache/resolved") == "$lists_sig" ]]; then
  key=$(sed -n 2p "$cache/resolved")
elif key=$(resolve_kernel_pkg); then
  printf '%s\n%s\n' "$lists_sig" "$key" >"$cache/resolved"
fi
# The ELF kernel inside the bzImage. qemu boots it directly through its PVH entry point, which
# skips the real-mode setup and the xz decompression: 3 s instead of 8 s to init under TCG. The
# payload's place is in the boot protocol header (setup_sects at 0x1f1, payload_offset and
# payload_length at 0x248).
extract_vmlinux() {
  local bz=$1 out=$2 sects off len magic
  sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
  read -r off len < <(od -An -tu4 -j $((0x248)) -N8 "$bz")
  [[ -n $sects && -n $off && -n $len ]] || return 1
  off=$(((sects + 1) * 512 + off))
  magic=$(od -An -tx1 -j "$off" -N4 "$bz" | tr -d ' ')
  local dec
  case "$magic" in
    fd377a58) dec="xz -dc" ;;
    28b52ffd) dec="zstd -dc" ;;
    1f8b08*) dec="gzip -dc" ;;
    *) return 1 ;;
  esac
  command -v "${dec%% *}" >/dev/null || return 1
  tail -c +$((off + 1)) "$bz" | head -c "$len" | $dec >"$out.tmp" 2>/dev/null || true
  # Usable only as an ELF with the PVH note (type 0x12 in the Xen namespace).
  if readelf -n "$out.tmp" 2>/dev/null | grep -q 'Xen.*(0x00000012)'; then
    mv "$out.tmp" "$out"
  else
    rm -f "$out.tmp"
    return 1
  fi
}
kdir=""
if [[ -n $key ]]; then
  kdir=$cache/$key
  if [[ ! -f $kdir/.complete ]]; then
    log "fetching ${key%%_*} ${key#*_} into $kdir"
    rm -rf "$kdir" "$cache/tmp"
    mkdir -p "$cache/tmp" "$kdir"
    if (cd "$cache/tmp" && timeout 300 apt-get download -q -o APT::Sandbox::User=root \
      "${key%%_*}=${key#*_}" >&2) &&
      deb=$(ls "$cache/tmp"/*.deb) && dpkg-deb -x "$deb" "$kdir/root"; then
      mv "$deb" "$kdir/"
      kver=$(ls "$kdir/root/lib/modules")
      # The package's postinst runs depmod; an unpacked tree has no modules.dep. busybox's depmod
      # writes the same format.
      "$busybox" depmod -b "$kdir/root" "$kver"
      ln -s "root/boot/vmlinuz-$kver" "$kdir/vmlinuz"
      echo "$kver" >"$kdir/kver"
      touch "$kdir/.complete"
    else
      log "download of $key failed"
      rm -rf "$kdir"
      kdir=""
    fi
    rm -rf "$cache/tmp"
  fi
fi
if [[ -z $kdir ]]; then
  # Offline, or no apt lists: the newest complete cache entry will do.
  kdir=$(for d in "$cache"/linux-image-*/; do
    if [[ -f $d/.complete ]]; then echo "${d%/}"; fi; done | sort -V | tail -1)
  [[ -n $kdir ]] || skip "cannot resolve or download linux-image-amd64 (apt-get update?) and none is cached in $cache"
  log "apt cannot resolve linux-image-amd64; using the cached $(basename "$kdir")"
fi
if [[ ! -f $kdir/vmlinux && ! -f $kdir/.no-pvh ]]; then
  extract_vmlinux "$kdir/vmlinuz" "$kdir/vmlinux" ||
    { log "no PVH vmlinux in the bzImage; booting the bzImage"; touch "$kdir/.no-pvh"; }
fi
kernel=$kdir/vmlinuz
[[ -f $kdir/vmlinux ]] && kernel=$kdir/vmlinux
flock -u 9
kver=$(cat "$kdir/kver")
kroot=$kdir/root
log "kernel $(basename "$kdir") ($kver), cache $kdir"

# ---- The initramfs. ----
work=$build_dir/test/vm-work
stage=$work/root
rm -rf "$stage"
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,root,mini8s-vm,lib/modules/"$kver"}
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
install -m 0755 "$here/init.sh" "$stage/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"
printf 'hosts: files\npasswd: files\ngroup: files\n' >"$stage/etc/nsswitch.conf"
printf '127.0.0.1 localhost mini8s-vm\n::1 localhost\n' >"$stage/etc/hosts"

declare -A copied=()
# Copies a host file to the same path in the guest, following symlinks; ELF files bring their
# shared libraries and lose their debug info (it only makes the initramfs larger).
copy_in() {
  local src=$1 dst lib
  [[ -n ${copied[$src]:-} ]] && return 0
  copied[$src]=1
  [[ -e $src ]] || die "$src does not exist"
  dst=$stage$src
  # The guest's own files (busybox as /bin/sh) win over the host's.
  [[ ! -d $src ]] && [[ -e $dst || -L $dst ]] && return 0
  mkdir -p "$(dirname "$dst")"
  if [[ -d $src ]]; then
    cp -a "$src/." "$dst/"
    return 0
  fi
  cp -L "$src" "$dst"
  if head -c 4 "$src" | grep -q 'ELF'; then
    strip --strip-debug "$dst" 2>/dev/null || true
    # "name => /path (addr)" and "/lib64/ld-linux-x86-64.so.2 (addr)"
    while read -r lib; do
      copy_in "$lib"
    done < <(ldd "$src" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
  fi
}

manifest=$stage/mini8s-vm/tests
: >"$manifest"
for t in "${tests[@]}"; do
  IFS=$'\t' read -r kind path arg <<<"$t"
  path=$(realpath -s "$path") || die "$path does not exist"
  [[ -x $path ]] || die "$path is not an executable"
  copy_in "$path"
  if [[ $kind == catch ]]; then
    # List on the host (same binary) so the guest runs one process per test case.
    # Catch2 v2 exits with the number of tests listed; only a signal is a failure.
    rc=0
    names=$("$path" --list-test-names-only ${arg:+"$arg"}) || rc=$?
    ((rc < 128)) || die "$path --list-test-names-only failed (exit $rc)"
    n=0
    while IFS= read -r name; do
      [[ -n $name ]] || continue
      printf 'catch\t%s\t%s\n' "$path" "$name" >>"$manifest"
      n=$((n + 1))
    done <<<"$names"
    ((n)) || die "$path has no test case matching '${arg:-*}'"
    log "$(basename "$path"): $n test cases${arg:+ matching $arg}"
  else
    printf 'cmd\t%s\t%s\n' "$path" "$arg" >>"$manifest"
  fi
done
for f in "${files[@]}"; do copy_in "$(realpath -s "$f")"; done

# Modules with their dependencies, in load order (dependencies first). modules.dep lists paths
# relative to the module directory.
declare -A mod_path=() loaded=()
while IFS= read -r line; do
  m=${line%%:*}
  b=${m##*/}; b=${b%.ko*}
  mod_path[$b]=$m
  mod_path[${b//_/-}]=$m
done <"$kroot/lib/modules/$kver/modules.dep"
load_order=()
add_module() {
  local m=$1 deps d
  [[ -n ${loaded[$m]:-} ]] && return 0
  loaded[$m]=1
  deps=$(grep -m1 "^$m:" "$kroot/lib/modules/$kver/modules.dep" | cut -d: -f2)
  for d in $deps; do add_module "$d"; done
  load_order+=("$m")
}
for name in $modules; do
  if [[ -n ${mod_path[$name]:-} ]]; then
    add_module "${mod_path[$name]}"
  elif grep -q "/$name.ko" "$kroot/lib/modules/$kver/modules.builtin"; then
    :  # built into this kernel
  else
    log "module $name is not in $kver; not loaded"
  fi
done
for m in "${load_order[@]}"; do
  mkdir -p "$(dirname "$stage/lib/modules/$kver/$m")"
  cp "$kroot/lib/modules/$kver/$m" "$stage/lib/modules/$kver/$m"
done
cp "$kroot/lib/modules/$kver"/modules.{dep,alias,symbols,builtin,order} "$stage/lib/modules/$kver/"

cat >"$stage/mini8s-vm/config" <<EOF
MODULES="${load_order[*]}"
CASE_TIMEOUT=$case_timeout
TEST_CGROUP=$test_cgroup
EOF
initrd=$work/initramfs.cpio
(cd "$stage" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$initrd"
log "initramfs $(du -h "$initrd" | cut -f1), $(wc -l <"$manifest") tests, ${#load_order[@]} modules ($(elapsed) s)"
if ((list_only)); then
  awk -F'\t' '{ print $1 ": " $2 ($3 == "" ? "" : " " $3) }' "$manifest"
  exit 0
fi

# ---- The accelerator. /dev/kvm can exist while KVM guests hang (nested virtualization on these
# machines): use it only if a short boot under it reaches init. ----
qemu_version=$("$qemu" --version | head -1)
kvm_probe() {
  local stamp out rc
  stamp="$cache/kvm-probe-$(printf '%s|%s|%s' "$(uname -r)" "$qemu_version" "$kver" | md5sum | cut -c1-12)"
  if [[ -f $stamp ]]; then cat "$stamp"; return; fi
  out=$work/kvm-probe.log
  rm -f "$out"
  rc=0
  timeout -k 5 20 "$qemu" -accel kvm -cpu host -m 256 -smp 1 -nographic -no-reboot \
    -nic none -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 quiet mini8s.vm.probe=1" \
    -serial null -serial "file:$out" </dev/null >/dev/null 2>&1 || rc=$?
  if grep -q PROBE-OK "$out" 2>/dev/null; then echo kvm | tee "$stamp"; else
    log "KVM probe failed (rc=$rc): using TCG"
    echo tcg | tee "$stamp"
  fi
}
if [[ $accel == auto ]]; then
  if [[ -r /dev/kvm && -w /dev/kvm ]]; then accel=$(kvm_probe); else accel=tcg; fi
fi
case "$accel" in
  kvm) accel_args=(-accel kvm -cpu host) ;;
  tcg) accel_args=(-accel tcg -cpu max) ;;
  *) die "--accel must be auto, tcg or kvm" ;;
esac

# ---- Boot. ----
# qboot (Debian's qemu-system-data) reaches the kernel faster than SeaBIOS under TCG.
bios_args=()
[[ -f /usr/share/qemu/qboot.rom ]] && bios_args=(-bios /usr/share/qemu/qboot.rom)
console=$work/console.log
results=$work/results.log
rm -f "$console" "$results"
log "booting $(basename "$kernel"): $accel, $cpus vCPUs, $memory MiB, timeout ${vm_timeout}s; console follows"
qemu_rc=0
set +e
timeout -k 10 "$vm_timeout" "$qemu" "${accel_args[@]}" "${bios_args[@]}" \
  -m "$memory" -smp "$cpus" -nographic -no-reboot -nic none -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 panic=-1 quiet loglevel=4 cgroup_no_v1=all" \
  -serial mon:stdio -serial "file:$results" </dev/null 2>&1 | tr -d '\r' | tee "$console"
qemu_rc=${PIPESTATUS[0]}
set -e
boot_secs=$(elapsed)

# ---- Verdict, from the result channel only. ----
echo "----- vm results ($results) -----"
cat "$results" 2>/dev/null || true
summary=$(grep '^MINI8S-VM: SUMMARY ' "$results" 2>/dev/null || true)
if ! grep -q '^MINI8S-VM: DONE' "$results" 2>/dev/null; then
  if ((qemu_rc == 124 || qemu_rc == 137)); then
    echo "run-vm-tests: FAILED: the VM did not finish within ${vm_timeout}s"
  else
    echo "run-vm-tests: FAILED: the VM stopped before finishing (qemu exit $qemu_rc); see $console"
  fi
  exit 1
fi
passed=$(grep -c '^MINI8S-VM: RESULT [0-9]* PASS ' "$results" || true)
failed=$(grep -c '^MINI8S-VM: RESULT [0-9]* FAIL' "$results" || true)
skipped=$(grep -c '^MINI8S-VM: RESULT [0-9]* SKIP ' "$results" || true)
grep '^MINI8S-VM: RESULT [0-9]* FAIL' "$results" | sed 's/^MINI8S-VM: RESULT/run-vm-tests: failed:/' || true
echo "run-vm-tests: $(grep '^MINI8S-VM: KERNEL' "$results" | cut -d' ' -f3) $(grep '^MINI8S-VM: CGROUP' "$results" | cut -d' ' -f3), $accel, ${boot_secs}s in all"
echo "vm: $passed passed, $failed failed, $skipped skipped"
[[ -n $summary ]] || exit 1
if ((failed)); then exit 1; fi
expected=$(wc -l <"$manifest")
if ((passed + failed + skipped != expected)); then
  echo "run-vm-tests: FAILED: $expected tests were listed but $((passed + failed + skipped)) reported"
  exit 1
fi
if ((passed == 0)); then
  echo "run-vm-tests: SKIPPED: every test skipped itself in the VM" >&2
  exit 77
fi
exit 0
