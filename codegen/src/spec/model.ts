// SPDX-License-Identifier: MIT
/**
 * The spec model, YNL style: load the YAML, check it against the JSON Schema, then resolve every reference against
 * the header's facts and the compiler's layouts. Emitters only ever see a resolved model; anything the header does
 * not define is rejected here with the spec path that named it.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import type { HeaderFacts, HeaderMember } from '../header/extract.js';
import type { AbiLayouts, AbiName } from '../layouts.js';

export const ARCHS = ['x86_64', 'aarch64', 'ppc64le', 'ppc64', 'i386'] as const satisfies readonly AbiName[];
export type Arch = (typeof ARCHS)[number];

export type Direction = 'in' | 'out' | 'inout';

// --- the raw YAML, as the schema allows it ---------------------------------------------------------------------
interface RawAvailability {
  since?: string;
  archs?: Arch[];
}
type RawArg =
  | { kind: 'none' }
  | { kind: 'int' | 'int-pointer'; type: string; doc: string }
  | { kind: 'string'; doc: string }
  | { kind: 'struct'; struct: string; 'min-argsz-through': string; 'fixes-doc'?: boolean };
interface RawIoctl {
  name: string;
  'fd-kind': string;
  iommu: string | string[];
  arg: RawArg;
  returns?: string;
  availability?: RawAvailability;
  doc: string;
}
interface RawMember {
  direction?: Direction;
  argsz?: true;
  flags?: string;
  enum?: string;
  'cap-chain'?: string;
  count?: string;
  length?: 'rest';
  doc?: string;
}
interface RawStruct {
  name: string;
  doc?: string;
  direction: Direction;
  availability?: RawAvailability;
  members?: Record<string, RawMember>;
}
interface RawSpec {
  name: string;
  doc: string;
  headers: { path: string; since?: string }[];
  definitions: { 'fd-kinds': { name: string; doc: string }[]; iommus: { name: string; doc: string }[] };
  ioctls: RawIoctl[];
  structs: RawStruct[];
  'capability-chains'?: { name: string; 'info-struct': string; caps: { id: string; struct: string }[] }[];
  'flag-sets'?: {
    name: string;
    prefix?: string;
    'c-enum'?: string;
    availability?: RawAvailability;
    exclude?: string[];
    only?: string[];
  }[];
  enums?: {
    name: string;
    doc?: string;
    'c-enum'?: string;
    availability?: RawAvailability;
    values?: (string | { name: string; until: string })[];
  }[];
  'constant-overrides'?: { name: string; as: string }[];
  'system-constants'?: { include: string; names: string[] }[];
}

// --- the resolved model ------------------------------------------------------------------------------------------
export type ScalarType = '__u8' | '__u16' | '__u32' | '__u64' | '__s8' | '__s16' | '__s32' | '__s64';

export type MemberType =
  | { readonly kind: 'scalar'; readonly c: ScalarType }
  | { readonly kind: 'pointer'; readonly c: string }
  | { readonly kind: 'struct'; readonly struct: string };

export interface SpecMember {
  readonly name: string;
  readonly type: MemberType;
  readonly direction: Direction;
  readonly flexible?: { readonly count: string } | { readonly rest: true };
  readonly arrayLength?: number;
  readonly union?: number;
  readonly argsz?: boolean;
  readonly flags?: string;
  readonly enum?: string;
  readonly capChain?: string;
  readonly doc?: string;
}

export interface SpecStruct {
  readonly name: string;
  /** The header that declares it. */
  readonly header: string;
  readonly doc?: string;
  readonly members: readonly SpecMember[];
  readonly since?: string;
}

export type SpecArg =
  | { readonly kind: 'none' }
  | { readonly kind: 'int' | 'int-pointer'; readonly type: ScalarType; readonly doc: string }
  | { readonly kind: 'string'; readonly doc: string }
  | { readonly kind: 'struct'; readonly struct: string; readonly minArgszThrough: string; readonly fixesDoc: boolean };

