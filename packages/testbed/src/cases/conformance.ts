// SPDX-License-Identifier: MIT
/**
 * The @vfio-ts/conformance suite on a real kernel: every scenario × IOMMU mode of the guest's family becomes one
 * case, run through the koffi backend against the devices init bound. Machine facts the scenarios read come from
 * the simulator profile of the same guest, so a wrong profile shows up here as a failure, not as a silent skip.
 * Scenarios marked `realKernelHazard` are skipped by the conformance runner itself.
 */
import { readFileSync } from 'node:fs';
import { profiles } from '@vfio-ts/backend-sim';
import {
  type ConformanceSystem,
  type Mode,
  runScenario,
  scenarios,
  spaprModes,
  type1Modes,
} from '@vfio-ts/conformance';
import { defaultProfileFor, simFacts } from '@vfio-ts/conformance/sim';
import type { Backend } from '@vfio-ts/core';
import { defineKernelTests, type KernelTestContext, type KernelTestFn } from '../define.js';

function lockedVmBytes(): bigint {
  const match = /^VmLck:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (match === null) throw new Error('no VmLck in /proc/self/status');
  return BigInt(match[1] as string) * 1024n;
}

function kernelSystem(backend: Backend, ctx: KernelTestContext, mode: Mode): ConformanceSystem {
  const byGroup = new Map<string, { path: string; devices: string[]; edu?: string }>();
  for (const d of ctx.devices) {
    const g = byGroup.get(d.groupPath) ?? { path: d.groupPath, devices: [] };
    g.devices.push(d.bdf);
    if (d.model === 'edu') g.edu = d.bdf;
    byGroup.set(d.groupPath, g);
  }
  const groups = [...byGroup.values()].sort((a, b) => Number(b.edu !== undefined) - Number(a.edu !== undefined));
  const profile = profiles[defaultProfileFor(mode)];
  return {
    backend,
    target: 'kernel',
    groups,
    lockedVm: lockedVmBytes,
    ...(profile !== undefined ? { facts: simFacts(profile) } : {}),
  };
}

const cases: Record<string, { arches: string[]; run: KernelTestFn }> = {};
for (const scenario of scenarios) {
  for (const mode of scenario.modes) {
    const arches = type1Modes.includes(mode) ? ['x86_64'] : spaprModes.includes(mode) ? ['ppc64le'] : [];
    cases[`${mode} ${scenario.name}`] = {
      arches,
      run: async (backend, ctx) => {
        const result = await runScenario(scenario, mode, kernelSystem(backend, ctx, mode));
        if (result.status === 'skipped') ctx.skip(result.reason ?? 'skipped by the conformance runner');
        if (result.status === 'failed') throw new Error(result.error ?? 'failed');
      },
    };
  }
}

export const conformance = defineKernelTests('conformance', cases);
