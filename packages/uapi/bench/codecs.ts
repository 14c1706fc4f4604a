// SPDX-License-Identifier: MIT
/**
 * Generated codecs against a hand-written DataView codec for the same structs, and against koffi's own struct
 * marshalling (koffi.encode/decode). The hand-written baseline takes its offsets from the codec once at set-up, so
 * nothing here types an offset; its per-call code is what a careful human would write.
 */
import koffi from 'koffi';
import { type Measurement, measure } from '../../../bench/measure.js';
import { type Arch, codec } from '../src/index.js';

export interface CodecBenchRow {
  readonly struct: string;
  readonly op: 'encode' | 'decode';
  readonly generated: Measurement;
  readonly handWritten: Measurement;
  readonly koffi: Measurement;
  /** generated / handWritten: the target is at most 1.1. */
  readonly ratioToHandWritten: number;
  /** koffi / generated. */
  readonly koffiRatio: number;
}

export async function benchCodecs(
  arch: Arch = 'x86_64',
): Promise<{ name: 'uapi/codecs'; arch: Arch; rows: CodecBenchRow[] }> {
  const le = true;
  const rows: CodecBenchRow[] = [];
  let sink = 0;

  // struct vfio_iommu_type1_dma_map: the hot path of every DMA mapping.
  {
    const c = codec('vfio_iommu_type1_dma_map', arch);
    const [oArgsz, oFlags, oVaddr, oIova, oSize] = ['argsz', 'flags', 'vaddr', 'iova', 'size'].map((m) =>
      c.offsetOf(m),
    ) as [number, number, number, number, number];
    const value = { argsz: c.size, flags: 3, vaddr: 0x7f0000000000n, iova: 0x100000n, size: 0x200000n };
    const buffer = new Uint8Array(c.size);
    const K = koffi.struct(`bench_dma_map_${arch}`, {
      argsz: 'uint32',
      flags: 'uint32',
      vaddr: 'uint64',
      iova: 'uint64',
      size: 'uint64',
    });
    const kbuf = Buffer.alloc(koffi.sizeof(K));
    const encodeHand = (v: typeof value) => {
      const out = new Uint8Array(c.size);
      const d = new DataView(out.buffer);
      d.setUint32(oArgsz, v.argsz, le);
      d.setUint32(oFlags, v.flags, le);
      d.setBigUint64(oVaddr, v.vaddr, le);
      d.setBigUint64(oIova, v.iova, le);
      d.setBigUint64(oSize, v.size, le);
      return out;
    };
    const decodeHand = (bytes: Uint8Array) => {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return {
        argsz: dv.getUint32(oArgsz, le),
        flags: dv.getUint32(oFlags, le),
        vaddr: dv.getBigUint64(oVaddr, le),
        iova: dv.getBigUint64(oIova, le),
        size: dv.getBigUint64(oSize, le),
      };
    };
    buffer.set(c.encode(value));
    const enc = {
      generated: measure(() => (sink += c.encode(value)[0]!)),
      handWritten: measure(() => (sink += encodeHand(value)[0]!)),
      koffi: measure(() => {
        koffi.encode(kbuf, K, value);
        sink += kbuf[0]!;
      }),
    };
    rows.push(row('vfio_iommu_type1_dma_map', 'encode', enc));
    koffi.encode(kbuf, K, value);
    const dec = {
      generated: measure(() => (sink += c.decode(buffer).flags)),
      handWritten: measure(() => (sink += decodeHand(buffer).flags)),
      koffi: measure(() => (sink += (koffi.decode(kbuf, K) as { flags: number }).flags)),
    };
    rows.push(row('vfio_iommu_type1_dma_map', 'decode', dec));
  }

  // struct vfio_iommu_spapr_tce_create: a mixed 32/64-bit struct read back after the call.
  {
    const c = codec('vfio_iommu_spapr_tce_create', arch);
    const names = ['argsz', 'flags', 'page_shift', '__resv1', 'window_size', 'levels', '__resv2', 'start_addr'];
    const [o0, o1, o2, o3, o4, o5, o6, o7] = names.map((m) => c.offsetOf(m)) as number[] as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const value = {
      argsz: c.size,
      flags: 0,
      pageShift: 16,
      resv1: 0,
      windowSize: 1n << 40n,
      levels: 2,
      resv2: 0,
      startAddr: 0x800000000000000n,
    };
    const buffer = c.encode(value);
    const K = koffi.struct(`bench_tce_create_${arch}`, {
      argsz: 'uint32',
      flags: 'uint32',
      pageShift: 'uint32',
      resv1: 'uint32',
      windowSize: 'uint64',
      levels: 'uint32',
      resv2: 'uint32',
      startAddr: 'uint64',
    });
    const kbuf = Buffer.alloc(koffi.sizeof(K));
    koffi.encode(kbuf, K, value);
    const decodeHand = (bytes: Uint8Array) => {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return {
        argsz: dv.getUint32(o0, le),
        flags: dv.getUint32(o1, le),
        pageShift: dv.getUint32(o2, le),
        resv1: dv.getUint32(o3, le),
        windowSize: dv.getBigUint64(o4, le),
        levels: dv.getUint32(o5, le),
        resv2: dv.getUint32(o6, le),
        startAddr: dv.getBigUint64(o7, le),
      };
    };
    const dec = {
      generated: measure(() => (sink += c.decode(buffer).levels)),
      handWritten: measure(() => (sink += decodeHand(buffer).levels)),
      koffi: measure(() => (sink += (koffi.decode(kbuf, K) as { levels: number }).levels)),
    };
    rows.push(row('vfio_iommu_spapr_tce_create', 'decode', dec));
  }
  if (sink === -1) console.log(sink);
  return { name: 'uapi/codecs', arch, rows };
}

function row(
  struct: string,
  op: 'encode' | 'decode',
  m: { generated: Measurement; handWritten: Measurement; koffi: Measurement },
): CodecBenchRow {
  return {
    struct,
    op,
    ...m,
    ratioToHandWritten: m.generated.nsPerOp / m.handWritten.nsPerOp,
    koffiRatio: m.koffi.nsPerOp / m.generated.nsPerOp,
  };
}
