// SPDX-License-Identifier: MIT
/**
 * The guests the testbed can boot. A guest is a machine (architecture, QEMU machine, IOMMU) plus a kernel; its name
 * is its id everywhere (cache directory, CLI, reports). The first guest of each architecture is named after the
 * architecture, so `--arch x86_64` and `runInGuest({ arch: 'x86_64' })` keep meaning what they always did.
 */
import { TestbedError } from './errors.js';
import type { GuestArch } from './paths.js';

export type GuestName = 'x86_64' | 'ppc64le' | 'x86_64-6.12';

/**
 * Kernel modules rebuilt from Debian's own source of the guest's kernel, with config options Debian leaves off.
 * Only VFIO and iommufd: the kernel image and every other module are Debian's, unchanged.
 */
export interface ModuleRebuild {
  /** Debian's kernel flavour (`linux-image-<abi>-<flavour>`), to find the matching headers package. */
  readonly flavour: string;
  /** The options switched on for the rebuilt modules. */
  readonly config: Readonly<Record<string, 'y' | 'm'>>;
  /** Why, for reports. */
  readonly reason: string;
}

export interface KernelRecipe {
  /** The metapackage that names the kernel (`linux-image-amd64`); its first dependency is the image package. */
  readonly meta: string;
  /** Suite to take the metapackage from (`bookworm-backports`); default: apt's candidate. */
  readonly suite?: string;
  /**
   * Suites of a private apt configuration (own sources, lists, cache, status under the testbed's cache), for
   * packages the host's apt does not offer. Undefined: the host's apt (packages of the host's architecture only).
   */
  readonly aptSuites?: readonly string[];
  /** The kernel file in the package's /boot (the name minus this prefix is `uname -r`). */
  readonly file: RegExp;
  /** Modules init loads; their dependencies come from modules.dep. */
  readonly modules: readonly string[];
  readonly rebuild?: ModuleRebuild;
}

export interface GuestSpec {
  readonly name: GuestName;
  readonly arch: GuestArch;
  /** One line for reports. */
  readonly description: string;
  readonly kernel: KernelRecipe;
  /** The @vfio-ts/backend-sim platform profile that models this guest. */
  readonly simProfile: string;
  /**
   * Whether the kernel has the VFIO device cdev (/dev/vfio/devices/vfioN) and /dev/iommu. The smoke checks hold
   * the guest to it, so that a guest that lost them fails instead of skipping every cdev case.
   */
  readonly cdev: boolean;
  /** Default wall-clock bound for one boot + entry + power-off under TCG. */
  readonly timeoutMs: number;
}

const privateSuites = ['bookworm', 'bookworm-backports'] as const;

/**
 * Why these kernels: x86_64 runs bookworm's own 6.1 (what most Debian 12 hosts run); ppc64le needs 6.12 from
 * bookworm-backports, because on bookworm's 6.1 vfio-pci's probe fails with EINVAL on pseries (pSeries VFIO
 * support arrived around 6.9) even though CHECK_EXTENSION still answers 1. The `powerpc64le` flavour has 4 KiB
 * pages; `-64k` would give what POWER systems usually run, with different page-size-dependent results.
 *
 * x86_64-6.12 is the same q35 machine with bookworm-backports' 6.12, for the VFIO device cdev and /dev/iommu
 * (6.6+). Debian builds every amd64 kernel without CONFIG_IOMMUFD (checked: bookworm-backports 6.12.95, trixie
 * 6.12.117, trixie-backports 7.3.4, all flavours), and VFIO_DEVICE_CDEV depends on it; so the guest boots Debian's
 * 6.12 image with vfio, vfio_iommu_type1, vfio-pci(-core) and iommufd rebuilt from the same package version's
 * source (linux-source-6.12) with CONFIG_IOMMUFD=m and CONFIG_VFIO_DEVICE_CDEV=y, which is how other
 * distributions ship them.
 */
