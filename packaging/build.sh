#!/usr/bin/env bash
# Configures and builds mini8s into ./build (or $MINI8S_BUILD_DIR) with Ninja and ccache.
# ccache keys on paths relative to the source tree, so CI's fresh clone elsewhere still hits.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${MINI8S_BUILD_DIR:-$src/build}
build_type=${MINI8S_BUILD_TYPE:-Debug}

export CCACHE_DIR=${CCACHE_DIR:-/root/.cache/mini8s-ccache}
export CCACHE_BASEDIR=$src
export CCACHE_NOHASHDIR=1
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
mkdir -p "$CCACHE_DIR"
ccache --max-size=5G >/dev/null

cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache \
  -DMINI8S_WERROR="${MINI8S_WERROR:-OFF}" >/dev/null
cmake --build "$build" -j"${MINI8S_JOBS:-2}"
