// SPDX-License-Identifier: MIT
/**
 * Container and group basics, written once and run on both sides: against @vfio-ts/backend-sim in `npm test`
 * (test/container-basics.test.ts) and against real kernels by `npm run test:kernel`. Every expectation here is
 * the kernel's (drivers/vfio/container.c, group.c); where the simulator disagrees, one of the two runs fails.
 */
import type { Backend } from '@vfio-ts/core';
import * as uapi from '@vfio-ts/uapi';
import { codec, type IoctlName, ioctlNumber, systemConstants } from '@vfio-ts/uapi';
import { defineKernelTests, expectErrno, type KernelTestContext } from '../define.js';

type Arch = Parameters<typeof ioctlNumber>[1];

/** The IOMMU type this ABI's guests offer, and one they must not. */
function iommuTypes(arch: string): { yes: number; no: number; yesName: string } {
  return arch.startsWith('ppc64')
    ? { yes: uapi.VFIO_SPAPR_TCE_v2_IOMMU, no: uapi.VFIO_TYPE1v2_IOMMU, yesName: 'VFIO_SPAPR_TCE_v2_IOMMU' }
    : { yes: uapi.VFIO_TYPE1v2_IOMMU, no: uapi.VFIO_SPAPR_TCE_v2_IOMMU, yesName: 'VFIO_TYPE1v2_IOMMU' };
}

function call(backend: Backend, fd: number, name: IoctlName, arg?: Uint8Array | number): number {
  return backend.ioctl(fd, ioctlNumber(name, backend.arch as Arch), arg, { name });
}

function firstGroup(ctx: KernelTestContext): string {
  const device = ctx.devices[0];
  if (device === undefined) return ctx.skip('no device is bound to vfio-pci');
  return device.groupPath;
}

function openContainer(backend: Backend): number {
  const sys = systemConstants(backend.arch as Arch);
  return backend.open('/dev/vfio/vfio', sys.O_RDWR | sys.O_CLOEXEC);
}

function groupStatus(backend: Backend, group: number): number {
  const c = codec('vfio_group_status', backend.arch as Arch);
  const bytes = c.encode({ argsz: c.size });
  call(backend, group, 'VFIO_GROUP_GET_STATUS', bytes);
  return c.decode(bytes).flags;
}

export const containerBasics = defineKernelTests('container-basics', {
  'GET_API_VERSION answers VFIO_API_VERSION': (backend) => {
    const container = openContainer(backend);
    try {
      const version = call(backend, container, 'VFIO_GET_API_VERSION');
      if (version !== uapi.VFIO_API_VERSION) throw new Error(`API version ${version}, want ${uapi.VFIO_API_VERSION}`);
    } finally {
      backend.close(container);
    }
  },

  "CHECK_EXTENSION: the platform's IOMMU type yes, the other family no": (backend) => {
    const { yes, no, yesName } = iommuTypes(backend.arch);
    const container = openContainer(backend);
    try {
      const a = call(backend, container, 'VFIO_CHECK_EXTENSION', yes);
      const b = call(backend, container, 'VFIO_CHECK_EXTENSION', no);
      if (a !== 1 || b !== 0) throw new Error(`CHECK_EXTENSION ${yesName}=${a} (want 1), other family=${b} (want 0)`);
    } finally {
      backend.close(container);
    }
  },

  'SET_IOMMU on a container without a group fails with EINVAL': async (backend) => {
    const container = openContainer(backend);
    try {
      await expectErrno('EINVAL', 'SET_IOMMU with no group', () =>
        call(backend, container, 'VFIO_SET_IOMMU', iommuTypes(backend.arch).yes),
      );
    } finally {
      backend.close(container);
    }
  },

  'group status: viable; CONTAINER_SET only while attached': (backend, ctx) => {
    const path = firstGroup(ctx);
    const sys = systemConstants(backend.arch as Arch);
    const group = backend.open(path, sys.O_RDWR | sys.O_CLOEXEC);
    const container = openContainer(backend);
    try {
      const viable = uapi.VFIO_GROUP_FLAGS_VIABLE;
      const set = uapi.VFIO_GROUP_FLAGS_CONTAINER_SET;
      const before = groupStatus(backend, group);
      if (before !== viable) throw new Error(`status before SET_CONTAINER is ${before}, want VIABLE only (${viable})`);
      const fdArg = new Uint8Array(4);
      new DataView(fdArg.buffer).setInt32(0, container, backend.littleEndian);
      call(backend, group, 'VFIO_GROUP_SET_CONTAINER', fdArg);
      const during = groupStatus(backend, group);
      if (during !== (viable | set)) throw new Error(`status after SET_CONTAINER is ${during}, want ${viable | set}`);
      call(backend, container, 'VFIO_SET_IOMMU', iommuTypes(backend.arch).yes);
      call(backend, group, 'VFIO_GROUP_UNSET_CONTAINER');
      const after = groupStatus(backend, group);
      if (after !== viable) throw new Error(`status after UNSET_CONTAINER is ${after}, want ${viable}`);
    } finally {
      backend.close(container);
      backend.close(group);
    }
  },

  'a second open of an open group fails with EBUSY': async (backend, ctx) => {
    const path = firstGroup(ctx);
    const sys = systemConstants(backend.arch as Arch);
    const group = backend.open(path, sys.O_RDWR | sys.O_CLOEXEC);
    try {
      await expectErrno('EBUSY', `second open of ${path}`, () => backend.close(backend.open(path, sys.O_RDWR)));
    } finally {
      backend.close(group);
    }
  },
});
