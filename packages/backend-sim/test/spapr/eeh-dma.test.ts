// SPDX-License-Identifier: MIT
// EEH PE operations (§4.11, scenario 43) and DMA through the TCE tables on the powernv model.
import {
  codec,
  VFIO_EEH_PE_GET_STATE,
  VFIO_EEH_PE_INJECT_ERR,
  VFIO_EEH_PE_RESET_DEACTIVATE,
  VFIO_EEH_PE_RESET_HOT,
  VFIO_EEH_PE_STATE_NORMAL,
  VFIO_EEH_PE_STATE_RESET,
  VFIO_EEH_PE_STATE_STOPPED,
  VFIO_EEH_PE_STATE_UNAVAIL,
  VFIO_EEH_PE_UNFREEZE_DMA,
  VFIO_EEH_PE_UNFREEZE_IO,
} from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { ioda2PeTableGroup, powernv9Profile } from '../../src/platforms/powernv.js';
import { E, Harness, MiB, READ, WRITE } from './harness.js';

function setup() {
  const h = new Harness(powernv9Profile);
  const p = h.process();
  const g = h.group(0);
  const c = h.openOk(p, true, [g]);
  const b = h.mmap(p, MiB);
  expect(h.ret(c, p, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', { vaddr: b.start, size: MiB })).toBe(0);
  return { h, p, g, c, b };
}

describe('EEH_PE_OP (43)', () => {
  it('argument errors and a group without a PE', () => {
    const { h, p, c } = setup();
    const op = (x: Record<string, unknown>) => h.ret(c, p, 'VFIO_EEH_PE_OP', x);
    expect(op({ argsz: 11, op: VFIO_EEH_PE_GET_STATE })).toBe(E('EINVAL'));
    expect(op({ flags: 1, op: VFIO_EEH_PE_GET_STATE })).toBe(E('EINVAL'));
    expect(op({ op: 42 })).toBe(E('EINVAL'));
    expect(op({ op: VFIO_EEH_PE_GET_STATE })).toBe(VFIO_EEH_PE_STATE_NORMAL);
    const min = codec('vfio_eeh_pe_op', h.arch).offsetEnd('op');
    expect(op({ argsz: min, op: VFIO_EEH_PE_INJECT_ERR })).toBe(E('EINVAL'));
    const nope = h.addGroup(9, { ...ioda2PeTableGroup, eehPe: false });
    expect(h.attach(c, p, nope)).toBe(0);
    expect(op({ op: VFIO_EEH_PE_GET_STATE })).toBe(E('ENODEV'));
  });

  it('inject → frozen (DMA blocked), unfreeze, reset hot → RESET, deactivate → NORMAL', () => {
    const { h, p, c, b, g } = setup();
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: MiB, flags: READ | WRITE })).toBe(0);
    const op = (x: Record<string, unknown>) => h.ret(c, p, 'VFIO_EEH_PE_OP', x);
    expect(typeof g.dma!.translate(0n, 4, true)).toBe('object');
    expect(op({ op: VFIO_EEH_PE_INJECT_ERR, err: { type: 7, func: 0 } })).toBe(E('EINVAL'));
    expect(op({ op: VFIO_EEH_PE_INJECT_ERR, err: { type: 0, func: 20 } })).toBe(E('EINVAL'));
    expect(op({ op: VFIO_EEH_PE_INJECT_ERR, err: { type: 1, func: 3, addr: 0n, mask: 0n } })).toBe(0);
    expect(op({ op: VFIO_EEH_PE_GET_STATE })).toBe(VFIO_EEH_PE_STATE_STOPPED);
    expect(g.dma!.translate(0n, 4, true)).toBe(E('EIO'));
    expect(op({ op: VFIO_EEH_PE_UNFREEZE_DMA })).toBe(0);
    expect(op({ op: VFIO_EEH_PE_GET_STATE })).toBe(VFIO_EEH_PE_STATE_UNAVAIL);
    expect(op({ op: VFIO_EEH_PE_UNFREEZE_IO })).toBe(0);
    expect(op({ op: VFIO_EEH_PE_GET_STATE })).toBe(VFIO_EEH_PE_STATE_NORMAL);
    expect(op({ op: VFIO_EEH_PE_RESET_HOT })).toBe(0);
    expect(op({ op: VFIO_EEH_PE_GET_STATE })).toBe(VFIO_EEH_PE_STATE_RESET);
    expect(op({ op: VFIO_EEH_PE_RESET_DEACTIVATE })).toBe(0);
    expect(op({ op: VFIO_EEH_PE_GET_STATE })).toBe(VFIO_EEH_PE_STATE_NORMAL);
  });
});

describe('DMA through the TCE tables', () => {
  it('reaches the registered page; permission and holes are enforced; powernv implies read with write', () => {
    const { h, p, c, b, g } = setup();
    expect(g.dma!.translate(0n, 4, false)).toBe(E('EFAULT'));
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 0n, size: 65536n, flags: READ })).toBe(0);
    b.bytes.set([1, 2, 3, 4], 0x10);
    const w = g.dma!.translate(0x10n, 4, false);
    if (typeof w === 'number') throw new Error(`translate failed ${w}`);
    expect([...w.page.bytes.subarray(w.offset, w.offset + 4)]).toEqual([1, 2, 3, 4]);
    expect(g.dma!.translate(0x10n, 4, true)).toBe(E('EPERM'));
    expect(h.ret(c, p, 'VFIO_IOMMU_MAP_DMA', { vaddr: b.start, iova: 65536n, size: 4096n, flags: WRITE })).toBe(0);
    expect(typeof g.dma!.translate(65536n, 4, false)).toBe('object');
    // A 4K IOMMU page ends the window handed back.
    const edge = g.dma!.translate(65536n + 4000n, 500, true);
    expect(typeof edge === 'object' && edge.length).toBe(96);
    expect(g.dma!.translate(65536n + 4096n, 4, true)).toBe(E('EFAULT'));
  });
});
