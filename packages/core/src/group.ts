// SPDX-License-Identifier: MIT
/**
 * A VFIO group (/dev/vfio/<id>): the unit of isolation. It joins a container, hands out device fds, and owns them:
 * closing the group closes its devices first, because the kernel keeps a group alive while a device fd is open.
 */
import { VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE } from '@vfio-ts/uapi';
import type { Backend } from './backend.js';
import type { Container } from './container.js';
import { Device } from './device.js';
import { VfioTsError } from './errors.js';
import { disposeSymbol } from './internal/dispose.js';
import { callIntPointer, callNone, callString, callStruct, openNode } from './internal/ioctl.js';
import { deviceClosed, groupAttached, groupDetached, groupDetaching, releaseFromContainer } from './internal/links.js';

export interface GroupStatus {
  readonly flags: number;
  /** Every device of the group is bound to vfio-pci or to no driver (VFIO_GROUP_FLAGS_VIABLE). */
  readonly viable: boolean;
  /** The group is attached to a container (VFIO_GROUP_FLAGS_CONTAINER_SET). */
  readonly containerSet: boolean;
}

export class Group {
  readonly backend: Backend;
  readonly fd: number;
  readonly path: string;
  /** The IOMMU group number, when the path names one. */
  readonly id: number | undefined;
  #closed = false;
  #container: Container | undefined;
  readonly #devices: Device[] = [];

  private constructor(backend: Backend, fd: number, path: string) {
    this.backend = backend;
    this.fd = fd;
    this.path = path;
    const m = /(\d+)$/.exec(path);
    this.id = m === null ? undefined : Number(m[1]);
  }

  /** Opens /dev/vfio/<id> (or a path). A group opens once: a second open is EBUSY. */
  static open(backend: Backend, group: number | string): Group {
    const path = typeof group === 'number' ? `/dev/vfio/${group}` : group;
    return new Group(backend, openNode(backend, path), path);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get container(): Container | undefined {
    return this.#container;
  }

  get devices(): readonly Device[] {
    return [...this.#devices];
  }

  /** VFIO_GROUP_GET_STATUS. */
  status(): GroupStatus {
    this.#live();
    const { value } = callStruct(this.backend, this.fd, 'group', 'VFIO_GROUP_GET_STATUS', {});
    return {
      flags: value.flags,
      viable: (value.flags & VFIO_GROUP_FLAGS_VIABLE) !== 0,
      containerSet: (value.flags & VFIO_GROUP_FLAGS_CONTAINER_SET) !== 0,
    };
  }

  get viable(): boolean {
    return this.status().viable;
  }

  /** VFIO_GROUP_SET_CONTAINER. EPERM means the group is not viable (a device is bound to another driver). */
  setContainer(container: Container): void {
    this.#live();
    if (container.closed) throw new VfioTsError('VFIO_TS_CLOSED', 'VFIO_GROUP_SET_CONTAINER: the container is closed');
    if (container.backend !== this.backend) {
      throw new VfioTsError('VFIO_TS_FOREIGN_BACKEND', 'the container and the group belong to different backends');
    }
    callIntPointer(this.backend, this.fd, 'group', 'VFIO_GROUP_SET_CONTAINER', container.fd);
    this.#container = container;
    container[groupAttached](this);
  }

  /**
   * VFIO_GROUP_UNSET_CONTAINER. Device fds must be closed first (the kernel answers EBUSY). When this is the
   * container's last group, the container's mappings and registrations are undone first.
   */
  unsetContainer(): void {
    this.#live();
    const container = this.#container;
    if (container !== undefined && this.#devices.length === 0) container[groupDetaching](this);
    callNone(this.backend, this.fd, 'group', 'VFIO_GROUP_UNSET_CONTAINER');
    this.#container = undefined;
    container?.[groupDetached](this);
  }

  /** VFIO_GROUP_GET_DEVICE_FD: the group must be in a container whose IOMMU is set. */
  device(name: string): Device {
    this.#live();
    const fd = callString(this.backend, this.fd, 'group', 'VFIO_GROUP_GET_DEVICE_FD', name);
    let device: Device;
    try {
      device = new Device(this, fd, name);
    } catch (error) {
      this.backend.close(fd);
      throw error;
    }
    this.#devices.push(device);
    return device;
  }

  /** Closes the devices, leaves the container (undoing its DMA state if last), and closes the fd. */
  close(): void {
    if (this.#closed) return;
    const errors: unknown[] = [];
    for (const device of [...this.#devices].reverse()) {
      try {
        device.close();
      } catch (error) {
        errors.push(error);
      }
    }
    if (this.#container !== undefined) {
      try {
        this.unsetContainer();
      } catch (error) {
        errors.push(error);
        // Closing the fd detaches the group in the kernel anyway; keep the container's view in step.
        this.#container[groupDetached](this);
        this.#container = undefined;
      }
    }
    this.#closed = true;
    try {
      this.backend.close(this.fd);
    } catch (error) {
      errors.push(error);
    }
    if (errors.length > 0) throw errors[0];
  }

  [disposeSymbol](): void {
    this.close();
  }

  /** For Container.close: devices closed, then UNSET_CONTAINER; the group itself stays open. */
  [releaseFromContainer](): void {
    for (const device of [...this.#devices].reverse()) device.close();
    if (this.#container !== undefined) this.unsetContainer();
  }

  [deviceClosed](device: Device): void {
    const i = this.#devices.indexOf(device);
    if (i >= 0) this.#devices.splice(i, 1);
  }

  #live(): void {
    if (this.#closed) throw new VfioTsError('VFIO_TS_CLOSED', `the group ${this.path} is closed`);
  }
}
