// SPDX-License-Identifier: MIT

import { UapiError } from './errors.js';
import type { Arch } from './generated/abi.js';
import { type IoctlName, ioctls } from './generated/ioctls.js';
import type { IoctlSpec } from './spec-types.js';

function spec(name: IoctlName): IoctlSpec {
  const found = (ioctls as Record<string, IoctlSpec>)[name];
  if (found === undefined) throw new UapiError('VFIO_TS_UNKNOWN_IOCTL', `no ioctl ${String(name)} in linux/vfio.h`);
  return found;
}

/** The request number of an ioctl on an ABI (powerpc and mips encode `_IO` differently from everyone else). */
export function ioctlNumber(name: IoctlName, arch: Arch): number {
  const number = spec(name).request[arch];
  if (number === undefined) throw new UapiError('VFIO_TS_UNKNOWN_ARCH', `unknown ABI ${String(arch)}`);
  return number;
}

/** The smallest argsz the kernel accepts for a struct ioctl (its `offsetofend` minsz); 0 for other ioctls. */
export function minArgsz(name: IoctlName, arch: Arch): number {
  const arg = spec(name).arg;
  return arg.kind === 'struct' ? arg.minArgsz[arch] : 0;
}

/**
 * The ioctls a request number can mean on an fd kind. Numbers alias across fd kinds and IOMMU backends, so the
 * answer can hold several (type1's DIRTY_PAGES and sPAPR's REGISTER_MEMORY on a container).
 */
export function ioctlsByNumber(fdKind: string, request: number, arch: Arch): IoctlSpec[] {
  return Object.values(ioctls as Record<string, IoctlSpec>).filter(
    (i) => i.fdKind === fdKind && i.request[arch] === request,
  );
}
