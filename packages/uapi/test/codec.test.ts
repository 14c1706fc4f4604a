// SPDX-License-Identifier: MIT
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ARCHS, codec, type StructName, structLayoutsForTest, UapiError } from './helpers.js';

const SEED = Number(process.env.VFIO_TS_SEED ?? 20261124);
const RUNS = Number(process.env.VFIO_TS_FUZZ_RUNS ?? 40);

describe('layouts match the compiler ground truth', () => {
  it('vfio_iommu_spapr_tce_create is 40 bytes everywhere, aligned 4 on i386 and 8 elsewhere', () => {
    for (const arch of ARCHS) {
      const c = codec('vfio_iommu_spapr_tce_create', arch);
      expect(c.size).toBe(40);
      expect(c.align).toBe(arch === 'i386' ? 4 : 8);
    }
  });

  it('vfio_iommu_type1_info is 24/8 on every ABI since upstream made iova_pgsizes __aligned_u64 and added pad', () => {
    // The 6.1 header gave 20/4 on i386; codegen/test/probe checks that against the vendored 6.1 header.
    for (const arch of ARCHS) {
      const c = codec('vfio_iommu_type1_info', arch);
      expect([c.size, c.align, c.offsetOf('pad')]).toEqual([24, 8, 20]);
    }
  });

  it('ppc64 is big-endian: argsz is written most significant byte first', () => {
    const le = codec('vfio_iommu_spapr_tce_create', 'ppc64le').encode({ argsz: 40, startAddr: 0x0800000000000000n });
    const be = codec('vfio_iommu_spapr_tce_create', 'ppc64').encode({ argsz: 40, startAddr: 0x0800000000000000n });
    expect([...le.subarray(0, 4)]).toEqual([40, 0, 0, 0]);
    expect([...be.subarray(0, 4)]).toEqual([0, 0, 0, 40]);
    expect(be[32]).toBe(0x08);
    expect(le[39]).toBe(0x08);
  });
});

describe('every codec round-trips on every ABI (seeded property test)', () => {
  const names = Object.keys(structLayoutsForTest) as StructName[];
  for (const arch of ARCHS) {
    it(`${arch}: decode(bytes) -> encode -> decode is stable for all ${names.length} structs`, () => {
      let tried = 0;
      for (const name of names) {
        const c = codec(name, arch);
        fc.assert(
          fc.property(fc.uint8Array({ minLength: c.size, maxLength: c.size + 64 }), (bytes) => {
            tried++;
            let first: unknown;
            try {
              first = c.decode(bytes);
            } catch (error) {
              // A flexible array whose count runs past the buffer must be refused, never read out of bounds.
              expect(error).toBeInstanceOf(UapiError);
              expect((error as UapiError).code).toBe('VFIO_TS_SHORT_BUFFER');
              return;
            }
            const again = c.encode(first as never);
            expect(c.decode(again)).toEqual(first);
            expect(c.encode(c.decode(again) as never)).toEqual(again);
          }),
          { seed: SEED, numRuns: RUNS },
        );
      }
      expect(tried).toBeGreaterThanOrEqual(names.length * RUNS);
      console.log(`codec round trip ${arch}: ${tried} inputs over ${names.length} structs (seed ${SEED})`);
    });
  }

  it('views read and write the same bytes as the codec', () => {
    for (const arch of ARCHS) {
      const c = codec('vfio_iommu_spapr_tce_info', arch);
      const bytes = c.encode({ argsz: c.size, dma32WindowSize: 1 << 30, ddw: { pgsizes: 0x1211000n, levels: 1 } });
      const view = c.view(bytes);
      expect(view.dma32WindowSize).toBe(1 << 30);
      expect(view.ddw.pgsizes).toBe(0x1211000n);
      view.ddw.maxDynamicWindowsSupported = 2;
      expect(c.decode(bytes).ddw.maxDynamicWindowsSupported).toBe(2);
    }
  });
});

describe('bad input is refused, never encoded wrong', () => {
  const map = codec('vfio_iommu_type1_dma_map', 'x86_64');

  it.each([
    ['flags', -1],
    ['flags', 2 ** 32],
    ['flags', 1.5],
    ['argsz', Number.NaN],
  ])('%s = %s does not fit __u32', (key, value) => {
    expect(() => map.encode({ [key]: value })).toThrowError(expect.objectContaining({ code: 'VFIO_TS_VALUE_RANGE' }));
  });

  it('u64 fields refuse negative and 65-bit values and accept safe integers', () => {
    expect(() => map.encode({ iova: -1n })).toThrowError(/does not fit __u64/);
    expect(() => map.encode({ iova: 1n << 64n })).toThrowError(/does not fit __u64/);
    expect(() => map.encode({ iova: 2 ** 53 })).toThrowError(/does not fit __u64/);
    expect(map.decode(map.encode({ iova: 4096 })).iova).toBe(4096n);
  });

  it('a 32-bit pointer member refuses an address above 4 GiB on i386', () => {
    expect(() => codec('vfio_bitmap', 'i386').encode({ data: 1n << 32n })).toThrowError(/32-bit pointer/);
    expect(codec('vfio_bitmap', 'x86_64').decode(codec('vfio_bitmap', 'x86_64').encode({ data: 1n << 40n })).data).toBe(
      1n << 40n,
    );
  });

  it('short buffers are refused for decode, view and encodeInto', () => {
    expect(() => map.decode(new Uint8Array(map.size - 1))).toThrowError(
      expect.objectContaining({ code: 'VFIO_TS_SHORT_BUFFER' }),
    );
    expect(() => map.view(new Uint8Array(4))).toThrowError(UapiError);
    expect(() => map.encodeInto({}, new Uint8Array(map.size), 1)).toThrowError(UapiError);
    expect(() => map.decode(new Uint8Array(64), -1)).toThrowError(UapiError);
  });

  it('a flexible-array count that runs past the buffer is refused', () => {
    const c = codec('vfio_iommu_type1_info_cap_iova_range', 'x86_64');
    const bytes = c.encode({ iovaRanges: [{ start: 0n, end: 4095n }] });
    expect(c.decode(bytes).iovaRanges).toHaveLength(1);
    c.view(bytes).nrIovas = 1000;
    expect(() => c.decode(bytes)).toThrowError(expect.objectContaining({ code: 'VFIO_TS_SHORT_BUFFER' }));
  });

  it('encodeInto zeroes what it owns and leaves the rest', () => {
    const target = new Uint8Array(map.size + 8).fill(0xaa);
    expect(map.encodeInto({ argsz: map.size }, target, 4)).toBe(map.size);
    expect(target[0]).toBe(0xaa);
    expect(target[4]).toBe(map.size);
    expect(target[5 + 8]).toBe(0);
    expect(target[4 + map.size]).toBe(0xaa);
  });
});
