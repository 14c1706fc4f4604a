// SPDX-License-Identifier: MIT
/** type1-core-semantics.md §4 and scenarios 51–63, plus edu DMA through the simulated IOMMU. */
import {
  codec,
  ioctlNumber,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_DEVICE_IOEVENTFD_32,
  VFIO_DMA_MAP_FLAG_READ,
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
  VFIO_PCI_REQ_IRQ_INDEX,
  VFIO_PCI_ROM_REGION_INDEX,
  VFIO_PCI_VGA_REGION_INDEX,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
} from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import type { EduDevice } from '../../src/devices/edu.js';
import { SimKernel, type SimProcessBackend, x86Q35Profile } from '../../src/index.js';
import { addIommuGroup, device, recordIommuFaults } from '../../src/testing/index.js';
import {
  configOffset,
  cstr,
  decode,
  E1000,
  EDU,
  expectErrno,
  intArg,
  mapDma,
  nr,
  setup,
  struct,
  unmapDma,
} from '../core/helpers.js';

function openDevice(name = EDU, group = name === EDU ? 1 : 2) {
  const s = setup();
  let g = s.g;
  if (group !== 1) {
    g = s.p.open(`/dev/vfio/${group}`);
    s.p.ioctl(g, nr(s.p, 'VFIO_GROUP_SET_CONTAINER'), intArg(s.p, s.c));
  }
  const d = s.p.ioctl(g, nr(s.p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr(name));
  return { ...s, d };
}

/** An e1000 behind a bridge (group 3), where a function reset works. */
function resettableE1000() {
  const s = setup();
  addIommuGroup(s.kernel, { id: 3, devices: [{ name: '0000:01:00.0', model: 'e1000', reset: true }] });
  const g = s.p.open('/dev/vfio/3');
  s.p.ioctl(g, nr(s.p, 'VFIO_GROUP_SET_CONTAINER'), intArg(s.p, s.c));
  return { ...s, d: s.p.ioctl(g, nr(s.p, 'VFIO_GROUP_GET_DEVICE_FD'), cstr('0000:01:00.0')) };
}

function regionInfo(p: SimProcessBackend, d: number, index: number) {
  const b = struct(p, 'vfio_region_info', { index });
  p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_REGION_INFO'), b);
  return decode(p, 'vfio_region_info', b);
}

function irqInfo(p: SimProcessBackend, d: number, index: number) {
  const b = struct(p, 'vfio_irq_info', { index });
  p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_IRQ_INFO'), b);
  return decode(p, 'vfio_irq_info', b);
}

function setIrqs(
  p: SimProcessBackend,
  d: number,
  v: { flags: number; index: number; start?: number; count?: number; data?: number[] },
  argszDelta = 0,
) {
  const head = codec('vfio_irq_set', p.arch);
  const eventfds = (v.flags & VFIO_IRQ_SET_DATA_EVENTFD) !== 0;
  const dataLen = (v.data?.length ?? 0) * (eventfds ? 4 : 1);
  const b = new Uint8Array(head.size + dataLen);
  head.encodeInto(
    { argsz: b.length + argszDelta, flags: v.flags, index: v.index, start: v.start ?? 0, count: v.count ?? 0 } as never,
    b,
  );
  const dv = new DataView(b.buffer);
  v.data?.forEach((x, i) => {
    if (eventfds) dv.setInt32(head.size + 4 * i, x, p.littleEndian);
    else b[head.size + i] = x;
  });
  return p.ioctl(d, nr(p, 'VFIO_DEVICE_SET_IRQS'), b);
}

function cfgOffset(p: SimProcessBackend, d: number): bigint {
  return regionInfo(p, d, VFIO_PCI_CONFIG_REGION_INDEX).offset;
}

function bar0(p: SimProcessBackend, d: number): bigint {
  return regionInfo(p, d, VFIO_PCI_BAR0_REGION_INDEX).offset;
}

function read32(p: SimProcessBackend, d: number, off: bigint, le = p.littleEndian): number {
  const b = new Uint8Array(4);
  expect(p.pread(d, b, off)).toBe(4);
  return new DataView(b.buffer).getUint32(0, le);
}

function write32(p: SimProcessBackend, d: number, off: bigint, v: number, le = p.littleEndian): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, le);
  expect(p.pwrite(d, b, off)).toBe(4);
}

