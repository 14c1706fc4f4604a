// SPDX-License-Identifier: MIT
/**
 * @vfio-ts/testbed: real Linux kernels with real IOMMUs in QEMU guests (x86_64 q35 + VT-d on 6.1 and on 6.12 with
 * the VFIO device cdev and iommufd, ppc64le pseries + sPAPR TCE), with QEMU's edu and e1000 bound to vfio-pci, to
 * test VFIO code without hardware.
 */
export { type BundleOptions, bundleEntry } from './bundle.js';
export {
  defineGuestChecks,
  defineKernelTests,
  expectErrno,
  type GuestCheckFn,
  isKernelTestSuite,
  type KernelTestCase,
  type KernelTestContext,
  type KernelTestFn,
  KernelTestSkip,
  type KernelTestSuite,
  type KernelTestTarget,
  notApplicable,
  suitesOfModule,
} from './define.js';
export { type DeviceModel, defaultDevices, deviceModels, type GuestDevice } from './devices.js';
export { TestbedError } from './errors.js';
export { type GuestInfo, type IommuInfo, parseGuestInfo } from './guest-info.js';
export { type GuestRunnerOptions, runGuestSuites, type TestModule } from './guest-runner.js';
export {
  type GuestName,
  type GuestSelector,
  type GuestSpec,
  guestArch,
  guestNames,
  guests,
  isGuestName,
  type KernelRecipe,
  type ModuleRebuild,
  parseGuestList,
  resolveGuest,
} from './guests.js';
export { guestEntrySource, type KernelTestRun, type RunKernelTestsOptions, runKernelTests } from './kernel-run.js';
export {
  type GuestModulePlan,
  type KernelTestModule,
  kernelTestDevices,
  kernelTestModules,
  moduleNotInGuest,
  planGuestModules,
} from './kernel-tests.js';
export { cacheDir, type GuestArch, guestArches } from './paths.js';
export { type GuestImage, type ProvisionOptions, provision } from './provision.js';
export { type QemuConfig, qemuCommand } from './qemu.js';
export {
  isKernelTestResults,
  type KernelTestResults,
  type ResultSummary,
  type SuiteResult,
  summarize,
  type TestResult,
} from './results.js';
export { type GuestRun, type RunInGuestOptions, runInGuest } from './run.js';
