// SPDX-License-Identifier: MIT
/** ≙ drivers/vfio/pci/vfio_pci_intrs.c: INTx/MSI/MSI-X/ERR/REQ triggers through eventfds. */
import {
  errnoNumber,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_TYPE_MASK,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_REQ_IRQ_INDEX,
} from '@vfio-ts/uapi';
import { type EventfdCtx, eventfdCtxFdget } from '../fd/eventfd.js';
import type { Process } from '../mm/process.js';
import type { VfioPciCoreDevice } from './pci-core.js';

const EINVAL = errnoNumber('EINVAL');
const ENODEV = errnoNumber('ENODEV');
const ENOTTY = errnoNumber('ENOTTY');
const ERANGE = errnoNumber('ERANGE');

export type IrqType = 'none' | 'intx' | 'msi' | 'msix';

/** The SET_IRQS payload, already copied from user space: bools (u8) or eventfds (s32). */
export type IrqData = readonly number[] | null;

function irqIs(vdev: VfioPciCoreDevice, index: number): boolean {
  return (
    (index === VFIO_PCI_INTX_IRQ_INDEX && vdev.irqType === 'intx') ||
    (index === VFIO_PCI_MSI_IRQ_INDEX && vdev.irqType === 'msi') ||
    (index === VFIO_PCI_MSIX_IRQ_INDEX && vdev.irqType === 'msix')
  );
}

/** Delivered by the device model: INTx is automasked until user space unmasks it. */
export function vfioIntxHandler(vdev: VfioPciCoreDevice, level: boolean): void {
  vdev.intxLine = level;
  if (vdev.irqType !== 'intx' || !level || vdev.intxMasked) return;
  vdev.intxMasked = true;
  vdev.intxTrigger?.signal();
}

export function vfioMsiHandler(vdev: VfioPciCoreDevice, vector: number): void {
  if (vdev.irqType !== 'msi' && vdev.irqType !== 'msix') return;
  vdev.msiTriggers[vector]?.signal();
}

function vfioPciIntxUnmask(vdev: VfioPciCoreDevice): void {
  if (!vdev.intxMasked) return;
  vdev.intxMasked = false;
  // A line still asserted fires again at once (level-triggered).
  if (vdev.intxLine) vfioIntxHandler(vdev, true);
}

/** @see vfio_pci_intrs.c vfio_intx_disable */
export function vfioIntxDisable(vdev: VfioPciCoreDevice): void {
  vdev.intxTrigger = null;
  vdev.intxMasked = false;
  vdev.intxUnmaskFd = null;
  vdev.irqType = 'none';
}

/** @see vfio_pci_intrs.c vfio_msi_disable */
export function vfioMsiDisable(vdev: VfioPciCoreDevice): void {
  vdev.msiTriggers = [];
  vdev.dev.msiEnabled = false;
  // pci_free_irq_vectors: MSI-X Enable, which vfio does not virtualize, reads back clear.
  if (vdev.irqType === 'msix') vdev.dev.setMsixEnable(false);
  vdev.irqType = 'none';
}

function vfioPciSetIntxMask(
  vdev: VfioPciCoreDevice,
  start: number,
  count: number,
  flags: number,
  data: IrqData,
): number {
  if (vdev.irqType !== 'intx' || start !== 0 || count !== 1) return -EINVAL;
  if (flags & VFIO_IRQ_SET_DATA_NONE) vdev.intxMasked = true;
  else if (flags & VFIO_IRQ_SET_DATA_BOOL) {
    if (data![0]) vdev.intxMasked = true;
  } else if (flags & VFIO_IRQ_SET_DATA_EVENTFD) return -ENOTTY;
  return 0;
}

function vfioPciSetIntxUnmask(
  vdev: VfioPciCoreDevice,
  start: number,
  count: number,
  flags: number,
  data: IrqData,
  current: Process,
): number {
  if (vdev.irqType !== 'intx' || start !== 0 || count !== 1) return -EINVAL;
  if (flags & VFIO_IRQ_SET_DATA_NONE) vfioPciIntxUnmask(vdev);
  else if (flags & VFIO_IRQ_SET_DATA_BOOL) {
    if (data![0]) vfioPciIntxUnmask(vdev);
  } else if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    const fd = data![0]!;
    if (fd >= 0) {
      const ctx = eventfdCtxFdget(current.fds.get(fd));
      if (typeof ctx === 'number') return ctx;
      vdev.intxUnmaskFd = ctx;
    } else vdev.intxUnmaskFd = null;
  }
  return 0;
}

