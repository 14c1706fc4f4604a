// SPDX-License-Identifier: MIT
export { structLayouts as structLayoutsForTest } from '../src/generated/codecs.js';
export * from '../src/index.js';
