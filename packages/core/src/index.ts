// SPDX-License-Identifier: MIT
export type { Arch, Backend, IoctlArg, IoctlOptions, Mapping, MmapOptions } from './backend.js';
export {
  type FdKind,
  isSystemError,
  type SystemErrorDetails,
  VfioSystemError,
  VfioTsError,
} from './errors.js';
