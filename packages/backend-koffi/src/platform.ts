// SPDX-License-Identifier: MIT
import { endianness } from 'node:os';
import { VfioTsError } from '@vfio-ts/core';
import type { Arch } from '@vfio-ts/uapi';

/** What decides whether real VFIO system calls can be made from this process. */
export interface PlatformInfo {
  /** `process.platform` */
  readonly platform: string;
  /** `process.arch` */
  readonly arch: string;
  readonly endianness: 'LE' | 'BE';
  /** glibc's runtime version, or undefined on another C library. */
  readonly glibc: string | undefined;
}

export function currentPlatform(): PlatformInfo {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return {
    platform: process.platform,
    arch: process.arch,
    endianness: endianness(),
    glibc: header?.glibcVersionRuntime,
  };
}

const simulator = 'use the in-process simulator @vfio-ts/backend-sim instead (same Backend interface)';

/**
 * Maps Node's platform to the vfio-ts ABI name, or refuses. Only ABIs koffi ships a binary for *and* vfio-ts has
 * tested are accepted: koffi's ppc64 binary is little-endian ELFv2 only, so big-endian ppc64 is refused even though
 * @vfio-ts/uapi describes its layouts.
 */
export function detectArch(info: PlatformInfo): Arch {
  if (info.platform !== 'linux') {
    throw new VfioTsError(
      'VFIO_TS_UNSUPPORTED_PLATFORM',
      `@vfio-ts/backend-koffi makes Linux VFIO system calls and cannot run on '${info.platform}': ${simulator}`,
    );
  }
  if (info.glibc === undefined) {
    throw new VfioTsError(
      'VFIO_TS_UNSUPPORTED_PLATFORM',
      `@vfio-ts/backend-koffi needs glibc (libc.so.6); this Linux uses another C library: ${simulator}`,
    );
  }
  const arch = archOf(info);
  if (arch === undefined) {
    throw new VfioTsError(
      'VFIO_TS_UNSUPPORTED_PLATFORM',
      `@vfio-ts/backend-koffi supports Linux on x64, arm64 and little-endian ppc64, not ${info.arch} ` +
        `(${info.endianness === 'LE' ? 'little' : 'big'}-endian): ${simulator}`,
    );
  }
  return arch;
}

function archOf(info: PlatformInfo): Arch | undefined {
  if (info.arch === 'x64' && info.endianness === 'LE') return 'x86_64' as Arch;
  if (info.arch === 'arm64' && info.endianness === 'LE') return 'aarch64' as Arch;
  if (info.arch === 'ppc64' && info.endianness === 'LE') return 'ppc64le' as Arch;
  return undefined;
}
