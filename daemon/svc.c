/*
 * svc.c — see svc.h.
 *
 * Notifications are sent by hand (a datagram to $NOTIFY_SOCKET) rather
 * than with sd_notify(): sd_notify reads the variable at every call, so it
 * would have to stay in the environment, where every exec job would
 * inherit it.  Socket activation and the watchdog use libsystemd
 * (sd_listen_fds, sd_watchdog_enabled), which unset their variables.
 *
 * Sends never block the loop (MSG_DONTWAIT): a notification that does not
 * fit now is dropped, and the next status or ping follows soon.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "svc.h"

#define STATUS_MAX      512             /* bytes of STATUS= text */
#define STATUS_EVERY    1               /* seconds between status checks */

struct svc {
	int fd;                         /* datagram socket, or -1: no manager */
	struct sockaddr_un sa;          /* NOTIFY_SOCKET */
	socklen_t salen;
	bool failing;                   /* the last send failed (logged) */
	struct event_base *base;
	uint64_t watchdog_usec;         /* 0: no watchdog */
	struct event *watchdog;         /* WATCHDOG=1, every half interval */
	struct event *tick;             /* the status check */
	svc_status_fn status;
	void *arg;
	char last[STATUS_MAX];          /* the status last sent */
};

/* ---- sending ------------------------------------------------------------- */

static void
svc_send(struct svc *sv, const char *msg)
{
	if (sv->fd < 0)
		return;
	if (sendto(sv->fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
	    (struct sockaddr *)&sv->sa, sv->salen) >= 0) {
		sv->failing = false;
		return;
	}
	if (!sv->failing)               /* once, not at every ping */
		log_warn("notify the service manager");
	sv->failing = true;
}

/* Send head (e.g. "READY=1") with the current status. */
static void
svc_send_status(struct svc *sv, const char *head)
{
	char msg[STATUS_MAX + 64];

	if (sv->fd < 0)
		return;
	sv->status(sv->arg, sv->last, sizeof(sv->last));
	snprintf(msg, sizeof(msg), "%s\nSTATUS=%s", head, sv->last);
	svc_send(sv, msg);
}

/* Open a socket for $NOTIFY_SOCKET: a path, or "@name" in the abstract
 * namespace.  (systemd 253 may also pass a vsock address, for a guest
 * talking to its host: not for jobd.) */
static int
svc_open(struct svc *sv, const char *path)
{
	size_t len = strlen(path);

	if ((path[0] != '/' && path[0] != '@') || len < 2 ||
	    len >= sizeof(sv->sa.sun_path))
		return -EAFNOSUPPORT;
	sv->sa.sun_family = AF_UNIX;
	memcpy(sv->sa.sun_path, path, len);
	if (path[0] == '@')
		sv->sa.sun_path[0] = '\0';
	sv->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (path[0] == '/'));
	if ((sv->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	return 0;
}

/* ---- timers -------------------------------------------------------------- */

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	svc_send(arg, "WATCHDOG=1");
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct svc *sv = arg;
	char now[STATUS_MAX], msg[STATUS_MAX + 8];

	sv->status(sv->arg, now, sizeof(now));
	if (strcmp(now, sv->last) == 0)
		return;
	memcpy(sv->last, now, sizeof(now));
	snprintf(msg, sizeof(msg), "STATUS=%s", now);
	svc_send(sv, msg);
}

static struct event *
svc_timer(struct event_base *base, uint64_t usec, event_callback_fn fn,
    struct svc *sv)
{
	struct timeval tv = { (time_t)(usec / 1000000),
		(suseconds_t)(usec % 1000000) };
	struct event *ev;

	if ((ev = event_new(base, -1, EV_PERSIST, fn, sv)) == NULL)
		return NULL;
	if (event_add(ev, &tv) < 0) {
		event_free(ev);
		return NULL;
	}
	return ev;
}

/* The watchdog, if the manager asked for one, from READY=1 on (systemd
 * arms it then): pings at half its interval, as sd_watchdog_enabled(3)
 * advises. */
static void
svc_watchdog(struct svc *sv)
{
	uint64_t half = sv->watchdog_usec / 2;

	if (half == 0 || sv->watchdog != NULL)
		return;
	if ((sv->watchdog = svc_timer(sv->base, half, on_watchdog, sv)) ==
	    NULL)
		fatalx("cannot set up the watchdog timer");
	log_debug("watchdog: WATCHDOG=1 every %.3f s", half / 1e6);
}

/* ---- the interface ------------------------------------------------------- */

struct svc *
svc_new(struct event_base *base, svc_status_fn status, void *arg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct svc *sv;
	int rc;

	if ((sv = calloc(1, sizeof(*sv))) == NULL)
		return NULL;
	sv->fd = -1;
	sv->base = base;
	sv->status = status;
	sv->arg = arg;
	if (path != NULL && (rc = svc_open(sv, path)) < 0)
		log_warnx("ignoring NOTIFY_SOCKET=%s: %s", path, strerror(-rc));
	unsetenv("NOTIFY_SOCKET");
	if ((rc = sd_watchdog_enabled(1, &sv->watchdog_usec)) < 0)
		log_warnx("ignoring WATCHDOG_USEC: %s", strerror(-rc));
	if (rc <= 0 || sv->fd < 0)
		sv->watchdog_usec = 0;
	if (sv->fd >= 0 && (sv->tick = svc_timer(base, STATUS_EVERY * 1000000,
	    on_tick, sv)) == NULL) {
		svc_free(sv);
		return NULL;
	}
	return sv;
}

int
svc_listen_fd(const char **what)
{
	int n;

	if ((n = sd_listen_fds(1)) == 0)
		return -ENOENT;
	if (n < 0)
		return (*what = "bad LISTEN_FDS or LISTEN_PID", n);
	if (n > 1)
		return (*what = "more than one socket passed (jobd listens "
		    "on one: check jobd.socket)", -EINVAL);
	return SD_LISTEN_FDS_START;
}

void
svc_ready(struct svc *sv)
{
	svc_send_status(sv, "READY=1");
	svc_watchdog(sv);
}

void
svc_reloading(struct svc *sv)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
	svc_send(sv, msg);
}

void
svc_stopping(struct svc *sv)
{
	svc_send_status(sv, "STOPPING=1");
}

void
svc_free(struct svc *sv)
{
	if (sv == NULL)
		return;
	if (sv->watchdog != NULL)
		event_free(sv->watchdog);
	if (sv->tick != NULL)
		event_free(sv->tick);
	if (sv->fd >= 0)
		close(sv->fd);
	free(sv);
}
