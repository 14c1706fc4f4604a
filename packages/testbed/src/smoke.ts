// SPDX-License-Identifier: MIT
/**
 * The testbed's own checks, run first in every guest: the devices are bound, the booted kernel is the one
 * provisioned, and VFIO answers through koffi with request numbers from @vfio-ts/uapi for the guest's ABI.
 * They deliberately avoid @vfio-ts/backend-koffi so that a broken backend and a broken testbed tell apart.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { release } from 'node:os';
import { defineGuestChecks, type KernelTestContext } from './define.js';
import { guests, isGuestName } from './guests.js';

export const smoke = defineGuestChecks('testbed-smoke', {
  'devices are bound to vfio-pci with group nodes in /dev/vfio': (ctx) => {
    const entries = readdirSync('/dev/vfio');
    ctx.log(`/dev/vfio: ${entries.join(' ')}`);
    if (!entries.includes('vfio')) throw new Error(`/dev/vfio has no container node: ${entries.join(' ')}`);
    if (ctx.devices.length === 0) throw new Error('no device was bound to vfio-pci (see the guest console)');
    for (const d of ctx.devices) {
      if (!existsSync(d.groupPath))
        throw new Error(`${d.model} ${d.bdf} is in group ${d.group} but ${d.groupPath} is missing`);
      const driver = readFileSync(`/sys/bus/pci/devices/${d.bdf}/driver_override`, 'utf8').trim();
      if (driver !== 'vfio-pci') throw new Error(`${d.bdf} driver_override is '${driver}'`);
    }
  },

  'the VFIO device cdev and /dev/iommu are there exactly when the guest promises them': (ctx) => {
    const name = process.env.VFIO_TS_GUEST_NAME ?? '';
    if (!isGuestName(name)) return ctx.skip(`VFIO_TS_GUEST_NAME '${name}' names no guest of this testbed`);
    const promised = guests[name].cdev;
    const nodes = existsSync('/dev/vfio/devices') ? readdirSync('/dev/vfio/devices') : [];
    const iommu = existsSync('/dev/iommu');
    const withCdev = ctx.devices.filter((d) => d.cdev !== undefined);
    ctx.log(
      `/dev/vfio/devices: ${nodes.join(' ') || 'none'}; /dev/iommu: ${iommu ? 'yes' : 'no'}; ${ctx.devices.map((d) => `${d.bdf} ${d.cdev ?? '-'}`).join(', ')}`,
    );
    if (!promised) {
      if (nodes.length > 0 || iommu || withCdev.length > 0) {
        throw new Error(`${name} is not meant to have the VFIO device cdev or /dev/iommu`);
      }
      return;
    }
    if (!iommu) throw new Error('no /dev/iommu (is iommufd loaded?)');
    if (withCdev.length !== ctx.devices.length) {
      throw new Error('a device bound to vfio-pci has no vfio-dev node in sysfs');
    }
    for (const d of withCdev) {
      if (!existsSync(d.cdev as string)) throw new Error(`sysfs names ${d.cdev} for ${d.bdf}, but the node is missing`);
    }
  },

  '/proc/version names the running kernel': (ctx) => {
    const version = readFileSync('/proc/version', 'utf8');
    ctx.log(version.trim());
    if (!version.includes(release())) throw new Error(`/proc/version does not mention uname -r ${release()}`);
  },

  'VFIO_GET_API_VERSION and CHECK_EXTENSION through koffi': async (ctx) => {
    const uapi = await loadUapi(ctx);
    const arch = ctx.arch as Parameters<typeof uapi.ioctlNumber>[1];
    const libc = loadLibc();
    const sys = uapi.systemConstants(arch);
    const fd = libc.open('/dev/vfio/vfio', sys.O_RDWR | sys.O_CLOEXEC);
    if (fd < 0) throw new Error(`open /dev/vfio/vfio failed: errno ${libc.errno()}`);
    try {
      const version = libc.ioctl(fd, uapi.ioctlNumber('VFIO_GET_API_VERSION', arch));
      if (version !== uapi.VFIO_API_VERSION) {
        throw new Error(
          `VFIO_GET_API_VERSION returned ${version} (errno ${libc.errno()}), uapi says ${uapi.VFIO_API_VERSION}`,
        );
      }
      // The extension that must be there for this guest's IOMMU, and one that must not (never trust one answer).
      const [present, absent] =
        arch === 'ppc64le'
          ? (['VFIO_SPAPR_TCE_v2_IOMMU', 'VFIO_TYPE1v2_IOMMU'] as const)
          : (['VFIO_TYPE1v2_IOMMU', 'VFIO_SPAPR_TCE_v2_IOMMU'] as const);
      const check = uapi.ioctlNumber('VFIO_CHECK_EXTENSION', arch);
      const yes = libc.ioctl(fd, check, uapi[present]);
      const no = libc.ioctl(fd, check, uapi[absent]);
      ctx.log(`API version ${version}; CHECK_EXTENSION ${present}=${yes} ${absent}=${no}`);
      if (yes !== 1 || no !== 0)
        throw new Error(`CHECK_EXTENSION ${present}=${yes} (want 1), ${absent}=${no} (want 0)`);
    } finally {
      libc.close(fd);
    }
  },
});

export default smoke;

type Uapi = typeof import('@vfio-ts/uapi');

async function loadUapi(ctx: KernelTestContext): Promise<Uapi> {
  try {
    return await import('@vfio-ts/uapi');
  } catch (error) {
    return ctx.skip(`@vfio-ts/uapi is not available: ${(error as Error).message}`);
  }
}

interface SmokeLibc {
  open(path: string, flags: number): number;
  close(fd: number): number;
  ioctl(fd: number, request: number, arg?: number): number;
  errno(): number;
}

function loadLibc(): SmokeLibc {
  const koffi = createRequire(import.meta.url)('koffi') as {
    load(name: string): { func(signature: string): (...args: unknown[]) => number };
    errno(): number;
  };
  const lib = koffi.load('libc.so.6');
  // open and ioctl are variadic in C; declaring them so keeps the call ABI-correct on ppc64le (ELFv2 needs the
  // caller's parameter save area for variadic callees).
  const open = lib.func('int open(const char *path, int flags, ...)');
  const close = lib.func('int close(int fd)');
  const ioctl = lib.func('int ioctl(int fd, unsigned long request, ...)');
  return {
    open: (path, flags) => open(path, flags),
    close: (fd) => close(fd),
    ioctl: (fd, request, arg) => (arg === undefined ? ioctl(fd, request) : ioctl(fd, request, 'unsigned long', arg)),
    errno: () => koffi.errno(),
  };
}
