// SPDX-License-Identifier: MIT
/** The README's example is code users copy: run it as written, on the simulator. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it, vi } from 'vitest';

it('runs the README example', async () => {
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(code).toBeDefined();
  const file = fileURLToPath(new URL(`./readme-example-${process.pid}.tmp.ts`, import.meta.url));
  writeFileSync(file, code!);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await import(file);
    expect(log.mock.calls).toEqual([[{ raw: 0x010000ed, major: 1, minor: 0 }], [3628800], [true, expect.any(BigInt)]]);
  } finally {
    log.mockRestore();
    rmSync(file, { force: true });
  }
});
