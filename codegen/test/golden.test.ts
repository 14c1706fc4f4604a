// SPDX-License-Identifier: MIT
/**
 * Golden files (nestjs/graphql style): a miniature header and spec with one of each shape the real header has
 * (nested struct, anonymous union, __counted_by flexible array, flag set, capability chain) go through the whole
 * generator, and the output must equal the checked-in expected files byte for byte.
 * `VFIO_TS_UPDATE_GOLDEN=1 npx vitest run codegen/test/golden.test.ts` re-probes and rewrites them.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractHeaderFacts, mergeHeaderFacts } from '../src/header/extract.js';
import type { AbiLayouts } from '../src/layouts.js';
import { factsOfDir, generate, probeRequestFor, SCHEMA } from '../src/pipeline.js';
import { probeLayouts } from '../src/probe/index.js';
import { loadRawSpec, resolveSpec } from '../src/spec/model.js';

const dir = join(import.meta.dirname, 'golden/mini');
const update = process.env.VFIO_TS_UPDATE_GOLDEN === '1';

async function run() {
  const facts = await factsOfDir(dir, '7.3', join(dir, 'spec.yaml'));
  const layoutsPath = join(dir, 'layouts.json');
  if (update) {
    const layouts = await probeLayouts({
      ...probeRequestFor(facts, dir),
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
    expect(spec.flagSets).toEqual([
      { name: 'vfio-mini-flags', values: ['VFIO_MINI_FLAG_A', 'VFIO_MINI_FLAG_B'] },
      // iommufd.h spells flags as enumerators.
      { name: 'iommu-mini-map-flags', values: ['IOMMU_MINI_MAP_FIXED', 'IOMMU_MINI_MAP_WRITEABLE'] },
    ]);
    expect(spec.capabilityChains[0]!.caps).toEqual([{ id: 'VFIO_MINI_CAP_RANGE', struct: 'vfio_mini_range' }]);
  });

  it('merges a second header: items keep their header, the struct-line kernel-doc is read, a continued #define joins', async () => {
    const { spec } = await run();
    expect(spec.headers).toEqual(['linux/vfio.h', 'linux/iommufd.h']);
    const map = spec.ioctls.find((i) => i.name === 'IOMMU_MINI_MAP')!;
    expect(map).toMatchObject({ header: 'linux/iommufd.h', fdKind: 'iommufd' });
    expect(map.headerDoc).toBe('struct iommu_mini_map - ioctl(IOMMU_MINI_MAP)');
    expect(spec.structs.find((s) => s.name === 'vfio_mini')!.header).toBe('linux/vfio.h');
    const facts = await factsOfDir(dir, '7.3', join(dir, 'spec.yaml'));
    expect(facts.ioctls.find((i) => i.name === 'IOMMU_MINI_MAP')!.text).toBe('_IO(IOMMUFD_TYPE, IOMMUFD_CMD_MINI_MAP)');
  });

  it('reads an older header set without iommufd.h, and rejects one that should have it', async () => {
    const old = mkdtempSync(join(tmpdir(), 'vfio-ts-golden-'));
    try {
      mkdirSync(join(old, 'linux'));
      copyFileSync(join(dir, 'linux/vfio.h'), join(old, 'linux/vfio.h'));
      const facts = await factsOfDir(old, '6.1', join(dir, 'spec.yaml'));
      expect(facts.headers).toEqual([{ path: 'linux/vfio.h', sha256: expect.any(String) }]);
      await expect(factsOfDir(old, '6.12', join(dir, 'spec.yaml'))).rejects.toThrow(/linux\/iommufd\.h does not exist/);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  });

  it('rejects two headers that define the same name', async () => {
    const facts = await extractHeaderFacts('#define VFIO_X 1\nstruct vfio_y { int a; };\n');
    expect(() =>
      mergeHeaderFacts([
        { path: 'linux/vfio.h', facts },
        { path: 'linux/iommufd.h', facts },
      ]),
    ).toThrow(/struct vfio_y \(linux\/vfio\.h and linux\/iommufd\.h\), VFIO_X/);
  });
});
