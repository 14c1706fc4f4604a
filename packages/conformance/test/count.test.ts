// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { scenarios } from '../src/cases/index.js';
import { allModes } from '../src/types.js';

describe('scenario set', () => {
  it('has at least 150 uniquely named scenarios, each with steps, modes and a source', () => {
    const names = scenarios.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(scenarios.length).toBeGreaterThanOrEqual(150);
    for (const s of scenarios) {
      expect(s.steps.length, s.name).toBeGreaterThan(0);
      expect(s.modes.length, s.name).toBeGreaterThan(0);
      expect(
        s.modes.every((m) => allModes.includes(m)),
        s.name,
      ).toBe(true);
      expect(s.source, s.name).not.toBe('');
    }
  });

  it('names every real-kernel hazard with a reason', () => {
    const hazards = scenarios.filter((s) => s.realKernelHazard !== undefined);
    expect(hazards.length).toBeGreaterThan(0);
    for (const h of hazards) expect(h.realKernelHazard?.length, h.name).toBeGreaterThan(20);
  });
});
