// SPDX-License-Identifier: MIT
/**
 * Golden files (nestjs/graphql style): a miniature header and spec with one of each shape the real header has
 * (nested struct, anonymous union, __counted_by flexible array, flag set, capability chain) go through the whole
 * generator, and the output must equal the checked-in expected files byte for byte.
 * `VFIO_TS_UPDATE_GOLDEN=1 npx vitest run codegen/test/golden.test.ts` re-probes and rewrites them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractHeaderFile } from '../src/header/extract.js';
import type { AbiLayouts } from '../src/layouts.js';
import { generate, SCHEMA } from '../src/pipeline.js';
import { probeLayouts } from '../src/probe/index.js';
import { loadRawSpec, resolveSpec } from '../src/spec/model.js';

const dir = join(import.meta.dirname, 'golden/mini');
const update = process.env.VFIO_TS_UPDATE_GOLDEN === '1';

async function run() {
  const facts = await extractHeaderFile(join(dir, 'linux/vfio.h'));
  const layoutsPath = join(dir, 'layouts.json');
  if (update) {
    const layouts = await probeLayouts({
      headerDir: dir,
      structs: facts.structs.map((s) => ({
        name: s.name,
        members: s.members.map((m) => ({ name: m.name, ...(m.flexible ? { flexible: true } : {}) })),
      })),
      constants: facts.constants.map((c) => c.name),
      ioctls: facts.ioctls.map((i) => i.name),
      system: [
        { name: 'O_RDWR', include: 'fcntl.h' },
        { name: 'EINVAL', include: 'errno.h' },
      ],
    });
    writeFileSync(layoutsPath, `${JSON.stringify(layouts, null, 2)}\n`);
  }
  const layouts = JSON.parse(readFileSync(layoutsPath, 'utf8')) as AbiLayouts;
  const spec = resolveSpec({ raw: loadRawSpec(join(dir, 'spec.yaml'), SCHEMA), facts, layouts, kernelVersion: '7.3' });
  return { spec, files: generate(facts, layouts, spec) };
}

describe('generator golden case', () => {
  it('produces the expected files byte for byte', async () => {
    const { files } = await run();
    const expectedDir = join(dir, 'expected');
    if (update) mkdirSync(expectedDir, { recursive: true });
    for (const f of files) {
      const name = f.path.split('/').pop()!;
      const expectedPath = join(expectedDir, name);
      if (update) writeFileSync(expectedPath, f.text);
      expect(existsSync(expectedPath), `${name} has a golden file`).toBe(true);
      expect(f.text, name).toBe(readFileSync(expectedPath, 'utf8'));
    }
  });

  it('is byte-identical run to run', async () => {
    const a = (await run()).files;
    const b = (await run()).files;
    expect(b.map((f) => f.text)).toEqual(a.map((f) => f.text));
  });

  it('resolves the shapes: __counted_by count, anonymous union, flag set, chain', async () => {
    const { spec } = await run();
    const mini = spec.structs.find((s) => s.name === 'vfio_mini')!;
    expect(mini.members.find((m) => m.name === 'ranges')!.flexible).toEqual({ count: 'nr_ranges' });
    expect(mini.members.filter((m) => m.union === 0).map((m) => m.name)).toEqual(['index', 'id']);
    expect(spec.flagSets).toEqual([{ name: 'vfio-mini-flags', values: ['VFIO_MINI_FLAG_A', 'VFIO_MINI_FLAG_B'] }]);
    expect(spec.capabilityChains[0]!.caps).toEqual([{ id: 'VFIO_MINI_CAP_RANGE', struct: 'vfio_mini_range' }]);
  });
});
