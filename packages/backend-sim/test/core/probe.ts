// SPDX-License-Identifier: MIT
/**
 * One probe of user-visible VFIO behaviour, written against `Backend` only, so the same code runs on the simulator
 * and (through @vfio-ts/testbed + backend-koffi) on a real kernel; `real-kernel.test.ts` compares the two records.
 * Every entry is a return value, an errno name, or decoded output.
 */
import type { Backend } from '@vfio-ts/core';
import {
  codec,
  type IoctlName,
  ioctlNumber,
  type StructName,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DEVICE_IOEVENTFD_32,
  VFIO_DEVICE_IOEVENTFD_64,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_REQ_IRQ_INDEX,
  VFIO_TYPE1v2_IOMMU,
  walkCapabilities,
} from '@vfio-ts/uapi';

export interface ProbeDevice {
  readonly name: string;
  readonly group: number;
}

export type ProbeRecord = Record<string, unknown>;

const SENTINEL = 0xa5;

function jsonable(v: unknown): unknown {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (Array.isArray(v)) return v.map(jsonable);
  if (v instanceof Uint8Array) return [...v].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonable(x)]));
  return v;
}

/** Byte positions a call changed in a sentinel-filled buffer, as "from-to" ranges. */
function written(b: Uint8Array): string {
  const ranges: string[] = [];
  let start = -1;
  for (let i = 0; i <= b.length; i++) {
    const changed = i < b.length && b[i] !== SENTINEL;
    if (changed && start < 0) start = i;
    if (!changed && start >= 0) {
      ranges.push(`${start}-${i - 1}`);
      start = -1;
    }
  }
  return ranges.join(',');
}

export interface ProbeOptions {
  /** The IOMMU type for SET_IOMMU; the type1-only sections (GET_INFO caps, MAP/UNMAP, dirty pages) run for type1. */
  readonly iommu?: number;
}

