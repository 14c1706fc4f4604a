// SPDX-License-Identifier: MIT
/**
 * Emitters for the table-like generated files: ABIs, constants, system constants, ioctls, capability chains and
 * struct types. Each is a pure function from the resolved spec to ts-morph statement structures, in spec order.
 */
import {
  type InterfaceDeclarationStructure,
  type StatementStructures,
  StructureKind,
  VariableDeclarationKind,
} from 'ts-morph';
import { kebabToCamel, memberKey, typeName } from '../names.js';
import { ARCHS, type Arch, type SpecFamily, type SpecMember, type SpecStruct } from '../spec/model.js';
import { bigintLiteral, isBig, jsDoc } from './common.js';

type Statements = (string | StatementStructures)[];

function record(values: Readonly<Record<Arch, bigint | number | string | boolean>>): string {
  const show = (v: bigint | number | string | boolean) =>
    typeof v === 'bigint' ? bigintLiteral(v) : typeof v === 'string' ? JSON.stringify(v) : String(v);
  return `{ ${ARCHS.map((a) => `${a}: ${show(values[a])}`).join(', ')} }`;
}

function constStatement(name: string, initializer: string, doc?: string, type?: string): StatementStructures {
  return {
    kind: StructureKind.VariableStatement,
    isExported: true,
    declarationKind: VariableDeclarationKind.Const,
    ...(doc ? { docs: [doc] } : {}),
    declarations: [{ name, initializer, ...(type ? { type } : {}) }],
  };
}

export function toAbi(spec: SpecFamily): Statements {
  const info = ARCHS.map((a) => {
    const l = spec.layouts[a]!;
    return `${a}: { littleEndian: ${l.littleEndian}, pointerSize: ${l.pointerSize}, compiler: ${JSON.stringify(l.compiler)} }`;
  });
  return [
    constStatement('ARCHS', `[${ARCHS.map((a) => `'${a}'`).join(', ')}] as const`, 'The ABIs vfio-ts generates for.'),
    '/** An ABI: its name fixes ioctl encoding, struct layout and byte order. */\nexport type Arch = (typeof ARCHS)[number];',
    {
      kind: StructureKind.Interface,
      name: 'AbiInfo',
      isExported: true,
      properties: [
        { name: 'littleEndian', type: 'boolean', isReadonly: true },
        { name: 'pointerSize', type: 'number', isReadonly: true },
        { name: 'compiler', type: 'string', isReadonly: true, docs: ['The compiler whose probe measured this ABI.'] },
      ],
    },
    constStatement('abiInfo', `{\n  ${info.join(',\n  ')},\n}`, undefined, 'Readonly<Record<Arch, AbiInfo>>'),
  ];
}

export function toConstants(spec: SpecFamily, strings: readonly { name: string; text: string }[]): Statements {
  const out: Statements = [];
  const valueByName = new Map<string, bigint>();
  for (const c of spec.constants) {
    const first = c.values[ARCHS[0]];
    if (ARCHS.some((a) => c.values[a] !== first)) {
      throw new Error(
        `constant ${c.name} differs between ABIs (${record(c.values)}); vfio-ts has no shape for that yet`,
      );
    }
    valueByName.set(c.name, first);
    out.push(constStatement(c.name, bigintLiteral(first)));
  }
  for (const s of strings) out.push(constStatement(s.name, s.text));
  for (const f of spec.flagSets) {
    const body = f.values.map((v) => `${v}: ${bigintLiteral(valueByName.get(v)!)}`).join(', ');
    out.push(constStatement(kebabToCamel(f.name), `{ ${body} } as const`, `The flag set ${f.name}.`));
  }
  for (const e of spec.enums) {
    const body = e.values.map((v) => `${v}: ${bigintLiteral(valueByName.get(v)!)}`).join(', ');
    out.push(constStatement(kebabToCamel(e.name), `{ ${body} } as const`, e.doc ?? `The enum ${e.name}.`));
  }
  return out;
}

