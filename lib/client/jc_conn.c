/*
 * jc_conn.c — the client's connection to jobd (see jc.h).
 *
 * The read buffer holds [off, fill) unread bytes; scan marks how far the
 * search for '\n' has gone, so a line arriving in many reads is searched
 * once, not once per read.  Reading stops while the unread bytes are past
 * the line bound, so the buffer never holds more than max + 2 bytes: a
 * line, its '\n' and the NUL that ends a returned line.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "jc_int.h"

/* First size of the read buffer; it doubles from there as lines demand. */
#define CONN_BUF_INIT (64 * 1024)


static double
conn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
conn_deadline(double timeout)
{
	return timeout < 0 ? -1 : conn_now() + timeout;
}

/* Wait until the socket is ready for events or deadline (< 0: never)
 * passes: the revents, or -ETIMEDOUT.  The one place the client waits. */
static int
conn_wait(struct jc_conn *c, short events, double deadline)
{
	struct pollfd p = { .fd = c->fd, .events = events };
	double left = -1;
	int n, ms;

	for (;;) {
		ms = -1;
		if (deadline >= 0) {
			if ((left = deadline - conn_now()) <= 0)
				return -ETIMEDOUT;
			ms = left > 86400 ? 86400000 : (int)ceil(left * 1000);
		}
		if (c->wait != NULL)
			return c->wait(c->fd, events, left, c->wait_arg);
		if ((n = poll(&p, 1, ms)) > 0)
			return p.revents;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int
jc_fdopen(int fd, struct jc_conn **out)
{
	struct jc_conn *c;
	int fl;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	if ((fl = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	c->fd = fd;
	c->max = JC_LINE_MAX;
	c->timeout = JC_FOREVER;
	*out = c;
	return 0;
}

int
jc_addr(const char *path, struct sockaddr_un *sun)
{
	size_t len = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (len == 0 || len >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, path, len + 1);
	return 0;
}

const char *
jc_default_path(void)
{
	const char *env = getenv("JOBD_SOCKET");

	return env != NULL && *env != '\0' ? env : JC_DEFAULT_SOCKET;
}

int
jc_open(const char *path, struct jc_conn **out)
{
	struct sockaddr_un sun;
	int fd, rc;

	*out = NULL;
	if (path == NULL)
		path = jc_default_path();
	if ((rc = jc_addr(path, &sun)) < 0)
		return rc;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -errno;
	do
		rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	while (rc == -1 && errno == EINTR);
	if (rc == -1) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return jc_fdopen(fd, out);
}

void
jc_close(struct jc_conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

int
jc_fd(const struct jc_conn *c)
{
	return c->fd;
}

void
jc_set_line_max(struct jc_conn *c, size_t max)
{
	c->max = max;
}

void
jc_set_wait(struct jc_conn *c, jc_wait_fn fn, void *arg)
{
	c->wait = fn;
	c->wait_arg = arg;
}

/* How many bytes the next read may take: none once the unread bytes are
 * past the bound (a line that long is refused either way). */
static size_t
conn_want(const struct jc_conn *c)
{
	size_t unread = c->fill - c->off;

	return c->end != 0 || unread > c->max ? 0 : c->max + 1 - unread;
}

/* Make room for more bytes after fill: move the unread bytes to the
 * front, or grow the buffer (never past max + 2). */
static int
conn_room(struct jc_conn *c)
{
	size_t ncap;
	char *nbuf;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->fill - c->off);
		c->fill -= c->off;
		c->scan -= c->off;
		c->off = 0;
	}
	if (c->cap > 0 && c->fill + 1 < c->cap)
		return 0;
	ncap = c->cap == 0 ? CONN_BUF_INIT : c->cap * 2;
	if (ncap > c->max + 2)
		ncap = c->max + 2;
	if (ncap <= c->cap)
		return 0;
	if ((nbuf = realloc(c->buf, ncap)) == NULL)
		return -ENOMEM;
	c->buf = nbuf;
	c->cap = ncap;
	return 0;
}

/* Read what has arrived (call only when conn_want > 0).  0 (bytes read,
 * none there, or the end noted in c->end) or -ENOMEM. */
static int
conn_fill(struct jc_conn *c)
{
	size_t want;
	ssize_t n;
	int rc;

	if ((rc = conn_room(c)) < 0)
		return rc;
	want = c->cap - 1 - c->fill;
	if (want > conn_want(c))
		want = conn_want(c);
	if (want == 0)
		return 0;
	do
		n = read(c->fd, c->buf + c->fill, want);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		c->fill += n;
	else if (n == 0)
		c->end = 1;
	else if (errno != EAGAIN)
		c->end = -errno;
	return 0;
}

/* Send the iovecs, waiting for room up to timeout seconds each time; with
 * take, read arriving answers while waiting. */
static int
conn_sendv(struct jc_conn *c, struct iovec *iov, int niov, double timeout,
    bool take)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = niov };
	double deadline = conn_deadline(timeout);
	short ev;
	ssize_t n;
	int rc;

	while (msg.msg_iovlen > 0) {
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN)
			return -errno;
		if (n == -1) {
			ev = POLLOUT | (take && conn_want(c) > 0 ? POLLIN : 0);
			if ((rc = conn_wait(c, ev, deadline)) < 0)
				return rc;
			if ((rc & POLLIN) && (ev & POLLIN) &&
			    (rc = conn_fill(c)) < 0)
				return rc;
			continue;
		}
		deadline = conn_deadline(timeout);
		/* Step past what was written, partly into an iovec maybe. */
		while (msg.msg_iovlen > 0 &&
		    (size_t)n >= msg.msg_iov->iov_len) {
			n -= msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen > 0) {
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base +
			    n;
			msg.msg_iov->iov_len -= n;
		}
	}
	return 0;
}

