#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs what @vfio-ts/testbed needs on a Debian 12 (bookworm) host: QEMU for the guests, a static busybox for
# the x86_64 initramfs, the tools that unpack kernels and build initramfs images, and (for the x86_64-6.12 guest,
# whose VFIO and iommufd modules are rebuilt from Debian's source against Debian's headers) gcc-12 and make, plus
# libelf1 for the prebuilt objtool in linux-kbuild. Guest kernels, headers, sources, the ppc64el root and koffi for
# ppc64le are fetched later by the testbed itself into its cache (no change to the host's apt sources or
# architectures). Idempotent; installs nothing that is already there.
set -eu

packages="qemu-system-x86 qemu-system-ppc busybox-static cpio xz-utils zstd kmod dpkg apt ca-certificates gcc-12 make binutils libelf1"

missing=""
for p in $packages; do
  if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "testbed-deps: everything is installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "testbed-deps: need root to install:$missing" >&2
    exit 1
  fi
else
  SUDO=""
fi

echo "testbed-deps: installing$missing"
$SUDO apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing

# TCG is what the testbed uses (KVM is optional and often unusable in CI); say so rather than fail later.
qemu-system-x86_64 --version | head -1
qemu-system-ppc64 --version | head -1
