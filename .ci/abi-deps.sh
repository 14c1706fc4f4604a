#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the compilers and sysroots the layout probe (codegen/src/probe) needs on Debian 12: one per ABI, see
# codegen/src/probe/abis.ts. gcc-multilib is deliberately absent: it conflicts with the cross compilers on Debian,
# and clang --target=i386-linux-gnu with libc6-dev-i386-cross covers i386.
# Usage: .ci/abi-deps.sh (as root, or with sudo on PATH). Then run the probe tests with VFIO_TS_REQUIRE_ABIS=1.
set -eu

packages="gcc libc6-dev linux-libc-dev binutils
gcc-aarch64-linux-gnu libc6-dev-arm64-cross
gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross
gcc-powerpc64-linux-gnu libc6-dev-ppc64-cross
clang libc6-dev-i386-cross"

missing=""
for p in $packages; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "abi-deps: all installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
echo "abi-deps: installing$missing"
$sudo apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is intended
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends $missing
