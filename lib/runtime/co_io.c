/*
 * co_io.c — awaiting file descriptors.
 *
 * A wait is one struct event on the waiting task's own stack, assigned to
 * the runtime's event_base for exactly the duration of the park: the
 * libevent callback only wakes the task, and the task deletes the event on
 * every way out of co_park (ready, deadline, cancel), so libevent never
 * holds a pointer into a stack frame that has returned.
 *
 * The helpers try the system call first and wait only on EAGAIN: the common
 * case of a ready fd costs no epoll_ctl at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "co.h"
#include "co_io.h"
#include "co_sched.h"

_Static_assert(CO_IO_READ == EV_READ && CO_IO_WRITE == EV_WRITE,
    "CO_IO_* must match libevent's EV_READ/EV_WRITE");

int
co_io_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if ((fl & O_NONBLOCK) == 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static bool
would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK;
}

static void
io_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	co_wake(arg, 0);        /* false if a deadline or cancel came first */
}

/* Park until fd is ready for what or the absolute deadline passes. */
static int
wait_until(int fd, short what, double deadline)
{
	struct co_rt *rt = co_current_rt();
	struct event ev;
	int rc;

	if (rt == NULL)
		return -EPERM;
	if (fd < 0)
		return -EBADF;
	if (what == 0 || (what & ~(CO_IO_READ | CO_IO_WRITE)) != 0)
		return -EINVAL;
	if (event_assign(&ev, co_rt_base(rt), fd, what, io_ready_cb,
	    co_self()) < 0)
		return -EINVAL;
	if (event_add(&ev, NULL) < 0) {
		/* epoll_ctl failed; libevent does not keep its errno. */
		return fcntl(fd, F_GETFD) < 0 ? -EBADF : -EPERM;
	}
	rc = co_park(deadline, -ETIMEDOUT);
	event_del(&ev);         /* also when co_park returned without parking */
	return rc;
}

/* A cancelled or timed-out task must not keep doing I/O just because it
 * happens not to block (a copy loop would never notice). */
static int
gate(void)
{
	return co_check();
}

int
co_io_wait(int fd, short what, double timeout)
{
	return wait_until(fd, what, co_deadline(timeout));
}

ssize_t
co_read(int fd, void *buf, size_t n, double timeout)
{
	double deadline = co_deadline(timeout);
	ssize_t r;
	int rc;

	if ((rc = gate()) < 0)
		return rc;
	for (;;) {
		if ((r = read(fd, buf, n)) >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (!would_block(errno))
			return -errno;
		if ((rc = wait_until(fd, CO_IO_READ, deadline)) < 0)
			return rc;
	}
}

/* One write.  Sockets go through send(MSG_NOSIGNAL) so a closed peer is
 * -EPIPE rather than SIGPIPE; *sock drops to false on the first ENOTSOCK. */
static ssize_t
write_once(int fd, const void *buf, size_t n, bool *sock)
{
	ssize_t w;

	if (*sock) {
		w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w >= 0 || errno != ENOTSOCK)
			return w;
		*sock = false;
	}
	return write(fd, buf, n);
}

int
co_write_all_ex(int fd, const void *buf, size_t n, double timeout,
    size_t *written)
{
	double deadline = co_deadline(timeout);
	const char *p = buf;
	size_t done = 0;
	bool sock = true;
	ssize_t w;
	int rc;

	if ((rc = gate()) < 0)
		goto out;
	while (done < n) {
		if ((w = write_once(fd, p + done, n - done, &sock)) >= 0) {
			done += (size_t)w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (!would_block(errno)) {
			rc = -errno;
			break;
		}
		if ((rc = wait_until(fd, CO_IO_WRITE, deadline)) < 0)
			break;
	}
out:
	if (written != NULL)
		*written = done;
	return rc;
}

ssize_t
co_write_all(int fd, const void *buf, size_t n, double timeout)
{
	int rc = co_write_all_ex(fd, buf, n, timeout, NULL);

	return rc < 0 ? rc : (ssize_t)n;
}

/* Errors accept(2) reports for a connection that died in the queue
 * (see its man page): skip it and take the next one.  EOPNOTSUPP is left
 * out on purpose: it also means lfd is not a stream socket. */
static bool
accept_skippable(int err)
{
	switch (err) {
	case ECONNABORTED:
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return true;
	default:
		return false;
	}
}

int
co_accept(int lfd, struct sockaddr *addr, socklen_t *addrlen, double timeout)
{
	double deadline = co_deadline(timeout);
	int fd, rc;

	if ((rc = gate()) < 0)
		return rc;
	for (;;) {
		fd = accept4(lfd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno == EINTR || accept_skippable(errno))
			continue;
		if (!would_block(errno))
			return -errno;
		if ((rc = wait_until(lfd, CO_IO_READ, deadline)) < 0)
			return rc;
	}
}

int
co_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
    double timeout)
{
	double deadline = co_deadline(timeout);
	socklen_t len = sizeof(int);
	int err = 0, rc;

	if ((rc = gate()) < 0)
		return rc;
	if (connect(fd, addr, addrlen) == 0)
		return 0;
	/* After EINTR a non-blocking connect carries on asynchronously,
	 * exactly as after EINPROGRESS. */
	if (errno != EINPROGRESS && errno != EINTR)
		return -errno;
	if ((rc = wait_until(fd, CO_IO_WRITE, deadline)) < 0)
		return rc;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}
