// SPDX-License-Identifier: MIT
/**
 * Facts read off a uapi header with tree-sitter: structs and their members, enums, object-like macros, ioctl
 * definitions and the kernel-doc signature lines that document them. Nothing here evaluates a macro: values come
 * from the compiler probe (`../probe`), this only says what exists and how it is declared.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Language, type Node, Parser } from 'web-tree-sitter';

export type CType =
  | { readonly kind: 'scalar'; readonly c: string }
  | { readonly kind: 'struct'; readonly name: string }
  | { readonly kind: 'pointer'; readonly c: string };

/** Which header an item comes from (`linux/vfio.h`, `linux/iommufd.h`), once facts of several headers are merged. */
interface FromHeader {
  readonly header?: string;
}

export interface HeaderMember {
  readonly name: string;
  readonly type: CType;
  /** `[]` at the end of a struct. */
  readonly flexible?: boolean;
  /** A fixed array's element count, as written (a macro name or a number). */
  readonly arrayLength?: string;
  /** The count member named by `__counted_by(...)`, for a flexible array that has one. */
  readonly countedBy?: string;
  /** Index of the anonymous union this member belongs to, when it does. */
  readonly union?: number;
  readonly comment?: string;
}

export interface HeaderStruct extends FromHeader {
  readonly name: string;
  readonly line: number;
  readonly members: readonly HeaderMember[];
  readonly doc?: string;
}

export interface HeaderMacro extends FromHeader {
  readonly name: string;
  /** The replacement text, comments stripped, as written. */
  readonly text: string;
  readonly line: number;
}

export interface HeaderIoctl extends FromHeader {
  readonly name: string;
  readonly line: number;
  /** `_IO(VFIO_TYPE, VFIO_BASE + 19)` as written (a continued line joined). */
  readonly text: string;
  /**
   * The kernel-doc line that documents it, if the header has one: vfio.h writes
   * `VFIO_X - _IOWR(VFIO_TYPE, VFIO_BASE + 19, struct foo)` (macro `_IOWR`), iommufd.h writes
   * `struct foo - ioctl(IOMMU_X)` (macro `ioctl`).
   */
  readonly docSignature?: { readonly macro: string; readonly argument?: string };
  readonly doc?: string;
}

export interface HeaderEnum extends FromHeader {
  readonly name?: string;
  readonly line: number;
  readonly enumerators: readonly string[];
}

export interface HeaderFacts {
  /** Of the header text; for merged facts, of the headers' own sha256 in order. */
  readonly sha256: string;
  /** The headers merged into these facts, in order (absent for the facts of a single header). */
  readonly headers?: readonly { readonly path: string; readonly sha256: string }[];
  readonly structs: readonly HeaderStruct[];
  readonly enums: readonly HeaderEnum[];
  /** Object-like integer macros (flags, types, indexes); ioctls, strings and empty guards excluded. */
  readonly constants: readonly HeaderMacro[];
  /** Object-like macros whose value is a string literal (`VFIO_DEVICE_API_PCI_STRING`). */
  readonly strings: readonly HeaderMacro[];
  readonly ioctls: readonly HeaderIoctl[];
  /** Function-like macros: recorded, never probed. */
  readonly functionMacros: readonly string[];
}

const require = createRequire(import.meta.url);
let parserPromise: Promise<Parser> | undefined;

async function cParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const language = await Language.load(require.resolve('tree-sitter-c/tree-sitter-c.wasm'));
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return parserPromise;
}

const IOCTL_MACRO = /^_IO(?:R|W|WR)?\s*\(/;
// Kernel-doc signature lines: "VFIO_X - _IOWR(VFIO_TYPE, VFIO_BASE + 19, struct foo)"
const DOC_SIGNATURE =
  /(VFIO_[A-Z0-9_]+)\s*-\s*(_IO[RW]{0,2})\s*\(\s*VFIO_TYPE\s*,\s*VFIO_BASE\s*\+\s*\d+\s*(?:,\s*([^)]*?))?\s*\)/g;
// iommufd.h's kernel-doc names the ioctl on the struct's own line: "struct iommu_ioas_map - ioctl(IOMMU_IOAS_MAP)"
const IOMMUFD_DOC_SIGNATURE = /\bstruct\s+([a-z0-9_]+)\s*-\s*ioctl\s*\(\s*(IOMMU_[A-Z0-9_]+)\s*\)/g;

