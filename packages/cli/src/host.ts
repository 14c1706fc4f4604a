// SPDX-License-Identifier: MIT
/**
 * Where a command runs: the in-process simulator (a SimKernel and one process in it) or this machine through koffi.
 * Both give a `Backend`; this file adds what the commands need around it — which IOMMU groups exist and what
 * is in them (sysfs on a real host, the profile on the simulator), locked memory, and the errors that tell a user
 * what to do when VFIO is missing.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { type PlatformProfile, profiles, SimKernel, type SimProcessBackend } from '@vfio-ts/backend-sim';
import { lockedVm } from '@vfio-ts/backend-sim/testing';
import type { Backend } from '@vfio-ts/core';

/** A failure the user can act on: `message` says what went wrong, `advice` what to do. Exit status 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly code: string;
  readonly advice: readonly string[];
  constructor(code: string, message: string, advice: readonly string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.advice = advice;
  }
}

export interface HostDevice {
  /** The PCI address, the name VFIO_GROUP_GET_DEVICE_FD takes. */
  readonly name: string;
  /** 'vendor:device' in hex, e.g. '1234:11e8'. */
  readonly id: string | undefined;
  /** The host driver bound to it: 'vfio-pci', another driver's name, or null. */
  readonly driver: string | null;
  /** What the device is, where known ('edu', 'e1000'). */
  readonly model: string | undefined;
}

export interface HostGroup {
  readonly id: number;
  readonly devices: readonly HostDevice[];
  /** /dev/vfio/<id> exists (a group is there only while its devices are bound to vfio-pci). */
  readonly node: boolean;
}

export interface Host {
  readonly kind: 'sim' | 'koffi';
  /** "simulated ppc64le-pseries" or "this host (x86_64, koffi)". */
  readonly label: string;
  readonly backend: Backend;
  /** The simulator, for the kernel's own view of mappings and TCEs (undefined on a real host). */
  readonly sim: { readonly kernel: SimKernel; readonly backend: SimProcessBackend } | undefined;
  groups(): HostGroup[];
  /** locked_vm of this process in bytes (VmLck), or undefined where it cannot be read. */
  lockedBytes(): bigint | undefined;
}

export const SIM_PROFILES = ['x86_64-q35', 'ppc64le-pseries'] as const;

const EDU_ID = '1234:11e8';

/**
 * The simulated machine for a profile name. On pseries, edu gets `dma_mask=0xffffffffffffffff` as on the real
 * testbed guest (QEMU's default 28-bit mask cannot reach a dynamic window at 0x0800000000000000).
 */
export function simHost(profileName: string): Host {
  const base = profiles[profileName];
  if (base === undefined) {
    throw new CliError('VFIO_TS_CLI_UNKNOWN_PROFILE', `unknown simulator profile '${profileName}'`, [
      `choose one of: ${Object.keys(profiles).join(', ')}`,
    ]);
  }
  return simHostFor(base.arch.startsWith('ppc64') ? { ...base, eduDmaMask: (1n << 64n) - 1n } : base);
}

/** A simulated machine from a whole profile, taken as it is. */
export function simHostFor(profile: PlatformProfile): Host {
  const kernel = SimKernel.create(profile);
  const backend = kernel.createProcess();
  const models = new Map<string, string>();
  for (const g of profile.groups) for (const d of g.devices) models.set(d.name, d.model);
  return {
    kind: 'sim',
    label: `simulated ${profile.name} (${profile.arch}, ${profile.iommuDrivers.map((d) => d.name).join(', ')})`,
    backend,
    sim: { kernel, backend },
    groups: () =>
      [...kernel.iommuGroups.values()].map((g) => ({
        id: g.id,
        node: kernel.vfioGroups.has(g.id),
        devices: g.devices.map((d) => {
          const model = models.get(d.name);
          return {
            name: d.name,
            id: model === 'edu' ? EDU_ID : model === 'e1000' ? '8086:100e' : undefined,
            driver: d.driver,
            model,
          };
        }),
      })),
    lockedBytes: () => BigInt(lockedVm(backend)) * BigInt(backend.pageSize),
  };
}

const noVfioAdvice = [
  'load VFIO: `modprobe vfio-pci` (and vfio_iommu_type1 on x86/arm, vfio_iommu_spapr_tce on POWER)',
  'enable the IOMMU: `intel_iommu=on` or `amd_iommu=on` on the kernel command line (check `dmesg | grep -i iommu`)',
  'bind a device: `echo vfio-pci > /sys/bus/pci/devices/<BDF>/driver_override && echo <BDF> > /sys/bus/pci/drivers_probe`',
  'no hardware? the simulator runs everything here: `vfio-ts demo` or `vfio-ts inspect --sim x86_64-q35`',
];

/**
 * This machine through koffi. Checks for /dev/vfio first, so that a host without VFIO gets the steps to set it up
 * instead of an ENOENT from deep inside a call. `root` is for tests ('/' otherwise).
 */
