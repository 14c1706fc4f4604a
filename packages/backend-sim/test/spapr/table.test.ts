// SPDX-License-Identifier: MIT
// Table geometry and accounting (pnv_pci_ioda2_get_table_size, spapr_tce_get_table_size) and the on-demand levels.
import { describe, expect, it } from 'vitest';
import { powernv9Profile } from '../../src/platforms/powernv.js';
import { pnvPciIoda2GetTableSize } from '../../src/powerpc/platforms/ioda2.js';
import { spaprTceGetTableSize } from '../../src/powerpc/platforms/pseries.js';
import { E, GiB, Harness, MiB, READ, WRITE } from './harness.js';

describe('table sizes charged to locked_vm', () => {
  it('ioda2 (64K kernel pages): default window 8 MiB, 64K×64 GiB 16 MiB, invalid geometry 0', () => {
    expect(pnvPciIoda2GetTableSize(12, 2n * GiB, 1, 16)).toBe(8n * MiB);
    expect(pnvPciIoda2GetTableSize(16, 1n << 36n, 1, 16)).toBe(16n * MiB);
    expect(pnvPciIoda2GetTableSize(16, 1n << 56n, 1, 16)).toBe(1n << 44n);
    expect(pnvPciIoda2GetTableSize(16, 3n * GiB, 1, 16)).toBe(0n);
    expect(pnvPciIoda2GetTableSize(16, GiB, 0, 16)).toBe(0n);
    expect(pnvPciIoda2GetTableSize(16, GiB, 6, 16)).toBe(0n);
  });

  it('pseries: window >> (shift - 3); more than one level is ~0U', () => {
    expect(spaprTceGetTableSize(12, GiB, 1)).toBe(2n * MiB);
    expect(spaprTceGetTableSize(16, GiB, 2)).toBe(0xffff_ffffn);
  });
});

describe('multi-level sparse TCE tables', () => {
  it('a 1 TiB window allocates levels only where 1 GiB is mapped, and frees nothing it does not need', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process({ capIpcLock: true });
    const c = h.openOk(p, true, [h.group(0)]);
    const b = h.mmap(p, 64n * MiB);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: b.start, size: 64n * MiB })).toBe(0);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_TCE_REMOVE', { startAddr: 0n })).toBe(0);
    const r = h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 40n, levels: 2 });
    expect(r.ret).toBe(0);
    const start = r.decode<{ startAddr: bigint }>().startAddr;
    const tbl = c.tables[0]!;
    expect(tbl.itLevelSize).toBe(8192);
    expect(tbl.allocatedLevels).toBe(0);
    for (let off = 0n; off < GiB; off += 64n * MiB) {
      const map = { vaddr: b.start, iova: start + off, size: 64n * MiB, flags: READ | WRITE };
      expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', map)).toBe(0);
    }
    // 16384 TCEs of 64K fill exactly two 8192-entry leaves out of 2048 possible.
    expect(tbl.allocatedLevels).toBe(2);
    expect([...tbl.entries()]).toHaveLength(16384);
    const far = { vaddr: b.start, iova: start + (1n << 39n), size: 64n * 1024n, flags: READ };
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', far)).toBe(0);
    expect(tbl.allocatedLevels).toBe(3);
  });

  it('an on-demand level that cannot be allocated makes MAP fail with ENOMEM and clears what it set', () => {
    const h = new Harness(powernv9Profile);
    const p = h.process({ capIpcLock: true });
    const c = h.openOk(p, true, [h.group(0)]);
    const b = h.mmap(p, 64n * MiB);
    expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: b.start, size: 64n * MiB })).toBe(0);
    const r = h.call(c, p, 'VFIO_IOMMU_SPAPR_TCE_CREATE', { pageShift: 16, windowSize: 1n << 40n, levels: 2 });
    const start = r.decode<{ startAddr: bigint }>().startAddr;
    // 8192 entries per leaf: a 1024-entry map straddling two leaves needs the second one mid-way.
    h.fake.failNth('iommu_table_alloc', 2);
    const map = { vaddr: b.start, iova: start + 8192n * 65536n - 32n * MiB, size: 64n * MiB, flags: READ };
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', map)).toBe(E('ENOMEM'));
    expect([...c.tables[1]!.entries()]).toHaveLength(0);
  });
});
