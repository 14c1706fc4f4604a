// SPDX-License-Identifier: MIT
/**
 * Sentences attached to the errors people hit first on a real host. They name the usual cause and the command that
 * fixes it; the errno itself is always kept.
 */

const groupPath = /^\/dev\/vfio\/(?:noiommu-)?(\d+)$/;

export function openHint(path: string, code: string): string | undefined {
  const isContainer = path === '/dev/vfio/vfio';
  const group = groupPath.exec(path)?.[1];
  if (!isContainer && group === undefined && !path.startsWith('/dev/vfio/')) return undefined;
  switch (code) {
    case 'ENOENT':
      if (isContainer) {
        return (
          'no VFIO on this host: load it with `modprobe vfio-pci` (this pulls in vfio and the IOMMU driver), and ' +
          'boot with the IOMMU enabled (intel_iommu=on or amd_iommu=on); without VFIO use @vfio-ts/backend-sim'
        );
      }
      return (
        `no device of IOMMU group ${group ?? '?'} is bound to vfio-pci: ` +
        'echo vfio-pci > /sys/bus/pci/devices/<BDF>/driver_override && echo <BDF> > /sys/bus/pci/drivers_probe ' +
        '(find the group in /sys/kernel/iommu_groups/*/devices)'
      );
    case 'EACCES':
      return (
        `no permission on ${path}: run as root, or give your user the group that owns it (a udev rule such as ` +
        'SUBSYSTEM=="vfio", GROUP="vfio", MODE="0660"); DMA mapping then also needs `ulimit -l` large enough'
      );
    case 'EPERM':
      return `${path} refused this process: check CAP_SYS_RAWIO/SELinux/AppArmor or a container's device cgroup`;
    case 'EBUSY':
      return group !== undefined
        ? `IOMMU group ${group} is already open (in this or another process): a group can be opened once`
        : undefined;
    default:
      return undefined;
  }
}

export function ioctlHint(name: string | undefined, code: string): string | undefined {
  if (code === 'ENOMEM' && (name === 'VFIO_IOMMU_MAP_DMA' || name === 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY')) {
    return 'pinned DMA memory counts against RLIMIT_MEMLOCK: raise it (`ulimit -l`, or LimitMEMLOCK= in systemd)';
  }
  if (code === 'EPERM' && name === 'VFIO_SET_IOMMU') {
    return (
      'the IOMMU lacks interrupt remapping: enable it, or (unsafe) ' +
      '`echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts`'
    );
  }
  if (code === 'ENOTTY' && name?.startsWith('VFIO_') === true) {
    return 'this fd does not answer that ioctl: check it is the right kind of fd (container, group or device)';
  }
  return undefined;
}
