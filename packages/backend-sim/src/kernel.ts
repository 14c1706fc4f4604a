// SPDX-License-Identifier: MIT
/**
 * SimKernel: one simulated machine — its RAM, processes, IOMMU groups and devices, the /dev/vfio namespace, and the
 * IOMMU drivers the platform registers. Everything here is reached through a process's `Backend`; tests reach inside
 * only through `@vfio-ts/backend-sim/testing`, which plugs into `hooks`.
 */
import { type Arch, ioctlNumber } from '@vfio-ts/uapi';
import { createDevice } from './devices/index.js';
import { type IommuFault, IommuGroup } from './iommu/iommu-group.js';
import { PhysicalMemory } from './mm/memory.js';
import { Process, type ProcessOptions } from './mm/process.js';
import { resolveProfile } from './platforms/index.js';
import { SimProcessBackend } from './process-backend.js';
import type { VfioDevice } from './vfio/device.js';
import { VfioGroup } from './vfio/group.js';
import type { VfioIommuDriverOps } from './vfio/iommu-driver.js';

/** A PCI function on the simulated bus: `model` picks the device emulation ('edu', 'e1000'). */
export interface DeviceSpec {
  /** pci_name(): "0000:01:00.0" */
  readonly name: string;
  readonly model: string;
  /** Who the device is bound to at boot; 'vfio-pci' unless said otherwise. */
  readonly driver?: 'vfio-pci' | 'host' | null;
  /**
   * Whether a function reset works (FLR, PM or a bus reset behind a bridge). QEMU's e1000 on q35's root bus has none
   * (measured: no VFIO_DEVICE_FLAGS_RESET); tests add one with `reset: true` to exercise VFIO_DEVICE_RESET.
   */
  readonly reset?: boolean;
  /** What firmware left in config space: BAR and ROM addresses, COMMAND, Interrupt Line (all 0 when absent). */
  readonly firmware?: DeviceFirmware;
}

export interface DeviceFirmware {
  readonly bars?: readonly number[];
  readonly rom?: number;
  readonly command?: number;
  readonly interruptLine?: number;
}

export interface GroupSpec {
  readonly id: number;
  readonly devices: readonly DeviceSpec[];
  /** Handed to IommuGroup.platformData (≙ the powerpc iommu_table_group parameters); shape owned by its driver. */
  readonly platformData?: unknown;
}

/** One range of valid IOVA, inclusive end, as VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE reports it. */
export interface IovaRange {
  readonly start: bigint;
  readonly end: bigint;
}

/** What type1 sees of the platform's IOMMU (intel-iommu on q35, SMMU on arm64…). */
export interface Type1Params {
  /** The IOMMU domain's page sizes (domain->pgsize_bitmap). */
  readonly pgsizeBitmap: bigint;
  /** Aperture minus non-relaxable reserved regions (MSI window, RMRRs) of every group. */
  readonly iovaRanges: readonly IovaRange[];
  /** Module parameter dma_entry_limit (default U16_MAX). */
  readonly dmaEntryLimit: number;
  /** domain->enforce_cache_coherency, answered by CHECK_EXTENSION(VFIO_DMA_CC_IOMMU). */
  readonly enforceCacheCoherency: boolean;
  /** Module parameter allow_unsafe_interrupts and the platform's interrupt remapping: attach is EPERM without both. */
  readonly interruptRemapping: boolean;
  readonly allowUnsafeInterrupts: boolean;
  /**
   * Kernel-version differences visible at the ioctl boundary. `capAlign8`: vfio_info_cap_add pads every capability
   * to 8 bytes (≈6.5+). `nestingExtension`: CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU) answers 1 (before ≈6.13).
   * `updateVaddrNeedsIommu`: CHECK_EXTENSION(VFIO_UPDATE_VADDR) is 0 before SET_IOMMU (6.3+, and stable backports).
   */
  readonly capAlign8: boolean;
  readonly nestingExtension: boolean;
  readonly updateVaddrNeedsIommu: boolean;
}

export interface PlatformProfile {
  readonly name: string;
  /** The simulated kernel's version, "major.minor": selects behaviour that changed at the ioctl boundary. */
  readonly kernelVersion?: string;
  readonly arch: Arch;
  readonly littleEndian: boolean;
  /** PAGE_SIZE of the simulated kernel: 4096, or 65536 on 64K-page powerpc kernels. */
  readonly pageSize: number;
  /** The VFIO IOMMU drivers this kernel has (type1 on x86/arm, spapr_tce on powerpc). */
  readonly iommuDrivers: readonly VfioIommuDriverOps<any>[];
  readonly groups: readonly GroupSpec[];
  readonly type1?: Type1Params;
  /** sPAPR platform parameters; shape owned by src/spapr. */
  readonly spapr?: unknown;
  /** Device registers follow the CPU's byte order (QEMU's edu is native-endian). */
  readonly deviceBigEndian?: boolean;
  /** edu's dma_mask property (QEMU default: 28 bits); DMA addresses are clamped to it. */
  readonly eduDmaMask?: bigint;
}

