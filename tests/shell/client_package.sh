#!/usr/bin/env bash
# The installed C++ client is usable by another project: install it into a
# private prefix, then build a small program against it once with CMake's
# find_package(rillflow) and once with pkg-config, and run both against the
# test database (DATABASE_URL): each appends and reads back one event.
set -euo pipefail
: "${DATABASE_URL:?DATABASE_URL names the test database}"
source "$(dirname "$0")/lib/preamble.sh"

make_work_dir

cmake --install build/cmake --prefix "$work/prefix" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; fail "cmake --install"; }

mkdir -p "$work/consumer"
cat >"$work/consumer/main.cpp" <<'CPP'
#include <cstdlib>
#include <iostream>
#include <rillflow/rillflow.hpp>

int main() {
    auto store = rillflow::Store::builder(std::getenv("DATABASE_URL")).max_connections(1).build();
    const auto stream = rillflow::Uuid::random();
    const auto version = store.events().append(stream, rillflow::Expected::NoStream(),
                                               {{"PackageChecked", {{"ok", true}}}});
    const auto events = store.events().read_stream(stream);
    if (version != 1 || events.size() != 1 || events[0].type != "PackageChecked") return 1;
    try {
        store.events().append(stream, rillflow::Expected::NoStream(), {{"Again", nullptr}});
    } catch (const rillflow::VersionConflict& e) {
        std::cout << "consumer ok: " << e.sqlstate() << "\n";
        return 0;
    }
    return 2;
}
CPP
cat >"$work/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(consumer CXX)
find_package(rillflow REQUIRED)
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE rillflow::client)
CMAKE

libdir=$(dirname "$(find "$work/prefix" -name 'librillflow.so*' | head -n 1)")

# find_package(rillflow)
cmake -S "$work/consumer" -B "$work/consumer/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
    >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "find_package(rillflow)"; }
cmake --build "$work/consumer/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "building against the CMake package"; }
LD_LIBRARY_PATH="$libdir:${LD_LIBRARY_PATH:-}" "$work/consumer/build/consumer" |
    grep -q "consumer ok: RF001" || fail "the CMake-built consumer did not run as expected"
echo "ok: find_package(rillflow)"

# pkg-config rillflow
pcdir=$(dirname "$(find "$work/prefix" -name rillflow.pc | head -n 1)")
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs rillflow) || fail "pkg-config rillflow"
# shellcheck disable=SC2086
g++ -std=c++17 "$work/consumer/main.cpp" -o "$work/consumer-pc" $flags || fail "building with pkg-config flags: $flags"
LD_LIBRARY_PATH="$libdir:${LD_LIBRARY_PATH:-}" "$work/consumer-pc" |
    grep -q "consumer ok: RF001" || fail "the pkg-config-built consumer did not run as expected"
echo "ok: pkg-config rillflow"