function write64(p: SimProcessBackend, d: number, off: bigint, v: bigint, le = p.littleEndian): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, le);
  expect(p.pwrite(d, b, off)).toBe(8);
}

function enableBusMaster(p: SimProcessBackend, d: number): void {
  const cfg = cfgOffset(p, d);
  const b = new Uint8Array(2);
  p.pread(d, b, cfg + 4n);
  b[0]! |= 0x6;
  p.pwrite(d, b, cfg + 4n);
}

describe('device info, regions, irqs', () => {
  it('#51 GET_INFO: PCI flag (edu and q35 e1000 have no reset), 9 regions, 5 irqs; argsz 15 → EINVAL', () => {
    const { p, d } = openDevice();
    const b = struct(p, 'vfio_device_info');
    p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_INFO'), b);
    expect(decode(p, 'vfio_device_info', b)).toMatchObject({ flags: VFIO_DEVICE_FLAGS_PCI, numRegions: 9, numIrqs: 5 });
    expectErrno('EINVAL', () =>
      p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_INFO'), struct(p, 'vfio_device_info', { argsz: 15 })),
    );
    const e = openDevice(E1000);
    const b2 = struct(e.p, 'vfio_device_info');
    e.p.ioctl(e.d, nr(e.p, 'VFIO_DEVICE_GET_INFO'), b2);
    // QEMU's e1000 on q35's root bus has neither FLR, PM nor a bus reset (measured on the 6.1 guest).
    expect(decode(e.p, 'vfio_device_info', b2).flags).toBe(VFIO_DEVICE_FLAGS_PCI);
    const r = resettableE1000();
    const b3 = struct(r.p, 'vfio_device_info');
    r.p.ioctl(r.d, nr(r.p, 'VFIO_DEVICE_GET_INFO'), b3);
    expect(decode(r.p, 'vfio_device_info', b3).flags).toBe(VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
  });

  it('#52 region info: config at 7<<40 size 256 RW; BAR0 1 MiB mmap-able; empty BAR size 0 flags 0; VGA / 9 → EINVAL', () => {
    const { p, d } = openDevice();
    const cfg = regionInfo(p, d, VFIO_PCI_CONFIG_REGION_INDEX);
    expect(cfg).toMatchObject({
      offset: 0x70000000000n,
      size: 256n,
      flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
    });
    expect(regionInfo(p, d, VFIO_PCI_BAR0_REGION_INDEX)).toMatchObject({
      offset: 0n,
      size: 1n << 20n,
      flags: VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP,
    });
    expect(regionInfo(p, d, 2)).toMatchObject({ offset: 2n << 40n, size: 0n, flags: 0 });
    expect(regionInfo(p, d, VFIO_PCI_ROM_REGION_INDEX)).toMatchObject({ size: 0n, flags: 0 });
    expectErrno('EINVAL', () => regionInfo(p, d, VFIO_PCI_VGA_REGION_INDEX));
    expectErrno('EINVAL', () => regionInfo(p, d, 9));
    expectErrno('EINVAL', () =>
      p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_REGION_INFO'), struct(p, 'vfio_region_info', { argsz: 31 })),
    );
  });

  it('#54 irq info: INTx count 1 flags 7; MSI count 1 flags 9; MSI-X count 0; ERR on conventional PCI / 5 → EINVAL', () => {
    const { p, d } = openDevice();
    expect(irqInfo(p, d, VFIO_PCI_INTX_IRQ_INDEX)).toMatchObject({
      count: 1,
      flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED,
    });
    expect(irqInfo(p, d, VFIO_PCI_MSI_IRQ_INDEX)).toMatchObject({
      count: 1,
      flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE,
    });
    expect(irqInfo(p, d, VFIO_PCI_MSIX_IRQ_INDEX).count).toBe(0);
    expect(irqInfo(p, d, VFIO_PCI_REQ_IRQ_INDEX).count).toBe(1);
    expectErrno('EINVAL', () => irqInfo(p, d, VFIO_PCI_ERR_IRQ_INDEX));
    expectErrno('EINVAL', () => irqInfo(p, d, 5));
  });

  it('#59 RESET without reset support → EINVAL; with a working function reset → 0 and registers back', () => {
    const { p, d } = openDevice();
    expectErrno('EINVAL', () => p.ioctl(d, nr(p, 'VFIO_DEVICE_RESET')));
    const q = openDevice(E1000);
    expectErrno('EINVAL', () => q.p.ioctl(q.d, nr(q.p, 'VFIO_DEVICE_RESET')));
    const e = resettableE1000();
    write32(e.p, e.d, 0x100n, 0xdeadbeef);
    expect(read32(e.p, e.d, 0x100n)).toBe(0xdeadbeef);
    expect(e.p.ioctl(e.d, nr(e.p, 'VFIO_DEVICE_RESET'))).toBe(0);
    expect(read32(e.p, e.d, 0x100n)).toBe(0);
    expect(read32(e.p, e.d, 0x0n)).toBe(0x00140240);
  });

  it('#64 unknown device ioctl → ENOTTY; hot reset (no slot/bus reset) → ENODEV', () => {
    const { p, d } = openDevice();
    expectErrno('ENOTTY', () => p.ioctl(d, 0x3bff));
    expectErrno('ENODEV', () =>
      p.ioctl(d, nr(p, 'VFIO_DEVICE_GET_PCI_HOT_RESET_INFO'), struct(p, 'vfio_pci_hot_reset_info')),
    );
  });
});

describe('SET_IRQS', () => {
  it('#55 MSI TRIGGER EVENTFD; then INTx TRIGGER → EINVAL; MSI DATA_NONE count 0 disables', () => {
    const { p, d } = openDevice();
    const e1 = p.eventfd();
    expect(
      setIrqs(p, d, {
        flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
        index: VFIO_PCI_MSI_IRQ_INDEX,
        count: 1,
        data: [e1],
      }),
    ).toBe(0);
    const e2 = p.eventfd();
    expectErrno('EINVAL', () =>
      setIrqs(p, d, {
        flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
        index: VFIO_PCI_INTX_IRQ_INDEX,
        count: 1,
        data: [e2],
      }),
    );
    expect(
      setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSI_IRQ_INDEX }),
    ).toBe(0);
    expect(
      setIrqs(p, d, {
        flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
        index: VFIO_PCI_INTX_IRQ_INDEX,
        count: 1,
        data: [e2],
      }),
    ).toBe(0);
  });

  it('#56 NONE|BOOL → EINVAL; MSI MASK → ENOTTY; INTx MASK+EVENTFD → ENOTTY; start+count > N → EINVAL; short data → EINVAL', () => {
    const { p, d } = openDevice();
    const e = p.eventfd();
    expectErrno('EINVAL', () =>
      setIrqs(p, d, {
        flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
        index: 0,
        count: 1,
        data: [1],
      }),
    );
    expectErrno('ENOTTY', () =>
      setIrqs(p, d, {
        flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
        index: VFIO_PCI_MSI_IRQ_INDEX,
        count: 1,
      }),
    );
    expectErrno('ENOTTY', () =>
      setIrqs(p, d, {
        flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK,
        index: 0,
        count: 1,
      }),
    );
    expectErrno('EINVAL', () =>
      setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: 0, start: 0, count: 2 }),
    );
    expectErrno('EINVAL', () =>
      setIrqs(
        p,
        d,
        { flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: 0, count: 1, data: [e] },
        -4,
      ),
    );
    setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: 0, count: 1, data: [e] });
    expectErrno('ENOTTY', () =>
      setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK, index: 0, count: 1, data: [e] }),
    );
    expectErrno('EINVAL', () =>
      setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_MSIX_IRQ_INDEX }),
    );
  });

  it('#57 INTx UNMASK without INTx enabled → EINVAL; trigger fd not an eventfd → EINVAL, closed → EBADF', () => {
    const { p, d, c } = openDevice();
    expectErrno('EINVAL', () =>
      setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, index: 0, count: 1 }),
    );
    expectErrno('EINVAL', () =>
      setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: 0, count: 1, data: [c] }),
    );
    expectErrno('EBADF', () =>
      setIrqs(p, d, {
        flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
        index: 0,
        count: 1,
        data: [500],
      }),
    );
  });

  it('#58 REQ: DATA_NONE count 0 without trigger → EINVAL; EVENTFD → 0; DATA_NONE count 1 signals', async () => {
    const { p, d } = openDevice();
    expectErrno('EINVAL', () =>
      setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: VFIO_PCI_REQ_IRQ_INDEX }),
    );
    const e = p.eventfd();
    expect(
      setIrqs(p, d, {
        flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
        index: VFIO_PCI_REQ_IRQ_INDEX,
        count: 1,
        data: [e],
      }),
    ).toBe(0);
    expect(
      setIrqs(p, d, {
        flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
        index: VFIO_PCI_REQ_IRQ_INDEX,
        count: 1,
      }),
    ).toBe(0);
    expect(await p.readEventfd(e)).toBe(1n);
  });
});

