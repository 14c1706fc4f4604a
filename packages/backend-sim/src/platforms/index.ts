// SPDX-License-Identifier: MIT
/** The platform profiles a SimKernel can be created with, by name. */
import type { PlatformProfile } from '../kernel.js';
import { x86Q35Kernel612Profile, x86Q35Profile } from './x86-q35.js';

export type { DeviceSpec, GroupSpec, IovaRange, PlatformProfile, Type1Params } from '../kernel.js';
export { x86Q35Kernel612Profile, x86Q35Profile };

export const profiles: Record<string, PlatformProfile> = {
  [x86Q35Profile.name]: x86Q35Profile,
  [x86Q35Kernel612Profile.name]: x86Q35Kernel612Profile,
};

export function resolveProfile(name: string): PlatformProfile {
  const p = profiles[name];
  if (p === undefined) {
    throw new TypeError(`unknown platform profile '${name}' (known: ${Object.keys(profiles).join(', ')})`);
  }
  return p;
}
