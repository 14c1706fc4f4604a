// SPDX-License-Identifier: MIT
/** ≙ drivers/vfio/pci/vfio_pci_core.c (+ vfio_pci_rdwr.c): the device fd of a vfio-pci device. */
import {
  buildCapabilityChain,
  codec,
  errnoNumber,
  minArgsz,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP,
  VFIO_DEVICE_FEATURE_LOW_POWER_EXIT,
  VFIO_DEVICE_FEATURE_MASK,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_DEVICE_IOEVENTFD_SIZE_MASK,
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_IRQ_SET_ACTION_TYPE_MASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_IRQ_SET_DATA_TYPE_MASK,
  VFIO_PCI_BAR0_REGION_INDEX,
  VFIO_PCI_BAR5_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_NUM_IRQS,
  VFIO_PCI_NUM_REGIONS,
  VFIO_PCI_REQ_IRQ_INDEX,
  VFIO_PCI_ROM_REGION_INDEX,
  VFIO_PCI_VGA_REGION_INDEX,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
} from '@vfio-ts/uapi';
import {
  PCI_CAP_ID_MSIX,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_QSIZE,
  PCI_MSIX_TABLE,
  PCI_MSIX_TABLE_BIR,
  PCI_MSIX_TABLE_OFFSET,
  type PciDevice,
} from '../devices/pci-device.js';
import { type EventfdCtx, eventfdCtxFdget } from '../fd/eventfd.js';
import type { MmapRequest } from '../fd/file.js';
import type { SimKernel } from '../kernel.js';
import type { Process } from '../mm/process.js';
import { vfioPciConfigRw } from './pci-config.js';
import {
  type IrqData,
  type IrqType,
  vfioIntxDisable,
  vfioIntxHandler,
  vfioMsiDisable,
  vfioMsiHandler,
  vfioPciSetIrqsIoctl,
} from './pci-intrs.js';
import type { UserArg } from './user-arg.js';

const EFAULT = errnoNumber('EFAULT');
const EINVAL = errnoNumber('EINVAL');
const EIO = errnoNumber('EIO');
const ENODEV = errnoNumber('ENODEV');
const ENOTTY = errnoNumber('ENOTTY');

/** include/linux/vfio_pci_core.h (kernel-internal, not uapi): regions live at `index << 40` of the device fd. */
export const VFIO_PCI_OFFSET_SHIFT = 40n;
const VFIO_PCI_OFFSET_MASK = (1n << VFIO_PCI_OFFSET_SHIFT) - 1n;
const U32_MAX = 0xffffffff;
/** VFIO_PCI_IOEVENTFD_MAX (kernel-internal). */
const VFIO_PCI_IOEVENTFD_MAX = 1000;
const EEXIST = errnoNumber('EEXIST');
const ENOSPC = errnoNumber('ENOSPC');

/** ≙ struct vfio_pci_ioeventfd: a write of `data` to a BAR, done by the kernel whenever the eventfd is signalled. */
interface VfioPciIoeventfd {
  readonly bar: number;
  readonly pos: number;
  readonly data: bigint;
  readonly count: number;
  readonly ctx: EventfdCtx;
  readonly wake: () => void;
}

/** ≙ struct vfio_pci_core_device */
export class VfioPciCoreDevice {
  irqType: IrqType = 'none';
  intxTrigger: EventfdCtx | null = null;
  intxUnmaskFd: EventfdCtx | null = null;
  intxMasked = false;
  intxLine = false;
  msiTriggers: (EventfdCtx | null)[] = [];
  errTrigger: EventfdCtx | null = null;
  reqTrigger: EventfdCtx | null = null;
  resetWorks = false;
  readonly vbar: number[] = [0, 0, 0, 0, 0, 0];
  vrom = 0;
  /** COMMAND as saved by vfio_pci_core_enable, restored when the device is closed. */
  savedCommand = 0;
  /** VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY was set; any later access wakes the device (runtime PM). */
  lowPower = false;
  droppedConfigWrites = 0;
  resets = 0;
  readonly ioeventfds: VfioPciIoeventfd[] = [];
  /** BAR holding the MSI-X table (0xff: none), the table's offset and size in bytes (read at enable). */
  msixBar = 0xff;
  msixOffset = 0;
  msixSize = 0;
  /** ≙ vfio_device.cdev_opened: bound through /dev/vfio/devices/vfioN (set by BIND_IOMMUFD, cleared on unbind). */
  cdevOpened = false;

