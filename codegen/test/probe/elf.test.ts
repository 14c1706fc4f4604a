// SPDX-License-Identifier: MIT
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EM_PPC64, findSection, parseElf, readU64Section } from '../../src/probe/elf.js';
import { ABI_NAMES, compileSnippet, TOOLCHAINS } from '../../src/probe/index.js';
import { needAbi } from './toolchains.js';

/**
 * A minimal relocatable object written field by field from the gABI tables, independent of the reader: a null
 * section, the section-name string table, then the given sections.
 */
function writeElf(opts: {
  elfClass: 32 | 64;
  littleEndian: boolean;
  machine: number;
  sections: { name: string; type: number; data: Uint8Array; info?: number }[];
  shstrndxLast?: boolean;
}): Uint8Array {
  const is64 = opts.elfClass === 64;
  const ehsize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;
  const names = ['', ...opts.sections.map((s) => s.name), '.shstrtab'];
  const nameOffsets: number[] = [];
  let strtab = '';
  for (const n of names) {
    nameOffsets.push(strtab.length);
    strtab += `${n}\0`;
  }
  const strBytes = new TextEncoder().encode(strtab);
  // The string table is put last when asked, so e_shstrndx is not always 1.
  const all = [
    { name: '', type: 0, data: new Uint8Array(0), nameOff: 0, info: 0 },
    ...opts.sections.map((s, i) => ({ ...s, nameOff: nameOffsets[i + 1]!, info: s.info ?? 0 })),
    { name: '.shstrtab', type: 3, data: strBytes, nameOff: nameOffsets[names.length - 1]!, info: 0 },
  ];
  const shstrndx = all.length - 1;
  let cursor = ehsize;
  const offsets = all.map((s) => {
    cursor = (cursor + 7) & ~7;
    const at = cursor;
    cursor += s.data.length;
    return at;
  });
  const shoff = (cursor + 7) & ~7;
  const buf = new Uint8Array(shoff + shentsize * all.length);
  const v = new DataView(buf.buffer);
  const le = opts.littleEndian;
  buf.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1]);
  v.setUint16(16, 1, le); // ET_REL
  v.setUint16(18, opts.machine, le);
  v.setUint32(20, 1, le);
  if (is64) {
    v.setBigUint64(40, BigInt(shoff), le);
    v.setUint16(52, ehsize, le);
    v.setUint16(58, shentsize, le);
    v.setUint16(60, all.length, le);
    v.setUint16(62, shstrndx, le);
  } else {
    v.setUint32(32, shoff, le);
    v.setUint16(40, ehsize, le);
    v.setUint16(46, shentsize, le);
    v.setUint16(48, all.length, le);
    v.setUint16(50, shstrndx, le);
  }
  all.forEach((s, i) => {
    buf.set(s.data, offsets[i]!);
    const h = shoff + i * shentsize;
    v.setUint32(h, s.nameOff, le);
    v.setUint32(h + 4, s.type, le);
    if (is64) {
      v.setBigUint64(h + 24, BigInt(i === 0 ? 0 : offsets[i]!), le);
      v.setBigUint64(h + 32, BigInt(s.data.length), le);
      v.setUint32(h + 44, s.info, le);
    } else {
      v.setUint32(h + 16, i === 0 ? 0 : offsets[i]!, le);
      v.setUint32(h + 20, s.data.length, le);
      v.setUint32(h + 28, s.info, le);
    }
  });
  return buf;
}

function u64s(values: bigint[], littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    v.setBigUint64(i * 8, x, littleEndian);
  });
  return out;
}

const values = [0x7666696f2d747321n, 1n, 0xffffffffffffffffn, 0x0102030405060708n];

