// SPDX-License-Identifier: MIT
/** What a simulator profile looks like to a kernel test: its devices as a guest's init would report them. */
import { profiles, SimKernel } from '@vfio-ts/backend-sim';
import { deviceModels, type GuestDevice } from '../src/devices.js';

/**
 * The devices a @vfio-ts/backend-sim profile binds to vfio-pci, as the testbed's guests report theirs: group,
 * group node, and the VFIO device cdev where the simulated kernel has one (the guest reads it from sysfs
 * `vfio-dev/vfioN`; here N is the simulated kernel's device index, and the node must open). Undefined when the
 * simulator has no such profile.
 */
export function simGuestDevices(profileName: string): GuestDevice[] | undefined {
  const profile = profiles[profileName];
  if (profile === undefined) return undefined;
  const kernel = SimKernel.create(profileName);
  const process = kernel.createProcess();
  const opens = (path: string): boolean => {
    try {
      process.close(process.open(path));
      return true;
    } catch {
      return false;
    }
  };
  return profile.groups.flatMap((g) =>
    g.devices
      .filter((d) => d.driver === undefined || d.driver === 'vfio-pci')
      .map((d): GuestDevice => {
        const model = d.model === 'edu' || d.model === 'e1000' ? d.model : 'unknown';
        const index = kernel.vfioDevices.find((v) => v.dev.name === d.name)?.index;
        const cdev = index === undefined ? undefined : `/dev/vfio/devices/vfio${index}`;
        return {
          model,
          pciId: model === 'unknown' ? '' : deviceModels[model].pciId,
          bdf: d.name,
          group: g.id,
          groupPath: `/dev/vfio/${g.id}`,
          ...(cdev !== undefined && opens(cdev) ? { cdev } : {}),
        };
      }),
  );
}
