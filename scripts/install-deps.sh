#!/usr/bin/env bash
# Installs the Debian 12 packages flexnas builds against, when any is missing.
# Runs apt-get only as root; otherwise it names what is missing and stops.
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build make pkg-config
  libboost-dev libboost-graph-dev libboost-filesystem-dev
  libdnnl-dev
  libtbb-dev libeigen3-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev catch2
  libssl-dev libsqlite3-dev
  libgraphviz-dev
  libboost-mpi-dev libopenmpi-dev openmpi-bin
  # the Python module (docs/python.md) and flexnas.torch
  pybind11-dev python3-dev python3-numpy python3-torch
  # tests only: ONNX checker, headless browser for the HTML report, libFuzzer, and the
  # formatter `make format-check` runs in CI
  python3-onnx chromium clang libclang-rt-14-dev clang-format
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "flexnas: missing Debian packages: ${missing[*]}" >&2
  echo "flexnas: run 'sudo apt-get install ${missing[*]}' or run make as root" >&2
  exit 1
fi

echo "flexnas: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
