// SPDX-License-Identifier: MIT

import { UapiError } from './errors.js';
import type { Arch } from './generated/abi.js';
import { errnoByArch, type SystemConstants, systemConstantsByArch } from './generated/system.js';

/** C library constants (O_RDWR, PROT_*, MAP_*, EFD_*, FIONREAD, ...) for an ABI, as its own sysroot defines them. */
export function systemConstants(arch: Arch): SystemConstants {
  const found = systemConstantsByArch[arch];
  if (found === undefined) throw new UapiError('VFIO_TS_UNKNOWN_ARCH', `unknown ABI ${String(arch)}`);
  return found;
}

const names = new Map<Arch, Map<number, string>>();

/** `2` -> `'ENOENT'`. Where two names share a number (EAGAIN/EWOULDBLOCK) the first in the table wins. */
export function errnoName(errno: number, arch: Arch = 'x86_64'): string | undefined {
  let byNumber = names.get(arch);
  if (byNumber === undefined) {
    byNumber = new Map();
    for (const [name, value] of Object.entries(errnoByArch[arch])) if (!byNumber.has(value)) byNumber.set(value, name);
    names.set(arch, byNumber);
  }
  return byNumber.get(Math.abs(errno));
}

/** `'ENOENT'` -> `2` (positive, as the C library defines it). */
export function errnoNumber(name: string, arch: Arch = 'x86_64'): number {
  const value = (errnoByArch[arch] as Record<string, number>)[name];
  if (value === undefined) throw new UapiError('VFIO_TS_UNKNOWN_ERRNO', `no errno ${name} on ${arch}`);
  return value;
}
