/*
 * test_io.c — awaiting fds (co_io.h): waits, reads, writes, accept and
 * connect, with their timeouts and cancellation.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "co.h"
#include "co_io.h"
#include "testutil.h"

#define BIG (8u * 1024 * 1024)

/* ---- helpers ----------------------------------------------------------- */

static void
pair_open(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
}

static void
pair_close(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/* Events added to the base: after an await returns this must be back
 * where it was (the on-stack event was deleted). */
static int
events_added(void)
{
	return event_base_get_num_events(tu_base, EVENT_BASE_COUNT_ADDED);
}

/* Write until the socket's buffer is full; returns the bytes written. */
static size_t
fill(int fd)
{
	static char junk[65536];
	size_t total = 0;
	ssize_t n;

	while ((n = write(fd, junk, sizeof(junk))) > 0)
		total += (size_t)n;
	ck_assert(n < 0 && errno == EAGAIN);
	return total;
}

static void
drain(int fd)
{
	static char buf[65536];         /* task stacks are 64 KiB */

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static unsigned char
pattern(size_t i)
{
	return (unsigned char)(i * 7 + i / 65536);
}

static unsigned char *
pattern_buf(size_t n)
{
	unsigned char *b = malloc(n);

	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(i);
	return b;
}

static int
tcp_listener(int backlog, struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

static int
tcp_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* A Unix listener in a fresh temp dir; *sun gets its address. */
static char unix_dir[64];

static int
unix_listener(int backlog, struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	strcpy(unix_dir, "/tmp/test_io.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(unix_dir));
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/sock", unix_dir);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sun, sizeof(*sun)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	return fd;
}

static void
unix_cleanup(const struct sockaddr_un *sun)
{
	unlink(sun->sun_path);
	rmdir(unix_dir);
}

static int
unix_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* One await run as a task, for the wait/cancel tests. */
struct op {
	int kind;
	int fd;
	double timeout;
	const struct sockaddr *addr;
	socklen_t addrlen;
	void *buf;
	size_t n;
	size_t written;
	int rc;
};

enum { OP_WAIT_R, OP_WAIT_W, OP_READ, OP_WRITE, OP_ACCEPT, OP_CONNECT,
    OP_NKINDS };

static int
op_run(void *arg)
{
	struct op *o = arg;
	ssize_t r = -EINVAL;

	switch (o->kind) {
	case OP_WAIT_R:
		r = co_io_wait(o->fd, CO_IO_READ, o->timeout);
		break;
	case OP_WAIT_W:
		r = co_io_wait(o->fd, CO_IO_WRITE, o->timeout);
		break;
	case OP_READ:
		r = co_read(o->fd, o->buf, o->n, o->timeout);
		break;
	case OP_WRITE:
		r = co_write_all_ex(o->fd, o->buf, o->n, o->timeout,
		    &o->written);
		break;
	case OP_ACCEPT:
		r = co_accept(o->fd, NULL, NULL, o->timeout);
		if (r >= 0)
			close((int)r);
		break;
	case OP_CONNECT:
		r = co_connect(o->fd, o->addr, o->addrlen, o->timeout);
		break;
	}
	o->rc = (int)r;
	return (int)r;
}

/* ---- co_io_wait ------------------------------------------------------- */

static int
wait_readable(void *arg)
{
	struct op o = { .kind = OP_WAIT_R, .timeout = 2.0 };
	struct co_task *t;
	int sv[2], r = -1, base;
	double t0 = co_now();

	(void)arg;
	pair_open(sv);
	o.fd = sv[0];
	base = events_added();
	ck_assert_int_eq(co_spawn(tu_rt, op_run, &o, &t), 0);
	ck_assert_int_eq(co_sleep(0.05), 0);
	ck_assert_msg(!co_done(t), "wait returned before the fd was readable");
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	ck_assert_int_eq(co_join(t, &r), 0);
	ck_assert_int_eq(r, 0);
	tu_assert_time(co_now() - t0, 0.05, 0.05);
	ck_assert_int_eq(events_added(), base);
	pair_close(sv);
	return 0;
}

START_TEST(test_wait_readable)
{
	tu_run(wait_readable, NULL);
}
END_TEST

static int
wait_writable(void *arg)
{
	struct op o = { .kind = OP_WAIT_W, .timeout = 2.0 };
	struct co_task *t;
	int sv[2], r = -1;

	(void)arg;
	pair_open(sv);
	ck_assert_int_eq(co_io_wait(sv[0], CO_IO_WRITE, 1.0), 0);
	ck_assert_uint_gt(fill(sv[0]), 0);
	o.fd = sv[0];
	ck_assert_int_eq(co_spawn(tu_rt, op_run, &o, &t), 0);
	ck_assert_int_eq(co_sleep(0.05), 0);
	ck_assert_msg(!co_done(t), "writable while the buffer is full");
	drain(sv[1]);
	ck_assert_int_eq(co_join(t, &r), 0);
	ck_assert_int_eq(r, 0);
	pair_close(sv);
	return 0;
}

START_TEST(test_wait_writable)
{
	tu_run(wait_writable, NULL);
}
END_TEST

static int
wait_timeout(void *arg)
{
	int sv[2], base;
	double t0;

	(void)arg;
	pair_open(sv);
	base = events_added();
	t0 = co_now();
	ck_assert_int_eq(co_io_wait(sv[0], CO_IO_READ, 0.1), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.1, 0.05);
	ck_assert_int_eq(events_added(), base);
	/* The fd turning readable later must not touch the dead frame. */
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	ck_assert_int_eq(co_sleep(0.01), 0);
	pair_close(sv);
	return 0;
}

START_TEST(test_wait_timeout)
{
	tu_run(wait_timeout, NULL);
}
END_TEST

static int
wait_scope(void *arg)
{
	struct co_scope s;
	int sv[2];
	double t0 = co_now();

	(void)arg;
	pair_open(sv);
	co_scope_enter(&s, 0.05);
	ck_assert_int_eq(co_io_wait(sv[0], CO_IO_READ, CO_FOREVER),
	    -ETIMEDOUT);
	ck_assert_int_eq(co_scope_exit(&s), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.05, 0.05);
	pair_close(sv);
	return 0;
}

START_TEST(test_wait_scope)
{
	tu_run(wait_scope, NULL);
}
END_TEST

static void
quiet_log(int severity, const char *msg)
{
	(void)severity;
	(void)msg;
}

static int
wait_bad(void *arg)
{
	char path[] = "/tmp/test_io.XXXXXX";
	int sv[2], fd;

	(void)arg;
	pair_open(sv);
	ck_assert_int_eq(co_io_wait(-1, CO_IO_READ, 1.0), -EBADF);
	ck_assert_int_eq(co_io_wait(sv[0], 0, 1.0), -EINVAL);
	ck_assert_int_eq(co_io_wait(sv[0], 0x10, 1.0), -EINVAL);
	pair_close(sv);
	ck_assert_int_eq(co_io_wait(sv[0], CO_IO_READ, 1.0), -EBADF);
	ck_assert_int_ge(fd = mkstemp(path), 0);
	unlink(path);
	ck_assert_int_eq(co_io_wait(fd, CO_IO_READ, 1.0), -EPERM);
	close(fd);
	return 0;
}

START_TEST(test_wait_bad)
{
	event_set_log_callback(quiet_log);      /* epoll_ctl failures */
	tu_run(wait_bad, NULL);
	event_set_log_callback(NULL);
}
END_TEST

/* ---- co_read ---------------------------------------------------------- */

static int
read_eof(void *arg)
{
	char buf[16];
	int sv[2];

	(void)arg;
	pair_open(sv);
	ck_assert_int_eq(write(sv[1], "hello", 5), 5);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	ck_assert_int_eq(co_read(sv[0], buf, sizeof(buf), 1.0), 5);
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_int_eq(co_read(sv[0], buf, sizeof(buf), 1.0), 0);
	ck_assert_int_eq(co_read(sv[0], buf, sizeof(buf), 1.0), 0);
	pair_close(sv);
	return 0;
}

START_TEST(test_read_eof)
{
	tu_run(read_eof, NULL);
}
END_TEST

static int
read_waits(void *arg)
{
	char buf[16];
	struct op o = { .kind = OP_READ, .timeout = 2.0, .buf = buf,
	    .n = sizeof(buf) };
	struct co_task *t;
	int sv[2], r = -1;
	double t0 = co_now();

	(void)arg;
	pair_open(sv);
	o.fd = sv[0];
	ck_assert_int_eq(co_spawn(tu_rt, op_run, &o, &t), 0);
	ck_assert_int_eq(co_sleep(0.05), 0);
	ck_assert(!co_done(t));
	ck_assert_int_eq(write(sv[1], "abc", 3), 3);
	ck_assert_int_eq(co_join(t, &r), 0);
	ck_assert_int_eq(r, 3);
	ck_assert_mem_eq(buf, "abc", 3);
	tu_assert_time(co_now() - t0, 0.05, 0.05);
	pair_close(sv);
	return 0;
}

START_TEST(test_read_waits)
{
	tu_run(read_waits, NULL);
}
END_TEST

static int
read_timeout(void *arg)
{
	char buf[16];
	int sv[2];
	double t0 = co_now();

	(void)arg;
	pair_open(sv);
	ck_assert_int_eq(co_read(sv[0], buf, sizeof(buf), 0.1), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.1, 0.05);
	pair_close(sv);
	return 0;
}

START_TEST(test_read_timeout)
{
	tu_run(read_timeout, NULL);
}
END_TEST

/* A cancelled task gets -ECANCELED even though the read would not block,
 * but inside a shield the data is still there for it. */
static int
read_cancelled_task(void *arg)
{
	int *fd = arg;
	char buf[16];
	ssize_t n;

	if (co_read(*fd, buf, sizeof(buf), 1.0) != -ECANCELED)
		return -1;
	co_shield_enter();
	n = co_read(*fd, buf, sizeof(buf), 1.0);
	co_shield_exit();
	return n == 3 && memcmp(buf, "abc", 3) == 0 ? 0 : -2;
}

static int
read_cancelled(void *arg)
{
	struct co_task *t;
	int sv[2], r = -9;

	(void)arg;
	pair_open(sv);
	ck_assert_int_eq(write(sv[1], "abc", 3), 3);
	ck_assert_int_eq(co_spawn(tu_rt, read_cancelled_task, &sv[0], &t), 0);
	co_cancel(t);                   /* before it first runs */
	ck_assert_int_eq(co_join(t, &r), 0);
	ck_assert_int_eq(r, 0);
	pair_close(sv);
	return 0;
}

START_TEST(test_read_cancelled)
{
	tu_run(read_cancelled, NULL);
}
END_TEST

/* ---- co_write_all ----------------------------------------------------- */

struct sink {
	int fd;
	size_t got;
	bool same;
};

static int
sink_task(void *arg)
{
	struct sink *s = arg;
	unsigned char buf[16384];       /* task stacks are 64 KiB */
	ssize_t n;

	s->same = true;
	while ((n = co_read(s->fd, buf, sizeof(buf), 5.0 * tu_slow())) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern(s->got + (size_t)i))
				s->same = false;
		s->got += (size_t)n;
	}
	return (int)n;
}

static int
write_big(void *arg)
{
	unsigned char *data = pattern_buf(BIG);
	struct sink s = { 0 };
	struct co_task *t;
	int sv[2], r = -1;

	(void)arg;
	pair_open(sv);
	s.fd = sv[1];
	ck_assert_int_eq(co_spawn(tu_rt, sink_task, &s, &t), 0);
	ck_assert_int_eq(co_write_all(sv[0], data, BIG, 5.0 * tu_slow()), BIG);
	ck_assert_int_eq(shutdown(sv[0], SHUT_WR), 0);
	ck_assert_int_eq(co_join(t, &r), 0);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(s.got, BIG);
	ck_assert_msg(s.same, "data corrupted in transit");
	pair_close(sv);
	free(data);
	return 0;
}

START_TEST(test_write_big)
{
	tu_run(write_big, NULL);
}
END_TEST

static int
write_timeout(void *arg)
{
	unsigned char *data = pattern_buf(BIG);
	size_t written = 0;
	int sv[2];
	double t0 = co_now();

	(void)arg;
	pair_open(sv);
	ck_assert_int_eq(co_write_all_ex(sv[0], data, BIG, 0.1, &written),
	    -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.1, 0.05);
	ck_assert_uint_gt(written, 0);
	ck_assert_uint_lt(written, BIG);
	t0 = co_now();
	ck_assert_int_eq(co_write_all(sv[0], data, BIG, 0.05), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.05, 0.05);
	pair_close(sv);
	free(data);
	return 0;
}

START_TEST(test_write_timeout)
{
	tu_run(write_timeout, NULL);
}
END_TEST

static int
write_epipe(void *arg)
{
	int sv[2];

	(void)arg;
	pair_open(sv);
	close(sv[1]);
	ck_assert_int_eq(co_write_all(sv[0], "x", 1, 1.0), -EPIPE);
	close(sv[0]);
	return 0;
}

START_TEST(test_write_epipe)
{
	signal(SIGPIPE, SIG_DFL);       /* MSG_NOSIGNAL must keep us alive */
	tu_run(write_epipe, NULL);
}
END_TEST

/* ---- accept and connect ----------------------------------------------- */

static int
tcp_pair(void *arg)
{
	struct sockaddr_in sin, peer;
	socklen_t plen = sizeof(peer);
	int lfd = tcp_listener(8, &sin), cfd = tcp_socket(), afd, fl;
	struct op o = { .kind = OP_CONNECT, .fd = cfd, .timeout = 2.0,
	    .addr = (struct sockaddr *)&sin, .addrlen = sizeof(sin) };
	struct co_task *t;
	char buf[8];

	(void)arg;
	ck_assert_int_eq(co_spawn(tu_rt, op_run, &o, &t), 0);
	afd = co_accept(lfd, (struct sockaddr *)&peer, &plen, 2.0);
	ck_assert_int_ge(afd, 0);
	ck_assert_int_eq(co_join(t, NULL), 0);
	ck_assert_int_eq(o.rc, 0);
	ck_assert_int_eq(peer.sin_family, AF_INET);
	fl = fcntl(afd, F_GETFL);
	ck_assert(fl & O_NONBLOCK);
	ck_assert(fcntl(afd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(co_write_all(cfd, "ping", 4, 1.0), 4);
	ck_assert_int_eq(co_read(afd, buf, sizeof(buf), 1.0), 4);
	ck_assert_mem_eq(buf, "ping", 4);
	close(afd);
	close(cfd);
	close(lfd);
	return 0;
}

START_TEST(test_tcp_accept_connect)
{
	tu_run(tcp_pair, NULL);
}
END_TEST

static int
unix_pair(void *arg)
{
	struct sockaddr_un sun;
	int lfd = unix_listener(8, &sun), cfd = unix_socket(), afd;
	struct op o = { .kind = OP_ACCEPT, .fd = lfd, .timeout = 2.0 };
	struct co_task *t;
	char buf[8];

	(void)arg;
	/* Accept first this time: the acceptor parks, connect wakes it. */
	ck_assert_int_eq(co_spawn(tu_rt, op_run, &o, &t), 0);
	ck_assert_int_eq(co_yield(), 0);
	ck_assert(!co_done(t));
	ck_assert_int_eq(co_connect(cfd, (struct sockaddr *)&sun, sizeof(sun),
	    2.0), 0);
	ck_assert_int_eq(co_join(t, NULL), 0);
	ck_assert_int_ge(o.rc, 0);              /* op_run closed it */
	/* And the other order, keeping the fd. */
	close(cfd);
	cfd = unix_socket();
	ck_assert_int_eq(co_connect(cfd, (struct sockaddr *)&sun, sizeof(sun),
	    2.0), 0);
	ck_assert_int_ge(afd = co_accept(lfd, NULL, NULL, 2.0), 0);
	ck_assert(fcntl(afd, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(afd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(co_write_all(afd, "pong", 4, 1.0), 4);
	ck_assert_int_eq(co_read(cfd, buf, sizeof(buf), 1.0), 4);
	ck_assert_mem_eq(buf, "pong", 4);
	close(afd);
	close(cfd);
	close(lfd);
	unix_cleanup(&sun);
	return 0;
}

START_TEST(test_unix_accept_connect)
{
	tu_run(unix_pair, NULL);
}
END_TEST

/* _i: 0 TCP, 1 Unix. */
static int
accept_timeout(void *arg)
{
	int unix_sock = *(int *)arg;
	struct sockaddr_in sin;
	struct sockaddr_un sun;
	int lfd = unix_sock ? unix_listener(8, &sun) : tcp_listener(8, &sin);
	double t0 = co_now();

	ck_assert_int_eq(co_accept(lfd, NULL, NULL, 0.1), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.1, 0.05);
	close(lfd);
	if (unix_sock)
		unix_cleanup(&sun);
	return 0;
}

START_TEST(test_accept_timeout)
{
	int unix_sock = _i;

	tu_run(accept_timeout, &unix_sock);
}
END_TEST

static int
connect_refused(void *arg)
{
	struct sockaddr_in sin;
	struct sockaddr_un sun;
	socklen_t len = sizeof(sin);
	int sfd = tcp_socket(), cfd = tcp_socket();

	(void)arg;
	/* A bound port nobody listens on answers with RST. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(sfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(sfd, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_eq(co_connect(cfd, (struct sockaddr *)&sin, sizeof(sin),
	    2.0), -ECONNREFUSED);
	close(cfd);
	close(sfd);
	/* Unix: no such socket file. */
	cfd = unix_socket();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, "/nonexistent/test_io.sock");
	ck_assert_int_eq(co_connect(cfd, (struct sockaddr *)&sun, sizeof(sun),
	    2.0), -ENOENT);
	close(cfd);
	return 0;
}

START_TEST(test_connect_refused)
{
	tu_run(connect_refused, NULL);
}
END_TEST

/* A TCP listener with backlog 0 holds one connection; further SYNs are
 * dropped and the connect hangs until its timeout. */
static int
connect_timeout(void *arg)
{
	struct sockaddr_in sin;
	int lfd = tcp_listener(0, &sin), c1 = tcp_socket(), c2 = tcp_socket();
	double t0;

	(void)arg;
	ck_assert_int_eq(co_connect(c1, (struct sockaddr *)&sin, sizeof(sin),
	    2.0), 0);
	t0 = co_now();
	ck_assert_int_eq(co_connect(c2, (struct sockaddr *)&sin, sizeof(sin),
	    0.1), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.1, 0.05);
	close(c2);
	close(c1);
	close(lfd);
	return 0;
}

START_TEST(test_connect_timeout)
{
	tu_run(connect_timeout, NULL);
}
END_TEST

/* Unix stream connect with a full backlog: -EAGAIN at once (documented). */
static int
unix_backlog_full(void *arg)
{
	struct sockaddr_un sun;
	int lfd = unix_listener(0, &sun), fds[4], rc = 0, i;
	double t0 = co_now();

	(void)arg;
	for (i = 0; i < 4 && rc == 0; i++) {
		fds[i] = unix_socket();
		rc = co_connect(fds[i], (struct sockaddr *)&sun, sizeof(sun),
		    1.0);
	}
	ck_assert_int_eq(rc, -EAGAIN);
	ck_assert(co_now() - t0 < 0.5);
	while (i-- > 0)
		close(fds[i]);
	close(lfd);
	unix_cleanup(&sun);
	return 0;
}

START_TEST(test_unix_backlog_full)
{
	tu_run(unix_backlog_full, NULL);
}
END_TEST

/* ---- cancelling each kind of await ------------------------------------ */

/* Set up o so that its await blocks; cleanup fds in fds[]. */
static void
blocked_op(struct op *o, int fds[3], struct sockaddr_in *sin, void *buf)
{
	int sv[2];

	fds[0] = fds[1] = fds[2] = -1;
	o->timeout = CO_FOREVER;
	switch (o->kind) {
	case OP_WAIT_R:
	case OP_READ:
	case OP_WAIT_W:
	case OP_WRITE:
		pair_open(sv);
		fds[0] = sv[0];
		fds[1] = sv[1];
		o->fd = sv[0];
		o->buf = buf;
		o->n = o->kind == OP_WRITE ? BIG : 16;
		if (o->kind == OP_WAIT_W)
			fill(sv[0]);
		break;
	case OP_ACCEPT:
		o->fd = fds[0] = tcp_listener(8, sin);
		break;
	case OP_CONNECT:
		fds[0] = tcp_listener(0, sin);
		fds[1] = tcp_socket();
		ck_assert_int_eq(co_connect(fds[1], (struct sockaddr *)sin,
		    sizeof(*sin), 2.0), 0);
		o->fd = fds[2] = tcp_socket();
		o->addr = (struct sockaddr *)sin;
		o->addrlen = sizeof(*sin);
		break;
	}
}

static int
cancel_kind(void *arg)
{
	struct op o = { .kind = *(int *)arg };
	unsigned char *buf = pattern_buf(BIG);
	struct sockaddr_in sin;
	struct co_task *t;
	int fds[3], r = 0, base, i;

	blocked_op(&o, fds, &sin, buf);
	base = events_added();
	ck_assert_int_eq(co_spawn(tu_rt, op_run, &o, &t), 0);
	ck_assert_int_eq(co_sleep(0.03), 0);
	ck_assert_msg(!co_done(t), "kind %d did not block", o.kind);
	co_cancel(t);
	ck_assert_int_eq(co_join(t, &r), 0);
	ck_assert_int_eq(r, -ECANCELED);
	ck_assert_int_eq(events_added(), base);
	if (o.kind == OP_WRITE)
		ck_assert_uint_gt(o.written, 0);
	for (i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(buf);
	return 0;
}

START_TEST(test_cancel_each)
{
	int kind = _i;

	tu_run(cancel_kind, &kind);
}
END_TEST

/* ---- misc ------------------------------------------------------------- */

START_TEST(test_set_nonblock)
{
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
	ck_assert_int_eq(co_io_set_nonblock(p[0]), 0);
	ck_assert(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	ck_assert_int_eq(co_io_set_nonblock(p[0]), 0);
	close(p[0]);
	close(p[1]);
	ck_assert_int_eq(co_io_set_nonblock(p[0]), -EBADF);
}
END_TEST

static Suite *
io_suite(void)
{
	Suite *s = suite_create("io");
	TCase *tc = tcase_create("io");

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_test(tc, test_wait_readable);
	tcase_add_test(tc, test_wait_writable);
	tcase_add_test(tc, test_wait_timeout);
	tcase_add_test(tc, test_wait_scope);
	tcase_add_test(tc, test_wait_bad);
	tcase_add_test(tc, test_read_eof);
	tcase_add_test(tc, test_read_waits);
	tcase_add_test(tc, test_read_timeout);
	tcase_add_test(tc, test_read_cancelled);
	tcase_add_test(tc, test_write_big);
	tcase_add_test(tc, test_write_timeout);
	tcase_add_test(tc, test_write_epipe);
	tcase_add_test(tc, test_tcp_accept_connect);
	tcase_add_test(tc, test_unix_accept_connect);
	tcase_add_loop_test(tc, test_accept_timeout, 0, 2);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_connect_timeout);
	tcase_add_test(tc, test_unix_backlog_full);
	tcase_add_loop_test(tc, test_cancel_each, 0, OP_NKINDS);
	tcase_add_test(tc, test_set_nonblock);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(io_suite());
}
