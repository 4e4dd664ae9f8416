#!/usr/bin/env bash
# Builds tagflow and runs the main demo on an embedded SQLite file (build/tagflow_demo.db).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target shop_demo
./build/examples/shop_demo build/tagflow_demo.db
