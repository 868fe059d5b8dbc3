/* SPDX-License-Identifier: GPL-2.0-only */
/* get/put_unaligned_*: <asm/unaligned.h> up to 6.11, <linux/unaligned.h> since */
#ifndef IMASNAP_UNALIGNED_H
#define IMASNAP_UNALIGNED_H

#include <linux/version.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#endif
