// SPDX-License-Identifier: MIT
/**
 * Keys for the calls the typed objects make on each other (a group telling its container it joined, an IOMMU
 * marking a buffer mapped). They live under `internal/`, which the package does not export, so user code cannot
 * reach them and the public surface stays the kernel's verbs.
 */
export const groupAttached: unique symbol = Symbol('vfio-ts.groupAttached');
export const groupDetaching: unique symbol = Symbol('vfio-ts.groupDetaching');
export const groupDetached: unique symbol = Symbol('vfio-ts.groupDetached');
export const releaseFromContainer: unique symbol = Symbol('vfio-ts.releaseFromContainer');
export const bufferState: unique symbol = Symbol('vfio-ts.bufferState');
export const bufferFreed: unique symbol = Symbol('vfio-ts.bufferFreed');
export const releaseIommu: unique symbol = Symbol('vfio-ts.releaseIommu');
export const forgetBuffer: unique symbol = Symbol('vfio-ts.forgetBuffer');
export const deviceClosed: unique symbol = Symbol('vfio-ts.deviceClosed');
