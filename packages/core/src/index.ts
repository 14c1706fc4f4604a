// SPDX-License-Identifier: MIT
export type { Arch, Backend, IoctlArg, IoctlOptions, Mapping, MmapOptions } from './backend.js';
export {
  type AllocateDmaOptions,
  Container,
  type ContainerOptions,
  type IommuChoice,
  type SetIommuOptions,
} from './container.js';
export { Device, type DeviceInfo, type SetIrqsOptions } from './device.js';
export { DmaBuffer } from './dma-buffer.js';
export {
  EDU_BUFFER_ADDRESS,
  EDU_BUFFER_SIZE,
  EDU_DEVICE_ID,
  EDU_VENDOR_ID,
  Edu,
  type EduDmaOptions,
  type EduIdentification,
  type EduOptions,
  eduLittleEndian,
  eduRegisters,
} from './drivers/edu.js';
export {
  type FdKind,
  isSystemError,
  type SystemErrorDetails,
  VfioSystemError,
  VfioTsError,
} from './errors.js';
export { Group, type GroupStatus } from './group.js';
export type { IovaRange } from './internal/iova-allocator.js';
export type { DmaMapOptions, Iommu, IommuModel } from './iommu/iommu.js';
export {
  type CreateWindowOptions,
  type DmaWindow,
  guessLevels,
  Spapr,
  type SpaprInfo,
  type SpaprMapOptions,
} from './iommu/spapr.js';
export { Type1, type Type1Info } from './iommu/type1.js';
export { Irq, type IrqInfo, type WaitOptions } from './irq.js';
export {
  PCI_CLASS_REVISION,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_VENDOR_ID,
  PciConfig,
} from './pci-config.js';
export { Region, type RegionCapabilities, type RegionInfo, RegisterAccess, type SparseMmapArea } from './region.js';
