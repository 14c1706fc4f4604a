// SPDX-License-Identifier: MIT
/**
 * One IRQ index of a device (INTx, MSI, MSI-X, error, request): its info, and interrupts delivered through
 * eventfds as promises and async iterators.
 */
import {
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
} from '@vfio-ts/uapi';
import type { Device } from './device.js';
import { VfioTsError } from './errors.js';
import { callStruct } from './internal/ioctl.js';

export interface IrqInfo {
  readonly index: number;
  readonly flags: number;
  /** Vectors in this index (0 when the device has none of this kind). */
  readonly count: number;
  /** Can signal through an eventfd (VFIO_IRQ_INFO_EVENTFD). */
  readonly eventfd: boolean;
  readonly maskable: boolean;
  /** Masked by the kernel when it fires (INTx): unmask after handling. */
  readonly automasked: boolean;
  /** The vector count cannot change while enabled (VFIO_IRQ_INFO_NORESIZE). */
  readonly noresize: boolean;
}

export interface WaitOptions {
  readonly signal?: AbortSignal;
}

export class Irq {
  readonly device: Device;
  readonly info: IrqInfo;
  #eventfds: number[] = [];
  #stop: AbortController | undefined;

  /** Use `device.irq(index)`. */
  constructor(device: Device, index: number) {
    this.device = device;
    const { value } = callStruct(device.backend, device.fd, 'device', 'VFIO_DEVICE_GET_IRQ_INFO', { index });
    this.info = {
      index: value.index,
      flags: value.flags,
      count: value.count,
      eventfd: (value.flags & VFIO_IRQ_INFO_EVENTFD) !== 0,
      maskable: (value.flags & VFIO_IRQ_INFO_MASKABLE) !== 0,
      automasked: (value.flags & VFIO_IRQ_INFO_AUTOMASKED) !== 0,
      noresize: (value.flags & VFIO_IRQ_INFO_NORESIZE) !== 0,
    };
  }

  get index(): number {
    return this.info.index;
  }

  get enabled(): boolean {
    return this.#eventfds.length > 0;
  }

  /** The eventfd of each enabled vector. */
  get eventfds(): readonly number[] {
    return [...this.#eventfds];
  }

  /** VFIO_DEVICE_SET_IRQS DATA_EVENTFD|ACTION_TRIGGER for vectors [0, count): one new eventfd each. */
  enable(count = 1): void {
    if (this.enabled) throw new VfioTsError('VFIO_TS_IRQ_ENABLED', `IRQ index ${this.index} is already enabled`);
    const { backend } = this.device;
    const fds: number[] = [];
    try {
      for (let i = 0; i < count; i++) fds.push(backend.eventfd());
      this.device.setIrqs({
        index: this.index,
        flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
        start: 0,
        eventfds: fds,
      });
    } catch (error) {
      for (const fd of fds) backend.close(fd);
      throw error;
    }
    this.#eventfds = fds;
    this.#stop = new AbortController();
  }

  /** VFIO_DEVICE_SET_IRQS DATA_NONE|ACTION_TRIGGER with count 0, then the eventfds are closed and waiters end. */
  disable(): void {
    if (!this.enabled) return;
    this.device.setIrqs({
      index: this.index,
      flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
      start: 0,
      count: 0,
    });
    this.#release();
  }

  /** For Device.close: the kernel disables interrupts when the device fd closes; only our side is left to undo. */
  release(): void {
    this.#release();
  }

  /** Unmasks a vector (after handling an automasked INTx). */
  unmask(vector = 0): void {
    this.#action(VFIO_IRQ_SET_ACTION_UNMASK, vector);
  }

  mask(vector = 0): void {
    this.#action(VFIO_IRQ_SET_ACTION_MASK, vector);
  }

  /** Fires a vector from software (the kernel signals its eventfd): a loopback test of the wiring. */
  trigger(vector = 0): void {
    this.#action(VFIO_IRQ_SET_ACTION_TRIGGER, vector);
  }

  /** The next interrupt of a vector: resolves with the eventfd's counter (interrupts since the last read). */
  async next(vector = 0, options: WaitOptions = {}): Promise<bigint> {
    const fd = this.#eventfds[vector];
    const stop = this.#stop;
    if (fd === undefined || stop === undefined) {
      throw new VfioTsError('VFIO_TS_IRQ_DISABLED', `IRQ index ${this.index} vector ${vector} is not enabled`);
    }
    const signal = options.signal === undefined ? stop.signal : AbortSignal.any([stop.signal, options.signal]);
    try {
      return await this.device.backend.readEventfd(fd, { signal });
    } catch (error) {
      if (stop.signal.aborted && options.signal?.aborted !== true) {
        throw new VfioTsError('VFIO_TS_IRQ_DISABLED', `IRQ index ${this.index} was disabled while waiting`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  /** Interrupts of a vector as they come; ends when the IRQ is disabled or the signal aborts. */
  async *events(vector = 0, options: WaitOptions = {}): AsyncGenerator<bigint, void, undefined> {
    for (;;) {
      try {
        yield await this.next(vector, options);
      } catch (error) {
        if (options.signal?.aborted === true) return;
        if (error instanceof VfioTsError && error.code === 'VFIO_TS_IRQ_DISABLED') return;
        throw error;
      }
    }
  }

  #action(action: number, vector: number): void {
    this.device.setIrqs({ index: this.index, flags: VFIO_IRQ_SET_DATA_NONE | action, start: vector, count: 1 });
  }

  #release(): void {
    this.#stop?.abort();
    this.#stop = undefined;
    const fds = this.#eventfds;
    this.#eventfds = [];
    let first: unknown;
    for (const fd of fds) {
      try {
        this.device.backend.close(fd);
      } catch (error) {
        first ??= error;
      }
    }
    if (first !== undefined) throw first;
  }
}
