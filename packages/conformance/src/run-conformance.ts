// SPDX-License-Identifier: MIT
/** `runConformance`: the suite as a plain function, for any backend or host, returning structured results. */
import { scenarios as allScenarios } from './cases/index.js';
import { runScenario } from './runner.js';
import type { ScenarioResult } from './trace.js';
import type { MakeSystem, Mode, Scenario } from './types.js';

export interface RunConformanceOptions {
  /** A fresh system per scenario (a new simulated kernel), or the same process with a real kernel. */
  readonly makeSystem: MakeSystem;
  readonly modes: readonly Mode[];
  /** Only scenarios whose name contains this. */
  readonly filter?: string;
  /** Defaults to the whole suite. */
  readonly scenarios?: readonly Scenario[];
  /** Called after each scenario (progress output). */
  readonly onResult?: (result: ScenarioResult) => void;
}

export interface ConformanceCounts {
  readonly scenarios: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

export interface ConformanceReport {
  readonly results: readonly ScenarioResult[];
  readonly counts: ConformanceCounts;
  /** Skip reasons with how many scenario runs each covers. */
  readonly skipReasons: Readonly<Record<string, number>>;
}

export function countResults(results: readonly ScenarioResult[]): ConformanceCounts {
  const n = (s: string): number => results.filter((r) => r.status === s).length;
  return { scenarios: results.length, passed: n('passed'), failed: n('failed'), skipped: n('skipped') };
}

export async function runConformance(options: RunConformanceOptions): Promise<ConformanceReport> {
  const results: ScenarioResult[] = [];
  for (const mode of options.modes) {
    for (const scenario of options.scenarios ?? allScenarios) {
      if (!scenario.modes.includes(mode)) continue;
      if (options.filter !== undefined && !scenario.name.includes(options.filter)) continue;
      const system = await options.makeSystem(mode);
      try {
        const result = await runScenario(scenario, mode, system);
        results.push(result);
        options.onResult?.(result);
      } finally {
        await system.dispose?.();
      }
    }
  }
  const skipReasons: Record<string, number> = {};
  for (const r of results)
    if (r.status === 'skipped') skipReasons[r.reason ?? ''] = (skipReasons[r.reason ?? ''] ?? 0) + 1;
  return { results, counts: countResults(results), skipReasons };
}
