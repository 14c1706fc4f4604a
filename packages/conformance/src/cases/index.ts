// SPDX-License-Identifier: MIT
/** Every scenario of the suite, in the order they run (cases that damage kernel state come last). */
import type { Scenario } from '../types.js';
import { scenarios as checkExtension } from './container/check-extension.js';
import { scenarios as dirtyPages } from './container/dirty-pages.js';
import { scenarios as s_eeh_pe_op } from './container/eeh-pe-op.js';
import { scenarios as s_enable_disable } from './container/enable-disable.js';
import { scenarios as getApiVersion } from './container/get-api-version.js';
import { scenarios as iommuGetInfo } from './container/iommu-get-info.js';
import { scenarios as mapDma } from './container/map-dma.js';
import { scenarios as s_map_dma_spapr } from './container/map-dma-spapr.js';
import { scenarios as setIommu } from './container/set-iommu.js';
import { scenarios as s_spapr_register_memory } from './container/spapr-register-memory.js';
import { scenarios as s_spapr_tce_create } from './container/spapr-tce-create.js';
import { scenarios as s_spapr_tce_get_info } from './container/spapr-tce-get-info.js';
import { scenarios as s_spapr_tce_remove } from './container/spapr-tce-remove.js';
import { scenarios as s_spapr_unregister_memory } from './container/spapr-unregister-memory.js';
import { scenarios as unknownIoctl } from './container/unknown-ioctl.js';
import { scenarios as unmapDma } from './container/unmap-dma.js';
import { scenarios as s_unmap_dma_spapr } from './container/unmap-dma-spapr.js';

export const scenarios: readonly Scenario[] = [
  ...getApiVersion,
  ...checkExtension,
  ...setIommu,
  ...unknownIoctl,
  ...iommuGetInfo,
  ...mapDma,
  ...unmapDma,
  ...dirtyPages,
  ...s_spapr_tce_get_info,
  ...s_spapr_register_memory,
  ...s_spapr_unregister_memory,
  ...s_spapr_tce_create,
  ...s_spapr_tce_remove,
  ...s_map_dma_spapr,
  ...s_unmap_dma_spapr,
  ...s_enable_disable,
  ...s_eeh_pe_op,
];
