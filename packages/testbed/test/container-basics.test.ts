// SPDX-License-Identifier: MIT
// The same cases `npm run test:kernel` runs on real kernels, here against the simulator's models of those guests.
import { profiles, SimKernel } from '@vfio-ts/backend-sim';
import { describe, it } from 'vitest';
import { containerBasics } from '../src/cases/container-basics.js';
import { type GuestDevice, modelOf } from '../src/devices.js';
import { describeKernelTests } from '../src/vitest.js';

for (const name of ['x86_64-q35', 'ppc64le-pseries'] as const) {
  const profile = profiles[name];
  if (profile === undefined) {
    describe(`${containerBasics.name} [${name}]`, () => {
      it('runs against the simulator', (t) => t.skip(`@vfio-ts/backend-sim does not offer the ${name} profile yet`));
    });
    continue;
  }
  const devices: GuestDevice[] = profile.groups.flatMap((g) =>
    g.devices.map((d) => ({
      model: d.model === 'edu' || d.model === 'e1000' ? d.model : modelOf(''),
      pciId: '',
      bdf: d.name,
      group: g.id,
      groupPath: `/dev/vfio/${g.id}`,
    })),
  );
  describeKernelTests(containerBasics, {
    label: name,
    devices,
    backend: () => SimKernel.create(name).createProcess(),
  });
}
