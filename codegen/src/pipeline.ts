// SPDX-License-Identifier: MIT
/** header -> facts -> (probe) -> resolved spec -> generated files. Every step is a function of its inputs. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { toCodecs } from './emit/codecs.js';
import { layoutClasses } from './emit/common.js';
import { toAbi, toCapabilities, toConstants, toIoctls, toStructTypes, toSystem } from './emit/tables.js';
import { extractHeaderFile, type HeaderFacts, mergeHeaderFacts } from './header/extract.js';
import type { AbiLayouts } from './layouts.js';
import { LINUX_ERRNO_NAMES, type ProbeRequest, probeLayouts } from './probe/index.js';
import { specHeaders } from './spec/headers.js';
import { loadRawSpec, resolveSpec, type SpecFamily, versionKey } from './spec/model.js';
import { type GeneratedFile, jsonFile, tsFile } from './write.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SPEC = join(ROOT, 'spec/vfio.yaml');
export const SCHEMA = join(ROOT, 'spec/schema/vfio.schema.json');
export const FACTS = 'spec/generated/header-facts.json';
export const LAYOUTS = 'spec/generated/layouts.json';
export const UAPI_GENERATED = 'packages/uapi/src/generated';

export interface VendoredHeader {
  readonly dir: string;
  readonly version: string;
  readonly suite: string;
  /** '6.1', '6.12', '7.3': what `availability.since` is compared with. */
  readonly kernelVersion: string;
  /** The include directory: holds linux/vfio.h (and linux/iommufd.h from 6.2 on). */
  readonly includeDir: string;
  readonly current: boolean;
}

export function vendoredHeaders(): VendoredHeader[] {
  const manifest = parse(readFileSync(join(ROOT, 'spec/vendor/manifest.yaml'), 'utf8')) as {
    current: string;
    headers: { dir: string; version: string; suite: string }[];
  };
  return manifest.headers.map((h) => ({
    dir: h.dir,
    version: h.version,
    suite: h.suite,
    kernelVersion: kernelVersionOf(h.version),
    includeDir: join(ROOT, 'spec/vendor', h.dir),
    current: h.version === manifest.current,
  }));
}

export function currentHeader(): VendoredHeader {
  const found = vendoredHeaders().find((h) => h.current);
  if (found === undefined) throw new Error('spec/vendor/manifest.yaml names no current header');
  return found;
}

/** '6.12.57-1~bpo12+1' -> '6.12'. */
export function kernelVersionOf(debianVersion: string): string {
  const match = /^(\d+)\.(\d+)/.exec(debianVersion);
  if (match === null) throw new Error(`cannot read a kernel version from '${debianVersion}'`);
  return `${match[1]}.${match[2]}`;
}

/**
 * The merged facts of every header the spec covers, read from one include directory. A header the spec says this
 * kernel version has must be there (a vendoring mistake otherwise); an older one is simply absent.
 */
export async function factsOfDir(
  includeDir: string,
  kernelVersion: string,
  specPath: string = SPEC,
): Promise<HeaderFacts> {
  const parts: { path: string; facts: HeaderFacts }[] = [];
  for (const h of specHeaders(specPath)) {
    const file = join(includeDir, h.path);
    if (!existsSync(file)) {
      if (h.since === undefined || versionKey(h.since) <= versionKey(kernelVersion)) {
        throw new Error(
          `${file} does not exist, but the spec covers ${h.path} from ${h.since ?? 'the first'} header on`,
        );
      }
      continue;
    }
    parts.push({ path: h.path, facts: await extractHeaderFile(file) });
  }
  return mergeHeaderFacts(parts);
}

export function probeRequestFor(facts: HeaderFacts, includeDir: string): ProbeRequest {
  const raw = parse(readFileSync(SPEC, 'utf8')) as { 'system-constants'?: { include: string; names: string[] }[] };
  return {
    headerDir: includeDir,
    headers: (facts.headers ?? [{ path: 'linux/vfio.h' }]).map((h) => h.path),
    structs: facts.structs.map((s) => ({
      name: s.name,
      members: s.members.map((m) => ({ name: m.name, ...(m.flexible ? { flexible: true } : {}) })),
    })),
    constants: [...facts.constants.map((c) => c.name), ...facts.enums.flatMap((e) => e.enumerators)],
    ioctls: facts.ioctls.map((i) => i.name),
    system: [
      ...(raw['system-constants'] ?? []).flatMap((g) => g.names.map((name) => ({ name, include: g.include }))),
      ...LINUX_ERRNO_NAMES.map((name) => ({ name, include: 'errno.h' })),
    ],
  };
}

export async function probeHeader(facts: HeaderFacts, includeDir: string): Promise<AbiLayouts> {
  return probeLayouts(probeRequestFor(facts, includeDir));
}

export async function factsOf(header: VendoredHeader): Promise<HeaderFacts> {
  return factsOfDir(header.includeDir, header.kernelVersion);
}

export function resolveWith(facts: HeaderFacts, layouts: AbiLayouts, kernelVersion: string): SpecFamily {
  return resolveSpec({ raw: loadRawSpec(SPEC, SCHEMA), facts, layouts, kernelVersion });
}

/** Every generated file, as text, from facts and layouts. */
export function generate(facts: HeaderFacts, layouts: AbiLayouts, spec: SpecFamily): GeneratedFile[] {
  const classes = layoutClasses(spec);
  const dir = UAPI_GENERATED;
  return [
    jsonFile(FACTS, facts),
    jsonFile(LAYOUTS, layouts),
    tsFile(`${dir}/abi.ts`, 'abi', toAbi(spec)),
    tsFile(`${dir}/constants.ts`, 'constants', toConstants(spec, facts.strings)),
    tsFile(`${dir}/system.ts`, 'system', ["import type { Arch } from './abi.js';", ...toSystem(spec)]),
    tsFile(`${dir}/types.ts`, 'types', toStructTypes(spec)),
    tsFile(`${dir}/ioctls.ts`, 'ioctls', toIoctls(spec)),
    tsFile(`${dir}/capabilities.ts`, 'capabilities', toCapabilities(spec)),
    tsFile(`${dir}/codecs.ts`, 'codecs', toCodecs(spec, classes)),
  ];
}
