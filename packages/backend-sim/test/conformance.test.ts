// SPDX-License-Identifier: MIT
// The @vfio-ts/conformance suite on the simulator, all four IOMMU modes, with the profiles of the testbed's guests:
// x86_64 q35 (type1 v1/v2) and ppc64le pseries (sPAPR v2/v1); powernv9 adds what pseries lacks (EEH, two PEs).
import { simSystem } from '@vfio-ts/conformance/sim';
import { defineConformanceSuite } from '@vfio-ts/conformance/vitest';

defineConformanceSuite({
  name: 'backend-sim',
  modes: ['type1v2', 'type1v1', 'spapr-v2', 'spapr-v1'],
  makeSystem: (mode) => simSystem(mode),
});

defineConformanceSuite({
  name: 'backend-sim ppc64le-powernv9',
  modes: ['spapr-v2', 'spapr-v1'],
  makeSystem: (mode) => simSystem(mode, { profile: 'ppc64le-powernv9' }),
});
