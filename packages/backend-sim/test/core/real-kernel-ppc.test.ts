// SPDX-License-Identifier: MIT
/**
 * The VFIO core and vfio-pci side of the ppc64le-pseries profile against the testbed's 6.12 pseries guest
 * (sPAPR v2 container; the sPAPR IOMMU itself is covered by SPAPR-SCENARIOS.md).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VFIO_SPAPR_TCE_v2_IOMMU } from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { SimKernel } from '../../src/index.js';
import { probe } from './probe.js';

const here = dirname(fileURLToPath(import.meta.url));
const real = JSON.parse(readFileSync(join(here, 'real', 'ppc64le-pseries-6.12.json'), 'utf8')) as {
  kernel: string;
  devices: { bdf: string; pciId: string; group: number }[];
  record: Record<string, unknown>;
};

/**
 * Differences whose fix belongs to src/platforms/pseries.ts (sim-spapr): what SLOF leaves in config space — COMMAND
 * (edu 0x0102, e1000 0x0103), BAR addresses (edu BAR0 0x80000000; e1000 BAR0 0x80100000, BAR1 I/O 0x40, ROM
 * 0x80140000), Interrupt Line 0. Listed so the test fails once they are fixed and this list can shrink.
 */
const ownedByPseriesProfile = ['edu.config.64', 'e1000.config.64'];

describe(`ppc64le-pseries against ${real.kernel.split(' ').slice(0, 3).join(' ')}`, () => {
  it('answers every core/device probe as the real kernel did', () => {
    const dev = (pciId: string) => {
      const d = real.devices.find((x) => x.pciId === pciId)!;
      return { name: d.bdf, group: d.group };
    };
    const sim = probe(
      SimKernel.create('ppc64le-pseries').createProcess({ capIpcLock: true }),
      dev('1234:11e8'),
      dev('8086:100e'),
      { iommu: VFIO_SPAPR_TCE_v2_IOMMU },
    );
    const differences = Object.keys(real.record).filter(
      (k) => JSON.stringify(real.record[k]) !== JSON.stringify(sim[k]),
    );
    expect(differences).toEqual(ownedByPseriesProfile);
    expect(Object.keys(sim).sort()).toEqual(Object.keys(real.record).sort());
    expect(Object.keys(real.record).length).toBeGreaterThan(120);
  });
});
