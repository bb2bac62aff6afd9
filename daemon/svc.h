/*
 * svc.h — jobd under a service manager (systemd's sd_notify protocol and
 * socket activation): readiness, reload and stop notifications, a STATUS=
 * line kept current, the watchdog, and the listening socket the manager
 * may pass.  See docs/SYSTEMD.md.
 *
 * Everything is a no-op when jobd was not started that way (no
 * NOTIFY_SOCKET, no WATCHDOG_USEC, no LISTEN_FDS), so the same binary runs
 * in a shell, under the test harness and under systemd.  The variables are
 * read once and removed from the environment: exec jobs inherit jobd's
 * environment, and they are not the service systemd is talking to.
 */
#ifndef JOBD_SVC_H
#define JOBD_SVC_H

#include <stddef.h>

struct event_base;
struct svc;

/* Write the one-line status (no newline, NUL-terminated, at most len
 * bytes with the NUL) into buf. */
typedef void (*svc_status_fn)(void *arg, char *buf, size_t len);

/* Read (and unset) NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID; timers
 * run on base.  status(arg) is asked once a second and sent when it
 * changed.  Returns NULL only on ENOMEM; an unusable NOTIFY_SOCKET is
 * logged and ignored. */
struct svc *svc_new(struct event_base *base, svc_status_fn status,
    void *arg);

/* The listening socket passed by the service manager (LISTEN_FDS,
 * LISTEN_PID; the variables are unset): its fd (3), -ENOENT when none was
 * passed, or another negative errno (*what says why: more than one fd, a
 * bad LISTEN_FDS).  The fd is not checked here (srv_adopt does). */
int svc_listen_fd(const char **what);

/* READY=1 with the current status: the socket listens, the database is
 * open and recovered.  Also ends a reload.  The first one starts the
 * watchdog, if asked for: WATCHDOG=1 every half interval from a loop
 * timer, so a loop that stops turning stops the pings. */
void svc_ready(struct svc *sv);

/* RELOADING=1 (with MONOTONIC_USEC=, as systemd 253 wants); svc_ready
 * ends it. */
void svc_reloading(struct svc *sv);

/* STOPPING=1 with the current status. */
void svc_stopping(struct svc *sv);

/* Stop the timers and close the notification socket.  NULL is a no-op. */
void svc_free(struct svc *sv);

#endif /* JOBD_SVC_H */