  constructor(
    readonly kernel: SimKernel,
    readonly dev: PciDevice,
  ) {}

  get numRegions(): number {
    return VFIO_PCI_NUM_REGIONS;
  }
}

/** @see vfio_pci_core.c vfio_pci_core_enable */
export function vfioPciCoreOpen(vdev: VfioPciCoreDevice): number {
  const dev = vdev.dev;
  // pci_enable_device turns on decoding for the BAR types the device has; bus mastering stays off.
  for (let i = 0; i < 6; i++) vdev.vbar[i] = dev.firmwareBars[i] ?? 0;
  vdev.vrom = dev.firmwareRom;
  let cmd = dev.command & ~PCI_COMMAND_MASTER;
  if (dev.bars.some((b) => b !== undefined && !b.io)) cmd |= PCI_COMMAND_MEMORY;
  if (dev.bars.some((b) => b?.io === true)) cmd |= PCI_COMMAND_IO;
  dev.command = cmd;
  vdev.savedCommand = cmd;
  if (dev.resetWorks) dev.reset();
  vdev.resetWorks = dev.resetWorks;
  const msixPos = dev.findCapability(PCI_CAP_ID_MSIX);
  if (msixPos !== 0) {
    const dv = new DataView(dev.config.buffer);
    const flags = dv.getUint16(msixPos + PCI_MSIX_FLAGS, true);
    const table = dv.getUint32(msixPos + PCI_MSIX_TABLE, true);
    vdev.msixBar = table & PCI_MSIX_TABLE_BIR;
    vdev.msixOffset = (table & PCI_MSIX_TABLE_OFFSET) >>> 0;
    vdev.msixSize = ((flags & PCI_MSIX_FLAGS_QSIZE) + 1) * PCI_MSIX_ENTRY_SIZE;
  } else vdev.msixBar = 0xff;
  dev.irqSink = { intx: (level) => vfioIntxHandler(vdev, level), msi: (v) => vfioMsiHandler(vdev, v) };
  return 0;
}

/** @see vfio_pci_core.c vfio_pci_core_disable */
export function vfioPciCoreClose(vdev: VfioPciCoreDevice): void {
  const dev = vdev.dev;
  if (vdev.irqType === 'intx') vfioIntxDisable(vdev);
  else if (vdev.irqType !== 'none') vfioMsiDisable(vdev);
  vdev.errTrigger = null;
  vdev.reqTrigger = null;
  for (const i of vdev.ioeventfds.splice(0)) i.ctx.listeners.delete(i.wake);
  dev.irqSink = null;
  vdev.lowPower = false;
  if (vdev.resetWorks) dev.reset();
  // pci_load_and_free_saved_state: back to what the device looked like when vfio enabled it.
  dev.command = vdev.savedCommand;
}

/** @see vfio_pci_core.c vfio_pci_get_irq_count */
function vfioPciGetIrqCount(vdev: VfioPciCoreDevice, index: number): number {
  const dev = vdev.dev;
  switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
      return dev.intxPin !== 0 ? 1 : 0;
    case VFIO_PCI_MSI_IRQ_INDEX:
      return dev.msiVectors;
    case VFIO_PCI_MSIX_IRQ_INDEX: {
      const pos = dev.findCapability(PCI_CAP_ID_MSIX);
      if (pos === 0) return 0;
      const flags = dev.config[pos + PCI_MSIX_FLAGS]! | (dev.config[pos + PCI_MSIX_FLAGS + 1]! << 8);
      return (flags & PCI_MSIX_FLAGS_QSIZE) + 1;
    }
    case VFIO_PCI_ERR_IRQ_INDEX:
      return dev.isPcie ? 1 : 0;
    case VFIO_PCI_REQ_IRQ_INDEX:
      return 1;
    default:
      return 0;
  }
}

/** memory BAR, page-aligned, at least a page (≙ vfio_pci_probe_mmaps) */
function barMmapSupported(vdev: VfioPciCoreDevice, index: number): boolean {
  const bar = vdev.dev.bars[index];
  return bar !== undefined && !bar.io && bar.size >= vdev.kernel.pageSize;
}

