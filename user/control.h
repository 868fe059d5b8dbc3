/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The loader's control socket: how `imasnap snapshot` asks a running
 * imasnap-load to trim, since under the store's protection only the loader
 * may write the helper's trim file. An abstract unix socket named after the
 * store's real path (nothing to create in the protected directory), one
 * SOCK_SEQPACKET message each way, root callers only (SO_PEERCRED).
 *
 *   request: "snapshot KEEP"      reply: "ERR TRIMMED" (ERR: 0 or -errno)
 */
#ifndef IMASNAP_CONTROL_H
#define IMASNAP_CONTROL_H

#include <stdint.h>

/* The listening socket for store dir (non-blocking), or -errno */
int control_listen(const char *dir);

/*
 * Accepts one pending request on the listening socket and answers it:
 * snapshot(ctx, keep, &trimmed) does the work. 0 when there was none or it
 * was answered; the caller's own errors are only sent back.
 */
int control_serve(int lfd, int (*snapshot)(void *ctx, uint64_t keep, uint64_t *trimmed),
		  void *ctx);

/*
 * Asks the loader of store dir to snapshot. -ECONNREFUSED when no loader
 * listens; otherwise 0 with *result the loader's answer (0 or -errno).
 */
int control_snapshot(const char *dir, uint64_t keep, int *result, uint64_t *trimmed);

#endif /* IMASNAP_CONTROL_H */
