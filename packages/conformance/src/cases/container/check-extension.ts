// SPDX-License-Identifier: MIT
import * as uapi from '@vfio-ts/uapi';
import { expectOk, int, ioctl, openContainer, withIommu } from '../../helpers.js';
import type { Env, Mode, Scenario } from '../../types.js';
import { spaprModes, type1Modes } from '../../types.js';

type Answer = number | ((env: Env) => number);

function fresh(modes: readonly Mode[], ext: string, value: number, answer: Answer, source: string): Scenario {
  return {
    name: `container/check-extension (${modes[0]?.startsWith('spapr') ? 'sPAPR' : 'type1'}): fresh container, ${ext} → ${typeof answer === 'number' ? answer : 'platform'}`,
    modes,
    source,
    steps: [
      expectOk(openContainer(), { ret: 'fd' }),
      expectOk(ioctl('C', 'VFIO_CHECK_EXTENSION', int(value)), { ret: answer }),
    ],
  };
}

function after(modes: readonly Mode[], ext: string, value: number, answer: Answer, source: string): Scenario {
  return {
    name: `container/check-extension (${modes[0]?.startsWith('spapr') ? 'sPAPR' : 'type1'}): after SET_IOMMU, ${ext} → ${typeof answer === 'number' ? answer : 'platform'}`,
    modes,
    source,
    steps: [...withIommu(), expectOk(ioctl('C', 'VFIO_CHECK_EXTENSION', int(value)), { ret: answer })],
  };
}

const T = type1Modes;
const S = spaprModes;
const eeh = (env: Env): number => Number(env.facts.eeh ?? 0);

export const scenarios: Scenario[] = [
  fresh(T, 'VFIO_TYPE1_IOMMU', uapi.VFIO_TYPE1_IOMMU, 1, 'type1 §8 #2'),
  fresh(T, 'VFIO_TYPE1v2_IOMMU', uapi.VFIO_TYPE1v2_IOMMU, 1, 'type1 §8 #2'),
  fresh(T, 'VFIO_UNMAP_ALL', uapi.VFIO_UNMAP_ALL, 1, 'type1 §8 #2'),
  fresh(T, 'VFIO_UPDATE_VADDR', uapi.VFIO_UPDATE_VADDR, 0, 'type1 §8 #2 (iommu == NULL)'),
  fresh(T, 'VFIO_DMA_CC_IOMMU', uapi.VFIO_DMA_CC_IOMMU, 0, 'type1 §8 #2'),
  fresh(T, 'VFIO_SPAPR_TCE_IOMMU', uapi.VFIO_SPAPR_TCE_IOMMU, 0, 'type1 §2.1 table'),
  fresh(T, 'VFIO_SPAPR_TCE_v2_IOMMU', uapi.VFIO_SPAPR_TCE_v2_IOMMU, 0, 'type1 §2.1 table'),
  fresh(T, 'VFIO_EEH', uapi.VFIO_EEH, 0, 'type1 §2.1 table'),
  fresh(T, 'VFIO_NOIOMMU_IOMMU', uapi.VFIO_NOIOMMU_IOMMU, 0, 'type1 §2.1 (Debian: CONFIG_VFIO_NOIOMMU off)'),
  fresh(T, 'an unknown extension (99)', 99, 0, 'type1 §8 #2'),
  after(T, 'VFIO_UPDATE_VADDR', uapi.VFIO_UPDATE_VADDR, 1, 'type1 §8 #13'),
  after(T, 'VFIO_TYPE1_IOMMU', uapi.VFIO_TYPE1_IOMMU, 1, 'type1 §8 #13 (also when v2 was chosen)'),
  after(T, 'VFIO_TYPE1v2_IOMMU', uapi.VFIO_TYPE1v2_IOMMU, 1, 'type1 §2.1 table'),
  after(T, 'VFIO_UNMAP_ALL', uapi.VFIO_UNMAP_ALL, 1, 'type1 §2.1 table'),
  after(T, 'VFIO_SPAPR_TCE_v2_IOMMU', uapi.VFIO_SPAPR_TCE_v2_IOMMU, 0, 'type1 §2.1 table'),
  fresh(S, 'VFIO_SPAPR_TCE_IOMMU', uapi.VFIO_SPAPR_TCE_IOMMU, 1, 'spapr §13 #1'),
  fresh(S, 'VFIO_SPAPR_TCE_v2_IOMMU', uapi.VFIO_SPAPR_TCE_v2_IOMMU, 1, 'spapr §13 #1'),
  fresh(S, 'VFIO_TYPE1_IOMMU', uapi.VFIO_TYPE1_IOMMU, 0, 'spapr §13 #1'),
  fresh(S, 'VFIO_TYPE1v2_IOMMU', uapi.VFIO_TYPE1v2_IOMMU, 0, 'spapr §13 #1'),
  fresh(S, 'VFIO_UNMAP_ALL', uapi.VFIO_UNMAP_ALL, 0, 'spapr §10'),
  fresh(S, 'VFIO_UPDATE_VADDR', uapi.VFIO_UPDATE_VADDR, 0, 'spapr §10'),
  fresh(S, 'VFIO_EEH', uapi.VFIO_EEH, eeh, 'spapr §13 #1 (eeh_enabled())'),
  fresh(S, 'an unknown extension (99)', 99, 0, 'spapr §13 #1'),
  after(S, 'VFIO_SPAPR_TCE_IOMMU', uapi.VFIO_SPAPR_TCE_IOMMU, 1, 'spapr §10 (same answers in v1 and v2)'),
  after(S, 'VFIO_SPAPR_TCE_v2_IOMMU', uapi.VFIO_SPAPR_TCE_v2_IOMMU, 1, 'spapr §10'),
  after(S, 'VFIO_TYPE1v2_IOMMU', uapi.VFIO_TYPE1v2_IOMMU, 0, 'spapr §10'),
  after(S, 'VFIO_EEH', uapi.VFIO_EEH, eeh, 'spapr §10'),
];
