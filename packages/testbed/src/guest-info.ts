// SPDX-License-Identifier: MIT
import { type GuestDevice, modelOf } from './devices.js';

/** What the guest's init recorded (guest-info.txt in the run directory), parsed. */
export interface GuestInfo {
  /** `uname -r` */
  readonly kernelVersion: string;
  /** `/proc/version` */
  readonly procVersion: string;
  readonly machine: string;
  readonly cmdline: string;
  readonly iommu: IommuInfo;
  /** Devices bound to vfio-pci. */
  readonly devices: readonly GuestDevice[];
  /** Devices that matched but could not be bound (`bdf pciId`). */
  readonly unbound: readonly string[];
  readonly modules: readonly string[];
  /** Entries of /dev/vfio. */
  readonly devVfio: readonly string[];
  /** Entries of /dev/vfio/devices (the VFIO device cdevs, 6.6+). */
  readonly devVfioDevices: readonly string[];
  /** Whether /dev/iommu (iommufd) exists; undefined when init did not say (older run directories). */
  readonly devIommu: boolean | undefined;
}

export interface IommuInfo {
  /** The VFIO IOMMU driver module that is loaded: `vfio_iommu_type1`, `vfio_iommu_spapr_tce`, or `none`. */
  readonly vfioDriver: string;
  /** The platform IOMMU: `/sys/class/iommu` entries (dmar0 for VT-d), or the pseries TCE tables. */
  readonly hardware: string;
  /** Number of IOMMU groups in the guest. */
  readonly groups: number;
}

export function parseGuestInfo(text: string): GuestInfo {
  const values = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    values.set(key, [...(values.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  const one = (key: string): string => values.get(key)?.[0] ?? '';
  const words = (key: string): string[] =>
    one(key)
      .split(/\s+/)
      .filter((w) => w !== '');
  const modules = words('modules');
  const devices: GuestDevice[] = (values.get('device') ?? []).map((line) => {
    const [bdf = '', pciId = '', group = '', cdev = '-'] = line.split(/\s+/);
    return {
      model: modelOf(pciId),
      pciId,
      bdf,
      group: Number(group),
      groupPath: `/dev/vfio/${group}`,
      ...(/^vfio\d+$/.test(cdev) ? { cdev: `/dev/vfio/devices/${cdev}` } : {}),
    };
  });
  const machine = one('machine');
  const iommuClass = words('iommu_class');
  const vfioDriver =
    ['vfio_iommu_type1', 'vfio_iommu_spapr_tce'].find((m) => modules.includes(m)) ??
    (modules.includes('vfio') ? 'built in or none' : 'none');
  const hardware =
    iommuClass.length === 0
      ? machine.startsWith('ppc64')
        ? 'pseries TCE'
        : 'none'
      : iommuClass.some((c) => c.startsWith('dmar'))
        ? `Intel VT-d (${iommuClass.join(', ')})`
        : iommuClass.some((c) => c.startsWith('iommu-phb'))
          ? `pseries TCE (${iommuClass.join(', ')})`
          : iommuClass.join(', ');
  return {
    kernelVersion: one('kernel'),
    procVersion: one('version'),
    machine,
    cmdline: one('cmdline'),
    iommu: { vfioDriver, hardware, groups: Number(one('iommu_groups') || 0) },
    devices,
    unbound: values.get('unbound') ?? [],
    modules,
    devVfio: words('dev_vfio'),
    devVfioDevices: words('dev_vfio_devices'),
    devIommu: values.has('dev_iommu') ? one('dev_iommu') === 'yes' : undefined,
  };
}