function vfioPciIoctlGetInfo(vdev: VfioPciCoreDevice, arg: UserArg): number {
  const arch = vdev.kernel.arch;
  const minsz = minArgsz('VFIO_DEVICE_GET_INFO', arch);
  const c = codec('vfio_device_info', arch);
  const info = arg.copyStructFromUser<Record<string, number>>('vfio_device_info', minsz, arch);
  if (typeof info === 'number') return info;
  if (info.argsz! < minsz) return -EINVAL;
  const outsz = Math.min(info.argsz!, c.size);
  const out = c.encode({
    argsz: info.argsz,
    flags: VFIO_DEVICE_FLAGS_PCI | (vdev.resetWorks ? VFIO_DEVICE_FLAGS_RESET : 0),
    numRegions: vdev.numRegions,
    numIrqs: VFIO_PCI_NUM_IRQS,
  });
  return arg.copyToUser(out.subarray(0, outsz)) < 0 ? -EFAULT : 0;
}

function vfioPciIoctlGetRegionInfo(vdev: VfioPciCoreDevice, arg: UserArg): number {
  const arch = vdev.kernel.arch;
  const minsz = minArgsz('VFIO_DEVICE_GET_REGION_INFO', arch);
  const c = codec('vfio_region_info', arch);
  const info = arg.copyStructFromUser<Record<string, any>>('vfio_region_info', minsz, arch);
  if (typeof info === 'number') return info;
  if (info.argsz < minsz) return -EINVAL;
  const index: number = info.index;
  const dev = vdev.dev;
  const offset = BigInt(index) << VFIO_PCI_OFFSET_SHIFT;
  // ≙ struct vfio_info_cap: the chain as vfio_info_cap_shift leaves it, offsets from the start of the info struct.
  let caps: Uint8Array | null = null;
  if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
    info.offset = offset;
    info.size = BigInt(dev.config.length);
    info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
  } else if (index >= VFIO_PCI_BAR0_REGION_INDEX && index <= VFIO_PCI_BAR5_REGION_INDEX) {
    info.offset = offset;
    const bar = dev.bars[index];
    info.size = BigInt(bar?.size ?? 0);
    if (bar === undefined) info.flags = 0;
    else {
      info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
      if (barMmapSupported(vdev, index)) {
        info.flags |= VFIO_REGION_INFO_FLAG_MMAP;
        // msix_mmappable_cap: the table may be mmapped along with the rest of the BAR (header only, v1).
        if (index === vdev.msixBar)
          caps = buildCapabilityChain(
            [{ struct: 'vfio_info_cap_header', value: { id: VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, version: 1 } }],
            arch,
            c.size,
          );
      }
    }
  } else if (index === VFIO_PCI_ROM_REGION_INDEX) {
    info.offset = offset;
    // The BAR size, not the image size, once pci_map_rom finds a valid image.
    const valid = dev.rom !== null && dev.romImageSize > 0;
    info.size = valid ? BigInt(dev.romSize) : 0n;
    info.flags = valid ? VFIO_REGION_INFO_FLAG_READ : 0;
  } else if (index === VFIO_PCI_VGA_REGION_INDEX) {
    // Neither simulated device is VGA class.
    return -EINVAL;
  } else {
    return -EINVAL;
  }
  if (caps !== null && caps.length > 0) {
    info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
    if (info.argsz < c.size + caps.length) {
      info.argsz = c.size + caps.length;
      info.capOffset = 0;
    } else {
      if (arg.copyToUser(caps, c.size) < 0) return -EFAULT;
      info.capOffset = c.size;
    }
  }
  // Everything the user passed beyond what is set here is echoed back unchanged.
  return arg.copyToUser(c.encode(info).subarray(0, minsz)) < 0 ? -EFAULT : 0;
}

function vfioPciIoctlGetIrqInfo(vdev: VfioPciCoreDevice, arg: UserArg): number {
  const arch = vdev.kernel.arch;
  const minsz = minArgsz('VFIO_DEVICE_GET_IRQ_INFO', arch);
  const c = codec('vfio_irq_info', arch);
  const info = arg.copyStructFromUser<Record<string, number>>('vfio_irq_info', minsz, arch);
  if (typeof info === 'number') return info;
  if (info.argsz! < minsz || info.index! >= VFIO_PCI_NUM_IRQS) return -EINVAL;
  if (info.index === VFIO_PCI_ERR_IRQ_INDEX && !vdev.dev.isPcie) return -EINVAL;
  info.flags = VFIO_IRQ_INFO_EVENTFD;
  info.count = vfioPciGetIrqCount(vdev, info.index!);
  if (info.index === VFIO_PCI_INTX_IRQ_INDEX) info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
  // Dynamic MSI-X allocation (6.5+) would drop NORESIZE for MSI-X; the simulated platforms' MSI domains (interrupt
  // remapping on q35) do not offer it, so every index but INTx is NORESIZE.
  else info.flags |= VFIO_IRQ_INFO_NORESIZE;
  return arg.copyToUser(c.encode(info).subarray(0, minsz)) < 0 ? -EFAULT : 0;
}

