// SPDX-License-Identifier: MIT
/**
 * The likely cause of an errno, in the user's terms. Every backend gets the same sentences, because the typed API
 * attaches them: the simulator and a real kernel fail alike and must explain themselves alike.
 */
import type { IoctlName } from '@vfio-ts/uapi';

const memlock =
  'pinned DMA memory counts against RLIMIT_MEMLOCK: raise it (`ulimit -l`, LimitMEMLOCK= in systemd) or run with ' +
  'CAP_IPC_LOCK';

const byIoctl: Partial<Record<IoctlName, Partial<Record<string, string>>>> = {
  VFIO_IOMMU_MAP_DMA: {
    ENOMEM: memlock,
    ENOSPC: 'the container reached its DMA mapping limit (vfio_iommu_type1 dma_entry_limit): map fewer, larger buffers',
    EEXIST: 'the IOVA range overlaps an existing mapping',
    ENXIO: 'no DMA window contains this IOVA (sPAPR): create a window or map inside the default one',
    EINVAL:
      'IOVA, address and size must be aligned to the IOMMU page size; on sPAPR v2 the memory must be registered and ' +
      "backed by pages at least as large as the window's IOMMU page (hugepages for 64K+ TCEs on a 4K kernel)",
  },
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY: {
    ENOMEM: memlock,
    EBUSY: 'this memory is already registered with this container',
    EINVAL: 'the range overlaps a different registration of this process, or is not page aligned',
  },
  VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: {
    EBUSY:
      'the memory is still mapped for DMA: unmap every mapping into it before unregistering (unmap before unregister)',
    ENOENT: 'this exact range was not registered with this container',
  },
  VFIO_IOMMU_SPAPR_TCE_CREATE: {
    EINVAL: 'page_shift must be one of ddw.pgsizes, window_size a power of two, levels within what the platform allows',
    ENOMEM: `the TCE table could not be allocated or charged: ${memlock}`,
    ENOSPC: 'both DMA windows are in use: remove one first',
  },
  VFIO_IOMMU_ENABLE: { ENOMEM: `sPAPR v1 charges the whole 32-bit window: ${memlock}` },
  VFIO_GROUP_SET_CONTAINER: {
    EPERM:
      'the group is not viable: every device in the IOMMU group must be bound to vfio-pci (or to no driver); ' +
      'another driver is bound to one of them (see /sys/kernel/iommu_groups/<group>/devices)',
    EINVAL: 'the group is already attached to a container',
  },
  VFIO_GROUP_UNSET_CONTAINER: {
    EBUSY: 'device fds of this group are still open: close them first',
    EINVAL: 'the group is not attached to a container',
  },
  VFIO_GROUP_GET_DEVICE_FD: {
    ENODEV: 'no device of that name in this group (names are PCI addresses such as 0000:01:00.0)',
    EINVAL: 'attach the group to a container and set its IOMMU before opening devices',
  },
  VFIO_SET_IOMMU: {
    EINVAL: 'attach a group to the container first; an IOMMU can be set once per container',
    ENODEV: 'this kernel has no VFIO IOMMU driver of that type',
    EPERM:
      'the IOMMU lacks interrupt remapping: enable it, or (unsafe) ' +
      '`echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts`',
  },
  VFIO_DEVICE_RESET: { EINVAL: 'the device cannot be reset (VFIO_DEVICE_FLAGS_RESET is clear)' },
};

/** The hint for a failed ioctl, if one is known. */
export function ioctlHint(name: IoctlName, code: string): string | undefined {
  return byIoctl[name]?.[code];
}

const groupPath = /^\/dev\/vfio\/(?:noiommu-)?(\d+)$/;

/** The hint for a failed open of a /dev/vfio node. */
export function openHint(path: string, code: string): string | undefined {
  const group = groupPath.exec(path)?.[1];
  if (code === 'ENOENT') {
    if (path === '/dev/vfio/vfio') return 'VFIO is not loaded: `modprobe vfio-pci` (and boot with the IOMMU enabled)';
    if (group !== undefined) {
      return (
        `no IOMMU group ${group}: bind its devices to vfio-pci (echo vfio-pci > /sys/bus/pci/devices/<BDF>/` +
        'driver_override; echo <BDF> > /sys/bus/pci/drivers_probe)'
      );
    }
  }
  if (code === 'EBUSY' && group !== undefined) return `IOMMU group ${group} is already open: a group opens once`;
  if (code === 'EACCES') return `no permission on ${path}: run as root or give your user access to /dev/vfio`;
  return undefined;
}
