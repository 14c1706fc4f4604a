// SPDX-License-Identifier: MIT
/**
 * `@vfio-ts/conformance/vitest`: `defineConformanceSuite` registers the suite as vitest tests, one per scenario and
 * mode, against the backend a test file provides. Skipped scenarios are skipped with their reason.
 */
import { describe, it } from 'vitest';
import { scenarios as allScenarios } from './cases/index.js';
import { runScenario, whySkip } from './runner.js';
import type { MakeSystem, Mode, Scenario } from './types.js';

export interface ConformanceSuiteOptions {
  /** Shown in the describe block: the backend and platform. */
  readonly name: string;
  /** A fresh system for each scenario run. */
  readonly makeSystem: MakeSystem;
  readonly modes: readonly Mode[];
  readonly scenarios?: readonly Scenario[];
}

export function defineConformanceSuite(options: ConformanceSuiteOptions): void {
  describe(`conformance [${options.name}]`, () => {
    for (const mode of options.modes) {
      describe(mode, () => {
        for (const scenario of options.scenarios ?? allScenarios) {
          if (!scenario.modes.includes(mode)) continue;
          it(scenario.name, async (t) => {
            const system = await options.makeSystem(mode);
            try {
              const reason = whySkip(scenario, mode, system);
              if (reason !== undefined) {
                t.skip(reason);
                return;
              }
              const result = await runScenario(scenario, mode, system);
              if (result.status === 'skipped') t.skip(result.reason ?? 'skipped');
              if (result.status === 'failed') {
                const last = result.trace.at(-1);
                throw new Error(
                  `${result.error}\n  last step: ${JSON.stringify(last, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`,
                );
              }
            } finally {
              await system.dispose?.();
            }
          });
        }
      });
    }
  });
}