/** @see vfio_main.c vfio_set_irqs_validate_and_prepare */
function vfioSetIrqsValidateAndPrepare(
  hdr: Record<string, number>,
  numIrqs: number,
  maxIrqType: number,
  minsz: number,
): number {
  const argsz = hdr.argsz!;
  const start = hdr.start!;
  const count = hdr.count!;
  const flags = hdr.flags!;
  if (
    argsz < minsz ||
    hdr.index! >= maxIrqType ||
    count >= U32_MAX - start ||
    (flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) !== 0
  )
    return -EINVAL;
  if (start >= numIrqs || start + count > numIrqs) return -EINVAL;
  let size: number;
  switch (flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
    case VFIO_IRQ_SET_DATA_NONE:
      size = 0;
      break;
    case VFIO_IRQ_SET_DATA_BOOL:
      size = 1;
      break;
    case VFIO_IRQ_SET_DATA_EVENTFD:
      size = 4;
      break;
    default:
      return -EINVAL;
  }
  if (size !== 0 && argsz - minsz < count * size) return -EINVAL;
  return count * size;
}

function vfioPciIoctlSetIrqs(vdev: VfioPciCoreDevice, arg: UserArg, current: Process): number {
  const arch = vdev.kernel.arch;
  const minsz = minArgsz('VFIO_DEVICE_SET_IRQS', arch);
  const hdr = arg.copyStructFromUser<Record<string, number>>('vfio_irq_set', minsz, arch);
  if (typeof hdr === 'number') return hdr;
  const max = vfioPciGetIrqCount(vdev, hdr.index!);
  const dataSize = vfioSetIrqsValidateAndPrepare(hdr, max, VFIO_PCI_NUM_IRQS, minsz);
  if (dataSize < 0) return dataSize;
  let data: IrqData = null;
  if (dataSize > 0) {
    const raw = arg.copyFromUser(dataSize, minsz);
    if (typeof raw === 'number') return raw;
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.length);
    const values: number[] = [];
    if (hdr.flags! & VFIO_IRQ_SET_DATA_BOOL) for (const b of raw) values.push(b);
    // Eventfd numbers are native-endian ints of the simulated CPU.
    else for (let i = 0; i < hdr.count!; i++) values.push(dv.getInt32(4 * i, vdev.kernel.littleEndian));
    data = values;
  }
  return vfioPciSetIrqsIoctl(vdev, hdr.flags!, hdr.index!, hdr.start!, hdr.count!, data, current);
}

function vfioPciIoctlReset(vdev: VfioPciCoreDevice): number {
  if (!vdev.resetWorks) return -EINVAL;
  vdev.dev.reset();
  vdev.resets++;
  return 0;
}

/** Both hot-reset ioctls: the simulated devices sit on a root bus with neither slot nor bus reset. */
function vfioPciIoctlHotReset(vdev: VfioPciCoreDevice, arg: UserArg, name: string, struct: string): number {
  const arch = vdev.kernel.arch;
  const minsz = minArgsz(name as never, arch);
  // Only the header (argsz, flags, count) is copied: the array behind it is read once the count is checked.
  const raw = arg.copyFromUser(minsz);
  if (typeof raw === 'number') return raw;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.length);
  const le = vdev.kernel.littleEndian;
  const [argsz, flags, count] = [dv.getUint32(0, le), dv.getUint32(4, le), dv.getUint32(8, le)];
  if (argsz < minsz) return -EINVAL;
  if (struct === 'vfio_pci_hot_reset') {
    if (flags !== 0) return -EINVAL;
    // A zero-length group array is only for cdev-opened devices, and cdev-opened devices take only that
    // (6.5+; 6.1 probes the reset first → ENODEV).
    // @see vfio_pci_core.c vfio_pci_ioctl_pci_hot_reset (`!!hdr.count == vfio_device_cdev_opened()`)
    if (vdev.kernel.kernelAtLeast('6.5') && (count !== 0) === vdev.cdevOpened) return -EINVAL;
  }
  return -ENODEV;
}