describe('config space and BAR access', () => {
  it('#60 config read of vendor:device; read past cfg_size → EFAULT; write to vendor id counted, value unchanged', () => {
    const { p, d } = openDevice();
    const cfg = cfgOffset(p, d);
    expect(read32(p, d, cfg, true)).toBe(0x11e81234);
    expectErrno('EFAULT', () => p.pread(d, new Uint8Array(4), cfg + 254n));
    expect(p.pwrite(d, new Uint8Array([0xff, 0xff]), cfg)).toBe(2);
    expect(read32(p, d, cfg, true)).toBe(0x11e81234);
  });

  it('BAR sizing through config space reads back the size mask', () => {
    const { p, d } = openDevice();
    const cfg = cfgOffset(p, d);
    write32(p, d, cfg + 0x10n, 0xffffffff, true);
    expect(read32(p, d, cfg + 0x10n, true)).toBe(0xfff00000);
  });

  it('#61 BAR0 pread at size → EINVAL; spanning the end → short count; region 20 → EINVAL; pwrite ROM → EINVAL', () => {
    const { p, d } = openDevice();
    expectErrno('EINVAL', () => p.pread(d, new Uint8Array(4), 1n << 20n));
    expect(p.pread(d, new Uint8Array(8), (1n << 20n) - 4n)).toBe(4);
    expectErrno('EINVAL', () => p.pread(d, new Uint8Array(4), 20n << 40n));
    expectErrno('EINVAL', () => p.pwrite(d, new Uint8Array(4), BigInt(VFIO_PCI_ROM_REGION_INDEX) << 40n));
    expect(p.pread(d, new Uint8Array(0), 0n)).toBe(0);
  });

  it('#62 BAR access after clearing COMMAND.MEMORY → EIO', () => {
    const { p, d } = openDevice();
    const cfg = cfgOffset(p, d);
    p.pwrite(d, new Uint8Array([0, 0]), cfg + 4n);
    expectErrno('EIO', () => p.pread(d, new Uint8Array(4), 0n));
  });

  it('#63 mmap: config region → EINVAL, beyond the BAR → EINVAL; e1000 BAR0 mapping is live', () => {
    const { p, d } = openDevice();
    expectErrno('EINVAL', () => p.mmap({ fd: d, length: 4096, offset: cfgOffset(p, d) }));
    expectErrno('EINVAL', () => p.mmap({ fd: d, length: 2 << 20, offset: 0n }));
    const e = openDevice(E1000);
    const m = e.p.mmap({ fd: e.d, length: 0x20000, offset: bar0(e.p, e.d) });
    write32(e.p, e.d, 0x10n, 0x12345678);
    expect(new DataView(m.bytes.buffer, m.bytes.byteOffset).getUint32(0x10, true)).toBe(0x12345678);
  });
});

