// SPDX-License-Identifier: MIT
import { describe, expect, it } from 'vitest';
import { rootTag, runTag } from '../src/init-script.js';
import { qemuCommand } from '../src/qemu.js';

const base = { kernel: '/k', initrd: '/i', rootDir: '/root', runDir: '/run', devices: ['edu', 'e1000'] as const };

/** The value following each occurrence of a flag. */
function values(args: readonly string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? ''] : []));
}

describe('qemuCommand', () => {
  it('x86_64: q35 with an interrupt-remapping intel-iommu switched on in the guest', () => {
    const { program, args } = qemuCommand({ arch: 'x86_64', ...base });
    expect(program).toBe('qemu-system-x86_64');
    expect(values(args, '-machine')).toEqual(['q35,accel=tcg']);
    expect(values(args, '-device')).toEqual(['intel-iommu,intremap=on', 'edu,dma_mask=0xffffffffffffffff', 'e1000']);
    expect(values(args, '-append')[0]).toMatch(/(^| )intel_iommu=on( |$)/);
    expect(values(args, '-virtfs')).toEqual([
      `local,path=/root,mount_tag=${rootTag},security_model=none,multidevs=remap,readonly=on`,
      `local,path=/run,mount_tag=${runTag},security_model=none,multidevs=remap`,
    ]);
  });

  it('ppc64le: test devices on a PHB of their own, 9p pinned to pci.0 (one PHB is one IOMMU group)', () => {
    const { program, args } = qemuCommand({ arch: 'ppc64le', ...base });
    expect(program).toBe('qemu-system-ppc64');
    const devices = values(args, '-device');
    expect(devices[0]).toBe('spapr-pci-host-bridge,index=1,id=phb1');
    expect(
      devices.filter((d) => d.startsWith('edu') || d.startsWith('e1000')).every((d) => d.includes('bus=phb1.0')),
    ).toBe(true);
    expect(devices.filter((d) => d.startsWith('virtio-9p-pci')).every((d) => d.endsWith('bus=pci.0'))).toBe(true);
    expect(devices).toContain('edu,bus=phb1.0,dma_mask=0xffffffffffffffff');
    expect(values(args, '-append')[0]).toMatch(/^console=hvc0 /);
    expect(values(args, '-fsdev')[0]).toContain('readonly=on');
  });

  it('passes memory, cpus and extra kernel arguments through', () => {
    const { args } = qemuCommand({ arch: 'x86_64', ...base, memoryMiB: 1024, cpus: 1, append: ['vfio.foo=1'] });
    expect(values(args, '-m')).toEqual(['1024M']);
    expect(values(args, '-smp')).toEqual(['1']);
    expect(values(args, '-append')[0]).toMatch(/ vfio\.foo=1$/);
  });
});
