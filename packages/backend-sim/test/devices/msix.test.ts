// SPDX-License-Identifier: MIT
/**
 * type1-core-semantics.md scenario 53 and the MSI-X rules of §4.3–4.5, on the NVMe-like MSI-X function
 * (`model: 'nvme'`) that tests add as group 3: region info with MSIX_MAPPABLE, IRQ info, SET_IRQS on
 * VFIO_PCI_MSIX_IRQ_INDEX, the MSI-X table as an excluded range of its BAR.
 */
import {
  codec,
  VFIO_DEVICE_IOEVENTFD_32,
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_NUM_IRQS,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
  walkCapabilities,
} from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import type { NvmeDevice } from '../../src/devices/nvme.js';
import { PCI_MSIX_FLAGS_ENABLE } from '../../src/devices/pci-device.js';
import type { EventfdCtx } from '../../src/fd/eventfd.js';
import type { SimProcessBackend } from '../../src/index.js';
import { addIommuGroup, device, processOf } from '../../src/testing/index.js';
import { cstr, decode, EDU, expectErrno, intArg, nr, setup, struct } from '../core/helpers.js';

const NVME = '0000:03:00.0';
const TABLE_SIZE = 65;
const TABLE = 0x2000n;
const PBA = 0x3000n;
const BAR0_SIZE = 0x4000;
const TRIGGER_EVENTFD = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
const TRIGGER_NONE = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
const TRIGGER_BOOL = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER;
const PROFILES = ['x86_64-q35', 'x86_64-q35-6.12'] as const;

