// SPDX-License-Identifier: MIT
// The edu driver cases that `npm run test:kernel` runs on the real guests, here on the simulator's models of them.
import { profiles, SimKernel } from '@vfio-ts/backend-sim';
import { describeKernelTests } from '@vfio-ts/testbed/vitest';
import { eduDriver } from './kernel/edu-driver.js';

for (const name of ['x86_64-q35', 'ppc64le-pseries'] as const) {
  const profile = profiles[name]!;
  describeKernelTests(eduDriver, {
    label: name,
    devices: profile.groups.flatMap((g) =>
      g.devices.map((d) => ({
        model: d.model === 'edu' ? ('edu' as const) : ('e1000' as const),
        pciId: '',
        bdf: d.name,
        group: g.id,
        groupPath: `/dev/vfio/${g.id}`,
      })),
    ),
    backend: () => SimKernel.create(name).createProcess(),
  });
}
