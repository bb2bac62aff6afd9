/*
 * jc_co.c — the client's waits as coroutine awaits (see jc_co.h).
 *
 * The whole adaptation is one wait function: jc_conn.c's socket is
 * non-blocking and it retries every read and write, so all a task needs
 * is to park on the fd instead of sleeping in poll(2).
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "co.h"
#include "co_io.h"
#include "jc_co.h"
#include "jc_int.h"

/* Pause between connects while jobd's backlog is full: a Unix socket
 * gives nothing to wait on then (co_io.h, co_connect). */
#define CO_CONNECT_RETRY 0.01

static int
co_wait(int fd, short events, double timeout, void *arg)
{
	struct pollfd p = { .fd = fd, .events = events };
	short what = (events & POLLIN ? CO_IO_READ : 0) |
	    (events & POLLOUT ? CO_IO_WRITE : 0);
	int rc;

	if (co_self() == NULL) {
		rc = poll(&p, 1, timeout < 0 ? -1 : (int)(timeout * 1000 + 1));
		return rc > 0 ? p.revents : rc == 0 ? -ETIMEDOUT :
		    errno == EINTR ? 0 : -errno;
	}
	if ((rc = co_io_wait(fd, what, timeout < 0 ? CO_FOREVER : timeout)) <
	    0)
		return rc;
	return events;
}

void
jc_co_attach(struct jc_conn *c)
{
	jc_set_wait(c, co_wait, NULL);
}

int
jc_co_open(const char *path, double timeout, struct jc_conn **out)
{
	double end = timeout < 0 ? -1 : co_now() + timeout;
	struct sockaddr_un sun;
	int fd, rc;

	*out = NULL;
	if ((rc = jc_addr(path != NULL ? path : jc_default_path(), &sun)) < 0)
		return rc;
	for (;;) {
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1)
			return -errno;
		rc = co_connect(fd, (struct sockaddr *)&sun, sizeof(sun),
		    timeout);
		if (rc == 0)
			break;
		close(fd);
		if (rc != -EAGAIN)
			return rc;
		if (end >= 0 && co_now() >= end)
			return -ETIMEDOUT;
		if ((rc = co_sleep(CO_CONNECT_RETRY)) < 0)
			return rc;
	}
	if ((rc = jc_fdopen(fd, out)) < 0)
		return rc;
	jc_co_attach(*out);
	return 0;
}
