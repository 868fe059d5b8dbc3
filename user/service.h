/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Running as a systemd service (docs/service.md), without libsystemd:
 *  - readiness and status through the notify socket (sd_notify(3)'s
 *    protocol: one datagram to $NOTIFY_SOCKET, a path or an abstract name
 *    written with a leading '@');
 *  - messages with a syslog level: a "<N>" prefix that journald reads
 *    (SyslogLevelPrefix=), written only when stderr is the journal's stream
 *    ($JOURNAL_STREAM names its device and inode), so a terminal sees plain
 *    text.
 */
#ifndef IMASNAP_SERVICE_H
#define IMASNAP_SERVICE_H

#include <syslog.h>

/* Sends "READY=1", "STOPPING=1", "STATUS=..." (lines); 0 when not a service */
int service_notify(const char *state);
/* fprintf(stderr) with a level: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO */
void say(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* IMASNAP_SERVICE_H */