export async function koffiHost(options: { readonly root?: string } = {}): Promise<Host> {
  const root = options.root ?? '/';
  const dev = `${root.replace(/\/$/, '')}/dev/vfio`;
  if (!existsSync(dev)) {
    throw new CliError(
      'VFIO_TS_CLI_NO_VFIO',
      `${dev} does not exist: VFIO is not available on this host`,
      noVfioAdvice,
    );
  }
  if (!existsSync(`${dev}/vfio`)) {
    throw new CliError(
      'VFIO_TS_CLI_NO_VFIO',
      `${dev}/vfio does not exist: the vfio module is not loaded`,
      noVfioAdvice,
    );
  }
  let mod: typeof import('@vfio-ts/backend-koffi');
  try {
    mod = await import('@vfio-ts/backend-koffi');
  } catch (error) {
    throw new CliError(
      'VFIO_TS_CLI_NO_KOFFI',
      '@vfio-ts/backend-koffi is not installed: it carries the real system calls',
      ['install it next to @vfio-ts/cli: `npm install @vfio-ts/backend-koffi`'],
      { cause: error },
    );
  }
  const backend = mod.createKoffiBackend();
  const sysGroups = `${root.replace(/\/$/, '')}/sys/kernel/iommu_groups`;
  return {
    kind: 'koffi',
    label: `this host (${backend.arch}, koffi)`,
    backend,
    sim: undefined,
    groups: () => hostGroups(sysGroups, dev),
    lockedBytes: () => readVmLck(),
  };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The IOMMU groups in sysfs with their devices and drivers; groups with a /dev/vfio node first. */
export function hostGroups(sysGroups: string, dev: string): HostGroup[] {
  let ids: number[] = [];
  try {
    ids = readdirSync(sysGroups)
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {
    // No sysfs view (a container, a chroot): fall back to the nodes in /dev/vfio.
  }
  let nodes: number[] = [];
  try {
    nodes = readdirSync(dev)
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {}
  for (const n of nodes) if (!ids.includes(n)) ids.push(n);
  ids.sort((a, b) => a - b);
  return ids.map((id) => {
    let names: string[] = [];
    try {
      names = readdirSync(`${sysGroups}/${id}/devices`);
    } catch {}
    const devices = names.map((name) => {
      const path = `${sysGroups}/${id}/devices/${name}`;
      const vendor = read(`${path}/vendor`);
      const device = read(`${path}/device`);
      const id2 =
        vendor !== undefined && device !== undefined
          ? `${vendor.replace(/^0x/, '')}:${device.replace(/^0x/, '')}`
          : undefined;
      let driver: string | null = null;
      try {
        driver = basename(readlinkSync(`${path}/driver`));
      } catch {}
      return { name, id: id2, driver, model: id2 === EDU_ID ? 'edu' : undefined };
    });
    return { id, devices, node: nodes.includes(id) };
  });
}

function readVmLck(): bigint | undefined {
  const m = /^VmLck:\s+(\d+) kB$/m.exec(read('/proc/self/status') ?? '');
  return m === null ? undefined : BigInt(m[1]!) * 1024n;
}

/** Advice for a group that is not viable: which devices hold it back and how to hand them to vfio-pci. */
export function viabilityAdvice(group: HostGroup): string[] {
  const blockers = group.devices.filter((d) => d.driver !== null && d.driver !== 'vfio-pci');
  if (blockers.length === 0) {
    return [`every device of IOMMU group ${group.id} must be bound to vfio-pci or to no driver`];
  }
  return blockers.map(
    (d) =>
      `${d.name} is bound to ${d.driver}: unbind it (\`echo ${d.name} > /sys/bus/pci/devices/${d.name}/driver/unbind\`) ` +
      `or hand it to vfio-pci (\`echo vfio-pci > /sys/bus/pci/devices/${d.name}/driver_override && echo ${d.name} > /sys/bus/pci/drivers_probe\`)`,
  );
}

/** Advice for a group without a /dev/vfio node: bind each of its devices to vfio-pci. */
export function bindAdvice(group: HostGroup): string[] {
  const unbound = group.devices.filter((d) => d.driver !== 'vfio-pci');
  const names = unbound.length > 0 ? unbound : group.devices;
  if (names.length === 0) return [`bind the devices of IOMMU group ${group.id} to vfio-pci`];
  return names.map(
    (d) =>
      `${d.name}${d.driver !== null ? ` (now bound to ${d.driver})` : ''}: \`echo vfio-pci > /sys/bus/pci/devices/${d.name}/driver_override ` +
      `&& echo ${d.name} > /sys/bus/pci/drivers_probe\`` +
      (d.driver !== null && d.driver !== 'vfio-pci'
        ? ` after \`echo ${d.name} > /sys/bus/pci/devices/${d.name}/driver/unbind\``
        : ''),
  );
}
