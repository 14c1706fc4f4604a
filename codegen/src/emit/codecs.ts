// SPDX-License-Identifier: MIT
/**
 * Emits the struct codecs: for each struct and each layout class (ABIs with identical layouts), a size, an encode,
 * a decode function and a zero-copy view class, with every offset a literal taken from the compiler's layout.
 * Byte order is an argument, so ppc64 big-endian shares x86_64's functions.
 */
import type { StatementStructures } from 'ts-morph';
import type { StructLayout } from '../layouts.js';
import { memberKey, typeName } from '../names.js';
import { ARCHS, type Arch, type SpecFamily, type SpecMember, type SpecStruct } from '../spec/model.js';
import { findStruct, type LayoutClasses, layoutClasses } from './common.js';

type Statements = (string | StatementStructures)[];

const GET: Record<string, string> = {
  __u8: 'getUint8',
  __s8: 'getInt8',
  __u16: 'getUint16',
  __s16: 'getInt16',
  __u32: 'getUint32',
  __s32: 'getInt32',
  __u64: 'getBigUint64',
  __s64: 'getBigInt64',
};
const CHECK: Record<string, string> = {
  __u8: 'u8',
  __s8: 's8',
  __u16: 'u16',
  __s16: 's16',
  __u32: 'u32',
  __s32: 's32',
  __u64: 'u64',
  __s64: 's64',
};

/** The scalar kind behind a member (pointers are u64 or u32 by the ABI's pointer size). */
function scalarOf(member: SpecMember, elementSize: number): string {
  if (member.type.kind === 'pointer') return elementSize === 8 ? '__u64' : '__uptr32';
  if (member.type.kind === 'scalar') return member.type.c;
  return 'struct';
}

function readScalar(c: string, at: string): string {
  if (c === '__uptr32') return `BigInt(dv.getUint32(${at}, le))`;
  const get = GET[c]!;
  return c === '__u8' || c === '__s8' ? `dv.${get}(${at})` : `dv.${get}(${at}, le)`;
}

function writeScalar(c: string, at: string, value: string, where: string): string {
  if (c === '__uptr32') return `dv.setUint32(${at}, check.u32ptr(${value}, '${where}'), le);`;
  const set = GET[c]!.replace('get', 'set');
  const checked = `check.${CHECK[c]}(${value}, '${where}')`;
  return c === '__u8' || c === '__s8' ? `dv.${set}(${at}, ${checked});` : `dv.${set}(${at}, ${checked}, le);`;
}

function fn(kind: 'size' | 'enc' | 'dec' | 'View' | 'make', struct: string, layoutClass: number): string {
  return `${kind}${typeName(struct)}${layoutClass}`;
}

interface MemberLayout {
  readonly member: SpecMember;
  readonly key: string;
  readonly offset: number;
  /** Bytes of one element (flexible and fixed arrays) or of the member. */
  readonly elementSize: number;
  readonly count: number | undefined;
  readonly c: string;
}

function memberLayouts(struct: SpecStruct, layout: StructLayout): MemberLayout[] {
  return struct.members.map((member) => {
    const m = layout.members[member.name]!;
    const elementSize = member.arrayLength !== undefined ? m.size / member.arrayLength : m.size;
    return {
      member,
      key: memberKey(member.name),
      offset: m.offset,
      elementSize,
      count: member.arrayLength,
      c: scalarOf(member, elementSize),
    };
  });
}

