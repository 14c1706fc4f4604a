// SPDX-License-Identifier: MIT
/** Names derive mechanically from C names (YNL style); C constant names are kept verbatim. */

/** `vfio_iommu_spapr_tce_create` -> `VfioIommuSpaprTceCreate`. */
export function typeName(cName: string): string {
  return cName
    .split('_')
    .filter((part) => part !== '')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/** `page_shift` -> `pageShift`, `__resv1` -> `resv1`, `dma32_window_start` -> `dma32WindowStart`. */
export function memberKey(cName: string): string {
  const parts = cName.split('_').filter((part) => part !== '');
  return parts.map((part, i) => (i === 0 ? part : part[0]!.toUpperCase() + part.slice(1))).join('');
}

/** `vfio-dma-map-flags` -> `VfioDmaMapFlags`. */
export function kebabToPascal(name: string): string {
  return typeName(name.replaceAll('-', '_'));
}

/** `vfio-dma-map-flags` -> `vfioDmaMapFlags`. */
export function kebabToCamel(name: string): string {
  return memberKey(name.replaceAll('-', '_'));
}