int
jc_send(struct jc_conn *c, const char *line, size_t len, double timeout)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)line, .iov_len = len },
		{ .iov_base = "\n", .iov_len = 1 },
	};

	return conn_sendv(c, iov, 2, timeout, true);
}

int
jc_send_raw(struct jc_conn *c, const void *buf, size_t len, double timeout)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return conn_sendv(c, &iov, 1, timeout, true);
}

int
jc_write(struct jc_conn *c, const void *buf, size_t len, double timeout)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return conn_sendv(c, &iov, 1, timeout, false);
}

ssize_t
jc_write_some(struct jc_conn *c, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n >= 0)
		return n;
	return errno == EAGAIN ? 0 : -errno;
}

int
jc_shutdown(struct jc_conn *c)
{
	return shutdown(c->fd, SHUT_WR) == 0 ? 0 : -errno;
}

int
jc_recv(struct jc_conn *c, double timeout, char **line, size_t *len)
{
	double deadline = 0;    /* taken at the first wait: most lines are
				 * in the buffer already */
	bool timed = false;
	char *nl;
	int rc;

	for (;;) {
		if (c->err != 0)
			return c->err;
		nl = c->fill > c->scan ?
		    memchr(c->buf + c->scan, '\n', c->fill - c->scan) : NULL;
		if (nl != NULL)
			break;
		c->scan = c->fill;
		if (c->fill - c->off > c->max)
			return c->err = -EMSGSIZE;
		if (c->end == 1)
			return c->err = c->fill > c->off ? -EBADMSG : -EPIPE;
		if (c->end < 0)
			return c->err = c->end;
		/* Read first: poll only when nothing has come. */
		if ((rc = conn_fill(c)) < 0)
			return rc;
		if (c->fill > c->scan || c->end != 0)
			continue;
		if (!timed) {
			deadline = conn_deadline(timeout);
			timed = true;
		}
		if ((rc = conn_wait(c, POLLIN, deadline)) < 0)
			return rc;
	}
	if ((size_t)(nl - (c->buf + c->off)) > c->max)
		return c->err = -EMSGSIZE;
	*nl = '\0';
	*line = c->buf + c->off;
	*len = nl - *line;
	c->off = c->scan = nl + 1 - c->buf;
	return 0;
}
