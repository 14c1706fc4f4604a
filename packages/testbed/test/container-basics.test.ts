// SPDX-License-Identifier: MIT
// The same cases `npm run test:kernel` runs on real kernels, here against the simulator's models of those guests.
import { SimKernel } from '@vfio-ts/backend-sim';
import { describe, it } from 'vitest';
import { containerBasics } from '../src/cases/container-basics.js';
import { describeKernelTests } from '../src/vitest.js';
import { simGuestDevices } from './sim-guest.js';

for (const name of ['x86_64-q35', 'ppc64le-pseries', 'x86_64-q35-6.12'] as const) {
  const devices = simGuestDevices(name);
  if (devices === undefined) {
    describe(`${containerBasics.name} [${name}]`, () => {
      it('runs against the simulator', (t) => t.skip(`@vfio-ts/backend-sim does not offer the ${name} profile yet`));
    });
    continue;
  }
  describeKernelTests(containerBasics, {
    label: name,
    devices,
    backend: () => SimKernel.create(name).createProcess(),
  });
}
