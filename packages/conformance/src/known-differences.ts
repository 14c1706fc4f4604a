// SPDX-License-Identifier: MIT
/**
 * Differences between real-kernel and simulator traces that are understood (DIFFERENCES.md has the long form).
 * A difference listed here is reported as explained; any other one is a simulator bug or a new kernel fact.
 */
import type { KnownDifference } from './trace.js';

export const knownDifferences: readonly KnownDifference[] = [
  // None yet: every entry needs a real-kernel trace that shows it. Add them with the DIFFERENCES.md section name.
];
