// SPDX-License-Identifier: MIT
/**
 * The VFIO device cdev (`/dev/vfio/devices/vfioN`) and iommufd (`/dev/iommu`): type1-core-semantics.md section 6
 * and scenarios 65-66, written once and run on both sides: against @vfio-ts/backend-sim's `x86_64-q35-6.12`
 * profile in `npm test` (test/cdev.test.ts) and against real kernels by `npm run test:kernel`. The cdev exists
 * only on 6.6+ kernels built with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV, never with sPAPR: elsewhere (the 6.1
 * and ppc64le guests, the simulator's 6.1 profile) every case is skipped, saying why. Which vfioN is edu's comes
 * from the guest's sysfs (`/sys/bus/pci/devices/<bdf>/vfio-dev/`, recorded by init in `ctx.devices[].cdev`).
 *
 * Every case leaves the kernel as it found it (all fds closed, even on failure), and the last two check that
 * closing in either order returns to the baseline: the group opens again and a fresh cdev binds with devid 1.
 */
import type { Backend } from '@vfio-ts/core';
import * as uapi from '@vfio-ts/uapi';
import { codec, type IoctlName, ioctlNumber, minArgsz, systemConstants } from '@vfio-ts/uapi';
import { defineKernelTests, expectErrno, type KernelTestContext } from '../../src/define.js';
import type { GuestDevice } from '../../src/devices.js';

type Arch = Parameters<typeof ioctlNumber>[1];

const noCdev =
  'this kernel has no VFIO device cdev (CONFIG_VFIO_DEVICE_CDEV: 6.6+, needs CONFIG_IOMMUFD, never with sPAPR)';

function call(backend: Backend, fd: number, name: IoctlName, arg?: Uint8Array | number): number {
  return backend.ioctl(fd, ioctlNumber(name, backend.arch as Arch), arg, { name });
}

/** The errno name a call fails with (for answers the kernel decides and the case records), or 'success'. */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'success';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string') throw error;
    return code;
  }
}

interface Edu {
  readonly device: GuestDevice;
  /** `/dev/vfio/devices/vfioN` */
  readonly cdev: string;
}

/** edu's cdev node, or a skip that says why there is none. */
function eduCdev(ctx: KernelTestContext): Edu {
  const device = ctx.devices.find((d) => d.model === 'edu') ?? ctx.skip('no edu device is bound to vfio-pci');
  if (device.cdev === undefined) {
    return ctx.skip(`no /dev/vfio/devices node for ${device.bdf}: ${noCdev}`);
  }
  return { device, cdev: device.cdev };
}

/** Another device bound to vfio-pci, in another group (the e1000). */
function otherGroup(ctx: KernelTestContext, edu: GuestDevice): GuestDevice {
  return (
    ctx.devices.find((d) => d.group !== edu.group) ??
    ctx.skip(`no device outside edu's group ${edu.group} is bound to vfio-pci`)
  );
}

/** Opens fds and closes whatever is still open at the end of the case, failed or not, newest first. */
class Fds {
  private readonly open = new Set<number>();
  constructor(private readonly backend: Backend) {}

  get(path: string): number {
    const sys = systemConstants(this.backend.arch as Arch);
    const fd = this.backend.open(path, sys.O_RDWR | sys.O_CLOEXEC);
    this.open.add(fd);
    return fd;
  }

  eventfd(): number {
    const fd = this.backend.eventfd();
    this.open.add(fd);
    return fd;
  }

  close(fd: number): void {
    this.open.delete(fd);
    this.backend.close(fd);
  }

  closeAll(): void {
    for (const fd of [...this.open].reverse()) {
      this.open.delete(fd);
      try {
        this.backend.close(fd);
      } catch {
        // Already reported by the case's own failure.
      }
    }
  }
}

async function withFds(backend: Backend, fn: (fds: Fds) => void | Promise<void>): Promise<void> {
  const fds = new Fds(backend);
  try {
    await fn(fds);
  } finally {
    fds.closeAll();
  }
}

function bindArg(backend: Backend, iommufd: number, init: { argsz?: number; flags?: number } = {}): Uint8Array {
  const c = codec('vfio_device_bind_iommufd', backend.arch as Arch);
  return c.encode({ argsz: c.size, flags: 0, iommufd, ...init });
}

/** BIND_IOMMUFD that must succeed: returns out_devid. */
function bind(backend: Backend, device: number, iommufd: number): number {
  const arg = bindArg(backend, iommufd);
  const ret = call(backend, device, 'VFIO_DEVICE_BIND_IOMMUFD', arg);
  if (ret !== 0) throw new Error(`BIND_IOMMUFD returned ${ret}, want 0`);
  return codec('vfio_device_bind_iommufd', backend.arch as Arch).decode(arg).outDevid;
}

