// SPDX-License-Identifier: MIT
/**
 * @vfio-ts/conformance: one VFIO conformance suite for every backend. Scenarios are plain data (FORMAT.md); run
 * them with `runConformance` (structured results) or register them as vitest tests with
 * `defineConformanceSuite` from `@vfio-ts/conformance/vitest`. Traces of two runs compare with `compareTraces`.
 */
export { scenarios } from './cases/index.js';
export * from './helpers.js';
export {
  type ConformanceCounts,
  type ConformanceReport,
  countResults,
  type RunConformanceOptions,
  runConformance,
} from './run-conformance.js';
export { iommuTypeOf, runScenario, whySkip } from './runner.js';
export {
  compareTraces,
  explain,
  type KnownDifference,
  maskedHex,
  type ScenarioResult,
  type ScenarioStatus,
  type TraceDifference,
  type TraceEntry,
} from './trace.js';
export * from './types.js';