export interface SpecIoctl {
  readonly name: string;
  /** The header that declares it. */
  readonly header: string;
  readonly fdKind: string;
  readonly iommu: readonly string[];
  readonly arg: SpecArg;
  readonly returns?: string;
  readonly since?: string;
  readonly archs?: readonly Arch[];
  readonly doc: string;
  /** The kernel-doc signature the header gives, kept so the generated docs can say where the spec overrides it. */
  readonly headerDoc?: string;
}

export interface SpecConstant {
  readonly name: string;
  /** Per-ABI value from the compiler, as a bigint. */
  readonly values: Readonly<Record<Arch, bigint>>;
  readonly cType?: ScalarType;
}

export interface SpecFamily {
  readonly name: string;
  readonly doc: string;
  readonly headerSha256: string;
  /** The headers these facts were read from (`linux/vfio.h`, `linux/iommufd.h`). */
  readonly headers: readonly string[];
  readonly fdKinds: readonly { name: string; doc: string }[];
  readonly iommus: readonly { name: string; doc: string }[];
  readonly ioctls: readonly SpecIoctl[];
  readonly structs: readonly SpecStruct[];
  readonly capabilityChains: readonly {
    readonly name: string;
    readonly infoStruct: string;
    readonly caps: readonly { readonly id: string; readonly struct: string }[];
  }[];
  readonly flagSets: readonly { readonly name: string; readonly values: readonly string[] }[];
  readonly enums: readonly { readonly name: string; readonly doc?: string; readonly values: readonly string[] }[];
  readonly constants: readonly SpecConstant[];
  readonly systemConstants: readonly { readonly name: string; readonly values: Readonly<Record<Arch, bigint>> }[];
  readonly errnos: readonly { readonly name: string; readonly values: Readonly<Record<Arch, bigint>> }[];
  readonly layouts: AbiLayouts;
}

export class SpecError extends Error {
  override readonly name = 'SpecError';
}

const SCALARS = new Set(['__u8', '__u16', '__u32', '__u64', '__s8', '__s16', '__s32', '__s64']);
const ALIGNED = new Map([
  ['__aligned_u64', '__u64'],
  ['__aligned_be64', '__u64'],
  ['__aligned_le64', '__u64'],
]);

export function loadRawSpec(specPath: string, schemaPath: string): RawSpec {
  const raw: unknown = parse(readFileSync(specPath, 'utf8'));
  const ajv = new Ajv({ allErrors: true, strict: true });
  const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')));
  if (!validate(raw)) {
    const problems = (validate.errors ?? []).map((e) => `  ${e.instancePath || '/'} ${e.message ?? ''}`).join('\n');
    throw new SpecError(`${specPath} does not match ${schemaPath}:\n${problems}`);
  }
  return raw as RawSpec;
}

/** A kernel version string as a comparable number: '6.12' -> 6012. */
export function versionKey(version: string): number {
  const [major = '0', minor = '0'] = version.split('.');
  return Number(major) * 1000 + Number(minor);
}

export interface ResolveInput {
  readonly raw: RawSpec;
  readonly facts: HeaderFacts;
  readonly layouts: AbiLayouts;
  /** The header's kernel version ('6.1', '6.12', '7.3'): entries `since` later than it are left out. */
  readonly kernelVersion: string;
}

