// SPDX-License-Identifier: MIT
import { type DeviceModel, deviceModels } from './devices.js';
import { rootTag, runTag } from './init-script.js';
import type { GuestArch } from './paths.js';

export interface QemuConfig {
  readonly arch: GuestArch;
  readonly kernel: string;
  readonly initrd: string;
  /** Host directory shared read-only as the guest's root. */
  readonly rootDir: string;
  /** Host directory shared writable: entry, params and results. */
  readonly runDir: string;
  readonly devices: readonly DeviceModel[];
  readonly memoryMiB?: number;
  readonly cpus?: number;
  /** Extra kernel command-line words. */
  readonly append?: readonly string[];
}

const mount9p = 'security_model=none,multidevs=remap';

/** The QEMU program and arguments for one run (the command lines recorded in docs/real-kernel-testbed.md). */
export function qemuCommand(config: QemuConfig): { program: string; args: string[] } {
  const memory = `${config.memoryMiB ?? 2048}M`;
  const cpus = String(config.cpus ?? 2);
  const common = ['-m', memory, '-smp', cpus, '-nodefaults', '-display', 'none', '-monitor', 'none'];
  common.push('-serial', 'stdio', '-no-reboot', '-kernel', config.kernel, '-initrd', config.initrd);
  if (config.arch === 'x86_64') {
    const args = ['-machine', 'q35,accel=tcg', '-cpu', 'max', ...common];
    // intel-iommu gives type1 a real IOMMU with interrupt remapping; without remapping SET_IOMMU fails with EPERM.
    args.push('-device', 'intel-iommu,intremap=on');
    for (const d of config.devices) args.push('-device', [d, ...deviceModels[d].qemuProps].join(','));
    // Debian leaves the Intel IOMMU off by default; iommu=pt keeps the guest's own virtio DMA untranslated and fast.
    const append = ['console=ttyS0', 'panic=-1', 'loglevel=4', 'intel_iommu=on', 'iommu=pt', ...(config.append ?? [])];
    args.push('-append', append.join(' '));
    args.push('-virtfs', `local,path=${config.rootDir},mount_tag=${rootTag},${mount9p},readonly=on`);
    args.push('-virtfs', `local,path=${config.runDir},mount_tag=${runTag},${mount9p}`);
    return { program: 'qemu-system-x86_64', args };
  }
  // Spectre/Meltdown capabilities TCG cannot provide must be declared broken, or pseries refuses to start.
  const machine = 'pseries,accel=tcg,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off';
  const args = ['-machine', machine, '-cpu', 'power9', ...common];
  // A whole pseries PHB is one IOMMU group: the test devices get a PHB of their own and 9p stays on pci.0,
  // otherwise the group holds a device vfio-pci does not own and is not viable.
  args.push('-device', 'spapr-pci-host-bridge,index=1,id=phb1');
  for (const d of config.devices) args.push('-device', [d, 'bus=phb1.0', ...deviceModels[d].qemuProps].join(','));
  args.push('-append', ['console=hvc0', 'panic=-1', 'loglevel=4', ...(config.append ?? [])].join(' '));
  args.push('-fsdev', `local,id=fsroot,path=${config.rootDir},${mount9p},readonly=on`);
  args.push('-device', `virtio-9p-pci,fsdev=fsroot,mount_tag=${rootTag},bus=pci.0`);
  args.push('-fsdev', `local,id=fsrun,path=${config.runDir},${mount9p}`);
  args.push('-device', `virtio-9p-pci,fsdev=fsrun,mount_tag=${runTag},bus=pci.0`);
  return { program: 'qemu-system-ppc64', args };
}
