// SPDX-License-Identifier: MIT
/**
 * A POWER9 bare-metal host (powernv, IODA2 PHB4): 64 KiB pages, EEH, multi-level TCE tables, windows at 0 and
 * 1 << 59 (pe->tce_bypass_base). Parameters follow spapr-semantics.md §3.1; several are firmware choices [U].
 */
import type { PlatformProfile } from '../kernel.js';
import type { SpaprPlatformParams, TableGroupParams } from '../powerpc/table-group.js';
import { tceIommuDriverOps } from '../spapr/driver-ops.js';

/** One IODA2 PE's table group (pnv_pci_ioda2_setup_dma_pe). */
export const ioda2PeTableGroup: TableGroupParams = {
  platform: 'ioda2',
  tce32Start: 0n,
  // phb->ioda.m32_pci_base: 2 GiB on typical firmware.
  tce32Size: 0x8000_0000,
  // ibm,supported-tce-sizes as POWER9 firmware reports it: 4K | 64K | 2M | 1G.
  pgsizes: 0x4021_1000n,
  maxLevels: 5,
  maxDynamicWindowsSupported: 2,
  eehPe: true,
  tceBypassBase: 1n << 59n,
  // MAX_PAGE_ORDER of a 64K-page ppc64 kernel: the largest contiguous TCE level is 16 MiB.
  maxPageOrder: 8,
};

const spapr: SpaprPlatformParams = { eehEnabled: true };

/** POWER9 powernv, ppc64le, 64 KiB pages: edu and e1000 in separate PEs (groups) of the same PHB type. */
export const powernv9Profile: PlatformProfile = {
  name: 'ppc64le-powernv9',
  arch: 'ppc64le',
  littleEndian: true,
  pageSize: 65536,
  iommuDrivers: [tceIommuDriverOps],
  groups: [
    { id: 0, devices: [{ name: '0000:01:00.0', model: 'edu' }], platformData: ioda2PeTableGroup },
    { id: 1, devices: [{ name: '0001:01:00.0', model: 'e1000' }], platformData: ioda2PeTableGroup },
  ],
  spapr,
  // As under qemu-system-ppc64, where edu is native-endian to the big-endian target.
  deviceBigEndian: true,
};