export async function extractHeaderFacts(text: string): Promise<HeaderFacts> {
  const parser = await cParser();
  // tree-sitter-c has no grammar for attributes after a declarator; blank them out (same length, so positions
  // hold) and keep what __counted_by says, which is the length of a flexible array.
  const countedBy = new Map<number, string>();
  const parsable = text.replace(
    /(?<!#\s*define\s+)__counted_by\s*\(\s*(\w+)\s*\)/g,
    (match: string, member: string, at: number) => {
      countedBy.set(text.slice(0, at).split('\n').length - 1, member);
      return ' '.repeat(match.length);
    },
  );
  const tree = parser.parse(parsable);
  if (tree === null) throw new Error('tree-sitter returned no tree');
  const root = tree.rootNode;
  if (root.hasError) {
    const bad = root.descendantsOfType('ERROR')[0];
    throw new Error(`the header does not parse as C near line ${(bad?.startPosition.row ?? 0) + 1}`);
  }

  const structs: HeaderStruct[] = [];
  const enums: HeaderEnum[] = [];
  const constants: HeaderMacro[] = [];
  const strings: HeaderMacro[] = [];
  const ioctls: HeaderIoctl[] = [];
  const functionMacros: string[] = [];
  const docSignatures = new Map<string, { macro: string; argument?: string }>();

  for (const comment of root.descendantsOfType('comment')) {
    if (comment === null) continue;
    for (const match of comment.text.matchAll(DOC_SIGNATURE)) {
      const [, name, macro, argument] = match;
      if (name === undefined || macro === undefined || docSignatures.has(name)) continue;
      // A signature wrapped over two comment lines carries the continuation's leading '*'.
      const arg = argument
        ?.replace(/\s*\*\s+/g, ' ')
        .replace(/\s+/g, ' ')
        .trim();
      docSignatures.set(name, arg ? { macro, argument: arg } : { macro });
    }
    for (const match of comment.text.matchAll(IOMMUFD_DOC_SIGNATURE)) {
      const [, struct, name] = match;
      if (struct === undefined || name === undefined || docSignatures.has(name)) continue;
      docSignatures.set(name, { macro: 'ioctl', argument: `struct ${struct}` });
    }
  }

  const visit = (node: Node): void => {
    switch (node.type) {
      case 'struct_specifier': {
        const body = node.childForFieldName('body');
        const name = node.childForFieldName('name')?.text;
        if (body !== null && name !== undefined) {
          structs.push(
            withDoc({ name, line: node.startPosition.row + 1, members: readMembers(body, countedBy) }, node),
          );
        }
        break;
      }
      case 'enum_specifier': {
        const body = node.childForFieldName('body');
        if (body !== null) {
          const name = node.childForFieldName('name')?.text;
          const enumerators = body.namedChildren
            .filter((c): c is Node => c !== null && c.type === 'enumerator')
            .map((c) => c.childForFieldName('name')!.text);
          enums.push({ ...(name !== undefined ? { name } : {}), line: node.startPosition.row + 1, enumerators });
        }
        break;
      }
      case 'preproc_def': {
        const name = node.childForFieldName('name')!.text;
        const value = stripComments(node.childForFieldName('value')?.text ?? '')
          .replace(/\\\r?\n\s*/g, '')
          .trim();
        const line = node.startPosition.row + 1;
        if (value === '') break;
        if (IOCTL_MACRO.test(value)) {
          const doc = docSignatures.get(name);
          const ioctl: HeaderIoctl = { name, line, text: value, ...(doc ? { docSignature: doc } : {}) };
          ioctls.push(withDoc(ioctl, node));
        } else if (value.startsWith('"')) {
          strings.push({ name, text: value, line });
        } else {
          constants.push({ name, text: value, line });
        }
        break;
      }
      case 'preproc_function_def':
        functionMacros.push(node.childForFieldName('name')!.text);
        break;
    }
    for (const child of node.namedChildren) if (child !== null) visit(child);
  };
  visit(root);

  return {
    sha256: createHash('sha256').update(text).digest('hex'),
    structs,
    enums,
    constants,
    strings,
    ioctls,
    functionMacros,
  };
}

export async function extractHeaderFile(path: string): Promise<HeaderFacts> {
  return extractHeaderFacts(readFileSync(path, 'utf8'));
}

/**
 * The facts of several headers as one (every item tagged with the header that declares it), so that the spec and
 * the probe see one namespace: C has one too, and a name two headers both define is rejected here.
 */
export function mergeHeaderFacts(
  parts: readonly { readonly path: string; readonly facts: HeaderFacts }[],
): HeaderFacts {
  const tag = <T extends object>(items: readonly T[], header: string): (T & { header: string })[] =>
    items.map((item) => ({ ...item, header }));
  const merged: HeaderFacts = {
    sha256: createHash('sha256')
      .update(parts.map((p) => `${p.path} ${p.facts.sha256}\n`).join(''))
      .digest('hex'),
    headers: parts.map((p) => ({ path: p.path, sha256: p.facts.sha256 })),
    structs: parts.flatMap((p) => tag(p.facts.structs, p.path)),
    enums: parts.flatMap((p) => tag(p.facts.enums, p.path)),
    constants: parts.flatMap((p) => tag(p.facts.constants, p.path)),
    strings: parts.flatMap((p) => tag(p.facts.strings, p.path)),
    ioctls: parts.flatMap((p) => tag(p.facts.ioctls, p.path)),
    functionMacros: parts.flatMap((p) => p.facts.functionMacros),
  };
  const owners = new Map<string, string>();
  const clashes: string[] = [];
  const names = [
    ...merged.structs.map((s) => ({ name: `struct ${s.name}`, header: s.header })),
    ...[...merged.constants, ...merged.strings, ...merged.ioctls].map((m) => ({ name: m.name, header: m.header })),
    ...merged.enums.flatMap((e) => e.enumerators.map((name) => ({ name, header: e.header }))),
  ];
  for (const { name, header } of names) {
    const owner = owners.get(name);
    if (owner !== undefined && owner !== header) clashes.push(`${name} (${owner} and ${header})`);
    owners.set(name, header ?? '');
  }
  if (clashes.length > 0) throw new Error(`headers define the same names: ${clashes.join(', ')}`);
  return merged;
}

function readMembers(body: Node, countedBy: ReadonlyMap<number, string>): HeaderMember[] {
  const members: HeaderMember[] = [];
  let unionIndex = 0;
  for (const field of body.namedChildren) {
    if (field === null || field.type !== 'field_declaration') continue;
    const typeNode = field.childForFieldName('type')!;
    if (typeNode.type === 'union_specifier' && typeNode.childForFieldName('name') === null) {
      const unionBody = typeNode.childForFieldName('body')!;
      const index = unionIndex++;
      for (const inner of readMembers(unionBody, countedBy)) members.push({ ...inner, union: index });
      continue;
    }
    const comment = trailingComment(field);
    for (const declarator of field.childrenForFieldName('declarator')) {
      if (declarator === null) continue;
      const member = readDeclarator(typeNode, declarator, comment);
      const count = member.flexible ? countedBy.get(declarator.startPosition.row) : undefined;
      members.push(count !== undefined ? { ...member, countedBy: count } : member);
    }
  }
  return members;
}

function readDeclarator(typeNode: Node, declarator: Node, comment: string | undefined): HeaderMember {
  const base: CType =
    typeNode.type === 'struct_specifier'
      ? { kind: 'struct', name: typeNode.childForFieldName('name')!.text }
      : { kind: 'scalar', c: typeNode.text };
  const extra = comment !== undefined ? { comment } : {};
  switch (declarator.type) {
    case 'field_identifier':
      return { name: declarator.text, type: base, ...extra };
    case 'pointer_declarator': {
      const inner = declarator.childForFieldName('declarator')!;
      return { name: inner.text, type: { kind: 'pointer', c: typeNode.text }, ...extra };
    }
    case 'array_declarator': {
      const inner = declarator.childForFieldName('declarator')!;
      const size = declarator.childForFieldName('size');
      if (size === null) return { name: inner.text, type: base, flexible: true, ...extra };
      return { name: inner.text, type: base, arrayLength: size.text, ...extra };
    }
    default:
      throw new Error(`unsupported member declarator '${declarator.text}' (${declarator.type})`);
  }
}

function trailingComment(field: Node): string | undefined {
  const next = field.nextSibling;
  if (next?.type === 'comment' && next.startPosition.row === field.endPosition.row) return cleanComment(next.text);
  return undefined;
}

function withDoc<T extends { line: number }>(item: T, node: Node): T & { doc?: string } {
  let previous = node.type === 'struct_specifier' ? node.parent?.previousNamedSibling : node.previousNamedSibling;
  if (previous?.type !== 'comment') previous = node.previousNamedSibling;
  if (previous?.type === 'comment' && node.startPosition.row - previous.endPosition.row <= 1) {
    return { ...item, doc: cleanComment(previous.text) };
  }
  return item;
}

function stripComments(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/.*$/gm, ' ')
    .replace(/\\\n/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function cleanComment(text: string): string {
  return text
    .replace(/^\/\*+/, '')
    .replace(/\*+\/$/, '')
    .split('\n')
    .map((line) => line.replace(/^\s*\*\s?/, '').trimEnd())
    .join('\n')
    .trim();
}
