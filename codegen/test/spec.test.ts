// SPDX-License-Identifier: MIT
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { extractHeaderFile } from '../src/header/extract.js';
import type { AbiLayouts } from '../src/layouts.js';
import { currentHeader, factsOf, LAYOUTS, ROOT, SCHEMA, SPEC } from '../src/pipeline.js';
import { loadRawSpec, resolveSpec, SpecError } from '../src/spec/model.js';

const layouts = JSON.parse(readFileSync(join(ROOT, LAYOUTS), 'utf8')) as AbiLayouts;

function withSpec(edit: (spec: Record<string, any>) => void): string {
  const spec = parse(readFileSync(SPEC, 'utf8')) as Record<string, any>;
  edit(spec);
  const path = join(mkdtempSync(join(tmpdir(), 'vfio-spec-')), 'vfio.yaml');
  writeFileSync(path, stringify(spec));
  return path;
}

async function resolveEdited(edit: (spec: Record<string, any>) => void) {
  const header = currentHeader();
  return resolveSpec({
    raw: loadRawSpec(withSpec(edit), SCHEMA),
    facts: await factsOf(header),
    layouts,
    kernelVersion: header.kernelVersion,
  });
}

describe('the schema is strict', () => {
  it('rejects an unknown key anywhere', () => {
    expect(() =>
      loadRawSpec(
        withSpec((s) => (s.ioctls[0].colour = 'red')),
        SCHEMA,
      ),
    ).toThrowError(/additional properties/);
    expect(() =>
      loadRawSpec(
        withSpec((s) => (s.structs[0].members = { id: { direction: 'sideways' } })),
        SCHEMA,
      ),
    ).toThrowError(SpecError);
  });
});

describe('the resolver rejects what the header does not define', () => {
  it('an ioctl taking a struct that does not exist', async () => {
    await expect(
      resolveEdited((s) => {
        s.ioctls.find((i: any) => i.name === 'VFIO_IOMMU_MAP_DMA').arg.struct = 'vfio_dma_map';
      }),
    ).rejects.toThrowError(/takes struct vfio_dma_map, which does not exist/);
  });

  it('a header struct the spec does not list', async () => {
    await expect(
      resolveEdited((s) => (s.structs = s.structs.filter((x: any) => x.name !== 'vfio_iova_range'))),
    ).rejects.toThrowError(/defines struct vfio_iova_range, which spec\/vfio.yaml does not list/);
  });

  it('a header doc line naming another struct, unless marked fixes-doc', async () => {
    await expect(
      resolveEdited((s) => {
        delete s.ioctls.find((i: any) => i.name === 'VFIO_IOMMU_GET_INFO').arg['fixes-doc'];
      }),
    ).rejects.toThrowError(/documents vfio_iommu_info; set fixes-doc: true/);
  });

  it('a flexible array without a length', async () => {
    await expect(
      resolveEdited((s) => {
        delete s.structs.find((x: any) => x.name === 'vfio_irq_set').members.data.length;
      }),
    ).rejects.toThrowError(/vfio_irq_set.data is a flexible array/);
  });
});

describe('header extraction', () => {
  it('reads the 6.1 header: 42 structs, 30 ioctls, and the doc lines that are missing or wrong', async () => {
    const facts = await extractHeaderFile(join(ROOT, 'spec/vendor/linux-6.1.176-1/linux/vfio.h'));
    expect(facts.structs).toHaveLength(42);
    expect(facts.ioctls).toHaveLength(30);
    const undocumented = facts.ioctls.filter((i) => i.docSignature === undefined).map((i) => i.name);
    expect(undocumented).toEqual([
      'VFIO_IOMMU_ENABLE',
      'VFIO_IOMMU_DISABLE',
      'VFIO_IOMMU_SPAPR_TCE_GET_INFO',
      'VFIO_EEH_PE_OP',
    ]);
    const structs = new Set(facts.structs.map((s) => s.name));
    const missing = facts.ioctls
      .map((i) => i.docSignature?.argument?.replace(/^struct /, ''))
      .filter((a): a is string => a?.startsWith('vfio_') === true && !structs.has(a));
    expect(missing.sort()).toEqual([
      'vfio_device_query_gfx_plane',
      'vfio_dma_map',
      'vfio_dma_unmap',
      'vfio_iommu_info',
    ]);
  });
});
