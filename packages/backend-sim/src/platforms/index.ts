// SPDX-License-Identifier: MIT
/** The platform profiles a SimKernel can be created with, by name. */
import type { PlatformProfile } from '../kernel.js';
import { powernv9Profile } from './powernv.js';
import { pseriesBeProfile, pseriesProfile } from './pseries.js';
import { x86Q35Kernel612Profile, x86Q35Profile } from './x86-q35.js';

export type { DeviceSpec, GroupSpec, IovaRange, PlatformProfile, Type1Params } from '../kernel.js';
export { powernv9Profile, pseriesBeProfile, pseriesProfile, x86Q35Kernel612Profile, x86Q35Profile };

export const profiles: Record<string, PlatformProfile> = Object.fromEntries(
  [x86Q35Profile, x86Q35Kernel612Profile, pseriesProfile, pseriesBeProfile, powernv9Profile].map((p) => [p.name, p]),
);

export function resolveProfile(name: string): PlatformProfile {
  const p = profiles[name];
  if (p === undefined) {
    throw new TypeError(`unknown platform profile '${name}' (known: ${Object.keys(profiles).join(', ')})`);
  }
  return p;
}
