// SPDX-License-Identifier: MIT
export { createKoffiBackend, type KoffiBackend, type KoffiBackendOptions } from './backend.js';
export { currentPlatform, detectArch, type PlatformInfo } from './platform.js';
