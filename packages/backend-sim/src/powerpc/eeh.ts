// SPDX-License-Identifier: MIT
/**
 * ≙ arch/powerpc/kernel/eeh.c (the PE operations VFIO reaches) with the platform's eeh_ops folded in: a PE is
 * a state machine of MMIO/DMA enabled, reset asserted and isolated (frozen).
 */
import {
  errnoNumber,
  VFIO_EEH_PE_STATE_NORMAL,
  VFIO_EEH_PE_STATE_RESET,
  VFIO_EEH_PE_STATE_STOPPED,
  VFIO_EEH_PE_STATE_STOPPED_DMA,
  VFIO_EEH_PE_STATE_UNAVAIL,
} from '@vfio-ts/uapi';

const EINVAL = errnoNumber('EINVAL');
const EIO = errnoNumber('EIO');
const ENODEV = errnoNumber('ENODEV');

/** arch/powerpc/include/asm/eeh.h EEH_OPT_* (kernel-internal, distinct from the VFIO_EEH_PE_* ops). */
export type EehOption = 'disable' | 'enable' | 'thaw-mmio' | 'thaw-dma' | 'freeze-pe';
/** EEH_RESET_* */
export type EehReset = 'deactivate' | 'hot' | 'fundamental';

/** EEH_ERR_FUNC_MIN / EEH_ERR_FUNC_MAX: the PCI error functions firmware can inject. */
const EEH_ERR_FUNC_MIN = 0;
const EEH_ERR_FUNC_MAX = 19;

/** ≙ struct eeh_pe with the state the platform reports through eeh_ops->get_state. */
export class EehPe {
  mmioEnabled = true;
  dmaEnabled = true;
  resetActive = false;
  /** EEH_PE_ISOLATED: frozen by an error (or an injected one) until unfrozen or reset. */
  isolated = false;
  cfgBlocked = false;
  /** Errors injected so far, for test observation. */
  readonly injected: { type: number; func: number; addr: bigint; mask: bigint }[] = [];

  constructor(readonly eehEnabled: () => boolean) {}

  /** What the hardware does on a detected error: MMIO and DMA stop until recovery. */
  freeze(): void {
    this.mmioEnabled = false;
    this.dmaEnabled = false;
    this.isolated = true;
  }
}

/** @see arch/powerpc/kernel/eeh.c eeh_pe_set_option */
export function eehPeSetOption(pe: EehPe | null, option: EehOption): number {
  if (pe === null) return -ENODEV;
  switch (option) {
    case 'enable':
      return pe.eehEnabled() ? 0 : -EIO;
    case 'disable':
      return 0;
    case 'thaw-mmio':
      pe.mmioEnabled = true;
      if (pe.dmaEnabled) pe.isolated = false;
      return 0;
    case 'thaw-dma':
      pe.dmaEnabled = true;
      if (pe.mmioEnabled) pe.isolated = false;
      return 0;
    case 'freeze-pe':
      pe.freeze();
      return 0;
    default:
      return -EINVAL;
  }
}

/** @see arch/powerpc/kernel/eeh.c eeh_pe_get_state */
export function eehPeGetState(pe: EehPe | null): number {
  if (pe === null) return -ENODEV;
  if (pe.resetActive) return VFIO_EEH_PE_STATE_RESET;
  if (pe.dmaEnabled && pe.mmioEnabled) return VFIO_EEH_PE_STATE_NORMAL;
  if (!pe.dmaEnabled && !pe.mmioEnabled) return VFIO_EEH_PE_STATE_STOPPED;
  if (!pe.dmaEnabled && pe.mmioEnabled) return VFIO_EEH_PE_STATE_STOPPED_DMA;
  return VFIO_EEH_PE_STATE_UNAVAIL;
}

/** @see arch/powerpc/kernel/eeh.c eeh_pe_reset */
export function eehPeReset(pe: EehPe | null, option: EehReset): number {
  if (pe === null) return -ENODEV;
  switch (option) {
    case 'deactivate':
      pe.resetActive = false;
      pe.cfgBlocked = false;
      // eeh_pe_reenable_devices → eeh_unfreeze_pe: the PE comes back with MMIO and DMA enabled.
      pe.mmioEnabled = true;
      pe.dmaEnabled = true;
      pe.isolated = false;
      return 0;
    case 'hot':
    case 'fundamental':
      // The PE is frozen first so that no MMIO reaches a device in reset.
      pe.mmioEnabled = false;
      pe.dmaEnabled = false;
      pe.cfgBlocked = true;
      pe.resetActive = true;
      return 0;
    default:
      return -EINVAL;
  }
}

/** @see arch/powerpc/kernel/eeh.c eeh_pe_configure */
export function eehPeConfigure(pe: EehPe | null): number {
  if (pe === null) return -ENODEV;
  return 0;
}

/**
 * @see arch/powerpc/kernel/eeh.c eeh_pe_inject_err, with pnv_eeh_err_inject's type check (32- or 64-bit errors).
 * The injected error freezes the PE as the hardware would on the next matching access.
 */
export function eehPeInjectErr(pe: EehPe | null, type: number, func: number, addr: bigint, mask: bigint): number {
  if (pe === null) return -ENODEV;
  if (func < EEH_ERR_FUNC_MIN || func > EEH_ERR_FUNC_MAX) return -EINVAL;
  if (type !== 0 && type !== 1) return -EINVAL;
  pe.injected.push({ type, func, addr, mask });
  pe.freeze();
  return 0;
}