/** The default profile plus an NVMe-like MSI-X function alone in group 3, in the same container. */
function openNvme(profile: string = PROFILES[0]) {
  const s = setup({ profile });
  addIommuGroup(s.kernel, { id: 3, devices: [{ name: NVME, model: 'nvme' }] });
  const g3 = s.p.open('/dev/vfio/3');
  s.p.ioctl(g3, nr(s.p, 'VFIO_GROUP_SET_CONTAINER'), intArg(s.p, s.c));
  const d = s.p.ioctl(g3, nr(s.p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(NVME));
  return { ...s, g3, d, nvme: device(s.kernel, NVME) as NvmeDevice };
}

/** GET_REGION_INFO into a `bufLen`-byte buffer prefilled with 0xaa; returns the whole buffer. */
function regionInfoRaw(p: SimProcessBackend, d: number, index: number, argsz: number, bufLen = argsz): Uint8Array {
  const c = codec('vfio_region_info', p.arch);
  const b = new Uint8Array(bufLen).fill(0xaa);
  c.encodeInto({ argsz, flags: 0, index, capOffset: 0x55, size: 0n, offset: 0n } as never, b);
  expect(p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_REGION_INFO'), b)).toBe(0);
  return b;
}

function irqInfo(p: SimProcessBackend, d: number, index: number) {
  const b = struct(p, 'vfio_irq_info', { index });
  p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_IRQ_INFO'), b);
  return decode(p, 'vfio_irq_info', b);
}

function setIrqs(
  p: SimProcessBackend,
  d: number,
  v: { flags: number; index?: number; start?: number; count?: number; data?: number[] },
): number {
  const head = codec('vfio_irq_set', p.arch);
  const eventfds = (v.flags & VFIO_IRQ_SET_DATA_EVENTFD) !== 0;
  const b = new Uint8Array(head.size + (v.data?.length ?? 0) * (eventfds ? 4 : 1));
  const count = v.count ?? v.data?.length ?? 0;
  const index = v.index ?? VFIO_PCI_MSIX_IRQ_INDEX;
  head.encodeInto({ argsz: b.length, flags: v.flags, index, start: v.start ?? 0, count } as never, b);
  const dv = new DataView(b.buffer);
  v.data?.forEach((x, i) => {
    if (eventfds) dv.setInt32(head.size + 4 * i, x, p.littleEndian);
    else b[head.size + i] = x;
  });
  return p.ioctl(d, nr(p, 'VFIO_DEVICE_SET_IRQS'), b);
}

/** How many times the eventfd behind `fd` was signalled (and consumed, so each check starts from 0). */
function takeSignals(p: SimProcessBackend, fd: number): number {
  const file = processOf(p).fds.get(fd);
  if (typeof file === 'number') throw new Error(`fd ${fd} closed`);
  const ctx = file.privateData as EventfdCtx;
  const n = ctx.signals;
  ctx.signals = 0;
  ctx.count = 0n;
  return n;
}

function offsetOf(p: SimProcessBackend, d: number, index: number): bigint {
  return decode(p, 'vfio_region_info', regionInfoRaw(p, d, index, 32)).offset;
}

function cfgRead(p: SimProcessBackend, d: number, pos: number, len: 1 | 2 | 4): number {
  const b = new Uint8Array(len);
  expect(p.pread(d, b, offsetOf(p, d, VFIO_PCI_CONFIG_REGION_INDEX) + BigInt(pos))).toBe(len);
  const dv = new DataView(b.buffer);
  return len === 1 ? b[0]! : len === 2 ? dv.getUint16(0, true) : dv.getUint32(0, true);
}

describe.each(PROFILES)('MSI-X function on %s', (profile) => {
  it('#53 GET_REGION_INFO of the MSI-X BAR, argsz 32 then 40: flags 0xf, argsz→40, cap_offset 0; then cap at 32 {id 3, ver 1, next 0}', () => {
    const { p, d, g } = openNvme(profile);
    const c = codec('vfio_region_info', p.arch);
    const all = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP;
    expect(all | VFIO_REGION_INFO_FLAG_CAPS).toBe(0xf);

    // argsz 32 (in a larger buffer): the kernel asks for 40, cap_offset 0, and writes back exactly 32 bytes.
    const small = regionInfoRaw(p, d, VFIO_PCI_BAR0_REGION_INDEX, 32, 48);
    expect(c.decode(small)).toMatchObject({
      argsz: 40,
      flags: 0xf,
      index: VFIO_PCI_BAR0_REGION_INDEX,
      capOffset: 0,
      size: BigInt(BAR0_SIZE),
      offset: 0n,
    });
    expect([...small.subarray(32)].every((x) => x === 0xaa)).toBe(true);

    // argsz 40: the MSIX_MAPPABLE header at 32, the end of the chain.
    const full = regionInfoRaw(p, d, VFIO_PCI_BAR0_REGION_INDEX, 40);
    expect(c.decode(full)).toMatchObject({ argsz: 40, flags: 0xf, capOffset: 32, size: BigInt(BAR0_SIZE) });
    expect(codec('vfio_info_cap_header', p.arch).decode(full, 32)).toEqual({
      id: VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
      version: 1,
      next: 0,
    });
    expect(walkCapabilities(full, 32, p.arch, 32)).toEqual([
      { id: VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, version: 1, offset: 32, next: 0 },
    ]);

    // A larger argsz stays as given; nothing past the 8-byte cap is written.
    const big = regionInfoRaw(p, d, VFIO_PCI_BAR0_REGION_INDEX, 64);
    expect(c.decode(big)).toMatchObject({ argsz: 64, flags: 0xf, capOffset: 32 });
    expect([...big.subarray(40)].every((x) => x === 0xaa)).toBe(true);

    // BARs without the table carry no cap: cap_offset is echoed back as passed (edu BAR0, the empty BAR1).
    const edu = p.ioctl(g, nr(p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(EDU));
    const eduInfo = c.decode(regionInfoRaw(p, edu, VFIO_PCI_BAR0_REGION_INDEX, 32));
    expect(eduInfo).toMatchObject({ argsz: 32, flags: all, capOffset: 0x55 });
    expect(c.decode(regionInfoRaw(p, d, 1, 32))).toMatchObject({ argsz: 32, flags: 0, size: 0n, capOffset: 0x55 });
  });

  it('#54 IRQ info: INTx flags 7 count 1; MSI count 0; MSI-X flags 9 count = table size; ERR (conventional) / 5 → EINVAL', () => {
    const { p, d } = openNvme(profile);
    expect(irqInfo(p, d, VFIO_PCI_INTX_IRQ_INDEX)).toMatchObject({
      flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED,
      count: 1,
    });
    expect(irqInfo(p, d, VFIO_PCI_MSI_IRQ_INDEX)).toMatchObject({ flags: 0x9, count: 0 });
    expect(irqInfo(p, d, VFIO_PCI_MSIX_IRQ_INDEX)).toMatchObject({
      flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE,
      count: TABLE_SIZE,
    });
    expectErrno('EINVAL', () => irqInfo(p, d, VFIO_PCI_ERR_IRQ_INDEX));
    expectErrno('EINVAL', () => irqInfo(p, d, VFIO_PCI_NUM_IRQS));
  });

  it('config space: MSI-X capability (QSIZE 64, table 0x2000/BIR 0, PBA 0x3000/BIR 0); Enable follows SET_IRQS, config writes to it are dropped', () => {
    const { p, d, nvme } = openNvme(profile);
    expect(cfgRead(p, d, 0, 4)).toBe(0x00101b36);
    expect(cfgRead(p, d, 0x06, 2) & 0x10).toBe(0x10);
    const cap = cfgRead(p, d, 0x34, 1);
    expect(cap).toBe(0x40);
    expect(cfgRead(p, d, cap, 1)).toBe(0x11);
    expect(cfgRead(p, d, cap + 1, 1)).toBe(0);
    expect(cfgRead(p, d, cap + 2, 2)).toBe(TABLE_SIZE - 1);
    expect(cfgRead(p, d, cap + 4, 4)).toBe(Number(TABLE));
    expect(cfgRead(p, d, cap + 8, 4)).toBe(Number(PBA));
    const cfg = offsetOf(p, d, VFIO_PCI_CONFIG_REGION_INDEX);
    expect(p.pwrite(d, new Uint8Array([0x00, 0x80]), cfg + BigInt(cap + 2))).toBe(2);
    expect(cfgRead(p, d, cap + 2, 2)).toBe(TABLE_SIZE - 1);

    const e = p.eventfd();
    expect(setIrqs(p, d, { flags: TRIGGER_EVENTFD, data: [e] })).toBe(0);
    expect(cfgRead(p, d, cap + 2, 2)).toBe(PCI_MSIX_FLAGS_ENABLE | (TABLE_SIZE - 1));
    expect(setIrqs(p, d, { flags: TRIGGER_NONE })).toBe(0);
    expect(cfgRead(p, d, cap + 2, 2)).toBe(TABLE_SIZE - 1);
    // Closing the last device fd disables MSI-X.
    expect(setIrqs(p, d, { flags: TRIGGER_EVENTFD, data: [e] })).toBe(0);
    expect(nvme.msixControl & PCI_MSIX_FLAGS_ENABLE).toBe(PCI_MSIX_FLAGS_ENABLE);
    p.close(d);
    expect(nvme.msixControl & PCI_MSIX_FLAGS_ENABLE).toBe(0);
  });

  it('#55 on MSI-X: TRIGGER EVENTFD start 0 count 2 {e1,e2} → 0; INTx TRIGGER → EINVAL; MSI-X DATA_NONE count 0 → 0 (disabled)', () => {
    const { p, d, nvme } = openNvme(profile);
    const [e1, e2, e3] = [p.eventfd(), p.eventfd(), p.eventfd()];
    expect(setIrqs(p, d, { flags: TRIGGER_EVENTFD, start: 0, count: 2, data: [e1, e2] })).toBe(0);
    expectErrno('EINVAL', () => setIrqs(p, d, { flags: TRIGGER_EVENTFD, index: VFIO_PCI_INTX_IRQ_INDEX, data: [e3] }));
    // The device's messages reach the bound eventfds, vector by vector.
    expect(nvme.interrupt(1)).toBe(true);
    expect([takeSignals(p, e1), takeSignals(p, e2)]).toEqual([0, 1]);
    nvme.interrupt(0);
    nvme.interrupt(0);
    expect([takeSignals(p, e1), takeSignals(p, e2)]).toEqual([2, 0]);
    expect(setIrqs(p, d, { flags: TRIGGER_NONE, count: 0 })).toBe(0);
    // Disabled: the device cannot send, INTx can now be enabled.
    expect(nvme.interrupt(0)).toBe(false);
    expect(takeSignals(p, e1)).toBe(0);
    expect(setIrqs(p, d, { flags: TRIGGER_EVENTFD, index: VFIO_PCI_INTX_IRQ_INDEX, data: [e3] })).toBe(0);
    // …and while INTx is active MSI-X cannot be enabled.
    expectErrno('EINVAL', () => setIrqs(p, d, { flags: TRIGGER_EVENTFD, data: [e1] }));
    expectErrno('EINVAL', () => setIrqs(p, d, { flags: TRIGGER_NONE, count: 0 }));
  });

  it('MSI-X SET_IRQS rules: MASK/UNMASK → ENOTTY; range against the table size; loopback NONE/BOOL; unbind with fd −1; bad fd unwinds', () => {
    const { p, d } = openNvme(profile);
    const [e1, e2, e3] = [p.eventfd(), p.eventfd(), p.eventfd()];
    expectErrno('ENOTTY', () => setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, count: 1 }));
    expectErrno('ENOTTY', () =>
      setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, count: 1 }),
    );
    // Validation against N = 65 (vfio_set_irqs_validate_and_prepare).
    expectErrno('EINVAL', () => setIrqs(p, d, { flags: TRIGGER_EVENTFD, start: TABLE_SIZE, data: [e1] }));
    expectErrno('EINVAL', () => setIrqs(p, d, { flags: TRIGGER_EVENTFD, start: TABLE_SIZE - 1, data: [e1, e2] }));
    // Loopback needs MSI-X active.
    expectErrno('EINVAL', () => setIrqs(p, d, { flags: TRIGGER_NONE, count: 1 }));
    // Enabling zero vectors: pci_alloc_irq_vectors(1, 0) → ERANGE.
    expectErrno('ERANGE', () => setIrqs(p, d, { flags: TRIGGER_EVENTFD, count: 0 }));
    // A bad fd while enabling: nothing stays enabled.
    expectErrno('EBADF', () => setIrqs(p, d, { flags: TRIGGER_EVENTFD, data: [e1, 999] }));
    expect(setIrqs(p, d, { flags: TRIGGER_EVENTFD, index: VFIO_PCI_INTX_IRQ_INDEX, data: [e3] })).toBe(0);
    expect(setIrqs(p, d, { flags: TRIGGER_NONE, index: VFIO_PCI_INTX_IRQ_INDEX, count: 0 })).toBe(0);

    // The last vector of the table alone enables all 65 (start + count).
    expect(setIrqs(p, d, { flags: TRIGGER_EVENTFD, start: TABLE_SIZE - 1, data: [e1] })).toBe(0);
    expect(setIrqs(p, d, { flags: TRIGGER_NONE, start: 0, count: TABLE_SIZE })).toBe(0);
    expect(takeSignals(p, e1)).toBe(1);
    expect(setIrqs(p, d, { flags: TRIGGER_EVENTFD, start: 0, data: [e2, e3] })).toBe(0);
    expect(setIrqs(p, d, { flags: TRIGGER_BOOL, start: 0, data: [0, 1] })).toBe(0);
    expect([takeSignals(p, e2), takeSignals(p, e3)]).toEqual([0, 1]);
    // fd −1 unbinds one vector, the others keep theirs.
    expect(setIrqs(p, d, { flags: TRIGGER_EVENTFD, start: 1, data: [-1] })).toBe(0);
    expect(setIrqs(p, d, { flags: TRIGGER_NONE, start: 0, count: 2 })).toBe(0);
    expect([takeSignals(p, e2), takeSignals(p, e3)]).toEqual([1, 0]);
    // A bind error unbinds everything from start up to the failing vector (e2 on vector 0 included).
    expectErrno('EINVAL', () => setIrqs(p, d, { flags: TRIGGER_EVENTFD, start: 0, data: [e3, d] }));
    expect(setIrqs(p, d, { flags: TRIGGER_NONE, start: 0, count: TABLE_SIZE })).toBe(0);
    expect([takeSignals(p, e2), takeSignals(p, e3), takeSignals(p, e1)]).toEqual([0, 0, 1]);
  });

  it('vectors beyond those enabled: rebinding → EINVAL (6.1: up front, nothing changed; 6.5+: per vector, unwound); loopback past them', () => {
    const { p, d, kernel } = openNvme(profile);
    const [e1, e2, e3] = [p.eventfd(), p.eventfd(), p.eventfd()];
    expect(setIrqs(p, d, { flags: TRIGGER_EVENTFD, start: 0, data: [e1, e2] })).toBe(0);
    expectErrno('EINVAL', () => setIrqs(p, d, { flags: TRIGGER_EVENTFD, start: 1, data: [e3, e3] }));
    expect(setIrqs(p, d, { flags: TRIGGER_NONE, start: 0, count: 2 })).toBe(0);
    const newer = kernel.kernelAtLeast('6.5');
    // 6.1 checks start + count against num_ctx first; 6.5+ unbinds vector 1 before failing on vector 2.
    expect([takeSignals(p, e1), takeSignals(p, e2), takeSignals(p, e3)]).toEqual(newer ? [1, 0, 0] : [1, 1, 0]);
    if (newer) {
      expect(setIrqs(p, d, { flags: TRIGGER_EVENTFD, start: 2, data: [-1] })).toBe(0);
      expect(setIrqs(p, d, { flags: TRIGGER_NONE, start: 0, count: 3 })).toBe(0);
      expect(takeSignals(p, e1)).toBe(1);
    } else {
      expectErrno('EINVAL', () => setIrqs(p, d, { flags: TRIGGER_EVENTFD, start: 2, data: [-1] }));
      expectErrno('EINVAL', () => setIrqs(p, d, { flags: TRIGGER_NONE, start: 0, count: 3 }));
      expect(takeSignals(p, e1)).toBe(0);
    }
  });

  it('BAR0 access: the MSI-X table reads 0xff and drops writes, registers and PBA pass through; no EIO inside the table', () => {
    const { p, d, nvme } = openNvme(profile);
    const bar = offsetOf(p, d, VFIO_PCI_BAR0_REGION_INDEX);
    const vs = new Uint8Array(4);
    expect(p.pread(d, vs, bar + 0x08n)).toBe(4);
    expect(new DataView(vs.buffer).getUint32(0, true)).toBe(0x00010400);

    const table = new Uint8Array(16);
    expect(p.pread(d, table, bar + TABLE)).toBe(16);
    expect([...table].every((x) => x === 0xff)).toBe(true);
    // The device holds the entries (vector control: masked after reset), the user never sees or changes them.
    expect(nvme.barMemory[0]![Number(TABLE) + 12]).toBe(1);
    expect(p.pwrite(d, new Uint8Array(16), bar + TABLE)).toBe(16);
    expect(nvme.barMemory[0]![Number(TABLE) + 12]).toBe(1);

    // Spanning the end of the table into the gap before the PBA: 0xff up to the table's end, then real bytes.
    const tableEnd = TABLE + BigInt(TABLE_SIZE * 16);
    const span = new Uint8Array(8);
    expect(p.pread(d, span, tableEnd - 4n)).toBe(8);
    expect([...span]).toEqual([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    const pba = new Uint8Array(16).fill(0xee);
    expect(p.pread(d, pba, bar + PBA)).toBe(16);
    expect([...pba].every((x) => x === 0)).toBe(true);

    // COMMAND.MEMORY off: registers → EIO, an access wholly inside the table still reads 0xff.
    const cfg = offsetOf(p, d, VFIO_PCI_CONFIG_REGION_INDEX);
    const cmd = new Uint8Array(2);
    p.pread(d, cmd, cfg + 4n);
    cmd[0]! &= ~0x2;
    p.pwrite(d, cmd, cfg + 4n);
    expectErrno('EIO', () => p.pread(d, vs, bar + 0x08n));
    expectErrno('EIO', () => p.pread(d, span, tableEnd - 4n));
    expect(p.pread(d, table, bar + TABLE)).toBe(16);
    expect([...table].every((x) => x === 0xff)).toBe(true);
  });

  it('IOEVENTFD over the MSI-X table → EINVAL, beside it → 0; the whole BAR, table included, can be mmapped', () => {
    const { p, d } = openNvme(profile);
    const e = p.eventfd();
    const ioeventfd = (offset: bigint) =>
      p.ioctl(
        d,
        nr(p, 'VFIO_DEVICE_IOEVENTFD'),
        struct(p, 'vfio_device_ioeventfd', { flags: VFIO_DEVICE_IOEVENTFD_32, offset, data: 1n, fd: e }),
      );
    const bar = offsetOf(p, d, VFIO_PCI_BAR0_REGION_INDEX);
    expectErrno('EINVAL', () => ioeventfd(bar + TABLE));
    expectErrno('EINVAL', () => ioeventfd(bar + TABLE - 2n));
    expectErrno('EINVAL', () => ioeventfd(bar + TABLE + BigInt(TABLE_SIZE * 16) - 4n));
    expect(ioeventfd(bar + TABLE - 4n)).toBe(0);
    expect(ioeventfd(bar + TABLE + BigInt(TABLE_SIZE * 16))).toBe(0);
    expect(ioeventfd(bar + PBA)).toBe(0);
    const m = p.mmap({ fd: d, length: BAR0_SIZE, offset: bar });
    expect(m.length).toBe(BAR0_SIZE);
  });
});
