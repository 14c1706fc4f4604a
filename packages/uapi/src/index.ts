// SPDX-License-Identifier: MIT

export {
  buildCapabilityChain,
  type CapabilityChainName,
  type CapabilityEntry,
  type CapabilityHeader,
  capabilityStruct,
  walkCapabilities,
} from './capabilities.js';
export { codec, type FieldLayout, type StructCodec, type StructInit, type StructView } from './codec.js';
export { UapiError, type UapiErrorCode } from './errors.js';
export * from './generated/abi.js';
export { capabilityChains } from './generated/capabilities.js';
export * from './generated/constants.js';
export { type IoctlName, ioctls } from './generated/ioctls.js';
export type { SystemConstants } from './generated/system.js';
export * from './generated/types.js';
export { ioctlNumber, ioctlsByNumber, minArgsz } from './ioctl.js';
export type { IoctlArgSpec, IoctlSpec, ScalarType } from './spec-types.js';
export { errnoName, errnoNumber, systemConstants } from './system.js';
