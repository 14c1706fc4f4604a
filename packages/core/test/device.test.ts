// SPDX-License-Identifier: MIT
import { SimKernel } from '@vfio-ts/backend-sim';
import {
  VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_NUM_IRQS,
  VFIO_PCI_NUM_REGIONS,
} from '@vfio-ts/uapi';
import { describe, expect, it } from 'vitest';
import { Container, type Device, Group, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from '../src/index.js';

const EDU = '0000:00:01.0';

function openEdu(profile = 'x86_64-q35', groupId = 1, name = EDU) {
  const kernel = SimKernel.create(profile);
  const backend = kernel.createProcess();
  const container = Container.open(backend);
  const group = Group.open(backend, groupId);
  group.setContainer(container);
  container.setIommu('auto');
  const device = group.device(name);
  const fds = () => [...backend.process.fds.entries()].length;
  return { kernel, backend, container, group, device, fds };
}

function closeAll(s: { container: Container; group: Group }): void {
  s.container.close();
  s.group.close();
}

describe('Device', () => {
  it('reports a vfio-pci device without reset; reset is EINVAL with the reason', () => {
    const s = openEdu();
    expect(s.device.info()).toMatchObject({
      numRegions: VFIO_PCI_NUM_REGIONS,
      numIrqs: VFIO_PCI_NUM_IRQS,
      pci: true,
      resettable: false,
    });
    expect(() => s.device.reset()).toThrow(
      expect.objectContaining({
        code: 'EINVAL',
        ioctl: 'VFIO_DEVICE_RESET',
        fdKind: 'device',
        hint: expect.stringMatching(/cannot be reset/),
      }),
    );
    closeAll(s);
  });

  it('reads config space little-endian on every host and sets bus mastering', () => {
    for (const [profile, name] of [
      ['x86_64-q35', EDU],
      ['ppc64-pseries', '0001:00:00.0'],
    ] as const) {
      const s = openEdu(profile, 1, name);
      const { pci } = s.device;
      expect([pci.vendorId, pci.deviceId]).toEqual([0x1234, 0x11e8]);
      const command = pci.enableBusMaster();
      expect(command & (PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY)).toBe(PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY);
      expect(s.device.region(VFIO_PCI_CONFIG_REGION_INDEX).offset).toBe(BigInt(VFIO_PCI_CONFIG_REGION_INDEX) << 40n);
      closeAll(s);
    }
  });

  it('reads registers in the byte order asked for', () => {
    const s = openEdu('ppc64le-pseries', 1, '0001:00:00.0');
    const bar0 = s.device.region(VFIO_PCI_BAR0_REGION_INDEX);
    expect(bar0.littleEndian).toBe(true);
    expect(bar0.read32(0)).toBe(0xed000001);
    expect(bar0.withByteOrder(false).read32(0)).toBe(0x010000ed);
    expect(() => bar0.read32(bar0.size)).toThrow(expect.objectContaining({ code: 'VFIO_TS_OUT_OF_RANGE' }));
    closeAll(s);
  });

  it('mmaps a BAR where allowed and unmaps it when the device closes', () => {
    const s = openEdu();
    const bar0 = s.device.region(VFIO_PCI_BAR0_REGION_INDEX);
    expect(bar0.mappable).toBe(true);
    const vmas = s.backend.process.vmas.length;
    const mapping = bar0.mmap();
    expect(mapping.length).toBe(Number(bar0.size));
    expect(s.backend.process.vmas.length).toBe(vmas + 1);
    expect(() => s.device.region(VFIO_PCI_CONFIG_REGION_INDEX).mmap()).toThrow(
      expect.objectContaining({ code: 'VFIO_TS_NOT_MAPPABLE' }),
    );
    s.device.close();
    expect(s.backend.process.vmas.length).toBe(vmas);
    closeAll(s);
  });

  it('delivers interrupts through eventfds as promises and async iterators, and releases them', async () => {
    const s = openEdu();
    const fdsBefore = s.fds();
    const msi = s.device.irq(VFIO_PCI_MSI_IRQ_INDEX);
    expect(msi.info).toMatchObject({ index: VFIO_PCI_MSI_IRQ_INDEX, count: 1, eventfd: true });
    msi.enable();
    expect(s.fds()).toBe(fdsBefore + 1);
    const next = msi.next();
    msi.trigger();
    expect(await next).toBe(1n);
    const seen: bigint[] = [];
    const loop = (async () => {
      for await (const count of msi.events()) {
        seen.push(count);
        if (seen.length === 2) break;
      }
    })();
    msi.trigger();
    await new Promise((r) => setTimeout(r, 1));
    msi.trigger();
    await loop;
    expect(seen).toEqual([1n, 1n]);
    const waiting = msi.next();
    msi.disable();
    await expect(waiting).rejects.toMatchObject({ code: 'VFIO_TS_IRQ_DISABLED' });
    expect(s.fds()).toBe(fdsBefore);
    closeAll(s);
  });

  it('INTx reports automasking; UNMASK and software triggers go through', async () => {
    const s = openEdu();
    const intx = s.device.irq(VFIO_PCI_INTX_IRQ_INDEX);
    expect(intx.info).toMatchObject({ count: 1, maskable: true, automasked: true });
    intx.enable();
    const first = intx.next();
    intx.trigger();
    expect(await first).toBe(1n);
    intx.unmask();
    const second = intx.next();
    intx.trigger();
    expect(await second).toBe(1n);
    s.device.close();
    expect(intx.enabled).toBe(false);
    closeAll(s);
  });

  it('SET_IRQS beyond the index count is EINVAL and leaves no eventfd behind', () => {
    const s = openEdu();
    const before = s.fds();
    expect(() => s.device.irq(VFIO_PCI_MSI_IRQ_INDEX).enable(4)).toThrow(
      expect.objectContaining({ code: 'EINVAL', ioctl: 'VFIO_DEVICE_SET_IRQS' }),
    );
    expect(s.fds()).toBe(before);
    closeAll(s);
  });

  it('closing the group closes its devices; a closed device refuses use', () => {
    const s = openEdu();
    const device: Device = s.device;
    s.group.close();
    expect(device.closed).toBe(true);
    expect(() => device.info()).toThrow(expect.objectContaining({ code: 'VFIO_TS_CLOSED' }));
    s.container.close();
  });
});