export function toSystem(spec: SpecFamily): Statements {
  const names = spec.systemConstants.map((c) => c.name);
  // A constant that does not fit a double on some ABI (RLIM_INFINITY) is a bigint on every ABI.
  const isBigint = new Set(
    spec.systemConstants
      .filter((c) =>
        ARCHS.some(
          (a) => c.values[a] > BigInt(Number.MAX_SAFE_INTEGER) || c.values[a] < BigInt(Number.MIN_SAFE_INTEGER),
        ),
      )
      .map((c) => c.name),
  );
  const literal = (name: string, v: bigint) => (isBigint.has(name) ? `${v}n` : bigintLiteral(v));
  const perArch = (arch: Arch) =>
    `{ ${spec.systemConstants.map((c) => `${c.name}: ${literal(c.name, c.values[arch])}`).join(', ')} }`;
  const errnos = (arch: Arch) =>
    `{ ${spec.errnos.map((e) => `${e.name}: ${bigintLiteral(e.values[arch])}`).join(', ')} }`;
  return [
    {
      kind: StructureKind.Interface,
      name: 'SystemConstants',
      isExported: true,
      docs: ["C library constants the backends need, as each ABI's own sysroot defines them."],
      properties: names.map((name) => ({ name, type: isBigint.has(name) ? 'bigint' : 'number', isReadonly: true })),
    },
    constStatement(
      'systemConstantsByArch',
      `{\n  ${ARCHS.map((a) => `${a}: ${perArch(a)}`).join(',\n  ')},\n}`,
      undefined,
      'Readonly<Record<Arch, SystemConstants>>',
    ),
    `export type ErrnoName = ${spec.errnos.map((e) => `'${e.name}'`).join(' | ')};`,
    constStatement(
      'errnoByArch',
      `{\n  ${ARCHS.map((a) => `${a}: ${errnos(a)}`).join(',\n  ')},\n}`,
      'errno values per ABI (powerpc differs from the generic table in EDEADLOCK).',
      'Readonly<Record<Arch, Readonly<Record<ErrnoName, number>>>>',
    ),
  ];
}

export function toIoctls(spec: SpecFamily): Statements {
  const entries = spec.ioctls.map((i) => {
    const request = Object.fromEntries(ARCHS.map((a) => [a, spec.layouts[a]!.ioctls[i.name]!])) as Record<Arch, number>;
    let arg: string;
    switch (i.arg.kind) {
      case 'none':
        arg = `{ kind: 'none' }`;
        break;
      case 'string':
        arg = `{ kind: 'string', doc: ${JSON.stringify(i.arg.doc)} }`;
        break;
      case 'int':
      case 'int-pointer':
        arg = `{ kind: '${i.arg.kind}', type: '${i.arg.type}', doc: ${JSON.stringify(i.arg.doc)} }`;
        break;
      case 'struct': {
        const { struct, minArgszThrough } = i.arg;
        const minArgsz = Object.fromEntries(
          ARCHS.map((a) => {
            const member = spec.layouts[a]!.structs[struct]!.members[minArgszThrough]!;
            return [a, member.offset + member.size];
          }),
        ) as Record<Arch, number>;
        arg = `{ kind: 'struct', struct: '${struct}', minArgszThrough: '${minArgszThrough}', minArgsz: ${record(minArgsz)} }`;
        break;
      }
    }
    const lines = [
      `name: '${i.name}'`,
      `header: '${i.header}'`,
      `fdKind: '${i.fdKind}'`,
      `iommu: [${i.iommu.map((m) => `'${m}'`).join(', ')}]`,
      `arg: ${arg}`,
      ...(i.returns !== undefined ? [`returns: ${JSON.stringify(i.returns)}`] : []),
      ...(i.since !== undefined ? [`since: '${i.since}'`] : []),
      ...(i.archs !== undefined ? [`archs: [${i.archs.map((a) => `'${a}'`).join(', ')}]`] : []),
      `doc: ${JSON.stringify(i.doc)}`,
      `request: ${record(request)}`,
    ];
    const note =
      i.headerDoc !== undefined
        ? `The header documents it as ${i.headerDoc}.`
        : 'The header has no signature line for it.';
    return `${jsDoc(`${i.doc}\n\n${note}`)}${i.name}: {\n    ${lines.join(',\n    ')},\n  }`;
  });
  return [
    "import type { IoctlSpec } from '../spec-types.js';",
    `export type IoctlName = ${spec.ioctls.map((i) => `'${i.name}'`).join(' | ')};`,
    `/** Every ioctl of ${spec.headers.join(' and ')}: fd kind, IOMMU backend, argument and request number per ABI. */\nexport const ioctls = {\n  ${entries.join(',\n  ')},\n} as const satisfies Readonly<Record<IoctlName, IoctlSpec>>;`,
  ];
}

