// SPDX-License-Identifier: MIT
/**
 * ≙ drivers/vfio/pci/vfio_pci_config.c, reduced to what user space can observe on these devices: IDs read-only,
 * COMMAND partly writable, BARs virtualized (sizing writes read back the size mask), Interrupt Line writable,
 * everything else read-only; writes to read-only bytes are dropped but counted.
 */
import { errnoNumber } from '@vfio-ts/uapi';
import {
  PCI_BASE_ADDRESS_0,
  PCI_COMMAND,
  PCI_INTERRUPT_LINE,
  PCI_ROM_ADDRESS,
  PCI_ROM_ADDRESS_ENABLE,
  type PciDevice,
} from '../devices/pci-device.js';
import type { VfioPciCoreDevice } from './pci-core.js';

const EFAULT = errnoNumber('EFAULT');

/** Bits of COMMAND a user may change: IO, MEMORY, MASTER, PARITY, SERR, INTX_DISABLE. */
const COMMAND_WRITABLE = 0x0547;

export function barSizeMask(dev: PciDevice, bar: number): number {
  const def = dev.bars[bar];
  if (def === undefined) return 0;
  return ~(def.size - 1) >>> 0;
}

/** Virtual view of one config dword. */
function readDword(vdev: VfioPciCoreDevice, pos: number): number {
  const dev = vdev.dev;
  if (pos >= PCI_BASE_ADDRESS_0 && pos < PCI_BASE_ADDRESS_0 + 24) {
    const bar = (pos - PCI_BASE_ADDRESS_0) >> 2;
    const def = dev.bars[bar];
    if (def === undefined) return 0;
    const flags = def.io ? 1 : def.mem64 ? 4 : 0;
    return ((vdev.vbar[bar]! & barSizeMask(dev, bar)) | flags) >>> 0;
  }
  if (pos === PCI_ROM_ADDRESS) {
    if (dev.rom === null) return 0;
    return ((vdev.vrom & ~(dev.romSize - 1)) | (vdev.vrom & PCI_ROM_ADDRESS_ENABLE)) >>> 0;
  }
  return new DataView(dev.config.buffer).getUint32(pos, true);
}

function writeByte(vdev: VfioPciCoreDevice, pos: number, value: number): void {
  const dev = vdev.dev;
  if (pos === PCI_COMMAND || pos === PCI_COMMAND + 1) {
    const shift = (pos - PCI_COMMAND) * 8;
    const writable = (COMMAND_WRITABLE >> shift) & 0xff;
    const cur = (dev.command >> shift) & 0xff;
    const next = (cur & ~writable) | (value & writable);
    dev.command = (dev.command & ~(0xff << shift)) | (next << shift);
    return;
  }
  if (pos >= PCI_BASE_ADDRESS_0 && pos < PCI_BASE_ADDRESS_0 + 24) {
    const bar = (pos - PCI_BASE_ADDRESS_0) >> 2;
    const shift = (pos & 3) * 8;
    vdev.vbar[bar] = ((vdev.vbar[bar]! & ~(0xff << shift)) | (value << shift)) >>> 0;
    return;
  }
  if (pos >= PCI_ROM_ADDRESS && pos < PCI_ROM_ADDRESS + 4) {
    const shift = (pos & 3) * 8;
    vdev.vrom = ((vdev.vrom & ~(0xff << shift)) | (value << shift)) >>> 0;
    return;
  }
  if (pos === PCI_INTERRUPT_LINE) {
    dev.config[pos] = value;
    return;
  }
  vdev.droppedConfigWrites++;
}

/** @see vfio_pci_config.c vfio_pci_config_rw: the whole range must lie inside cfg_size, else -EFAULT. */
export function vfioPciConfigRw(vdev: VfioPciCoreDevice, buf: Uint8Array, pos: number, write: boolean): number {
  const cfgSize = vdev.dev.config.length;
  if (pos < 0 || pos >= cfgSize || pos + buf.length > cfgSize) return -EFAULT;
  for (let i = 0; i < buf.length; i++) {
    const at = pos + i;
    if (write) writeByte(vdev, at, buf[i]!);
    else buf[i] = (readDword(vdev, at & ~3) >>> ((at & 3) * 8)) & 0xff;
  }
  return buf.length;
}
