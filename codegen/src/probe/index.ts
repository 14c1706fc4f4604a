// SPDX-License-Identifier: MIT
/**
 * Layout truth from compilers, never from a parser: for each ABI, compile a generated C file against the given
 * vfio.h with that ABI's compiler and sysroot, then read sizes, offsets, constants and ioctl numbers back out of the
 * object file. Nothing in TypeScript evaluates a macro.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AbiLayout, AbiLayouts, AbiName, StructLayout } from '../layouts.js';
import { ABI_NAMES, type ResolvedToolchain, resolveToolchain } from './abis.js';
import { PROBE_MAGIC, PROBE_SECTION, type ProbeSourceRequest, probeSource, type SignedSlot } from './c-source.js';
import { compileFile } from './compile.js';
import { parseElf, readU64Section } from './elf.js';
import { ProbeError } from './errors.js';

export { ABI_NAMES, availableAbis, resolveToolchain, TOOLCHAINS } from './abis.js';
export type { ProbeStructRequest } from './c-source.js';
export { compileSnippet } from './compile.js';
export { LINUX_ERRNO_NAMES } from './errno-names.js';
export { ProbeError, type ProbeErrorCode } from './errors.js';
export {
  fetchVendoredHeader,
  readManifest,
  VENDOR_ROOT,
  type VendoredHeader,
  type VendorManifest,
  vendoredHeaderDir,
  verifyVendor,
} from './vendor.js';
export type { AbiLayout, AbiLayouts, AbiName, StructLayout };

export interface ProbeRequest extends ProbeSourceRequest {
  /** The vendored directory containing `linux/vfio.h`; it goes first on the include path. */
  readonly headerDir: string;
  /** Default: all five. */
  readonly abis?: readonly AbiName[];
  /** Keep the generated C and objects (their directory is logged) instead of deleting them. */
  readonly keepFiles?: boolean;
}

export async function probeLayouts(request: ProbeRequest): Promise<AbiLayouts> {
  const abis = request.abis ?? ABI_NAMES;
  const headerDir = resolve(request.headerDir);
  // Without this, a wrong path silently probes the sysroot's own linux/vfio.h instead.
  if (!existsSync(join(headerDir, 'linux', 'vfio.h'))) {
    throw new ProbeError(
      'VFIO_TS_VENDOR',
      `${headerDir}/linux/vfio.h does not exist (headerDir must be a vendored dir)`,
    );
  }
  const source = probeSource(request);
  const work = await mkdtemp(join(tmpdir(), 'vfio-ts-probe-'));
  const sourceFile = join(work, 'probe.c');
  await writeFile(sourceFile, source.text);

  const results = await mapLimited(abis, Math.max(1, Math.min(availableParallelism(), abis.length)), (abi) =>
    probeOne(abi, headerDir, sourceFile, work, source).then(
      (layout) => ({ abi, layout }),
      (error: unknown) => ({ abi, error }),
    ),
  );
  const failures = results.filter((r) => 'error' in r);
  if (failures.length > 0) {
    // The C file is what a human needs to reproduce a compile error, so it survives a failure.
    const first = failures[0]!.error;
    const code = first instanceof ProbeError ? first.code : 'VFIO_TS_PROBE_COMPILE_FAILED';
    const detail = failures.map((f) => (f.error instanceof Error ? f.error.message : String(f.error))).join('\n\n');
    throw new ProbeError(
      code,
      `probe failed for ${failures.map((f) => f.abi).join(', ')} (files kept in ${work}):\n${detail}`,
      {
        cause: first,
      },
    );
  }
  if (request.keepFiles) console.error(`probe: files kept in ${work}`);
  else await rm(work, { recursive: true, force: true });

  const out: Record<string, AbiLayout> = {};
  for (const r of results) if ('layout' in r) out[r.abi] = r.layout;
  return out;
}

async function probeOne(
  abi: AbiName,
  headerDir: string,
  sourceFile: string,
  work: string,
  source: ReturnType<typeof probeSource>,
): Promise<AbiLayout> {
  const tc = await resolveToolchain(abi);
  const object = join(work, `probe-${abi}.o`);
  await compileFile(tc, sourceFile, object, { includeDirs: [headerDir], lineOwners: source.lineOwners });
  return decode(tc, await readFile(object), source.plan);
}

function decode(tc: ResolvedToolchain, file: Uint8Array, plan: ReturnType<typeof probeSource>['plan']): AbiLayout {
  const elf = parseElf(file);
  const mismatch = (what: string, got: unknown, want: unknown) =>
    new ProbeError(
      'VFIO_TS_PROBE_MISMATCH',
      `${tc.abi}: ${tc.compiler} produced an object with ${what} ${got}, expected ${want}; is it the right compiler?`,
    );
  if (elf.machine !== tc.spec.machine) throw mismatch('e_machine', elf.machine, tc.spec.machine);
  if (elf.elfClass !== tc.spec.elfClass) throw mismatch('ELF class', elf.elfClass, tc.spec.elfClass);
  if (elf.littleEndian !== tc.spec.littleEndian)
    throw mismatch('little-endian', elf.littleEndian, tc.spec.littleEndian);

  const v = readU64Section(elf, PROBE_SECTION);
  if (v[0] !== PROBE_MAGIC) throw mismatch('probe magic', `0x${v[0]?.toString(16)}`, `0x${PROBE_MAGIC.toString(16)}`);
  if (v.length !== plan.slots || v[1] !== BigInt(plan.slots)) throw mismatch('slot count', v.length, plan.slots);

  const small = (i: number): number => {
    const x = v[i]!;
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw mismatch(`slot ${i} value`, x, 'a safe integer');
    return Number(x);
  };
  const signed = (s: SignedSlot): bigint => (v[s.negative] === 0n ? v[s.value]! : v[s.value]! - (1n << 64n));
  const decimal = (slots: readonly SignedSlot[]) =>
    Object.fromEntries(slots.map((s) => [s.name, signed(s).toString()]));

  const structs: Record<string, StructLayout> = {};
  for (const s of plan.structs) {
    structs[s.name] = {
      size: small(s.size),
      align: small(s.align),
      members: Object.fromEntries(s.members.map((m) => [m.name, { offset: small(m.offset), size: small(m.size) }])),
    };
  }
  const ioctls: Record<string, number> = {};
  for (const s of plan.ioctls) {
    const n = signed(s);
    if (n < 0n || n > 0xffffffffn) throw mismatch(`${s.name} =`, n, 'an unsigned 32-bit ioctl number');
    ioctls[s.name] = Number(n);
  }
  return {
    littleEndian: elf.littleEndian,
    pointerSize: small(plan.pointerSize),
    compiler: tc.version,
    structs,
    constants: decimal(plan.constants),
    ioctls,
    system: decimal(plan.system),
  };
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