/** @see vfio_main.c vfio_ioctl_device_feature: vfio-pci core without a variant driver supports none we simulate. */
function vfioIoctlDeviceFeature(vdev: VfioPciCoreDevice, arg: UserArg, current: Process): number {
  const arch = vdev.kernel.arch;
  const minsz = minArgsz('VFIO_DEVICE_FEATURE', arch);
  const f = arg.copyStructFromUser<Record<string, number>>('vfio_device_feature', minsz, arch);
  if (typeof f === 'number') return f;
  if (f.argsz! < minsz) return -EINVAL;
  const known =
    VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE;
  if ((f.flags! & ~known) !== 0) return -EINVAL;
  if (
    !(f.flags! & VFIO_DEVICE_FEATURE_PROBE) &&
    f.flags! & VFIO_DEVICE_FEATURE_SET &&
    f.flags! & VFIO_DEVICE_FEATURE_GET
  )
    return -EINVAL;
  // vfio_pci_core_ioctl_feature: the runtime-PM features; migration, DMA logging and VF tokens need more than
  // a plain vfio-pci device has.
  const feature = f.flags! & VFIO_DEVICE_FEATURE_MASK;
  if (feature === VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP) {
    const entry = codec('vfio_device_low_power_entry_with_wakeup', vdev.kernel.arch);
    const ret = vfioCheckFeature(f.flags!, f.argsz! - minsz, VFIO_DEVICE_FEATURE_SET, entry.size);
    if (ret !== 1) return ret;
    const raw = arg.copyFromUser(entry.size, minsz);
    if (typeof raw === 'number') return raw;
    const wakeupEventfd = entry.decode(raw).wakeupEventfd;
    // @see vfio_pci_core.c vfio_pci_core_pm_entry_with_wakeup: a negative fd is EINVAL before the fd lookup.
    if (wakeupEventfd < 0) return -EINVAL;
    const ctx = eventfdCtxFdget(current.fds.get(wakeupEventfd));
    if (typeof ctx === 'number') return ctx;
    return vfioPciRuntimePmEntry(vdev);
  }
  if (feature === VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY || feature === VFIO_DEVICE_FEATURE_LOW_POWER_EXIT) {
    const ret = vfioCheckFeature(f.flags!, f.argsz!, VFIO_DEVICE_FEATURE_SET, 0);
    if (ret !== 1) return ret;
    if (feature === VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY) return vfioPciRuntimePmEntry(vdev);
    vdev.lowPower = false;
    return 0;
  }
  return -ENOTTY;
}

/** @see vfio_pci_core.c vfio_pci_runtime_pm_entry: entering while already engaged is EINVAL. */
function vfioPciRuntimePmEntry(vdev: VfioPciCoreDevice): number {
  if (vdev.lowPower) return -EINVAL;
  vdev.lowPower = true;
  return 0;
}

/** @see include/linux/vfio.h vfio_check_feature: 0 for PROBE, 1 to go on, or -EINVAL. */
function vfioCheckFeature(flags: number, argsz: number, supportedOps: number, minsz: number): number {
  if (flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET) & ~supportedOps) return -EINVAL;
  if (flags & VFIO_DEVICE_FEATURE_PROBE) return 0;
  if (!(flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET))) return -EINVAL;
  if (argsz < minsz) return -EINVAL;
  return 1;
}

