// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { ioctl, struct, withIommu } from '../../helpers.js';
import type { Env, Expect, Scenario } from '../../types.js';

const S = ['spapr-v2', 'spapr-v1'] as const;
/** With no EEH PE on the group (pseries under TCG) every op fails with ENODEV before anything else is checked. */
const orNoPe = (errno: string | undefined) => (env: Env) => (env.facts.eeh ? errno : 'ENODEV');
const op = (value: Record<string, number>, expect: Expect) => ({
  ...ioctl('C', 'VFIO_EEH_PE_OP', struct(value)),
  expect,
});

export const scenarios: Scenario[] = [
  {
    name: 'container/eeh-pe-op: argsz 11 → EINVAL (ENODEV without a PE)',
    modes: S,
    source: 'spapr §13 #43, §4.11 step 2a',
    steps: [...withIommu(), op({ argsz: 11, op: uapi.VFIO_EEH_PE_GET_STATE }, { errno: orNoPe('EINVAL') })],
  },
  {
    name: 'container/eeh-pe-op: flags 1 → EINVAL (ENODEV without a PE)',
    modes: S,
    source: 'spapr §13 #43',
    steps: [...withIommu(), op({ flags: 1, op: uapi.VFIO_EEH_PE_GET_STATE }, { errno: orNoPe('EINVAL') })],
  },
  {
    name: 'container/eeh-pe-op: unknown op 42 → EINVAL (ENODEV without a PE)',
    modes: S,
    source: 'spapr §13 #43',
    steps: [...withIommu(), op({ op: 42 }, { errno: orNoPe('EINVAL') })],
  },
  {
    name: 'container/eeh-pe-op: INJECT_ERR with argsz 12 → EINVAL (ENODEV without a PE)',
    modes: S,
    source: 'spapr §13 #43',
    steps: [...withIommu(), op({ argsz: 12, op: uapi.VFIO_EEH_PE_INJECT_ERR }, { errno: orNoPe('EINVAL') })],
  },
  {
    name: 'container/eeh-pe-op: GET_STATE on a healthy PE → NORMAL (ENODEV without a PE)',
    modes: S,
    source: 'spapr §13 #43',
    steps: [
      ...withIommu(),
      op({ op: uapi.VFIO_EEH_PE_GET_STATE }, { errno: orNoPe(undefined), ret: uapi.VFIO_EEH_PE_STATE_NORMAL }),
    ],
  },
  {
    name: 'container/eeh-pe-op: ENABLE → 0 (ENODEV without a PE)',
    modes: S,
    source: 'spapr §4.11',
    steps: [...withIommu(), op({ op: uapi.VFIO_EEH_PE_ENABLE }, { errno: orNoPe(undefined) })],
  },
  {
    name: 'container/eeh-pe-op: before SET_IOMMU → EINVAL',
    modes: S,
    source: 'spapr §4.1.4 (no driver)',
    steps: [
      { op: 'open', as: 'C', path: 'container', expect: { ret: 'fd' } },
      op({ op: uapi.VFIO_EEH_PE_GET_STATE }, { errno: 'EINVAL' }),
    ],
  },
];
