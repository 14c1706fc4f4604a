// SPDX-License-Identifier: MIT
/** Every scenario of the suite, in the order they run (cases that damage kernel state come last). */
import type { Scenario } from '../types.js';
import { scenarios as checkExtension } from './container/check-extension.js';
import { scenarios as dirtyPages } from './container/dirty-pages.js';
import { scenarios as s_eeh_pe_op } from './container/eeh-pe-op.js';
import { scenarios as s_enable_disable } from './container/enable-disable.js';
import { scenarios as getApiVersion } from './container/get-api-version.js';
import { scenarios as iommuGetInfo } from './container/iommu-get-info.js';
import { scenarios as mapDma } from './container/map-dma.js';
import { scenarios as s_map_dma_spapr } from './container/map-dma-spapr.js';
import { scenarios as setIommu } from './container/set-iommu.js';
import { scenarios as s_spapr_register_memory } from './container/spapr-register-memory.js';
import { scenarios as s_spapr_tce_create } from './container/spapr-tce-create.js';
import { scenarios as s_spapr_tce_get_info } from './container/spapr-tce-get-info.js';
import { scenarios as s_spapr_tce_remove } from './container/spapr-tce-remove.js';
import { scenarios as s_spapr_unregister_memory } from './container/spapr-unregister-memory.js';
import { scenarios as unknownIoctl } from './container/unknown-ioctl.js';
import { scenarios as unmapDma } from './container/unmap-dma.js';
import { scenarios as s_unmap_dma_spapr } from './container/unmap-dma-spapr.js';
import { scenarios as s_device_attach_iommufd_pt } from './device/attach-iommufd-pt.js';
import { scenarios as s_device_bind_iommufd } from './device/bind-iommufd.js';
import { scenarios as s_device_detach_iommufd_pt } from './device/detach-iommufd-pt.js';
import { scenarios as s_device_feature } from './device/feature.js';
import { scenarios as s_device_get_gfx_dmabuf } from './device/get-gfx-dmabuf.js';
import { scenarios as s_device_get_info } from './device/get-info.js';
import { scenarios as s_device_get_pci_hot_reset_info } from './device/get-pci-hot-reset-info.js';
import { scenarios as s_device_ioeventfd } from './device/ioeventfd.js';
import { scenarios as s_device_pci_hot_reset } from './device/pci-hot-reset.js';
import { scenarios as s_device_query_gfx_plane } from './device/query-gfx-plane.js';
import { scenarios as deviceReadWrite } from './device/read-write.js';
import { scenarios as s_device_set_irqs } from './device/set-irqs.js';
import { scenarios as s_group_close } from './group/close.js';
import { scenarios as s_group_get_device_fd } from './group/get-device-fd.js';
import { scenarios as s_group_get_status } from './group/get-status.js';
import { scenarios as s_group_open } from './group/open.js';
import { scenarios as s_group_set_container } from './group/set-container.js';
import { scenarios as s_group_unset_container } from './group/unset-container.js';
import { scenarios as s_sequences_dpdk } from './sequences/dpdk.js';
import { scenarios as s_sequences_qemu_spapr } from './sequences/qemu-spapr.js';
import { scenarios as s_sequences_spdk } from './sequences/spdk.js';

export const scenarios: readonly Scenario[] = [
  ...s_group_get_status,
  ...s_group_open,
  ...s_group_set_container,
  ...s_group_unset_container,
  ...s_group_get_device_fd,
  ...s_group_close,
  ...s_device_get_info,
  ...s_device_set_irqs,
  ...deviceReadWrite,
  ...s_device_feature,
  ...s_device_ioeventfd,
  ...s_device_get_pci_hot_reset_info,
  ...s_device_pci_hot_reset,
  ...s_device_query_gfx_plane,
  ...s_device_get_gfx_dmabuf,
  ...s_device_bind_iommufd,
  ...s_device_attach_iommufd_pt,
  ...s_device_detach_iommufd_pt,

  ...getApiVersion,
  ...checkExtension,
  ...setIommu,
  ...unknownIoctl,
  ...iommuGetInfo,
  ...mapDma,
  ...unmapDma,
  ...dirtyPages,
  ...s_spapr_tce_get_info,
  ...s_spapr_register_memory,
  ...s_spapr_unregister_memory,
  ...s_spapr_tce_create,
  ...s_spapr_tce_remove,
  ...s_map_dma_spapr,
  ...s_unmap_dma_spapr,
  ...s_enable_disable,
  ...s_eeh_pe_op,
  ...s_sequences_qemu_spapr,
  ...s_sequences_dpdk,
  ...s_sequences_spdk,
];