/** @see vfio_pci_rdwr.c vfio_pci_ioeventfd */
function vfioPciIoeventfd(
  vdev: VfioPciCoreDevice,
  offset: bigint,
  data: bigint,
  count: number,
  fd: number,
  current: Process,
): number {
  const pos = Number(offset & VFIO_PCI_OFFSET_MASK);
  const bar = Number(offset >> VFIO_PCI_OFFSET_SHIFT);
  // Only BARs, and never over the MSI-X table (an ioeventfd would work around the table's write protection).
  if (bar > VFIO_PCI_BAR5_REGION_INDEX) return -EINVAL;
  const def = vdev.dev.bars[bar];
  if (pos + count > (def?.size ?? 0)) return -EINVAL;
  if (bar === vdev.msixBar && !(pos + count <= vdev.msixOffset || pos >= vdev.msixOffset + vdev.msixSize))
    return -EINVAL;
  const found = vdev.ioeventfds.findIndex(
    (i) => i.pos === pos && i.bar === bar && i.data === data && i.count === count,
  );
  if (found >= 0) {
    if (fd !== -1) return -EEXIST;
    const [gone] = vdev.ioeventfds.splice(found, 1);
    gone!.ctx.listeners.delete(gone!.wake);
    return 0;
  }
  if (fd < 0) return -ENODEV;
  if (vdev.ioeventfds.length >= VFIO_PCI_IOEVENTFD_MAX) return -ENOSPC;
  const ctx = eventfdCtxFdget(current.fds.get(fd));
  if (typeof ctx === 'number') return ctx;
  const wake = (): void => {
    // virqfd consumes the counter, then the handler does the write as a user pwrite would.
    ctx.count = 0n;
    if (def?.io !== true && (vdev.dev.command & PCI_COMMAND_MEMORY) === 0) return;
    vdev.dev.barWrite(bar, pos, count, BigInt.asUintN(count * 8, data));
  };
  ctx.listeners.add(wake);
  vdev.ioeventfds.push({ bar, pos, data, count, ctx, wake });
  return 0;
}

function vfioPciIoctlIoeventfd(vdev: VfioPciCoreDevice, arg: UserArg, current: Process): number {
  const arch = vdev.kernel.arch;
  const minsz = minArgsz('VFIO_DEVICE_IOEVENTFD', arch);
  const e = arg.copyStructFromUser<Record<string, any>>('vfio_device_ioeventfd', minsz, arch);
  if (typeof e === 'number') return e;
  if (e.argsz < minsz) return -EINVAL;
  if ((e.flags & ~VFIO_DEVICE_IOEVENTFD_SIZE_MASK) !== 0) return -EINVAL;
  const count: number = e.flags & VFIO_DEVICE_IOEVENTFD_SIZE_MASK;
  // Exactly one size bit (hweight8(count) == 1).
  if (count === 0 || (count & (count - 1)) !== 0 || e.fd < -1) return -EINVAL;
  return vfioPciIoeventfd(vdev, e.offset, e.data, count, e.fd, current);
}

/** @see vfio_pci_core.c vfio_pci_core_ioctl */
export function vfioPciCoreIoctl(vdev: VfioPciCoreDevice, request: number, arg: UserArg, current: Process): number {
  const k = vdev.kernel;
  switch (request) {
    case k.nr('VFIO_DEVICE_FEATURE'):
      return vfioIoctlDeviceFeature(vdev, arg, current);
    case k.nr('VFIO_DEVICE_GET_INFO'):
      return vfioPciIoctlGetInfo(vdev, arg);
    case k.nr('VFIO_DEVICE_GET_IRQ_INFO'):
      return vfioPciIoctlGetIrqInfo(vdev, arg);
    case k.nr('VFIO_DEVICE_GET_PCI_HOT_RESET_INFO'):
      return vfioPciIoctlHotReset(vdev, arg, 'VFIO_DEVICE_GET_PCI_HOT_RESET_INFO', 'vfio_pci_hot_reset_info');
    case k.nr('VFIO_DEVICE_GET_REGION_INFO'):
      return vfioPciIoctlGetRegionInfo(vdev, arg);
    case k.nr('VFIO_DEVICE_IOEVENTFD'):
      return vfioPciIoctlIoeventfd(vdev, arg, current);
    case k.nr('VFIO_DEVICE_PCI_HOT_RESET'):
      return vfioPciIoctlHotReset(vdev, arg, 'VFIO_DEVICE_PCI_HOT_RESET', 'vfio_pci_hot_reset');
    case k.nr('VFIO_DEVICE_RESET'):
      return vfioPciIoctlReset(vdev);
    case k.nr('VFIO_DEVICE_SET_IRQS'):
      return vfioPciIoctlSetIrqs(vdev, arg, current);
    default:
      return -ENOTTY;
  }
}

/**
 * @see vfio_pci_rdwr.c vfio_pci_bar_rw / do_io_rw: aligned 8/4/2/1 accesses, clipped at the end of the BAR; the
 * MSI-X table is an excluded range (reads 0xff, writes dropped, no access reaches the device, none crosses it).
 */
