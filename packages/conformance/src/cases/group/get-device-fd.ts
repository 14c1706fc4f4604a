import { attached, device, expectErrno, expectOk, ioctl, openGroup, struct, withIommu } from '../../helpers.js';
import { allModes, type Scenario } from '../../types.js';

const get = (suffix?: string) =>
  ioctl('G', 'VFIO_GROUP_GET_DEVICE_FD', { string: suffix === undefined ? { device: 0 } : { device: 0, suffix } });

export const scenarios: Scenario[] = [
  {
    name: 'group/get-device-fd: no container → EINVAL',
    modes: allModes,
    source: 'type1 §2.2 GET_DEVICE_FD step 4',
    steps: [expectOk(openGroup(), { ret: 'fd' }), expectErrno('EINVAL', get())],
  },
  {
    name: 'group/get-device-fd: container without an IOMMU → EINVAL',
    modes: allModes,
    source: 'type1 §8 #9, spapr §13 #36',
    steps: [...attached(), expectErrno('EINVAL', get())],
  },
  {
    name: 'group/get-device-fd: after SET_IOMMU → a new fd',
    modes: allModes,
    source: 'type1 §8 #14, spapr §13 #36',
    steps: [...withIommu(), device('D')],
  },
  {
    name: 'group/get-device-fd: an unknown name → ENODEV',
    modes: allModes,
    source: 'type1 §8 #15',
    steps: [...withIommu(), expectErrno('ENODEV', ioctl('G', 'VFIO_GROUP_GET_DEVICE_FD', { string: '0000:99:00.0' }))],
  },
  {
    name: 'group/get-device-fd: the name with a trailing character → ENODEV',
    modes: allModes,
    source: 'type1 §8 #15 (vfio_pci_core_match)',
    steps: [...withIommu(), expectErrno('ENODEV', get('x'))],
  },
  {
    name: 'group/get-device-fd: the name with an unknown option → EINVAL',
    modes: allModes,
    source: 'type1 §8 #15',
    steps: [...withIommu(), expectErrno('EINVAL', get(' foo'))],
  },
  {
    name: 'group/get-device-fd: a vf_token for a device without SR-IOV → EINVAL',
    modes: allModes,
    source: 'type1 §2.2 GET_DEVICE_FD step 2',
    steps: [...withIommu(), expectErrno('EINVAL', get(' vf_token=2ab74924-c335-45f4-9b16-8569e5b08258'))],
  },
  {
    name: 'group/get-device-fd: the same device twice → two usable fds',
    modes: allModes,
    source: 'type1 §8 #16',
    steps: [
      ...withIommu(),
      device('D'),
      device('D2'),
      expectOk(ioctl('D', 'VFIO_DEVICE_GET_INFO', struct({})), { out: { numRegions: 9, numIrqs: 5 } }),
      expectOk(ioctl('D2', 'VFIO_DEVICE_GET_INFO', struct({})), { out: { numRegions: 9, numIrqs: 5 } }),
    ],
  },
  {
    name: 'group/get-device-fd: an unknown group ioctl → ENOTTY',
    modes: allModes,
    source: 'type1 §8 #22',
    steps: [
      expectOk(openGroup(), { ret: 'fd' }),
      expectErrno('ENOTTY', ioctl('G', 'VFIO_DEVICE_GET_INFO', struct({}))),
    ],
  },
];
