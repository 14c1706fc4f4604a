// SPDX-License-Identifier: MIT
import { readdirSync } from 'node:fs';
import { expect } from 'vitest';
import { loadLibc } from '../src/raw.js';

/** Open descriptors of this process, to check that every test gives back what it took. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** A real pipe(2); its fds are unknown to the backend, as any fd from elsewhere would be. */
export function makePipe(): [number, number] {
  const { result, fds } = loadLibc().pipe();
  if (result < 0) throw new Error('pipe(2) failed');
  return fds;
}

/** Runs `fn` and returns what it threw; fails the test if it did not throw. */
export function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (error) {
    return error;
  }
  expect.unreachable('expected a throw');
}

/** The helper pair: the call fails with this errno code, as a Node-style system error. */
export function expectErrno(code: string, syscall: string, fn: () => unknown): any {
  const error = thrown(fn);
  expect(error.name).toBe('VfioSystemError');
  expect(error.code).toBe(code);
  expect(error.syscall).toBe(syscall);
  expect(error.errno).toBeLessThan(0);
  return error;
}

/** The call is refused before any system call, with a stable VFIO_TS_* code. */
export function expectRefused(code: string, fn: () => unknown): any {
  const error = thrown(fn);
  expect(error.name).toBe('VfioTsError');
  expect(error.code).toBe(code);
  return error;
}
