/*
 * ctl_conn.c — jobctl's blocking connection to jobd (see ctl_conn.h).
 *
 * The read buffer holds [off, fill) unread bytes; scan marks how far the
 * search for '\n' has gone, so a line arriving in many reads is searched
 * once, not once per read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_conn.h"

/* First size of the read buffer; it doubles from there as lines demand. */
#define CONN_BUF_INIT (64 * 1024)

struct ctl_conn {
	int fd;
	char *buf;
	size_t cap;  /* bytes allocated */
	size_t off;  /* first unread byte */
	size_t fill; /* end of the bytes read */
	size_t scan; /* [off, scan) holds no '\n' */
};

int
ctl_conn_fdopen(int fd, struct ctl_conn **out)
{
	struct ctl_conn *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	*out = c;
	return 0;
}

int
ctl_conn_open(const char *path, struct ctl_conn **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd, rc;

	*out = NULL;
	if (len == 0 || len >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, len + 1);
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
	return ctl_conn_fdopen(fd, out);
}

int
ctl_conn_send(struct ctl_conn *c, const char *line, size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)line, .iov_len = len },
		{ .iov_base = "\n", .iov_len = 1 },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	while (msg.msg_iovlen > 0) {
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
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

/* Make room for more bytes after fill: move the unread bytes to the front,
 * or grow the buffer when it is full of one unfinished line.  +1 keeps a
 * byte for the NUL that ends a returned line. */
static int
conn_room(struct ctl_conn *c)
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
	if (c->fill > CTL_LINE_MAX)     /* a whole line's worth, no '\n' */
		return -EMSGSIZE;
	/* At most a line of CTL_LINE_MAX, its '\n' and a NUL. */
	ncap = c->cap == 0 ? CONN_BUF_INIT : c->cap * 2;
	if (ncap > CTL_LINE_MAX + 2)
		ncap = CTL_LINE_MAX + 2;
	if ((nbuf = realloc(c->buf, ncap)) == NULL)
		return -ENOMEM;
	c->buf = nbuf;
	c->cap = ncap;
	return 0;
}

/* Read once into the buffer.  Bytes read, 0 at end of file, or -errno. */
static ssize_t
conn_fill(struct ctl_conn *c)
{
	ssize_t n;
	int rc;

	if ((rc = conn_room(c)) < 0)
		return rc;
	do
		n = read(c->fd, c->buf + c->fill, c->cap - 1 - c->fill);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -errno;
	c->fill += n;
	return n;
}

int
ctl_conn_recv(struct ctl_conn *c, char **line, size_t *len)
{
	char *nl;
	ssize_t n;

	for (;;) {
		nl = c->fill > c->scan ?
		    memchr(c->buf + c->scan, '\n', c->fill - c->scan) : NULL;
		if (nl != NULL)
			break;
		c->scan = c->fill;
		if ((n = conn_fill(c)) < 0)
			return (int)n;
		if (n == 0)
			return c->fill > c->off ? -EBADMSG : -EPIPE;
	}
	*nl = '\0';
	*line = c->buf + c->off;
	*len = nl - *line;
	c->off = c->scan = nl + 1 - c->buf;
	return 0;
}

void
ctl_conn_close(struct ctl_conn *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}
