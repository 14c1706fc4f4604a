/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* A miniature vfio.h for the generator's golden test: one of each shape the real header has. */
#ifndef _UAPIVFIO_H
#define _UAPIVFIO_H

#include <linux/types.h>
#include <linux/ioctl.h>

#ifndef __counted_by
#define __counted_by(m)
#endif

#define VFIO_TYPE	(';')
#define VFIO_BASE	100
#define VFIO_MINI_FLAG_A	(1 << 0)
#define VFIO_MINI_FLAG_B	(1 << 1)
#define VFIO_MINI_CAP_RANGE	1

struct vfio_info_cap_header {
	__u16	id;
	__u16	version;
	__u32	next;
};

/**
 * VFIO_MINI_GET - _IOWR(VFIO_TYPE, VFIO_BASE + 0, struct vfio_mini)
 */
struct vfio_mini_range {
	__u64	start;
	__u64	end;
};

struct vfio_mini {
	__u32	argsz;
	__u32	flags;
	__u64	size;		/* bytes */
	union {
		__u32	index;
		__u32	id;
	};
	__u32	nr_ranges;
	struct vfio_mini_range ranges[] __counted_by(nr_ranges);
};
#define VFIO_MINI_GET	_IO(VFIO_TYPE, VFIO_BASE + 0)

#endif
