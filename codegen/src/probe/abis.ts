// SPDX-License-Identifier: MIT
/**
 * The five ABIs vfio-ts generates for and the Debian toolchains that compile for them. System headers (errno,
 * fcntl, mman, asm/ioctl.h) come from each toolchain's own sysroot because they differ per architecture: that
 * difference is what the probe is for.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import type { AbiName } from '../layouts.js';
import { EM_386, EM_AARCH64, EM_PPC64, EM_X86_64 } from './elf.js';
import { ProbeError } from './errors.js';

const run = promisify(execFile);

export type { AbiName };
export const ABI_NAMES: readonly AbiName[] = ['x86_64', 'aarch64', 'ppc64le', 'ppc64', 'i386'];

export interface AbiToolchain {
  readonly abi: AbiName;
  /** Tried in order; the first found on PATH is used. */
  readonly compilers: readonly string[];
  /** Arguments that select the target and its sysroot; `{resource}` is clang's resource directory. */
  readonly targetArgs: readonly string[];
  /** A header only the target's libc development package provides, to name that package when it is missing. */
  readonly sysrootProbe: string;
  /** Debian packages that provide the compiler and the sysroot, for error messages and .ci/abi-deps.sh. */
  readonly packages: readonly string[];
  /** What the object must say about itself, so a wrong compiler (a native `gcc` on an arm64 host) is caught. */
  readonly machine: number;
  readonly elfClass: 32 | 64;
  readonly littleEndian: boolean;
}

export const TOOLCHAINS: Readonly<Record<AbiName, AbiToolchain>> = {
  x86_64: {
    abi: 'x86_64',
    compilers: ['x86_64-linux-gnu-gcc', 'gcc'],
    targetArgs: [],
    sysrootProbe: '/usr/include/x86_64-linux-gnu/asm/ioctl.h',
    packages: ['gcc', 'libc6-dev', 'linux-libc-dev'],
    machine: EM_X86_64,
    elfClass: 64,
    littleEndian: true,
  },
  aarch64: {
    abi: 'aarch64',
    compilers: ['aarch64-linux-gnu-gcc'],
    targetArgs: [],
    sysrootProbe: '/usr/aarch64-linux-gnu/include/errno.h',
    packages: ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'],
    machine: EM_AARCH64,
    elfClass: 64,
    littleEndian: true,
  },
  ppc64le: {
    abi: 'ppc64le',
    compilers: ['powerpc64le-linux-gnu-gcc'],
    targetArgs: [],
    sysrootProbe: '/usr/powerpc64le-linux-gnu/include/errno.h',
    packages: ['gcc-powerpc64le-linux-gnu', 'libc6-dev-ppc64el-cross'],
    machine: EM_PPC64,
    elfClass: 64,
    littleEndian: true,
  },
  ppc64: {
    abi: 'ppc64',
    compilers: ['powerpc64-linux-gnu-gcc'],
    targetArgs: [],
    sysrootProbe: '/usr/powerpc64-linux-gnu/include/errno.h',
    packages: ['gcc-powerpc64-linux-gnu', 'libc6-dev-ppc64-cross'],
    machine: EM_PPC64,
    elfClass: 64,
    littleEndian: false,
  },
  i386: {
    abi: 'i386',
    compilers: ['clang'],
    // gcc-multilib would be the native route but conflicts with the cross compilers on Debian; clang needs no
    // per-target build, only the cross sysroot, and -nostdinc keeps the host's x86_64 /usr/include out.
    targetArgs: [
      '--target=i386-linux-gnu',
      '-nostdinc',
      '-isystem',
      '{resource}/include',
      '-isystem',
      '/usr/i686-linux-gnu/include',
    ],
    sysrootProbe: '/usr/i686-linux-gnu/include/errno.h',
    packages: ['clang', 'libc6-dev-i386-cross'],
    machine: EM_386,
    elfClass: 32,
    littleEndian: true,
  },
};

export interface ResolvedToolchain {
  readonly abi: AbiName;
  readonly compiler: string;
  /** First line of `compiler --version`. */
  readonly version: string;
  readonly args: readonly string[];
  readonly spec: AbiToolchain;
}

const resolved = new Map<AbiName, Promise<ResolvedToolchain>>();

/** Finds the compiler and sysroot for an ABI, or throws `VFIO_TS_PROBE_TOOLCHAIN_MISSING` naming the packages. */
export function resolveToolchain(abi: AbiName): Promise<ResolvedToolchain> {
  let found = resolved.get(abi);
  if (!found) {
    found = resolveUncached(abi);
    // A failure is not cached: the fix (apt-get install) happens while the process keeps running, e.g. in watch mode.
    found.catch(() => resolved.delete(abi));
    resolved.set(abi, found);
  }
  return found;
}

async function resolveUncached(abi: AbiName): Promise<ResolvedToolchain> {
  const spec = TOOLCHAINS[abi];
  if (!spec) throw new ProbeError('VFIO_TS_PROBE_TOOLCHAIN_MISSING', `unknown ABI ${JSON.stringify(abi)}`);
  const install = `apt-get install ${spec.packages.join(' ')} (or run .ci/abi-deps.sh)`;
  for (const compiler of spec.compilers) {
    let version: string;
    try {
      version = (await run(compiler, ['--version'])).stdout.split('\n')[0]!.trim();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    if (!existsSync(spec.sysrootProbe)) {
      throw new ProbeError(
        'VFIO_TS_PROBE_TOOLCHAIN_MISSING',
        `${abi}: ${compiler} is installed but its sysroot is not (${spec.sysrootProbe} missing); ${install}`,
      );
    }
    let args = spec.targetArgs;
    if (args.some((a) => a.includes('{resource}'))) {
      const resource = (await run(compiler, ['-print-resource-dir'])).stdout.trim();
      args = args.map((a) => a.replace('{resource}', resource));
    }
    return { abi, compiler, version, args, spec };
  }
  throw new ProbeError(
    'VFIO_TS_PROBE_TOOLCHAIN_MISSING',
    `${abi}: no compiler found (tried ${spec.compilers.join(', ')}); ${install}`,
  );
}

/** For tests and CLIs: which ABIs can be probed here, and why not for the others. */
export async function availableAbis(
  abis: readonly AbiName[] = ABI_NAMES,
): Promise<{ available: AbiName[]; missing: Partial<Record<AbiName, string>> }> {
  const available: AbiName[] = [];
  const missing: Partial<Record<AbiName, string>> = {};
  await Promise.all(
    abis.map(async (abi) => {
      try {
        await resolveToolchain(abi);
        available.push(abi);
      } catch (error) {
        missing[abi] = (error as Error).message;
      }
    }),
  );
  available.sort((a, b) => abis.indexOf(a) - abis.indexOf(b));
  return { available, missing };
}

/** Forget resolved toolchains (tests that change PATH; a long-running process after an install). */
export function clearToolchainCache(): void {
  resolved.clear();
}
