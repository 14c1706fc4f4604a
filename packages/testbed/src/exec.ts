// SPDX-License-Identifier: MIT
import { spawn, spawnSync } from 'node:child_process';
import { TestbedError } from './errors.js';

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number;
}

export interface ExecOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Accept a non-zero exit instead of throwing. */
  readonly allowFailure?: boolean;
  readonly input?: string | Buffer;
}

/** Runs a command to completion. A missing program or a non-zero exit throws a TestbedError carrying stderr. */
export function exec(command: string, args: readonly string[], options: ExecOptions = {}): ExecResult {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    input: options.input,
    encoding: 'buffer',
    maxBuffer: 512 * 1024 * 1024,
  });
  if (result.error !== undefined) {
    const code = (result.error as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? ` (is it installed? run .ci/testbed-deps.sh)` : '';
    throw new TestbedError('VFIO_TS_TESTBED_EXEC', `cannot run ${command}: ${result.error.message}${hint}`);
  }
  const out = { stdout: result.stdout.toString(), stderr: result.stderr.toString(), status: result.status ?? -1 };
  if (out.status !== 0 && options.allowFailure !== true) {
    throw new TestbedError(
      'VFIO_TS_TESTBED_EXEC',
      `${command} ${args.join(' ')} exited with ${out.status}${result.signal ? ` (${result.signal})` : ''}:\n${tail(out.stderr || out.stdout, 20)}`,
    );
  }
  return out;
}

/** Runs a command asynchronously (for long downloads, so timeouts and signals stay responsive). */
export function execAsync(command: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: 'pipe' });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => stdout.push(b));
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    child.on('error', (error) =>
      reject(new TestbedError('VFIO_TS_TESTBED_EXEC', `cannot run ${command}: ${error.message}`)),
    );
    child.on('close', (status, signal) => {
      const out = {
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
        status: status ?? -1,
      };
      if (out.status !== 0 && options.allowFailure !== true) {
        reject(
          new TestbedError(
            'VFIO_TS_TESTBED_EXEC',
            `${command} ${args.join(' ')} exited with ${status ?? signal}:\n${tail(out.stderr || out.stdout, 20)}`,
          ),
        );
      } else {
        resolve(out);
      }
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

export function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}
