// SPDX-License-Identifier: MIT
// The iommufd IOAS suite `npm run test:kernel` runs on the real 6.12 guest, here against the simulator's model of it.
// Only the 6.12 profile has the cdev and /dev/iommu; the 6.1 profile runs too, so that its skips say why.
import { SimKernel } from '@vfio-ts/backend-sim';
import { describe, it } from 'vitest';
import { iommufdIoas } from '../kernel-tests/iommufd/ioas.js';
import { describeKernelTests } from '../src/vitest.js';
import { simGuestDevices } from './sim-guest.js';

for (const name of ['x86_64-q35-6.12', 'x86_64-q35']) {
  const devices = simGuestDevices(name);
  if (devices === undefined) {
    describe(`${iommufdIoas.name} [${name}]`, () => {
      it('runs against the simulator', (t) => t.skip(`@vfio-ts/backend-sim does not offer the ${name} profile yet`));
    });
    continue;
  }
  describeKernelTests(iommufdIoas, { label: name, devices, backend: () => SimKernel.create(name).createProcess() });
}