export function probe(b: Backend, edu: ProbeDevice, e1000: ProbeDevice, options: ProbeOptions = {}): ProbeRecord {
  const out: ProbeRecord = {};
  const iommu = options.iommu ?? VFIO_TYPE1v2_IOMMU;
  const type1 = iommu === VFIO_TYPE1v2_IOMMU || iommu === 1;
  const arch = b.arch;
  const nr = (n: IoctlName) => ioctlNumber(n, arch);
  const rec = (key: string, fn: () => unknown): unknown => {
    try {
      const v = fn();
      out[key] = jsonable(v);
      return v;
    } catch (e) {
      const code = (e as { code?: string }).code;
      // A probe never stops: an unexpected exception is itself a finding.
      out[key] = code !== undefined && /^E[A-Z0-9]+$/.test(code) ? { errno: code } : { exception: String(e) };
      return undefined;
    }
  };
  const buf = (name: StructName, value: Record<string, unknown>, length?: number) => {
    const c = codec(name, arch);
    const bytes = new Uint8Array(length ?? c.size).fill(SENTINEL);
    const enc = c.encode({ argsz: c.size, ...value } as never);
    bytes.set(enc.subarray(0, Math.min(enc.length, bytes.length)));
    return bytes;
  };
  const int = (v: number) => {
    const x = new Uint8Array(4);
    new DataView(x.buffer).setInt32(0, v, b.littleEndian);
    return x;
  };
  const cstr = (s: string) => new TextEncoder().encode(`${s}\0`);

  // Container before any group.
  const c = b.open('/dev/vfio/vfio');
  rec('container.apiVersion', () => b.ioctl(c, nr('VFIO_GET_API_VERSION')));
  for (const ext of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99]) {
    rec(`container.fresh.checkExtension.${ext}`, () => b.ioctl(c, nr('VFIO_CHECK_EXTENSION'), ext));
  }
  rec('container.fresh.setIommu', () => b.ioctl(c, nr('VFIO_SET_IOMMU'), VFIO_TYPE1v2_IOMMU));
  rec('container.fresh.getInfo', () => b.ioctl(c, nr('VFIO_IOMMU_GET_INFO'), buf('vfio_iommu_type1_info', {})));
  rec('container.fresh.unknown', () => b.ioctl(c, nr('VFIO_GET_API_VERSION') + 0x90));

  // Group.
  const status = (g: number, argsz?: number) => {
    const s = buf('vfio_group_status', argsz === undefined ? {} : { argsz });
    b.ioctl(g, nr('VFIO_GROUP_GET_STATUS'), s);
    return { ...codec('vfio_group_status', arch).decode(s), written: written(s) };
  };
  const g = b.open(`/dev/vfio/${edu.group}`);
  rec('group.status', () => status(g));
  rec('group.status.argsz4', () => status(g, 4));
  rec('group.secondOpen', () => b.open(`/dev/vfio/${edu.group}`));
  rec('group.unknown', () => b.ioctl(g, nr('VFIO_GET_API_VERSION') + 0x90));
  rec('group.unsetWithoutContainer', () => b.ioctl(g, nr('VFIO_GROUP_UNSET_CONTAINER')));
  rec('group.deviceFdWithoutContainer', () => b.ioctl(g, nr('VFIO_GROUP_GET_DEVICE_FD'), cstr(edu.name)));
  rec('group.setContainer.minus1', () => b.ioctl(g, nr('VFIO_GROUP_SET_CONTAINER'), int(-1)));
  const e = b.eventfd();
  rec('group.setContainer.eventfd', () => b.ioctl(g, nr('VFIO_GROUP_SET_CONTAINER'), int(e)));
  rec('group.setContainer', () => b.ioctl(g, nr('VFIO_GROUP_SET_CONTAINER'), int(c)));
  rec('group.status.attached', () => status(g));
  rec('group.deviceFdBeforeSetIommu', () => b.ioctl(g, nr('VFIO_GROUP_GET_DEVICE_FD'), cstr(edu.name)));
  rec('container.setIommu.42', () => b.ioctl(c, nr('VFIO_SET_IOMMU'), 42));
  rec('container.setIommu.v2', () => b.ioctl(c, nr('VFIO_SET_IOMMU'), iommu));
  rec('container.setIommu.again', () => b.ioctl(c, nr('VFIO_SET_IOMMU'), iommu));
  for (const ext of [1, 2, 3, 4, 5, 6, 7, 9, 10]) {
    rec(`container.set.checkExtension.${ext}`, () => b.ioctl(c, nr('VFIO_CHECK_EXTENSION'), ext));
  }
  rec('container.set.unknown', () => b.ioctl(c, nr('VFIO_GET_API_VERSION') + 0x90));

  const m = b.mmap({ length: 0x200000 });
  const ro = b.mmap({ length: 0x1000, prot: 1 });
  const map = (vaddr: bigint, iova: bigint, size: bigint, flags = 3, argsz?: number) =>
    b.ioctl(
      c,
      nr('VFIO_IOMMU_MAP_DMA'),
      buf('vfio_iommu_type1_dma_map', { flags, vaddr, iova, size, ...(argsz ? { argsz } : {}) }),
    );
  if (type1) type1Sections();
  function type1Sections(): void {
    // IOMMU info.
    const info = (argsz: number, length = Math.max(argsz, 24)) => {
      const x = buf('vfio_iommu_type1_info', { argsz }, length);
      x.fill(SENTINEL, 4);
      b.ioctl(c, nr('VFIO_IOMMU_GET_INFO'), x);
      const head = codec('vfio_iommu_type1_info', arch).decode(x);
      const r: Record<string, unknown> = {
        argsz: head.argsz,
        flags: head.flags,
        iovaPgsizes: head.iovaPgsizes,
        written: written(x),
      };
      r.capOffset = head.capOffset;
      if (head.capOffset !== 0 && head.capOffset < x.length) {
        r.caps = walkCapabilities(x, head.capOffset, arch).map((cap) => {
          const body: Record<string, unknown> = {
            id: cap.id,
            version: cap.version,
            offset: cap.offset,
            next: cap.next,
          };
          if (cap.id === 1) {
            const v = codec('vfio_iommu_type1_info_cap_iova_range', arch).decode(x, cap.offset);
            body.ranges = v.iovaRanges.map((rg) => [rg.start, rg.end]);
          } else if (cap.id === 2) {
            const v = codec('vfio_iommu_type1_info_cap_migration', arch).decode(x, cap.offset);
            body.migration = [v.flags, v.pgsizeBitmap, v.maxDirtyBitmapSize];
          } else if (cap.id === 3)
            body.avail = codec('vfio_iommu_type1_info_dma_avail', arch).decode(x, cap.offset).avail;
          return body;
        });
      }
      return r;
    };
    rec('info.8', () => info(8));
    rec('info.16', () => info(16));
    rec('info.20', () => info(20));
    rec('info.24', () => info(24));
    rec('info.256', () => info(256));

    // DMA.
    const map = (vaddr: bigint, iova: bigint, size: bigint, flags = 3, argsz?: number) =>
      b.ioctl(
        c,
        nr('VFIO_IOMMU_MAP_DMA'),
        buf('vfio_iommu_type1_dma_map', { flags, vaddr, iova, size, ...(argsz ? { argsz } : {}) }),
      );
    const unmap = (iova: bigint, size: bigint, flags = 0) => {
      const x = buf('vfio_iommu_type1_dma_unmap', { flags, iova, size });
      b.ioctl(c, nr('VFIO_IOMMU_UNMAP_DMA'), x);
      return { size: codec('vfio_iommu_type1_dma_unmap', arch).decode(x).size, written: written(x) };
    };
    rec('map.2M', () => map(m.address, 0x100000n, 0x200000n));
    rec(
      'map.avail',
      () => (info(256).caps as { avail?: number }[] | undefined)?.find((x) => x.avail !== undefined)?.avail,
    );
    rec('map.duplicate', () => map(m.address, 0x100000n, 0x200000n));
    rec('map.overlap', () => map(m.address, 0x2ff000n, 0x2000n));
    rec('map.abutting', () => map(m.address, 0x300000n, 0x1000n));
    rec('map.flags0', () => map(m.address, 0x400000n, 0x1000n, 0));
    rec('map.flags8', () => map(m.address, 0x400000n, 0x1000n, 11));
    rec('map.size0', () => map(m.address, 0x400000n, 0n));
    rec('map.unalignedIova', () => map(m.address, 0x400800n, 0x1000n));
    rec('map.unalignedVaddr', () => map(m.address + 1n, 0x400000n, 0x1000n));
    rec('map.argsz31', () => map(m.address, 0x400000n, 0x1000n, 3, 31));
    rec('map.wrap', () => map(m.address, 0xfffffffffffff000n, 0x2000n));
    rec('map.msiHole', () => map(m.address, 0xfee00000n, 0x1000n));
    rec('map.aboveAperture', () => map(m.address, 0x8000000000n, 0x1000n));
    rec('map.topOfAperture', () => map(m.address, 0x7ffffff000n, 0x1000n));
    rec('map.unmappedVaddr', () => map(0x1000n, 0x500000n, 0x1000n));
    rec('map.readOnlyWrite', () => map(ro.address, 0x500000n, 0x1000n));
    rec('map.readOnlyRead', () => map(ro.address, 0x500000n, 0x1000n, 1));
    rec('map.vaddrOnValid', () => map(m.address, 0x100000n, 0x200000n, 4));
    rec('unmap.partialHead', () => unmap(0x100000n, 0x1000n));
    rec('unmap.partialTail', () => unmap(0x2ff000n, 0x1000n));
    rec('unmap.nothing', () => unmap(0x10000000n, 0x1000n));
    rec('unmap.size0', () => unmap(0x100000n, 0n));
    rec('unmap.flags8', () => unmap(0x100000n, 0x200000n, 8));
    rec('unmap.allWithIova', () => unmap(0x1000n, 0n, VFIO_DMA_UNMAP_FLAG_ALL));
    rec('unmap.vaddr', () => unmap(0x300000n, 0x1000n, 4));
    rec('unmap.vaddrTwice', () => unmap(0x300000n, 0x1000n, 4));
    rec('map.vaddrOtherSize', () => map(m.address, 0x300000n, 0x2000n, 4));
    rec('map.vaddrUnmapped', () => map(m.address, 0x900000n, 0x1000n, 4));
    rec('map.vaddr', () => map(m.address, 0x300000n, 0x1000n, 4));
    rec('unmap.exact', () => unmap(0x100000n, 0x200000n));
    rec('unmap.all', () => unmap(0n, 0n, VFIO_DMA_UNMAP_FLAG_ALL));
    const dirty = (flags: number) => {
      const x = buf('vfio_iommu_type1_dirty_bitmap', { flags });
      return b.ioctl(c, nr('VFIO_IOMMU_DIRTY_PAGES'), x);
    };
    rec('dirty.stop', () => dirty(2));
    rec('dirty.startStop', () => dirty(3));
    rec('dirty.start', () => dirty(1));
    rec('dirty.start2', () => dirty(1));
    rec('dirty.stop2', () => dirty(2));
  }

  // Devices.
  rec('group.deviceFd.trailing', () => b.ioctl(g, nr('VFIO_GROUP_GET_DEVICE_FD'), cstr(`${edu.name}x`)));
  rec('group.deviceFd.option', () => b.ioctl(g, nr('VFIO_GROUP_GET_DEVICE_FD'), cstr(`${edu.name} foo`)));
  if (e1000.group !== edu.group)
    rec('group.deviceFd.otherGroup', () => b.ioctl(g, nr('VFIO_GROUP_GET_DEVICE_FD'), cstr(e1000.name)));
  const de = b.ioctl(g, nr('VFIO_GROUP_GET_DEVICE_FD'), cstr(edu.name));
  rec('group.unsetWithDevice', () => b.ioctl(g, nr('VFIO_GROUP_UNSET_CONTAINER')));
  // On pseries one PHB is one group: e1000 may share edu's.
  const g2 = e1000.group === edu.group ? g : b.open(`/dev/vfio/${e1000.group}`);
  if (g2 !== g) rec('group2.setContainer', () => b.ioctl(g2, nr('VFIO_GROUP_SET_CONTAINER'), int(c)));
  const dn = b.ioctl(g2, nr('VFIO_GROUP_GET_DEVICE_FD'), cstr(e1000.name));

  for (const [label, d] of [
    ['edu', de],
    ['e1000', dn],
  ] as const) {
    rec(`${label}.info`, () => {
      const x = buf('vfio_device_info', {});
      b.ioctl(d, nr('VFIO_DEVICE_GET_INFO'), x);
      return { ...codec('vfio_device_info', arch).decode(x), written: written(x) };
    });
    rec(`${label}.info.15`, () => b.ioctl(d, nr('VFIO_DEVICE_GET_INFO'), buf('vfio_device_info', { argsz: 15 })));
    for (let index = 0; index <= 9; index++) {
      rec(`${label}.region.${index}`, () => {
        const x = buf('vfio_region_info', { index, capOffset: 0x1234 });
        b.ioctl(d, nr('VFIO_DEVICE_GET_REGION_INFO'), x);
        return codec('vfio_region_info', arch).decode(x);
      });
    }
    for (let index = 0; index <= 5; index++) {
      rec(`${label}.irq.${index}`, () => {
        const x = buf('vfio_irq_info', { index });
        b.ioctl(d, nr('VFIO_DEVICE_GET_IRQ_INFO'), x);
        return codec('vfio_irq_info', arch).decode(x);
      });
    }
    const cfg = BigInt(VFIO_PCI_CONFIG_REGION_INDEX) << 40n;
    rec(`${label}.config.64`, () => {
      const x = new Uint8Array(64);
      b.pread(d, x, cfg);
      return x;
    });
    rec(`${label}.config.readPastEnd`, () => b.pread(d, new Uint8Array(4), cfg + 254n));
    rec(`${label}.config.barSizing`, () => {
      const x = new Uint8Array([0xff, 0xff, 0xff, 0xff]);
      b.pwrite(d, x, cfg + 0x10n);
      const y = new Uint8Array(4);
      b.pread(d, y, cfg + 0x10n);
      b.pwrite(d, new Uint8Array(4), cfg + 0x10n);
      return y;
    });
    rec(`${label}.config.vendorWrite`, () => b.pwrite(d, new Uint8Array([0, 0]), cfg));
    rec(`${label}.bar0.read0`, () => {
      const x = new Uint8Array(4);
      b.pread(d, x, 0n);
      return x;
    });
    rec(`${label}.bar0.spanEnd`, () => b.pread(d, new Uint8Array(8), (label === 'edu' ? 0x100000n : 0x20000n) - 4n));
    rec(`${label}.bar0.atEnd`, () => b.pread(d, new Uint8Array(4), label === 'edu' ? 0x100000n : 0x20000n));
    rec(`${label}.bar2.read`, () => b.pread(d, new Uint8Array(4), 2n << 40n));
    rec(`${label}.rom.read`, () => {
      const x = new Uint8Array(4);
      const n = b.pread(d, x, 6n << 40n);
      return { n, x };
    });
    rec(`${label}.rom.write`, () => b.pwrite(d, new Uint8Array(4), 6n << 40n));
    rec(`${label}.region20.read`, () => b.pread(d, new Uint8Array(4), 20n << 40n));
    rec(`${label}.reset`, () => b.ioctl(d, nr('VFIO_DEVICE_RESET')));
    rec(`${label}.hotResetInfo`, () => {
      const x = buf('vfio_pci_hot_reset_info', {}, 64);
      b.ioctl(d, nr('VFIO_DEVICE_GET_PCI_HOT_RESET_INFO'), x);
      return x.subarray(0, 12);
    });
    rec(`${label}.unknown`, () => b.ioctl(d, nr('VFIO_GET_API_VERSION') + 0x90));
    rec(`${label}.feature.probeLowPower`, () =>
      b.ioctl(
        d,
        nr('VFIO_DEVICE_FEATURE'),
        buf('vfio_device_feature', { flags: VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | 3 }),
      ),
    );
    rec(`${label}.feature.probe0`, () =>
      b.ioctl(
        d,
        nr('VFIO_DEVICE_FEATURE'),
        buf('vfio_device_feature', { flags: VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET }),
      ),
    );
    const irq = (flags: number, index: number, count: number, fds: number[] = []) => {
      const head = codec('vfio_irq_set', arch);
      const x = new Uint8Array(head.size + fds.length * 4);
      head.encodeInto({ argsz: x.length, flags, index, start: 0, count } as never, x);
      for (const [i, fd] of fds.entries()) new DataView(x.buffer).setInt32(head.size + 4 * i, fd, b.littleEndian);
      return b.ioctl(d, nr('VFIO_DEVICE_SET_IRQS'), x);
    };
    const ev = b.eventfd();
    rec(`${label}.irqs.msiDisable`, () =>
      irq(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0),
    );
    rec(`${label}.irqs.msixDisable`, () =>
      irq(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSIX_IRQ_INDEX, 0),
    );
    rec(`${label}.irqs.reqNoneNoTrigger`, () =>
      irq(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_REQ_IRQ_INDEX, 0),
    );
    rec(`${label}.irqs.intxEventfd`, () => irq(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, [ev]));
    rec(`${label}.irqs.msiWhileIntx`, () =>
      irq(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 1, [ev]),
    );
    rec(`${label}.irqs.intxDisable`, () => irq(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
    rec(`${label}.irqs.msi`, () =>
      irq(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 1, [ev]),
    );
    rec(`${label}.irqs.msiOff`, () =>
      irq(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0),
    );
    const ioe = (flags: number, fd: number) =>
      b.ioctl(d, nr('VFIO_DEVICE_IOEVENTFD'), buf('vfio_device_ioeventfd', { flags, offset: 0x40n, data: 1n, fd }));
    rec(`${label}.ioeventfd.32`, () => ioe(VFIO_DEVICE_IOEVENTFD_32, ev));
    rec(`${label}.ioeventfd.32again`, () => ioe(VFIO_DEVICE_IOEVENTFD_32, ev));
    rec(`${label}.ioeventfd.32remove`, () => ioe(VFIO_DEVICE_IOEVENTFD_32, -1));
    rec(`${label}.ioeventfd.64`, () => ioe(VFIO_DEVICE_IOEVENTFD_64, ev));
    rec(`${label}.ioeventfd.64remove`, () => ioe(VFIO_DEVICE_IOEVENTFD_64, -1));
    rec(`${label}.mmap.bar0`, () => {
      const mm = b.mmap({ fd: d, length: 0x1000, offset: 0n });
      b.munmap(mm);
      return 'ok';
    });
    rec(`${label}.mmap.config`, () => b.mmap({ fd: d, length: 0x1000, offset: cfg }));
  }
  rec('edu.bar0.liveness', () => {
    const x = new Uint8Array(4);
    new DataView(x.buffer).setUint32(0, 0x12345678, b.littleEndian);
    b.pwrite(de, x, 4n);
    b.pread(de, x, 4n);
    return new DataView(x.buffer).getUint32(0, b.littleEndian);
  });
  rec('edu.bar0.read2bytes', () => {
    const x = new Uint8Array(2);
    b.pread(de, x, 0n);
    return x;
  });
  b.close(dn);
  b.close(de);
  rec('group.unset', () => b.ioctl(g, nr('VFIO_GROUP_UNSET_CONTAINER')));
  rec('group.unsetAgain', () => b.ioctl(g, nr('VFIO_GROUP_UNSET_CONTAINER')));
  rec('container.afterUnset.checkExtension.10', () => b.ioctl(c, nr('VFIO_CHECK_EXTENSION'), 10));
  rec('container.afterUnset.map', () => map(m.address, 0x100000n, 0x1000n));
  if (g2 !== g) b.close(g2);
  b.close(g);
  b.close(c);
  b.close(e);
  b.munmap(m);
  b.munmap(ro);
  return out;
}

/**
 * edu DMA through the IOMMU and its interrupts, polled the way a driver must on real hardware (edu's DMA runs from a
 * 100 ms timer; the simulator finishes at once). Async because interrupts arrive on eventfds.
 */
export async function probeDma(b: Backend, edu: ProbeDevice): Promise<ProbeRecord> {
  const out: ProbeRecord = {};
  const arch = b.arch;
  const nr = (n: IoctlName) => ioctlNumber(n, arch);
  const le = b.littleEndian;
  const rec = async (key: string, fn: () => unknown): Promise<void> => {
    try {
      out[key] = jsonable(await fn());
    } catch (e) {
      const code = (e as { code?: string }).code;
      out[key] = code !== undefined && /^E[A-Z0-9]+$/.test(code) ? { errno: code } : { exception: String(e) };
    }
  };
  const int = (v: number) => {
    const x = new Uint8Array(4);
    new DataView(x.buffer).setInt32(0, v, le);
    return x;
  };
  const c = b.open('/dev/vfio/vfio');
  const g = b.open(`/dev/vfio/${edu.group}`);
  b.ioctl(g, nr('VFIO_GROUP_SET_CONTAINER'), int(c));
  b.ioctl(c, nr('VFIO_SET_IOMMU'), VFIO_TYPE1v2_IOMMU);
  const d = b.ioctl(g, nr('VFIO_GROUP_GET_DEVICE_FD'), new TextEncoder().encode(`${edu.name}\0`));
  const r32 = (off: bigint) => {
    const x = new Uint8Array(4);
    b.pread(d, x, off);
    return new DataView(x.buffer).getUint32(0, le);
  };
  const w32 = (off: bigint, v: number) => {
    const x = new Uint8Array(4);
    new DataView(x.buffer).setUint32(0, v, le);
    b.pwrite(d, x, off);
  };
  const w64 = (off: bigint, v: bigint) => {
    const x = new Uint8Array(8);
    new DataView(x.buffer).setBigUint64(0, v, le);
    b.pwrite(d, x, off);
  };
  const settle = async (reg: bigint, bit: number) => {
    for (let i = 0; i < 400 && (r32(reg) & bit) !== 0; i++) await new Promise((r) => setTimeout(r, 5));
    return r32(reg) & bit;
  };
  const dma = async (src: bigint, dst: bigint, count: bigint, cmd: bigint) => {
    w64(0x80n, src);
    w64(0x88n, dst);
    w64(0x90n, count);
    w64(0x98n, cmd);
    return settle(0x98n, 1);
  };
  const map = (vaddr: bigint, iova: bigint, size: bigint, flags: number) => {
    const m = codec('vfio_iommu_type1_dma_map', arch);
    return b.ioctl(c, nr('VFIO_IOMMU_MAP_DMA'), m.encode({ argsz: m.size, flags, vaddr, iova, size }));
  };
  const cfg = BigInt(VFIO_PCI_CONFIG_REGION_INDEX) << 40n;
  const src = b.mmap({ length: 4096 });
  const dst = b.mmap({ length: 4096 });
  src.bytes.set(new TextEncoder().encode('vfio-ts through the IOMMU'));
  dst.bytes.fill(0x5a);
  map(src.address, 0x100000n, 4096n, 1);
  map(dst.address, 0x200000n, 4096n, 3);

  await rec('dma.withoutBusMaster', async () => {
    await dma(0x100000n, 0x40000n, 32n, 1n);
    await dma(0x40000n, 0x200000n, 32n, 3n);
    return dst.bytes.subarray(0, 8);
  });
  const command = new Uint8Array(2);
  b.pread(d, command, cfg + 4n);
  command[0]! |= 0x6;
  b.pwrite(d, command, cfg + 4n);
  await rec('dma.roundTrip', async () => {
    const a = await dma(0x100000n, 0x40000n, 32n, 1n);
    const z = await dma(0x40000n, 0x200000n, 32n, 3n);
    return { a, z, bytes: new TextDecoder().decode(dst.bytes.subarray(0, 25)) };
  });
  await rec('dma.toUnmappedIova', async () => {
    dst.bytes.fill(0x5a);
    const z = await dma(0x40000n, 0x300000n, 32n, 3n);
    return { z, dst: dst.bytes.subarray(0, 4) };
  });
  await rec('dma.writeThroughReadOnlyMapping', async () => {
    const z = await dma(0x40000n, 0x100000n, 8n, 3n);
    return { z, src: new TextDecoder().decode(src.bytes.subarray(0, 8)) };
  });
  await rec('dma.fromUnmappedIova', async () => {
    const z = await dma(0x300000n, 0x40000n, 8n, 1n);
    await dma(0x40000n, 0x200000n, 8n, 3n);
    return { z, dst: dst.bytes.subarray(0, 8) };
  });
  await rec('fact.5', async () => {
    w32(0x08n, 5);
    await settle(0x20n, 1);
    return r32(0x08n);
  });
  const wait = async (fd: number) => {
    const timeout = AbortSignal.timeout(3000);
    try {
      return await b.readEventfd(fd, { signal: timeout });
    } catch {
      return 'timeout';
    }
  };
  const irqSet = (flags: number, index: number, count: number, fds: number[]) => {
    const head = codec('vfio_irq_set', arch);
    const x = new Uint8Array(head.size + fds.length * 4);
    head.encodeInto({ argsz: x.length, flags, index, start: 0, count } as never, x);
    for (const [i, fd] of fds.entries()) new DataView(x.buffer).setInt32(head.size + 4 * i, fd, le);
    return b.ioctl(d, nr('VFIO_DEVICE_SET_IRQS'), x);
  };
  const ev = b.eventfd();
  await rec('irq.intx', async () => {
    irqSet(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, [ev]);
    w32(0x60n, 1);
    const first = await wait(ev);
    const status = r32(0x24n);
    w32(0x64n, 1);
    irqSet(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, []);
    irqSet(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, []);
    return { first, status };
  });
  await rec('irq.msiOnDmaDone', async () => {
    irqSet(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 1, [ev]);
    await dma(0x100000n, 0x40000n, 8n, 5n);
    const got = await wait(ev);
    const status = r32(0x24n);
    w32(0x64n, 0x100);
    irqSet(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, []);
    return { got, status };
  });
  b.close(ev);
  b.close(d);
  b.close(g);
  b.close(c);
  b.munmap(src);
  b.munmap(dst);
  return out;
}

/**
 * locked_vm accounting without CAP_IPC_LOCK against the default 8 MiB RLIMIT_MEMLOCK: the caller drops privileges
 * after SET_IOMMU and reports VmLck (pages).
 */
export function probeLocked(
  b: Backend,
  edu: ProbeDevice,
  dropPrivileges: () => void,
  vmLck: () => number,
): ProbeRecord {
  const out: ProbeRecord = {};
  const arch = b.arch;
  const nr = (n: IoctlName) => ioctlNumber(n, arch);
  const rec = (key: string, fn: () => unknown): void => {
    try {
      out[key] = jsonable(fn());
    } catch (e) {
      const code = (e as { code?: string }).code;
      out[key] = code !== undefined && /^E[A-Z0-9]+$/.test(code) ? { errno: code } : { exception: String(e) };
    }
  };
  const fd = new Uint8Array(4);
  const c = b.open('/dev/vfio/vfio');
  const g = b.open(`/dev/vfio/${edu.group}`);
  new DataView(fd.buffer).setInt32(0, c, b.littleEndian);
  b.ioctl(g, nr('VFIO_GROUP_SET_CONTAINER'), fd);
  b.ioctl(c, nr('VFIO_SET_IOMMU'), VFIO_TYPE1v2_IOMMU);
  dropPrivileges();
  const mc = codec('vfio_iommu_type1_dma_map', arch);
  const uc = codec('vfio_iommu_type1_dma_unmap', arch);
  const map = (vaddr: bigint, iova: bigint, size: bigint) =>
    b.ioctl(c, nr('VFIO_IOMMU_MAP_DMA'), mc.encode({ argsz: mc.size, flags: 3, vaddr, iova, size }));
  const unmap = (iova: bigint, size: bigint) =>
    b.ioctl(c, nr('VFIO_IOMMU_UNMAP_DMA'), uc.encode({ argsz: uc.size, iova, size }));
  const mib = 1n << 20n;
  const m = b.mmap({ length: 9 << 20 });
  rec('locked.start', vmLck);
  rec('locked.map4M', () => map(m.address, 0x1000000n, 4n * mib));
  rec('locked.after4M', vmLck);
  rec('locked.map4Mmore', () => map(m.address + 4n * mib, 0x2000000n, 4n * mib));
  rec('locked.after8M', vmLck);
  rec('locked.mapOnePageOver', () => map(m.address + 8n * mib, 0x3000000n, 0x1000n));
  rec('locked.afterRefused', vmLck);
  rec('locked.unmapFirst', () => unmap(0x1000000n, 4n * mib));
  rec('locked.afterUnmap', vmLck);
  rec('locked.sameVaddrAgain', () => map(m.address + 4n * mib, 0x4000000n, 2n * mib));
  rec('locked.afterSameVaddr', vmLck);
  b.close(g);
  rec('locked.afterGroupClose', vmLck);
  b.close(c);
  b.munmap(m);
  return out;
}
