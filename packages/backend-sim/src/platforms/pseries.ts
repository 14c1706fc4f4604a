// SPDX-License-Identifier: MIT
/**
 * The ppc64le pseries guest of real-kernel-testbed.md: QEMU 7.2 `-machine pseries -cpu power9 -m 2G`, Debian's
 * 6.12 `powerpc64le` kernel (4 KiB pages), the test devices on a second PHB (one IOMMU group for the whole PHB).
 * Every value below was observed on that guest or follows from QEMU's spapr PHB defaults.
 */
import type { PlatformProfile } from '../kernel.js';
import type { SpaprPlatformParams, TableGroupParams } from '../powerpc/table-group.js';
import { tceIommuDriverOps } from '../spapr/driver-ops.js';

/** QEMU -m 2G: ibm,query-pe-dma-window reports RAM >> 12 TCEs as the largest block. */
const GUEST_RAM = 2n << 30n;

/** The PHB's table group as the guest kernel sets it up (spapr_tce_init_table_group + the DDW query). */
export const pseriesPhbTableGroup: TableGroupParams = {
  platform: 'pseries',
  tce32Start: 0n,
  // ibm,dma-window of QEMU's spapr-pci-host-bridge: 1 GiB at 0.
  tce32Size: 0x4000_0000,
  // GET_INFO ddw.pgsizes 0x1211000: 4K | 64K | 2M | 16M.
  pgsizes: 0x1211000n,
  maxLevels: 1,
  maxDynamicWindowsSupported: 2,
  // eeh_enabled() is 0 in the TCG guest, so no EEH PE is attached to the devices.
  eehPe: false,
  ddw: {
    // QEMU's sphb->dma64_win_addr default.
    dma64WindowAddr: 0x0800_0000_0000_0000n,
    largestAvailableBlock: GUEST_RAM >> 12n,
    maxWindows: 2,
  },
};

const spapr: SpaprPlatformParams = { eehEnabled: false };

/** ppc64le pseries LPAR, Linux 6.12 (the real testbed guest). */
export const pseriesProfile: PlatformProfile = {
  name: 'ppc64le-pseries',
  arch: 'ppc64le',
  // As the testbed guest's edu (dma_mask=0xffffffffffffffff): a 64-bit window at 0x0800000000000000 is reachable.
  eduDmaMask: 0xffff_ffff_ffff_ffffn,
  littleEndian: true,
  pageSize: 4096,
  iommuDrivers: [tceIommuDriverOps],
  groups: [
    {
      id: 1,
      devices: [
        { name: '0001:00:00.0', model: 'edu' },
        { name: '0001:00:01.0', model: 'e1000' },
      ],
      platformData: pseriesPhbTableGroup,
    },
  ],
  spapr,
  // qemu-system-ppc64's edu is native-endian to the emulated (big-endian) target, whatever the guest's byte order.
  deviceBigEndian: true,
};

/** The same machine with a big-endian ppc64 kernel: powerpc ioctl numbers, big-endian structs. */
export const pseriesBeProfile: PlatformProfile = {
  ...pseriesProfile,
  name: 'ppc64-pseries',
  arch: 'ppc64',
  littleEndian: false,
};