function vfioPciSetIntxTrigger(
  vdev: VfioPciCoreDevice,
  start: number,
  count: number,
  flags: number,
  data: IrqData,
  current: Process,
): number {
  if (vdev.irqType === 'intx' && count === 0 && flags & VFIO_IRQ_SET_DATA_NONE) {
    vfioIntxDisable(vdev);
    return 0;
  }
  if (!(vdev.irqType === 'intx' || vdev.irqType === 'none') || start !== 0 || count !== 1) return -EINVAL;
  if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    const fd = data![0]!;
    let trigger: EventfdCtx | null = null;
    if (fd >= 0) {
      const ctx = eventfdCtxFdget(current.fds.get(fd));
      if (typeof ctx === 'number') return ctx;
      trigger = ctx;
    }
    if (vdev.irqType === 'intx') {
      vdev.intxTrigger = trigger;
      return 0;
    }
    // vfio_intx_enable
    if (vdev.dev.intxPin === 0) return -ENODEV;
    vdev.irqType = 'intx';
    vdev.intxTrigger = trigger;
    vdev.intxMasked = false;
    if (vdev.intxLine) vfioIntxHandler(vdev, true);
    return 0;
  }
  if (vdev.irqType !== 'intx') return -EINVAL;
  if (flags & VFIO_IRQ_SET_DATA_NONE) vdev.intxTrigger?.signal();
  else if (flags & VFIO_IRQ_SET_DATA_BOOL && data![0]) vdev.intxTrigger?.signal();
  return 0;
}

function vfioPciSetMsiTrigger(
  vdev: VfioPciCoreDevice,
  index: number,
  start: number,
  count: number,
  flags: number,
  data: IrqData,
  current: Process,
): number {
  const msix = index === VFIO_PCI_MSIX_IRQ_INDEX;
  if (irqIs(vdev, index) && count === 0 && flags & VFIO_IRQ_SET_DATA_NONE) {
    vfioMsiDisable(vdev);
    return 0;
  }
  if (!(irqIs(vdev, index) || vdev.irqType === 'none')) return -EINVAL;
  if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    if (irqIs(vdev, index)) return vfioMsiSetBlock(vdev, start, count, data!, current);
    // vfio_msi_enable: pci_alloc_irq_vectors(pdev, 1, start + count) refuses a maximum below the minimum.
    if (start + count < 1) return -ERANGE;
    vdev.msiTriggers = new Array(start + count).fill(null);
    vdev.irqType = msix ? 'msix' : 'msi';
    vdev.dev.msiEnabled = true;
    if (msix) vdev.dev.setMsixEnable(true);
    const ret = vfioMsiSetBlock(vdev, start, count, data!, current);
    if (ret !== 0) vfioMsiDisable(vdev);
    return ret;
  }
  if (!irqIs(vdev, index)) return -EINVAL;
  // Before 6.5 (num_ctx) the loopback range had to lie within the enabled vectors.
  if (!vdev.kernel.kernelAtLeast('6.5') && start + count > vdev.msiTriggers.length) return -EINVAL;
  for (let i = start; i < start + count; i++) {
    const trigger = vdev.msiTriggers[i];
    if (trigger === undefined || trigger === null) continue;
    if (flags & VFIO_IRQ_SET_DATA_NONE) trigger.signal();
    else if (flags & VFIO_IRQ_SET_DATA_BOOL && data![i - start]) trigger.signal();
  }
  return 0;
}

/**
 * @see vfio_pci_intrs.c vfio_msi_set_block. Before 6.5 the whole range must lie within the enabled vectors
 * (EINVAL, nothing changed). From 6.5 each vector is handled in turn: fd < 0 unbinds (a vector never enabled is
 * fine), binding a vector beyond those enabled is EINVAL (no dynamic MSI-X here). On any error every vector from
 * `start` up to the failing one is left unbound, the ones bound before the call included.
 */
