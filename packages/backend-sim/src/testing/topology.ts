// SPDX-License-Identifier: MIT
/** Test-only setup: groups and devices, process limits, host drivers, hugepage memory. */
import type { Mapping } from '@vfio-ts/core';
import type { IommuGroup } from '../iommu/iommu-group.js';
import type { GroupSpec, SimKernel } from '../kernel.js';
import type { Process } from '../mm/process.js';
import type { SimProcessBackend } from '../process-backend.js';

export function processOf(backend: SimProcessBackend): Process {
  return backend.process;
}

/** Adds an IOMMU group with its devices (bound to vfio-pci unless the spec says otherwise): /dev/vfio/<id>. */
export function addIommuGroup(kernel: SimKernel, spec: GroupSpec): IommuGroup {
  if (kernel.iommuGroups.has(spec.id)) throw new TypeError(`group ${spec.id} exists`);
  return kernel.addGroup(spec);
}

/** setrlimit(RLIMIT_MEMLOCK) in bytes. */
export function setRlimitMemlock(backend: SimProcessBackend, bytes: bigint): void {
  backend.process.rlimitMemlock = bytes;
}

export function grantCapIpcLock(backend: SimProcessBackend, granted = true): void {
  backend.process.capIpcLock = granted;
}

/**
 * Binds a device to a host driver (or unbinds it with null): a host driver claims DMA ownership, which makes its
 * group non-viable while no VFIO user holds it.
 */
export function bindDriver(kernel: SimKernel, deviceName: string, driver: 'vfio-pci' | 'host' | null): void {
  for (const g of kernel.iommuGroups.values()) {
    const d = g.devices.find((x) => x.name === deviceName);
    if (d !== undefined) {
      d.driver = driver;
      return;
    }
  }
  throw new TypeError(`no device ${deviceName}`);
}

/** mmap(MAP_HUGETLB) of `length` bytes backed by pages of `pageSize`. */
export function mmapHuge(backend: SimProcessBackend, length: number, pageSize: number, prot?: number): Mapping {
  const p = backend.process;
  const vma = p.mmapAnon(length, prot ?? 3, pageSize);
  if (typeof vma === 'number') throw new Error(`mmapHuge failed: ${vma}`);
  return { address: vma.start, length: vma.bytes.length, bytes: vma.bytes };
}

/** Passes an open file to another process (≙ SCM_RIGHTS, or inheritance across fork): returns its fd there. */
export function passFd(from: SimProcessBackend, fd: number, to: SimProcessBackend): number {
  const file = from.process.fds.get(fd);
  if (typeof file === 'number') throw new TypeError(`fd ${fd} is not open`);
  const got = to.process.fds.install(file.get());
  if (got < 0) {
    file.put(to.process);
    throw new TypeError('no free fd in the receiving process');
  }
  return got;
}