function emitStruct(
  spec: SpecFamily,
  struct: SpecStruct,
  layoutClass: number,
  arch: Arch,
  classes: ReadonlyMap<string, LayoutClasses>,
): string[] {
  // A nested struct's functions are those of its own class for this ABI.
  const nestedClass = (name: string) => classes.get(name)!.classOf[arch];
  const layout = spec.layouts[arch]!.structs[struct.name]!;
  const members = memberLayouts(struct, layout);
  const T = typeName(struct.name);
  const where = (m: MemberLayout) => `${struct.name}.${m.member.name}`;
  const flexible = members.find((m) => m.member.flexible !== undefined);

  // size
  const sizeBody = flexible
    ? flexible.member.flexible && flexible.c === '__u8' && flexible.member.type.kind === 'scalar'
      ? `return Math.max(${layout.size}, ${flexible.offset} + (v.${flexible.key}?.length ?? 0));`
      : `return Math.max(${layout.size}, ${flexible.offset} + (v.${flexible.key}?.length ?? 0) * ${flexible.elementSize});`
    : `return ${layout.size};`;
  const size = `function ${fn('size', struct.name, layoutClass)}(${flexible ? 'v' : '_v'}: StructInit<${T}>): number {\n  ${sizeBody}\n}`;

  // decode
  const decLines: string[] = [];
  const fields: string[] = [];
  for (const m of members) {
    const at = `o + ${m.offset}`;
    const element = (elementAt: string) =>
      m.c === 'struct'
        ? `${fn('dec', (m.member.type as { struct: string }).struct, nestedClass((m.member.type as { struct: string }).struct))}(dv, ${elementAt}, le, end)`
        : readScalar(m.c, elementAt);
    if (m.member.flexible !== undefined || m.count !== undefined) {
      let countExpr: string;
      if (m.count !== undefined) countExpr = String(m.count);
      else if ('count' in m.member.flexible!) countExpr = memberKey(m.member.flexible.count);
      else countExpr = `Math.max(0, Math.floor((end - (${at})) / ${m.elementSize}))`;
      if (m.c === '__u8') {
        decLines.push(`const ${m.key}N = ${countExpr};`);
        decLines.push(`check.arrayEnd('${struct.name}', '${m.member.name}', ${at}, ${m.key}N, 1, end);`);
        fields.push(`${m.key}: new Uint8Array(dv.buffer, dv.byteOffset + ${at}, ${m.key}N).slice()`);
      } else {
        decLines.push(`const ${m.key}N = ${countExpr};`);
        decLines.push(`check.arrayEnd('${struct.name}', '${m.member.name}', ${at}, ${m.key}N, ${m.elementSize}, end);`);
        decLines.push(`const ${m.key} = new Array(${m.key}N);`);
        decLines.push(`for (let i = 0; i < ${m.key}N; i++) ${m.key}[i] = ${element(`${at} + i * ${m.elementSize}`)};`);
        fields.push(`${m.key}`);
      }
    } else {
      const expr = element(at);
      // A count read before the array it sizes is kept in a local of its own name.
      if (
        members.some(
          (f) => f.member.flexible && 'count' in f.member.flexible && f.member.flexible.count === m.member.name,
        )
      ) {
        decLines.unshift(`const ${m.key} = ${expr};`);
        fields.push(m.key);
      } else {
        fields.push(`${m.key}: ${expr}`);
      }
    }
  }
  const dec = `function ${fn('dec', struct.name, layoutClass)}(dv: DataView, o: number, le: boolean, end: number): ${T} {\n  ${[...decLines, `return { ${fields.join(', ')} };`].join('\n  ')}\n}`;

  // encode: the target bytes are zero, so a missing member is left as it is.
  const encLines: string[] = [];
  for (const m of members) {
    const at = `o + ${m.offset}`;
    const value = `v.${m.key}`;
    const writeElement = (elementAt: string, x: string) =>
      m.c === 'struct'
        ? `${fn('enc', (m.member.type as { struct: string }).struct, nestedClass((m.member.type as { struct: string }).struct))}(dv, ${elementAt}, le, ${x});`
        : writeScalar(m.c, elementAt, x, where(m));
    if (m.member.flexible !== undefined || m.count !== undefined) {
      if (m.c === '__u8') {
        const limit =
          m.count !== undefined
            ? `if (${m.key}.length > ${m.count}) throw check.tooMany('${where(m)}', ${m.key}.length, ${m.count});\n    `
            : '';
        encLines.push(
          `const ${m.key} = ${value};\n  if (${m.key} !== undefined) {\n    ${limit}new Uint8Array(dv.buffer, dv.byteOffset + ${at}, ${m.key}.length).set(${m.key});\n  }`,
        );
      } else {
        const limit =
          m.count !== undefined
            ? `if (${m.key}.length > ${m.count}) throw check.tooMany('${where(m)}', ${m.key}.length, ${m.count});\n    `
            : '';
        encLines.push(
          `const ${m.key} = ${value};\n  if (${m.key} !== undefined) {\n    ${limit}for (let i = 0; i < ${m.key}.length; i++) {\n      const x = ${m.key}[i]${m.c === 'struct' ? '' : '!'};\n      if (x !== undefined) ${writeElement(`${at} + i * ${m.elementSize}`, 'x as never')}\n    }\n  }`,
        );
      }
      continue;
    }
    const counted = members.find(
      (f) => f.member.flexible && 'count' in f.member.flexible && f.member.flexible.count === m.member.name,
    );
    // A count left out is the array's length.
    const source = counted ? `${value} ?? v.${counted.key}?.length` : value;
    encLines.push(`{\n    const x = ${source};\n    if (x !== undefined) ${writeElement(at, 'x')}\n  }`);
  }
  const enc = `function ${fn('enc', struct.name, layoutClass)}(dv: DataView, o: number, le: boolean, v: StructInit<${T}>): void {\n  ${encLines.join('\n  ')}\n}`;

  // view: scalars and nested structs; arrays are decode's job.
  const accessors: string[] = [];
  for (const m of members) {
    if (m.member.flexible !== undefined || m.count !== undefined) continue;
    const at = `this._o + ${m.offset}`;
    if (m.c === 'struct') {
      const nested = (m.member.type as { struct: string }).struct;
      accessors.push(
        `get ${m.key}(): StructView<${typeName(nested)}> {\n    return new ${fn('View', nested, nestedClass(nested))}(this._dv, ${at}, this._le);\n  }`,
      );
      continue;
    }
    const type = m.c === '__u64' || m.c === '__s64' || m.c === '__uptr32' ? 'bigint' : 'number';
    const read = readScalar(m.c, at).replace('dv.', 'this._dv.').replace(', le)', ', this._le)');
    const write = writeScalar(m.c, at, 'value', where(m)).replace('dv.', 'this._dv.').replace(', le);', ', this._le);');
    accessors.push(`get ${m.key}(): ${type} {\n    return ${read};\n  }`);
    accessors.push(`set ${m.key}(value: ${type}) {\n    ${write}\n  }`);
  }
  const view = `class ${fn('View', struct.name, layoutClass)} {\n  constructor(\n    private readonly _dv: DataView,\n    private readonly _o: number,\n    private readonly _le: boolean,\n  ) {}\n  ${accessors.join('\n  ')}\n}`;

  // The public codec: its own function literals per struct, so each call site inside stays monomorphic.
  const S = fn('size', struct.name, layoutClass);
  const E = fn('enc', struct.name, layoutClass);
  const D = fn('dec', struct.name, layoutClass);
  const V = fn('View', struct.name, layoutClass);
  const short = (have: string, need: string) => `throw check.shortBuffer('${struct.name}', ${need}, ${have});`;
  const make = `function ${fn('make', struct.name, layoutClass)}(arch: Arch, le: boolean, layout: StructLayoutInfo): StructCodec<${T}> {
  return structCodec<${T}>('${struct.name}', arch, le, layout, {
    encodedSize: ${S},
    encode(value: StructInit<${T}>): Uint8Array {
      const bytes = new Uint8Array(${S}(value));
      ${E}(new DataView(bytes.buffer), 0, le, value);
      return bytes;
    },
    encodeInto(value: StructInit<${T}>, target: Uint8Array, offset = 0): number {
      const n = ${S}(value);
      if (offset < 0 || target.length - offset < n) ${short('target.length - offset', 'n')}
      target.fill(0, offset, offset + n);
      ${E}(new DataView(target.buffer, target.byteOffset, target.byteLength), offset, le, value);
      return n;
    },
    decode(source: Uint8Array, offset = 0): ${T} {
      if (offset < 0 || source.length - offset < ${layout.size}) ${short('source.length - offset', String(layout.size))}
      return ${D}(new DataView(source.buffer, source.byteOffset, source.byteLength), offset, le, source.length);
    },
    view(source: Uint8Array, offset = 0): StructView<${T}> {
      if (offset < 0 || source.length - offset < ${layout.size}) ${short('source.length - offset', String(layout.size))}
      return new ${V}(new DataView(source.buffer, source.byteOffset, source.byteLength), offset, le);
    },
  });
}`;

  return [size, dec, enc, view, make];
}