export function toCapabilities(spec: SpecFamily): Statements {
  const valueByName = new Map(spec.constants.map((c) => [c.name, c.values.x86_64]));
  const chains = spec.capabilityChains.map((c) => {
    const caps = c.caps.map((cap) => `/** ${cap.id} */ ${bigintLiteral(valueByName.get(cap.id)!)}: '${cap.struct}'`);
    return `'${c.name}': { ${caps.join(', ')} }`;
  });
  return [
    `/** Per chain (the info struct whose cap_offset starts it): capability id -> the struct it stands for. */\nexport const capabilityChains = {\n  ${chains.join(',\n  ')},\n} as const;`,
    `/** The info struct each chain hangs off. */\nexport const capabilityChainInfoStruct = { ${spec.capabilityChains.map((c) => `'${c.name}': '${c.infoStruct}'`).join(', ')} } as const;`,
  ];
}

export function memberType(member: SpecMember): string {
  const element = (() => {
    switch (member.type.kind) {
      case 'struct':
        return typeName(member.type.struct);
      case 'pointer':
        return 'bigint';
      case 'scalar':
        return isBig(member) ? 'bigint' : 'number';
    }
  })();
  if (member.flexible !== undefined || member.arrayLength !== undefined) {
    return member.type.kind === 'scalar' && member.type.c === '__u8' ? 'Uint8Array' : `${element}[]`;
  }
  return element;
}

function memberDoc(member: SpecMember): string {
  const parts = [`\`${member.name}\` (${member.direction})`];
  if (member.doc) parts.push(member.doc);
  if (member.argsz) parts.push('The size of the buffer, checked by the kernel against its minimum.');
  if (member.flags) parts.push(`Flags: \`${kebabToCamel(member.flags)}\`.`);
  if (member.enum) parts.push(`Values: \`${kebabToCamel(member.enum)}\`.`);
  if (member.capChain) parts.push(`Starts the \`${member.capChain}\` capability chain.`);
  if (member.flexible && 'count' in member.flexible)
    parts.push(`Flexible array of \`${member.flexible.count}\` entries.`);
  if (member.flexible && 'rest' in member.flexible) parts.push('Flexible array: the rest of the buffer.');
  if (member.union !== undefined) parts.push(`Member of anonymous union ${member.union}.`);
  return parts.join(' ');
}

export function toStructTypes(spec: SpecFamily): Statements {
  const interfaces: InterfaceDeclarationStructure[] = spec.structs.map((s: SpecStruct) => ({
    kind: StructureKind.Interface,
    name: typeName(s.name),
    isExported: true,
    docs: [
      `\`struct ${s.name}\` (${s.header})${s.doc ? `\n\n${s.doc}` : ''}${s.since ? `\n\nIn Linux ${s.since} at the latest.` : ''}`,
    ],
    properties: s.members.map((m) => ({ name: memberKey(m.name), type: memberType(m), docs: [memberDoc(m)] })),
  }));
  const names = spec.structs.map((s) => `'${s.name}'`).join(' | ');
  return [
    ...interfaces,
    `/** The C name of every struct of ${spec.headers.join(' and ')}. */\nexport type StructName = ${names};`,
    `/** C name -> TypeScript type. */\nexport interface StructTypes {\n${spec.structs.map((s) => `  ${s.name}: ${typeName(s.name)};`).join('\n')}\n}`,
  ];
}
