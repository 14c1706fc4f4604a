// SPDX-License-Identifier: MIT
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildCapabilityChain,
  capabilityStruct,
  codec,
  UapiError,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  walkCapabilities,
} from '../src/index.js';

const info = codec('vfio_iommu_type1_info', 'x86_64');

function infoWithChain(): Uint8Array {
  const chain = buildCapabilityChain(
    [
      {
        struct: 'vfio_iommu_type1_info_cap_iova_range',
        value: {
          header: { id: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1 },
          iovaRanges: [{ start: 0n, end: 0xfedfffffn }],
        },
      },
      {
        struct: 'vfio_iommu_type1_info_dma_avail',
        value: { header: { id: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1 }, avail: 65535 },
      },
    ],
    'x86_64',
    info.size,
  );
  const bytes = new Uint8Array(info.size + chain.length);
  info.encodeInto({ argsz: bytes.length, capOffset: info.size }, bytes);
  bytes.set(chain, info.size);
  return bytes;
}

describe('capability chains', () => {
  it('a built chain walks back to the same capabilities, with the structs the spec names', () => {
    const bytes = infoWithChain();
    const caps = walkCapabilities(bytes, info.decode(bytes).capOffset, 'x86_64', info.size);
    expect(caps.map((c) => c.id)).toEqual([VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL]);
    expect(caps[1]!.offset % 8).toBe(0);
    expect(capabilityStruct('iommu-type1-info', caps[0]!.id)).toBe('vfio_iommu_type1_info_cap_iova_range');
    const avail = codec('vfio_iommu_type1_info_dma_avail', 'x86_64').decode(bytes, caps[1]!.offset);
    expect(avail.avail).toBe(65535);
  });

  it('refuses a chain that loops', () => {
    const bytes = infoWithChain();
    const caps = walkCapabilities(bytes, info.size, 'x86_64');
    codec('vfio_info_cap_header', 'x86_64').view(bytes, caps[1]!.offset).next = caps[0]!.offset;
    expect(() => walkCapabilities(bytes, info.size, 'x86_64')).toThrowError(/loops/);
  });

  it('refuses a chain that leaves the buffer, points into the info struct, or is misaligned', () => {
    const bytes = infoWithChain();
    expect(() => walkCapabilities(bytes, bytes.length - 4, 'x86_64')).toThrowError(/leaves/);
    expect(() => walkCapabilities(bytes, 8, 'x86_64', info.size)).toThrowError(/inside the info struct/);
    expect(() => walkCapabilities(bytes, info.size + 2, 'x86_64')).toThrowError(/aligned/);
  });

  it('hostile random chains are refused with VFIO_TS_CAP_CHAIN or walked within bounds, never anything else', () => {
    let tried = 0;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 256 }), fc.nat(300), (bytes, first) => {
        tried++;
        try {
          for (const cap of walkCapabilities(bytes, first, 'x86_64'))
            expect(cap.offset + 8).toBeLessThanOrEqual(bytes.length);
        } catch (error) {
          expect(error).toBeInstanceOf(UapiError);
          expect((error as UapiError).code).toBe('VFIO_TS_CAP_CHAIN');
        }
      }),
      { seed: 7, numRuns: 2000 },
    );
    console.log(`capability chain fuzz: ${tried} inputs (seed 7)`);
  });
});
