// SPDX-License-Identifier: MIT
/**
 * Re-records the real kernel's answers to `probe` in the testbed's x86_64 guest (about 20 s under TCG):
 * `npx tsx --conditions=@vfio-ts/source packages/backend-sim/test/core/real/update.ts [x86_64|ppc64le]`
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInGuest } from '@vfio-ts/testbed';

const here = dirname(fileURLToPath(import.meta.url));
const arch = (process.argv[2] ?? 'x86_64') as 'x86_64' | 'ppc64le';
const file = arch === 'x86_64' ? 'x86_64-q35-6.1.json' : 'ppc64le-pseries-6.12.json';
const run = await runInGuest({ arch, entry: join(here, '..', 'probe-guest.ts'), devVfioMode: '666' });
if (run.exitCode !== 0 || run.results === undefined) {
  console.error(run.console.slice(-3000));
  throw new Error(`probe failed in the guest (exit ${run.exitCode})`);
}
const r = run.results as { version: string; devices: unknown; record: unknown; dma: unknown; locked: unknown };
const out = {
  source:
    'packages/backend-sim/test/core/real/update.ts on the @vfio-ts/testbed x86_64 guest (q35, intel-iommu, TCG), root',
  kernel: r.version.trim(),
  devices: r.devices,
  record: r.record,
  dma: r.dma,
  locked: r.locked,
};
writeFileSync(join(here, file), `${JSON.stringify(out, null, 1)}\n`);
console.log(`recorded ${Object.keys(r.record as object).length} answers from ${r.version.trim()}`);