function vfioPciBarRw(vdev: VfioPciCoreDevice, buf: Uint8Array, index: number, pos: number, write: boolean): number {
  const dev = vdev.dev;
  const isRom = index === VFIO_PCI_ROM_REGION_INDEX;
  const bar = isRom ? (dev.rom !== null ? { size: dev.romSize } : undefined) : dev.bars[index];
  if (bar === undefined) return -EINVAL;
  if (pos >= bar.size) return -EINVAL;
  const count = Math.min(buf.length, bar.size - pos);
  const io = 'io' in bar && bar.io === true;
  const xStart = !isRom && index === vdev.msixBar ? vdev.msixOffset : 0;
  const xEnd = !isRom && index === vdev.msixBar ? vdev.msixOffset + vdev.msixSize : 0;
  // Memory decode is tested per device access: an access wholly inside the excluded range never fails with EIO.
  const allExcluded = pos >= xStart && pos + count <= xEnd;
  if (!io && !allExcluded && (dev.command & PCI_COMMAND_MEMORY) === 0) return -EIO;
  let done = 0;
  while (done < count) {
    const off = pos + done;
    const left = count - done;
    const fillable = off < xStart ? Math.min(left, xStart - off) : off >= xEnd ? left : 0;
    if (fillable === 0) {
      const filled = Math.min(left, xEnd - off);
      if (!write) buf.fill(0xff, done, done + filled);
      done += filled;
      continue;
    }
    const size =
      fillable >= 8 && off % 8 === 0 ? 8 : fillable >= 4 && off % 4 === 0 ? 4 : fillable >= 2 && off % 2 === 0 ? 2 : 1;
    if (isRom) buf.set(dev.rom!.subarray(off, off + size), done);
    else if (write) dev.barWrite(index, off, size, dev.decodeRegister(buf.subarray(done, done + size)));
    else buf.set(dev.encodeRegister(dev.barRead(index, off, size), size), done);
    done += size;
  }
  return count;
}

/** @see vfio_pci_core.c vfio_pci_rw */
export function vfioPciRw(vdev: VfioPciCoreDevice, buf: Uint8Array, offset: bigint, write: boolean): number {
  const index = Number(offset >> VFIO_PCI_OFFSET_SHIFT);
  if (buf.length === 0) return 0;
  if (offset < 0n || index >= vdev.numRegions) return -EINVAL;
  const pos = Number(offset & VFIO_PCI_OFFSET_MASK);
  if (index === VFIO_PCI_CONFIG_REGION_INDEX) return vfioPciConfigRw(vdev, buf, pos, write);
  if (index === VFIO_PCI_ROM_REGION_INDEX) {
    if (write) return -EINVAL;
    return vfioPciBarRw(vdev, buf, index, pos, write);
  }
  if (index >= VFIO_PCI_BAR0_REGION_INDEX && index <= VFIO_PCI_BAR5_REGION_INDEX)
    return vfioPciBarRw(vdev, buf, index, pos, write);
  // VGA: neither device is VGA class.
  return -EINVAL;
}

/** @see vfio_pci_core.c vfio_pci_core_mmap */
export function vfioPciCoreMmap(vdev: VfioPciCoreDevice, req: MmapRequest): Uint8Array | number {
  const index = Number(req.offset >> VFIO_PCI_OFFSET_SHIFT);
  if (index >= vdev.numRegions) return -EINVAL;
  if (!req.shared) return -EINVAL;
  if (index >= VFIO_PCI_ROM_REGION_INDEX) return -EINVAL;
  if (!barMmapSupported(vdev, index)) return -EINVAL;
  const page = vdev.kernel.pageSize;
  const physLen = Math.ceil(vdev.dev.bars[index]!.size / page) * page;
  const start = Number(req.offset & VFIO_PCI_OFFSET_MASK);
  if (start % page !== 0) return -EINVAL;
  if (start + req.length > physLen) return -EINVAL;
  let mem = vdev.dev.barMemory[index];
  if (mem === undefined) {
    // Register BARs (edu) are not trapped through a mapping: the view is plain memory, see the README.
    mem = new Uint8Array(physLen);
    vdev.dev.barMemory[index] = mem;
  }
  return mem.subarray(start, start + req.length);
}
