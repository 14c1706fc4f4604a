// SPDX-License-Identifier: MIT
// The cdev suite `npm run test:kernel` runs on real kernels, here against the simulator's models of the guests:
// the 6.12 profile runs every case; the 6.1 and pseries profiles have no cdev, so every case is skipped, saying why.
import { SimKernel } from '@vfio-ts/backend-sim';
import { describe, expect, it } from 'vitest';
import { cdev } from '../kernel-tests/cdev/cdev.js';
import { describeKernelTests } from '../src/vitest.js';
import { simGuestDevices } from './sim-guest.js';

for (const name of ['x86_64-q35-6.12', 'x86_64-q35', 'ppc64le-pseries']) {
  const devices = simGuestDevices(name);
  if (devices === undefined) {
    describe(`${cdev.name} [${name}]`, () => {
      it('runs against the simulator', (t) => t.skip(`@vfio-ts/backend-sim does not offer the ${name} profile yet`));
    });
    continue;
  }
  describeKernelTests(cdev, { label: name, devices, backend: () => SimKernel.create(name).createProcess() });
}

describe('cdev suite preconditions on the simulator', () => {
  // Without these the 6.12 run above would be all skips and prove nothing.
  it('the x86_64-q35-6.12 profile has cdev nodes for edu and e1000, in registration order', () => {
    const devices = simGuestDevices('x86_64-q35-6.12');
    expect(devices?.map((d) => [d.model, d.cdev])).toEqual([
      ['edu', '/dev/vfio/devices/vfio0'],
      ['e1000', '/dev/vfio/devices/vfio1'],
    ]);
  });

  it('the 6.1 and pseries profiles have none (as the real 6.1 and ppc64le guests)', () => {
    for (const name of ['x86_64-q35', 'ppc64le-pseries']) {
      expect(simGuestDevices(name)?.every((d) => d.cdev === undefined)).toBe(true);
    }
  });
});