export type PlatformName = string;

export interface KernelController {
  /** Fault injection: true makes the named allocation/pin site fail. */
  shouldFail?(site: string): boolean;
  onIommuFault?(fault: IommuFault): void;
}

/** Test-only seams; with no controller attached every hook is a no-op. */
export class KernelHooks {
  private readonly controllers = new Set<KernelController>();

  attach(controller: KernelController): () => void {
    this.controllers.add(controller);
    return () => this.controllers.delete(controller);
  }

  shouldFail(site: string): boolean {
    for (const c of this.controllers) if (c.shouldFail?.(site)) return true;
    return false;
  }

  iommuFault(fault: IommuFault): void {
    for (const c of this.controllers) c.onIommuFault?.(fault);
  }
}

export interface SimKernelOptions {
  /** Profile overrides applied on top of the named profile (e.g. a smaller dma_entry_limit). */
  readonly type1?: Partial<Type1Params>;
}

export class SimKernel {
  readonly arch: Arch;
  readonly littleEndian: boolean;
  readonly pageSize: number;
  readonly profile: PlatformProfile;
  readonly hooks = new KernelHooks();
  readonly memory = new PhysicalMemory();
  readonly processes = new Map<number, Process>();
  readonly iommuGroups = new Map<number, IommuGroup>();
  /** /dev/vfio/<id> */
  readonly vfioGroups = new Map<number, VfioGroup>();
  /** ≙ vfio.device_ida: every registered vfio device by index (`/dev/vfio/devices/vfio<index>`). */
  readonly vfioDevices: VfioDevice[] = [];
  /** ≙ vfio.iommu_drivers_list */
  readonly iommuDrivers: VfioIommuDriverOps<any>[] = [];
  private nextPid = 1000;
  private readonly numbers = new Map<string, number>();

  private constructor(profile: PlatformProfile) {
    this.profile = profile;
    this.arch = profile.arch;
    this.littleEndian = profile.littleEndian;
    this.pageSize = profile.pageSize;
    for (const ops of profile.iommuDrivers) this.registerIommuDriver(ops);
    for (const spec of profile.groups) this.addGroup(spec);
  }

  static create(profile: PlatformProfile | PlatformName = 'x86_64-q35', options: SimKernelOptions = {}): SimKernel {
    let p = typeof profile === 'string' ? resolveProfile(profile) : profile;
    if (options.type1 !== undefined && p.type1 !== undefined) p = { ...p, type1: { ...p.type1, ...options.type1 } };
    return new SimKernel(p);
  }

  /** True when the simulated kernel is at least `version` ("6.2"); profiles without a version count as newest. */
  kernelAtLeast(version: string): boolean {
    const have = this.profile.kernelVersion;
    if (have === undefined) return true;
    const [a = 0, b = 0] = have.split('.').map(Number);
    const [x = 0, y = 0] = version.split('.').map(Number);
    return a !== x ? a > x : b >= y;
  }

  /** The request number of a VFIO ioctl on this kernel's architecture (cached). */
  nr(name: string): number {
    let n = this.numbers.get(name);
    if (n === undefined) {
      n = ioctlNumber(name as never, this.arch);
      this.numbers.set(name, n);
    }
    return n;
  }

  /** ≙ fork+exec of a new process: a fresh address space, fd table and limits. */
  createProcess(options: ProcessOptions = {}): SimProcessBackend {
    const process = new Process(this, this.nextPid++, options);
    this.processes.set(process.pid, process);
    return new SimProcessBackend(this, process);
  }

  /** ≙ vfio_register_iommu_driver */
  registerIommuDriver(ops: VfioIommuDriverOps<any>): void {
    if (!this.iommuDrivers.some((d) => d.name === ops.name)) this.iommuDrivers.push(ops);
  }

  /** ≙ iommu_group_alloc + device probe + vfio_register_group_dev for every device of the group. */
  addGroup(spec: GroupSpec): IommuGroup {
    const group = new IommuGroup(spec.id);
    group.platformData = spec.platformData ?? null;
    this.iommuGroups.set(spec.id, group);
    for (const d of spec.devices) group.devices.push(createDevice(this, group, d));
    this.vfioGroups.set(spec.id, new VfioGroup(this, group));
    return group;
  }
}
