#!/bin/sh
# Checks that this host is a pure cgroup v2 host of the kind the v2 backend targets: /sys/fs/cgroup
# is cgroup2 with no v1 hierarchy mounted, the memory, cpu and pids controllers are enabled for
# children, and a child cgroup enforces memory.max (a process over it is OOM-killed and counted),
# pids.max and cpu.max. Runs in the test VM under busybox sh; on a hybrid or v1 host it fails, which
# is the point. Exit 0 when everything holds, 1 otherwise.

root=/sys/fs/cgroup
failures=0
ok() { echo "cgroup2-probe: ok: $*"; }
bad() { echo "cgroup2-probe: FAILED: $*"; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...
  d=$1; shift
  if "$@"; then ok "$d"; else bad "$d"; fi
}

fstype=$(awk '$2 == "/sys/fs/cgroup" { t = $3 } END { print t }' /proc/mounts)
check "/sys/fs/cgroup is cgroup2 (found '${fstype:-nothing}')" test "$fstype" = cgroup2
v1=$(awk '$3 == "cgroup" { print $2 }' /proc/mounts | tr '\n' ' ')
check "no cgroup v1 hierarchy is mounted${v1:+ (found: $v1)}" test -z "$v1"
[ "$fstype" = cgroup2 ] || { echo "cgroup2-probe: $failures failed"; exit 1; }

has_word() { case " $(cat "$1") " in *" $2 "*) return 0 ;; esac; return 1; }
for c in memory cpu pids; do
  check "controller $c is available" has_word $root/cgroup.controllers $c
  check "controller $c is enabled in the root's cgroup.subtree_control" has_word $root/cgroup.subtree_control $c
done
echo "cgroup2-probe: controllers: $(cat $root/cgroup.controllers); enabled: $(cat $root/cgroup.subtree_control)"

cg=$root/mini8s-probe-$$
mkdir "$cg" || { bad "mkdir $cg"; exit 1; }
cleanup() {
  [ -e "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill"
  sleep 0.2
  rmdir "$cg" 2>/dev/null
}
trap cleanup EXIT

for f in memory.max memory.events pids.max cpu.max cpu.stat cgroup.kill; do
  check "the child cgroup has $f" test -e "$cg/$f"
done
echo 67108864 >"$cg/memory.max"
check "memory.max reads back 64 MiB (got $(cat "$cg/memory.max"))" test "$(cat "$cg/memory.max")" = 67108864
echo 0 >"$cg/memory.swap.max" 2>/dev/null
echo 8 >"$cg/pids.max"
check "pids.max reads back 8" test "$(cat "$cg/pids.max")" = 8
echo "50000 100000" >"$cg/cpu.max"
check "cpu.max reads back '50000 100000'" test "$(cat "$cg/cpu.max")" = "50000 100000"

# A process placed in the child shows up there and is accounted.
sh -c "echo \$\$ >$cg/cgroup.procs && exec sleep 30" &
pid=$!
sleep 0.5
check "a process moved into the child is listed in its cgroup.procs" grep -qx "$pid" "$cg/cgroup.procs"
check "/proc/PID/cgroup names the child ($(cat /proc/$pid/cgroup))" grep -qx "0::/${cg#"$root"/}" /proc/$pid/cgroup
check "memory.current is accounted (> 0)" test "$(cat "$cg/memory.current")" -gt 0
kill "$pid"; wait "$pid" 2>/dev/null

# pids.max: with 8 allowed, 20 background sleeps cannot all start.
sh -c "echo \$\$ >$cg/cgroup.procs; n=0; i=0
  while [ \$i -lt 20 ]; do sleep 5 2>/dev/null & [ \$? = 0 ] && n=\$((n + 1)); i=\$((i + 1)); done
  kill \$(jobs -p) 2>/dev/null; exit 0" 2>/dev/null
events=$(awk '$1 == "max" { print $2 }' "$cg/pids.events")
check "pids.max refused forks (pids.events max=$events)" test "${events:-0}" -gt 0
echo 1 >"$cg/cgroup.kill"
i=0
while [ -n "$(cat "$cg/cgroup.procs")" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "cgroup.kill empties the child" test -z "$(cat "$cg/cgroup.procs")"

# memory.max: touching 128 MiB under a 64 MiB limit, without swap, gets the process OOM-killed.
sh -c "echo \$\$ >$cg/cgroup.procs && exec dd if=/dev/zero of=/dev/null bs=128M count=1" 2>/dev/null
rc=$?
ooms=$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.events")
check "a process over memory.max is OOM-killed (exit $rc, memory.events oom_kill=$ooms)" \
  test "$rc" = 137 -a "${ooms:-0}" -ge 1

if [ "$failures" = 0 ]; then
  echo "cgroup2-probe: unified cgroup v2, every check passed"
  exit 0
fi
echo "cgroup2-probe: $failures checks failed"
exit 1