export function resolveSpec({ raw, facts, layouts, kernelVersion }: ResolveInput): SpecFamily {
  const problems: string[] = [];
  const kernel = versionKey(kernelVersion);
  // Facts of one header (the golden test's) carry no per-item header.
  const defaultHeader = facts.headers?.[0]?.path ?? raw.headers[0]!.path;
  const available = (a?: RawAvailability) => a?.since === undefined || versionKey(a.since) <= kernel;

  const headerStructs = new Map(facts.structs.map((s) => [s.name, s]));
  const headerConstants = new Set([
    ...facts.constants.map((c) => c.name),
    ...facts.enums.flatMap((e) => e.enumerators),
  ]);
  const headerIoctls = new Map(facts.ioctls.map((i) => [i.name, i]));
  const fdKinds = new Set(raw.definitions['fd-kinds'].map((k) => k.name));
  const iommus = new Set(raw.definitions.iommus.map((k) => k.name));
  const flagSetNames = new Set((raw['flag-sets'] ?? []).map((f) => f.name));
  const enumNames = new Set((raw.enums ?? []).map((e) => e.name));
  const chainNames = new Set((raw['capability-chains'] ?? []).map((c) => c.name));

  // Structs: every header struct must be in the spec, every spec struct (available here) in the header.
  const rawStructs = new Map<string, RawStruct>();
  for (const s of raw.structs) {
    if (rawStructs.has(s.name)) problems.push(`structs: ${s.name} is listed twice`);
    rawStructs.set(s.name, s);
  }
  for (const s of facts.structs) {
    if (!rawStructs.has(s.name))
      problems.push(`${s.header ?? 'the header'} defines struct ${s.name}, which spec/vfio.yaml does not list`);
  }
  const structs: SpecStruct[] = [];
  for (const s of raw.structs) {
    const header = headerStructs.get(s.name);
    if (header === undefined) {
      if (available(s.availability)) problems.push(`structs: ${s.name} does not exist in the header`);
      continue;
    }
    for (const name of Object.keys(s.members ?? {})) {
      if (!header.members.some((m) => m.name === name)) problems.push(`structs: ${s.name}.${name} is not a member`);
    }
    const members = header.members.map((m) => resolveMember(s, m, problems, { flagSetNames, enumNames, chainNames }));
    for (const m of members) {
      if (m.type.kind === 'struct' && !headerStructs.has(m.type.struct)) {
        problems.push(`struct ${s.name}.${m.name} refers to struct ${m.type.struct}, which does not exist`);
      }
      if (m.flexible !== undefined && 'count' in m.flexible) {
        const count = m.flexible.count;
        if (!members.some((c) => c.name === count))
          problems.push(`structs: ${s.name}.${m.name} counts by ${count}, not a member`);
      }
    }
    structs.push({
      name: s.name,
      header: header.header ?? defaultHeader,
      ...(s.doc !== undefined || header.doc !== undefined ? { doc: s.doc ?? header.doc } : {}),
      members,
      ...(s.availability?.since !== undefined ? { since: s.availability.since } : {}),
    });
  }
  const knownStructs = new Set(structs.map((s) => s.name));

  // Ioctls.
  const ioctls: SpecIoctl[] = [];
  const seen = new Set<string>();
  for (const i of raw.ioctls) {
    if (seen.has(i.name)) problems.push(`ioctls: ${i.name} is listed twice`);
    seen.add(i.name);
    const header = headerIoctls.get(i.name);
    if (header === undefined) {
      if (available(i.availability)) problems.push(`ioctls: ${i.name} does not exist in the header`);
      continue;
    }
    if (!fdKinds.has(i['fd-kind'])) problems.push(`ioctls: ${i.name} has unknown fd-kind ${i['fd-kind']}`);
    const iommu = Array.isArray(i.iommu) ? i.iommu : [i.iommu];
    for (const m of iommu) if (!iommus.has(m)) problems.push(`ioctls: ${i.name} has unknown iommu ${m}`);
    let arg: SpecArg;
    switch (i.arg.kind) {
      case 'none':
        arg = { kind: 'none' };
        break;
      case 'string':
        arg = { kind: 'string', doc: i.arg.doc };
        break;
      case 'int':
      case 'int-pointer':
        arg = { kind: i.arg.kind, type: i.arg.type as ScalarType, doc: i.arg.doc };
        break;
      case 'struct': {
        const struct = i.arg.struct;
        if (!knownStructs.has(struct)) {
          problems.push(`ioctls: ${i.name} takes struct ${struct}, which does not exist`);
        } else {
          const through = i.arg['min-argsz-through'];
          if (!structs.find((s) => s.name === struct)!.members.some((m) => m.name === through)) {
            problems.push(`ioctls: ${i.name} min-argsz-through ${through} is not a member of ${struct}`);
          }
        }
        arg = {
          kind: 'struct',
          struct,
          minArgszThrough: i.arg['min-argsz-through'],
          fixesDoc: i.arg['fixes-doc'] ?? false,
        };
        // The overlay decides; a header doc line naming a missing struct must be marked as fixed on purpose.
        const documented = header.docSignature?.argument?.replace(/^struct\s+/, '');
        if (documented !== undefined && documented !== struct && !arg.fixesDoc) {
          problems.push(
            `ioctls: ${i.name} takes ${struct} but the header documents ${documented}; set fixes-doc: true`,
          );
        }
        break;
      }
    }
    if (header.docSignature === undefined && i.arg.kind === 'struct' && !i.arg['fixes-doc']) {
      problems.push(`ioctls: ${i.name} has no kernel-doc signature in the header; set fixes-doc: true`);
    }
    const headerDoc = headerDocOf(i.name, header.docSignature);
    ioctls.push({
      name: i.name,
      header: header.header ?? defaultHeader,
      fdKind: i['fd-kind'],
      iommu,
      arg,
      ...(i.returns !== undefined ? { returns: i.returns } : {}),
      ...(i.availability?.since !== undefined ? { since: i.availability.since } : {}),
      ...(i.availability?.archs !== undefined ? { archs: i.availability.archs } : {}),
      doc: i.doc,
      ...(headerDoc !== undefined ? { headerDoc } : {}),
    });
  }
  for (const h of facts.ioctls) {
    if (!seen.has(h.name))
      problems.push(`${h.header ?? 'the header'} defines ioctl ${h.name}, which spec/vfio.yaml does not list`);
  }

  // Capability chains.
  const capabilityChains = (raw['capability-chains'] ?? []).map((c) => {
    if (!knownStructs.has(c['info-struct']))
      problems.push(`capability-chains: ${c.name} info-struct ${c['info-struct']} does not exist`);
    // A cap whose id and struct are both absent is one this (older) header predates; one without the other is a mistake.
    for (const cap of c.caps) {
      const idKnown = headerConstants.has(cap.id);
      const structKnown = knownStructs.has(cap.struct);
      if (idKnown && !structKnown)
        problems.push(`capability-chains: ${c.name} ${cap.id} names struct ${cap.struct}, which does not exist`);
      if (!idKnown && structKnown)
        problems.push(`capability-chains: ${c.name} id ${cap.id} does not exist in the header`);
    }
    return { name: c.name, infoStruct: c['info-struct'], caps: c.caps.filter((cap) => headerConstants.has(cap.id)) };
  });

  // Flag sets and enums, by prefix and by name. iommufd.h spells its flags as enumerators, vfio.h as macros.
  const constantNames = facts.constants.map((c) => c.name);
  const flagCandidates = [...constantNames, ...facts.enums.flatMap((e) => e.enumerators)];
  // A named C enum's enumerators; undefined when this header has no such enum (an error unless it is not due yet).
  const cEnum = (
    name: string,
    availability: RawAvailability | undefined,
    where: string,
  ): readonly string[] | undefined => {
    const found = facts.enums.find((e) => e.name === name);
    if (found === undefined && available(availability))
      problems.push(`${where} names enum ${name}, which does not exist`);
    return found?.enumerators;
  };
  const flagSets = (raw['flag-sets'] ?? []).map((f) => {
    const exclude = new Set(f.exclude ?? []);
    for (const name of [...(f.exclude ?? []), ...(f.only ?? [])]) {
      if (!headerConstants.has(name)) problems.push(`flag-sets: ${f.name} names ${name}, which does not exist`);
    }
    let values =
      f['c-enum'] !== undefined
        ? (cEnum(f['c-enum'], f.availability, `flag-sets: ${f.name}`) ?? [])
        : flagCandidates.filter((n) => n.startsWith(f.prefix!));
    values = values.filter((n) => !exclude.has(n));
    if (f.only !== undefined) values = values.filter((n) => f.only!.includes(n));
    if (values.length === 0 && available(f.availability)) problems.push(`flag-sets: ${f.name} matches no constant`);
    return { name: f.name, values };
  });
  const enums = (raw.enums ?? []).map((e) => {
    const values: string[] = [];
    if (e['c-enum'] !== undefined) values.push(...(cEnum(e['c-enum'], e.availability, `enums: ${e.name}`) ?? []));
    for (const v of e.values ?? []) {
      const name = typeof v === 'string' ? v : v.name;
      const expected = typeof v === 'string' || versionKey(v.until) > kernel;
      if (headerConstants.has(name)) {
        if (!expected)
          problems.push(`enums: ${e.name} says ${name} went away before ${kernelVersion}, but the header has it`);
        values.push(name);
      } else if (expected) {
        problems.push(`enums: ${e.name} names ${name}, which does not exist`);
      }
    }
    return { name: e.name, ...(e.doc !== undefined ? { doc: e.doc } : {}), values };
  });

  // Constants: every integer macro and enumerator of the header, valued by the compiler.
  const overrides = new Map((raw['constant-overrides'] ?? []).map((o) => [o.name, o.as as ScalarType]));
  for (const name of overrides.keys())
    if (!headerConstants.has(name)) problems.push(`constant-overrides: ${name} does not exist`);
  const constants: SpecConstant[] = [];
  for (const name of [...constantNames, ...facts.enums.flatMap((e) => e.enumerators)]) {
    const values = perArch(layouts, (l) => l.constants[name], problems, `constant ${name}`);
    if (values === undefined) continue;
    const cType = overrides.get(name);
    constants.push({
      name,
      values: cType !== undefined ? mapValues(values, (v) => asType(v, cType)) : values,
      ...(cType ? { cType } : {}),
    });
  }

  const systemConstants = (raw['system-constants'] ?? []).flatMap((group) =>
    group.names.flatMap((name) => {
      const values = perArch(layouts, (l) => l.system[name], problems, `system constant ${name}`);
      return values === undefined ? [] : [{ name, values }];
    }),
  );
  const errnoNames = Object.keys(layouts.x86_64?.system ?? {}).filter((n) => /^E[A-Z0-9]+$/.test(n));
  const errnos = errnoNames.flatMap((name) => {
    const values = perArch(layouts, (l) => l.system[name], problems, `errno ${name}`);
    return values === undefined ? [] : [{ name, values }];
  });

  // Layout completeness: the probe must have measured every struct and member the header has.
  for (const arch of ARCHS) {
    const abi = layouts[arch];
    if (abi === undefined) {
      problems.push(`layouts: no ABI ${arch}; run npm run codegen -- --probe`);
      continue;
    }
    for (const s of structs) {
      const l = abi.structs[s.name];
      if (l === undefined) problems.push(`layouts: ${arch} has no layout for struct ${s.name}; re-probe`);
      else
        for (const m of s.members)
          if (l.members[m.name] === undefined) problems.push(`layouts: ${arch} ${s.name}.${m.name} missing; re-probe`);
    }
    for (const i of ioctls)
      if (abi.ioctls[i.name] === undefined) problems.push(`layouts: ${arch} has no number for ${i.name}; re-probe`);
  }

  if (problems.length > 0) throw new SpecError(`spec/vfio.yaml does not resolve:\n  ${problems.join('\n  ')}`);
  return {
    name: raw.name,
    doc: raw.doc,
    headerSha256: facts.sha256,
    headers: (facts.headers ?? [{ path: defaultHeader }]).map((h) => h.path),
    fdKinds: raw.definitions['fd-kinds'],
    iommus: raw.definitions.iommus,
    ioctls,
    structs,
    capabilityChains,
    flagSets,
    enums,
    constants,
    systemConstants,
    errnos,
    layouts,
  };
}

