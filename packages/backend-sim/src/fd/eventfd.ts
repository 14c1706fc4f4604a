// SPDX-License-Identifier: MIT
/** ≙ fs/eventfd.c: a counter that interrupts are delivered through. */
import { errnoNumber } from '@vfio-ts/uapi';
import { type FileOperations, SimFile } from './file.js';

const EBADF = errnoNumber('EBADF');
const EINVAL = errnoNumber('EINVAL');

const U64_MAX_MINUS_1 = 2n ** 64n - 2n;

/** ≙ struct eventfd_ctx: outlives the fd while a kernel user (an IRQ trigger) holds it. */
export class EventfdCtx {
  count: bigint;
  private waiters: Array<() => void> = [];
  /** How many times it was signalled (observability for tests). */
  signals = 0;
  /** Kernel consumers woken by a signal (≙ the wait-queue entries of virqfd/ioeventfd). */
  readonly listeners = new Set<() => void>();

  constructor(initval: bigint) {
    this.count = initval;
  }

  /** ≙ eventfd_signal */
  signal(n = 1n): void {
    this.signals++;
    this.count = this.count + n > U64_MAX_MINUS_1 ? U64_MAX_MINUS_1 : this.count + n;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
    for (const l of this.listeners) l();
  }

  /** Resolves once the counter is non-zero. */
  wait(signal?: AbortSignal): Promise<void> {
    if (this.count > 0n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        reject(signal?.reason ?? new Error('aborted'));
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(wake);
    });
  }
}

export const eventfdFops: FileOperations<EventfdCtx> = {};

export function eventfdFile(initval: bigint): SimFile<EventfdCtx> {
  return new SimFile<EventfdCtx>('eventfd', eventfdFops, new EventfdCtx(initval), 'anon_inode:[eventfd]');
}

/** ≙ eventfd_ctx_fdget: -EBADF for a closed fd, -EINVAL for a file that is not an eventfd. */
export function eventfdCtxFdget(file: SimFile | number): EventfdCtx | number {
  if (typeof file === 'number') return -EBADF;
  if (file.kind !== 'eventfd') return -EINVAL;
  return file.privateData as EventfdCtx;
}
