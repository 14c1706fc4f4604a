// SPDX-License-Identifier: MIT
/** Every scenario of the suite, in the order they run (cases that damage kernel state come last). */
import type { Scenario } from '../types.js';
import { scenarios as checkExtension } from './container/check-extension.js';
import { scenarios as dirtyPages } from './container/dirty-pages.js';
import { scenarios as getApiVersion } from './container/get-api-version.js';
import { scenarios as iommuGetInfo } from './container/iommu-get-info.js';
import { scenarios as mapDma } from './container/map-dma.js';
import { scenarios as setIommu } from './container/set-iommu.js';
import { scenarios as unknownIoctl } from './container/unknown-ioctl.js';
import { scenarios as unmapDma } from './container/unmap-dma.js';

export const scenarios: readonly Scenario[] = [
  ...getApiVersion,
  ...checkExtension,
  ...setIommu,
  ...unknownIoctl,
  ...iommuGetInfo,
  ...mapDma,
  ...unmapDma,
  ...dirtyPages,
];
