// SPDX-License-Identifier: MIT
export { catalogue } from './catalogue.js';
