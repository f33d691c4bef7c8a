#!/usr/bin/env bash
# One command from a fresh Debian 12 checkout to a running server: deps, build, run.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/packaging/install-deps.sh"
"$src/packaging/build.sh"
exec "${MINI8S_BUILD_DIR:-$src/build}/mini8s" server "$@"