function vfioMsiSetBlock(
  vdev: VfioPciCoreDevice,
  start: number,
  count: number,
  fds: readonly number[],
  current: Process,
): number {
  const enabled = vdev.msiTriggers.length;
  if (!vdev.kernel.kernelAtLeast('6.5') && (start >= enabled || start + count > enabled)) return -EINVAL;
  for (let j = start; j < start + count; j++) {
    const fd = fds[j - start]!;
    if (j < enabled) vdev.msiTriggers[j] = null;
    if (fd < 0) continue;
    const ctx = j < enabled ? eventfdCtxFdget(current.fds.get(fd)) : -EINVAL;
    if (typeof ctx === 'number') {
      for (let i = start; i <= j && i < enabled; i++) vdev.msiTriggers[i] = null;
      return ctx;
    }
    vdev.msiTriggers[j] = ctx;
  }
  return 0;
}

/** @see vfio_pci_intrs.c vfio_pci_set_ctx_trigger_single */
function vfioPciSetCtxTriggerSingle(
  get: () => EventfdCtx | null,
  set: (c: EventfdCtx | null) => void,
  count: number,
  flags: number,
  data: IrqData,
  current: Process,
): number {
  if (flags & VFIO_IRQ_SET_DATA_NONE) {
    const ctx = get();
    if (ctx !== null) {
      if (count) ctx.signal();
      else set(null);
      return 0;
    }
  } else if (flags & VFIO_IRQ_SET_DATA_BOOL) {
    if (!count) return -EINVAL;
    const ctx = get();
    if (data![0] && ctx !== null) ctx.signal();
    return 0;
  } else if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    if (!count) return -EINVAL;
    const fd = data![0]!;
    if (fd === -1) set(null);
    else if (fd >= 0) {
      const ctx = eventfdCtxFdget(current.fds.get(fd));
      if (typeof ctx === 'number') return ctx;
      set(ctx);
    }
    return 0;
  }
  return -EINVAL;
}

/** @see vfio_pci_intrs.c vfio_pci_set_irqs_ioctl */
export function vfioPciSetIrqsIoctl(
  vdev: VfioPciCoreDevice,
  flags: number,
  index: number,
  start: number,
  count: number,
  data: IrqData,
  current: Process,
): number {
  const action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
  switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
      if (action === VFIO_IRQ_SET_ACTION_MASK) return vfioPciSetIntxMask(vdev, start, count, flags, data);
      if (action === VFIO_IRQ_SET_ACTION_UNMASK) return vfioPciSetIntxUnmask(vdev, start, count, flags, data, current);
      if (action === VFIO_IRQ_SET_ACTION_TRIGGER)
        return vfioPciSetIntxTrigger(vdev, start, count, flags, data, current);
      break;
    case VFIO_PCI_MSI_IRQ_INDEX:
    case VFIO_PCI_MSIX_IRQ_INDEX:
      // MSI/MSI-X masking is not exported by the kernel: only TRIGGER exists.
      if (action === VFIO_IRQ_SET_ACTION_TRIGGER)
        return vfioPciSetMsiTrigger(vdev, index, start, count, flags, data, current);
      break;
    case VFIO_PCI_ERR_IRQ_INDEX:
      if (action === VFIO_IRQ_SET_ACTION_TRIGGER && vdev.dev.isPcie) {
        if (start !== 0 || count > 1) return -EINVAL;
        return vfioPciSetCtxTriggerSingle(
          () => vdev.errTrigger,
          (c) => {
            vdev.errTrigger = c;
          },
          count,
          flags,
          data,
          current,
        );
      }
      break;
    case VFIO_PCI_REQ_IRQ_INDEX:
      if (action === VFIO_IRQ_SET_ACTION_TRIGGER) {
        if (start !== 0 || count > 1) return -EINVAL;
        return vfioPciSetCtxTriggerSingle(
          () => vdev.reqTrigger,
          (c) => {
            vdev.reqTrigger = c;
          },
          count,
          flags,
          data,
          current,
        );
      }
      break;
  }
  return -ENOTTY;
}
