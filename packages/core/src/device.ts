// SPDX-License-Identifier: MIT
/**
 * A device fd from VFIO_GROUP_GET_DEVICE_FD: info, regions, IRQs, reset. The device owns what it hands out —
 * region mmaps and interrupt eventfds — and releases them when it closes.
 */
import {
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_PCI_CONFIG_REGION_INDEX,
} from '@vfio-ts/uapi';
import type { Backend } from './backend.js';
import { VfioTsError } from './errors.js';
import type { Group } from './group.js';
import { disposeSymbol } from './internal/dispose.js';
import { callNone, callStruct, encodeScalar } from './internal/ioctl.js';
import { deviceClosed } from './internal/links.js';
import { Irq } from './irq.js';
import { PciConfig } from './pci-config.js';
import { Region } from './region.js';

export interface DeviceInfo {
  readonly flags: number;
  readonly numRegions: number;
  readonly numIrqs: number;
  /** A vfio-pci device (VFIO_DEVICE_FLAGS_PCI). */
  readonly pci: boolean;
  /** VFIO_DEVICE_RESET works (VFIO_DEVICE_FLAGS_RESET). */
  readonly resettable: boolean;
}

export interface SetIrqsOptions {
  readonly index: number;
  /** VFIO_IRQ_SET_DATA_* | VFIO_IRQ_SET_ACTION_*. */
  readonly flags: number;
  readonly start: number;
  /** Vectors affected; defaults to the length of `eventfds` or `bools`, else 1. */
  readonly count?: number;
  /** DATA_EVENTFD: one fd per vector, -1 to tear a vector's trigger down. */
  readonly eventfds?: readonly number[];
  /** DATA_BOOL: one flag per vector. */
  readonly bools?: readonly boolean[];
}

export class Device {
  readonly group: Group;
  readonly backend: Backend;
  readonly fd: number;
  /** The name it was opened by (the PCI address for vfio-pci). */
  readonly name: string;
  #closed = false;
  #info: DeviceInfo | undefined;
  readonly #regions = new Map<number, Region>();
  readonly #irqs = new Map<number, Irq>();
  #pci: PciConfig | undefined;

  /** Use `group.device(name)`. */
  constructor(group: Group, fd: number, name: string) {
    this.group = group;
    this.backend = group.backend;
    this.fd = fd;
    this.name = name;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** VFIO_DEVICE_GET_INFO (asked once). */
  info(): DeviceInfo {
    this.#live();
    if (this.#info === undefined) {
      const { value } = callStruct(this.backend, this.fd, 'device', 'VFIO_DEVICE_GET_INFO', {});
      this.#info = {
        flags: value.flags,
        numRegions: value.numRegions,
        numIrqs: value.numIrqs,
        pci: (value.flags & VFIO_DEVICE_FLAGS_PCI) !== 0,
        resettable: (value.flags & VFIO_DEVICE_FLAGS_RESET) !== 0,
      };
    }
    return this.#info;
  }

  /** A region by index (VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX, …); its info is asked once. */
  region(index: number): Region {
    this.#live();
    let region = this.#regions.get(index);
    if (region === undefined) {
      region = new Region(this, index);
      this.#regions.set(index, region);
    }
    return region;
  }

  /** An IRQ index (VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, …). */
  irq(index: number): Irq {
    this.#live();
    let irq = this.#irqs.get(index);
    if (irq === undefined) {
      irq = new Irq(this, index);
      this.#irqs.set(index, irq);
    }
    return irq;
  }

  /** PCI configuration space (vfio-pci devices). */
  get pci(): PciConfig {
    if (this.#pci === undefined) {
      if (!this.info().pci) throw new VfioTsError('VFIO_TS_NOT_PCI', `${this.name} is not a vfio-pci device`);
      this.#pci = new PciConfig(this.region(VFIO_PCI_CONFIG_REGION_INDEX));
    }
    return this.#pci;
  }

  /** VFIO_DEVICE_RESET. EINVAL when the device cannot be reset (see `info().resettable`). */
  reset(): void {
    this.#live();
    callNone(this.backend, this.fd, 'device', 'VFIO_DEVICE_RESET');
  }

  /**
   * VFIO_DEVICE_SET_IRQS. The eventfds travel as native-endian __s32 (rust-vmm once sent them in the wrong order
   * on big-endian hosts), booleans as one byte each.
   */
  setIrqs(options: SetIrqsOptions): void {
    this.#live();
    let trailing = new Uint8Array(0);
    let count = options.count;
    if ((options.flags & VFIO_IRQ_SET_DATA_EVENTFD) !== 0) {
      const fds = options.eventfds ?? [];
      count ??= fds.length;
      trailing = new Uint8Array(fds.length * 4);
      for (const [i, fd] of fds.entries()) trailing.set(encodeScalar('__s32', fd, this.backend.littleEndian), i * 4);
    } else if ((options.flags & VFIO_IRQ_SET_DATA_BOOL) !== 0) {
      const bools = options.bools ?? [];
      count ??= bools.length;
      trailing = Uint8Array.from(bools, (b) => (b ? 1 : 0));
    }
    callStruct(
      this.backend,
      this.fd,
      'device',
      'VFIO_DEVICE_SET_IRQS',
      { flags: options.flags, index: options.index, start: options.start, count: count ?? 1 },
      { trailing },
    );
  }

  /** Unmaps region mmaps and drops interrupt eventfds, then closes the fd (the kernel disables interrupts). */
  close(): void {
    if (this.#closed) return;
    const errors: unknown[] = [];
    for (const region of this.#regions.values()) {
      try {
        region.unmapAll();
      } catch (error) {
        errors.push(error);
      }
    }
    this.#closed = true;
    try {
      this.backend.close(this.fd);
    } catch (error) {
      errors.push(error);
    }
    // After the device fd is closed the kernel no longer holds our eventfds, so closing them cannot race a trigger.
    for (const irq of this.#irqs.values()) {
      try {
        irq.release();
      } catch (error) {
        errors.push(error);
      }
    }
    this.group[deviceClosed](this);
    if (errors.length > 0) throw errors[0];
  }

  [disposeSymbol](): void {
    this.close();
  }

  #live(): void {
    if (this.#closed) throw new VfioTsError('VFIO_TS_CLOSED', `the device ${this.name} is closed`);
  }
}
