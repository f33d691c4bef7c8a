#!/bin/busybox sh
# PID 1 of the test VM (see docs/design/vm-tests.md). Runs the tests listed in /mini8s-vm/tests on
# a pure cgroup v2 hierarchy and powers off. Human output goes to the console (ttyS0); one
# machine-readable line per event goes to ttyS1, which the host reads back (kernel messages cannot
# interleave there).
#
# Stage 1 runs on the initramfs "rootfs", which pivot_root(2) refuses to leave, so containers could
# not be created from it: copy everything into a tmpfs and switch_root into it. Stage 2 is the same
# script on the tmpfs root.

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH HOME=/root TMPDIR=/tmp TERM=dumb LANG=C.UTF-8

# Links at each applet's usual place: the kernel runs /sbin/modprobe to load what it asks for.
/bin/busybox mkdir -p /proc /sys /dev /sbin /usr/bin /usr/sbin
/bin/busybox --install -s 2>/dev/null

R=/dev/ttyS1  # the result channel

say() { echo "MINI8S-VM: $*"; }
# A result line on both channels.
report() {
  say "$*"
  [ -c "$R" ] && echo "MINI8S-VM: $*" >"$R"
}
halt_vm() {
  sync
  poweroff -f
  echo o >/proc/sysrq-trigger  # poweroff -f needs ACPI; sysrq does not
  sleep 10
}
uptime_cs() {  # uptime in centiseconds, for durations
  read -r up _ </proc/uptime
  echo "${up%.*}${up#*.}"
}

if [ "$MINI8S_VM_STAGE" != 2 ]; then
  mount -t proc proc /proc
  mount -t devtmpfs devtmpfs /dev
  if grep -q 'mini8s.vm.probe=1' /proc/cmdline; then
    # The accelerator probe: reaching init at all is what it checks.
    echo "MINI8S-VM: PROBE-OK" >"$R"
    say "PROBE-OK"
    halt_vm
  fi
  mkdir -p /newroot
  mount -t tmpfs -o mode=0755 rootfs-tmpfs /newroot
  for d in /*; do
    case "$d" in /newroot | /proc | /dev | /sys) continue ;; esac
    cp -a "$d" /newroot/
  done
  mkdir -p /newroot/proc /newroot/dev /newroot/sys
  umount /dev
  umount /proc
  export MINI8S_VM_STAGE=2
  # shellcheck disable=SC2093 # the lines below run only if switch_root fails
  exec switch_root /newroot /init
  say "switch_root failed"
  halt_vm
fi

# ---- Stage 2: the tmpfs root. ----
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue /tmp /run /var/tmp
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
# The root is already a tmpfs; a separate mount on /tmp would hide test binaries that live
# under /tmp on the host (CI clones there).
chmod 1777 /tmp
mount -t tmpfs -o mode=0755 run /run
# Test processes inherit fds 0-2; give them the console, not a closed stdin.
exec </dev/null >/dev/console 2>&1

. /mini8s-vm/config
say "tmpfs root at $(cut -d' ' -f1 /proc/uptime) s"
hostname mini8s-vm
ip link set lo up

for m in $MODULES; do
  insmod "/lib/modules/$(uname -r)/$m" || { say "insmod $m failed:"; dmesg | tail -2; }
done
say "$(wc -l </proc/modules) modules loaded at $(cut -d' ' -f1 /proc/uptime) s"

# The unified hierarchy, as a systemd host has it: nsdelegate, every controller enabled for the
# children of the root, the tests in a leaf cgroup of their own (systemd puts a service in
# /system.slice/<name>.service; the root cgroup itself holds only kernel threads).
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
enabled=""
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
  if echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control; then enabled="$enabled $c"; fi
done
if [ -n "$TEST_CGROUP" ] && [ "$TEST_CGROUP" != / ]; then
  mkdir -p "/sys/fs/cgroup$TEST_CGROUP"
  echo $$ >"/sys/fs/cgroup$TEST_CGROUP/cgroup.procs"
fi

fstype=$(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts)
v1=$(awk '$3 == "cgroup" { n++ } END { print n + 0 }' /proc/mounts)
if [ "$fstype" = cgroup2 ] && [ "$v1" = 0 ]; then mode=unified; else mode="not-unified($fstype,v1=$v1)"; fi
report "KERNEL $(uname -r) $(uname -v)"
report "CGROUP mode=$mode controllers=$(echo $enabled | tr ' ' ,) test_cgroup=$(cut -d: -f3 /proc/self/cgroup)"
report "CPUS $(nproc) MEMORY_KB $(awk '/MemTotal/ { print $2 }' /proc/meminfo) UPTIME_AT_TESTS $(cut -d' ' -f1 /proc/uptime)"

# Runs CMD in DIR with stdin from /dev/null and returns its exit status; SIGKILLs it after SECS
# (status 137). The watcher is a sibling, not a child, of the test (busybox timeout would fork it
# under the test), so the test sees only the children it made itself, as under ctest.
run_bounded() {  # run_bounded SECS DIR CMD...
  limit=$1 dir=$2
  shift 2
  (cd "$dir" && exec "$@" </dev/null) &
  pid=$!
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$limit" &
    s=$!
    wait "$s" && kill -9 "$pid" 2>/dev/null
  ) &
  watcher=$!
  wait "$pid"
  rc=$?
  kill "$watcher" 2>/dev/null
  wait "$watcher" 2>/dev/null
  return "$rc"
}

escape_catch() {  # a test name as a Catch2 test spec matches only that name
  printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/,/\\,/g' -e 's/\[/\\[/g' -e 's/\]/\\]/g'
}

tab=$(printf '\t')
pass=0 fail=0 skip=0 id=0
while IFS="$tab" read -r kind bin arg; do
  [ -n "$kind" ] || continue
  id=$((id + 1))
  case "$kind" in
    catch) desc="$arg"; set -- "$bin" --use-colour no "$(escape_catch "$arg")" ;;
    cmd) desc="$bin${arg:+ $arg}"; set -- "$bin" $arg ;;  # $arg split on spaces on purpose
    *) say "unknown test kind $kind"; continue ;;
  esac
  say "BEGIN $id $desc"
  start=$(uptime_cs)
  # ctest runs a Catch2 binary from its own directory; so do we.
  run_bounded "$CASE_TIMEOUT" "$(dirname "$bin")" "$@"
  rc=$?
  secs=$((($(uptime_cs) - start) / 100))
  if [ "$rc" = 0 ]; then
    res=PASS pass=$((pass + 1))
  elif [ "$rc" = 77 ]; then
    res=SKIP skip=$((skip + 1))
  else
    res=FAIL fail=$((fail + 1))
    [ "$rc" = 137 ] && [ "$secs" -ge "$CASE_TIMEOUT" ] && res=FAIL-TIMEOUT
  fi
  report "RESULT $id $res rc=$rc secs=$secs $desc"
done </mini8s-vm/tests

# Anything the tests left behind under the root cgroup is worth seeing in the log.
leftover=$(cd /sys/fs/cgroup && find . -mindepth 1 -type d | grep -v "^.${TEST_CGROUP}\$" | head -20 | tr '\n' ' ')
[ -n "$leftover" ] && say "cgroups left behind: $leftover"
report "SUMMARY passed=$pass failed=$fail skipped=$skip kernel=$(uname -r) cgroup=$mode"
report "DONE"
halt_vm
