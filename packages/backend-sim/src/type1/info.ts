// SPDX-License-Identifier: MIT
/** ≙ vfio_iommu_type1.c vfio_iommu_type1_get_info and its capability builders. */
import {
  codec,
  errnoNumber,
  minArgsz,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
} from '@vfio-ts/uapi';
import type { UserArg } from '../vfio/user-arg.js';
import { DIRTY_BITMAP_SIZE_MAX } from './dirty.js';
import type { VfioIommu } from './vfio-iommu.js';

const EFAULT = errnoNumber('EFAULT');
const EINVAL = errnoNumber('EINVAL');

/** ≙ struct vfio_info_cap + vfio_info_cap_add: capabilities appended, `next` filled in by vfio_info_cap_shift. */
class InfoCaps {
  buf = new Uint8Array(0);
  private lastHeader = -1;
  constructor(private readonly align8: boolean) {}

  add(body: Uint8Array): void {
    const at = this.align8 ? (this.buf.length + 7) & ~7 : this.buf.length;
    const size = this.align8 ? (body.length + 7) & ~7 : body.length;
    const next = new Uint8Array(at + size);
    next.set(this.buf);
    next.set(body, at);
    this.buf = next;
    if (this.lastHeader >= 0) this.links.push([this.lastHeader, at]);
    this.lastHeader = at;
  }

  readonly links: [number, number][] = [];
}

/** @see vfio_iommu_type1.c vfio_iommu_type1_get_info */
export function vfioIommuType1GetInfo(iommu: VfioIommu, arg: UserArg): number {
  const arch = iommu.kernel.arch;
  const c = codec('vfio_iommu_type1_info', arch);
  let minsz = minArgsz('VFIO_IOMMU_GET_INFO', arch);
  const capsz = c.offsetEnd('cap_offset');
  const info = arg.copyStructFromUser<Record<string, any>>('vfio_iommu_type1_info', minsz, arch);
  if (typeof info === 'number') return info;
  if (info.argsz < minsz) return -EINVAL;
  if (info.argsz >= capsz) {
    minsz = capsz;
    info.capOffset = 0;
  }
  info.flags = VFIO_IOMMU_INFO_PGSIZES;
  info.iovaPgsizes = iommu.pgsizeBitmap;

  const caps = new InfoCaps(iommu.params.capAlign8);
  const header = (id: number) => ({ id, version: 1, next: 0 });
  caps.add(
    codec('vfio_iommu_type1_info_cap_migration', arch).encode({
      header: header(VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION),
      flags: 0,
      pgsizeBitmap: iommu.pgsize,
      maxDirtyBitmapSize: DIRTY_BITMAP_SIZE_MAX,
    }),
  );
  caps.add(
    codec('vfio_iommu_type1_info_dma_avail', arch).encode({
      header: header(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL),
      avail: iommu.dmaAvail,
    }),
  );
  if (iommu.iovaList.length > 0) {
    caps.add(
      codec('vfio_iommu_type1_info_cap_iova_range', arch).encode({
        header: header(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE),
        nrIovas: iommu.iovaList.length,
        iovaRanges: iommu.iovaList.map((r) => ({ start: r.start, end: r.end })),
      }),
    );
  }
  if (caps.buf.length > 0) {
    info.flags |= VFIO_IOMMU_INFO_CAPS;
    if (info.argsz < c.size + caps.buf.length) {
      info.argsz = c.size + caps.buf.length;
    } else {
      // vfio_info_cap_shift: `next` becomes an offset from the start of the info struct.
      const hdr = codec('vfio_info_cap_header', arch);
      for (const [from, to] of caps.links) hdr.view(caps.buf, from).next = to + c.size;
      if (arg.copyToUser(caps.buf, c.size) < 0) return -EFAULT;
      info.capOffset = c.size;
    }
  }
  return arg.copyToUser(c.encode(info).subarray(0, minsz)) < 0 ? -EFAULT : 0;
}
