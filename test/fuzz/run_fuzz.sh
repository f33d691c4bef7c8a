#!/bin/bash
# Runs each libFuzzer target for a bounded time on a copy of its seed corpus.
# Usage: run_fuzz.sh SECONDS CORPUS_DIR NAME BINARY [NAME BINARY ...]
# Exit 0: no target crashed; 1: a target crashed (its reproducer and log are printed); 77: skip.
set -u
SECONDS_EACH=${1:?usage}
CORPUS=${2:?usage}
shift 2
WORK=$(mktemp -d /tmp/mini8s-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

FAILED=0
while [ $# -ge 2 ]; do
  name=$1 bin=$2
  shift 2
  if [ ! -x "$bin" ]; then
    echo "SKIP: $bin not built"
    exit 77
  fi
  mkdir -p "$WORK/$name/new" "$WORK/$name/artifacts"
  # New inputs go to the scratch dir (first), the committed seeds are only read.
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$WORK/$name/artifacts/" \
    "$WORK/$name/new" "$CORPUS/$name" > "$WORK/$name/log" 2>&1
  rc=$?
  stats=$(grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$WORK/$name/log" |
          sed 's/stat:://' | tr '\n' ' ')
  if [ $rc -ne 0 ]; then
    echo "FAIL: $name exited $rc"
    tail -n 60 "$WORK/$name/log"
    for a in "$WORK/$name/artifacts"/*; do
      [ -f "$a" ] && { echo "reproducer $a (base64):"; base64 -w0 "$a"; echo; }
    done
    FAILED=1
  else
    echo "ok: $name ${SECONDS_EACH}s $stats"
  fi
done
exit $FAILED
