// SPDX-License-Identifier: MIT
/**
 * Just enough of ELF to read a named section out of a relocatable object, for any class and byte order: the probe
 * compiles for other architectures and can never run what it compiles, so the values come back through the file.
 * Layout per the System V gABI, "Object Files" (e_ident, ELF header, section header table).
 */
import { ProbeError } from './errors.js';

export interface ElfSection {
  readonly name: string;
  readonly index: number;
  readonly type: number;
  readonly offset: number;
  readonly size: number;
  readonly bytes: Uint8Array;
  /** A REL/RELA section patches this one at link time: its bytes on disk are not the final values. */
  readonly relocated: boolean;
}

export interface ElfObject {
  readonly elfClass: 32 | 64;
  readonly littleEndian: boolean;
  readonly type: number;
  readonly machine: number;
  readonly sections: readonly ElfSection[];
}

export const EM_386 = 3;
export const EM_PPC64 = 21;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

const SHT_NOBITS = 8;
const SHT_RELA = 4;
const SHT_REL = 9;
const SHN_XINDEX = 0xffff;

function fail(message: string): never {
  throw new ProbeError('VFIO_TS_PROBE_ELF', message);
}

export function parseElf(file: Uint8Array): ElfObject {
  if (file.length < 16 || file[0] !== 0x7f || file[1] !== 0x45 || file[2] !== 0x4c || file[3] !== 0x46) {
    fail('not an ELF file (bad magic)');
  }
  const elfClass = file[4] === 1 ? 32 : file[4] === 2 ? 64 : fail(`unknown EI_CLASS ${file[4]}`);
  const littleEndian = file[5] === 1 ? true : file[5] === 2 ? false : fail(`unknown EI_DATA ${file[5]}`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const need = (at: number, length: number) => {
    if (at < 0 || at + length > file.length)
      fail(`truncated ELF: need bytes ${at}..${at + length}, have ${file.length}`);
  };
  const u16 = (at: number) => {
    need(at, 2);
    return view.getUint16(at, littleEndian);
  };
  const u32 = (at: number) => {
    need(at, 4);
    return view.getUint32(at, littleEndian);
  };
  const addr = (at: number): number => {
    if (elfClass === 32) return u32(at);
    need(at, 8);
    const value = view.getBigUint64(at, littleEndian);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`ELF offset ${value} out of range`);
    return Number(value);
  };

  const is64 = elfClass === 64;
  const type = u16(16);
  const machine = u16(18);
  const shoff = addr(is64 ? 0x28 : 0x20);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  let shnum = u16(is64 ? 0x3c : 0x30);
  let shstrndx = u16(is64 ? 0x3e : 0x32);
  if (shoff === 0) fail('ELF has no section header table');
  if (shentsize < (is64 ? 64 : 40)) fail(`ELF section header entry size ${shentsize} too small`);

  const header = (i: number) => {
    const at = shoff + i * shentsize;
    need(at, shentsize);
    return is64
      ? {
          name: u32(at),
          type: u32(at + 4),
          offset: addr(at + 24),
          size: addr(at + 32),
          link: u32(at + 40),
          info: u32(at + 44),
        }
      : {
          name: u32(at),
          type: u32(at + 4),
          offset: u32(at + 16),
          size: u32(at + 20),
          link: u32(at + 24),
          info: u32(at + 28),
        };
  };
  // Objects with ≥ 0xff00 sections keep the real counts in section 0 (gABI "Extended Section Numbering").
  if (shnum === 0) shnum = header(0).size;
  if (shstrndx === SHN_XINDEX) shstrndx = header(0).link;
  if (shstrndx >= shnum) fail(`e_shstrndx ${shstrndx} out of range (${shnum} sections)`);

  const raw = Array.from({ length: shnum }, (_, i) => header(i));
  const strtab = raw[shstrndx]!;
  need(strtab.offset, strtab.size);
  const nameAt = (offset: number): string => {
    if (offset >= strtab.size) fail(`section name offset ${offset} outside the string table`);
    let end = strtab.offset + offset;
    while (end < strtab.offset + strtab.size && file[end] !== 0) end++;
    return new TextDecoder().decode(file.subarray(strtab.offset + offset, end));
  };

  const relocTargets = new Set(raw.filter((h) => h.type === SHT_RELA || h.type === SHT_REL).map((h) => h.info));
  const sections = raw.map((h, index): ElfSection => {
    const nobits = h.type === SHT_NOBITS;
    if (!nobits) need(h.offset, h.size);
    return {
      name: index === 0 ? '' : nameAt(h.name),
      index,
      type: h.type,
      offset: h.offset,
      size: h.size,
      bytes: nobits ? new Uint8Array(0) : file.subarray(h.offset, h.offset + h.size),
      relocated: relocTargets.has(index),
    };
  });
  return { elfClass, littleEndian, type, machine, sections };
}

export function findSection(elf: ElfObject, name: string): ElfSection {
  const found = elf.sections.filter((s) => s.name === name);
  if (found.length !== 1) fail(`expected one section named ${name}, found ${found.length}`);
  const section = found[0]!;
  if (section.type === SHT_NOBITS) fail(`section ${name} has no file contents (SHT_NOBITS)`);
  return section;
}

/** The section's contents as 64-bit unsigned integers in the object's byte order; refuses relocated sections. */
export function readU64Section(elf: ElfObject, name: string): bigint[] {
  const section = findSection(elf, name);
  if (section.relocated) {
    fail(`section ${name} has relocations: its initialisers must be integer constants`);
  }
  if (section.size % 8 !== 0) fail(`section ${name} is ${section.size} bytes, not a whole number of u64`);
  const view = new DataView(section.bytes.buffer, section.bytes.byteOffset, section.bytes.byteLength);
  return Array.from({ length: section.size / 8 }, (_, i) => view.getBigUint64(i * 8, elf.littleEndian));
}
