// SPDX-License-Identifier: MIT
import { device, fdOf, ioctl, struct, withIommu } from '../../helpers.js';
import type { Env, Scenario } from '../../types.js';
import { allModes } from '../../types.js';

/**
 * VFIO_DEVICE_BIND_IOMMUFD is for device fds opened through /dev/vfio/devices/vfioX. On a group-opened fd:
 * a kernel built with CONFIG_VFIO_DEVICE_CDEV (6.6+) refuses it (device_cdev.c vfio_df_ioctl_bind_iommufd,
 * `df->group` → EINVAL); without it (6.1, or a ppc64 build: the option depends on !SPAPR_TCE_IOMMU) the
 * request is unknown → ENOTTY.
 */
const errno = (env: Env): string => (Number(env.facts.kernel) >= 606 && env.arch !== 'ppc64le' ? 'EINVAL' : 'ENOTTY');
const dev = (name: string, value: Record<string, unknown>): Scenario => ({
  name: `device/bind-iommufd: ${name}`,
  modes: allModes,
  source: 'device_cdev.c vfio_df_ioctl_bind_iommufd; vfio_main.c vfio_device_fops_unl_ioctl',
  needs: { edu: true, facts: ['kernel'] },
  steps: [
    ...withIommu(),
    device('D'),
    { ...ioctl('D', 'VFIO_DEVICE_BIND_IOMMUFD', struct(value as never)), expect: { errno } },
  ],
});

export const scenarios: Scenario[] = [
  dev('the container fd as iommufd on a group-opened device fd → EINVAL (cdev kernels) / ENOTTY', {
    iommufd: fdOf('C'),
  }),
  dev('argsz 15 on a group-opened device fd → EINVAL (cdev kernels) / ENOTTY', { argsz: 15, iommufd: -1 }),
];
