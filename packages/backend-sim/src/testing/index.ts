// SPDX-License-Identifier: MIT
/**
 * @vfio-ts/backend-sim/testing: controls that exist only for tests (≙ CONFIG_IOMMUFD_TEST), kept apart from the
 * kernel surface. They reach the simulator only through SimKernel hooks and object handles.
 */
export { type FailNth, failNth } from './fault.js';
export {
  checkInvariants,
  containerIommu,
  device,
  livePages,
  lockedVm,
  recordIommuFaults,
  stateDigest,
  type Type1Mapping,
  type1Mappings,
} from './observe.js';
export * from './spapr.js';
export {
  addIommuGroup,
  bindDriver,
  grantCapIpcLock,
  mmapHuge,
  passFd,
  processOf,
  setRlimitMemlock,
} from './topology.js';
