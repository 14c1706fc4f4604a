// SPDX-License-Identifier: MIT
/**
 * What one ioctl costs through vfio-ts, against the same ioctl from C and against koffi's bare call overhead.
 *
 * The ioctl is FIONREAD on a pipe: it exists everywhere, needs no device, and does almost nothing in the kernel, so
 * the numbers are the price of the path to the kernel. The C baseline is compiled here at run time with `cc`, with the
 * request number passed in from @vfio-ts/uapi, so both sides issue the identical system call.
 *
 *   npx tsx --conditions=@vfio-ts/source packages/backend-koffi/bench/ioctl.ts
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemConstants } from '@vfio-ts/uapi';
import { createKoffiBackend } from '../src/backend.js';
import { loadLibc } from '../src/raw.js';

export interface IoctlBenchOptions {
  /** Calls per round. */
  readonly iterations?: number;
  /** Rounds; the median round is reported. */
  readonly rounds?: number;
}

export interface Measurement {
  /** Median nanoseconds per call over the rounds. */
  readonly nsPerCall: number;
  /** Every round's ns per call, for spread. */
  readonly rounds: readonly number[];
}

export interface IoctlBenchResult {
  readonly name: 'backend-koffi/ioctl';
  readonly arch: string;
  readonly node: string;
  readonly koffi: string;
  readonly iterations: number;
  /** FIONREAD through Backend.ioctl (argument checks, errno handling, koffi). */
  readonly backendIoctl: Measurement;
  /** The same call through raw.ts alone: koffi's pointer-argument call, no Backend. */
  readonly rawIoctl: Measurement;
  /** koffi calling `abs()`: the fixed cost of crossing into C. */
  readonly koffiCall: Measurement;
  /** FIONREAD in a C loop; `undefined` with `cSkipped` giving the reason when no compiler could be used. */
  readonly cIoctl: Measurement | undefined;
  readonly cSkipped?: string;
  /** backendIoctl / cIoctl. */
  readonly ratioToC: number | undefined;
}

const cSource = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

/* argv: request iterations rounds. Prints one ns-per-call figure per round. */
int main(int argc, char **argv) {
  if (argc != 4) return 2;
  unsigned long request = strtoul(argv[1], NULL, 0);
  long iterations = strtol(argv[2], NULL, 0), rounds = strtol(argv[3], NULL, 0);
  int fds[2];
  if (pipe(fds) != 0 || write(fds[1], "hello, vfio", 11) != 11) return 3;
  volatile int count = 0;
  for (long r = 0; r < rounds; r++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < iterations; i++) {
      int n;
      if (ioctl(fds[0], request, &n) != 0) return 4;
      count = n;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("%.2f\\n", ns / iterations);
  }
  return count == 11 ? 0 : 5;
}
`;

export async function benchIoctl(options: IoctlBenchOptions = {}): Promise<IoctlBenchResult> {
  const iterations = options.iterations ?? 200_000;
  const roundCount = options.rounds ?? 7;
  const backend = createKoffiBackend();
  const libc = loadLibc();
  const fionread = Number(systemConstants(backend.arch).FIONREAD);

  const { result, fds } = libc.pipe();
  if (result < 0) throw new Error('pipe(2) failed');
  const [r, w] = fds;
  try {
    libc.write(w, new TextEncoder().encode('hello, vfio'));
    const count = new Uint8Array(4);
    const check = (): void => {
      if (new DataView(count.buffer).getInt32(0, backend.littleEndian) !== 11) throw new Error('FIONREAD gave no 11');
    };

    const backendIoctl = measure(iterations, roundCount, () => backend.ioctl(r, fionread, count));
    check();
    count.fill(0);
    const rawIoctl = measure(iterations, roundCount, () => libc.ioctlPtr(r, fionread, count));
    check();
    const koffiCall = measure(iterations, roundCount, () => libc.abs(-7));

    const c = runC(fionread, iterations, roundCount);
    return {
      name: 'backend-koffi/ioctl',
      arch: backend.arch,
      node: process.version,
      koffi: backend.koffiVersion,
      iterations,
      backendIoctl,
      rawIoctl,
      koffiCall,
      cIoctl: c.measurement,
      ...(c.skipped === undefined ? {} : { cSkipped: c.skipped }),
      ratioToC: c.measurement === undefined ? undefined : round(backendIoctl.nsPerCall / c.measurement.nsPerCall),
    };
  } finally {
    libc.close(r);
    libc.close(w);
  }
}

function measure(iterations: number, rounds: number, call: () => unknown): Measurement {
  for (let i = 0; i < Math.min(iterations, 20_000); i++) call(); // warm up the JIT and koffi's call path
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) call();
    samples.push(round(Number(process.hrtime.bigint() - start) / iterations));
  }
  return { nsPerCall: median(samples), rounds: samples };
}

function runC(request: number, iterations: number, rounds: number): { measurement?: Measurement; skipped?: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-ts-bench-'));
  try {
    const source = join(dir, 'ioctl.c');
    const binary = join(dir, 'ioctl');
    writeFileSync(source, cSource);
    try {
      execFileSync('cc', ['-O2', '-o', binary, source], { stdio: 'pipe' });
    } catch (error) {
      return { skipped: `cannot compile the C baseline with cc: ${(error as Error).message.split('\n')[0]}` };
    }
    const output = execFileSync(binary, [String(request), String(iterations), String(rounds)], { encoding: 'utf8' });
    const samples = output.trim().split('\n').map(Number);
    if (samples.length !== rounds || samples.some((s) => !Number.isFinite(s))) {
      throw new Error(`unexpected output from the C baseline: ${output}`);
    }
    return { measurement: { nsPerCall: median(samples), rounds: samples } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export default benchIoctl;

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchIoctl(), null, 2));
}
