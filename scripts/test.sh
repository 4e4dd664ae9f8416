#!/usr/bin/env bash
# Builds tagflow with its tests and runs every test: C++ (Catch2), scenario files, examples,
# the packaging check (find_package and add_subdirectory consumers) and Python (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${TAGFLOW_TEST_BUILD_DIR:-build-test}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTAGFLOW_WERROR=ON -DTAGFLOW_PYTHON=ON \
  -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build "$build"
ctest --test-dir "$build" --output-on-failure -j2
