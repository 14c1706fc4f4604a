// SPDX-License-Identifier: MIT
/**
 * The simulator against a real kernel: `probe` (≈190 answers — errnos, flags, capability layouts, config space,
 * written byte ranges) recorded on the testbed's Debian 6.1 x86_64 guest, replayed on the x86_64-q35 profile.
 * Every answer must match; re-record with real/update.ts.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SimKernel } from '../../src/index.js';
import { grantCapIpcLock, lockedVm } from '../../src/testing/index.js';
import { probe, probeDma, probeLocked } from './probe.js';

const here = dirname(fileURLToPath(import.meta.url));
const real = JSON.parse(readFileSync(join(here, 'real', 'x86_64-q35-6.1.json'), 'utf8')) as {
  kernel: string;
  devices: { bdf: string; pciId: string; group: number }[];
  record: Record<string, unknown>;
  dma: Record<string, unknown>;
  locked: Record<string, unknown>;
};

describe(`x86_64-q35 against ${real.kernel.split(' ').slice(0, 3).join(' ')}`, () => {
  const dev = (pciId: string) => {
    const d = real.devices.find((x) => x.pciId === pciId)!;
    return { name: d.bdf, group: d.group };
  };
  // Root in the guest: CAP_IPC_LOCK, and Debian's default 8 MiB RLIMIT_MEMLOCK does not apply.
  const sim = probe(
    SimKernel.create('x86_64-q35').createProcess({ capIpcLock: true }),
    dev('1234:11e8'),
    dev('8086:100e'),
  );

  it('answers every probe as the real kernel did', () => {
    const differences = Object.keys(real.record).filter(
      (k) => JSON.stringify(real.record[k]) !== JSON.stringify(sim[k]),
    );
    expect(
      differences.map((k) => `${k}: real ${JSON.stringify(real.record[k])}, sim ${JSON.stringify(sim[k])}`),
    ).toEqual([]);
    expect(Object.keys(sim).sort()).toEqual(Object.keys(real.record).sort());
  });

  it('edu DMA through the IOMMU (blocked pages read as zeros) and its INTx/MSI interrupts match', async () => {
    const dma = await probeDma(SimKernel.create('x86_64-q35').createProcess({ capIpcLock: true }), dev('1234:11e8'));
    expect(dma).toEqual(real.dma);
    expect(Object.keys(real.dma).length).toBeGreaterThanOrEqual(8);
  });

  it('locked_vm without CAP_IPC_LOCK under the default 8 MiB RLIMIT_MEMLOCK matches VmLck', () => {
    const p = SimKernel.create('x86_64-q35').createProcess({ capIpcLock: true });
    const locked = probeLocked(
      p,
      dev('1234:11e8'),
      () => grantCapIpcLock(p, false),
      () => lockedVm(p),
    );
    expect(locked).toEqual(real.locked);
    expect(real.locked['locked.mapOnePageOver']).toEqual({ errno: 'ENOMEM' });
  });

  it('the recording is substantial (errors and successes alike)', () => {
    const values = Object.values(real.record).map((v) => JSON.stringify(v));
    expect(values.length).toBeGreaterThan(150);
    expect(values.filter((v) => v.includes('"errno"')).length).toBeGreaterThan(40);
    expect(values.filter((v) => !v.includes('"errno"')).length).toBeGreaterThan(80);
  });
});
