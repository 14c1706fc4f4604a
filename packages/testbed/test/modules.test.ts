// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { moduleName, parseModuleIndex, resolveModules } from '../src/modules.js';

// Shaped like Debian 6.12's modules.dep: compressed files, dashes in file names, dependencies listed per line.
const dep = `kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/pci/vfio-pci-core.ko.xz kernel/drivers/vfio/vfio.ko.xz kernel/virt/lib/irqbypass.ko.xz
kernel/drivers/vfio/pci/vfio-pci-core.ko.xz: kernel/drivers/vfio/vfio.ko.xz kernel/virt/lib/irqbypass.ko.xz
kernel/drivers/vfio/vfio.ko.xz:
kernel/virt/lib/irqbypass.ko.xz:
kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz
kernel/net/9p/9pnet.ko.xz:
kernel/fs/netfs/netfs.ko.xz:
kernel/a.ko: kernel/b.ko
kernel/b.ko: kernel/a.ko
`;
const builtin = 'kernel/drivers/virtio/virtio_pci.ko\nkernel/drivers/virtio/virtio.ko\n';

describe('kernel module resolution', () => {
  const index = parseModuleIndex(dep, builtin);

  it('treats dashes and underscores alike and strips compression suffixes', () => {
    expect(moduleName('kernel/drivers/vfio/pci/vfio-pci-core.ko.xz')).toBe('vfio_pci_core');
    expect(moduleName('vfio-pci')).toBe('vfio_pci');
  });

  it('orders dependencies first, each module once', () => {
    expect(resolveModules(index, ['vfio-pci', '9p', 'vfio'])).toEqual([
      'vfio',
      'irqbypass',
      'vfio_pci_core',
      'vfio_pci',
      '9pnet',
      'netfs',
      '9p',
    ]);
  });

  it('drops built-in modules', () => {
    expect(resolveModules(index, ['virtio_pci', '9pnet'])).toEqual(['9pnet']);
  });

  it('names a module that is neither shipped nor built in, and who needed it', () => {
    const broken = parseModuleIndex('kernel/x.ko: kernel/missing.ko\n', '');
    expect(() => resolveModules(broken, ['x'])).toThrow(
      /missing is neither built in nor in modules.dep \(needed by x\)/,
    );
  });

  it('reports a dependency cycle instead of recursing forever', () => {
    expect(() => resolveModules(index, ['a'])).toThrow(/cycle: a → b → a/);
  });
});
