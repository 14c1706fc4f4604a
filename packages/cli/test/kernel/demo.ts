// SPDX-License-Identifier: MIT
/**
 * `vfio-ts demo --backend koffi` on the real guests: the same walk-through the simulator demo does, on a real kernel
 * and a real IOMMU. Registered with the testbed (npm run test:kernel); kernel-only, since the simulator side is
 * packages/cli/test/cli.test.ts.
 */
import { defineKernelTests } from '@vfio-ts/testbed';
import { runDemo } from '../../src/demo.js';
import { koffiHost } from '../../src/host.js';
import { createOutput } from '../../src/ui.js';

export const cliDemo = defineKernelTests('cli-demo', {
  'vfio-ts demo --backend koffi: DMA round trip, locked memory back to baseline': {
    only: 'kernel',
    run: async (_backend, ctx) => {
      const lines: string[] = [];
      const result = await runDemo(
        await koffiHost(),
        createOutput((t) => lines.push(t), false),
        {
          message: 'vfio-ts demo on a real kernel',
        },
      );
      const text = lines.join('');
      if (!result.roundTripOk) throw new Error(`round trip failed:\n${text.slice(-2000)}`);
      if (result.locked.after !== result.locked.baseline) {
        throw new Error(`locked memory ${result.locked.after} after, ${result.locked.baseline} before`);
      }
      ctx.log(
        `${result.iommu}: ${result.iovas.length} buffers at ${result.iovas.map((i) => `0x${i.toString(16)}`).join(', ')}, locked peak ${result.locked.peak} bytes`,
      );
    },
  },
});
