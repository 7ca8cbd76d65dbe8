#!/usr/bin/env bash
# Builds the C++ client, the CLI, the tests and the benchmarks under build/cmake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p build  # a fresh clone has none; the configure log goes there
cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE="${RILLFLOW_BUILD_TYPE:-RelWithDebInfo}" >build/cmake-configure.log 2>&1 ||
    { cat build/cmake-configure.log; exit 1; }
cmake --build build/cmake -j"$(nproc)"