function attachArg(backend: Backend, ptId: number): Uint8Array {
  const c = codec('vfio_device_attach_iommufd_pt', backend.arch as Arch);
  return c.encode({ argsz: c.size, flags: 0, ptId });
}

function deviceInfo(backend: Backend, fd: number): uapi.VfioDeviceInfo {
  const c = codec('vfio_device_info', backend.arch as Arch);
  const bytes = c.encode({ argsz: c.size });
  call(backend, fd, 'VFIO_DEVICE_GET_INFO', bytes);
  return c.decode(bytes);
}

/** `vendor:device` from the config region, as sysfs spells it (`1234:11e8`). */
function configId(backend: Backend, fd: number): string {
  const c = codec('vfio_region_info', backend.arch as Arch);
  const info = c.encode({ argsz: c.size, index: uapi.VFIO_PCI_CONFIG_REGION_INDEX });
  call(backend, fd, 'VFIO_DEVICE_GET_REGION_INFO', info);
  const id = new Uint8Array(4);
  const n = backend.pread(fd, id, c.decode(info).offset);
  if (n !== id.length) throw new Error(`pread of the config region's first 4 bytes returned ${n}`);
  // PCI configuration space is little-endian on every architecture.
  const view = new DataView(id.buffer);
  const hex = (v: number): string => v.toString(16).padStart(4, '0');
  return `${hex(view.getUint16(0, true))}:${hex(view.getUint16(2, true))}`;
}

/**
 * The state every case must leave behind: edu's group opens (no cdev holds it), and a fresh cdev fd binds to a
 * fresh iommufd with devid 1 (nothing bound, the iommufd's first object).
 */
async function expectBaseline(backend: Backend, edu: Edu): Promise<void> {
  await withFds(backend, (fds) => {
    fds.close(fds.get(edu.device.groupPath));
    const ictx = fds.get('/dev/iommu');
    const d = fds.get(edu.cdev);
    const devid = bind(backend, d, ictx);
    if (devid !== 1) throw new Error(`baseline: a fresh BIND gave devid ${devid}, want 1`);
  });
  await withFds(backend, (fds) => {
    fds.close(fds.get(edu.device.groupPath));
  });
}

