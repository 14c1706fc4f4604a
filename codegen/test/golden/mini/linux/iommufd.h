/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* A miniature iommufd.h for the generator's golden test: a second header, flags as enumerators, a doc signature
 * on the struct, a continued #define. */
#ifndef _IOMMUFD_H
#define _IOMMUFD_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define IOMMUFD_TYPE (';')

enum {
	IOMMUFD_CMD_BASE = 0x80,
	IOMMUFD_CMD_MINI_MAP = IOMMUFD_CMD_BASE,
};

enum iommufd_mini_map_flags {
	IOMMU_MINI_MAP_FIXED = 1 << 0,
	IOMMU_MINI_MAP_WRITEABLE = 1 << 1,
};

/**
 * struct iommu_mini_map - ioctl(IOMMU_MINI_MAP)
 * @size: sizeof(struct iommu_mini_map)
 * @flags: Combination of enum iommufd_mini_map_flags
 * @iova: IOVA, chosen by the kernel unless FIXED
 */
struct iommu_mini_map {
	__u32 size;
	__u32 flags;
	__aligned_u64 iova;
};
#define IOMMU_MINI_MAP _IO(IOMMUFD_TYPE, \
			   IOMMUFD_CMD_MINI_MAP)

#endif