/** How the header's kernel-doc writes the ioctl: vfio.h as a macro signature, iommufd.h on the argument struct. */
function headerDocOf(name: string, signature: { macro: string; argument?: string } | undefined): string | undefined {
  if (signature === undefined) return undefined;
  if (signature.macro === 'ioctl') return `${signature.argument ?? 'a struct'} - ioctl(${name})`;
  return `${signature.macro}(VFIO_TYPE, VFIO_BASE + n${signature.argument ? `, ${signature.argument}` : ''})`;
}

function resolveMember(
  struct: RawStruct,
  member: HeaderMember,
  problems: string[],
  names: { flagSetNames: Set<string>; enumNames: Set<string>; chainNames: Set<string> },
): SpecMember {
  const raw = struct.members?.[member.name] ?? {};
  const where = `structs: ${struct.name}.${member.name}`;
  let type: MemberType;
  if (member.type.kind === 'struct') type = { kind: 'struct', struct: member.type.name };
  else if (member.type.kind === 'pointer') type = { kind: 'pointer', c: member.type.c };
  else {
    const c = ALIGNED.get(member.type.c) ?? member.type.c;
    if (!SCALARS.has(c)) problems.push(`${where} has type ${member.type.c}, which vfio-ts does not know`);
    type = { kind: 'scalar', c: c as ScalarType };
  }
  let flexible: SpecMember['flexible'];
  if (member.flexible) {
    if (raw.count !== undefined) flexible = { count: raw.count };
    else if (member.countedBy !== undefined) flexible = { count: member.countedBy };
    else if (raw.length === 'rest') flexible = { rest: true };
    else problems.push(`${where} is a flexible array: say its length with count: <member> or length: rest`);
    if (raw.count !== undefined && member.countedBy !== undefined && raw.count !== member.countedBy) {
      problems.push(`${where} counts by ${raw.count} but the header's __counted_by says ${member.countedBy}`);
    }
  } else if (raw.count !== undefined || raw.length !== undefined) {
    problems.push(`${where} has a length but is not a flexible array`);
  }
  if (raw.flags !== undefined && !names.flagSetNames.has(raw.flags))
    problems.push(`${where} names unknown flag set ${raw.flags}`);
  if (raw.enum !== undefined && !names.enumNames.has(raw.enum))
    problems.push(`${where} names unknown enum ${raw.enum}`);
  if (raw['cap-chain'] !== undefined && !names.chainNames.has(raw['cap-chain']))
    problems.push(`${where} names unknown chain ${raw['cap-chain']}`);
  let arrayLength: number | undefined;
  if (member.arrayLength !== undefined) {
    arrayLength = Number(member.arrayLength);
    if (!Number.isInteger(arrayLength)) problems.push(`${where} has array length ${member.arrayLength}, not a literal`);
  }
  const doc = raw.doc ?? member.comment;
  return {
    name: member.name,
    type,
    direction: raw.direction ?? struct.direction,
    ...(flexible !== undefined ? { flexible } : {}),
    ...(arrayLength !== undefined ? { arrayLength } : {}),
    ...(member.union !== undefined ? { union: member.union } : {}),
    ...(raw.argsz ? { argsz: true } : {}),
    ...(raw.flags !== undefined ? { flags: raw.flags } : {}),
    ...(raw.enum !== undefined ? { enum: raw.enum } : {}),
    ...(raw['cap-chain'] !== undefined ? { capChain: raw['cap-chain'] } : {}),
    ...(doc !== undefined ? { doc } : {}),
  };
}

function perArch(
  layouts: AbiLayouts,
  pick: (abi: AbiLayouts[string]) => string | number | undefined,
  problems: string[],
  what: string,
): Record<Arch, bigint> | undefined {
  const out = {} as Record<Arch, bigint>;
  for (const arch of ARCHS) {
    const abi = layouts[arch];
    const value = abi === undefined ? undefined : pick(abi);
    if (value === undefined) {
      problems.push(`layouts: ${arch} has no value for ${what}; re-probe`);
      return undefined;
    }
    out[arch] = BigInt(value);
  }
  return out;
}

function mapValues(values: Record<Arch, bigint>, f: (v: bigint) => bigint): Record<Arch, bigint> {
  return Object.fromEntries(ARCHS.map((a) => [a, f(values[a])])) as Record<Arch, bigint>;
}

function asType(value: bigint, type: ScalarType): bigint {
  const bits = BigInt(Number(type.slice(3)));
  return type.startsWith('__u') ? BigInt.asUintN(Number(bits), value) : BigInt.asIntN(Number(bits), value);
}