describe('edu', () => {
  it('identification, liveness, factorial', () => {
    const { p, d } = openDevice();
    expect(read32(p, d, 0n)).toBe(0x010000ed);
    write32(p, d, 4n, 0x12345678);
    expect(read32(p, d, 4n)).toBe(~0x12345678 >>> 0);
    write32(p, d, 8n, 10);
    expect(read32(p, d, 8n)).toBe(3628800);
  });

  it('DMA round trip through the IOMMU: RAM → device → RAM', () => {
    const { p, c, d, kernel } = openDevice();
    enableBusMaster(p, d);
    const src = p.mmap({ length: 4096 });
    const dst = p.mmap({ length: 4096 });
    src.bytes.set(new TextEncoder().encode('hello, iommu'));
    mapDma(p, c, src.address, 0x100000n, 4096n, VFIO_DMA_MAP_FLAG_READ);
    mapDma(p, c, dst.address, 0x200000n, 4096n);
    write64(p, d, 0x80n, 0x100000n);
    write64(p, d, 0x88n, 0x40000n);
    write64(p, d, 0x90n, 12n);
    write64(p, d, 0x98n, 1n);
    write64(p, d, 0x80n, 0x40000n);
    write64(p, d, 0x88n, 0x200000n);
    write64(p, d, 0x98n, 3n);
    expect(read32(p, d, 0x98n) & 1).toBe(0);
    expect(new TextDecoder().decode(dst.bytes.subarray(0, 12))).toBe('hello, iommu');
    expect(device(kernel, EDU).dmaStats).toMatchObject({ reads: 1, writes: 1, faults: 0 });
  });

  it('DMA to an unmapped IOVA, or writing through a read-only mapping, is blocked and reported', () => {
    const { p, c, d, kernel } = openDevice();
    enableBusMaster(p, d);
    const faults = recordIommuFaults(kernel);
    const buf = p.mmap({ length: 4096 });
    mapDma(p, c, buf.address, 0x100000n, 4096n, VFIO_DMA_MAP_FLAG_READ);
    write64(p, d, 0x80n, 0x40000n);
    write64(p, d, 0x88n, 0x300000n);
    write64(p, d, 0x90n, 16n);
    write64(p, d, 0x98n, 3n);
    write64(p, d, 0x88n, 0x100000n);
    write64(p, d, 0x98n, 3n);
    expect(faults.faults.map((f) => f.iova)).toEqual([0x300000n, 0x100000n]);
    expect(buf.bytes.every((b) => b === 0)).toBe(true);
    // Once unmapped, DMA that worked before faults.
    unmapDma(p, c, 0x100000n, 4096n);
    write64(p, d, 0x80n, 0x100000n);
    write64(p, d, 0x88n, 0x40000n);
    write64(p, d, 0x98n, 1n);
    expect(faults.faults).toHaveLength(3);
  });

  it('without bus mastering DMA silently does nothing', () => {
    const { p, c, d, kernel } = openDevice();
    const buf = p.mmap({ length: 4096 });
    mapDma(p, c, buf.address, 0x100000n, 4096n);
    write64(p, d, 0x80n, 0x40000n);
    write64(p, d, 0x88n, 0x100000n);
    write64(p, d, 0x90n, 16n);
    write64(p, d, 0x98n, 3n);
    expect(device(kernel, EDU).dmaStats).toMatchObject({ writes: 0, faults: 0, dropped: 1 });
  });

  it('interrupts: INTx is automasked until UNMASK; MSI signals its eventfd', async () => {
    const { p, d } = openDevice();
    const e = p.eventfd();
    setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index: 0, count: 1, data: [e] });
    const pending = p.readEventfd(e);
    write32(p, d, 0x60n, 0x1);
    expect(await pending).toBe(1n);
    write32(p, d, 0x64n, 0x1);
    write32(p, d, 0x60n, 0x2);
    expect((device(p.kernel, EDU) as EduDevice).irqStatus).toBe(2n);
    // Masked: no new signal until UNMASK, then the still-asserted line fires again.
    setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, index: 0, count: 1 });
    expect(await p.readEventfd(e)).toBe(1n);
    setIrqs(p, d, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index: 0 });
    const m = p.eventfd();
    setIrqs(p, d, {
      flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
      index: VFIO_PCI_MSI_IRQ_INDEX,
      count: 1,
      data: [m],
    });
    write32(p, d, 0x60n, 0x100);
    expect(await p.readEventfd(m)).toBe(1n);
  });

  it('on a big-endian profile edu registers are big-endian and the powerpc ioctl numbers are spoken', () => {
    // A ppc64 (big-endian) machine with the q35 topology isolates byte order from the sPAPR IOMMU.
    const kernel = SimKernel.create({
      ...x86Q35Profile,
      name: 'ppc64-be-test',
      arch: 'ppc64',
      littleEndian: false,
      deviceBigEndian: true,
    });
    const p = kernel.createProcess({ capIpcLock: true });
    const c = p.open('/dev/vfio/vfio');
    expect(p.ioctl(c, ioctlNumber('VFIO_GET_API_VERSION', 'ppc64'))).toBe(0);
    expectErrno('EINVAL', () => p.ioctl(c, ioctlNumber('VFIO_GET_API_VERSION', 'x86_64') + 0xff));
    const g = p.open('/dev/vfio/1');
    p.ioctl(g, ioctlNumber('VFIO_GROUP_SET_CONTAINER', 'ppc64'), intArg(p, c));
    p.ioctl(c, ioctlNumber('VFIO_SET_IOMMU', 'ppc64'), 3);
    const d = p.ioctl(g, ioctlNumber('VFIO_GROUP_GET_DEVICE_FD', 'ppc64'), cstr(EDU));
    const id = new Uint8Array(4);
    p.pread(d, id, 0n);
    expect([...id]).toEqual([0x01, 0x00, 0x00, 0xed]);
    expect(new DataView(id.buffer).getUint32(0, true)).toBe(0xed000001);
    // Config space stays little-endian (PCI), whatever the CPU.
    const cfg = new Uint8Array(2);
    p.pread(d, cfg, cfgOffset(p, d));
    expect([...cfg]).toEqual([0x34, 0x12]);
  });
});

