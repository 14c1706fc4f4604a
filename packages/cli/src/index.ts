// SPDX-License-Identifier: MIT
/**
 * @vfio-ts/cli: the `vfio-ts` command (`demo`, `inspect`, `catalogue`), also usable as functions: `run(argv, io)`
 * runs the command in-process; `runDemo` and `inspect` take a `Host` (the simulator or this machine).
 */
export { catalogue } from './catalogue.js';
export { type CliIo, run, USAGE } from './cli.js';
export { chooseEdu, type DemoOptions, type DemoResult, runDemo } from './demo.js';
export {
  CliError,
  type Host,
  type HostDevice,
  type HostGroup,
  koffiHost,
  SIM_PROFILES,
  simHost,
  simHostFor,
} from './host.js';
export {
  type DeviceReport,
  type GroupReport,
  type InspectReport,
  type IommuReport,
  type IrqReport,
  inspect,
  type RegionReport,
  renderInspect,
  type WindowReport,
} from './inspect.js';
export { type Colors, colorEnabled, createOutput, type Output } from './ui.js';
