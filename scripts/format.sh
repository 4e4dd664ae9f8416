#!/usr/bin/env bash
# Formats every C++ file of the project with the committed .clang-format (clang-format 14, the
# Debian 12 version), or with --check only lists the files that are not formatted and fails.
#
#   scripts/format.sh          rewrite files in place
#   scripts/format.sh --check  report, change nothing (exit 1 when a file needs formatting)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format not found (apt-get install clang-format)" >&2; exit 2; }
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h')
if [[ "${1:-}" == "--check" ]]; then
    bad=0
    for f in "${files[@]}"; do
        if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
            echo "needs formatting: $f"
            bad=1
        fi
    done
    exit "$bad"
fi
clang-format -i "${files[@]}"
