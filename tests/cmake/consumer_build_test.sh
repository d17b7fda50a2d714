#!/usr/bin/env bash
# Installs the engine from the build tree into a fresh prefix, builds the green-tint example
# worker against it from a separate project (find_package(trickle)), and runs the result.
#   consumer_build_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"
source="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
test -f "$work/prefix/lib/cmake/trickle/trickleConfig.cmake"
test -f "$work/prefix/include/trickle/runtime/frame_processor.hpp"

CXX="${CXX:-g++}" CC="${CC:-gcc}" cmake -S "$source/tests/cmake/consumer" -B "$work/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  -DEXAMPLE_SOURCE="$source/examples/cpp/green_tint_worker.cpp" >"$work/configure.log"
ninja -C "$work/consumer" >"$work/build.log" || { cat "$work/configure.log" "$work/build.log"; exit 1; }

# The worker built out of tree serves: it answers /health once its model is loaded.
"$work/consumer/green_tint_worker" --help | grep -q -- "--port"
"$work/consumer/green_tint_worker" --host 127.0.0.1 --port 0 --port-file "$work/port" >"$work/worker.log" 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port="$(cat "$work/port")"
for _ in $(seq 100); do
  health="$(python3 -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())" "http://127.0.0.1:$port/health" 2>/dev/null || true)"
  [[ "$health" == '{"status": "IDLE"}' ]] && break
  sleep 0.1
done
echo "out-of-tree worker on port $port: $health"
[[ "$health" == '{"status": "IDLE"}' ]]
