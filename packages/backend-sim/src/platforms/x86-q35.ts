// SPDX-License-Identifier: MIT
/**
 * The x86_64 QEMU q35 guest of docs/real-kernel-testbed.md: intel-iommu with interrupt remapping, edu (group 1)
 * and e1000 (group 2), Debian bookworm's 6.1 kernel. `x86Q35Kernel612Profile` is the same machine on 6.12.
 * Config-space values (BAR/ROM addresses, COMMAND 0x0103, Interrupt Lines) are what SeaBIOS left, read in the guest
 * with test/core/probe-guest.ts.
 */
import type { PlatformProfile } from '../kernel.js';
import { vfioIommuType1DriverOps } from '../type1/driver-ops.js';

export const x86Q35Profile: PlatformProfile = {
  name: 'x86_64-q35',
  kernelVersion: '6.1',
  // The testbed starts edu with dma_mask=0xffffffffffffffff (QEMU's default is 28 bits); the profile matches it.
  eduDmaMask: 0xffff_ffff_ffff_ffffn,
  arch: 'x86_64',
  littleEndian: true,
  pageSize: 4096,
  iommuDrivers: [vfioIommuType1DriverOps],
  groups: [
    {
      id: 1,
      devices: [
        {
          name: '0000:00:01.0',
          model: 'edu',
          firmware: { bars: [0xfea00000], command: 0x0103, interruptLine: 0x0a },
        },
      ],
    },
    {
      id: 2,
      devices: [
        {
          name: '0000:00:02.0',
          model: 'e1000',
          reset: false,
          firmware: { bars: [0xfeb40000, 0xc000], rom: 0xfeb00000, command: 0x0103, interruptLine: 0x0b },
        },
      ],
    },
  ],
  type1: {
    // VT-d second-level tables: 4K | 2M | 1G, as measured in the guest.
    pgsizeBitmap: 0x40201000n,
    // 39-bit guest address width minus the x86 MSI window 0xfee00000-0xfeefffff.
    iovaRanges: [
      { start: 0x0n, end: 0xfedfffffn },
      { start: 0xfef00000n, end: 0x7fffffffffn },
    ],
    dmaEntryLimit: 65535,
    // QEMU's intel-iommu leaves snoop-control off, so domains cannot enforce cache coherency (to verify on the testbed).
    enforceCacheCoherency: false,
    interruptRemapping: true,
    allowUnsafeInterrupts: false,
    capAlign8: false,
    nestingExtension: true,
    updateVaddrNeedsIommu: true,
  },
};

export const x86Q35Kernel612Profile: PlatformProfile = {
  ...x86Q35Profile,
  name: 'x86_64-q35-6.12',
  kernelVersion: '6.12',
  type1: { ...x86Q35Profile.type1!, capAlign8: true, nestingExtension: true },
};
