// SPDX-License-Identifier: MIT
/**
 * vfio_info_cap_header chains: an info struct's cap_offset names the first capability, each capability's `next`
 * the following one, offsets counted from the start of the info struct, 0 ending the chain.
 */

import { codec, type StructInit } from './codec.js';
import { UapiError } from './errors.js';
import type { Arch } from './generated/abi.js';
import { capabilityChains } from './generated/capabilities.js';
import type { StructName, StructTypes } from './generated/types.js';

export interface CapabilityHeader {
  readonly id: number;
  readonly version: number;
  /** Where this capability starts, from the start of the info struct. */
  readonly offset: number;
  readonly next: number;
}

export type CapabilityChainName = keyof typeof capabilityChains;

/**
 * Walks a chain from `firstOffset`. A chain that points outside the buffer, into the info struct's own header
 * (`minOffset`), at a misaligned offset, or back to where it has been, throws `VFIO_TS_CAP_CHAIN`.
 */
export function walkCapabilities(
  bytes: Uint8Array,
  firstOffset: number,
  arch: Arch,
  minOffset = 0,
): CapabilityHeader[] {
  const header = codec('vfio_info_cap_header', arch);
  const out: CapabilityHeader[] = [];
  const seen = new Set<number>();
  let offset = firstOffset;
  while (offset !== 0) {
    if (seen.has(offset)) throw chainError(`loops back to offset ${offset}`);
    if (offset < minOffset) throw chainError(`offset ${offset} points inside the info struct (before ${minOffset})`);
    if (offset % 4 !== 0) throw chainError(`offset ${offset} is not 4-byte aligned`);
    if (offset + header.size > bytes.length) {
      throw chainError(`offset ${offset} leaves the ${bytes.length}-byte buffer`);
    }
    seen.add(offset);
    const cap = header.decode(bytes, offset);
    out.push({ id: cap.id, version: cap.version, offset, next: cap.next });
    offset = cap.next;
  }
  return out;
}

function chainError(what: string): UapiError {
  return new UapiError('VFIO_TS_CAP_CHAIN', `capability chain ${what}`);
}

/** The struct a capability id stands for in a chain, if the spec knows it. */
export function capabilityStruct(chain: CapabilityChainName, id: number): StructName | undefined {
  return (capabilityChains[chain] as Readonly<Record<number, StructName>>)[id];
}

export interface CapabilityEntry<N extends StructName = StructName> {
  readonly struct: N;
  readonly value: StructInit<StructTypes[N]>;
}

/**
 * Lays capabilities out one after another from `startOffset` (8-byte aligned, as the kernel's vfio_info_cap_add
 * does), each with `header.next` pointing at the following one and the last at 0. Returns the chain's bytes, to be
 * placed at `startOffset` of the info buffer.
 */
export function buildCapabilityChain(entries: readonly CapabilityEntry[], arch: Arch, startOffset: number): Uint8Array {
  const placed: { entry: CapabilityEntry; at: number; size: number }[] = [];
  let at = startOffset;
  for (const entry of entries) {
    at = (at + 7) & ~7;
    const size = codec(entry.struct, arch).encodedSize(entry.value as never);
    placed.push({ entry, at, size });
    at += size;
  }
  const bytes = new Uint8Array(at - startOffset);
  placed.forEach(({ entry, at: where }, i) => {
    const next = placed[i + 1]?.at ?? 0;
    const value = entry.value as { header?: object };
    const withNext = { ...value, header: { ...(value.header ?? {}), next } };
    // vfio_info_cap_header itself (a capability with no body) carries next at the top level.
    const init = entry.struct === 'vfio_info_cap_header' ? { ...value, next } : withNext;
    codec(entry.struct, arch).encodeInto(init as never, bytes, where - startOffset);
  });
  return bytes;
}
