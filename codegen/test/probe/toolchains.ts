// SPDX-License-Identifier: MIT
/** Shared by the probe tests: which ABIs this machine can compile for, and how a test skips when it cannot. */
import type { TestContext } from 'vitest';
import { ABI_NAMES, type AbiName, availableAbis } from '../../src/probe/index.js';

export const toolchains = await availableAbis(ABI_NAMES);

// CI installs every toolchain (.ci/abi-deps.sh) and sets this, so a missing one fails there instead of skipping.
const required = process.env.VFIO_TS_REQUIRE_ABIS === '1';

for (const [abi, reason] of Object.entries(toolchains.missing)) {
  console.warn(`[probe tests] ${required ? 'FAIL' : 'skip'} ${abi}: ${reason}`);
}

/** Call first in a test that needs `abi`'s compiler: skips with the reason (naming the package) when it is missing. */
export function needAbi(ctx: TestContext, abi: AbiName): void {
  const reason = toolchains.missing[abi];
  if (reason === undefined) return;
  if (required) throw new Error(`VFIO_TS_REQUIRE_ABIS=1 but ${reason}`);
  ctx.skip(reason);
}
