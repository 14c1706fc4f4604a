// SPDX-License-Identifier: MIT
/** ≙ vfio_spapr_ioctl_eeh_pe_op (drivers/vfio/vfio_iommu_spapr_tce.c, formerly vfio_spapr_eeh.c). */
import {
  type Arch,
  codec,
  errnoNumber,
  VFIO_EEH_PE_CONFIGURE,
  VFIO_EEH_PE_DISABLE,
  VFIO_EEH_PE_ENABLE,
  VFIO_EEH_PE_GET_STATE,
  VFIO_EEH_PE_INJECT_ERR,
  VFIO_EEH_PE_RESET_DEACTIVATE,
  VFIO_EEH_PE_RESET_FUNDAMENTAL,
  VFIO_EEH_PE_RESET_HOT,
  VFIO_EEH_PE_UNFREEZE_DMA,
  VFIO_EEH_PE_UNFREEZE_IO,
} from '@vfio-ts/uapi';
import { eehPeConfigure, eehPeGetState, eehPeInjectErr, eehPeReset, eehPeSetOption } from '../powerpc/eeh.js';
import type { IommuTableGroup } from '../powerpc/table-group.js';
import type { UserArg } from '../vfio/user-arg.js';

const EINVAL = errnoNumber('EINVAL');
const ENODEV = errnoNumber('ENODEV');

/** @see vfio_iommu_spapr_tce.c vfio_spapr_ioctl_eeh_pe_op */
export function vfioSpaprIoctlEehPeOp(tableGroup: IommuTableGroup | null, arg: UserArg, arch: Arch): number {
  const pe = tableGroup?.pe ?? null;
  if (pe === null) return -ENODEV;
  const c = codec('vfio_eeh_pe_op', arch);
  let minsz = c.offsetEnd('op');
  const op = arg.copyStructFromUser<{ argsz: number; flags: number; op: number }>('vfio_eeh_pe_op', minsz, arch);
  if (typeof op === 'number') return op;
  if (op.argsz < minsz || op.flags) return -EINVAL;
  switch (op.op) {
    case VFIO_EEH_PE_DISABLE:
      return eehPeSetOption(pe, 'disable');
    case VFIO_EEH_PE_ENABLE:
      return eehPeSetOption(pe, 'enable');
    case VFIO_EEH_PE_UNFREEZE_IO:
      return eehPeSetOption(pe, 'thaw-mmio');
    case VFIO_EEH_PE_UNFREEZE_DMA:
      return eehPeSetOption(pe, 'thaw-dma');
    case VFIO_EEH_PE_GET_STATE:
      return eehPeGetState(pe);
    case VFIO_EEH_PE_RESET_DEACTIVATE:
      return eehPeReset(pe, 'deactivate');
    case VFIO_EEH_PE_RESET_HOT:
      return eehPeReset(pe, 'hot');
    case VFIO_EEH_PE_RESET_FUNDAMENTAL:
      return eehPeReset(pe, 'fundamental');
    case VFIO_EEH_PE_CONFIGURE:
      return eehPeConfigure(pe);
    case VFIO_EEH_PE_INJECT_ERR: {
      minsz = c.offsetEnd('err');
      if (op.argsz < minsz) return -EINVAL;
      const full = arg.copyStructFromUser<{ err: { type: number; func: number; addr: bigint; mask: bigint } }>(
        'vfio_eeh_pe_op',
        minsz,
        arch,
      );
      if (typeof full === 'number') return full;
      return eehPeInjectErr(pe, full.err.type, full.err.func, full.err.addr, full.err.mask);
    }
    default:
      return -EINVAL;
  }
}
