// SPDX-License-Identifier: MIT
// The real-kernel entry's plumbing on the host: its cases run a scenario on both sides and compare the traces. Here
// both sides are simulators (ctx.target 'sim'), so every case must pass with no difference.
import { SimKernel } from '@vfio-ts/backend-sim';
import type { KernelTestContext } from '@vfio-ts/testbed';
import { describe, expect, it } from 'vitest';
import { conformance, guestFacts, profileForGuest } from './kernel/conformance.js';

function ctx(arch: string): KernelTestContext {
  return {
    target: 'sim',
    arch,
    devices: [],
    skip: (reason) => {
      throw Object.assign(new Error(reason), { skipped: true });
    },
    log: () => {},
  };
}

describe('conformance kernel entry', () => {
  it('declares one case per scenario and mode of each guest, plus a summary per arch', () => {
    const names = conformance.cases.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => n.startsWith('type1v2 ')).length).toBeGreaterThan(50);
    expect(names.filter((n) => n.startsWith('spapr-v2 ')).length).toBeGreaterThan(50);
    expect(names).toContain('x86_64 summary: counts and traces');
    expect(names).toContain('ppc64le summary: counts and traces');
    expect(conformance.cases.find((c) => c.name.startsWith('spapr-v1 '))?.arches).toEqual(['ppc64le']);
  });

  it('picks the guest profile by kernel version and describes the guests', () => {
    expect(profileForGuest('x86_64', 601)).toBe('x86_64-q35');
    expect(profileForGuest('x86_64', 612)).toBe('x86_64-q35-6.12');
    expect(profileForGuest('ppc64le', 612)).toBe('ppc64le-pseries');
    expect(guestFacts('ppc64le', 612)).toMatchObject({ tce32Size: 1n << 30n, eeh: 0 });
  });

  for (const [arch, profile, prefix] of [
    ['x86_64', 'x86_64-q35', 'type1v2 container/map-dma'],
    ['ppc64le', 'ppc64le-pseries', 'spapr-v2 container/spapr-tce-create'],
  ] as const) {
    it(`runs ${prefix} scenarios on both sides with no difference (${arch})`, async () => {
      const picked = conformance.cases.filter((c) => c.name.startsWith(prefix));
      expect(picked.length).toBeGreaterThan(3);
      let ran = 0;
      for (const c of picked) {
        const backend = SimKernel.create(profile).createProcess();
        try {
          await c.run(backend, ctx(arch));
          ran++;
        } catch (error) {
          if (!(error as { skipped?: boolean }).skipped) throw error;
        }
      }
      expect(ran).toBeGreaterThan(3);
    });
  }
});
