// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { parseGuestInfo } from '../src/guest-info.js';

describe('parseGuestInfo', () => {
  it('reads what init recorded in an x86_64 guest', () => {
    const info = parseGuestInfo(
      [
        'device=0000:00:01.0 1234:11e8 1',
        'device=0000:00:02.0 8086:100e 2',
        'kernel=6.1.0-56-amd64',
        'machine=x86_64',
        'version=Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP',
        'cmdline=console=ttyS0 intel_iommu=on iommu=pt',
        'iommu_class=dmar0 ',
        'iommu_groups=6',
        'modules=vfio_iommu_type1 vfio_pci vfio ',
        'dev_vfio=1 2 vfio ',
      ].join('\n'),
    );
    expect(info.kernelVersion).toBe('6.1.0-56-amd64');
    expect(info.cmdline).toBe('console=ttyS0 intel_iommu=on iommu=pt');
    expect(info.iommu).toEqual({ vfioDriver: 'vfio_iommu_type1', hardware: 'Intel VT-d (dmar0)', groups: 6 });
    expect(info.devices).toEqual([
      { model: 'edu', pciId: '1234:11e8', bdf: '0000:00:01.0', group: 1, groupPath: '/dev/vfio/1' },
      { model: 'e1000', pciId: '8086:100e', bdf: '0000:00:02.0', group: 2, groupPath: '/dev/vfio/2' },
    ]);
    expect(info.devVfio).toEqual(['1', '2', 'vfio']);
    expect(info.unbound).toEqual([]);
  });

  it('reads the VFIO device cdevs and /dev/iommu of a 6.12 guest ("-" where sysfs has no vfio-dev)', () => {
    const info = parseGuestInfo(
      [
        'device=0000:00:01.0 1234:11e8 1 vfio0',
        'device=0000:00:02.0 8086:100e 2 -',
        'kernel=6.12.95+deb12-amd64',
        'dev_vfio=1 2 devices vfio ',
        'dev_vfio_devices=vfio0 ',
        'dev_iommu=yes',
      ].join('\n'),
    );
    expect(info.devices).toEqual([
      {
        model: 'edu',
        pciId: '1234:11e8',
        bdf: '0000:00:01.0',
        group: 1,
        groupPath: '/dev/vfio/1',
        cdev: '/dev/vfio/devices/vfio0',
      },
      { model: 'e1000', pciId: '8086:100e', bdf: '0000:00:02.0', group: 2, groupPath: '/dev/vfio/2' },
    ]);
    expect(info.devVfioDevices).toEqual(['vfio0']);
    expect(info.devIommu).toBe(true);
    expect(parseGuestInfo('dev_iommu=no\n').devIommu).toBe(false);
    // Run directories from before init recorded it.
    expect(parseGuestInfo('kernel=6.1.0-56-amd64\n').devIommu).toBeUndefined();
  });

  it('names the pseries TCE IOMMU and lists devices that could not be bound', () => {
    const info = parseGuestInfo(
      'unbound=0001:00:01.0 8086:100e\nmachine=ppc64le\niommu_class=iommu-phb0000 iommu-phb0001\nmodules=vfio_iommu_spapr_tce\n',
    );
    expect(info.iommu.hardware).toBe('pseries TCE (iommu-phb0000, iommu-phb0001)');
    expect(info.iommu.vfioDriver).toBe('vfio_iommu_spapr_tce');
    expect(info.unbound).toEqual(['0001:00:01.0 8086:100e']);
    expect(info.devices).toEqual([]);
  });
});