describe('parseElf on synthetic objects', () => {
  for (const elfClass of [32, 64] as const) {
    for (const littleEndian of [true, false]) {
      test(`ELFCLASS${elfClass} ${littleEndian ? 'LSB' : 'MSB'}`, () => {
        const file = writeElf({
          elfClass,
          littleEndian,
          machine: EM_PPC64,
          sections: [
            { name: '.text', type: 1, data: new Uint8Array([1, 2, 3]) },
            { name: 'probe_data', type: 1, data: u64s(values, littleEndian) },
          ],
        });
        const elf = parseElf(file);
        expect(elf).toMatchObject({ elfClass, littleEndian, machine: EM_PPC64, type: 1 });
        expect(elf.sections.map((s) => s.name)).toEqual(['', '.text', 'probe_data', '.shstrtab']);
        expect(readU64Section(elf, 'probe_data')).toEqual(values);
      });
    }
  }

  test('reading in the wrong byte order would give different values (the fixture distinguishes them)', () => {
    const le = readU64Section(
      parseElf(
        writeElf({
          elfClass: 64,
          littleEndian: true,
          machine: 62,
          sections: [{ name: 'probe_data', type: 1, data: u64s(values, false) }],
        }),
      ),
      'probe_data',
    );
    expect(le).not.toEqual(values);
  });

  test('refuses a section that a relocation section targets', () => {
    const file = writeElf({
      elfClass: 64,
      littleEndian: true,
      machine: 62,
      sections: [
        { name: 'probe_data', type: 1, data: u64s([0n], true) },
        { name: '.rela.probe_data', type: 4, data: new Uint8Array(24), info: 1 },
      ],
    });
    expect(() => readU64Section(parseElf(file), 'probe_data')).toThrow(/relocations/);
  });

  test('rejects garbage, truncation, missing and duplicate sections', () => {
    expect(() => parseElf(new Uint8Array(64))).toThrow(/magic/);
    const file = writeElf({
      elfClass: 32,
      littleEndian: false,
      machine: 3,
      sections: [{ name: 'probe_data', type: 1, data: u64s(values, false) }],
    });
    expect(() => parseElf(file.subarray(0, file.length - 8))).toThrow(/truncated/);
    const elf = parseElf(file);
    expect(() => findSection(elf, 'nope')).toThrow(/found 0/);
    const dup = parseElf(
      writeElf({
        elfClass: 64,
        littleEndian: true,
        machine: 62,
        sections: [
          { name: 'x', type: 1, data: new Uint8Array(8) },
          { name: 'x', type: 1, data: new Uint8Array(8) },
        ],
      }),
    );
    expect(() => findSection(dup, 'x')).toThrow(/found 2/);
    const odd = parseElf(
      writeElf({
        elfClass: 64,
        littleEndian: true,
        machine: 62,
        sections: [{ name: 'probe_data', type: 1, data: new Uint8Array(12) }],
      }),
    );
    expect(() => readU64Section(odd, 'probe_data')).toThrow(/whole number/);
  });
});

/** binutils' readelf is an independent reader: its hex dump of the section is the ground truth for ours. */
function readelfHex(object: Uint8Array, section: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-elf-test-'));
  try {
    writeFileSync(join(dir, 'o.o'), object);
    const dump = execFileSync('readelf', ['-x', section, join(dir, 'o.o')], { encoding: 'utf8' });
    let hex = '';
    for (const line of dump.split('\n')) {
      const m = /^\s+0x[0-9a-f]+ (.{35})/.exec(line) ?? /^\s+0x[0-9a-f]+ ((?:[0-9a-f]+ ?)+)/.exec(line);
      if (m) hex += m[1]!.replace(/ /g, '');
    }
    return Uint8Array.from(hex.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const hasReadelf = (() => {
  try {
    execFileSync('readelf', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

describe('parseElf on compiled objects, against readelf', () => {
  for (const abi of ABI_NAMES) {
    test(abi, async (ctx) => {
      needAbi(ctx, abi);
      if (!hasReadelf) ctx.skip('readelf not found: apt-get install binutils');
      const object = await compileSnippet(
        abi,
        '__attribute__((section("probe_data"), used))\n' +
          'const unsigned long long v[] = { 0x7666696f2d747321ULL, sizeof(long), 0xffffffffffffffffULL, -2LL };\n',
      );
      const elf = parseElf(object);
      const tc = TOOLCHAINS[abi];
      expect(elf).toMatchObject({ elfClass: tc.elfClass, littleEndian: tc.littleEndian, machine: tc.machine });
      expect(findSection(elf, 'probe_data').bytes).toEqual(readelfHex(object, 'probe_data'));
      expect(readU64Section(elf, 'probe_data')).toEqual([
        0x7666696f2d747321n,
        BigInt(tc.elfClass / 8),
        0xffffffffffffffffn,
        0xfffffffffffffffen,
      ]);
    });
  }

  test('a pointer initialiser makes a relocated section, which the reader refuses', async (ctx) => {
    needAbi(ctx, 'x86_64');
    const object = await compileSnippet(
      'x86_64',
      'int x;\n__attribute__((section("probe_data"), used)) const unsigned long long v[] = { (unsigned long long)&x };\n',
    );
    expect(() => readU64Section(parseElf(object), 'probe_data')).toThrow(/relocations/);
  });
});