export const guests: Readonly<Record<GuestName, GuestSpec>> = {
  x86_64: {
    name: 'x86_64',
    arch: 'x86_64',
    description: 'q35 + intel-iommu, Debian bookworm 6.1',
    kernel: {
      meta: 'linux-image-amd64',
      file: /^vmlinuz-/,
      modules: ['virtio_pci', '9pnet_virtio', '9p', 'vfio_pci', 'vfio_iommu_type1'],
    },
    simProfile: 'x86_64-q35',
    cdev: false,
    timeoutMs: 180_000,
  },
  ppc64le: {
    name: 'ppc64le',
    arch: 'ppc64le',
    description: 'pseries POWER9, Debian bookworm-backports 6.12 (4 KiB pages)',
    kernel: {
      meta: 'linux-image-powerpc64le',
      suite: 'bookworm-backports',
      aptSuites: privateSuites,
      file: /^vmlinux-/,
      modules: ['virtio_pci', '9pnet_virtio', '9p', 'vfio_pci', 'vfio_iommu_spapr_tce'],
    },
    simProfile: 'ppc64le-pseries',
    cdev: false,
    timeoutMs: 600_000,
  },
  'x86_64-6.12': {
    name: 'x86_64-6.12',
    arch: 'x86_64',
    description: 'q35 + intel-iommu, Debian bookworm-backports 6.12, VFIO device cdev and iommufd',
    kernel: {
      meta: 'linux-image-amd64',
      suite: 'bookworm-backports',
      aptSuites: privateSuites,
      file: /^vmlinuz-/,
      modules: ['virtio_pci', '9pnet_virtio', '9p', 'vfio_pci', 'vfio_iommu_type1', 'iommufd'],
      rebuild: {
        flavour: 'amd64',
        config: { IOMMUFD: 'm', VFIO_DEVICE_CDEV: 'y' },
        reason: "Debian's amd64 kernels are built without CONFIG_IOMMUFD, so without the VFIO device cdev",
      },
    },
    simProfile: 'x86_64-q35-6.12',
    cdev: true,
    timeoutMs: 240_000,
  },
};

/** Every guest, in the order `test-kernel` boots them when none is named. */
export const guestNames: readonly GuestName[] = ['x86_64', 'ppc64le', 'x86_64-6.12'];

export function isGuestName(value: string): value is GuestName {
  return (guestNames as readonly string[]).includes(value);
}

/** The architecture (ABI, QEMU machine family) of a guest. */
export function guestArch(name: GuestName): GuestArch {
  return guests[name].arch;
}

/** How callers name a guest: `guest`, or (as before guests had names of their own) the architecture's first guest. */
export interface GuestSelector {
  readonly guest?: GuestName;
  /** An architecture names its first guest: `'x86_64'` is the 6.1 guest. With `guest`, the two must agree. */
  readonly arch?: GuestArch;
}

export function resolveGuest(selector: GuestSelector): GuestName {
  const { guest, arch } = selector;
  if (guest !== undefined) {
    if (!isGuestName(guest)) {
      throw new TestbedError('VFIO_TS_TESTBED_ENV', `unknown guest '${guest}' (have ${guestNames.join(', ')})`);
    }
    if (arch !== undefined && guests[guest].arch !== arch) {
      throw new TestbedError('VFIO_TS_TESTBED_ENV', `guest '${guest}' is ${guests[guest].arch}, not ${arch}`);
    }
    return guest;
  }
  if (arch === undefined) throw new TestbedError('VFIO_TS_TESTBED_ENV', 'name a guest (or an arch)');
  if (!isGuestName(arch)) {
    throw new TestbedError('VFIO_TS_TESTBED_ENV', `unknown guest arch '${arch}' (have ${guestNames.join(', ')})`);
  }
  return arch;
}

/** A comma-separated list of guest names (`x86_64,x86_64-6.12`); all guests when undefined. */
export function parseGuestList(value: string | undefined): GuestName[] {
  if (value === undefined) return [...guestNames];
  const names = value
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (names.length === 0) throw new TestbedError('VFIO_TS_TESTBED_ENV', 'the guest list is empty');
  for (const n of names) {
    if (!isGuestName(n)) {
      throw new TestbedError('VFIO_TS_TESTBED_ENV', `unknown guest '${n}' (have ${guestNames.join(', ')})`);
    }
  }
  return [...new Set(names)] as GuestName[];
}
