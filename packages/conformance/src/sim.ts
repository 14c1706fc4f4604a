// SPDX-License-Identifier: MIT
/**
 * `@vfio-ts/conformance/sim`: conformance systems on @vfio-ts/backend-sim, one fresh simulated kernel per scenario,
 * matching the testbed's guests (x86_64 q35 for type1, ppc64le pseries for sPAPR) or any profile.
 */
import { type PlatformProfile, profiles, SimKernel, type SimProcessBackend } from '@vfio-ts/backend-sim';
import { grantCapIpcLock, lockedVm, setRlimitMemlock } from '@vfio-ts/backend-sim/testing';
import type { ConformanceSystem, Mode } from './types.js';

/** Platform facts scenarios read (`env.facts`), per profile: what the machine is, never what a call answers. */
export function simFacts(profile: PlatformProfile): Record<string, bigint | number> {
  // The kernel each profile models (`major * 100 + minor`): x86_64-q35 is the 6.1 guest, the rest 6.12.
  const kernel = profile.name === 'x86_64-q35' ? 601 : 612;
  const group = profile.groups[0] as {
    platformData?: { tce32Size?: number; platform?: string; eehPe?: boolean; ddw?: { dma64WindowAddr?: bigint } };
  };
  const pd = group.platformData;
  const spapr = profile.spapr as { eehEnabled?: boolean } | undefined;
  if (pd === undefined) return { kernel, type1InfoArgsz: profile.type1?.capAlign8 ? 120 : 116 };
  return {
    kernel,
    tce32Size: BigInt(pd.tce32Size ?? 0),
    powernv: pd.platform === 'pseries' ? 0 : 1,
    eeh: spapr?.eehEnabled && pd.eehPe !== false ? 1 : 0,
    ddwStart: pd.platform === 'pseries' ? (pd.ddw?.dma64WindowAddr ?? 0n) : 1n << 59n,
  };
}

/** The profile the suite uses for a mode: x86_64-q35 for type1, ppc64le-pseries for sPAPR v1/v2. */
export function defaultProfileFor(mode: Mode): string {
  return mode.startsWith('type1') ? 'x86_64-q35' : 'ppc64le-pseries';
}

export interface SimSystemOptions {
  /** A profile name or object (default: `defaultProfileFor(mode)`). */
  readonly profile?: string | PlatformProfile;
}

export function simSystem(mode: Mode, options: SimSystemOptions = {}): ConformanceSystem {
  const base = options.profile ?? defaultProfileFor(mode);
  const named = typeof base === 'string' ? profiles[base] : base;
  if (named === undefined) throw new TypeError(`unknown simulator profile '${String(base)}'`);
  // The testbed's guests give edu dma_mask=0xffff…: without it no sPAPR 64-bit window is reachable.
  const profile: PlatformProfile = { ...named, eduDmaMask: named.eduDmaMask ?? (1n << 64n) - 1n };
  const kernel = SimKernel.create(profile);
  const backend = kernel.createProcess() as SimProcessBackend;
  // The real guests run the suite as root: CAP_IPC_LOCK, so no RLIMIT_MEMLOCK failures unless a step sets one.
  grantCapIpcLock(backend, true);
  const groups = profile.groups.map((g) => ({
    path: `/dev/vfio/${g.id}`,
    devices: g.devices.map((d) => d.name),
    ...(g.devices.some((d) => d.model === 'edu') ? { edu: g.devices.find((d) => d.model === 'edu')?.name } : {}),
  }));
  groups.sort((a, b) => Number(b.edu !== undefined) - Number(a.edu !== undefined));
  const facts = simFacts(profile);
  return {
    backend,
    target: 'sim',
    groups: groups as ConformanceSystem['groups'],
    lockedVm: () => BigInt(lockedVm(backend)) * BigInt(backend.pageSize),
    setRlimitMemlock: (bytes) => {
      grantCapIpcLock(backend, false);
      setRlimitMemlock(backend, bytes);
    },
    eeh: facts.eeh === 1,
    facts,
  };
}
