#!/usr/bin/env bash
# Installs the Debian 12 packages tagflow builds and tests with, only those that are missing.
# Runs apt-get as root directly, or through sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev libboost-json1.81-dev
  libsqlite3-dev sqlite3 libfmt-dev libutf8proc-dev libssl-dev libroaring-dev curl openssl
  libhowardhinnant-date-dev tzdata libkainjow-mustache-dev libcli11-dev
  catch2 chromium
  python3 python3-pybind11 python3-pytest python3-setuptools
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
