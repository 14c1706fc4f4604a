// SPDX-License-Identifier: MIT
/**
 * @vfio-ts/backend-sim: an in-process Linux kernel for VFIO. `SimKernel.create('x86_64-q35').createProcess()`
 * gives a `Backend` that behaves like the real thing at the ioctl boundary, errno included.
 * Test-only controls live in `@vfio-ts/backend-sim/testing`.
 */
export {
  type DeviceSpec,
  type GroupSpec,
  type IovaRange,
  type KernelController,
  KernelHooks,
  type PlatformName,
  type PlatformProfile,
  SimKernel,
  type SimKernelOptions,
  type Type1Params,
} from './kernel.js';
export {
  powernv9Profile,
  profiles,
  pseriesBeProfile,
  pseriesProfile,
  x86Q35Kernel612Profile,
  x86Q35Profile,
} from './platforms/index.js';
export { SimProcessBackend } from './process-backend.js';