export const cdev = defineKernelTests('cdev', {
  '/dev/vfio/devices/vfioN is the node sysfs names for edu, and /dev/iommu exists': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    ctx.log(`${edu.device.bdf}: ${edu.cdev}`);
    await withFds(backend, (fds) => {
      fds.get(edu.cdev);
      fds.get('/dev/iommu');
    });
  },

  'scenario 65: open vfioN succeeds before BIND, twice, with the group open too': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    await withFds(backend, (fds) => {
      const a = fds.get(edu.cdev);
      const b = fds.get(edu.cdev);
      // An unbound cdev fd does not block the group, and the open group does not block the cdev's open.
      const g = fds.get(edu.device.groupPath);
      const c = fds.get(edu.cdev);
      for (const fd of [c, g, b, a]) fds.close(fd);
    });
    await expectBaseline(backend, edu);
  },

  'scenario 65: GET_INFO before BIND → EINVAL': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    await withFds(backend, async (fds) => {
      const d = fds.get(edu.cdev);
      await expectErrno('EINVAL', 'GET_INFO on an unbound cdev', () => deviceInfo(backend, d));
    });
  },

  'scenario 65: pread before BIND → EINVAL': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    await withFds(backend, async (fds) => {
      const d = fds.get(edu.cdev);
      await expectErrno('EINVAL', 'pread on an unbound cdev', () => backend.pread(d, new Uint8Array(4), 0n));
    });
  },

  'section 6: pwrite, mmap, RESET and ATTACH_IOMMUFD_PT before BIND → EINVAL': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    await withFds(backend, async (fds) => {
      const d = fds.get(edu.cdev);
      await expectErrno('EINVAL', 'pwrite on an unbound cdev', () => backend.pwrite(d, new Uint8Array(4), 0n));
      await expectErrno('EINVAL', 'mmap of an unbound cdev', () =>
        backend.munmap(backend.mmap({ fd: d, length: backend.pageSize, offset: 0n })),
      );
      await expectErrno('EINVAL', 'RESET on an unbound cdev', () => call(backend, d, 'VFIO_DEVICE_RESET'));
      await expectErrno('EINVAL', 'ATTACH_IOMMUFD_PT on an unbound cdev', () =>
        call(backend, d, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', attachArg(backend, 1)),
      );
    });
  },

  'scenario 66: BIND_IOMMUFD → 0 with out_devid 1; the fd then answers like a device fd': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    await withFds(backend, (fds) => {
      const ictx = fds.get('/dev/iommu');
      const d = fds.get(edu.cdev);
      const devid = bind(backend, d, ictx);
      ctx.log(`out_devid ${devid}`);
      if (devid !== 1) throw new Error(`out_devid ${devid}, want 1 (the fresh iommufd's first object)`);
      const info = deviceInfo(backend, d);
      if ((info.flags & uapi.VFIO_DEVICE_FLAGS_PCI) === 0) throw new Error(`GET_INFO flags ${info.flags}: not PCI`);
      if (info.numRegions !== uapi.VFIO_PCI_NUM_REGIONS || info.numIrqs !== uapi.VFIO_PCI_NUM_IRQS) {
        throw new Error(
          `GET_INFO: ${info.numRegions} regions, ${info.numIrqs} IRQ indexes; want ${uapi.VFIO_PCI_NUM_REGIONS}, ${uapi.VFIO_PCI_NUM_IRQS}`,
        );
      }
      const id = configId(backend, d);
      if (id !== edu.device.pciId) {
        throw new Error(`config space says ${id}, sysfs says ${edu.device.pciId}`);
      }
    });
    await expectBaseline(backend, edu);
  },

  'scenario 66: BIND again on the bound fd → EINVAL': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    await withFds(backend, async (fds) => {
      const ictx = fds.get('/dev/iommu');
      const d = fds.get(edu.cdev);
      bind(backend, d, ictx);
      await expectErrno('EINVAL', 'second BIND of one cdev fd', () =>
        call(backend, d, 'VFIO_DEVICE_BIND_IOMMUFD', bindArg(backend, ictx)),
      );
      // The failed BIND changed nothing: the fd still works.
      deviceInfo(backend, d);
    });
    await expectBaseline(backend, edu);
  },

  'scenario 66: opening the group while the cdev is bound → EBUSY; another group opens': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    const other = otherGroup(ctx, edu.device);
    await withFds(backend, async (fds) => {
      const ictx = fds.get('/dev/iommu');
      const d = fds.get(edu.cdev);
      bind(backend, d, ictx);
      await expectErrno('EBUSY', `open ${edu.device.groupPath} while its device is bound`, () =>
        fds.get(edu.device.groupPath),
      );
      fds.close(fds.get(other.groupPath));
    });
    await expectBaseline(backend, edu);
  },

  'scenario 66: BIND while the group fd is open → EBUSY; after the group closes, BIND succeeds': async (
    backend,
    ctx,
  ) => {
    const edu = eduCdev(ctx);
    await withFds(backend, async (fds) => {
      const g = fds.get(edu.device.groupPath);
      const ictx = fds.get('/dev/iommu');
      const d = fds.get(edu.cdev);
      await expectErrno('EBUSY', 'BIND while the group fd is open', () =>
        call(backend, d, 'VFIO_DEVICE_BIND_IOMMUFD', bindArg(backend, ictx)),
      );
      fds.close(g);
      const devid = bind(backend, d, ictx);
      if (devid !== 1) throw new Error(`BIND after the group closed gave devid ${devid}, want 1`);
    });
    await expectBaseline(backend, edu);
  },

  'BIND with argsz below offsetofend(out_devid) → EINVAL': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    const minsz = minArgsz('VFIO_DEVICE_BIND_IOMMUFD', backend.arch as Arch);
    await withFds(backend, async (fds) => {
      const ictx = fds.get('/dev/iommu');
      const d = fds.get(edu.cdev);
      await expectErrno('EINVAL', `BIND with argsz ${minsz - 1}`, () =>
        call(backend, d, 'VFIO_DEVICE_BIND_IOMMUFD', bindArg(backend, ictx, { argsz: minsz - 1 })),
      );
      // Rejected before anything was taken: the same fd binds.
      bind(backend, d, ictx);
    });
    await expectBaseline(backend, edu);
  },

  'BIND with iommufd = -1 → EINVAL': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    await withFds(backend, async (fds) => {
      const d = fds.get(edu.cdev);
      await expectErrno('EINVAL', 'BIND with iommufd -1', () =>
        call(backend, d, 'VFIO_DEVICE_BIND_IOMMUFD', bindArg(backend, -1)),
      );
    });
    await expectBaseline(backend, edu);
  },

  'BIND with an fd that is not an iommufd (the VFIO container, an eventfd) → EBADFD': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    await withFds(backend, async (fds) => {
      const d = fds.get(edu.cdev);
      const others = { 'the container fd': fds.get('/dev/vfio/vfio'), 'an eventfd': fds.eventfd() };
      // What iommufd_ctx_from_fd answers for a file of another kind: recorded, then held to.
      const answers = Object.entries(others).map(([what, fd]) => ({
        what,
        answer: outcome(() => call(backend, d, 'VFIO_DEVICE_BIND_IOMMUFD', bindArg(backend, fd))),
      }));
      ctx.log(answers.map((a) => `${a.what} → ${a.answer}`).join(', '));
      for (const { what, answer } of answers) {
        if (answer !== 'EBADFD') throw new Error(`BIND with ${what}: expected EBADFD, got ${answer}`);
      }
    });
    await expectBaseline(backend, edu);
  },

  'a second cdev fd of a bound device cannot BIND → EINVAL (the cdev path opens a device once)': async (
    backend,
    ctx,
  ) => {
    const edu = eduCdev(ctx);
    await withFds(backend, async (fds) => {
      const ictx = fds.get('/dev/iommu');
      const d = fds.get(edu.cdev);
      bind(backend, d, ictx);
      const d2 = fds.get(edu.cdev);
      await expectErrno('EINVAL', 'BIND of a second cdev fd of a bound device', () =>
        call(backend, d2, 'VFIO_DEVICE_BIND_IOMMUFD', bindArg(backend, ictx)),
      );
    });
    await expectBaseline(backend, edu);
  },

  'ATTACH_IOMMUFD_PT with an unknown pt_id → ENOENT': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    await withFds(backend, async (fds) => {
      const ictx = fds.get('/dev/iommu');
      const d = fds.get(edu.cdev);
      const devid = bind(backend, d, ictx);
      // The iommufd holds one object, the device: neither 0 nor the next id names anything.
      for (const ptId of [0, devid + 1]) {
        await expectErrno('ENOENT', `ATTACH_IOMMUFD_PT pt_id ${ptId}`, () =>
          call(backend, d, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', attachArg(backend, ptId)),
        );
      }
    });
    await expectBaseline(backend, edu);
  },

  "ATTACH_IOMMUFD_PT with the device's own devid → EINVAL (not an IOAS or HWPT)": async (backend, ctx) => {
    const edu = eduCdev(ctx);
    await withFds(backend, async (fds) => {
      const ictx = fds.get('/dev/iommu');
      const d = fds.get(edu.cdev);
      const devid = bind(backend, d, ictx);
      await expectErrno('EINVAL', `ATTACH_IOMMUFD_PT pt_id ${devid} (the device)`, () =>
        call(backend, d, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', attachArg(backend, devid)),
      );
    });
    await expectBaseline(backend, edu);
  },

  'DETACH_IOMMUFD_PT of a device that was never attached → 0': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    await withFds(backend, (fds) => {
      const ictx = fds.get('/dev/iommu');
      const d = fds.get(edu.cdev);
      bind(backend, d, ictx);
      const c = codec('vfio_device_detach_iommufd_pt', backend.arch as Arch);
      const ret = call(backend, d, 'VFIO_DEVICE_DETACH_IOMMUFD_PT', c.encode({ argsz: c.size, flags: 0 }));
      if (ret !== 0) throw new Error(`DETACH_IOMMUFD_PT returned ${ret}, want 0`);
    });
    await expectBaseline(backend, edu);
  },

  'close the iommufd first: the bound device keeps working and its group busy until it closes': async (
    backend,
    ctx,
  ) => {
    const edu = eduCdev(ctx);
    await withFds(backend, async (fds) => {
      const ictx = fds.get('/dev/iommu');
      const d = fds.get(edu.cdev);
      bind(backend, d, ictx);
      fds.close(ictx);
      deviceInfo(backend, d);
      await expectErrno('EBUSY', 'open the group with the iommufd closed but the device bound', () =>
        fds.get(edu.device.groupPath),
      );
      fds.close(d);
    });
    await expectBaseline(backend, edu);
  },

  'close the device first, then the iommufd: back to the baseline': async (backend, ctx) => {
    const edu = eduCdev(ctx);
    await withFds(backend, async (fds) => {
      const ictx = fds.get('/dev/iommu');
      const d = fds.get(edu.cdev);
      bind(backend, d, ictx);
      fds.close(d);
      // The device is unbound at its close: its group opens even while the iommufd lives on.
      fds.close(fds.get(edu.device.groupPath));
      fds.close(ictx);
    });
    await expectBaseline(backend, edu);
  },
});
