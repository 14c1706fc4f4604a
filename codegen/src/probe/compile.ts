// SPDX-License-Identifier: MIT
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { type AbiName, type ResolvedToolchain, resolveToolchain } from './abis.js';
import { ProbeError } from './errors.js';

const run = promisify(execFile);

export interface CompileOptions {
  /** Searched before the toolchain's sysroot, in order. Absolute. */
  readonly includeDirs?: readonly string[];
  /** 1-based source line → what it probes, so an error names the entry rather than a line number. */
  readonly lineOwners?: ReadonlyMap<number, string>;
}

/** `-c` only: the object is read, never linked or run, so no target libc or emulator is needed beyond headers. */
export async function compileFile(
  tc: ResolvedToolchain,
  sourceFile: string,
  object: string,
  options: CompileOptions = {},
): Promise<void> {
  const includes = (options.includeDirs ?? []).flatMap((dir) => {
    if (!isAbsolute(dir)) throw new TypeError(`include directory ${dir} must be absolute`);
    return ['-I', dir];
  });
  const args = [...tc.args, '-std=gnu11', '-O0', '-c', ...includes, sourceFile, '-o', object];
  try {
    await run(tc.compiler, args, { maxBuffer: 16 << 20 });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr || (error as Error).message);
    const culprits = new Set<string>();
    const file = basename(sourceFile).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const m of stderr.matchAll(new RegExp(`${file}:(\\d+):`, 'g'))) {
      const owner = options.lineOwners?.get(Number(m[1]));
      if (owner) culprits.add(owner);
    }
    const lines = stderr.trimEnd().split('\n');
    const shown = lines.slice(0, 30).join('\n') + (lines.length > 30 ? `\n… ${lines.length - 30} more lines` : '');
    throw new ProbeError(
      'VFIO_TS_PROBE_COMPILE_FAILED',
      `${tc.abi}: ${tc.compiler} ${args.join(' ')} failed` +
        (culprits.size ? `; offending entries: ${[...culprits].join(', ')}` : '') +
        `\n${shown}`,
      { cause: error },
    );
  }
}

/** Compiles C text for one ABI and returns the object file's bytes (tests and one-off questions). */
export async function compileSnippet(abi: AbiName, source: string, options: CompileOptions = {}): Promise<Uint8Array> {
  const tc = await resolveToolchain(abi);
  const work = await mkdtemp(join(tmpdir(), 'vfio-ts-cc-'));
  try {
    const file = join(work, 'snippet.c');
    await writeFile(file, source);
    await compileFile(tc, file, join(work, 'snippet.o'), options);
    return new Uint8Array(await readFile(join(work, 'snippet.o')));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