describe('VFIO_DEVICE_IOEVENTFD', () => {
  function ioeventfd(p: SimProcessBackend, d: number, v: { flags: number; offset: bigint; data: bigint; fd: number }) {
    return p.ioctl(d, nr(p, 'VFIO_DEVICE_IOEVENTFD'), struct(p, 'vfio_device_ioeventfd', v));
  }

  it('a signalled eventfd writes data into the BAR; same triple → EEXIST; fd −1 removes; bad args → EINVAL/ENODEV', () => {
    const { p, d } = openDevice(E1000);
    const e = p.eventfd();
    expect(ioeventfd(p, d, { flags: VFIO_DEVICE_IOEVENTFD_32, offset: 0x40n, data: 0xcafef00dn, fd: e })).toBe(0);
    expectErrno('EEXIST', () =>
      ioeventfd(p, d, { flags: VFIO_DEVICE_IOEVENTFD_32, offset: 0x40n, data: 0xcafef00dn, fd: e }),
    );
    p.writeEventfd(e, 1n);
    expect(read32(p, d, 0x40n)).toBe(0xcafef00d);
    expect(ioeventfd(p, d, { flags: VFIO_DEVICE_IOEVENTFD_32, offset: 0x40n, data: 0xcafef00dn, fd: -1 })).toBe(0);
    write32(p, d, 0x40n, 0);
    p.writeEventfd(e, 1n);
    expect(read32(p, d, 0x40n)).toBe(0);
    expectErrno('ENODEV', () => ioeventfd(p, d, { flags: VFIO_DEVICE_IOEVENTFD_32, offset: 0x40n, data: 1n, fd: -1 }));
    expectErrno('EINVAL', () => ioeventfd(p, d, { flags: 3, offset: 0x40n, data: 1n, fd: e }));
    expectErrno('EINVAL', () => ioeventfd(p, d, { flags: 16, offset: 0x40n, data: 1n, fd: e }));
    expectErrno('EINVAL', () => ioeventfd(p, d, { flags: VFIO_DEVICE_IOEVENTFD_32, offset: 0x40n, data: 1n, fd: -2 }));
    expectErrno('EINVAL', () =>
      ioeventfd(p, d, { flags: VFIO_DEVICE_IOEVENTFD_32, offset: 0x20000n, data: 1n, fd: e }),
    );
    expectErrno('EINVAL', () =>
      ioeventfd(p, d, { flags: VFIO_DEVICE_IOEVENTFD_32, offset: configOffset(p, d), data: 1n, fd: e }),
    );
  });
});