function structLayoutLiteral(struct: SpecStruct, layout: StructLayout): string {
  const fields = struct.members.map((m) => {
    const l = layout.members[m.name]!;
    return `{ name: '${m.name}', key: '${memberKey(m.name)}', offset: ${l.offset}, size: ${l.size}, flexible: ${m.flexible !== undefined} }`;
  });
  return `{ size: ${layout.size}, align: ${layout.align}, fields: [${fields.join(', ')}] }`;
}

export function toCodecs(
  spec: SpecFamily,
  classes: ReadonlyMap<string, LayoutClasses> = layoutClasses(spec),
): Statements {
  const out: Statements = [
    "import * as check from '../check.js';",
    "import { type StructCodec, type StructInit, type StructLayoutInfo, type StructView, structCodec } from '../codec.js';",
    "import type { Arch } from './abi.js';",
    `import type { ${spec.structs.map((s) => typeName(s.name)).join(', ')}, StructName, StructTypes } from './types.js';`,
  ];
  // Nested structs first, so every class a view getter names is declared before use.
  const ordered: SpecStruct[] = [];
  const visit = (s: SpecStruct) => {
    if (ordered.includes(s)) return;
    for (const m of s.members) if (m.type.kind === 'struct') visit(findStruct(spec, m.type.struct));
    ordered.push(s);
  };
  for (const s of spec.structs) visit(s);
  for (const s of ordered) {
    classes.get(s.name)!.representative.forEach((arch, layoutClass) => {
      out.push(...emitStruct(spec, s, layoutClass, arch, classes));
    });
  }
  const factories = spec.structs.map((s) => {
    const { classOf } = classes.get(s.name)!;
    return `${s.name}: { ${ARCHS.map((a) => `${a}: ${fn('make', s.name, classOf[a])}`).join(', ')} }`;
  });
  out.push(
    `/** Per struct and ABI, the codec factory of that ABI's layout class. */\nexport const codecFactories: {\n  readonly [N in StructName]: Readonly<Record<Arch, (arch: Arch, le: boolean, layout: StructLayoutInfo) => StructCodec<StructTypes[N]>>>;\n} = {\n  ${factories.join(',\n  ')},\n};`,
  );
  const layouts = spec.structs.map((s) => {
    const { classOf, representative } = classes.get(s.name)!;
    const perClass = representative.map((arch) => structLayoutLiteral(s, spec.layouts[arch]!.structs[s.name]!));
    const byArch = ARCHS.map((a) => `${a}: l[${classOf[a]}]!`).join(', ');
    return `${s.name}: ((l: StructLayoutInfo[]) => ({ ${byArch} }))([\n    ${perClass.join(',\n    ')},\n  ])`;
  });
  out.push(
    `/** sizeof, alignof and every member's offset, per ABI, from the compiler probe. */\nexport const structLayouts: { readonly [N in StructName]: Readonly<Record<Arch, StructLayoutInfo>> } = {\n  ${layouts.join(',\n  ')},\n};`,
  );
  return out;
}
