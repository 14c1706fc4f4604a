// SPDX-License-Identifier: MIT
// The README's example, kept runnable: npx tsx --conditions=@vfio-ts/source packages/backend-koffi/examples/check-vfio.ts
import { createKoffiBackend } from '@vfio-ts/backend-koffi';
import { ioctlNumber, VFIO_API_VERSION, VFIO_TYPE1v2_IOMMU } from '@vfio-ts/uapi';

const backend = createKoffiBackend(); // arch from process.arch: x86_64, aarch64 or ppc64le
try {
  const container = backend.open('/dev/vfio/vfio');
  const version = backend.ioctl(container, ioctlNumber('VFIO_GET_API_VERSION', backend.arch), undefined, {
    name: 'VFIO_GET_API_VERSION',
  });
  const type1v2 = backend.ioctl(container, ioctlNumber('VFIO_CHECK_EXTENSION', backend.arch), VFIO_TYPE1v2_IOMMU, {
    name: 'VFIO_CHECK_EXTENSION',
  });
  console.log({ version, ok: version === VFIO_API_VERSION, type1v2: type1v2 > 0 });
  backend.close(container);
} catch (error) {
  // On a host without VFIO: VfioSystemError { code: 'ENOENT', errno: -2, syscall: 'open', path: '/dev/vfio/vfio',
  // hint: 'no VFIO on this host: load it with `modprobe vfio-pci` ...' }
  console.error(error);
}
